//! A scripted raw TCP peer sends hostile or unusual bytes: dangerous file names, broken
//! headers, lying sizes, resets, huge lines, terminal escapes, and oddly split frames.

use crate::common;
use crate::common::{
    RawPeer, TestDir, dir_entries, file_header, listening_chat_with_raw_peer, peak_rss_kib, show,
};
use std::fs;
use std::time::Duration;

#[test]
fn dangerous_file_names_are_reduced_to_a_plain_name_inside_the_download_dir() {
    let dir = TestDir::new("hostile_names");
    // Absolute paths point into the test folder so a faulty chat cannot harm the system.
    let outside = dir.subdir("outside");
    let absolute = format!("{}/abs.txt", outside.display());
    let cases: Vec<(&str, &str)> = vec![
        ("../../evil.txt", "evil.txt"),
        ("../escape.txt", "escape.txt"),
        (&absolute, "abs.txt"),
        ("a\\b.txt", "b.txt"),
        ("..\\..\\win.txt", "win.txt"),
        ("bad\x07na\x1bme.txt", "bad_na_me.txt"),
        (".bashrc", "bashrc"),
        ("sub/.hidden", "hidden"),
        ("..", "unnamed"),
        ("/", "unnamed"),
        (".", "unnamed"),
    ];

    for (i, (sent, expected)) in cases.iter().enumerate() {
        let case_dir = dir.subdir(&format!("case{i}"));
        let (mut chat, mut peer) = listening_chat_with_raw_peer(&case_dir, &[]);
        let payload = format!("payload of case {i}");
        let mut data = file_header(sent, payload.len());
        data.extend_from_slice(payload.as_bytes());
        data.extend_from_slice(b"[X] next\n");
        peer.write_bytes(&data);

        chat.expect_saved(&format!("received_files/{expected}"));
        chat.expect_exact("[X] next");
        assert_eq!(
            fs::read_to_string(case_dir.join("received_files").join(expected)).unwrap(),
            payload,
            "case {sent:?}"
        );
        assert_eq!(
            dir_entries(&case_dir.join("received_files")),
            [*expected],
            "case {sent:?}"
        );
        assert_eq!(dir_entries(&case_dir), ["received_files"], "case {sent:?}");
        if chat.stdout_raw_lines().iter().any(|l| l.contains(&0x1b)) {
            chat.fail(&format!("escape byte on screen in case {sent:?}"));
        }
    }
    assert!(
        dir_entries(&outside).is_empty(),
        "a file was written outside"
    );
    let mut top = dir_entries(dir.path());
    top.retain(|n| !n.starts_with("case") && n != "outside");
    assert!(
        top.is_empty(),
        "files written outside the download dirs: {top:?}"
    );
}

#[test]
fn malformed_file_headers_are_ignored_and_the_chat_goes_on() {
    let dir = TestDir::new("hostile_headers");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let headers = [
        "/file x",
        "/file x abc",
        "/file x -5",
        "/file x 99999999999999999999999",
        "/file 12",
    ];
    for (i, header) in headers.iter().enumerate() {
        peer.write_bytes(format!("{header}\n[X] still here {i}\n").as_bytes());
        chat.expect_prefix("[System] Ignored malformed file header");
        chat.next_line_is(&format!("[X] still here {i}"));
    }
    assert!(
        dir_entries(&dir.join("received_files")).is_empty(),
        "a malformed header produced a file"
    );
    drop(peer);
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
}

#[test]
fn cut_transfer_is_reported_incomplete_and_leaves_no_file() {
    let dir = TestDir::new("hostile_short");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let mut data = file_header("lie.txt", 1000);
    data.extend_from_slice(b"only ten!!");
    peer.write_bytes(&data);
    chat.expect_exact("[System] Incoming file lie.txt (1000 B)...");
    // While bytes are missing, they sit in an unnamed temporary file: the
    // folder shows nothing, least of all the final name.
    let downloads = dir.join("received_files");
    common::wait_for_open_file_in(chat.pid(), &downloads);
    assert_eq!(dir_entries(&downloads), Vec::<String>::new());
    drop(peer);

    chat.expect_prefix("[System] Transfer of lie.txt incomplete: received 10 B of 1000 B");
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "127.0.0.1");
    let leftovers = dir_entries(dir.path());
    assert!(
        leftovers.is_empty() || leftovers == ["received_files"],
        "unexpected entries in the working dir: {leftovers:?}"
    );
    assert_eq!(
        dir_entries(&dir.join("received_files")),
        Vec::<String>::new(),
        "partial or temporary file left behind"
    );
}

