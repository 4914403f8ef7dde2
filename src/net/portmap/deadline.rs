//! The moment by which the router must have answered, and how long the
//! caller gave it, which a timeout reports.

use std::time::{Duration, Instant};

use super::MapError;

#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    at: Instant,
    within: Duration,
}

impl Deadline {
    pub(super) fn after(within: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + within,
            within,
        }
    }

    /// The time left, or `None` once it has passed.
    pub(super) fn left(&self) -> Option<Duration> {
        Some(self.at.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero())
    }

    /// The instant `wait` from now, or the deadline if that comes first.
    pub(super) fn cut(&self, wait: Duration) -> Instant {
        (Instant::now() + wait).min(self.at)
    }

    pub(super) fn timed_out(&self) -> MapError {
        MapError::TimedOut(self.within)
    }
}
