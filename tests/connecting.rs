//! Either side may start first: `chat connect HOST PORT` tries again while
//! nobody listens there yet, as long as `--wait` says (30 s unless told;
//! 0 until stopped), says so once, and can be stopped meanwhile. What is
//! not a missing listener (a wrong code, a peer that does not speak the
//! protocol, a name that does not resolve) is not tried again.

mod common;

use std::time::{Duration, Instant};

use common::{Chat, TestDir, closed_port};

/// Starts `chat connect 127.0.0.1 PORT --name bob EXTRA...` to a port
/// nobody listens on yet, and waits for it to say it tries again.
fn connect_first(dir: &TestDir, port: u16, extra: &[&str], trying: &str) -> Chat {
    let port_text = port.to_string();
    let mut args = vec!["connect", "127.0.0.1", &port_text, "--name", "bob"];
    args.extend_from_slice(extra);
    let mut bob = Chat::spawn("bob", &dir.subdir("bob"), &args);
    bob.expect_exact(&format!(
        "[System] Nobody listens on 127.0.0.1 {port} yet; trying again {trying} (Ctrl-C stops)."
    ));
    bob
}

/// Starts `chat listen` on `port`, then checks that `bob`, trying all
/// along, gets through and the two talk.
fn listen_late_and_talk(dir: &TestDir, port: u16, bob: &mut Chat) {
    let port_text = port.to_string();
    let mut alice = Chat::spawn(
        "alice",
        &dir.subdir("alice"),
        &[
            "listen",
            "--host",
            "127.0.0.1",
            "--port",
            &port_text,
            "--name",
            "alice",
        ],
    );
    alice.expect_exact(&format!("[System] Listening on 127.0.0.1:{port} ..."));
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    let code = bob.expect_prefix("[System] Encrypted. Safety code: ");
    alice.expect_exact(&code);
    bob.send_line("I was here first");
    alice.expect_exact("[bob] I was here first");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    // It said so once, however often it tried.
    let said = bob
        .stdout_lines()
        .iter()
        .filter(|l| l.contains("trying again"))
        .count();
    assert_eq!(said, 1, "{}", bob.report());
}

#[test]
fn connect_started_before_listen_gets_through_once_the_listener_is_up() {
    let dir = TestDir::new("connect-first");
    let port = closed_port();
    let mut bob = connect_first(&dir, port, &[], "for up to 30 s");
    listen_late_and_talk(&dir, port, &mut bob);
}

#[test]
fn wait_zero_keeps_trying_until_the_listener_comes() {
    let dir = TestDir::new("connect-wait-zero");
    let port = closed_port();
    let mut bob = connect_first(&dir, port, &["--wait", "0"], "until it answers");
    listen_late_and_talk(&dir, port, &mut bob);
}

#[test]
fn ctrl_c_stops_a_connect_that_waits_at_once() {
    let dir = TestDir::new("connect-stopped");
    let port = closed_port();
    let mut bob = connect_first(&dir, port, &["--wait", "0"], "until it answers");
    bob.signal("INT");
    let asked = Instant::now();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    bob.expect_exact("[System] Exiting.");
    assert_eq!(bob.stderr_text(), "");
}

#[test]
fn a_connect_gives_up_once_its_wait_is_over() {
    let dir = TestDir::new("connect-gives-up");
    let port = closed_port();
    let started = Instant::now();
    let mut bob = connect_first(&dir, port, &["--wait", "2"], "for up to 2 s");
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(
        code,
        &format!("cannot connect to 127.0.0.1:{port} (tried for 2 s): "),
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn a_wrong_code_is_not_tried_again() {
    let dir = TestDir::new("connect-wrong-code");
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--code", "7-ocean-lamp"]);
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--code", "7-ocean-lake"],
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "the code did not match");
    assert!(
        !bob.stdout_lines()
            .iter()
            .any(|l| l.contains("trying again")),
        "{}",
        bob.report()
    );
    alice.expect_prefix("[System] Turned away 127.0.0.1:");
}
