//! The handshake, on both sides and with and without a code, against a
//! peer that sends anything: it must fail cleanly (or, by a miracle,
//! agree), never panic or hang.
#![no_main]

use std::io::{self, Read, Write};

use chat::identity::Identity;
use chat::net::secure::code::Code;
use chat::net::secure::handshake::{CODE_GREETING, Credentials, GREETING, Side, handshake};
use libfuzzer_sys::fuzz_target;

/// A peer whose bytes are the fuzzer's and who takes whatever is sent.
struct Peer<'a>(&'a [u8]);

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte's low bit puts the right greeting before the rest, so
    // that the search reaches the binary messages behind it.
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let code = Code::new("7-guitar-lantern").expect("a valid code");
    let identity = Identity::from_secret(&[7; 32]);
    for side in [Side::Listening, Side::Connecting] {
        for (code, greeting) in [(None, GREETING), (Some(&code), CODE_GREETING)] {
            let peer = if choice & 1 == 1 {
                [greeting, rest].concat()
            } else {
                data.to_vec()
            };
            let credentials = Credentials {
                identity: &identity,
                code,
                expect: None,
            };
            let _ = handshake(side, &mut Peer(&peer), credentials, None);
        }
    }
});
