//! What reaches the screen: progress of absurd transfers, invisible characters
//! from the peer, and commands typed in any case.

use crate::common;
use crate::common::{TestDir, file_header, listening_chat_with_raw_peer, show};
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
        "[System] Incoming file big ({})...",
        common::size(LARGEST_FILE)
    ));

    // Ask until the three bytes have arrived: the estimate of time left
    // needs some progress to extrapolate from.
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        chat.send_line("/status");
        let status = chat.expect_prefix("[System] #1 Receiving big: ");
        if !status.contains(" / 16.0 TiB (0%)") {
            chat.fail(&format!("unexpected status line {status:?}"));
        }
        if status.starts_with("[System] #1 Receiving big: 3 B / ") {
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

#[test]
fn tag_characters_and_hangul_fillers_are_shown_as_escapes() {
    let dir = TestDir::new("display_invisible");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    peer.write_bytes(
        "[X] tag\u{e0041}\u{e007f} fill\u{115f}\u{1160}\u{3164}\u{ffa0} end\n".as_bytes(),
    );
    let line = chat.expect_line("the line with invisible characters", |l| {
        l.starts_with("[X] tag")
    });
    let expected = "[X] tag\\u{e0041}\\u{e007f} fill\\u{115f}\\u{1160}\\u{3164}\\u{ffa0} end";
    if line != expected {
        chat.fail(&format!(
            "expected {expected:?}, got {:?}",
            line.escape_debug()
        ));
    }

    // A file name carrying them is shown escaped and saved without them.
    let mut data = file_header("a\u{e0001}b\u{3164}.txt", 2);
    data.extend_from_slice(b"ok[X] done\n");
    peer.write_bytes(&data);
    chat.expect_exact("[System] Incoming file a\\u{e0001}b\\u{3164}.txt (2 B)...");
    chat.expect_saved("received_files/a_b_.txt");
    chat.expect_exact("[X] done");
    let raw_char = |l: &&Vec<u8>| {
        let text = String::from_utf8_lossy(l);
        text.contains(|c: char| ('\u{e0000}'..='\u{e007f}').contains(&c))
            || text.contains(['\u{115f}', '\u{1160}', '\u{3164}', '\u{ffa0}'])
    };
    if let Some(line) = chat.stdout_raw_lines().iter().find(raw_char) {
        let line = show(line);
        chat.fail(&format!("invisible character on screen: {line}"));
    }
}

#[test]
fn a_command_typed_in_capitals_is_still_a_command() {
    let dir = TestDir::new("display_quit_capitals");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    chat.send_line("/Status");
    chat.expect_exact("[System] No transfers in progress or queued.");
    chat.send_line("/QUIT");
    peer.expect_line("[alice] has left the chat.");
    drop(peer);
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}
