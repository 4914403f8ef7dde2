//! The user's terminal: making peer text safe to show and laying it out in
//! rows, the output sink and its live lines, and the console (pipe mode or
//! the interactive line editor).

pub mod attach;
pub mod console;
pub mod input;
pub mod live;
pub mod render;
pub mod sanitize;
pub mod screen;
mod suspend;
pub mod wrap;
