//! Identities and contacts: each person (its own chat folder, `CHAT_HOME`)
//! proves a long-term identity; `/trust` remembers a peer, recognised by
//! its identity next time; one passing for a contact with another identity
//! is warned of; `chat connect NAME` reaches a contact only when it proves
//! its identity; `chat id` and `chat contacts`; a damaged identity is an
//! error, never silently replaced.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::netns::Lan;
use crate::common::{self, Chat, TestDir};

const SAFETY: &str = "[System] Encrypted. Safety code: ";

/// Runs `chat ARGS` to its end in `cwd` (its own chat folder); its exit
/// code, standard output and standard error.
fn run(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(args)
        .env("CHAT_HOME", common::home_of(cwd))
        .current_dir(cwd)
        .output()
        .expect("chat runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// A first meeting of alice (listening in `a`) and bob (connecting from
/// `b`): the safety code matches, and each `/trust`s the other.
fn meet_and_trust(a: &Path, b: &Path) {
    let (mut alice, port) = Chat::listen_encrypted("alice", a, &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", b, "127.0.0.1", port, &["--name", "bob"]);
    let code = bob.expect_prefix(SAFETY);
    alice.expect_exact(&code);
    bob.send_line("hello");
    alice.expect_exact("[bob] hello");
    alice.send_line("/trust");
    alice.expect_prefix("[System] Saved bob as a contact");
    bob.send_line("/trust");
    bob.expect_prefix("[System] Saved alice as a contact");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
    assert_eq!(alice.wait_exit(), 0);
}

/// The line of a known contact, without the date.
fn known(line: &str, name: &str) -> bool {
    line.starts_with(&format!("[System] Encrypted. {name} — known since "))
        && line.ends_with(", verified")
}

#[test]
fn trusted_peers_are_recognised_on_both_sides_without_codes_next_time() {
    let dir = TestDir::new("contacts-trust");
    let (a, b) = (dir.subdir("a"), dir.subdir("b"));
    meet_and_trust(&a, &b);
    let (mut alice, port) = Chat::listen_encrypted("alice", &a, &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", &b, "127.0.0.1", port, &["--name", "bob"]);
    bob.expect_line("alice known", |l| known(l, "alice"));
    alice.expect_line("bob known", |l| known(l, "bob"));
    bob.send_line("again");
    alice.expect_exact("[bob] again");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
    alice.wait_exit();
    for lines in [alice.stdout_lines(), bob.stdout_lines()] {
        assert!(!lines.iter().any(|l| l.starts_with(SAFETY)), "{lines:?}");
    }
    let (code, listed, _) = run(&b, &["contacts"]);
    assert_eq!(code, 0);
    assert!(listed.starts_with("alice — known since "), "{listed}");
}

#[test]
fn another_identity_under_a_contacts_name_is_warned_of_and_its_offers_wait() {
    let dir = TestDir::new("contacts-changed");
    let (a, b, c) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
    meet_and_trust(&a, &b);
    let file = c.join("note.txt");
    fs::write(&file, b"not from bob").unwrap();
    // c is another person calling itself BOB, which looks like bob.
    let (mut alice, port) = Chat::listen_encrypted("alice", &a, &["--name", "alice"]);
    let mut fake = Chat::connect_encrypted("fake", &c, "127.0.0.1", port, &["--name", "BOB"]);
    let code = fake.expect_prefix(SAFETY);
    alice.expect_exact(&code);
    alice.expect_exact("[System] @@@ WARNING: THIS IS NOT THE IDENTITY YOU KNOW @@@");
    alice.expect_prefix("[System] The peer calls itself BOB, as your contact bob (known since");
    // Its lines are marked as not the contact's.
    fake.send_line("it is me, bob");
    alice.expect_exact("[BOB?] it is me, bob");
    // Even a small file waits for alice's answer, though she takes any
    // without a terminal.
    fake.send_line(&format!("/send {}", file.display()));
    alice.expect_line("the offer waiting", |l| {
        l.contains("note.txt") && l.contains("/accept")
    });
    assert!(!a.join("received_files/note.txt").exists());
    alice.send_line("/decline");
    fake.expect_exact("[System] note.txt was not saved by the peer: declined");
    // Alice decides the new identity is bob's.
    alice.send_line("/trust");
    alice.expect_prefix("[System] Saved bob as a contact with its new identity");
    fake.send_line("/quit");
    fake.wait_exit();
    alice.wait_exit();
    let (_, listed, _) = run(&a, &["contacts"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

#[test]
fn the_id_is_made_once_kept_private_and_the_same_each_time() {
    let dir = TestDir::new("contacts-id");
    let (code, first, _) = run(dir.path(), &["id"]);
    assert_eq!(code, 0);
    assert!(first.contains("Made a new identity"), "{first}");
    let fingerprint = first.lines().next().unwrap().to_string();
    let groups: Vec<&str> = fingerprint
        .strip_prefix("Your identity: ")
        .unwrap_or_else(|| panic!("{first}"))
        .split(' ')
        .collect();
    assert!(
        groups.len() == 6 && groups.iter().all(|g| g.len() == 5),
        "{first}"
    );
    let file = common::home_of(dir.path()).join("identity");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (_, again, _) = run(dir.path(), &["id"]);
    assert!(
        again.starts_with(&fingerprint) && !again.contains("Made"),
        "{again}"
    );
}

#[test]
fn a_damaged_or_exposed_identity_is_an_error_and_never_replaced() {
    let dir = TestDir::new("contacts-damaged");
    let file = common::home_of(dir.path()).join("identity");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, b"chat-identity/1 ed25519 not-hex\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, said) = run(dir.path(), &["id"]);
    assert_eq!(code, 1);
    assert!(
        said.starts_with("error: the identity ") && said.contains("is damaged"),
        "{said}"
    );
    assert_eq!(said.lines().count(), 1, "{said}");
    // A chat does not start on it either.
    let (code, _, said) = run(dir.path(), &["listen", "--port", "0", "--no-announce"]);
    assert_eq!(code, 1);
    assert!(said.contains("is damaged"), "{said}");
    assert_eq!(
        fs::read(&file).unwrap(),
        b"chat-identity/1 ed25519 not-hex\n"
    );
    // One anybody can read is refused, and left as it is.
    fs::remove_file(&file).unwrap();
    run(dir.path(), &["id"]);
    let made = fs::read(&file).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, said) = run(dir.path(), &["id"]);
    assert_eq!(code, 1);
    assert!(said.contains("can be read by other users"), "{said}");
    // A digit changed is told by the public key beside the secret one.
    let text = String::from_utf8(made.clone()).unwrap();
    let at = text.find("ed25519 ").unwrap() + 8;
    let digit = if &text[at..=at] == "0" { "1" } else { "0" };
    let changed = format!("{}{digit}{}", &text[..at], &text[at + 1..]);
    fs::write(&file, &changed).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, said) = run(dir.path(), &["id"]);
    assert_eq!(code, 1);
    assert!(
        said.contains("its secret and public keys do not match"),
        "{said}"
    );
    // And one that cannot be read at all (a folder in its place).
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    let (code, _, said) = run(dir.path(), &["connect", "127.0.0.1", "1"]);
    assert_eq!(code, 1);
    assert!(said.contains("cannot read the identity"), "{said}");
    assert!(file.is_dir() && !made.is_empty());
}

#[test]
fn contacts_are_listed_renamed_and_forgotten() {
    let dir = TestDir::new("contacts-list");
    let (a, b) = (dir.subdir("a"), dir.subdir("b"));
    let (code, none, _) = run(&b, &["contacts"]);
    assert_eq!(code, 0);
    assert!(none.starts_with("No contacts yet"), "{none}");
    meet_and_trust(&a, &b);
    let (code, said, _) = run(&b, &["contacts", "rename", "alice", "Alice W"]);
    assert_eq!((code, said.as_str()), (0, "Renamed alice to Alice W.\n"));
    let (_, listed, _) = run(&b, &["contacts"]);
    assert!(
        listed.starts_with("Alice W — known since ") && listed.contains("(calls itself alice)"),
        "{listed}"
    );
    let (code, _, said) = run(&b, &["contacts", "forget", "alice"]);
    assert_eq!(code, 1);
    assert!(said.contains("no contact is called \"alice\""), "{said}");
    let (code, said, _) = run(&b, &["contacts", "forget", "Alice W"]);
    assert_eq!(code, 0);
    assert!(said.starts_with("Forgot Alice W"), "{said}");
    // Forgotten, alice is a stranger again: the code is compared.
    let (mut alice, port) = Chat::listen_encrypted("alice", &a, &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", &b, "127.0.0.1", port, &["--name", "bob"]);
    bob.expect_prefix(SAFETY);
    alice.expect_line("bob known", |l| known(l, "bob"));
    bob.send_line("/quit");
    bob.wait_exit();
    alice.wait_exit();
}

#[test]
fn the_original_wire_has_no_identity_to_trust() {
    let dir = TestDir::new("contacts-plain");
    let (mut alice, port) = Chat::listen("alice", &dir.subdir("a"), &["--name", "alice"]);
    let mut bob = Chat::connect(
        "bob",
        &dir.subdir("b"),
        "127.0.0.1",
        port,
        &["--name", "bob"],
    );
    bob.send_line("hi");
    alice.expect_exact("[bob] hi");
    bob.send_line("/trust");
    bob.expect_exact(
        "[System] The original wire (--plain) proves no identity: there is nobody to trust.",
    );
    bob.send_line("/quit");
    bob.wait_exit();
    alice.wait_exit();
    assert!(!common::home_of(&dir.join("b")).exists());
}

#[test]
fn connecting_to_a_contact_by_name_reaches_only_the_chat_that_proves_it() {
    let Some(lan) = Lan::new() else {
        return;
    };
    let dir = TestDir::new("contacts-impostor");
    let (a, b, c) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
    meet_and_trust(&a, &b);
    // Only an impostor announces alice.
    let listen = ["listen", "--port", "0", "--name", "alice"];
    let mut fake = Chat::spawn_in(&lan.a, "fake", &c, &listen);
    fake.expect_prefix("[System] Announced as alice");
    let by_name = ["connect", "alice", "--name", "bob", "--wait", "5"];
    let mut bob = Chat::spawn_in(&lan.b, "bob", &b, &by_name);
    bob.expect_prefix("[System] Found alice at ");
    bob.expect_prefix("[System] IMPOSTOR: ");
    let code = bob.wait_exit();
    bob.assert_failed_cleanly(
        code,
        "no chat on this network proves to be your contact alice",
    );
    fake.expect_prefix("[System] Turned away ");
    assert!(
        !fake.stdout_lines().iter().any(|l| l.contains("bob")),
        "{:?}",
        fake.stdout_lines()
    );
    // With the real alice announced too, bob reaches her, whichever of
    // the two is tried first.
    let mut alice = Chat::spawn_in(&lan.a, "alice", &a, &listen);
    alice.expect_prefix("[System] Announced as alice");
    let mut bob = Chat::spawn_in(&lan.b, "bob", &b, &by_name);
    bob.expect_line("alice known", |l| known(l, "alice"));
    alice.expect_line("bob known", |l| known(l, "bob"));
    bob.send_line("it is you");
    alice.expect_exact("[bob] it is you");
    bob.send_line("/quit");
    assert_eq!(bob.wait_exit(), 0);
}

#[test]
fn a_room_host_sees_which_members_are_contacts_and_members_see_the_host_is_one() {
    let dir = TestDir::new("contacts-room");
    let (a, b, c) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
    meet_and_trust(&a, &b);
    let (mut alice, port) = Chat::listen_encrypted("alice", &a, &["--room", "--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", &b, "127.0.0.1", port, &["--name", "bob"]);
    bob.expect_line("alice known", |l| known(l, "alice"));
    alice.expect_line("bob known", |l| {
        l.starts_with("[System] bob joined the room (127.0.0.1:")
            && l.contains("): bob — known since ")
            && l.ends_with(", verified")
    });
    bob.send_line("/quit");
    bob.wait_exit();
    alice.expect_prefix("[System] bob left the room");
    // A stranger compares codes; one calling itself bob is warned of.
    let mut carol = Chat::connect_encrypted("carol", &c, "127.0.0.1", port, &["--name", "bob"]);
    let code = carol.expect_prefix(SAFETY);
    let code = code
        .strip_prefix(SAFETY)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    alice.expect_line("the warning", |l| {
        l.contains("joined the room")
            && l.contains("@@@ WARNING: it calls itself as your contact bob (known since ")
            && l.contains(&format!("whether its safety code is {code}."))
    });
    // What it sends waits for the host, small as it is.
    fs::write(c.join("note.txt"), b"from carol").unwrap();
    carol.send_line("/send note.txt");
    alice.expect_line("the offer waiting", |l| {
        l.starts_with("[System] bob? offers note.txt")
            || l.starts_with("[System] bob offers note.txt")
    });
    assert!(!a.join("received_files/note.txt").exists());
    alice.send_line("/decline");
    carol.expect_prefix("[System] note.txt was not saved by ");
    carol.send_line("/quit");
    carol.wait_exit();
    // The host trusts a member it met in the room.
    let dave = dir.subdir("d");
    let join =
        |label| Chat::connect_encrypted(label, &dave, "127.0.0.1", port, &["--name", "dave"]);
    let mut first = join("dave");
    alice.expect_prefix("[System] dave joined the room (127.0.0.1:");
    alice.send_line("/trust erin");
    alice.expect_exact("[System] Not saved as a contact: nobody called erin is in the room with an identity (the original wire has none)");
    alice.send_line("/trust dave");
    alice.expect_prefix("[System] Saved dave as a contact");
    first.send_line("/quit");
    first.wait_exit();
    let mut again = join("dave again");
    alice.expect_line("dave known", |l| l.contains("): dave — known since "));
    again.send_line("/quit");
    again.wait_exit();
    alice.send_line("/quit");
    alice.wait_exit();
}

#[test]
fn a_peer_the_code_proved_is_saved_at_once_with_trust() {
    let dir = TestDir::new("contacts-code");
    let (a, b) = (dir.subdir("a"), dir.subdir("b"));
    let code = "7-guitar-lantern";
    let (mut alice, port) = Chat::listen_encrypted(
        "alice",
        &a,
        &["--name", "alice", "--code", code, "--lan", "--trust"],
    );
    let mut bob = Chat::connect_encrypted(
        "bob",
        &b,
        "127.0.0.1",
        port,
        &["--name", "bob", "--code", code, "--trust"],
    );
    bob.expect_exact("[System] Encrypted and verified with the code.");
    bob.expect_prefix("[System] Saved alice as a contact");
    alice.expect_prefix("[System] Saved bob as a contact");
    bob.send_line("/quit");
    bob.wait_exit();
    alice.wait_exit();
    // Next time, without a code, both know each other.
    let (mut alice, port) = Chat::listen_encrypted("alice", &a, &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", &b, "127.0.0.1", port, &["--name", "bob"]);
    bob.expect_line("alice known", |l| known(l, "alice"));
    alice.expect_line("bob known", |l| known(l, "bob"));
    bob.send_line("/quit");
    bob.wait_exit();
    alice.wait_exit();
    // `--trust` means nothing without a code.
    let (status, _, said) = run(&b, &["connect", "127.0.0.1", "1", "--trust"]);
    assert_eq!(status, 2, "{said}");
}
