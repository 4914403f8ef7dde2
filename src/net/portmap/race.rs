//! Asking the router by every method at once: the first mapping made wins
//! and any made after it is removed again, unless it is the same one (a
//! router that speaks both protocols keeps one mapping per port).

use std::sync::mpsc::{self, RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

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

/// Who won, once someone has; after the deadline, nobody can.
#[derive(Default)]
struct Finish {
    winner: Option<std::net::SocketAddrV4>,
    closed: bool,
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
            Ok(Ok(lease)) => return Ok(lease),
            Ok(Err(e)) => failure = failure.telling(e),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return Err(failure),
        }
        running -= 1;
    }
    let mut finish = lock(&finish);
    if finish.winner.is_none() {
        finish.closed = true;
        return Err(failure);
    }
    drop(finish);
    // The winner was sent while `finish` was held, so it is waiting here.
    results
        .try_iter()
        .find_map(Result::ok)
        .ok_or_else(|| deadline.timed_out())
}

/// What an attempt's thread does with its outcome: a failure is reported;
/// a mapping wins if it is the first in time, and is removed otherwise.
fn settle(outcome: Outcome, finish: &Mutex<Finish>, outcomes: &Sender<Outcome>) {
    let lease = match outcome {
        Ok(lease) => lease,
        Err(e) => {
            let _ = outcomes.send(Err(e));
            return;
        }
    };
    let mut finish = lock(finish);
    match finish.winner {
        None if !finish.closed => {
            finish.winner = Some(lease.external());
            if let Err(SendError(Ok(lease))) = outcomes.send(Ok(lease)) {
                lease.remove(Deadline::after(REMOVAL));
            }
        }
        // The winner's own mapping, reached by the other protocol: the
        // winner renews and removes it.
        Some(winner) if winner == lease.external() => {}
        _ => {
            drop(finish);
            lease.remove(Deadline::after(REMOVAL));
        }
    }
}

fn lock(finish: &Mutex<Finish>) -> std::sync::MutexGuard<'_, Finish> {
    finish.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
