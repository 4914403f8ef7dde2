//! Either side may start first: `chat connect HOST PORT` tries again while
//! nobody listens there yet, as long as `--wait` says (30 s unless told;
//! 0 until stopped), says so once, and can be stopped meanwhile. What is
//! not a missing listener (a wrong code, a peer that does not speak the
//! protocol, a name that does not resolve) is not tried again.

use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Chat, TestDir, closed_port};

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
    let (mut alice, port) = Chat::listen_encrypted(
        "alice",
        &dir.subdir("alice"),
        &["--lan", "--code", "7-ocean-lamp"],
    );
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

// The ways people write an address: HOST:PORT, [V6]:PORT, a port given as `listen`
// takes it, `localhost`.

/// Connects `chat connect ARGS...` to a chat listening on `host`, where the test's
/// `args` name the port the listener reports (`{port}` in them), and checks the two
/// talk: the address was taken as one, not looked for as a chat's name.
fn connects_with(test: &str, host: &str, args: &[&str], connected_to: &str) {
    let dir = TestDir::new(test);
    let (mut alice, port) =
        Chat::listen_wire_on("alice", &dir.subdir("alice"), host, &["--name", "alice"]);
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let mut all: Vec<&str> = vec!["connect"];
    all.extend(args.iter().map(String::as_str));
    all.extend(["--name", "bob", "--wait", "5"]);
    let mut bob = Chat::spawn("bob", &dir.subdir("bob"), &all);
    bob.expect_exact(&format!(
        "[System] Connected to {}",
        connected_to.replace("{port}", &port.to_string())
    ));
    let code = bob.expect_prefix("[System] Encrypted. Safety code: ");
    alice.expect_exact(&code);
    bob.send_line("by address");
    alice.expect_exact("[bob] by address");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn host_colon_port_is_an_address() {
    connects_with(
        "connect-colon",
        "127.0.0.1",
        &["127.0.0.1:{port}"],
        "127.0.0.1:{port}",
    );
}

#[test]
fn localhost_colon_port_is_an_address() {
    connects_with(
        "connect-localhost-colon",
        "127.0.0.1",
        &["localhost:{port}"],
        "127.0.0.1:{port}",
    );
}

#[test]
fn a_bracketed_ipv6_address_takes_its_port_after_the_bracket() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    connects_with("connect-v6-colon", "::1", &["[::1]:{port}"], "[::1]:{port}");
}

#[test]
fn connect_takes_port_as_listen_does() {
    connects_with(
        "connect-port-option",
        "127.0.0.1",
        &["127.0.0.1", "--port", "{port}"],
        "127.0.0.1:{port}",
    );
}

#[test]
fn a_port_given_twice_or_out_of_range_is_a_usage_error() {
    let dir = TestDir::new("connect-bad-port");
    for (args, said) in [
        (
            &["connect", "127.0.0.1:6000", "6001"][..],
            "the port is given twice (6000 after the colon, and 6001): give it once",
        ),
        (
            &["connect", "127.0.0.1:6000", "--port", "6000"],
            "the port is given twice",
        ),
        (
            &["connect", "127.0.0.1:70000"],
            "\"70000\" is not a port (1 to 65535)",
        ),
        (&["connect", "127.0.0.1", "0"], "0 is not in 1..=65535"),
        (
            &["connect", "127.0.0.1", "--port", "0"],
            "0 is not in 1..=65535",
        ),
    ] {
        let mut chat = Chat::spawn("bob", dir.path(), args);
        assert_eq!(chat.wait_exit(), 2, "{args:?}: {}", chat.report());
        let stderr = chat.stderr_text();
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(!stderr.contains("tip:"), "{args:?}: {stderr}");
    }
}

// A port where something else answers: said for what it is, not taken for a chat
// that needs --plain.

/// A server on a free loopback port that answers one connection with `reply`: at once
/// (a banner, as SSH sends) or after the first line it reads (a web server answering
/// what it takes for a request). It closes once it has read that line, so that
/// nothing it was sent is left unread (which would reset the connection). Its port.
fn fake_service(reply: &'static [u8], at_once: bool) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut stream = common::accept_within_timeout(&listener);
        if at_once {
            let _ = std::io::Write::write_all(&mut stream, reply);
        }
        let mut line = Vec::new();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let _ = std::io::BufRead::read_until(&mut reader, b'\n', &mut line);
        if !at_once {
            let _ = std::io::Write::write_all(&mut stream, reply);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
    });
    port
}

fn assert_said_to_be(reply: &'static [u8], at_once: bool, what: &str) {
    let dir = TestDir::new("connect-stranger");
    let port = fake_service(reply, at_once);
    let mut bob = Chat::connect_encrypted("bob", dir.path(), "127.0.0.1", port, &["--wait", "2"]);
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(
        code,
        &format!(
            "127.0.0.1:{port}: this port answers like {what}, not a chat; check the address \
             and the port (chat listen takes 5050 unless told otherwise)"
        ),
    );
    assert!(!bob.stderr_text().contains("--plain"), "{}", bob.report());
}

#[test]
fn a_web_server_on_the_port_is_said_to_be_one() {
    // What Python's http.server answers to the greeting, which it reads as a request
    // of HTTP/0.9: a page without a status line.
    let python = b"<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <title>Error \
                   response</title>\n    </head>\n</html>\n";
    assert_said_to_be(python, false, "a web server (HTTP)");
    let nginx = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n";
    assert_said_to_be(nginx, false, "a web server (HTTP)");
}

#[test]
fn an_ssh_or_tls_server_on_the_port_is_said_to_be_one() {
    assert_said_to_be(b"SSH-2.0-OpenSSH_9.6p1\r\n", true, "an SSH server");
    // A TLS alert record: what a TLS server says to bytes it cannot read.
    let alert: &'static [u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
    assert_said_to_be(alert, false, "a TLS service (HTTPS or the like)");
}

#[test]
fn a_browser_at_a_listening_chat_is_turned_away_as_one() {
    let dir = TestDir::new("listen-browser");
    let (mut alice, port) = Chat::listen_encrypted("alice", dir.path(), &[]);
    let mut browser = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let from = browser.local_addr().unwrap().port();
    std::io::Write::write_all(&mut browser, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    alice.expect_exact(&format!(
        "[System] Turned away 127.0.0.1:{from}: it spoke like a web browser or HTTP client, \
         not a chat. Still waiting for a peer."
    ));
}
