//! Transfers in flight and queued, and their progress, as typed values.
//!
//! [`Transfers`] is the shared list `/status` reads, and where the user's
//! `/accept`, `/decline` and `/cancel` meet the threads moving the bytes.
//! A [`Meter`] follows one transfer while it runs: it keeps the list up to
//! date and reports its live progress to the front end, which may keep a
//! live line of it (the terminal does, for big files, above the input)
//! until the transfer ends and its final line takes over. Nothing here is
//! worded for a screen: the front ends word it.

mod answers;
mod events;
mod figures;
mod meter;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use self::answers::{NotCancelled, Undecided};
pub use self::events::{
    Arriving, AtStake, Counterpart, Departure, ProgressEvent, Row, Stage, Unanswered,
};
pub use self::figures::{Figures, FileCount, MAX_TIME_LEFT, Pace, TimeLeft};
pub use self::meter::{Meter, Summary};
use crate::files::space::Owed;
use crate::wire::message::FileId;

/// A byte count for people, as every line shows one.
pub use crate::files::size::bytes;

/// How long nothing moves before a transfer's live progress and `/status`
/// say that it stalled, in place of a rate that would still look like
/// motion.
pub const STALLED_AFTER: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Send,
    Receive,
}

/// Where the user stands on a file or folder the peer offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Offered and waiting for `/accept` or `/decline`.
    Waiting,
    Accepted,
    Declined,
    /// Stopped with `/cancel` while it arrived.
    Cancelled,
}

/// What the peer is told when the user decides on its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The peer's id of the file or folder.
    pub id: FileId,
    pub name: String,
    /// Where an accepted file resumes, and the hash of what is before it.
    pub offset: u64,
    pub prefix: [u8; 32],
    /// Whether those are still being worked out: the peer is then answered
    /// once they are, by whoever works them out.
    pub pending: bool,
    /// While the file of its name here is still being compared with it:
    /// its size (a big one takes a while, and the user is told).
    pub checking_here: Option<u64>,
}

/// A transfer the user asked to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// One of ours, by its id in this list.
    Ours { id: u64, name: String },
    /// One of the peer's, by the peer's id; `offered` when it was still
    /// waiting for the user, which makes the cancel a decline.
    Theirs {
        id: FileId,
        name: String,
        offered: bool,
    },
}

#[derive(Debug)]
struct Entry {
    id: u64,
    direction: Direction,
    name: String,
    size: u64,
    done: u64,
    /// When the bytes started moving; `None` while queued.
    started: Option<Instant>,
    /// For the peer's offers: its id, and the user's verdict.
    peer_id: Option<FileId>,
    verdict: Verdict,
    /// What an accepted offer resumes from.
    resume: (u64, [u8; 32]),
    /// Whether that is still being worked out (a hash of what is here).
    hashing: bool,
    /// Whether what is hashed is the file of its name in the download
    /// folder (rather than what was kept of it).
    compares_here: bool,
    /// For a folder: files done, and in all.
    files: Option<FileCount>,
    /// Bytes of `done` that were kept from an earlier try, not moved now.
    kept: u64,
    /// One of ours offered, waiting for the peer to accept it.
    awaiting_peer: bool,
    /// When bytes last moved, or it started.
    moved_at: Instant,
    /// Whether its live progress was reported, and the whole seconds of
    /// stall it reported last.
    live: bool,
    stall_shown: Option<u64>,
}

impl Entry {
    /// How long nothing moved, once that is long enough to say so: not
    /// before it started, nor once every byte is there.
    fn stalled(&self, now: Instant) -> Option<Duration> {
        let still = now.saturating_duration_since(self.moved_at);
        (self.started.is_some() && self.done < self.size && still >= STALLED_AFTER).then_some(still)
    }

    /// Its progress so far, `stalled` for as long as that says.
    fn figures(&self, stalled: Option<Duration>) -> Figures {
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        let mut figures = Figures::measure(self.done, self.kept, self.size, elapsed, stalled);
        figures.files = self.files;
        figures
    }
}

/// Every transfer the conversation knows of, in the order they were queued.
/// Ids count from 1, as the user types them.
#[derive(Debug, Default)]
pub struct Transfers {
    entries: Mutex<Vec<Entry>>,
    next_id: AtomicU64,
    /// Whether the other end is a room, which is then the counterpart of
    /// our transfers instead of a peer.
    room: AtomicBool,
    /// For each transfer that one `/send` named after another, that other.
    named_after: Mutex<HashMap<u64, u64>>,
}

impl Transfers {
    /// Records that the transfers `ids` were named in this order by one
    /// `/send`, so that their last lines are said in it too.
    pub fn in_order(&self, ids: &[u64]) {
        let mut named_after = self.named_after.lock().unwrap_or_else(|p| p.into_inner());
        for pair in ids.windows(2) {
            named_after.insert(pair[1], pair[0]);
        }
    }

    /// The transfer named just before `id` by the same `/send`, if any.
    pub fn named_before(&self, id: u64) -> Option<u64> {
        let named_after = self.named_after.lock().unwrap_or_else(|p| p.into_inner());
        named_after.get(&id).copied()
    }

    /// The other end turned out to be a room (its host's, or ours).
    pub fn joined_room(&self) {
        self.room.store(true, Ordering::Relaxed);
    }

