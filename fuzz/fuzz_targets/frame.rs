//! The frame decoder of the original wire, fed anything a peer could send:
//! it must never panic, and must stay in step whatever part of a payload
//! the caller reads.
#![no_main]

use std::io::{BufReader, Read};

use chat::wire::frame::{Frame, FrameReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte sets the buffer size and how much of each payload is
    // read, so the fuzzer explores both.
    let Some((&knob, stream)) = data.split_first() else {
        return;
    };
    let capacity = usize::from(knob % 64) + 1;
    let mut frames = FrameReader::new(BufReader::with_capacity(capacity, stream));
    let mut line = Vec::new();
    for _ in 0..10_000 {
        if frames.has_buffered_line() {
            line.clear();
            frames.take_text_run(&mut line, |l| l.len() % 2 == 0);
        }
        match frames.next_frame() {
            Ok(None) => break,
            Ok(Some(Frame::File { size, .. })) => {
                let want = size.min(u64::from(knob));
                let _ = frames.payload().take(want).read_to_end(&mut Vec::new());
            }
            Ok(Some(Frame::Text(_))) => {}
            Err(e) if e.is_recoverable() => {}
            Err(_) => break,
        }
    }
});
