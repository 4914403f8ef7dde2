//! Interactive mode, driven through a real pseudo-terminal with tmux: the prompt and a
//! half-typed line surviving incoming lines (a burst of them too), Ctrl-C and Ctrl-D,
//! commands, progress and queued messages during a big transfer, colour, files, and the
//! terminal left usable.

use crate::common;
use crate::common::{TestDir, pseudo_random_bytes};
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single expected event may take before the test gives up.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two looks at the terminal while waiting for something to appear.
const POLL: Duration = Duration::from_millis(20);

/// The name every chat under test signs its messages with.
const NAME: &str = "me";

/// Runs the chat, then reports its exit code and reads one line with the terminal as
/// the chat left it, so a test can check that typing works normally again.
const WRAPPER: &str = r#""$@"; echo EXIT=$?; read x; echo GOT=$x"#;

/// Colour settings in the environment of the process running the tests must not leak
/// into the chat: each test states the colour environment it means.
const COLOUR_VARS: [&str; 3] = ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"];

/// One private tmux server with one 120x40 pane running the chat. The server is killed
/// when this is dropped, also when the test fails.
struct Term {
    socket: String,
    /// Where the server's socket file is, to remove it afterwards: tmux leaves it behind.
    socket_path: Option<String>,
}

impl Term {
    /// Starts `chat ARGS...` in `cwd` inside a fresh tmux server, run by [`WRAPPER`].
    /// `no_color` says whether the chat sees `NO_COLOR=1`.
    /// `listen` and `connect` speak the original wire (`--plain`), as the raw
    /// peers of these tests do.
    fn start(test: &str, cwd: &Path, no_color: bool, args: &[&str]) -> Term {
        Term::start_wrapped(test, cwd, no_color, WRAPPER, args)
    }

    /// Starts `chat ARGS...` in `cwd` inside a fresh tmux server, run by the shell
    /// script `wrapper`, which gets the command line as its arguments.
    fn start_wrapped(test: &str, cwd: &Path, no_color: bool, wrapper: &str, args: &[&str]) -> Term {
        let mut args = args.to_vec();
        if matches!(args.first(), Some(&"listen" | &"connect")) {
            args.push("--plain");
        }
        Term::launch(test, cwd, no_color, wrapper, &args)
    }

    /// [`Term::start`], speaking the encrypted default.
    fn start_encrypted(test: &str, cwd: &Path, no_color: bool, args: &[&str]) -> Term {
        Term::launch(test, cwd, no_color, WRAPPER, args)
    }

    fn launch(test: &str, cwd: &Path, no_color: bool, wrapper: &str, args: &[&str]) -> Term {
        match Command::new("tmux").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!("`tmux -V` failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "tmux is not installed: the interactive tests need it to run the chat in a \
                 real terminal. `.ci/run` installs it; locally, install the `tmux` package."
            ),
            Err(e) => panic!("cannot run tmux: {e}"),
        }
        let mut term = Term {
            socket: format!("chat-test-{test}-{}", std::process::id()),
            socket_path: None,
        };
        // A crashed earlier run may have left a server with this name behind.
        let _ = term.command(&["kill-server"]);

