//! The output sink: one line per event, written whole and flushed at once.
//!
//! Threads share one `Screen`, so lines from the reader and the writer never
//! interleave mid-line. Peer text goes through [`Screen::peer_line`], which
//! sanitises it; nothing else prints peer bytes. In interactive mode lines go
//! through the line editor's printer, which puts them above the input line,
//! each after the local time (`HH:MM`), as chat clients show it, and above
//! the live lines of running transfers (see [`crate::terminal::live`]).

use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;

use anstyle::{AnsiColor, Style};
use unicode_width::UnicodeWidthStr;

use crate::terminal::live::{LiveLines, Status};
use crate::terminal::wrap::wrap;
use crate::wire::sanitize;

/// Where finished lines go.
pub trait LineSink: Send {
    /// Shows `line` (without its newline); at once unless `more_coming`
    /// says another line follows right away, so a burst costs one write.
    fn put_line(&mut self, line: &str, more_coming: bool);
    /// Shows several lines, each ending in a newline.
    fn put_lines(&mut self, lines: &[u8], more_coming: bool) {
        let text = String::from_utf8_lossy(lines);
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            self.put_line(line, more_coming || lines.peek().is_some());
        }
    }
    /// Writes terminal control text as it is, outside any line.
    fn put_control(&mut self, _control: &str) {}
    /// Shows at once the lines held back for more.
    fn flush(&mut self) {}
    /// The terminal's size, columns and rows, for what must fit on it.
    fn size(&self) -> (usize, usize) {
        (80, 24)
    }
    /// Hears how many live lines are drawn above the input now.
    fn live_rows(&mut self, _rows: usize) {}
    /// Whether the live lines were taken off the screen by other means
    /// since they were drawn (Ctrl-Z): they are then not erased again.
    fn live_taken_off(&mut self) -> bool {
        false
    }
}

/// A plain writer: stdout in pipe mode, or a buffer in tests.
pub struct Plain<W: Write>(BufWriter<W>);

impl<W: Write> Plain<W> {
    pub fn new(out: W) -> Self {
        Self(BufWriter::with_capacity(64 * 1024, out))
    }
}

impl<W: Write + Send> LineSink for Plain<W> {
    fn put_line(&mut self, line: &str, more_coming: bool) {
        // If stdout is gone there is nobody left to tell; the conversation
        // itself goes on.
        let _ = self.0.write_all(line.as_bytes());
        let _ = self.0.write_all(b"\n");
        if !more_coming {
            let _ = self.0.flush();
        }
    }

    fn put_lines(&mut self, lines: &[u8], more_coming: bool) {
        let _ = self.0.write_all(lines);
        if !more_coming {
            let _ = self.0.flush();
        }
    }

    fn put_control(&mut self, control: &str) {
        let _ = self
            .0
            .write_all(control.as_bytes())
            .and_then(|()| self.0.flush());
    }

    fn flush(&mut self) {
        let _ = self.0.flush();
    }
}

/// How lines are dressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Colour the `[System]` tag and names.
    pub colour: bool,
    /// A person is watching a terminal: show progress, rates and our own
    /// messages; pipe mode shows only the plain event lines.
    pub interactive: bool,
}

impl Look {
    pub const PLAIN: Look = Look {
        colour: false,
        interactive: false,
    };
}

/// What the program's own lines start with.
const SYSTEM_TAG: &str = "[System]";

/// How far the rows of a wrapped line from the peer without a `[NAME]`
/// are indented (the original wire lets a peer send any line).
const UNNAMED_INDENT: usize = 2;

const SYSTEM: Style = AnsiColor::Yellow.on_default();
/// A warning nobody may miss: someone may pass for a contact.
const WARNING: Style = AnsiColor::Red.on_default().bold();
const PEER: Style = AnsiColor::Cyan.on_default().bold();
const OWN: Style = AnsiColor::Green.on_default().bold();

/// The time put before a line, as text.
pub type Clock = fn() -> String;

