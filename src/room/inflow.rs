//! How fast a plain member's file must come through the room. While it
//! goes, the other members on the original wire wait for its end (their
//! streams carry nothing else), so a sender that trickles it is given up
//! on as a peer that stops reading is (PROTOCOL.md 3.7): when less than
//! 16 KiB of it, or the rest of it when less, comes in the stall timeout.

use std::time::{Duration, Instant};

use crate::wire::limits::MIN_PROGRESS;

/// One file's progress, measured in windows of the stall timeout.
#[derive(Debug)]
pub struct Inflow {
    limit: Duration,
    /// When the window began.
    since: Instant,
    /// Bytes still to come within it.
    owed: u64,
}

impl Inflow {
    /// A file of which `remaining` bytes are to come, from `now`.
    pub fn new(limit: Duration, remaining: u64, now: Instant) -> Self {
        Self {
            limit,
            since: now,
            owed: remaining.min(MIN_PROGRESS),
        }
    }

    /// `n` bytes came at `now`, and `remaining` are still to come: once
    /// enough came, a new window begins.
    pub fn came(&mut self, n: u64, remaining: u64, now: Instant) {
        self.owed = self.owed.saturating_sub(n);
        if self.owed == 0 {
            self.since = now;
            self.owed = remaining.min(MIN_PROGRESS);
        }
    }

    /// Time spent waiting for the room to pass on what came, which is not
    /// the sender's.
    pub fn waited(&mut self, time: Duration) {
        self.since += time;
    }

    /// How long the sender has, from `now`, to send what it owes; `None`
    /// once the window is over.
    pub fn left(&self, now: Instant) -> Option<Duration> {
        let left = (self.since + self.limit).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(30);

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn a_trickle_runs_out_of_time_however_often_it_comes() {
        let start = Instant::now();
        let mut inflow = Inflow::new(LIMIT, 1000, start);
        // A byte every 20 s: each one is progress, but not enough.
        inflow.came(1, 999, at(start, 20));
        assert_eq!(inflow.left(at(start, 20)), Some(Duration::from_secs(10)));
        inflow.came(1, 998, at(start, 29));
        assert_eq!(inflow.left(at(start, 30)), None);
    }

    #[test]
    fn enough_in_a_window_begins_the_next() {
        let start = Instant::now();
        let mut inflow = Inflow::new(LIMIT, 1 << 20, start);
        inflow.came(MIN_PROGRESS, (1 << 20) - MIN_PROGRESS, at(start, 29));
        assert_eq!(inflow.left(at(start, 58)), Some(Duration::from_secs(1)));
        assert_eq!(inflow.left(at(start, 59)), None);
    }

    #[test]
    fn the_rest_of_a_small_file_is_enough() {
        let start = Instant::now();
        let mut inflow = Inflow::new(LIMIT, 100, start);
        inflow.came(60, 40, at(start, 10));
        inflow.came(40, 0, at(start, 29));
        assert!(inflow.left(at(start, 58)).is_some());
    }

    #[test]
    fn time_spent_waiting_for_the_room_is_not_the_senders() {
        let start = Instant::now();
        let mut inflow = Inflow::new(LIMIT, 1 << 20, start);
        inflow.waited(Duration::from_secs(100));
        assert_eq!(inflow.left(at(start, 110)), Some(Duration::from_secs(20)));
    }
}
