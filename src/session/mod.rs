//! A conversation, from waiting for the peer to saying goodbye: the input,
//! reader and writer threads, and the main loop that acts on their events.
//!
//! Every thread reports to the main loop through one channel of [`News`],
//! so the loop notices the peer leaving at once, without waiting for the
//! user to type, and it never waits on the writer: what the user queues
//! goes to the writer through an unbounded channel, and only the reading
//! of piped input is held back (see [`input`]).

mod approach;
pub mod capabilities;
pub mod command;
pub mod encrypted;
pub mod events;
pub mod incoming;
pub mod input;
pub mod members;
pub mod outgoing;
pub mod progress;
pub mod stall;
pub mod user;

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use self::approach::Approach;
pub(crate) use self::approach::{announce, give_code};
use self::capabilities::{Capabilities, Safety};
use self::events::{ChatEvent, Reply};
use self::incoming::PeerEnd;
use self::input::{Ticket, Tickets};
use self::members::Occupancy;
use self::outgoing::{Outgoing, WriteError};
use self::progress::Transfers;
use self::stall::StallWatch;
use self::user::UserSide;
use crate::engine::{Front, Frontend};
use crate::exit_codes::Shown;
use crate::files::download::DownloadDir;
use crate::files::kept::Kept;
use crate::net::connect::Established;
use crate::net::secure::handshake::Agreed;
use crate::net::transport::{Closer, Reading, Writing};
use crate::session::outgoing::Typed;
use crate::settings::Settings;
use crate::signals::SignalWatch;

/// How long to wait for the peer to close after we have said goodbye. Closing
/// while the peer still sends would reset the connection and could destroy
/// data of ours it has not read yet.
const LINGER: Duration = Duration::from_secs(2);

/// What the main loop hears about: news from the user's input, the reader,
/// the writer and signals.
pub enum News {
    /// Whole lines the user typed (or piped), as many as arrived together,
    /// with the ticket of a piped batch.
    Input(Vec<u8>, Option<Ticket>),
    /// A block pasted at the prompt: one message, its lines kept.
    Pasted(String),
    /// A command a front end gave as a typed value.
    Command(command::Command),
    /// The user asked to leave at the prompt (Ctrl-C or Ctrl-D).
    Leave(user::Leaving),
    /// A line of this many bytes was too long to send and was dropped.
    InputTooLong(u64),
    /// The user's input ended.
    InputEnded,
    /// Waiting for the peer is over: its connection, or `None` when the
    /// wait was stopped.
    Connected(Result<Option<Established>>),
    /// The reader thread is done: the peer's side of the stream ended.
    PeerEnded(PeerEnd),
    /// The writer could not send; the connection is unusable. What was not
    /// delivered is said once the writer is done.
    WriterFailed(WriteError),
    /// The writer is done: after the goodbye, or after a failure.
    WriterDone,
    /// A signal asked us to leave.
    Signal,
}

/// Why the main loop stopped.
enum Ending {
    Quit,
    Peer(PeerEnd),
    WriterFailed(WriteError),
}

/// A front end the engine attaches to: where the conversation shows itself,
/// and its input, started once the conversation takes commands, sending
/// them as [`News`].
pub trait Attach {
    fn front(&self) -> Front;
    fn start_input(self: Box<Self>, news: Sender<News>) -> Result<Box<dyn InputSide>>;
}

/// Runs the program's conversation: waits for or connects to the peer (the
/// user can already give commands, and leave), then converses until either
/// side leaves.
pub fn run(settings: &Settings, attach: Box<dyn Attach>) -> Result<()> {
    run_with(settings, attach, None)
}

/// Runs the conversation of a room's host with its own room, over a
/// connection made inside the program; `occupancy` is what the room holds.
pub fn run_hosting(
    settings: &Settings,
    attach: Box<dyn Attach>,
    room: Established,
    occupancy: Arc<Occupancy>,
) -> Result<()> {
    run_with(settings, attach, Some((room, occupancy)))
}

fn run_with(
    settings: &Settings,
    attach: Box<dyn Attach>,
    ready: Option<(Established, Arc<Occupancy>)>,
) -> Result<()> {
    let front = attach.front();
    let (events, inbox) = mpsc::channel();
    let mut input = attach.start_input(events.clone())?;
    let attended = front.attended();
    let _signals = {
        let events = events.clone();
        SignalWatch::start(!attended, move || {
            let _ = events.send(News::Signal);
        })?
    };
    let hosted = ready.as_ref().map(|(_, occupancy)| occupancy.clone());
    let established = match ready {
        Some((room, _)) => Some((room, Vec::new())),
        None => match establish(settings, &inbox, &events, &front, attended) {
            Ok(established) => established,
            Err(e) => {
                input.stop();
                input.finish();
                return Err(e);
            }
        },
    };
    let result = match established {
        Some((established, early)) => {
            let conversation = Conversation {
                settings,
                front: &front,
                inbox: &inbox,
                events: &events,
                hosted: hosted.as_deref(),
            };
            let result = conversation.run(established, early, &mut *input);
            say_what_is_kept(&settings.downloads, &*front);
            result
        }
        None => {
            input.stop();
            Ok(())
        }
    };
    input.finish();
    front.chat(ChatEvent::Over);
    result
}

