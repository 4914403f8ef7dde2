//! Two chats talking to each other: messages both ways, leaving, exit codes, long piped
//! input, the one-peer rule and the supported ways to name the listening host.

mod common;

use common::{Chat, RawPeer, TestDir, connected_pair};
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
        elapsed < Duration::from_secs(3),
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
        elapsed < Duration::from_secs(3),
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
