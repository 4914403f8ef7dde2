//! The room's one point of order. Every message passes here, on the
//! room's main loop, so everyone receives them in the same order: who
//! comes in (or is turned away), what members say ([`talk`](super::talk)),
//! what they send ([`Relays`]), and who leaves. Each member's share is
//! queued for its writer, in the form its wire takes, and a member that is
//! too far behind is dropped instead of waited for ([`Members`]). The
//! host's own user is a member too, on a connection inside the program
//! that always speaks the encrypted wire.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::Crew;
use super::events::{RoomEvent, Turned, Unheard, Unreachable, Unwelcome};
use super::link::{self, Answer, Door, Gone, Heard, Knock, Turn};
use super::members::{Link, Members};
use super::plain;
use super::relay::Relays;
use super::roster::{HOST, MemberId};
use super::talk;
use super::words::Words;
use crate::engine::members::Occupancy;
use crate::net::connect::Established;
use crate::net::transport::Connection;
use crate::permits::Permits;
use crate::protocol::{self, Peer};
use crate::settings::{RoomSettings, Settings};
use crate::wire::limits;
use crate::wire::message::{Change, Message};

/// How often transfers are looked at for members that fall behind.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

pub struct Hub {
    members: Members,
    relays: Relays,
    keepalive: Duration,
    /// Connections turned away: when the last window of
    /// [`TURNED_AWAY_WINDOW`] began, those the host was told of in it,
    /// those left out.
    turned_away: (Instant, usize, usize),
    /// What the room holds, for its host's user to be told on leaving.
    occupancy: Arc<Occupancy>,
}

/// At most this many connections turned away are told in a window:
/// a flood of connections must not flood the host's screen.
const TURNED_AWAY_LINES: usize = 5;
const TURNED_AWAY_WINDOW: Duration = Duration::from_secs(10);

impl Hub {
    /// A room with nobody in it yet. What it tells its host goes to
    /// `reports`; files go to members on the original wire in `turn`.
    pub fn new(
        settings: &Settings,
        room: RoomSettings,
        reports: Sender<RoomEvent>,
        turn: Arc<Turn>,
        occupancy: Arc<Occupancy>,
    ) -> Self {
        Self {
            members: Members::new(settings.name.clone(), room.max_peers, reports),
            relays: Relays::new(turn),
            keepalive: room.keepalive,
            turned_away: (Instant::now(), 0, 0),
            occupancy,
        }
    }

    /// Tells the host's user what the room holds now: its members, and
    /// the files they send through it.
    pub fn tally(&self) {
        let members = self.members.count();
        self.occupancy.set(members, self.relays.sent_by_members());
        self.occupancy.proved(self.members.identities());
    }

    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Tells the room's host, and nobody else.
    pub fn report(&self, event: RoomEvent) {
        self.members.report(event);
    }

    /// A connection was turned away before it could ask to be let in.
    pub fn turned_away(&mut self, address: SocketAddr, why: Unheard) {
        self.report_turned_away(Turned::Connection { address, why });
    }

    /// Tells the host a connection was turned away, unless many were just
    /// now: those are counted, and the count comes with the next one told.
    fn report_turned_away(&mut self, turned: Turned) {
        let (since, shown, left_out) = &mut self.turned_away;
        if since.elapsed() >= TURNED_AWAY_WINDOW {
            (*since, *shown) = (Instant::now(), 0);
        }
        if *shown >= TURNED_AWAY_LINES {
            *left_out += 1;
            return;
        }
        *shown += 1;
        let earlier = std::mem::take(left_out);
        self.report(RoomEvent::TurnedAway { turned, earlier });
    }

    /// Seats the host's own user, on the room's end of the connection
    /// inside the program; its threads are the crew's.
    pub(super) fn seat_host(&mut self, connection: Connection, door: &Door, crew: &Crew) {
        let (outbox, inbox) = link::queue();
        let permits = Permits::new(link::PIECES_IN_FLIGHT);
        let established = Established {
            connection,
            agreed: None,
        };
        let Peer {
            mut wire, closer, ..
        } = match protocol::open(established, false) {
            Ok(peer) => peer,
            Err(e) => return self.report(RoomEvent::HostUnreachable(Unreachable::Split(e))),
        };
        let link = Link::new(outbox, closer, permits.clone(), true);
        self.greet(&link, 0);
        self.members.seat(HOST, link);
        let door = door.clone();
        let spawned = crate::threads::spawn("host link", move || {
            // The user's side says its name first, as any member does.
            if let Err(why) = link::hello(&mut wire) {
                let gone = Gone::Broke(why.to_string());
                let _ = door
                    .events
                    .send(super::Happening::Heard(HOST, Heard::Ended(gone)));
                return;
            }
            link::be_member(HOST, wire, inbox, &permits, &door);
        });
        match spawned {
            Ok(handle) => crew.hire(handle),
            Err(e) => self.report(RoomEvent::HostUnreachable(Unreachable::NoThread(e))),
        }
    }

