//! Where a side can be reached, as it tells the other through the mailbox
//! (PROTOCOL.md 3.10): the addresses to try directly and the relay it
//! would use, sealed so that only the side holding the code reads them.

use std::net::SocketAddr;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Value, json};

use crate::net::relay::RelayAddr;
use crate::wire::limits::MAX_HINTS;

/// What sealed hints are bound to, besides their key.
const AAD: &[u8] = b"chat-mailbox/1 hints";

/// Where a side can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hints {
    /// Addresses where it listens, to be tried directly.
    pub direct: Vec<SocketAddr>,
    /// The relay it would meet at; `None` when it refuses relayed
    /// connections.
    pub relay: Option<RelayAddr>,
}

/// Why the other side's hints were not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHints {
    /// They do not open with the key: the other side has another code.
    #[error("they were not sealed with the same code")]
    NotSealed,
    #[error("they are not in the expected form")]
    Malformed,
}

impl Hints {
    /// Sealed with `key`, which seals one message only.
    pub fn seal(&self, key: &[u8; 32]) -> Vec<u8> {
        let direct: Vec<String> = self.direct.iter().map(SocketAddr::to_string).collect();
        let relay = self.relay.as_ref().map(|relay| format!("{relay:?}"));
        let mut bytes = json!({"direct": direct, "relay": relay})
            .to_string()
            .into_bytes();
        cipher(key)
            .seal_in_place_append_tag(only_nonce(), Aad::from(AAD), &mut bytes)
            .expect("a message this short seals");
        bytes
    }

    /// The other side's hints, opened with its `key` and read. Addresses past
    /// [`MAX_HINTS`] and ones that are not addresses are dropped.
    pub fn open(sealed: &[u8], key: &[u8; 32]) -> Result<Hints, BadHints> {
        let mut bytes = sealed.to_vec();
        let plain = cipher(key)
            .open_in_place(only_nonce(), Aad::from(AAD), &mut bytes)
            .map_err(|_| BadHints::NotSealed)?;
        Self::read(plain)
    }

    /// Hints from the bytes the other side sealed.
    pub fn read(plain: &[u8]) -> Result<Hints, BadHints> {
        let value: Value = serde_json::from_slice(plain).map_err(|_| BadHints::Malformed)?;
        let direct = match value.get("direct") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|text| text.parse().ok())
                .take(MAX_HINTS)
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(BadHints::Malformed),
        };
        let relay = match value.get("relay") {
            Some(Value::String(text)) => Some(text.parse().map_err(|_| BadHints::Malformed)?),
            None | Some(Value::Null) => None,
            Some(_) => return Err(BadHints::Malformed),
        };
        Ok(Hints { direct, relay })
    }
}

fn cipher(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a key of 32 bytes suits AES-256"))
}

/// Each key seals one message, so one nonce is enough.
fn only_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0; 12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hints() -> Hints {
        Hints {
            direct: vec![
                "192.168.1.2:5050".parse().unwrap(),
                "[2001:db8::1]:5050".parse().unwrap(),
            ],
            relay: Some("tcp:relay.example:4001".parse().unwrap()),
        }
    }

    #[test]
    fn hints_open_with_their_key_only() {
        let sealed = hints().seal(&[7; 32]);
        assert_eq!(Hints::open(&sealed, &[7; 32]), Ok(hints()));
        assert_eq!(Hints::open(&sealed, &[8; 32]), Err(BadHints::NotSealed));
        let mut tampered = sealed.clone();
        tampered[3] ^= 1;
        assert_eq!(Hints::open(&tampered, &[7; 32]), Err(BadHints::NotSealed));
        let none = Hints::default();
        assert_eq!(Hints::open(&none.seal(&[1; 32]), &[1; 32]), Ok(none));
    }

    /// Seals any bytes as a hostile side holding the code could.
    fn sealed_raw(plain: &[u8]) -> Vec<u8> {
        let mut bytes = plain.to_vec();
        cipher(&[9; 32])
            .seal_in_place_append_tag(only_nonce(), Aad::from(AAD), &mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    fn a_side_with_the_code_gives_only_so_many_addresses_and_no_garbage() {
        let many: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}:5050")).collect();
        let text = json!({"direct": many, "relay": null}).to_string();
        let opened = Hints::open(&sealed_raw(text.as_bytes()), &[9; 32]).unwrap();
        assert_eq!(opened.direct.len(), MAX_HINTS);
        let text = r#"{"direct": ["x", 5, "1.2.3.4:5"], "relay": "tcp:r:1"}"#;
        let opened = Hints::open(&sealed_raw(text.as_bytes()), &[9; 32]).unwrap();
        assert_eq!(opened.direct, vec!["1.2.3.4:5".parse().unwrap()]);
        for bad in [&br#"{"direct": 5}"#[..], br#"{"relay": "nope"}"#, b"\xff"] {
            assert_eq!(
                Hints::open(&sealed_raw(bad), &[9; 32]),
                Err(BadHints::Malformed)
            );
        }
    }

    proptest! {
        /// Whatever a side holding the code seals, opening it never panics.
        #[test]
        fn any_sealed_bytes_open_or_are_refused(plain in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Hints::open(&sealed_raw(&plain), &[9; 32]);
        }

        /// Whatever reaches us unsealed is refused.
        #[test]
        fn unsealed_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(Hints::open(&bytes, &[9; 32]), Err(BadHints::NotSealed));
        }
    }
}
