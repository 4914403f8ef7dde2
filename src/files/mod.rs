//! Files on this machine: the download folder with its safe names, and
//! streaming file contents out to and in from a connection.
//!
//! Both directions copy in bounded chunks, so memory stays flat whatever
//! the size of the file.

pub mod download;
pub mod receive;
pub mod send;

/// Size of the copy buffer, in both directions, where the kernel cannot
/// move the bytes itself. Reads of this size from the socket bypass its
/// (smaller) read buffer.
const CHUNK: usize = 256 * 1024;
