//! The terminal as a front end: each event of the engine rendered as the
//! line a person or a script reads.

mod link;
mod progress;

pub use self::link::{safety_code_line, shell_word};
pub use self::progress::{discarded, in_words};

use crate::engine::{Event, Frontend};
use crate::terminal::screen::Screen;

impl Frontend for Screen {
    fn show(&self, event: Event<'_>) {
        match event {
            Event::Link(event) => self.system(link::line(event, self.is_interactive())),
            Event::Progress(event) => progress::show(self, event),
        }
    }

    fn attended(&self) -> bool {
        self.is_interactive()
    }
}
