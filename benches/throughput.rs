//! Transfer and chat-line throughput of `chat` against reference tools on
//! loopback, measured in one run so that only the ratios matter; the
//! encrypted default beside the original clear wire (`--plain`), with the
//! memory, handshake and message latency of the encrypted one. Rounds
//! rotate which tool goes first, and the slowest and fastest round of each
//! row are told apart by where their time went (see `usage`).
//!
//! Run with `cargo bench`. Settings come from the environment:
//! `CHAT_BENCH_MIB` (file size, default 1024), `CHAT_BENCH_ROUNDS` (default 5),
//! `CHAT_BENCH_LINES` (default 1000000, 0 to skip), `CHAT_BENCH_TOOLS`
//! (comma-separated beginnings of row names to run, default all; `chat`
//! selects `chat --plain` and `chat (encrypted)`, and with them the line
//! latency during a transfer and the handshake time; `folder` selects the
//! folder rows). `CHAT_BENCH_FOLDER_FILES` (default 10000) and
//! `CHAT_BENCH_FOLDER_ROUNDS` (default 3) size the folder of small files
//! that `chat` sends against `tar | nc`; a folder holding the bench's one
//! file is timed against that file sent alone. `CHAT_BENCH_BASELINE`
//! names another build of chat (of an earlier commit, say) whose encrypted
//! transfer runs as the row `baseline (encrypted)`, to tell what a change
//! costs. Tools that
//! are not installed (`nc` from OpenBSD, `ncat`, `socat`, `scp` with an
//! `sshd` the bench starts itself as root, `wormhole` with a mailbox server
//! of its own from `magic-wormhole-mailbox-server`) are reported and
//! skipped. A missed target is reported, never a failure.

mod common;
#[path = "throughput/usage.rs"]
mod usage;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::chats::{self, Done, FILE_DONE, FOLDER_DONE, Latency, Listener, PING_EVERY, Sent};
use common::files::{
    FILES_PER_FOLDER, SMALL_FILE, fresh_folder, same_bytes, same_tree, sha256, write_many_files,
    write_random,
};
use common::peak::PeakWatch;
use common::ports::{free_port, listening, wait_listening};
use common::programs::{installed, tar_nc_send};
use common::{machine, median, setting};
use usage::{Machine, MachineSpan, Usage, describe, wait_with_usage};

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// Buffer of the plain copy loop: the practical ceiling without zero-copy.
const COPY_BUFFER: usize = 64 * 1024;

/// Connections timed for the handshake, each to a fresh listener.
const HANDSHAKE_ROUNDS: usize = 20;

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
    let folder_files: usize = setting("CHAT_BENCH_FOLDER_FILES", 10_000);
    let folder_rounds: usize = setting("CHAT_BENCH_FOLDER_ROUNDS", 3);
    let only: String = setting("CHAT_BENCH_TOOLS", String::new());
    let wanted = |row: &str| only.is_empty() || only.split(',').any(|name| row.starts_with(name));

    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("cannot create the work folder");
    println!("machine: {}", machine());
    println!("file: {mib} MiB of random bytes; {rounds} interleaved rounds; loopback\n");

    let source = work.join("source.bin");
    write_random(&source, mib << 20);
    let expected = sha256(&source);

    // Each tool is got ready once (a server started, say), then all take
    // their turn in every round.
    let mut contenders: Vec<(&str, Transfer)> = Vec::new();
    for tool in transfer_tools() {
        if !wanted(tool.name) {
            continue;
        }
        match (tool.ready)(&work) {
            Ok(transfer) => contenders.push((tool.name, transfer)),
            Err(why) => println!("skipped {}: {why}", tool.name),
        }
    }
    // One transfer first, not timed, whose copy is checked and deleted as
    // every turn's is: the first timed turn then follows what every later
    // turn follows, and writes into memory freed a moment before. Memory
    // left free for a few seconds is handed back to the hypervisor on
    // virtual machines that report free pages, and the first write into it
    // costs the kernel half as much again (see docs/performance.md), whichever tool
    // comes first.
    if !contenders.is_empty() {
        let out = work.join("warm-up");
        fs::create_dir_all(&out).unwrap();
        let run = copy_transfer(&source, &out);
        assert_eq!(sha256(&run.received), expected, "the warm-up copy differs");
        fs::remove_dir_all(&out).unwrap();
    }
    let mut results: Vec<(&str, Vec<Run>)> = contenders
        .iter()
        .map(|(name, _)| (*name, Vec::new()))
        .collect();
    for round in 0..rounds {
        // Each round starts with another tool, so that no tool always takes
        // the turn after the source was written or after the slowest one.
        let turns = contenders.len();
        for turn in (0..turns).map(|k| (round + k) % turns) {
            let (name, transfer) = &contenders[turn];
            let runs = &mut results[turn].1;
            let out = work.join(format!("out-{round}"));
            let _ = fs::remove_dir_all(&out);
            fs::create_dir_all(&out).unwrap();
            let run = transfer(&source, &out);
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
    // Servers the tools started stop here.
    drop(contenders);
    if !results.is_empty() {
        print_transfer_table(mib << 20, &results);
    }
    if folder_rounds > 0 && wanted(MANY_FILES) {
        println!();
        many_files_table(&work, folder_files, folder_rounds);
    }
    if folder_rounds > 0 && wanted(ONE_FILE) {
        println!();
        one_file_table(&work, &source, mib, folder_rounds);
    }

    let latency_wires: Vec<Wire> = [Wire::Encrypted, Wire::Original]
        .into_iter()
        .filter(|wire| wanted(wire.row()))
        .collect();
    if !latency_wires.is_empty() {
        println!();
        latency_table(&work, &source, mib, &latency_wires);
    }
    if wanted(Wire::Encrypted.row()) {
        println!();
        handshake(&work);
    }
    println!();
    if lines > 0 {
        lines_table(&work, lines, rounds);
    }
    println!();
    start_up(&work, rounds.max(5));
    let _ = fs::remove_dir_all(&work);
}

/// Which wire two chats speak.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// `--plain`: the original clear wire.
    Original,
    /// The default between two chats.
    Encrypted,
    /// The default, spoken by another build of chat named by
    /// `CHAT_BENCH_BASELINE` (an earlier commit, say), to tell what a
    /// change costs in the same run.
    Baseline,
}

