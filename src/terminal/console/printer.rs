//! Printing above the line being typed, through the editor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustyline::ExternalPrinter;

use super::layout::{columns, rows};
use crate::terminal::screen::LineSink;

/// Prints through the editor, above the line being typed.
pub(super) struct Printer {
    pub(super) editor: Box<dyn ExternalPrinter + Send>,
    /// How many live lines are drawn above the input, for [`ChatHelper`].
    ///
    /// [`ChatHelper`]: super::completion::ChatHelper
    pub(super) live_rows: Arc<AtomicUsize>,
    /// The width the editor last drew its input line at, kept by
    /// [`ChatHelper`]; 0 before the first.
    ///
    /// [`ChatHelper`]: super::completion::ChatHelper
    pub(super) drawn_at: Arc<AtomicUsize>,
    /// Set when Ctrl-Z took the live lines off the screen (see
    /// [`TakeLiveOff`]).
    ///
    /// [`TakeLiveOff`]: super::keys::TakeLiveOff
    pub(super) live_taken_off: Arc<AtomicBool>,
}

impl Printer {
    /// Hands `text` to the editor, after any resize it has not seen yet.
    ///
    /// To print, the editor first erases its input line by the rows it took
    /// at the width the editor knows. After a resize that width is stale
    /// until the editor handles the SIGWINCH, and the kernel hands that
    /// signal to whichever thread of ours it picks, whose handler may run
    /// only after this text reached the editor: the erase then took a line
    /// of the conversation with it on a terminal that re-wrapped the input.
    /// Raised here, the signal's handler runs on this thread before `raise`
    /// returns, and the editor takes a pending resize before a line.
    fn print(&mut self, text: String) {
        let drawn = self.drawn_at.load(Ordering::Relaxed);
        if drawn != 0 && drawn != columns() {
            let _ = signal_hook::low_level::raise(signal_hook::consts::SIGWINCH);
        }
        let _ = self.editor.print(text);
    }
}

impl LineSink for Printer {
    fn put_line(&mut self, line: &str, _more_coming: bool) {
        self.print(format!("{line}\n"));
    }

    fn put_control(&mut self, control: &str) {
        self.print(control.to_string());
    }

    fn size(&self) -> (usize, usize) {
        (columns(), rows())
    }

    fn live_rows(&mut self, rows: usize) {
        self.live_rows.store(rows, Ordering::Relaxed);
    }

    fn live_taken_off(&mut self) -> bool {
        self.live_taken_off.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// Stands for the editor's printer: notes, for each text handed to it,
    /// whether a SIGWINCH had been handled by then.
    struct Recorder {
        resized: Arc<AtomicBool>,
        seen: std::sync::mpsc::Sender<(String, bool)>,
    }

    impl ExternalPrinter for Recorder {
        fn print(&mut self, msg: String) -> rustyline::Result<()> {
            let resized = self.resized.swap(false, Ordering::SeqCst);
            let _ = self.seen.send((msg, resized));
            Ok(())
        }
    }

    #[test]
    fn a_resize_the_editor_has_not_drawn_for_reaches_it_before_the_line() {
        let resized = Arc::new(AtomicBool::new(false));
        let hook =
            signal_hook::flag::register(signal_hook::consts::SIGWINCH, resized.clone()).unwrap();
        let (seen, got) = mpsc::channel();
        let drawn_at = Arc::new(AtomicUsize::new(0));
        let mut printer = Printer {
            editor: Box::new(Recorder {
                resized: resized.clone(),
                seen,
            }),
            drawn_at: drawn_at.clone(),
            live_rows: Arc::default(),
            live_taken_off: Arc::default(),
        };
        // Nothing drawn yet, then drawn at the width the terminal has now.
        printer.put_line("before any input", false);
        drawn_at.store(columns(), Ordering::Relaxed);
        printer.put_line("same width", false);
        // Drawn at another width: the signal's handler ran before the line
        // was handed over.
        drawn_at.store(columns() + 1, Ordering::Relaxed);
        printer.put_line("after a resize", false);
        printer.put_control("\x1b[A\n");
        signal_hook::low_level::unregister(hook);
        let got: Vec<_> = got.try_iter().collect();
        assert_eq!(
            got,
            [
                ("before any input\n".to_string(), false),
                ("same width\n".to_string(), false),
                ("after a resize\n".to_string(), true),
                ("\x1b[A\n".to_string(), true),
            ]
        );
    }
}
