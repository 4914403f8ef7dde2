//! The wrong codes a listening side allows, however many handshakes it runs
//! at once: each check of a code is a guess, so checks are counted as they
//! are made, one at a time, never after the handshake that made them ends.

use std::sync::{Arc, Mutex, PoisonError};

use crate::wire::limits::WRONG_CODES;

/// The guesses left to everyone who tries a listening side's code. Clones
/// share the count.
#[derive(Debug, Clone)]
pub struct Guesses {
    wrong: Arc<Mutex<u32>>,
    allowed: u32,
}

/// What checking a code's confirmation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    Right,
    /// The `nth` wrong code of the `allowed` ones.
    Wrong {
        nth: u32,
        allowed: u32,
    },
    /// Every wrong code allowed was seen already: nothing was checked.
    Spent,
}

impl Guesses {
    pub fn new(allowed: u32) -> Self {
        Self {
            wrong: Arc::default(),
            allowed,
        }
    }

    /// Checks one confirmation with `verify`, unless the wrong codes
    /// allowed are spent. The count is held while `verify` runs, so two
    /// handshakes cannot both check with the last guess left.
    pub fn check(&self, verify: impl FnOnce() -> bool) -> Guess {
        let mut wrong = self.wrong.lock().unwrap_or_else(PoisonError::into_inner);
        if *wrong >= self.allowed {
            return Guess::Spent;
        }
        if verify() {
            return Guess::Right;
        }
        *wrong += 1;
        Guess::Wrong {
            nth: *wrong,
            allowed: self.allowed,
        }
    }
}

impl Default for Guesses {
    fn default() -> Self {
        Self::new(WRONG_CODES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::thread;

    #[test]
    fn right_codes_cost_nothing_and_wrong_ones_are_counted_to_the_limit() {
        let guesses = Guesses::new(3);
        assert_eq!(guesses.check(|| true), Guess::Right);
        for nth in 1..=3 {
            assert_eq!(guesses.check(|| false), Guess::Wrong { nth, allowed: 3 });
        }
        let mut checked = false;
        assert_eq!(
            guesses.check(|| {
                checked = true;
                true
            }),
            Guess::Spent
        );
        assert!(!checked, "a code was checked after the limit");
    }

    #[test]
    fn checks_made_at_once_still_get_only_the_allowed_guesses() {
        let guesses = Guesses::new(3);
        let start = Arc::new(Barrier::new(32));
        let checks: Vec<_> = (0..32)
            .map(|_| {
                let (guesses, start) = (guesses.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    guesses.check(|| {
                        thread::yield_now();
                        false
                    })
                })
            })
            .collect();
        let outcomes: Vec<Guess> = checks.into_iter().map(|t| t.join().unwrap()).collect();
        let wrong = outcomes
            .iter()
            .filter(|g| matches!(g, Guess::Wrong { .. }))
            .count();
        assert_eq!(wrong, 3, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|g| **g == Guess::Spent).count(), 29);
    }
}
