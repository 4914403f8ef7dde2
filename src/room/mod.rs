//! Hosting a room: one `chat listen --room` lets up to `--max-peers` others
//! in, each on its own connection (encrypted and authenticated as any, or
//! all on the original wire), and passes what each says to all the others,
//! in one order that the host's main loop sets.
//!
//! Threads: one takes connections; each connection gets a thread that lets
//! it in and then reads it, and a writer; the room's main loop has its own,
//! and the host's user talks to the room as a member does, over a
//! connection inside the program. All of them report to the main loop
//! through one channel of [`Happening`]s, and the main loop never waits on
//! any member.

mod course;
pub mod events;
mod hub;
mod inflow;
mod inside;
pub mod link;
mod members;
pub mod plain;
mod relay;
pub mod roster;
mod talk;
pub mod throttle;
mod words;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use self::events::{RoomEvent, Shut, Unheard, Unwelcome};
use self::hub::Hub;
use self::link::{Door, FileNews, Heard, Knock, PlainFile};
use self::roster::MemberId;
use crate::engine::members::Occupancy;
use crate::engine::{Event, Front, link_report};
use crate::net::connect;
use crate::net::events::Joiners;
use crate::net::secure::Protection;
use crate::session;
use crate::session::Attach;
use crate::settings::{Role, RoomSettings, Settings};
use crate::wire::limits::{KNOCK_LIMIT, MAX_KNOCKING, MAX_KNOCKING_FROM_ONE};

/// How long the members have to close once the host said goodbye.
const LINGER: Duration = Duration::from_secs(2);

/// What the room's main loop hears about.
pub enum Happening {
    /// A connection completed its handshake and waits to be let in.
    Knock(Box<Knock>),
    /// A connection was turned away before it could knock: its set-up,
    /// handshake or name failed, as `why` says.
    TurnedAway { address: SocketAddr, why: String },
    /// A connection was turned away before its handshake began.
    Unheard { address: SocketAddr, why: Unheard },
    /// A joiner gave the `nth` wrong code of the `allowed` ones.
    WrongCode {
        address: SocketAddr,
        nth: u32,
        allowed: u32,
    },
    /// A member (the host's own side too) said or did something.
    Heard(MemberId, Heard),
    /// Sending to a member failed; it is gone.
    WriterFailed(MemberId, std::io::Error),
    /// Taking connections failed.
    ListenFailed(anyhow::Error),
    /// The host's user left: the room ends.
    Close,
}

/// Hosts a room until the user leaves. The user's side is an ordinary
/// conversation with the room, over a connection inside the program, so
/// the host reads, writes, sends and receives as every member does.
pub fn run(settings: &Settings, room: RoomSettings, front_end: Box<dyn Attach>) -> Result<()> {
    let Role::Listen { host, port } = &settings.role else {
        return Err(anyhow!("only a listening chat hosts a room"));
    };
    let front: Front = front_end.front();
    session::tell_new_identity(settings, &front);
    let waiting = connect::bind_for(host, *port, &link_report(&*front), Joiners::Room)?;
    // Withdrawn when the room ends.
    let _announcement = session::announce(settings, waiting.port(), &front);
    let (protection, _registration) = session::register(settings, &waiting, &front, Joiners::Room)?;
    session::give_code(settings, &protection, &front, Joiners::Room);
    front.show(Event::Room(RoomEvent::Hosting {
        max_peers: room.max_peers,
        plain: matches!(settings.protection, Protection::Plain),
    }));
    // The host's own side always speaks the encrypted wire: typed messages
    // say what lines cannot (who is in, a file's offer and its hash).
    let (rooms_end, users_end) = inside::pair().context("cannot set up the room")?;
    let (events, inbox) = mpsc::channel();
    let door = Door {
        protection,
        host: settings.name.clone(),
        stall: settings.stall,
        keepalive: room.keepalive,
        events: events.clone(),
        plain_turn: Arc::default(),
        guesses: waiting.guesses().clone(),
        contacts: settings.me.as_ref().map(|me| me.contacts.clone()),
    };
    let crew = Crew::default();
    let accepting = {
        let (waiting, door, crew) = (waiting.clone(), door.clone(), crew.clone());
        crate::threads::spawn("accept", move || take_connections(&waiting, &door, &crew))?
    };
    let (reports, to_show) = mpsc::channel();
    let showing = {
        let front = front.clone();
        crate::threads::spawn("room lines", move || {
            for event in to_show {
                front.show(Event::Room(event));
            }
        })?
    };
    let occupancy = Arc::new(Occupancy::default());
    let hosting = {
        let (settings, waiting, crew) = (settings.clone(), waiting.clone(), crew.clone());
        let occupancy = occupancy.clone();
        crate::threads::spawn("room", move || {
            let mut hub = Hub::new(&settings, room, reports, door.plain_turn.clone(), occupancy);
            hub.seat_host(rooms_end, &door, &crew);
            host_room(&mut hub, &inbox, &waiting, &crew);
        })?
    };
    let result = session::run_hosting(settings, front_end, users_end, occupancy);
    let _ = events.send(Happening::Close);
    crate::threads::join(hosting)?;
    crate::threads::join(showing)?;
    waiting.stop();
    crew.cut_knocking();
    crate::threads::join(accepting)?;
    crew.join_all();
    result
}

