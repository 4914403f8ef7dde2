//! How far a transfer is and how fast it goes, as figures: what its live
//! progress, `/status` and its final line are made of.

use std::time::Duration;

/// Shortest time over which a rate (and a time left, which follows from
/// it) means anything; before that, only the bytes are given.
const MIN_RATE_TIME: Duration = Duration::from_millis(100);

/// Longest time left worth a figure. Sizes come from the peer, so a stalled
/// 16 TiB transfer would otherwise estimate millions of years.
pub const MAX_TIME_LEFT: Duration = Duration::from_secs(99 * 24 * 3600);

/// A transfer's progress so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub done: u64,
    pub size: u64,
    /// How much of `size` is done, at most 100.
    pub percent: u8,
    pub pace: Pace,
    /// For a folder: its files done, and in all.
    pub files: Option<FileCount>,
}

/// How fast a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Too early to tell.
    Unmeasured,
    /// Bytes a second, on average, of what moved now; and the time left,
    /// unless it is all there.
    Moving { rate: u64, left: Option<TimeLeft> },
    /// Nothing moved for this long.
    Stalled(Duration),
}

/// How long a transfer still takes at its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLeft {
    About(Duration),
    /// Longer than [`MAX_TIME_LEFT`], which is too long to be a figure.
    Beyond(Duration),
}

/// The files of a folder done, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCount {
    pub done: u64,
    pub all: u64,
}

impl Figures {
    /// The figures of `done` bytes of `size` after `elapsed`: the rate and
    /// time left only once the transfer has run long enough to measure
    /// them, and from the bytes moved now: `kept` of `done` were there from
    /// an earlier try. `stalled` says how long nothing moved, when that is
    /// to be said instead of the rate and time left. `done` and `size` come
    /// from the peer's header and may be anything.
    pub fn measure(
        done: u64,
        kept: u64,
        size: u64,
        elapsed: Duration,
        stalled: Option<Duration>,
    ) -> Self {
        let figures = |pace| Self {
            done,
            size,
            percent: percent(done, size),
            pace,
            files: None,
        };
        if let Some(still) = stalled {
            return figures(Pace::Stalled(still));
        }
        // What was kept from an earlier try did not move now.
        let moved = done.saturating_sub(kept);
        let Some(rate) = rate(moved, elapsed) else {
            return figures(Pace::Unmeasured);
        };
        let left = (moved > 0 && done < size).then(|| {
            let left = (size - done) as f64 * elapsed.as_secs_f64() / moved as f64;
            match Duration::try_from_secs_f64(left) {
                Ok(left) if left <= MAX_TIME_LEFT => TimeLeft::About(left),
                _ => TimeLeft::Beyond(MAX_TIME_LEFT),
            }
        });
        figures(Pace::Moving { rate, left })
    }
}

/// How much of `size` is done, in percent, at most 100. `done` and `size`
/// may come from the peer and be anything.
pub fn percent(done: u64, size: u64) -> u8 {
    match size {
        0 => 100,
        // In u128, `done * 100` cannot overflow; the result is at most 100.
        _ => (u128::from(done) * 100 / u128::from(size)).min(100) as u8,
    }
}

/// The average rate in bytes a second, `None` while `elapsed` is too short
/// to tell.
pub fn rate(done: u64, elapsed: Duration) -> Option<u64> {
    if elapsed < MIN_RATE_TIME {
        return None;
    }
    // Float to integer `as` saturates; the division is by at least 0.1.
    Some((done as f64 / elapsed.as_secs_f64()) as u64)
}
