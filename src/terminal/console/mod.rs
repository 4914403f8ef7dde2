//! The user's side of the terminal: choosing interactive or pipe mode, the
//! line editor that keeps half-typed input intact while other lines arrive,
//! and handing the terminal back as it was found.
//!
//! Interactive mode needs both stdin and stdout to be terminals: the editor
//! writes escape codes to stdout even when only stdin is one.

mod completion;
mod editor;
mod keys;
mod layout;
mod printer;
mod stop;

use std::io::{self, BufReader, IsTerminal, Read};
use std::sync::Arc;

use crate::terminal::screen::{Look, Screen};

pub use editor::LineEditor;
pub use stop::EditorStop;

pub const PROMPT: &str = "> ";

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
