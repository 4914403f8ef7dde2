//! The record decoder of the encrypted channel, fed anything: it must
//! refuse it without panicking, and never allocate for a length before
//! checking it.
#![no_main]

use std::io::Read;

use chat::net::secure::record::RecordReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = RecordReader::new(data, &[3; 32]);
    let _ = reader.read_to_end(&mut Vec::new());
});
