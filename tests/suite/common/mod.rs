//! Shared harness: scratch folders, spawned `chat` processes with line-by-line output
//! capture, scripted raw TCP peers and deterministic test data.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chat::identity::Identity;
use chat::net::secure::handshake::Credentials;
pub mod disk;
pub mod hostile;
pub mod inside;
pub mod internet;
pub mod netns;
pub mod room_member;
pub mod router;
pub mod wormhole;

/// How long any single expected event may take before the test gives up.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A size as the chat shows it (`18 B`, `286.1 MiB`).
pub fn size<N: TryInto<u64>>(n: N) -> String
where
    N::Error: std::fmt::Debug,
{
    chat::files::size::bytes(n.try_into().expect("a size fits 64 bits"))
}

/// What `path` takes on the disk, with everything below it (its blocks,
/// as `du` counts them), not following links.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = path.symlink_metadata() else {
        return 0;
    };
    let below: u64 = match meta.is_dir() {
        true => fs::read_dir(path)
            .unwrap()
            .map(|entry| disk_usage(&entry.unwrap().path()))
            .sum(),
        false => 0,
    };
    meta.blocks() * 512 + below
}

/// What the file or folder `path` itself takes on the disk, without what
/// is below it.
pub fn disk_usage_of(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    path.symlink_metadata()
        .map_or(0, |meta| meta.blocks() * 512)
}

/// A fresh folder for one test, used as the working directory of its chats.
/// Removed again when the test ends (declare it first so it is dropped last).
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        // A crashed earlier run may have left the folder behind.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Creates (if needed) and returns a sub-folder, e.g. one working directory per chat.
    pub fn subdir(&self, rel: &str) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        p
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A running `chat` process. Its stdout is read line by line by a background thread so
/// tests can wait for specific lines; stderr is collected in the background too.
/// Dropping it kills and reaps the process.
pub struct Chat {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout_rx: Receiver<Vec<u8>>,
    stdout_closed: bool,
    /// Every stdout line seen so far, without the trailing `\n`.
    seen: Vec<Vec<u8>>,
    /// Lines before this index have been consumed by an `expect_*`/`next_*` call.
    cursor: usize,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<JoinHandle<()>>,
    exit_code: Option<Option<i32>>,
    /// Time allowed for each expected event.
    pub timeout: Duration,
}

impl Chat {
    /// Starts `chat ARGS...` in `cwd` with piped stdin, stdout and stderr.
    pub fn spawn(label: &str, cwd: &Path, args: &[&str]) -> Chat {
        Chat::spawn_with_env(label, cwd, args, &[])
    }

