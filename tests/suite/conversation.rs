//! Two chats talking to each other: messages both ways, leaving, exit codes, long piped
//! input, the one-peer rule and the supported ways to name the listening host.

use crate::common;
use crate::common::{Chat, RawPeer, TestDir, connected_pair};
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn messages_flow_both_ways_and_quit_ends_both_sides() {
    let dir = TestDir::new("conv_both_ways");
    let (mut alice, mut bob) = connected_pair(&dir.subdir("alice"), &[], &dir.subdir("bob"), &[]);

    bob.send_line("Hi there");
    alice.expect_exact("[bob] Hi there");
    alice.send_line("Hello bob, welcome!");
    bob.expect_exact("[alice] Hello bob, welcome!");

    // A blank line must not produce anything on the peer's screen: the very next line
    // alice sees has to be bob's following message.
    bob.send_line("");
    bob.send_line("second message");
    alice.next_line_is("[bob] second message");

    bob.send_line("/quit");
    alice.next_line_is("[bob] has left the chat.");
    alice.expect_exact("[System] Peer disconnected.");
    alice.expect_exact("[System] Exiting.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    bob.expect_exact("[System] Exiting.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());

    // Nobody sees their own messages echoed back.
    let bob_lines = bob.stdout_lines();
    assert!(
        !bob_lines.iter().any(|l| l.starts_with("[bob]")),
        "bob's own messages were echoed:\n{}",
        bob.report()
    );
    let alice_lines = alice.stdout_lines();
    assert!(
        !alice_lines.iter().any(|l| l.starts_with("[alice]")),
        "alice's own messages were echoed:\n{}",
        alice.report()
    );
    alice.assert_no_panic();
    bob.assert_no_panic();
}

#[test]
fn end_of_input_leaves_and_the_peer_exits_promptly_with_stdin_open() {
    let dir = TestDir::new("conv_eof");
    let (mut alice, mut bob) = connected_pair(&dir.subdir("alice"), &[], &dir.subdir("bob"), &[]);

    alice.send_line("see you");
    bob.expect_exact("[alice] see you");

    // Ctrl-D on the listening side; bob's stdin stays open the whole time.
    let closed_at = Instant::now();
    alice.close_stdin();
    bob.expect_exact("[alice] has left the chat.");
    bob.expect_exact("[System] Peer disconnected.");
    bob.expect_exact("[System] Exiting.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    let elapsed = closed_at.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "bob took {elapsed:?} to exit after alice left"
    );

    alice.expect_exact("[System] Exiting.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    alice.assert_no_panic();
    bob.assert_no_panic();
}

#[test]
fn peer_closing_cleanly_ends_the_chat_with_exit_code_zero() {
    let dir = TestDir::new("conv_peer_close");
    let (mut chat, port) = Chat::listen("alice", dir.path(), &["--name", "alice"]);
    let mut peer = RawPeer::connect(port);
    chat.expect_prefix("[System] Connected by 127.0.0.1:");

    peer.write_bytes(b"[raw] bye\n");
    chat.expect_exact("[raw] bye");
    let closed_at = Instant::now();
    drop(peer);

    chat.expect_exact("[System] Peer disconnected.");
    chat.expect_exact("[System] Exiting.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    let elapsed = closed_at.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "chat took {elapsed:?} to notice the peer left while its stdin stayed open"
    );
    chat.assert_no_panic();
}

#[test]
fn five_thousand_piped_lines_arrive_in_order_before_the_goodbye() {
    let dir = TestDir::new("conv_5000");
    let (mut alice, mut bob) = connected_pair(&dir.subdir("alice"), &[], &dir.subdir("bob"), &[]);

    let mut input = String::new();
    for i in 1..=5000 {
        input.push_str(&format!("line {i:04} of 5000\n"));
    }
    bob.send_raw(input.as_bytes());
    bob.close_stdin();

    for i in 1..=5000 {
        alice.next_line_is(&format!("[bob] line {i:04} of 5000"));
    }
    alice.next_line_is("[bob] has left the chat.");
    alice.expect_exact("[System] Exiting.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    bob.expect_exact("[System] Exiting.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn listener_turns_away_a_second_peer_and_keeps_the_first() {
    let dir = TestDir::new("conv_one_peer");
    let (mut alice, port) = Chat::listen("alice", &dir.subdir("alice"), &["--name", "alice"]);
    let mut bob = Chat::connect(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob"],
    );
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    alice.expect_prefix("[System] Connected by 127.0.0.1:");

    // Either the connection is refused outright or it is closed without being served;
    // a connection left hanging open counts as being stuck in a queue nobody reads.
    match TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)) {
        Err(_) => {}
        Ok(mut intruder) => {
            intruder
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 1024];
            loop {
                match intruder.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        alice.fail("a second connection was accepted and kept open")
                    }
                    Err(_) => break,
                }
            }
        }
    }

    bob.send_line("still with you?");
    alice.expect_exact("[bob] still with you?");
    alice.send_line("yes");
    bob.expect_exact("[alice] yes");

    bob.send_line("/quit");
    alice.expect_exact("[bob] has left the chat.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    let connections = alice
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("[System] Connected by"))
        .count();
    assert_eq!(connections, 1, "{}", alice.report());
}

