//! The user's side of the terminal: choosing interactive or pipe mode, the
//! line editor that keeps half-typed input intact while other lines arrive,
//! and handing the terminal back as it was found.
//!
//! Interactive mode needs both stdin and stdout to be terminals: the editor
//! writes escape codes to stdout even when only stdin is one.

use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Config, Editor, Event, EventContext,
    EventHandler, ExternalPrinter, Helper, KeyEvent, Movement, RepeatCount,
};
use unicode_width::UnicodeWidthChar;

use crate::terminal::screen::{LineSink, Look, Screen};
use crate::terminal::suspend::Cooked;

pub const PROMPT: &str = "> ";

/// How long to keep asking the line editor to stop before giving up on it.
const STOP_ATTEMPTS: u32 = 40;
const STOP_INTERVAL: Duration = Duration::from_millis(25);

/// Exit code for Ctrl-C once the editor has stopped: the shell's convention
/// for "ended by SIGINT".
const INTERRUPTED_EXIT: i32 = 130;

/// Where the user's lines come from.
pub enum Input {
    /// Lines from a pipe or file, read as they come.
    Lines(BufReader<Box<dyn Read + Send>>),
    /// The interactive line editor.
    Editor(Box<LineEditor>),
}

impl Input {
    /// Lines from `source`, read through a buffer large enough that piped
    /// input arrives in big batches.
    pub fn lines(source: impl Read + Send + 'static) -> Self {
        let source: Box<dyn Read + Send> = Box::new(source);
        Self::Lines(BufReader::with_capacity(64 * 1024, source))
    }
}

/// The terminal, set up for one conversation.
pub struct Console {
    pub input: Input,
    pub screen: Arc<Screen>,
}

impl Console {
    /// Interactive mode when stdin and stdout are both terminals (and the
    /// terminal can be driven; `TERM=dumb` cannot), else pipe mode. Colour
    /// follows `NO_COLOR`, `CLICOLOR_FORCE` and whether stdout is a terminal.
    /// `commands` are the command names Tab completes (`/send`, ...).
    pub fn open(commands: Vec<&'static str>) -> Self {
        let colour = anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never;
        if io::stdin().is_terminal()
            && io::stdout().is_terminal()
            && let Ok((editor, printer)) = LineEditor::new(commands)
        {
            let look = Look {
                colour,
                interactive: true,
            };
            let screen = Arc::new(Screen::new(printer, look));
            let mut editor = Box::new(editor);
            editor.attach(&screen);
            return Self {
                screen,
                input: Input::Editor(editor),
            };
        }
        Self {
            screen: Arc::new(Screen::stdout(colour)),
            input: Input::lines(io::stdin()),
        }
    }
}

/// Prints through the editor, above the line being typed.
struct Printer {
    editor: Box<dyn ExternalPrinter + Send>,
    /// How many live lines are drawn above the input, for [`ChatHelper`].
    live_rows: Arc<AtomicUsize>,
    /// The width the editor last drew its input line at, kept by
    /// [`ChatHelper`]; 0 before the first.
    drawn_at: Arc<AtomicUsize>,
    /// Set when Ctrl-Z took the live lines off the screen (see
    /// [`TakeLiveOff`]).
    live_taken_off: Arc<AtomicBool>,
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

/// What the user did at the prompt.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// A line, ended with Enter. Only a paste (or Ctrl-V Ctrl-J) puts a
    /// line break inside one.
    Line(String),
    /// Ctrl-C on an empty line.
    Interrupt,
    /// Ctrl-D on an empty line.
    EndOfInput,
}

/// rustyline's editor with our completion and key bindings.
pub struct LineEditor {
    editor: Editor<ChatHelper, DefaultHistory>,
    /// Set once [`EditorStop::stop`] asks the editor to end: an interrupted
    /// line is then the stop, not the user's Ctrl-C.
    stopping: Arc<AtomicBool>,
    /// Lists of candidates for Tab that go above the input (see
    /// [`ChatHelper::list_above`]), until [`LineEditor::attach`] hands them
    /// to the thread that shows them.
    lists: Option<Receiver<String>>,
    showing_lists: Option<std::thread::JoinHandle<()>>,
    /// The thread that draws the live lines again when the chat goes on
    /// after Ctrl-Z, and what ends it.
    resumes: Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)>,
}