    /// Like [`Chat::spawn`], with extra environment variables.
    pub fn spawn_with_env(label: &str, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Chat {
        Chat::spawn_command(
            label,
            cwd,
            Command::new(env!("CARGO_BIN_EXE_chat")),
            args,
            env,
        )
    }

    /// Like [`Chat::spawn`], inside the network namespace `netns`.
    pub fn spawn_in(netns: &str, label: &str, cwd: &Path, args: &[&str]) -> Chat {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", netns, env!("CARGO_BIN_EXE_chat")]);
        Chat::spawn_command(label, cwd, command, args, &[])
    }

    /// Like [`Chat::spawn`], run by `wrapper` (a program and its first
    /// arguments, which end with the chat's path), to run it with a smaller
    /// stack, say, or in a mount namespace of its own.
    pub fn spawn_through(label: &str, cwd: &Path, wrapper: &[&str], args: &[&str]) -> Chat {
        let mut command = Command::new(wrapper[0]);
        command.args(&wrapper[1..]).arg(env!("CARGO_BIN_EXE_chat"));
        Chat::spawn_command(label, cwd, command, args, &[])
    }

    /// [`Chat::listen_encrypted`] run by `wrapper`, as in
    /// [`Chat::spawn_through`].
    pub fn listen_through(
        label: &str,
        cwd: &Path,
        wrapper: &[&str],
        extra: &[&str],
    ) -> (Chat, u16) {
        let mut args = vec!["listen", "--host", "127.0.0.1", "--port", "0"];
        args.extend_from_slice(extra);
        let mut chat = Chat::spawn_through(label, cwd, wrapper, &args);
        let line = chat.expect_prefix("[System] Listening on ");
        let port = parse_listen_port(&line)
            .unwrap_or_else(|| chat.fail(&format!("cannot read a port from {line:?}")));
        (chat, port)
    }

    fn spawn_command(
        label: &str,
        cwd: &Path,
        mut command: Command,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Chat {
        // Each chat keeps its identity and contacts in its working folder,
        // never in the home of whoever runs the tests.
        if !env.iter().any(|(name, _)| *name == "CHAT_HOME") {
            command.env("CHAT_HOME", home_of(cwd));
        }
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chat {args:?}: {e}"));

        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, stdout_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });

        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stderr_pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });

        Chat {
            label: label.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout_rx,
            stdout_closed: false,
            seen: Vec::new(),
            cursor: 0,
            stderr,
            stderr_thread: Some(stderr_thread),
            exit_code: None,
            timeout: TIMEOUT,
        }
    }

    /// Starts `chat listen --host 127.0.0.1 --port 0 --plain EXTRA...` (the
    /// original wire, which raw peers speak) and returns it with the port it
    /// reports in its `Listening on` line.
    pub fn listen(label: &str, cwd: &Path, extra: &[&str]) -> (Chat, u16) {
        Chat::listen_on(label, cwd, "127.0.0.1", extra)
    }

    /// Like [`Chat::listen`] but on the given host address.
    pub fn listen_on(label: &str, cwd: &Path, host: &str, extra: &[&str]) -> (Chat, u16) {
        Chat::listen_wire(label, cwd, host, Wire::Original, extra)
    }

    /// Like [`Chat::listen`], speaking the encrypted wire (the default).
    pub fn listen_encrypted(label: &str, cwd: &Path, extra: &[&str]) -> (Chat, u16) {
        Chat::listen_wire(label, cwd, "127.0.0.1", Wire::Encrypted, extra)
    }

    /// Like [`Chat::listen_encrypted`] but on the given host address.
    pub fn listen_wire_on(label: &str, cwd: &Path, host: &str, extra: &[&str]) -> (Chat, u16) {
        Chat::listen_wire(label, cwd, host, Wire::Encrypted, extra)
    }

    fn listen_wire(label: &str, cwd: &Path, host: &str, wire: Wire, extra: &[&str]) -> (Chat, u16) {
        let mut args = vec!["listen", "--host", host, "--port", "0"];
        args.extend_from_slice(wire.args());
        args.extend_from_slice(extra);
        let mut chat = Chat::spawn(label, cwd, &args);
        let line = chat.expect_prefix("[System] Listening on ");
        let port = parse_listen_port(&line)
            .unwrap_or_else(|| chat.fail(&format!("cannot read a port from {line:?}")));
        (chat, port)
    }

    /// Starts `chat connect HOST PORT --plain EXTRA...` (the original wire).
    pub fn connect(label: &str, cwd: &Path, host: &str, port: u16, extra: &[&str]) -> Chat {
        Chat::connect_wire(label, cwd, host, port, Wire::Original, extra)
    }

    /// Starts `chat connect HOST PORT EXTRA...` (the encrypted wire).
    pub fn connect_encrypted(
        label: &str,
        cwd: &Path,
        host: &str,
        port: u16,
        extra: &[&str],
    ) -> Chat {
        Chat::connect_wire(label, cwd, host, port, Wire::Encrypted, extra)
    }

    fn connect_wire(
        label: &str,
        cwd: &Path,
        host: &str,
        port: u16,
        wire: Wire,
        extra: &[&str],
    ) -> Chat {
        let port = port.to_string();
        let mut args = vec!["connect", host, port.as_str()];
        args.extend_from_slice(wire.args());
        args.extend_from_slice(extra);
        Chat::spawn(label, cwd, &args)
    }

    /// Waits up to `timeout` for each expected line from now on.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the process a signal, by name (`TERM`, `HUP`, `INT`).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(sent.success(), "kill -{name} failed");
    }

    /// Types one line into the chat.
    pub fn send_line(&mut self, line: &str) {
        let mut data = line.as_bytes().to_vec();
        data.push(b'\n');
        self.send_raw(&data);
    }

    /// Writes raw bytes to the chat's stdin.
    pub fn send_raw(&mut self, data: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("stdin was already closed");
        };
        if let Err(e) = stdin.write_all(data).and_then(|_| stdin.flush()) {
            self.fail(&format!("cannot write to stdin: {e}"));
        }
    }

    /// Hands over the chat's stdin, for a test that writes to it from
    /// another thread.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin is piped and still open")
    }

    /// Closes stdin, i.e. the user pressed Ctrl-D.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for a stdout line whose raw bytes satisfy `pred`, skipping others.
    pub fn expect_raw(&mut self, what: &str, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + self.timeout;
        let mut idx = self.cursor;
        loop {
            while idx < self.seen.len() {
                if pred(&self.seen[idx]) {
                    self.cursor = idx + 1;
                    return self.seen[idx].clone();
                }
                idx += 1;
            }
            self.receive_one(what, deadline);
        }
    }

    /// Waits for a stdout line (decoded lossily) satisfying `pred`, skipping others.
    pub fn expect_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let raw = self.expect_raw(what, |raw| pred(&String::from_utf8_lossy(raw)));
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// Waits for a line equal to `expected`, skipping others.
    pub fn expect_exact(&mut self, expected: &str) {
        self.expect_line(&format!("the line {expected:?}"), |l| l == expected);
    }

    /// Waits for a line starting with `prefix`, skipping others; returns the whole line.
    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        self.expect_line(&format!("a line starting with {prefix:?}"), |l| {
            l.starts_with(prefix)
        })
    }

    /// Waits until every line in `expected` has appeared, in any order, for events that
    /// race each other (such as a send finishing while a receive does).
    pub fn expect_all_unordered(&mut self, expected: &[&str]) {
        let deadline = Instant::now() + self.timeout;
        loop {
            let unconsumed = &self.seen[self.cursor..];
            let positions: Vec<Option<usize>> = expected
                .iter()
                .map(|e| unconsumed.iter().position(|l| l == e.as_bytes()))
                .collect();
            if positions.iter().all(Option::is_some) {
                self.cursor += positions.into_iter().flatten().max().map_or(0, |p| p + 1);
                return;
            }
            self.receive_one(&format!("all of {expected:?}"), deadline);
        }
    }

    /// Returns the very next unconsumed line, whatever it is.
    pub fn next_raw(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + self.timeout;
        while self.cursor >= self.seen.len() {
            self.receive_one("one more line", deadline);
        }
        self.cursor += 1;
        self.seen[self.cursor - 1].clone()
    }

    pub fn next_line(&mut self) -> String {
        String::from_utf8_lossy(&self.next_raw()).into_owned()
    }

    /// Asserts that the very next unconsumed line is exactly `expected`.
    pub fn next_line_is(&mut self, expected: &str) {
        let line = self.next_line();
        if line != expected {
            self.fail(&format!(
                "expected the next line to be {expected:?}, got {line:?}"
            ));
        }
    }

    fn receive_one(&mut self, what: &str, deadline: Instant) {
        if self.stdout_closed {
            self.fail(&format!("stdout ended while waiting for {what}"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.stdout_rx.recv_timeout(left) {
            Ok(line) => self.seen.push(line),
            Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                "timed out after {:?} waiting for {what}",
                self.timeout
            )),
            Err(RecvTimeoutError::Disconnected) => {
                self.stdout_closed = true;
                self.fail(&format!("stdout ended while waiting for {what}"));
            }
        }
    }

    /// Waits for the process to exit and returns its exit code; panics if it does not
    /// exit in time or was killed by a signal. Afterwards all of stdout and stderr
    /// have been collected.
    pub fn wait_exit(&mut self) -> i32 {
        let timeout = self.timeout;
        self.wait_exit_within(timeout)
    }

    pub fn wait_exit_within(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    // Polling the process table; there is no portable blocking wait
                    // with a timeout in std.
                    thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => self.fail(&format!(
                    "still running {limit:?} after being expected to exit"
                )),
                Err(e) => self.fail(&format!("cannot query exit status: {e}")),
            }
        };
        self.exit_code = Some(status.code());
        self.collect_rest();
        match status.code() {
            Some(code) => code,
            None => self.fail(&format!("terminated by a signal: {status}")),
        }
    }

    /// Gathers whatever is still in the pipes once the process has exited.
    fn collect_rest(&mut self) {
        if let Some(handle) = self.stderr_thread.take() {
            let _ = handle.join();
        }
        while !self.stdout_closed {
            match self.stdout_rx.recv_timeout(TIMEOUT) {
                Ok(line) => self.seen.push(line),
                Err(_) => self.stdout_closed = true,
            }
        }
    }

    /// All stdout lines seen so far (consumed or not), decoded lossily.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// All stdout lines seen so far as raw bytes.
    pub fn stdout_raw_lines(&self) -> &[Vec<u8>] {
        &self.seen
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Fails the test unless stderr is free of panic messages.
    pub fn assert_no_panic(&mut self) {
        if self.stderr_text().contains("panicked") {
            self.fail("the program panicked");
        }
    }

    /// Waits for `[System] File saved to PATH` and checks PATH, failing at once (not
    /// after a timeout) when the file was saved under another name.
    pub fn expect_saved(&mut self, expected_path: &str) {
        let line = self.expect_prefix("[System] File saved to ");
        let path = &line["[System] File saved to ".len()..];
        if path != expected_path {
            self.fail(&format!(
                "expected the file at {expected_path:?}, saved to {path:?}"
            ));
        }
    }

    /// Checks the contract for runtime failures once the process has exited with
    /// `code`: exit code 1, exactly one stderr line, starting with `error: ` and
    /// mentioning `needle`, and no panic.
    pub fn assert_failed_cleanly(&mut self, code: i32, needle: &str) {
        if code != 1 {
            self.fail(&format!("expected exit code 1, got {code}"));
        }
        let stderr = self.stderr_text();
        let lines: Vec<&str> = stderr.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("error: ") || !lines[0].contains(needle) {
            self.fail(&format!(
                "expected one stderr line starting with \"error: \" naming {needle:?}"
            ));
        }
        self.assert_no_panic();
    }

    /// Everything the process said so far, for failure messages.
    pub fn report(&mut self) -> String {
        // Pick up lines that arrived but were not yet needed by the test.
        while let Ok(line) = self.stdout_rx.try_recv() {
            self.seen.push(line);
        }
        let status = match self.exit_code {
            Some(Some(code)) => format!("exited with code {code}"),
            Some(None) => "killed by a signal".to_string(),
            None => match self.child.try_wait() {
                Ok(Some(s)) => format!("exited: {s}"),
                _ => "still running".to_string(),
            },
        };
        let mut out = format!("--- chat `{}` ({status}) stdout:\n", self.label);
        for (i, line) in self.seen.iter().enumerate() {
            let mark = if i < self.cursor { ' ' } else { '>' };
            let text = String::from_utf8_lossy(line);
            out.push_str(&format!("{mark} {}\n", text.escape_debug()));
        }
        out.push_str(&format!(
            "--- chat `{}` stderr:\n{}",
            self.label,
            self.stderr_text()
        ));
        out
    }

    /// Panics with `msg` and everything the process said.
    pub fn fail(&mut self, msg: &str) -> ! {
        let report = self.report();
        panic!("chat `{}`: {msg}\n{report}", self.label);
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Extracts the port from `[System] Listening on ADDR ...`.
pub fn parse_listen_port(line: &str) -> Option<u16> {
    let addr = line
        .strip_prefix("[System] Listening on ")?
        .strip_suffix(" ...")?;
    addr.rsplit(':').next()?.parse().ok()
}

/// Which wire the chats of a test speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `--plain`: the original wire, which raw peers, the Python original and
    /// `nc` speak.
    Original,
    /// The default between two chats.
    Encrypted,
}

impl Wire {
    fn args(self) -> &'static [&'static str] {
        match self {
            Wire::Original => &["--plain"],
            Wire::Encrypted => &[],
        }
    }
}

