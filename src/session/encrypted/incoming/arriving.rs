//! A file arriving, of its own or inside a folder, and how far it has
//! got: what is here of it already, and whose it is.

use std::sync::Arc;

use super::hashing::{Identity, Pending};
use crate::files::kept::KeptFile;
use crate::session::events;
use crate::session::progress::Meter;
use crate::wire::message::FileId;

/// How far a file or folder the peer offered has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Waiting for the user's `/accept`.
    Asked,
    /// Accepted: its bytes may come. With a kept part offered, the peer
    /// first says where its chunks begin.
    Accepted { awaiting_begin: bool },
    /// Refused, declined or cancelled here: what still comes is dropped.
    Dropped,
}

/// A file arriving, of its own or inside a folder.
pub(super) struct Arriving<'a> {
    /// As shown: a safe name, or a folder's name and the path inside it.
    pub(super) name: String,
    pub(super) size: u64,
    /// Bytes held: kept from before, then received.
    pub(super) received: u64,
    pub(super) hash: blake3::Hasher,
    /// Where it is saved; `None` once dropped.
    pub(super) kept: Option<KeptFile>,
    /// What was kept from before, as offered to the peer.
    pub(super) offset: u64,
    pub(super) stage: Stage,
    pub(super) owner: Owner<'a>,
    /// While what is here of it is being hashed: the peer is answered once
    /// it is known.
    pub(super) pending: Option<Arc<Pending>>,
    /// A file of its name and size in the download folder, as looked at,
    /// offered to the peer as the file itself: if the peer's is the same,
    /// nothing travels and that file stays as it is.
    pub(super) there: Option<Identity>,
    /// That file, and its hash, when the peer's came whole all the same
    /// (in a room, because another member needed all of it): if what
    /// arrives is the same, it is not kept twice.
    pub(super) compared: Option<([u8; 32], Identity)>,
    /// In a room: the member it is from.
    pub(super) from: Option<String>,
    /// It comes from one passing for a contact: it waits for the user.
    pub(super) doubtful: bool,
}

impl<'a> Arriving<'a> {
    /// A file just offered: nowhere to be saved and not taken, until it is.
    pub(super) fn new(name: String, size: u64, owner: Owner<'a>) -> Self {
        Self {
            name,
            size,
            received: 0,
            hash: blake3::Hasher::new(),
            kept: None,
            offset: 0,
            stage: Stage::Dropped,
            owner,
            pending: None,
            there: None,
            compared: None,
            from: None,
            doubtful: false,
        }
    }
}

/// What is here already of a file offered.
#[derive(Clone, Copy)]
pub(super) enum Here {
    Nothing,
    /// This many of its first bytes, kept from an earlier try.
    Kept(u64),
    /// A file of its name and size in the download folder, as looked at:
    /// perhaps the very file.
    There(Identity),
}

impl Here {
    /// Bytes of a file of `size` counted as here: not promised, unless it
    /// comes whole after all.
    pub(super) fn held(&self, size: u64) -> u64 {
        match self {
            Here::Nothing => 0,
            Here::Kept(held) => *held,
            Here::There(_) => size,
        }
    }

    /// As the user is told of it.
    pub(super) fn shown(&self) -> events::Here {
        match *self {
            Here::Nothing => events::Here::Nothing,
            Here::Kept(held) => events::Here::Kept(held),
            Here::There(_) => events::Here::There,
        }
    }
}

/// Whose a file is: one of its own, with its meter once it runs, or one
/// of a folder's.
pub(super) enum Owner<'a> {
    Lone {
        transfer: u64,
        meter: Option<Meter<'a>>,
    },
    Entry(FileId),
}
