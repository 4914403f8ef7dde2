//! An identity's key pair (Ed25519), the public half a peer proves, and its
//! fingerprint for people to compare.

use std::fmt;
use std::sync::Arc;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The length of a signature made by an identity.
pub const SIGNATURE_LEN: usize = 64;

/// The label hashed with a public key into its fingerprint, so that the
/// fingerprint is of nothing else.
const FINGERPRINT_LABEL: &[u8] = b"chat identity fingerprint";

/// This user's identity: the private key that signs each handshake. Cheap
/// to clone; never printed.
#[derive(Clone)]
pub struct Identity(Arc<SigningKey>);

impl Identity {
    /// The identity of this secret key (32 bytes, as kept in the file).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        Self(Arc::new(SigningKey::from_bytes(secret)))
    }

    /// A new identity from the system's random generator.
    pub fn generate() -> std::io::Result<Self> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| {
            std::io::Error::other(format!("no random numbers for a new identity: {e}"))
        })?;
        Ok(Self::from_secret(&secret))
    }

    /// The secret key, for the identity file only.
    pub(super) fn secret(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The public key peers see.
    pub fn public(&self) -> PeerKey {
        PeerKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public().fingerprint())
    }
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.public() == other.public()
    }
}

impl Eq for Identity {}

/// A peer's public identity key, as it proved it in a handshake: the 32
/// bytes of a usable Ed25519 public key (checked when made).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey([u8; 32]);

impl PeerKey {
    /// The key these 32 bytes encode, if they are a usable Ed25519 public
    /// key (a valid point not of small order).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let key = VerifyingKey::from_bytes(bytes).ok()?;
        (!key.is_weak()).then_some(Self(*bytes))
    }

    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Whether `signature` is this key's over `message`, by the strict rules
    /// (no malleable or small-order forms).
    pub fn verifies(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        VerifyingKey::from_bytes(&self.0).is_ok_and(|key| {
            key.verify_strict(message, &Signature::from_bytes(signature))
                .is_ok()
        })
    }

    /// What people read aloud or compare by eye.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hash = Sha256::new();
        hash.update(FINGERPRINT_LABEL);
        hash.update(self.0);
        Fingerprint(hash.finalize().into())
    }

    /// The key as 64 hexadecimal digits, as kept in the contacts file.
    pub fn to_hex(self) -> String {
        self.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key written by [`PeerKey::to_hex`].
    pub fn from_hex(text: &str) -> Option<Self> {
        Self::from_bytes(&hex32(text)?)
    }
}

impl fmt::Debug for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerKey({})", self.fingerprint())
    }
}

/// 32 bytes written as exactly 64 hexadecimal digits.
pub(super) fn hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(bytes)
}

/// A public key's fingerprint: six groups of five digits (about 100 bits),
/// as `05812 33190 …`, the way Signal shows its safety numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.chunks(5).take(6).enumerate() {
            let mut n = 0u64;
            for byte in chunk {
                n = n << 8 | u64::from(*byte);
            }
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{:05}", n % 100_000)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message() {
        let (alice, bob) = (
            Identity::from_secret(&[1; 32]),
            Identity::from_secret(&[2; 32]),
        );
        let signature = alice.sign(b"transcript");
        assert!(alice.public().verifies(b"transcript", &signature));
        assert!(!alice.public().verifies(b"transcripT", &signature));
        assert!(!bob.public().verifies(b"transcript", &signature));
    }

    #[test]
    fn a_fingerprint_is_six_groups_of_five_digits() {
        let shown = Identity::from_secret(&[7; 32])
            .public()
            .fingerprint()
            .to_string();
        let groups: Vec<&str> = shown.split(' ').collect();
        assert_eq!(groups.len(), 6, "{shown}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        assert_ne!(
            shown,
            Identity::from_secret(&[8; 32])
                .public()
                .fingerprint()
                .to_string()
        );
    }

    #[test]
    fn small_order_points_are_not_keys() {
        // The identity point, and a point of order 8.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PeerKey::from_bytes(&identity).is_none());
        assert!(PeerKey::from_bytes(&[0; 32]).is_none());
    }

    proptest! {
        #[test]
        fn a_key_round_trips_through_hex(secret in any::<[u8; 32]>()) {
            let key = Identity::from_secret(&secret).public();
            prop_assert_eq!(PeerKey::from_hex(&key.to_hex()), Some(key));
        }

        #[test]
        fn hex_of_any_other_shape_is_refused(text in "\\PC{0,70}") {
            prop_assume!(text.len() != 64);
            prop_assert!(hex32(&text).is_none());
        }
    }
}
