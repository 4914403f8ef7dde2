//! Taking the next item from the queue a writer drains: at once when one
//! waits; otherwise what the writer buffered goes out first, since nothing
//! more comes right now, and then it waits.

use std::sync::mpsc::{Receiver, TryRecvError};

/// The next item of `queue`, calling `flush` first when none waits (and
/// when the queue is closed, so that nothing buffered stays behind).
/// `Ok(None)` once every sender is gone.
pub fn next_or_flush<T, E>(
    queue: &Receiver<T>,
    flush: impl FnOnce() -> Result<(), E>,
) -> Result<Option<T>, E> {
    match queue.try_recv() {
        Ok(next) => Ok(Some(next)),
        Err(TryRecvError::Empty) => {
            flush()?;
            Ok(queue.recv().ok())
        }
        Err(TryRecvError::Disconnected) => flush().map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn what_waits_is_taken_without_a_flush_and_a_dry_queue_flushes_first() {
        let (sender, queue) = mpsc::channel();
        sender.send(1).unwrap();
        // The flush itself sends what comes next, then closes the queue:
        // what is taken after a flush came after it.
        let sender = std::cell::RefCell::new(Some(sender));
        let flushes = std::cell::Cell::new(0);
        let flush = || -> Result<(), ()> {
            flushes.set(flushes.get() + 1);
            match flushes.get() {
                1 => sender.borrow().as_ref().unwrap().send(2).unwrap(),
                _ => drop(sender.borrow_mut().take()),
            }
            Ok(())
        };
        assert_eq!(next_or_flush(&queue, flush), Ok(Some(1)));
        assert_eq!(flushes.get(), 0, "an item waited");
        assert_eq!(next_or_flush(&queue, flush), Ok(Some(2)));
        assert_eq!(flushes.get(), 1, "flushed before waiting");
        assert_eq!(next_or_flush(&queue, flush), Ok(None));
        assert_eq!(flushes.get(), 2, "flushed as the queue closed");
    }

    #[test]
    fn a_flush_that_fails_is_the_answer() {
        let (_sender, queue) = mpsc::channel::<u8>();
        assert_eq!(next_or_flush(&queue, || Err("broken")), Err("broken"));
    }
}
