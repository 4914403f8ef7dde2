//! What reaches the screen: progress of absurd transfers, invisible characters
//! from the peer, and commands typed in any case.

mod common;

use common::{TestDir, file_header, listening_chat_with_raw_peer};
use std::time::Instant;

/// The largest size a header may announce (16 TiB).
const LARGEST_FILE: usize = 1 << 44;

#[test]
fn status_of_a_sixteen_tib_download_is_shown_without_a_panic() {
    let dir = TestDir::new("display_huge_status");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let mut data = file_header("big", LARGEST_FILE);
    data.extend_from_slice(b"abc");
    peer.write_bytes(&data);
    chat.expect_exact(&format!(
        "[System] Incoming file big ({LARGEST_FILE} bytes)..."
    ));

    // Ask until the three bytes have arrived: the estimate of time left
    // needs some progress to extrapolate from.
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        chat.send_line("/status");
        let status = chat.expect_prefix("[System] Receiving big: ");
        if !status.contains(" / 16.0 TiB (0%)") {
            chat.fail(&format!("unexpected status line {status:?}"));
        }
        if status.starts_with("[System] Receiving big: 3 B / ") {
            break;
        }
        if Instant::now() > deadline {
            chat.fail("the three bytes never showed in /status");
        }
    }
    chat.assert_no_panic();

    // The chat is still alive: cutting the transfer short is reported as
    // such, with the runtime failure code, not a crash.
    peer.shutdown_write();
    chat.expect_prefix("[System] Transfer of big incomplete");
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "cut short");
}
