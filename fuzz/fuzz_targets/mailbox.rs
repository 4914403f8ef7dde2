//! What the mailbox server sends, and the hints a side holding the code
//! seals: read or refused, never a panic.
#![no_main]

use chat::net::mailbox::messages;
use chat::net::meeting::hints::Hints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = messages::decode(text);
    }
    let _ = Hints::read(data);
    let _ = Hints::open(data, &[7; 32]);
});
