//! How long `chat connect` keeps trying a peer that is not there yet
//! (`--wait`): looking for its name, or connecting to an address nobody
//! listens on; and how its user stops it sooner.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

/// How long to keep trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// Up to this long from the start.
    UpTo(Duration),
    /// Until the user stops it.
    Endless,
}

impl Patience {
    /// `--wait SECS`: 0 waits until the user stops it.
    pub fn from_secs(secs: u64) -> Self {
        match secs {
            0 => Self::Endless,
            secs => Self::UpTo(Duration::from_secs(secs)),
        }
    }

    /// How long, when there is an end.
    pub fn limit(self) -> Option<Duration> {
        match self {
            Self::UpTo(limit) => Some(limit),
            Self::Endless => None,
        }
    }
}

/// Trying under way: its deadline, and the end its user stops it by.
pub struct Trying {
    patience: Patience,
    deadline: Option<Instant>,
    /// Disconnected once the user stops trying (the [`StopTrying`] dropped).
    stop: Receiver<()>,
}

/// Held by whoever may stop the trying: dropping it stops it, and wakes a
/// [`Trying::pause`] under way.
pub struct StopTrying {
    _sender: Sender<()>,
}

impl Trying {
    /// Starts trying now, for as long as `patience` says.
    pub fn start(patience: Patience) -> (Self, StopTrying) {
        let (sender, stop) = mpsc::channel();
        let deadline = patience
            .limit()
            .and_then(|limit| Instant::now().checked_add(limit));
        let trying = Self {
            patience,
            deadline,
            stop,
        };
        (trying, StopTrying { _sender: sender })
    }

    pub fn patience(&self) -> Patience {
        self.patience
    }

    /// When trying ends; `None` when only the user ends it.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left; `None` when there is no end.
    pub fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether the user stopped trying.
    pub fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Waits `pause` before the next try, or less when the time is up
    /// sooner; `false`, at once, when the user stops trying or no time is
    /// left.
    pub fn pause(&self, pause: Duration) -> bool {
        let pause = match self.left() {
            Some(left) if left.is_zero() => return false,
            Some(left) => pause.min(left),
            None => pause,
        };
        matches!(
            self.stop.recv_timeout(pause),
            Err(RecvTimeoutError::Timeout)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_seconds_is_endless() {
        assert_eq!(Patience::from_secs(0), Patience::Endless);
        assert_eq!(
            Patience::from_secs(30),
            Patience::UpTo(Duration::from_secs(30))
        );
        assert_eq!(Patience::Endless.limit(), None);
    }

    #[test]
    fn a_pause_ends_early_when_the_time_is_up_or_the_user_stops() {
        let (trying, _stop) = Trying::start(Patience::UpTo(Duration::from_millis(50)));
        let started = Instant::now();
        assert!(trying.pause(Duration::from_secs(10)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!trying.pause(Duration::from_secs(10)));

        let (trying, stop) = Trying::start(Patience::Endless);
        assert_eq!(trying.left(), None);
        assert!(!trying.stopped());
        let stopper = std::thread::spawn(move || drop(stop));
        let started = Instant::now();
        assert!(!trying.pause(Duration::from_secs(60)));
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(trying.stopped());
        stopper.join().unwrap();
    }
}