        // The people at these terminals used chat before: their identities
        // are made already.
        chat::identity::Me::load(&cwd.join(".chat-home")).expect("an identity");
        let cwd = cwd.to_str().expect("test folder path is UTF-8");
        let mut command = vec![
            // The pane stays readable after the shell in it ends.
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            cwd,
            "--",
            "sh",
            "-c",
            wrapper,
            "sh",
            "env",
        ];
        for var in COLOUR_VARS {
            command.extend(["-u", var]);
        }
        command.push("TERM=xterm-256color");
        let home = format!("CHAT_HOME={cwd}/.chat-home");
        command.push(&home);
        if no_color {
            command.push("NO_COLOR=1");
        }
        command.push(env!("CARGO_BIN_EXE_chat"));
        command.extend_from_slice(args);
        let out = term.command(&command);
        if !out.status.success() {
            panic!(
                "cannot start tmux: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let path = term.checked(&["display-message", "-p", "#{socket_path}"]);
        term.socket_path = Some(path.trim_end().to_string());
        term
    }

    /// Starts `chat listen` on a free loopback port.
    fn listen(test: &str, cwd: &Path, no_color: bool) -> Term {
        let args = [
            "listen",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            NAME,
        ];
        Term::start(test, cwd, no_color, &args)
    }

    fn command(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux: {e}"))
    }

    fn checked(&self, args: &[&str]) -> String {
        let out = self.command(args);
        if !out.status.success() {
            panic!(
                "tmux {args:?} failed: {}\nthe terminal shows:\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.screen().dump()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The whole pane, scrollback included, as plain text.
    fn screen(&self) -> Screen {
        let out = self.command(&["capture-pane", "-p", "-S", "-"]);
        Screen::new(&String::from_utf8_lossy(&out.stdout))
    }

    /// The whole pane with its colours as SGR escape codes.
    fn screen_with_escapes(&self) -> Screen {
        Screen::new(&self.checked(&["capture-pane", "-p", "-e", "-S", "-"]))
    }

    /// Types `text` without pressing Enter.
    fn type_text(&self, text: &str) {
        self.checked(&["send-keys", "-l", text]);
    }

    /// Presses one key, in tmux's notation (`Enter`, `C-c`, `C-d`).
    fn press(&self, key: &str) {
        self.checked(&["send-keys", key]);
    }

    /// Types `text` and presses Enter.
    fn enter(&self, text: &str) {
        self.type_text(text);
        self.press("Enter");
    }

    /// Polls the pane until `ok` holds, failing with the whole pane after `timeout`.
    fn wait_within(&self, timeout: Duration, what: &str, ok: impl Fn(&Screen) -> bool) -> Screen {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the terminal shows:\n{}{}",
                    screen.dump(),
                    self.threads()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// What each thread of the chat in the pane is doing, read from `/proc`, to
    /// tell a chat that stopped from one that is waiting: its state, the kernel
    /// function it sleeps in, and its kernel stack where that may be read.
    fn threads(&self) -> String {
        let shell = self.command(&["display-message", "-p", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
        let children = fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"));
        let Some(chat) = children
            .ok()
            .and_then(|c| c.split_whitespace().next().map(String::from))
        else {
            return "\nthe chat is not running".to_string();
        };
        let mut report = format!("\nthe chat's threads (pid {chat}):");
        let tasks = fs::read_dir(format!("/proc/{chat}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let read = |file: &str| fs::read_to_string(task.path().join(file)).unwrap_or_default();
            let stat = read("stat");
            // The state follows the name, which is in parentheses.
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            report += &format!(
                "\n  {} {}: {} in {}",
                task.file_name().to_string_lossy(),
                read("comm").trim(),
                state.unwrap_or("?"),
                read("wchan")
            );
            for frame in read("stack").lines().take(8) {
                report += &format!("\n      {frame}");
            }
        }
        report
    }

    fn wait(&self, what: &str, ok: impl Fn(&Screen) -> bool) -> Screen {
        self.wait_within(TIMEOUT, what, ok)
    }

    /// Waits until the editor shows an empty prompt as the last line, i.e. it is ready
    /// for keys. Keys typed before that would be echoed by the terminal itself.
    /// Waits until the conversation is under way, the line that says how
    /// it is protected shown (on the encrypted wire the listening side's
    /// handshake ends after the connecting side's), then for the prompt.
    fn wait_connected(&self) -> Screen {
        self.wait("the line saying how the connection is protected", |s| {
            s.row_starting("[System] Encrypted.").is_some()
                || s.row_starting("[System] Not encrypted").is_some()
        });
        self.wait_prompt("the connection")
    }

    fn wait_prompt(&self, what: &str) -> Screen {
        self.wait(&format!("{what}, then an empty prompt"), |s| {
            s.last_row() == ">"
        })
    }

    /// Waits for a row exactly equal to `row`.
    fn wait_row(&self, row: &str) -> Screen {
        self.wait(&format!("the row {row:?}"), |s| s.has_row(row))
    }

    /// Waits for a line of the chat exactly equal to `line`, however many rows it
    /// takes: see [`Screen::lines`].
    fn wait_line(&self, line: &str) -> Screen {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.joined_screen();
            if screen.lines().iter().any(|l| l == line) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for the line {line:?}; the terminal shows:\n{}",
                    screen.dump()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// The whole pane as [`Term::screen`] has it, but with each row that the terminal
    /// wrapped joined to the one before it.
    fn joined_screen(&self) -> Screen {
        Screen::new(&self.checked(&["capture-pane", "-p", "-J", "-S", "-"]))
    }

    /// The port from `[System] Listening on 127.0.0.1:PORT ...`.
    fn listening_port(&self) -> u16 {
        let prefix = "[System] Listening on 127.0.0.1:";
        let screen = self.wait(&format!("a row starting with {prefix:?}"), |s| {
            s.row_starting(prefix).is_some()
        });
        let row = screen.row_starting(prefix).unwrap();
        row[prefix.len()..]
            .strip_suffix(" ...")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {row:?}"))
    }

    /// Asserts that the next line `peer` reads is `expected`, showing the terminal if not.
    fn expect_sent(&self, peer: &mut Peer, expected: &str) {
        match peer.try_read_line() {
            Ok(line) if line == expected => {}
            Ok(line) => panic!(
                "expected {expected:?} on the wire, got {line:?}; the terminal shows:\n{}",
                self.screen().dump()
            ),
            Err(e) => panic!(
                "expected {expected:?} on the wire: {e}; the terminal shows:\n{}",
                self.screen().dump()
            ),
        }
    }

    /// Waits until the pane's terminal device is `columns` wide. tmux re-wraps what it
    /// shows at once, but tells the programs in the pane (SIGWINCH, as the kernel sends
    /// it when the size is set) a little later.
    fn wait_columns(&self, columns: u16) {
        let tty = self.checked(&["display-message", "-p", "#{pane_tty}"]);
        let tty = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(tty.trim_end())
            .unwrap_or_else(|e| panic!("cannot open the pane's terminal {tty:?}: {e}"));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let size = rustix::termios::tcgetwinsize(&tty)
                .unwrap_or_else(|e| panic!("cannot read the pane's size: {e}"));
            if size.ws_col == columns {
                return;
            }
            if Instant::now() >= deadline {
                panic!("the pane's terminal stayed {} columns wide", size.ws_col);
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for the shell around the chat to report the chat's exit code.
    fn wait_exit_code(&self, timeout: Duration) -> i32 {
        let screen = self.wait_within(timeout, "the chat to exit", |s| {
            s.row_starting("EXIT=").is_some()
        });
        let row = screen.row_starting("EXIT=").unwrap();
        row["EXIT=".len()..]
            .parse()
            .unwrap_or_else(|_| panic!("no exit code in {row:?}"))
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        // A chat whose terminal is closed under it should leave by itself, but no chat
        // may outlive its test whatever state it is in, so it is killed first. It is the
        // child of the shell the pane runs.
        let pane = self.command(&["display-message", "-p", "#{pane_pid}"]);
        if let Ok(shell) = String::from_utf8_lossy(&pane.stdout).trim().parse() {
            for pid in children_of(shell) {
                let _ = Command::new("sh")
                    .args([
                        "-c",
                        r#"kill -KILL "$1" 2>/dev/null"#,
                        "sh",
                        &pid.to_string(),
                    ])
                    .status();
            }
        }
        let _ = self.command(&["kill-server"]);
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}

/// The processes whose parent is `parent`, from `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `PID (COMMAND) STATE PPID ...`; the command may contain anything.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// One capture of the pane, as rows without trailing blanks.
struct Screen {
    /// The rows without the time the chat puts before each of its lines, so that
    /// tests can compare them with what they expect whatever the hour.
    rows: Vec<String>,
    /// The rows as the pane shows them.
    stamped: Vec<String>,
}

impl Screen {
    fn new(text: &str) -> Screen {
        let mut stamped: Vec<String> = text.lines().map(|r| r.trim_end().to_string()).collect();
        while stamped.last().is_some_and(String::is_empty) {
            stamped.pop();
        }
        let rows = stamped
            .iter()
            .map(|r| without_time(r).unwrap_or(r).to_string())
            .collect();
        Screen { rows, stamped }
    }

    /// The lines of the chat, each whole, from a capture whose rows the terminal
    /// wrapped are joined already ([`Term::joined_screen`]): a row that starts with
    /// blanks goes on the line above it, after one space, as the chat indents the rows
    /// it wraps a long line into.
    fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for row in &self.rows {
            match lines.last_mut() {
                Some(last) if row.starts_with(' ') && !row.trim().is_empty() => {
                    last.push(' ');
                    last.push_str(row.trim_start());
                }
                _ => lines.push(row.clone()),
            }
        }
        lines
    }

    fn has_row(&self, row: &str) -> bool {
        self.rows.iter().any(|r| r == row)
    }

    fn row_index(&self, row: &str) -> Option<usize> {
        self.rows.iter().position(|r| r == row)
    }

    fn count_rows(&self, row: &str) -> usize {
        self.rows.iter().filter(|r| *r == row).count()
    }

    fn row_starting(&self, prefix: &str) -> Option<&str> {
        self.rows_starting(prefix).into_iter().next()
    }

    fn rows_starting(&self, prefix: &str) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }

    /// The last row that is not empty.
    fn last_row(&self) -> &str {
        self.rows.last().map_or("", String::as_str)
    }

    /// The rows, numbered, with escape codes made visible, for failure messages.
    fn dump(&self) -> String {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{i:3}| {}\n", r.escape_debug()))
            .collect()
    }
}

/// `row` without the leading `HH:MM ` the chat stamps its lines with, or `None` when
/// it does not start with one.
fn without_time(row: &str) -> Option<&str> {
    let (time, rest) = row.split_at_checked("HH:MM ".len())?;
    let time = time.as_bytes();
    let digits = [0, 1, 3, 4].iter().all(|&i| time[i].is_ascii_digit());
    (digits && time[2] == b':' && time[5] == b' ').then_some(rest)
}

/// For each row of a `capture-pane -e` capture, whether text at the start of the row,
/// after the time of a chat line, is drawn in a non-default foreground colour. tmux
/// writes an SGR code only where the style changes, and a style carries over into the
/// next row, so the codes are followed through the whole capture.
fn coloured_row_starts(rows: &[String]) -> Vec<bool> {
    let mut coloured = false;
    let mut starts = Vec::new();
    for row in rows {
        let mut rest = row.as_str();
        // SGR codes before the first character still apply to it; the time is plain.
        loop {
            while let Some(after) = rest.strip_prefix("\x1b[") {
                let Some((params, tail)) = after.split_once('m') else {
                    break;
                };
                coloured = apply_sgr(coloured, params);
                rest = tail;
            }
            match without_time(rest) {
                Some(after) => rest = after,
                None => break,
            }
        }
        starts.push(coloured);
        while let Some(pos) = rest.find("\x1b[") {
            let Some((params, tail)) = rest[pos + 2..].split_once('m') else {
                break;
            };
            coloured = apply_sgr(coloured, params);
            rest = tail;
        }
    }
    starts
}

/// Whether the foreground is coloured after the SGR parameters `params` (`33`, `0`,
/// `38;5;11`, ...), given whether it was before.
fn apply_sgr(mut coloured: bool, params: &str) -> bool {
    let mut params = params.split(';');
    while let Some(param) = params.next() {
        match param.parse::<u8>().unwrap_or(0) {
            0 | 39 => coloured = false,
            30..=37 | 90..=97 => coloured = true,
            38 => {
                coloured = true;
                // 38;5;N or 38;2;R;G;B: the colour's own numbers are not codes.
                let skip = if params.next() == Some("2") { 3 } else { 1 };
                params.nth(skip - 1);
            }
            48 => {
                let skip = if params.next() == Some("2") { 3 } else { 1 };
                params.nth(skip - 1);
            }
            _ => {}
        }
    }
    coloured
}

/// The other end of the connection, played by the test with a plain socket.
struct Peer {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn connect(port: u16) -> Peer {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("peer cannot connect to 127.0.0.1:{port}: {e}"));
        Peer::from_stream(stream)
    }

    /// Accepts the chat's connection, giving up after [`TIMEOUT`].
    fn accept(listener: &TcpListener) -> Peer {
        Peer::from_stream(common::accept_within_timeout(listener))
    }

    fn from_stream(stream: TcpStream) -> Peer {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Peer { stream, reader }
    }

    fn local_port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    fn send(&mut self, data: &[u8]) {
        self.stream
            .write_all(data)
            .unwrap_or_else(|e| panic!("peer: write failed: {e}"));
    }

    /// The next line the chat sent, without its `\n`, or what went wrong.
    fn try_read_line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        let partial = |line: &[u8]| String::from_utf8_lossy(line).into_owned();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                Ok(partial(&line))
            }
            Ok(_) => Err(format!(
                "connection closed while waiting for a line (partial: {:?})",
                partial(&line)
            )),
            Err(e) => Err(format!(
                "no line arrived: {e} (partial: {:?})",
                partial(&line)
            )),
        }
    }

    /// Asserts that the very next thing the chat sent is the line `expected`.
    fn expect_line(&mut self, expected: &str) {
        match self.try_read_line() {
            Ok(line) => assert_eq!(line, expected, "peer: unexpected line on the wire"),
            Err(e) => panic!("peer: expected {expected:?}: {e}"),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) {
        self.reader
            .read_exact(buf)
            .unwrap_or_else(|e| panic!("peer: cannot read {} bytes: {e}", buf.len()));
    }

    /// Asserts that the chat closed its side with nothing more sent.
    fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) if rest.is_empty() => {}
            Ok(_) => panic!(
                "peer: expected the end of the stream, got {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Err(e) => panic!("peer: expected the end of the stream: {e}"),
        }
    }
}

/// Starts a listening chat, connects a peer to it and waits for the prompt.
fn listening_chat(test: &str, dir: &TestDir, no_color: bool) -> (Term, Peer) {
    let term = Term::listen(test, dir.path(), no_color);
    let peer = Peer::connect(term.listening_port());
    let connected = format!("[System] Connected by 127.0.0.1:{}", peer.local_port());
    term.wait_prompt(&format!("the row {connected:?}"));
    term.wait_row(&connected);
    term.wait_row(
        "[System] Not encrypted (--plain): anyone on the network in between can read and \
         change what is sent.",
    );
    (term, peer)
}

/// Waits for the chat to exit with code 0 within `timeout`, and checks what it left on
/// screen: `kept` (a line of the conversation) still there, the exit notice last, and
/// no prompt left behind.
fn assert_left_cleanly(term: &Term, timeout: Duration, kept: &str) -> Screen {
    let code = term.wait_exit_code(timeout);
    let screen = term.screen();
    assert_eq!(code, 0, "unexpected exit code:\n{}", screen.dump());
    let exit_row = screen.row_index("EXIT=0").unwrap();
    assert!(
        exit_row > 0 && screen.rows[exit_row - 1] == "[System] Exiting.",
        "the exit notice is not the chat's last line:\n{}",
        screen.dump()
    );
    assert!(
        screen.has_row(kept),
        "the row {kept:?} was erased:\n{}",
        screen.dump()
    );
    assert!(
        !screen.rows.iter().any(|r| r == ">" || r.starts_with("> ")),
        "a prompt was left on screen:\n{}",
        screen.dump()
    );
    screen
}

/// The own-message echo of `text`.
fn own(text: &str) -> String {
    format!("[{NAME}] {text}")
}

#[test]
fn a_line_arriving_while_typing_goes_above_the_half_typed_input() {
    let dir = TestDir::new("tty_half_typed");
    let (term, mut peer) = listening_chat("half_typed", &dir, true);

    term.type_text("half typed");
    term.wait("the typed text after the prompt", |s| {
        s.last_row() == "> half typed"
    });
    peer.send(b"[peer] hello\n");
    let screen = term.wait("the peer's line above the intact input line", |s| {
        s.has_row("[peer] hello") && s.last_row() == "> half typed"
    });
    assert_eq!(
        screen.count_rows("> half typed"),
        1,
        "the input line was drawn more than once:\n{}",
        screen.dump()
    );

    term.press("Enter");
    term.expect_sent(&mut peer, &own("half typed"));
    let screen = term.wait("the typed line replaced by its echo", |s| {
        s.has_row(&own("half typed")) && !s.has_row("> half typed") && s.last_row() == ">"
    });
    let peer_row = screen.row_index("[peer] hello").unwrap();
    let own_row = screen.row_index(&own("half typed")).unwrap();
    assert!(
        peer_row < own_row,
        "the echo is not below the peer's line:\n{}",
        screen.dump()
    );
}

/// Lines in the burst of [`a_burst_of_peer_lines_does_not_freeze_the_chat_on_enter`]:
/// enough to keep the screen busy for seconds.
const BURST_LINES: usize = 50_000;

/// Messages typed and sent while the burst is being drawn. Pressing Enter while lines
/// are being drawn is where a line editor and its printer can get in each other's way,
/// and each message is one more chance for that to show.
const BURST_MESSAGES: usize = 5;

#[test]
fn a_burst_of_peer_lines_does_not_freeze_the_chat_on_enter() {
    let dir = TestDir::new("tty_burst");
    let (term, mut peer) = listening_chat("burst", &dir, true);

    // A long line being typed keeps the editor busy: it is redrawn under every line
    // printed above it.
    let padding = "x".repeat(80);
    let text = |k: usize| format!("typed during the burst {k} {padding}");
    term.type_text(&text(1));
    term.wait("the typed text", |s| {
        s.last_row() == format!("> {}", text(1))
    });
    // A peer piping a file into its chat: many lines in one go.
    let burst: String = (0..BURST_LINES)
        .map(|i| format!("[peer] burst {i}\n"))
        .collect();
    peer.send(burst.as_bytes());
    term.wait("the burst to start", |s| {
        s.row_starting("[peer] burst ").is_some()
    });
    term.press("Enter");
    term.expect_sent(&mut peer, &own(&text(1)));
    for k in 2..=BURST_MESSAGES {
        term.enter(&text(k));
        term.expect_sent(&mut peer, &own(&text(k)));
    }

    let last = format!("[peer] burst {}", BURST_LINES - 1);
    term.wait("the whole burst, then an empty prompt", |s| {
        s.has_row(&last) && s.last_row() == ">"
    });
    // Still responsive both ways.
    peer.send(b"[peer] after the burst\n");
    term.wait("the line after the burst above the prompt", |s| {
        s.has_row("[peer] after the burst") && s.last_row() == ">"
    });
    term.enter("still here");
    term.expect_sent(&mut peer, &own("still here"));
}

#[test]
fn ctrl_c_clears_a_half_typed_line_then_leaves_on_an_empty_one() {
    let dir = TestDir::new("tty_ctrl_c");
    let (term, mut peer) = listening_chat("ctrl_c", &dir, true);
    peer.send(b"[peer] hi\n");
    term.wait_row("[peer] hi");

    term.type_text("never sent");
    term.wait("the typed text", |s| s.last_row() == "> never sent");
    term.press("C-c");
    let screen = term.wait_prompt("Ctrl-C to clear the line");
    assert!(
        !screen.rows.iter().any(|r| r.contains("never sent")),
        "the cleared text is still on screen:\n{}",
        screen.dump()
    );

    term.press("C-c");
    // The leave line is the first thing on the wire: the cleared line was not sent.
    term.expect_sent(&mut peer, &format!("[{NAME}] has left the chat."));
    peer.expect_eof();
    drop(peer);
    assert_left_cleanly(&term, TIMEOUT, "[peer] hi");
}

#[test]
fn ctrl_d_on_an_empty_line_leaves_cleanly() {
    let dir = TestDir::new("tty_ctrl_d");
    // This time the chat connects and the test listens, so both roles are covered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let args = ["connect", "127.0.0.1", port.as_str(), "--name", NAME];
    let term = Term::start("ctrl_d", dir.path(), true, &args);
    let mut peer = Peer::accept(&listener);
    let connected = format!("[System] Connected to 127.0.0.1:{port}");
    term.wait_row(&connected);
    term.wait_connected();

    term.press("C-d");
    term.expect_sent(&mut peer, &format!("[{NAME}] has left the chat."));
    peer.expect_eof();
    drop(peer);
    assert_left_cleanly(&term, TIMEOUT, &connected);
}

/// Size of the blocks the big test file is made of.
const BLOCK: usize = 1024 * 1024;
/// The big file: 200 MiB.
const BIG_BLOCKS: usize = 200;
const BIG_SIZE: usize = BIG_BLOCKS * BLOCK;
/// The peer reads this many blocks slowly, then waits until the test has typed its
/// lines: the slow part makes the transfer outlast the first progress line (due after
/// about a second), the wait makes sure the lines are typed while the file is still
/// going out.
const SLOW_BLOCKS: usize = 120;
/// Pause after each slowly read block: at most 100 MiB/s, so the slow part alone takes
/// over a second.
const SLOW_PAUSE: Duration = Duration::from_millis(10);

/// Block `index` of the big file: one pseudo-random block with its index stamped in,
/// so lost, repeated or reordered blocks are noticed without generating 200 MiB of
/// random data.
fn big_block(base: &[u8], index: usize) -> Vec<u8> {
    let mut block = base.to_vec();
    block[..8].copy_from_slice(&(index as u64).to_le_bytes());
    block
}

#[test]
fn a_big_send_shows_progress_and_holds_typed_messages_until_the_file_is_out() {
    let dir = TestDir::new("tty_big_send");
    let base = pseudo_random_bytes(BLOCK, 42);
    {
        let mut out = BufWriter::new(fs::File::create(dir.join("big.bin")).unwrap());
        for index in 0..BIG_BLOCKS {
            out.write_all(&big_block(&base, index)).unwrap();
        }
        out.flush().unwrap();
    }
    let small = b"a small file queued behind the big one\n";
    fs::write(dir.join("small.txt"), small).unwrap();
    let (term, mut peer) = listening_chat("big_send", &dir, true);

    let (go_on, go_signal) = mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        peer.expect_line(&format!("/file big.bin {BIG_SIZE}"));
        let mut buf = vec![0; BLOCK];
        for index in 0..BIG_BLOCKS {
            if index == SLOW_BLOCKS {
                go_signal
                    .recv_timeout(TIMEOUT)
                    .expect("peer: the test never said to read on");
            }
            peer.read_exact(&mut buf);
            assert!(
                buf == big_block(&base, index),
                "peer: block {index} of big.bin differs from the file"
            );
            if index < SLOW_BLOCKS {
                thread::sleep(SLOW_PAUSE);
            }
        }
        // Only after every byte of the file: what was typed meanwhile, in order.
        peer.expect_line(&own("during one"));
        peer.expect_line(&format!("/file small.txt {}", small.len()));
        let mut got = vec![0; small.len()];
        peer.read_exact(&mut got);
        assert!(got == small, "peer: small.txt differs from the file");
        peer.expect_line(&own("during two"));
        peer
    });

    term.enter("/send big.bin");
    term.wait("a progress line", |s| {
        s.rows_starting("Sending big.bin [")
            .iter()
            .any(|r| r.contains("] ") && r.contains(" / 200.0 MiB (") && r.contains("%), "))
    });

    let note = "[System] Messages typed now wait until the file transfer is done.";
    term.enter("during one");
    term.wait("the note and the echo", |s| {
        s.has_row(note) && s.has_row(&own("during one")) && s.last_row() == ">"
    });
    term.enter("/send small.txt");
    term.wait("small.txt to be queued", |s| {
        s.row_starting("[System] Queued small.txt (").is_some() && s.last_row() == ">"
    });
    term.enter("/status");
    term.wait_row(&format!(
        "[System] #2 Queued: small.txt ({} B)",
        small.len()
    ));
    term.wait_prompt("the status");
    term.enter("during two");
    let screen = term.wait("the second echo", |s| {
        s.has_row(&own("during two")) && s.last_row() == ">"
    });
    assert_eq!(
        screen.rows_starting("Sending big.bin [").len(),
        1,
        "one progress line, updated in place:\n{}",
        screen.dump()
    );
    assert_eq!(
        screen.count_rows(note),
        1,
        "the note about waiting messages should appear once:\n{}",
        screen.dump()
    );

    go_on.send(()).unwrap();
    let peer = reader
        .join()
        .expect("the peer did not get what it expected");

    let sent_prefix = format!("[System] Sent file big.bin ({}, ", common::size(BIG_SIZE));
    let screen = term.wait("the final line for small.txt", |s| {
        s.row_starting("[System] Sent file small.txt (").is_some()
    });
    let sent = screen
        .row_starting(&sent_prefix)
        .unwrap_or_else(|| panic!("no {sent_prefix:?} row:\n{}", screen.dump()));
    let summary = &sent[sent_prefix.len()..];
    assert!(
        summary.contains("s at ") && summary.ends_with("/s)"),
        "the final line has no time and rate:\n{}",
        screen.dump()
    );
    // The final line took the place of the progress line.
    assert!(
        screen.rows_starting("Sending big.bin").is_empty(),
        "a progress line is left:\n{}",
        screen.dump()
    );
    let sent = sent.to_string();
    drop(peer);
    assert_left_cleanly(&term, TIMEOUT, &sent);
}

#[test]
fn the_peer_leaving_mid_typing_ends_the_chat_and_gives_the_terminal_back() {
    let dir = TestDir::new("tty_peer_leaves");
    let (term, mut peer) = listening_chat("peer_leaves", &dir, true);

    term.type_text("unfinished");
    term.wait("the typed text", |s| s.last_row() == "> unfinished");
    // What a leaving chat sends: its goodbye, then the end of the stream.
    let goodbye = "[peer] has left the chat.";
    peer.send(format!("{goodbye}\n").as_bytes());
    drop(peer);
    // No key is pressed: the chat must notice on its own, and quickly.
    let screen = assert_left_cleanly(&term, Duration::from_secs(5), goodbye);
    let order = [goodbye, "[System] Peer disconnected.", "[System] Exiting."].map(|row| {
        screen
            .row_index(row)
            .unwrap_or_else(|| panic!("no {row:?} row:\n{}", screen.dump()))
    });
    assert!(
        order.is_sorted(),
        "the goodbye and the notices are out of order:\n{}",
        screen.dump()
    );

    // The shell reads a line from the terminal the chat left behind: in the raw mode of
    // the line editor neither the echo nor the Enter would work.
    term.enter("abc");
    term.wait("the shell to read the line", |s| {
        s.has_row("GOT=abc") && s.has_row("abc")
    });
}

#[test]
fn a_lost_connection_is_said_once() {
    let dir = TestDir::new("tty_lost_once");
    let (term, mut peer) = listening_chat("lost_once", &dir, true);
    term.enter("anyone there?");
    peer.expect_line(&own("anyone there?"));
    // Closing a socket with unread data makes the kernel answer with a
    // reset instead of an orderly end of stream.
    term.enter("still there?");
    let mut unread = [0u8; 1];
    assert_eq!(peer.stream.peek(&mut unread).unwrap(), 1, "nothing came");
    drop(peer);
    let code = term.wait_exit_code(TIMEOUT);
    let screen = term.screen();
    assert_eq!(code, 1, "unexpected exit code:\n{}", screen.dump());
    let said: Vec<&String> = screen
        .rows
        .iter()
        .filter(|r| r.contains("lost") || r.starts_with("error"))
        .collect();
    assert_eq!(
        said,
        ["[System] Connection lost: the connection was cut without the peer saying goodbye"],
        "the loss is not said once:\n{}",
        screen.dump()
    );
}

#[test]
fn commands_help_unknown_and_escaped_slash() {
    let dir = TestDir::new("tty_commands");
    let (term, mut peer) = listening_chat("commands", &dir, true);

    term.enter("/help");
    let screen = term.wait("the command list", |s| {
        s.row_starting("[System] //text").is_some() && s.last_row() == ">"
    });
    for command in ["/send PATH...", "/status", "/help", "/quit", "//text"] {
        assert!(
            screen
                .row_starting(&format!("[System] {command} "))
                .is_some(),
            "/help does not list {command}:\n{}",
            screen.dump()
        );
    }

    term.enter("/status");
    term.wait_row("[System] No transfers in progress or queued.");
    term.wait_prompt("the status");

    term.enter("/bogus");
    term.wait("the unknown-command hint", |s| {
        s.row_starting("[System] Unknown command /bogus: ")
            .is_some()
            && s.last_row() == ">"
    });

    term.enter("//slash");
    // The first line on the wire: neither /help, /status nor /bogus sent anything.
    term.expect_sent(&mut peer, &own("/slash"));
    term.wait("the echo", |s| {
        s.has_row(&own("/slash")) && s.last_row() == ">"
    });
    let screen = term.screen();
    assert!(
        !screen.has_row(&own("/bogus")),
        "/bogus was shown as sent:\n{}",
        screen.dump()
    );
}

#[test]
fn system_lines_are_coloured_by_default() {
    let dir = TestDir::new("tty_colour");
    let (term, mut peer) = listening_chat("colour", &dir, false);
    peer.send(b"[peer] hi\n");
    term.wait_row("[peer] hi");

    let screen = term.screen_with_escapes();
    let coloured = coloured_row_starts(&screen.stamped);
    for prefix in ["[System] Listening on ", "[System] Connected by "] {
        let index = screen
            .rows
            .iter()
            .position(|r| r.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} row:\n{}", screen.dump()));
        assert!(
            coloured[index],
            "{prefix:?} is not coloured:\n{}",
            screen.dump()
        );
    }
    // Names are coloured too, and the colour ends with them: the prompt is plain.
    let peer_row = screen.rows.iter().position(|r| r.ends_with(" hi")).unwrap();
    assert!(
        screen.rows[peer_row].contains('\x1b'),
        "the peer's name is not coloured:\n{}",
        screen.dump()
    );
    let prompt_row = screen.rows.len() - 1;
    assert!(
        !coloured[prompt_row],
        "the colour leaks into the prompt:\n{}",
        screen.dump()
    );
}

#[test]
fn no_color_turns_colour_off() {
    let dir = TestDir::new("tty_no_colour");
    let (term, mut peer) = listening_chat("no_colour", &dir, true);
    peer.send(b"[peer] hi\n");
    term.wait_row("[peer] hi");
    term.enter("hello");
    term.wait("the echo", |s| {
        s.has_row(&own("hello")) && s.last_row() == ">"
    });

    let screen = term.screen_with_escapes();
    assert!(
        !screen.rows.iter().any(|r| r.contains('\x1b')),
        "escape codes despite NO_COLOR=1:\n{}",
        screen.dump()
    );
}

#[test]
fn each_line_of_the_conversation_starts_with_the_time() {
    let dir = TestDir::new("tty_time");
    let before = chrono::Local::now().format("%H:%M").to_string();
    let (term, mut peer) = listening_chat("time", &dir, true);
    peer.send(b"[peer] hi\n");
    term.wait_row("[peer] hi");
    term.enter("hello");
    term.expect_sent(&mut peer, &own("hello"));
    let screen = term.wait("the echo", |s| {
        s.has_row(&own("hello")) && s.last_row() == ">"
    });
    let after = chrono::Local::now().format("%H:%M").to_string();

    let connected = format!("[System] Connected by 127.0.0.1:{}", peer.local_port());
    for line in ["[peer] hi", &own("hello"), &connected] {
        let row = screen.row_index(line).unwrap();
        let stamped = &screen.stamped[row];
        let time = stamped.strip_suffix(line).and_then(|t| t.strip_suffix(' '));
        assert!(
            time == Some(&before) || time == Some(&after),
            "{line:?} is not shown after the time ({before} to {after}):\n{}",
            screen.dump()
        );
    }
}

#[test]
fn a_file_received_in_interactive_mode_is_saved_whole() {
    let dir = TestDir::new("tty_receive");
    let (term, mut peer) = listening_chat("receive", &dir, true);

    let content = pseudo_random_bytes(3_000_000, 8);
    peer.send(b"/file x.bin 3000000\n");
    peer.send(&content);
    let prefix = "[System] File saved to received_files/x.bin (";
    let screen = term.wait(&format!("a row starting with {prefix:?}"), |s| {
        s.row_starting(prefix).is_some()
    });
    let saved = screen.row_starting(prefix).unwrap();
    // A transfer this small may take under 0.1 s: then it gets its time
    // only, since a rate over so short a time means nothing.
    let summary = &saved[prefix.len()..];
    let timed = summary.split_once("s").is_some_and(|(secs, rest)| {
        secs.parse::<f64>().is_ok() && (rest == ")" || rest.ends_with("/s)"))
    });
    assert!(
        timed,
        "the saved line has no time (and rate):\n{}",
        screen.dump()
    );
    assert!(
        screen.has_row("[System] Incoming file x.bin (2.9 MiB)..."),
        "no incoming-file line:\n{}",
        screen.dump()
    );
    let on_disk = fs::read(dir.join("received_files/x.bin")).unwrap();
    assert!(
        on_disk == content,
        "the saved file differs from what was sent"
    );
}

#[test]
fn send_takes_several_paths_quoted_when_they_have_spaces() {
    let dir = TestDir::new("tty_send_paths");
    let notes = b"notes with a space in the name\n";
    let data = pseudo_random_bytes(5000, 9);
    fs::write(dir.join("my notes.txt"), notes).unwrap();
    fs::write(dir.join("b.bin"), &data).unwrap();
    let (term, mut peer) = listening_chat("send_paths", &dir, true);

    term.enter(r#"/send "my notes.txt" b.bin"#);
    for (name, content) in [("my notes.txt", &notes[..]), ("b.bin", &data[..])] {
        term.expect_sent(&mut peer, &format!("/file {name} {}", content.len()));
        let mut got = vec![0; content.len()];
        peer.read_exact(&mut got);
        assert!(got == content, "peer: {name} differs from the file");
    }
    for (name, size) in [("my notes.txt", notes.len()), ("b.bin", data.len())] {
        term.wait(&format!("the final line for {name}"), |s| {
            s.row_starting(&format!(
                "[System] Sent file {name} ({}, ",
                common::size(size)
            ))
            .is_some()
        });
    }
}

#[test]
fn tab_inside_an_open_quote_completes_the_name_and_closes_the_quote() {
    let dir = TestDir::new("tty_tab_quote");
    let notes = b"notes\n";
    fs::write(dir.join("my notes.txt"), notes).unwrap();
    let (term, mut peer) = listening_chat("tab_quote", &dir, true);

    term.type_text(r#"/send "my no"#);
    term.press("Tab");
    // The next word goes on after the closed quote and a space.
    term.type_text("x");
    term.wait("the completed name", |s| {
        s.last_row() == r#"> /send "my notes.txt" x"#
    });
    term.press("BSpace");
    term.press("Enter");
    term.expect_sent(&mut peer, &format!("/file my notes.txt {}", notes.len()));
}

#[test]
fn tab_on_a_lone_folder_goes_into_it() {
    let dir = TestDir::new("tty_tab_folder");
    fs::create_dir(dir.join("sub")).unwrap();
    let inner = b"inside the folder\n";
    fs::write(dir.join("sub/inner.txt"), inner).unwrap();
    let (term, mut peer) = listening_chat("tab_folder", &dir, true);

    term.type_text("/send su");
    term.wait("the typed text", |s| s.last_row() == "> /send su");
    term.press("Tab");
    term.wait("the folder completed", |s| s.last_row() == "> /send sub/");
    term.press("Tab");
    term.wait("the file in the folder completed", |s| {
        s.last_row() == "> /send sub/inner.txt"
    });
    term.press("Enter");
    term.expect_sent(&mut peer, &format!("/file inner.txt {}", inner.len()));
}

#[test]
fn a_pasted_text_of_several_lines_leaves_only_their_echoes() {
    let dir = TestDir::new("tty_paste");
    let (term, mut peer) = listening_chat("paste", &dir, true);
    peer.send(b"[peer] before the paste\n");
    term.wait_row("[peer] before the paste");

    // As a terminal pastes: bracketed when the editor asked for it, lines ending in
    // carriage returns.
    term.checked(&["set-buffer", "alpha\nbeta\n"]);
    term.checked(&["paste-buffer", "-p", "-d"]);
    term.press("Enter");
    term.expect_sent(&mut peer, &own("alpha"));
    term.expect_sent(&mut peer, &own("beta"));
    let screen = term.wait("both echoes, then an empty prompt", |s| {
        s.has_row(&own("alpha")) && s.has_row(&own("beta")) && s.last_row() == ">"
    });
    let start = screen.row_index("[peer] before the paste").unwrap();
    assert_eq!(
        screen.rows[start..],
        ["[peer] before the paste", &own("alpha"), &own("beta"), ">"],
        "the pasted lines left rows behind:\n{}",
        screen.dump()
    );
}

/// Runs the chat, reports its exit code, then hands the terminal to a shell that reads
/// commands from it, as after a chat started from an interactive shell.
const SHELL_AFTER: &str = r#""$@"; echo EXIT=$?; exec sh"#;

/// Size of the file sent while leaving: far more than the socket buffers hold, so the
/// chat is still sending it while the peer does not read.
const LEAVING_SIZE: usize = 64 * BLOCK;

/// Needs the session to call `terminal::console::discard_pending_input` when it is done
/// with the terminal; fails until it does.
#[test]
fn text_typed_while_leaving_does_not_reach_the_shell() {
    let dir = TestDir::new("tty_typed_while_leaving");
    let block = pseudo_random_bytes(BLOCK, 14);
    {
        let mut out = BufWriter::new(fs::File::create(dir.join("big.bin")).unwrap());
        for _ in 0..LEAVING_SIZE / BLOCK {
            out.write_all(&block).unwrap();
        }
        out.flush().unwrap();
    }
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
    ];
    let term = Term::start_wrapped("typed_while_leaving", dir.path(), true, SHELL_AFTER, &args);
    let mut peer = Peer::connect(term.listening_port());
    term.wait_connected();

    let (header_read, header_signal) = mpsc::channel::<()>();
    let (go_on, go_signal) = mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        peer.expect_line(&format!("/file big.bin {LEAVING_SIZE}"));
        header_read.send(()).unwrap();
        go_signal
            .recv_timeout(TIMEOUT)
            .expect("peer: the test never said to read on");
        let mut buf = vec![0; BLOCK];
        for _ in 0..LEAVING_SIZE / BLOCK {
            peer.read_exact(&mut buf);
        }
        peer.expect_line(&format!("[{NAME}] has left the chat."));
        peer.expect_eof();
    });

    term.enter("/send big.bin");
    header_signal
        .recv_timeout(TIMEOUT)
        .expect("the file never started going out");
    term.enter("/quit");
    term.wait_row(
        "[System] Leaving once the files being sent are through (Ctrl-C leaves at once).",
    );
    // The prompt stays, so Ctrl-C can leave at once; what is entered now is
    // not sent, and says so.
    term.enter("echo SHOULD-NOT-$((6*7))");
    term.wait_row("[System] Leaving: nothing typed now is sent (Ctrl-C leaves at once).");
    term.type_text("echo SHOULD-NOT-$((6*7))");
    go_on.send(()).unwrap();
    reader
        .join()
        .expect("the peer did not get what it expected");
    let code = term.wait_exit_code(TIMEOUT);
    assert_eq!(code, 0, "unexpected exit code:\n{}", term.screen().dump());

    // The shell reads its commands in order: once this one has run, an earlier line
    // left in the terminal would have run too.
    term.enter("echo AFTER-$((1+1))");
    let screen = term.wait("the shell to run a command", |s| {
        s.rows.iter().any(|r| r.ends_with("AFTER-2"))
    });
    assert!(
        !screen.rows.iter().any(|r| r.contains("SHOULD-NOT-42")),
        "text typed while leaving ran in the shell:\n{}",
        screen.dump()
    );
}

#[test]
fn resizing_the_terminal_keeps_the_lines_above_a_wrapped_input() {
    let dir = TestDir::new("tty_widen");
    let (term, mut peer) = listening_chat("widen", &dir, true);
    term.checked(&["resize-window", "-x", "50"]);
    term.wait_columns(50);
    peer.send(b"[peer] first\n");
    term.wait_row("[peer] first");

    // 2 + 70 columns: two rows at 50 columns, one at 120.
    let typed = format!("long {}", "y".repeat(65));
    term.type_text(&typed);
    term.wait("the typed text, wrapped", |s| {
        s.rows.iter().any(|r| r.starts_with("> long y")) && s.last_row() == "y".repeat(22)
    });
    peer.send(b"[peer] second\n");
    term.wait_row("[peer] second");

    term.checked(&["resize-window", "-x", "120"]);
    term.wait_columns(120);
    // The editor redraws for the new width before it prints anything else, so once
    // this line is shown the redraw is done.
    peer.send(b"[peer] third\n");
    let input = format!("> {typed}");
    let screen = term.wait("the next line above the input on one row", |s| {
        s.has_row("[peer] third") && s.last_row() == input
    });
    let start = screen.row_index("[peer] first").unwrap();
    assert_eq!(
        screen.rows[start..],
        ["[peer] first", "[peer] second", "[peer] third", &input],
        "widening erased or left rows:\n{}",
        screen.dump()
    );

    // And back: the input wraps again, drawn once.
    term.checked(&["resize-window", "-x", "50"]);
    term.wait_columns(50);
    peer.send(b"[peer] fourth\n");
    let screen = term.wait("the next line above the input on two rows", |s| {
        s.has_row("[peer] fourth") && s.last_row() == "y".repeat(22)
    });
    let start = screen.row_index("[peer] first").unwrap();
    let wrapped = [&input[..50], &input[50..]];
    assert_eq!(
        screen.rows[start..],
        [
            "[peer] first",
            "[peer] second",
            "[peer] third",
            "[peer] fourth",
            wrapped[0],
            wrapped[1]
        ],
        "narrowing erased or left rows:\n{}",
        screen.dump()
    );
    term.press("Enter");
    term.expect_sent(&mut peer, &own(&typed));
}

// A listener waiting for its peer. The prompt works while nobody is connected yet:
// `/quit`, Ctrl-C and Ctrl-D leave at once, and other lines are answered with a note.
// These tests need the session to run the editor before a peer connects; they fail
// until it does.

/// Starts `chat listen` and waits for its prompt, with nobody connected.
fn waiting_listener(test: &str, dir: &TestDir) -> Term {
    let term = Term::listen(test, dir.path(), true);
    term.listening_port();
    term.wait_prompt("the listening line");
    term
}

/// Waits for the chat to exit with code 0 within 2 s, with no prompt left behind, and
/// checks that the terminal was handed back as it was found: reading whole lines,
/// echoing them, Enter ending them, Ctrl-C interrupting.
fn assert_left_at_once(term: &Term) {
    let code = term.wait_exit_code(Duration::from_secs(2));
    let screen = term.screen();
    assert_eq!(code, 0, "unexpected exit code:\n{}", screen.dump());
    assert!(
        !screen.rows.iter().any(|r| r == ">" || r.starts_with("> ")),
        "a prompt was left on screen:\n{}",
        screen.dump()
    );
    let tty = term.checked(&["display-message", "-p", "#{pane_tty}"]);
    let stty = Command::new("stty")
        .args(["-a", "-F", tty.trim()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run stty: {e}"));
    let modes = String::from_utf8_lossy(&stty.stdout);
    let set: Vec<&str> = modes.split([' ', '\n', ';']).collect();
    for mode in ["icanon", "echo", "icrnl", "isig"] {
        assert!(
            set.contains(&mode),
            "the terminal was left without {mode}: {modes}"
        );
    }
}

#[test]
fn a_waiting_listener_shows_the_prompt() {
    let dir = TestDir::new("tty_wait_prompt");
    let term = Term::listen("wait_prompt", dir.path(), true);
    let screen = term.wait("the listening line, then an empty prompt", |s| {
        s.row_starting("[System] Listening on 127.0.0.1:").is_some() && s.last_row() == ">"
    });
    assert!(
        !screen
            .rows
            .iter()
            .any(|r| r.starts_with("[System] Connected")),
        "{}",
        screen.dump()
    );
}

#[test]
fn a_line_half_typed_while_waiting_stays_when_the_peer_connects() {
    let dir = TestDir::new("tty_wait_half_typed");
    let term = waiting_listener("wait_half_typed", &dir);
    term.type_text("typed early");
    term.wait("the typed text", |s| s.last_row() == "> typed early");

    let mut peer = Peer::connect(term.listening_port());
    let connected = format!("[System] Connected by 127.0.0.1:{}", peer.local_port());
    term.wait("the connection above the intact input line", |s| {
        s.has_row(&connected) && s.last_row() == "> typed early"
    });
    term.press("Enter");
    term.expect_sent(&mut peer, &own("typed early"));
}

#[test]
fn a_line_entered_while_waiting_gets_a_note_and_is_not_sent() {
    let dir = TestDir::new("tty_wait_note");
    let term = waiting_listener("wait_note", &dir);
    term.enter("hello");
    let note = "[System] Nobody is connected yet; /quit leaves.";
    term.wait("the note, then an empty prompt", |s| {
        s.has_row(note) && s.last_row() == ">"
    });

    // Nothing typed while waiting goes out once somebody connects.
    let mut peer = Peer::connect(term.listening_port());
    term.wait_row(&format!(
        "[System] Connected by 127.0.0.1:{}",
        peer.local_port()
    ));
    term.enter("after");
    term.expect_sent(&mut peer, &own("after"));
}

#[test]
fn quit_while_waiting_leaves_at_once() {
    let dir = TestDir::new("tty_wait_quit");
    let term = waiting_listener("wait_quit", &dir);
    term.enter("/quit");
    assert_left_at_once(&term);
}

#[test]
fn ctrl_d_while_waiting_leaves_at_once() {
    let dir = TestDir::new("tty_wait_ctrl_d");
    let term = waiting_listener("wait_ctrl_d", &dir);
    term.press("C-d");
    assert_left_at_once(&term);
}

#[test]
fn ctrl_c_while_waiting_leaves_at_once() {
    let dir = TestDir::new("tty_wait_ctrl_c");
    let term = waiting_listener("wait_ctrl_c", &dir);
    term.press("C-c");
    assert_left_at_once(&term);
}

/// Starts `chat connect` to a loopback port nobody listens on, trying until
/// stopped, and waits for its prompt below the line saying so.
fn waiting_connect(test: &str, dir: &TestDir) -> Term {
    let port = common::closed_port().to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", NAME, "--wait", "0"];
    let term = Term::start(test, dir.path(), true, &args);
    let waiting = format!("[System] Nobody listens on 127.0.0.1 {port} yet; trying again");
    term.wait(
        "the line saying it tries again, then an empty prompt",
        |s| s.row_starting(&waiting).is_some() && s.last_row() == ">",
    );
    term
}

#[test]
fn quit_while_connect_waits_leaves_at_once() {
    let dir = TestDir::new("tty_connect_wait_quit");
    let term = waiting_connect("connect_wait_quit", &dir);
    term.enter("/quit");
    assert_left_at_once(&term);
}

#[test]
fn ctrl_d_while_connect_waits_leaves_at_once() {
    let dir = TestDir::new("tty_connect_wait_ctrl_d");
    let term = waiting_connect("connect_wait_ctrl_d", &dir);
    term.press("C-d");
    assert_left_at_once(&term);
}

#[test]
fn ctrl_c_while_connect_waits_leaves_at_once() {
    let dir = TestDir::new("tty_connect_wait_ctrl_c");
    let term = waiting_connect("connect_wait_ctrl_c", &dir);
    term.press("C-c");
    assert_left_at_once(&term);
}

#[test]
fn lines_typed_ahead_in_one_burst_all_reach_the_peer_in_order() {
    let dir = TestDir::new("tty_typeahead");
    let (term, mut peer) = listening_chat("typeahead", &dir, true);
    // All keys at once, faster than the editor reads them: what it has read
    // ahead of one line must still be there for the next.
    term.checked(&[
        "send-keys",
        "one",
        "Enter",
        "two",
        "Enter",
        "/status",
        "Enter",
        "three",
        "Enter",
    ]);
    for line in ["one", "two", "three"] {
        term.expect_sent(&mut peer, &own(line));
    }
}

#[test]
fn the_encrypted_default_shows_the_safety_code_on_the_terminal() {
    let dir = TestDir::new("tty_encrypted");
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
    ];
    let term = Term::start_encrypted("encrypted", dir.path(), true, &args);
    let port = term.listening_port();
    let mut peer = common::Chat::connect_encrypted(
        "peer",
        &dir.subdir("peer"),
        "127.0.0.1",
        port,
        &["--name", "daksh"],
    );
    let code_line = peer.expect_prefix("[System] Encrypted. Safety code: ");
    // A person is also told what /trust does, after the same words.
    let shared = code_line.strip_suffix(')').unwrap();
    term.wait(&format!("a row starting {shared:?}"), |s| {
        s.row_starting(shared).is_some()
    });
    assert!(term.screen().dump().contains("/trust"));
    term.wait_prompt("the safety code");
    term.enter("/code");
    term.wait_row(&code_line.replace("Encrypted. ", ""));
    term.enter("hello over the encrypted wire");
    peer.expect_exact(&own("hello over the encrypted wire"));
    peer.send_line("hi back");
    term.wait_row("[daksh] hi back");
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
    assert_left_cleanly(&term, TIMEOUT, "[daksh] hi back");
}

#[test]
fn a_key_that_is_not_utf8_drops_only_the_line_being_typed() {
    let dir = TestDir::new("tty_not_utf8");
    let (term, mut peer) = listening_chat("not_utf8", &dir, true);
    term.type_text("caf");
    // 0xE9: `é` in Latin-1, from a terminal set to another encoding.
    // It is taken for the start of a longer character until the next key.
    term.checked(&["send-keys", "-H", "e9"]);
    term.press("Enter");
    term.wait_prompt("the line given up");
    term.enter("still here");
    term.expect_sent(&mut peer, &own("still here"));
    term.press("C-d");
    term.expect_sent(&mut peer, &own("has left the chat."));
    drop(peer);
    assert_left_cleanly(&term, TIMEOUT, &own("still here"));
}

#[test]
fn at_a_terminal_an_offer_over_100_mib_waits_for_accept_or_decline() {
    let dir = TestDir::new("tty_offers");
    let peer_dir = dir.subdir("peer");
    // Sparse: 101 MiB of zeros take no disk space to make.
    let big = fs::File::create(peer_dir.join("big.bin")).unwrap();
    big.set_len(101 << 20).unwrap();
    fs::write(peer_dir.join("small.txt"), b"under the threshold").unwrap();
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
    ];
    let term = Term::start_encrypted("offers", dir.path(), true, &args);
    let port = term.listening_port();
    let mut peer =
        common::Chat::connect_encrypted("peer", &peer_dir, "127.0.0.1", port, &["--name", "daksh"]);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    peer.send_line("/send small.txt");
    peer.expect_exact("[System] Sent file small.txt (19 B)");
    peer.send_line("/send big.bin");
    term.wait_row("[System] daksh offers big.bin (101.0 MiB): /accept 2 or /decline 2");
    term.wait_prompt("the offer");
    term.enter("/status");
    term.wait_row("[System] #2 Offered: big.bin (101.0 MiB): /accept 2 or /decline 2");
    assert!(
        !dir.join("received_files/big.bin").exists(),
        "saved before it was accepted"
    );
    term.enter("/accept");
    term.wait_row("[System] Accepted big.bin.");
    // 101 MiB written and synced: allow for a slow or busy disk.
    peer.set_timeout(Duration::from_secs(60));
    peer.expect_exact("[System] Sent file big.bin (101.0 MiB)");
    peer.set_timeout(common::TIMEOUT);
    assert_eq!(
        fs::metadata(dir.join("received_files/big.bin"))
            .unwrap()
            .len(),
        101 << 20
    );
    // The same file again: the offer says that it may be here already.
    peer.send_line("/send big.bin");
    let again = "[System] daksh offers big.bin (101.0 MiB, a file of this name and size is there";
    term.wait(&format!("a row starting with {again:?}"), |s| {
        s.row_starting(again).is_some()
    });
    term.enter("/decline 3");
    term.wait_row("[System] Declined big.bin; the peer was told.");
    peer.expect_exact("[System] big.bin was not saved by the peer: declined");
    peer.send_line("still talking");
    term.wait_row("[daksh] still talking");
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
    assert_left_cleanly(&term, TIMEOUT, "[daksh] still talking");
    assert!(!dir.join("received_files/big (1).bin").exists());
}

#[test]
fn at_a_terminal_an_offer_the_peer_does_not_answer_at_once_is_said_to_wait() {
    let dir = TestDir::new("tty_offer_waits");
    fs::write(dir.join("notes.txt"), b"hello").unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted(
        "peer",
        &dir.subdir("peer"),
        &["--name", "daksh", "--ask-above", "0"],
    );
    let port = port.to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", NAME];
    let term = Term::start_encrypted("offer_waits", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send notes.txt");
    peer.expect_exact(&format!(
        "[System] {NAME} offers notes.txt (5 B): /accept 1 or /decline 1"
    ));
    // (The peer may be checking a copy it has rather than asking: the
    // line is true either way.)
    term.wait_row(
        "[System] Waiting for the peer's answer to notes.txt (5 B): it may be asking its user, \
         or checking a copy it has.",
    );
    term.enter("/status");
    term.wait_row("[System] #1 Offered: notes.txt (5 B), waiting for the peer's answer");
    let accepted = Instant::now();
    peer.send_line("/accept");
    peer.expect_exact("[System] File saved to received_files/notes.txt");
    let sent_line = "[System] Sent file notes.txt (5 B, ";
    let sent = term.wait("the file to be sent", |s| {
        s.row_starting(sent_line).is_some()
    });
    // Timed from the acceptance, not from the offer over a second before (the
    // note above comes after a second): no longer than this test saw go by
    // since it accepted, which on a busy machine may be a second too.
    let took = accepted.elapsed().as_secs_f64();
    let line = sent.row_starting(sent_line).unwrap().to_string();
    let shown: f64 = line[sent_line.len()..]
        .split('s')
        .next()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"));
    assert!(
        shown <= took + 0.05,
        "{line}, {took:.2}s after the acceptance"
    );
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
}

#[test]
fn a_room_hosted_at_a_terminal_shows_everyone_and_who_lists_them() {
    let dir = TestDir::new("tty_room");
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
        "--room",
    ];
    let term = Term::start_encrypted("room", dir.path(), true, &args);
    let port = term.listening_port();
    let mut members = Vec::new();
    for name in ["daksh", "asha"] {
        let mut member = common::Chat::connect_encrypted(
            name,
            &dir.subdir(name),
            "127.0.0.1",
            port,
            &["--name", name],
        );
        let code = member.expect_prefix("[System] Encrypted. Safety code: ");
        let digits = code.split(' ').nth(4).unwrap_or_default().to_string();
        let joined = format!("[System] {name} joined the room (127.0.0.1:");
        let screen = term.wait(&format!("a row starting with {joined:?}"), |s| {
            s.row_starting(&joined).is_some()
        });
        let row = screen.row_starting(&joined).unwrap_or_default();
        assert!(row.contains(&format!("Safety code: {digits}")), "{row}");
        member.expect_prefix("[System] You are in me's room");
        members.push(member);
    }
    term.wait_prompt("both joined");
    term.enter("hello, room");
    for member in &mut members {
        member.expect_exact("[me] hello, room");
    }
    members[0].send_line("hi from daksh");
    term.wait_row("[daksh] hi from daksh");
    members[1].expect_exact("[daksh] hi from daksh");
    term.enter("/who");
    term.wait_row("[System] 3 in the room:");
    for prefix in [
        "[System]   me     host, for ",
        "[System]   daksh  127.0.0.1:",
        "[System] Room: safety code with asha: ",
    ] {
        term.wait(&format!("a row starting with {prefix:?}"), |s| {
            s.row_starting(prefix).is_some()
        });
    }
    term.enter("/msg asha only you");
    members[1].expect_exact("[me] (to you) only you");
    term.wait_row("[me] (to asha) only you");
    term.press("C-d");
    for member in &mut members {
        member.expect_exact("[System] The room is closed: its host left.");
        assert_eq!(member.wait_exit(), 0, "{}", member.report());
    }
    assert_left_cleanly(&term, TIMEOUT, "[me] (to asha) only you");
}

#[test]
fn a_private_message_shows_once_it_went_and_one_to_nobody_only_says_so() {
    let dir = TestDir::new("tty_room_msg");
    let (mut host, port) =
        common::Chat::listen_encrypted("host", &dir.subdir("host"), &["--room", "--name", "host"]);
    let port = port.to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", NAME];
    let term = Term::start_encrypted("room_msg", &dir.subdir("me"), true, &args);
    term.wait_row("[System] You are in host's room, alone with the host: /who lists the members, /msg NAME text speaks to one.");
    term.wait_prompt("in the room");
    term.enter("/msg dave x");
    let screen =
        term.wait_row("[System] Room: nobody called dave is in the room; /who lists who is.");
    assert!(
        screen.rows_starting("[me] (to dave)").is_empty(),
        "{}",
        screen.dump()
    );
    term.enter("/msg host only you");
    host.expect_exact("[me] (to you) only you");
    let screen = term.wait_row("[me] (to host) only you");
    assert!(
        screen.rows_starting("[me] (to dave)").is_empty(),
        "{}",
        screen.dump()
    );
}

#[test]
fn a_room_host_leaving_is_told_it_closes_the_room_and_cuts_its_files() {
    use chat::wire::message::Message;
    let dir = TestDir::new("tty_room_leave");
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
        "--room",
    ];
    let term = Term::start_encrypted("room_leave", dir.path(), true, &args);
    let port = term.listening_port();
    let mut dave = common::Chat::connect_encrypted(
        "dave",
        &dir.subdir("dave"),
        "127.0.0.1",
        port,
        &["--name", "dave"],
    );
    dave.expect_prefix("[System] You are in me's room");
    // bob's file comes to everyone, and stops after its first chunk.
    let mut bob = common::room_member::Member::join(port, "bob");
    bob.send(&Message::Offer {
        id: 1,
        size: 10_000_000,
        name: "big-bob.bin",
    })
    .unwrap();
    assert_eq!(bob.answer_to(1), Some(0));
    bob.send(&Message::Chunk {
        id: 1,
        data: &[7; 65_536],
    })
    .unwrap();
    dave.expect_exact("[System] Incoming file big-bob.bin (9.5 MiB) from bob...");
    term.wait_prompt("big-bob.bin arriving");
    term.enter("/quit");
    let warning = "[System] Leaving now stops big-bob.bin at 0%, and closes the room for its 2 \
                   members, cutting the 1 file going through it: /quit again to leave.";
    // (Wider than the terminal: it takes two rows, wherever they break.)
    let bare = |text: &str| text.split_whitespace().collect::<String>();
    term.wait(&format!("the warning {warning:?}"), |screen| {
        let at = screen
            .rows
            .iter()
            .position(|r| r.starts_with("[System] Leaving now"));
        at.is_some_and(|at| {
            bare(
                &screen.rows[at..]
                    .iter()
                    .take(2)
                    .cloned()
                    .collect::<String>(),
            ) == bare(warning)
        })
    });
    term.enter("/quit");
    dave.expect_exact("[System] The room is closed: its host left.");
    assert_eq!(dave.wait_exit(), 0, "{}", dave.report());
    bob.close();
}

// Progress at a terminal: one live line per transfer, above the prompt and under the
// conversation, updated in place and replaced by the transfer's final line.

/// A TCP link between the chat at the terminal and its peer that passes bytes each way
/// at `rate` bytes a second, as a slow network would: a transfer then takes seconds
/// however fast the machine. It ends by itself once both sides have closed.
struct SlowLink {
    port: u16,
    /// Whether the link holds what it gets instead of passing it on, as a network
    /// that stopped does; and the way to wake it when that changes.
    held: Arc<(Mutex<bool>, Condvar)>,
}

impl SlowLink {
    fn start(target: u16, rate: u64) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new((Mutex::new(false), Condvar::new()));
        let (held_out, held_back) = (held.clone(), held.clone());
        thread::spawn(move || {
            let near = common::accept_within_timeout(&listener);
            let far = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let (from_far, to_near) = (far.try_clone().unwrap(), near.try_clone().unwrap());
            let back = thread::spawn(move || pass_at(from_far, to_near, rate, &held_back));
            pass_at(near, far, rate, &held_out);
            let _ = back.join();
        });
        SlowLink { port, held }
    }

