//! The bytes on the wire: pure codecs that know nothing of sockets, threads
//! or the terminal.

pub mod frame;
pub mod limits;
pub mod message;
pub mod name;
