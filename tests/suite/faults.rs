//! Peers that stall, vanish or leave in the original's way, input that never
//! ends its line, and the time before anyone is connected.

use crate::common;
use crate::common::{Chat, RawPeer, TestDir};
use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A file of `len` zero bytes that takes no room on disk.
fn sparse_file(path: &Path, len: u64) {
    File::create(path).unwrap().set_len(len).unwrap();
}

#[test]
fn the_peer_leaving_is_seen_at_once_with_a_hundred_files_queued() {
    let dir = TestDir::new("faults_queued_leave");
    sparse_file(&dir.join("big.bin"), 64 << 20);
    let (mut chat, mut peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    // The peer reads nothing, so the first file fills the buffers and the
    // other 99 wait behind it.
    for _ in 0..100 {
        chat.send_line("/send big.bin");
    }
    // Once the first header is here, the first file is under way.
    peer.wait_for_unread_socket_data();
    chat.send_line("/status");
    chat.expect_prefix("[System] #1 Sending big.bin: ");
    chat.expect_exact("[System] #2 Queued: big.bin (64.0 MiB)");

    peer.write_bytes(b"[raw] has left the chat.\n");
    let left = Instant::now();
    chat.expect_exact("[raw] has left the chat.");
    chat.expect_prefix("[System] big.bin was not delivered (stopped at ");
    chat.expect_exact("[System] big.bin was not delivered (not started).");
    let code = chat.wait_exit();
    assert_eq!(code, 0, "{}", chat.report());
    assert!(
        left.elapsed() < Duration::from_secs(3),
        "took {:?} to end after the peer left\n{}",
        left.elapsed(),
        chat.report()
    );
    chat.assert_no_panic();
    drop(peer);
}

/// Starts bob sending a 64 MiB file to a peer that reads `trickle` bytes
/// every 100 ms (nothing at all when 0), with a 2 s stall window, and checks
/// that bob gives up with the stall error and says what was not delivered;
/// with `leaving`, after the user has already asked to leave.
fn assert_given_up_on(test: &str, trickle: usize, leaving: bool) {
    let dir = TestDir::new(test);
    sparse_file(&dir.join("big.bin"), 64 << 20);
    let (mut chat, peer) =
        common::connecting_chat_with_raw_peer(dir.path(), &["--stall-timeout", "2"]);
    let reading = trickle > 0;
    let mut stream: TcpStream = peer.into_stream();
    let done = Arc::new(AtomicBool::new(false));
    let trickler_done = done.clone();
    let trickler = std::thread::spawn(move || {
        let mut buf = vec![0; trickle.max(1)];
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let start = Instant::now();
        while reading
            && !trickler_done.load(Ordering::SeqCst)
            && start.elapsed() < Duration::from_secs(30)
        {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        stream
    });
    chat.send_line("/send big.bin");
    chat.send_line("still there?");
    if leaving {
        chat.close_stdin();
    }
    chat.timeout = Duration::from_secs(20);
    chat.expect_prefix("[System] big.bin was not delivered (stopped at ");
    chat.expect_exact("[System] 1 message was not sent: the connection ended first.");
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(
        code,
        "the peer stopped reading: less than 16.0 KiB went out in 2 s",
    );
    done.store(true, Ordering::SeqCst);
    drop(trickler.join());
}

#[test]
fn a_peer_that_never_reads_is_given_up_after_the_stall_window() {
    assert_given_up_on("faults_stall_silent", 0, false);
}

#[test]
fn a_peer_that_stops_reading_while_we_leave_is_given_up_as_well() {
    assert_given_up_on("faults_stall_leaving", 0, true);
}

#[test]
fn a_peer_that_reads_a_trickle_is_given_up_too() {
    assert_given_up_on("faults_stall_trickle", 512, false);
}

#[test]
fn input_without_a_newline_is_dropped_as_it_streams_in_bounded_memory() {
    let dir = TestDir::new("faults_endless_input");
    let (mut chat, mut peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    let mut stdin = chat.take_stdin();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..200 {
            std::io::Write::write_all(&mut stdin, &chunk).unwrap();
        }
        std::io::Write::write_all(&mut stdin, b"\nafter the flood\n").unwrap();
        stdin
    });
    peer.expect_line("[bob] after the flood");
    chat.expect_exact(&format!(
        "[System] Message not sent: it is {} and the limit is 64.0 KiB.",
        common::size((200u64 << 20) + 6)
    ));
    let peak = common::peak_rss_kib(chat.pid());
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB for a 200 MiB line");
    drop(writer.join().unwrap());
    peer.expect_line("[bob] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn the_originals_goodbye_ends_the_chat_though_its_socket_stays_open() {
    let dir = TestDir::new("faults_original_goodbye");
    let (mut chat, mut peer) = common::listening_chat_with_raw_peer(dir.path(), &[]);
    peer.write_bytes(b"[I056] bye for now\n[I056] has left the chat.\n");
    chat.expect_exact("[I056] bye for now");
    chat.expect_exact("[I056] has left the chat.");
    chat.expect_exact("[System] Peer disconnected.");
    assert_eq!(
        chat.wait_exit_within(Duration::from_secs(3)),
        0,
        "{}",
        chat.report()
    );
    // The socket is still open on this side; the chat closed its own.
    let mut rest = Vec::new();
    peer.into_stream().read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn a_goodbye_quoted_inside_a_message_is_just_text() {
    let dir = TestDir::new("faults_quoted_goodbye");
    let (mut chat, mut peer) = common::listening_chat_with_raw_peer(dir.path(), &[]);
    peer.write_bytes(b"[I056] said [x] has left the chat.\n[I056] still here\n");
    chat.expect_exact("[I056] said [x] has left the chat.");
    chat.expect_exact("[I056] still here");
    chat.send_line("/quit");
    peer.expect_line("[alice] has left the chat.");
    drop(peer);
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn piped_input_typed_before_the_peer_comes_is_sent_once_it_does() {
    let dir = TestDir::new("faults_early_input");
    let (mut chat, port) = Chat::listen("alice", dir.path(), &["--name", "alice"]);
    chat.send_line("written before anyone came");
    chat.close_stdin();
    let mut peer = RawPeer::connect(port);
    peer.expect_line("[alice] written before anyone came");
    peer.expect_line("[alice] has left the chat.");
    drop(peer);
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn a_signal_while_waiting_for_a_peer_leaves_at_once() {
    let dir = TestDir::new("faults_waiting_signal");
    let (mut chat, _port) = Chat::listen("alice", dir.path(), &["--name", "alice"]);
    chat.signal("TERM");
    chat.expect_exact("[System] Exiting.");
    assert_eq!(
        chat.wait_exit_within(Duration::from_secs(2)),
        0,
        "{}",
        chat.report()
    );
}

#[test]
fn a_wildcard_listener_says_which_address_to_give_the_peer() {
    let dir = TestDir::new("faults_addresses");
    let mut chat = Chat::spawn(
        "alice",
        dir.path(),
        // (Not announced on the machine's network by a test.)
        &["listen", "--port", "0", "--name", "alice", "--no-announce"],
    );
    let listening = chat.expect_prefix("[System] Listening on 0.0.0.0:");
    let port = common::parse_listen_port(&listening).unwrap();
    let line = chat.next_line();
    let given = line
        .strip_prefix("[System] Your peer can connect to ")
        .and_then(|rest| rest.strip_suffix(&format!(" {port}")))
        .unwrap_or_else(|| chat.fail(&format!("no address to give: {line:?}")));
    let ip: std::net::Ipv4Addr = given
        .parse()
        .unwrap_or_else(|_| chat.fail(&format!("not an IPv4 address: {given:?}")));
    let others = if_addrs::get_if_addrs()
        .unwrap()
        .iter()
        .any(|i| !i.is_loopback() && i.ip().is_ipv4());
    assert_eq!(ip.is_loopback(), !others, "{}", chat.report());
}

#[test]
fn bracketed_ipv6_hosts_are_accepted_and_mapped_ipv4_peers_shown_plainly() {
    if TcpListener::bind("[::]:0").is_err() {
        return;
    }
    let dir = TestDir::new("faults_brackets");
    // (Listening on every interface, it would announce itself there.)
    let (mut alice, port) = Chat::listen_on(
        "alice",
        &dir.subdir("a"),
        "::",
        &["--name", "alice", "--no-announce"],
    );
    // An IPv4 peer reaches the IPv6 wildcard as ::ffff:127.0.0.1.
    let peer = RawPeer::connect(port);
    alice.expect_exact(&format!(
        "[System] Connected by 127.0.0.1:{}",
        peer.local_port()
    ));
    drop(peer);
    alice.wait_exit();

    let (mut alice, port) =
        Chat::listen_on("alice", &dir.subdir("b"), "[::1]", &["--name", "alice"]);
    let mut bob = Chat::connect("bob", &dir.subdir("c"), "[::1]", port, &["--name", "bob"]);
    bob.expect_exact(&format!("[System] Connected to [::1]:{port}"));
    alice.expect_prefix("[System] Connected by [::1]:");
    bob.send_line("/quit");
    alice.expect_exact("[bob] has left the chat.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn a_second_sigterm_ends_at_once_with_its_own_code_and_leaves_nothing() {
    let dir = TestDir::new("faults_second_sigterm");
    let (mut chat, mut peer) = common::listening_chat_receiving_half_a_file(dir.path());
    chat.signal("TERM");
    // The first one is leaving: the goodbye is out, and the chat waits for
    // this peer, which stays, to close.
    peer.expect_line("[alice] has left the chat.");
    chat.signal("TERM");
    assert_eq!(chat.wait_exit(), 128 + 15, "{}", chat.report());
    assert_eq!(
        common::dir_entries(&dir.join("received_files")),
        Vec::<String>::new()
    );
}