    /// Stops passing bytes on, each way, until [`SlowLink::go_on`].
    fn hold(&self) {
        *self.held.0.lock().unwrap() = true;
    }

    fn go_on(&self) {
        *self.held.0.lock().unwrap() = false;
        self.held.1.notify_all();
    }
}

/// Copies `from` to `to` at `rate` bytes a second until either ends, then tells `to`
/// that nothing more comes. While `held` says so, what was read waits.
fn pass_at(mut from: TcpStream, mut to: TcpStream, rate: u64, held: &(Mutex<bool>, Condvar)) {
    let mut started = Instant::now();
    let mut passed = 0u64;
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut holding = held.0.lock().unwrap();
        if *holding {
            while *holding {
                holding = held.1.wait(holding).unwrap();
            }
            // The pace starts again from here.
            (started, passed) = (Instant::now(), 0);
        }
        drop(holding);
        // Pacing, as a link of this speed does; nothing waits for an event here.
        let due = Duration::from_secs_f64((passed + n as u64) as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            thread::sleep(wait);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        passed += n as u64;
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// What a test of live lines checks in every look at the terminal, and what it saw.
struct LiveWatch<'a> {
    /// The files being sent or received.
    names: &'a [&'a str],
    /// Each different progress line seen for each file.
    seen: Vec<std::collections::BTreeSet<String>>,
    /// Lines of the conversation seen so far: they must stay, once each.
    kept: Vec<String>,
}

