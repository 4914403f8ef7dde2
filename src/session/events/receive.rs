//! What the user is told of the files and folders that arrive.

use crate::files::receive::ReceiveError;

/// A step of a file or folder arriving.
#[derive(Debug)]
pub enum ReceiveEvent<'a> {
    /// A file of `size` bytes starts arriving on the original wire.
    Incoming { name: &'a str, size: u64 },
    /// A file could not be saved; the rest of it was read and dropped.
    NotSaved {
        name: &'a str,
        why: &'a dyn std::error::Error,
    },
    /// A file stopped arriving midway; nothing of it was saved.
    Incomplete {
        name: &'a str,
        why: &'a ReceiveError,
    },
}
