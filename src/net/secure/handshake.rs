//! The handshake: greetings, key shares (the connecting side's committed
//! before it sees the other's), with `--code` an exchange that proves both
//! sides hold the same code, and the keys and safety code that follow from
//! the whole transcript.
//!
//! # On the wire
//!
//! PROTOCOL.md is the one specification: §3.1 gives the messages in
//! order with their lengths, and §3.2 the transcript, the key schedule
//! (HKDF labels and lengths), the safety code and the SPAKE2 parameters.
//! This module follows them step by step: the greetings, the shares
//! (`exchange_shares`, with the commitment), the code's proof (`confirm`)
//! and the keys and safety code (`agree`).
//!
//! # Why this way
//!
//! Because the connecting side is bound to its share before it learns the
//! other, a relay in the middle cannot search for shares that give both
//! sides the same safety code: each connection gives it one guess in a
//! million. With a code the keys also depend on the SPAKE2 key, which a
//! relay can only share with a side by guessing the code, again one guess
//! per connection: the listening side confirms only after the connecting
//! side has proved the code, and a wrong confirmation ends the attempt.

use std::io::{self, Read, Write};

// The system's random generator.
use getrandom::{SysRng, rand_core::UnwrapErr};
use hkdf::Hkdf;
use hkdf::hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity as SpakeName, Password, Spake2};
use x25519_dalek::{EphemeralSecret, PublicKey};

use super::code::Code;
use super::guesses::{Guess, Guesses};
use super::proof;
pub use super::proof::PROOF_LEN;
use crate::identity::{Identity, PeerKey};
use crate::wire::limits::{MAX_GREETING, WRONG_CODES};

/// The greeting line; it names the protocol and its version, and reads as
/// a plain sentence on a peer that does not speak it.
pub const GREETING: &[u8] = b"chat-encrypted/2: this chat is encrypted; the other side must run chat, or both must use --plain\n";

/// The greeting line of a side given a code: it differs from [`GREETING`]
/// so that two sides started differently tell so at once.
pub const CODE_GREETING: &[u8] = b"chat-encrypted/2 code: this chat is encrypted and needs a code; the other side must run chat with the same --code\n";

/// The greetings of the first version, without identities: a chat that
/// sends one is older than this one.
const FIRST_GREETINGS: [&[u8]; 2] = [
    b"chat-encrypted/1: this chat is encrypted; the other side must run chat, or both must use --plain\n",
    b"chat-encrypted/1 code: this chat is encrypted and needs a code; the other side must run chat with the same --code\n",
];

/// Whether `line` (without its newline) is one of the greetings, of this
/// version or the first: a chat met on the original wire that speaks the
/// encrypted one.
pub fn is_greeting(line: &[u8]) -> bool {
    [GREETING, CODE_GREETING]
        .iter()
        .chain(&FIRST_GREETINGS)
        .any(|greeting| greeting.strip_suffix(b"\n") == Some(line))
}

const SHARE_LEN: usize = 32;
/// A SPAKE2 message: the side's letter and a compressed Edwards point.
const CODE_MESSAGE_LEN: usize = 33;
const CONFIRMATION_LEN: usize = 32;

const COMMIT_LABEL: &[u8] = b"chat-encrypted/2 commitment";
const KEY_TO_LISTENER: &[u8] = b"chat-encrypted/2 key connecting to listening";
const KEY_TO_CONNECTOR: &[u8] = b"chat-encrypted/2 key listening to connecting";
const CODE_LABEL: &[u8] = b"chat-encrypted/2 safety code";
const CONFIRM_CONNECTOR: &[u8] = b"chat-encrypted/2 confirmation connecting";
const CONFIRM_LISTENER: &[u8] = b"chat-encrypted/2 confirmation listening";
const SPAKE_CONNECTOR: &[u8] = b"chat-encrypted/2 connecting";
const SPAKE_LISTENER: &[u8] = b"chat-encrypted/2 listening";
const PROOF_OF_CONNECTOR: &[u8] = b"chat-encrypted/2 identity key connecting";
const PROOF_OF_LISTENER: &[u8] = b"chat-encrypted/2 identity key listening";

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Connecting,
    Listening,
}

/// What the handshake agrees on.
pub struct Agreed {
    /// Our key for what we send, and the peer's for what it sends.
    pub send_key: [u8; 32],
    pub receive_key: [u8; 32],
    /// Six digits both people can compare, as `381-907`.
    pub safety_code: String,
    /// Both sides proved they hold the same code, so no one stands between
    /// them unless the code leaked.
    pub verified: bool,
    /// The identity the peer proved it holds.
    pub peer: PeerKey,
}

/// What a side brings to a handshake.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// Whom we prove to be.
    pub identity: &'a Identity,
    /// The code both sides must hold, if the users gave one.
    pub code: Option<&'a Code>,
    /// For the connecting side: the only identity it will talk to. It
    /// proves its own only to a peer that proved this one.
    pub expect: Option<&'a PeerKey>,
}