/// On leaving, says how much of the disk what is kept of cut transfers
/// holds, and how to free it once no peer is there to `/discard` with.
fn say_what_is_kept(downloads: &DownloadDir, front: &dyn Frontend) {
    let kept = Kept::of(downloads);
    // What it takes on the disk: a folder of empty folders holds no byte,
    // and still takes a block for each.
    let held: u64 = kept.list().iter().map(|item| item.disk).sum();
    if held == 0 {
        return;
    }
    front.chat(ChatEvent::KeptOnDisk {
        held,
        kept: kept.path(),
        downloads: downloads.path(),
    });
}

/// A front end's input, which the conversation stops as it ends: before
/// its last lines, so that they are not drawn around a prompt.
pub trait InputSide {
    fn stop(&mut self);
    /// The conversation is over, and says so next: what was typed while it
    /// was leaving is not for it (nor for a shell that gets the terminal
    /// back).
    fn finish(&mut self) {}
}

/// A front end whose commands come from elsewhere than a console: nothing
/// to stop.
struct NoInput;

impl InputSide for NoInput {
    fn stop(&mut self) {}
}

/// Runs a conversation over a connection already made, for a front end
/// that gives its commands as [`News::Command`] on `news`, until either
/// side leaves. Everything it shows goes to `front`.
pub fn converse(
    settings: &Settings,
    front: Front,
    established: Established,
    (news, inbox): (Sender<News>, Receiver<News>),
) -> Result<()> {
    let conversation = Conversation {
        settings,
        front: &front,
        inbox: &inbox,
        events: &news,
        hosted: None,
    };
    let result = conversation.run(established, Vec::new(), &mut NoInput);
    front.chat(ChatEvent::Over);
    result
}

/// Waits for the peer, or connects to it, while the user may already type.
/// Returns the connection and the events to act on once connected (piped
/// input read meanwhile), or `None` when the user left first.
fn establish(
    settings: &Settings,
    inbox: &Receiver<News>,
    events: &Sender<News>,
    front: &Front,
    attended: bool,
) -> Result<Option<(Established, Vec<News>)>> {
    let approach = Approach::start(settings, events, front)?;
    let mut early = Vec::new();
    // Until connected, or until the user leaves (any `break`).
    loop {
        let Ok(event) = inbox.recv() else {
            break;
        };
        match event {
            News::Connected(connected) => {
                approach.finish()?;
                return Ok(connected?.map(|established| (established, early)));
            }
            News::Signal => break,
            // Piped input waits for the peer: a script's lines are meant
            // for it. A person is answered at once.
            event if !attended => early.push(event),
            News::Input(lines, _) => {
                let lines = String::from_utf8_lossy(&lines);
                if lines
                    .split_inclusive('\n')
                    .any(|line| user::act_while_waiting(line, &**front).is_break())
                {
                    break;
                }
            }
            News::InputEnded | News::Leave(_) => break,
            News::Command(command::Command::Quit) => break,
            News::InputTooLong(_) | News::Pasted(_) | News::Command(_) => {
                front.reply(Reply::NotConnectedYet);
            }
            News::PeerEnded(_) | News::WriterFailed(_) | News::WriterDone => {}
        }
    }
    approach.stop()?;
    Ok(None)
}

/// What a connected conversation runs with.
struct Conversation<'a> {
    settings: &'a Settings,
    front: &'a Front,
    inbox: &'a Receiver<News>,
    events: &'a Sender<News>,
    /// The room the user hosts, when it does.
    hosted: Option<&'a Occupancy>,
}

