//! Stopping the chat for Ctrl-Z from the editor's own thread, so that
//! nothing is drawn between taking the screen's lines off and the stop.
//!
//! The line editor's own suspend sends SIGTSTP to the process group, which
//! the kernel may hand to another of our threads: the editor's thread then
//! runs on until that thread stops the process, and on a busy machine it
//! has drawn the prompt again by then, under the shell's `Stopped` line.
//! Raised on this thread instead, the stop takes it before `raise` returns.

use std::io::{self, Write};
use std::mem::MaybeUninit;

/// Turns bracketed paste off and on, as the editor does around its own
/// suspend: the shell must not get pastes wrapped in escapes.
const PASTE_OFF: &str = "\x1b[?2004l";
const PASTE_ON: &str = "\x1b[?2004h";

/// The terminal's modes as they were before the editor changed them, to
/// hand the terminal back in while stopped.
#[derive(Clone, Copy)]
pub struct Cooked(Option<libc::termios>);

impl Cooked {
    /// The modes of the terminal on standard input now (call before the
    /// editor first reads a line); none when it is not a terminal.
    pub fn now() -> Self {
        Self(modes())
    }

    /// Stops the chat as Ctrl-Z does, with the terminal in the modes it had
    /// before the editor, and puts the editor's modes back once it goes
    /// on (`fg`). Without modes to go back to, it does not stop, and says
    /// so: a chat stopped with its terminal in raw mode would leave the
    /// shell unusable.
    pub fn stop_here(&self) -> bool {
        let (Some(cooked), Some(raw)) = (self.0, modes()) else {
            return false;
        };
        let mut out = io::stdout();
        let _ = out
            .write_all(PASTE_OFF.as_bytes())
            .and_then(|()| out.flush());
        set_modes(&cooked);
        // SAFETY: `raise` has no memory effects; SIGTSTP's default action
        // stops the process, with this thread, before it returns.
        unsafe { libc::raise(libc::SIGTSTP) };
        set_modes(&raw);
        let _ = out
            .write_all(PASTE_ON.as_bytes())
            .and_then(|()| out.flush());
        true
    }
}

/// The modes of the terminal on standard input, if it is one.
fn modes() -> Option<libc::termios> {
    let mut modes = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: `tcgetattr` fills the termios it is given when it returns 0.
    let got = unsafe { libc::tcgetattr(libc::STDIN_FILENO, modes.as_mut_ptr()) };
    // SAFETY: filled, as checked.
    (got == 0).then(|| unsafe { modes.assume_init() })
}

/// Sets the modes of the terminal on standard input, once what was written
/// to it is out (as the editor does); a failure leaves them as they were.
fn set_modes(modes: &libc::termios) {
    // SAFETY: a valid termios, read by `tcsetattr` only.
    unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, modes) };
}
