//! The output sink: one line per event, written whole and flushed at once.
//!
//! Threads share one `Screen`, so lines from the reader and the writer never
//! interleave mid-line. Peer text goes through [`Screen::peer_line`], which
//! sanitises it; nothing else prints peer bytes.

use std::fmt::Display;
use std::io::{self, Write};
use std::sync::Mutex;

use crate::sanitize;

pub struct Screen {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Screen {
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(out)),
        }
    }

    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Prints one line and flushes it.
    pub fn line(&self, text: &str) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // If stdout is gone there is nobody left to tell; the conversation
        // itself goes on.
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }

    /// A `[System]` line: what the program itself has to say.
    pub fn system(&self, text: impl Display) {
        self.line(&format!("[System] {text}"));
    }

    /// A line of text from the peer, made safe for the terminal.
    pub fn peer_line(&self, raw: &[u8]) {
        self.line(&sanitize::for_terminal(raw));
    }
}

#[cfg(test)]
pub mod testing {
    //! A screen whose lines a test can read back.

    use super::Screen;
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn lines(&self) -> Vec<String> {
            String::from_utf8_lossy(&self.0.lock().unwrap())
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    pub fn captured() -> (Screen, Captured) {
        let sink = Captured::default();
        (Screen::new(sink.clone()), sink)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::captured;

    #[test]
    fn peer_text_is_sanitised_and_system_lines_are_tagged() {
        let (screen, sink) = captured();
        screen.peer_line(b"[X] \x1b[2Jgotcha");
        screen.system("Peer disconnected.");
        assert_eq!(
            sink.lines(),
            ["[X] \\x1b[2Jgotcha", "[System] Peer disconnected."]
        );
    }
}
