//! Transfer and chat-line throughput of `chat` against reference tools on
//! loopback, measured in one run so that only the ratios matter.
//!
//! Run with `cargo bench`. Settings come from the environment:
//! `CHAT_BENCH_MIB` (file size, default 1024), `CHAT_BENCH_ROUNDS` (default 5),
//! `CHAT_BENCH_LINES` (default 1000000, 0 to skip), `CHAT_BENCH_TOOLS`
//! (comma-separated names to run, default all). Tools that are not
//! installed (`nc` from OpenBSD, `ncat`, `socat`) are reported and skipped.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// Buffer of the plain copy loop: the practical ceiling without zero-copy.
const COPY_BUFFER: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The plain copy loop runs as two processes of this same binary.
    match args.get(1).map(String::as_str) {
        Some("--copy-recv") => return copy_receive(&args[2], &args[3]),
        Some("--copy-send") => return copy_send(&args[2], &args[3]),
        _ => {}
    }
    let mib: u64 = setting("CHAT_BENCH_MIB", 1024);
    let rounds: usize = setting("CHAT_BENCH_ROUNDS", 5);
    let lines: u64 = setting("CHAT_BENCH_LINES", 1_000_000);
    let only: String = setting("CHAT_BENCH_TOOLS", String::new());

    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("cannot create the work folder");
    println!("machine: {}", machine());
    println!("file: {mib} MiB of random bytes; {rounds} interleaved rounds; loopback\n");

    let source = work.join("source.bin");
    write_random(&source, mib << 20);
    let expected = sha256(&source);

    let tools = transfer_tools();
    let mut results: Vec<(String, Vec<Run>)> = Vec::new();
    for tool in &tools {
        let wanted = only.is_empty() || only.split(',').any(|name| tool.name.starts_with(name));
        if !wanted {
            continue;
        }
        if let Some(missing) = tool.missing() {
            println!("skipped {}: {missing} is not installed", tool.name);
        } else {
            results.push((tool.name.to_string(), Vec::new()));
        }
    }
    for round in 0..rounds {
        for (name, runs) in &mut results {
            let tool = tools.iter().find(|t| t.name == name).unwrap();
            let out = work.join(format!("out-{round}"));
            let _ = fs::remove_dir_all(&out);
            fs::create_dir_all(&out).unwrap();
            let run = (tool.run)(&source, &out);
            let got = sha256(&run.received);
            assert_eq!(
                got, expected,
                "{name}: received copy differs; the receiver said:\n{}",
                run.receiver_said
            );
            fs::remove_dir_all(&out).unwrap();
            runs.push(run);
        }
    }
    print_transfer_table(mib << 20, &results);

    println!();
    if lines > 0 {
        lines_table(&work, lines, rounds);
    }
    println!();
    start_up(&work, rounds.max(5));
    let _ = fs::remove_dir_all(&work);
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// One measured transfer.
struct Run {
    seconds: f64,
    /// Peak resident memory of the sending and receiving process, in KiB.
    peak_send: u64,
    peak_receive: u64,
    received: PathBuf,
    /// The receiver's output, for when its copy is wrong.
    receiver_said: String,
}

struct Tool {
    name: &'static str,
    needs: Option<&'static str>,
    run: fn(&Path, &Path) -> Run,
}

impl Tool {
    fn missing(&self) -> Option<&'static str> {
        self.needs.filter(|program| !installed(program))
    }
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn transfer_tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "chat",
            needs: None,
            run: chat_transfer,
        },
        Tool {
            name: "copy loop (64 KiB)",
            needs: None,
            run: copy_transfer,
        },
        Tool {
            name: "nc (OpenBSD)",
            needs: Some("nc"),
            run: nc_transfer,
        },
        Tool {
            name: "ncat",
            needs: Some("ncat"),
            run: ncat_transfer,
        },
        Tool {
            name: "socat",
            needs: Some("socat"),
            run: socat_transfer,
        },
    ]
}

