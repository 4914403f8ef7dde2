//! What a room tells its host, as typed values: the front ends turn them
//! into what the host's user sees, so the room never writes to a screen.
//! (What it tells its members is their wire's business: `words`.)

use crate::session::acquaintance::Standing;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::roster::Refusal;

/// Something the room tells its host, and nobody else.
#[derive(Debug)]
pub enum RoomEvent {
    /// The room is open to up to `max_peers` others; `plain`: on the
    /// original wire, which the original chat and nc speak too.
    Hosting { max_peers: usize, plain: bool },
    /// A connection was turned away. `earlier`: how many more were turned
    /// away just before it and not told one by one, so that a flood of
    /// connections does not flood the host's screen.
    TurnedAway { turned: Turned, earlier: usize },
    /// A joiner gave the `nth` wrong code of the `allowed` ones.
    WrongCode {
        address: SocketAddr,
        nth: u32,
        allowed: u32,
    },
    /// The room takes nobody new from now on; those in it stay.
    Shut(Shut),
    /// The host's own side could not be seated in its room.
    HostUnreachable(Unreachable),
    /// `name` joined from `address`; with the safety code its side and the
    /// room share, when it speaks the encrypted wire.
    Joined {
        name: String,
        address: SocketAddr,
        safety_code: Option<String>,
        /// What it is to the host's user, on the encrypted wire.
        standing: Option<Standing>,
    },
    /// `name` sends faster than the room allows, and is slowed down.
    Slowed { name: String },
    /// `name` fell too far behind the others taking `file`, and was
    /// dropped from it.
    FellBehind { name: String, file: String },
    /// What `name` sent on the original wire was read past.
    Ignored { name: String, what: Ignored },
}

/// What of a plain member's stream was read past, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A `/file` line that makes no sense.
    MalformedHeader(String),
    /// A line over the limit, of `len` bytes.
    LineTooLong { len: u64 },
}

/// Who was turned away, at which step, and why.
#[derive(Debug)]
pub enum Turned {
    /// A connection, before it could ask to be let in.
    Connection { address: SocketAddr, why: Unheard },
    /// One that asked to be let in, as `name` when it gave one.
    Knock {
        name: Option<String>,
        address: SocketAddr,
        why: Unwelcome,
    },
}

/// Why a connection was not heard out.
#[derive(Debug)]
pub enum Unheard {
    /// `limit` others are in their handshake already.
    Crowded { limit: usize },
    /// `limit` others from its machine, `ip`, are in their handshake.
    CrowdedFrom { ip: IpAddr, limit: usize },
    /// Its connection could not be kept to be ended with the room.
    Untracked(io::Error),
    /// No thread could be started for it.
    NoThread(anyhow::Error),
    /// Its set-up, handshake or name failed, as that step says it.
    Failed(String),
}

/// Why one that asked to be let in was not.
#[derive(Debug)]
pub enum Unwelcome {
    /// No seat, or its name is taken.
    Refused(Refusal),
    /// The room is closing.
    Closing,
}

/// Says why, in the words the one turned away is told too.
impl fmt::Display for Unwelcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => write!(f, "{refusal}"),
            Self::Closing => f.write_str("the room is closing"),
        }
    }
}

/// Why the room takes nobody new.
#[derive(Debug)]
pub enum Shut {
    /// `allowed` wrong codes were given: each one is a guess.
    Guessed { allowed: u32 },
    /// Taking connections failed.
    ListenFailed(anyhow::Error),
}

/// Why the room cannot reach its host's own side.
#[derive(Debug)]
pub enum Unreachable {
    /// Its connection inside the program would not split.
    Split(io::Error),
    /// Its thread could not be started.
    NoThread(anyhow::Error),
}
