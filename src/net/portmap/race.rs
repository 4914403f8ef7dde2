//! Asking the router by every method at once: the first mapping made wins
//! and any made after it is removed again. A router that speaks both
//! protocols may give both the same port: that twin is removed with the
//! winner, when the mapping ends, not while it is in use.

use std::net::SocketAddrV4;
use std::sync::mpsc::{self, RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::deadline::Deadline;
use super::lease::{Lease, REMOVAL};
use super::{MapError, Method};

type Outcome = Result<Box<dyn Lease>, MapError>;

/// One method's way to a mapping, made before the deadline or not at all.
pub(super) struct Attempt {
    method: Method,
    run: Box<dyn FnOnce(Deadline) -> Outcome + Send>,
}

impl Attempt {
    pub(super) fn new(
        method: Method,
        run: impl FnOnce(Deadline) -> Outcome + Send + 'static,
    ) -> Attempt {
        Attempt {
            method,
            run: Box::new(run),
        }
    }
}

/// How the race stands, shared by the attempts and the winner.
#[derive(Default)]
struct Finish {
    winner: Option<SocketAddrV4>,
    /// The deadline passed with no winner, or the winner was removed:
    /// whatever is mapped from now on is removed at once.
    closed: bool,
    /// The winner's port, mapped by another method too.
    twins: Vec<Box<dyn Lease>>,
}

/// Runs every attempt on a thread of its own and returns the first
/// mapping made by the deadline, or the most telling failure.
///
/// The threads are not joined: a method may still be waiting on the router
/// at the deadline (igd-next's HTTP requests have a timeout of their own),
/// and the caller must not wait for it. A mapping it makes after that is
/// removed by the same thread.
pub(super) fn race(attempts: Vec<Attempt>, deadline: Deadline) -> Outcome {
    let finish = Arc::new(Mutex::new(Finish::default()));
    let (outcomes, results) = mpsc::channel();
    let mut failure = deadline.timed_out();
    let mut running = 0;
    for attempt in attempts {
        let (finish, outcomes) = (Arc::clone(&finish), outcomes.clone());
        let started = thread::Builder::new()
            .name(format!("{} mapping", attempt.method))
            .spawn(move || settle((attempt.run)(deadline), &finish, &outcomes));
        match started {
            Ok(_) => running += 1,
            Err(cause) => failure = failure.telling(MapError::Local(cause)),
        }
    }
    drop(outcomes);
    while running > 0 {
        let Some(left) = deadline.left() else { break };
        match results.recv_timeout(left) {
            Ok(Ok(lease)) => return Ok(Box::new(Won { lease, finish })),
            Ok(Err(e)) => failure = failure.telling(e),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return Err(failure),
        }
        running -= 1;
    }
    let mut state = lock(&finish);
    if state.winner.is_none() {
        state.closed = true;
        return Err(failure);
    }
    drop(state);
    // The winner was sent while `finish` was held, so it is waiting here.
    match results.try_iter().find_map(Result::ok) {
        Some(lease) => Ok(Box::new(Won { lease, finish })),
        None => Err(failure),
    }
}

/// What an attempt's thread does with its outcome: a failure is reported;
/// a mapping wins if it is the first in time, is kept as the winner's twin
/// if it is the same port, and is removed otherwise.
fn settle(outcome: Outcome, finish: &Mutex<Finish>, outcomes: &Sender<Outcome>) {
    let lease = match outcome {
        Ok(lease) => lease,
        Err(e) => {
            let _ = outcomes.send(Err(e));
            return;
        }
    };
    let mut state = lock(finish);
    match state.winner {
        _ if state.closed => {}
        None => {
            state.winner = Some(lease.external());
            if let Err(SendError(Ok(lease))) = outcomes.send(Ok(lease)) {
                drop(state);
                lease.remove(Deadline::after(REMOVAL));
            }
            return;
        }
        Some(winner) if winner == lease.external() => {
            state.twins.push(lease);
            return;
        }
        Some(_) => {}
    }
    drop(state);
    lease.remove(Deadline::after(REMOVAL));
}

/// The winning mapping: removing it closes the race and removes its
/// twins too.
struct Won {
    lease: Box<dyn Lease>,
    finish: Arc<Mutex<Finish>>,
}

impl Lease for Won {
    fn method(&self) -> Method {
        self.lease.method()
    }

    fn external(&self) -> SocketAddrV4 {
        self.lease.external()
    }

    fn lifetime(&self) -> Option<Duration> {
        self.lease.lifetime()
    }

    fn renew(&mut self, deadline: Deadline) -> Result<(), MapError> {
        self.lease.renew(deadline)
    }

    fn remove(&self, deadline: Deadline) {
        let twins = {
            let mut state = lock(&self.finish);
            state.closed = true;
            std::mem::take(&mut state.twins)
        };
        self.lease.remove(deadline);
        for twin in twins {
            twin.remove(deadline);
        }
    }
}

fn lock(finish: &Mutex<Finish>) -> MutexGuard<'_, Finish> {
    finish.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
