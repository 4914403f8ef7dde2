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
use crate::net::events::Refusal;
use crate::net::secure::Protection;
use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{HandshakeError, Side};
use crate::net::secure::record::RecordReader;
use crate::net::transport::{Closer, Connection, ReadHalf, Reading, Writing};
use crate::permits::Permits;
use crate::room::Happening;
use crate::room::roster::MemberId;
use crate::wire::limits::HANDSHAKE_LIMIT;
use crate::wire::message::{HelloError, Message};

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
}

/// A connection that completed its handshake and said who it is, waiting
/// for the host's answer.
pub struct Knock {
    /// The name it gave; `None` on the original wire, where nobody gives
    /// one first.
    pub name: Option<String>,
    pub address: SocketAddr,
    pub safety_code: Option<String>,
    /// Whether it speaks the encrypted wire.
    pub sealed: bool,
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
    if let Some((id, reading, writing, inbox, permits)) = outcome {
        super::be_member(id, (reading, writing), inbox, &permits, door);
    }
}

/// Runs the handshake, reads the joiner's name and asks the host. Returns
/// the member's number and parts once it is in.
fn knock(
    stream: TcpStream,
    address: SocketAddr,
    door: &Door,
) -> Option<(MemberId, Reading, Writing, Inbox, Permits)> {
    let turn_away = |why: String| {
        let _ = door.events.send(Happening::TurnedAway { address, why });
        None
    };
    let mut connection = match Connection::tcp(stream) {
        Ok(connection) => connection,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let agreed = match &door.protection {
        Protection::Plain => None,
        Protection::Encrypted { code } => {
            let agreed = connection.encrypt(
                Side::Listening,
                code.as_ref(),
                Some(&door.guesses),
                HANDSHAKE_LIMIT,
            );
            match agreed {
                Ok(agreed) => Some(agreed),
                Err(HandshakeError::WrongCode { nth, allowed }) => {
                    let _ = door.events.send(Happening::WrongCode {
                        address,
                        nth,
                        allowed,
                    });
                    return None;
                }
                // The room said once that it takes nobody new.
                Err(HandshakeError::GuessesSpent(_)) => return None,
                Err(e) => return turn_away(Refusal::Handshake(e).to_string()),
            }
        }
    };
    let (reading, writing, closer) = match connection.split() {
        Ok(parts) => parts,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let sealed = matches!(reading, Reading::Sealed(_));
    let (reading, name) = match reading {
        Reading::Sealed(mut records) => match read_hello(&mut records) {
            Ok(name) => (Reading::Sealed(records), Some(name)),
            Err(why) => {
                closer.close();
                return turn_away(why);
            }
        },
        plain => (plain, None),
    };
    let (answer, answered) = mpsc::sync_channel(1);
    let knock = Knock {
        name,
        address,
        safety_code: agreed.map(|a| a.safety_code),
        sealed,
        closer: closer.clone(),
        answer,
    };
    if door.events.send(Happening::Knock(knock)).is_err() {
        closer.close();
        return None;
    }
    match answered.recv() {
        Ok(Answer::Welcome { id, inbox, permits }) => Some((id, reading, writing, inbox, permits)),
        Ok(Answer::Refused(why)) => {
            refuse(writing, &door.host, &why);
            closer.close();
            None
        }
        Err(_) => {
            closer.close();
            None
        }
    }
}

/// Reads the joiner's Hello, within the handshake's time limit.
pub fn read_hello(records: &mut RecordReader<ReadHalf>) -> Result<String, String> {
    let half = records.get_ref();
    half.set_read_timeout(Some(HANDSHAKE_LIMIT))
        .map_err(|e| e.to_string())?;
    let record = match records.next_record() {
        Ok(Some(record)) => record,
        Ok(None) => return Err("it left before saying its name".into()),
        Err(e) => return Err(format!("it did not say its name ({e})")),
    };
    match Message::decode(record).map(|message| message.hello_name()) {
        Ok(Ok(name)) => Ok(name),
        Ok(Err(HelloError::Name(why))) => Err(format!("its name is refused: {why}")),
        Ok(Err(HelloError::NotHello)) => Err("it did not say its name first".into()),
        Err(e) => Err(format!("it broke the protocol: {e}")),
    }
}

/// Tells a joiner it is not let in, and why, as well as its wire can.
fn refuse(writing: Writing, host: &str, why: &str) {
    match writing {
        Writing::Sealed(mut records) => {
            let _ = records.get_ref().set_write_timeout(Some(HANDSHAKE_LIMIT));
            let mut bytes = Vec::new();
            Message::Hello { name: host }.encode(&mut bytes);
            let _ = records.send(&bytes);
            bytes.clear();
            Message::Unwelcome { reason: why }.encode(&mut bytes);
            let _ = records.send(&bytes);
            let _ = records.close();
            let _ = records.get_ref().finish();
        }
        Writing::Plain(mut half) => {
            let _ = half.set_write_timeout(Some(HANDSHAKE_LIMIT));
            let _ = half.write_all(&crate::room::plain::system(&format!("Not let in: {why}.")));
            let _ = half.finish();
        }
    }
}
