//! The typed-message decoder, fed any record's data: it must refuse what
//! is not a message without panicking, and what it accepts must encode
//! back to the same bytes. A Hello's name then goes through the name
//! rules, which must not panic either, and never accept a name that passes
//! for the program's own.
#![no_main]

use chat::wire::message::Message;
use chat::wire::name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let mut again = Vec::new();
        message.encode(&mut again);
        assert_eq!(again, data);
        if let Message::Hello { name } = message
            && let Ok(name) = name::parse(name)
        {
            assert!(!name::looks_alike(&name, "System"));
        }
    }
});
