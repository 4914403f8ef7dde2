//! The encrypted channel: a handshake that agrees on keys and a safety
//! code, proving a shared code when the users gave one, and records sealed
//! with those keys. Built from vetted primitives only: X25519, SPAKE2,
//! SHA-256, HMAC and HKDF from RustCrypto, and AES-256-GCM from ring (whose
//! assembly is several times faster here than the portable crates).

pub mod code;
pub mod handshake;
pub mod record;

/// How a conversation is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// The original wire, in the clear (`--plain`).
    Plain,
    /// The encrypted channel, with typed messages inside; with a code
    /// both sides must prove they have.
    Encrypted { code: Option<code::Code> },
}
