//! Finding each other on the network: `chat listen` announces itself with
//! multicast DNS, `chat peers` lists what it hears, `chat connect NAME`
//! connects by name. There is no real LAN here, so each test makes its own:
//! two network namespaces joined by a veth pair, one chat in each (see
//! `common::netns` for where they cannot be made).

use std::time::{Duration, Instant};

use crate::common;
use crate::common::netns::Lan;
use crate::common::{Chat, TestDir};

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
fn a_name_nobody_announces_is_looked_for_as_long_as_asked_then_fails_clearly() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-nobody");
    let started = Instant::now();
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        dir.path(),
        &["connect", "nobody", "--name", "bob", "--wait", "4"],
    );
    bob.expect_exact(
        "[System] No chat called nobody yet; still looking (up to 4 s, Ctrl-C stops).",
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(
        code,
        "no chat called nobody announces itself on this network (looked for 4 s)",
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "{took:?}"
    );
    lan.assert_none_listed("1");
}

#[test]
fn connect_by_name_started_first_finds_the_chat_once_it_listens() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-first");
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "alice", "--name", "bob"],
    );
    bob.expect_exact(
        "[System] No chat called alice yet; still looking (up to 30 s, Ctrl-C stops).",
    );
    let (mut alice, port) = listener(&lan, &dir, "alice", &[]);
    bob.expect_exact(&format!(
        "[System] Found alice at {} port {port}.",
        lan.a_address
    ));
    let code = bob.expect_prefix("[System] Encrypted. Safety code: ");
    alice.expect_exact(&code);
    bob.send_line("there you are");
    alice.expect_exact("[bob] there you are");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
}

#[test]
fn an_address_alone_is_connected_to_on_port_5050() {
    // Port 5050 on a network of the test's own, whatever else on this
    // machine listens on it.
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-5050");
    let mut alice = Chat::spawn_in(
        &lan.a,
        "alice",
        &dir.subdir("alice"),
        &["listen", "--name", "alice", "--no-announce"],
    );
    alice.expect_exact("[System] Listening on 0.0.0.0:5050 ...");
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", &lan.a_address, "--name", "bob"],
    );
    bob.expect_exact(&format!("[System] Connected to {}:5050", lan.a_address));
    bob.send_line("no port needed");
    alice.expect_exact("[bob] no port needed");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
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
        &["--room", "--lan", "--code", "7-ocean-lamp"],
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

#[test]
fn two_listeners_started_at_once_under_one_name_end_up_distinct_and_the_renamed_says_so() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-clash");
    let start = |ns: &str, label: &str| {
        let args = ["listen", "--port", "0", "--name", "alice"];
        let mut chat = Chat::spawn_in(ns, label, &dir.subdir(label), &args);
        let line = chat.expect_prefix("[System] Listening on ");
        let port = common::parse_listen_port(&line).expect("a port");
        (chat, port)
    };
    // Two terminals of one machine: both look for the name before
    // announcing it, at the same moment, so neither sees the other and
    // both take `alice`.
    let (mut one, port_one) = start(&lan.a, "one");
    let (mut two, port_two) = start(&lan.a, "two");
    for chat in [&mut one, &mut two] {
        chat.expect_exact(
            "[System] Announced as alice on the local network: others can `chat connect alice`.",
        );
    }
    // The network settles it: the other machine lists one of them as
    // `alice (2)`.
    let deadline = Instant::now() + Duration::from_secs(20);
    let renamed_port = loop {
        let table = lan.peers(&["--wait", "2"]);
        let rows = |name: &str| -> Vec<Vec<String>> {
            table
                .lines()
                .filter_map(|l| l.strip_prefix(name))
                .filter(|rest| rest.starts_with(' '))
                .map(|rest| rest.split_whitespace().map(String::from).collect())
                .collect()
        };
        let (plain, numbered) = (rows("alice"), rows("alice (2)"));
        let plain: Vec<_> = plain.iter().filter(|cells| cells[0] != "(2)").collect();
        if let ([_], [numbered]) = (&plain[..], &numbered[..]) {
            // Name, addresses, port.
            break numbered[1].parse::<u16>().expect("a port");
        }
        assert!(Instant::now() < deadline, "listed:\n{table}");
    };
    let (mut renamed, mut kept) = if renamed_port == port_one {
        (one, two)
    } else {
        assert_eq!(renamed_port, port_two);
        (two, one)
    };
    // Its owner is told, and the other one is not.
    renamed.expect_exact(
        "[System] Another chat on the network also announced alice: you are listed as \
         `alice (2)` (others connect with `chat connect 'alice (2)'`).",
    );
    kept.signal("TERM");
    kept.wait_exit();
    assert!(
        !kept
            .stdout_lines()
            .iter()
            .any(|l| l.contains("also announced")),
        "{}",
        kept.report()
    );
}

