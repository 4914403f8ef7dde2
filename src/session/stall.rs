//! Noticing a peer that stopped reading: while bytes of ours wait to be
//! taken, too little progress within the window gives the peer up.
//!
//! The measure is what the peer's side acknowledged, across every write:
//! a peer that never reads and one that takes a trickle are both caught,
//! however the bytes are written (lines, `sendfile`, anything to come).

use std::time::{Duration, Instant};

use crate::net::transport::Sending;
use crate::wire::limits::MIN_PROGRESS;

/// How often the session looks.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Watches one connection's sending.
#[derive(Debug)]
pub struct StallWatch {
    window: Duration,
    /// Since when, and from which count, progress is being measured; `None`
    /// while nothing of ours waits.
    mark: Option<(Instant, u64)>,
}

impl StallWatch {
    pub fn new(window: Duration) -> Self {
        Self { window, mark: None }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Takes a reading at `now`; true when the peer is to be given up on.
    pub fn stalled(&mut self, now: Instant, sending: Option<Sending>) -> bool {
        let Some(sending) = sending.filter(|s| s.waiting) else {
            self.mark = None;
            return false;
        };
        match self.mark {
            Some((since, from)) if sending.acknowledged.saturating_sub(from) < MIN_PROGRESS => {
                now.saturating_duration_since(since) >= self.window
            }
            _ => {
                self.mark = Some((now, sending.acknowledged));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(acknowledged: u64) -> Option<Sending> {
        Some(Sending {
            acknowledged,
            waiting: true,
            open: true,
        })
    }

    #[test]
    fn a_peer_that_takes_nothing_is_given_up_after_the_window() {
        let start = Instant::now();
        let mut watch = StallWatch::new(Duration::from_secs(30));
        assert!(!watch.stalled(start, waiting(100)));
        assert!(!watch.stalled(start + Duration::from_secs(29), waiting(100)));
        assert!(watch.stalled(start + Duration::from_secs(30), waiting(100)));
    }

    #[test]
    fn a_trickle_is_given_up_too_but_steady_progress_is_not() {
        let start = Instant::now();
        let mut trickle = StallWatch::new(Duration::from_secs(10));
        let mut steady = StallWatch::new(Duration::from_secs(10));
        let mut gave_up = None;
        for second in 0..60u64 {
            let now = start + Duration::from_secs(second);
            if trickle.stalled(now, waiting(second * 1000)) && gave_up.is_none() {
                gave_up = Some(second);
            }
            assert!(!steady.stalled(now, waiting(second * MIN_PROGRESS)));
        }
        assert_eq!(gave_up, Some(10));
    }

    #[test]
    fn nothing_waiting_is_never_a_stall() {
        let start = Instant::now();
        let mut watch = StallWatch::new(Duration::from_secs(1));
        let idle = Some(Sending {
            acknowledged: 5,
            waiting: false,
            open: true,
        });
        assert!(!watch.stalled(start, waiting(5)));
        assert!(!watch.stalled(start + Duration::from_secs(5), idle));
        // Waiting again starts a new window.
        assert!(!watch.stalled(start + Duration::from_secs(6), waiting(5)));
        assert!(!watch.stalled(start + Duration::from_secs(6), None));
    }
}