#[test]
fn connection_reset_ends_the_chat_with_exit_code_one() {
    let dir = TestDir::new("hostile_reset");
    let (mut chat, peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    chat.send_line("anyone there?");
    // Closing a socket with unread data makes the kernel answer with a reset
    // instead of an orderly end of stream.
    peer.wait_for_unread_socket_data();
    drop(peer);

    let code = chat.wait_exit_within(Duration::from_secs(5));
    chat.assert_failed_cleanly(code, "127.0.0.1");
}

#[test]
fn overlong_line_is_dropped_and_the_following_lines_are_shown() {
    let dir = TestDir::new("hostile_long_line");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let mut data = b"[X] ".to_vec();
    data.extend(std::iter::repeat_n(b'a', 100 * 1024));
    data.extend_from_slice(b"\n[X] short\n");
    peer.write_bytes(&data);
    chat.expect_prefix("[System] Dropped a line of");
    chat.next_line_is("[X] short");

    // Long but within the limit: shown in full.
    let long_ok = format!("[X] {}", "b".repeat(60_000));
    peer.write_bytes(format!("{long_ok}\n").as_bytes());
    chat.next_line_is(&long_ok);
}

#[test]
fn fifty_mib_line_keeps_memory_bounded() {
    let dir = TestDir::new("hostile_huge_line");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    chat.timeout = Duration::from_secs(30);
    let chunk = vec![b'z'; 1024 * 1024];
    peer.write_bytes(b"[X] ");
    for _ in 0..50 {
        peer.write_bytes(&chunk);
    }
    peer.write_bytes(b"\n[X] after the flood\n");

    chat.expect_prefix("[System] Dropped a line of");
    chat.next_line_is("[X] after the flood");
    // Still connected and running, so the figure is read from the live process.
    let peak = peak_rss_kib(chat.pid());
    assert!(
        peak < 40 * 1024,
        "peak resident memory {peak} KiB after a 50 MiB line\n{}",
        chat.report()
    );
}

#[test]
fn escape_sequences_and_control_characters_are_made_visible() {
    let dir = TestDir::new("hostile_escapes");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    peer.write_bytes(b"[X] \x1b[31mred\x1b[0m alert\n");
    let red = chat.expect_raw("the red line", |l| {
        contains(l, b"red") && contains(l, b"alert")
    });
    if red.contains(&0x1b) {
        chat.fail(&format!("escape passed through: {}", show(&red)));
    }

    peer.write_bytes(b"[X] ring\x07 back\x08 ret\r clear\x1bc end\n");
    let ctl = chat.expect_raw("the control line", |l| {
        contains(l, b"ring") && contains(l, b"end")
    });
    if ctl.iter().any(|&b| b < 0x20) {
        chat.fail(&format!("control byte passed through: {}", show(&ctl)));
    }

    peer.write_bytes("[X] abc\u{202E}fed\n".as_bytes());
    let bidi = chat.expect_line("the bidi line", |l| l.contains("abc") && l.contains("fed"));
    if bidi.contains('\u{202E}') {
        chat.fail(&format!("bidi override passed through: {bidi:?}"));
    }

    // A file name carrying escapes must not reach the screen raw either.
    let mut data = file_header("x\x1b[2Jy.txt", 2);
    data.extend_from_slice(b"ok[X] done\n");
    peer.write_bytes(&data);
    chat.expect_exact("[X] done");
    if let Some(line) = chat
        .stdout_raw_lines()
        .iter()
        .find(|l| l.iter().any(|&b| b < 0x20))
    {
        let line = show(line);
        chat.fail(&format!("control byte on screen: {line}"));
    }
}

#[test]
fn invalid_utf8_is_shown_with_replacement_characters() {
    let dir = TestDir::new("hostile_utf8");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    peer.write_bytes(b"[X] bad \xff\xfe bytes \xc3\n");
    let line = chat.expect_raw("the bad line", |l| {
        contains(l, b"bad") && contains(l, b"bytes")
    });
    match String::from_utf8(line.clone()) {
        Ok(text) if text.starts_with("[X] bad ") && text.contains('\u{FFFD}') => {}
        _ => chat.fail(&format!(
            "expected valid UTF-8 with U+FFFD in place of the bad bytes, got {}",
            show(&line)
        )),
    }
}

/// Text, a file header, a payload that looks like protocol lines, and more text.
fn mixed_stream() -> (Vec<u8>, Vec<u8>) {
    let payload = b"one\n[X] fake line\n/file z 3\nabc".to_vec();
    let mut data = b"[X] before\n".to_vec();
    data.extend(file_header("co.bin", payload.len()));
    data.extend_from_slice(&payload);
    data.extend_from_slice(b"[X] after\n");
    (data, payload)
}

fn assert_mixed_stream_handled(split_bytewise: bool, name: &str) {
    let dir = TestDir::new(name);
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let (data, payload) = mixed_stream();
    if split_bytewise {
        peer.write_bytewise(&data);
    } else {
        peer.write_bytes(&data);
    }
    chat.next_line_is("[X] before");
    chat.next_line_is(&format!(
        "[System] Incoming file co.bin ({})...",
        common::size(payload.len())
    ));
    chat.next_line_is("[System] File saved to received_files/co.bin");
    // Payload bytes that look like lines must not be shown.
    chat.next_line_is("[X] after");
    assert_eq!(
        fs::read(dir.join("received_files/co.bin")).unwrap(),
        payload
    );
    finish_cleanly(chat, peer);
}

fn finish_cleanly(mut chat: common::Chat, mut peer: RawPeer) {
    peer.shutdown_write();
    chat.expect_exact("[System] Peer disconnected.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn coalesced_frames_in_one_write_are_handled_in_order() {
    assert_mixed_stream_handled(false, "hostile_coalesced");
}

#[test]
fn stream_written_one_byte_at_a_time_is_reassembled() {
    assert_mixed_stream_handled(true, "hostile_bytewise");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_last_line_without_newline_is_still_shown() {
    let dir = TestDir::new("hostile_no_newline");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    // What `printf 'bye' | nc -N HOST PORT` sends.
    peer.write_bytes(b"[nc] bye");
    peer.shutdown_write();
    chat.expect_exact("[nc] bye");
    chat.expect_exact("[System] Peer disconnected.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn a_file_that_cannot_be_saved_is_skipped_and_the_chat_goes_on() {
    let dir = TestDir::new("hostile_unsavable");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &["--download-dir", "dl"]);
    // The folder was fine at start-up; now a file stands where it would be created.
    fs::write(dir.join("dl"), b"in the way").unwrap();
    let mut data = file_header("doc.txt", 5);
    data.extend_from_slice(b"12345[X] after the file\n");
    peer.write_bytes(&data);

    chat.expect_exact("[System] Incoming file doc.txt (5 B)...");
    chat.expect_exact("[System] Could not save file doc.txt: dl is not a directory");
    chat.expect_exact("[X] after the file");
    assert_eq!(fs::read(dir.join("dl")).unwrap(), b"in the way");
    peer.shutdown_write();
    chat.expect_exact("[System] Peer disconnected.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn a_line_is_shown_at_once_even_when_the_next_one_is_still_arriving() {
    let dir = TestDir::new("hostile_partial_next");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    // The first line must not wait in an output buffer for the second one
    // to be completed.
    peer.write_bytes(b"[X] complete\n[X] unfin");
    chat.expect_exact("[X] complete");
    peer.write_bytes(b"ished\n");
    chat.expect_exact("[X] unfinished");
    // The same when the first line is not plain text.
    peer.write_bytes(b"[X] caf\xc3\xa9\n[X] more");
    chat.expect_exact("[X] café");
    peer.write_bytes(b"\n");
    chat.expect_exact("[X] more");
    finish_cleanly(chat, peer);
}
