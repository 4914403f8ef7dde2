//! The encrypted channel: a handshake that agrees on keys and a safety
//! code, proving a shared code when the users gave one, and records sealed
//! with those keys. Built from vetted primitives only: X25519, SPAKE2,
//! Ed25519 (dalek), SHA-256, HMAC and HKDF from RustCrypto, and AES-256-GCM from aws-lc-rs
//! (AWS-LC's assembly, which uses 512-bit vector AES where the processor has
//! it: 15 GB/s per core here, against 9.5 for ring's 256-bit code).

pub mod code;
pub mod guesses;
pub mod handshake;
pub mod proof;
pub mod record;

use self::handshake::Credentials;
use crate::identity::{Identity, PeerKey};

/// How a conversation is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// The original wire, in the clear (`--plain`).
    Plain,
    /// The encrypted channel, with typed messages inside; with a code
    /// both sides must prove they have. Each side proves its `identity`;
    /// a connecting side given `expect` talks only to that identity.
    Encrypted {
        code: Option<code::Code>,
        identity: Identity,
        expect: Option<PeerKey>,
    },
}

impl Protection {
    /// For tests: encrypted without a code, proving the identity whose
    /// secret key is `secret` repeated.
    #[cfg(test)]
    pub fn for_tests(secret: u8) -> Self {
        Self::Encrypted {
            code: None,
            identity: Identity::from_secret(&[secret; 32]),
            expect: None,
        }
    }

    /// The same protection, talking only to the identity `key` (on the
    /// encrypted channel).
    pub fn expecting(&self, key: PeerKey) -> Self {
        match self {
            Self::Plain => Self::Plain,
            Self::Encrypted { code, identity, .. } => Self::Encrypted {
                code: code.clone(),
                identity: identity.clone(),
                expect: Some(key),
            },
        }
    }

    /// The same protection with `code` instead of the one it had (a made
    /// code numbered by the mailbox, say).
    pub fn with_code(&self, code: code::Code) -> Self {
        match self {
            Self::Plain => Self::Plain,
            Self::Encrypted {
                identity, expect, ..
            } => Self::Encrypted {
                code: Some(code),
                identity: identity.clone(),
                expect: *expect,
            },
        }
    }

    /// What the handshake proves, on the encrypted channel.
    pub fn credentials(&self) -> Option<Credentials<'_>> {
        match self {
            Self::Plain => None,
            Self::Encrypted {
                code,
                identity,
                expect,
            } => Some(Credentials {
                identity,
                code: code.as_ref(),
                expect: expect.as_ref(),
            }),
        }
    }
}
