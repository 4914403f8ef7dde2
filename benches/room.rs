//! Text fan-out of a room: a `chat listen --room` host with many members,
//! each message passed to all the others; the delay from a member sending
//! to the others receiving, the host's CPU time and its peak memory, beside
//! the same load through a plain relay measured in the same run, so that
//! the figures mean something on a busy machine.
//!
//! Run with `cargo bench --bench room`. Settings come from the environment:
//! `CHAT_BENCH_ROOM_MEMBERS` (default 50), `CHAT_BENCH_ROOM_RATE` (messages
//! a second over the whole room, sent by the members in turn, default 100)
//! and `CHAT_BENCH_ROOM_SECS` (how long the load lasts, default 20; the
//! baseline gets as long).
//!
//! The members live in this process: each joins the real host with the
//! handshake and its own name, answers its pings, and reads on a thread of
//! its own. Every message carries its sender, its number and the moment it
//! was sent, so each receiver takes the delay on the same clock as the
//! sender. The baseline relay is written here: lines of plain TCP, one
//! thread per connection, each line written to the others under one lock;
//! it is what loopback and the wake-ups of this machine cost before chat
//! does any work of its own. Both rooms are filled first, then the load
//! goes to one and the other in turns of a few seconds, so that a busy
//! spell of a shared machine falls on both.
//!
//! Targets (from the issue that asked for rooms): p99 of the delay under
//! 20 ms, and the host's peak RSS under 32 MiB. A missed target, and a
//! message that is lost or arrives twice, is reported, never a failure.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::ops::Range;
use std::os::unix::thread::JoinHandleExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chat::net::secure::handshake::{Side, handshake};
use chat::net::secure::record::{RecordReader, RecordWriter};
use chat::room::throttle::MESSAGES_PER_SECOND;
use chat::wire::message::{Change, Message};

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// The host's `--max-peers` at least: the default of 16 is too few.
const MAX_PEERS: usize = 60;

/// Length of every message's text: a line of chat as people type them,
/// the stamp included.
const TEXT_LEN: usize = 80;

/// How long one room takes the load before the other has its turn.
const TURN_SECONDS: f64 = 5.0;

/// How long all members may take to join, and the last messages of a turn
/// to arrive once it is over.
const JOIN_WITHIN: Duration = Duration::from_secs(30);
const SETTLE_WITHIN: Duration = Duration::from_secs(10);

/// How long the host may take to exit after `/quit` before it is killed.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// A member that hears nothing for this long stops reading; the host pings
/// every 15 s, so only a hung host is that quiet.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The targets of the issue.
const P99_TARGET: Duration = Duration::from_millis(20);
const RSS_TARGET_MIB: f64 = 32.0;