/// Why the handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer did not greet as an encrypted chat; what it sent first is
    /// kept (at most [`MAX_GREETING`] bytes) to say who it might be.
    #[error("the peer does not speak the encrypted protocol")]
    NotEncrypted { first: Vec<u8> },
    #[error("the peer expects a code (--code)")]
    CodeExpected,
    #[error("the peer was not given a code (--code)")]
    CodeUnexpected,
    #[error("the peer's key share does not match what it committed to")]
    CommitmentBroken,
    #[error("the peer's key share is not usable")]
    WeakKey,
    #[error("the peer's message of the code exchange is not usable")]
    BadCodeMessage,
    /// For the connecting side this includes the listening side closing
    /// instead of confirming: that is how it refuses a wrong code.
    #[error("the peer does not have the same code")]
    CodeMismatch,
    /// The listening side's count of it: the `nth` wrong code of the
    /// `allowed` ones (see [`Guesses`]).
    #[error("the peer does not have the same code")]
    WrongCode { nth: u32, allowed: u32 },
    /// The listening side saw every wrong code it allows already, and
    /// checked this one no more.
    #[error("no more codes are checked: {0} wrong ones were tried")]
    GuessesSpent(u32),
    #[error("the connection ended during the handshake")]
    Cut,
    /// The peer greeted with the first version of the protocol, which has
    /// no identities.
    #[error("the peer runs an older chat (chat-encrypted/1); both sides need this version")]
    OlderVersion,
    /// The peer's proof of identity did not open or did not verify:
    /// someone changed it on the way.
    #[error("the peer's proof of identity is not valid")]
    BadProof,
    /// The listening side proved an identity other than the one expected;
    /// ours was not revealed to it.
    #[error("the peer is not who it was expected to be")]
    Impostor(PeerKey),
    /// For the listening side: the peer left once we proved our identity,
    /// which is what a connecting side does that expected someone else.
    #[error("it was looking for another chat, and left once this one proved who it is")]
    Unwanted,
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Self::Cut,
            _ => Self::Io(e),
        }
    }
}

/// Runs the handshake as `side` over `stream`, proving `code` to the peer
/// and checking the peer's when there is one. A listening side counts the
/// wrong codes it sees in `guesses`, shared by all its handshakes; without
/// it, every code is checked.
pub fn handshake(
    side: Side,
    stream: &mut (impl Read + Write),
    credentials: Credentials<'_>,
    guesses: Option<&Guesses>,
) -> Result<Agreed, HandshakeError> {
    let code = credentials.code;
    let greeting = if code.is_some() {
        CODE_GREETING
    } else {
        GREETING
    };
    stream.write_all(greeting)?;
    stream.flush()?;
    read_greeting(stream, code.is_some())?;
    let secret = EphemeralSecret::random();
    let ours = PublicKey::from(&secret);
    let exchange = code.map(|code| CodeExchange::start(side, code));
    // Without a code both SPAKE2 messages are empty: nothing is sent, read
    // or hashed for them.
    let our_message: &[u8] = exchange.as_ref().map_or(&[], |e| &e.message);
    let mut their_message = [0u8; CODE_MESSAGE_LEN];
    let their_message = match exchange {
        Some(_) => &mut their_message[..],
        None => &mut their_message[..0],
    };
    let mut transcript = Sha256::new();
    transcript.update(greeting); // the connecting side's
    transcript.update(greeting); // the listening side's
    let theirs = exchange_shares(
        side,
        stream,
        &ours,
        our_message,
        their_message,
        &mut transcript,
    )?;
    let shared = secret.diffie_hellman(&theirs);
    if !shared.was_contributory() {
        return Err(HandshakeError::WeakKey);
    }
    let transcript = transcript.finalize();
    let mut secrets = shared.as_bytes().to_vec();
    if let Some(exchange) = exchange {
        let code_key = exchange
            .spake
            .finish(their_message)
            .map_err(|_| HandshakeError::BadCodeMessage)?;
        secrets.extend_from_slice(&code_key);
    }
    let keys = Hkdf::<Sha256>::new(Some(&transcript), &secrets);
    if code.is_some() {
        confirm(side, stream, &keys, &transcript, guesses)?;
    }
    let peer = prove(side, stream, &keys, &transcript, credentials)?;
    Ok(agree(side, &keys, code.is_some(), peer))
}

#[cfg(test)]
impl<'a> Credentials<'a> {
    /// For tests: the identity whose secret key is `secret` repeated, and
    /// `code`.
    pub fn of_test(secret: u8, code: Option<&'a Code>) -> Self {
        let identity = Box::leak(Box::new(Identity::from_secret(&[secret; 32])));
        Self {
            identity,
            code,
            expect: None,
        }
    }
}

