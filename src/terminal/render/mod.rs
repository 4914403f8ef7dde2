//! The terminal as a front end: each event of the engine rendered as the
//! line a person or a script reads.

mod anywhere;
mod chat;
mod contacts;
mod link;
mod progress;
mod receive;
mod reply;
mod room;
mod send;

pub use self::link::{safety_code_line, shell_word};
pub use self::progress::{discarded, in_words};

use crate::engine::{Event, Frontend};
use crate::terminal::screen::Screen;

impl Frontend for Screen {
    fn show(&self, event: Event<'_>) {
        match event {
            Event::Link(event) => {
                if let Some(line) = link::line(event, self.is_interactive()) {
                    self.system(line);
                }
            }
            Event::Chat(event) => chat::show(self, event),
            Event::Reply(reply) => reply::show(self, reply),
            Event::Receive(event) => self.system(receive::line(event)),
            Event::Send(event) => {
                if let Some(line) = send::line(event) {
                    self.system(line);
                }
            }
            // One passing for a contact joins with a warning, painted so.
            Event::Room(event) if room::warns(&event) => self.warning(room::line(event)),
            Event::Room(event) => self.system(room::line(event)),
            Event::Progress(event) => progress::show(self, event),
        }
    }

    fn attended(&self) -> bool {
        self.is_interactive()
    }

    fn flush(&self) {
        Screen::flush(self);
    }
}
