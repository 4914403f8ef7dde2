//! Meeting through the mailbox (PROTOCOL.md 3.10): two sides that share a
//! code prove it to each other with SPAKE2 through the mailbox server, then
//! tell each other, sealed with the key that gave, where they can be
//! reached and which relay they would use. The server sees the code's
//! number and the exchange's messages, never the code's words nor the
//! addresses, and cannot take part without guessing the code.

pub mod hints;

use std::time::{Duration, Instant};

use getrandom::{SysRng, rand_core::UnwrapErr};
use hkdf::Hkdf;
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use self::hints::{BadHints, Hints};
use crate::net::mailbox::{Mailbox, MailboxError};
use crate::net::secure::code::Code;
use crate::net::secure::guesses::{Guess, Guesses};
use crate::net::secure::handshake::Side;

/// The phases our messages travel in, by the side that adds them.
const CONNECTING: &str = "connecting";
const LISTENING: &str = "listening";
const HINTS: &str = "hints";
/// What a listener adds, with an empty body, when the other side's hints
/// do not open: the other side need not wait to learn its code was wrong.
const WRONG: &str = "wrong";

/// SPAKE2's names for the two sides, apart from the handshake's own.
const CONNECTOR_IDENTITY: &[u8] = b"chat-mailbox/1 connecting";
const LISTENER_IDENTITY: &[u8] = b"chat-mailbox/1 listening";

/// HKDF labels of the keys that follow from the exchange.
const HINTS_FROM_CONNECTOR: &[u8] = b"chat-mailbox/1 hints connecting";
const HINTS_FROM_LISTENER: &[u8] = b"chat-mailbox/1 hints listening";
const RELAY_TOKEN: &[u8] = b"chat-mailbox/1 relay token";

/// How long the other side has to seal its hints once it is there.
const HINTS_WITHIN: Duration = Duration::from_secs(30);

/// How long the other side may be absent before the user is told we wait.
const NOT_THERE_YET: Duration = Duration::from_secs(1);

/// Why a meeting failed.
#[derive(Debug, thiserror::Error)]
pub enum MeetError {
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    /// The other side holds another code (or is someone guessing).
    #[error("the code did not match")]
    WrongCode { nth: u32, allowed: u32 },
    /// Every wrong code allowed was tried already.
    #[error("{0} attempts with a wrong code")]
    GuessesSpent(u32),
    /// Another side of our kind waits on the code's number: two listeners
    /// (or two connecting sides) chose codes with the same number.
    #[error(
        "another chat {0} with a code of this number through the mailbox (if it is not yours, \
         choose another code)"
    )]
    SameRole(&'static str),
    #[error("the other side's code exchange message is not valid")]
    BadMessage,
    #[error("the other side's addresses {0}")]
    BadHints(BadHints),
    #[error("the other side left the mailbox without telling where it is")]
    Silent,
}

/// What the meeting gave.
#[derive(Debug, Clone)]
pub struct Met {
    /// Where the other side can be reached.
    pub theirs: Hints,
    /// What both sides present at the relay, known to nobody else.
    pub relay_token: [u8; 32],
}

/// The keys the code exchange gave.
struct Keys {
    ours: [u8; 32],
    theirs: [u8; 32],
    relay_token: [u8; 32],
}

/// What a listener brings to a meeting: the wrong codes it allows, and
/// the code's number it holds.
pub struct AsListener<'a> {
    pub guesses: &'a Guesses,
    pub nameplate: &'a str,
}

/// Meets the other side in an opened `mailbox` as `side`, giving `ours()`
/// (asked for once the other side is there).
/// `not_there_yet` is called once if the other side is not there at once;
/// `Ok(None)` when `stop` said to stop first. A listener counts a wrong
/// code in `guesses`.
pub fn meet(
    mailbox: &mut Mailbox,
    side: Side,
    code: &Code,
    ours: &dyn Fn() -> Hints,
    not_there_yet: &mut dyn FnMut(),
    stop: &dyn Fn() -> bool,
    listener: Option<AsListener<'_>>,
) -> Result<Option<Met>, MeetError> {
    let guesses = listener.as_ref().map(|l| l.guesses);
    let Some(keys) = exchange(mailbox, side, code, not_there_yet, stop)? else {
        return Ok(None);
    };
    // The connecting side proves the code first: the listener, which
    // anyone with the code's number can reach, says nothing sealed with
    // the key until it has checked (and counted) the other side's proof,
    // so that a guess it did not count cannot be checked either.
    if side == Side::Connecting {
        mailbox.add(HINTS, &ours().seal(&keys.ours))?;
    }
    let Some(sealed) = their_hints(mailbox, stop)? else {
        return Ok(None);
    };
    // The listener lets go of the code's number before it answers: once
    // the other side knows how it went and lets go too, the number is
    // free, and whoever claims it next opens a new mailbox, not this one.
    if let Some(listener) = &listener {
        let _ = mailbox.release(listener.nameplate);
    }
    let theirs = match check(guesses, || Hints::open(&sealed, &keys.theirs)) {
        Err(wrong @ MeetError::WrongCode { .. }) if side == Side::Listening => {
            let _ = mailbox.add(WRONG, &[]);
            return Err(wrong);
        }
        checked => checked?.map_err(MeetError::BadHints)?,
    };
    if side == Side::Listening {
        mailbox.add(HINTS, &ours().seal(&keys.ours))?;
    }
    Ok(Some(Met {
        theirs,
        relay_token: keys.relay_token,
    }))
}

