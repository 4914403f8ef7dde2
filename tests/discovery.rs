//! Finding each other on the network: `chat listen` announces itself with
//! multicast DNS, `chat peers` lists what it hears, `chat connect NAME`
//! connects by name. There is no real LAN here, so each test makes its own:
//! two network namespaces joined by a veth pair, one chat in each. Where
//! namespaces cannot be made (not root, no `ip`), the tests say so and pass
//! without running.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Chat, TestDir};

/// Two network namespaces joined by a veth pair: `a` at 10.X.Y.1, `b` at
/// 10.X.Y.2. Dropping it removes both (and the pair with them).
struct Lan {
    a: String,
    b: String,
    a_address: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Lan {
    /// A new LAN, or `None` (said on stderr) where namespaces cannot be made.
    fn new() -> Option<Lan> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = std::process::id() % 10_000;
        let (a, b) = (format!("chat-{id}-{n}a"), format!("chat-{id}-{n}b"));
        let (veth_a, veth_b) = (format!("cv{id}x{n}a"), format!("cv{id}x{n}b"));
        let subnet = format!("10.{}.{}", 100 + id % 100, n % 250);
        let lan = Lan {
            a: a.clone(),
            b: b.clone(),
            a_address: format!("{subnet}.1"),
        };
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), a.clone()],
            vec!["netns".into(), "add".into(), b.clone()],
            vec![
                "link".into(),
                "add".into(),
                veth_a.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                veth_b.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                veth_a.clone(),
                "netns".into(),
                a.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                veth_b.clone(),
                "netns".into(),
                b.clone(),
            ],
            vec![
                "-n".into(),
                a.clone(),
                "addr".into(),
                "add".into(),
                format!("{subnet}.1/24"),
                "dev".into(),
                veth_a.clone(),
            ],
            vec![
                "-n".into(),
                b.clone(),
                "addr".into(),
                "add".into(),
                format!("{subnet}.2/24"),
                "dev".into(),
                veth_b.clone(),
            ],
            vec![
                "-n".into(),
                a.clone(),
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
            vec![
                "-n".into(),
                b.clone(),
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
            vec![
                "-n".into(),
                a.clone(),
                "link".into(),
                "set".into(),
                veth_a,
                "up".into(),
            ],
            vec![
                "-n".into(),
                b.clone(),
                "link".into(),
                "set".into(),
                veth_b,
                "up".into(),
            ],
        ];
        for step in steps {
            let done = Command::new("ip").args(&step).output();
            match done {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    eprintln!(
                        "skipped: cannot make a test network (`ip {}`: {}); run as root \
                         with iproute2 to test discovery",
                        step.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                    return None;
                }
                Err(e) => {
                    eprintln!("skipped: cannot run `ip` ({e}); install iproute2 and run as root");
                    return None;
                }
            }
        }
        Some(lan)
    }

    /// Checks that `chat peers --wait SECS`, run in `b`, hears nobody.
    fn assert_none_listed(&self, secs: &str) {
        assert_eq!(
            self.peers(&["--wait", secs]),
            "No chats announce themselves on this network.\n"
        );
    }

    /// `chat peers ARGS...` run in namespace `b`: its standard output.
    fn peers(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.b,
                env!("CARGO_BIN_EXE_chat"),
                "peers",
            ])
            .args(args)
            .output()
            .expect("cannot run chat peers");
        assert!(out.status.success(), "chat peers failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A chat listening in `lan.a` as `name`, announced; its port.
fn listener(lan: &Lan, dir: &TestDir, name: &str, extra: &[&str]) -> (Chat, u16) {
    let mut args = vec!["listen", "--port", "0", "--name", name];
    args.extend_from_slice(extra);
    let mut chat = Chat::spawn_in(&lan.a, name, &dir.subdir(name), &args);
    let line = chat.expect_prefix("[System] Listening on ");
    let port = common::parse_listen_port(&line).expect("a port");
    if !extra.contains(&"--no-announce") {
        chat.expect_prefix(&format!("[System] Announced as {name}"));
    }
    (chat, port)
}

#[test]
fn a_listener_is_listed_found_by_name_and_withdrawn_once_its_peer_is_in() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-find");
    let (mut alice, port) = listener(&lan, &dir, "alice", &[]);
    let table = lan.peers(&[]);
    let row = table
        .lines()
        .find(|l| l.starts_with("alice "))
        .unwrap_or_else(|| panic!("alice is not listed:\n{table}"));
    assert!(
        row.contains(&lan.a_address) && row.contains(&port.to_string()),
        "{row}"
    );
    assert!(row.contains("encrypted"), "{row}");
    let json = lan.peers(&["--json"]);
    assert!(
        json.contains("\"name\":\"alice\"")
            && json.contains(&format!("\"port\":{port}"))
            && json.contains("\"encrypted\":true"),
        "{json}"
    );
    // No address typed.
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "alice", "--name", "bob"],
    );
    bob.expect_exact(&format!(
        "[System] Found alice at {} port {port}.",
        lan.a_address
    ));
    let code = bob.expect_prefix("[System] Encrypted. Safety code: ");
    alice.expect_exact(&code);
    bob.send_line("found you");
    alice.expect_exact("[bob] found you");
    // alice no longer listens: it is no longer announced.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let table = lan.peers(&["--wait", "2"]);
        if !table.lines().any(|l| l.starts_with("alice ")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice is still announced:\n{table}"
        );
    }
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
}

#[test]
fn a_name_nobody_announces_fails_quickly_and_clearly() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-nobody");
    let started = Instant::now();
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        dir.path(),
        &["connect", "nobody", "--name", "bob"],
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(
        code,
        "no chat called nobody announces itself on this network",
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    lan.assert_none_listed("1");
}

#[test]
fn no_announce_keeps_a_listener_off_the_network() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-quiet");
    let (_alice, _port) = listener(&lan, &dir, "alice", &["--no-announce"]);
    lan.assert_none_listed("2");
}

#[test]
fn two_chats_of_one_name_are_listed_not_guessed_and_a_room_says_so() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-two");
    let (_one, port_one) = listener(&lan, &dir, "alice", &[]);
    let (_two, port_two) = listener(
        &lan,
        &TestDir::new("disc-two-b"),
        "alice",
        &["--room", "--code", "7-ocean-lamp"],
    );
    let table = lan.peers(&[]);
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("alice ")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    let room_row = rows
        .iter()
        .find(|r| r.contains(&port_two.to_string()))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        room_row.contains("encrypted, code") && room_row.ends_with("room"),
        "{room_row}"
    );
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        dir.path(),
        &["connect", "alice", "--name", "bob"],
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "2 chats call themselves alice");
    let said = bob.stderr_text();
    assert!(
        said.contains(&format!("chat connect {} {port_one}", lan.a_address))
            && said.contains(&format!("chat connect {} {port_two}", lan.a_address)),
        "{said}"
    );
}

#[test]
fn a_room_is_joined_by_name_as_by_address() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-room");
    let (mut alice, port) = listener(&lan, &dir, "alice", &["--room"]);
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "alice", "--name", "bob"],
    );
    bob.expect_exact(&format!(
        "[System] Found alice at {} port {port}.",
        lan.a_address
    ));
    bob.expect_prefix("[System] You are in alice's room, alone with the host");
    alice.expect_prefix("[System] bob joined the room (");
    bob.send_line("hello room");
    alice.expect_exact("[bob] hello room");
    alice.send_line("welcome");
    bob.expect_exact("[alice] welcome");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
    alice.expect_exact("[System] bob left the room.");
}
