//! The handshake: greetings, key shares (the connecting side's committed
//! before it sees the other's), and the keys and safety code that follow
//! from the whole transcript.
//!
//! 1. Both sides send the greeting line, which a person reading it on a
//!    plain peer's screen understands.
//! 2. The connecting side sends `SHA-256(COMMIT_LABEL || its key share)`.
//! 3. The listening side sends its X25519 key share.
//! 4. The connecting side sends its key share, which must match the
//!    commitment.
//!
//! Keys and the safety code come from HKDF-SHA-256 with the shared secret
//! as input and the hash of everything sent so far (both greetings, the
//! commitment, both shares) as salt. Because the connecting side is bound
//! to its share before it learns the other, a relay in the middle cannot
//! search for shares that give both sides the same code: each connection
//! gives it one guess in a million.

use std::io::{self, Read, Write};

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{EphemeralSecret, PublicKey};

/// The greeting line; it names the protocol and its version, and reads as
/// a plain sentence on a peer that does not speak it.
pub const GREETING: &[u8] = b"chat-encrypted/1: this chat is encrypted; the other side must run chat, or both must use --plain\n";

/// Longest greeting line read from a peer.
const MAX_GREETING: usize = 256;

const COMMIT_LABEL: &[u8] = b"chat-encrypted/1 commitment";
const KEY_TO_LISTENER: &[u8] = b"chat-encrypted/1 key connecting to listening";
const KEY_TO_CONNECTOR: &[u8] = b"chat-encrypted/1 key listening to connecting";
const CODE_LABEL: &[u8] = b"chat-encrypted/1 safety code";

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
}

/// Why the handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer did not greet as an encrypted chat; what it sent first is
    /// kept (at most [`MAX_GREETING`] bytes) to say who it might be.
    #[error("the peer does not speak the encrypted protocol")]
    NotEncrypted { first: Vec<u8> },
    #[error("the peer's key share does not match what it committed to")]
    CommitmentBroken,
    #[error("the peer's key share is not usable")]
    WeakKey,
    #[error("the connection ended during the handshake")]
    Cut,
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

/// Runs the handshake as `side` over `stream`.
pub fn handshake(side: Side, stream: &mut (impl Read + Write)) -> Result<Agreed, HandshakeError> {
    stream.write_all(GREETING)?;
    stream.flush()?;
    read_greeting(stream)?;
    let secret = EphemeralSecret::random();
    let ours = PublicKey::from(&secret);
    let mut transcript = Sha256::new();
    transcript.update(GREETING); // the connecting side's
    transcript.update(GREETING); // the listening side's
    let theirs = match side {
        Side::Connecting => {
            let commitment = commit(&ours);
            stream.write_all(&commitment)?;
            stream.flush()?;
            let theirs = read_share(stream)?;
            stream.write_all(ours.as_bytes())?;
            stream.flush()?;
            transcript.update(commitment);
            transcript.update(theirs.as_bytes());
            transcript.update(ours.as_bytes());
            theirs
        }
        Side::Listening => {
            let mut commitment = [0u8; 32];
            stream.read_exact(&mut commitment)?;
            stream.write_all(ours.as_bytes())?;
            stream.flush()?;
            let theirs = read_share(stream)?;
            if commit(&theirs) != commitment {
                return Err(HandshakeError::CommitmentBroken);
            }
            transcript.update(commitment);
            transcript.update(ours.as_bytes());
            transcript.update(theirs.as_bytes());
            theirs
        }
    };
    let shared = secret.diffie_hellman(&theirs);
    if !shared.was_contributory() {
        return Err(HandshakeError::WeakKey);
    }
    let salt = transcript.finalize();
    let keys = Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
    let expand = |label: &[u8], out: &mut [u8]| {
        keys.expand(label, out)
            .expect("HKDF gives 32 bytes and fewer");
    };
    let (mut to_listener, mut to_connector, mut code) = ([0u8; 32], [0u8; 32], [0u8; 8]);
    expand(KEY_TO_LISTENER, &mut to_listener);
    expand(KEY_TO_CONNECTOR, &mut to_connector);
    expand(CODE_LABEL, &mut code);
    let (send_key, receive_key) = match side {
        Side::Connecting => (to_listener, to_connector),
        Side::Listening => (to_connector, to_listener),
    };
    Ok(Agreed {
        send_key,
        receive_key,
        safety_code: safety_code(code),
    })
}

fn commit(share: &PublicKey) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(COMMIT_LABEL);
    hash.update(share.as_bytes());
    hash.finalize().into()
}

fn read_share(stream: &mut impl Read) -> Result<PublicKey, HandshakeError> {
    let mut share = [0u8; 32];
    stream.read_exact(&mut share)?;
    Ok(PublicKey::from(share))
}

