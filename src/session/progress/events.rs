//! What the transfer list tells a front end, as typed values: the live
//! progress of a running transfer, the list for `/status`, what leaving
//! would lose and what it waits for.

pub use crate::session::events::Counterpart;
use std::time::{Duration, Instant};

use super::figures::{Figures, percent};
use super::{Direction, Transfers, Verdict};
use crate::engine::{Event, Frontend};

/// Something about transfers, for the front ends to show.
#[derive(Debug)]
pub enum ProgressEvent<'a> {
    /// How far the running transfer `id` is: reported at a modest pace
    /// while it runs, at once when every byte is there, and once a second
    /// while it stalls. A front end may keep a live line of it.
    Live {
        id: u64,
        direction: Direction,
        name: &'a str,
        figures: Figures,
    },
    /// The transfer `id` ended (its final line follows): its live
    /// progress goes.
    Ended { id: u64 },
    /// The list as `/status` shows it.
    Status(Vec<Row>),
    /// Leaving waits for what is being sent.
    Leaving(Departure),
}

/// One transfer of the list, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its id, as the user types it.
    pub id: u64,
    pub direction: Direction,
    pub name: String,
    pub size: u64,
    pub stage: Stage,
}

/// Where a transfer of the list stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// One of ours, offered and waiting for its answer.
    Offered(Counterpart),
    /// One of the peer's, waiting for `/accept` or `/decline`.
    Asking,
    /// One of ours, waiting for its turn.
    Queued,
    /// Under way (or, one of the peer's, accepted and about to start).
    Moving(Figures),
}

/// What leaving now would lose: the peer's offers waiting for the user's
/// answer, declined, and what is arriving, stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtStake {
    pub offers_waiting: usize,
    pub arriving: Vec<Arriving>,
}

/// A transfer arriving, and how much of it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arriving {
    pub name: String,
    pub percent: u8,
}

/// What leaving waits for besides the files of ours being sent: the
/// answer of `counterpart` to the offers it has not answered yet, each
/// for up to `patience`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub unanswered: Vec<Unanswered>,
    pub counterpart: Counterpart,
    pub patience: Duration,
}

/// An offer of ours not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub name: String,
    pub folder: bool,
}

impl Transfers {
    /// Reports, as the live progress of each transfer under way that
    /// nothing moved for [`super::STALLED_AFTER`], how long it has been:
    /// once a second at most, until bytes move again and its
    /// [`super::Meter`] reports them. Reported while the list is held, so
    /// that a transfer that ends meanwhile (and whose live progress goes)
    /// is not shown again.
    pub fn show_stalled(&self, front: &dyn Frontend) {
        let now = Instant::now();
        let mut entries = self.entries();
        for entry in entries.iter_mut().filter(|e| e.live) {
            let Some(still) = entry.stalled(now) else {
                continue;
            };
            let secs = still.as_secs();
            if entry.stall_shown != Some(secs) {
                entry.stall_shown = Some(secs);
                front.show(Event::Progress(ProgressEvent::Live {
                    id: entry.id,
                    direction: entry.direction,
                    name: &entry.name,
                    figures: entry.figures(Some(still)),
                }));
            }
        }
    }

    /// Every transfer, in the order they were queued.
    pub fn status(&self) -> Vec<Row> {
        let now = Instant::now();
        let entries = self.entries();
        entries
            .iter()
            .map(|e| Row {
                id: e.id,
                direction: e.direction,
                name: e.name.clone(),
                size: e.size,
                stage: match (e.started, e.verdict) {
                    _ if e.awaiting_peer => Stage::Offered(self.counterpart()),
                    (_, Verdict::Waiting) => Stage::Asking,
                    // Offered by the peer and about to start.
                    (None, _) if e.direction == Direction::Receive => {
                        let mut figures = Figures::measure(0, 0, e.size, Duration::ZERO, None);
                        figures.files = e.files;
                        Stage::Moving(figures)
                    }
                    (None, _) => Stage::Queued,
                    (Some(_), _) => Stage::Moving(e.figures(e.stalled(now))),
                },
            })
            .collect()
    }

    /// Shows `front` the list, for `/status`.
    pub fn show_status(&self, front: &dyn Frontend) {
        front.show(Event::Progress(ProgressEvent::Status(self.status())));
    }

    /// What leaving now would do to the peer's offers waiting for an answer
    /// and to what is arriving; `None` when nothing.
    pub fn at_stake(&self) -> Option<AtStake> {
        let entries = self.entries();
        let offers_waiting = entries
            .iter()
            .filter(|e| e.verdict == Verdict::Waiting)
            .count();
        let arriving: Vec<Arriving> = entries
            .iter()
            .filter(|e| e.direction == Direction::Receive && e.verdict != Verdict::Waiting)
            .map(|e| Arriving {
                name: e.name.clone(),
                percent: percent(e.done, e.size),
            })
            .collect();
        (offers_waiting > 0 || !arriving.is_empty()).then_some(AtStake {
            offers_waiting,
            arriving,
        })
    }

    /// What leaving while files of ours go waits for: them, and the answer
    /// to offers the counterpart has not answered yet, each for up to
    /// `patience`.
    pub fn departure(&self, patience: Duration) -> Departure {
        let unanswered = self
            .entries()
            .iter()
            .filter(|e| e.awaiting_peer)
            .map(|e| Unanswered {
                name: e.name.clone(),
                folder: e.files.is_some(),
            })
            .collect();
        Departure {
            unanswered,
            counterpart: self.counterpart(),
            patience,
        }
    }

    /// Tells `front` that leaving waits for what is being sent, and for
    /// how long.
    pub fn show_departure(&self, front: &dyn Frontend, patience: Duration) {
        front.show(Event::Progress(ProgressEvent::Leaving(
            self.departure(patience),
        )));
    }
}
