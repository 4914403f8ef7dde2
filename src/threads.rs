//! Starting a named thread and joining it, for the conversation's threads
//! and the room's alike: a thread that cannot start, or that panicked, is
//! an error the program reports, not a crash.

use std::thread::{self, JoinHandle};

use anyhow::{Context, Result, anyhow};

/// Starts `work` on a thread called `name`.
pub(crate) fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .with_context(|| format!("cannot start the {name} thread"))
}

/// Waits for the thread to end; one that panicked is an internal error.
pub(crate) fn join(handle: JoinHandle<()>) -> Result<()> {
    let name = handle.thread().name().unwrap_or("worker").to_string();
    handle
        .join()
        .map_err(|_| anyhow!("internal error: the {name} thread failed"))
}
