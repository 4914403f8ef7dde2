//! A connected conversation: its reader and writer threads, and the main
//! loop that acts on what they and the user's input tell it until either
//! side leaves.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use anyhow::{Result, anyhow};

use super::acquaintance::{Acquaintance, Standing};
use super::encrypted::incoming::Receiving;
use super::events::ChatEvent;
use super::incoming::PeerEnd;
use super::outgoing::{Outgoing, WriteError};
use super::progress::Transfers;
use super::stall::{self, StallWatch};
use super::threads::Threads;
use super::user::UserSide;
use super::wire::{self, Peer, PeerReader, PeerWriter, ToRead, ToWrite};
use super::{InputSide, News};
use crate::engine::Event;
use crate::engine::members::Occupancy;
use crate::engine::{Front, Frontend};
use crate::exit_codes::Shown;
use crate::identity::PeerKey;
use crate::net::connect::Established;
use crate::net::events::{LinkEvent, Protection as Shield};
use crate::net::transport::Closer;
use crate::settings::Settings;

/// Why the main loop stopped.
pub(super) enum Ending {
    Quit,
    Peer(PeerEnd),
    WriterFailed(WriteError),
}

/// What a connected conversation runs with.
pub(super) struct Conversation<'a> {
    pub(super) settings: &'a Settings,
    pub(super) front: &'a Front,
    pub(super) inbox: &'a Receiver<News>,
    pub(super) events: &'a Sender<News>,
    /// The room the user hosts, when it does.
    pub(super) hosted: Option<&'a Occupancy>,
}

/// A conversation's threads under way, the writer's queue, the transfers
/// they share, and whether the peer is a room we are in.
type Started = (Threads, Sender<Outgoing>, Arc<Transfers>, Arc<AtomicBool>);

