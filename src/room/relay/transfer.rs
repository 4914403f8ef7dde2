//! One transfer through the room, as the relay keeps it: what goes (a
//! file, a folder, or a file inside a folder), from whom, where it stands
//! on its course, each receiver's part in it, and what of a plain sender's
//! file is hashed and kept on its way. Nothing here reaches a member.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::room::course::{Breach, Course};
use crate::room::link::{PIECES_IN_FLIGHT, Piece, Share};
use crate::room::roster::MemberId;
use crate::wire::limits::{LAG_FOR, MAX_FOLDERS, MAX_INCOMING, MAX_LAG};
use crate::wire::message::{FileId, Message};

/// A plain sender's file reaches the members on the original wire once
/// it is whole or the room holds this much of it (pieces, bytes): a file
/// cut off before it started for them leaves their streams in step, so a
/// small one that never comes whole holds nobody up. (Less than
/// [`MAX_LAG`], so that they are not behind by waiting.)
const PLAIN_HOLD_PIECES: usize = PIECES_IN_FLIGHT / 2;
const PLAIN_HOLD_BYTES: usize = 1 << 20;

/// A transfer's number in the room.
pub type RelayId = u64;

/// What goes: a file, a folder, or a file inside a folder that goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    Entry { folder: RelayId },
}

impl Kind {
    /// How many of this kind a member takes at once, as its reader allows.
    pub fn limit(self) -> usize {
        match self {
            Self::Folder => MAX_FOLDERS,
            Self::File | Self::Entry { .. } => MAX_INCOMING,
        }
    }
}

/// What a sender offers, as the room offers it on.
pub enum Offering<'a> {
    File {
        size: u64,
        name: &'a str,
        plain_sender: bool,
    },
    Folder {
        files: u64,
        bytes: u64,
        name: &'a str,
    },
    Entry {
        folder: RelayId,
        size: u64,
        path: &'a str,
    },
}

impl Offering<'_> {
    /// The offer as the room passes it on to a receiver, as its file
    /// `rid` (in its folder `folder_rid`, for a folder's file).
    pub fn as_passed<'m>(
        &self,
        rid: FileId,
        folder_rid: Option<FileId>,
        (sender, sender_key): (&'m str, [u8; 32]),
        name: &'m str,
    ) -> Message<'m> {
        match *self {
            Self::File { size, .. } => Message::Passed {
                id: rid,
                size,
                from: sender,
                from_key: sender_key,
                name,
            },
            Self::Folder { files, bytes, .. } => Message::PassedFolder {
                id: rid,
                files,
                bytes,
                from: sender,
                from_key: sender_key,
                name,
            },
            Self::Entry { size, .. } => Message::Entry {
                id: rid,
                folder: folder_rid.unwrap_or_default(),
                size,
                path: name,
            },
        }
    }
}

/// One transfer under way.
pub struct Relay {
    pub kind: Kind,
    pub from: MemberId,
    pub id: FileId,
    /// Whether the sender is on the original wire: its file goes at once.
    pub plain_sender: bool,
    pub name: String,
    pub size: u64,
    pub opened: Instant,
    /// Where it stands, as its sender keeps to the rules: once it goes, its
    /// pieces go to those taking it; never more than its size, and all of
    /// it by its end.
    pub course: Course,
    /// When its end went out.
    pub ended_at: Option<Instant>,
    pub receivers: BTreeMap<MemberId, Receiver>,
    /// Receivers that saved it, or (on the original wire) got it whole.
    pub saved: usize,
    /// A plain sender's file: its hash so far, its hash once whole, and
    /// its pieces kept for receivers still deciding and for those on the
    /// original wire until it starts for them.
    hasher: blake3::Hasher,
    pub hash: Option<[u8; 32]>,
    pub early: Vec<Arc<Piece>>,
    /// Its header went to the members on the original wire taking it:
    /// their streams carry it to its end.
    pub plain_started: bool,
}

/// One receiver's part in a transfer, as the relay keeps it.
pub struct Receiver {
    pub id: FileId,
    /// On the original wire.
    pub plain: bool,
    pub taking: Taking,
    pub share: Arc<Share>,
    behind_since: Option<Instant>,
}

impl Receiver {
    /// A receiver counted in as its file `id`: one on the original wire
    /// takes it, one on the encrypted wire is to be asked.
    pub fn new(id: FileId, plain: bool) -> Self {
        let taking = if plain {
            Taking::Accepted {
                offset: 0,
                prefix: [0; 32],
            }
        } else {
            Taking::Asked
        };
        Self {
            id,
            plain,
            taking,
            share: Arc::default(),
            behind_since: None,
        }
    }
}

/// Where a receiver stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taking {
    Asked,
    Accepted {
        offset: u64,
        prefix: [u8; 32],
    },
    /// Saved, refused, or dropped: out of the transfer.
    Done,
}

impl Taking {
    pub fn accepted(self) -> bool {
        matches!(self, Self::Accepted { .. })
    }
}

