//! Reaching a peer far away: `chat` over a path with a long round trip,
//! and through magic-wormhole's transit relay, each against what moves the
//! same bytes without chat's protocol, measured in the same run so that
//! only the ratios matter.
//!
//! Run with `cargo bench --bench reach`. Two parts, each a table:
//!
//! - **A long round trip.** This kernel has no netem, so a proxy in the
//!   bench (`reach/delay.rs`) holds what passes each way for
//!   `CHAT_BENCH_DELAY_MS` (default 50, so 100 ms more per round trip than
//!   loopback) without capping bandwidth; the bench first shows that a
//!   1-byte ping-pong through it takes the round trip, and its last row
//!   sends the file with `nc` past it, on loopback alone. Through it: a
//!   folder of `CHAT_BENCH_FOLDER_FILES` files of 4 KiB of random bytes
//!   (default 10,000) sent by `chat` (`/send DIR`, encrypted) against
//!   `tar c | nc` into `nc -l | tar x`, and one file of `CHAT_BENCH_MIB`
//!   MiB (default 1024) sent by `chat` against `nc`. A protocol that waits
//!   a round trip per file or per window loses here.
//! - **Through the relay.** The real mailbox server and transit relay
//!   from PyPI, in the versions the tests pin, installed in the venv the
//!   tests use too (`target/wormhole-servers/venv`, made at the first run
//!   of either: python3 with venv and pip, and PyPI within reach; the part
//!   is skipped, saying why, when they are not) and started on free
//!   loopback ports. Two chats
//!   meet by code at the mailbox (`chat listen --code`, `chat connect
//!   --code CODE`) and connect through the relay (`--relay-only`), or
//!   directly as they do on the same machine; each row checks which way it
//!   went, and the relay's CPU time shows what passed through it. The file
//!   goes both ways in turns, then a line typed every 50 ms into the
//!   sending chat is timed from input to the peer's screen while the file
//!   goes, relayed and direct.
//!
//! `CHAT_BENCH_ROUNDS` sets the rounds of every row (default 3), taken in
//! turns, each round starting with another row; `CHAT_BENCH_FOLDER_ROUNDS`
//! those of the folder (default 1: chat's folder is the slowest row);
//! `CHAT_BENCH_REACH` the parts to run (`far`, `relay`, or both, the
//! default, comma-separated). Every copy is checked against the source. A
//! missed target is reported, never a failure.

mod common;
#[path = "reach/delay.rs"]
mod delay;
#[path = "reach/servers.rs"]
mod servers;

use std::fs;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::chats::{self, FILE_DONE, FOLDER_DONE, Listener, PING_EVERY};
use common::files::{
    FILES_PER_FOLDER, SMALL_FILE, fresh_folder, same_bytes, same_tree, write_many_files,
    write_random,
};
use common::ports::free_port;
use common::programs::{installed, nc_send, tar_nc_send};
use common::{machine, median, setting};
use delay::DelayProxy;
use servers::Servers;

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// Rows of the tables.
const CHAT_ROW: &str = "chat (encrypted)";
const TAR_NC: &str = "tar | nc (OpenBSD)";
const NC: &str = "nc (OpenBSD)";
const CHAT_LOOPBACK: &str = "chat, loopback alone";
const NC_LOOPBACK: &str = "nc, loopback alone";
const RELAYED: &str = "chat, relayed";
const DIRECT: &str = "chat, direct";

/// What the connecting chat says once it can chat, by how it connected.
const ENCRYPTED: &str = "[System] Encrypted. Safety code:";
const VERIFIED: &str = "[System] Encrypted and verified with the code";
const THROUGH_RELAY: &str = "[System] Connected through the relay";
const DIRECTLY: &str = "[System] Connected directly to";
/// What the listener says when a peer connected to it directly.
const CONNECTED_BY: &str = "[System] Connected directly by";

/// Most a chat may take over the reference, in time, on the long path.
const FAR_TARGET: f64 = 1.5;

/// Ping-pongs timed through the proxy.
const PINGS: usize = 20;

/// The settings, from the environment.
struct Settings {
    mib: u64,
    files: usize,
    rounds: usize,
    folder_rounds: usize,
    one_way: Duration,
}

