//! Meeting from anywhere by a code: through the real mailbox server and
//! transit relay of magic-wormhole (from PyPI), on loopback and across two
//! NAT routers in network namespaces; either side first, a wrong code, the
//! relay passing only encrypted bytes, the relay cut mid-file, a mailbox
//! that cannot be reached, a room.

use std::fs;
use std::time::{Duration, Instant};

use chat::net::mailbox::{Mailbox, MailboxUrl};

use crate::common::internet::{Internet, Options};
use crate::common::wormhole::Servers;
use crate::common::{Chat, TestDir, parse_listen_port};

/// `--mailbox URL --relay tcp:HOST:PORT` for these servers.
fn servers_args(mailbox: &str, relay: &str) -> Vec<String> {
    vec![
        "--mailbox".into(),
        mailbox.into(),
        "--relay".into(),
        relay.into(),
    ]
}

/// `chat listen --code [CODE] ...` on loopback, its port, and the code it
/// registered at the mailbox.
fn listener(
    servers: &Servers,
    dir: &TestDir,
    code: Option<&str>,
    extra: &[&str],
) -> (Chat, u16, String) {
    let mut args = vec![
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        "alice",
    ];
    args.extend(extra);
    args.push("--code");
    args.extend(code);
    let server_args = servers_args(&servers.mailbox_url(), &servers.relay());
    args.extend(server_args.iter().map(String::as_str));
    let mut alice = Chat::spawn("alice", &dir.subdir("alice"), &args);
    let line = alice.expect_prefix("[System] Listening on ");
    let port = parse_listen_port(&line).expect("a port");
    let code = registered(&mut alice);
    (alice, port, code)
}

