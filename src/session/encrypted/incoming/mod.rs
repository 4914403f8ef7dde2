//! The reader thread of an encrypted conversation: opens the peer's
//! records, shows its messages under the name it gave once, and saves its
//! files and folders, several at once, each file checked against its
//! BLAKE3 hash before it (or its folder) takes its final name. Offers are
//! taken at once or wait for the user; what arrived of a transfer that was
//! cut is kept, hidden, so that sending it again resumes.
//!
//! Its parts: `messages` reads the records and acts on each; a file goes
//! from `offers` (and `resuming`, from what is here of it) through
//! `chunks` to its `ends`; a folder from `folders` through its `entries`;
//! `cancels` and `cuts` say what stopped; `answers` go to the writer;
//! `hashing` reads what is here off this thread; `room` is a member's side
//! of a room.

mod answers;
mod arriving;
mod cancels;
mod chunks;
mod cuts;
mod ends;
mod entries;
mod folders;
mod hashing;
mod messages;
mod offers;
mod resuming;
mod room;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::engine::Frontend;
use crate::files::download::DownloadDir;
use crate::files::kept::{Kept, KeptOwner};
use crate::identity::PeerKey;
use crate::identity::contacts::Contacts;
use crate::net::secure::record::RecordError;
use crate::protocol::{Messages, MessagesError};
use crate::session::acquaintance::Acquaintance;
use crate::session::events::ReceiveEvent;
use crate::session::incoming::PeerEnd;
use crate::session::input::Tickets;
use crate::session::outgoing::Outgoing;
use crate::session::progress::Transfers;
use crate::wire::message::{FileId, MessageError};
use std::sync::Arc;

use self::arriving::Arriving;
use self::folders::ArrivingFolder;
use self::hashing::{Hashing, Tell};

/// Folders of more files than this wait for the user as big offers do
/// (when offers wait for the user at all): each file takes a block of the
/// disk and an inode, whatever its size.
pub const ASK_FILES: u64 = 10_000;

/// Messages the reader may have handed the writer and not yet seen dealt
/// with; past that, the reader waits, and so does the peer.
pub const ANSWERS_IN_FLIGHT: usize = 64;

/// What the reader is told of the user's wishes.
#[derive(Debug, Clone)]
pub struct Receiving {
    pub downloads: DownloadDir,
    /// Offers over this many bytes wait for `/accept`; `None` takes all.
    pub ask_above: Option<u64>,
    /// Our own name, as a room's member list shows it.
    pub name: String,
    /// Whether we host the room the peer (our own room) says we are in.
    pub hosting: bool,
    /// Whether the peer may be a room's host: we connected to it.
    pub may_join: bool,
    /// The identity the peer proved in the handshake; `None` where there
    /// was none (a room's host's own seat). What is kept of its files
    /// resumes for it alone.
    pub peer_key: Option<PeerKey>,
    /// The peer as the user knows it (a contact, or not), on the encrypted
    /// wire.
    pub acquaintance: Option<Arc<Acquaintance>>,
    /// The user's contacts, which a room's members may pass for.
    pub contacts: Option<Contacts>,
}

/// Reads the peer's messages until the channel closes, and says how it
/// ended. Answers about files go to the writer on `outbox`, each with one
/// of `answers`' tickets.
pub fn read_peer(
    messages: Messages,
    outbox: Sender<Outgoing>,
    answers: Tickets,
    receiving: &Receiving,
    front: &dyn Frontend,
    transfers: &Transfers,
    in_room: &AtomicBool,
) -> PeerEnd {
    let kept = Kept::of(&receiving.downloads);
    // A week is long enough to try again; what is older goes.
    if let Err(e) = kept.discard(true) {
        front.receive(ReceiveEvent::KeptUnusable(&e));
    }
    std::thread::scope(|scope| {
        let tell = Tell {
            outbox: outbox.clone(),
            answers: answers.clone(),
            front,
            transfers,
        };
        let mut reader = Reader {
            outbox,
            answers,
            downloads: &receiving.downloads,
            kept,
            sender: KeptOwner::of(receiving.peer_key),
            ask_above: receiving.ask_above,
            acquaintance: receiving.acquaintance.as_deref(),
            contacts: receiving.contacts.as_ref(),
            front,
            transfers,
            peer: None,
            files: BTreeMap::new(),
            folders: BTreeMap::new(),
            hashing: Hashing::start(scope, tell),
            holding: false,
            own_name: receiving.name.clone(),
            hosting: receiving.hosting,
            may_join: receiving.may_join || receiving.hosting,
            room: None,
            new_read_timeout: None,
            in_room,
            said_anything: false,
        };
        let end = reader.read(messages);
        reader.forget_unanswered();
        reader.report_unfinished(end)
        // (The hashing worker stops as the reader goes, and is joined.)
    })
}

struct Reader<'a> {
    outbox: Sender<Outgoing>,
    answers: Tickets,
    downloads: &'a DownloadDir,
    kept: Kept,
    /// Whose what arrives is: what was kept of anyone else's is, for this
    /// peer, as if absent. (A room's host's own seat, where no identity is
    /// proved, shares what it keeps among the room's members.)
    sender: KeptOwner,
    ask_above: Option<u64>,
    /// The peer as the user knows it: one passing for a contact gets
    /// nothing without asking.
    acquaintance: Option<&'a Acquaintance>,
    contacts: Option<&'a Contacts>,
    front: &'a dyn Frontend,
    transfers: &'a Transfers,
    /// The peer's name, once it said it.
    peer: Option<String>,
    files: BTreeMap<FileId, Arriving<'a>>,
    folders: BTreeMap<FileId, ArrivingFolder<'a>>,
    /// Hashes what is here already of the files offered, off this thread.
    hashing: Hashing,
    /// Whether the last line shown was held back for the next: a burst of
    /// lines costs one write, but a line followed by a chunk goes at once.
    holding: bool,
    own_name: String,
    hosting: bool,
    may_join: bool,
    /// In a room: how long the host may be silent before it counts as gone.
    room: Option<Duration>,
    /// A read timeout to set on the connection before the next read.
    new_read_timeout: Option<Duration>,
    /// Told to the user's side once the peer says it hosts a room.
    in_room: &'a AtomicBool,
    /// Whether the peer sent anything past its Hello: a room is said first.
    said_anything: bool,
}

impl Reader<'_> {
    /// Whom an offer is kept for: the peer's identity, or in a room the
    /// identity the member `from` proved to the host (as the host says)
    /// through this host.
    fn sender_of(&self, from: Option<(&str, [u8; 32])>) -> KeptOwner {
        match from {
            Some((_, key)) => self.sender.relaying(PeerKey::from_bytes(&key)),
            None => self.sender,
        }
    }
}

/// Why the peer's stream cannot be read on.
enum Breach {
    Record(RecordError),
    Protocol(String),
    /// A room's host did not let us in, and said why.
    Unwelcome(String),
}

impl From<MessageError> for Breach {
    fn from(e: MessageError) -> Self {
        Self::Protocol(e.to_string())
    }
}

impl From<MessagesError> for Breach {
    fn from(e: MessagesError) -> Self {
        match e {
            MessagesError::Record(e) => Self::Record(e),
            MessagesError::Message(e) => e.into(),
        }
    }
}

fn unknown(id: FileId) -> Breach {
    Breach::Protocol(format!(
        "the peer sent part of file {id}, which it never offered"
    ))
}
