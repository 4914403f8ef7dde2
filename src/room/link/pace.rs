//! A member's reader keeping to its throttle: what the member sends is
//! counted, and past the limits read more slowly, so the member is held
//! back by its own connection; the host hears of it once an episode.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::Heard;
use crate::permits::Permits;
use crate::room::Happening;
use crate::room::roster::{HOST, MemberId};
use crate::room::throttle::{Episodes, Throttle};

/// A member's reader keeping to its throttle.
pub struct Pace<'a> {
    id: MemberId,
    events: &'a Sender<Happening>,
    /// Closed once the member is out of the room: then reading stops.
    permits: &'a Permits,
    throttle: Throttle,
    transfers: Throttle,
    /// When the member is held back, told to the host once an episode.
    episodes: Episodes,
}

impl<'a> Pace<'a> {
    pub fn new(id: MemberId, events: &'a Sender<Happening>, permits: &'a Permits) -> Self {
        Self {
            id,
            events,
            permits,
            throttle: Throttle::new(Instant::now()),
            transfers: Throttle::for_transfers(Instant::now()),
            episodes: Episodes::default(),
        }
    }

    /// Counts a message; past the limits, waits before the next is read,
    /// so the member is held back by its own connection. The host's own
    /// user is not held back.
    pub fn count(&mut self, len: usize) {
        let now = Instant::now();
        let wait = self.throttle.count(len, now);
        self.hold_back(wait, now);
    }

    /// Counts a message that carries a transfer along.
    pub fn count_transfer(&mut self, len: usize) {
        let now = Instant::now();
        let wait = self.transfers.count(len, now);
        self.hold_back(wait, now);
    }

    /// Waits before the next message is read, if the member is over its
    /// limits; the host's own user never is. The host hears of it when an
    /// episode begins.
    fn hold_back(&mut self, wait: Duration, now: Instant) {
        if self.id == HOST || self.permits.is_closed() || wait.is_zero() {
            return;
        }
        if self.episodes.begins(wait, now) {
            let _ = self.events.send(Happening::Heard(self.id, Heard::Slowed));
        }
        std::thread::sleep(wait);
    }

    /// Hands the host what was heard; `false` once the host is gone.
    /// What a member that is out of the room still sent is not read on.
    pub fn tell(&self, heard: Heard) -> bool {
        !self.permits.is_closed() && self.events.send(Happening::Heard(self.id, heard)).is_ok()
    }
}
