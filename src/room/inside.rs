//! The connection between a room and its host's own user: a loopback TCP
//! pair made here, sealed with keys made here, so the host's side is an
//! ordinary encrypted conversation with the room, whatever wire the
//! members speak.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};

use crate::net::connect::Established;
use crate::net::transport::Connection;

/// The room's end and the user's end of a new connection.
pub fn pair() -> io::Result<(Connection, Established)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let users = TcpStream::connect(listener.local_addr()?)?;
    let expected = users.local_addr()?;
    // Anyone on this machine could connect to the port meanwhile; only our
    // own connection is taken (and without the keys, nobody else could
    // talk on it anyway).
    let rooms = loop {
        let (stream, from) = listener.accept()?;
        if from == expected {
            break stream;
        }
    };
    let mut one = [0; 32];
    let mut other = [0; 32];
    getrandom::fill(&mut one)
        .and_then(|()| getrandom::fill(&mut other))
        .map_err(|e| io::Error::other(format!("no random numbers for the room's keys: {e}")))?;
    let room = Connection::inside(rooms, Some((one, other)))?;
    let user = Connection::inside(users, Some((other, one)))?;
    Ok((
        room,
        Established {
            connection: user,
            agreed: None,
        },
    ))
}
