//! NAT-PMP's decoders fed anything a router (or anyone on the local
//! network) could send: they must never panic; a reply they accept must
//! encode back to the bytes it was read from, and a request to one that
//! decodes the same.
#![no_main]

use chat::net::portmap::natpmp::wire::{Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = Reply::decode(data) {
        // Bytes past the reply are ignored, and so is the rest of an error reply.
        assert!(data.starts_with(&reply.encode()));
    }
    if let Some(request) = Request::decode(data) {
        assert_eq!(Request::decode(&request.encode()), Some(request));
    }
});
