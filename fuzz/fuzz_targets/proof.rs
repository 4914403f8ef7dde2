//! A proof of identity as it reads once opened (a key and a signature),
//! for any transcript and either side: it proves a key or nothing, and
//! never panics.
#![no_main]

use chat::net::secure::handshake::Side;
use chat::net::secure::proof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first 32 bytes are the transcript hash, the rest the proof.
    let Some((transcript, plain)) = data.split_first_chunk::<32>() else {
        return;
    };
    for side in [Side::Connecting, Side::Listening] {
        let _ = proof::proved(side, plain, transcript);
    }
});