/// Each side proves its identity, the listening side first: the connecting
/// side checks that proof (against the identity it expects, if any) before
/// it reveals its own. Returns the identity the peer proved.
fn prove(
    side: Side,
    stream: &mut (impl Read + Write),
    keys: &Hkdf<Sha256>,
    transcript: &[u8],
    credentials: Credentials<'_>,
) -> Result<PeerKey, HandshakeError> {
    let (mut of_connector, mut of_listener) = ([0u8; 32], [0u8; 32]);
    expand(keys, PROOF_OF_CONNECTOR, &mut of_connector);
    expand(keys, PROOF_OF_LISTENER, &mut of_listener);
    let (ours, theirs, their_side) = match side {
        Side::Connecting => (of_connector, of_listener, Side::Listening),
        Side::Listening => (of_listener, of_connector, Side::Connecting),
    };
    let our_proof = proof::seal(side, credentials.identity, transcript, &ours);
    if side == Side::Listening {
        stream.write_all(&our_proof)?;
        stream.flush()?;
    }
    let mut received = [0u8; proof::PROOF_LEN];
    match stream.read_exact(&mut received) {
        Ok(()) => {}
        Err(e) if side == Side::Listening && is_closed(&e) => {
            return Err(HandshakeError::Unwanted);
        }
        Err(e) => return Err(e.into()),
    }
    let peer = proof::open(their_side, &mut received, transcript, &theirs)
        .ok_or(HandshakeError::BadProof)?;
    if credentials.expect.is_some_and(|expected| *expected != peer) {
        return Err(HandshakeError::Impostor(peer));
    }
    if side == Side::Connecting {
        stream.write_all(&our_proof)?;
        stream.flush()?;
    }
    Ok(peer)
}

/// Sends our key share and SPAKE2 message and reads the peer's, in the
/// order `side` has them (the connecting side commits to its share first,
/// and the listening side checks the commitment), adding each to
/// `transcript` in the one order both sides use. Returns the peer's share.
fn exchange_shares(
    side: Side,
    stream: &mut (impl Read + Write),
    ours: &PublicKey,
    our_message: &[u8],
    their_message: &mut [u8],
    transcript: &mut Sha256,
) -> Result<PublicKey, HandshakeError> {
    Ok(match side {
        Side::Connecting => {
            let commitment = commit(ours);
            stream.write_all(&commitment)?;
            stream.flush()?;
            let theirs = read_share(stream)?;
            stream.read_exact(their_message)?;
            stream.write_all(ours.as_bytes())?;
            stream.write_all(our_message)?;
            stream.flush()?;
            transcript.update(commitment);
            transcript.update(theirs.as_bytes());
            transcript.update(&*their_message);
            transcript.update(ours.as_bytes());
            transcript.update(our_message);
            theirs
        }
        Side::Listening => {
            let mut commitment = [0u8; 32];
            stream.read_exact(&mut commitment)?;
            stream.write_all(ours.as_bytes())?;
            stream.write_all(our_message)?;
            stream.flush()?;
            let theirs = read_share(stream)?;
            if commit(&theirs) != commitment {
                return Err(HandshakeError::CommitmentBroken);
            }
            stream.read_exact(their_message)?;
            transcript.update(commitment);
            transcript.update(ours.as_bytes());
            transcript.update(our_message);
            transcript.update(theirs.as_bytes());
            transcript.update(&*their_message);
            theirs
        }
    })
}

/// Our half of SPAKE2 with the code as password, and its message.
struct CodeExchange {
    spake: Spake2<Ed25519Group>,
    message: Vec<u8>,
}

impl CodeExchange {
    fn start(side: Side, code: &Code) -> Self {
        let password = Password::new(code.as_bytes());
        let (a, b) = (
            SpakeName::new(SPAKE_CONNECTOR),
            SpakeName::new(SPAKE_LISTENER),
        );
        let random = UnwrapErr(SysRng);
        let (spake, message) = match side {
            Side::Connecting => Spake2::start_a_with_rng(&password, &a, &b, random),
            Side::Listening => Spake2::start_b_with_rng(&password, &a, &b, random),
        };
        CodeExchange { spake, message }
    }
}