impl<'a> LiveWatch<'a> {
    fn new(names: &'a [&'a str]) -> Self {
        LiveWatch {
            names,
            seen: vec![Default::default(); names.len()],
            kept: Vec::new(),
        }
    }

    /// The rows showing the progress of `name`: live lines, or the `[System]` lines an
    /// older chat printed for it each second.
    fn progress_rows<'s>(screen: &'s Screen, name: &str) -> Vec<(usize, &'s str)> {
        let starts = [
            format!("Sending {name} "),
            format!("Receiving {name} "),
            format!("[System] Sending {name}: "),
            format!("[System] Receiving {name}: "),
        ];
        screen
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| starts.iter().any(|s| r.starts_with(s.as_str())))
            .map(|(i, r)| (i, r.as_str()))
            .collect()
    }

    /// Fails the test, showing the terminal, unless each file has one progress row at
    /// most, every progress row is below every line of the conversation, and every
    /// line of the conversation seen before is still there, once.
    fn check(&mut self, screen: &Screen) {
        let fail = |why: String| panic!("{why}; the terminal shows:\n{}", screen.dump());
        let mut live = Vec::new();
        for (at, name) in self.names.iter().enumerate() {
            let rows = Self::progress_rows(screen, name);
            if rows.len() > 1 {
                fail(format!("{} progress lines for {name}", rows.len()));
            }
            for (index, row) in rows {
                self.seen[at].insert(row.to_string());
                live.push(index);
            }
        }
        let last_line = screen.rows.iter().rposition(|r| r.starts_with('['));
        if let (Some(first_live), Some(last_line)) = (live.iter().min(), last_line)
            && *first_live < last_line
        {
            fail("a progress line above a line of the conversation".into());
        }
        for line in &self.kept {
            if screen.count_rows(line) != 1 {
                fail(format!("the line {line:?} is not there once"));
            }
        }
    }

    /// Polls the terminal, checking each look, until `done` holds.
    fn until(&mut self, term: &Term, what: &str, done: impl Fn(&Screen) -> bool) -> Screen {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = term.screen();
            self.check(&screen);
            if done(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; the terminal shows:\n{}",
                    screen.dump()
                );
            }
            thread::sleep(POLL);
        }
    }
}

