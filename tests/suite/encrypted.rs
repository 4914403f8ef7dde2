//! The encrypted default through the binary: what crosses the wire, what
//! tampering does, peers that speak the original wire or nothing at all,
//! `--code`, and files interleaved with messages.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Chat, RawPeer, TestDir, encrypted_pair, pseudo_random_bytes, saved_entries};
use chat::net::secure::handshake::{GREETING, PROOF_LEN};

/// What a relay does to the records the connecting side sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    Nothing,
    /// Flips one bit in the body of record `n`.
    Flip(usize),
    /// Leaves record `n` out.
    Drop(usize),
    /// Sends record `n` twice.
    Replay(usize),
    /// Sends record `n + 1` before record `n`.
    Swap(usize),
    /// Sends half of record `n`, then ends the connection.
    CutIn(usize),
    /// Leaves out the last record (the goodbye), then ends the connection.
    DropLast,
}

/// A TCP relay between a connecting chat and a listening one, which
/// records every byte it passes and may tamper with the connecting side's
/// records or pass them on at a limited rate.
struct Relay {
    port: u16,
    /// Bytes from the connecting side, and from the listening side.
    seen: Arc<Mutex<[Vec<u8>; 2]>>,
    handle: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(target: u16, tamper: Tamper, rate: Option<usize>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new([Vec::new(), Vec::new()]));
        let recorded = seen.clone();
        let handle = thread::spawn(move || {
            let from_connector = common::accept_within_timeout(&listener);
            let to_listener = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let (back_in, back_out) = (
                to_listener.try_clone().unwrap(),
                from_connector.try_clone().unwrap(),
            );
            let back_seen = recorded.clone();
            let back = thread::spawn(move || copy_recording(back_in, back_out, &back_seen, 1));
            forward_records(from_connector, to_listener, &recorded, tamper, rate);
            let _ = back.join();
        });
        Relay {
            port,
            seen,
            handle: Some(handle),
        }
    }

    /// Everything that crossed, both ways, once both sides are done.
    fn recording(mut self) -> Vec<u8> {
        if let Some(handle) = self.handle.take() {
            handle.join().unwrap();
        }
        let seen = self.seen.lock().unwrap();
        [seen[0].clone(), seen[1].clone()].concat()
    }
}

