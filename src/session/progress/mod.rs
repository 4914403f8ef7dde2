//! Transfers in flight and queued, and how their progress is shown.
//!
//! [`Transfers`] is the shared list `/status` reads, and where the user's
//! `/accept`, `/decline` and `/cancel` meet the threads moving the bytes.
//! A [`Meter`] follows one transfer while it runs: it keeps the list up to
//! date and, in interactive mode, keeps a live line of its progress (bar,
//! percent, rate, time left) above the input for files over 1 MiB, updated
//! in place and taken away when the transfer ends, where its final line
//! takes over.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::files::kept::Discarded;
use crate::files::space::Owed;
use crate::terminal::live::{ALWAYS, Status};
use crate::terminal::screen::Screen;
use crate::wire::message::FileId;

/// Files up to this size get no progress line: they are done at once.
pub const PROGRESS_THRESHOLD: u64 = 1024 * 1024;

/// Least time between two updates of a transfer's live line. Each redraws
/// the live lines and the input line, so the pace stays modest.
const LIVE_INTERVAL: Duration = Duration::from_millis(250);

/// How long nothing moves before a transfer's live line and `/status` say
/// that it stalled, in place of a rate that would still look like motion.
pub const STALLED_AFTER: Duration = Duration::from_secs(3);

/// The ranks of a live line's parts: when it does not fit, the lowest go
/// first (see [`Status`]): the bar, then the time left, the rate, the
/// count of files, the sizes; the name is shortened meanwhile, and goes
/// last but for the verb and the percentage.
const BAR_RANK: u8 = 0;
const TIME_LEFT_RANK: u8 = 10;
const RATE_RANK: u8 = 20;
const FILES_RANK: u8 = 30;
const SIZES_RANK: u8 = 40;
const STALLED_RANK: u8 = 50;
const NAME_RANK: u8 = 200;

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
    files: Option<(u64, u64)>,
    /// Bytes of `done` that were kept from an earlier try, not moved now.
    kept: u64,
    /// One of ours offered, waiting for the peer to accept it.
    awaiting_peer: bool,
    /// When bytes last moved, or it started.
    moved_at: Instant,
    /// Whether its live line is shown, and the whole seconds of stall it
    /// said last.
    live: bool,
    stall_shown: Option<u64>,
}

impl Entry {
    fn verb(&self) -> &'static str {
        match self.direction {
            Direction::Send => "Sending",
            Direction::Receive => "Receiving",
        }
    }

    /// How long nothing moved, once that is long enough to say so: not
    /// before it started, nor once every byte is there.
    fn stalled(&self, now: Instant) -> Option<Duration> {
        let still = now.saturating_duration_since(self.moved_at);
        (self.started.is_some() && self.done < self.size && still >= STALLED_AFTER).then_some(still)
    }

    /// Its progress so far, `stalled` for as long as that says.
    fn figures(&self, stalled: Option<Duration>) -> Figures {
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        figures(self.done, self.kept, self.size, elapsed, stalled)
    }

    /// Its live line: `Receiving big.bin [=====>        ] 120.0 MiB / 300.0
    /// MiB (40%), 30.0 MiB/s, 6.0s left`, made to fit by leaving out whole
    /// parts (see the ranks above).
    fn live_status(&self, stalled: Option<Duration>) -> Status {
        let figures = self.figures(stalled);
        let mut status = Status::default()
            .text("", self.verb(), ALWAYS)
            .name(" ", self.name.clone(), NAME_RANK)
            .bar(" ", self.done, self.size, BAR_RANK)
            .text(" ", figures.sizes, SIZES_RANK)
            .text(" ", format!("({}%)", figures.percent), ALWAYS);
        status = match figures.pace {
            Pace::Unmeasured => status,
            Pace::Moving { rate, left } => {
                let status = status.text(", ", rate, RATE_RANK);
                match left {
                    Some(left) => status.text(", ", left, TIME_LEFT_RANK),
                    None => status,
                }
            }
            Pace::Stalled(still) => status.text(", ", still, STALLED_RANK),
        };
        match self.files {
            Some(files) => status.text(", ", files_count(files), FILES_RANK),
            None => status,
        }
    }
}

/// Every transfer the conversation knows of, in the order they were queued.
/// Ids count from 1, as the user types them.
#[derive(Debug, Default)]
pub struct Transfers {
    entries: Mutex<Vec<Entry>>,
    next_id: AtomicU64,
    /// Whether the other end is a room, which lines about transfers name
    /// instead of a peer.
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