/// The files of the live-lines test: sent, received, and their size.
const LIVE_OUT: [&str; 3] = ["one.bin", "two.bin", "three.bin"];
const LIVE_IN: [&str; 2] = ["four.bin", "five.bin"];
const LIVE_SIZE: usize = 8 * BLOCK;
/// The speed of the link in the live-lines test, each way: 24 MiB out and 16 MiB in
/// take seconds.
const LIVE_RATE: u64 = 6_000_000;

#[test]
fn each_transfer_keeps_one_live_line_above_the_prompt_until_its_final_line() {
    let dir = TestDir::new("tty_live_lines");
    let peer_dir = dir.subdir("peer");
    for (seed, name) in LIVE_OUT.iter().enumerate() {
        fs::write(dir.join(name), pseudo_random_bytes(LIVE_SIZE, seed as u64)).unwrap();
    }
    for (seed, name) in LIVE_IN.iter().enumerate() {
        let data = pseudo_random_bytes(LIVE_SIZE, 10 + seed as u64);
        fs::write(peer_dir.join(name), data).unwrap();
    }
    let (mut peer, port) = common::Chat::listen_encrypted("peer", &peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::start_encrypted("live_lines", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();

    let names: Vec<&str> = LIVE_OUT.iter().chain(&LIVE_IN).copied().collect();
    let mut watch = LiveWatch::new(&names);
    term.enter("/send one.bin two.bin three.bin");
    peer.send_line("/send four.bin five.bin");
    watch.until(&term, "a live line for each of the five files", |s| {
        names
            .iter()
            .all(|name| !LiveWatch::progress_rows(s, name).is_empty())
    });

    // Lines of the conversation arrive meanwhile, and the terminal is resized.
    let said = [
        "[daksh] during one",
        "[daksh] during two",
        "[daksh] during three",
    ];
    peer.send_line("during one");
    watch.until(&term, "the first line", |s| s.has_row(said[0]));
    watch.kept.push(said[0].into());
    term.checked(&["resize-window", "-x", "80"]);
    term.wait_columns(80);
    peer.send_line("during two");
    watch.until(&term, "the second line", |s| s.has_row(said[1]));
    watch.kept.push(said[1].into());
    term.checked(&["resize-window", "-x", "120"]);
    term.wait_columns(120);
    peer.send_line("during three");
    watch.until(&term, "the third line", |s| s.has_row(said[2]));
    watch.kept.push(said[2].into());

    let size = LIVE_SIZE;
    let finals: Vec<String> = LIVE_OUT
        .iter()
        .map(|name| format!("[System] Sent file {name} ({}, ", common::size(size)))
        .chain(
            LIVE_IN
                .iter()
                .map(|name| format!("[System] File saved to received_files/{name} (")),
        )
        .collect();
    let screen = watch.until(&term, "the final line of each file", |s| {
        finals.iter().all(|f| s.row_starting(f).is_some()) && s.last_row() == ">"
    });
    for (name, last) in names.iter().zip(&finals) {
        assert!(
            LiveWatch::progress_rows(&screen, name).is_empty(),
            "the live line of {name} stayed:\n{}",
            screen.dump()
        );
        assert_eq!(
            screen.rows_starting(last).len(),
            1,
            "not one final line for {name}:\n{}",
            screen.dump()
        );
    }
    let order: Vec<usize> = said.iter().filter_map(|l| screen.row_index(l)).collect();
    assert!(
        order.len() == 3 && order.is_sorted(),
        "the lines of the conversation are out of order:\n{}",
        screen.dump()
    );
    // Updated in place: each file's line was seen saying different things.
    for (name, seen) in names.iter().zip(&watch.seen) {
        assert!(
            seen.len() >= 2,
            "{name}'s live line never changed: {seen:?}"
        );
    }
    for name in LIVE_OUT {
        let got = fs::read(peer_dir.join("received_files").join(name)).unwrap();
        assert!(got == fs::read(dir.join(name)).unwrap(), "{name} differs");
    }
    for name in LIVE_IN {
        let got = fs::read(dir.join("received_files").join(name)).unwrap();
        assert!(
            got == fs::read(peer_dir.join(name)).unwrap(),
            "{name} differs"
        );
    }
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
    assert_left_cleanly(&term, TIMEOUT, said[2]);
}

// Leaving with something at stake: the first Ctrl-C, Ctrl-D or /quit says what would be
// lost, the next one leaves.

/// The arguments of an encrypted `chat listen` on a free loopback port.
const LISTEN_ENCRYPTED: [&str; 7] = [
    "listen",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--name",
    NAME,
];

#[test]
fn ctrl_c_with_an_offer_waiting_says_it_would_be_lost_and_a_second_one_leaves() {
    let dir = TestDir::new("tty_ctrl_c_offer");
    let peer_dir = dir.subdir("peer");
    // Sparse: 101 MiB of zeros take no disk space to make.
    let big = fs::File::create(peer_dir.join("big.bin")).unwrap();
    big.set_len(101 << 20).unwrap();
    let term = Term::start_encrypted("ctrl_c_offer", dir.path(), true, &LISTEN_ENCRYPTED);
    let port = term.listening_port();
    let mut peer =
        common::Chat::connect_encrypted("peer", &peer_dir, "127.0.0.1", port, &["--name", "daksh"]);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    peer.send_line("/send big.bin");
    term.wait_row("[System] daksh offers big.bin (101.0 MiB): /accept 1 or /decline 1");
    term.wait_prompt("the offer");

    let warning =
        "[System] Leaving now declines 1 offer waiting for your answer: Ctrl-C again to leave.";
    term.press("C-c");
    term.wait("the warning above the prompt", |s| {
        s.has_row(warning) && s.last_row() == ">"
    });
    // Anything done in between calls for a new warning.
    term.enter("still here");
    peer.expect_exact(&own("still here"));
    term.press("C-c");
    term.wait("the warning again", |s| {
        s.count_rows(warning) == 2 && s.last_row() == ">"
    });
    term.press("C-c");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
    assert_left_cleanly(&term, TIMEOUT, &own("still here"));
}

/// A file resumed from a part the receiver kept is timed by what moved
/// now, and both sides say how much was there from before, which is not
/// in the rate.
#[test]
fn a_resumed_file_says_how_much_was_there_already_on_both_sides() {
    let dir = TestDir::new("tty_resumed_rate");
    let size = 4 * BLOCK;
    let data = common::pseudo_random_bytes(size, 9);
    fs::write(dir.subdir("sender").join("big.bin"), &data).unwrap();
    // What a cut first try from the sender kept: its first 3 MiB, with
    // the note beside it. (The sender's identity, made here first, is
    // whose it is.)
    let sender = chat::identity::Me::load(&common::home_of(&dir.join("sender")))
        .unwrap()
        .identity
        .public();
    let kept = dir.subdir("receiver/received_files/.chat-partial");
    let key = common::kept_file_key("big.bin", size as u64, &sender);
    fs::write(kept.join(format!("{key}.part")), &data[..3 * BLOCK]).unwrap();
    fs::write(
        kept.join(format!("{key}.info")),
        format!("file\t{size}\t{}\tbig.bin\n", sender.to_hex()),
    )
    .unwrap();
    let listen = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        "rx",
    ];
    let receiver = Term::start_encrypted("resumed_rx", &dir.join("receiver"), true, &listen);
    let port = receiver.listening_port().to_string();
    let connect = ["connect", "127.0.0.1", &port, "--name", NAME];
    let sender = Term::start_encrypted("resumed_tx", &dir.join("sender"), true, &connect);
    sender.wait_connected();
    sender.enter("/send big.bin");
    let saved = "[System] File saved to received_files/big.bin (3.0 MiB of it kept from before; \
                 1.0 MiB moved in ";
    receiver.wait(&format!("a row starting with {saved:?}"), |s| {
        s.row_starting(saved).is_some()
    });
    let sent = "[System] Sent file big.bin (4.0 MiB, 3.0 MiB of it there already; 1.0 MiB moved \
                in ";
    sender.wait(&format!("a row starting with {sent:?}"), |s| {
        s.row_starting(sent).is_some()
    });
    assert_eq!(
        fs::read(dir.join("receiver/received_files/big.bin")).unwrap(),
        data
    );
    sender.press("C-d");
    let code = sender.wait_exit_code(TIMEOUT);
    assert_eq!(code, 0, "unexpected exit code:\n{}", sender.screen().dump());
}

#[test]
fn ctrl_d_and_quit_with_a_file_arriving_say_what_would_be_lost_first() {
    let dir = TestDir::new("tty_quit_arriving");
    let (term, mut peer) = listening_chat("quit_arriving", &dir, true);
    let size = 10 * BLOCK;
    peer.send(format!("/file big.bin {size}\n").as_bytes());
    peer.send(&vec![b'x'; 4 * BLOCK]);
    term.wait_row(&format!(
        "[System] Incoming file big.bin ({})...",
        common::size(size)
    ));
    // Asks until the chat has read all that was sent.
    let arrived = "[System] #1 Receiving big.bin: 4.0 MiB / 10.0 MiB (40%)";
    for asked in 1.. {
        term.enter("/status");
        let screen = term.wait("the status", |s| {
            s.rows_starting("[System] #1 Receiving big.bin: ").len() == asked
        });
        if screen.row_starting(arrived).is_some() {
            break;
        }
        assert!(asked < 100, "the file never got to 40%:\n{}", screen.dump());
    }

    term.press("C-d");
    let warning =
        |again: &str| format!("[System] Leaving now stops big.bin at 40%: {again} again to leave.");
    term.wait("the warning for Ctrl-D", |s| {
        s.has_row(&warning("Ctrl-D")) && s.last_row() == ">"
    });
    // Anything done in between calls for a new warning.
    term.enter("hold on");
    term.expect_sent(&mut peer, &own("hold on"));
    term.enter("/quit");
    term.wait("the warning for /quit", |s| {
        s.has_row(&warning("/quit")) && s.last_row() == ">"
    });
    // Asked again, any way, the chat leaves; nothing else was sent.
    term.press("C-d");
    term.expect_sent(&mut peer, &own("has left the chat."));
    drop(peer);
    let screen = term.screen();
    assert_eq!(
        term.wait_exit_code(TIMEOUT),
        0,
        "unexpected exit code:\n{}",
        screen.dump()
    );
    assert!(
        !dir.join("received_files/big.bin").exists(),
        "a cut file was saved"
    );
}

// A paste of several lines: one message, never a command.

#[test]
fn a_pasted_block_is_one_message_and_no_command_in_it_runs() {
    let dir = TestDir::new("tty_paste_block");
    fs::write(dir.join("secret.txt"), b"not for the peer").unwrap();
    let term = Term::start_encrypted("paste_block", dir.path(), true, &LISTEN_ENCRYPTED);
    let port = term.listening_port();
    let mut peer = common::Chat::connect_encrypted(
        "peer",
        &dir.subdir("peer"),
        "127.0.0.1",
        port,
        &["--name", "daksh"],
    );
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();

    term.checked(&[
        "set-buffer",
        "\nfirst line\n/quit\n/send secret.txt\n    indented\n\n",
    ]);
    term.checked(&["paste-buffer", "-p", "-d"]);
    term.press("Enter");
    // One message: its lines under the one name, as the peer shows them.
    peer.next_line_is(&own("first line"));
    peer.next_line_is("     /quit");
    peer.next_line_is("     /send secret.txt");
    peer.next_line_is("         indented");
    // The terminal shows it the same way, under the time.
    let echo = term.wait("the echo of the block", |s| {
        s.last_row() == ">" && s.has_row(&own("first line"))
    });
    let start = echo.row_index(&own("first line")).unwrap();
    let pad = " ".repeat("HH:MM [me] ".len());
    assert_eq!(
        echo.rows[start..],
        [
            own("first line"),
            format!("{pad}/quit"),
            format!("{pad}/send secret.txt"),
            format!("{pad}    indented"),
            ">".to_string()
        ],
        "{}",
        echo.dump()
    );
    // Nothing in it ran: the chat is still here, and sent nothing else.
    term.enter("after the paste");
    peer.next_line_is(&own("after the paste"));
    assert!(!dir.join("peer/received_files").exists());
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
}

#[test]
fn a_pasted_block_goes_line_by_line_on_the_plain_wire_and_no_command_in_it_runs() {
    let dir = TestDir::new("tty_paste_plain");
    let (term, mut peer) = listening_chat("paste_plain", &dir, true);
    term.checked(&["set-buffer", "one\n/quit\n/file x.bin 3\n\n//two\n"]);
    term.checked(&["paste-buffer", "-p", "-d"]);
    term.press("Enter");
    // Each line behind the name, as the original wire has it: none reads as a header.
    for line in ["one", "/quit", "/file x.bin 3", "//two"] {
        term.expect_sent(&mut peer, &own(line));
    }
    term.enter("after the paste");
    term.expect_sent(&mut peer, &own("after the paste"));
    term.wait("the echoes", |s| {
        s.has_row(&own("after the paste")) && s.last_row() == ">"
    });
    let screen = term.screen();
    let start = screen.row_index(&own("one")).unwrap();
    assert_eq!(
        screen.rows[start..],
        [
            own("one"),
            own("/quit"),
            own("/file x.bin 3"),
            own("//two"),
            own("after the paste"),
            ">".to_string()
        ],
        "{}",
        screen.dump()
    );
}

#[test]
fn a_hostile_text_of_several_lines_shows_each_indented_under_its_one_name() {
    use chat::wire::message::Message;
    let dir = TestDir::new("tty_hostile_text");
    let term = Term::start_encrypted("hostile_text", dir.path(), true, &LISTEN_ENCRYPTED);
    let mut peer = common::hostile::HostilePeer::connect(term.listening_port());
    peer.send(&[
        Message::Hello { name: "mallory" },
        Message::Text(
            "fine\n[System] File saved to received_files/evil\n12:00 [daksh] forged\r\x1b[2Kgone\n",
        ),
        Message::Text("[me] \u{2028}next"),
    ]);
    let screen = term.wait("the text", |s| s.has_row("[mallory] [me] \\u{2028}next"));
    let start = screen
        .row_index("[mallory] fine")
        .unwrap_or_else(|| panic!("{}", screen.dump()));
    let pad = " ".repeat("HH:MM [mallory] ".len());
    assert_eq!(
        screen.rows[start..start + 5],
        [
            "[mallory] fine".to_string(),
            format!("{pad}[System] File saved to received_files/evil"),
            format!("{pad}12:00 [daksh] forged\\x0d\\x1b[2Kgone"),
            String::new(),
            "[mallory] [me] \\u{2028}next".to_string(),
        ],
        "{}",
        screen.dump()
    );
}

#[test]
fn peer_text_wider_than_the_terminal_wraps_with_no_row_at_the_left_edge() {
    use chat::wire::message::Message;
    let dir = TestDir::new("tty_wrap_forgery");
    let term = Term::start_encrypted("wrap_forgery", dir.path(), true, &LISTEN_ENCRYPTED);
    let port = term.listening_port();
    term.checked(&["resize-window", "-x", "80"]);
    term.wait_columns(80);
    let mut peer = common::hostile::HostilePeer::connect(port);
    // Each lands its forged line at the left edge when the terminal wraps it at 80
    // columns, after `HH:MM [mallory] `: spaces, a line of a longer text, wide
    // characters.
    let spaced = format!(
        "ok{}13:25 [System] Encrypted and verified with the code.",
        " ".repeat(62)
    );
    let continued = format!("first\n{}13:26 [System] forged below", "-".repeat(80 - 16));
    let wide = format!("{}13:27 [System] forged wide", "界".repeat(32));
    peer.send(&[
        Message::Hello { name: "mallory" },
        Message::Text(&spaced),
        Message::Text(&continued),
        Message::Text(&wide),
        Message::Text("last"),
    ]);
    let screen = term.wait("the texts", |s| s.has_row("[mallory] last"));
    for forged in ["13:25 [System]", "13:26 [System]", "13:27 [System]"] {
        let row = screen
            .stamped
            .iter()
            .find(|row| row.contains(forged))
            .unwrap_or_else(|| panic!("no {forged:?}:\n{}", screen.dump()));
        assert!(
            row.starts_with("    "),
            "{forged:?} starts a row of its own:\n{}",
            screen.dump()
        );
        assert!(row.chars().count() < 80, "{row:?}");
    }
    assert!(
        !screen.stamped.iter().any(|row| row.starts_with("13:2")),
        "{}",
        screen.dump()
    );
}

#[test]
fn a_block_pasted_by_a_plain_rooms_host_reaches_its_members_as_lines_of_the_host() {
    let dir = TestDir::new("tty_room_paste");
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
        "--room",
    ];
    let term = Term::start("room_paste", dir.path(), true, &args);
    let port = term
        .wait("the room's line", |s| {
            s.row_starting("[System] Listening on 127.0.0.1:").is_some()
        })
        .row_starting("[System] Listening on 127.0.0.1:")
        .and_then(|r| r.split(':').nth(1)?.split(' ').next()?.parse::<u16>().ok())
        .unwrap();
    let mut member = Peer::connect(port);
    member.expect_line("[System] You are in me's room as guest1, alone with the host.");
    term.wait_prompt("the member");
    term.checked(&["set-buffer", "hello\n[System] You are out\n/file x.bin 3\n"]);
    term.checked(&["paste-buffer", "-p", "-d"]);
    term.press("Enter");
    for line in ["hello", "[System] You are out", "/file x.bin 3"] {
        term.expect_sent(&mut member, &own(line));
    }
}

