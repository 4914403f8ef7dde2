//! Permits: at most a fixed number of things on their way at once, each
//! held by a [`Permit`] that is given back when dropped; once closed, the
//! permits turn away whoever waits for one and whoever asks later.
//!
//! What bounds the memory held for what is in flight: batches of piped
//! input and answers on their way to a conversation's writer, pieces of a
//! file on their way through a room, and the room's one turn to pass a
//! file on the original wire.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A fixed number of permits, shared by all clones.
#[derive(Clone)]
pub struct Permits(Arc<Shared>);

struct Shared {
    state: Mutex<State>,
    /// Signalled when a permit is given back, and when the permits close.
    changed: Condvar,
}

struct State {
    free: usize,
    closed: bool,
    /// Takers waiting for a permit now.
    waiting: usize,
}

/// One permit, given back when dropped by whoever holds it last, on any
/// thread: it may go along with what it stands for (a batch of input to
/// the writer, a piece of a file to every receiver).
pub struct Permit(Permits);

impl Permits {
    pub fn new(count: usize) -> Self {
        let state = State {
            free: count,
            closed: false,
            waiting: 0,
        };
        Self(Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }))
    }

    /// Waits for a free permit; `None` once the permits are closed, also
    /// for a taker that was waiting then. Waiting takers are served in no
    /// particular order.
    pub fn take(&self) -> Option<Permit> {
        let mut state = self.lock();
        state.waiting += 1;
        while state.free == 0 && !state.closed {
            state = self
                .0
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
        Self::claim(&mut state).then(|| Permit(self.clone()))
    }

    /// A free permit if there is one now; `None` when there is none, or
    /// once the permits are closed.
    pub fn try_take(&self) -> Option<Permit> {
        Self::claim(&mut self.lock()).then(|| Permit(self.clone()))
    }

    /// Turns away every taker, waiting or to come. Permits out stay held
    /// until dropped.
    pub fn close(&self) {
        self.lock().closed = true;
        self.0.changed.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Counts a permit as taken, if one is free and the permits are open.
    fn claim(state: &mut State) -> bool {
        let free = state.free > 0 && !state.closed;
        if free {
            state.free -= 1;
        }
        free
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is whole by the time the lock is let
        // go, so a holder's panic leaves nothing half done.
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.lock().free += 1;
        self.0.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;

    /// Returns once `count` takers are blocked waiting on `permits`.
    fn until_waiting(permits: &Permits, count: usize) {
        while permits.lock().waiting < count {
            thread::yield_now();
        }
    }

    #[test]
    fn permits_run_out_and_come_back_when_dropped() {
        let permits = Permits::new(2);
        let first = permits.try_take().unwrap();
        let second = permits.take().unwrap();
        assert!(permits.try_take().is_none());
        drop(first);
        let third = permits.try_take().unwrap();
        assert!(permits.try_take().is_none());
        drop((second, third));
        let again = [permits.try_take(), permits.try_take()];
        assert!(again.iter().all(Option::is_some));
        assert!(Permits::new(0).try_take().is_none());
    }

    #[test]
    fn a_permit_dropped_on_another_thread_frees_a_waiting_taker() {
        let permits = Permits::new(1);
        let held = permits.take().unwrap();
        let waiter = {
            let permits = permits.clone();
            thread::spawn(move || permits.take().is_some())
        };
        until_waiting(&permits, 1);
        let (carry, arrive) = mpsc::channel::<Permit>();
        let dropper = thread::spawn(move || drop(arrive.recv()));
        carry.send(held).unwrap();
        dropper.join().unwrap();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn closing_frees_every_waiting_taker() {
        let permits = Permits::new(0);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let permits = permits.clone();
                thread::spawn(move || permits.take().is_none())
            })
            .collect();
        until_waiting(&permits, 4);
        permits.close();
        for waiter in waiters {
            assert!(waiter.join().unwrap());
        }
    }

    #[test]
    fn closed_permits_are_never_taken_again() {
        let permits = Permits::new(2);
        let held = permits.take().unwrap();
        assert!(!permits.is_closed());
        permits.close();
        assert!(permits.is_closed());
        assert!(permits.take().is_none());
        assert!(permits.try_take().is_none());
        drop(held);
        assert!(permits.take().is_none());
        assert_eq!(permits.lock().free, 2);
    }

    /// Takers on several threads hand their permits to one thread that
    /// gives them back, as a conversation's reader hands answers to its
    /// writer, until the permits close under them.
    #[test]
    fn never_more_than_the_count_are_held_under_contention() {
        const COUNT: usize = 3;
        const TAKERS: usize = 6;
        const ROUNDS: usize = 20_000;
        let permits = Permits::new(COUNT);
        let held = Arc::new(AtomicUsize::new(0));
        let too_many = Arc::new(AtomicUsize::new(0));
        let given_back = Arc::new(AtomicUsize::new(0));
        let (carry, arrive) = mpsc::channel::<Permit>();
        let giver = {
            let (held, given_back) = (held.clone(), given_back.clone());
            thread::spawn(move || {
                for permit in arrive {
                    held.fetch_sub(1, Ordering::SeqCst);
                    given_back.fetch_add(1, Ordering::SeqCst);
                    drop(permit);
                }
            })
        };
        let takers: Vec<_> = (0..TAKERS)
            .map(|n| {
                let (permits, carry) = (permits.clone(), carry.clone());
                let (held, too_many) = (held.clone(), too_many.clone());
                thread::spawn(move || {
                    for round in 0.. {
                        let taken = match (n + round) % 4 {
                            0 => permits.try_take(),
                            _ => permits.take(),
                        };
                        let permit = match taken {
                            Some(permit) => permit,
                            None if permits.is_closed() => return,
                            None => continue,
                        };
                        if held.fetch_add(1, Ordering::SeqCst) >= COUNT {
                            too_many.fetch_add(1, Ordering::SeqCst);
                        }
                        carry.send(permit).unwrap();
                    }
                })
            })
            .collect();
        drop(carry);
        while given_back.load(Ordering::SeqCst) < ROUNDS {
            thread::yield_now();
        }
        permits.close();
        for taker in takers {
            taker.join().unwrap();
        }
        giver.join().unwrap();
        assert_eq!(too_many.load(Ordering::SeqCst), 0);
        assert_eq!(held.load(Ordering::SeqCst), 0);
        assert_eq!(permits.lock().free, COUNT);
    }
}
