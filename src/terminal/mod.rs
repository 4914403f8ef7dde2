//! The terminal front end: the engine's events rendered as lines, laid out
//! in rows with peer text made safe (by `wire::sanitize`'s rule), the output
//! sink and its live lines, and the console (pipe mode or the interactive
//! line editor) whose input it hands the engine.

pub mod attach;
pub mod console;
pub mod input;
pub mod live;
pub mod render;
pub mod screen;
mod suspend;
pub mod wrap;