/// Each side proves it derived the same keys, hence holds the same code.
/// The connecting side goes first, so the listening side, which anyone can
/// reach, says nothing that depends on the code to a peer that has not
/// proved it; and it counts each check in `guesses` as it makes it.
fn confirm(
    side: Side,
    stream: &mut (impl Read + Write),
    keys: &Hkdf<Sha256>,
    transcript: &[u8],
    guesses: Option<&Guesses>,
) -> Result<(), HandshakeError> {
    let confirmation = |label: &[u8]| {
        let mut key = [0u8; 32];
        expand(keys, label, &mut key);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(transcript);
        mac
    };
    let (ours, theirs) = match side {
        Side::Connecting => (CONFIRM_CONNECTOR, CONFIRM_LISTENER),
        Side::Listening => (CONFIRM_LISTENER, CONFIRM_CONNECTOR),
    };
    let mut received = [0u8; CONFIRMATION_LEN];
    match side {
        Side::Connecting => {
            stream.write_all(&confirmation(ours).finalize().into_bytes())?;
            stream.flush()?;
            match stream.read_exact(&mut received) {
                Ok(()) => {}
                // The listening side closes rather than confirm a wrong code.
                Err(e) if is_closed(&e) => return Err(HandshakeError::CodeMismatch),
                Err(e) => return Err(e.into()),
            }
            confirmation(theirs)
                .verify_slice(&received)
                .map_err(|_| HandshakeError::CodeMismatch)
        }
        Side::Listening => {
            stream.read_exact(&mut received)?;
            let verify = || confirmation(theirs).verify_slice(&received).is_ok();
            let guess = match guesses {
                Some(guesses) => guesses.check(verify),
                None if verify() => Guess::Right,
                None => return Err(HandshakeError::CodeMismatch),
            };
            match guess {
                Guess::Right => {}
                Guess::Wrong { nth, allowed } => {
                    return Err(HandshakeError::WrongCode { nth, allowed });
                }
                Guess::Spent => return Err(HandshakeError::GuessesSpent(WRONG_CODES)),
            }
            stream.write_all(&confirmation(ours).finalize().into_bytes())?;
            stream.flush()?;
            Ok(())
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    )
}

/// The keys and safety code for `side`.
fn agree(side: Side, keys: &Hkdf<Sha256>, verified: bool, peer: PeerKey) -> Agreed {
    let (mut to_listener, mut to_connector, mut code) = ([0u8; 32], [0u8; 32], [0u8; 8]);
    expand(keys, KEY_TO_LISTENER, &mut to_listener);
    expand(keys, KEY_TO_CONNECTOR, &mut to_connector);
    expand(keys, CODE_LABEL, &mut code);
    let (send_key, receive_key) = match side {
        Side::Connecting => (to_listener, to_connector),
        Side::Listening => (to_connector, to_listener),
    };
    Agreed {
        send_key,
        receive_key,
        safety_code: safety_code(code),
        verified,
        peer,
    }
}

fn expand(keys: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    keys.expand(label, out)
        .expect("HKDF gives 32 bytes and fewer");
}

fn commit(share: &PublicKey) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(COMMIT_LABEL);
    hash.update(share.as_bytes());
    hash.finalize().into()
}

fn read_share(stream: &mut impl Read) -> Result<PublicKey, HandshakeError> {
    let mut share = [0u8; SHARE_LEN];
    stream.read_exact(&mut share)?;
    Ok(PublicKey::from(share))
}

/// Reads the peer's greeting, byte by byte so that nothing after it is
/// taken from the stream, and at most [`MAX_GREETING`] bytes of it. The
/// greeting expected is the one for `with_code`; the other one means the
/// peer was started differently.
fn read_greeting(stream: &mut impl Read, with_code: bool) -> Result<(), HandshakeError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_GREETING {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HandshakeError::Io(e)),
        }
    }
    match (line.as_slice(), with_code) {
        (GREETING, false) | (CODE_GREETING, true) => Ok(()),
        (GREETING, true) => Err(HandshakeError::CodeUnexpected),
        (CODE_GREETING, false) => Err(HandshakeError::CodeExpected),
        (line, _) if FIRST_GREETINGS.contains(&line) => Err(HandshakeError::OlderVersion),
        ([], _) => Err(HandshakeError::Cut),
        _ => Err(HandshakeError::NotEncrypted { first: line }),
    }
}