impl Conversation<'_> {
    pub(super) fn run(
        &self,
        established: Established,
        early: Vec<News>,
        user_input: &mut dyn InputSide,
    ) -> Result<()> {
        let peer = established.connection.peer();
        let peer_key = established.agreed.as_ref().map(|agreed| agreed.peer);
        let acquaintance = self.recognise(&established);
        let contacts = self.settings.me.as_ref().map(|me| me.contacts.clone());
        let Peer {
            reader,
            writer,
            closer,
            capabilities,
        } = wire::open(established, self.settings.room.is_some())?;
        let connection_sealed = capabilities.encrypted;
        let front = self.front;
        let (threads, outbox, transfers, in_room) =
            self.start_threads((reader, writer), &closer, (peer_key, &acquaintance))?;

        let mut stall = StallWatch::new(self.settings.stall);
        let ending = {
            let (name, downloads) = (&self.settings.name, &self.settings.downloads);
            let mut user = UserSide::new(
                &outbox,
                name,
                front,
                &transfers,
                downloads,
                capabilities,
                &in_room,
            )
            .hosting(self.hosted)
            .acquainted(acquaintance, contacts);
            self.main_loop(early, &mut user, &closer, &mut stall, &transfers)
        };
        // A user leaving while files go keeps the prompt, to leave at once
        // with Ctrl-C; otherwise the prompt goes first, so the last lines
        // are not drawn around it.
        let waits_for_files =
            matches!(ending, Ending::Quit) && transfers.sending() && front.attended();
        if !waits_for_files {
            user_input.stop();
        }
        match ending {
            Ending::Quit => {
                if waits_for_files {
                    transfers.show_departure(front.as_ref(), self.settings.stall);
                }
                let _ = outbox.send(Outgoing::Leave);
                let (failure, said) =
                    self.finish_sending(&closer, &mut stall, &transfers, outbox, connection_sealed);
                user_input.stop();
                threads.finish()?;
                match (failure, said) {
                    (Some(e), _) => Err(self.write_failure(e, peer)),
                    (None, Some(end)) => self.peer_ended(end, peer, false),
                    (None, None) => Ok(()),
                }
            }
            Ending::Peer(end) => {
                // The peer is gone: anything still being sent has nobody to
                // read it, so the writer stops at once instead of finishing.
                closer.close();
                drop(outbox);
                threads.finish()?;
                let hosted = in_room.load(std::sync::atomic::Ordering::SeqCst);
                self.peer_ended(end, peer, hosted)
            }
            Ending::WriterFailed(e) => {
                closer.close();
                drop(outbox);
                threads.finish()?;
                Err(self.write_failure(e, peer))
            }
        }
    }

    /// Says how the conversation is protected and who the peer is, right
    /// after the connected line; gives the peer as the user knows it, on
    /// the encrypted wire.
    fn recognise(&self, established: &Established) -> Option<Arc<Acquaintance>> {
        let shown = |shield| self.front.show(Event::Link(LinkEvent::Protected(shield)));
        let Some(agreed) = &established.agreed else {
            // (A room's host's own seat is sealed, with nothing to show.)
            if !established.connection.is_encrypted() {
                shown(Shield::Plain);
            }
            return None;
        };
        let me = self.settings.me.as_ref();
        let (met, trouble) = match me {
            Some(me) => {
                let (met, trouble) =
                    Acquaintance::meet(&me.contacts, agreed.peer, &agreed.safety_code);
                let met = match self.settings.trust_verified && agreed.verified {
                    true => met.trusting_at_once(),
                    false => met,
                };
                (Some(met), trouble)
            }
            None => (None, None),
        };
        match met.as_ref().map(Acquaintance::standing) {
            Some(Standing::Contact(contact)) => shown(Shield::Known(&contact)),
            _ if agreed.verified => shown(Shield::Verified),
            _ => shown(Shield::SafetyCode(&agreed.safety_code)),
        }
        if let Some(e) = trouble {
            self.front.chat(ChatEvent::ContactsTrouble(&e));
        }
        met.map(Arc::new)
    }

    /// Starts the reader and the writer; gives their threads, the writer's
    /// queue, the list of transfers they share, and whether the peer turned
    /// out to be a room we are in.
    fn start_threads(
        &self,
        (reader, writer): (Box<dyn PeerReader>, Box<dyn PeerWriter>),
        closer: &Closer,
        peer: (Option<PeerKey>, &Option<Arc<Acquaintance>>),
    ) -> Result<Started> {
        let transfers = Arc::new(Transfers::default());
        let in_room = Arc::new(AtomicBool::new(false));
        let (outbox, queue) = mpsc::channel();
        let mut threads = Threads::new(closer.clone());
        let shared = (&transfers, &in_room);
        self.spawn_reader(&mut threads, reader, outbox.clone(), shared, peer)?;
        self.spawn_writer(&mut threads, writer, queue, closer.clone(), &transfers)?;
        Ok((threads, outbox, transfers, in_room))
    }

    /// Starts the thread that reads what the peer sends, and tells the
    /// main loop how the peer's end went.
    fn spawn_reader(
        &self,
        threads: &mut Threads,
        reader: Box<dyn PeerReader>,
        outbox: Sender<Outgoing>,
        (transfers, in_room): (&Arc<Transfers>, &Arc<AtomicBool>),
        (peer_key, acquaintance): (Option<PeerKey>, &Option<Arc<Acquaintance>>),
    ) -> Result<()> {
        let receiving = Receiving {
            downloads: self.settings.downloads.clone(),
            ask_above: self.settings.asking.limit(self.front.attended()),
            name: self.settings.name.clone(),
            hosting: self.settings.room.is_some(),
            may_join: self.settings.role.connects(),
            peer_key,
            acquaintance: acquaintance.clone(),
            contacts: self.settings.me.as_ref().map(|me| me.contacts.clone()),
        };
        let with = ToRead {
            receiving,
            front: self.front.clone(),
            transfers: transfers.clone(),
            outbox,
            in_room: in_room.clone(),
        };
        let events = self.events.clone();
        threads.spawn("reader", move || {
            let end = reader.read(with);
            let _ = events.send(News::PeerEnded(end));
        })?;
        Ok(())
    }

    /// Starts the thread that sends what `queue` brings to the peer, and
    /// tells the main loop when it is through or failed.
    fn spawn_writer(
        &self,
        threads: &mut Threads,
        writer: Box<dyn PeerWriter>,
        queue: Receiver<Outgoing>,
        closer: Closer,
        transfers: &Arc<Transfers>,
    ) -> Result<()> {
        let with = ToWrite {
            name: self.settings.name.clone(),
            queue,
            front: self.front.clone(),
            transfers: transfers.clone(),
            patience: self.settings.stall,
            closer,
        };
        let events = self.events.clone();
        threads.spawn("writer", move || {
            let mut failed = |e| {
                let _ = events.send(News::WriterFailed(e));
            };
            writer.write(with, &mut failed);
            let _ = events.send(News::WriterDone);
        })?;
        Ok(())
    }

    /// Says how the peer's end of the conversation went, and makes the
    /// program's error of it when it failed. `hosted`: we were in a room
    /// (whose host left).
    fn peer_ended(&self, end: PeerEnd, peer: SocketAddr, hosted: bool) -> Result<()> {
        self.front.chat(ChatEvent::PeerEnded {
            end: &end,
            peer,
            hosted,
        });
        let failure = match end {
            PeerEnd::Left => return Ok(()),
            PeerEnd::Cut(_) if hosted => return Ok(()),
            PeerEnd::Broken(why) => anyhow!("connection with {peer} ended: {why}"),
            PeerEnd::Unwelcome(why) => {
                anyhow!("the room at {peer} did not let us in: {why}")
            }
            PeerEnd::SpeaksEncrypted => speaks_encrypted_failure(peer),
            PeerEnd::Cut(e) => anyhow!(e).context(format!("connection with {peer} cut short")),
            PeerEnd::Lost(e) => anyhow!(e).context(format!("connection with {peer} lost")),
        };
        Err(self.shown(failure))
    }

    /// The main loop: acts on the user's lines until the user quits or the
    /// connection ends, and gives up on a peer that stopped reading.
    fn main_loop(
        &self,
        early: Vec<News>,
        user: &mut UserSide,
        closer: &Closer,
        stall: &mut StallWatch,
        transfers: &Transfers,
    ) -> Ending {
        for event in early {
            if let ControlFlow::Break(ending) = act(event, user) {
                return ending;
            }
        }
        let mut last_check = Instant::now();
        loop {
            match self.inbox.recv_timeout(stall::CHECK_INTERVAL) {
                Ok(event) => {
                    if let ControlFlow::Break(ending) = act(event, user) {
                        return ending;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Every sender is gone, which only happens once all threads
                // ended.
                Err(RecvTimeoutError::Disconnected) => return Ending::Quit,
            }
            if last_check.elapsed() >= stall::CHECK_INTERVAL {
                last_check = Instant::now();
                transfers.show_stalled(self.front.as_ref());
                if stall.stalled(last_check, closer.sending()) {
                    return Ending::WriterFailed(WriteError::Stalled {
                        window: stall.window(),
                    });
                }
            }
        }
    }

    /// A failure just said on the screen: at a terminal it is not said
    /// again as the program exits. Without one, stderr still has it for
    /// scripts.
    pub(super) fn shown(&self, failure: anyhow::Error) -> anyhow::Error {
        if self.front.attended() {
            Shown(failure).into()
        } else {
            failure
        }
    }
}

/// Acts on one event of the conversation; breaks with how it ended.
fn act(event: News, user: &mut UserSide) -> ControlFlow<Ending> {
    match event {
        News::Input(lines, ticket) => {
            if user.act_on_batch(&lines, ticket).is_break() {
                return ControlFlow::Break(Ending::Quit);
            }
        }
        News::Pasted(text) => user.paste(&text),
        News::Command(command) => {
            if user.order(command).is_break() {
                return ControlFlow::Break(Ending::Quit);
            }
        }
        News::Leave(how) => {
            if user.leave(how).is_break() {
                return ControlFlow::Break(Ending::Quit);
            }
        }
        News::InputTooLong(len) => user.too_long(len),
        News::InputEnded | News::Signal => return ControlFlow::Break(Ending::Quit),
        News::PeerEnded(end) => return ControlFlow::Break(Ending::Peer(end)),
        News::WriterFailed(e) => return ControlFlow::Break(Ending::WriterFailed(e)),
        News::WriterDone | News::Connected(_) => {}
    }
    ControlFlow::Continue(())
}

/// The program's error for the same.
fn speaks_encrypted_failure(peer: SocketAddr) -> anyhow::Error {
    anyhow!("{peer} speaks the encrypted protocol; leave out --plain to talk with it")
}