impl Conversation<'_> {
    fn run(
        &self,
        established: Established,
        early: Vec<News>,
        user_input: &mut dyn InputSide,
    ) -> Result<()> {
        let Established { connection, agreed } = established;
        let peer = connection.peer();
        let connection_sealed = connection.is_encrypted();
        let (reading, writing, closer) =
            connection.split().context("cannot share the connection")?;
        let front = self.front;
        let transfers = Arc::new(Transfers::default());
        let in_room = Arc::new(AtomicBool::new(false));
        let (outbox, queue) = mpsc::channel();
        let mut threads = Threads::new(closer.clone());
        self.spawn_reader(&mut threads, reading, outbox.clone(), &transfers, &in_room)?;
        self.spawn_writer(&mut threads, writing, queue, closer.clone(), &transfers)?;

        let mut stall = StallWatch::new(self.settings.stall);
        let ending = {
            let caps = self.capabilities(agreed.as_ref(), connection_sealed);
            let mut user = UserSide::new(
                &outbox,
                &self.settings.name,
                front,
                &transfers,
                &self.settings.downloads,
                caps,
                &in_room,
            )
            .hosting(self.hosted);
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
                let (failure, encrypted) =
                    self.finish_sending(&closer, &mut stall, &transfers, outbox, connection_sealed);
                user_input.stop();
                threads.finish()?;
                match failure {
                    // (On the original wire, the peer's greeting may come
                    // only as we leave: a script with nothing to say.)
                    None if encrypted => {
                        front.chat(ChatEvent::SpeaksEncrypted(peer));
                        Err(self.shown(speaks_encrypted_failure(peer)))
                    }
                    None => Ok(()),
                    Some(e) => Err(self.write_failure(e, peer)),
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

    /// What the wire of this conversation can do, and what its people
    /// compare: the safety code of this connection, or, for a room's host,
    /// one per member.
    fn capabilities(&self, agreed: Option<&Agreed>, sealed: bool) -> Capabilities {
        match (agreed, &self.settings.room) {
            (Some(agreed), _) => Capabilities::encrypted(Safety::Code {
                code: agreed.safety_code.clone(),
                verified: agreed.verified,
            }),
            (None, Some(_)) if sealed => Capabilities::encrypted(Safety::EachMember),
            (None, _) => Capabilities::plain(),
        }
    }

    /// Starts the thread that reads what the peer sends, and tells the
    /// main loop how the peer's end went.
    fn spawn_reader(
        &self,
        threads: &mut Threads,
        reading: Reading,
        outbox: Sender<Outgoing>,
        transfers: &Arc<Transfers>,
        in_room: &Arc<AtomicBool>,
    ) -> Result<()> {
        let downloads = self.settings.downloads.clone();
        let receiving = encrypted::incoming::Receiving {
            downloads: downloads.clone(),
            ask_above: self.settings.asking.limit(self.front.attended()),
            name: self.settings.name.clone(),
            hosting: self.settings.room.is_some(),
            may_join: self.settings.role.connects(),
        };
        let (front, events, transfers, in_room) = (
            self.front.clone(),
            self.events.clone(),
            transfers.clone(),
            in_room.clone(),
        );
        let answers = Tickets::new(encrypted::incoming::ANSWERS_IN_FLIGHT);
        threads.spawn("reader", move || {
            let end = match reading {
                Reading::Plain(reader) => {
                    incoming::read_peer(reader, &downloads, &front, &transfers)
                }
                Reading::Sealed(records) => encrypted::incoming::read_peer(
                    *records, outbox, answers, &receiving, &front, &transfers, &in_room,
                ),
            };
            let _ = events.send(News::PeerEnded(end));
        })?;
        Ok(())
    }

    /// Starts the thread that sends what `queue` brings to the peer, and
    /// tells the main loop when it is through or failed.
    fn spawn_writer(
        &self,
        threads: &mut Threads,
        writing: Writing,
        queue: Receiver<Outgoing>,
        closer: Closer,
        transfers: &Arc<Transfers>,
    ) -> Result<()> {
        let name = self.settings.name.clone();
        let patience = self.settings.stall;
        let (front, events, transfers) =
            (self.front.clone(), self.events.clone(), transfers.clone());
        threads.spawn("writer", move || {
            let failed = |e| {
                let _ = events.send(News::WriterFailed(e));
            };
            match writing {
                Writing::Plain(writer) => {
                    outgoing::write_peer(writer, closer, &name, queue, &front, &transfers, failed)
                }
                Writing::Sealed(records) => encrypted::outgoing::write_peer(
                    *records, &name, queue, &front, &transfers, patience, failed,
                ),
            }
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

    /// After the goodbye was queued: waits for the writer to be through with
    /// what is queued before it (still watching for a stall), then lets the
    /// reader run until the peer closes too, or [`LINGER`] passes. Returns
    /// a failure worth reporting, if any, and whether the peer turned out
    /// to speak the encrypted protocol meanwhile. Meanwhile the user may leave at
    /// once (Ctrl-C, Ctrl-D or `/quit` again, or a signal): on the encrypted
    /// wire what is being sent is then cancelled and the goodbye goes at
    /// once; the original wire cannot stop a file midway, so the
    /// connection is cut. `outbox` is let go once nothing more is sent: a
    /// writer that failed waits for it to close.
    fn finish_sending(
        &self,
        closer: &Closer,
        stall: &mut StallWatch,
        transfers: &Transfers,
        outbox: Sender<Outgoing>,
        sealed: bool,
    ) -> (Option<WriteError>, bool) {
        let mut outbox = Some(outbox);
        let mut failure = None;
        let (mut peer_gone, mut encrypted) = (false, false);
        let (mut told_typing, mut stopped) = (false, false);
        loop {
            match self.inbox.recv_timeout(stall::CHECK_INTERVAL) {
                Ok(News::WriterDone) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(News::Leave(_) | News::Signal) if !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed);
                }
                Ok(News::Input(lines, _)) if is_quit(&lines) && !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed);
                }
                Ok(News::Command(command::Command::Quit)) if !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed);
                }
                Ok(
                    News::Input(..) | News::Pasted(_) | News::InputTooLong(_) | News::Command(_),
                ) => {
                    if !std::mem::replace(&mut told_typing, true) {
                        self.front.chat(ChatEvent::NotSentWhileLeaving);
                    }
                }
                // Once the peer is gone, or the user cut the original wire
                // short, the writer fails because we closed.
                Ok(News::WriterFailed(e)) => {
                    outbox = None;
                    if !peer_gone && (sealed || !stopped) {
                        failure.get_or_insert(e);
                    }
                }
                // Once we gave up, the reader ends because we closed.
                Ok(News::PeerEnded(end)) if failure.is_none() => {
                    // Nobody reads what is still queued: stop sending it.
                    peer_gone = true;
                    encrypted = matches!(end, PeerEnd::SpeaksEncrypted);
                    closer.close();
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            }
            transfers.show_stalled(self.front.as_ref());
            if failure.is_none() && stall.stalled(Instant::now(), closer.sending()) {
                failure = Some(WriteError::Stalled {
                    window: stall.window(),
                });
                closer.close();
            }
        }
        if failure.is_some() || peer_gone {
            // Ending the connection ended the reader too; or the peer left
            // first, and what it did not get has been said.
            return (failure, encrypted);
        }
        let deadline = Instant::now() + LINGER;
        while failure.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(News::PeerEnded(end)) => {
                    encrypted = matches!(end, PeerEnd::SpeaksEncrypted);
                    break;
                }
                Err(_) => break,
                Ok(_) => {}
            }
        }
        (failure, encrypted)
    }

    /// The user leaves without waiting for the files being sent: on the
    /// encrypted wire they are cancelled, the peer told; the original wire
    /// cannot stop a file midway, so the connection is cut.
    fn leave_at_once(&self, outbox: Option<Sender<Outgoing>>, closer: &Closer, sealed: bool) {
        if sealed {
            if let Some(outbox) = outbox {
                let _ = outbox.send(Outgoing::Typed(Typed::StopSending));
            }
        } else {
            self.front.chat(ChatEvent::LeavingAtOnce);
            closer.close();
        }
    }

    /// Says why sending failed, and makes the program's error of it.
    fn write_failure(&self, e: WriteError, peer: SocketAddr) -> anyhow::Error {
        self.front.chat(ChatEvent::WriteFailed(&e));
        self.shown(anyhow!(e).context(format!("connection with {peer} lost")))
    }

    /// A failure just said on the screen: at a terminal it is not said
    /// again as the program exits. Without one, stderr still has it for
    /// scripts.
    fn shown(&self, failure: anyhow::Error) -> anyhow::Error {
        if self.front.attended() {
            Shown(failure).into()
        } else {
            failure
        }
    }
}