/// Starts `alice` listening and `bob` connecting to her on the original wire,
/// each in its own working directory, and waits until both report the connection.
pub fn connected_pair(
    alice_dir: &Path,
    alice_extra: &[&str],
    bob_dir: &Path,
    bob_extra: &[&str],
) -> (Chat, Chat) {
    pair(Wire::Original, alice_dir, alice_extra, bob_dir, bob_extra)
}

/// [`connected_pair`] on the encrypted wire; both have shown the safety code.
pub fn encrypted_pair(
    alice_dir: &Path,
    alice_extra: &[&str],
    bob_dir: &Path,
    bob_extra: &[&str],
) -> (Chat, Chat) {
    pair(Wire::Encrypted, alice_dir, alice_extra, bob_dir, bob_extra)
}

/// Starts `alice` listening and `bob` connecting to her on `wire`.
pub fn pair(
    wire: Wire,
    alice_dir: &Path,
    alice_extra: &[&str],
    bob_dir: &Path,
    bob_extra: &[&str],
) -> (Chat, Chat) {
    let mut alice_args = vec!["--name", "alice"];
    alice_args.extend_from_slice(alice_extra);
    let (mut alice, port) = Chat::listen_wire("alice", alice_dir, "127.0.0.1", wire, &alice_args);
    let mut bob_args = vec!["--name", "bob"];
    bob_args.extend_from_slice(bob_extra);
    let mut bob = Chat::connect_wire("bob", bob_dir, "127.0.0.1", port, wire, &bob_args);
    bob.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    alice.expect_prefix("[System] Connected by 127.0.0.1:");
    if wire == Wire::Encrypted {
        let code = |chat: &mut Chat| {
            let line = chat.expect_prefix("[System] Encrypted");
            line.split(' ').nth(4).unwrap_or_default().to_string()
        };
        let (theirs, ours) = (code(&mut alice), code(&mut bob));
        assert_eq!(theirs, ours, "the two sides show different safety codes");
    }
    (alice, bob)
}