    /// The first words to a member on the encrypted wire: who hosts the
    /// room, and how many are in it.
    fn greet(&self, link: &Link, others: usize) {
        if link.sealed {
            let mut hello = Vec::new();
            Message::Hello {
                name: self.members.roster().host(),
            }
            .encode(&mut hello);
            link.outbox.put(&Arc::from(hello));
            let keepalive = u16::try_from(self.keepalive.as_secs()).unwrap_or(u16::MAX);
            let room = Message::Room {
                keepalive,
                members: u16::try_from(others).unwrap_or(u16::MAX),
            };
            let mut bytes = Vec::new();
            room.encode(&mut bytes);
            link.outbox.put(&Arc::from(bytes));
        }
    }

    /// Lets a connection in, or says why not.
    pub fn knock(&mut self, knock: Knock) {
        let name = match &knock.name {
            Some(name) => name.clone(),
            None => self.guest_name(),
        };
        let id = match self.members.admit(&name, knock.address) {
            Ok(id) => id,
            Err(refusal) => return self.turn_away(knock, Unwelcome::Refused(refusal)),
        };
        let (outbox, inbox) = link::queue();
        let permits = Permits::new(link::PIECES_IN_FLIGHT);
        let sealed = knock.capabilities.typed;
        let mut link = Link::new(outbox, knock.closer, permits.clone(), sealed);
        link.named = knock.name.is_some();
        link.safety_code = knock.capabilities.code().map(str::to_string);
        link.key = knock.key;
        // The host, and those already in.
        self.greet_member(&link, &name);
        let welcome = Answer::Welcome { id, inbox, permits };
        if knock.answer.send(welcome).is_err() {
            self.members.forget(id);
            return;
        }
        self.report(RoomEvent::Joined {
            name: name.clone(),
            address: knock.address,
            safety_code: knock.capabilities.code().map(str::to_string),
            standing: knock.standing.clone(),
        });
        self.members.seat(id, link);
        // (The host was told above.)
        let words = Words::Presence {
            change: Change::Joined,
            name: &name,
            reason: "",
        };
        self.members
            .broadcast(&mut self.relays, &[id, HOST], &words);
    }

    /// The first words to a member just let in (and counted in).
    fn greet_member(&self, link: &Link, name: &str) {
        let others = self.members.roster().len().saturating_sub(1);
        if link.sealed {
            return self.greet(link, others);
        }
        let host = self.members.roster().host();
        let welcome = match others {
            0 => format!("You are in {host}'s room as {name}, alone with the host."),
            1 => format!("You are in {host}'s room as {name}, with the host and 1 other."),
            n => format!("You are in {host}'s room as {name}, with the host and {n} others."),
        };
        link.outbox.put(&Arc::from(plain::system(&welcome)));
    }

    /// Tells a connection it is not let in.
    pub fn turn_away(&mut self, knock: Knock, why: Unwelcome) {
        let told = why.to_string();
        self.report_turned_away(Turned::Knock {
            name: knock.name,
            address: knock.address,
            why,
        });
        let _ = knock.answer.send(Answer::Refused(told));
    }

    /// A name for a plain member until it gives one.
    fn guest_name(&self) -> String {
        (1..)
            .map(|n| format!("guest{n}"))
            .find(|name| self.members.find(name).is_none())
            .unwrap_or_default()
    }

    /// Acts on what a member did; breaks when the host's user is gone.
    pub fn heard(&mut self, id: MemberId, heard: Heard) -> ControlFlow<()> {
        let (members, relays) = (&mut self.members, &mut self.relays);
        let Some(link) = members.link(id) else {
            // Dropped already; what it still said goes nowhere.
            return ControlFlow::Continue(());
        };
        match heard {
            Heard::Text(text) => talk::said(members, relays, id, &text),
            Heard::Line(raw) => talk::plain_line(members, relays, id, &raw),
            Heard::Whisper { to, text } => talk::whisper(members, relays, id, &to, &text),
            Heard::Who => talk::who(members, relays, id),
            Heard::File(news) => relays.file_news(members, id, news),
            Heard::Plain(file) => relays.plain_file(members, id, file),
            Heard::Ignored(what) => {
                let name = members.name(id);
                members.report(RoomEvent::Ignored { name, what });
            }
            Heard::Slowed => {
                let name = members.name(id);
                members.report(RoomEvent::Slowed { name });
                let why =
                    "you are sending faster than the room allows; your messages are slowed down";
                members.notify(relays, id, why);
            }
            Heard::Ended(_) if id == HOST => return ControlFlow::Break(()),
            Heard::Ended(gone) => {
                let (change, reason) = departure(gone, link.said_goodbye);
                members.remove(relays, id, change, &reason);
            }
        }
        ControlFlow::Continue(())
    }

