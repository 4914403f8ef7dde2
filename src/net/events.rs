//! What reaching the peer tells its user, as typed values: the layers above
//! turn them into the engine's events for the front ends, so `net` never
//! writes to a screen.

use crate::identity::Fingerprint;
use crate::identity::contacts::Contact;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::net::arrivals::Via;
use crate::net::mailbox::MailboxError;
use crate::net::meeting::MeetError;
use crate::net::patience::Patience;
use crate::net::relay::RelayAddr;
use crate::net::secure::code::Code;
use crate::net::secure::handshake::HandshakeError;
use crate::net::stranger::sounds_like;
use crate::wire::limits::HANDSHAKE_LIMIT;

/// One step of setting up the connection.
#[derive(Debug)]
pub enum LinkEvent<'a> {
    /// Listening on this address.
    Listening(SocketAddr),
    /// A listener on every interface can be reached at this address, by
    /// the peer or by the members of a room.
    ReachableAt {
        ip: IpAddr,
        port: u16,
        joiners: Joiners,
    },
    /// The peer connected to us, from this address.
    ConnectedBy(SocketAddr),
    /// We connected to the peer at this address.
    ConnectedTo(SocketAddr),
    /// We reached the peer we met through the mailbox at this address.
    ConnectedDirectly(SocketAddr),
    /// The peer connected to us, from this address, directly: not
    /// through the relay, as it might have.
    ConnectedDirectlyBy(SocketAddr),
    /// We and the peer met at this relay, which passes the encrypted
    /// bytes between us.
    Relayed(&'a RelayAddr),
    /// How the connection just made is protected: right after the
    /// connected line.
    Protected(Protection<'a>),
    /// A peer was turned away, and the listener waits on.
    TurnedAway { peer: &'a Via, why: &'a Refusal },
    /// A peer gave a wrong code: the `nth` of the `allowed`.
    WrongCode {
        peer: &'a Via,
        nth: u32,
        allowed: u32,
    },
    /// Nobody answers at `host` `port` yet (`why`); trying again as long
    /// as `patience` allows.
    NotThereYet {
        host: &'a str,
        port: u16,
        why: &'a io::Error,
        patience: Patience,
    },
    /// A step of meeting from anywhere by a code.
    Anywhere(AnywhereStep<'a>),
    /// The code the peer (or the room's members) must give, made for this
    /// chat.
    CodeToGive { code: &'a Code, joiners: Joiners },
    /// Announced on the local network as `name`; `code` when connecting
    /// takes a code too.
    Announced { name: &'a str, code: bool },
    /// Not announced on the local network, for this reason; the chat
    /// listens anyway.
    NotAnnounced(&'a anyhow::Error),
    /// Another chat announced the same name, `was`, at the same moment:
    /// this one is listed as `name` now.
    Renamed {
        was: &'a str,
        name: &'a str,
        code: bool,
    },
    /// No chat called `name` answers yet: `others` answer instead (maybe
    /// the name is mistyped); still looking as long as `patience` allows.
    StillLooking {
        name: &'a str,
        others: &'a [String],
        patience: Patience,
    },
    /// Meanwhile these `others` answered, not `name`.
    AnnouncedMeanwhile { name: &'a str, others: &'a [String] },
    /// The chat called `name` is at `address`, `port`.
    Found {
        name: &'a str,
        address: IpAddr,
        port: u16,
    },
    /// The chat at `address`, announced as `name` (a contact's), could not
    /// be talked with: the next one is tried.
    NotReached {
        name: &'a str,
        address: SocketAddr,
        why: &'a anyhow::Error,
    },
    /// The chat at `address` announced itself as `name`, the contact
    /// looked for, but proved another identity: it was left at once, and
    /// learned nothing of ours.
    Impostor {
        name: &'a str,
        address: SocketAddr,
        proved: Fingerprint,
    },
}

/// A step of meeting from anywhere by a code: at the mailbox, at the
/// home router, and choosing the path.
#[derive(Debug)]
pub enum AnywhereStep<'a> {
    /// Nobody gave the code at the mailbox yet: waiting for the other
    /// side as long as `patience` allows.
    WaitingAtMailbox { patience: Patience },
    /// The code is registered at the mailbox: a peer anywhere may give it.
    Registered { code: &'a Code, joiners: Joiners },
    /// The mailbox could not be reached: listening on the local network
    /// only.
    NotRegistered(&'a MailboxError),
    /// Meeting at the mailbox failed; registering again unless it cannot
    /// work (another chat uses the code's number).
    MailboxFailed(&'a MeetError),
    /// Someone gave the right code at the mailbox and was told where this
    /// chat listens.
    MetAtMailbox,
    /// Someone gave a wrong code at the mailbox: the `nth` of `allowed`.
    WrongCodeAtMailbox { nth: u32, allowed: u32 },
    /// The home router forwards `external` to this chat, by `method`.
    PortMapped {
        external: SocketAddr,
        method: crate::net::portmap::Method,
    },
    /// The home router opened no port, for this reason: a peer behind
    /// another router connects through the relay.
    NotMapped(&'a crate::net::portmap::MapError),
    /// No direct path answered: trying the relay.
    TryingRelay(&'a RelayAddr),
    /// The other side gave the code, but no path can join the two: this
    /// side gives no address (relay only), and one side refuses the relay.
    NoPath,
    /// The relay failed this side: only a direct path is left.
    RelayFailed(&'a crate::net::relay::RelayError),
}

/// Who a listening chat waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joiners {
    /// One peer.
    Peer,
    /// The members of a room.
    Room,
}

/// How a conversation is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection<'a> {
    /// Encrypted, and both sides proved they hold the same code.
    Verified,
    /// Encrypted; the people compare this safety code to know nobody is in
    /// between.
    SafetyCode(&'a str),
    /// Encrypted, with a contact: the peer proved the identity the user
    /// trusted.
    Known(&'a Contact),
    /// The original wire: not encrypted.
    Plain,
}

/// Why an accepted peer was not taken.
#[derive(Debug)]
pub enum Refusal {
    Setup(io::Error),
    Handshake(HandshakeError),
}

/// Says why, for the listening user: "Turned away PEER: {why}".
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(e) => write!(f, "the connection could not be set up ({e})"),
            Self::Handshake(
                e @ (HandshakeError::CodeExpected
                | HandshakeError::CodeUnexpected
                | HandshakeError::BadCodeMessage),
            ) => write!(f, "{e}; both sides must give the same --code"),
            Self::Handshake(HandshakeError::NotEncrypted { first })
                if sounds_like(first).is_some() =>
            {
                let what = sounds_like(first).unwrap_or_default();
                write!(f, "it spoke like {what}, not a chat")
            }
            // What a chat on the original wire (or nc) would do: the hint
            // says how to talk with it.
            Self::Handshake(e @ (HandshakeError::NotEncrypted { .. } | HandshakeError::Cut)) => {
                write!(f, "{}. {PLAIN_HINT}", NotEncrypted(e))
            }
            Self::Handshake(e @ HandshakeError::Io(io)) if io.kind() == io::ErrorKind::TimedOut => {
                write!(f, "{}. {PLAIN_HINT}", NotEncrypted(e))
            }
            Self::Handshake(HandshakeError::Io(e)) => {
                write!(f, "the connection failed during the handshake ({e})")
            }
            Self::Handshake(e) => write!(f, "{e}"),
        }
    }
}

/// What tells a user how to talk with a peer that is not encrypted.
pub const PLAIN_HINT: &str =
    "To talk with a peer that is not encrypted, both sides must use --plain";

/// What a failed handshake says about the peer.
pub struct NotEncrypted<'a>(pub &'a HandshakeError);

impl fmt::Display for NotEncrypted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            HandshakeError::NotEncrypted { .. } => f.write_str(
                "it sent plain text instead of the encrypted greeting (the original chat, or nc?)",
            ),
            HandshakeError::Io(e) if e.kind() == io::ErrorKind::TimedOut => write!(
                f,
                "it did not answer as an encrypted chat within {} s (the original chat, or nc?)",
                HANDSHAKE_LIMIT.as_secs()
            ),
            HandshakeError::Cut => {
                f.write_str("it closed the connection during the handshake (a chat using --plain?)")
            }
            e => write!(f, "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_hint_comes_only_where_the_peer_may_be_a_plain_chat() {
        let turned = |e| Refusal::Handshake(e).to_string();
        let plain = turned(HandshakeError::NotEncrypted {
            first: b"[Daksh] hi\n".to_vec(),
        });
        assert!(plain.ends_with(PLAIN_HINT), "{plain}");
        assert!(turned(HandshakeError::Cut).ends_with(PLAIN_HINT));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let reset = turned(HandshakeError::Io(reset));
        assert!(
            reset.starts_with("the connection failed during the handshake (")
                && !reset.contains("--plain"),
            "{reset}"
        );
        let broken = turned(HandshakeError::CommitmentBroken);
        assert!(!broken.contains("--plain"), "{broken}");
    }
}
