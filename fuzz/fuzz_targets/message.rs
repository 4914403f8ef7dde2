//! The typed-message decoder, fed any record's data: it must refuse what
//! is not a message without panicking, and what it accepts must encode
//! back to the same bytes.
#![no_main]

use chat::wire::message::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let mut again = Vec::new();
        message.encode(&mut again);
        assert_eq!(again, data);
    }
});
