//! A request's head as the page's server reads it, from any bytes: it is
//! read within its bounds or refused, never a panic.
#![no_main]

use chat::web::http::{MAX_HEAD, MAX_HEADERS, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, end))) = parse(data) {
        assert!(end <= data.len() && end <= MAX_HEAD);
        assert!(head.headers.len() <= MAX_HEADERS);
        let _ = (head.path(), head.header("host"));
    }
});
