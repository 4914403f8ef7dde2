//! What a chat prints, read line by line as it comes, each line stamped
//! with when it was read.

use std::io::BufRead;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Each line of `output`, stamped as soon as it is read, until it ends.
pub fn stamped_lines(
    mut output: impl BufRead + Send + 'static,
) -> (mpsc::Receiver<(Instant, String)>, thread::JoinHandle<()>) {
    let (tell, lines) = mpsc::channel();
    let reading = thread::spawn(move || {
        let mut line = String::new();
        while output.read_line(&mut line).is_ok_and(|n| n > 0) {
            // Once nobody listens, the rest is only drained.
            let _ = tell.send((Instant::now(), line.trim_end().to_string()));
            line.clear();
        }
    });
    (lines, reading)
}

/// A chat's output as it is read, every line kept to show when something
/// goes wrong.
pub struct Said {
    who: &'static str,
    lines: mpsc::Receiver<(Instant, String)>,
    reading: thread::JoinHandle<()>,
    text: String,
}

impl Said {
    pub fn follow(output: impl BufRead + Send + 'static, who: &'static str) -> Self {
        let (lines, reading) = stamped_lines(output);
        Self {
            who,
            lines,
            reading,
            text: String::new(),
        }
    }

    /// When the next line beginning with `start` was read; no such line
    /// within `within` is a failure.
    pub fn until(&mut self, start: &str, within: Duration) -> Instant {
        self.until_line(start, within).0
    }

    /// [`Said::until`], with the line.
    pub fn until_line(&mut self, start: &str, within: Duration) -> (Instant, String) {
        let deadline = Instant::now() + within;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(wait) {
                Ok((at, line)) => {
                    self.text += &line;
                    self.text.push('\n');
                    if line.starts_with(start) {
                        return (at, line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} did not say `{start}` within {} s; it said:\n{}",
                    self.who,
                    within.as_secs(),
                    self.text
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{} ended before saying `{start}`; it said:\n{}",
                    self.who, self.text
                ),
            }
        }
    }

    /// All that was said, once the output has ended.
    pub fn finish(mut self) -> String {
        while let Ok((_, line)) = self.lines.recv() {
            self.text += &line;
            self.text.push('\n');
        }
        let _ = self.reading.join();
        self.text
    }
}
