//! `/send` as a peer sees it on the wire: a header on its own before the
//! payload, files of the kernel's with their true size.

use crate::common;
use crate::common::{Chat, TestDir, accept_within_timeout, show};
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A chat connected to a plain socket of the test's.
fn chat_with_socket(dir: &TestDir) -> (Chat, TcpStream) {
    let (chat, peer) = common::connecting_chat_with_raw_peer(dir.path(), &[]);
    (chat, peer.into_stream())
}

/// How long the test may take to read what arrived before its reading
/// cannot show whether the chat paused: the chat waits 10 ms after the
/// peer's kernel took a header or a line before sending what follows.
const LATE: Duration = Duration::from_millis(5);

/// Time this thread has spent on a processor or waiting for one (not
/// asleep), as the kernel's scheduler counts it; zero where the kernel
/// keeps no count, which judges every read.
fn awake() -> Duration {
    let stats = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stats
        .split_whitespace()
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Whether the test read in time. Between reads the test sleeps only in
/// reading the socket, so data waits there only while the test is awake:
/// its awake time since it last saw the socket empty bounds how long
/// anything a read returns had waited. On a busy machine the test may be
/// woken late; a read that ran two messages together then is not the
/// chat's doing.
struct Promptness {
    since_empty: Duration,
}

impl Promptness {
    fn new() -> Self {
        Self {
            since_empty: awake(),
        }
    }

    /// Notes the moment before a read of `socket`.
    fn before_read(&mut self, socket: &TcpStream) {
        let now = awake();
        socket.set_nonblocking(true).unwrap();
        let empty = matches!(socket.peek(&mut [0]), Err(e) if e.kind() == ErrorKind::WouldBlock);
        socket.set_nonblocking(false).unwrap();
        if empty {
            self.since_empty = now;
        }
    }

    /// Whether what the last read returned may have waited long enough
    /// for the chat's pause to pass.
    fn late(&self) -> bool {
        awake() - self.since_empty >= LATE
    }
}

#[test]
fn a_file_header_arrives_on_its_own() {
    let dir = TestDir::new("sending_header_alone");
    let size = 1 << 20;
    fs::write(dir.join("big.bin"), vec![b'z'; size]).unwrap();
    let (mut chat, mut socket) = chat_with_socket(&dir);
    let header = format!("/file big.bin {size}\n");
    let mut promptness = Promptness::new();
    let (mut judged, mut late) = (0, 0);
    while judged < 10 {
        promptness.before_read(&socket);
        chat.send_line("/send big.bin");
        // One read, the way the original Python peer takes one message.
        let mut probe = [0u8; 1];
        assert_eq!(socket.peek(&mut probe).unwrap(), 1);
        let mut buf = vec![0u8; 64 * 1024];
        let n = socket.read(&mut buf).unwrap();
        assert!(
            buf[..n].starts_with(header.as_bytes()),
            "{}",
            show(&buf[..n.min(100)])
        );
        if n == header.len() || !promptness.late() {
            assert_eq!(
                show(&buf[..n.min(100)]),
                show(header.as_bytes()),
                "round {judged}: the first read held {n} bytes"
            );
            judged += 1;
        } else {
            late += 1;
            assert!(
                late < 50,
                "the test was woken late {late} times: too busy to judge"
            );
        }
        let mut payload = vec![0u8; size - (n - header.len())];
        socket.read_exact(&mut payload).unwrap();
        assert!(payload.iter().all(|&b| b == b'z'));
        chat.expect_exact(&format!(
            "[System] Sent file big.bin ({})",
            common::size(size)
        ));
    }
}

/// Reads a file header from `wire` and then its payload.
fn read_file(wire: &mut BufReader<TcpStream>, name: &str) -> Vec<u8> {
    let mut header = String::new();
    wire.read_line(&mut header).unwrap();
    let size = header
        .strip_prefix(&format!("/file {name} "))
        .and_then(|s| s.trim_end().parse::<usize>().ok())
        .unwrap_or_else(|| panic!("not a header for {name}: {header:?}"));
    let mut payload = vec![0u8; size];
    wire.read_exact(&mut payload).unwrap();
    payload
}

#[test]
fn proc_files_are_sent_with_what_they_hold() {
    let dir = TestDir::new("sending_proc");
    let (mut chat, socket) = chat_with_socket(&dir);
    let mut wire = BufReader::new(socket);
    chat.send_line("/send /proc/self/status");
    let payload = read_file(&mut wire, "status");
    assert!(payload.starts_with(b"Name:"), "{}", show(&payload));
    assert!(
        String::from_utf8_lossy(&payload).contains(&format!("Pid:\t{}", chat.pid())),
        "{}",
        show(&payload)
    );
    chat.expect_prefix("[System] Sent file status (");
}

#[test]
fn a_sys_file_arrives_whole_and_the_chat_goes_on() {
    let dir = TestDir::new("sending_sys");
    let path = "/sys/devices/system/cpu/online";
    let expected = fs::read(path).unwrap();
    let (mut chat, socket) = chat_with_socket(&dir);
    let mut wire = BufReader::new(socket);
    chat.send_line(&format!("/send {path}"));
    assert_eq!(show(&read_file(&mut wire, "online")), show(&expected));
    chat.expect_exact(&format!(
        "[System] Sent file online ({})",
        common::size(expected.len())
    ));
    chat.send_line("still here");
    let mut line = String::new();
    wire.read_line(&mut line).unwrap();
    assert_eq!(line, "[bob] still here\n");
}

#[test]
fn an_empty_file_is_still_sent_as_empty() {
    let dir = TestDir::new("sending_empty");
    fs::write(dir.join("empty.txt"), b"").unwrap();
    let (mut chat, socket) = chat_with_socket(&dir);
    let mut wire = BufReader::new(socket);
    chat.send_line("/send empty.txt");
    assert!(read_file(&mut wire, "empty.txt").is_empty());
    chat.expect_exact("[System] Sent file empty.txt (0 B)");
}

#[test]
fn a_header_never_shares_a_read_with_the_lines_before_it() {
    let mut late = 0;
    while !lines_and_headers_read_apart() {
        late += 1;
        assert!(
            late < 10,
            "the test was woken late {late} times: too busy to judge"
        );
    }
}

/// Sends lines and files in turn and reads them the way the original
/// Python peer does: each read is one message; after a header, exactly
/// its payload, in reads no longer than it. False if a read ran two
/// messages together when the test itself was late to read.
fn lines_and_headers_read_apart() -> bool {
    let dir = TestDir::new("sending_lines_then_header");
    fs::write(dir.join("f300k"), vec![b'a'; 300_000]).unwrap();
    fs::write(dir.join("f10"), vec![b'b'; 10]).unwrap();
    let (mut chat, mut socket) = chat_with_socket(&dir);
    const ROUNDS: usize = 3;
    for _ in 0..ROUNDS {
        chat.send_raw(b"/send f300k\nhi\n/send f10\nbye\n/send f300k\n");
    }
    let mut promptness = Promptness::new();
    let mut buf = vec![0u8; 4096];
    let mut files = 0;
    while files < 3 * ROUNDS {
        promptness.before_read(&socket);
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the chat closed after {files} files");
        let read = &buf[..n];
        let newlines = read.iter().filter(|&&b| b == b'\n').count();
        let together = if read.starts_with(b"/file ") {
            !read.ends_with(b"\n") || newlines != 1
        } else {
            read.windows(6).any(|w| w == b"/file ")
        };
        if together && promptness.late() {
            return false;
        }
        if read.starts_with(b"/file ") {
            assert!(
                !together,
                "a header shared a read: {}",
                show(&read[..n.min(100)])
            );
            let line = String::from_utf8_lossy(&read[..n - 1]).into_owned();
            let size: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
            let mut left = size;
            while left > 0 {
                let n = socket.read(&mut buf[..left.min(4096)]).unwrap();
                assert!(n > 0, "the chat closed mid-file");
                left -= n;
            }
            files += 1;
        } else {
            assert!(
                !together,
                "a header came in one read with the lines before it: {}",
                show(&read[..n.min(100)])
            );
        }
    }
    chat.close_stdin();
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    true
}

#[test]
fn what_was_not_delivered_is_measured_by_what_the_peer_took() {
    let dir = TestDir::new("sending_measured_by_peer");
    let size = 4 << 20;
    fs::write(dir.join("big.bin"), vec![b'c'; size]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // A small receive buffer: what the peer's side acknowledges is close to
    // what the peer read.
    rustix::net::sockopt::set_socket_recv_buffer_size(&listener, 4096).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat = Chat::connect(
        "bob",
        dir.path(),
        "127.0.0.1",
        port,
        &["--name", "bob", "--stall-timeout", "2"],
    );
    let socket = accept_within_timeout(&listener);
    socket.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    chat.send_line("/send big.bin");
    let mut reader = BufReader::new(socket);
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    assert_eq!(header, format!("/file big.bin {size}\n"));
    // A quarter, then the peer stops reading.
    let mut quarter = vec![0u8; size / 4];
    reader.read_exact(&mut quarter).unwrap();
    chat.timeout = std::time::Duration::from_secs(20);
    let line = chat.expect_prefix("[System] big.bin was not delivered (stopped at ");
    assert!(
        line.ends_with("(stopped at 25%).") || line.ends_with("(stopped at 26%)."),
        "{line}\n{}",
        chat.report()
    );
    assert!(
        !chat
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Sent file")),
        "{}",
        chat.report()
    );
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "the peer stopped reading");
}

#[test]
fn a_peer_that_resets_mid_file_is_never_reported_as_having_it() {
    let dir = TestDir::new("sending_reset_mid_file");
    // Small enough to be written whole before the peer resets, so the
    // chat is waiting for acknowledgements when it does.
    let size = 256 << 10;
    fs::write(dir.join("big.bin"), vec![b'd'; size]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(&listener, 4096).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat = Chat::connect("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    let socket = accept_within_timeout(&listener);
    socket.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    chat.send_line("/send big.bin");
    let mut reader = BufReader::new(socket);
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    let mut part = vec![0u8; size / 16];
    reader.read_exact(&mut part).unwrap();
    // Closing with unread bytes resets the connection.
    drop(reader);
    let line = chat.expect_prefix("[System] big.bin was not delivered (stopped at ");
    assert!(!line.ends_with("(stopped at 99%)."), "{line}");
    assert!(
        !chat
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Sent file")),
        "{}",
        chat.report()
    );
    chat.wait_exit();
}