/// The code a listener registered, from its line saying so.
fn registered(chat: &mut Chat) -> String {
    let line = chat.expect_prefix("[System] Registered the code at the mailbox: ");
    line.split("`chat connect --code ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('`'))
        .unwrap_or_else(|| chat.fail(&format!("no code in {line:?}")))
        .to_string()
}

/// `chat connect --code CODE ...` with these servers.
fn connector(servers: &Servers, dir: &TestDir, name: &str, code: &str, extra: &[&str]) -> Chat {
    let mut args = vec!["connect", "--code", code, "--name", name];
    args.extend(extra);
    let server_args = servers_args(&servers.mailbox_url(), &servers.relay());
    args.extend(server_args.iter().map(String::as_str));
    Chat::spawn(name, &dir.subdir(name), &args)
}

/// Both sides say the conversation is verified, then each hears the other.
fn talk(alice: &mut Chat, bob: &mut Chat) {
    alice.expect_exact("[System] Encrypted and verified with the code.");
    bob.expect_exact("[System] Encrypted and verified with the code.");
    alice.send_line("hello from alice");
    bob.expect_exact("[alice] hello from alice");
    bob.send_line("hello from bob");
    alice.expect_exact("[bob] hello from bob");
}

/// Both sides say they are connected through `relay` (`tcp:HOST:PORT`),
/// talk, and bob's file `name`, holding `data`, reaches alice.
fn relayed_talk_and_file(
    alice: &mut Chat,
    bob: &mut Chat,
    relay: &str,
    dir: &TestDir,
    name: &str,
    data: &[u8],
) {
    let relay = relay.strip_prefix("tcp:").unwrap();
    let through =
        format!("[System] Connected through the relay {relay} (it passes only encrypted bytes)");
    alice.expect_exact(&through);
    bob.expect_exact(&through);
    talk(alice, bob);
    bob.send_line(&format!("/send {name}"));
    let saved = format!("received_files/{name}");
    alice.expect_saved(&saved);
    assert_eq!(fs::read(dir.subdir("alice").join(saved)).unwrap(), data);
}

fn leave(mut alice: Chat, mut bob: Chat) {
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    alice.expect_exact("[bob] has left the chat.");
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
}

#[test]
fn a_made_code_meets_through_the_mailbox_and_connects_directly() {
    let dir = TestDir::new("anywhere-direct");
    let servers = Servers::on_loopback();
    let (mut alice, port, code) = listener(&servers, &dir, None, &[]);
    assert!(code.split('-').count() == 3, "{code}");
    let mut bob = connector(&servers, &dir, "bob", &code, &[]);
    alice.expect_exact("[System] Someone gave the code at the mailbox; connecting...");
    alice.expect_prefix("[System] Connected directly by 127.0.0.1:");
    bob.expect_exact(&format!("[System] Connected directly to 127.0.0.1:{port}"));
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn the_connecting_side_may_come_first_and_waits_for_the_listener() {
    let dir = TestDir::new("anywhere-connector-first");
    let servers = Servers::on_loopback();
    let mut bob = connector(&servers, &dir, "bob", "31-ocean-lamp", &[]);
    bob.expect_exact(
        "[System] Nobody has given this code at the mailbox yet; waiting for the other side \
         (Ctrl-C stops; if it is there already, check the code's number with it).",
    );
    let (mut alice, port, code) = listener(&servers, &dir, Some("31-Ocean-Lamp"), &[]);
    assert_eq!(code, "31-ocean-lamp");
    bob.expect_exact(&format!("[System] Connected directly to 127.0.0.1:{port}"));
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn a_wrong_code_fails_after_one_guess_and_the_right_one_still_gets_in() {
    let dir = TestDir::new("anywhere-wrong-code");
    let servers = Servers::on_loopback();
    let (mut alice, _, code) = listener(&servers, &dir, Some("32-ocean-lamp"), &[]);
    let mut mallory = connector(&servers, &dir, "mallory", "32-ocean-lamb", &[]);
    let exit = mallory.wait_exit();
    mallory.assert_failed_cleanly(exit, "the code did not match");
    alice.expect_exact(
        "[System] Turned away a peer at the mailbox: the code did not match (1 of 3 attempts).",
    );
    let mut bob = connector(&servers, &dir, "bob", &code, &[]);
    bob.expect_prefix("[System] Connected directly to ");
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn through_the_relay_only_encrypted_bytes_pass() {
    let dir = TestDir::new("anywhere-relay");
    let servers = Servers::on_loopback();
    let (mut alice, _, code) = listener(&servers, &dir, None, &[]);
    let secret: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i} of the secret file\n").into_bytes())
        .collect();
    fs::write(dir.subdir("bob").join("secret.txt"), &secret).unwrap();
    let mut bob = connector(&servers, &dir, "bob", &code, &["--relay-only"]);
    relayed_talk_and_file(
        &mut alice,
        &mut bob,
        &servers.relay(),
        &dir,
        "secret.txt",
        &secret,
    );
    leave(alice, bob);
    let passed = servers.relayed_bytes();
    assert!(
        passed.len() as u64 > secret.len() as u64,
        "{} bytes passed",
        passed.len()
    );
    for plain in [
        &b"hello from alice"[..],
        b"hello from bob",
        b"of the secret file",
        b"secret.txt",
        b"alice",
    ] {
        assert!(
            !passed.windows(plain.len()).any(|w| w == plain),
            "{:?} passed the relay in the clear",
            String::from_utf8_lossy(plain)
        );
    }
}

#[test]
fn an_unreachable_mailbox_is_said_at_once_and_the_local_network_still_works() {
    let dir = TestDir::new("anywhere-no-mailbox");
    // A port nobody listens on: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mailbox = format!("ws://127.0.0.1:{}/v1", closed.local_addr().unwrap().port());
    drop(closed);
    let started = Instant::now();
    let mut bob = Chat::spawn(
        "bob",
        &dir.subdir("bob"),
        &["connect", "--code", "7-ocean-lamp", "--mailbox", &mailbox],
    );
    let exit = bob.wait_exit();
    bob.assert_failed_cleanly(exit, "cannot reach the mailbox ws://127.0.0.1:");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let mut alice = Chat::spawn(
        "alice",
        &dir.subdir("alice"),
        &[
            "listen",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            "alice",
            "--code",
            "7-ocean-lamp",
            "--mailbox",
            &mailbox,
        ],
    );
    let line = alice.expect_prefix("[System] Listening on ");
    let port = parse_listen_port(&line).unwrap();
    let line =
        alice.expect_prefix("[System] Not reachable from anywhere yet: cannot reach the mailbox ");
    assert!(
        line.ends_with(
            ". Listening on the local network; the code is registered as soon as the mailbox \
             answers."
        ),
        "{line}"
    );
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob", "--code", "7-ocean-lamp"],
    );
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn a_room_lets_members_join_by_code_directly_or_through_the_relay() {
    let dir = TestDir::new("anywhere-room");
    let servers = Servers::on_loopback();
    let (mut host, _, code) = listener(&servers, &dir, Some("33-ocean-lamp"), &["--room"]);
    let mut ann = connector(&servers, &dir, "ann", &code, &[]);
    ann.expect_prefix("[System] Connected directly to ");
    host.expect_prefix("[System] ann joined the room");
    let mut ben = connector(&servers, &dir, "ben", &code, &["--relay-only"]);
    ben.expect_prefix("[System] Connected through the relay ");
    host.expect_prefix("[System] ben joined the room");
    ann.expect_exact("[System] ben joined the room.");
    ben.send_line("hi all");
    ann.expect_exact("[ben] hi all");
    host.expect_exact("[ben] hi all");
}

#[test]
fn a_relay_cut_mid_file_leaves_what_arrived_and_sending_again_resumes() {
    let dir = TestDir::new("anywhere-relay-cut");
    let servers = Servers::on_loopback();
    let big = 256 << 20;
    let data: Vec<u8> = (0..big as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(dir.subdir("bob").join("big.bin"), &data).unwrap();
    let (mut alice, _, code) = listener(&servers, &dir, Some("34-ocean-lamp"), &["--accept-all"]);
    let mut bob = connector(&servers, &dir, "bob", &code, &["--relay-only"]);
    bob.expect_prefix("[System] Connected through the relay ");
    bob.send_line("/send big.bin");
    alice.expect_prefix("[System] Incoming file big.bin");
    let until = Instant::now() + Duration::from_secs(60);
    while servers.relayed_total() < (big / 4) as u64 {
        assert!(
            Instant::now() < until,
            "only {} bytes passed",
            servers.relayed_total()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    servers.cut_relay();
    alice.expect_prefix("[System] Transfer of big.bin incomplete: received ");
    assert_eq!(alice.wait_exit(), 1, "{}", alice.report());
    bob.wait_exit();

    let (mut alice, _, code) = listener(&servers, &dir, Some("34-ocean-lamp"), &["--accept-all"]);
    let mut bob = connector(&servers, &dir, "bob", &code, &["--relay-only"]);
    bob.expect_prefix("[System] Connected through the relay ");
    bob.send_line("/send big.bin");
    alice.expect_prefix("[System] Resuming big.bin: ");
    alice.expect_saved("received_files/big.bin");
    assert!(fs::read(dir.subdir("alice").join("received_files/big.bin")).unwrap() == data);
    leave(alice, bob);
}

/// The servers' flags for a chat in the test internet.
fn internet_args(internet: &Internet) -> Vec<String> {
    servers_args(&internet.mailbox_url(), &internet.relay())
}

#[test]
fn two_homes_behind_nat_routers_talk_through_the_relay() {
    let Some(internet) = Internet::new(Options::default()) else {
        return;
    };
    let dir = TestDir::new("anywhere-nat");
    let servers = internet_args(&internet);
    let mut args = vec!["listen", "--port", "5050", "--name", "alice", "--code"];
    args.extend(servers.iter().map(String::as_str));
    let mut alice = Chat::spawn_in(internet.h1_ns(), "alice", &dir.subdir("alice"), &args);
    let code = registered(&mut alice);
    let secret = b"a line nobody between may read\n".repeat(10_000);
    fs::write(dir.subdir("bob").join("notes.txt"), &secret).unwrap();
    let mut args = vec!["connect", "--code", &code, "--name", "bob"];
    args.extend(servers.iter().map(String::as_str));
    let mut bob = Chat::spawn_in(internet.h2_ns(), "bob", &dir.subdir("bob"), &args);
    bob.set_timeout(Duration::from_secs(20));
    relayed_talk_and_file(
        &mut alice,
        &mut bob,
        &internet.relay(),
        &dir,
        "notes.txt",
        &secret,
    );
    leave(alice, bob);
    let passed = internet.relayed_bytes();
    assert!(passed.len() > secret.len());
    let plain = b"a line nobody between may read";
    assert!(
        !passed.windows(plain.len()).any(|w| w == plain),
        "the file passed in the clear"
    );
}

#[test]
fn a_listener_that_leaves_gives_its_code_back_for_the_next_one() {
    let dir = TestDir::new("anywhere-again");
    let servers = Servers::on_loopback();
    let (mut first, _, _) = listener(&servers, &dir, Some("36-ocean-lamp"), &[]);
    // (Piped lines, /quit too, wait for the peer: a signal leaves.)
    first.signal("TERM");
    first.wait_exit();
    let (mut alice, port, code) = listener(&servers, &dir, Some("36-ocean-lamp"), &[]);
    let mut bob = connector(&servers, &dir, "bob", &code, &[]);
    bob.expect_exact(&format!("[System] Connected directly to 127.0.0.1:{port}"));
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

/// A "mailbox" that answers `answer` to whatever comes, or nothing.
fn false_mailbox(answer: Option<&'static [u8]>) -> String {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/v1", server.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in server.incoming().flatten() {
            if let Some(answer) = answer {
                let _ = std::io::Write::write_all(&mut &stream, answer);
            }
            held.push(stream);
        }
    });
    url
}

#[test]
fn something_else_at_the_mailbox_address_fails_cleanly_within_seconds() {
    let dir = TestDir::new("anywhere-false-mailbox");
    for (answer, said) in [
        (
            Some(&b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..]),
            "did not answer as a mailbox server",
        ),
        (
            Some(b"SSH-2.0-OpenSSH_9.6\r\n"),
            "did not answer as a mailbox server",
        ),
        (None, "did not answer as a mailbox server"),
    ] {
        let url = false_mailbox(answer);
        let started = Instant::now();
        let mut bob = Chat::spawn(
            "bob",
            &dir.subdir("bob"),
            &["connect", "--code", "7-ocean-lamp", "--mailbox", &url],
        );
        let exit = bob.wait_exit_within(Duration::from_secs(20));
        bob.assert_failed_cleanly(exit, said);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_router_that_forwards_a_port_gives_a_direct_path_across_two_nats() {
    let Some(internet) = Internet::new(Options { upnp: true }) else {
        return;
    };
    let dir = TestDir::new("anywhere-mapped");
    let servers = internet_args(&internet);
    let mut args = vec!["listen", "--port", "6060", "--name", "alice", "--code"];
    args.extend(servers.iter().map(String::as_str));
    let mut alice = Chat::spawn_in(internet.h1_ns(), "alice", &dir.subdir("alice"), &args);
    // The router's answer and the mailbox's come in either order.
    let forwards = format!("[System] Your router forwards {}:", internet.wan_address(1));
    let (mut code, mut line) = (None, None);
    while code.is_none() || line.is_none() {
        let next = alice.next_line();
        if next.starts_with("[System] Registered the code at the mailbox: ") {
            code = next
                .split("--code ")
                .nth(1)
                .map(|c| c.trim_end_matches('`').to_string());
        } else if next.starts_with(&forwards) {
            line = Some(next);
        }
    }
    let (code, line) = (code.unwrap(), line.unwrap());
    let external = line
        .strip_prefix("[System] Your router forwards ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(address, _)| address.to_string())
        .unwrap();
    let mut args = vec!["connect", "--code", &code, "--name", "bob"];
    args.extend(servers.iter().map(String::as_str));
    let mut bob = Chat::spawn_in(internet.h2_ns(), "bob", &dir.subdir("bob"), &args);
    bob.expect_exact(&format!("[System] Connected directly to {external}"));
    alice.expect_prefix(&format!(
        "[System] Connected directly by {}:",
        internet.wan_address(2)
    ));
    talk(&mut alice, &mut bob);
    leave(alice, bob);
    // At most the listener's request to be paired (104 bytes), which it
    // sends in case the direct path fails: nothing of the chat.
    assert!(
        internet.relayed_total() <= 104,
        "the relay carried {} bytes",
        internet.relayed_total()
    );
}

#[test]
fn two_chats_on_one_network_meet_by_code_and_connect_directly_there() {
    let Some(internet) = Internet::new(Options::default()) else {
        return;
    };
    let dir = TestDir::new("anywhere-same-lan");
    let servers = internet_args(&internet);
    let mut args = vec!["listen", "--port", "5050", "--name", "alice", "--code"];
    args.extend(servers.iter().map(String::as_str));
    let mut alice = Chat::spawn_in(internet.h1_ns(), "alice", &dir.subdir("alice"), &args);
    let code = registered(&mut alice);
    let mut args = vec!["connect", "--code", &code, "--name", "bob"];
    args.extend(servers.iter().map(String::as_str));
    let mut bob = Chat::spawn_in(internet.h1_ns(), "bob", &dir.subdir("bob"), &args);
    bob.expect_exact(&format!(
        "[System] Connected directly to {}:5050",
        internet.h1_address()
    ));
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

/// A door in front of the mailbox: while shut it drops whoever comes;
/// open, it passes bytes both ways; `cut` ends what passes now.
struct Door {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    passing: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Door {
    fn to(target: String, open: bool) -> Door {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let door = Door {
            port,
            open: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(open)),
            passing: std::sync::Arc::default(),
        };
        let (is_open, passing) = (door.open.clone(), door.passing.clone());
        std::thread::spawn(move || {
            for inside in listener.incoming().flatten() {
                if !is_open.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(outside) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut held = passing.lock().unwrap();
                for (from, to) in [(&inside, &outside), (&outside, &inside)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                held.extend([inside, outside]);
            }
        });
        door
    }

    /// A door before the mailbox of `servers`, open or shut.
    fn before(servers: &Servers, open: bool) -> Door {
        let url = servers.mailbox_url();
        let address = url.trim_start_matches("ws://").trim_end_matches("/v1");
        Door::to(address.to_string(), open)
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/v1", self.port)
    }

    fn open(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn cut(&self) {
        for stream in self.passing.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// `chat listen --code CODE` with the mailbox behind `door`.
fn listener_behind(servers: &Servers, door: &Door, dir: &TestDir, code: &str) -> Chat {
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        "alice",
        "--code",
        code,
        "--mailbox",
        &door.url(),
        "--relay",
        &servers.relay(),
    ];
    Chat::spawn("alice", &dir.subdir("alice"), &args)
}

#[test]
fn a_listener_that_loses_the_mailbox_registers_its_code_again_and_is_met() {
    let dir = TestDir::new("anywhere-mailbox-lost");
    let servers = Servers::on_loopback();
    let door = Door::before(&servers, true);
    let mut alice = listener_behind(&servers, &door, &dir, "41-ocean-lamp");
    registered(&mut alice);
    door.cut();
    alice.expect_prefix("[System] Meeting through the mailbox failed: ");
    registered_again_and_met(alice, &servers, &dir, "41-ocean-lamp");
}

#[test]
fn a_mailbox_that_answers_only_later_gets_the_code_then() {
    let dir = TestDir::new("anywhere-mailbox-later");
    let servers = Servers::on_loopback();
    let door = Door::before(&servers, false);
    let mut alice = listener_behind(&servers, &door, &dir, "42-ocean-lamp");
    alice.expect_prefix("[System] Not reachable from anywhere yet: ");
    door.open();
    registered_again_and_met(alice, &servers, &dir, "42-ocean-lamp");
}

/// `alice` registers `code` (again), and a peer meets her by it.
fn registered_again_and_met(mut alice: Chat, servers: &Servers, dir: &TestDir, code: &str) {
    alice.set_timeout(Duration::from_secs(20));
    registered(&mut alice);
    let mut bob = connector(servers, dir, "bob", code, &[]);
    bob.expect_prefix("[System] Connected directly to ");
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn sides_that_leave_no_path_between_them_say_so() {
    let dir = TestDir::new("anywhere-no-path");
    let servers = Servers::on_loopback();
    let (mut alice, _, code) = listener(&servers, &dir, Some("43-ocean-lamp"), &["--relay-only"]);
    let mut bob = connector(&servers, &dir, "bob", &code, &["--no-relay"]);
    let exit = bob.wait_exit();
    bob.assert_failed_cleanly(
        exit,
        "no path can join the two sides: this side refuses relayed connections (--no-relay), \
         and the other side gives no address to connect to (--relay-only)",
    );
    alice.expect_exact(
        "[System] The other side gave the code, but it refuses relayed connections \
         (--no-relay), and this chat connects only through the relay (--relay-only): it \
         cannot connect.",
    );
}

/// A stranger at the mailbox: a side of its own on the code's number.
fn stranger(servers: &Servers, nameplate: &str) -> Mailbox {
    let url: MailboxUrl = servers.mailbox_url().parse().unwrap();
    let mut mailbox = Mailbox::connect(&url, Duration::from_secs(10)).unwrap();
    let id = mailbox.claim(nameplate, Duration::from_secs(10)).unwrap();
    mailbox.open(&id).unwrap();
    mailbox
}

/// The phases of what the other side added within `within`.
fn phases_within(mailbox: &mut Mailbox, within: Duration) -> Vec<String> {
    let until = Instant::now() + within;
    let mut phases = Vec::new();
    while let Ok(Some((phase, _))) = mailbox.next(Some(until), &|| false) {
        phases.push(phase);
    }
    phases
}

#[test]
fn a_listener_seals_nothing_before_the_other_side_proved_the_code_and_counts_the_guess() {
    use getrandom::{SysRng, rand_core::UnwrapErr};
    use spake2::{Ed25519Group, Identity, Password, Spake2};
    let dir = TestDir::new("anywhere-guess");
    let servers = Servers::on_loopback();
    let (mut alice, _, _) = listener(&servers, &dir, Some("51-ocean-lamp"), &[]);
    let mut mallory = stranger(&servers, "51");
    // A guess, as the connecting side's code exchange message (PROTOCOL.md
    // 3.10): without the listener's sealed hints it cannot be checked.
    let (_, guess) = Spake2::<Ed25519Group>::start_a_with_rng(
        &Password::new(b"51-ocean-lamb"),
        &Identity::new(b"chat-mailbox/1 connecting"),
        &Identity::new(b"chat-mailbox/1 listening"),
        UnwrapErr(SysRng),
    );
    mallory.add("connecting", &guess).unwrap();
    assert_eq!(
        phases_within(&mut mallory, Duration::from_secs(3)),
        ["listening"]
    );
    // Hints that do not open are a wrong code, and counted.
    mallory.add("hints", &[0; 48]).unwrap();
    alice.expect_exact(
        "[System] Turned away a peer at the mailbox: the code did not match (1 of 3 attempts).",
    );
    // Then only that it was wrong: nothing sealed.
    assert_eq!(
        phases_within(&mut mallory, Duration::from_secs(1)),
        ["wrong"]
    );
}

#[test]
fn a_message_too_long_for_the_listener_fails_its_registration_cleanly() {
    let dir = TestDir::new("anywhere-huge");
    let servers = Servers::on_loopback();
    let (mut alice, port, code) = listener(&servers, &dir, Some("52-ocean-lamp"), &[]);
    let mut mallory = stranger(&servers, "52");
    mallory.add("junk", &vec![0xab; 600_000]).unwrap();
    alice.expect_prefix("[System] Meeting through the mailbox failed: ");
    // (The stranger holds the code's number, junk and all: the mailbox
    // is closed to this code while it does; the local network is not.)
    let mut bob = Chat::connect_encrypted(
        "bob",
        &dir.subdir("bob"),
        "127.0.0.1",
        port,
        &["--name", "bob", "--code", &code],
    );
    talk(&mut alice, &mut bob);
    leave(alice, bob);
}

#[test]
fn a_code_whose_words_are_too_short_to_be_a_secret_is_refused() {
    let dir = TestDir::new("anywhere-weak");
    for args in [
        &[
            "connect",
            "--code",
            "424243",
            "--mailbox",
            "ws://127.0.0.1:9/v1",
        ][..],
        &[
            "connect",
            "--code",
            "77-x",
            "--mailbox",
            "ws://127.0.0.1:9/v1",
        ],
        &[
            "listen",
            "--port",
            "0",
            "--code",
            "77-x",
            "--mailbox",
            "ws://127.0.0.1:9/v1",
        ],
    ] {
        let mut chat = Chat::spawn("weak", &dir.subdir("weak"), args);
        let exit = chat.wait_exit();
        chat.assert_failed_cleanly(exit, "a code met through the mailbox is a number and words");
    }
}
