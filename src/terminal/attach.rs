//! The terminal attached to the engine: its console's lines become the
//! conversation's news, and the conversation's events its lines.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use anyhow::Result;

use crate::engine::Front;
use crate::session::input::Tickets;
use crate::session::{Attach, InputSide, News};
use crate::terminal::console::{self, Console, EditorStop};
use crate::terminal::input;
use crate::terminal::screen::Screen;

/// Batches of piped input in flight at most, from reading to sending: with
/// batches of about 64 KiB, about 1 MiB in all. Input piped faster than the
/// peer takes it so waits in the pipe, not in memory.
const INPUT_QUEUE: usize = 16;

impl Attach for Console {
    fn front(&self) -> Front {
        self.screen.clone()
    }

    fn start_input(self: Box<Self>, news: Sender<News>) -> Result<Box<dyn InputSide>> {
        let Console { input, screen } = *self;
        let tickets = Tickets::new(INPUT_QUEUE);
        let editor = input::spawn_input(input, news, tickets.clone())?;
        Ok(Box::new(TerminalInput {
            editor,
            tickets,
            screen,
        }))
    }
}

/// The terminal's input, read on a thread of its own: stopped once, before
/// the last lines, so they are not drawn around the prompt, and in any case
/// when dropped.
struct TerminalInput {
    editor: Option<EditorStop>,
    tickets: Tickets,
    screen: Arc<Screen>,
}

impl InputSide for TerminalInput {
    fn stop(&mut self) {
        // Input is of no more use; this also frees an input thread waiting
        // for a ticket.
        self.tickets.close();
        if let Some(editor) = self.editor.take() {
            editor.stop(&self.screen);
        }
    }

    fn finish(&mut self) {
        console::discard_pending_input();
    }
}

impl Drop for TerminalInput {
    fn drop(&mut self) {
        self.stop();
    }
}
