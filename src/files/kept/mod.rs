//! What arrived of transfers that were cut, kept so that sending the same
//! file or folder again moves only what is missing.
//!
//! Everything lives hidden in the download folder's `.chat-partial/`, never
//! under a final name: a file as `KEY.part`, a folder as `KEY.folder/` with
//! its tree inside, each beside a `KEY.info` that says what it is (and whose
//! lock says it is in use). Nothing in it is reached through a symbolic
//! link, at any moment: the hidden folder is opened once (one that is a
//! link is refused) and everything below it is opened, made, renamed and
//! removed from the folder above it, by name and without following a link
//! (PROTOCOL.md 3.5, 8). Somebody who can write in the download folder
//! may still swap things in it, but what a chat then writes, reads,
//! hashes or removes stays inside the folders it opened.
//!
//! The key comes from the name and, for a file, the size offered, and
//! from whose the item is ([`KeptOwner`]: the identity its sender proved),
//! so the same offer from the same sender finds what was kept, and an
//! offer from anyone else finds nothing of it: for another peer it is as
//! if absent, never hashed, cut short nor removed. Whether the kept bytes
//! are still the sender's is checked by hash before anything is resumed.
//! Kept items expire a week after they were last used. A transfer that
//! finds its key in use by another chat sharing the download folder, or
//! its note naming another owner (or none: written before items had
//! owners), gets a private key (`KEY-PID-N`), which nothing could find
//! again: what it holds is not kept.

mod file;
mod folder;
mod info;
mod open_at;
mod store;
mod walk;

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::identity::PeerKey;

pub use file::KeptFile;
pub use folder::KeptFolder;
pub use store::Kept;

/// The hidden folder inside the download folder.
pub const KEPT_FOLDER: &str = ".chat-partial";

/// How long a kept item waits for its transfer to be tried again.
pub const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Numbers what this process names for itself alone: private keys, and
/// hidden folders made beside the real one.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A folder held open: what is in it is reached from it by name.
type Dir = Arc<OwnedFd>;

/// A file or a folder, as kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptKind {
    File,
    Folder,
}

/// Whose a kept item is: only an offer from the same sender resumes it
/// (PROTOCOL.md 3.5, 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptOwner {
    /// The peer that proved this identity in the handshake.
    Peer(PeerKey),
    /// A sender that proved no identity: what reaches a room's host
    /// through its own seat in the room, from any member.
    Unproved,
    /// A room's member whose file the room's host relays: the host proved
    /// the first identity, and says the member proved the second (`None`:
    /// none). Another host saying the same gets nothing of it.
    Relayed(PeerKey, Option<PeerKey>),
}

impl KeptOwner {
    /// The owner of what arrives from a peer that proved `key`, or none.
    pub fn of(key: Option<PeerKey>) -> Self {
        key.map_or(Self::Unproved, Self::Peer)
    }

    /// The owner of what a room relays from a member that proved `sender`
    /// (as the room's host says), when the host is this owner.
    pub fn relaying(self, sender: Option<PeerKey>) -> Self {
        match self {
            Self::Peer(host) | Self::Relayed(host, _) => Self::Relayed(host, sender),
            // (A room's host's own seat: the room is this chat itself.)
            Self::Unproved => Self::of(sender),
        }
    }
}

/// One kept item, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptItem {
    pub kind: KeptKind,
    pub name: String,
    /// Bytes held, and the size offered.
    pub held: u64,
    pub size: u64,
    /// What it takes on the disk: its blocks, its folders' and its info's.
    pub disk: u64,
    /// Time left before it expires.
    pub left: Duration,
}

/// What [`Kept::discard`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Discarded {
    /// Kept files and folders.
    pub items: usize,
    /// What they took on the disk.
    pub bytes: u64,
    /// Those left alone because a transfer is using them.
    pub in_use: usize,
}

/// The owner that is the peer of identity `n`, for tests.
#[cfg(test)]
fn peer(n: u8) -> KeptOwner {
    KeptOwner::Peer(crate::identity::Identity::from_secret(&[n; 32]).public())
}