impl LineEditor {
    /// The editor, and the printer that writes above its input line.
    fn new(commands: Vec<&'static str>) -> rustyline::Result<(Self, Printer)> {
        // Tab completes as far as the candidates agree and lists them on a
        // second press, as shells do. rustyline's default cycles through the
        // candidates and back to what was typed, so with one candidate (a
        // lone folder) Tab toggled between `sub` and `sub/` instead of going
        // into the folder.
        let config = Config::builder()
            .auto_add_history(true)
            .max_history_size(1000)?
            .completion_type(CompletionType::List)
            .build();
        let mut editor = Editor::with_config(config)?;
        let (to_list, lists) = mpsc::channel();
        let helper = ChatHelper::new(commands, to_list);
        let (drawn_at, live_rows) = (helper.drawn_at.clone(), helper.live_rows.clone());
        let live_taken_off = Arc::new(AtomicBool::new(false));
        editor.set_helper(Some(helper));
        editor.bind_sequence(
            KeyEvent::ctrl('C'),
            EventHandler::Conditional(Box::new(ClearOrLeave)),
        );
        let take_off = TakeLiveOff {
            live_rows: live_rows.clone(),
            taken_off: live_taken_off.clone(),
            cooked: Cooked::now(),
        };
        editor.bind_sequence(
            KeyEvent::ctrl('Z'),
            EventHandler::Conditional(Box::new(take_off)),
        );
        let printer = Printer {
            editor: Box::new(editor.create_external_printer()?),
            live_rows,
            drawn_at,
            live_taken_off,
        };
        let editor = Self {
            editor,
            stopping: Arc::new(AtomicBool::new(false)),
            lists: Some(lists),
            showing_lists: None,
            resumes: None,
        };
        Ok((editor, printer))
    }

    /// Starts what shows things on `screen` for the editor, each from a
    /// thread of its own, since the editor's thread must never wait for the
    /// screen, which may be waiting for the editor to take a line: the lists
    /// of candidates that go above the input, and the live lines drawn
    /// again once the chat goes on after Ctrl-Z (`fg`), above the input
    /// where the shell left it.
    fn attach(&mut self, screen: &Arc<Screen>) {
        if let Some(lists) = self.lists.take() {
            let screen = screen.clone();
            let showing = std::thread::Builder::new()
                .name("lists".into())
                .spawn(move || lists.iter().for_each(|list| screen.system(list)));
            self.showing_lists = showing.ok();
        }
        // Without it, the live lines are drawn again with their next update.
        let Ok(mut resumed) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGCONT])
        else {
            return;
        };
        let (handle, screen) = (resumed.handle(), screen.clone());
        let redrawing = std::thread::Builder::new()
            .name("resumed".into())
            .spawn(move || resumed.forever().for_each(|_| screen.redraw_live()));
        self.resumes = redrawing.ok().map(|thread| (handle, thread));
    }

    /// Reads what the user does at the prompt until [`EditorStop::stop`]
    /// ends it, handing each entry to `deliver`, or until `deliver` says
    /// no more. Ctrl-C and Ctrl-D on an empty line are entries like lines:
    /// the session decides whether they leave. Each line typed is wiped
    /// from the screen once read, so that what remains is the conversation
    /// (the session prints our messages back).
    pub fn run(mut self, mut deliver: impl FnMut(Entry) -> bool) {
        while !self.stopping.load(Ordering::SeqCst) {
            let entry = match self.editor.readline(PROMPT) {
                Ok(line) => {
                    wipe(rows_taken(&line, columns()));
                    Entry::Line(line)
                }
                // A key that is not UTF-8 (a terminal in another encoding)
                // ends only the line being typed, not the chat.
                Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    wipe(1);
                    continue;
                }
                // Interrupted or at end of input, the editor leaves its
                // prompt behind; it is drawn again, or the chat is over.
                Err(ReadlineError::Interrupted) if !self.stopping.load(Ordering::SeqCst) => {
                    wipe(1);
                    Entry::Interrupt
                }
                Err(ReadlineError::Eof) if !self.stopping.load(Ordering::SeqCst) => {
                    wipe(1);
                    Entry::EndOfInput
                }
                Err(_) => {
                    wipe(1);
                    return;
                }
            };
            if !deliver(entry) {
                return;
            }
        }
    }
}

impl Drop for LineEditor {
    fn drop(&mut self) {
        // The editor's helper holds the sending end: once it is gone, the
        // thread showing lists ends.
        self.editor.set_helper(None);
        if let Some(showing) = self.showing_lists.take() {
            let _ = showing.join();
        }
        if let Some((handle, redrawing)) = self.resumes.take() {
            handle.close();
            let _ = redrawing.join();
        }
    }
}

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

