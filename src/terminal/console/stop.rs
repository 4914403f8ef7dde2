//! Stopping the line editor from the session while it waits for a key,
//! and what Ctrl-C does once it has stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::LineEditor;
use crate::terminal::screen::Screen;

/// How long to keep asking the line editor to stop before giving up on it.
const STOP_ATTEMPTS: u32 = 40;
const STOP_INTERVAL: Duration = Duration::from_millis(25);

/// Exit code for Ctrl-C once the editor has stopped: the shell's convention
/// for "ended by SIGINT".
const INTERRUPTED_EXIT: i32 = 130;

/// Lets the session stop an editor that is waiting for a key: rustyline
/// ends `readline` when a SIGINT arrives, so one is raised until the editor
/// thread says it is done.
///
/// While the editor runs, Ctrl-C is a key to it, and a SIGINT between two
/// of its lines must not kill the process. Once it has stopped, Ctrl-C is
/// what it is anywhere else: the way out, for instance while the last
/// transfers finish before leaving.
pub struct EditorStop {
    done: Receiver<()>,
    /// Tells the editor that the interruption is this stop.
    stopping: Arc<AtomicBool>,
    /// Set once the editor has stopped: a SIGINT then ends the process.
    sigint_exits: Arc<AtomicBool>,
}

impl EditorStop {
    /// A stopper for `editor`, and the sender the editor thread drops when
    /// it ends.
    pub fn new(editor: &LineEditor) -> (Self, Sender<()>) {
        let (tx, rx) = mpsc::channel();
        let sigint_exits = Arc::new(AtomicBool::new(false));
        // If this fails, SIGINT keeps its default: stopping the editor then
        // ends the process, which is the user's intent anyway.
        let _ = signal_hook::flag::register_conditional_shutdown(
            signal_hook::consts::SIGINT,
            INTERRUPTED_EXIT,
            sigint_exits.clone(),
        );
        let stop = Self {
            done: rx,
            stopping: editor.stopping.clone(),
            sigint_exits,
        };
        (stop, tx)
    }

    pub fn stop(&self, screen: &Screen) {
        self.stopping.store(true, Ordering::SeqCst);
        // A line handed to the printer may still wait in the editor's queue,
        // and an interrupted editor drops it. The printer takes one line at
        // a time, so a further one returns only once the earlier line is
        // taken for printing. Up a row and down again: nothing to see.
        screen.control("\x1b[A\n");
        for _ in 0..STOP_ATTEMPTS {
            let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
            match self.done.recv_timeout(STOP_INTERVAL) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => break,
            }
        }
        self.sigint_exits.store(true, Ordering::SeqCst);
    }
}
