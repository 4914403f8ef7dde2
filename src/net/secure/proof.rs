//! Each side's proof of its identity at the end of the handshake: its
//! public key and its signature over the transcript, sealed with a key of
//! the handshake so that nobody on the path learns who talks
//! (PROTOCOL.md §3.1 steps 6 and 7, §3.2 "Identities").

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::handshake::Side;
use crate::identity::{Identity, PeerKey, SIGNATURE_LEN};

/// The length of a sealed proof: the key, the signature and the tag.
pub const PROOF_LEN: usize = 32 + SIGNATURE_LEN + 16;

/// What each side signs before the transcript hash, so that a signature
/// made as one side never passes for the other's.
const SIGNED_CONNECTING: &[u8] = b"chat-encrypted/2 identity of the connecting side";
const SIGNED_LISTENING: &[u8] = b"chat-encrypted/2 identity of the listening side";

/// The message `side` signs for the transcript hash `transcript`.
fn signed(side: Side, transcript: &[u8]) -> Vec<u8> {
    let label = match side {
        Side::Connecting => SIGNED_CONNECTING,
        Side::Listening => SIGNED_LISTENING,
    };
    [label, transcript].concat()
}

/// Each key seals one message, so the nonce can be fixed.
fn cipher(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a key of 32 bytes suits AES-256"))
}

/// `identity`'s proof as `side`, sealed with `key` (that side's proof key).
pub fn seal(side: Side, identity: &Identity, transcript: &[u8], key: &[u8; 32]) -> [u8; PROOF_LEN] {
    let mut proof = [0u8; PROOF_LEN];
    proof[..32].copy_from_slice(&identity.public().to_bytes());
    proof[32..96].copy_from_slice(&identity.sign(&signed(side, transcript)));
    let tag = cipher(key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::empty(),
            &mut proof[..96],
        )
        .expect("AES-GCM seals 96 bytes");
    proof[96..].copy_from_slice(tag.as_ref());
    proof
}

/// The key `side` proved with `sealed`, if it opens with `key` and its
/// signature over `transcript` verifies.
pub fn open(
    side: Side,
    sealed: &mut [u8; PROOF_LEN],
    transcript: &[u8],
    key: &[u8; 32],
) -> Option<PeerKey> {
    let plain = cipher(key)
        .open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), sealed)
        .ok()?;
    proved(side, plain, transcript)
}

/// The key an opened proof (`plain`: key ‖ signature) proves for `side`
/// and `transcript`, if its key is usable and its signature verifies.
pub fn proved(side: Side, plain: &[u8], transcript: &[u8]) -> Option<PeerKey> {
    let (key, signature) = plain.split_first_chunk::<32>()?;
    let signature: &[u8; SIGNATURE_LEN] = signature.try_into().ok()?;
    let peer = PeerKey::from_bytes(key)?;
    peer.verifies(&signed(side, transcript), signature)
        .then_some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[u8] = &[3; 32];

    #[test]
    fn a_proof_opens_as_the_side_that_made_it_only() {
        let alice = Identity::from_secret(&[1; 32]);
        let key = [5; 32];
        let mut proof = seal(Side::Listening, &alice, T, &key);
        assert_eq!(
            open(Side::Listening, &mut proof.clone(), T, &key),
            Some(alice.public())
        );
        assert_eq!(open(Side::Connecting, &mut proof.clone(), T, &key), None);
        assert_eq!(
            open(Side::Listening, &mut proof.clone(), &[4; 32], &key),
            None
        );
        assert_eq!(open(Side::Listening, &mut proof, T, &[6; 32]), None);
    }

    #[test]
    fn a_proof_with_any_bit_changed_does_not_open() {
        let proof = seal(
            Side::Connecting,
            &Identity::from_secret(&[1; 32]),
            T,
            &[5; 32],
        );
        for bit in 0..PROOF_LEN * 8 {
            let mut changed = proof;
            changed[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                open(Side::Connecting, &mut changed, T, &[5; 32]),
                None,
                "bit {bit}"
            );
        }
    }
}