#[test]
fn tab_lists_the_candidates_above_a_live_line_not_under_the_input() {
    let dir = TestDir::new("tty_tab_live");
    for name in ["f1.txt", "f2.txt"] {
        fs::write(dir.join(name), b"x").unwrap();
    }
    let (term, mut peer) = listening_chat("tab_live", &dir, true);
    let size = 10 * BLOCK;
    peer.send(format!("/file big.bin {size}\n").as_bytes());
    // A slow peer: a little at a time until the live line shows.
    let live = |s: &Screen| s.row_starting("Receiving big.bin [").is_some();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while !live(&term.screen()) {
        assert!(sent < size, "no live line:\n{}", term.screen().dump());
        peer.send(&chunk);
        sent += chunk.len();
        thread::sleep(Duration::from_millis(50));
    }
    term.type_text("/send f");
    term.press("Tab");
    term.press("Tab");
    let screen = term.wait("the list above the live line", |s| {
        s.has_row("[System] f1.txt  f2.txt") && s.last_row() == "> /send f"
    });
    let list = screen.row_index("[System] f1.txt  f2.txt").unwrap();
    let progress = screen
        .rows
        .iter()
        .position(|r| r.starts_with("Receiving big.bin ["))
        .unwrap();
    assert_eq!(
        screen.rows[list + 1..],
        [screen.rows[progress].clone(), "> /send f".to_string()],
        "{}",
        screen.dump()
    );
    // The rest of the file: the live line gives way to the final line, and the list
    // stays.
    peer.send(&vec![b'x'; size - sent]);
    let saved = "[System] File saved to received_files/big.bin (";
    let screen = term.wait("the file saved", |s| s.row_starting(saved).is_some());
    assert!(
        screen.has_row("[System] f1.txt  f2.txt")
            && LiveWatch::progress_rows(&screen, "big.bin").is_empty(),
        "{}",
        screen.dump()
    );
    term.press("C-u");
    term.enter("/quit");
    term.expect_sent(&mut peer, &own("has left the chat."));
}