/// The local time as `HH:MM`.
fn local_time() -> String {
    chrono::Local::now().format("%H:%M").to_string()
}

pub struct Screen {
    out: Mutex<Output>,
    look: Look,
    /// Stamps each line with the time; interactive mode only, as pipe mode
    /// keeps the lines exactly as they are.
    clock: Option<Clock>,
}

impl Screen {
    pub fn new(sink: impl LineSink + 'static, look: Look) -> Self {
        let out = Output {
            sink: Box::new(sink),
            live: LiveLines::default(),
            held: String::new(),
            live_style: if look.colour { SYSTEM } else { Style::new() },
        };
        Self {
            out: Mutex::new(out),
            look,
            clock: look.interactive.then_some(local_time as Clock),
        }
    }

    /// The same screen with another clock, or none to show no time.
    pub fn with_clock(self, clock: Option<Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Plain lines on stdout, coloured only where `colour` says. Written
    /// through our own buffer on the raw descriptor: std's stdout flushes
    /// at every newline, a write per line where a burst needs one.
    pub fn stdout(colour: bool) -> Self {
        let out: Box<dyn Write + Send> = match io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => Box::new(File::from(fd)),
            Err(_) => Box::new(io::stdout()),
        };
        Self::new(
            Plain::new(out),
            Look {
                colour,
                interactive: false,
            },
        )
    }

    pub fn is_interactive(&self) -> bool {
        self.look.interactive
    }

    fn put(&self, line: &str, indent: usize, more_coming: bool) {
        self.put_block(line, &[], indent, more_coming);
    }

    /// Puts `first` after the time, and then `rest` as they are, at once.
    /// At a terminal, each is wrapped at its width by us rather than by
    /// the terminal (see [`wrap`]): every row after a line's first is
    /// indented, `indent` columns past the time, so that no row of peer
    /// text starts where a line does.
    fn put_block(&self, first: &str, rest: &[String], indent: usize, more_coming: bool) {
        let (first, stamp) = match self.clock {
            Some(clock) => {
                let time = clock();
                (format!("{time} {first}"), time.width() + 1)
            }
            None => (first.to_string(), 0),
        };
        let mut out = self.output();
        // The last column is left alone: a row that fills it leaves some
        // terminals at odds about where the next one starts.
        let columns = out.sink.size().0.saturating_sub(1);
        let lines = std::iter::once(&first).chain(rest);
        for (at, line) in lines.enumerate() {
            let more = more_coming || at < rest.len();
            if self.look.interactive {
                out.put_line(&wrap(line, columns, stamp + indent).join("\n"), more);
            } else {
                out.put_line(line, more);
            }
        }
    }

    fn output(&self) -> std::sync::MutexGuard<'_, Output> {
        self.out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shows at once the lines held back because more were coming, when
    /// what came instead was not a line.
    pub fn flush(&self) {
        let mut out = self.output();
        out.show_held();
        out.sink.flush();
    }

    /// Terminal control text (cursor movement), for interactive mode only.
    pub fn control(&self, control: &str) {
        if self.look.interactive {
            let mut out = self.output();
            out.show_held();
            out.sink.put_control(control);
        }
    }

    /// Shows `status` as the live line under `key` (interactive mode only):
    /// kept under the conversation, above the input line, fitted to the
    /// width each time it is drawn, and replaced in place by the next
    /// status under the same key. Made safe like a `[System]` line.
    pub fn live(&self, key: u64, status: Status) {
        if self.look.interactive {
            let status =
                status.map_text(|text| sanitize::for_terminal(text.as_bytes()).into_owned());
            let mut out = self.output();
            out.live.set(key, status);
            out.redraw();
        }
    }

    /// Draws the live lines again, as they are: after the chat went on
    /// from Ctrl-Z, above the input where the editor draws it now.
    pub fn redraw_live(&self) {
        let mut out = self.output();
        if out.live.active() {
            out.redraw();
        }
    }