impl Wire {
    fn args(self) -> &'static [&'static str] {
        match self {
            Wire::Original => &["--plain"],
            Wire::Encrypted | Wire::Baseline => &[],
        }
    }

    /// Its name in the tables, and for `CHAT_BENCH_TOOLS`.
    fn row(self) -> &'static str {
        match self {
            Wire::Original => "chat --plain",
            Wire::Encrypted => "chat (encrypted)",
            Wire::Baseline => "baseline (encrypted)",
        }
    }

    /// The chat that speaks it.
    fn program(self) -> PathBuf {
        match self {
            Wire::Baseline => std::env::var_os(BASELINE)
                .map(PathBuf::from)
                .expect("a baseline row runs only when CHAT_BENCH_BASELINE is set"),
            Wire::Original | Wire::Encrypted => PathBuf::from(CHAT),
        }
    }
}

/// The environment variable naming a baseline build of chat.
const BASELINE: &str = "CHAT_BENCH_BASELINE";

/// One measured transfer.
struct Run {
    seconds: f64,
    /// Peak resident memory of the sending and receiving process, in KiB;
    /// 0 when it was not followed.
    peak_send: u64,
    peak_receive: u64,
    received: PathBuf,
    /// The receiver's output, for when its copy is wrong.
    receiver_said: String,
    /// Where the time went, for the rows whose two processes the bench
    /// starts itself.
    spent: Option<Spent>,
}

/// What each side used during one transfer, and what the machine did.
#[derive(Clone, Copy)]
struct Spent {
    send: Usage,
    receive: Usage,
    machine: MachineSpan,
}

/// One transfer of the source into a fresh folder.
type Transfer = Box<dyn Fn(&Path, &Path) -> Run>;

/// Gets a tool ready for all rounds, in the work folder: how to run one
/// transfer, or why it cannot run here.
type Ready = Box<dyn FnOnce(&Path) -> Result<Transfer, String>>;

struct Tool {
    name: &'static str,
    ready: Ready,
}

impl Tool {
    /// A tool that needs nothing set up but `program`, if any.
    fn simple(
        name: &'static str,
        program: Option<&'static str>,
        run: fn(&Path, &Path) -> Run,
    ) -> Self {
        Self {
            name,
            ready: Box::new(move |_| match program {
                Some(program) if !installed(program) => Err(format!("{program} is not installed")),
                _ => Ok(Box::new(run)),
            }),
        }
    }
}

/// Rows the ratios are taken against.
const COPY_LOOP: &str = "copy loop (64 KiB)";
const NC: &str = "nc (OpenBSD)";
const SCP: &str = "scp aes128-gcm";
const WORMHOLE: &str = "magic-wormhole";

