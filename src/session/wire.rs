//! A conversation over the peer protocol: what it asks of the wire it runs
//! over — a reader for what the peer sends, a writer for what we send, and
//! what the wire can do — with the original wire and the encrypted one as
//! its two implementations. Nothing else in the session asks which wire it
//! is.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use anyhow::{Context, Result};

use super::encrypted;
use super::encrypted::incoming::Receiving;
use super::incoming::{self, PeerEnd};
use super::input::Tickets;
use super::outgoing::{self, Outgoing, WriteError};
use super::progress::Transfers;
use crate::engine::Front;
use crate::net::connect::Established;
use crate::net::transport::{Closer, WriteHalf};
use crate::protocol::{self, Capabilities, Lines, Messages, Sealer, Wire};

/// What a reader runs with, whichever the wire.
pub struct ToRead {
    /// Where files go and which offers wait for the user.
    pub receiving: Receiving,
    pub front: Front,
    pub transfers: Arc<Transfers>,
    /// Where answers about the peer's files go to be sent.
    pub outbox: Sender<Outgoing>,
    /// Told once the peer says it hosts a room we are in.
    pub in_room: Arc<AtomicBool>,
}

/// What a writer runs with, whichever the wire.
pub struct ToWrite {
    pub name: String,
    pub queue: Receiver<Outgoing>,
    pub front: Front,
    pub transfers: Arc<Transfers>,
    /// How long the peer may take nothing before we give up on it.
    pub patience: Duration,
    pub closer: Closer,
}

/// Reads what the peer sends until it ends, and says how it ended.
pub trait PeerReader: Send {
    fn read(self: Box<Self>, with: ToRead) -> PeerEnd;
}

/// Sends what the queue brings until the goodbye, or until it fails (said
/// through `failed`).
pub trait PeerWriter: Send {
    fn write(self: Box<Self>, with: ToWrite, failed: &mut dyn FnMut(WriteError));
}

/// A connection opened for a conversation: its reader and writer, the
/// closer that ends both, and what its wire can do.
pub struct Peer {
    pub reader: Box<dyn PeerReader>,
    pub writer: Box<dyn PeerWriter>,
    pub closer: Closer,
    pub capabilities: Capabilities,
}

/// Opens a connection the handshake (if any) set up, as the peer protocol
/// does for any connection; `hosting` when it is a room's host's own seat.
pub fn open(established: Established, hosting: bool) -> Result<Peer> {
    let protocol::Peer {
        wire,
        closer,
        capabilities,
    } = protocol::open(established, hosting).context("cannot share the connection")?;
    let (reader, writer): (Box<dyn PeerReader>, Box<dyn PeerWriter>) = match wire {
        Wire::Encrypted { messages, out } => (Box::new(Sealed(messages)), Box::new(Sealing(out))),
        Wire::Original { lines, out } => (Box::new(lines), Box::new(LineWriter(out))),
    };
    Ok(Peer {
        reader,
        writer,
        closer,
        capabilities,
    })
}

/// The original wire's reader: lines and files.
impl PeerReader for Lines {
    fn read(self: Box<Self>, with: ToRead) -> PeerEnd {
        let downloads = &with.receiving.downloads;
        incoming::read_peer(*self, downloads, &*with.front, &with.transfers)
    }
}

/// The original wire's writer.
struct LineWriter(WriteHalf);

impl PeerWriter for LineWriter {
    fn write(self: Box<Self>, with: ToWrite, failed: &mut dyn FnMut(WriteError)) {
        let front = &*with.front;
        let (name, transfers) = (&with.name, &with.transfers);
        outgoing::write_peer(
            self.0,
            with.closer,
            name,
            with.queue,
            front,
            transfers,
            failed,
        );
    }
}

/// The encrypted wire's reader: typed messages in sealed records.
struct Sealed(Messages);

impl PeerReader for Sealed {
    fn read(self: Box<Self>, with: ToRead) -> PeerEnd {
        let answers = Tickets::new(encrypted::incoming::ANSWERS_IN_FLIGHT);
        encrypted::incoming::read_peer(
            self.0,
            with.outbox,
            answers,
            &with.receiving,
            &*with.front,
            &with.transfers,
            &with.in_room,
        )
    }
}

/// The encrypted wire's writer.
struct Sealing(Sealer);

impl PeerWriter for Sealing {
    fn write(self: Box<Self>, with: ToWrite, failed: &mut dyn FnMut(WriteError)) {
        let front = &*with.front;
        let (name, transfers) = (&with.name, &with.transfers);
        let patience = with.patience;
        encrypted::outgoing::write_peer(
            self.0, name, with.queue, front, transfers, patience, failed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::secure::handshake::Credentials;
    use crate::net::transport::Connection;
    use crate::protocol::Safety;

    fn opened(connection: Connection, hosting: bool) -> Capabilities {
        let established = Established {
            connection,
            agreed: None,
        };
        open(established, hosting).unwrap().capabilities
    }

    #[test]
    fn what_a_wire_can_do_comes_with_it() {
        let (plain, _) = Connection::local_pair().unwrap();
        assert_eq!(opened(plain, false), Capabilities::plain());
        // A room's host's own seat: sealed inside the program, one safety
        // code per member instead of one with the room.
        let (seat, _) = Connection::pair().unwrap();
        let caps = opened(seat, true);
        assert!(caps.encrypted && caps.typed && caps.answers && caps.folders);
        assert_eq!(caps.safety, Safety::EachMember);
    }

    #[test]
    fn a_handshake_gives_the_code_to_compare() {
        let (mut one, mut other) = Connection::local_pair().unwrap();
        let limit = Duration::from_secs(10);
        let theirs = std::thread::spawn(move || {
            let side = crate::net::secure::handshake::Side::Connecting;
            other
                .encrypt(side, Credentials::of_test(2, None), None, limit)
                .map(|_| other)
        });
        let side = crate::net::secure::handshake::Side::Listening;
        let agreed = one
            .encrypt(side, Credentials::of_test(2, None), None, limit)
            .unwrap();
        let code = agreed.safety_code.clone();
        let established = Established {
            connection: one,
            agreed: Some(agreed),
        };
        let caps = open(established, false).unwrap().capabilities;
        assert_eq!(
            caps.safety,
            Safety::Code {
                code,
                verified: false
            }
        );
        drop(theirs.join().unwrap());
    }
}
