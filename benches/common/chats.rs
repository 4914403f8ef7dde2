//! Two `chat` processes a bench starts, one listening and one connecting:
//! a file or folder sent from one to the other and timed, and lines typed
//! while a file goes, timed from input to the peer's screen.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::peak::PeakWatch;
use super::said::{Said, stamped_lines};

/// How long a chat may take to connect, and to deliver what it sends.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(10);
pub const DELIVER_WITHIN: Duration = Duration::from_secs(600);

/// How often a line is typed into a chat that is sending a file.
pub const PING_EVERY: Duration = Duration::from_millis(50);

/// What the receiver and the sender say once a folder, or a file, is done.
pub const FOLDER_SAVED: &str = "[System] Folder saved to ";
pub const FOLDER_SENT: &str = "[System] Sent folder ";
pub const FILE_SAVED: &str = "[System] File saved to ";
pub const FILE_SENT: &str = "[System] Sent file ";

/// A `chat listen` once it is listening.
pub struct Listener {
    pub child: Child,
    pub port: u16,
    /// The rest of its output, to read. Its stdin stays open (end of input
    /// would make it leave).
    pub output: BufReader<ChildStdout>,
}

/// Starts `command`, a `chat listen` on 127.0.0.1, and reads the port
/// from its first line.
pub fn start_listener(mut command: Command) -> Listener {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start chat listen");
    let mut output = BufReader::with_capacity(1 << 16, child.stdout.take().unwrap());
    let mut first = String::new();
    output.read_line(&mut first).unwrap();
    // `[System] Listening on 127.0.0.1:PORT ...`
    let port = first
        .trim_end()
        .trim_end_matches(" ...")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    Listener {
        child,
        port,
        output,
    }
}

/// What a `/send` from one chat to another took.
pub struct Sent {
    /// From typing `/send` to the receiver saying all is saved.
    pub seconds: f64,
    /// Peak resident memory of each chat, in KiB.
    pub peak_send: u64,
    pub peak_receive: u64,
    /// The receiver's output, for when its copy is wrong.
    pub receiver_said: String,
}

/// The lines a sent file or folder is done with: the receiver's that it
/// saved it, and the sender's that it was sent.
pub struct Done<'a> {
    pub saved: &'a str,
    pub sent: &'a str,
}

/// A folder's lines.
pub const FOLDER_DONE: Done<'static> = Done {
    saved: FOLDER_SAVED,
    sent: FOLDER_SENT,
};

/// A file's lines.
pub const FILE_DONE: Done<'static> = Done {
    saved: FILE_SAVED,
    sent: FILE_SENT,
};

/// Sends `path` from the chat that `connect` starts to `receiver`, once
/// the sender has said each line beginning with one of `ready`, in order;
/// waits for the receiver's line and the sender's that it is done; then
/// both leave.
pub fn send(
    receiver: Listener,
    mut connect: Command,
    ready: &[&str],
    path: &Path,
    done: Done,
) -> Sent {
    let Listener {
        child: mut receiver,
        output,
        ..
    } = receiver;
    let mut heard = Said::follow(output, "the receiver");
    let receive_watch = PeakWatch::start(receiver.id());
    let mut sender = connect
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start chat connect");
    let send_watch = PeakWatch::start(sender.id());
    let mut told = Said::follow(BufReader::new(sender.stdout.take().unwrap()), "the sender");
    let mut typing = sender.stdin.take().unwrap();
    for line in ready {
        told.until(line, CONNECT_WITHIN);
    }
    let started = Instant::now();
    writeln!(typing, "/send {}", path.display()).unwrap();
    let finished = heard.until(done.saved, DELIVER_WITHIN);
    // The sender hears of it a round trip later; leaving before would cut
    // the conversation short.
    told.until(done.sent, DELIVER_WITHIN);
    drop(typing);
    let sender_status = sender.wait().expect("sender wait");
    let receiver_status = receiver.wait().expect("receiver wait");
    let (receiver_said, sender_said) = (heard.finish(), told.finish());
    assert!(
        sender_status.success() && receiver_status.success(),
        "sender {sender_status}, receiver {receiver_status}; the receiver said:\n\
         {receiver_said}\nthe sender said:\n{sender_said}"
    );
    Sent {
        seconds: finished.saturating_duration_since(started).as_secs_f64(),
        peak_send: send_watch.finish(),
        peak_receive: receive_watch.finish(),
        receiver_said,
    }
}

/// Line delays during one transfer.
pub struct Latency {
    /// From the receiver announcing the file to it saying it saved it.
    pub transfer: Duration,
    /// Seconds from input to screen of each line typed meanwhile that arrived.
    pub delays: Vec<f64>,
    /// Lines typed meanwhile that never arrived.
    pub lost: usize,
    /// The receiver's line saying how it is connected (`[System] Connected
    /// ...`), if it said one.
    pub connected: Option<String>,
}