/// Throws away what was typed but not yet read, so that it does not reach
/// whatever reads the terminal next: typed while the chat was leaving, it
/// would otherwise run as a command in the shell. Call it last, once nothing
/// of the chat reads the terminal any more. Does nothing unless stdin is a
/// terminal.
pub fn discard_pending_input() {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        let _ = rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush);
    }
}

/// The terminal's width in columns.
fn columns() -> usize {
    rustix::termios::tcgetwinsize(io::stdout())
        .map(|size| usize::from(size.ws_col))
        .unwrap_or(80)
        .max(1)
}

/// The terminal's height in rows.
fn rows() -> usize {
    rustix::termios::tcgetwinsize(io::stdout())
        .map(|size| usize::from(size.ws_row))
        .unwrap_or(24)
        .max(1)
}

/// Tab stops the editor assumes when it draws a tab.
const TAB_STOP: usize = 8;

/// Screen rows the prompt and `line` took once the editor accepted the line
/// and moved below it, on a terminal `columns` wide.
fn rows_taken(line: &str, columns: usize) -> usize {
    row_after(line, columns) + 1
}

/// The row, counted from the prompt's, that the cursor is on after the
/// editor drew the prompt and `text`, on a terminal `columns` wide. Laid out
/// as the editor lays it out: a pasted line may hold newlines, each starting
/// a row, and a row filled to the last column puts the cursor on the next.
fn row_after(text: &str, columns: usize) -> usize {
    let (mut row, mut column) = (0, 0);
    for c in PROMPT.chars().chain(text.chars()) {
        if c == '\n' {
            row += 1;
            column = 0;
            continue;
        }
        let width = if c == '\t' {
            TAB_STOP - column % TAB_STOP
        } else {
            c.width().unwrap_or(0)
        };
        column += width;
        if column > columns {
            row += 1;
            column = width;
        }
    }
    if column == columns {
        row += 1;
    }
    row
}

/// Cursor movements that undo, for the line editor, what a terminal that
/// re-wraps its rows on resizing did to the input line: the editor is about
/// to redraw `line` (cursor at byte `pos`) after the terminal went from
/// `old` to `new` columns. It clears as many rows as the input took at the
/// old width, upwards from where the cursor was then. Once the terminal
/// joined wrapped rows (widening), those rows reach above the input and the
/// lines of the conversation there were erased. So the cursor goes to the
/// row the editor believes it is on, after making room below the input for
/// the rows it will clear in excess.
///
/// Terminals that do not re-wrap (xterm) keep the rows as they were, and
/// these movements leave a stray part of the input behind there instead;
/// most terminals re-wrap (tmux, VTE, Konsole, kitty, iTerm2, Windows
/// Terminal), and losing a line of the conversation is the worse outcome.
fn rewrap_fix(line: &str, pos: usize, old: usize, new: usize) -> String {
    let before = &line[..pos];
    let (old_cursor, old_end) = (row_after(before, old), row_after(line, old));
    let (new_cursor, new_end) = (row_after(before, new), row_after(line, new));
    let mut moves = String::new();
    let now = if old_end > new_end {
        if new_end > new_cursor {
            moves += &format!("\x1b[{}B", new_end - new_cursor);
        }
        // Newlines scroll the conversation up when the input is at the
        // bottom, leaving blank rows below it.
        moves += &"\n".repeat(old_end - new_end);
        old_end
    } else {
        new_cursor
    };
    if now > old_cursor {
        moves += &format!("\x1b[{}A", now - old_cursor);
    } else if old_cursor > now {
        moves += &format!("\x1b[{}B", old_cursor - now);
    }
    moves
}

/// Moves up over `rows` rows and clears from there down.
fn erase_rows(rows: usize) -> String {
    format!("\x1b[{rows}A\r\x1b[J")
}

/// Wipes the last `rows` rows, the line just typed. Written straight to the
/// terminal, not through the screen: a thread printing through the screen
/// may be waiting for the editor to take its line, and the editor thread
/// must not wait for it in turn.
fn wipe(rows: usize) {
    let mut out = io::stdout();
    let _ = out
        .write_all(erase_rows(rows).as_bytes())
        .and_then(|()| out.flush());
}

