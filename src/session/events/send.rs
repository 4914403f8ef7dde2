//! What the user is told of the files and folders it sends.

/// A step of a file or folder going out.
#[derive(Debug)]
pub enum SendEvent<'a> {
    /// Sending a file or folder named `name` could not start.
    CannotSend { name: &'a str },
}
