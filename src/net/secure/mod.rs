//! The encrypted channel: a handshake that agrees on keys and a safety
//! code, and records sealed with those keys. Built from vetted primitives
//! only: X25519, SHA-256, HKDF and AES-256-GCM from RustCrypto.

pub mod handshake;
pub mod record;