impl Latency {
    /// The longest delay, if any line was timed.
    pub fn worst(&self) -> Option<f64> {
        self.delays.iter().copied().reduce(f64::max)
    }

    /// `N lines during T s of transfer: median M ms, worst W ms`, with
    /// `note` after the times when there are any, and the lines lost.
    pub fn summary(&self, note: &str) -> String {
        let mut line = format!(
            "{:>4} lines during {:.2} s of transfer",
            self.delays.len(),
            self.transfer.as_secs_f64()
        );
        match self.worst() {
            None => line += ": none to time (a larger CHAT_BENCH_MIB lasts longer)",
            Some(worst) => {
                line += &format!(
                    ": median {:.1} ms, worst {:.1} ms{note}",
                    super::median(self.delays.clone()) * 1e3,
                    worst * 1e3
                );
            }
        }
        if self.lost > 0 {
            line += &format!("; {} never arrived", self.lost);
        }
        line
    }
}

/// What the receiving chat printed during a latency run, as it was read.
#[derive(Default)]
struct Heard {
    connected: Option<String>,
    began: Option<Instant>,
    saved: Option<Instant>,
    /// When each `ping N` line arrived, by N.
    pings: HashMap<usize, Instant>,
    said: String,
}

impl Heard {
    fn note(&mut self, at: Instant, line: &str) {
        if line.starts_with("[System] Connected") {
            self.connected.get_or_insert_with(|| line.to_string());
        } else if line.starts_with("[System] Incoming file") {
            self.began.get_or_insert(at);
        } else if line.starts_with("[System] File saved") {
            self.saved.get_or_insert(at);
        } else if let Some(n) = line.strip_prefix("[s] ping ").and_then(|n| n.parse().ok()) {
            self.pings.insert(n, at);
        }
        self.said.push_str(line);
        self.said.push('\n');
    }
}

/// Lines typed every [`PING_EVERY`] into the chat that `connect` starts
/// (named `s`) while it sends `source` to `receiver`: how long each takes
/// from its input to the receiver's screen. `row` names the pair in a
/// failure.
pub fn line_latency(receiver: Listener, mut connect: Command, source: &Path, row: &str) -> Latency {
    let Listener {
        child: mut receiver,
        output,
        ..
    } = receiver;
    let (lines, reading) = stamped_lines(output);
    let mut sender = connect
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot start chat connect");
    let mut typing = sender.stdin.take().unwrap();
    writeln!(typing, "/send {}", source.display()).unwrap();

    let mut heard = Heard::default();
    let mut typed: Vec<Instant> = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(600);
    let mut next = Instant::now() + PING_EVERY;
    while heard.saved.is_none() {
        match lines.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok((at, line)) => heard.note(at, &line),
            Err(RecvTimeoutError::Timeout) => {
                typed.push(Instant::now());
                if writeln!(typing, "ping {}", typed.len() - 1).is_err() {
                    panic!(
                        "{row}: the sender stopped reading its input; the receiver said:\n{}",
                        heard.said
                    );
                }
                next += PING_EVERY;
            }
            Err(RecvTimeoutError::Disconnected) => panic!(
                "{row}: the receiver ended before saving the file; it said:\n{}",
                heard.said
            ),
        }
        assert!(
            Instant::now() < give_up,
            "{row}: the file was not saved within 10 minutes; the receiver said:\n{}",
            heard.said
        );
    }
    // Lines held back behind the file come right after it.
    let patience = Instant::now() + Duration::from_secs(30);
    while heard.pings.len() < typed.len() {
        match lines.recv_timeout(patience.saturating_duration_since(Instant::now())) {
            Ok((at, line)) => heard.note(at, &line),
            Err(_) => break,
        }
    }
    drop(typing);
    let sender_status = sender.wait().expect("sender wait");
    let receiver_status = receiver.wait().expect("receiver wait");
    let _ = reading.join();
    assert!(
        sender_status.success() && receiver_status.success(),
        "{row}: sender {sender_status}, receiver {receiver_status}; the receiver said:\n{}",
        heard.said
    );
    delays(heard, &typed)
}

/// The delay of each line typed while the file went.
fn delays(heard: Heard, typed: &[Instant]) -> Latency {
    let (began, saved) = (heard.began.unwrap_or(Instant::now()), heard.saved.unwrap());
    let mut latency = Latency {
        transfer: saved.saturating_duration_since(began),
        delays: Vec::new(),
        lost: 0,
        connected: heard.connected,
    };
    for (n, &at) in typed.iter().enumerate() {
        if at < began || at > saved {
            continue;
        }
        match heard.pings.get(&n) {
            Some(arrived) => latency
                .delays
                .push(arrived.saturating_duration_since(at).as_secs_f64()),
            None => latency.lost += 1,
        }
    }
    latency
}