/// Runs the room until its host leaves, then says goodbye to everyone.
fn host_room(
    hub: &mut Hub,
    inbox: &mpsc::Receiver<Happening>,
    waiting: &connect::Waiting,
    crew: &Crew,
) {
    main_loop(hub, inbox, waiting, crew);
    waiting.stop();
    hub.close();
    // The host's own user has left, which is what ends the room: its seat
    // has its goodbye queued like everyone's, and nothing more to wait for.
    hub.unseat_host();
    // The members read our goodbye and close; whoever does not is cut.
    let deadline = Instant::now() + LINGER;
    while !hub.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Happening::Heard(id, Heard::Ended(_))) => hub.forget(id),
            Ok(Happening::WriterFailed(id, _)) => hub.forget(id),
            Ok(Happening::Knock(knock)) => hub.turn_away(*knock, Unwelcome::Closing),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    hub.cut_all();
}

/// Acts on what happens until the host's user leaves.
fn main_loop(
    hub: &mut Hub,
    inbox: &mpsc::Receiver<Happening>,
    waiting: &connect::Waiting,
    crew: &Crew,
) {
    let keepalive = hub.keepalive();
    let mut last_ping = Instant::now();
    let mut last_check = Instant::now();
    loop {
        let wait = keepalive
            .saturating_sub(last_ping.elapsed())
            .min(hub::CHECK_EVERY.saturating_sub(last_check.elapsed()));
        match inbox.recv_timeout(wait) {
            Ok(Happening::Knock(knock)) => {
                hub.knock(*knock);
                hub.tally();
            }
            Ok(Happening::TurnedAway { address, why }) => {
                hub.turned_away(address, Unheard::Failed(why));
            }
            Ok(Happening::Unheard { address, why }) => hub.turned_away(address, why),
            Ok(Happening::WrongCode {
                address,
                nth,
                allowed,
            }) => {
                // Each count comes once, however many handshakes ran at
                // once, so this is said once.
                hub.report(RoomEvent::WrongCode {
                    address,
                    nth,
                    allowed,
                });
                if nth >= allowed {
                    waiting.stop();
                    hub.report(RoomEvent::Shut(Shut::Guessed { allowed }));
                }
            }
            Ok(Happening::Heard(id, heard)) => {
                // (A piece of a file changes nothing the host's user is told.)
                let piece = matches!(
                    heard,
                    Heard::File(FileNews::Piece { .. }) | Heard::Plain(PlainFile::Piece(_))
                );
                if hub.heard(id, heard).is_break() {
                    return;
                }
                if !piece {
                    hub.tally();
                }
            }
            Ok(Happening::WriterFailed(id, e)) => {
                if hub.writer_failed(id, &e).is_break() {
                    return;
                }
            }
            Ok(Happening::ListenFailed(e)) => hub.report(RoomEvent::Shut(Shut::ListenFailed(e))),
            Ok(Happening::Close) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_check.elapsed() >= hub::CHECK_EVERY {
            last_check = Instant::now();
            hub.check_transfers();
            hub.tally();
            crew.reap();
        }
        if last_ping.elapsed() >= keepalive {
            last_ping = Instant::now();
            hub.ping();
        }
    }
}

/// Takes connections until the wait is stopped, each on a thread of its own.
fn take_connections(waiting: &connect::Waiting, door: &Door, crew: &Crew) {
    loop {
        let (stream, address) = match waiting.next_connection() {
            Ok(Some(next)) => next,
            Ok(None) => return,
            Err(e) => {
                let _ = door.events.send(Happening::ListenFailed(e));
                return;
            }
        };
        let ticket = match crew.knocking(&stream, address) {
            Ok(ticket) => ticket,
            Err(why) => {
                let _ = door.events.send(Happening::Unheard { address, why });
                continue;
            }
        };
        let (door_inner, crew_inner) = (door.clone(), crew.clone());
        let spawned = crate::threads::spawn("member", move || {
            let ticket = KnockTicket(crew_inner, ticket);
            link::let_in(stream, address, &door_inner, move || drop(ticket));
        });
        match spawned {
            Ok(handle) => crew.hire(handle),
            Err(e) => {
                let _ = door.events.send(Happening::Unheard {
                    address,
                    why: Unheard::NoThread(e),
                });
            }
        }
    }
}

/// The threads of the members, joined by the host as they end and all at
/// the end; and the connections still in their handshake, so that leaving
/// ends those too.
#[derive(Clone, Default)]
struct Crew(Arc<Mutex<CrewInner>>);

#[derive(Default)]
struct CrewInner {
    threads: Vec<JoinHandle<()>>,
    knocking: HashMap<u64, (TcpStream, SocketAddr, Instant)>,
    next_knock: u64,
}

/// Held while a connection is in its handshake; dropping it forgets it.
struct KnockTicket(Crew, u64);

impl Drop for KnockTicket {
    fn drop(&mut self) {
        self.0.lock().knocking.remove(&self.1);
    }
}

impl Crew {
    fn lock(&self) -> std::sync::MutexGuard<'_, CrewInner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a connection into its handshake, unless too many are, or
    /// too many from its address; `Err` says why not.
    fn knocking(&self, stream: &TcpStream, address: SocketAddr) -> Result<u64, Unheard> {
        let mut inner = self.lock();
        if inner.knocking.len() >= MAX_KNOCKING {
            return Err(Unheard::Crowded {
                limit: MAX_KNOCKING,
            });
        }
        let from_there = inner
            .knocking
            .values()
            .filter(|(_, from, _)| from.ip() == address.ip())
            .count();
        if from_there >= MAX_KNOCKING_FROM_ONE {
            return Err(Unheard::CrowdedFrom {
                ip: address.ip(),
                limit: MAX_KNOCKING_FROM_ONE,
            });
        }
        let clone = stream.try_clone().map_err(Unheard::Untracked)?;
        inner.next_knock += 1;
        let ticket = inner.next_knock;
        inner
            .knocking
            .insert(ticket, (clone, address, Instant::now()));
        Ok(ticket)
    }

    fn hire(&self, handle: JoinHandle<()>) {
        self.lock().threads.push(handle);
    }

    /// Joins the threads that have ended, and cuts connections that have
    /// been knocking for too long.
    fn reap(&self) {
        for (stream, _, since) in self.lock().knocking.values() {
            if since.elapsed() > KNOCK_LIMIT {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
        let ended: Vec<JoinHandle<()>> = {
            let mut inner = self.lock();
            let (ended, running) = std::mem::take(&mut inner.threads)
                .into_iter()
                .partition(|t| t.is_finished());
            inner.threads = running;
            ended
        };
        for thread in ended {
            let _ = thread.join();
        }
    }

    /// Ends every handshake under way.
    fn cut_knocking(&self) {
        for (stream, ..) in self.lock().knocking.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn join_all(&self) {
        let threads = std::mem::take(&mut self.lock().threads);
        for thread in threads {
            let _ = thread.join();
        }
    }
}