/// Follows a process's peak resident memory until it exits.
struct PeakWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PeakWatch {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = vm_hwm(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Self {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Times a transfer: `receiver` is already listening; `start_sender` starts
/// the other side; the transfer is over when both have exited.
fn measure(
    mut receiver: Child,
    start_sender: impl FnOnce() -> Child,
    received: PathBuf,
    said: Option<thread::JoinHandle<String>>,
) -> Run {
    let receive_watch = PeakWatch::start(receiver.id());
    let started = Instant::now();
    let mut sender = start_sender();
    let send_watch = PeakWatch::start(sender.id());
    // `wait` would close the receiver's stdin, and a chat leaves when its
    // input ends: keep it open until the receiver is done.
    let stdin = receiver.stdin.take();
    let receiver_status = receiver.wait().expect("receiver wait");
    drop(stdin);
    let seconds = started.elapsed().as_secs_f64();
    let sender_status = sender.wait().expect("sender wait");
    let receiver_said = said
        .map(|t| t.join().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        receiver_status.success(),
        "receiver failed: {receiver_status}\n{receiver_said}"
    );
    assert!(sender_status.success(), "sender failed: {sender_status}");
    Run {
        seconds,
        peak_send: send_watch.finish(),
        peak_receive: receive_watch.finish(),
        received,
        receiver_said,
    }
}

fn chat_transfer(source: &Path, out: &Path) -> Run {
    let (receiver, port, said) = chat_listener(out);
    let source = source.to_path_buf();
    measure(
        receiver,
        move || {
            let mut sender = Command::new(CHAT)
                .args(["connect", "127.0.0.1", &port.to_string(), "--name", "s"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("cannot start chat connect");
            let mut stdin = sender.stdin.take().unwrap();
            writeln!(stdin, "/send {}", source.display()).unwrap();
            drop(stdin);
            sender
        },
        out.join("source.bin"),
        Some(said),
    )
}

/// Starts `chat listen` saving into `out`; returns it once it is listening,
/// with its port and the rest of its output to read. Its stdin stays open
/// (end of input would make it leave).
fn start_listener(out: &Path) -> (Child, u16, BufReader<ChildStdout>) {
    let mut child = Command::new(CHAT)
        .args(["listen", "--host", "127.0.0.1", "--port", "0"])
        .args(["--name", "r", "--download-dir"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start chat listen");
    let mut lines = BufReader::with_capacity(1 << 16, child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // `[System] Listening on 127.0.0.1:PORT ...`
    let port = first
        .trim_end()
        .trim_end_matches(" ...")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    (child, port, lines)
}

/// [`start_listener`], with a thread that collects the rest of its output.
fn chat_listener(out: &Path) -> (Child, u16, thread::JoinHandle<String>) {
    let (child, port, mut lines) = start_listener(out);
    let said = thread::spawn(move || {
        let mut rest = String::new();
        let _ = lines.read_to_string(&mut rest);
        rest
    });
    (child, port, said)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` on 127.0.0.1, without
/// connecting (which would use up a one-connection listener).
fn wait_listening(port: u16) {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        if table.contains(&needle) {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("nothing listens on port {port}");
}

/// A reference tool: receiver and sender command lines, with the received
/// bytes on the receiver's stdout and the source on the sender's stdin.
fn piped_transfer(receive: &[&str], send: &[&str], source: &Path, out: &Path) -> Run {
    let received = out.join("received.bin");
    let receiver = Command::new(receive[0])
        .args(&receive[1..])
        .stdin(Stdio::null())
        .stdout(File::create(&received).unwrap())
        .spawn()
        .expect("cannot start the receiver");
    let port = receive
        .iter()
        .find_map(|a| a.parse::<u16>().ok().or_else(|| port_in(a)))
        .expect("a port in the receiver's arguments");
    wait_listening(port);
    let source = source.to_path_buf();
    let send: Vec<String> = send.iter().map(|s| s.to_string()).collect();
    measure(
        receiver,
        move || {
            Command::new(&send[0])
                .args(&send[1..])
                .stdin(File::open(&source).unwrap())
                .stdout(Stdio::null())
                .spawn()
                .expect("cannot start the sender")
        },
        received,
        None,
    )
}

/// The port in a socat address such as `TCP-LISTEN:5050,bind=...`.
fn port_in(arg: &str) -> Option<u16> {
    let rest = arg.strip_prefix("TCP-LISTEN:")?;
    rest.split(',').next()?.parse().ok()
}

fn nc_transfer(source: &Path, out: &Path) -> Run {
    let port = free_port().to_string();
    piped_transfer(
        &["nc", "-d", "-l", "127.0.0.1", &port],
        &["nc", "-N", "127.0.0.1", &port],
        source,
        out,
    )
}

fn ncat_transfer(source: &Path, out: &Path) -> Run {
    let port = free_port().to_string();
    piped_transfer(
        &["ncat", "--recv-only", "-l", "127.0.0.1", &port],
        &["ncat", "--send-only", "127.0.0.1", &port],
        source,
        out,
    )
}

fn socat_transfer(source: &Path, out: &Path) -> Run {
    let port = free_port();
    let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr");
    let connect = format!("TCP:127.0.0.1:{port}");
    piped_transfer(
        &["socat", "-u", &listen, "STDOUT"],
        &["socat", "-u", "STDIN", &connect],
        source,
        out,
    )
}

fn copy_transfer(source: &Path, out: &Path) -> Run {
    let me = std::env::current_exe().unwrap();
    let port = free_port().to_string();
    let received = out.join("received.bin");
    let receiver = Command::new(&me)
        .arg("--copy-recv")
        .arg(&port)
        .arg(&received)
        .spawn()
        .unwrap();
    wait_listening(port.parse().unwrap());
    let source = source.to_path_buf();
    measure(
        receiver,
        move || {
            Command::new(&me)
                .arg("--copy-send")
                .arg(&port)
                .arg(&source)
                .spawn()
                .unwrap()
        },
        received,
        None,
    )
}

fn copy_receive(port: &str, path: &str) {
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    let (mut socket, _) = listener.accept().unwrap();
    let mut file = File::create(path).unwrap();
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        let n = socket.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).unwrap();
    }
}

fn copy_send(port: &str, path: &str) {
    let mut socket = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    let mut file = File::open(path).unwrap();
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        socket.write_all(&buf[..n]).unwrap();
    }
}

fn write_random(path: &Path, size: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            // xorshift64*: fast, and incompressible enough for a transfer.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum is needed to check the copies");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn print_transfer_table(bytes: u64, results: &[(String, Vec<Run>)]) {
    let mbps = |run: &Run| bytes as f64 / run.seconds / 1e6;
    let chat_median = results
        .iter()
        .find(|(name, _)| name == "chat")
        .map(|(_, runs)| median(runs.iter().map(mbps).collect()))
        .unwrap_or(f64::NAN);
    let copy_median = results
        .iter()
        .find(|(name, _)| name.starts_with("copy loop"))
        .map(|(_, runs)| median(runs.iter().map(mbps).collect()));
    println!(
        "{:<20} {:>10} {:>17} {:>9} {:>13} {:>13}",
        "file transfer", "MB/s", "min-max", "vs chat", "peak RSS send", "peak RSS recv"
    );
    for (name, runs) in results {
        let speeds: Vec<f64> = runs.iter().map(mbps).collect();
        let (min, max) = speeds
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let med = median(speeds);
        let peak_send = runs.iter().map(|r| r.peak_send).max().unwrap_or(0);
        let peak_receive = runs.iter().map(|r| r.peak_receive).max().unwrap_or(0);
        println!(
            "{name:<20} {med:>10.0} {:>17} {:>8.2}x {:>10.1} MiB {:>10.1} MiB",
            format!("{min:.0}-{max:.0}"),
            med / chat_median,
            peak_send as f64 / 1024.0,
            peak_receive as f64 / 1024.0,
        );
    }
    let nc_median = results
        .iter()
        .find(|(name, _)| name.starts_with("nc"))
        .map(|(_, runs)| median(runs.iter().map(mbps).collect()));
    if let Some(nc) = nc_median {
        println!(
            "chat / nc:        {:.2}x (target at least 1.8x)",
            chat_median / nc
        );
    }
    if let Some(copy) = copy_median {
        println!(
            "chat / copy loop: {:.2}x (target at least 0.9x)",
            chat_median / copy
        );
    }
}

/// `count` chat lines piped into the sender and printed by the receiver into
/// a pipe, against `nc` moving the same lines.
fn lines_table(work: &Path, count: u64, rounds: usize) {
    let input = work.join("lines.txt");
    {
        let mut out = BufWriter::new(File::create(&input).unwrap());
        for i in 0..count {
            writeln!(out, "message number {i} of the line benchmark").unwrap();
        }
    }
    let mut chat_times = Vec::new();
    let mut nc_times = Vec::new();
    let have_nc = installed("nc");
    for _ in 0..rounds {
        chat_times.push(chat_lines(&input, work, count));
        if have_nc {
            nc_times.push(nc_lines(&input, count));
        }
    }
    let chat = median(chat_times);
    println!("{count} chat lines, piped in and printed into a pipe:");
    println!("  chat {:>8.3} s", chat);
    if have_nc {
        let nc = median(nc_times);
        println!(
            "  nc   {:>8.3} s   (chat takes {:.2}x the time of nc)",
            nc,
            chat / nc
        );
    } else {
        println!("  nc   skipped: not installed");
    }
}

/// Counts the receiver's lines until `count` have arrived; returns seconds.
fn count_lines(mut reader: BufReader<ChildStdout>, count: u64, started: Instant) -> f64 {
    let mut seen = 0;
    let mut line = Vec::new();
    while seen < count {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            panic!("receiver ended after {seen} of {count} lines");
        }
        if line.starts_with(b"[s] message") || line.starts_with(b"message") {
            seen += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    seconds
}

fn chat_lines(input: &Path, work: &Path, count: u64) -> f64 {
    let (mut receiver, port, output) = start_listener(&work.join("unused"));
    let started = Instant::now();
    let mut sender = Command::new(CHAT)
        .args(["connect", "127.0.0.1", &port.to_string(), "--name", "s"])
        .stdin(File::open(input).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let seconds = count_lines(output, count, started);
    sender.wait().unwrap();
    receiver.wait().unwrap();
    seconds
}

fn nc_lines(input: &Path, count: u64) -> f64 {
    let port = free_port().to_string();
    let mut receiver = Command::new("nc")
        .args(["-d", "-l", "127.0.0.1", &port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(port.parse().unwrap());
    let started = Instant::now();
    let mut sender = Command::new("nc")
        .args(["-N", "127.0.0.1", &port])
        .stdin(File::open(input).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let output = BufReader::with_capacity(1 << 16, receiver.stdout.take().unwrap());
    let seconds = count_lines(output, count, started);
    sender.wait().unwrap();
    receiver.wait().unwrap();
    seconds
}

/// Launch to `Listening on`, and a whole connect-and-quit round.
fn start_up(work: &Path, rounds: usize) {
    let mut launch = Vec::new();
    let mut round_trip = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let (mut listener, port, _output) = start_listener(&work.join("unused"));
        launch.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let status = Command::new(CHAT)
            .args(["connect", "127.0.0.1", &port.to_string(), "--name", "s"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(listener.wait().unwrap().success());
        round_trip.push(started.elapsed().as_secs_f64());
    }
    println!(
        "start-up, launch to `Listening on`: {:.1} ms (median of {rounds})",
        median(launch) * 1e3
    );
    println!(
        "connect, say goodbye, both exit:   {:.1} ms (median of {rounds})",
        median(round_trip) * 1e3
    );
}
