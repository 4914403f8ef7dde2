//! The user's terminal: making peer text safe to show, the output sink, and
//! the console (pipe mode or the interactive line editor).

pub mod console;
pub mod sanitize;
pub mod screen;