    /// Who takes what we send and answers our offers, as lines name it.
    pub fn counterpart(&self) -> &'static str {
        if self.room.load(Ordering::Relaxed) {
            "the room"
        } else {
            "the peer"
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

    /// Says, on the live line of each transfer under way that nothing moved
    /// for [`STALLED_AFTER`], how long it has been: once a second at most,
    /// until bytes move again and its [`Meter`] shows them. Drawn while
    /// the list is held, so that a transfer that ends meanwhile (and takes
    /// its line away) is not drawn again.
    pub fn show_stalled(&self, screen: &Screen) {
        let now = Instant::now();
        let mut entries = self.entries();
        for entry in entries.iter_mut().filter(|e| e.live) {
            let Some(still) = entry.stalled(now) else {
                continue;
            };
            let secs = still.as_secs();
            if entry.stall_shown != Some(secs) {
                entry.stall_shown = Some(secs);
                screen.live(entry.id, entry.live_status(Some(still)));
            }
        }
    }

    /// Makes the transfer `id` a folder of `files` files, counted as they
    /// are done.
    pub fn count_files(&self, id: u64, files: u64) {
        self.update(id, |e| e.files = Some((0, files)));
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

    /// Accepts or declines the waiting offer `id`, or the only one when
    /// `id` is `None`. A declined offer leaves the list. Accepting asks
    /// `fits` whether what it still needs fits beside what is promised to
    /// others (both given, in that order); an offer that does not fit stays
    /// waiting, and the answer says why.
    pub fn decide(
        &self,
        id: Option<u64>,
        accept: bool,
        fits: impl FnOnce(Owed, Owed) -> Result<(), String>,
    ) -> Result<Decision, String> {
        let mut entries = self.entries();
        let waiting: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.verdict == Verdict::Waiting && id.is_none_or(|id| e.id == id))
            .map(|(at, _)| at)
            .collect();
        let verb = if accept { "accept" } else { "decline" };
        let at = match (waiting.as_slice(), id) {
            ([at], _) => *at,
            ([], Some(id)) => return Err(format!("No offer #{id} waits for an answer.")),
            ([], None) => return Err("No offer waits for an answer.".into()),
            (_, _) => {
                let ids: Vec<String> = waiting
                    .iter()
                    .map(|&at| format!("#{}", entries[at].id))
                    .collect();
                return Err(format!(
                    "Several offers wait ({}): say which, as in /{verb} {}.",
                    ids.join(", "),
                    entries[waiting[0]].id
                ));
            }
        };
        if accept {
            let entry = &entries[at];
            let needed = owed(entry);
            let (id, name) = (entry.id, entry.name.clone());
            fits(needed, promised_in(&entries, id)).map_err(|why| {
                format!("Cannot accept {name} now: {why}. Free some space and /accept {id} again, or /decline {id}.")
            })?;
        }
        let entry = &mut entries[at];
        let decision = Decision {
            id: entry.peer_id.unwrap_or_default(),
            name: entry.name.clone(),
            offset: entry.resume.0,
            prefix: entry.resume.1,
            pending: entry.hashing,
            checking_here: (entry.hashing && entry.compares_here).then_some(entry.size),
        };
        if accept {
            entry.verdict = Verdict::Accepted;
        } else {
            entry.verdict = Verdict::Declined;
            entries.remove(at);
        }
        Ok(decision)
    }

    /// Stops the transfer `id`, or the only one when `id` is `None`: one of
    /// ours is handed back for the writer to stop; one of the peer's leaves
    /// the list, and its reader drops what arrived.
    pub fn cancel(&self, id: Option<u64>) -> Result<Cancelled, String> {
        let mut entries = self.entries();
        let at = match id {
            Some(id) => entries
                .iter()
                .position(|e| e.id == id)
                .ok_or_else(|| format!("No transfer #{id}; /status lists them."))?,
            None => match entries.len() {
                0 => return Err("No transfers in progress or queued.".into()),
                1 => 0,
                _ => {
                    return Err(format!(
                        "Several transfers run: say which, as in /cancel {}; /status lists them.",
                        entries[0].id
                    ));
                }
            },
        };
        let entry = &mut entries[at];
        Ok(match (entry.direction, entry.peer_id) {
            (Direction::Receive, Some(peer_id)) => {
                let name = entry.name.clone();
                let offered = entry.verdict == Verdict::Waiting;
                entries.remove(at);
                Cancelled::Theirs {
                    id: peer_id,
                    name,
                    offered,
                }
            }
            _ => Cancelled::Ours {
                id: entry.id,
                name: entry.name.clone(),
            },
        })
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

    /// What leaving now would do to the peer's offers waiting for an answer
    /// and to what is arriving, said for the user (`declines 1 offer waiting
    /// for your answer and stops big.bin at 40%`); `None` when nothing.
    pub fn at_stake(&self) -> Option<String> {
        let entries = self.entries();
        let mut parts = Vec::new();
        match entries
            .iter()
            .filter(|e| e.verdict == Verdict::Waiting)
            .count()
        {
            0 => {}
            1 => parts.push("declines 1 offer waiting for your answer".to_string()),
            n => parts.push(format!("declines {n} offers waiting for your answer")),
        }
        let arriving: Vec<String> = entries
            .iter()
            .filter(|e| e.direction == Direction::Receive && e.verdict != Verdict::Waiting)
            .map(|e| format!("{} at {}%", e.name, percent(e.done, e.size)))
            .collect();
        if !arriving.is_empty() {
            parts.push(format!("stops {}", in_words(arriving)));
        }
        (!parts.is_empty()).then(|| in_words(parts))
    }

    /// What the user is told on leaving while files of ours go: leaving
    /// waits for them, and for the answer to offers the counterpart has not
    /// answered yet, each for up to `patience`.
    pub fn leaving_line(&self, patience: Duration) -> String {
        let unanswered: Vec<String> = self
            .entries()
            .iter()
            .filter(|e| e.awaiting_peer)
            .map(|e| match e.files {
                Some(_) => format!("folder {}", e.name),
                None => e.name.clone(),
            })
            .collect();
        let offers = match unanswered.len() {
            0 => {
                return "Leaving once the files being sent are through (Ctrl-C leaves at once)."
                    .to_string();
            }
            1 => "the offer of",
            _ => "the offers of",
        };
        format!(
            "Leaving once the files being sent are through; {} has not answered {offers} {} \
             yet, and is waited for up to {} s (Ctrl-C leaves at once).",
            self.counterpart(),
            in_words(unanswered),
            patience.as_secs()
        )
    }

    /// One line per transfer for `/status`, or a single line saying there
    /// are none.
    pub fn status_lines(&self) -> Vec<String> {
        let entries = self.entries();
        if entries.is_empty() {
            return vec!["No transfers in progress or queued.".to_string()];
        }
        let now = Instant::now();
        entries
            .iter()
            .map(|e| {
                let verb = e.verb();
                let id = e.id;
                match (e.started, e.verdict) {
                    _ if e.awaiting_peer => format!(
                        "#{id} Offered: {} ({}), waiting for {}'s answer",
                        e.name,
                        bytes(e.size),
                        self.counterpart()
                    ),
                    (_, Verdict::Waiting) => format!(
                        "#{id} Offered: {} ({}): /accept {id} or /decline {id}",
                        e.name,
                        bytes(e.size)
                    ),
                    // Offered by the peer and about to start.
                    (None, _) if e.direction == Direction::Receive => format!(
                        "#{id} Receiving {}: {}{}",
                        e.name,
                        progress_text(0, 0, e.size, Duration::ZERO),
                        files_text(e.files)
                    ),
                    (None, _) => format!("#{id} Queued: {} ({})", e.name, bytes(e.size)),
                    (Some(_), _) => format!(
                        "#{id} {verb} {}: {}{}",
                        e.name,
                        e.figures(e.stalled(now)).text(),
                        files_text(e.files)
                    ),
                }
            })
            .collect()
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
        files: e.files.map_or(0, |(done, all)| all.saturating_sub(done)),
    }
}

/// What `/discard` and `chat discard` removed, for the user, and from
/// where when `place` is given: `Discarded 2 kept transfers (33.0 MiB)`.
pub fn discarded(gone: Discarded, place: Option<&std::path::Path>) -> String {
    let (from, within) = match place {
        Some(place) => (
            format!(" from {}", place.display()),
            format!(" in {}", place.display()),
        ),
        None => Default::default(),
    };
    let mut text = match gone.items {
        0 => format!("Nothing kept to discard{within}"),
        1 => format!("Discarded 1 kept transfer ({}){from}", bytes(gone.bytes)),
        n => format!("Discarded {n} kept transfers ({}){from}", bytes(gone.bytes)),
    };
    match gone.in_use {
        0 => {}
        1 => text.push_str("; 1 more is in use by a transfer, and stays"),
        n => {
            let _ = write!(text, "; {n} more are in use by transfers, and stay");
        }
    }
    text
}

/// Follows one running transfer.
pub struct Meter<'a> {
    transfers: &'a Transfers,
    screen: &'a Screen,
    id: u64,
    size: u64,
    done: u64,
    /// Bytes of `done` kept from an earlier try.
    kept: u64,
    direction: Direction,
    started: Instant,
    last_shown: Instant,
    /// Bytes done when the live line was last updated.
    shown_done: Option<u64>,
    show: bool,
}

impl<'a> Meter<'a> {
    /// Starts the transfer `id` (already queued) now.
    pub fn start(transfers: &'a Transfers, screen: &'a Screen, id: u64) -> Self {
        let now = Instant::now();
        let (size, direction) = {
            let mut entries = transfers.entries();
            let entry = entries.iter_mut().find(|e| e.id == id);
            match entry {
                Some(e) => {
                    (e.started, e.moved_at) = (Some(now), now);
                    (e.size, e.direction)
                }
                None => (0, Direction::Receive),
            }
        };
        Self {
            transfers,
            screen,
            id,
            size,
            done: 0,
            kept: 0,
            direction,
            started: now,
            last_shown: now,
            shown_done: None,
            show: screen.is_interactive() && size > PROGRESS_THRESHOLD,
        }
    }