fn main() {
    let load = Load {
        members: setting("CHAT_BENCH_ROOM_MEMBERS", 50_usize).max(2),
        rate: setting("CHAT_BENCH_ROOM_RATE", 100.0_f64).max(0.1),
        seconds: setting("CHAT_BENCH_ROOM_SECS", 20.0_f64).max(0.1),
    };
    let turns = (load.seconds / TURN_SECONDS).ceil() as usize;
    println!("machine: {}", machine());
    println!(
        "load: {} members, {} messages/s over the room ({:.2}/s each, in turn), {} s in {turns} \
         turns taken with the baseline; each message to the {} others; {TEXT_LEN}-byte texts; \
         loopback",
        load.members,
        load.rate,
        load.rate / load.members as f64,
        load.seconds,
        load.members - 1
    );
    if load.rate / load.members as f64 > MESSAGES_PER_SECOND {
        // Past a burst, the host reads such a member more slowly: its
        // messages wait, and the delays measure the throttle instead.
        println!(
            "note: over {MESSAGES_PER_SECOND} messages/s for one member: the host's throttle \
             slows them"
        );
    }

    let clock = Clock(Instant::now());
    let joining = Instant::now();
    let mut chat = ChatRoom::open(load, clock);
    println!(
        "chat's host started and {} members joined it, each with its handshake, in {:.2} s",
        load.members,
        joining.elapsed().as_secs_f64()
    );
    let mut relay = RelayRoom::open(load, clock);
    println!();

    let mut chat_sending = Sending::default();
    let mut relay_sending = Sending::default();
    let total = load.messages();
    for turn in 0..turns {
        let messages = turn * total / turns..(turn + 1) * total / turns;
        // Each goes first every other turn.
        let mut order: [(&mut dyn Room, &mut Sending); 2] = [
            (&mut chat, &mut chat_sending),
            (&mut relay, &mut relay_sending),
        ];
        if turn % 2 == 1 {
            order.reverse();
        }
        for (room, sending) in order {
            take_turn(room, sending, load, clock, messages.clone());
        }
    }

    let (chat, host) = chat.close(chat_sending);
    let baseline = relay.close(relay_sending);

    let chat_delays = chat.delays();
    let base_delays = baseline.delays();
    println!(
        "{:<26} {:>6} {:>19} {:>10} {:>10} {:>10} {:>10}",
        "delay, send to receipt", "sent", "deliveries", "median", "p90", "p99", "max"
    );
    for (run, delays) in [(&chat, &chat_delays), (&baseline, &base_delays)] {
        let count = run.count();
        println!(
            "{:<26} {:>6} {:>19} {:>10} {:>10} {:>10} {:>10}",
            run.name,
            run.sending.sent.len(),
            format!("{}/{}", count.received, count.expected),
            millis(percentile(delays, 0.5)),
            millis(percentile(delays, 0.9)),
            millis(percentile(delays, 0.99)),
            millis(delays.last().copied()),
        );
    }
    let chat_p99 = percentile(&chat_delays, 0.99);
    match (chat_p99, percentile(&base_delays, 0.99)) {
        (Some(chat), Some(base)) if base > Duration::ZERO => println!(
            "chat p99 / baseline p99: {:.1}x",
            chat.as_secs_f64() / base.as_secs_f64()
        ),
        _ => println!("chat p99 / baseline p99: -"),
    }
    println!();

    for run in [&chat, &baseline] {
        run.report_trouble();
    }
    println!(
        "chat host CPU (user + system): {:.2} s during the load ({}), {:.2} s in all \
         from its start",
        chat.sending.cpu,
        per_thousand(&chat),
        host.total_cpu
    );
    println!(
        "plain relay CPU (its threads): {:.2} s during the load ({})",
        baseline.sending.cpu,
        per_thousand(&baseline)
    );
    let rss = host.peak_kib.map(|kib| kib as f64 / 1024.0);
    println!(
        "chat host peak RSS (VmHWM): {}",
        rss.map_or("unknown".into(), |mib| format!("{mib:.1} MiB"))
    );
    println!(
        "p99 under {} ms: {}",
        P99_TARGET.as_millis(),
        verdict(chat_p99.is_some_and(|p99| p99 < P99_TARGET))
    );
    println!(
        "peak RSS under {RSS_TARGET_MIB} MiB: {}",
        verdict(rss.is_some_and(|mib| mib < RSS_TARGET_MIB))
    );
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

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// CPU time of a run's relaying per 1000 deliveries.
fn per_thousand(run: &Run) -> String {
    match run.count().received {
        0 => "nothing delivered".into(),
        deliveries => format!(
            "{:.1} ms per 1000 deliveries",
            run.sending.cpu * 1e3 / (deliveries as f64 / 1e3)
        ),
    }
}

fn millis(delay: Option<Duration>) -> String {
    delay.map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
}

/// The value below which a share `q` of the sorted `values` lies (nearest
/// rank).
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a room is put through.
#[derive(Clone, Copy)]
struct Load {
    members: usize,
    /// Messages a second over the whole room.
    rate: f64,
    seconds: f64,
}

impl Load {
    fn messages(self) -> usize {
        (self.rate * self.seconds).round() as usize
    }
}

/// One clock for senders and receivers: all are in this process, so a
/// delay is one reading minus another.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// A message's text: who sent it, its number among that sender's, and
/// when it was sent, padded to [`TEXT_LEN`].
fn stamp(sender: usize, number: usize, sent: u64) -> String {
    let mut text = format!("{sender} {number} {sent} ");
    let pad = TEXT_LEN.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('~', pad));
    text
}