/// Ctrl-C clears a half-typed line; on an empty one it is the editor's
/// interrupt, which the session may take as leaving.
struct ClearOrLeave;

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
struct TakeLiveOff {
    /// How many live lines are drawn above the input, kept by the
    /// [`Printer`].
    live_rows: Arc<AtomicUsize>,
    /// Tells the screen that they are off, so it does not erase them again.
    taken_off: Arc<AtomicBool>,
    /// The terminal's modes to stop in.
    cooked: Cooked,
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

/// Completes command names, and file paths after `/send `.
struct ChatHelper {
    files: FilenameCompleter,
    commands: Vec<&'static str>,
    /// The terminal's width when the editor last drew the input line, to
    /// notice a resize before the editor redraws for it; 0 before the first.
    /// Shared with the [`Printer`].
    drawn_at: Arc<AtomicUsize>,
    /// How many live lines the screen drew above the input last, kept by
    /// the [`Printer`].
    live_rows: Arc<AtomicUsize>,
    /// Where lists of candidates go to be shown above the input.
    lists: Sender<String>,
    /// The line and cursor that Tab left last time it found several
    /// candidates: Tab again there lists them.
    ambiguous: std::sync::Mutex<Option<(String, usize)>>,
}

impl ChatHelper {
    fn new(commands: Vec<&'static str>, lists: Sender<String>) -> Self {
        Self {
            files: FilenameCompleter::new(),
            commands,
            drawn_at: Arc::new(AtomicUsize::new(0)),
            live_rows: Arc::new(AtomicUsize::new(0)),
            lists,
            ambiguous: std::sync::Mutex::new(None),
        }
    }

    /// What Tab completes to with live lines drawn above the input: the
    /// editor lists several candidates below the input, between the live
    /// lines and the prompt it then draws again, where the next redraw of
    /// the live lines would take rows of the list and leave the old ones
    /// behind. So the editor gets one candidate, as far as all agree, and
    /// lists nothing; Tab again where nothing more is agreed sends the list
    /// to be shown above, as the editor would have shown it below.
    fn list_above(&self, line: &str, pos: usize, start: usize, pairs: &[Pair]) -> Pair {
        let typed = &line[start..pos];
        let agreed = agreed_start(pairs.iter().map(|p| p.replacement.as_str()));
        let agreed = match agreed.strip_prefix(typed) {
            Some(more) if !more.is_empty() => agreed,
            _ => typed,
        };
        let after = (
            format!("{}{agreed}{}", &line[..start], &line[pos..]),
            start + agreed.len(),
        );
        let mut ambiguous = self
            .ambiguous
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if agreed == typed && ambiguous.as_ref() == Some(&(line.to_string(), pos)) {
            let names: Vec<&str> = pairs.iter().map(|p| p.display.as_str()).collect();
            let _ = self.lists.send(names.join("  "));
        }
        *ambiguous = Some(after);
        Pair {
            display: agreed.to_string(),
            replacement: agreed.to_string(),
        }
    }

    /// The candidates for Tab at `pos` in `line`, and where in the line
    /// they start.
    fn candidates(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.starts_with("/send ") && pos >= "/send ".len() {
            let (start, mut paths) = self.files.complete(line, pos, ctx)?;
            let open_quote = open_quote(&line[..pos]);
            for path in &mut paths {
                finish_path(&mut path.replacement, open_quote);
            }
            return Ok((start, paths));
        }
        let typed = &line[..pos];
        if typed.starts_with('/') && !typed.contains(' ') {
            let matches = self
                .commands
                .iter()
                .filter(|name| name.starts_with(typed))
                .map(|name| Pair {
                    display: name.to_string(),
                    replacement: format!("{name} "),
                })
                .collect();
            return Ok((0, matches));
        }
        Ok((pos, Vec::new()))
    }
}

impl Completer for ChatHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, pairs) = self.candidates(line, pos, ctx)?;
        if pairs.len() < 2 || self.live_rows.load(Ordering::Relaxed) == 0 {
            return Ok((start, pairs));
        }
        Ok((start, vec![self.list_above(line, pos, start, &pairs)]))
    }
}

/// The longest start all of `texts` share, on a character boundary.
fn agreed_start<'a>(mut texts: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = texts.next() else {
        return "";
    };
    texts.fold(first, |agreed, text| {
        let same = agreed
            .char_indices()
            .zip(text.chars())
            .find(|((_, a), b)| a != b)
            .map_or(agreed.len().min(text.len()), |((at, _), _)| at);
        &agreed[..same]
    })
}

