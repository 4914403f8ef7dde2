//! The interactive line editor: rustyline with our completion and keys,
//! reading what the user does at the prompt until it is stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor, EventHandler, KeyEvent};

use super::completion::ChatHelper;
use super::keys::{ClearOrLeave, TakeLiveOff};
use super::layout::{columns, rows_taken, wipe};
use super::printer::Printer;
use super::{Entry, PROMPT};
use crate::terminal::screen::Screen;
use crate::terminal::suspend::Cooked;

/// rustyline's editor with our completion and key bindings.
pub struct LineEditor {
    editor: Editor<ChatHelper, DefaultHistory>,
    /// Set once [`EditorStop::stop`] asks the editor to end: an interrupted
    /// line is then the stop, not the user's Ctrl-C.
    ///
    /// [`EditorStop::stop`]: super::EditorStop::stop
    pub(super) stopping: Arc<AtomicBool>,
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
    pub(super) fn new(commands: Vec<&'static str>) -> rustyline::Result<(Self, Printer)> {
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
    pub(super) fn attach(&mut self, screen: &Arc<Screen>) {
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
    ///
    /// [`EditorStop::stop`]: super::EditorStop::stop
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