    /// A member's writer failed: it is gone.
    pub fn writer_failed(&mut self, id: MemberId, e: &std::io::Error) -> ControlFlow<()> {
        if id == HOST {
            return ControlFlow::Break(());
        }
        let reason = match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "it stopped reading".to_string()
            }
            _ => format!("sending to it failed: {e}"),
        };
        self.members
            .remove(&mut self.relays, id, Change::Dropped, &reason);
        ControlFlow::Continue(())
    }

    /// Starts transfers whose time to answer is up or whose turn came, and
    /// drops receivers that have been far behind the fastest for long.
    pub fn check_transfers(&mut self) {
        self.relays.check(&mut self.members, Instant::now());
    }

    /// Forgets a member once the room is closing.
    pub fn forget(&mut self, id: MemberId) {
        self.members.forget(id);
    }

    /// Pings every member on the encrypted wire; one that does not answer
    /// in time is dropped by its reader.
    pub fn ping(&mut self) {
        let ping = Words::Typed(Message::Ping);
        self.members.broadcast(&mut self.relays, &[], &ping);
    }

    /// Says goodbye to everyone: the room is over.
    pub fn close(&mut self) {
        self.relays.clear();
        self.members.close();
    }

    /// Lets go of the host's own seat once the room is closing, without
    /// ending its connection: its writer still sends what is queued, the
    /// goodbye last, and the room waits for the members alone.
    pub fn unseat_host(&mut self) {
        self.members.unseat_host();
    }

    /// Ends every connection still open.
    pub fn cut_all(&mut self) {
        self.members.cut_all();
    }
}

/// How a member that ended its side left the room, and why, as the
/// others are told.
fn departure(gone: Gone, said_goodbye: bool) -> (Change, String) {
    match gone {
        Gone::Left => (Change::Left, String::new()),
        Gone::Closed => (
            Change::Left,
            "its chat closed the connection without a goodbye".to_string(),
        ),
        Gone::Lost(_) if said_goodbye => (Change::Left, String::new()),
        Gone::Lost(why) => (Change::Left, format!("connection lost: {why}")),
        Gone::Silent(limit) => (
            Change::Dropped,
            format!("no answer to the keepalive for {} s", limit.as_secs()),
        ),
        Gone::Trickled(limit) => (
            Change::Dropped,
            format!(
                "it sent less than {} of its file in {} s",
                crate::files::size::bytes(limits::MIN_PROGRESS),
                limit.as_secs()
            ),
        ),
        Gone::Broke(why) => (Change::Dropped, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::settings::Action;
    use clap::Parser;
    use std::sync::mpsc::{self, Receiver};

    /// A room's hub with nobody in it, and what it tells its host.
    fn hub() -> (Hub, Receiver<RoomEvent>) {
        let Action::Chat(settings) =
            Action::new(Cli::parse_from(["chat", "listen", "--room"]), None, || {
                Ok(crate::identity::Me::for_tests(1))
            })
            .expect("a room's settings")
        else {
            panic!("`chat listen --room` is a chat");
        };
        let room = settings.room.expect("a room's settings");
        let (reports, told) = mpsc::channel();
        let hub = Hub::new(&settings, room, reports, Arc::default(), Arc::default());
        (hub, told)
    }

    /// How many were left out before each connection the host is told of.
    fn told(told: &Receiver<RoomEvent>) -> Vec<usize> {
        told.try_iter()
            .map(|event| match event {
                RoomEvent::TurnedAway { earlier, .. } => earlier,
                other => panic!("told {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_flood_of_connections_turned_away_is_counted_not_told_one_by_one() {
        let (mut hub, host) = hub();
        let address: SocketAddr = "10.0.0.7:40000".parse().unwrap();
        let crowded = || Unheard::Crowded { limit: 32 };
        for _ in 0..TURNED_AWAY_LINES + 3 {
            hub.turned_away(address, crowded());
        }
        assert_eq!(told(&host), vec![0; TURNED_AWAY_LINES]);
        // Once the window has passed, the next one comes with the count.
        hub.turned_away.0 = Instant::now()
            .checked_sub(TURNED_AWAY_WINDOW)
            .expect("a clock that ran for the window");
        hub.turned_away(address, crowded());
        hub.turned_away(address, crowded());
        assert_eq!(told(&host), vec![3, 0]);
    }
}