/// Whether typed lines are `/quit` again.
fn is_quit(lines: &[u8]) -> bool {
    String::from_utf8_lossy(lines)
        .trim()
        .eq_ignore_ascii_case("/quit")
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

/// The threads of a connected conversation. Finishing, or dropping on an
/// early return, ends the connection and joins every one of them, so no
/// thread outlives the conversation.
struct Threads {
    closer: Closer,
    handles: Vec<JoinHandle<()>>,
}

impl Threads {
    fn new(closer: Closer) -> Self {
        Self {
            closer,
            handles: Vec::new(),
        }
    }

    fn spawn(&mut self, name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
        self.handles.push(spawn(name, work)?);
        Ok(())
    }

    /// Ends the connection and waits for every thread.
    fn finish(mut self) -> Result<()> {
        self.closer.close();
        std::mem::take(&mut self.handles)
            .into_iter()
            .try_for_each(join)
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.closer.close();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

pub(crate) fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .with_context(|| format!("cannot start the {name} thread"))
}

pub(crate) fn join(handle: JoinHandle<()>) -> Result<()> {
    let name = handle.thread().name().unwrap_or("worker").to_string();
    handle
        .join()
        .map_err(|_| anyhow!("internal error: the {name} thread failed"))
}

/// The program's error for the same.
fn speaks_encrypted_failure(peer: SocketAddr) -> anyhow::Error {
    anyhow!("{peer} speaks the encrypted protocol; leave out --plain to talk with it")
}