#[test]
fn a_room_host_leaves_at_once_and_what_is_typed_after_reaches_the_shell() {
    let dir = TestDir::new("tty_room_quit");
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        NAME,
        "--room",
    ];
    let term = Term::launch("room_quit", dir.path(), true, SHELL_AFTER, &args);
    let port = term.listening_port();
    let mut member = common::Chat::connect_encrypted(
        "daksh",
        &dir.subdir("daksh"),
        "127.0.0.1",
        port,
        &["--name", "daksh"],
    );
    member.expect_prefix("[System] You are in me's room");
    term.wait_prompt("daksh joined");
    term.enter("/quit");
    term.wait_row("[System] Exiting.");
    // The chat said it is done: what is typed now is for the shell.
    term.enter("echo TYPED-$((6*7))");
    assert_eq!(term.wait_exit_code(TIMEOUT), 0, "{}", term.screen().dump());
    term.wait_row("TYPED-42");
    member.expect_exact("[System] The room is closed: its host left.");
}

/// Leaving while a file goes keeps the prompt: what is typed meanwhile is
/// not sent and says so, and Ctrl-C then leaves at once, cleanly: the file
/// is cancelled, the peer told and given the goodbye, and both end well.
#[test]
fn leaving_with_an_offer_unanswered_says_it_waits_for_the_answer_and_ctrl_c_leaves() {
    let dir = TestDir::new("tty_leave_unanswered");
    fs::write(dir.join("big.bin"), pseudo_random_bytes(2 * BLOCK, 5)).unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted(
        "peer",
        &dir.subdir("peer"),
        &["--name", "daksh", "--ask-above", "1M"],
    );
    let port = port.to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", NAME];
    let term = Term::start_encrypted("leave_unanswered", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send big.bin");
    peer.expect_prefix(&format!("[System] {NAME} offers big.bin (2.0 MiB)"));
    term.wait_line(
        "[System] Waiting for the peer's answer to big.bin (2.0 MiB): it may be asking its user, \
         or checking a copy it has.",
    );
    term.enter("/quit");
    term.wait_line(
        "[System] Leaving once the files being sent are through; the peer has not answered \
         the offer of big.bin yet, and is waited for up to 30 s (Ctrl-C leaves at once).",
    );
    term.wait_prompt("the leaving line");
    let asked = Instant::now();
    term.press("C-c");
    assert_eq!(term.wait_exit_code(TIMEOUT), 0, "{}", term.screen().dump());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
}

/// A chat at a terminal, connected over a slow link to a peer listening in
/// `peer_dir`, sending it big.bin, and asked to leave once it is through:
/// the terminal, the peer, and the link.
fn leaving_while_sending(
    label: &str,
    dir: &TestDir,
    peer_dir: &std::path::Path,
) -> (Term, common::Chat, SlowLink) {
    fs::write(dir.join("big.bin"), pseudo_random_bytes(LIVE_SIZE, 3)).unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted("peer", peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE / 4);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::launch(label, dir.path(), true, SHELL_AFTER, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send big.bin");
    term.wait("the file on its way", |s| {
        !LiveWatch::progress_rows(s, "big.bin").is_empty()
    });
    term.enter("/quit");
    term.wait_row(
        "[System] Leaving once the files being sent are through (Ctrl-C leaves at once).",
    );
    (term, peer, link)
}

#[test]
fn ctrl_c_while_leaving_stops_the_files_and_says_goodbye() {
    let dir = TestDir::new("tty_leave_at_once");
    let peer_dir = dir.subdir("peer");
    let (term, mut peer, _link) = leaving_while_sending("leave_at_once", &dir, &peer_dir);
    term.enter("one more thing");
    term.wait_row("[System] Leaving: nothing typed now is sent (Ctrl-C leaves at once).");
    // The prompt is still there, and the live line above it.
    let screen = term.wait_prompt("the note");
    assert_eq!(
        LiveWatch::progress_rows(&screen, "big.bin").len(),
        1,
        "{}",
        screen.dump()
    );
    term.press("C-c");
    term.wait_row(
        "[System] Stopped sending big.bin: the peer keeps what arrived, so sending it again \
         resumes.",
    );
    assert_eq!(term.wait_exit_code(TIMEOUT), 0, "{}", term.screen().dump());
    let screen = term.screen();
    assert!(
        LiveWatch::progress_rows(&screen, "big.bin").is_empty()
            && !screen.rows.iter().any(|r| r.contains("one more thing")),
        "{}",
        screen.dump()
    );
    // Cut, not cancelled: the peer keeps what arrived, to resume from.
    peer.expect_line("the cut file kept", |l| {
        l.starts_with("[System] Transfer of big.bin incomplete: received ")
            && l.ends_with("; what arrived is kept, so sending it again resumes.")
    });
    peer.expect_exact(&own("has left the chat."));
    peer.expect_exact("[System] Peer disconnected.");
    assert_eq!(peer.wait_exit(), 1, "{}", peer.report());
    let kept = fs::read_dir(peer_dir.join("received_files/.chat-partial"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
        .map(|e| e.metadata().unwrap().len())
        .sum::<u64>();
    assert!(kept > 0, "nothing kept: {}", peer.report());
    assert!(
        !peer
            .stdout_lines()
            .iter()
            .any(|l| l.contains("one more thing")),
        "{}",
        peer.report()
    );
}

// Live lines under pressure: narrow terminals, and a transfer that stops moving.

/// Checks that a progress row is made of whole parts (`Sending NAME [bar] SIZES (N%),
/// RATE, TIME left`, any of the bar, sizes, rate and time left left out, the name maybe
/// shortened): nothing cut inside a figure.
fn assert_whole_parts(row: &str, screen: &Screen) {
    let fail = |why: &str| panic!("{why} in {row:?}; the terminal shows:\n{}", screen.dump());
    let rest = row
        .strip_prefix("Sending ")
        .or_else(|| row.strip_prefix("Receiving "))
        .unwrap_or_else(|| fail("no verb"));
    let mut words = rest.split(' ').peekable();
    words.next().unwrap_or_else(|| fail("no name"));
    let is_size = |number: &str, unit: &str| {
        number.parse::<f64>().is_ok() && ["B", "KiB", "MiB", "GiB"].contains(&unit)
    };
    if words.peek().is_some_and(|w| w.starts_with('[')) {
        while !words
            .next()
            .unwrap_or_else(|| fail("an open bar"))
            .ends_with(']')
        {}
    }
    if words.peek().is_some_and(|w| !w.starts_with('(')) {
        let size: Vec<&str> = words.by_ref().take(5).collect();
        if size.len() != 5
            || !is_size(size[0], size[1])
            || size[2] != "/"
            || !is_size(size[3], size[4])
        {
            fail("cut sizes");
        }
    }
    let percent = words.next().unwrap_or_else(|| fail("no percentage"));
    let percent = percent.trim_end_matches(',');
    if !(percent.starts_with('(') && percent.ends_with("%)")) {
        fail("a cut percentage");
    }
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    for part in rest.split(", ").filter(|p| !p.is_empty()) {
        let fields: Vec<&str> = part.trim_start_matches(", ").split(' ').collect();
        let whole = match fields.as_slice() {
            [time, "left"] => time.ends_with('s'),
            ["stalled", time] => time.ends_with('s'),
            [number, rate] => rate
                .strip_suffix("/s")
                .is_some_and(|unit| is_size(number, unit)),
            _ => false,
        };
        if !whole {
            fail(&format!("the cut part {part:?}"));
        }
    }
}

#[test]
fn live_lines_at_narrow_widths_leave_out_whole_parts_and_cut_none() {
    let dir = TestDir::new("tty_narrow_live");
    let peer_dir = dir.subdir("peer");
    fs::write(
        dir.join("big-bob.bin"),
        pseudo_random_bytes(3 * LIVE_SIZE, 4),
    )
    .unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted("peer", &peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE / 4);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::start_encrypted("narrow_live", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send big-bob.bin");
    for columns in [60u16, 50, 40, 30] {
        term.checked(&["resize-window", "-x", &columns.to_string()]);
        term.wait_columns(columns);
        // Until the next update, the terminal shows the line drawn for the old width,
        // which it re-wrapped; the one drawn at the new width is right above the
        // prompt, in one row.
        let screen = term.wait(&format!("a live line drawn for {columns} columns"), |s| {
            let rows = LiveWatch::progress_rows(s, "big-bob.bin");
            rows.len() == 1
                && rows[0].0 + 2 == s.rows.len()
                && s.last_row() == ">"
                && rows[0].1.chars().count() < usize::from(columns)
        });
        let rows = LiveWatch::progress_rows(&screen, "big-bob.bin");
        assert_whole_parts(rows[0].1, &screen);
    }
    term.checked(&["resize-window", "-x", "120"]);
    term.wait_columns(120);
    term.press("C-d");
    term.wait_row(
        "[System] Leaving once the files being sent are through (Ctrl-C leaves at once).",
    );
    term.press("C-c");
    term.wait_row(
        "[System] Stopped sending big-bob.bin: the peer keeps what arrived, so sending it again \
         resumes.",
    );
    peer.expect_exact(&own("has left the chat."));
    // (Cut short: what did not arrive whole makes the exit code 1.)
    assert_eq!(peer.wait_exit(), 1, "{}", peer.report());
}

#[test]
fn ctrl_c_while_leaving_does_not_wait_out_a_peer_that_stopped_reading() {
    let dir = TestDir::new("tty_leave_not_reading");
    let peer_dir = dir.subdir("peer");
    let (term, peer, link) = leaving_while_sending("leave_not_reading", &dir, &peer_dir);
    // The peer takes nothing more (its machine froze, its network went).
    link.hold();
    let asked = Instant::now();
    term.press("C-c");
    term.wait_row(
        "[System] Connection lost: the peer stopped reading: less than 16.0 KiB went out in 2 s",
    );
    assert_eq!(term.wait_exit_code(TIMEOUT), 1, "{}", term.screen().dump());
    // Not the whole stall window (30 s).
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
    link.go_on();
    drop(peer);
}

#[test]
fn a_transfer_that_stops_moving_says_it_stalled_and_recovers_when_it_moves() {
    let dir = TestDir::new("tty_stalled");
    let peer_dir = dir.subdir("peer");
    fs::write(dir.join("big.bin"), pseudo_random_bytes(6 * LIVE_SIZE, 6)).unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted("peer", &peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::start_encrypted("stalled", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send big.bin");
    term.wait("a rate on the live line", |s| {
        LiveWatch::progress_rows(s, "big.bin")
            .iter()
            .any(|(_, row)| row.contains("/s, "))
    });
    link.hold();
    let stalled = term.wait("the live line to say it stalled", |s| {
        LiveWatch::progress_rows(s, "big.bin")
            .iter()
            .any(|(_, row)| row.contains("), stalled "))
    });
    let rows = LiveWatch::progress_rows(&stalled, "big.bin");
    assert_eq!(rows.len(), 1, "{}", stalled.dump());
    assert!(
        !rows[0].1.contains("/s"),
        "a rate beside the stall: {}",
        stalled.dump()
    );
    link.go_on();
    term.wait("the live line to move again", |s| {
        LiveWatch::progress_rows(s, "big.bin")
            .iter()
            .any(|(_, row)| row.contains("/s") && !row.contains("stalled"))
    });
    term.wait("the file to be sent", |s| {
        s.row_starting("[System] Sent file big.bin (").is_some()
    });
    term.press("C-d");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 0, "{}", peer.report());
}

/// Runs the chat as a shell with job control runs a command: in a process group of
/// its own, so that Ctrl-Z stops it; stopped, the shell says so and goes on with it at
/// once (`fg`, which prints the command), as a user typing `fg` would.
const JOB_CONTROL: &str = r#"set -m; "$@"; code=$?
while [ $code -eq 148 ]; do echo "[1]+  Stopped"; fg; code=$?; done
echo EXIT=$code; read x; echo GOT=$x"#;

#[test]
fn after_ctrl_z_and_fg_the_live_line_is_drawn_again_above_the_input_and_none_stays_behind() {
    let dir = TestDir::new("tty_suspend");
    let peer_dir = dir.subdir("peer");
    fs::write(dir.join("big.bin"), pseudo_random_bytes(3 * LIVE_SIZE, 8)).unwrap();
    let (mut peer, port) = common::Chat::listen_encrypted("peer", &peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE / 4);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::launch("suspend", dir.path(), true, JOB_CONTROL, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send big.bin");
    term.wait("the live line", |s| {
        !LiveWatch::progress_rows(s, "big.bin").is_empty() && s.last_row() == ">"
    });
    term.press("C-z");
    // The shell's lines, then the live line again above the input, once.
    let screen = term.wait("one live line, above the input again", |s| {
        let rows = LiveWatch::progress_rows(s, "big.bin");
        let fg = s.row_index("\"${@}\"");
        rows.len() == 1 && fg.is_some_and(|fg| rows[0].0 > fg) && s.last_row() == ">"
    });
    // Where the live line and the input were, the shell's lines; nothing left behind.
    // (The line with the safety code, wrapped, ends with its advice.)
    let stopped = screen.row_index("[1]+  Stopped");
    let after_code = |row: &str| {
        row.starts_with("[System] Encrypted.") || row.trim_start() == "remembers this peer)"
    };
    assert!(
        stopped.is_some_and(|at| after_code(&screen.rows[at - 1])),
        "{}",
        screen.dump()
    );
    term.press("C-d");
    term.wait_row(
        "[System] Leaving once the files being sent are through (Ctrl-C leaves at once).",
    );
    term.press("C-c");
    term.wait_row(
        "[System] Stopped sending big.bin: the peer keeps what arrived, so sending it again \
         resumes.",
    );
    peer.expect_exact(&own("has left the chat."));
    // (Cut short: what did not arrive whole makes the exit code 1.)
    assert_eq!(peer.wait_exit(), 1, "{}", peer.report());
}

#[test]
fn on_a_terminal_of_three_rows_one_live_line_shows_and_says_how_many_more() {
    let dir = TestDir::new("tty_three_rows");
    let peer_dir = dir.subdir("peer");
    for (seed, name) in LIVE_OUT.iter().enumerate() {
        fs::write(
            dir.join(name),
            pseudo_random_bytes(2 * LIVE_SIZE, seed as u64),
        )
        .unwrap();
    }
    let (mut peer, port) = common::Chat::listen_encrypted("peer", &peer_dir, &["--name", "daksh"]);
    let link = SlowLink::start(port, LIVE_RATE / 4);
    let link_port = link.port.to_string();
    let args = ["connect", "127.0.0.1", &link_port, "--name", NAME];
    let term = Term::start_encrypted("three_rows", dir.path(), true, &args);
    peer.expect_prefix("[System] Encrypted. Safety code: ");
    term.wait_connected();
    term.enter("/send one.bin two.bin three.bin");
    term.wait("three live lines", |s| {
        LIVE_OUT
            .iter()
            .all(|name| !LiveWatch::progress_rows(s, name).is_empty())
    });
    term.checked(&["resize-window", "-y", "3"]);
    let screen = term.wait("one live line that says how many more", |s| {
        let above = s.rows.len().checked_sub(2).map(|at| s.rows[at].as_str());
        s.last_row() == ">"
            && above.is_some_and(|row| {
                row.starts_with("Sending ") && row.ends_with(" (+2 more: /status)")
            })
    });
    assert!(
        !screen
            .rows
            .iter()
            .rev()
            .take(2)
            .any(|r| r.starts_with("... and")),
        "{}",
        screen.dump()
    );
    term.checked(&["resize-window", "-y", "40"]);
    term.press("C-d");
    term.wait_row(
        "[System] Leaving once the files being sent are through (Ctrl-C leaves at once).",
    );
    term.press("C-c");
    peer.expect_exact(&own("has left the chat."));
    assert_eq!(peer.wait_exit(), 1, "{}", peer.report());
}

/// On the original wire a private message goes out as the `/msg` line a
/// room there reads, typed or as `//msg` (the line is the same); either
/// shows as the private message it is to a room, never as a public one.
#[test]
fn a_private_message_on_the_original_wire_shows_as_one() {
    let dir = TestDir::new("tty_plain_msg");
    let (term, mut peer) = listening_chat("plain_msg", &dir, true);
    term.enter("/msg bob psst");
    term.expect_sent(&mut peer, &own("/msg bob psst"));
    term.wait_line(
        "[System] On the original wire (--plain), /who and /msg go out as lines that a room \
         answers; a peer that is not a room sees them as messages.",
    );
    term.wait_row(&own("(to bob) psst"));
    term.enter("//msg bob again");
    term.expect_sent(&mut peer, &own("/msg bob again"));
    let screen = term.wait_row(&own("(to bob) again"));
    for public in ["/msg bob psst", "/msg bob again"] {
        assert!(!screen.has_row(&own(public)), "{}", screen.dump());
    }
    let notes = screen.rows_starting("[System] On the original wire").len();
    assert_eq!(notes, 1, "{}", screen.dump());
}
