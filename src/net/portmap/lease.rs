//! A port the router gave, kept while its value lives: asked for again at
//! half its lifetime on a thread of its own, and removed when dropped.

use std::net::SocketAddrV4;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::deadline::Deadline;
use super::{MapError, Method};

/// How long a mapping is asked for, in seconds: an hour, so that one left
/// behind by a crash does not stay open for long.
pub(super) const LEASE_SECS: u32 = 3600;
/// How long the router may take to remove a mapping.
pub(super) const REMOVAL: Duration = Duration::from_millis(900);
/// How long dropping a mapping waits for its removal: the program must
/// not hang on its way out for a router that does not answer.
const REMOVAL_WAIT: Duration = Duration::from_secs(1);
/// How long the router may take to renew a mapping.
const RENEWAL: Duration = Duration::from_secs(10);
/// The shortest wait between renewals, whatever the router says.
const RENEWAL_FLOOR: Duration = Duration::from_secs(1);
/// How soon a failed renewal is tried again.
const RENEWAL_RETRY: Duration = Duration::from_secs(60);

/// A mapping on the router, by one method.
pub(super) trait Lease: Send {
    fn method(&self) -> Method;
    /// The router's external address and the port it forwards.
    fn external(&self) -> SocketAddrV4;
    /// How long the router keeps it, or `None`: until it is removed.
    fn lifetime(&self) -> Option<Duration>;
    /// Asks the router for the same mapping again.
    fn renew(&mut self, deadline: Deadline) -> Result<(), MapError>;
    /// Removes it, as well as the router lets it be done by `deadline`.
    fn remove(&self, deadline: Deadline);
}

/// The thread that renews a lease, then removes it when told to stop.
pub(super) struct Keeper {
    /// Dropped to tell the thread to remove the mapping and end.
    stop: Option<Sender<()>>,
    removed: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub(super) fn start(lease: Box<dyn Lease>) -> Result<Keeper, MapError> {
        let (stop, stopped) = mpsc::channel();
        let (removed_tx, removed) = mpsc::channel();
        // Handed over through a slot, so that it can be taken back and
        // removed if the thread cannot start.
        let slot = Arc::new(Mutex::new(Some(lease)));
        let theirs = Arc::clone(&slot);
        let thread = thread::Builder::new()
            .name("port mapping".into())
            .spawn(move || {
                if let Some(lease) = take(&theirs) {
                    keep(lease, &stopped);
                }
                let _ = removed_tx.send(());
            });
        match thread {
            Ok(thread) => Ok(Keeper {
                stop: Some(stop),
                removed,
                thread: Some(thread),
            }),
            Err(cause) => {
                if let Some(lease) = take(&slot) {
                    lease.remove(Deadline::after(REMOVAL));
                }
                Err(MapError::Local(cause))
            }
        }
    }
}

fn take(slot: &Mutex<Option<Box<dyn Lease>>>) -> Option<Box<dyn Lease>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Renews `lease` at half its lifetime until `stop` says to stop, then
/// removes it.
fn keep(mut lease: Box<dyn Lease>, stop: &Receiver<()>) {
    let half = |lease: &dyn Lease| lease.lifetime().map(|l| (l / 2).max(RENEWAL_FLOOR));
    let mut wait = half(&*lease);
    loop {
        let stopped = match wait {
            Some(wait) => stop.recv_timeout(wait),
            None => stop.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if stopped != Err(RecvTimeoutError::Timeout) {
            break;
        }
        wait = match lease.renew(Deadline::after(RENEWAL)) {
            Ok(()) => half(&*lease),
            Err(_) => Some(RENEWAL_RETRY),
        };
    }
    lease.remove(Deadline::after(REMOVAL));
}

impl Drop for Keeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        // A thread still renewing, or a router slow to remove, is left to
        // finish on its own rather than hold up the program.
        if self.removed.recv_timeout(REMOVAL_WAIT) != Err(RecvTimeoutError::Timeout)
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}