/// Reads the peer's greeting, byte by byte so that nothing after it is
/// taken from the stream, and at most [`MAX_GREETING`] bytes of it.
fn read_greeting(stream: &mut impl Read) -> Result<(), HandshakeError> {
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
    if line == GREETING {
        Ok(())
    } else if line.is_empty() {
        Err(HandshakeError::Cut)
    } else {
        Err(HandshakeError::NotEncrypted { first: line })
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
    use std::os::unix::net::UnixStream;
    use std::thread;

    fn both_sides() -> (Agreed, Agreed) {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let listening = thread::spawn(move || handshake(Side::Listening, &mut b).unwrap());
        let connecting = handshake(Side::Connecting, &mut a).unwrap();
        (connecting, listening.join().unwrap())
    }

    #[test]
    fn both_sides_agree_on_mirrored_keys_and_one_code() {
        let (connecting, listening) = both_sides();
        assert_eq!(connecting.send_key, listening.receive_key);
        assert_eq!(connecting.receive_key, listening.send_key);
        assert_ne!(connecting.send_key, connecting.receive_key);
        assert_eq!(connecting.safety_code, listening.safety_code);
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

    /// A relay that runs a handshake with each side and passes records on:
    /// each side's code is then its own link's, and the two differ.
    #[test]
    fn a_relay_in_the_middle_shows_different_codes() {
        let (mut alice, mut relay_to_alice) = UnixStream::pair().unwrap();
        let (mut relay_to_bob, mut bob) = UnixStream::pair().unwrap();
        let bob_side = thread::spawn(move || handshake(Side::Listening, &mut bob).unwrap());
        let relay = thread::spawn(move || {
            let with_alice = handshake(Side::Listening, &mut relay_to_alice).unwrap();
            let with_bob = handshake(Side::Connecting, &mut relay_to_bob).unwrap();
            (with_alice, with_bob)
        });
        let alice_side = handshake(Side::Connecting, &mut alice).unwrap();
        let bob_side = bob_side.join().unwrap();
        let (with_alice, with_bob) = relay.join().unwrap();
        // The relay knows both links' keys, but only people comparing codes
        // can tell: these two codes match only by a one-in-a-million chance.
        assert_eq!(alice_side.safety_code, with_alice.safety_code);
        assert_eq!(bob_side.safety_code, with_bob.safety_code);
        assert_ne!(alice_side.safety_code, bob_side.safety_code);
        assert_ne!(alice_side.send_key, bob_side.receive_key);
    }

    #[test]
    fn a_share_that_breaks_its_commitment_is_refused() {
        let (mut fake, mut b) = UnixStream::pair().unwrap();
        let listening = thread::spawn(move || handshake(Side::Listening, &mut b));
        fake.write_all(GREETING).unwrap();
        read_greeting(&mut fake).unwrap();
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
        let (mut fake, mut b) = UnixStream::pair().unwrap();
        let connecting = thread::spawn(move || handshake(Side::Connecting, &mut b));
        fake.write_all(GREETING).unwrap();
        read_greeting(&mut fake).unwrap();
        let mut commitment = [0u8; 32];
        fake.read_exact(&mut commitment).unwrap();
        fake.write_all(&[0u8; 32]).unwrap();
        assert!(matches!(
            connecting.join().unwrap(),
            Err(HandshakeError::WeakKey)
        ));
    }

    #[test]
    fn a_plain_peer_is_told_apart_by_what_it_sends_first() {
        let (mut plain, mut b) = UnixStream::pair().unwrap();
        plain.write_all(b"[Daksh] hello\n").unwrap();
        match handshake(Side::Listening, &mut b) {
            Err(HandshakeError::NotEncrypted { first }) => assert_eq!(first, b"[Daksh] hello\n"),
            other => panic!("{:?}", other.map(|a| a.safety_code)),
        }
        let mut greeting = vec![0u8; GREETING.len()];
        plain.read_exact(&mut greeting).unwrap();
        assert!(greeting.is_ascii() && greeting.ends_with(b"--plain\n"));
    }

    #[test]
    fn an_endless_first_line_is_read_no_further_than_the_limit() {
        let (mut plain, mut b) = UnixStream::pair().unwrap();
        plain.write_all(&[b'x'; 4096]).unwrap();
        match handshake(Side::Listening, &mut b) {
            Err(HandshakeError::NotEncrypted { first }) => assert_eq!(first.len(), MAX_GREETING),
            other => panic!("{:?}", other.map(|a| a.safety_code)),
        }
    }

    #[test]
    fn a_cut_during_the_handshake_is_a_cut() {
        let (plain, mut b) = UnixStream::pair().unwrap();
        drop(plain);
        assert!(matches!(
            handshake(Side::Connecting, &mut b),
            Err(HandshakeError::Cut) | Err(HandshakeError::Io(_))
        ));
    }

    #[test]
    fn safety_codes_have_six_digits() {
        assert_eq!(safety_code([0; 8]), "000-000");
        assert_eq!(safety_code(999_999u64.to_be_bytes()), "999-999");
        assert_eq!(safety_code(1_000_042u64.to_be_bytes()), "000-042");
    }
}