fn transfer_tools() -> Vec<Tool> {
    vec![
        Tool::simple(Wire::Original.row(), None, |source, out| {
            chat_transfer(source, out, Wire::Original)
        }),
        Tool::simple(Wire::Encrypted.row(), None, |source, out| {
            chat_transfer(source, out, Wire::Encrypted)
        }),
        Tool {
            name: Wire::Baseline.row(),
            ready: Box::new(|_| match std::env::var_os(BASELINE) {
                Some(path) if Path::new(&path).is_file() => Ok(Box::new(|source, out| {
                    chat_transfer(source, out, Wire::Baseline)
                })),
                Some(path) => Err(format!("{BASELINE}={} is not a file", path.display())),
                None => Err(format!("{BASELINE} names no build of chat to compare with")),
            }),
        },
        Tool::simple(COPY_LOOP, None, copy_transfer),
        Tool::simple(NC, Some("nc"), nc_transfer),
        Tool::simple("ncat", Some("ncat"), ncat_transfer),
        Tool::simple("socat", Some("socat"), socat_transfer),
        Tool {
            name: SCP,
            ready: Box::new(|work| {
                let sshd = Sshd::start(&work.join("sshd"))?;
                Ok(Box::new(move |source, out| sshd.transfer(source, out)))
            }),
        },
        Tool {
            name: WORMHOLE,
            ready: Box::new(|work| {
                let mailbox = Mailbox::start(&work.join("mailbox"))?;
                Ok(Box::new(move |source, out| mailbox.transfer(source, out)))
            }),
        },
    ]
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
    let before = Machine::now();
    let started = Instant::now();
    let mut sender = start_sender();
    let send_watch = PeakWatch::start(sender.id());
    // `wait` would close the receiver's stdin, and a chat leaves when its
    // input ends: keep it open until the receiver is done.
    let stdin = receiver.stdin.take();
    let (receiver_status, receive) = wait_with_usage(&mut receiver).expect("receiver wait");
    drop(stdin);
    let seconds = started.elapsed().as_secs_f64();
    let machine = before.until_now();
    let (sender_status, send) = wait_with_usage(&mut sender).expect("sender wait");
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
        spent: Some(Spent {
            send,
            receive,
            machine,
        }),
    }
}