    /// Records and enqueues-then-starts a transfer in one step, for files
    /// that never wait (incoming ones).
    pub fn begin(
        transfers: &'a Transfers,
        screen: &'a Screen,
        direction: Direction,
        name: &str,
        size: u64,
    ) -> Self {
        let id = transfers.enqueue(direction, name, size);
        Self::start(transfers, screen, id)
    }

    /// Bytes moved so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Marks one of our transfers as offered, waiting for the peer.
    pub fn await_peer(&self) {
        self.transfers.update(self.id, |e| e.awaiting_peer = true);
    }

    /// The peer accepted: the clock starts now, not when it was offered.
    pub fn restart(&mut self) {
        let now = Instant::now();
        (self.started, self.last_shown) = (now, now);
        self.transfers.update(self.id, |e| {
            e.awaiting_peer = false;
            (e.started, e.moved_at) = (Some(now), now);
        });
    }

    /// Counts `n` bytes kept from an earlier try as done: they count
    /// towards the whole, not towards the rate.
    pub fn resume_from(&mut self, n: u64) {
        self.kept = self.kept.saturating_add(n);
        let kept = self.kept;
        self.transfers.update(self.id, |e| e.kept = kept);
        self.advance(n);
    }

    /// Counts one more file of a folder done.
    pub fn file_done(&self) {
        self.transfers.update(self.id, |e| {
            if let Some((done, _)) = &mut e.files {
                *done += 1;
            }
        });
    }

    /// Counts `n` more bytes moved.
    pub fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        let done = self.done;
        // The end is shown at once: the final line may wait for the peer.
        let due = self.last_shown.elapsed() >= LIVE_INTERVAL
            || (done >= self.size && self.shown_done != Some(done));
        let show = self.show && due;
        let mut status = None;
        self.transfers.update(self.id, |e| {
            e.done = done;
            if n > 0 {
                (e.moved_at, e.stall_shown) = (Instant::now(), None);
            }
            if show {
                e.live = true;
                status = Some(e.live_status(None));
            }
        });
        if let Some(status) = status {
            self.last_shown = Instant::now();
            self.shown_done = Some(done);
            self.screen.live(self.id, status);
        }
    }

