//! The handshake, listening side, against a peer that sends anything: it
//! must fail cleanly (or, by a miracle, agree), never panic or hang.
#![no_main]

use std::io::{self, Read, Write};

use chat::net::secure::handshake::{Side, handshake};
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
    for side in [Side::Listening, Side::Connecting] {
        let _ = handshake(side, &mut Peer(data));
    }
});