fn chat_transfer(source: &Path, out: &Path, wire: Wire) -> Run {
    let (receiver, port, said) = chat_listener(out, wire);
    let source = source.to_path_buf();
    measure(
        receiver,
        move || {
            let mut sender = chat_connect(port, wire)
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

/// `chat connect` to a listener on 127.0.0.1 as `s`, to be spawned.
fn chat_connect(port: u16, wire: Wire) -> Command {
    let mut command = Command::new(wire.program());
    command.env("CHAT_HOME", common::CHAT_HOME);
    command
        .args(["connect", "127.0.0.1", &port.to_string(), "--name", "s"])
        .args(wire.args());
    command
}

/// Starts `chat listen` saving into `out`; returns it once it is listening,
/// with its port and the rest of its output to read. Its stdin stays open
/// (end of input would make it leave).
fn start_listener(out: &Path, wire: Wire) -> (Child, u16, BufReader<ChildStdout>) {
    let mut command = Command::new(wire.program());
    command.env("CHAT_HOME", common::CHAT_HOME);
    command
        .args(["listen", "--host", "127.0.0.1", "--port", "0"])
        .args(wire.args())
        .args(["--name", "r", "--download-dir"])
        .arg(out);
    let listener = chats::start_listener(command);
    (listener.child, listener.port, listener.output)
}

/// [`start_listener`], with a thread that collects the rest of its output.
fn chat_listener(out: &Path, wire: Wire) -> (Child, u16, thread::JoinHandle<String>) {
    let (child, port, mut lines) = start_listener(out, wire);
    let said = thread::spawn(move || {
        let mut rest = String::new();
        let _ = lines.read_to_string(&mut rest);
        rest
    });
    (child, port, said)
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

/// An `sshd` of our own on a free loopback port, with a throwaway host key
/// and one authorized key, all in its folder; stopped when dropped.
struct Sshd {
    server: Child,
    port: u16,
    folder: PathBuf,
    user: String,
}

impl Sshd {
    /// Sets it up and checks with a small copy that `scp` gets through;
    /// otherwise says why not.
    fn start(folder: &Path) -> Result<Self, String> {
        for program in ["scp", "ssh-keygen"] {
            if !installed(program) {
                return Err(format!("{program} is not installed"));
            }
        }
        let program = sshd_program().ok_or("sshd is not installed")?;
        if !rustix::process::geteuid().is_root() {
            return Err("sshd is started only when the bench runs as root".into());
        }
        let failed = |what: &str, e: std::io::Error| format!("{what}: {e}");
        fs::create_dir_all(folder).map_err(|e| failed("cannot make its folder", e))?;
        for key in ["host_key", "client_key"] {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "chat-bench", "-f"])
                .arg(folder.join(key))
                .stdin(Stdio::null())
                .output()
                .map_err(|e| failed("cannot run ssh-keygen", e))?;
            if !made.status.success() {
                return Err(format!(
                    "ssh-keygen failed: {}",
                    String::from_utf8_lossy(&made.stderr).trim()
                ));
            }
        }
        fs::copy(
            folder.join("client_key.pub"),
            folder.join("authorized_keys"),
        )
        .map_err(|e| failed("cannot write authorized_keys", e))?;
        // sshd refuses to start without its privilege separation folder,
        // which only an installed sshd's service makes.
        fs::create_dir_all("/run/sshd").map_err(|e| failed("cannot make /run/sshd", e))?;
        let port = free_port();
        let config = folder.join("sshd_config");
        let at = |name: &str| format!("\"{}\"", folder.join(name).display());
        fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {}\n\
                 AuthorizedKeysFile {}\n\
                 PidFile none\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 Ciphers aes128-gcm@openssh.com\n\
                 Subsystem sftp internal-sftp\n",
                at("host_key"),
                at("authorized_keys"),
            ),
        )
        .map_err(|e| failed("cannot write sshd_config", e))?;
        let log =
            File::create(folder.join("sshd.log")).map_err(|e| failed("cannot write its log", e))?;
        let server = Command::new(&program)
            .arg("-f")
            .arg(&config)
            .args(["-D", "-e"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| failed(&format!("cannot start {}", program.display()), e))?;
        let mut sshd = Self {
            server,
            port,
            folder: folder.to_path_buf(),
            user: user_name(),
        };
        // Waiting for an outside server: nothing to be told by.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening(port) {
            if let Ok(Some(status)) = sshd.server.try_wait() {
                return Err(format!("sshd stopped ({status}): {}", sshd.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "sshd did not listen within 10 s: {}",
                    sshd.log_tail()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
        let trial = sshd
            .scp(&folder.join("client_key.pub"), &folder.join("trial"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed("cannot run scp", e))?;
        if !trial.status.success() {
            return Err(format!(
                "a trial copy failed: {} (sshd said: {})",
                String::from_utf8_lossy(&trial.stderr).trim(),
                sshd.log_tail()
            ));
        }
        Ok(sshd)
    }

    /// `scp` of `source` to `target` through this server, to be spawned.
    fn scp(&self, source: &Path, target: &Path) -> Command {
        let mut command = Command::new("scp");
        command
            .args(["-q", "-F", "/dev/null", "-c", "aes128-gcm@openssh.com"])
            .args(["-P", &self.port.to_string(), "-i"])
            .arg(self.folder.join("client_key"))
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg(source)
            .arg(format!("{}@127.0.0.1:{}", self.user, target.display()));
        command
    }

    /// Times one `scp`. Its memory is not followed: the work is done by an
    /// `ssh` it starts and by a process of sshd's.
    fn transfer(&self, source: &Path, out: &Path) -> Run {
        let received = out.join("received.bin");
        let started = Instant::now();
        let output = self
            .scp(source, &received)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("cannot run scp");
        let seconds = started.elapsed().as_secs_f64();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "scp failed: {}\n{said}",
            output.status
        );
        Run {
            seconds,
            peak_send: 0,
            peak_receive: 0,
            received,
            receiver_said: said,
            spent: None,
        }
    }

    /// The last line sshd logged, to say why it failed.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.folder.join("sshd.log")).unwrap_or_default();
        log.lines().last().unwrap_or("nothing logged").to_string()
    }
}

/// A magic-wormhole mailbox server of the benchmark's own on loopback, so
/// that `wormhole send` and `wormhole receive` meet without the Internet;
/// the file itself then goes over their direct connection.
struct Mailbox {
    server: Child,
    port: u16,
}

impl Mailbox {
    fn start(folder: &Path) -> Result<Self, String> {
        for program in ["wormhole", "twist"] {
            if !installed(program) {
                return Err(format!(
                    "{program} is not installed (pip install magic-wormhole \
                     magic-wormhole-mailbox-server)"
                ));
            }
        }
        fs::create_dir_all(folder).map_err(|e| e.to_string())?;
        let port = free_port();
        let server = Command::new("twist")
            .arg("wormhole-mailbox")
            .arg(format!("--port=tcp:{port}:interface=127.0.0.1"))
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the mailbox server: {e}"))?;
        let mailbox = Self { server, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("the mailbox server did not start within 20 s".into());
            }
            thread::sleep(Duration::from_millis(50));
        }
        Ok(mailbox)
    }

    fn wormhole(&self) -> Command {
        let mut command = Command::new("wormhole");
        command
            .arg("--relay-url")
            .arg(format!("ws://127.0.0.1:{}/v1", self.port))
            // No relay: the two sides connect directly on loopback.
            .arg("--transit-helper")
            .arg(format!("tcp:127.0.0.1:{}", free_port()));
        command
    }

    /// Times one `wormhole send` into a `wormhole receive`, from the start
    /// of the sender, as for the other tools.
    fn transfer(&self, source: &Path, out: &Path) -> Run {
        static ROUND: AtomicU64 = AtomicU64::new(0);
        let code = format!("{}-bench-round", ROUND.fetch_add(1, Ordering::SeqCst) + 7);
        let received = out.join("received.bin");
        let receiver = self
            .wormhole()
            .args([
                "receive",
                "--accept-file",
                "--hide-progress",
                "--output-file",
            ])
            .arg(&received)
            .arg(&code)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start wormhole receive");
        let mut sender = self.wormhole();
        sender
            .args(["send", "--hide-progress", "--code", &code])
            .arg(source)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        measure(
            receiver,
            move || sender.spawn().expect("cannot start wormhole send"),
            received,
            None,
        )
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Where sshd is: its usual place, else on the PATH (it must be started by
/// its absolute path).
fn sshd_program() -> Option<PathBuf> {
    let usual = Path::new("/usr/sbin/sshd");
    if usual.exists() {
        return Some(usual.to_path_buf());
    }
    let found = Command::new("sh")
        .args(["-c", "command -v sshd"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    path.is_absolute().then_some(path)
}

fn user_name() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "root".into())
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

fn slowest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// A ratio and whether it reaches `target`.
fn ratio_line(what: &str, ratio: f64, target: f64) {
    println!(
        "{what:<48} {ratio:>6.2}x (target at least {target}x): {}",
        verdict(ratio >= target)
    );
}

fn mebibytes(kib: u64) -> String {
    if kib == 0 {
        "-".into()
    } else {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    }
}

fn print_transfer_table(bytes: u64, results: &[(&str, Vec<Run>)]) {
    // MB/s of each round, by row name.
    let speeds: Vec<(&str, Vec<f64>)> = results
        .iter()
        .map(|(name, runs)| {
            let speeds = runs.iter().map(|run| bytes as f64 / run.seconds / 1e6);
            (*name, speeds.collect())
        })
        .collect();
    let row = |wanted: &str| {
        speeds
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, speeds)| speeds.as_slice())
    };
    let plain_median = row(Wire::Original.row()).map(|s| median(s.to_vec()));
    println!(
        "{:<20} {:>10} {:>17} {:>9} {:>13} {:>13}",
        "file transfer", "MB/s", "min-max", "vs plain", "peak RSS send", "peak RSS recv"
    );
    for ((name, runs), (_, speeds)) in results.iter().zip(&speeds) {
        let max = speeds.iter().copied().fold(0.0, f64::max);
        let med = median(speeds.clone());
        let peak_send = runs.iter().map(|r| r.peak_send).max().unwrap_or(0);
        let peak_receive = runs.iter().map(|r| r.peak_receive).max().unwrap_or(0);
        println!(
            "{name:<20} {med:>10.0} {:>17} {:>9} {:>13} {:>13}",
            format!("{:.0}-{max:.0}", slowest(speeds)),
            plain_median.map_or("-".into(), |plain| format!("{:.2}x", med / plain)),
            mebibytes(peak_send),
            mebibytes(peak_receive),
        );
    }

    println!();
    let rounds = speeds.first().map_or(0, |(_, s)| s.len());
    print!("{:<20}", "MB/s by round");
    for round in 1..=rounds {
        print!(" {round:>7}");
    }
    println!(" {:>8} {:>8}", "median", "slowest");
    for (name, speeds) in &speeds {
        print!("{name:<20}");
        for speed in speeds {
            print!(" {speed:>7.0}");
        }
        println!(" {:>8.0} {:>8.0}", median(speeds.clone()), slowest(speeds));
    }
    print_time_spent(results, &speeds);

    println!();
    if let Some(copy) = row(COPY_LOOP) {
        // Targets for the median round and for the slowest one.
        for (wire, target, slowest_target) in
            [(Wire::Original, 0.9, 0.9), (Wire::Encrypted, 0.7, 0.6)]
        {
            let Some(chat) = row(wire.row()) else {
                continue;
            };
            let name = wire.row();
            ratio_line(
                &format!("{name} / copy loop:"),
                median(chat.to_vec()) / median(copy.to_vec()),
                target,
            );
            ratio_line(
                &format!("{name} / copy loop, slowest rounds:"),
                slowest(chat) / slowest(copy),
                slowest_target,
            );
        }
    }
    let (plain, encrypted) = (row(Wire::Original.row()), row(Wire::Encrypted.row()));
    if let (Some(chat), Some(nc)) = (plain, row(NC)) {
        ratio_line(
            &format!("{} / nc:", Wire::Original.row()),
            median(chat.to_vec()) / median(nc.to_vec()),
            1.8,
        );
    }
    if let (Some(chat), Some(scp)) = (encrypted, row(SCP)) {
        ratio_line(
            &format!("{} / scp:", Wire::Encrypted.row()),
            median(chat.to_vec()) / median(scp.to_vec()),
            3.0,
        );
    }
    if let (Some(chat), Some(wormhole)) = (encrypted, row(WORMHOLE)) {
        ratio_line(
            &format!("{} / magic-wormhole:", Wire::Encrypted.row()),
            median(chat.to_vec()) / median(wormhole.to_vec()),
            4.0,
        );
    }
    if let (Some(chat), Some(baseline)) = (encrypted, row(Wire::Baseline.row())) {
        ratio_line(
            &format!("{} / baseline:", Wire::Encrypted.row()),
            median(chat.to_vec()) / median(baseline.to_vec()),
            0.95,
        );
        ratio_line(
            &format!("{} / baseline, slowest rounds:", Wire::Encrypted.row()),
            slowest(chat) / slowest(baseline),
            0.95,
        );
    }
    if let Some((_, runs)) = results
        .iter()
        .find(|(name, _)| *name == Wire::Encrypted.row())
    {
        let peak_send = runs.iter().map(|r| r.peak_send).max().unwrap_or(0);
        let peak_receive = runs.iter().map(|r| r.peak_receive).max().unwrap_or(0);
        println!(
            "peak RSS, {}: sender {}, receiver {} (target < 8 MiB per side): {}",
            Wire::Encrypted.row(),
            mebibytes(peak_send),
            mebibytes(peak_receive),
            verdict(peak_send.max(peak_receive) < 8 * 1024),
        );
        println!(
            "resume, uncut: no row of its own; every {} transfer already writes a named \
             hidden partial and waits for the Accept round trip, so its cost is in that row{}",
            Wire::Encrypted.row(),
            if row(Wire::Baseline.row()).is_some() {
                " (against the baseline above)".to_string()
            } else {
                format!("; {BASELINE} set to a build from before resume compares the two")
            }
        );
    }
}

/// For the slowest and the fastest round of each row the bench runs both
/// sides of: what each side spent its time on, and what the machine did.
fn print_time_spent(results: &[(&str, Vec<Run>)], speeds: &[(&str, Vec<f64>)]) {
    println!(
        "\nwhere the time went, slowest and fastest round (user+system CPU, context switches waited/preempted):"
    );
    for ((name, runs), (_, speeds)) in results.iter().zip(speeds) {
        let by_speed = |a: &usize, b: &usize| speeds[*a].total_cmp(&speeds[*b]);
        let rounds = 0..speeds.len();
        let (Some(slow), Some(fast)) = (rounds.clone().min_by(by_speed), rounds.max_by(by_speed))
        else {
            continue;
        };
        for (what, round) in [("slowest", slow), ("fastest", fast)] {
            if let Some(spent) = runs[round].spent {
                println!(
                    "  {name:<20} {what} (round {}, {:.0} MB/s): {}",
                    round + 1,
                    speeds[round],
                    describe(
                        runs[round].seconds,
                        spent.send,
                        spent.receive,
                        spent.machine
                    )
                );
            }
        }
    }
}

/// Rows of the folder tables, for `CHAT_BENCH_TOOLS`.
const MANY_FILES: &str = "folder of small files";
const ONE_FILE: &str = "folder of one file";

/// `count` small files sent as one folder by `chat` and by `tar | nc`, in
/// turn in every round.
fn many_files_table(work: &Path, count: usize, rounds: usize) {
    let folder = work.join("many");
    write_many_files(&folder, count);
    let bytes = (count * SMALL_FILE) as u64;
    let missing = ["tar", "nc"].into_iter().find(|p| !installed(p));
    let (mut chat, mut tar) = (Vec::new(), Vec::new());
    let (mut peak_send, mut peak_receive) = (0, 0);
    for round in 0..rounds {
        let out = work.join(format!("folder-out-{round}"));
        fresh_folder(&out);
        let sent = chat_send(&folder, &out, FOLDER_DONE);
        if let Err(why) = same_tree(&folder, &out.join("many")) {
            panic!("chat: {why}; the receiver said:\n{}", sent.receiver_said);
        }
        chat.push(sent.seconds);
        peak_send = peak_send.max(sent.peak_send);
        peak_receive = peak_receive.max(sent.peak_receive);
        if missing.is_none() {
            fresh_folder(&out);
            let port = free_port();
            tar.push(tar_nc_send(&folder, &out, port, port));
            if let Err(why) = same_tree(&folder, &out.join("many")) {
                panic!("tar | nc: {why}");
            }
        }
        fs::remove_dir_all(&out).unwrap();
    }

    println!(
        "{count} files of {} KiB in {} subfolders ({:.1} MB), {rounds} interleaved rounds; \
         chat timed from typing `/send` to the receiver's `Folder saved` (all on disk, \
         said before the sender's `Sent folder`), tar | nc from its start to the receiver's exit:",
        SMALL_FILE / 1024,
        count.div_ceil(FILES_PER_FOLDER),
        bytes as f64 / 1e6
    );
    let mut rows = vec![(Wire::Encrypted.row(), chat.as_slice())];
    if missing.is_none() {
        rows.push(("tar | nc (OpenBSD)", tar.as_slice()));
    }
    print_rounds(&rows, Some(count), bytes);
    println!(
        "  peak RSS, {}: sender {}, receiver {}",
        Wire::Encrypted.row(),
        mebibytes(peak_send),
        mebibytes(peak_receive)
    );
    match missing {
        Some(missing) => println!("  tar | nc skipped: {missing} is not installed"),
        None => ratio_line(
            &format!("{MANY_FILES}, {} / tar | nc:", Wire::Encrypted.row()),
            median(tar) / median(chat),
            0.5,
        ),
    }
}

/// A folder holding only the bench's file, against that file sent alone.
fn one_file_table(work: &Path, source: &Path, mib: u64, rounds: usize) {
    let folder = work.join("one-file");
    fs::create_dir_all(&folder).unwrap();
    let inside = folder.join("source.bin");
    // A link: the same bytes, without a second copy to write or cache.
    if fs::hard_link(source, &inside).is_err() {
        fs::copy(source, &inside).unwrap();
    }
    let (mut as_folder, mut alone) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let out = work.join(format!("one-file-out-{round}"));
        // Every other round starts with the file alone, as the transfer
        // table rotates its tools: the first turn of a round follows
        // whatever the machine did between rounds, and no row should
        // always be the one that does.
        let folder_first = round % 2 == 0;
        for folder_turn in [folder_first, !folder_first] {
            fresh_folder(&out);
            if folder_turn {
                let sent = chat_send(&folder, &out, FOLDER_DONE);
                if let Err(why) = same_tree(&folder, &out.join("one-file")) {
                    panic!(
                        "chat, folder: {why}; the receiver said:\n{}",
                        sent.receiver_said
                    );
                }
                as_folder.push(sent.seconds);
            } else {
                let sent = chat_send(source, &out, FILE_DONE);
                if !same_bytes(source, &out.join("source.bin")) {
                    panic!(
                        "chat, file: received copy differs; the receiver said:\n{}",
                        sent.receiver_said
                    );
                }
                alone.push(sent.seconds);
            }
        }
        fs::remove_dir_all(&out).unwrap();
    }

    println!(
        "one {mib} MiB file, {} ({rounds} interleaved rounds, the even ones starting with the \
         file alone; from typing `/send` to the receiver's saved line):",
        Wire::Encrypted.row()
    );
    print_rounds(
        &[("as a folder of it", &as_folder), ("alone", &alone)],
        None,
        mib << 20,
    );
    ratio_line(
        &format!("{ONE_FILE} / single-file encrypted rate:"),
        median(alone) / median(as_folder),
        0.9,
    );
}

/// Sends `path` from one encrypted chat to another that saves into `out`,
/// once they are connected, and waits for the receiver's and the sender's
/// lines of `done`; then both leave.
fn chat_send(path: &Path, out: &Path, done: Done) -> Sent {
    let (child, port, output) = start_listener(out, Wire::Encrypted);
    let receiver = Listener {
        child,
        port,
        output,
    };
    let connect = chat_connect(port, Wire::Encrypted);
    chats::send(
        receiver,
        connect,
        &[connected_line(Wire::Encrypted)],
        path,
        done,
    )
}

/// Seconds of each round, by row, with the median, the slowest round, and
/// the rates of the median.
fn print_rounds(rows: &[(&str, &[f64])], files: Option<usize>, bytes: u64) {
    let rounds = rows.first().map_or(0, |(_, seconds)| seconds.len());
    print!("  {:<18}", "seconds by round");
    for round in 1..=rounds {
        print!(" {round:>7}");
    }
    print!(" {:>8} {:>8}", "median", "slowest");
    if files.is_some() {
        print!(" {:>8}", "files/s");
    }
    println!(" {:>8}", "MB/s");
    for (name, seconds) in rows {
        print!("  {name:<18}");
        for s in *seconds {
            print!(" {s:>7.3}");
        }
        let med = median(seconds.to_vec());
        let worst = seconds.iter().copied().fold(0.0, f64::max);
        print!(" {med:>8.3} {worst:>8.3}");
        if let Some(files) = files {
            print!(" {:>8.0}", files as f64 / med);
        }
        println!(" {:>8.0}", bytes as f64 / med / 1e6);
    }
}

/// Lines typed into a chat every [`PING_EVERY`] while it sends the bench's
/// file: how long each takes from its input to the peer's screen.
fn latency_table(work: &Path, source: &Path, mib: u64, wires: &[Wire]) {
    println!(
        "a line every {} ms into a chat sending the {mib} MiB file, input to the peer's screen:",
        PING_EVERY.as_millis()
    );
    for &wire in wires {
        let latency = line_latency(work, source, wire);
        let note = match (wire, latency.worst()) {
            (Wire::Encrypted | Wire::Baseline, Some(worst)) => {
                format!(" (target: worst under 200 ms): {}", verdict(worst < 0.2))
            }
            (Wire::Original, _) => " (on the original wire lines wait for the file)".into(),
            (_, None) => String::new(),
        };
        let line = format!("  {:<17} {}", wire.row(), latency.summary(&note));
        println!("{line}");
    }
}

fn line_latency(work: &Path, source: &Path, wire: Wire) -> Latency {
    let out = work.join("latency");
    let _ = fs::remove_dir_all(&out);
    let (child, port, output) = start_listener(&out, wire);
    let receiver = Listener {
        child,
        port,
        output,
    };
    let latency = chats::line_latency(receiver, chat_connect(port, wire), source, wire.row());
    let _ = fs::remove_dir_all(&out);
    latency
}

/// The time from spawning `chat connect` to its line saying it is
/// connected, encrypted and not, each to a fresh listener; the difference
/// is the handshake's cost.
fn handshake(work: &Path) {
    let mut encrypted = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..HANDSHAKE_ROUNDS {
        encrypted.push(connect_time(work, Wire::Encrypted));
        plain.push(connect_time(work, Wire::Original));
    }
    let (encrypted, plain) = (median(encrypted), median(plain));
    println!(
        "spawning `chat connect` to its line saying it is connected (median of {HANDSHAKE_ROUNDS}):"
    );
    println!(
        "  {:<17} {:>7.2} ms   to `{}`",
        Wire::Encrypted.row(),
        encrypted * 1e3,
        connected_line(Wire::Encrypted)
    );
    println!(
        "  {:<17} {:>7.2} ms   to `{}`",
        Wire::Original.row(),
        plain * 1e3,
        connected_line(Wire::Original)
    );
    let cost = encrypted - plain;
    println!(
        "  {:<17} {:>7.2} ms   (target < 5 ms): {}",
        "handshake",
        cost * 1e3,
        verdict(cost < 0.005)
    );
}

/// The beginning of the line a connecting chat prints once it can chat.
fn connected_line(wire: Wire) -> &'static str {
    match wire {
        Wire::Original => "[System] Connected to",
        Wire::Encrypted | Wire::Baseline => "[System] Encrypted. Safety code:",
    }
}

/// Seconds from spawning `chat connect` to [`connected_line`]; then both
/// chats leave.
fn connect_time(work: &Path, wire: Wire) -> f64 {
    let (mut listener, port, _output) = start_listener(&work.join("unused"), wire);
    let started = Instant::now();
    let mut connector = chat_connect(port, wire)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start chat connect");
    let mut output = BufReader::new(connector.stdout.take().unwrap());
    let mut said = String::new();
    loop {
        let start = said.len();
        if output.read_line(&mut said).unwrap() == 0 {
            panic!(
                "{}: chat connect ended before `{}`; it said:\n{said}",
                wire.row(),
                connected_line(wire)
            );
        }
        if said[start..].starts_with(connected_line(wire)) {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // End of input: the connector leaves, and the listener with it.
    drop(connector.stdin.take());
    let _ = std::io::copy(&mut output, &mut std::io::sink());
    assert!(connector.wait().unwrap().success());
    assert!(listener.wait().unwrap().success());
    seconds
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
    println!("  {:<13} {:>8.3} s", Wire::Original.row(), chat);
    if have_nc {
        let nc = median(nc_times);
        println!(
            "  {:<13} {:>8.3} s   (chat takes {:.2}x the time of nc)",
            "nc",
            nc,
            chat / nc
        );
    } else {
        println!("  {:<13} skipped: not installed", "nc");
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
    let (mut receiver, port, output) = start_listener(&work.join("unused"), Wire::Original);
    let started = Instant::now();
    let mut sender = chat_connect(port, Wire::Original)
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

/// Launch to `Listening on`, and a whole connect-and-quit round, on the
/// original wire.
fn start_up(work: &Path, rounds: usize) {
    let mut launch = Vec::new();
    let mut round_trip = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let (mut listener, port, _output) = start_listener(&work.join("unused"), Wire::Original);
        launch.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let status = chat_connect(port, Wire::Original)
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
