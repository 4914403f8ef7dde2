//! What the user is told of the files and folders that arrive.

use std::path::Path;

use crate::files::download::DownloadError;
use crate::files::receive::ReceiveError;
use crate::files::space::NoRoom;
use crate::session::events::Counterpart;
use crate::session::progress::Summary;

/// A step of a file or folder arriving.
#[derive(Debug)]
pub enum ReceiveEvent<'a> {
    /// A file was saved at `path`; `summary` says how fast.
    Saved {
        path: &'a Path,
        summary: Option<&'a Summary>,
    },
    /// The user accepted the offer of `name`.
    Accepted { name: &'a str },
    /// The user declined the offer of `name`, and `to` was told.
    DeclinedByUs { name: &'a str, to: Counterpart },
    /// The user cancelled `name` as it arrived: what arrived goes.
    CancelledByUs { name: &'a str },
    /// A file of `size` bytes starts arriving on the original wire.
    Incoming { name: &'a str, size: u64 },
    /// A file could not be saved; the rest of it was read and dropped.
    NotSaved {
        name: &'a str,
        why: &'a dyn std::error::Error,
    },
    /// A file stopped arriving midway; nothing of it was saved.
    Incomplete {
        name: &'a str,
        why: &'a ReceiveError,
    },
    /// What is kept of cut transfers cannot be used (`why`): offers are
    /// refused until it is removed.
    KeptUnusable(&'a DownloadError),
    /// An offer waits for the user to accept or decline transfer
    /// `transfer`; `peer` is the one we talk to, and `here` what is here of
    /// it already, and so what accepting it would move.
    Asked {
        offered: Offered<'a>,
        peer: &'a str,
        transfer: u64,
        here: Here,
    },
    /// An offer taken at once: it arrives.
    Arriving(Offered<'a>),
    /// A file offered taken at once for the file of its name and size in
    /// the download folder: the two are compared before anything travels.
    Checking(Offered<'a>),
    /// A file arrives after the `kept` bytes of its `size` kept from before.
    Resuming { name: &'a str, kept: u64, size: u64 },
    /// A file taken for the one of its name here differs from it: it
    /// comes whole.
    Differs { name: &'a str, size: u64 },
    /// In a room, a file taken for the one of its name here comes whole
    /// all the same (another member needs all of it), to be compared at
    /// its end.
    ComesWhole {
        name: &'a str,
        size: u64,
        from: &'a str,
    },
    /// An offer refused at once, for a reason of ours.
    Declined {
        offered: Offered<'a>,
        why: Refusal<'a>,
    },
    /// A file taken for the one of its name here differs from it, and is
    /// refused for lack of room for all of it.
    DiffersNoRoom {
        name: &'a str,
        size: u64,
        why: &'a NoRoom,
    },
    /// A file or folder cannot be saved; the peer was told it is refused.
    CannotSave {
        what: Unsaved<'a>,
        why: &'a DownloadError,
    },
    /// A file arrived whole, and its hash does not match: nothing of it
    /// was saved.
    Damaged { name: &'a str },
    /// A file (`from` a member, in a room) is the one of its name here,
    /// which stays as it is; `came_whole`: its bytes travelled all the
    /// same.
    AlreadyThere {
        name: &'a str,
        from: Option<&'a str>,
        came_whole: bool,
    },
    /// The file here that a file (`from` a member, in a room) was compared
    /// with changed meanwhile: nothing was saved.
    ChangedWhileCompared {
        name: &'a str,
        from: Option<&'a str>,
    },
    /// The peer withdrew a file or folder offered before it was taken.
    Withdrawn { name: &'a str },
    /// The peer stopped sending a file or folder: what arrived of it went.
    Stopped { name: &'a str, folder: bool },
    /// A file stopped arriving midway (`why`); what arrived of it is kept,
    /// so that sending it again resumes.
    IncompleteKept {
        name: &'a str,
        why: &'a ReceiveError,
    },
    /// A file taken for the one of its name here stopped before a byte
    /// came: that file is untouched.
    IncompleteUntouched { name: &'a str },
    /// A folder stopped arriving midway (`why`), with `saved` of its
    /// `files` files saved; `kept`: what arrived is kept, so that sending
    /// it again resumes.
    FolderIncomplete {
        name: &'a str,
        why: &'a ReceiveError,
        saved: u64,
        files: u64,
        kept: bool,
    },
    /// In a room: the member sending a file left before its end; `kept`:
    /// what arrived is kept, so that sending it again resumes.
    SenderLeft { name: &'a str, kept: bool },
    /// In a room: the member sending a folder left before its end.
    FolderSenderLeft {
        name: &'a str,
        saved: u64,
        files: u64,
        kept: bool,
    },
    /// In a room: the member offering a file left before it was taken.
    OfferSenderLeft { name: &'a str },
    /// A file of a folder, `path` (the folder's name and the path inside
    /// it), was skipped: its path is unsafe, or names another file of the
    /// folder.
    SkippedFile { path: &'a str },
    /// A folder inside a folder was skipped: its path is unsafe.
    SkippedSubfolder { path: &'a str },
    /// A folder was refused while it arrived: what arrived of it went.
    FolderRefused { name: &'a str, why: Refusal<'a> },
    /// Every file of a folder was sent, and `failed` of them did not arrive
    /// whole: what arrived is kept, so that sending it again resumes.
    FolderMissing { name: &'a str, failed: u64 },
    /// A folder arrived whole and was saved at `path`: `files` files of
    /// `bytes` bytes, and how long it took when a person watches.
    FolderSaved {
        path: &'a Path,
        files: u64,
        bytes: u64,
        summary: Option<&'a Summary>,
    },
    /// A folder came without `files` files of `bytes` bytes of the
    /// `announced` ones: its sender left them out.
    LeftOut {
        name: &'a str,
        files: u64,
        bytes: u64,
        announced: u64,
    },
}

/// A file or folder offered, as the user is shown it.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    /// Its name as it will be saved.
    pub name: &'a str,
    pub size: u64,
    /// For a folder, its files.
    pub files: Option<u64>,
    /// In a room: the member it is from.
    pub from: Option<&'a str>,
}

/// What is here already of a file offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Here {
    Nothing,
    /// This many of its first bytes, kept from an earlier try.
    Kept(u64),
    /// A file of its name and size in the download folder: perhaps the
    /// very file.
    There,
}

/// Why we refuse a file or folder of the peer's.
#[derive(Debug, Clone, Copy)]
pub enum Refusal<'a> {
    /// The disk has no room for it.
    NoRoom(&'a NoRoom),
    /// A folder of more files than a folder may have.
    TooManyFiles { limit: u64 },
    /// A folder makes more folders inside it than one of its `files` may.
    TooManyFolders { allowed: u64, files: u64 },
}

/// What could not be saved.
#[derive(Debug, Clone, Copy)]
pub enum Unsaved<'a> {
    /// A file or folder as it was offered.
    Offer(Offered<'a>),
    /// A file, of its own or of a folder (then the folder's name and the
    /// path inside it).
    File(&'a str),
    Folder(&'a str),
}