/// Starts a listening chat named `alice` and connects a scripted raw TCP peer to it.
pub fn listening_chat_with_raw_peer(cwd: &Path, extra: &[&str]) -> (Chat, RawPeer) {
    let mut args = vec!["--name", "alice"];
    args.extend_from_slice(extra);
    let (mut chat, port) = Chat::listen("alice", cwd, &args);
    let peer = RawPeer::connect(port);
    let peer_port = peer.local_port();
    chat.expect_exact(&format!("[System] Connected by 127.0.0.1:{peer_port}"));
    (chat, peer)
}

/// Starts `chat connect` named `bob` to a scripted raw TCP peer of the test's.
pub fn connecting_chat_with_raw_peer(cwd: &Path, extra: &[&str]) -> (Chat, RawPeer) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut args = vec!["--name", "bob"];
    args.extend_from_slice(extra);
    let mut chat = Chat::connect("bob", cwd, "127.0.0.1", port, &args);
    let peer = RawPeer::accept(&listener);
    chat.expect_exact(&format!("[System] Connected to 127.0.0.1:{port}"));
    (chat, peer)
}

/// A listening chat named `alice` in the middle of receiving `half.bin` from a raw
/// peer: the header and the first 5000 of its 1,000,000 bytes have arrived.
pub fn listening_chat_receiving_half_a_file(cwd: &Path) -> (Chat, RawPeer) {
    let (mut chat, mut peer) = listening_chat_with_raw_peer(cwd, &[]);
    let mut data = file_header("half.bin", 1_000_000);
    data.extend_from_slice(&[7; 5000]);
    peer.write_bytes(&data);
    chat.expect_exact("[System] Incoming file half.bin (976.6 KiB)...");
    (chat, peer)
}