/// The other side's sealed hints, once they come; `None` when `stop`
/// said to stop first.
fn their_hints(
    mailbox: &mut Mailbox,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Vec<u8>>, MeetError> {
    let until = Instant::now() + HINTS_WITHIN;
    loop {
        match mailbox.next(Some(until), stop)? {
            Some((phase, body)) if phase == HINTS => return Ok(Some(body)),
            Some((phase, _)) if phase == WRONG => {
                return Err(MeetError::WrongCode { nth: 1, allowed: 1 });
            }
            Some(_) => {}
            None if stop() => return Ok(None),
            None => return Err(MeetError::Silent),
        }
    }
}

/// Leaves the mailbox once the meeting is over, however it went: the
/// code's number is released and the mailbox closed, with a mood that
/// says how it went.
pub fn leave(
    mut mailbox: Mailbox,
    nameplate: &str,
    id: &str,
    met: &Result<Option<Met>, MeetError>,
) {
    let _ = mailbox.release(nameplate);
    let mood = match met {
        Ok(Some(_)) => "happy",
        Ok(None) => "lonely",
        Err(MeetError::WrongCode { .. }) => "scary",
        Err(_) => "errory",
    };
    mailbox.close(id, mood);
}

/// Opens the other side's hints, counting a failure as a wrong code (in
/// `guesses`, on a listener).
fn check(
    guesses: Option<&Guesses>,
    open: impl FnOnce() -> Result<Hints, BadHints>,
) -> Result<Result<Hints, BadHints>, MeetError> {
    let mut opened = Err(BadHints::NotSealed);
    let verify = || {
        opened = open();
        opened != Err(BadHints::NotSealed)
    };
    let guess = match guesses {
        Some(guesses) => guesses.check(verify),
        None if verify() => Guess::Right,
        None => Guess::Wrong { nth: 1, allowed: 1 },
    };
    match guess {
        Guess::Right => Ok(opened),
        Guess::Wrong { nth, allowed } => Err(MeetError::WrongCode { nth, allowed }),
        Guess::Spent => Err(MeetError::GuessesSpent(crate::wire::limits::WRONG_CODES)),
    }
}

/// The SPAKE2 exchange: our message added, the other side's awaited.
fn exchange(
    mailbox: &mut Mailbox,
    side: Side,
    code: &Code,
    not_there_yet: &mut dyn FnMut(),
    stop: &dyn Fn() -> bool,
) -> Result<Option<Keys>, MeetError> {
    let password = Password::new(code.as_bytes());
    let (a, b) = (
        Identity::new(CONNECTOR_IDENTITY),
        Identity::new(LISTENER_IDENTITY),
    );
    let random = UnwrapErr(SysRng);
    let ((spake, message), (own, other)) = match side {
        Side::Connecting => (
            Spake2::<Ed25519Group>::start_a_with_rng(&password, &a, &b, random),
            (CONNECTING, LISTENING),
        ),
        Side::Listening => (
            Spake2::<Ed25519Group>::start_b_with_rng(&password, &a, &b, random),
            (LISTENING, CONNECTING),
        ),
    };
    mailbox.add(own, &message)?;
    let mut told = Some(Instant::now() + NOT_THERE_YET);
    let theirs = loop {
        match mailbox.next(told, stop)? {
            Some((phase, body)) if phase == other => break body,
            Some((phase, _)) if phase == own => {
                return Err(MeetError::SameRole(match side {
                    Side::Connecting => "connects",
                    Side::Listening => "listens",
                }));
            }
            Some(_) => {}
            None if stop() => return Ok(None),
            None => {
                not_there_yet();
                told = None;
            }
        }
    };
    let key = spake.finish(&theirs).map_err(|_| MeetError::BadMessage)?;
    Ok(Some(keys(side, &key)))
}

fn keys(side: Side, key: &[u8]) -> Keys {
    let hkdf = Hkdf::<Sha256>::new(None, key);
    let expand = |label: &[u8]| {
        let mut out = [0u8; 32];
        hkdf.expand(label, &mut out).expect("HKDF gives 32 bytes");
        out
    };
    let (ours, theirs) = match side {
        Side::Connecting => (HINTS_FROM_CONNECTOR, HINTS_FROM_LISTENER),
        Side::Listening => (HINTS_FROM_LISTENER, HINTS_FROM_CONNECTOR),
    };
    Keys {
        ours: expand(ours),
        theirs: expand(theirs),
        relay_token: expand(RELAY_TOKEN),
    }
}