    /// Takes the live line under `key` off the screen, if there is one.
    pub fn end_live(&self, key: u64) {
        let mut out = self.output();
        if out.live.remove(key) {
            out.redraw();
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.look.colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// A `[System]` line: what the program itself has to say. It often
    /// quotes the peer (file names, header fields), so it is sanitised too.
    pub fn system(&self, text: impl Display) {
        self.tagged(SYSTEM, text);
    }

    /// A `[System]` line that warns: painted apart from the others, so
    /// that it stands out among them.
    pub fn warning(&self, text: impl Display) {
        self.tagged(WARNING, text);
    }

    /// A `[System]` line painted in `style`.
    fn tagged(&self, style: Style, text: impl Display) {
        let line = format!("{SYSTEM_TAG} {text}");
        self.put(
            &self.paint(style, &sanitize::for_terminal(line.as_bytes())),
            SYSTEM_TAG.len() + 1,
            false,
        );
    }

    /// A line of text from the peer, made safe for the terminal. A leading
    /// `[NAME]` is coloured as the peer's, which also sets it apart from our
    /// own `[System]` lines when the peer imitates them. `more_coming` holds
    /// the line back for the next one, which must follow at once.
    pub fn peer_line(&self, raw: &[u8], more_coming: bool) {
        let text = sanitize::for_terminal(raw);
        match split_name(&text) {
            Some((name, rest)) => {
                let line = format!("{}{rest}", self.paint(PEER, name));
                self.put(&line, name.width() + 1, more_coming);
            }
            None => self.put(&text, UNNAMED_INDENT, more_coming),
        }
    }

    /// Whether [`Screen::plain_peer_lines`] may be used: lines are shown as
    /// they are, without colour, time or wrapping.
    pub fn shows_plain_lines(&self) -> bool {
        !self.look.colour && self.clock.is_none() && !self.look.interactive
    }

    /// Several lines of peer text at once, each already checked with
    /// [`sanitize::is_plain`] (printable ASCII, which needs no escaping),
    /// each ending in a newline.
    pub fn plain_peer_lines(&self, lines: &[u8], more_coming: bool) {
        debug_assert!(lines.split(|&b| b == b'\n').all(sanitize::is_plain));
        let mut out = self.output();
        if out.live.active() {
            for line in String::from_utf8_lossy(lines).lines() {
                out.put_line(line, true);
            }
            if !more_coming {
                out.show_held();
            }
        } else {
            out.sink.put_lines(lines, more_coming);
        }
    }

    /// Our own message, shown back to us in interactive mode only: in pipe
    /// mode the output carries nothing but the peer's side.
    pub fn own_message(&self, name: &str, text: &str) {
        if self.look.interactive {
            self.message(OWN, name, text, false);
        }
    }

    /// A message from `name` (the peer, or a member of its room): `[NAME]
    /// text`, made safe for the terminal. A text of several lines shows
    /// its first after the name and each further one indented under it,
    /// so that no line of it can pass for a line of its own (a `[System]`
    /// line, another's message), whatever it holds. `more_coming` holds
    /// the lines back for the next ones, which must follow at once.
    pub fn peer_message(&self, name: &str, text: &str, more_coming: bool) {
        if text.contains('\n') {
            self.message(PEER, name, text, more_coming);
        } else {
            // The usual case, as one line, the way the original wire's are.
            self.peer_line(format!("[{name}] {text}").as_bytes(), more_coming);
        }
    }

    fn message(&self, style: Style, name: &str, text: &str, more_coming: bool) {
        let tag = format!("[{}]", sanitize::for_terminal(name.as_bytes()));
        let stamp = self.clock.map_or(0, |clock| clock().width() + 1);
        let indent = " ".repeat(stamp + tag.width() + 1);
        let mut lines = text.split('\n');
        let first = sanitize::for_terminal(lines.next().unwrap_or_default().as_bytes());
        let first = format!("{} {first}", self.paint(style, &tag));
        let rest: Vec<String> = lines
            .map(|line| format!("{indent}{}", sanitize::for_terminal(line.as_bytes())))
            .collect();
        self.put_block(&first, &rest, tag.width() + 1, more_coming);
    }
}

/// The sink and what is drawn through it besides whole lines.
struct Output {
    sink: Box<dyn LineSink>,
    live: LiveLines,
    /// Lines held back for more while live lines are shown: they are drawn
    /// together with the live lines again after them.
    held: String,
    live_style: Style,
}

impl Output {
    fn put_line(&mut self, line: &str, more_coming: bool) {
        if !self.live.active() {
            self.sink.put_line(line, more_coming);
            return;
        }
        self.held.push_str(line);
        self.held.push('\n');
        if !more_coming {
            self.redraw();
        }
    }

    fn show_held(&mut self) {
        if !self.held.is_empty() {
            self.redraw();
        }
    }

    /// Draws the lines held back, and the live lines again below them.
    fn redraw(&mut self) {
        if self.sink.live_taken_off() {
            self.live.forget_drawn();
        }
        let above = std::mem::take(&mut self.held);
        let text = self.live.redraw(&above, self.sink.size(), self.live_style);
        if !text.is_empty() {
            self.sink.put_control(&text);
        }
        self.sink.live_rows(self.live.rows());
    }
}

/// Splits `[NAME] rest` into `[NAME]` and ` rest`.
fn split_name(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with('[') {
        return None;
    }
    let end = line.find("] ")? + 1;
    Some(line.split_at(end))
}

#[cfg(test)]
pub mod testing {
    //! A screen whose lines a test can read back.

    use super::{Clock, LineSink, Look, Plain, Screen};
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

    /// A screen dressed as `look` says, without the time of day, so that
    /// its lines read the same at any hour.
    pub fn captured_with(look: Look) -> (Screen, Captured) {
        captured_at(look, None)
    }

    /// A screen dressed as `look` says, its lines stamped by `clock`.
    pub fn captured_at(look: Look, clock: Option<Clock>) -> (Screen, Captured) {
        let sink = Captured::default();
        let screen = Screen::new(Plain::new(sink.clone()), look).with_clock(clock);
        (screen, sink)
    }

    /// A terminal of `columns` for a screen dressed as `look` says, its
    /// lines stamped by `clock`.
    pub fn captured_wide(look: Look, clock: Option<Clock>, columns: usize) -> (Screen, Captured) {
        let sink = Captured::default();
        let terminal = Sized(Plain::new(sink.clone()), columns);
        (Screen::new(terminal, look).with_clock(clock), sink)
    }

    struct Sized(Plain<Captured>, usize);

    impl LineSink for Sized {
        fn put_line(&mut self, line: &str, more_coming: bool) {
            self.0.put_line(line, more_coming);
        }

        fn put_control(&mut self, control: &str) {
            self.0.put_control(control);
        }

        fn size(&self) -> (usize, usize) {
            (self.1, 24)
        }
    }

    pub fn captured() -> (Screen, Captured) {
        captured_with(Look::PLAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{captured, captured_at, captured_with};
    use super::*;

    const INTERACTIVE: Look = Look {
        colour: false,
        interactive: true,
    };

    fn noon() -> String {
        "12:00".to_string()
    }

    #[test]
    fn peer_text_is_sanitised_and_system_lines_are_tagged() {
        let (screen, sink) = captured();
        screen.peer_line(b"[X] \x1b[2Jgotcha", false);
        screen.system("Peer disconnected.");
        screen.own_message("me", "not shown in pipe mode");
        screen.control("\x1b[1A");
        assert_eq!(
            sink.lines(),
            ["[X] \\x1b[2Jgotcha", "[System] Peer disconnected."]
        );
    }

    #[test]
    fn colour_marks_names_and_system_lines() {
        let (screen, sink) = captured_with(Look {
            colour: true,
            interactive: true,
        });
        screen.system("hello");
        screen.peer_line(b"[I056] hi \x1b[31m", true);
        screen.peer_line(b"no name here", false);
        screen.own_message("I049", "mine");
        let lines = sink.lines();
        assert_eq!(lines[0], format!("{SYSTEM}[System] hello{SYSTEM:#}"));
        assert_eq!(lines[1], format!("{PEER}[I056]{PEER:#} hi \\x1b[31m"));
        assert_eq!(lines[2], "no name here");
        assert_eq!(lines[3], format!("{OWN}[I049]{OWN:#} mine"));
    }

    #[test]
    fn interactive_lines_start_with_the_time() {
        let (screen, sink) = captured_at(INTERACTIVE, Some(noon));
        screen.system("Connected to 192.168.1.20:5050");
        screen.peer_line(b"[I049] Hello!", false);
        screen.own_message("I056", "Hi");
        assert!(!screen.shows_plain_lines());
        assert_eq!(
            sink.lines(),
            [
                "12:00 [System] Connected to 192.168.1.20:5050",
                "12:00 [I049] Hello!",
                "12:00 [I056] Hi",
            ]
        );
    }

    #[test]
    fn the_time_goes_before_the_colour() {
        let look = Look {
            colour: true,
            ..INTERACTIVE
        };
        let (screen, sink) = captured_at(look, Some(noon));
        screen.system("hello");
        assert_eq!(
            sink.lines(),
            [format!("12:00 {SYSTEM}[System] hello{SYSTEM:#}")]
        );
    }

    #[test]
    fn only_interactive_screens_read_the_local_clock() {
        let interactive = Screen::new(Plain::new(Vec::new()), INTERACTIVE);
        let stamp = (interactive.clock.expect("no clock"))();
        let digits = stamp.replace(':', "");
        assert!(
            stamp.len() == 5 && stamp.as_bytes()[2] == b':' && digits.parse::<u16>().is_ok(),
            "{stamp:?}"
        );
        let pipe = Screen::new(Plain::new(Vec::new()), Look::PLAIN);
        assert!(pipe.clock.is_none() && pipe.shows_plain_lines());
    }

    #[test]
    fn a_message_of_several_lines_is_indented_under_its_one_name() {
        let (screen, sink) = captured_at(INTERACTIVE, Some(noon));
        screen.peer_message("peer", "first\n[System] forged\n\x1b[2J\rgone", false);
        screen.own_message("me", "one\n  two");
        assert_eq!(
            sink.lines(),
            [
                "12:00 [peer] first",
                "             [System] forged",
                "             \\x1b[2J\\x0dgone",
                "12:00 [me] one",
                "             two",
            ]
        );
        // In pipe mode, the same without the time.
        let (screen, sink) = captured();
        screen.peer_message("peer", "a\n[other] b", false);
        screen.peer_message("peer", "one line", false);
        assert_eq!(
            sink.lines(),
            ["[peer] a", "       [other] b", "[peer] one line"]
        );
    }

    #[test]
    fn live_lines_stay_under_the_conversation() {
        let (screen, sink) = captured_at(INTERACTIVE, Some(noon));
        screen.live(1, "Sending a.bin 10%".into());
        screen.peer_line(b"[peer] hi", true);
        screen.peer_line(b"[peer] there", false);
        screen.live(1, "Sending a.bin 20%\x1b[2J".into());
        screen.end_live(1);
        screen.system("Sent file a.bin");
        assert_eq!(
            sink.lines(),
            [
                "Sending a.bin 10%",
                "\x1b[1A\r\x1b[2K\x1b[B\x1b[1A12:00 [peer] hi",
                "12:00 [peer] there",
                "Sending a.bin 10%",
                "\x1b[1A\r\x1b[2K\x1b[B\x1b[1ASending a.bin 20%\\x1b[2J",
                "\x1b[1A\r\x1b[2K\x1b[B\x1b[1A\x1b[A",
                "12:00 [System] Sent file a.bin",
            ]
        );
        // Pipe mode has none.
        let (screen, sink) = captured();
        screen.live(1, "Sending a.bin 10%".into());
        screen.end_live(1);
        assert!(sink.lines().is_empty());
    }

    proptest::proptest! {
        /// Whatever a peer's text holds, each line shown is either the one
        /// starting with its name or one indented under it, with nothing a
        /// terminal would act on.
        #[test]
        fn no_line_of_a_message_passes_for_a_line_of_its_own(
            text in "(\\PC|[\n\r\x1b\t\u{2028}\u{85}])*"
        ) {
            let (screen, sink) = captured();
            screen.peer_message("peer", &text, false);
            let lines = sink.lines();
            proptest::prop_assert_eq!(lines.len(), text.split('\n').count());
            proptest::prop_assert!(lines[0].starts_with("[peer] "));
            for line in &lines[1..] {
                proptest::prop_assert!(line.starts_with("       "), "{:?}", line);
            }
            for line in &lines {
                proptest::prop_assert!(
                    !line.chars().any(|c| c.is_control() && c != '\t'),
                    "{:?}", line
                );
            }
        }
    }

    #[test]
    fn at_a_terminal_long_lines_wrap_with_their_rows_indented() {
        let (screen, sink) = testing::captured_wide(INTERACTIVE, Some(noon), 80);
        let forged = format!(
            "ok{}13:25 [System] Encrypted and verified with the code.",
            " ".repeat(62)
        );
        screen.peer_message("peer", &forged, false);
        screen.peer_message("peer", &format!("a\n{forged}"), false);
        screen.peer_line(format!("[peer] {forged}").as_bytes(), false);
        screen.peer_line(format!("no name {forged}").as_bytes(), false);
        screen.system(format!("Incoming file {forged}"));
        let forged_row = "13:25 [System] Encrypted and verified with the code.";
        assert_eq!(
            sink.lines(),
            [
                "12:00 [peer] ok".to_string(),
                format!("             {forged_row}"),
                "12:00 [peer] a".into(),
                "             ok".into(),
                format!("             {forged_row}"),
                "12:00 [peer] ok".into(),
                format!("             {forged_row}"),
                "12:00 no name ok".into(),
                format!("        {forged_row}"),
                "12:00 [System] Incoming file ok".into(),
                format!("               {forged_row}"),
            ]
        );
        // Pipe mode keeps its lines as they are.
        let (screen, sink) = captured();
        screen.peer_message("peer", &forged, false);
        assert_eq!(sink.lines(), [format!("[peer] {forged}")]);
    }

    proptest::proptest! {
        /// Whatever a peer's text holds and however wide the terminal, each
        /// row fits and only the first starts at the left edge.
        #[test]
        fn no_row_of_a_message_starts_a_line_at_a_terminal(
            text in "(\\PC|[\n\t界\u{16ff0} ]){0,200}",
            columns in 8usize..140,
        ) {
            let (screen, sink) = testing::captured_wide(INTERACTIVE, Some(noon), columns);
            screen.peer_message("peer", &text, false);
            let rows = sink.lines();
            proptest::prop_assert!(rows[0].starts_with("12:00"));
            for row in &rows[1..] {
                proptest::prop_assert!(row.starts_with(' ') || row.is_empty(), "{:?}", rows);
            }
            for row in &rows {
                if !row.contains('\t') {
                    proptest::prop_assert!(
                        crate::terminal::wrap::cautious_width(row) < columns,
                        "{:?} in {}", row, columns
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_split_off_only_when_bracketed() {
        assert_eq!(split_name("[a b] c"), Some(("[a b]", " c")));
        assert_eq!(split_name("[System] x"), Some(("[System]", " x")));
        assert_eq!(split_name("a [b] c"), None);
        assert_eq!(split_name("[unclosed"), None);
    }
}