    /// The time taken and average rate, for the final line in interactive
    /// mode; `None` in pipe mode, whose lines are a contract. A transfer
    /// done in an instant gets its time only: a rate measured over a few
    /// milliseconds says nothing. A resumed one says how much was there
    /// from before, which did not move and is not in the rate.
    pub fn summary(&self) -> Option<String> {
        if !self.screen.is_interactive() {
            return None;
        }
        let moved = self.done.saturating_sub(self.kept);
        let timing = summary_text(moved, self.started.elapsed());
        let there = match self.direction {
            Direction::Send => "there already",
            Direction::Receive => "kept from before",
        };
        Some(match self.kept {
            0 => timing,
            kept => format!(
                "{} of it {there}; {} moved in {timing}",
                bytes(kept),
                bytes(moved)
            ),
        })
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        // Off the list first: a stall shown meanwhile would draw it again.
        self.transfers.remove(self.id);
        if self.shown_done.is_some() {
            self.screen.end_live(self.id);
        }
    }
}

/// Shortest time over which a rate (and a time left, which follows from
/// it) means anything; before that, only the bytes are shown.
const MIN_RATE_TIME: Duration = Duration::from_millis(100);

/// Longest time left worth a figure. Sizes come from the peer, so a stalled
/// 16 TiB transfer would otherwise estimate millions of years.
const MAX_TIME_LEFT: Duration = Duration::from_secs(99 * 24 * 3600);

/// `2.3s at 305.4 MiB/s`, or just `0.0s` for a transfer too quick to time.
fn summary_text(done: u64, elapsed: Duration) -> String {
    match rate(done, elapsed) {
        Some(rate) => format!("{} at {rate}", duration(elapsed)),
        None => duration(elapsed),
    }
}

/// The figures of a transfer's progress, as shown.
struct Figures {
    /// `12.0 MiB / 200.0 MiB`.
    sizes: String,
    percent: u128,
    pace: Pace,
}

/// How fast a transfer goes, as shown.
enum Pace {
    /// Too early to tell.
    Unmeasured,
    /// `85.3 MiB/s`, and `2s left` unless it is all there.
    Moving { rate: String, left: Option<String> },
    /// `stalled 8s`: nothing moved for that long.
    Stalled(String),
}

impl Figures {
    /// `12.0 MiB / 200.0 MiB (6%), 85.3 MiB/s, 2s left`.
    fn text(self) -> String {
        let mut text = format!("{} ({}%)", self.sizes, self.percent);
        match self.pace {
            Pace::Unmeasured => {}
            Pace::Moving { rate, left } => {
                let _ = write!(text, ", {rate}");
                if let Some(left) = left {
                    let _ = write!(text, ", {left}");
                }
            }
            Pace::Stalled(still) => {
                let _ = write!(text, ", {still}");
            }
        }
        text
    }
}

/// `12.0 MiB / 200.0 MiB (6%), 85.3 MiB/s, 2s left`; the rate and time left
/// only once the transfer has run long enough to measure them, and from
/// the bytes moved now: `kept` of `done` were there from an earlier try.
/// `done` and `size` come from the peer's header and may be anything.
fn progress_text(done: u64, kept: u64, size: u64, elapsed: Duration) -> String {
    figures(done, kept, size, elapsed, None).text()
}

/// The figures of [`progress_text`]; `stalled` says how long nothing moved
/// when that is to be said instead of the rate and time left.
fn figures(
    done: u64,
    kept: u64,
    size: u64,
    elapsed: Duration,
    stalled: Option<Duration>,
) -> Figures {
    let (sizes, percent) = (
        format!("{} / {}", bytes(done), bytes(size)),
        percent(done, size),
    );
    let pace = |pace| Figures {
        sizes: sizes.clone(),
        percent,
        pace,
    };
    if let Some(still) = stalled {
        return pace(Pace::Stalled(format!("stalled {}", whole_seconds(still))));
    }
    // What was kept from an earlier try did not move now.
    let moved = done.saturating_sub(kept);
    let Some(rate) = rate(moved, elapsed) else {
        return pace(Pace::Unmeasured);
    };
    let left = (moved > 0 && done < size).then(|| {
        let left = (size - done) as f64 * elapsed.as_secs_f64() / moved as f64;
        match Duration::try_from_secs_f64(left) {
            Ok(left) if left <= MAX_TIME_LEFT => format!("{} left", duration(left)),
            _ => "more than 99 days left".to_string(),
        }
    });
    pace(Pace::Moving { rate, left })
}

/// `8s`, `2m05s`: a time counted in whole seconds.
fn whole_seconds(d: Duration) -> String {
    match d.as_secs() {
        s if s < 60 => format!("{s}s"),
        _ => duration(Duration::from_secs(d.as_secs())),
    }
}

/// How much of `size` is done, in percent, at most 100. `done` and `size`
/// may come from the peer and be anything.
fn percent(done: u64, size: u64) -> u128 {
    match size {
        0 => 100,
        // In u128, `done * 100` cannot overflow.
        _ => (u128::from(done) * 100 / u128::from(size)).min(100),
    }
}

/// `, 3 of 10 files` for a folder, nothing for a file.
fn files_text(files: Option<(u64, u64)>) -> String {
    match files {
        Some(files) => format!(", {}", files_count(files)),
        None => String::new(),
    }
}

/// `3 of 10 files`.
fn files_count((done, all): (u64, u64)) -> String {
    format!("{done} of {all} files")
}

/// A byte count for people, as every line shows one.
pub use crate::files::size::bytes;

/// The average rate, `None` while `elapsed` is too short to tell.
fn rate(done: u64, elapsed: Duration) -> Option<String> {
    if elapsed < MIN_RATE_TIME {
        return None;
    }
    // Float to integer `as` saturates; the division is by at least 0.1.
    let per_sec = (done as f64 / elapsed.as_secs_f64()) as u64;
    Some(format!("{}/s", bytes(per_sec)))
}

fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        if s < 60 {
            format!("{s}s")
        } else {
            format!("{}m{:02}s", s / 60, s % 60)
        }
    } else {
        let s = secs.round() as u64;
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn in_words(mut parts: Vec<String>) -> String {
    let last = parts.pop().unwrap_or_default();
    match parts.is_empty() {
        true => last,
        false => format!("{} and {last}", parts.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::screen::Look;
    use crate::terminal::screen::testing::{captured, captured_with};
    use crate::terminal::wrap::cautious_width;
    use proptest::prelude::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(Duration::from_millis(2345)), "2.3s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration(Duration::from_secs(7300)), "2h01m");
    }

    #[test]
    fn progress_shows_done_total_percent_rate_and_time_left() {
        let text = progress_text(50 << 20, 0, 200 << 20, Duration::from_secs(2));
        assert_eq!(text, "50.0 MiB / 200.0 MiB (25%), 25.0 MiB/s, 6.0s left");
    }

    #[test]
    fn status_lists_running_and_queued_transfers() {
        let transfers = Transfers::default();
        assert_eq!(
            transfers.status_lines(),
            ["No transfers in progress or queued."]
        );
        let (screen, _) = captured();
        let running = transfers.enqueue(Direction::Send, "a.bin", 2048);
        transfers.enqueue(Direction::Send, "b.bin", 10);
        let mut meter = Meter::start(&transfers, &screen, running);
        meter.advance(1024);
        let lines = transfers.status_lines();
        assert!(
            lines[0].starts_with("#1 Sending a.bin: 1.0 KiB / 2.0 KiB (50%)"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "#2 Queued: b.bin (10 B)");
        assert!(transfers.sending());
        drop(meter);
        assert_eq!(transfers.status_lines(), ["#2 Queued: b.bin (10 B)"]);
    }

    /// Every offer fits.
    fn fits(_needed: Owed, _promised: Owed) -> Result<(), String> {
        Ok(())
    }

    fn bytes_owed(bytes: u64) -> Owed {
        Owed { bytes, files: 0 }
    }

    #[test]
    fn what_accepted_transfers_still_write_is_promised_until_they_leave() {
        let transfers = Transfers::default();
        let (screen, _) = captured();
        let folder = transfers.offered("photos", 18 << 20, 1);
        let mut meter = Meter::start(&transfers, &screen, folder);
        meter.advance(3 << 20);
        let waiting = transfers.offered("big.bin", 15 << 20, 2);
        transfers.ask(waiting, 5 << 20, [0; 32]);
        transfers.enqueue(Direction::Send, "ours.bin", 1 << 30);
        assert_eq!(
            transfers.promised(0),
            bytes_owed(15 << 20),
            "only what is left to write"
        );
        assert_eq!(transfers.promised(folder), Owed::default());
        // Accepting asks about what it still needs (its kept part aside)
        // beside what is promised; one that does not fit keeps waiting.
        let refused = transfers.decide(Some(waiting), true, |needed, promised| {
            assert_eq!(
                (needed, promised),
                (bytes_owed(10 << 20), bytes_owed(15 << 20))
            );
            Err("not enough free space".into())
        });
        assert_eq!(
            refused,
            Err(
                "Cannot accept big.bin now: not enough free space. Free some space and \
                 /accept 2 again, or /decline 2."
                    .into()
            )
        );
        assert_eq!(transfers.verdict(waiting), Verdict::Waiting);
        assert!(transfers.decide(Some(waiting), true, fits).is_ok());
        assert_eq!(transfers.promised(0), bytes_owed(25 << 20));
        drop(meter);
        assert_eq!(transfers.promised(0), bytes_owed(10 << 20));
        transfers.forget(waiting);
        assert_eq!(transfers.promised(0), Owed::default());
    }

    #[test]
    fn what_is_here_already_is_not_promised_and_a_folder_owes_its_files() {
        let transfers = Transfers::default();
        // The file here is counted as the one offered until it comes whole.
        let same = transfers.offered("video.mp4", 30 << 20, 1);
        transfers.counts_held(same, 30 << 20);
        let kept = transfers.offered("big.bin", 10 << 20, 2);
        transfers.counts_held(kept, 4 << 20);
        assert_eq!(transfers.promised(0), bytes_owed(6 << 20));
        transfers.begins_whole(same);
        assert_eq!(transfers.promised(0), bytes_owed(36 << 20));
        // Waiting for the user while what is here is hashed: it counts
        // as here when accepted, until the hash says otherwise.
        let asked = transfers.offered("same.iso", 1 << 30, 3);
        transfers.ask_while_hashing(asked, 1 << 30, true);
        let needed = transfers.decide(Some(asked), true, |needed, _| {
            assert_eq!(needed, Owed::default());
            Ok(())
        });
        assert!(needed.is_ok());
        let (screen, _) = captured();
        let folder = transfers.offered("photos", 5 << 20, 4);
        transfers.count_files(folder, 300);
        let meter = Meter::start(&transfers, &screen, folder);
        meter.file_done();
        assert_eq!(
            transfers.promised(same),
            Owed {
                bytes: (6 << 20) + (5 << 20),
                files: 299
            }
        );
    }

    #[test]
    fn offers_wait_for_the_user_and_are_named_when_several_wait() {
        let transfers = Transfers::default();
        assert_eq!(
            transfers.decide(None, true, fits),
            Err("No offer waits for an answer.".into())
        );
        let big = transfers.offered("big.iso", 1 << 30, 7);
        transfers.ask(big, 5, [1; 32]);
        assert_eq!(
            transfers.status_lines(),
            ["#1 Offered: big.iso (1.0 GiB): /accept 1 or /decline 1"]
        );
        let other = transfers.offered("other", 1 << 30, 8);
        transfers.ask(other, 0, [0; 32]);
        let several = transfers.decide(None, false, fits).unwrap_err();
        assert!(
            several.starts_with("Several offers wait (#1, #2)"),
            "{several}"
        );
        let accepted = transfers.decide(Some(big), true, fits).unwrap();
        assert_eq!(
            (accepted.id, accepted.offset, accepted.prefix),
            (7, 5, [1; 32])
        );
        assert_eq!(transfers.verdict(big), Verdict::Accepted);
        assert_eq!(transfers.decide(None, false, fits).unwrap().id, 8);
        assert_eq!(
            transfers.verdict(other),
            Verdict::Cancelled,
            "gone from the list"
        );
        assert_eq!(
            transfers.decide(Some(big), true, fits),
            Err("No offer #1 waits for an answer.".into())
        );
    }

    #[test]
    fn what_leaving_would_lose_is_the_offers_waiting_and_what_arrives() {
        let transfers = Transfers::default();
        assert_eq!(transfers.at_stake(), None);
        // Ours, even waiting for the peer, go out before leaving.
        transfers.enqueue(Direction::Send, "mine.bin", 10);
        assert_eq!(transfers.at_stake(), None);
        let offer = transfers.offered("iso", 1 << 30, 7);
        transfers.ask(offer, 0, [0; 32]);
        assert_eq!(
            transfers.at_stake().as_deref(),
            Some("declines 1 offer waiting for your answer")
        );
        let (screen, _) = captured();
        let mut big = Meter::begin(&transfers, &screen, Direction::Receive, "big.bin", 1000);
        big.advance(400);
        assert_eq!(
            transfers.at_stake().as_deref(),
            Some("declines 1 offer waiting for your answer and stops big.bin at 40%")
        );
        let other = transfers.offered("other", 5, 8);
        transfers.ask(other, 0, [0; 32]);
        let accepted = transfers.offered("photos", 0, 9);
        assert_eq!(
            transfers.at_stake().as_deref(),
            Some(
                "declines 2 offers waiting for your answer and stops big.bin at 40% and photos \
                 at 100%"
            )
        );
        transfers.decide(Some(offer), false, |_, _| Ok(())).unwrap();
        transfers.decide(Some(other), false, |_, _| Ok(())).unwrap();
        transfers.forget(accepted);
        drop(big);
        assert_eq!(transfers.at_stake(), None);
    }

    #[test]
    fn leaving_says_which_offers_it_waits_to_be_answered_and_how_long() {
        let transfers = Transfers::default();
        let (screen, _) = captured();
        let thirty = Duration::from_secs(30);
        let going = transfers.enqueue(Direction::Send, "going.bin", 10);
        let _going = Meter::start(&transfers, &screen, going);
        assert_eq!(
            transfers.leaving_line(thirty),
            "Leaving once the files being sent are through (Ctrl-C leaves at once)."
        );
        let big = transfers.enqueue(Direction::Send, "big.bin", 1 << 30);
        let big = Meter::start(&transfers, &screen, big);
        big.await_peer();
        assert_eq!(
            transfers.leaving_line(thirty),
            "Leaving once the files being sent are through; the peer has not answered the \
             offer of big.bin yet, and is waited for up to 30 s (Ctrl-C leaves at once)."
        );
        let photos = transfers.enqueue(Direction::Send, "photos", 1 << 20);
        transfers.count_files(photos, 3);
        let photos = Meter::start(&transfers, &screen, photos);
        photos.await_peer();
        transfers.joined_room();
        assert_eq!(
            transfers.leaving_line(Duration::from_secs(5)),
            "Leaving once the files being sent are through; the room has not answered the \
             offers of big.bin and folder photos yet, and is waited for up to 5 s (Ctrl-C \
             leaves at once)."
        );
    }

    #[test]
    fn a_folder_counts_its_files() {
        let transfers = Transfers::default();
        let (screen, _) = captured();
        let id = transfers.enqueue(Direction::Send, "photos", 2048);
        transfers.count_files(id, 10);
        let mut meter = Meter::start(&transfers, &screen, id);
        meter.advance(1024);
        meter.file_done();
        meter.file_done();
        let lines = transfers.status_lines();
        assert!(
            lines[0].starts_with("#1 Sending photos: 1.0 KiB / 2.0 KiB (50%)")
                && lines[0].ends_with(", 2 of 10 files"),
            "{lines:?}"
        );
    }

    #[test]
    fn cancelling_tells_ours_from_the_peers() {
        let transfers = Transfers::default();
        let ours = transfers.enqueue(Direction::Send, "a", 1);
        let theirs = transfers.offered("b", 2, 40);
        assert!(
            transfers
                .cancel(None)
                .unwrap_err()
                .starts_with("Several transfers run")
        );
        assert_eq!(
            transfers.cancel(Some(theirs)),
            Ok(Cancelled::Theirs {
                id: 40,
                name: "b".into(),
                offered: false
            })
        );
        assert_eq!(transfers.verdict(theirs), Verdict::Cancelled);
        assert_eq!(
            transfers.cancel(None),
            Ok(Cancelled::Ours {
                id: ours,
                name: "a".into()
            })
        );
        assert_eq!(
            transfers.cancel(Some(9)),
            Err("No transfer #9; /status lists them.".into())
        );
    }

    #[test]
    fn pipe_mode_shows_no_progress_and_no_summary() {
        let transfers = Transfers::default();
        let (screen, sink) = captured();
        let mut meter = Meter::begin(&transfers, &screen, Direction::Receive, "big", 1 << 30);
        meter.last_shown -= LIVE_INTERVAL;
        meter.advance(1 << 20);
        meter.advance((1 << 30) - (1 << 20));
        assert_eq!(meter.summary(), None);
        drop(meter);
        assert!(sink.lines().is_empty());
    }

    #[test]
    fn interactive_mode_keeps_one_live_line_for_big_files_only() {
        let transfers = Transfers::default();
        let look = Look {
            colour: false,
            interactive: true,
        };
        let (screen, sink) = captured_with(look);
        let mut big = Meter::begin(&transfers, &screen, Direction::Receive, "big", 1 << 30);
        big.started -= Duration::from_secs(2);
        transfers.update(big.id, |e| e.started = Some(big.started));
        big.last_shown -= LIVE_INTERVAL;
        big.advance(1 << 20);
        // Too soon for another update.
        big.advance(1 << 20);
        let mut small = Meter::begin(&transfers, &screen, Direction::Send, "small", 1000);
        small.last_shown -= LIVE_INTERVAL;
        small.advance(1000);
        let lines = sink.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("Receiving big [>") && lines[0].ends_with(" left"),
            "{lines:?}"
        );
        // The end is shown at once, in place.
        big.advance((1 << 30) - (2 << 20));
        let lines = sink.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[1].starts_with("\x1b[1A\r\x1b[2K\x1b[B\x1b[1AReceiving big [====")
                && lines[1].contains("] 1.0 GiB / 1.0 GiB (100%)"),
            "{lines:?}"
        );
        let summary = big.summary().unwrap();
        assert!(
            summary.starts_with("2.0s at ") && summary.ends_with("/s"),
            "{summary}"
        );
        assert_eq!(small.summary().unwrap(), "0.0s");
        // Done, the live line goes, and the final line takes its place.
        drop(big);
        screen.system("File saved to received_files/big");
        assert_eq!(
            &sink.lines()[2..],
            [
                "\x1b[1A\r\x1b[2K\x1b[B\x1b[1A\x1b[A",
                "[System] File saved to received_files/big"
            ]
        );
    }

    /// A transfer of 300 MiB, 120 MiB of it done in 4 s, as its live line
    /// is fitted to a terminal `columns` wide.
    fn live_at(name: &str, files: Option<(u64, u64)>, stalled: bool, columns: usize) -> String {
        let transfers = Transfers::default();
        let id = transfers.enqueue(Direction::Receive, name, 300 << 20);
        let now = Instant::now();
        transfers.update(id, |e| {
            e.started = now.checked_sub(Duration::from_secs(4));
            e.done = 120 << 20;
            e.files = files;
        });
        let entries = transfers.entries();
        let stalled = stalled.then_some(Duration::from_secs(8));
        entries[0].live_status(stalled).fit(columns - 1)
    }

    #[test]
    fn a_resumed_transfer_says_what_was_there_and_times_what_moved() {
        let transfers = Transfers::default();
        let look = Look {
            colour: false,
            interactive: true,
        };
        let (screen, _) = captured_with(look);
        for (direction, there) in [
            (Direction::Receive, "kept from before"),
            (Direction::Send, "there already"),
        ] {
            let mut meter = Meter::begin(&transfers, &screen, direction, "big", 2 << 30);
            meter.started -= Duration::from_secs(2);
            meter.resume_from(3 << 29);
            meter.advance(1 << 29);
            let summary = meter.summary().unwrap();
            let moved = format!("1.5 GiB of it {there}; 512.0 MiB moved in 2.0s at 2");
            assert!(
                summary.starts_with(&moved) && summary.ends_with(" MiB/s"),
                "{summary}"
            );
        }
    }

    #[test]
    fn a_live_line_fits_the_terminal_by_leaving_out_whole_parts() {
        let figures = "120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s, 6.0s left";
        assert_eq!(
            live_at("big.bin", None, false, 120),
            format!("Receiving big.bin [========>           ] {figures}")
        );
        // On 80 columns, a shorter bar; then none.
        assert_eq!(
            live_at("big.bin", None, false, 80),
            format!("Receiving big.bin [===>    ] {figures}")
        );
        assert_eq!(
            live_at("big.bin", None, false, 70),
            format!("Receiving big.bin {figures}")
        );
        // Then the time left, the rate, the sizes: never a part cut.
        let at = |columns| live_at("big2.bin", None, false, columns);
        assert_eq!(
            at(66),
            "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s"
        );
        assert_eq!(
            at(60),
            "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s"
        );
        assert_eq!(at(58), "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%)");
        assert_eq!(at(50), "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%)");
        assert_eq!(at(40), "Receiving big2.bin (40%)");
        // The name is shortened, down to a few characters at last.
        assert_eq!(
            live_at("a-rather-long-name.bin", None, false, 25),
            "Receiving a-r…bin (40%)"
        );
        assert_eq!(live_at("big2.bin", None, false, 16), "Receiving (40%)");
        assert_eq!(live_at("big2.bin", None, false, 12), "");
        // A long name is shortened to leave room for a bar.
        let long = format!("{}.bin", "n".repeat(200));
        let line = live_at(&long, None, false, 100);
        assert!(
            line.contains("n…n") && line.contains(".bin [==>  ] 120.0"),
            "{line}"
        );
        assert!(cautious_width(&line) <= 99, "{line}");
        // A folder's count of files goes after the rate, before the sizes.
        let folder = |columns| live_at("photos", Some((3, 10)), false, columns);
        assert_eq!(
            folder(85),
            format!("Receiving photos {figures}, 3 of 10 files")
        );
        assert_eq!(
            folder(60),
            "Receiving photos 120.0 MiB / 300.0 MiB (40%), 3 of 10 files"
        );
    }

    #[test]
    fn a_stalled_transfer_says_so_in_place_of_its_rate() {
        assert_eq!(
            live_at("big.bin", None, true, 120),
            "Receiving big.bin [========>           ] 120.0 MiB / 300.0 MiB (40%), stalled 8s"
        );
        // Kept longer than the sizes.
        assert_eq!(
            live_at("big.bin", None, true, 40),
            "Receiving big.bin (40%), stalled 8s"
        );
        assert_eq!(whole_seconds(Duration::from_millis(65_900)), "1m05s");
    }

    #[test]
    fn a_transfer_that_stops_moving_is_said_to_stall_until_bytes_move() {
        let transfers = Transfers::default();
        let look = Look {
            colour: false,
            interactive: true,
        };
        let (screen, sink) = captured_with(look);
        let mut meter = Meter::begin(&transfers, &screen, Direction::Send, "big", 1 << 30);
        meter.last_shown -= LIVE_INTERVAL;
        meter.advance(1 << 20);
        transfers.show_stalled(&screen);
        assert_eq!(sink.lines().len(), 1, "not stalled yet");
        transfers.update(meter.id, |e| e.moved_at -= STALLED_AFTER);
        transfers.show_stalled(&screen);
        transfers.show_stalled(&screen);
        let lines = sink.lines();
        assert_eq!(lines.len(), 2, "once a second: {lines:?}");
        assert!(lines[1].ends_with("(0%), stalled 3s"), "{lines:?}");
        assert!(transfers.status_lines()[0].ends_with(", stalled 3s"));
        // Bytes move: the rate is back.
        meter.last_shown -= LIVE_INTERVAL;
        meter.advance(1 << 20);
        let lines = sink.lines();
        assert!(!lines[2].contains("stalled"), "{lines:?}");
        transfers.show_stalled(&screen);
        assert_eq!(sink.lines().len(), 3);
        // Once it ends, nothing draws it again.
        transfers.update(meter.id, |e| e.moved_at -= STALLED_AFTER * 2);
        let id = meter.id;
        drop(meter);
        transfers.show_stalled(&screen);
        assert!(!sink.lines().last().unwrap().contains("stalled"));
        assert_eq!(transfers.verdict(id), Verdict::Cancelled, "off the list");
    }

    proptest! {
        /// At any width, a live line fits, and each part shown is whole.
        #[test]
        fn live_lines_fit_and_show_parts_whole(
            columns in 2usize..140,
            folder in any::<bool>(),
            stalled in any::<bool>(),
        ) {
            let files = folder.then_some((3, 10));
            let line = live_at("big.bin", files, stalled, columns);
            prop_assert!(cautious_width(&line) < columns, "{} in {}", line, columns);
            let whole = [
                "Receiving", "big.bin", "120.0 MiB / 300.0 MiB", "(40%)", "30.0 MiB/s",
                "6.0s left", "stalled 8s", "3 of 10 files",
            ];
            let mut rest = line.as_str();
            // The name may be shortened in its middle.
            if let Some(after) = rest.strip_prefix("Receiving b") {
                let end = after.find(' ').unwrap_or(after.len());
                prop_assert!(after[..end].ends_with('n'), "{:?}", line);
                rest = &after[end..];
            }
            // Each part, in order, then a bar or a gap.
            for part in whole {
                rest = rest.trim_start_matches([' ', ',']);
                if let Some(bar) = rest.strip_prefix('[') {
                    rest = &bar[bar.find(']').unwrap() + 1..];
                    rest = rest.trim_start_matches(' ');
                }
                if let Some(after) = rest.strip_prefix(part) {
                    rest = after;
                }
            }
            prop_assert!(rest.is_empty(), "{:?} is cut: {:?} left over", line, rest);
        }
    }

    #[test]
    fn an_instant_transfer_gets_its_time_but_no_rate() {
        assert_eq!(summary_text(1 << 20, Duration::from_millis(1)), "0.0s");
        assert_eq!(summary_text(1 << 20, Duration::ZERO), "0.0s");
        assert_eq!(summary_text(5 << 20, Duration::from_millis(99)), "0.1s");
        assert_eq!(
            summary_text(300 << 20, Duration::from_secs(2)),
            "2.0s at 150.0 MiB/s"
        );
    }

    #[test]
    fn a_resumed_transfer_is_timed_by_what_moves_now() {
        let text = progress_text(150 << 20, 100 << 20, 200 << 20, Duration::from_secs(2));
        assert_eq!(text, "150.0 MiB / 200.0 MiB (75%), 25.0 MiB/s, 2.0s left");
    }

    #[test]
    fn progress_shows_no_rate_before_it_can_be_measured() {
        let text = progress_text(3, 0, 1 << 44, Duration::from_millis(5));
        assert_eq!(text, "3 B / 16.0 TiB (0%)");
    }

    #[test]
    fn absurd_estimates_are_capped() {
        let month = Duration::from_secs(30 * 24 * 3600);
        let text = progress_text(1, 0, 1 << 44, month);
        assert_eq!(text, "1 B / 16.0 TiB (0%), 0 B/s, more than 99 days left");
        let text = progress_text(1, 0, u64::MAX, Duration::MAX);
        assert!(text.ends_with(", more than 99 days left"), "{text}");
    }

    #[test]
    fn more_done_than_announced_is_one_hundred_percent() {
        let text = progress_text(u64::MAX, 0, 10, Duration::from_secs(1));
        assert_eq!(text, "16.0 EiB / 10 B (100%), 16.0 EiB/s");
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0..10_000u64).prop_map(Duration::from_millis),
            (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_size() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0),
            Just(1),
            Just(u64::MAX),
            Just(1 << 44),
            any::<u64>()
        ]
    }

    proptest! {
        #[test]
        fn progress_never_panics_and_never_passes_one_hundred_percent(
            done in any_size(),
            size in any_size(),
            elapsed in any_duration(),
        ) {
            let text = progress_text(done, done / 2, size, elapsed);
            let percent: u64 = text
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once("%)"))
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or_else(|| panic!("no percentage in {text:?}"));
            prop_assert!(percent <= 100, "{}", text);
            let summary = summary_text(done, elapsed);
            prop_assert!(!summary.is_empty());
        }
    }
}