/// Six decimal digits from eight bytes of key material (the bias of the
/// remainder is below one in ten trillion), as `381-907`.
fn safety_code(bytes: [u8; 8]) -> String {
    let n = u64::from_be_bytes(bytes) % 1_000_000;
    format!("{:03}-{:03}", n / 1000, n % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that a side's handshake failed as `pattern` says, showing
    /// what it gave instead.
    macro_rules! assert_failed {
        ($result:expr, $pattern:pat) => {
            assert!(matches!($result, Err($pattern)), "{}", describe(&$result))
        };
    }
    use proptest::prelude::*;
    use std::os::unix::net::UnixStream;
    use std::thread;
    use std::time::Duration;

    type Outcome = Result<Agreed, HandshakeError>;

    /// A handshake as `side` with `code`, proving the identity of that
    /// side in the tests (2 listening, 3 connecting).
    fn shake(side: Side, stream: &mut (impl Read + Write), code: Option<&Code>) -> Outcome {
        let secret = match side {
            Side::Listening => 2,
            Side::Connecting => 3,
        };
        handshake(side, stream, Credentials::of_test(secret, code), None)
    }

    /// A connected pair whose reads give up after a while, so that a side
    /// left waiting fails its test instead of hanging it.
    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        for end in [&a, &b] {
            end.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        (a, b)
    }

    fn code(text: &str) -> Code {
        Code::new(text).unwrap()
    }

    /// A handshake as `side` (with `code`, if any) against a fake peer
    /// that has exchanged greetings with it; the fake's end, and the
    /// handshake's outcome to come.
    fn against_fake(
        side: Side,
        with: Option<Code>,
    ) -> (
        UnixStream,
        thread::JoinHandle<Result<Agreed, HandshakeError>>,
    ) {
        let (mut fake, mut b) = pair();
        let with_code = with.is_some();
        let outcome = thread::spawn(move || shake(side, &mut b, with.as_ref()));
        let greeting = if with_code { CODE_GREETING } else { GREETING };
        fake.write_all(greeting).unwrap();
        read_greeting(&mut fake, with_code).unwrap();
        (fake, outcome)
    }

    /// Runs both sides; the listening side's end of the connection closes
    /// as soon as its handshake returns, as the caller's would.
    /// Alice's end of a link to a relay, the relay's ends of its links to
    /// Alice and to Bob, and Bob's handshake, listening with `the_code`.
    fn relayed(
        the_code: &Code,
    ) -> (
        UnixStream,
        [UnixStream; 2],
        thread::JoinHandle<Result<Agreed, HandshakeError>>,
    ) {
        let (alice, relay_to_alice) = pair();
        let (relay_to_bob, mut bob) = pair();
        let bob_code = the_code.clone();
        let bob_side = thread::spawn(move || shake(Side::Listening, &mut bob, Some(&bob_code)));
        (alice, [relay_to_alice, relay_to_bob], bob_side)
    }

    /// Both sides, each given its code.
    fn with_codes(connecting: &str, listening: &str) -> (Outcome, Outcome) {
        run_both(Some(&code(connecting)), Some(&code(listening)))
    }

    fn run_both(connecting: Option<&Code>, listening: Option<&Code>) -> (Outcome, Outcome) {
        let (mut a, mut b) = pair();
        let listening = listening.cloned();
        let listening = thread::spawn(move || shake(Side::Listening, &mut b, listening.as_ref()));
        let connecting = shake(Side::Connecting, &mut a, connecting);
        (connecting, listening.join().unwrap())
    }

    fn both_sides() -> (Agreed, Agreed) {
        let (connecting, listening) = run_both(None, None);
        (connecting.unwrap(), listening.unwrap())
    }

    fn describe(outcome: &Outcome) -> String {
        match outcome {
            Ok(agreed) => format!("agreed on {}", agreed.safety_code),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn both_sides_agree_on_mirrored_keys_and_one_code() {
        let (connecting, listening) = both_sides();
        assert_eq!(connecting.send_key, listening.receive_key);
        assert_eq!(connecting.receive_key, listening.send_key);
        assert_ne!(connecting.send_key, connecting.receive_key);
        assert_eq!(connecting.safety_code, listening.safety_code);
        assert!(!connecting.verified && !listening.verified);
        let code = connecting.safety_code.as_bytes();
        assert_eq!(code.len(), 7);
        assert_eq!(code[3], b'-');
    }

    #[test]
    fn every_connection_has_its_own_keys_and_code() {
        let (first, _) = both_sides();
        let (second, _) = both_sides();
        assert_ne!(first.send_key, second.send_key);
    }

    #[test]
    fn the_same_code_on_both_sides_is_verified() {
        let (connecting, listening) = with_codes("7-guitar-lantern", " 7-Guitar-Lantern ");
        let (connecting, listening) = (connecting.unwrap(), listening.unwrap());
        assert!(connecting.verified && listening.verified);
        assert_eq!(connecting.send_key, listening.receive_key);
        assert_eq!(connecting.receive_key, listening.send_key);
        assert_ne!(connecting.send_key, connecting.receive_key);
        assert_eq!(connecting.safety_code, listening.safety_code);
        let (without, _) = both_sides();
        assert_ne!(connecting.send_key, without.send_key);
        assert_ne!(connecting.receive_key, without.receive_key);
    }

    #[test]
    fn different_codes_fail_on_both_sides() {
        let (connecting, listening) = with_codes("7-guitar-lantern", "8-guitar-lantern");
        assert_failed!(listening, HandshakeError::CodeMismatch);
        assert_failed!(connecting, HandshakeError::CodeMismatch);
    }

    #[test]
    fn a_code_on_one_side_only_fails_on_both_with_the_reason() {
        let the_code = code("7-guitar-lantern");
        let (connecting, listening) = run_both(Some(&the_code), None);
        assert_failed!(connecting, HandshakeError::CodeUnexpected);
        assert_failed!(listening, HandshakeError::CodeExpected);
        let (connecting, listening) = run_both(None, Some(&the_code));
        assert_failed!(connecting, HandshakeError::CodeExpected);
        assert_failed!(listening, HandshakeError::CodeUnexpected);
        assert_eq!(
            HandshakeError::CodeExpected.to_string(),
            "the peer expects a code (--code)"
        );
    }

    /// A relay that runs a handshake with each side and passes records on:
    /// each side's code is then its own link's, and the two differ.
    #[test]
    fn a_relay_in_the_middle_shows_different_codes() {
        let (mut alice, mut relay_to_alice) = pair();
        let (mut relay_to_bob, mut bob) = pair();
        let bob_side = thread::spawn(move || shake(Side::Listening, &mut bob, None).unwrap());
        let relay = thread::spawn(move || {
            let with_alice = shake(Side::Listening, &mut relay_to_alice, None).unwrap();
            let with_bob = shake(Side::Connecting, &mut relay_to_bob, None).unwrap();
            (with_alice, with_bob)
        });
        let alice_side = shake(Side::Connecting, &mut alice, None).unwrap();
        let bob_side = bob_side.join().unwrap();
        let (with_alice, with_bob) = relay.join().unwrap();
        // The relay knows both links' keys, but only people comparing codes
        // can tell: these two codes match only by a one-in-a-million chance.
        assert_eq!(alice_side.safety_code, with_alice.safety_code);
        assert_eq!(bob_side.safety_code, with_bob.safety_code);
        assert_ne!(alice_side.safety_code, bob_side.safety_code);
        assert_ne!(alice_side.send_key, bob_side.receive_key);
    }

    /// The same relay when both people gave a code: it has to guess it, and
    /// a wrong guess completes with neither side.
    #[test]
    fn a_relay_that_guesses_the_code_completes_with_neither_side() {
        let the_code = code("7-guitar-lantern");
        let (mut alice, [mut relay_to_alice, mut relay_to_bob], bob_side) = relayed(&the_code);
        let relay = thread::spawn(move || {
            let guess = code("7-guitar-lemon");
            let with_alice = shake(Side::Listening, &mut relay_to_alice, Some(&guess));
            drop(relay_to_alice);
            let with_bob = shake(Side::Connecting, &mut relay_to_bob, Some(&guess));
            (with_alice, with_bob)
        });
        let alice_side = shake(Side::Connecting, &mut alice, Some(&the_code));
        let bob_side = bob_side.join().unwrap();
        let (with_alice, with_bob) = relay.join().unwrap();
        for outcome in [&alice_side, &bob_side, &with_alice, &with_bob] {
            assert!(
                matches!(outcome, Err(HandshakeError::CodeMismatch)),
                "{}",
                describe(outcome)
            );
        }
    }

    /// A relay that puts its own key shares on each link and passes the
    /// code exchange through unchanged: the two sides' SPAKE2 keys then
    /// match, but their transcripts and shared secrets do not, and the
    /// relay lacks the SPAKE2 key to confirm in their place.
    #[test]
    fn a_relay_that_passes_the_code_exchange_through_completes_with_neither_side() {
        let the_code = code("7-guitar-lantern");
        let (mut alice, [mut relay_to_alice, mut relay_to_bob], bob_side) = relayed(&the_code);
        let relay = thread::spawn(move || -> Result<(), HandshakeError> {
            relay_to_alice.write_all(CODE_GREETING)?;
            read_greeting(&mut relay_to_alice, true)?;
            relay_to_bob.write_all(CODE_GREETING)?;
            read_greeting(&mut relay_to_bob, true)?;
            let share_for_bob = PublicKey::from(&EphemeralSecret::random());
            relay_to_bob.write_all(&commit(&share_for_bob))?;
            let mut from_bob = [0u8; SHARE_LEN + CODE_MESSAGE_LEN];
            relay_to_bob.read_exact(&mut from_bob)?;
            let mut commitment = [0u8; 32];
            relay_to_alice.read_exact(&mut commitment)?;
            let share_for_alice = PublicKey::from(&EphemeralSecret::random());
            relay_to_alice.write_all(share_for_alice.as_bytes())?;
            relay_to_alice.write_all(&from_bob[SHARE_LEN..])?;
            let mut from_alice = [0u8; SHARE_LEN + CODE_MESSAGE_LEN + CONFIRMATION_LEN];
            relay_to_alice.read_exact(&mut from_alice)?;
            relay_to_bob.write_all(share_for_bob.as_bytes())?;
            relay_to_bob.write_all(&from_alice[SHARE_LEN..])?;
            let mut bobs_confirmation = [0u8; CONFIRMATION_LEN];
            relay_to_bob.read_exact(&mut bobs_confirmation)?;
            Ok(())
        });
        let alice_side = shake(Side::Connecting, &mut alice, Some(&the_code));
        let bob_side = bob_side.join().unwrap();
        // Bob closed instead of confirming.
        assert!(matches!(relay.join().unwrap(), Err(HandshakeError::Cut)));
        for outcome in [&alice_side, &bob_side] {
            assert!(
                matches!(outcome, Err(HandshakeError::CodeMismatch)),
                "{}",
                describe(outcome)
            );
        }
    }

    /// A stream that keeps a copy of everything written to it.
    struct Recorded {
        stream: UnixStream,
        sent: Vec<u8>,
    }

    impl Read for Recorded {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.stream.read(buf)
        }
    }

    impl Write for Recorded {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = self.stream.write(buf)?;
            self.sent.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.stream.flush()
        }
    }

    /// What the connecting and the listening side sent in a handshake that
    /// succeeded.
    fn sent_by_each_side(code: Option<&Code>) -> (Vec<u8>, Vec<u8>) {
        let (a, b) = pair();
        let listening_code = code.cloned();
        let listening = thread::spawn(move || {
            let mut b = Recorded {
                stream: b,
                sent: Vec::new(),
            };
            shake(Side::Listening, &mut b, listening_code.as_ref()).unwrap();
            b.sent
        });
        let mut a = Recorded {
            stream: a,
            sent: Vec::new(),
        };
        shake(Side::Connecting, &mut a, code).unwrap();
        (a.sent, listening.join().unwrap())
    }

    #[test]
    fn without_a_code_the_sides_send_greeting_commitment_shares_and_proofs() {
        let (connecting, listening) = sent_by_each_side(None);
        let g = GREETING.len();
        let proof = proof::PROOF_LEN;
        assert_eq!(connecting.len(), g + 32 + 32 + proof);
        assert_eq!(listening.len(), g + 32 + proof);
        assert!(connecting.starts_with(GREETING) && listening.starts_with(GREETING));
        let share: [u8; 32] = connecting[g + 32..g + 64].try_into().unwrap();
        assert_eq!(commit(&PublicKey::from(share)), connecting[g..g + 32]);
        // The proofs are sealed: neither public key shows.
        for (sent, secret) in [(&connecting, 3), (&listening, 2)] {
            let key = Identity::from_secret(&[secret; 32]).public().to_bytes();
            assert!(!sent.windows(32).any(|w| w == key));
        }
    }

    #[test]
    fn with_a_code_each_side_adds_its_spake2_message_and_confirmation() {
        let (connecting, listening) = sent_by_each_side(Some(&code("7-guitar-lantern")));
        let g = CODE_GREETING.len();
        let proof = proof::PROOF_LEN;
        assert_eq!(connecting.len(), g + 32 + 32 + 33 + 32 + proof);
        assert_eq!(listening.len(), g + 32 + 33 + 32 + proof);
        assert!(connecting.starts_with(CODE_GREETING) && listening.starts_with(CODE_GREETING));
        let share: [u8; 32] = connecting[g + 32..g + 64].try_into().unwrap();
        assert_eq!(commit(&PublicKey::from(share)), connecting[g..g + 32]);
        assert_eq!(connecting[g + 64], b'A');
        assert_eq!(listening[g + 32], b'B');
    }

    #[test]
    fn a_share_that_breaks_its_commitment_is_refused() {
        let (mut fake, listening) = against_fake(Side::Listening, None);
        let committed = PublicKey::from(&EphemeralSecret::random());
        fake.write_all(&commit(&committed)).unwrap();
        let mut theirs = [0u8; 32];
        fake.read_exact(&mut theirs).unwrap();
        let other = PublicKey::from(&EphemeralSecret::random());
        fake.write_all(other.as_bytes()).unwrap();
        assert!(matches!(
            listening.join().unwrap(),
            Err(HandshakeError::CommitmentBroken)
        ));
    }

    #[test]
    fn a_low_order_share_is_refused() {
        let (mut fake, connecting) = against_fake(Side::Connecting, None);
        let mut commitment = [0u8; 32];
        fake.read_exact(&mut commitment).unwrap();
        fake.write_all(&[0u8; 32]).unwrap();
        assert!(matches!(
            connecting.join().unwrap(),
            Err(HandshakeError::WeakKey)
        ));
    }

    #[test]
    fn a_code_exchange_message_for_the_wrong_side_is_refused() {
        let the_code = Some(code("7-guitar-lantern"));
        let (mut fake, connecting) = against_fake(Side::Connecting, the_code);
        let mut commitment = [0u8; 32];
        fake.read_exact(&mut commitment).unwrap();
        let share = PublicKey::from(&EphemeralSecret::random());
        fake.write_all(share.as_bytes()).unwrap();
        // The connecting side's own letter, as a reflected message has.
        let mut message = [0u8; CODE_MESSAGE_LEN];
        message[0] = b'A';
        fake.write_all(&message).unwrap();
        assert!(matches!(
            connecting.join().unwrap(),
            Err(HandshakeError::BadCodeMessage)
        ));
    }

    #[test]
    fn a_plain_peer_is_told_apart_by_what_it_sends_first() {
        let (mut plain, mut b) = pair();
        plain.write_all(b"[Daksh] hello\n").unwrap();
        match shake(Side::Listening, &mut b, None) {
            Err(HandshakeError::NotEncrypted { first }) => assert_eq!(first, b"[Daksh] hello\n"),
            other => panic!("{}", describe(&other)),
        }
        let mut greeting = vec![0u8; GREETING.len()];
        plain.read_exact(&mut greeting).unwrap();
        assert!(greeting.is_ascii() && greeting.ends_with(b"--plain\n"));
    }

    #[test]
    fn a_plain_peer_sees_the_greeting_with_a_code_as_one_sentence() {
        let (mut plain, mut b) = pair();
        plain.write_all(b"[Daksh] hello\n").unwrap();
        let outcome = handshake(
            Side::Listening,
            &mut b,
            Credentials::of_test(2, Some(&code("7-guitar-lantern"))),
            None,
        );
        assert_failed!(outcome, HandshakeError::NotEncrypted { .. });
        drop(b);
        let mut seen = Vec::new();
        plain.read_to_end(&mut seen).unwrap();
        assert_eq!(seen, CODE_GREETING);
        let (line, end) = seen.split_at(seen.len() - 1);
        assert_eq!(end, b"\n");
        assert!(line.iter().all(|b| b.is_ascii_graphic() || *b == b' '));
        assert!(seen.len() <= MAX_GREETING);
    }

    #[test]
    fn an_endless_first_line_is_read_no_further_than_the_limit() {
        let (mut plain, mut b) = pair();
        plain.write_all(&[b'x'; 4096]).unwrap();
        match shake(Side::Listening, &mut b, None) {
            Err(HandshakeError::NotEncrypted { first }) => assert_eq!(first.len(), MAX_GREETING),
            other => panic!("{}", describe(&other)),
        }
    }

    /// Both sides' outcomes, the connecting side proving identity 3 and
    /// expecting `expect`, the listening side proving identity 2.
    fn with_identities(expect: Option<PeerKey>) -> (Outcome, Outcome) {
        let (mut a, mut b) = pair();
        let listening = thread::spawn(move || {
            let outcome = shake(Side::Listening, &mut b, None);
            drop(b);
            outcome
        });
        let mut credentials = Credentials::of_test(3, None);
        credentials.expect = expect.as_ref();
        let connecting = handshake(Side::Connecting, &mut a, credentials, None);
        drop(a);
        (connecting, listening.join().unwrap())
    }

    #[test]
    fn each_side_learns_the_identity_the_other_proved() {
        let (connecting, listening) = with_identities(None);
        let key = |secret: u8| Identity::from_secret(&[secret; 32]).public();
        assert_eq!(connecting.unwrap().peer, key(2));
        assert_eq!(listening.unwrap().peer, key(3));
    }

    #[test]
    fn a_connecting_side_expecting_another_identity_stops_before_proving_its_own() {
        let expected = Identity::from_secret(&[9; 32]).public();
        let (connecting, listening) = with_identities(Some(expected));
        let proved = Identity::from_secret(&[2; 32]).public();
        assert!(
            matches!(connecting, Err(HandshakeError::Impostor(key)) if key == proved),
            "{}",
            describe(&connecting)
        );
        // The listening side never got the connecting side's proof.
        assert_failed!(listening, HandshakeError::Unwanted);
        let (connecting, _) = with_identities(Some(proved));
        assert!(connecting.is_ok(), "{}", describe(&connecting));
    }

    #[test]
    fn a_changed_proof_is_refused() {
        let (mut fake, connecting) = against_fake(Side::Connecting, None);
        // Play a listening side whose proof is damaged on the way.
        let mut commitment = [0u8; 32];
        fake.read_exact(&mut commitment).unwrap();
        fake.write_all(PublicKey::from(&EphemeralSecret::random()).as_bytes())
            .unwrap();
        let mut share = [0u8; 32];
        fake.read_exact(&mut share).unwrap();
        fake.write_all(&[7u8; proof::PROOF_LEN]).unwrap();
        let outcome = connecting.join().unwrap();
        assert_failed!(outcome, HandshakeError::BadProof);
    }

    #[test]
    fn a_chat_of_the_first_version_is_told_to_be_older() {
        for (first, with_code) in [(FIRST_GREETINGS[0], false), (FIRST_GREETINGS[1], true)] {
            let (mut old, mut b) = pair();
            old.write_all(first).unwrap();
            let code = code("7-guitar-lantern");
            let credentials = Credentials::of_test(2, with_code.then_some(&code));
            let outcome = handshake(Side::Listening, &mut b, credentials, None);
            assert_failed!(outcome, HandshakeError::OlderVersion);
        }
        assert!(is_greeting(FIRST_GREETINGS[0].strip_suffix(b"\n").unwrap()));
    }

    #[test]
    fn a_cut_during_the_handshake_is_a_cut() {
        let (plain, mut b) = pair();
        drop(plain);
        assert!(matches!(
            shake(Side::Connecting, &mut b, None),
            Err(HandshakeError::Cut) | Err(HandshakeError::Io(_))
        ));
    }

    #[test]
    fn safety_codes_have_six_digits() {
        assert_eq!(safety_code([0; 8]), "000-000");
        assert_eq!(safety_code(999_999u64.to_be_bytes()), "999-999");
        assert_eq!(safety_code(1_000_042u64.to_be_bytes()), "000-042");
    }

    /// A peer whose bytes are given and who takes whatever is sent.
    struct Scripted<'a>(&'a [u8]);

    impl Read for Scripted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Scripted<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn after(greeting: &[u8], rest: &[u8]) -> Vec<u8> {
        [greeting, rest].concat()
    }

    proptest! {
        // Each case runs four handshakes' curve arithmetic, slow in a debug
        // build; the fuzz target `greeting` searches at length.
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn whatever_follows_a_good_greeting_fails_cleanly(
            mut rest in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let the_code = code("7-guitar-lantern");
            let listening = after(CODE_GREETING, &rest);
            let outcome = shake(Side::Listening, &mut Scripted(&listening), Some(&the_code));
            prop_assert!(outcome.is_err());
            let outcome = handshake(Side::Listening, &mut Scripted(&after(GREETING, &rest)), Credentials::of_test(2, None), None);
            prop_assert!(outcome.is_err());
            // Without a code the connecting side has nothing to check: any
            // usable share agrees, so only the absence of a panic counts.
            let _ = handshake(Side::Connecting, &mut Scripted(&after(GREETING, &rest)), Credentials::of_test(3, None), None);
            // The listening side's letter lets the bytes reach the
            // confirmation more often.
            if let Some(letter) = rest.get_mut(SHARE_LEN) {
                *letter = b'B';
            }
            let connecting = after(CODE_GREETING, &rest);
            let outcome = shake(Side::Connecting, &mut Scripted(&connecting), Some(&the_code));
            prop_assert!(outcome.is_err());
        }
    }
}