fn read_stamp(text: &str) -> Option<(usize, usize, u64)> {
    let mut fields = text.split(' ');
    Some((
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
    ))
}

/// What one member heard.
#[derive(Default)]
struct Tally {
    /// The delay of every stamped message, in nanoseconds.
    delays: Vec<u64>,
    /// How many times each message, by sender and number, arrived.
    heard: HashMap<(usize, usize), u32>,
    /// Texts without a stamp of ours.
    strange: usize,
    /// Anything else the host said that means trouble: a member leaving or
    /// dropped, a notice.
    news: Vec<String>,
    /// Keepalive pings answered.
    pings: usize,
    /// Why reading ended other than by the host's goodbye.
    ended: Option<String>,
}

impl Tally {
    fn note(&mut self, text: &str, clock: Clock, delivered: &AtomicU64) {
        let now = clock.now();
        match read_stamp(text) {
            Some((sender, number, sent)) => {
                self.delays.push(now.saturating_sub(sent));
                *self.heard.entry((sender, number)).or_default() += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            None => self.strange += 1,
        }
    }
}

/// A room under load, as the turns see it.
trait Room {
    /// Sends `text` to the room as member `member`.
    fn say(&mut self, member: usize, text: &str) -> io::Result<()>;
    /// Messages its members have received so far.
    fn delivered(&self) -> u64;
    /// CPU seconds its relaying has used so far.
    fn cpu_seconds(&self) -> f64;
}

/// What was sent to a room, over all its turns.
#[derive(Default)]
struct Sending {
    /// Every message that went out, by sender and number.
    sent: Vec<(usize, usize)>,
    /// Sends that failed, and why.
    failed: Vec<String>,
    /// How far behind its schedule the sending fell at worst: a busy
    /// machine shows here first.
    late: Duration,
    /// Turns after which not everything arrived in time.
    unsettled: usize,
    /// CPU seconds the room's relaying used in its turns.
    cpu: f64,
}

/// One turn of the load: `messages` (numbered over the whole load) sent at
/// an even pace, each by the next member in turn; then waits until all
/// have arrived.
fn take_turn(
    room: &mut dyn Room,
    sending: &mut Sending,
    load: Load,
    clock: Clock,
    messages: Range<usize>,
) {
    let cpu = room.cpu_seconds();
    let gap = Duration::from_secs_f64(1.0 / load.rate);
    let start = Instant::now();
    for (k, i) in messages.enumerate() {
        // Each from the start, so that one late wake-up does not push back
        // the rest.
        let due = start + gap.mul_f64(k as f64);
        match due.checked_duration_since(Instant::now()) {
            Some(wait) => thread::sleep(wait),
            None => sending.late = sending.late.max(due.elapsed()),
        }
        let (sender, number) = (i % load.members, i / load.members);
        match room.say(sender, &stamp(sender, number, clock.now())) {
            Ok(()) => sending.sent.push((sender, number)),
            Err(e) => sending
                .failed
                .push(format!("member {sender} could not send: {e}")),
        }
    }
    let expected = (sending.sent.len() * (load.members - 1)) as u64;
    let deadline = Instant::now() + SETTLE_WITHIN;
    while room.delivered() < expected {
        if Instant::now() > deadline {
            sending.unsettled += 1;
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
    sending.cpu += room.cpu_seconds() - cpu;
}

/// The load through one room, as its members heard it.
struct Run {
    name: &'static str,
    sending: Sending,
    /// Each member's tally, by its index.
    tallies: Vec<Tally>,
}

/// Deliveries, checked message by message.
struct Count {
    expected: usize,
    received: usize,
    missing: usize,
    duplicates: usize,
    /// Arrivals of messages never sent, or sent back to their sender.
    unexpected: usize,
}

impl Run {
    fn count(&self) -> Count {
        let members = self.tallies.len();
        let sent: HashSet<(usize, usize)> = self.sending.sent.iter().copied().collect();
        let mut count = Count {
            expected: sent.len() * (members - 1),
            received: 0,
            missing: 0,
            duplicates: 0,
            unexpected: 0,
        };
        for (receiver, tally) in self.tallies.iter().enumerate() {
            for &(sender, number) in &sent {
                if sender == receiver {
                    continue;
                }
                match tally.heard.get(&(sender, number)).copied().unwrap_or(0) {
                    0 => count.missing += 1,
                    times => count.duplicates += times as usize - 1,
                }
            }
            for (&(sender, number), &times) in &tally.heard {
                count.received += times as usize;
                if sender == receiver || !sent.contains(&(sender, number)) {
                    count.unexpected += times as usize;
                }
            }
        }
        count
    }

    /// All delays, sorted.
    fn delays(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self
            .tallies
            .iter()
            .flat_map(|t| t.delays.iter().map(|&ns| Duration::from_nanos(ns)))
            .collect();
        all.sort();
        all
    }

    /// Says loudly whatever went wrong, and how late the sending fell.
    fn report_trouble(&self) {
        let count = self.count();
        let sending = &self.sending;
        let mut trouble = Vec::new();
        if count.missing > 0 {
            trouble.push(format!("{} deliveries MISSING", count.missing));
        }
        if count.duplicates > 0 {
            trouble.push(format!("{} DUPLICATE deliveries", count.duplicates));
        }
        if count.unexpected > 0 {
            trouble.push(format!(
                "{} UNEXPECTED deliveries (never sent, or back to their sender)",
                count.unexpected
            ));
        }
        if sending.unsettled > 0 {
            trouble.push(format!(
                "after {} turns, not everything arrived within {} s",
                sending.unsettled,
                SETTLE_WITHIN.as_secs()
            ));
        }
        trouble.extend(sending.failed.iter().take(5).cloned());
        if sending.failed.len() > 5 {
            trouble.push(format!("{} more sends failed", sending.failed.len() - 5));
        }
        for (member, tally) in self.tallies.iter().enumerate() {
            if tally.strange > 0 {
                trouble.push(format!(
                    "member {member} heard {} texts without a stamp",
                    tally.strange
                ));
            }
            if let Some(why) = &tally.ended {
                trouble.push(format!("member {member} stopped reading: {why}"));
            }
        }
        let news: HashSet<&String> = self.tallies.iter().flat_map(|t| &t.news).collect();
        let mut news: Vec<&String> = news.into_iter().collect();
        news.sort();
        trouble.extend(
            news.iter()
                .take(10)
                .map(|n| format!("members were told: {n}")),
        );
        let late = sending.late.as_secs_f64() * 1e3;
        if trouble.is_empty() {
            let pings: usize = self.tallies.iter().map(|t| t.pings).sum();
            println!(
                "{}: every message reached all {} others exactly once; sending fell {late:.2} ms \
                 behind its schedule at worst{}",
                self.name,
                self.tallies.len() - 1,
                if pings > 0 {
                    format!("; {pings} keepalive pings answered")
                } else {
                    String::new()
                }
            );
        } else {
            println!(
                "{}: TROUBLE (sending fell {late:.2} ms behind at worst):",
                self.name
            );
            for line in trouble {
                println!("  {line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// chat's room

/// The `chat listen --room` under test and its members.
struct ChatRoom {
    host: Host,
    members: Vec<ChatMember>,
    delivered: Arc<AtomicU64>,
}

/// What the host cost over the whole run.
struct HostCost {
    /// CPU seconds from its start to the end of the load.
    total_cpu: f64,
    /// Its peak resident memory, in KiB.
    peak_kib: Option<u64>,
}

impl ChatRoom {
    /// Starts the host and lets every member in.
    fn open(load: Load, clock: Clock) -> Self {
        let host = Host::start(load.members.max(MAX_PEERS));
        let delivered = Arc::new(AtomicU64::new(0));
        let members = (0..load.members)
            .map(|i| ChatMember::join(host.port, i, clock, delivered.clone()))
            .collect();
        host.wait_joined(load.members);
        Self {
            host,
            members,
            delivered,
        }
    }

    /// Closes the room once the load is over.
    fn close(mut self, sending: Sending) -> (Run, HostCost) {
        let cost = HostCost {
            total_cpu: cpu_seconds(self.host.pid()).unwrap_or(0.0),
            peak_kib: vm_hwm(self.host.pid()),
        };
        self.host.quit();
        let tallies = self.members.into_iter().map(ChatMember::finish).collect();
        self.host.finish();
        let run = Run {
            name: "chat --room (encrypted)",
            sending,
            tallies,
        };
        (run, cost)
    }
}

impl Room for ChatRoom {
    fn say(&mut self, member: usize, text: &str) -> io::Result<()> {
        self.members[member].send(&Message::Text(text))
    }

    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.host.pid()).unwrap_or(0.0)
    }
}

/// The `chat listen --room` process.
struct Host {
    child: Child,
    input: Option<ChildStdin>,
    port: u16,
    said: Arc<Mutex<HostSaid>>,
    reading: Option<JoinHandle<()>>,
}

/// What the host printed, as it was read.
#[derive(Default)]
struct HostSaid {
    joined: usize,
    /// Its own lines besides the joins: anything about members leaving
    /// or dropped shows here.
    system: Vec<String>,
}

impl Host {
    fn start(max_peers: usize) -> Self {
        let mut child = Command::new(CHAT)
            .args(["listen", "--room", "--host", "127.0.0.1", "--port", "0"])
            .args(["--name", "host", "--max-peers", &max_peers.to_string()])
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start chat listen --room");
        let mut lines = BufReader::new(child.stdout.take().unwrap());
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
        let said = Arc::new(Mutex::new(HostSaid::default()));
        // The host prints every message; its pipe must never fill.
        let reading = {
            let said = said.clone();
            thread::spawn(move || {
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if let Some(news) = line.trim_end().strip_prefix("[System] ") {
                        let mut said = lock(&said);
                        if news.contains(" joined the room (") {
                            said.joined += 1;
                        } else {
                            said.system.push(news.to_string());
                        }
                    }
                    line.clear();
                }
            })
        };
        Self {
            input: child.stdin.take(),
            child,
            port,
            said,
            reading: Some(reading),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the host has printed `members` joins.
    fn wait_joined(&self, members: usize) {
        let deadline = Instant::now() + JOIN_WITHIN;
        loop {
            let said = lock(&self.said);
            if said.joined >= members {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {members} joins within {} s; the host said:\n{}",
                said.joined,
                JOIN_WITHIN.as_secs(),
                said.system.join("\n")
            );
            drop(said);
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Tells the host to close the room, and waits for it to exit (killing
    /// it if it does not).
    fn quit(&mut self) {
        if let Some(mut input) = self.input.take() {
            let _ = input.write_all(b"/quit\n");
        }
        let deadline = Instant::now() + EXIT_WITHIN;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return,
                Ok(Some(status)) => return println!("the room's host exited with {status}"),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    println!(
                        "the room's host did not exit within {} s of /quit: killed",
                        EXIT_WITHIN.as_secs()
                    );
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }

    /// Once it has exited: reports what it said about members leaving.
    fn finish(mut self) {
        if let Some(reading) = self.reading.take() {
            let _ = reading.join();
        }
        let said = lock(&self.said);
        let trouble: Vec<&String> = said
            .system
            .iter()
            .filter(|l| l.contains("left the room") || l.contains("dropped from the room"))
            .collect();
        if !trouble.is_empty() {
            println!("the room's host said, about members leaving:");
            for line in trouble.iter().take(10) {
                println!("  {line}");
            }
        }
    }
}

/// A member of chat's room, made from the library's parts: the handshake,
/// sealed records, typed messages.
struct ChatMember {
    writer: Arc<Mutex<RecordWriter<TcpStream>>>,
    reading: JoinHandle<Tally>,
}

impl ChatMember {
    /// Joins as `m<index>` and reads the host's Hello and Room: then it is
    /// in, and a thread reads the rest.
    fn join(port: u16, index: usize, clock: Clock, delivered: Arc<AtomicU64>) -> Self {
        let name = format!("m{index:02}");
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("{name} cannot connect to port {port}: {e}"));
        // As chat's own connections are.
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let agreed = handshake(Side::Connecting, &mut stream, None)
            .unwrap_or_else(|e| panic!("{name}: the handshake failed: {e}"));
        let mut writer = RecordWriter::new(stream.try_clone().unwrap(), &agreed.send_key);
        let mut reader = RecordReader::new(
            BufReader::new(stream.try_clone().unwrap()),
            &agreed.receive_key,
        );
        send(&mut writer, &Message::Hello { name: &name })
            .unwrap_or_else(|e| panic!("{name} cannot say its name: {e}"));
        for wanted in ["Hello", "Room"] {
            let record = reader
                .next_record()
                .unwrap_or_else(|e| panic!("{name}: reading the host failed: {e}"))
                .unwrap_or_else(|| panic!("{name}: the host closed before letting it in"));
            let message = Message::decode(record).unwrap_or_else(|e| panic!("{name}: {e}"));
            let fits = match message {
                Message::Hello { .. } => wanted == "Hello",
                Message::Room { .. } => wanted == "Room",
                _ => false,
            };
            assert!(fits, "{name} expected the host's {wanted}, got {message:?}");
        }
        let writer = Arc::new(Mutex::new(writer));
        let reading = {
            let writer = writer.clone();
            thread::spawn(move || read_room(reader, &writer, clock, &delivered))
        };
        Self { writer, reading }
    }

    fn send(&self, message: &Message<'_>) -> io::Result<()> {
        send(&mut lock(&self.writer), message)
    }

    /// Once the host has gone: what it heard.
    fn finish(self) -> Tally {
        self.reading.join().unwrap_or_else(|_| Tally {
            ended: Some("its reader panicked".into()),
            ..Tally::default()
        })
    }
}

fn send(writer: &mut RecordWriter<TcpStream>, message: &Message<'_>) -> io::Result<()> {
    let mut bytes = Vec::new();
    message.encode(&mut bytes);
    writer.send(&bytes)?;
    writer.flush()
}

/// Reads a member's side until the host says goodbye, answering pings.
fn read_room(
    mut reader: RecordReader<BufReader<TcpStream>>,
    writer: &Mutex<RecordWriter<TcpStream>>,
    clock: Clock,
    delivered: &AtomicU64,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => {
                // Said goodbye back, the host need not wait to cut us.
                let mut writer = lock(writer);
                let _ = writer.close();
                let _ = writer.get_ref().shutdown(Shutdown::Write);
                return tally;
            }
            Err(e) => {
                tally.ended = Some(e.to_string());
                return tally;
            }
        };
        match Message::decode(record) {
            Ok(Message::Said { text, .. }) => tally.note(text, clock, delivered),
            Ok(Message::Ping) => {
                tally.pings += 1;
                if let Err(e) = send(&mut lock(writer), &Message::Pong) {
                    tally
                        .news
                        .push(format!("a ping could not be answered: {e}"));
                }
            }
            // Those who joined after us.
            Ok(Message::Presence {
                change: Change::Joined,
                ..
            }) => {}
            Ok(Message::Presence {
                change,
                name,
                reason,
            }) => tally.news.push(format!("{name}: {change:?} {reason}")),
            Ok(Message::Notice { text }) => tally.news.push(format!("notice: {text}")),
            Ok(other) => tally.news.push(format!("unexpected message {other:?}")),
            Err(e) => {
                tally.ended = Some(format!("a message that does not decode: {e}"));
                return tally;
            }
        }
    }
}

/// CPU time, user and system, of process `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name in parentheses may hold spaces; the fields after it start
    // with the third, the state, so utime (14th) and stime (15th) are at
    // 11 and 12.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

/// Clock ticks a second, in which /proc counts CPU time.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a setting of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Peak resident memory of process `pid`, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---------------------------------------------------------------------------
// The baseline

/// [`Relay`] and its members, which speak plain lines.
struct RelayRoom {
    relay: Relay,
    writers: Vec<TcpStream>,
    readers: Vec<JoinHandle<Tally>>,
    delivered: Arc<AtomicU64>,
}

impl RelayRoom {
    fn open(load: Load, clock: Clock) -> Self {
        let mut relay = Relay::start(load.members);
        let delivered = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::with_capacity(load.members);
        let mut readers = Vec::with_capacity(load.members);
        for _ in 0..load.members {
            let stream =
                TcpStream::connect(("127.0.0.1", relay.port)).expect("cannot reach the relay");
            stream.set_nodelay(true).unwrap();
            stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            let input = BufReader::new(stream.try_clone().unwrap());
            let delivered = delivered.clone();
            readers.push(thread::spawn(move || read_lines(input, clock, &delivered)));
            writers.push(stream);
        }
        relay.wait_joined();
        Self {
            relay,
            writers,
            readers,
            delivered,
        }
    }

    fn close(self, sending: Sending) -> Run {
        self.relay.stop();
        let tallies = self
            .readers
            .into_iter()
            .map(|r| r.join().expect("a baseline member's reader panicked"))
            .collect();
        Run {
            name: "plain relay (baseline)",
            sending,
            tallies,
        }
    }
}

impl Room for RelayRoom {
    fn say(&mut self, member: usize, text: &str) -> io::Result<()> {
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        self.writers[member].write_all(&line)
    }

    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn cpu_seconds(&self) -> f64 {
        self.relay.cpu_seconds()
    }
}

fn read_lines(mut input: BufReader<TcpStream>, clock: Clock, delivered: &AtomicU64) -> Tally {
    let mut tally = Tally::default();
    let mut line = String::new();
    loop {
        match input.read_line(&mut line) {
            Ok(0) => return tally,
            Ok(_) => tally.note(line.trim_end(), clock, delivered),
            Err(e) => {
                tally.ended = Some(e.to_string());
                return tally;
            }
        }
        line.clear();
    }
}

/// The least a room can be: every line one connection sends is written as
/// it is to every other, under one lock so that all hear the lines in one
/// order; a thread for each connection, no encryption, no names, no queues.
struct Relay {
    port: u16,
    connections: Arc<Mutex<Vec<(usize, TcpStream)>>>,
    /// Takes the connections in, then hands over their threads.
    accepting: Option<JoinHandle<Vec<JoinHandle<()>>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Listens for `members` connections.
    fn start(members: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot listen for the relay");
        let port = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<Vec<(usize, TcpStream)>>> = Arc::default();
        let accepting = {
            let connections = connections.clone();
            thread::spawn(move || {
                (0..members)
                    .map(|id| {
                        let (stream, _) = listener.accept().expect("the relay cannot accept");
                        stream.set_nodelay(true).unwrap();
                        lock(&connections).push((id, stream.try_clone().unwrap()));
                        let connections = connections.clone();
                        thread::spawn(move || relay_lines(id, stream, &connections))
                    })
                    .collect()
            })
        };
        Self {
            port,
            connections,
            accepting: Some(accepting),
            threads: Vec::new(),
        }
    }

    /// Waits until all members are in; they have connected already.
    fn wait_joined(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            self.threads = accepting
                .join()
                .expect("the relay could not take everyone in");
        }
    }

    /// CPU seconds of the relay's threads so far.
    fn cpu_seconds(&self) -> f64 {
        self.threads.iter().filter_map(thread_cpu_seconds).sum()
    }

    /// Ends every connection: the members' readers see the end.
    fn stop(mut self) {
        self.wait_joined();
        for (_, stream) in lock(&self.connections).iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// CPU seconds, user and system, that a running thread has used so far, to
/// the nanosecond: /proc counts a thread's time in whole clock ticks, as
/// much as one relay thread uses in the whole load.
fn thread_cpu_seconds(thread: &JoinHandle<()>) -> Option<f64> {
    let mut clock: libc::clockid_t = 0;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the thread has not been joined, so its handle is valid; each
    // call only writes into the value it is given.
    let failed = unsafe {
        libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) != 0
            || libc::clock_gettime(clock, &mut now) != 0
    };
    (!failed).then_some(now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9)
}

/// Passes each line connection `id` sends to all the others.
fn relay_lines(id: usize, stream: TcpStream, connections: &Mutex<Vec<(usize, TcpStream)>>) {
    let mut input = BufReader::new(stream);
    let mut line = Vec::new();
    while input.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        for (other, stream) in lock(connections).iter() {
            if *other != id {
                let mut out = stream;
                // A member that is gone is not waited for.
                let _ = out.write_all(&line);
            }
        }
        line.clear();
    }
}
