//! The peer protocol over one connection, the same for a two-person
//! conversation and for each member of a room: a connection opens as a
//! [`Peer`] — the wire it speaks with its reader and writer, the closer
//! that ends both, and what the wire can do ([`Capabilities`]).
//!
//! On the encrypted wire the reader yields typed messages, the first of
//! which must be the peer's name ([`Messages`], PROTOCOL.md §3.5), and the
//! writer seals messages and ends with the closing record ([`Sealer`]).
//! On the original wire the reader yields lines and files ([`Lines`]) and
//! the writer is the connection's raw write half. What each side does
//! with what it reads (show it, save it, relay it) is its own.

pub mod capabilities;
mod lines;
mod messages;
mod sealer;

use std::io;

pub use self::capabilities::{Capabilities, Safety};
pub use self::lines::Lines;
pub use self::messages::{Messages, MessagesError, NoHello};
pub use self::sealer::Sealer;
use crate::net::connect::Established;
use crate::net::transport::{Closer, Reading, WriteHalf, Writing};

/// A connection opened for the peer protocol.
pub struct Peer {
    pub wire: Wire,
    pub closer: Closer,
    pub capabilities: Capabilities,
}

/// The wire a connection speaks, with its reader and its writer.
pub enum Wire {
    /// The original wire (`--plain`): lines and files.
    Original { lines: Lines, out: WriteHalf },
    /// The encrypted wire: typed messages in sealed records.
    Encrypted { messages: Messages, out: Sealer },
}

/// Opens a connection the handshake (if any) set up; `hosting` when it is
/// a room's host's own seat, whose people compare one code per member
/// rather than one with the room.
pub fn open(established: Established, hosting: bool) -> io::Result<Peer> {
    let Established { connection, agreed } = established;
    let sealed = connection.is_encrypted();
    let capabilities = match agreed {
        Some(agreed) => Capabilities::encrypted(Safety::Code {
            code: agreed.safety_code,
            verified: agreed.verified,
        }),
        None if sealed && hosting => Capabilities::encrypted(Safety::EachMember),
        None => Capabilities::plain(),
    };
    let (reading, writing, closer) = connection.split()?;
    let wire = match (reading, writing) {
        (Reading::Sealed(records), Writing::Sealed(out)) => Wire::Encrypted {
            messages: Messages::new(*records),
            out: Sealer::new(*out),
        },
        (Reading::Plain(half), Writing::Plain(out)) => Wire::Original {
            lines: Lines::new(half),
            out,
        },
        // (`Connection::split` makes both halves from the same keys, or
        // none: this cannot be, and is said rather than assumed.)
        _ => {
            return Err(io::Error::other(
                "internal error: a connection split into halves of two wires",
            ));
        }
    };
    Ok(Peer {
        wire,
        closer,
        capabilities,
    })
}

#[cfg(test)]
mod tests;