fn main() {
    let settings = Settings {
        mib: setting("CHAT_BENCH_MIB", 1024),
        files: setting("CHAT_BENCH_FOLDER_FILES", 10_000),
        rounds: setting("CHAT_BENCH_ROUNDS", 3).max(1),
        folder_rounds: setting("CHAT_BENCH_FOLDER_ROUNDS", 1),
        one_way: Duration::from_millis(setting("CHAT_BENCH_DELAY_MS", 50)),
    };
    let parts: String = setting("CHAT_BENCH_REACH", "far,relay".to_string());
    let wanted = |part: &str| parts.split(',').any(|p| p.trim() == part);

    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let work = target.join("reach");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("cannot create the work folder");
    println!("machine: {}", machine());
    println!(
        "file: {} MiB of random bytes; {} rounds of each row, taken in turns\n",
        settings.mib, settings.rounds
    );
    let source = work.join("source.bin");
    write_random(&source, settings.mib << 20);

    if wanted("far") {
        far(&work, &source, &settings);
    }
    if wanted("relay") {
        if wanted("far") {
            println!();
        }
        let target = target
            .parent()
            .expect("the bench's folder is in the target folder");
        match Servers::start(target, &work.join("servers")) {
            Ok(servers) => relayed(&work, &source, &settings, &servers),
            Err(why) => println!("through the relay: skipped, {why}"),
        }
    }
    let _ = fs::remove_dir_all(&work);
}

/// The long round trip: the proxy checked, then the folder and the file.
fn far(work: &Path, source: &Path, settings: &Settings) {
    let one_way = settings.one_way;
    println!(
        "a path with a round trip {} ms longer than loopback's: a proxy in this bench holds \
         what passes for {} ms each way",
        2 * one_way.as_millis(),
        one_way.as_millis()
    );
    println!(
        "  a 1-byte ping-pong (median of {PINGS}): {:.1} ms through the proxy, {:.2} ms without",
        ping_pong(Some(one_way)) * 1e3,
        ping_pong(None) * 1e3
    );
    let missing = ["nc", "tar"].into_iter().find(|p| !installed(p));
    if let Some(missing) = missing {
        println!("  the references are skipped: {missing} is not installed");
    }
    if settings.folder_rounds > 0 {
        println!();
        far_folder(work, settings, missing.is_none());
    }
    println!();
    far_file(work, source, settings, missing.is_none());
}

/// Seconds of a 1-byte ping-pong, through a proxy holding each byte
/// `one_way` or straight: the median of [`PINGS`].
fn ping_pong(one_way: Option<Duration>) -> f64 {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    let answering = thread::spawn(move || {
        let (mut peer, _) = echo.accept().unwrap();
        peer.set_nodelay(true).unwrap();
        let mut byte = [0];
        while peer.read_exact(&mut byte).is_ok() && peer.write_all(&byte).is_ok() {}
    });
    let proxy = one_way.map(|one_way| DelayProxy::start(port, one_way));
    let mut peer = TcpStream::connect(("127.0.0.1", proxy.as_ref().map_or(port, |p| p.port())))
        .expect("cannot connect for the ping-pong");
    peer.set_nodelay(true).unwrap();
    let mut times = Vec::new();
    let mut byte = [7];
    for _ in 0..PINGS {
        let started = Instant::now();
        peer.write_all(&byte).unwrap();
        peer.read_exact(&mut byte).unwrap();
        times.push(started.elapsed().as_secs_f64());
    }
    drop(peer);
    let _ = answering.join();
    drop(proxy);
    median(times)
}

/// The folder of small files through the proxy, chat against tar | nc.
fn far_folder(work: &Path, settings: &Settings, references: bool) {
    let (count, rounds) = (settings.files, settings.folder_rounds);
    let folder = work.join("many");
    write_many_files(&folder, count);
    let mut rows = vec![(CHAT_ROW, Vec::new())];
    if references {
        rows.push((TAR_NC, Vec::new()));
    }
    let out = work.join("received");
    in_turns(&mut rows, rounds, |row| {
        fresh_folder(&out);
        let seconds = match row {
            CHAT_ROW => {
                let receiver = listener(&out, &[]);
                let proxy = DelayProxy::start(receiver.port, settings.one_way);
                let sent = chats::send(
                    receiver,
                    connect_to(proxy.port()),
                    &[ENCRYPTED],
                    &folder,
                    FOLDER_DONE,
                );
                if let Err(why) = same_tree(&folder, &out.join("many")) {
                    panic!("chat: {why}; the receiver said:\n{}", sent.receiver_said);
                }
                sent.seconds
            }
            _ => {
                let port = free_port();
                let proxy = DelayProxy::start(port, settings.one_way);
                let seconds = tar_nc_send(&folder, &out, port, proxy.port());
                if let Err(why) = same_tree(&folder, &out.join("many")) {
                    panic!("tar | nc: {why}");
                }
                seconds
            }
        };
        let _ = fs::remove_dir_all(&out);
        seconds
    });
    println!(
        "{count} files of {} KiB in {} subfolders, through the proxy ({rounds} rounds); chat \
         from typing `/send` to the receiver's `Folder saved`, tar | nc from its start to the \
         receiver's exit:",
        SMALL_FILE / 1024,
        count.div_ceil(FILES_PER_FOLDER),
    );
    print_rows(&rows, (count * SMALL_FILE) as u64, TAR_NC);
    verdict_line("the folder", &rows, TAR_NC);
}