impl Relay {
    /// A transfer of member `from`'s file `id`, on `course`, to nobody yet.
    pub fn new(
        from: MemberId,
        id: FileId,
        kind: Kind,
        plain_sender: bool,
        name: String,
        size: u64,
        course: Course,
    ) -> Self {
        Self {
            kind,
            from,
            id,
            plain_sender,
            name,
            size,
            opened: Instant::now(),
            course,
            ended_at: None,
            receivers: BTreeMap::new(),
            saved: 0,
            hasher: blake3::Hasher::new(),
            hash: None,
            early: Vec::new(),
            plain_started: false,
        }
    }

    /// Its pieces go to those taking it.
    pub fn flowing(&self) -> bool {
        self.course.is_going()
    }

    /// Its end went out.
    pub fn ended(&self) -> bool {
        self.course.is_ended()
    }

    pub fn has(&self, taking: impl Fn(Taking) -> bool) -> bool {
        self.receivers.values().any(|r| taking(r.taking))
    }

    /// Whether its first pieces are kept: receivers still decide, or those
    /// on the original wire have yet to get it.
    pub fn keeps_early(&self) -> bool {
        self.has(|t| t == Taking::Asked) || (self.plain_sender && !self.plain_started)
    }

    /// Whether a plain sender's file has come far enough, without its end,
    /// to start for the members on the original wire.
    pub fn holds_enough(&self) -> bool {
        let held: usize = self.early.iter().map(|p| p.data.len()).sum();
        self.early.len() >= PLAIN_HOLD_PIECES || held >= PLAIN_HOLD_BYTES
    }

    /// Receivers that took it holding its start already, with their
    /// numbers: they wait for a Begin.
    pub fn resuming(&self) -> Vec<(MemberId, FileId)> {
        self.receivers
            .iter()
            .filter(|(_, r)| matches!(r.taking, Taking::Accepted { offset, .. } if offset > 0))
            .map(|(m, r)| (*m, r.id))
            .collect()
    }

    /// Receivers taking it, with their numbers and shares.
    pub fn taking(&self) -> Vec<(MemberId, FileId, bool, Arc<Share>)> {
        self.receivers
            .iter()
            .filter(|(_, r)| r.taking.accepted())
            .map(|(m, r)| (*m, r.id, r.plain, r.share.clone()))
            .collect()
    }

    /// Receivers still asked, with their numbers.
    pub fn unanswered(&self) -> Vec<(MemberId, FileId)> {
        self.receivers
            .iter()
            .filter(|(_, r)| r.taking == Taking::Asked)
            .map(|(m, r)| (*m, r.id))
            .collect()
    }

    /// Where it starts once it goes, if anyone took it: everyone holding
    /// the same start resumes from it; otherwise all start from the
    /// beginning.
    pub fn start(&self) -> Option<(u64, [u8; 32])> {
        let taken: Vec<(u64, [u8; 32])> = self
            .receivers
            .values()
            .filter_map(|r| match r.taking {
                Taking::Accepted { offset, prefix } => Some((offset, prefix)),
                _ => None,
            })
            .collect();
        let first = *taken.first()?;
        Some(match taken.iter().all(|t| *t == first) {
            true => first,
            false => (0, [0; 32]),
        })
    }

    /// A piece from its sender, once the course allows it: a plain
    /// sender's file is hashed on its way, and its first pieces kept.
    pub fn take_piece(&mut self, piece: &Arc<Piece>) -> Result<(), Breach> {
        self.course.chunk(piece.data.len() as u64)?;
        if self.plain_sender {
            self.hasher.update(&piece.data);
            if self.keeps_early() {
                self.early.push(piece.clone());
            }
        }
        Ok(())
    }

    /// Its end went out now, with the sender's `hash` (a plain sender's
    /// file has the one the room made on its way); returns it.
    pub fn finish(&mut self, hash: Option<[u8; 32]>) -> [u8; 32] {
        self.ended_at = Some(Instant::now());
        let hash = hash.unwrap_or_else(|| *self.hasher.finalize().as_bytes());
        self.hash = Some(hash);
        hash
    }

    /// Receivers that have been more than [`MAX_LAG`] behind the fastest
    /// for [`LAG_FOR`], as of `now`, with their numbers and wires.
    pub fn laggards(&mut self, now: Instant) -> Vec<(MemberId, FileId, bool)> {
        // (Those on the original wire it has not started for yet are not
        // behind.)
        let started = self.plain_started;
        let fastest = self
            .receivers
            .values()
            .filter(|r| r.taking.accepted())
            .map(|r| r.share.written.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0);
        let mut laggards = Vec::new();
        for (member, receiver) in &mut self.receivers {
            if !receiver.taking.accepted() || (receiver.plain && !started) {
                continue;
            }
            let written = receiver.share.written.load(Ordering::SeqCst);
            if fastest.saturating_sub(written) <= MAX_LAG {
                receiver.behind_since = None;
            } else if now.duration_since(*receiver.behind_since.get_or_insert(now)) >= LAG_FOR {
                laggards.push((*member, receiver.id, receiver.plain));
            }
        }
        laggards
    }
}
