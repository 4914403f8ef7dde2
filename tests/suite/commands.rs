//! The chat commands in pipe mode, checked on the wire with a raw peer:
//! several files per `/send`, quoting, `//text`, unknown commands, `/help`,
//! `/status`, and text typed during a transfer going out after it.

use crate::common;
use crate::common::{Chat, RawPeer, TestDir, pseudo_random_bytes};
use std::fs;

fn leave(mut bob: Chat, mut peer: RawPeer) {
    bob.send_line("/quit");
    peer.expect_line("[bob] has left the chat.");
    drop(peer);
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn one_send_takes_several_paths_quoted_or_escaped() {
    let dir = TestDir::new("commands_multi_send");
    let (mut bob, mut peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    let files = [
        ("one.txt", b"first".to_vec()),
        ("two words.txt", b"second".to_vec()),
        ("three more.txt", b"third".to_vec()),
    ];
    for (name, body) in &files {
        fs::write(dir.join(name), body).unwrap();
    }
    bob.send_line("/send one.txt \"two words.txt\" three\\ more.txt");
    for (name, body) in &files {
        peer.expect_line(&format!("/file {name} {}", body.len()));
        assert_eq!(&peer.read_exact_bytes(body.len()), body, "{name}");
        bob.expect_exact(&format!(
            "[System] Sent file {name} ({})",
            common::size(body.len())
        ));
    }
    // A missing path among good ones is refused alone.
    bob.send_line("/send one.txt nothing-here.txt");
    bob.expect_exact("[System] Cannot send nothing-here.txt: file not found");
    peer.expect_line("/file one.txt 5");
    assert_eq!(peer.read_exact_bytes(5), b"first");
    bob.send_line("/send \"unclosed");
    bob.expect_prefix("[System] A \" quote is not closed.");
    leave(bob, peer);
}

#[test]
fn slash_words_are_commands_and_double_slash_sends_text() {
    let dir = TestDir::new("commands_slash");
    let (mut bob, mut peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    bob.send_line("/bogus stuff");
    bob.expect_prefix("[System] Unknown command /bogus: nothing was sent.");
    bob.send_line("//bogus stuff");
    // The unknown command never reached the wire: this is the first line.
    peer.expect_line("[bob] /bogus stuff");

    bob.send_line("/help");
    for command in ["/send PATH...", "/status", "/help", "/quit", "//text"] {
        bob.expect_prefix(&format!("[System] {command}"));
    }
    bob.send_line("/status");
    bob.expect_exact("[System] No transfers in progress or queued.");
    bob.send_line("after");
    peer.expect_line("[bob] after");
    leave(bob, peer);
}

#[test]
fn text_typed_during_a_transfer_follows_the_file() {
    let dir = TestDir::new("commands_text_after_file");
    let (mut bob, mut peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    // Big enough that the file is still going out when the next line is
    // read: the raw peer is not reading yet, so the socket buffers fill.
    let body = pseudo_random_bytes(32 * 1024 * 1024, 9);
    fs::write(dir.join("big.bin"), &body).unwrap();
    bob.send_line("/send big.bin");
    bob.send_line("typed meanwhile");
    bob.send_line("/status");
    // Depending on whether the writer has picked the file up yet.
    bob.expect_line("the file in /status", |l| {
        l.starts_with("[System] #1 Sending big.bin: ")
            || l == "[System] #1 Queued: big.bin (32.0 MiB)"
    });
    peer.expect_line(&format!("/file big.bin {}", body.len()));
    assert!(peer.read_exact_bytes(body.len()) == body, "payload differs");
    peer.expect_line("[bob] typed meanwhile");
    bob.expect_exact(&format!(
        "[System] Sent file big.bin ({})",
        common::size(body.len())
    ));
    leave(bob, peer);
}