#[test]
fn peers_as_json_escapes_what_a_hostile_name_would_do_to_a_terminal() {
    let Some(lan) = Lan::new() else {
        return;
    };
    // An 8-bit CSI (U+009B) and a right-to-left override (U+202E), which no chat
    // would announce, but anyone on the network can.
    let _hostile = lan.announce_raw("evil\u{9b}2J\u{202e}gpj.exe", 5050);
    let mut json = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !json.contains("evil") {
        assert!(Instant::now() < deadline, "never listed: {json}");
        json = lan.peers(&["--json", "--wait", "2"]);
    }
    assert!(
        json.contains("\"name\":\"evil\\u009b2J\\u202egpj.exe\""),
        "{json:?}"
    );
    assert!(
        !json.contains(['\u{9b}', '\u{202e}']),
        "printed unescaped: {json:?}"
    );
    let table = lan.peers(&["--wait", "2"]);
    assert!(table.contains("evil\\x9b2J\\u{202e}gpj.exe"), "{table:?}");
}

#[test]
fn localhost_alone_is_an_address_on_port_5050() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-localhost");
    let mut alice = Chat::spawn_in(
        &lan.a,
        "alice",
        &dir.subdir("alice"),
        &["listen", "--name", "alice", "--no-announce"],
    );
    alice.expect_exact("[System] Listening on 0.0.0.0:5050 ...");
    let mut bob = Chat::spawn_in(
        &lan.a,
        "bob",
        &dir.subdir("bob"),
        &["connect", "localhost", "--name", "bob", "--wait", "5"],
    );
    bob.expect_exact("[System] Connected to 127.0.0.1:5050");
    bob.send_line("no name lookup");
    alice.expect_exact("[bob] no name lookup");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
}

#[test]
fn a_dotted_host_name_is_a_host_when_it_resolves_and_a_name_when_not() {
    let Some(lan) = Lan::new() else {
        return;
    };
    lan.name_a_in_b("box.test");
    let dir = TestDir::new("disc-dotted");
    let mut alice = Chat::spawn_in(
        &lan.a,
        "alice",
        &dir.subdir("alice"),
        &["listen", "--name", "alice", "--no-announce"],
    );
    alice.expect_exact("[System] Listening on 0.0.0.0:5050 ...");
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "box.test", "--name", "bob", "--wait", "5"],
    );
    bob.expect_exact(&format!("[System] Connected to {}:5050", lan.a_address));
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    // A chat whose name is written like a host's, and which no host has, is found
    // by its name.
    let (mut named, port) = listener(&lan, &dir, "d.k.", &[]);
    let mut carol = Chat::spawn_in(
        &lan.b,
        "carol",
        &dir.subdir("carol"),
        &["connect", "d.k.", "--name", "carol", "--wait", "10"],
    );
    carol.expect_exact(&format!(
        "[System] Found d.k. at {} port {port}.",
        lan.a_address
    ));
    let code = carol.expect_prefix("[System] Encrypted. Safety code: ");
    named.expect_exact(&code);
    carol.send_line("/quit");
    assert_eq!(carol.wait_exit(), 0, "{}", carol.report());
}

#[test]
fn a_mistyped_name_is_told_which_chats_are_announced_once() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-typo");
    let (_alice, _port) = listener(&lan, &dir, "alice", &[]);
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "alcie", "--name", "bob", "--wait", "4"],
    );
    bob.expect_exact(
        "[System] No chat called alcie yet; alice is announced (chat connect alice). Still \
         looking (up to 4 s, Ctrl-C stops).",
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "no chat called alcie announces itself");
    let said = bob
        .stdout_lines()
        .iter()
        .filter(|l| l.contains("alice is announced"))
        .count();
    assert_eq!(said, 1, "{}", bob.report());
}

#[test]
fn a_chat_announced_while_looking_for_another_name_is_said_once() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-typo-later");
    let mut bob = Chat::spawn_in(
        &lan.b,
        "bob",
        &dir.subdir("bob"),
        &["connect", "alcie", "--name", "bob", "--wait", "8"],
    );
    bob.expect_exact("[System] No chat called alcie yet; still looking (up to 8 s, Ctrl-C stops).");
    let (_alice, _port) = listener(&lan, &dir, "alice", &[]);
    bob.expect_exact(
        "[System] Meanwhile alice is announced (chat connect alice); still looking for alcie.",
    );
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(code, "no chat called alcie announces itself");
    let said = bob
        .stdout_lines()
        .iter()
        .filter(|l| l.contains("is announced"))
        .count();
    assert_eq!(said, 1, "{}", bob.report());
}

#[test]
fn a_listener_with_a_code_says_the_code_is_needed_to_connect_by_name() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("disc-code-hint");
    let args = [
        "listen",
        "--port",
        "0",
        "--name",
        "alice",
        "--lan",
        "--code",
        "7-ocean-lamp",
    ];
    let mut alice = Chat::spawn_in(&lan.a, "alice", &dir.subdir("alice"), &args);
    alice.expect_exact(
        "[System] Announced as alice on the local network: others can \
         `chat connect alice --code CODE`, with the code.",
    );
}