fn copy_recording(mut from: TcpStream, mut to: TcpStream, seen: &Mutex<[Vec<u8>; 2]>, way: usize) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen.lock().unwrap()[way].extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Passes the handshake on untouched, then the connecting side's records
/// one by one, tampered with as asked and paced to `rate` bytes a second.
fn forward_records(
    mut from: TcpStream,
    mut to: TcpStream,
    seen: &Mutex<[Vec<u8>; 2]>,
    tamper: Tamper,
    rate: Option<usize>,
) {
    let started = Instant::now();
    let mut sent = 0usize;
    let mut pass = |to: &mut TcpStream, bytes: &[u8]| {
        if let Some(rate) = rate {
            sent += bytes.len();
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                thread::sleep(wait);
            }
        }
        to.write_all(bytes).is_ok()
    };
    // The greeting with the commitment, then (once the listening side has
    // answered with its share) the key share, then (once it proved its
    // identity) the proof of identity.
    for len in [GREETING.len() + 32, 32, PROOF_LEN] {
        let mut handshake = vec![0; len];
        if from.read_exact(&mut handshake).is_err() {
            return;
        }
        seen.lock().unwrap()[0].extend_from_slice(&handshake);
        pass(&mut to, &handshake);
    }
    let mut held: Option<Vec<u8>> = None;
    for n in 0.. {
        let mut header = [0u8; 4];
        if from.read_exact(&mut header).is_err() {
            break;
        }
        let mut record = header.to_vec();
        record.resize(4 + u32::from_be_bytes(header) as usize, 0);
        if from.read_exact(&mut record[4..]).is_err() {
            break;
        }
        seen.lock().unwrap()[0].extend_from_slice(&record);
        let ok = match tamper {
            Tamper::Flip(at) if at == n => {
                let middle = 4 + (record.len() - 4) / 2;
                record[middle] ^= 0x10;
                pass(&mut to, &record)
            }
            Tamper::Drop(at) if at == n => true,
            Tamper::Replay(at) if at == n => pass(&mut to, &record) && pass(&mut to, &record),
            Tamper::Swap(at) if at == n => {
                held = Some(record);
                true
            }
            Tamper::Swap(at) if at + 1 == n => {
                pass(&mut to, &record) && pass(&mut to, &held.take().unwrap_or_default())
            }
            Tamper::CutIn(at) if at == n => {
                pass(&mut to, &record[..record.len() / 2]);
                break;
            }
            Tamper::DropLast => match held.replace(record) {
                Some(previous) => pass(&mut to, &previous),
                None => true,
            },
            _ => pass(&mut to, &record),
        };
        if !ok {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// `alice` listening and `bob` connecting to her through `relay`.
fn pair_through_relay(
    dir: &TestDir,
    tamper: Tamper,
    rate: Option<usize>,
    alice_name: &str,
    bob_name: &str,
) -> (Chat, Chat, Relay) {
    let alice_dir = dir.subdir("alice");
    let (mut alice, port) = Chat::listen_encrypted("alice", &alice_dir, &["--name", alice_name]);
    let relay = Relay::start(port, tamper, rate);
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        relay.port,
        &["--name", bob_name],
    );
    let codes =
        [&mut alice, &mut bob].map(|chat| chat.expect_prefix("[System] Encrypted. Safety code: "));
    assert_eq!(
        codes[0], codes[1],
        "a relay that only passes bytes on changes no code"
    );
    (alice, bob, relay)
}

#[test]
fn nothing_of_the_conversation_crosses_the_wire_in_the_clear() {
    let dir = TestDir::new("enc_recording");
    let contents = b"CONFIDENTIAL-CONTENTS-".repeat(5000);
    fs::write(dir.subdir("bob").join("secret-recipe.txt"), &contents).unwrap();
    fs::write(dir.subdir("alice").join("answer-sheet.txt"), &contents).unwrap();
    let (mut alice, mut bob, relay) =
        pair_through_relay(&dir, Tamper::Nothing, None, "Wilhelmina", "Bartholomew");

    bob.send_line("the plan is at noon");
    alice.expect_exact("[Bartholomew] the plan is at noon");
    bob.send_line("/send secret-recipe.txt");
    alice.send_line("/send answer-sheet.txt");
    alice.send_line("understood, over");
    // Both ways at once: the lines come in whatever order the race gives.
    bob.expect_all_unordered(&[
        "[Wilhelmina] understood, over",
        "[System] File saved to received_files/answer-sheet.txt",
        "[System] Sent file secret-recipe.txt (107.4 KiB)",
    ]);
    alice.expect_all_unordered(&[
        "[System] File saved to received_files/secret-recipe.txt",
        "[System] Sent file answer-sheet.txt (107.4 KiB)",
    ]);
    bob.close_stdin();
    alice.expect_exact("[Bartholomew] has left the chat.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert!(fs::read(dir.join("alice/received_files/secret-recipe.txt")).unwrap() == contents);

    let wire = relay.recording();
    assert!(
        wire.len() > 2 * contents.len(),
        "the files crossed the relay"
    );
    for secret in [
        "Wilhelmina",
        "Bartholomew",
        "the plan is at noon",
        "understood, over",
        "secret-recipe",
        "answer-sheet",
        "CONFIDENTIAL",
        "has left the chat",
    ] {
        assert!(
            !wire.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} crossed the wire in the clear"
        );
    }
}

/// Bob sends a file of about twenty records to Alice through a relay that
/// tampers with one of them: Alice ends the conversation loudly, and saves
/// nothing.
fn tampered_transfer(test: &str, tamper: Tamper, alice_says: &str) {
    let dir = TestDir::new(test);
    fs::write(
        dir.subdir("bob").join("big.bin"),
        pseudo_random_bytes(1_200_000, 8),
    )
    .unwrap();
    let (mut alice, mut bob, _relay) = pair_through_relay(&dir, tamper, None, "alice", "bob");
    bob.send_line("/send big.bin");
    alice.expect_exact(alice_says);
    assert_eq!(alice.wait_exit(), 1, "{}", alice.report());
    alice.assert_no_panic();
    assert!(
        alice
            .stderr_text()
            .starts_with("error: connection with 127.0.0.1:"),
        "{}",
        alice.report()
    );
    assert!(
        !alice
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] File saved")),
        "{}",
        alice.report()
    );
    assert_eq!(
        saved_entries(&dir.join("alice/received_files")),
        Vec::<String>::new()
    );
    let _ = bob.wait_exit();
    bob.assert_no_panic();
}

