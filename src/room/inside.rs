//! The connection between a room and its host's own user: a socket pair
//! inside the program, sealed with keys made here, so the host's side is
//! an ordinary encrypted conversation with the room, whatever wire the
//! members speak.

use std::io;

use crate::net::connect::Established;
use crate::net::transport::Connection;

/// The room's end and the user's end of a new connection.
pub fn pair() -> io::Result<(Connection, Established)> {
    let (room, user) = Connection::pair()?;
    Ok((
        room,
        Established {
            connection: user,
            agreed: None,
        },
    ))
}
