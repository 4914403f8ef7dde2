//! Guessing a `--code`: however many handshakes run at once, and from
//! however many addresses, a listener or a room checks three wrong codes
//! and no more; a right code that comes after them is refused too.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use crate::common::{Chat, TIMEOUT, TestDir, credentials};
use chat::net::secure::code::Code;
use chat::net::secure::handshake::{CODE_GREETING, HandshakeError, Side, handshake};

const CODE: &str = "7-ocean-lamp";

/// Bytes a connecting side with a code writes before its confirmation:
/// greeting, commitment, X25519 share, SPAKE2 message.
fn before_confirmation() -> usize {
    CODE_GREETING.len() + 32 + 32 + 33
}

/// A connection whose confirmation waits at a gate: the handshake runs up
/// to it, says so, and writes the confirmation only when let through.
struct Gated {
    stream: TcpStream,
    written: usize,
    at_gate: Option<Sender<()>>,
    go: Receiver<()>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written == before_confirmation()
            && let Some(at_gate) = self.at_gate.take()
        {
            let _ = at_gate.send(());
            self.go
                .recv_timeout(TIMEOUT)
                .map_err(|_| io::Error::other("never let through the gate"))?;
        }
        let n = self.stream.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// One handshake held at its gate.
struct Attempt {
    go: Sender<()>,
    outcome: JoinHandle<Result<String, HandshakeError>>,
}

impl Attempt {
    /// Lets the confirmation go and returns how the handshake ended: the
    /// safety code when it completed.
    fn release(self) -> Result<String, HandshakeError> {
        self.go.send(()).unwrap();
        self.outcome.join().unwrap()
    }
}

/// A TCP connection to `port` on 127.0.0.1 from the loopback address
/// `from`, as another machine on the network would come from its own.
fn connect_from(from: Ipv4Addr, port: u16) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let socket = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&socket, &SocketAddr::from((from, 0))).unwrap();
    connect(&socket, &SocketAddr::from((Ipv4Addr::LOCALHOST, port))).unwrap();
    TcpStream::from(socket)
}

/// Starts a handshake with `code` from `from`; returns once it waits at
/// its gate, with its confirmation unsent.
fn attempt(from: Ipv4Addr, port: u16, code: &str) -> Attempt {
    let (at_gate, arrived) = mpsc::channel();
    let (go, gate) = mpsc::channel();
    let code = Code::new(code).unwrap();
    let stream = connect_from(from, port);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let outcome = thread::spawn(move || {
        let mut gated = Gated {
            stream,
            written: 0,
            at_gate: Some(at_gate),
            go: gate,
        };
        handshake(Side::Connecting, &mut gated, credentials(Some(&code)), None)
            .map(|a| a.safety_code)
    });
    if arrived.recv_timeout(TIMEOUT).is_err() {
        panic!(
            "the handshake from {from} never reached its confirmation: {:?}",
            outcome.join().unwrap().map(|_| ())
        );
    }
    Attempt { go, outcome }
}

fn count(chat: &Chat, needle: &str) -> usize {
    chat.stdout_lines()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn a_room_checks_three_wrong_codes_however_many_handshakes_run_at_once() {
    let dir = TestDir::new("guesses-room");
    let (mut host, port) = Chat::listen_encrypted(
        "host",
        dir.path(),
        &["--room", "--name", "host", "--lan", "--code", CODE],
    );
    // 32 handshakes at once, 8 from each of 4 addresses (the most a room
    // lets knock), all waiting to send their confirmation.
    let mut attempts: Vec<Attempt> = (0..32u8)
        .map(|n| {
            let from = Ipv4Addr::new(127, 0, 0, 1 + n / 8);
            let code = if n == 31 { CODE } else { "7-ocean-lamb" };
            attempt(from, port, code)
        })
        .collect();
    let right = attempts.pop().unwrap();
    for wrong in attempts {
        assert!(
            matches!(wrong.release(), Err(HandshakeError::CodeMismatch)),
            "a wrong code got in"
        );
    }
    let outcome = right.release();
    assert!(
        matches!(outcome, Err(HandshakeError::CodeMismatch)),
        "the right code, tried after three wrong ones, was let in: {:?}\n{}",
        outcome.map(|_| ()),
        host.report()
    );
    for nth in 1..=3 {
        host.expect_line("a wrong code counted", |l| {
            l.starts_with("[System] Turned away 127.0.0.")
                && l.ends_with(&format!("the code did not match ({nth} of 3 attempts)."))
        });
    }
    host.expect_prefix("[System] 3 attempts with a wrong code: the room takes nobody new");
    // Anything the 29 other handshakes made the host say is said by now.
    host.send_line("/who");
    host.expect_exact("[System] 1 in the room:");
    let seen = host.stdout_lines().join("\n");
    assert_eq!(count(&host, "the code did not match"), 3, "{seen}");
    assert_eq!(count(&host, "the room takes nobody new"), 1, "{seen}");
    // And the room no longer takes connections.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "{seen}");
    host.close_stdin();
    assert_eq!(host.wait_exit(), 0, "{}", host.report());
}

#[test]
fn a_listener_checks_three_wrong_codes_however_many_try_at_once() {
    let dir = TestDir::new("guesses-listener");
    let (mut alice, port) = Chat::listen_encrypted(
        "alice",
        &dir.subdir("alice"),
        &["--name", "alice", "--lan", "--code", CODE],
    );
    // The two-person listener takes one handshake at a time, in the order
    // the connections came: the right code waits behind three wrong ones,
    // and finds the listener closed.
    let tries: Vec<_> = (0..4)
        .map(|n| {
            let code = Code::new(if n == 3 { CODE } else { "7-ocean-lamb" }).unwrap();
            let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            thread::spawn(move || {
                let mut stream = stream;
                handshake(
                    Side::Connecting,
                    &mut stream,
                    credentials(Some(&code)),
                    None,
                )
                .map(|_| ())
            })
        })
        .collect();
    let code = alice.wait_exit();
    alice.assert_failed_cleanly(code, "3 attempts with a wrong code");
    let outcomes: Vec<_> = tries.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        outcomes.iter().all(Result::is_err),
        "a handshake completed after three wrong codes: {outcomes:?}"
    );
    assert_eq!(
        count(&alice, "the code did not match"),
        3,
        "{}",
        alice.report()
    );
}