#[test]
fn works_over_ipv6_loopback() {
    // Some sandboxes have no IPv6 at all; then there is nothing to test.
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: ::1 is not available here");
        return;
    }
    let dir = TestDir::new("conv_ipv6");
    let (mut alice, port) =
        Chat::listen_on("alice", &dir.subdir("alice"), "::1", &["--name", "alice"]);
    assert!(
        alice.stdout_lines()[0].starts_with("[System] Listening on [::1]:"),
        "{}",
        alice.report()
    );
    let mut bob = Chat::connect("bob", &dir.subdir("bob"), "::1", port, &["--name", "bob"]);
    bob.expect_exact(&format!("[System] Connected to [::1]:{port}"));
    alice.expect_prefix("[System] Connected by [::1]:");

    bob.send_line("over v6");
    alice.expect_exact("[bob] over v6");
    alice.send_line("loud and clear");
    bob.expect_exact("[alice] loud and clear");
    bob.send_line("/quit");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn connect_accepts_localhost_as_host_name() {
    let dir = TestDir::new("conv_localhost");
    let (mut alice, port) = Chat::listen("alice", &dir.subdir("alice"), &["--name", "alice"]);
    assert_eq!(
        alice.stdout_lines()[0],
        format!("[System] Listening on 127.0.0.1:{port} ..."),
        "{}",
        alice.report()
    );
    // `localhost` may also resolve to ::1, where nobody listens; the chat has to try
    // the next address instead of giving up.
    let mut bob = Chat::connect(
        "bob",
        &dir.subdir("bob"),
        "localhost",
        port,
        &["--name", "bob"],
    );
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    alice.expect_prefix("[System] Connected by 127.0.0.1:");

    bob.send_line("found you by name");
    alice.expect_exact("[bob] found you by name");
    bob.send_line("/quit");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn after_saying_goodbye_the_chat_still_shows_what_the_peer_sends_before_closing() {
    let dir = TestDir::new("conv_linger");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat = Chat::connect("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    let mut peer = RawPeer::accept(&listener);
    chat.expect_prefix("[System] Connected to ");

    chat.send_line("/quit");
    peer.expect_line("[bob] has left the chat.");
    // The chat has shut its sending side but must keep reading until the
    // peer closes too; closing at once could reset the connection and lose
    // data it sent. This peer takes a moment to answer, as a person's would:
    // the pause is the scenario, not a wait for the chat.
    std::thread::sleep(Duration::from_millis(300));
    peer.write_bytes(b"[raw] bye back\n");
    peer.shutdown_write();
    chat.expect_exact("[raw] bye back");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    let lines = chat.stdout_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("[System] Exiting."),
        "{}",
        chat.report()
    );
}

#[test]
fn the_name_defaults_to_the_login_name() {
    let dir = TestDir::new("conv_login_name");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat = Chat::spawn_with_env(
        "daksh",
        dir.path(),
        &["connect", "127.0.0.1", &port.to_string(), "--plain"],
        &[("USER", "daksh")],
    );
    let mut peer = RawPeer::accept(&listener);
    chat.expect_prefix("[System] Connected to ");
    chat.send_line("hi");
    peer.expect_line("[daksh] hi");
    chat.close_stdin();
    peer.expect_line("[daksh] has left the chat.");
    drop(peer);
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

#[test]
fn sigterm_leaves_cleanly_and_removes_an_unfinished_download() {
    let dir = TestDir::new("conv_sigterm");
    let (mut chat, mut peer) = common::listening_chat_receiving_half_a_file(dir.path());

    chat.signal("TERM");
    peer.expect_line("[alice] has left the chat.");
    drop(peer);
    chat.expect_prefix("[System] Transfer of half.bin incomplete");
    chat.expect_exact("[System] Exiting.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    assert_eq!(
        common::dir_entries(&dir.join("received_files")),
        Vec::<String>::new(),
        "the unfinished download was left behind"
    );
}

#[test]
fn piped_input_waits_for_a_peer_that_does_not_read() {
    let dir = TestDir::new("conv_backpressure");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat = Chat::connect("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    // The peer accepts but never reads.
    let peer = RawPeer::accept(&listener);
    chat.expect_prefix("[System] Connected to ");

    // 200 MiB of lines: far more than the socket buffers hold. If the chat
    // queued what it cannot send, it would read all of it into memory.
    const TOTAL: usize = 200 * 1024 * 1024;
    let mut stdin = chat.take_stdin();
    let writer = std::thread::spawn(move || {
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let mut written = 0;
        while written < TOTAL {
            if std::io::Write::write_all(&mut stdin, &line).is_err() {
                break;
            }
            written += line.len();
        }
        written
    });
    // The writer must block: wait a while for it to (wrongly) finish.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !writer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !writer.is_finished(),
        "the chat read all {TOTAL} piped bytes although nothing could be sent"
    );
    let peak = common::peak_rss_kib(chat.pid());
    assert!(peak < 40 * 1024, "peak RSS {peak} KiB with a stalled peer");
    // The peer going away with input still pouring in ends the chat at
    // once. Whether the close reads as a plain end (0) or a reset of unread
    // data (1) depends on what the kernel delivers first.
    drop(peer);
    let code = chat.wait_exit();
    assert!(
        code == 0 || code == 1,
        "exit code {code}\n{}",
        chat.report()
    );
    chat.assert_no_panic();
    assert_eq!(
        chat.stdout_lines().last().map(String::as_str),
        Some("[System] Exiting."),
        "{}",
        chat.report()
    );
    let _ = writer.join();
}
