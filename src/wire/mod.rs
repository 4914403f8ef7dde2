//! The bytes on the wire: pure codecs that know nothing of sockets, threads
//! or the terminal, and the rules for what peer text may hold and show.

pub mod frame;
pub mod limits;
pub mod message;
pub mod name;
pub mod sanitize;