/// A hand-driven TCP endpoint that can send arbitrary bytes to a chat and read what the
/// chat puts on the wire.
pub struct RawPeer {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawPeer {
    pub fn connect(port: u16) -> RawPeer {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("raw peer cannot connect to 127.0.0.1:{port}: {e}"));
        RawPeer::from_stream(stream)
    }

    /// Accepts one connection on `listener`, giving up after [`TIMEOUT`].
    pub fn accept(listener: &TcpListener) -> RawPeer {
        RawPeer::from_stream(accept_within_timeout(listener))
    }

    fn from_stream(stream: TcpStream) -> RawPeer {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        RawPeer { stream, reader }
    }

    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    /// The connection itself, for a test that drives it by hand.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    pub fn write_bytes(&mut self, data: &[u8]) {
        self.stream
            .write_all(data)
            .unwrap_or_else(|e| panic!("raw peer: write failed: {e}"));
    }

    /// Sends `data` one byte per TCP segment to exercise reassembly in the reader.
    pub fn write_bytewise(&mut self, data: &[u8]) {
        for b in data {
            self.write_bytes(std::slice::from_ref(b));
        }
    }

    /// Reads one line sent by the chat (without `\n`).
    pub fn read_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => panic!("raw peer: connection closed while waiting for a line"),
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                line
            }
            Ok(_) => panic!(
                "raw peer: connection closed in the middle of a line: {:?}",
                String::from_utf8_lossy(&line)
            ),
            Err(e) => panic!("raw peer: no line arrived: {e}"),
        }
    }

    /// Asserts that the next line the chat sent is exactly `expected`.
    pub fn expect_line(&mut self, expected: &str) {
        let line = self.read_line();
        assert_eq!(
            String::from_utf8_lossy(&line),
            expected,
            "raw peer: unexpected line on the wire"
        );
    }

    pub fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.reader
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("raw peer: cannot read {n} bytes: {e}"));
        buf
    }

    /// Peeks at the socket itself (not the read buffer) until data is pending there.
    pub fn wait_for_unread_socket_data(&self) {
        let mut buf = [0u8; 1];
        match self.stream.peek(&mut buf) {
            Ok(n) if n > 0 => {}
            Ok(_) => panic!("raw peer: connection closed while waiting for data"),
            Err(e) => panic!("raw peer: no data arrived: {e}"),
        }
    }

    /// Waits until the chat ends the connection, past whatever it still
    /// sent.
    pub fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        if let Err(e) = self.reader.read_to_end(&mut rest)
            && e.kind() != std::io::ErrorKind::ConnectionReset
        {
            panic!("raw peer: the connection did not end: {e}");
        }
    }

    /// Half-closes: the chat sees end of stream but can still send to us.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Accepts one connection on `listener`, giving up after [`TIMEOUT`].