/// The file through the proxy, chat against nc; then both on loopback
/// alone, which tells what the long path costs each.
fn far_file(work: &Path, source: &Path, settings: &Settings, references: bool) {
    let mut rows = vec![(CHAT_ROW, Vec::new())];
    if references {
        rows.push((NC, Vec::new()));
    }
    rows.push((CHAT_LOOPBACK, Vec::new()));
    if references {
        rows.push((NC_LOOPBACK, Vec::new()));
    }
    let out = work.join("received");
    in_turns(&mut rows, settings.rounds, |row| {
        fresh_folder(&out);
        let through_proxy = [CHAT_ROW, NC].contains(&row);
        let (seconds, copy) = if [CHAT_ROW, CHAT_LOOPBACK].contains(&row) {
            let receiver = listener(&out, &[]);
            let proxy = through_proxy.then(|| DelayProxy::start(receiver.port, settings.one_way));
            let port = proxy.as_ref().map_or(receiver.port, DelayProxy::port);
            let sent = chats::send(receiver, connect_to(port), &[ENCRYPTED], source, FILE_DONE);
            (sent.seconds, out.join("source.bin"))
        } else {
            let listen = free_port();
            let proxy = through_proxy.then(|| DelayProxy::start(listen, settings.one_way));
            let port = proxy.as_ref().map_or(listen, DelayProxy::port);
            let copy = out.join("copy.bin");
            (nc_send(source, &copy, listen, port), copy)
        };
        assert!(same_bytes(source, &copy), "{row}: the copy differs");
        let _ = fs::remove_dir_all(&out);
        seconds
    });
    println!(
        "one {} MiB file, through the proxy, then on loopback alone ({} rounds); chat from \
         typing `/send` to the receiver's `File saved`, nc from its start to the receiver's exit:",
        settings.mib, settings.rounds
    );
    print_rows(&rows, settings.mib << 20, NC);
    let time = |row: &str| {
        rows.iter()
            .find(|(name, _)| *name == row)
            .map(|(_, seconds)| median(seconds.clone()))
    };
    let costs: Vec<String> = [(CHAT_ROW, CHAT_LOOPBACK), (NC, NC_LOOPBACK)]
        .into_iter()
        .filter_map(|(far, near)| Some(format!("{far} {:+.3} s", time(far)? - time(near)?)))
        .collect();
    println!(
        "  what the path adds, through the proxy less loopback alone (medians): {}",
        costs.join(", ")
    );
    verdict_line("the file", &rows, NC);
}

/// Through the relay: the file relayed and direct, then line latency.
fn relayed(work: &Path, source: &Path, settings: &Settings, servers: &Servers) {
    println!(
        "through magic-wormhole's transit relay on loopback ({}), two chats meeting by code at \
         the mailbox server and connecting through the relay or directly:",
        servers.versions()
    );
    let out = work.join("received");
    let mut rows = vec![(RELAYED, Vec::new()), (DIRECT, Vec::new())];
    let mut relay_cpu = [Duration::ZERO; 2];
    in_turns(&mut rows, settings.rounds, |row| {
        fresh_folder(&out);
        let relay_only = row == RELAYED;
        let (receiver, code) = code_listener(&out, servers);
        let connect = code_connect(&code, servers, relay_only);
        let ready = [if relay_only { THROUGH_RELAY } else { DIRECTLY }, VERIFIED];
        let before = servers.relay_cpu();
        let sent = chats::send(receiver, connect, &ready, source, FILE_DONE);
        relay_cpu[usize::from(!relay_only)] += servers.relay_cpu().saturating_sub(before);
        assert!(
            same_bytes(source, &out.join("source.bin")),
            "{row}: the copy differs; the receiver said:\n{}",
            sent.receiver_said
        );
        let _ = fs::remove_dir_all(&out);
        sent.seconds
    });
    println!(
        "one {} MiB file ({} rounds), from typing `/send` to the receiver's `File saved`:",
        settings.mib, settings.rounds
    );
    print_rows(&rows, settings.mib << 20, DIRECT);
    println!(
        "  the relay's CPU time: {:.2} s during the relayed rounds, {:.2} s during the direct ones",
        relay_cpu[0].as_secs_f64(),
        relay_cpu[1].as_secs_f64()
    );

    println!(
        "\na line every {} ms into the chat sending the {} MiB file, input to the peer's screen:",
        PING_EVERY.as_millis(),
        settings.mib
    );
    for (row, relay_only) in [(RELAYED, true), (DIRECT, false)] {
        fresh_folder(&out);
        let (receiver, code) = code_listener(&out, servers);
        let connect = code_connect(&code, servers, relay_only);
        let latency = chats::line_latency(receiver, connect, source, row);
        let connected = latency.connected.as_deref().unwrap_or("nothing");
        let expected = if relay_only {
            THROUGH_RELAY
        } else {
            CONNECTED_BY
        };
        assert!(
            connected.starts_with(expected),
            "{row}: the receiver said `{connected}`, not `{expected}`"
        );
        println!("  {row:<22} {}", latency.summary(""));
        let _ = fs::remove_dir_all(&out);
    }
}

