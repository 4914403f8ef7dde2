//! What a conversation tells its user, as typed values for the front ends
//! to render: what the peer says, how the conversation ends, and the steps
//! of the files that go between them (one module for each way).

mod receive;
mod send;

pub use self::receive::{Here, Offered, ReceiveEvent, Refusal, Unsaved};
pub use self::send::{Outbound, SendEvent, Undelivered};

use std::net::SocketAddr;
use std::path::Path;

use crate::engine::command::Usage;
use crate::engine::members::RoomStake;
use crate::files::download::DownloadError;
use crate::files::kept::{Discarded, KeptItem};
use crate::files::space::NoRoom;
use crate::identity::Fingerprint;
use crate::identity::contacts::{Contact, ContactsError};
use crate::protocol::capabilities::Safety;
use crate::session::acquaintance::{TrustError, Trusted};
use crate::session::incoming::PeerEnd;
use crate::session::outgoing::WriteError;
use crate::session::progress::{AtStake, NotCancelled, Undecided};
use crate::session::user::Leaving;
use crate::wire::message::{Change, MemberList};

/// Who takes what we send and answers our offers: the peer, or the room
/// it hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counterpart {
    Peer,
    Room,
}

/// A step of the conversation itself.
#[derive(Debug)]
pub enum ChatEvent<'a> {
    /// A message of the peer's (or of a member of its room), `name` as it
    /// said it: the front end makes both safe to show.
    PeerSaid {
        name: &'a str,
        text: &'a str,
        more_coming: bool,
    },
    /// A message of ours, as sent.
    Said { name: &'a str, text: &'a str },
    /// We are in the room `host` hosts, with `others` members besides it.
    InRoom { host: &'a str, others: u16 },
    /// A member's message to us alone.
    Whispered { name: &'a str, text: &'a str },
    /// Our message to `to` alone reached it.
    WhisperWent {
        own: &'a str,
        to: &'a str,
        text: &'a str,
    },
    /// A member came or went; `reason` in its or the host's words.
    Presence {
        change: Change,
        name: &'a str,
        reason: &'a str,
    },
    /// The room's members, as its host listed them; `me` is ours.
    Members {
        list: &'a MemberList<'a>,
        me: &'a str,
    },
    /// What the room's host has to tell us, in its words.
    RoomNotice(&'a str),
    /// A line of the peer's on the original wire, as it came: the front end
    /// makes it safe to show.
    PeerLine { raw: &'a [u8], more_coming: bool },
    /// Several such lines at once, each printable ASCII and ending in a
    /// newline: a burst of them is shown in one piece.
    PeerLines { raw: &'a [u8], more_coming: bool },
    /// The peer sent a line longer than the wire allows; it was dropped.
    LineTooLong { len: u64, limit: u64 },
    /// The peer sent a `/file` line that makes no sense; it was ignored.
    MalformedHeader(&'a str),
    /// The peer's side ended, as `end` says; `hosted`: it was the host of
    /// the room we were in.
    PeerEnded {
        end: &'a PeerEnd,
        peer: SocketAddr,
        hosted: bool,
    },
    /// Sending failed, and with it the connection.
    WriteFailed(&'a WriteError),
    /// Leaving: what is typed now is not sent.
    NotSentWhileLeaving,
    /// Leaving at once on the original wire: the file being sent is cut.
    LeavingAtOnce,
    /// What is kept of cut transfers holds `held` bytes of the disk, in
    /// `kept`, for the download folder `downloads`.
    KeptOnDisk {
        held: u64,
        kept: &'a Path,
        downloads: &'a Path,
    },
    /// The conversation is over and the program ends.
    Over,
    /// The peer, not a contact, calls itself `name` as these `contacts`
    /// are (or were) called: it may pass for one of them. `code` is the
    /// safety code to compare with the real one.
    PassingFor {
        name: &'a str,
        contacts: &'a [Contact],
        code: &'a str,
    },
    /// The contacts file could not be read or changed.
    ContactsTrouble(&'a ContactsError),
    /// This user's identity was made just now, in `path`: the first chat.
    NewIdentity {
        path: &'a Path,
        fingerprint: Fingerprint,
    },
}

/// An answer to one of the user's commands, or a word on what it typed.
#[derive(Debug)]
pub enum Reply<'a> {
    /// Typed before anyone is connected.
    NotConnectedYet,
    /// What the people compare to know nobody is in between (`/code`).
    SafetyCode(&'a Safety),
    /// The fingerprint of the identity the peer proved (`/code`), to
    /// compare with what `chat id` shows on its machine.
    TheirIdentity(Fingerprint),
    /// `/trust` made the peer a contact.
    Trusted(&'a Trusted),
    /// `/trust` saved nothing.
    NotTrusted(&'a TrustError),
    /// `/trust` on the original wire, which proves no identity.
    NoIdentity,
    /// The wire cannot accept, decline, cancel or resume files.
    NoAnswers,
    /// `/who` and `/msg` outside a room.
    NotInRoom,
    /// On the original wire, messages typed now wait for the file being
    /// sent.
    MessagesWait,
    /// On the original wire, `/who` and `/msg` go out as lines a room
    /// answers.
    RoomLinesOnPlain,
    /// Leaving now would cut `ours` (arriving, or offers waiting for the
    /// user's answer) and close the `room` the user hosts: doing `again`
    /// what asked to leave leaves anyway.
    LeavingWouldCut {
        ours: Option<&'a AtStake>,
        room: Option<RoomStake>,
        again: Leaving,
    },
    /// The commands, asked for (`/help`).
    Help,
    /// A command used wrongly, or one that does not exist.
    Usage(&'a Usage),
    /// `/accept` or `/decline` answered nothing.
    Undecided(&'a Undecided<NoRoom>),
    /// `/cancel` stopped nothing.
    NotCancelled(&'a NotCancelled),
    /// `/discard` removed what is kept, or could not.
    Discarded(Result<&'a Discarded, &'a DownloadError>),
    /// What is kept of a cut transfer (`/status`).
    Kept(&'a KeptItem),
    /// A message of ours of `len` bytes was not sent: the limit is `limit`.
    TooLong { len: u64, limit: u64 },
}
