//! What the user is told of the files and folders it sends. These are
//! owned: the last word on a transfer may wait for those its `/send` named
//! before it.

use std::time::Duration;

use std::path::PathBuf;

use crate::files::send::{SendError, SendFailure};
use crate::files::tree::Skipped;
use crate::session::events::Counterpart;
use crate::session::progress::Summary;

/// A file or folder of ours, by the name it is sent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub name: String,
    pub folder: bool,
}

/// A step of a file or folder going out.
#[derive(Debug)]
pub enum SendEvent {
    /// A file went out whole and `to` saved it; `summary` says how fast.
    Sent {
        name: String,
        size: u64,
        summary: Option<Summary>,
    },
    /// A folder went out: `files` files of `bytes` saved by `to`.
    SentFolder {
        name: String,
        files: u64,
        bytes: u64,
        summary: Option<Summary>,
    },
    /// What of a folder sent did not go (said above, one by one).
    LeftOut(Vec<String>),
    /// `to` has this very file already: nothing travelled.
    AlreadyThere { name: String, to: Counterpart },
    /// `to` did not save it, for `reason` (its words).
    NotSaved {
        what: Outbound,
        to: Counterpart,
        reason: String,
    },
    /// The peer holds `held` of the file's `size` bytes already.
    Resuming {
        name: String,
        to: Counterpart,
        held: u64,
        size: u64,
    },
    /// Offers that wait for an answer of `to`'s, with their sizes.
    Unanswered {
        what: Outbound,
        size: u64,
        to: Counterpart,
    },
    /// The file could not be read on: `to` was told to drop it.
    Stopped { why: SendFailure, to: Counterpart },
    /// An entry of `folder` could not be read, or grew since it was looked
    /// at (`why` is `None`): it is left out.
    Skipped {
        folder: String,
        entry: String,
        why: Option<Box<dyn std::error::Error + Send>>,
    },
    /// A file of `folder` could not be read on, and is left out.
    SkippedInFolder { folder: String, why: SendFailure },
    /// The user's `/cancel`: of one not started yet (`to` is `None`), or
    /// one `to` was told of.
    Cancelled {
        what: Outbound,
        to: Option<Counterpart>,
    },
    /// A `/cancel` of a transfer sent whole already, which waits for `to`
    /// to confirm it; or (`to` is `None`) of one that is over.
    NotCancelled {
        transfer: u64,
        to: Option<Counterpart>,
    },
    /// Leaving at once: queued, it was not sent.
    LeftFirst { name: String },
    /// Leaving at once: on its way, it stopped; `to` keeps what arrived.
    StoppedLeaving { what: Outbound, to: Counterpart },
    /// Leaving at once: sent whole, but not confirmed yet.
    UnconfirmedLeaving { name: String, to: Counterpart },
    /// What did not arrive, as the conversation ended.
    Undelivered(Undelivered),
    /// The original wire carries files only: a folder queued is not sent.
    FolderOnPlain { name: String },
    /// `/send` named a folder, which the original wire cannot carry.
    NoFolders { path: PathBuf },
    /// `/send` named what cannot be sent.
    CannotSend { path: PathBuf, why: SendError },
    /// Queued behind the transfers before it.
    Queued { name: String, size: u64 },
    /// Something inside the folder `folder` is left out.
    NotSending { folder: String, skipped: Skipped },
}

/// What did not reach the peer as the conversation ended.
#[derive(Debug)]
pub enum Undelivered {
    /// Leaving: `to` did not accept (or, `accepted`, did not confirm) it
    /// within `patience`.
    GaveUp {
        what: Outbound,
        accepted: bool,
        to: Counterpart,
        patience: Duration,
    },
    /// Leaving: queued behind offers `to` did not answer, it was not sent.
    QueuedBehind { name: String, to: Counterpart },
    /// The conversation ended with it undelivered: after `done` of its
    /// `size` bytes were taken.
    NotDelivered { name: String, done: u64, size: u64 },
    /// The conversation ended before it started.
    NotStarted { name: String },
    /// The conversation ended before `to` accepted it (or, `sent_whole`,
    /// confirmed it).
    NotAnswered {
        name: String,
        to: Counterpart,
        sent_whole: bool,
    },
    /// Messages that never went out, the connection ended first.
    MessagesNotSent(usize),
}
