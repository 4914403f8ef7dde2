//! The editor's own bindings for Ctrl-C and Ctrl-Z.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustyline::{Cmd, ConditionalEventHandler, Event, EventContext, Movement, RepeatCount};

use super::layout::{columns, row_after, rows_taken};
use crate::terminal::suspend::Cooked;

/// Ctrl-C clears a half-typed line; on an empty one it is the editor's
/// interrupt, which the session may take as leaving.
pub(super) struct ClearOrLeave;

impl ConditionalEventHandler for ClearOrLeave {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        if ctx.line().is_empty() {
            None
        } else {
            Some(Cmd::Kill(Movement::WholeLine))
        }
    }
}

/// Ctrl-Z stops the chat as in any program (see [`Cooked::stop_here`]), after
/// taking the live lines and the input line off the screen: the shell's
/// lines go where they were, and once the chat goes on (`fg`) the live
/// lines are drawn again above the input, where the editor draws it then,
/// instead of staying behind as stale copies. Written straight to the
/// terminal, from the editor's thread, for the reason [`wipe`] is.
///
/// [`wipe`]: super::layout::wipe
pub(super) struct TakeLiveOff {
    /// How many live lines are drawn above the input, kept by the
    /// [`Printer`].
    ///
    /// [`Printer`]: super::printer::Printer
    pub(super) live_rows: Arc<AtomicUsize>,
    /// Tells the screen that they are off, so it does not erase them again.
    pub(super) taken_off: Arc<AtomicBool>,
    /// The terminal's modes to stop in.
    pub(super) cooked: Cooked,
}

impl ConditionalEventHandler for TakeLiveOff {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        let rows = self.live_rows.load(Ordering::Relaxed);
        if rows > 0 {
            let (line, columns) = (ctx.line(), columns());
            let up = rows + row_after(&line[..ctx.pos()], columns);
            let erase = take_off(up, rows + rows_taken(line, columns));
            let mut out = io::stdout();
            let _ = out.write_all(erase.as_bytes()).and_then(|()| out.flush());
            self.taken_off.store(true, Ordering::SeqCst);
        }
        // Stopped here, nothing is drawn before the stop; the editor draws
        // its line again once the chat goes on.
        match self.cooked.stop_here() {
            true => Some(Cmd::Repaint),
            false => Some(Cmd::Suspend),
        }
    }
}

/// Goes up `up` rows, clears `rows` rows from there down, one by one, and
/// goes back to the first of them.
fn take_off(up: usize, rows: usize) -> String {
    let clear = vec!["\x1b[2K"; rows].join("\x1b[B");
    let back = match rows {
        0 | 1 => String::new(),
        n => format!("\x1b[{}A", n - 1),
    };
    format!("\x1b[{up}A\r{clear}{back}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_z_takes_the_live_lines_and_the_input_off_row_by_row() {
        // Two live lines above an input of one row, the cursor on it.
        assert_eq!(
            take_off(2, 3),
            "\x1b[2A\r\x1b[2K\x1b[B\x1b[2K\x1b[B\x1b[2K\x1b[2A"
        );
        assert_eq!(take_off(1, 1), "\x1b[1A\r\x1b[2K");
    }
}
