//! Running part of the test process inside a network namespace: a thread
//! moves there with `setns` (a namespace belongs to a thread, not to the
//! process), and the sockets it makes stay in that namespace whichever
//! thread uses them afterwards.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::thread;

/// Moves the calling thread into the network namespace `netns` (a name
/// made with `ip netns add`), for good.
pub fn enter(netns: &str) {
    let file = File::open(format!("/run/netns/{netns}"))
        .unwrap_or_else(|e| panic!("cannot open namespace {netns}: {e}"));
    // SAFETY: setns on a namespace file held open for the call; only the
    // calling thread moves.
    let moved = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        moved,
        0,
        "cannot enter namespace {netns}: {}",
        std::io::Error::last_os_error()
    );
}

/// Runs `work` on a thread of its own inside `netns` (or where the test
/// runs, for `None`) and returns what it returns; a panic in it goes on
/// in the caller.
pub fn run_in<T: Send>(netns: Option<&str>, work: impl FnOnce() -> T + Send) -> T {
    thread::scope(|scope| {
        let worker = scope.spawn(|| {
            if let Some(netns) = netns {
                enter(netns);
            }
            work()
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