/// The quote `typed` ends inside of, if any, read as `/send` reads its
/// arguments: a backslash escapes the next character outside single quotes.
fn open_quote(typed: &str) -> Option<char> {
    let mut open = None;
    let mut escaped = false;
    for c in typed.chars() {
        match (open, c) {
            _ if escaped => escaped = false,
            (None | Some('"'), '\\') => escaped = true,
            (None, '"' | '\'') => open = Some(c),
            (Some(quote), _) if c == quote => open = None,
            _ => {}
        }
    }
    open
}

/// Ends a completed file path as the user goes on typing: rustyline's file
/// completer leaves the quote it completed inside open, and puts no space
/// after the name. A folder stays open, to go on into it.
fn finish_path(path: &mut String, open_quote: Option<char>) {
    if path.ends_with(std::path::MAIN_SEPARATOR) {
        return;
    }
    path.extend(open_quote);
    path.push(' ');
}

/// The editor asks for a hint right before each time it draws the input
/// line, resizes included: the one moment to correct its idea of where the
/// input is before it clears rows (see [`rewrap_fix`]). rustyline offers no
/// other hook there. No hint is ever given.
impl Hinter for ChatHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &rustyline::Context<'_>) -> Option<String> {
        let new = columns();
        let old = self.drawn_at.swap(new, Ordering::Relaxed);
        if old != 0 && old != new {
            let moves = rewrap_fix(line, pos, old, new);
            if !moves.is_empty() {
                let mut out = io::stdout();
                let _ = out.write_all(moves.as_bytes()).and_then(|()| out.flush());
            }
        }
        None
    }
}
impl Highlighter for ChatHelper {}
impl Validator for ChatHelper {}
impl Helper for ChatHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Tab offers at the end of `line`.
    fn completes_to(line: &str) -> Vec<String> {
        let helper = ChatHelper::new(
            vec!["/send", "/status", "/help", "/quit"],
            mpsc::channel().0,
        );
        let history = DefaultHistory::new();
        let ctx = rustyline::Context::new(&history);
        let (_, pairs) = helper.complete(line, line.len(), &ctx).unwrap();
        pairs.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn with_live_lines_drawn_tab_lists_above_on_a_second_press() {
        let (lists, listed) = mpsc::channel();
        let helper = ChatHelper::new(vec!["/send", "/status", "/stats"], lists);
        let history = DefaultHistory::new();
        let ctx = rustyline::Context::new(&history);
        let complete = |line: &str| {
            let (start, pairs) = helper.complete(line, line.len(), &ctx).unwrap();
            let got: Vec<String> = pairs.into_iter().map(|p| p.replacement).collect();
            (start, got)
        };
        // With none, the editor gets every candidate and lists them itself.
        assert_eq!(complete("/s").1.len(), 3);
        helper.live_rows.store(1, Ordering::Relaxed);
        assert_eq!(complete("/s"), (0, vec!["/s".to_string()]));
        assert!(listed.try_recv().is_err(), "listed on the first press");
        assert_eq!(complete("/s"), (0, vec!["/s".to_string()]));
        assert_eq!(listed.try_recv().unwrap(), "/send  /status  /stats");
        // As far as they agree first, then the list on the next press.
        assert_eq!(complete("/st"), (0, vec!["/stat".to_string()]));
        assert!(listed.try_recv().is_err());
        assert_eq!(complete("/stat"), (0, vec!["/stat".to_string()]));
        assert_eq!(listed.try_recv().unwrap(), "/status  /stats");
        // One candidate is completed as always.
        assert_eq!(complete("/se"), (0, vec!["/send ".to_string()]));
    }

    #[test]
    fn candidates_agree_as_far_as_their_characters_do() {
        assert_eq!(agreed_start(["abc", "abd"].into_iter()), "ab");
        assert_eq!(agreed_start(["ab", "abc"].into_iter()), "ab");
        assert_eq!(agreed_start(["日本", "日本語", "日x"].into_iter()), "日");
        assert_eq!(agreed_start(["é", "e"].into_iter()), "");
        assert_eq!(agreed_start(std::iter::empty()), "");
    }

    #[test]
    fn commands_complete_by_prefix() {
        assert_eq!(completes_to("/st"), ["/status "]);
        assert_eq!(completes_to("/s").len(), 2);
        assert!(completes_to("hello").is_empty());
    }

    /// A fresh folder for one test, removed when dropped.
    struct Folder(std::path::PathBuf);

    impl Folder {
        fn new(test: &str) -> Self {
            let name = format!("chat-complete-{test}-{}", std::process::id());
            let dir = std::env::temp_dir().join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn path(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn paths_complete_after_send() {
        let dir = Folder::new("plain");
        std::fs::write(dir.0.join("unique-name.txt"), b"").unwrap();
        let got = completes_to(&format!("/send {}/uniq", dir.path()));
        assert_eq!(got, [format!("{}/unique-name.txt ", dir.path())]);
    }

    #[test]
    fn a_quote_opened_before_tab_is_closed_after_the_name() {
        let dir = Folder::new("quoted");
        std::fs::write(dir.0.join("my notes.txt"), b"").unwrap();
        let got = completes_to(&format!("/send \"{}/my no", dir.path()));
        assert_eq!(got, [format!("{}/my notes.txt\" ", dir.path())]);
        let got = completes_to(&format!("/send '{}/my no", dir.path()));
        assert_eq!(got, [format!("{}/my notes.txt' ", dir.path())]);
        // Without a quote, the space is escaped, as `/send` reads it.
        let got = completes_to(&format!("/send {}/my", dir.path()));
        assert_eq!(got, [format!("{}/my\\ notes.txt ", dir.path())]);
    }

    #[test]
    fn a_folder_completes_open_to_go_on_into_it() {
        let dir = Folder::new("folder");
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        let got = completes_to(&format!("/send \"{}/su", dir.path()));
        assert_eq!(got, [format!("{}/sub/", dir.path())]);
    }

    #[test]
    fn quotes_are_read_as_send_reads_them() {
        assert_eq!(open_quote("/send \"a b"), Some('"'));
        assert_eq!(open_quote("/send \"a b\" c"), None);
        assert_eq!(open_quote("/send 'it\"s"), Some('\''));
        assert_eq!(open_quote("/send \\\"a"), None);
        assert_eq!(open_quote("/send \"a\\\" b"), Some('"'));
        assert_eq!(open_quote("/send 'a\\' b"), None);
    }

    #[test]
    fn ctrl_z_takes_the_live_lines_and_the_input_off_row_by_row() {
        // Two live lines above an input of one row, the cursor on it.
        assert_eq!(
            take_off(2, 3),
            "\x1b[2A\r\x1b[2K\x1b[B\x1b[2K\x1b[B\x1b[2K\x1b[2A"
        );
        assert_eq!(take_off(1, 1), "\x1b[1A\r\x1b[2K");
    }

    #[test]
    fn typed_lines_are_erased_row_by_row() {
        assert_eq!(erase_rows(2), "\x1b[2A\r\x1b[J");
    }

    #[test]
    fn rows_taken_follow_the_editors_layout() {
        // `> ` and the text, wrapped at the terminal's width.
        assert_eq!(rows_taken("", 80), 1);
        assert_eq!(rows_taken(&"x".repeat(77), 80), 1);
        // Filling the last column puts the cursor on the next row.
        assert_eq!(rows_taken(&"x".repeat(78), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(79), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(200), 80), 3);
        // A wide character that does not fit goes to the next row whole.
        assert_eq!(rows_taken(&format!("{}界", "x".repeat(77)), 80), 2);
        // A pasted text: each newline starts a row.
        assert_eq!(rows_taken("alpha\nbeta\n", 80), 3);
        assert_eq!(rows_taken("alpha\nbeta", 80), 2);
    }

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

    #[test]
    fn a_rewrapped_input_is_put_back_where_the_editor_left_it() {
        let line = "y".repeat(70);
        // Wider, the two rows became one: a row is made below it, where the
        // editor believes the cursor at the end is.
        assert_eq!(rewrap_fix(&line, 70, 50, 120), "\n");
        // A cursor that was in the first row goes back up to it.
        assert_eq!(rewrap_fix(&line, 10, 50, 120), "\n\x1b[1A");
        // Narrower, the row became two: up to where the input starts.
        assert_eq!(rewrap_fix(&line, 70, 120, 50), "\x1b[1A");
        // Rows that stay as they were need nothing.
        assert_eq!(rewrap_fix(&line, 70, 50, 60), "");
        assert_eq!(rewrap_fix("short", 5, 50, 120), "");
    }
}
