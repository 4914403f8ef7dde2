//! File transfer between chats: where files land, names with spaces, never overwriting,
//! big simultaneous transfers, the exact wire format and `/send` errors.

use crate::common;
use crate::common::{
    Chat, RawPeer, TestDir, connected_pair, dir_entries, file_header, pseudo_random_bytes,
};
use std::fs;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn file_lands_in_default_download_dir_created_on_first_arrival() {
    let dir = TestDir::new("files_default_dir");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(&alice_dir, &[], &bob_dir, &[]);
    let content = b"remember the milk\n";
    fs::write(bob_dir.join("notes.txt"), content).unwrap();

    bob.send_line("a file is coming");
    alice.expect_exact("[bob] a file is coming");
    assert!(
        !alice_dir.join("received_files").exists(),
        "download dir exists before any file arrived"
    );

    bob.send_line("/send notes.txt");
    bob.expect_exact("[System] Sent file notes.txt (18 B)");
    alice.expect_exact("[System] Incoming file notes.txt (18 B)...");
    alice.expect_saved("received_files/notes.txt");
    assert_eq!(
        fs::read(alice_dir.join("received_files/notes.txt")).unwrap(),
        content
    );
    assert_eq!(
        dir_entries(&alice_dir.join("received_files")),
        ["notes.txt"]
    );

    // The stream is still in step after the payload.
    bob.send_line("did it arrive?");
    alice.next_line_is("[bob] did it arrive?");
    // The sender keeps its file and gets no download folder of its own.
    assert_eq!(fs::read(bob_dir.join("notes.txt")).unwrap(), content);
    assert!(!bob_dir.join("received_files").exists());

    bob.send_line("/quit");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn listener_sends_binary_file_into_custom_download_dir() {
    let dir = TestDir::new("files_custom_dir");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(
        &alice_dir,
        &[],
        &bob_dir,
        &["--download-dir", "incoming/nested"],
    );
    // Every byte value, including newlines that must not be mistaken for line ends.
    let mut content: Vec<u8> = (0..=255u8).collect();
    content.extend(pseudo_random_bytes(100_000, 7));
    fs::create_dir(alice_dir.join("data")).unwrap();
    fs::write(alice_dir.join("data/report.bin"), &content).unwrap();

    alice.send_line("/send data/report.bin");
    alice.expect_exact("[System] Sent file report.bin (97.9 KiB)");
    bob.expect_exact("[System] Incoming file report.bin (97.9 KiB)...");
    bob.expect_saved("incoming/nested/report.bin");
    assert!(fs::read(bob_dir.join("incoming/nested/report.bin")).unwrap() == content);
    assert!(!bob_dir.join("received_files").exists());

    alice.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn names_with_spaces_survive_the_transfer() {
    let dir = TestDir::new("files_spaces");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(&alice_dir, &[], &bob_dir, &[]);
    fs::create_dir(bob_dir.join("my docs")).unwrap();
    fs::write(bob_dir.join("my docs/summer holiday notes.txt"), b"sun").unwrap();

    bob.send_line("/send my docs/summer holiday notes.txt");
    bob.expect_exact("[System] Sent file summer holiday notes.txt (3 B)");
    alice.expect_exact("[System] Incoming file summer holiday notes.txt (3 B)...");
    alice.expect_saved("received_files/summer holiday notes.txt");
    assert_eq!(
        fs::read(alice_dir.join("received_files/summer holiday notes.txt")).unwrap(),
        b"sun"
    );
}

#[test]
fn existing_files_are_never_overwritten() {
    let dir = TestDir::new("files_numbering");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(&alice_dir, &[], &bob_dir, &[]);
    fs::create_dir(alice_dir.join("received_files")).unwrap();
    fs::write(alice_dir.join("received_files/notes.txt"), b"alice's own").unwrap();

    for round in 1..=3 {
        let content = format!("version {round}");
        fs::write(bob_dir.join("notes.txt"), &content).unwrap();
        bob.send_line("/send notes.txt");
        // Only rewrite the source once the chat says it has been sent.
        bob.expect_exact("[System] Sent file notes.txt (9 B)");
        alice.expect_saved(&format!("received_files/notes ({round}).txt"));
        assert_eq!(
            fs::read_to_string(alice_dir.join(format!("received_files/notes ({round}).txt")))
                .unwrap(),
            content
        );
    }
    assert_eq!(
        fs::read(alice_dir.join("received_files/notes.txt")).unwrap(),
        b"alice's own"
    );
    assert_eq!(
        dir_entries(&alice_dir.join("received_files")),
        [
            "notes (1).txt",
            "notes (2).txt",
            "notes (3).txt",
            "notes.txt"
        ]
    );
}

#[test]
fn empty_file_is_transferred() {
    let dir = TestDir::new("files_empty");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(&alice_dir, &[], &bob_dir, &[]);
    fs::write(bob_dir.join("empty.txt"), b"").unwrap();

    bob.send_line("/send empty.txt");
    bob.expect_exact("[System] Sent file empty.txt (0 B)");
    alice.expect_saved("received_files/empty.txt");
    assert_eq!(
        fs::read(alice_dir.join("received_files/empty.txt")).unwrap(),
        b""
    );
    bob.send_line("after nothing");
    alice.next_line_is("[bob] after nothing");
}

#[test]
fn both_sides_send_large_files_at_the_same_time() {
    const SIZE: usize = 24 * 1024 * 1024;
    let dir = TestDir::new("files_simultaneous");
    let alice_dir = dir.subdir("alice");
    let bob_dir = dir.subdir("bob");
    let (mut alice, mut bob) = connected_pair(&alice_dir, &[], &bob_dir, &[]);
    // Big transfers in a debug build need more than the usual per-event allowance.
    alice.timeout = Duration::from_secs(60);
    bob.timeout = Duration::from_secs(60);
    let from_alice = pseudo_random_bytes(SIZE, 1);
    let from_bob = pseudo_random_bytes(SIZE, 2);
    fs::write(alice_dir.join("big_a.bin"), &from_alice).unwrap();
    fs::write(bob_dir.join("big_b.bin"), &from_bob).unwrap();

    // Both commands go out before either side is waited on, so the two payloads cross
    // on the wire; a chat that stops reading while it writes would deadlock here.
    alice.send_line("/send big_a.bin");
    bob.send_line("/send big_b.bin");

    // Each side finishes sending and receiving in whichever order the race goes.
    alice.expect_all_unordered(&[
        &format!("[System] Sent file big_a.bin ({})", common::size(SIZE)),
        "[System] File saved to received_files/big_b.bin",
    ]);
    bob.expect_all_unordered(&[
        &format!("[System] Sent file big_b.bin ({})", common::size(SIZE)),
        "[System] File saved to received_files/big_a.bin",
    ]);
    assert!(fs::read(alice_dir.join("received_files/big_b.bin")).unwrap() == from_bob);
    assert!(fs::read(bob_dir.join("received_files/big_a.bin")).unwrap() == from_alice);
    // Files are streamed in chunks: neither side ever held a whole file.
    for chat in [&alice, &bob] {
        let peak = common::peak_rss_kib(chat.pid());
        assert!(
            peak < 16 * 1024,
            "peak RSS {peak} KiB while moving two {SIZE}-byte files"
        );
    }

    alice.send_line("all done?");
    bob.expect_exact("[alice] all done?");
    bob.send_line("/quit");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn text_and_files_use_the_documented_wire_format() {
    let dir = TestDir::new("files_wire_format");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut bob = Chat::connect("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    let mut peer = RawPeer::accept(&listener);
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));

    let content = pseudo_random_bytes(5000, 3);
    fs::write(dir.join("a b.bin"), &content).unwrap();
    bob.send_line("hello");
    bob.send_line("");
    bob.send_line("/send a b.bin");
    bob.expect_exact("[System] Sent file a b.bin (4.9 KiB)");
    bob.send_line("after");

    peer.expect_line("[bob] hello");
    peer.expect_line("/file a b.bin 5000");
    assert!(peer.read_exact_bytes(5000) == content, "payload differs");
    peer.expect_line("[bob] after");

    bob.send_line("/quit");
    peer.expect_line("[bob] has left the chat.");
    drop(peer);
    bob.expect_exact("[System] Exiting.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn send_errors_are_reported_and_nothing_goes_on_the_wire() {
    let dir = TestDir::new("files_send_errors");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut bob = Chat::connect("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    let mut peer = RawPeer::accept(&listener);
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    fs::create_dir(dir.join("a folder")).unwrap();

    bob.send_line("/send missing file.txt");
    bob.expect_exact("[System] Cannot send missing file.txt: file not found");
    bob.send_line("/send a folder");
    bob.expect_exact(
        "[System] Cannot send a folder: it is a folder, and the original wire (--plain) carries \
         files only",
    );
    bob.send_line("/send");
    bob.expect_exact("[System] Usage: /send PATH... (quote paths that contain spaces)");

    // The first thing the peer receives must be the message typed after the errors.
    bob.send_line("still here");
    peer.expect_line("[bob] still here");
    bob.send_line("/quit");
    peer.expect_line("[bob] has left the chat.");
    drop(peer);
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    bob.assert_no_panic();
}

#[test]
fn file_header_from_a_peer_with_spaces_in_the_name() {
    let dir = TestDir::new("files_peer_spaces");
    let (mut chat, mut peer) = common::listening_chat_with_raw_peer(dir.path(), &[]);
    let mut data = file_header("quarterly report 2024.pdf", 4);
    data.extend_from_slice(b"%PDF");
    peer.write_bytes(&data);
    chat.expect_exact("[System] Incoming file quarterly report 2024.pdf (4 B)...");
    chat.expect_saved("received_files/quarterly report 2024.pdf");
    assert_eq!(
        fs::read(dir.join("received_files/quarterly report 2024.pdf")).unwrap(),
        b"%PDF"
    );
}