pub fn accept_within_timeout(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return stream;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                // std offers no accept with a timeout; poll the non-blocking listener.
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("no incoming connection on the test's listener: {e}"),
        }
    }
}

/// The wire header announcing a file.
pub fn file_header(name: &str, size: usize) -> Vec<u8> {
    format!("/file {name} {size}\n").into_bytes()
}

/// Raw output bytes shown readably in failure messages.
pub fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).escape_debug().to_string()
}

/// Cheap deterministic pseudo-random bytes (xorshift64), so large files need no fixtures.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Names of the entries in `dir`, sorted, but for the identity folder the
/// harness gives a chat ([`HOME_FOLDER`]); empty if `dir` does not exist.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The folder the harness gives a chat for its identity.
        .filter(|name| name != HOME_FOLDER)
        .collect();
    names.sort();
    names
}

/// The names in a download folder a user sees: what is kept hidden of cut
/// transfers (`.chat-partial`) is left out.
pub fn saved_entries(dir: &Path) -> Vec<String> {
    let mut names = dir_entries(dir);
    names.retain(|name| name != ".chat-partial");
    names
}

/// Peak resident set size of a running process in KiB, from `/proc/PID/status`.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read status of process {pid}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in status of process {pid}"))
}

/// A loopback port that was free a moment ago and now has nobody listening on it.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits until process `pid` has a file open inside `folder` (an unnamed
/// one counts): a download into it has started. Fails after [`TIMEOUT`].
pub fn wait_for_open_file_in(pid: u32, folder: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let folder = fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        let open = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap_or_else(|e| panic!("cannot list the files of process {pid}: {e}"))
            .flatten()
            .filter_map(|fd| fs::read_link(fd.path()).ok())
            .any(|target| target.starts_with(&folder));
        if open {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} opened no file in {} within {TIMEOUT:?}",
            folder.display()
        );
        thread::yield_now();
    }
}

