//! What a conversation tells its user, as typed values for the front ends
//! to render: what the peer says, how the conversation ends, and the steps
//! of the files that go between them (one module for each way).

mod receive;
mod send;

pub use self::receive::{Here, Offered, ReceiveEvent, Refusal, Unsaved};
pub use self::send::SendEvent;

use std::net::SocketAddr;
use std::path::Path;

use crate::session::incoming::PeerEnd;
use crate::session::outgoing::WriteError;

/// A step of the conversation itself.
#[derive(Debug)]
pub enum ChatEvent<'a> {
    /// A message of the peer's (or of a member of its room), `name` as it
    /// said it: the front end makes both safe to show.
    PeerSaid {
        name: &'a str,
        text: &'a str,
        more_coming: bool,
    },
    /// A message of ours, as sent.
    Said { name: &'a str, text: &'a str },
    /// A line of the peer's on the original wire, as it came: the front end
    /// makes it safe to show.
    PeerLine { raw: &'a [u8], more_coming: bool },
    /// Several such lines at once, each printable ASCII and ending in a
    /// newline: a burst of them is shown in one piece.
    PeerLines { raw: &'a [u8], more_coming: bool },
    /// The peer sent a line longer than the wire allows; it was dropped.
    LineTooLong { len: u64, limit: u64 },
    /// The peer sent a `/file` line that makes no sense; it was ignored.
    MalformedHeader(&'a str),
    /// The peer met with `--plain` speaks the encrypted protocol.
    SpeaksEncrypted(SocketAddr),
    /// The peer's side ended, as `end` says; `hosted`: it was the host of
    /// the room we were in.
    PeerEnded {
        end: &'a PeerEnd,
        peer: SocketAddr,
        hosted: bool,
    },
    /// Sending failed, and with it the connection.
    WriteFailed(&'a WriteError),
    /// Leaving: what is typed now is not sent.
    NotSentWhileLeaving,
    /// Leaving at once on the original wire: the file being sent is cut.
    LeavingAtOnce,
    /// Typed before anyone is connected.
    NotConnectedYet,
    /// What is kept of cut transfers holds `held` bytes of the disk, in
    /// `kept`, for the download folder `downloads`.
    KeptOnDisk {
        held: u64,
        kept: &'a Path,
        downloads: &'a Path,
    },
    /// The conversation is over and the program ends.
    Over,
}
