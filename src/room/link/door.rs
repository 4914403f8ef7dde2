//! Letting a connection in: the handshake, the joiner's name and the
//! host's answer, all on the connection's own thread, so that the room's
//! main loop never waits on a joiner; a joiner turned away is told why,
//! as well as its wire can.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender, SyncSender};
use std::time::Duration;

use super::original::Turn;
use super::queue::Inbox;
use crate::identity::PeerKey;
use crate::identity::contacts::Contacts;
use crate::net::connect::Established;
use crate::net::events::Refusal;
use crate::net::secure::Protection;
use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{Agreed, HandshakeError, Side};
use crate::net::transport::{Closer, Connection};
use crate::permits::Permits;
use crate::protocol::{self, Capabilities, Peer, Wire};
use crate::room::Happening;
use crate::room::roster::MemberId;
use crate::session::acquaintance::{Acquaintance, Standing};
use crate::wire::limits::HANDSHAKE_LIMIT;
use crate::wire::message::Message;

/// What every connection is let in with.
#[derive(Clone)]
pub struct Door {
    pub protection: Protection,
    pub host: String,
    /// How long a member may take nothing of what is sent to it.
    pub stall: Duration,
    pub keepalive: Duration,
    pub events: Sender<Happening>,
    /// On the original wire, one file goes through the room at a time: a
    /// member's stream cannot carry two at once, nor a line in the middle
    /// of one.
    pub plain_turn: Arc<Turn>,
    /// The wrong codes allowed to all joiners together.
    pub guesses: Guesses,
    /// The host's contacts, which each joiner is looked up in.
    pub contacts: Option<Contacts>,
}

/// A connection that completed its handshake and said who it is, waiting
/// for the host's answer.
pub struct Knock {
    /// The name it gave; `None` on the original wire, where nobody gives
    /// one first.
    pub name: Option<String>,
    pub address: SocketAddr,
    /// What its wire can do, and the code its people compare.
    pub capabilities: Capabilities,
    /// The identity it proved, and what it is to the host's user by it:
    /// on the encrypted wire.
    pub key: Option<PeerKey>,
    pub standing: Option<Standing>,
    pub closer: Closer,
    pub answer: SyncSender<Answer>,
}

/// The host's answer to a knock.
pub enum Answer {
    /// In, as member `id`; its writer sends what comes in `inbox`, and
    /// its reader takes `permits` for the pieces of its files.
    Welcome {
        id: MemberId,
        inbox: Inbox,
        permits: Permits,
    },
    /// Not let in, and why.
    Refused(String),
}

/// Lets one connection in, or turns it away, then (when in) reads the
/// member until its side ends. Runs on a thread of its own.
/// `answered` is called once the host has answered, or the connection
/// failed before.
pub fn let_in(stream: TcpStream, address: SocketAddr, door: &Door, answered: impl FnOnce()) {
    let outcome = knock(stream, address, door);
    answered();
    if let Some((id, wire, inbox, permits)) = outcome {
        super::be_member(id, wire, inbox, &permits, door);
    }
}

/// Runs the handshake, reads the joiner's name and asks the host. Returns
/// the member's number and parts once it is in.
fn knock(
    stream: TcpStream,
    address: SocketAddr,
    door: &Door,
) -> Option<(MemberId, Wire, Inbox, Permits)> {
    let turn_away = |why: String| {
        let _ = door.events.send(Happening::TurnedAway { address, why });
        None
    };
    let mut connection = match Connection::tcp(stream) {
        Ok(connection) => connection,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let agreed = match handshake(&mut connection, address, door) {
        Ok(agreed) => agreed,
        Err(Some(why)) => return turn_away(why),
        Err(None) => return None,
    };
    let key = agreed.as_ref().map(|agreed| agreed.peer);
    let met = match (&agreed, &door.contacts) {
        (Some(agreed), Some(contacts)) => {
            Some(Acquaintance::meet(contacts, agreed.peer, &agreed.safety_code).0)
        }
        _ => None,
    };
    let opened = protocol::open(Established { connection, agreed }, false);
    let Peer {
        mut wire,
        closer,
        capabilities,
    } = match opened {
        Ok(peer) => peer,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let name = match super::hello(&mut wire) {
        Ok(name) => name,
        Err(why) => {
            closer.close();
            return turn_away(why.to_string());
        }
    };
    let standing = met.map(|met| {
        if let Some(name) = &name {
            // (A contacts file that cannot be read makes a stranger.)
            let _ = met.named(name, "");
        }
        met.standing()
    });
    let (answer, answered) = mpsc::sync_channel(1);
    let knock = Knock {
        name,
        address,
        capabilities,
        key,
        standing,
        closer: closer.clone(),
        answer,
    };
    if door.events.send(Happening::Knock(Box::new(knock))).is_err() {
        closer.close();
        return None;
    }
    match answered.recv() {
        Ok(Answer::Welcome { id, inbox, permits }) => Some((id, wire, inbox, permits)),
        Ok(Answer::Refused(why)) => {
            refuse(wire, &door.host, &why);
            closer.close();
            None
        }
        Err(_) => {
            closer.close();
            None
        }
    }
}

/// Runs the handshake the room asks for on a joiner's connection: what it
/// agreed on (nothing on the original wire), or why the joiner is turned
/// away (`None` when the room said so already: a wrong code).
fn handshake(
    connection: &mut Connection,
    address: SocketAddr,
    door: &Door,
) -> Result<Option<Agreed>, Option<String>> {
    let Some(credentials) = door.protection.credentials() else {
        return Ok(None);
    };
    match connection.encrypt(
        Side::Listening,
        credentials,
        Some(&door.guesses),
        HANDSHAKE_LIMIT,
    ) {
        Ok(agreed) => Ok(Some(agreed)),
        Err(HandshakeError::WrongCode { nth, allowed }) => {
            let _ = door.events.send(Happening::WrongCode {
                address,
                nth,
                allowed,
            });
            Err(None)
        }
        // The room said once that it takes nobody new.
        Err(HandshakeError::GuessesSpent(_)) => Err(None),
        Err(e) => Err(Some(Refusal::Handshake(e).to_string())),
    }
}

/// Tells a joiner it is not let in, and why, as well as its wire can.
fn refuse(wire: Wire, host: &str, why: &str) {
    match wire {
        Wire::Encrypted { mut out, .. } => {
            let _ = out.give_up_after(HANDSHAKE_LIMIT);
            let _ = out.send(&Message::Hello { name: host });
            let _ = out.send(&Message::Unwelcome { reason: why });
            let _ = out.goodbye();
        }
        Wire::Original { mut out, .. } => {
            let _ = out.set_write_timeout(Some(HANDSHAKE_LIMIT));
            let _ = out.write_all(&crate::room::plain::system(&format!("Not let in: {why}.")));
            let _ = out.finish();
        }
    }
}
