//! Leaving cleanly when asked by a signal: SIGTERM, SIGHUP, and SIGINT in
//! pipe mode end the chat the way `/quit` does (goodbye sent, unfinished
//! downloads removed). A second signal of the same kind ends the process at
//! once, for when the clean way takes too long. A file size limit
//! (`ulimit -f`) must not kill the chat either.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
use signal_hook::iterator::{Handle, Signals};

/// The exit code after a second signal of `kind`: the shell's convention
/// for "killed by" it, 128 + its number (130 for SIGINT, 143 for SIGTERM).
fn forced_exit(kind: i32) -> i32 {
    128 + kind
}

/// Keeps SIGXFSZ from ending the process when a download reaches the file
/// size limit: the write then fails with `EFBIG`, which is reported like a
/// full disk while the conversation goes on.
pub fn ignore_file_size_limit() -> Result<()> {
    // A handler that only sets a flag nobody reads: the signal is then
    // harmless, and unlike SIG_IGN it is not passed on to programs we run.
    signal_hook::flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false)))
        .context("cannot handle the file size limit signal")?;
    Ok(())
}

/// Watches for the signals that ask us to leave, until dropped.
pub struct SignalWatch {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalWatch {
    /// Calls `on_signal` for each leave-asking signal. In interactive mode
    /// the line editor turns Ctrl-C into a key of its own, and SIGINT is how
    /// the editor is stopped, so `include_sigint` is false there.
    pub fn start(include_sigint: bool, on_signal: impl Fn() + Send + 'static) -> Result<Self> {
        let kinds: &[i32] = if include_sigint {
            &[SIGTERM, SIGHUP, SIGINT]
        } else {
            &[SIGTERM, SIGHUP]
        };
        for &kind in kinds {
            // Registered first, so it sees the flag as the earlier signal
            // left it: set means this is the second one.
            let asked = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register_conditional_shutdown(
                kind,
                forced_exit(kind),
                asked.clone(),
            )
            .context("cannot watch for signals")?;
            signal_hook::flag::register(kind, asked).context("cannot watch for signals")?;
        }
        let mut signals = Signals::new(kinds).context("cannot watch for signals")?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    on_signal();
                }
            })
            .context("cannot start the signal thread")?;
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
