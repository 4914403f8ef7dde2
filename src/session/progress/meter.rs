//! Following one running transfer: the list kept up to date, its live
//! progress reported to the front end as it goes, and how it went at the
//! end.

use std::time::{Duration, Instant};

use super::events::ProgressEvent;
use super::figures::rate;
use super::{Direction, Transfers};
use crate::engine::{Event, Frontend};

/// Least time between two reports of a transfer's live progress. A
/// terminal redraws its live lines and the input line for each, so the
/// pace stays modest.
const LIVE_INTERVAL: Duration = Duration::from_millis(250);

/// How a finished transfer went, for its final line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub direction: Direction,
    /// Bytes that were there from before (kept, or at the peer already):
    /// they did not move now, and are not timed.
    pub kept: u64,
    /// Bytes moved now, and in how long.
    pub moved: u64,
    pub elapsed: Duration,
    /// Bytes a second, on average; `None` for a transfer done in an
    /// instant: a rate measured over a few milliseconds says nothing.
    pub rate: Option<u64>,
}

impl Summary {
    /// `moved` bytes moved in `elapsed`, after `kept` that were there.
    pub fn measure(direction: Direction, kept: u64, moved: u64, elapsed: Duration) -> Self {
        Self {
            direction,
            kept,
            moved,
            elapsed,
            rate: rate(moved, elapsed),
        }
    }
}

/// Follows one running transfer.
pub struct Meter<'a> {
    transfers: &'a Transfers,
    front: &'a dyn Frontend,
    id: u64,
    size: u64,
    done: u64,
    /// Bytes of `done` kept from an earlier try.
    kept: u64,
    direction: Direction,
    started: Instant,
    last_shown: Instant,
    /// Bytes done when the live progress was last reported.
    shown_done: Option<u64>,
}

impl<'a> Meter<'a> {
    /// Starts the transfer `id` (already queued) now.
    pub fn start(transfers: &'a Transfers, front: &'a dyn Frontend, id: u64) -> Self {
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
            front,
            id,
            size,
            done: 0,
            kept: 0,
            direction,
            started: now,
            last_shown: now,
            shown_done: None,
        }
    }

    /// Records and enqueues-then-starts a transfer in one step, for files
    /// that never wait (incoming ones).
    pub fn begin(
        transfers: &'a Transfers,
        front: &'a dyn Frontend,
        direction: Direction,
        name: &str,
        size: u64,
    ) -> Self {
        let id = transfers.enqueue(direction, name, size);
        Self::start(transfers, front, id)
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
            if let Some(files) = &mut e.files {
                files.done += 1;
            }
        });
    }

    /// Counts `n` more bytes moved, and reports the progress when it is
    /// time to.
    pub fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        let done = self.done;
        // The end is reported at once: the final line may wait for the peer.
        let due = self.last_shown.elapsed() >= LIVE_INTERVAL
            || (done >= self.size && self.shown_done != Some(done));
        let mut live = None;
        self.transfers.update(self.id, |e| {
            e.done = done;
            if n > 0 {
                (e.moved_at, e.stall_shown) = (Instant::now(), None);
            }
            if due {
                e.live = true;
                live = Some((e.name.clone(), e.figures(None)));
            }
        });
        if let Some((name, figures)) = live {
            self.last_shown = Instant::now();
            self.shown_done = Some(done);
            self.front.show(Event::Progress(ProgressEvent::Live {
                id: self.id,
                direction: self.direction,
                name: &name,
                figures,
            }));
        }
    }

    /// The time taken and average rate, for the final line when a person
    /// follows the conversation; `None` for a script, whose lines are a
    /// contract. A resumed transfer says how much was there from before,
    /// which did not move and is not in the rate.
    pub fn summary(&self) -> Option<Summary> {
        if !self.front.attended() {
            return None;
        }
        let moved = self.done.saturating_sub(self.kept);
        Some(Summary::measure(
            self.direction,
            self.kept,
            moved,
            self.started.elapsed(),
        ))
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        // Off the list first: a stall reported meanwhile would show it again.
        self.transfers.remove(self.id);
        if self.shown_done.is_some() {
            self.front
                .show(Event::Progress(ProgressEvent::Ended { id: self.id }));
        }
    }
}

#[cfg(test)]
impl Meter<'_> {
    /// Its id in the list.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// As if the transfer had started `by` earlier.
    pub(crate) fn backdate(&mut self, by: Duration) {
        self.started -= by;
        let started = self.started;
        self.transfers
            .update(self.id, |e| e.started = Some(started));
    }

    /// As if its progress had been reported long enough ago for the next
    /// report.
    pub(crate) fn report_due(&mut self) {
        self.last_shown -= LIVE_INTERVAL;
    }

    /// As if nothing had moved for `by` longer.
    pub(crate) fn stand_still(&self, by: Duration) {
        self.transfers.update(self.id, |e| e.moved_at -= by);
    }
}
