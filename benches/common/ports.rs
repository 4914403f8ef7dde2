//! Ports on 127.0.0.1: a free one to listen on, and waiting until
//! something listens on one.

use std::fs;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` on 127.0.0.1.
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if listening(port) {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("nothing listens on port {port}");
}

/// Whether something listens on `port` on 127.0.0.1, found without
/// connecting (which would use up a one-connection listener).
pub fn listening(port: u16) -> bool {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    fs::read_to_string("/proc/net/tcp").is_ok_and(|table| table.contains(&needle))
}