const FORGED: &str = "[System] Connection ended: a record failed its check: the connection was \
                      tampered with (a record changed, dropped, replayed or reordered).";

#[test]
fn a_changed_record_ends_the_conversation_and_saves_nothing() {
    tampered_transfer("enc_flip", Tamper::Flip(6), FORGED);
}

#[test]
fn a_dropped_record_ends_the_conversation_and_saves_nothing() {
    tampered_transfer("enc_drop", Tamper::Drop(6), FORGED);
}

#[test]
fn a_replayed_record_ends_the_conversation_and_saves_nothing() {
    tampered_transfer("enc_replay", Tamper::Replay(6), FORGED);
}

#[test]
fn reordered_records_end_the_conversation_and_save_nothing() {
    tampered_transfer("enc_swap", Tamper::Swap(6), FORGED);
}

#[test]
fn a_record_cut_short_ends_the_conversation_and_saves_nothing() {
    tampered_transfer(
        "enc_cut",
        Tamper::CutIn(6),
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
}

#[test]
fn a_cut_connection_never_passes_for_a_goodbye() {
    let dir = TestDir::new("enc_no_goodbye");
    let (mut alice, mut bob, _relay) =
        pair_through_relay(&dir, Tamper::DropLast, None, "alice", "bob");
    bob.send_line("see you");
    bob.close_stdin();
    alice.expect_exact("[bob] see you");
    alice.expect_exact(
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
    assert_eq!(alice.wait_exit(), 1, "{}", alice.report());
    assert!(
        !alice.stdout_lines().iter().any(|l| l.contains("has left")),
        "{}",
        alice.report()
    );
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn a_line_typed_during_a_slow_transfer_overtakes_the_file() {
    let dir = TestDir::new("enc_interleave");
    let size = 24 << 20;
    let file = dir.subdir("bob").join("movie.bin");
    fs::File::create(&file).unwrap().set_len(size).unwrap();
    // 6 MB/s: the file takes about four seconds to cross.
    let (mut alice, mut bob, _relay) =
        pair_through_relay(&dir, Tamper::Nothing, Some(6_000_000), "alice", "bob");
    bob.send_line("/send movie.bin");
    alice.expect_exact(&format!(
        "[System] Incoming file movie.bin ({})...",
        common::size(size)
    ));
    let typed = Instant::now();
    bob.send_line("this goes between the chunks");
    alice.expect_exact("[bob] this goes between the chunks");
    let took = typed.elapsed();
    alice.expect_prefix("[System] File saved to received_files/movie.bin");
    let lines = alice.stdout_lines();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert!(
        at("[bob] this goes") < at("[System] File saved"),
        "the line waited for the file: {lines:?}"
    );
    eprintln!("a line during a throttled transfer took {took:?}");
    // A loose bound: the figure itself is for the benchmark.
    assert!(took < Duration::from_secs(2), "the line took {took:?}");
    bob.expect_exact(&format!(
        "[System] Sent file movie.bin ({})",
        common::size(size)
    ));
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn several_files_cross_at_once_and_each_is_sent_only_once_saved() {
    let dir = TestDir::new("enc_several");
    let bob_dir = dir.subdir("bob");
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| pseudo_random_bytes(300_000 + i * 7, i as u64))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        fs::write(bob_dir.join(format!("f{i}.bin")), body).unwrap();
    }
    fs::write(bob_dir.join("empty"), b"").unwrap();
    // At 1 MB/s, each file takes a good part of a second to cross: long
    // enough for all of them to be queued before the first is through.
    let (mut alice, mut bob, _relay) =
        pair_through_relay(&dir, Tamper::Nothing, Some(1_000_000), "alice", "bob");
    bob.send_line("/send f0.bin f1.bin f2.bin f3.bin f4.bin f5.bin empty");
    let mut sent: Vec<String> = (0..6)
        .map(|i| {
            format!(
                "[System] Sent file f{i}.bin ({})",
                common::size(bodies[i].len())
            )
        })
        .collect();
    sent.push("[System] Sent file empty (0 B)".into());
    bob.expect_all_unordered(&sent.iter().map(String::as_str).collect::<Vec<_>>());
    // Every "Sent" came after the file was saved on the other side.
    for (i, body) in bodies.iter().enumerate() {
        let saved = fs::read(dir.join(&format!("alice/received_files/f{i}.bin"))).unwrap();
        assert!(saved == *body, "f{i}.bin differs");
    }
    assert_eq!(
        fs::read(dir.join("alice/received_files/empty")).unwrap(),
        b""
    );
    let saved: Vec<String> = (0..6)
        .map(|i| format!("[System] File saved to received_files/f{i}.bin"))
        .collect();
    alice.expect_all_unordered(&saved.iter().map(String::as_str).collect::<Vec<_>>());
    // Several files were on their way at once: the most in progress at one
    // time (offered, not yet saved) is the four the sender sends together.
    // (The first file may be through before the others are even queued.)
    let lines = alice.stdout_lines();
    let mut in_progress = 0i32;
    let mut most = 0;
    for line in &lines {
        if line.starts_with("[System] Incoming file") {
            in_progress += 1;
        } else if line.starts_with("[System] File saved") {
            in_progress -= 1;
        }
        most = most.max(in_progress);
    }
    assert!(most >= 3, "at most {most} at once: {lines:?}");
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_file_the_peer_cannot_save_is_not_reported_sent() {
    let dir = TestDir::new("enc_refused");
    let alice_dir = dir.subdir("alice");
    fs::write(dir.subdir("bob").join("notes.txt"), b"some notes").unwrap();
    let (mut alice, mut bob) = encrypted_pair(&alice_dir, &[], &dir.subdir("bob"), &[]);
    // The download folder cannot be made: a file is in its place.
    let _ = fs::remove_dir_all(alice_dir.join("received_files"));
    fs::write(alice_dir.join("received_files"), b"").unwrap();
    bob.send_line("/send notes.txt");
    let here = alice.expect_prefix("[System] Could not save file notes.txt (10 B): ");
    assert!(here.contains("received_files"), "{here}");
    // The peer is told why in short, not where files go here.
    bob.expect_exact("[System] notes.txt was not saved by the peer: it cannot be saved here");
    bob.send_line("still talking");
    alice.expect_exact("[bob] still talking");
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert!(
        !bob.stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Sent file")),
        "{}",
        bob.report()
    );
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn the_code_command_shows_the_safety_code_again() {
    let dir = TestDir::new("enc_code_command");
    let (mut alice, mut bob) = encrypted_pair(&dir.subdir("alice"), &[], &dir.subdir("bob"), &[]);
    let shown = alice
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("Safety code"))
        .unwrap();
    let code = shown.split(' ').nth(4).unwrap().to_string();
    bob.send_line("/code");
    bob.expect_exact(&format!(
        "[System] Safety code: {code} (the same on both screens means nobody is in between)"
    ));
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_peer_killed_mid_file_is_a_lost_connection_and_nothing_is_saved() {
    let dir = TestDir::new("enc_killed");
    let file = dir.subdir("bob").join("big.bin");
    fs::File::create(&file).unwrap().set_len(64 << 20).unwrap();
    let (mut alice, mut bob, _relay) =
        pair_through_relay(&dir, Tamper::Nothing, Some(8_000_000), "alice", "bob");
    bob.send_line("/send big.bin");
    alice.expect_prefix("[System] Incoming file big.bin");
    bob.signal("KILL");
    alice.expect_prefix("[System] Transfer of big.bin incomplete: received ");
    alice.expect_exact(
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
    assert_eq!(alice.wait_exit(), 1, "{}", alice.report());
    assert_eq!(
        saved_entries(&dir.join("alice/received_files")),
        Vec::<String>::new()
    );
}

// Peers that do not speak the encrypted protocol.

#[test]
fn connecting_to_a_listener_that_talks_first_in_the_clear_gives_up_at_once() {
    let dir = TestDir::new("enc_legacy_talker");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat =
        Chat::connect_encrypted("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    // Typed while the chat waits for the handshake: kept back, never sent.
    chat.send_line("a secret typed too early");
    let mut peer = RawPeer::accept(&listener);
    peer.write_bytes(b"[Daksh] hello?\n");
    let started = Instant::now();
    assert_eq!(chat.wait_exit(), 1, "{}", chat.report());
    assert!(started.elapsed() < Duration::from_secs(5));
    chat.assert_failed_cleanly(1, "--plain");
    assert!(
        chat.stderr_text().contains("sent plain text"),
        "{}",
        chat.report()
    );
    // All the plain peer got is one readable sentence.
    let mut got = Vec::new();
    let _ = peer.into_stream().read_to_end(&mut got);
    assert_eq!(got, GREETING);
}

#[test]
fn connecting_to_a_silent_listener_gives_up_within_the_handshake_limit() {
    let dir = TestDir::new("enc_legacy_silent");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut chat =
        Chat::connect_encrypted("bob", dir.path(), "127.0.0.1", port, &["--name", "bob"]);
    let peer = RawPeer::accept(&listener);
    let started = Instant::now();
    let code = chat.wait_exit_within(Duration::from_secs(20));
    let took = started.elapsed();
    chat.assert_failed_cleanly(code, "--plain");
    assert!(
        chat.stderr_text().contains("within 10 s"),
        "{}",
        chat.report()
    );
    assert!(
        took > Duration::from_secs(8) && took < Duration::from_secs(15),
        "gave up after {took:?}"
    );
    let mut got = Vec::new();
    let _ = peer.into_stream().read_to_end(&mut got);
    assert_eq!(got, GREETING);
}

#[test]
fn a_listener_turns_away_clear_text_peers_and_waits_for_a_real_chat() {
    let dir = TestDir::new("enc_turn_away");
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--name", "alice"]);
    // The original program talks first once its user types.
    let mut talker = RawPeer::connect(port);
    talker.write_bytes(b"[Daksh] is anyone there?\n");
    let turned = alice.expect_prefix("[System] Turned away 127.0.0.1:");
    assert!(
        turned.contains("--plain") && turned.contains("Still waiting"),
        "{turned}"
    );
    let mut got = Vec::new();
    let _ = talker.into_stream().read_to_end(&mut got);
    assert_eq!(got, GREETING, "the peer saw one plain sentence");
    // A chat with --plain says so, and leaves.
    let mut plain = Chat::connect(
        "plain",
        &dir.subdir("plain"),
        "127.0.0.1",
        port,
        &["--name", "p"],
    );
    plain.expect_prefix(
        "[System] The peer's chat is encrypted (the default), and this side uses --plain",
    );
    assert_eq!(plain.wait_exit(), 1, "{}", plain.report());
    alice.expect_prefix("[System] Turned away 127.0.0.1:");
    // So does a script with nothing to say, which leaves at once.
    let mut script = Chat::connect(
        "script",
        &dir.subdir("script"),
        "127.0.0.1",
        port,
        &["--name", "s"],
    );
    script.close_stdin();
    script.expect_prefix(
        "[System] The peer's chat is encrypted (the default), and this side uses --plain",
    );
    assert_eq!(script.wait_exit(), 1, "{}", script.report());
    alice.expect_prefix("[System] Turned away 127.0.0.1:");
    // Then a real chat gets in.
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob"],
    );
    alice.expect_prefix("[System] Connected by 127.0.0.1:");
    alice.expect_prefix("[System] Encrypted. Safety code: ");
    bob.send_line("finally");
    alice.expect_exact("[bob] finally");
    assert!(
        !alice
            .stdout_lines()
            .iter()
            .any(|l| l.contains("anyone there")),
        "{}",
        alice.report()
    );
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_listener_turns_away_a_peer_that_says_nothing_and_waits_on() {
    let dir = TestDir::new("enc_turn_away_silent");
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--name", "alice"]);
    let silent = RawPeer::connect(port);
    // The listener gives a silent peer ten seconds.
    alice.set_timeout(Duration::from_secs(20));
    let turned = alice.expect_line("the turned-away line", |l| {
        l.starts_with("[System] Turned away 127.0.0.1:")
    });
    assert!(
        turned.contains("within 10 s") && turned.contains("--plain"),
        "{turned}"
    );
    let mut got = Vec::new();
    let _ = silent.into_stream().read_to_end(&mut got);
    assert_eq!(got, GREETING);
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob"],
    );
    alice.expect_prefix("[System] Connected by 127.0.0.1:");
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_plain_listener_and_an_encrypted_chat_both_say_what_is_wrong() {
    let dir = TestDir::new("enc_plain_listener");
    let (mut alice, port) = Chat::listen("alice", &dir.subdir("alice"), &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob"],
    );
    alice.expect_prefix(
        "[System] The peer's chat is encrypted (the default), and this side uses --plain",
    );
    assert_eq!(alice.wait_exit(), 1, "{}", alice.report());
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "--plain");
}

// --code

#[test]
fn the_same_code_on_both_sides_verifies_the_connection() {
    let dir = TestDir::new("enc_code_same");
    let (mut alice, port) = Chat::listen_encrypted(
        "alice",
        &dir.subdir("alice"),
        &["--name", "alice", "--lan", "--code"],
    );
    let made = alice.expect_prefix("[System] Code for your peer: ");
    let code = made.split(' ').nth(5).unwrap().to_string();
    assert_eq!(code.split('-').count(), 3, "{made}");
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob", "--code", &code.to_uppercase()],
    );
    alice.expect_exact("[System] Encrypted and verified with the code.");
    bob.expect_exact("[System] Encrypted and verified with the code.");
    bob.send_line("verified hello");
    alice.expect_exact("[bob] verified hello");
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn wrong_codes_are_refused_and_the_third_stops_the_listener() {
    let dir = TestDir::new("enc_code_wrong");
    let (mut alice, port) = Chat::listen_encrypted(
        "alice",
        &dir.subdir("alice"),
        &["--name", "alice", "--lan", "--code", "7-guitar-revenge"],
    );
    for attempt in 1..=3 {
        let mut bob = Chat::connect_encrypted(
            "bob",
            &dir.subdir("bob"),
            "127.0.0.1",
            port,
            &["--name", "bob", "--code", "7-guitar-revenue"],
        );
        bob.send_line("must never arrive");
        let code = bob.wait_exit();
        bob.assert_failed_cleanly(code, "the code did not match");
        alice.expect_line("the turned-away line", |l| {
            l.starts_with("[System] Turned away 127.0.0.1:")
                && l.ends_with(&format!(
                    "the code did not match ({attempt} of 3 attempts)."
                ))
        });
    }
    let code = alice.wait_exit();
    alice.assert_failed_cleanly(code, "3 attempts with a wrong code");
    assert!(
        !alice
            .stdout_lines()
            .iter()
            .any(|l| l.contains("must never arrive")),
        "{}",
        alice.report()
    );
}

#[test]
fn a_code_on_one_side_only_is_refused_with_the_reason() {
    let dir = TestDir::new("enc_code_one_side");
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob", "--code", "1-two-three"],
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "--code");
    let turned = alice.expect_prefix("[System] Turned away 127.0.0.1:");
    assert!(turned.contains("--code"), "{turned}");
    alice.signal("TERM");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_file_the_peer_leaves_in_the_middle_of_is_reported_not_delivered() {
    let dir = TestDir::new("enc_left_mid_file");
    let file = dir.subdir("bob").join("big.bin");
    fs::File::create(&file).unwrap().set_len(64 << 20).unwrap();
    let (mut alice, mut bob, _relay) =
        pair_through_relay(&dir, Tamper::Nothing, Some(8_000_000), "alice", "bob");
    bob.send_line("/send big.bin");
    alice.expect_prefix("[System] Incoming file big.bin");
    // In the middle: once bytes of it arrived.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        alice.send_line("/status");
        let status = alice.expect_prefix("[System] #1 Receiving big.bin: ");
        if !status.contains(": 0 B / ") {
            break;
        }
        if std::time::Instant::now() > deadline {
            alice.fail("no byte of big.bin arrived");
        }
    }
    alice.close_stdin();
    alice.expect_prefix("[System] Transfer of big.bin incomplete: received ");
    bob.expect_exact("[alice] has left the chat.");
    let lost = bob.expect_prefix("[System] big.bin was not delivered (stopped at ");
    assert!(lost.ends_with("%)."), "{lost}");
    let _ = bob.wait_exit();
    bob.assert_no_panic();
    assert!(
        !bob.stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Sent file")),
        "{}",
        bob.report()
    );
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    assert_eq!(
        saved_entries(&dir.join("alice/received_files")),
        Vec::<String>::new()
    );
}

#[test]
fn a_message_over_the_encrypted_limit_is_refused_with_its_own_length() {
    let dir = TestDir::new("enc_too_long");
    let (mut alice, mut bob) = encrypted_pair(&dir.subdir("alice"), &[], &dir.subdir("bob"), &[]);
    for len in [65_500, 65_537, 1 << 20] {
        bob.send_line(&"x".repeat(len));
        bob.expect_exact(&format!(
            "[System] Message not sent: it is {} and the limit is 63.9 KiB.",
            common::size(len)
        ));
    }
    let longest = "y".repeat(65_472);
    bob.send_line(&longest);
    alice.expect_exact(&format!("[bob] {longest}"));
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_receiver_killed_mid_file_is_said_to_be_cut_in_plain_words() {
    let dir = TestDir::new("enc_receiver_killed");
    let sender_dir = dir.subdir("sender");
    fs::write(
        sender_dir.join("big.bin"),
        pseudo_random_bytes(64 << 20, 11),
    )
    .unwrap();
    let (mut receiver, port) =
        Chat::listen_encrypted("receiver", &dir.subdir("receiver"), &["--name", "r"]);
    let mut sender =
        Chat::connect_encrypted("sender", &sender_dir, "127.0.0.1", port, &["--name", "s"]);
    sender.send_line("/send big.bin");
    receiver.expect_exact("[System] Incoming file big.bin (64.0 MiB)...");
    receiver.signal("KILL");
    // The system's words ("Connection reset by peer (os error 104)",
    // "Broken pipe") would say the same less plainly.
    sender.expect_exact(
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
    assert_eq!(sender.wait_exit(), 1, "{}", sender.report());
}
