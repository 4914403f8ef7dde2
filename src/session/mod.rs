//! A conversation, from waiting for the peer to saying goodbye: the input,
//! reader and writer threads, and the main loop that acts on their events.
//!
//! Every thread reports to the main loop through one channel of [`News`],
//! so the loop notices the peer leaving at once, without waiting for the
//! user to type, and it never waits on the writer: what the user queues
//! goes to the writer through an unbounded channel, and only the reading
//! of piped input is held back (see [`input`]).

pub mod acquaintance;
mod approach;
mod conversation;
mod finding;
mod leaving;
mod threads;

use self::conversation::Conversation;
pub mod encrypted;
pub mod events;
pub mod incoming;
pub mod input;
pub mod outgoing;
pub mod progress;
pub mod stall;
pub mod user;
pub mod wire;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};

use anyhow::Result;

use self::approach::Approach;
pub(crate) use self::approach::{announce, give_code, register};
use self::events::{ChatEvent, Reply};
use self::incoming::PeerEnd;
use self::input::Ticket;
use self::outgoing::WriteError;
use crate::engine::command;
use crate::engine::members::Occupancy;
use crate::engine::{Front, Frontend};
use crate::files::download::DownloadDir;
use crate::files::kept::Kept;
use crate::net::connect::Established;
use crate::net::rendezvous::listening::Registration;
use crate::settings::Settings;
use crate::signals::SignalWatch;

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

/// Says so when the user's identity was made for this chat, the first.
pub(crate) fn tell_new_identity(settings: &Settings, front: &Front) {
    if let Some(me) = &settings.me
        && let Some(path) = &me.made
    {
        front.chat(ChatEvent::NewIdentity {
            path,
            fingerprint: me.identity.public().fingerprint(),
        });
    }
}

fn run_with(
    settings: &Settings,
    attach: Box<dyn Attach>,
    ready: Option<(Established, Arc<Occupancy>)>,
) -> Result<()> {
    let front = attach.front();
    if ready.is_none() {
        tell_new_identity(settings, &front);
    }
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
        Some((room, _)) => Some((room, Vec::new(), None)),
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
        // The registration at the mailbox, kept to the end: the port the
        // router forwards is closed with it.
        Some((established, early, _registration)) => {
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

/// A connection made, the events to act on once connected (piped input
/// read meanwhile), and the registration at the mailbox, if any.
type Reached = (Established, Vec<News>, Option<Registration>);

/// Waits for the peer, or connects to it, while the user may already type.
/// Returns the connection and the events to act on once connected (piped
/// input read meanwhile), or `None` when the user left first.
fn establish(
    settings: &Settings,
    inbox: &Receiver<News>,
    events: &Sender<News>,
    front: &Front,
    attended: bool,
) -> Result<Option<Reached>> {
    let approach = Approach::start(settings, events, front)?;
    let mut early = Vec::new();
    // Until connected, or until the user leaves (any `break`).
    loop {
        let Ok(event) = inbox.recv() else {
            break;
        };
        match event {
            News::Connected(connected) => {
                let kept = approach.finish()?;
                return Ok(connected?.map(|established| (established, early, kept)));
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
