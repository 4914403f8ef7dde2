//! How fast one member may talk: a token bucket for messages and one for
//! their bytes. A member over the limit is not cut off; its messages are
//! read more slowly, so it is held back by its own connection.

use std::time::{Duration, Instant};

/// Messages a member may send in a burst, and per second after that.
pub const BURST_MESSAGES: f64 = 50.0;
pub const MESSAGES_PER_SECOND: f64 = 25.0;

/// Bytes of text a member may send in a burst, and per second after that.
pub const BURST_BYTES: f64 = 512.0 * 1024.0;
pub const BYTES_PER_SECOND: f64 = 128.0 * 1024.0;

/// The messages that carry a transfer along once it goes (a folder's
/// files and subfolders, answers, ends) have a budget of their own: a
/// folder of thousands of small files needs thousands of them, and each
/// waits on the protocol's own windows anyway.
pub const BURST_TRANSFER_MESSAGES: f64 = 5000.0;
pub const TRANSFER_MESSAGES_PER_SECOND: f64 = 2000.0;

/// One bucket: it holds up to `capacity` tokens and gains `rate` a second.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    rate: f64,
}

impl Bucket {
    fn full(capacity: f64, rate: f64) -> Self {
        Self {
            tokens: capacity,
            capacity,
            rate,
        }
    }

    fn refill(&mut self, elapsed: Duration) {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.capacity);
    }

    /// Takes `cost` tokens, into debt if need be, and says how long the
    /// debt takes to pay off.
    fn take(&mut self, cost: f64) -> Duration {
        self.tokens -= cost;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// A member's allowance of messages and bytes.
#[derive(Debug, Clone)]
pub struct Throttle {
    messages: Bucket,
    bytes: Bucket,
    last: Instant,
}

impl Throttle {
    pub fn new(now: Instant) -> Self {
        Self::with_limits(
            now,
            (BURST_MESSAGES, MESSAGES_PER_SECOND),
            (BURST_BYTES, BYTES_PER_SECOND),
        )
    }

    /// The budget for the messages that carry transfers along.
    pub fn for_transfers(now: Instant) -> Self {
        Self::with_limits(
            now,
            (BURST_TRANSFER_MESSAGES, TRANSFER_MESSAGES_PER_SECOND),
            (BURST_BYTES * 64.0, BYTES_PER_SECOND * 64.0),
        )
    }

    fn with_limits(now: Instant, messages: (f64, f64), bytes: (f64, f64)) -> Self {
        Self {
            messages: Bucket::full(messages.0, messages.1),
            bytes: Bucket::full(bytes.0, bytes.1),
            last: now,
        }
    }

    /// Counts a message of `len` bytes at `now`, and says how long to wait
    /// before reading the next: zero while the member keeps to the limits.
    pub fn count(&mut self, len: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.messages.refill(elapsed);
        self.bytes.refill(elapsed);
        let for_messages = self.messages.take(1.0);
        let for_bytes = self.bytes.take(len as f64);
        for_messages.max(for_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_burst_goes_then_the_rate_holds() {
        let start = Instant::now();
        let mut throttle = Throttle::with_limits(start, (3.0, 10.0), (1e9, 1e9));
        for _ in 0..3 {
            assert_eq!(throttle.count(10, start), Duration::ZERO);
        }
        let wait = throttle.count(10, start);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // After paying the debt off, the next one waits a tenth again.
        let wait = throttle.count(10, start + Duration::from_millis(100));
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // A long silence refills the burst, no more.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(throttle.count(10, later), Duration::ZERO);
        }
        assert!(throttle.count(10, later) > Duration::ZERO);
    }

    #[test]
    fn big_messages_are_held_by_their_bytes() {
        let start = Instant::now();
        let mut throttle = Throttle::with_limits(start, (100.0, 100.0), (1000.0, 1000.0));
        assert_eq!(throttle.count(1000, start), Duration::ZERO);
        let wait = throttle.count(500, start);
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
    }

    proptest! {
        /// Whatever a member sends, waiting as told keeps it within the
        /// burst plus the rate over the time it took.
        #[test]
        fn waiting_as_told_keeps_to_the_rate(lens in proptest::collection::vec(0usize..100_000, 1..300)) {
            let start = Instant::now();
            let mut now = start;
            let mut throttle = Throttle::new(start);
            let mut bytes = 0.0;
            for (i, len) in lens.iter().enumerate() {
                now += throttle.count(*len, now);
                bytes += *len as f64;
                let secs = now.duration_since(start).as_secs_f64();
                prop_assert!((i + 1) as f64 <= BURST_MESSAGES + MESSAGES_PER_SECOND * secs + 1.0);
                prop_assert!(bytes <= BURST_BYTES + BYTES_PER_SECOND * secs + *len as f64 + 1.0);
            }
        }
    }
}