    /// Who takes what we send and answers our offers.
    pub fn counterpart(&self) -> Counterpart {
        match self.room.load(Ordering::Relaxed) {
            true => Counterpart::Room,
            false => Counterpart::Peer,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a transfer that waits for its turn; returns its id.
    pub fn enqueue(&self, direction: Direction, name: &str, size: u64) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.entries().push(Entry {
            id,
            direction,
            name: name.to_string(),
            size,
            done: 0,
            started: None,
            peer_id: None,
            verdict: Verdict::Accepted,
            resume: (0, [0; 32]),
            hashing: false,
            compares_here: false,
            files: None,
            kept: 0,
            awaiting_peer: false,
            moved_at: Instant::now(),
            live: false,
            stall_shown: None,
        });
        id
    }

    /// Makes the transfer `id` a folder of `files` files, counted as they
    /// are done.
    pub fn count_files(&self, id: u64, files: u64) {
        self.update(id, |e| {
            e.files = Some(FileCount {
                done: 0,
                all: files,
            })
        });
    }

    /// Records a file or folder the peer offered as `peer_id`; returns its
    /// id here.
    pub fn offered(&self, name: &str, size: u64, peer_id: FileId) -> u64 {
        let id = self.enqueue(Direction::Receive, name, size);
        self.update(id, |e| e.peer_id = Some(peer_id));
        id
    }

    /// Makes the offer `id` wait for the user; accepting it resumes from
    /// `offset`, after bytes whose hash is `prefix`.
    pub fn ask(&self, id: u64, offset: u64, prefix: [u8; 32]) {
        self.update(id, |e| {
            e.verdict = Verdict::Waiting;
            e.resume = (offset, prefix);
        });
    }

    /// Makes the offer `id` wait for the user while what it resumes from is
    /// still being worked out, counting `held` bytes as here until then;
    /// [`Transfers::resolve`] says what is. `here` when it is compared with
    /// the file of its name in the download folder.
    pub fn ask_while_hashing(&self, id: u64, held: u64, here: bool) {
        self.update(id, |e| {
            e.verdict = Verdict::Waiting;
            e.hashing = true;
            e.compares_here = here;
            e.resume.0 = held;
        });
    }

    /// The offer `id`, taken, counts its first `held` bytes as here (kept,
    /// or the file of its name here): they are not promised, unless it
    /// comes whole after all ([`Transfers::begins_whole`]).
    pub fn counts_held(&self, id: u64, held: u64) {
        self.update(id, |e| e.resume.0 = held);
    }

    /// What the offer `id` resumes from is known: returns the user's
    /// verdict on it at this moment. An offer the user accepted meanwhile
    /// was not answered (see [`Decision::pending`]): the caller answers it.
    pub fn resolve(&self, id: u64, offset: u64, prefix: [u8; 32]) -> Verdict {
        let mut verdict = Verdict::Cancelled;
        self.update(id, |e| {
            e.resume = (offset, prefix);
            e.hashing = false;
            verdict = e.verdict;
        });
        verdict
    }

    /// The offer `id` comes whole after all, from its first byte: nothing
    /// here was of use.
    pub fn begins_whole(&self, id: u64) {
        self.update(id, |e| e.resume = (0, [0; 32]));
    }

    /// The user's verdict on the offer `id`; one no longer listed was
    /// cancelled.
    pub fn verdict(&self, id: u64) -> Verdict {
        self.entries()
            .iter()
            .find(|e| e.id == id)
            .map_or(Verdict::Cancelled, |e| e.verdict)
    }

    /// What the transfers arriving and accepted, all but `except`, still
    /// have to put on the disk: free space the disk shows that is promised
    /// already. An offer waiting for the user counts once accepted; a
    /// transfer stops counting as it ends, fails or is cancelled, when it
    /// leaves the list.
    pub fn promised(&self, except: u64) -> Owed {
        promised_in(&self.entries(), except)
    }

    /// Takes the transfer `id` off the list.
    pub fn forget(&self, id: u64) {
        self.remove(id);
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.entries().iter_mut().find(|e| e.id == id) {
            change(entry);
        }
    }

    fn remove(&self, id: u64) {
        self.entries().retain(|e| e.id != id);
    }

    /// Whether a file of ours is being sent or waits to be: a message typed
    /// now has to wait for it.
    pub fn sending(&self) -> bool {
        self.entries()
            .iter()
            .any(|e| e.direction == Direction::Send)
    }
}

/// [`Transfers::promised`] over `entries`, already locked.
fn promised_in(entries: &[Entry], except: u64) -> Owed {
    entries
        .iter()
        .filter(|e| {
            e.direction == Direction::Receive && e.verdict == Verdict::Accepted && e.id != except
        })
        .map(owed)
        .fold(Owed::default(), Owed::plus)
}

/// What the peer's transfer `e` still has to put on the disk: the bytes
/// not there yet (what was kept from an earlier try, or is the file here,
/// is on the disk already) and, for a folder, the files not done yet.
fn owed(e: &Entry) -> Owed {
    Owed {
        bytes: e.size.saturating_sub(e.done.max(e.resume.0)),
        files: e.files.map_or(0, |f| f.all.saturating_sub(f.done)),
    }
}