/// Peak resident set size of process `pid` in KiB, or `None` once it has no
/// memory any more (it exited, even if not yet reaped).
pub fn read_peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Watches the peak resident set size of running process `pid` while it
/// ends by itself: `/proc` shows the figure only while the process lives,
/// so it is sampled until then (or for [`TIMEOUT`]). The handle gives the
/// last figure, in KiB; join it before the process is reaped.
pub fn watch_peak_rss_kib(pid: u32) -> JoinHandle<u64> {
    let first = peak_rss_kib(pid);
    thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        let mut peak = first;
        while let Some(kib) = read_peak_rss_kib(pid) {
            peak = peak.max(kib);
            if Instant::now() >= deadline {
                break;
            }
            // Sampling, not waiting for an event: the figure only grows.
            thread::sleep(Duration::from_millis(1));
        }
        peak
    })
}

/// Caps the address space of running process `pid` at what it has now plus
/// `headroom` bytes, so that an allocation beyond that fails (and a Rust
/// program aborts) instead of quietly succeeding.
pub fn limit_address_space(pid: u32, headroom: u64) {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read status of process {pid}: {e}"));
    let size_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmSize in status of process {pid}"));
    let limit = size_kib * 1024 + headroom;
    let target = Pid::from_raw(pid as i32).expect("a process id is positive");
    prlimit(
        Some(target),
        Resource::As,
        Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    )
    .unwrap_or_else(|e| panic!("cannot limit the address space of process {pid}: {e}"));
}

/// What a hand-made peer of the tests proves in the handshake: an identity
/// of its own, and `code`.
pub fn credentials(code: Option<&chat::net::secure::code::Code>) -> Credentials<'_> {
    static HAND_MADE: std::sync::LazyLock<Identity> =
        std::sync::LazyLock::new(|| Identity::from_secret(&[66; 32]));
    Credentials {
        identity: &HAND_MADE,
        code,
        expect: None,
    }
}

/// The key under which a chat keeps what arrived of the file `name` of
/// `size` bytes from the peer that proved `sender` (as `KEY.part`, beside
/// `KEY.info`, in `.chat-partial`): BLAKE3, in its key-deriving mode, of
/// `file\0`, the size, the sender's identity and the name.
pub fn kept_file_key(name: &str, size: u64, sender: &chat::identity::PeerKey) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("chat kept item, by its sender");
    hasher.update(b"file\0");
    hasher.update(&size.to_be_bytes());
    hasher.update(&[1]);
    hasher.update(&sender.to_bytes());
    hasher.update(name.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

/// Where a chat run in `cwd` keeps its identity and contacts, unless the
/// test says: a folder in `cwd`, so that chats in different folders are
/// different people, and the test's folder takes it away.
pub fn home_of(cwd: &Path) -> PathBuf {
    cwd.join(HOME_FOLDER)
}

/// The name of the folder [`home_of`] gives.
pub const HOME_FOLDER: &str = ".chat-home";