/// Each row's rounds, taken in turns, each round starting with another
/// row; `turn` runs one round of the row it is given, in seconds.
fn in_turns(rows: &mut [(&str, Vec<f64>)], rounds: usize, mut turn: impl FnMut(&str) -> f64) {
    let count = rows.len();
    for round in 0..rounds {
        for k in (0..count).map(|k| (round + k) % count) {
            let seconds = turn(rows[k].0);
            rows[k].1.push(seconds);
        }
    }
}

/// `chat listen` on 127.0.0.1 saving into `out`, with `options`, once it
/// listens.
fn listener(out: &Path, options: &[String]) -> Listener {
    let mut command = Command::new(CHAT);
    command.env("CHAT_HOME", common::CHAT_HOME);
    command
        .args([
            "listen",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-announce",
        ])
        .args(["--name", "r", "--download-dir"])
        .arg(out)
        .args(options);
    chats::start_listener(command)
}

/// `chat connect` to `port` on 127.0.0.1, to be spawned.
fn connect_to(port: u16) -> Command {
    let mut command = Command::new(CHAT);
    command.env("CHAT_HOME", common::CHAT_HOME);
    command.args(["connect", "127.0.0.1", &port.to_string(), "--name", "s"]);
    command
}

/// A listener that registered a code at the mailbox, with the code.
fn code_listener(out: &Path, servers: &Servers) -> (Listener, String) {
    let mut options = vec!["--code".to_string()];
    options.extend(servers.options());
    let mut receiver = listener(out, &options);
    // `[System] Registered the code at the mailbox: from anywhere, your
    // peer joins with `chat connect --code CODE``, after the code's line.
    let mut said = String::new();
    for _ in 0..8 {
        let start = said.len();
        if receiver.output.read_line(&mut said).unwrap_or(0) == 0 {
            break;
        }
        let line = &said[start..];
        if let Some(code) = line
            .split_once("`chat connect --code ")
            .and_then(|(_, rest)| rest.split('`').next())
            .filter(|_| line.starts_with("[System] Registered the code"))
        {
            return (receiver, code.to_string());
        }
    }
    panic!("the listener did not register its code at the mailbox; it said:\n{said}");
}

/// `chat connect --code CODE` meeting through the servers, to be spawned.
fn code_connect(code: &str, servers: &Servers, relay_only: bool) -> Command {
    let mut command = Command::new(CHAT);
    command.env("CHAT_HOME", common::CHAT_HOME);
    command
        .args(["connect", "--code", code, "--name", "s"])
        .args(servers.options());
    if relay_only {
        command.arg("--relay-only");
    }
    command
}

/// The rows' seconds by round, their median, the rate of the median, and
/// its time against the row `reference`'s.
fn print_rows(rows: &[(&str, Vec<f64>)], bytes: u64, reference: &str) {
    let rounds = rows.first().map_or(0, |(_, seconds)| seconds.len());
    print!("  {:<22}", "seconds by round");
    for round in 1..=rounds {
        print!(" {round:>8}");
    }
    println!(" {:>8} {:>8} {:>12}", "median", "MiB/s", "time ratio");
    let reference = rows
        .iter()
        .find(|(name, _)| *name == reference)
        .map(|(_, seconds)| median(seconds.clone()));
    for (name, seconds) in rows {
        print!("  {name:<22}");
        for s in seconds {
            print!(" {s:>8.3}");
        }
        let med = median(seconds.clone());
        let ratio = reference.map_or("-".into(), |r| format!("{:.2}x", med / r));
        println!(
            " {med:>8.3} {:>8.1} {ratio:>12}",
            bytes as f64 / (1 << 20) as f64 / med
        );
    }
}

/// Whether chat's median time stays within [`FAR_TARGET`] of `reference`'s.
fn verdict_line(what: &str, rows: &[(&str, Vec<f64>)], reference: &str) {
    let time = |row: &str| {
        rows.iter()
            .find(|(name, _)| *name == row)
            .map(|(_, seconds)| median(seconds.clone()))
    };
    let (Some(chat), Some(other)) = (time(CHAT_ROW), time(reference)) else {
        return;
    };
    let ratio = chat / other;
    println!(
        "  {what}: chat takes {ratio:.2}x the time of {reference} (target at most {FAR_TARGET}x): {}",
        if ratio <= FAR_TARGET {
            "met"
        } else {
            "NOT met"
        }
    );
}
