//! How fast one member may talk: a token bucket for messages and one for
//! their bytes. A member over the limit is not cut off; its messages are
//! read more slowly, so it is held back by its own connection. Being held
//! back is news once per episode, not once per message.

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

/// How long a member must keep to the limits before being held back again
/// begins a new episode.
pub const CALM: Duration = Duration::from_secs(10);

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

/// The episodes of a member being held back: one begins the first time a
/// message of its waits, and lasts until it has kept to the limits (nothing
/// of its waiting) for [`CALM`], whichever budget held it back.
#[derive(Debug, Clone, Default)]
pub struct Episodes {
    /// When the last message held back was let through.
    held_until: Option<Instant>,
}

impl Episodes {
    /// Notes that a message counted at `now` waits `wait`; `true` when this
    /// begins an episode, which is when it is worth saying.
    pub fn begins(&mut self, wait: Duration, now: Instant) -> bool {
        if wait.is_zero() {
            return false;
        }
        let calm_since =
            |until: Instant| now.checked_duration_since(until).is_some_and(|d| d >= CALM);
        let begins = self.held_until.is_none_or(calm_since);
        let until = now + wait;
        self.held_until = Some(self.held_until.map_or(until, |last| last.max(until)));
        begins
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

    #[test]
    fn an_episode_is_said_once_and_ends_after_a_calm() {
        let start = Instant::now();
        let mut episodes = Episodes::default();
        let ms = Duration::from_millis;
        assert!(!episodes.begins(Duration::ZERO, start));
        assert!(episodes.begins(ms(40), start));
        // Held again and again, with messages that went at once between
        // (another budget, or a moment under the rate): the same episode.
        let mut now = start;
        for _ in 0..500 {
            now += ms(40);
            assert!(!episodes.begins(Duration::ZERO, now));
            assert!(!episodes.begins(ms(40), now));
        }
        // Kept to the limits for less than the calm: still the same one.
        now += ms(40) + CALM - ms(1);
        assert!(!episodes.begins(ms(40), now));
        // For the whole calm: a new one.
        now += ms(40) + CALM;
        assert!(episodes.begins(ms(40), now));
    }

    #[test]
    fn a_flood_with_a_transfer_alongside_is_one_episode() {
        let start = Instant::now();
        let mut messages = Throttle::new(start);
        let mut transfers = Throttle::for_transfers(start);
        let mut episodes = Episodes::default();
        let mut now = start;
        let mut said = 0;
        for _ in 0..1000 {
            for wait in [messages.count(10, now), transfers.count(0, now)] {
                said += usize::from(episodes.begins(wait, now));
                now += wait;
            }
        }
        assert_eq!(said, 1);
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
