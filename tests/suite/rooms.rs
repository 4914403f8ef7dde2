//! Rooms: one `chat listen --room` and several `chat connect`s, each a real
//! process over loopback, on the encrypted wire and the original one.

use std::time::{Duration, Instant};

use crate::common;
use crate::common::room_member as hostile_room;
use crate::common::{Chat, RawPeer, TestDir, credentials};
use chat::wire::message::Message;

/// Starts a room host called `host` with `extra` options; returns it and
/// its port.
fn host(dir: &TestDir, extra: &[&str]) -> (Chat, u16) {
    let mut args = vec!["--room", "--name", "host"];
    args.extend_from_slice(extra);
    Chat::listen_encrypted("host", dir.path(), &args)
}

/// Joins the room at `port` as `name`, and waits until the joiner knows it
/// is in, and the host has seen it come.
fn join(dir: &TestDir, host: &mut Chat, port: u16, name: &str) -> Chat {
    let cwd = dir.subdir(name);
    let mut member = Chat::connect_encrypted(name, &cwd, "127.0.0.1", port, &["--name", name]);
    member.expect_prefix("[System] You are in host's room");
    host.expect_prefix(&format!("[System] {name} joined the room (127.0.0.1:"));
    member
}

/// A room of the host and the members `names`, each told of those after it.
fn room(dir: &TestDir, names: &[&str]) -> (Chat, u16, Vec<Chat>) {
    let (mut host, port) = host(dir, &[]);
    let mut members: Vec<Chat> = Vec::new();
    for name in names {
        let member = join(dir, &mut host, port, name);
        let count = match members.len() {
            0 => "alone with the host".to_string(),
            1 => "with the host and 1 other".to_string(),
            n => format!("with the host and {n} others"),
        };
        let welcome = member
            .stdout_lines()
            .into_iter()
            .find(|l| l.contains("You are in"));
        assert_eq!(
            welcome.unwrap_or_default(),
            format!(
                "[System] You are in host's room, {count}: /who lists {}, /msg NAME text speaks to one.",
                if members.is_empty() {
                    "the members"
                } else {
                    "them"
                }
            )
        );
        for earlier in &mut members {
            earlier.expect_exact(&format!("[System] {name} joined the room."));
        }
        members.push(member);
    }
    (host, port, members)
}

#[test]
fn everyone_sees_everyone_elses_messages_in_one_order() {
    let dir = TestDir::new("room-order");
    let (mut host, _port, mut members) = room(&dir, &["I056", "I057", "I058"]);
    // Each member says three things at once; the host says some too.
    for (i, member) in members.iter_mut().enumerate() {
        for n in 0..3 {
            member.send_line(&format!("m{i} line {n}"));
        }
    }
    host.send_line("from the host");
    let names = ["I056", "I057", "I058"];
    let mut orders = Vec::new();
    let expected_host: Vec<String> = (0..3)
        .flat_map(|i| (0..3).map(move |n| format!("[{}] m{i} line {n}", names[i])))
        .collect();
    // The host sees all nine; each member the six of the others, and the
    // host's line.
    let seen = collect(&mut host, |l| l.starts_with("[I05"), 9);
    assert_eq!(sorted(&seen), sorted(&expected_host));
    orders.push(seen);
    for (i, member) in members.iter_mut().enumerate() {
        let seen = collect(
            member,
            |l| l.starts_with("[I05") || l.starts_with("[host]"),
            7,
        );
        assert!(
            seen.contains(&"[host] from the host".to_string()),
            "{seen:?}"
        );
        assert!(
            !seen
                .iter()
                .any(|l| l.starts_with(&format!("[{}]", names[i])))
        );
        orders.push(seen);
    }
    // One order for all: the messages two people both saw come in the same
    // order for both.
    for a in &orders {
        for b in &orders {
            let common_a: Vec<&String> = a.iter().filter(|l| b.contains(l)).collect();
            let common_b: Vec<&String> = b.iter().filter(|l| a.contains(l)).collect();
            assert_eq!(common_a, common_b);
        }
    }
}

/// The next `count` lines of `chat` that `keep` says are messages.
fn collect(chat: &mut Chat, keep: impl Fn(&str) -> bool, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| chat.expect_line("a message", &keep))
        .collect()
}

fn sorted(lines: &[String]) -> Vec<String> {
    let mut lines = lines.to_vec();
    lines.sort();
    lines
}

#[test]
fn comings_and_goings_are_told_and_the_host_leaving_ends_the_room() {
    let dir = TestDir::new("room-presence");
    let (mut host, port, mut members) = room(&dir, &["I056", "I057"]);
    members[1].send_line("/quit");
    assert_eq!(members[1].wait_exit(), 0);
    host.expect_exact("[System] I057 left the room.");
    members[0].expect_exact("[System] I057 left the room.");
    // Someone comes back under the name that is free again.
    let mut again = join(&dir, &mut host, port, "I057");
    members[0].expect_exact("[System] I057 joined the room.");
    host.send_line("/quit");
    for member in [&mut members[0], &mut again] {
        member.expect_exact("[System] The room is closed: its host left.");
        assert_eq!(member.wait_exit(), 0);
    }
    assert_eq!(host.wait_exit(), 0);
}

#[test]
fn a_refusal_that_comes_after_our_input_ended_is_still_said() {
    let dir = TestDir::new("room-refused-no-input");
    let (mut host, port, _members) = room(&dir, &["I056"]);
    let port = port.to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", "I056"];
    let mut late = Chat::spawn("late", &dir.subdir("late"), &args);
    // A script with nothing to say: its input ends before the room answers.
    late.close_stdin();
    late.expect_exact(
        "[System] Not let into the room: the name I056 is taken in this room; \
         join again with another --name.",
    );
    let code = late.wait_exit();
    late.assert_failed_cleanly(code, "did not let us in");
    host.expect_prefix("[System] Turned away I056 (127.0.0.1:");
}

#[test]
fn a_name_that_is_taken_is_refused_not_renamed() {
    let dir = TestDir::new("room-names");
    let (mut host, port, mut members) = room(&dir, &["I056", "Tom"]);
    // The same name in another case, or in letters of another script that
    // look the same (Cyrillic capitals), or with a mark under a letter that
    // is easily missed. (A name that mixes scripts, as `Аlice` with a
    // Cyrillic `А` does, is no name at all.)
    // (At most 5: the host shows 5 turned-away lines in 10 s.)
    for taken in ["i056", "host", "ТОМ", "To\u{323}m", "Ŧom"] {
        let mut late = Chat::connect_encrypted(
            "late",
            &dir.subdir("late"),
            "127.0.0.1",
            port,
            &["--name", taken],
        );
        late.expect_exact(&format!(
            "[System] Not let into the room: the name {taken} is taken in this room; \
             join again with another --name."
        ));
        let code = late.wait_exit();
        late.assert_failed_cleanly(code, "did not let us in");
        host.expect_prefix(&format!("[System] Turned away {taken} (127.0.0.1:"));
    }
    // Nobody else heard of it.
    members[1].send_line("still here");
    host.expect_exact("[Tom] still here");
    assert!(
        !members[1]
            .stdout_lines()
            .iter()
            .any(|l| l.contains("joined")),
        "{:?}",
        members[1].stdout_lines()
    );
}

#[test]
fn a_name_that_looks_like_the_programs_is_refused() {
    let dir = TestDir::new("room-system-name");
    let (mut host, port) = host(&dir, &[]);
    // Cyrillic capitals that spell what the program's name looks like, and
    // a Latin name with one Cyrillic letter in it.
    for (fake, why) in [
        ("ЅУЅТЕМ", "the name System is the program's own"),
        ("Sуstem", "the name mixes letters of several scripts"),
        ("System\u{331}", "the name System is the program's own"),
    ] {
        let refused = hostile_room::Member::try_join(port, fake).map(drop);
        assert!(refused.is_err(), "a member named {fake} was let in");
        host.expect_line("the turned-away line", |l| {
            l.starts_with("[System] Turned away 127.0.0.1:")
                && l.ends_with(&format!("its name is refused: {why}."))
        });
    }
    // A plain member may not take them either, by a line in its name.
    let (mut plain_host, plain_port) =
        Chat::listen("plain", dir.path(), &["--room", "--name", "host"]);
    let mut nc = RawPeer::connect(plain_port);
    nc.expect_line("[System] You are in host's room as guest1, alone with the host.");
    for fake in ["ЅУЅТЕМ", "Sуstem"] {
        nc.write_bytes(format!("[{fake}] I am the program\n").as_bytes());
        // The line is the member's, under the name it has.
        plain_host.expect_exact(&format!("[guest1] [{fake}] I am the program"));
    }
}

#[test]
fn a_full_room_says_so() {
    let dir = TestDir::new("room-full");
    let (mut host, port) = host(&dir, &["--max-peers", "1"]);
    let _first = join(&dir, &mut host, port, "I056");
    let mut second = Chat::connect_encrypted(
        "second",
        &dir.subdir("second"),
        "127.0.0.1",
        port,
        &["--name", "I057"],
    );
    second.expect_exact(
        "[System] Not let into the room: the room is full (it takes 1 member besides its host).",
    );
    let code = second.wait_exit();
    second.assert_failed_cleanly(code, "did not let us in");
}

#[test]
fn who_lists_the_members_and_msg_reaches_one_only() {
    let dir = TestDir::new("room-who");
    let (mut host, _port, mut members) = room(&dir, &["I056", "I057", "I058"]);
    members[0].send_line("/who");
    members[0].expect_exact("[System] 4 in the room:");
    members[0].expect_line("the host's line", |l| {
        l.starts_with("[System]   host ") && l.contains("  host, for ")
    });
    members[0].expect_line("its own line", |l| {
        l.starts_with("[System]   I056 ") && l.contains("127.0.0.1:") && l.ends_with("(you)")
    });
    members[0].expect_prefix("[System]   I057 ");
    members[0].expect_prefix("[System]   I058 ");
    host.send_line("/who");
    host.expect_exact("[System] 4 in the room:");
    host.expect_line("the host, as itself", |l| {
        l.ends_with("(you)") && l.contains("host")
    });

    // A private message: only I058 sees it, the host does not.
    members[0].send_line("/msg I058 just for you");
    members[2].expect_exact("[I056] (to you) just for you");
    members[0].send_line("/msg host for the host");
    host.expect_exact("[I056] (to you) for the host");
    host.send_line("/msg i057 from the host");
    members[1].expect_exact("[host] (to you) from the host");
    members[0].send_line("/msg nobody hello?");
    members[0]
        .expect_exact("[System] Room: nobody called nobody is in the room; /who lists who is.");
    // A marker after the private messages: had anyone else seen one, it
    // would show before the marker.
    members[0].send_line("marker");
    host.expect_exact("[I056] marker");
    let (first, rest) = members.split_at_mut(2);
    let (i057, i058) = (&mut first[1], &mut rest[0]);
    i057.expect_exact("[I056] marker");
    i058.expect_exact("[I056] marker");
    let seen = |chat: &Chat, text: &str| chat.stdout_lines().iter().any(|l| l.contains(text));
    assert!(!seen(&host, "just for you"));
    assert!(!seen(i057, "just for you") && !seen(i057, "for the host"));
    assert!(!seen(i058, "for the host") && !seen(i058, "from the host"));
}

#[test]
fn who_and_msg_are_for_rooms() {
    let dir = TestDir::new("room-not");
    let (mut alice, mut bob) = common::encrypted_pair(&dir.subdir("a"), &[], &dir.subdir("b"), &[]);
    bob.send_line("/who");
    bob.expect_exact(
        "[System] /who and /msg work in a room (chat listen --room); here there is one peer.",
    );
    bob.send_line("/msg alice hi");
    bob.expect_exact(
        "[System] /who and /msg work in a room (chat listen --room); here there is one peer.",
    );
    bob.send_line("after");
    alice.expect_exact("[bob] after");
    // Nothing of `/msg alice hi` reached alice.
    let lines = alice.stdout_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("[bob]") && l.contains("hi")),
        "{lines:?}"
    );
}

#[test]
fn a_member_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let dir = TestDir::new("room-stall");
    // (Long enough for a member that reads, on a busy machine, to keep up.)
    let (mut host, port) = host(&dir, &["--stall-timeout", "5"]);
    let mut listener = join(&dir, &mut host, port, "I057");
    // A member that joins properly, then never reads again.
    let mut sleeper = hostile_room::Member::join(port, "sleeper");
    host.expect_prefix("[System] sleeper joined the room (");
    listener.expect_exact("[System] sleeper joined the room.");
    // The host talks a lot: more than every buffer between it and the
    // sleeper holds, as fast as a member that reads takes it (a burst of
    // 12 MB at once would leave a slow machine's reader behind too).
    let line = "x".repeat(60_000);
    let started = Instant::now();
    let dropped = |l: &str| l.starts_with("[System] sleeper was dropped from the room: ");
    let mut told = false;
    listener.set_timeout(Duration::from_secs(30));
    for _ in 0..20 {
        for _ in 0..10 {
            host.send_line(&line);
        }
        let mut got = 0;
        while got < 10 {
            let next = listener.expect_line("the host's lines", |_| true);
            got += usize::from(next.ends_with("xxx"));
            told |= dropped(&next);
        }
    }
    host.set_timeout(Duration::from_secs(30));
    let why = host.expect_line("the sleeper dropped", dropped);
    assert!(
        why.ends_with("it stopped reading.") || why.ends_with("it fell too far behind the room."),
        "{why}"
    );
    // The others got everything, and the room still works.
    if !told {
        listener.expect_line("the sleeper dropped", dropped);
    }
    host.send_line("after");
    listener.expect_exact("[host] after");
    let got = listener
        .stdout_lines()
        .iter()
        .filter(|l| l.len() > 60_000)
        .count();
    assert_eq!(got, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
    sleeper.close();
}

#[test]
fn a_member_that_floods_is_slowed_and_the_room_stays_responsive() {
    let dir = TestDir::new("room-flood");
    let (mut host, port) = host(&dir, &[]);
    let mut quiet = join(&dir, &mut host, port, "I057");
    let mut flooder = hostile_room::Member::join(port, "flood");
    quiet.expect_exact("[System] flood joined the room.");
    host.expect_prefix("[System] flood joined the room (");
    // 1000 messages at once: the throttle lets a burst through, then about
    // 25 a second.
    let flooding = std::thread::spawn(move || {
        for n in 0..1000 {
            if flooder.say(&format!("spam {n}")).is_err() {
                break;
            }
        }
        flooder
    });
    host.expect_exact(
        "[System] flood sends faster than the room allows; its messages are slowed down.",
    );
    // Someone else's message gets through at once, not behind the flood.
    quiet.send_line("can anyone hear me");
    let asked = Instant::now();
    host.expect_exact("[I057] can anyone hear me");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // The flooder has not got far: the throttle holds it back.
    let spam = host
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("[flood] spam"))
        .count();
    assert!(spam < 400, "{spam} flood messages already through");
    let mut flooder = flooding.join().unwrap_or_else(|_| panic!("flooder"));
    assert!(flooder.expect_notice().contains("slowed down"));
    flooder.close();
}

#[test]
fn a_member_that_goes_silent_is_dropped_by_keepalive() {
    let dir = TestDir::new("room-silent");
    let (mut host, port) = host(&dir, &["--keepalive", "1"]);
    let mut watcher = join(&dir, &mut host, port, "I057");
    // A member that joins, then never answers a ping.
    let silent = hostile_room::Member::join(port, "ghost");
    watcher.expect_exact("[System] ghost joined the room.");
    let started = Instant::now();
    watcher.expect_exact(
        "[System] ghost was dropped from the room: no answer to the keepalive for 3 s.",
    );
    host.expect_exact(
        "[System] ghost was dropped from the room: no answer to the keepalive for 3 s.",
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    // A member that answers stays.
    std::thread::sleep(Duration::from_millis(0));
    watcher.send_line("still in");
    host.expect_exact("[I057] still in");
    drop(silent);
}

#[test]
fn a_member_notices_a_host_that_went_silent() {
    let dir = TestDir::new("room-host-silent");
    let (mut host, port) = host(&dir, &["--keepalive", "1"]);
    let mut member = join(&dir, &mut host, port, "I057");
    host.signal("STOP");
    member.expect_exact("[System] Connection lost: the room's host was silent for 3 s");
    assert_eq!(member.wait_exit(), 1);
    host.signal("CONT");
}

#[test]
fn code_applies_to_every_joiner_and_the_host_shows_each_safety_code() {
    let dir = TestDir::new("room-code");
    let (mut host, port) = host(&dir, &["--lan", "--code", "7-ocean-lamp"]);
    let mut joined = Vec::new();
    for name in ["I056", "I057"] {
        let mut member = Chat::connect_encrypted(
            name,
            &dir.subdir(name),
            "127.0.0.1",
            port,
            &["--name", name, "--code", "7-ocean-lamp"],
        );
        member.expect_exact("[System] Encrypted and verified with the code.");
        member.expect_prefix("[System] You are in host's room");
        host.expect_prefix(&format!("[System] {name} joined the room"));
        joined.push(member);
    }
    let mut wrong = Chat::connect_encrypted(
        "wrong",
        &dir.subdir("wrong"),
        "127.0.0.1",
        port,
        &["--name", "I058", "--code", "7-ocean-lamb"],
    );
    assert_ne!(wrong.wait_exit(), 0);
    host.expect_prefix("[System] Turned away 127.0.0.1:");
    host.send_line("/who");
    host.expect_prefix("[System] Room: safety code with I056: ");
    host.expect_prefix("[System] Room: safety code with I057: ");
    joined[0].send_line("/code");
    joined[0].expect_prefix("[System] Safety code: ");
}

/// The original wire: raw peers, as the original program and `nc` are.
#[test]
fn a_plain_room_relays_lines_in_the_original_format() {
    let dir = TestDir::new("room-plain");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut python = RawPeer::connect(port);
    python.expect_line("[System] You are in host's room as guest1, alone with the host.");
    host.expect_prefix("[System] guest1 joined the room (127.0.0.1:");
    let mut nc = RawPeer::connect(port);
    nc.expect_line("[System] You are in host's room as guest2, with the host and 1 other.");
    python.expect_line("[System] guest2 joined the room.");
    // The original program puts its name in front; it becomes the member's.
    python.write_bytes(b"[I056] hello from python\n");
    nc.expect_line("[System] Room: guest1 is now called I056.");
    nc.expect_line("[I056] hello from python");
    host.expect_exact("[I056] hello from python");
    // nc sends bare text, which goes under its name; control characters
    // never pass.
    nc.write_bytes(b"bare \x1b[31mtext\n");
    python.expect_line("[guest2] bare \\x1b[31mtext");
    // Nobody speaks under another's name.
    nc.write_bytes(b"[I056] I am I056 now\n");
    python.expect_line("[guest2] [I056] I am I056 now");
    nc.expect_line("[System] Room: the name I056 is taken here; you are guest2.");
    // A file header that makes no sense is read past, and the host says so.
    nc.write_bytes(b"/file neg -5\n");
    host.expect_exact(
        "[System] Ignored malformed file header from guest2: size \"-5\" is not a number",
    );
    nc.write_bytes(b"still in step\n");
    python.expect_line("[guest2] still in step");
    host.send_line("hi all");
    python.expect_line("[host] hi all");
    nc.expect_line("[host] hi all");
    // A goodbye in the original form ends the membership cleanly.
    python.write_bytes(b"[I056] has left the chat.\n");
    python.shutdown_write();
    nc.expect_line("[System] I056 left the room.");
    host.expect_exact("[System] I056 left the room.");
    // A chat joining with --plain is one more member.
    let mut chat = Chat::connect(
        "I058",
        &dir.subdir("c"),
        "127.0.0.1",
        port,
        &["--name", "I058"],
    );
    chat.expect_exact("[System] You are in host's room as guest1, with the host and 1 other.");
    nc.expect_line("[System] guest1 joined the room.");
    chat.send_line("from a chat");
    nc.expect_line("[System] Room: guest1 is now called I058.");
    nc.expect_line("[I058] from a chat");
    host.send_line("/quit");
    nc.expect_line("[host] has left the chat.");
    chat.expect_exact("[host] has left the chat.");
    assert_eq!(chat.wait_exit(), 0);
    assert_eq!(host.wait_exit(), 0);
}

#[test]
fn a_message_of_several_lines_reaches_everyone_indented_under_its_senders_name() {
    let dir = TestDir::new("room-lines");
    let (mut host, port, mut members) = room(&dir, &["daksh"]);
    let mut mallory = hostile_room::Member::join(port, "mallory");
    host.expect_prefix("[System] mallory joined the room (127.0.0.1:");
    members[0].expect_exact("[System] mallory joined the room.");
    mallory
        .say("hi\n[System] host left\n[daksh] not daksh\r\x1b[2K")
        .unwrap();
    for chat in [&mut host, &mut members[0]] {
        chat.expect_exact("[mallory] hi");
        chat.next_line_is("          [System] host left");
        chat.next_line_is("          [daksh] not daksh\\x0d\\x1b[2K");
    }
    mallory.close();
    host.send_line("/quit");
    members[0].expect_exact("[System] The room is closed: its host left.");
    assert_eq!(members[0].wait_exit(), 0, "{}", members[0].report());
    assert_eq!(host.wait_exit(), 0, "{}", host.report());
}

/// `size` bytes that differ from file to file.
fn random_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn a_file_goes_to_every_member_and_the_host() {
    let dir = TestDir::new("room-file");
    let (mut host, _port, mut members) = room(&dir, &["I056", "I057", "I058"]);
    let data = random_bytes(3 << 20, 7);
    let path = dir.join("notes.bin");
    std::fs::write(&path, &data).unwrap();
    members[0].send_line(&format!("/send {}", path.display()));
    let size = data.len();
    for chat in [&mut host, &mut members[1]] {
        chat.expect_exact(&format!(
            "[System] Incoming file notes.bin ({}) from I056...",
            common::size(size)
        ));
        chat.expect_exact("[System] File saved to received_files/notes.bin");
    }
    members[2].expect_exact("[System] File saved to received_files/notes.bin");
    members[0].expect_all_unordered(&[
        "[System] Room: host saved notes.bin",
        "[System] Room: I057 saved notes.bin",
        "[System] Room: I058 saved notes.bin",
    ]);
    members[0].expect_exact(&format!(
        "[System] Sent file notes.bin ({})",
        common::size(size)
    ));
    for saved in [
        dir.join("received_files/notes.bin"),
        dir.subdir("I057").join("received_files/notes.bin"),
        dir.subdir("I058").join("received_files/notes.bin"),
    ] {
        assert!(
            std::fs::read(&saved).unwrap() == data,
            "{}",
            saved.display()
        );
    }
    // The host sends one too, and talking goes on meanwhile.
    let from_host = random_bytes(1 << 20, 9);
    std::fs::write(dir.join("from host.bin"), &from_host).unwrap();
    host.send_line(&format!(
        "/send \"{}\"",
        dir.join("from host.bin").display()
    ));
    members[1].send_line("while it goes");
    for member in &mut members {
        member.expect_exact("[System] File saved to received_files/from host.bin");
    }
    host.expect_exact("[I057] while it goes");
    host.expect_prefix("[System] Sent file from host.bin (");
    let saved = dir.subdir("I056").join("received_files/from host.bin");
    assert!(std::fs::read(saved).unwrap() == from_host);
    assert!(!dir.subdir("I056").join("received_files/notes.bin").exists());
}

#[test]
fn each_member_takes_or_declines_on_its_own() {
    let dir = TestDir::new("room-decide");
    let (mut host, port) = host(&dir, &[]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let cwd = dir.subdir("I057");
    let mut asked = Chat::connect_encrypted(
        "I057",
        &cwd,
        "127.0.0.1",
        port,
        &["--name", "I057", "--ask-above", "1K"],
    );
    asked.expect_prefix("[System] You are in host's room");
    let path = dir.join("big.bin");
    std::fs::write(&path, random_bytes(64 << 10, 3)).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    let offer = asked.expect_prefix("[System] I056 offers big.bin (64.0 KiB): /accept ");
    assert!(offer.ends_with(" or /decline 1"), "{offer}");
    // The file waits for everyone's answer.
    asked.send_line("/decline");
    host.expect_exact("[System] File saved to received_files/big.bin");
    sender.expect_all_unordered(&[
        "[System] Room: host saved big.bin",
        "[System] Room: I057 did not take big.bin: declined",
    ]);
    sender.expect_prefix("[System] Sent file big.bin (");
    assert!(!cwd.join("received_files/big.bin").exists());
}

#[test]
fn a_file_nobody_takes_is_not_sent() {
    let dir = TestDir::new("room-nobody");
    let (mut host, port) = host(&dir, &["--ask-above", "0"]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let path = dir.join("a.bin");
    std::fs::write(&path, random_bytes(1000, 5)).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    host.expect_prefix("[System] I056 offers a.bin (1000 B): /accept 1");
    // A member sends to the room, and waits for the room.
    sender.send_line("/status");
    sender.expect_exact("[System] #1 Offered: a.bin (1000 B), waiting for the room's answer");
    host.send_line("/decline 1");
    sender.expect_exact("[System] Room: host did not take a.bin: declined");
    sender.expect_exact("[System] a.bin was not saved by the room: nobody in the room took it");
    // The room goes on.
    sender.send_line("ok then");
    host.expect_exact("[I056] ok then");
}

#[test]
fn a_slow_member_is_dropped_from_the_transfer_and_the_others_go_on() {
    let dir = TestDir::new("room-slow");
    let (mut host, port) = host(&dir, &[]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let mut fast = join(&dir, &mut host, port, "I057");
    let mut slow = hostile_room::Member::join(port, "slow");
    host.expect_prefix("[System] slow joined the room (");
    let data = random_bytes(48 << 20, 11);
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    let (id, size) = slow.accept_offer();
    assert_eq!(size, data.len() as u64);
    // About 1 MiB a second: far slower than the others.
    let (stopped, got) = slow.take_slowly(id, 16);
    assert!(stopped, "the slow member got the whole file");
    assert!(got < data.len() as u64 / 2, "{got}");
    host.set_timeout(Duration::from_secs(60));
    fast.set_timeout(Duration::from_secs(60));
    sender.set_timeout(Duration::from_secs(60));
    host.expect_exact("[System] slow fell too far behind and was dropped from big.bin.");
    fast.expect_exact("[System] File saved to received_files/big.bin");
    host.expect_exact("[System] File saved to received_files/big.bin");
    sender.expect_exact("[System] Room: slow fell too far behind and was dropped from big.bin");
    sender.expect_prefix("[System] Sent file big.bin (");
    let saved = dir.subdir("I057").join("received_files/big.bin");
    assert!(std::fs::read(saved).unwrap() == data);
    assert!(slow.expect_notice().contains("you fell too far behind"));
    slow.close();
}

#[test]
fn a_member_that_stops_reading_mid_file_holds_up_neither_the_file_nor_the_talk() {
    let dir = TestDir::new("room-not-reading");
    let (mut host, port) = host(&dir, &[]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let mut fast = join(&dir, &mut host, port, "I057");
    let mut stuck = hostile_room::Member::join_reading_little(port, "stuck");
    host.expect_prefix("[System] stuck joined the room (");
    let data = random_bytes(48 << 20, 12);
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    // It takes the file, then reads nothing more: what is queued for it
    // stays queued, its writer stuck.
    stuck.accept_offer();
    for chat in [&mut host, &mut fast, &mut sender] {
        chat.set_timeout(Duration::from_secs(60));
    }
    host.expect_exact("[System] stuck fell too far behind and was dropped from big.bin.");
    sender.send_line("still talking");
    fast.expect_exact("[I056] still talking");
    fast.expect_exact("[System] File saved to received_files/big.bin");
    host.expect_exact("[System] File saved to received_files/big.bin");
    sender.expect_prefix("[System] Sent file big.bin (");
    let saved = dir.subdir("I057").join("received_files/big.bin");
    assert!(std::fs::read(saved).unwrap() == data);
    stuck.close();
}

/// I056 joins the room at `port` and sends `big.bin` (256 MiB), which the
/// host answers with `answer`; I056 is killed once I057 kept 4 MiB of it.
/// I057, the file's bytes, and its path.
fn cut_off_mid_file(
    dir: &TestDir,
    host: &mut Chat,
    port: u16,
    answer: &str,
) -> (Chat, Vec<u8>, std::path::PathBuf) {
    let mut sender = join(dir, host, port, "I056");
    let mut taker = join(dir, host, port, "I057");
    let data = random_bytes(256 << 20, 13);
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    host.expect_prefix("[System] I056 offers big.bin (256.0 MiB): /accept 1");
    host.send_line(answer);
    taker.expect_prefix("[System] Incoming file big.bin (");
    let taker_dir = dir.subdir("I057");
    let deadline = Instant::now() + Duration::from_secs(60);
    while kept_bytes(&taker_dir) < 4 << 20 {
        assert!(Instant::now() < deadline, "nothing of big.bin arrived");
        // Polling a file size: nothing tells when it grows.
        std::thread::sleep(Duration::from_millis(2));
    }
    sender.signal("KILL");
    (taker, data, path)
}

#[test]
fn a_sender_that_leaves_mid_file_leaves_what_arrived_kept_to_resume() {
    let dir = TestDir::new("room-sender-gone");
    let (mut host, port) = host(&dir, &["--ask-above", "0"]);
    let (mut taker, data, path) = cut_off_mid_file(&dir, &mut host, port, "/accept 1");
    let taker_dir = dir.subdir("I057");
    let kept = "[System] Transfer of big.bin incomplete: its sender left the room; what arrived \
                is kept, so sending it again resumes.";
    taker.expect_exact(kept);
    taker.expect_exact(
        "[System] I056 left the room (its chat closed the connection without a goodbye).",
    );
    host.expect_prefix("[System] Transfer of big.bin incomplete: its sender left the room; ");
    assert!(!taker_dir.join("received_files/big.bin").exists());
    assert!(!dir.join("received_files/big.bin").exists());
    // The sender back, and the host not taking it this time: I057 resumes
    // from what it kept.
    let held = kept_bytes(&taker_dir);
    assert!(held >= 4 << 20, "{held}");
    let mut sender = join(&dir, &mut host, port, "I056");
    sender.send_line(&format!("/send {}", path.display()));
    // The host kept part of it too, and its offer says so.
    let offer = host.expect_prefix("[System] I056 offers big.bin (256.0 MiB, would resume: ");
    assert!(
        offer.ends_with(" of 256.0 MiB kept): /accept 2 or /decline 2"),
        "{offer}"
    );
    host.send_line("/decline 2");
    taker.expect_prefix("[System] Resuming big.bin: ");
    taker.set_timeout(Duration::from_secs(60));
    taker.expect_exact("[System] File saved to received_files/big.bin");
    assert!(std::fs::read(taker_dir.join("received_files/big.bin")).unwrap() == data);
}

#[test]
fn what_a_member_kept_of_a_file_resumes_for_its_sender_alone() {
    let dir = TestDir::new("room-kept-owner");
    let (mut host, port) = host(&dir, &["--ask-above", "0"]);
    let (mut taker, data, path) = cut_off_mid_file(&dir, &mut host, port, "/decline 1");
    let taker_dir = dir.subdir("I057");
    taker.expect_prefix("[System] Transfer of big.bin incomplete: its sender left the room");
    let held = kept_bytes(&taker_dir);
    // Another person takes the name I056 and sends the same file: the
    // taker starts it afresh, and what it kept for I056 stays as it was.
    let other = dir.subdir("other");
    let mut impostor =
        Chat::connect_encrypted("impostor", &other, "127.0.0.1", port, &["--name", "I056"]);
    host.expect_prefix("[System] I056 joined the room (127.0.0.1:");
    impostor.send_line(&format!("/send {}", path.display()));
    host.expect_prefix("[System] I056 offers big.bin (256.0 MiB): /accept 2");
    host.send_line("/decline 2");
    taker.set_timeout(Duration::from_secs(60));
    taker.expect_exact("[System] File saved to received_files/big.bin");
    assert_eq!(kept_bytes(&taker_dir), held);
    assert!(
        !taker
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Resuming"))
    );
    impostor.send_line("/quit");
    impostor.wait_exit();
    // The real I056 back: the taker resumes from what it kept.
    let mut sender = join(&dir, &mut host, port, "I056");
    sender.send_line(&format!("/send {}", path.display()));
    host.expect_prefix("[System] I056 offers big.bin (256.0 MiB): /accept 3");
    host.send_line("/decline 3");
    let resuming = taker.expect_prefix("[System] Resuming big.bin: ");
    assert!(resuming.contains("MiB"), "{resuming}");
    taker.expect_exact("[System] File saved to received_files/big (1).bin");
    assert!(std::fs::read(taker_dir.join("received_files/big (1).bin")).unwrap() == data);
}

#[test]
fn files_pass_through_a_plain_room_in_the_original_format() {
    let dir = TestDir::new("room-plain-files");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut python = RawPeer::connect(port);
    python.expect_line("[System] You are in host's room as guest1, alone with the host.");
    python.write_bytes(b"[I056] here\n");
    host.expect_exact("[I056] here");
    // (guest1 is free again.)
    let mut nc = RawPeer::connect(port);
    nc.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    let cwd = dir.subdir("c");
    let mut chat = Chat::connect("I058", &cwd, "127.0.0.1", port, &["--name", "I058"]);
    chat.expect_exact("[System] You are in host's room as guest2, with the host and 2 others.");
    nc.expect_line("[System] guest2 joined the room.");
    // The original program sends a file: everyone gets it as it was sent.
    python.write_bytes(b"/file notes.txt 11\nhello world");
    nc.expect_line("/file notes.txt 11");
    assert_eq!(nc.read_exact_bytes(11), b"hello world");
    chat.expect_exact("[System] File saved to received_files/notes.txt");
    host.expect_exact("[System] Incoming file notes.txt (11 B) from I056...");
    host.expect_exact("[System] File saved to received_files/notes.txt");
    assert_eq!(
        std::fs::read(cwd.join("received_files/notes.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(
        std::fs::read(dir.join("received_files/notes.txt")).unwrap(),
        b"hello world"
    );
    skip_to(&mut python, "[System] Room: host saved notes.txt.");
    // The host sends one; a line said meanwhile comes after it, never
    // inside it.
    let data = random_bytes(1 << 20, 21);
    std::fs::write(dir.join("from host.bin"), &data).unwrap();
    host.send_line(&format!(
        "/send \"{}\"",
        dir.join("from host.bin").display()
    ));
    nc.write_bytes(b"while it goes\n");
    let mut said_before = false;
    for peer in [&mut python, &mut nc] {
        let mut header = peer.read_line();
        while header.starts_with(b"[") {
            said_before |= header == b"[guest1] while it goes";
            header = peer.read_line();
        }
        assert_eq!(
            header,
            format!("/file from host.bin {}", data.len()).as_bytes()
        );
        assert!(peer.read_exact_bytes(data.len()) == data);
    }
    if !said_before {
        skip_to(&mut python, "[guest1] while it goes");
    }
    chat.expect_exact("[System] File saved to received_files/from host.bin");
    assert!(std::fs::read(cwd.join("received_files/from host.bin")).unwrap() == data);
    host.expect_prefix("[System] Sent file from host.bin (");
}

/// Reads lines from a raw peer until `expected` comes.
fn skip_to(peer: &mut RawPeer, expected: &str) {
    while peer.read_line() != expected.as_bytes() {}
}

#[test]
fn a_plain_file_cut_off_takes_its_receivers_out_and_the_room_goes_on() {
    let dir = TestDir::new("room-plain-cut");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut python = RawPeer::connect(port);
    python.expect_line("[System] You are in host's room as guest1, alone with the host.");
    let mut nc = RawPeer::connect(port);
    nc.expect_line("[System] You are in host's room as guest2, with the host and 1 other.");
    // A file of ten million bytes, of which one and a half million come:
    // enough for it to start for nc before it is cut off.
    let mut python = python.into_stream();
    let sending = std::thread::spawn(move || {
        use std::io::Write;
        python.write_all(b"/file big.bin 10000000\n").unwrap();
        python.write_all(&[7; 1_500_000]).unwrap();
        python.shutdown(std::net::Shutdown::Write).unwrap();
        python
    });
    host.expect_exact("[System] Incoming file big.bin (9.5 MiB) from guest1...");
    // It started for nc, whose stream cannot be put back in step: nc is let
    // go (with what of it reached nc before).
    nc.expect_eof();
    let _python = sending.join().unwrap();
    // (Whether the host's side had taken it yet when it was cut decides
    // which.)
    host.expect_line("the file's end", |l| {
        l == "[System] The peer stopped sending big.bin; nothing was saved."
            || l.starts_with("[System] Transfer of big.bin incomplete: its sender left the room; ")
    });
    host.expect_exact(
        "[System] guest2 was dropped from the room: guest1's big.bin stopped on its way, \
         and the original wire cannot say so.",
    );
    host.expect_prefix("[System] guest1 left the room (connection lost: ");
    assert!(!dir.join("received_files/big.bin").exists());
    // The room goes on.
    let mut late = RawPeer::connect(port);
    late.expect_line("[System] You are in host's room as guest1, alone with the host.");
    host.send_line("still here");
    late.expect_line("[host] still here");
}

/// The most bytes kept of a cut file in `chat_dir`'s download folder.
fn kept_bytes(chat_dir: &std::path::Path) -> u64 {
    let folder = chat_dir.join("received_files/.chat-partial");
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

#[test]
fn a_member_cut_off_mid_file_resumes_when_it_is_sent_again() {
    let dir = TestDir::new("room-resume");
    let (mut host, port) = host(&dir, &["--ask-above", "0"]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let mut taker = join(&dir, &mut host, port, "I057");
    let data = random_bytes(256 << 20, 31);
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    sender.send_line(&format!("/send {}", path.display()));
    // The host does not want it: the file goes to I057 alone.
    host.expect_prefix("[System] I056 offers big.bin (256.0 MiB): /accept 1");
    host.send_line("/decline 1");
    taker.expect_exact(&format!(
        "[System] Incoming file big.bin ({}) from I056...",
        common::size(data.len())
    ));
    let taker_dir = dir.subdir("I057");
    let deadline = Instant::now() + Duration::from_secs(60);
    while kept_bytes(&taker_dir) < 8 << 20 {
        assert!(Instant::now() < deadline, "nothing of big.bin arrived");
        // Polling a file size: nothing tells when it grows.
        std::thread::sleep(Duration::from_millis(2));
    }
    taker.signal("KILL");
    sender.set_timeout(Duration::from_secs(60));
    sender.expect_exact("[System] Room: I057 left before big.bin arrived");
    sender.expect_exact(
        "[System] big.bin was not saved by the room: nobody in the room is taking it any more",
    );
    let held = kept_bytes(&taker_dir);
    assert!(held >= 8 << 20 && held < data.len() as u64, "{held}");

    // Back, and sent again: only what is missing travels.
    let mut taker = join(&dir, &mut host, port, "I057");
    sender.send_line(&format!("/send {}", path.display()));
    host.expect_prefix("[System] I056 offers big.bin (256.0 MiB): /accept 2");
    host.send_line("/decline 2");
    taker.expect_prefix("[System] Resuming big.bin: ");
    sender.expect_prefix("[System] Resuming big.bin: the room has ");
    taker.set_timeout(Duration::from_secs(60));
    taker.expect_exact("[System] File saved to received_files/big.bin");
    sender.expect_exact("[System] Room: I057 saved big.bin");
    sender.expect_prefix("[System] Sent file big.bin (");
    assert!(std::fs::read(taker_dir.join("received_files/big.bin")).unwrap() == data);
}

#[test]
fn the_host_leaves_at_once_while_a_member_is_held_back_by_the_throttle() {
    let dir = TestDir::new("room-quit-throttled");
    let (mut host, port) = host(&dir, &[]);
    let mut paster = join(&dir, &mut host, port, "paster");
    // Far more than the throttle lets through in the seconds that follow.
    let lines: String = (0..3000).map(|n| format!("line {n}\n")).collect();
    paster.send_raw(lines.as_bytes());
    host.expect_exact(
        "[System] paster sends faster than the room allows; its messages are slowed down.",
    );
    host.send_line("/quit");
    assert_eq!(host.wait_exit_within(Duration::from_secs(5)), 0);
    paster.expect_exact("[System] The room is closed: its host left.");
}

#[test]
fn names_with_spaces_get_their_private_messages() {
    let dir = TestDir::new("room-spaces");
    let (mut host, _port, mut members) = room(&dir, &["Daksh", "Daksh K", "carol"]);
    members[2].send_line("/msg \"Daksh K\" the secret is xyzzy");
    members[1].expect_exact("[carol] (to you) the secret is xyzzy");
    members[2].send_line("/msg daksh hello");
    members[0].expect_exact("[carol] (to you) hello");
    members[2].send_line("/msg carol me?");
    members[2].expect_exact("[System] Room: that is you: a private message goes to someone else");
    members[2].send_line("done");
    for chat in [&mut host, &mut members[0]] {
        chat.expect_exact("[carol] done");
    }
    assert!(
        !members[0]
            .stdout_lines()
            .iter()
            .any(|l| l.contains("xyzzy"))
    );
}

/// A member's private message goes to the whole name it gives, never to
/// one whose name begins with that name and the first words of the text.
#[test]
fn a_private_message_goes_to_the_member_named_not_to_a_longer_name() {
    let dir = TestDir::new("room-whole-name");
    let (mut host, port, mut members) = room(&dir, &["Bea", "Bea can", "carol"]);
    let mut sam = hostile_room::Member::join(port, "Sam");
    host.expect_prefix("[System] Sam joined the room (127.0.0.1:");
    for member in &mut members {
        member.expect_exact("[System] Sam joined the room.");
    }
    let whisper = Message::Whisper {
        name: "Bea",
        text: "can you send me the password?",
    };
    sam.send(&whisper).unwrap();
    members[0].expect_exact("[Sam] (to you) can you send me the password?");
    // Typed: an unquoted name is one word; a name with spaces is quoted.
    members[2].send_line("/msg Bea can you keep a secret?");
    members[0].expect_exact("[carol] (to you) can you keep a secret?");
    members[2].send_line("/msg \"bea CAN\" only for you");
    members[1].expect_exact("[carol] (to you) only for you");
    members[2].send_line("/msg \"Bea\" can too");
    members[0].expect_exact("[carol] (to you) can too");
    members[2].send_line("marker");
    host.expect_exact("[carol] marker");
    for member in &mut members[..2] {
        member.expect_exact("[carol] marker");
    }
    let seen = |chat: &Chat, text: &str| chat.stdout_lines().iter().any(|l| l.contains(text));
    assert!(!seen(&members[1], "password") && !seen(&members[1], "secret"));
    assert!(!seen(&members[1], "can too") && !seen(&members[0], "only for you"));
    assert!(!seen(&host, "password") && !seen(&host, "secret"));
}

/// Lines a raw peer reads until `expected`, which it must come to.
fn lines_until(peer: &mut RawPeer, expected: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = String::from_utf8_lossy(&peer.read_line()).into_owned();
        if line == expected {
            return lines;
        }
        lines.push(line);
    }
}

/// The same in a room on the original wire, where the room splits the
/// line a member types.
#[test]
fn a_plain_rooms_private_message_goes_to_the_member_named_not_to_a_longer_name() {
    let dir = TestDir::new("room-plain-whole-name");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut bea_can = RawPeer::connect(port);
    bea_can.expect_line("[System] You are in host's room as guest1, alone with the host.");
    bea_can.write_bytes(b"[Bea can] hi\n");
    host.expect_exact("[Bea can] hi");
    let mut sam = RawPeer::connect(port);
    sam.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    sam.write_bytes(b"[Sam] /msg Bea can you send me the password?\n");
    skip_to(
        &mut sam,
        "[System] Room: nobody called Bea is in the room; a name with spaces is quoted: \
         /msg \"Bea can\" text.",
    );
    let mut bea = RawPeer::connect(port);
    bea.expect_line("[System] You are in host's room as guest1, with the host and 2 others.");
    bea.write_bytes(b"[Bea] hello\n");
    skip_to(&mut sam, "[Bea] hello");
    sam.write_bytes(b"[Sam] /msg Bea can you send me the password?\n");
    bea.expect_line("[Sam] (to you) can you send me the password?");
    sam.write_bytes(b"[Sam] /msg \"bea can\" only for you\n");
    sam.write_bytes(b"[Sam] marker\n");
    let heard = lines_until(&mut bea_can, "[Sam] marker");
    assert!(
        heard.contains(&"[Sam] (to you) only for you".to_string()),
        "{heard:?}"
    );
    assert!(!heard.iter().any(|l| l.contains("password")), "{heard:?}");
    let heard = lines_until(&mut bea, "[Sam] marker");
    assert!(
        !heard.iter().any(|l| l.contains("only for you")),
        "{heard:?}"
    );
    host.expect_exact("[Sam] marker");
    assert!(!host.stdout_lines().iter().any(|l| l.contains("password")));
}

#[test]
fn a_folder_goes_to_every_member_whole() {
    let dir = TestDir::new("room-folder");
    let (mut host, port) = host(&dir, &[]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let mut taker = join(&dir, &mut host, port, "I057");
    let cwd = dir.subdir("I058");
    let mut decliner = Chat::connect_encrypted(
        "I058",
        &cwd,
        "127.0.0.1",
        port,
        &["--name", "I058", "--ask-above", "0"],
    );
    decliner.expect_prefix("[System] You are in host's room");
    let album = dir.subdir("album");
    std::fs::create_dir_all(album.join("2024/empty")).unwrap();
    let big = random_bytes(3 << 20, 41);
    std::fs::write(album.join("a.txt"), b"a").unwrap();
    std::fs::write(album.join("2024/big.bin"), &big).unwrap();
    std::fs::write(album.join(".hidden"), b"").unwrap();
    sender.send_line(&format!("/send {}", album.display()));
    let offer =
        decliner.expect_prefix("[System] I056 offers folder album (3 files, 3.0 MiB): /accept ");
    assert!(offer.ends_with("/decline 1"), "{offer}");
    decliner.send_line("/decline 1");
    let bytes = big.len() + 1;
    for chat in [&mut host, &mut taker] {
        chat.expect_exact(&format!(
            "[System] Incoming folder album (3 files, {}) from I056...",
            common::size(bytes)
        ));
        chat.expect_exact(&format!(
            "[System] Folder saved to received_files/album (3 files, {})",
            common::size(bytes)
        ));
    }
    sender.expect_all_unordered(&[
        "[System] Room: host saved album",
        "[System] Room: I057 saved album",
        "[System] Room: I058 did not take album: declined",
    ]);
    sender.expect_exact(&format!(
        "[System] Sent folder album (3 files, {})",
        common::size(bytes)
    ));
    for saved in [
        dir.join("received_files/album"),
        dir.subdir("I057").join("received_files/album"),
    ] {
        assert_eq!(std::fs::read(saved.join("a.txt")).unwrap(), b"a");
        assert!(std::fs::read(saved.join("2024/big.bin")).unwrap() == big);
        assert!(saved.join(".hidden").is_file());
        assert!(saved.join("2024/empty").is_dir());
    }
    assert!(!cwd.join("received_files/album").exists());
    sender.send_line("still here");
    taker.expect_exact("[I056] still here");
}

#[test]
fn plain_members_use_who_and_msg_and_leave_as_the_original_program_does() {
    let dir = TestDir::new("room-plain-commands");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut python = RawPeer::connect(port);
    python.expect_line("[System] You are in host's room as guest1, alone with the host.");
    python.write_bytes(b"[I056] hi\n");
    host.expect_exact("[I056] hi");
    let cwd = dir.subdir("c");
    let mut chat = Chat::connect("I058", &cwd, "127.0.0.1", port, &["--name", "I058"]);
    chat.expect_exact("[System] You are in host's room as guest1, with the host and 1 other.");
    chat.send_line("named");
    skip_to(&mut python, "[I058] named");
    // Commands typed into the original program or nc work as in a room.
    python.write_bytes(b"[I056] /who\n");
    python.expect_line("[System] 3 in the room:");
    let host_line = String::from_utf8(python.read_line()).unwrap();
    assert!(
        host_line.starts_with("[System]   host ") && host_line.contains("host, for"),
        "{host_line}"
    );
    python.write_bytes(b"[I056] /msg I058 just you\n");
    chat.expect_exact("[I056] (to you) just you");
    python.write_bytes(b"[I056] /msg dave x\n");
    skip_to(
        &mut python,
        "[System] Room: nobody called dave is in the room; /who lists who is.",
    );
    // The last line, even without its newline, and then the original
    // program's goodbye, which ends its membership whether or not it
    // closes: the others stay.
    python.write_bytes(b"[I056] no newline");
    python.write_bytes(b"\n[I056] has left the chat.\n");
    chat.expect_exact("[I056] no newline");
    chat.expect_exact("[System] I056 left the room.");
    host.expect_exact("[System] I056 left the room.");
    python.expect_eof();
    chat.send_line("still in");
    host.expect_exact("[I058] still in");
    // A member that says the words without a name leaves too, and nobody
    // else's conversation ends with it.
    let mut nc = RawPeer::connect(port);
    nc.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    nc.write_bytes(b"has left the chat.\n");
    chat.expect_exact("[System] guest1 left the room.");
    host.send_line("has left the chat.");
    chat.expect_exact("[host] \"has left the chat.\"");
    chat.send_line("and still in");
    host.expect_exact("[I058] and still in");
    // A last line without a newline, as nc sends it at its end.
    let mut last = RawPeer::connect(port);
    last.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    last.write_bytes(b"bye now");
    last.shutdown_write();
    chat.expect_exact("[guest1] bye now");
}

/// What a plain room answers from `nc`, it answers from `chat --plain`:
/// `/who` and `/msg` go out as those lines.
#[test]
fn a_plain_chat_in_a_plain_room_uses_who_and_msg() {
    let dir = TestDir::new("room-plain-chat-commands");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut bob = RawPeer::connect(port);
    bob.expect_line("[System] You are in host's room as guest1, alone with the host.");
    bob.write_bytes(b"[bob] hi\n");
    host.expect_exact("[bob] hi");
    let mut bea_can = RawPeer::connect(port);
    bea_can.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    bea_can.write_bytes(b"[Bea can] hi\n");
    host.expect_exact("[Bea can] hi");
    let cwd = dir.subdir("c");
    let mut carol = Chat::connect("carol", &cwd, "127.0.0.1", port, &["--name", "carol"]);
    carol.expect_exact("[System] You are in host's room as guest1, with the host and 2 others.");
    carol.send_line("/who");
    carol.expect_exact(
        "[System] On the original wire (--plain), /who and /msg go out as lines that a room \
         answers; a peer that is not a room sees them as messages.",
    );
    carol.expect_exact("[System] 4 in the room:");
    carol.expect_prefix("[System]   host ");
    carol.expect_prefix("[System]   bob ");
    carol.expect_prefix("[System]   Bea can ");
    carol.expect_line("its own line", |l| {
        l.starts_with("[System]   carol ") && l.ends_with("(you)")
    });
    carol.send_line("/msg bob psst");
    skip_to(&mut bob, "[carol] (to you) psst");
    carol.send_line("/msg \"Bea can\" just you");
    skip_to(&mut bea_can, "[carol] (to you) just you");
    carol.send_line("/msg dave x");
    carol.expect_exact("[System] Room: nobody called dave is in the room; /who lists who is.");
    carol.send_line("public");
    skip_to(&mut bob, "[carol] public");
    host.expect_exact("[carol] public");
    assert!(!host.stdout_lines().iter().any(|l| l.contains("psst")));
    let notes = carol.stdout_lines();
    assert_eq!(
        notes
            .iter()
            .filter(|l| l.contains("On the original wire"))
            .count(),
        1,
        "{notes:?}"
    );
}

/// A peer on the original wire that is not a room gets `/msg` and `/who`
/// as the lines they are, in the original format.
#[test]
fn a_plain_peer_that_is_no_room_gets_who_and_msg_as_lines() {
    let dir = TestDir::new("plain-commands-one-peer");
    let (mut chat, mut peer) = common::listening_chat_with_raw_peer(dir.path(), &[]);
    chat.send_line("/who");
    chat.send_line("/msg bob psst");
    chat.send_line("/msg \"Bea can\" hi");
    let name = "alice";
    for line in ["/who", "/msg bob psst", "/msg \"Bea can\" hi"] {
        assert_eq!(
            String::from_utf8(peer.read_line()).unwrap(),
            format!("[{name}] {line}")
        );
    }
    chat.expect_prefix("[System] On the original wire (--plain), /who and /msg go out");
}

#[test]
fn an_encrypted_chat_in_a_plain_room_is_let_go() {
    let dir = TestDir::new("room-plain-greeting");
    let (mut host, port) = Chat::listen("host", dir.path(), &["--room", "--name", "host"]);
    let mut nc = RawPeer::connect(port);
    nc.expect_line("[System] You are in host's room as guest1, alone with the host.");
    let mut encrypted = Chat::connect_encrypted(
        "enc",
        &dir.subdir("e"),
        "127.0.0.1",
        port,
        &["--name", "enc"],
    );
    host.expect_prefix(
        "[System] guest2 was dropped from the room: it speaks the encrypted wire, and this room \
         the original one",
    );
    assert_ne!(encrypted.wait_exit(), 0);
    nc.expect_line("[System] guest2 joined the room.");
    let next = String::from_utf8(nc.read_line()).unwrap();
    assert!(next.starts_with("[System] guest2 was dropped"), "{next}");
}

/// A host that is not what it says: it turns the joiner away with a reason
/// full of terminal escapes.
#[test]
fn a_hostile_hosts_reason_reaches_no_terminal_raw() {
    use chat::net::secure::handshake::{Side, handshake};
    use chat::net::secure::record::{RecordReader, RecordWriter};
    use chat::wire::message::Message;
    use std::io::{BufReader, Write};

    let dir = TestDir::new("room-hostile-host");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut joiner = Chat::connect_encrypted(
        "joiner",
        dir.path(),
        "127.0.0.1",
        port,
        &["--name", "joiner"],
    );
    let mut stream = common::accept_within_timeout(&listener);
    let agreed = handshake(Side::Listening, &mut stream, credentials(None), None).unwrap();
    let mut records = RecordReader::new(
        BufReader::new(stream.try_clone().unwrap()),
        &agreed.receive_key,
    );
    assert!(matches!(
        Message::decode(records.next_record().unwrap().unwrap()),
        Ok(Message::Hello { .. })
    ));
    let mut out = RecordWriter::new(stream, &agreed.send_key);
    for message in [
        Message::Hello { name: "evil" },
        Message::Unwelcome {
            reason: "go away \x1b]0;PWNED\x07\x1b[2J",
        },
    ] {
        let mut bytes = Vec::new();
        message.encode(&mut bytes);
        out.send(&bytes).unwrap();
    }
    out.close().unwrap();
    out.flush().unwrap();
    let code = joiner.wait_exit();
    joiner.assert_failed_cleanly(code, "did not let us in");
    let stderr = joiner.stderr_text();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(stderr.contains("go away \\x1b]0;PWNED"), "{stderr:?}");
    assert!(!joiner.stdout_lines().iter().any(|l| l.contains('\x1b')));
}

#[test]
fn a_folder_of_many_small_files_is_not_held_back_by_the_throttle() {
    let dir = TestDir::new("room-many-files");
    let (mut host, port) = host(&dir, &["--ask-above", "0"]);
    let mut sender = join(&dir, &mut host, port, "I056");
    let mut taker = join(&dir, &mut host, port, "I057");
    let folder = dir.subdir("many");
    for n in 0..600 {
        std::fs::write(folder.join(format!("{n}.txt")), n.to_string()).unwrap();
    }
    sender.send_line(&format!("/send {}", folder.display()));
    host.expect_prefix("[System] I056 offers folder many (");
    host.send_line("/decline");
    // 600 files cost some 2,400 messages through the room: at the pace
    // allowed for chat lines they would take over a minute.
    let started = Instant::now();
    taker.expect_prefix("[System] Folder saved to received_files/many (600 files, ");
    sender.expect_prefix("[System] Sent folder many (600 files, ");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let saved = dir.subdir("I057").join("received_files/many");
    assert_eq!(std::fs::read(saved.join("599.txt")).unwrap(), b"599");
}

/// A member that offers a file and sends `sent` bytes of it after the
/// room's Accept, then its End.
fn lying_sender(port: u16, size: u64, sent: usize) -> hostile_room::Member {
    use chat::wire::message::Message;
    let mut liar = hostile_room::Member::join(port, "liar");
    liar.send(&Message::Offer {
        id: 1,
        size,
        name: "lie.bin",
    })
    .unwrap();
    assert_eq!(liar.answer_to(1), Some(0));
    let data = vec![7; sent];
    for piece in data.chunks(60_000) {
        let _ = liar.send(&Message::Chunk { id: 1, data: piece });
    }
    let _ = liar.send(&Message::End {
        id: 1,
        hash: *blake3::hash(&data).as_bytes(),
    });
    liar
}

#[test]
fn a_sender_that_lies_about_its_file_is_dropped_and_the_room_goes_on() {
    let dir = TestDir::new("room-liar");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    for (size, sent, why) in [
        (10, 20, "it sent more of lie.bin than the 10 B it announced"),
        (100_000, 20, "it ended lie.bin after 20 B of its 97.7 KiB"),
    ] {
        let _liar = lying_sender(port, size, sent);
        host.expect_exact(&format!("[System] liar was dropped from the room: {why}."));
        members[0].expect_exact(&format!("[System] liar was dropped from the room: {why}."));
    }
    let mut huge = hostile_room::Member::join(port, "huge");
    huge.send(&chat::wire::message::Message::Offer {
        id: 1,
        size: (1 << 44) + 1,
        name: "huge.bin",
    })
    .unwrap();
    host.expect_exact(
        "[System] huge was dropped from the room: it offered a file over the limit of \
         16.0 TiB.",
    );
    // Nobody else was hurt, and nothing was saved.
    members[0].send_line("still here");
    host.expect_exact("[I057] still here");
    assert!(!dir.join("received_files/lie.bin").exists());
    assert!(!dir.subdir("I057").join("received_files/lie.bin").exists());
}

#[test]
fn a_member_is_never_offered_more_files_at_once_than_it_takes() {
    use chat::wire::message::Message;
    let dir = TestDir::new("room-offer-flood");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    // One sender offering more at once than a member takes breaks the
    // rules itself.
    let mut flooder = hostile_room::Member::join(port, "flood");
    for id in 1..=65 {
        let _ = flooder.send(&Message::Offer {
            id,
            size: 1,
            name: "f.bin",
        });
    }
    let why = "it offered more than 64 files at once";
    host.expect_exact(&dropped("flood", why));
    members[0].expect_exact(&dropped("flood", why));
    // Two senders whose offers add up to more than a member takes at once,
    // the first's all in before the second's.
    let offers = |flooder: &mut hostile_room::Member| {
        for id in 1..=40 {
            let offer = Message::Offer {
                id,
                size: 1,
                name: "f.bin",
            };
            flooder.send(&offer).unwrap();
        }
    };
    let mut first = hostile_room::Member::join(port, "flood1");
    let mut second = hostile_room::Member::join(port, "flood2");
    offers(&mut first);
    for _ in 0..40 {
        host.expect_exact("[System] Incoming file f.bin (1 B) from flood1...");
    }
    offers(&mut second);
    while !second
        .expect_notice()
        .contains("has too many files on their way to it already")
    {}
    // The host's side and the other member take at most 64 and stay.
    members[0].send_line("still here");
    host.expect_exact("[I057] still here");
    host.send_line("and me");
    members[0].expect_exact("[host] and me");
}

#[test]
fn what_a_sender_sent_whole_before_leaving_is_still_saved() {
    let dir = TestDir::new("room-sender-left-after-end");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    let data = random_bytes(8 << 20, 51);
    {
        use chat::wire::message::Message;
        let mut sender = hostile_room::Member::join(port, "brief");
        sender
            .send(&Message::Offer {
                id: 1,
                size: data.len() as u64,
                name: "brief.bin",
            })
            .unwrap();
        assert_eq!(sender.answer_to(1), Some(0));
        for piece in data.chunks(65_536) {
            sender.send(&Message::Chunk { id: 1, data: piece }).unwrap();
        }
        sender
            .send(&Message::End {
                id: 1,
                hash: *blake3::hash(&data).as_bytes(),
            })
            .unwrap();
        sender.close();
    }
    for chat in [&mut host, &mut members[0]] {
        chat.expect_exact("[System] File saved to received_files/brief.bin");
    }
    assert!(std::fs::read(dir.subdir("I057").join("received_files/brief.bin")).unwrap() == data);
}

#[test]
fn a_plain_senders_second_file_goes_whole_while_the_first_waits_for_the_host() {
    let dir = TestDir::new("room-plain-two-files");
    let (mut host, port) = Chat::listen(
        "host",
        dir.path(),
        &["--room", "--name", "host", "--ask-above", "0"],
    );
    let mut p1 = RawPeer::connect(port);
    p1.expect_line("[System] You are in host's room as guest1, alone with the host.");
    let mut p2 = RawPeer::connect(port);
    p2.expect_line("[System] You are in host's room as guest2, with the host and 1 other.");
    let second = random_bytes(300_000, 61);
    p1.write_bytes(b"/file a.txt 5\nhello");
    p2.expect_line("/file a.txt 5");
    assert_eq!(p2.read_exact_bytes(5), b"hello");
    p1.write_bytes(format!("/file b.bin {}\n", second.len()).as_bytes());
    p1.write_bytes(&second);
    host.expect_prefix("[System] guest1 offers b.bin (");
    host.send_line("/decline 1");
    p2.expect_line(&format!("/file b.bin {}", second.len()));
    assert!(p2.read_exact_bytes(second.len()) == second);
    host.send_line("/accept 2");
    host.expect_exact("[System] File saved to received_files/b.bin");
    host.send_line("after");
    skip_to(&mut p2, "[host] after");
}

/// A plain room whose host's stall timeout is 2 s, and two plain members.
fn plain_room_of_two(dir: &TestDir) -> (Chat, u16, RawPeer, RawPeer) {
    let (host, port) = Chat::listen(
        "host",
        dir.path(),
        &["--room", "--name", "host", "--stall-timeout", "2"],
    );
    let mut p1 = RawPeer::connect(port);
    p1.expect_line("[System] You are in host's room as guest1, alone with the host.");
    let mut p2 = RawPeer::connect(port);
    p2.expect_line("[System] You are in host's room as guest2, with the host and 1 other.");
    (host, port, p1, p2)
}

const TRICKLED: &str = "[System] guest1 was dropped from the room: it sent less than 16.0 KiB \
                        of its file in 2 s.";

#[test]
fn a_plain_sender_that_stops_mid_file_is_not_waited_for() {
    let dir = TestDir::new("room-plain-stalled");
    let (mut host, port, mut p1, mut p2) = plain_room_of_two(&dir);
    p1.write_bytes(b"/file stuck.bin 1000\nabc");
    host.expect_exact(TRICKLED);
    // The file never started for p2: its stream is in step, and goes on.
    p2.expect_line(TRICKLED);
    p1.expect_eof();
    let mut p3 = RawPeer::connect(port);
    p3.expect_line("[System] You are in host's room as guest1, with the host and 1 other.");
    p2.expect_line("[System] guest1 joined the room.");
    host.send_line("after");
    p2.expect_line("[host] after");
    p3.expect_line("[host] after");
}

/// Sends `data` on `stream` a byte at a time, `pause` apart, until it is
/// sent or the connection ends.
fn trickle(mut stream: std::net::TcpStream, data: Vec<u8>, pause: Duration) {
    use std::io::Write;
    for byte in data {
        // A slow sender is the behaviour under test.
        std::thread::sleep(pause);
        if stream.write_all(&[byte]).is_err() {
            return;
        }
    }
}

#[test]
fn a_plain_sender_that_trickles_its_file_is_dropped_and_holds_nobody_up() {
    let dir = TestDir::new("room-plain-trickle");
    let (mut host, _port, p1, mut p2) = plain_room_of_two(&dir);
    let mut p1 = p1.into_stream();
    {
        use std::io::Write;
        p1.write_all(b"/file slow.bin 1000\n").unwrap();
    }
    // A byte every 300 ms: each is progress, none is enough.
    let clone = p1.try_clone().unwrap();
    let trickling = std::thread::spawn(move || trickle(clone, vec![7; 1000], ms(300)));
    host.send_line("while it trickles");
    p2.expect_line("[host] while it trickles");
    host.expect_exact(TRICKLED);
    p2.expect_line(TRICKLED);
    trickling.join().unwrap();
    host.send_line("after");
    p2.expect_line("[host] after");
    assert!(!dir.join("received_files/slow.bin").exists());
}

#[test]
fn a_plain_sender_that_trickles_a_file_under_way_is_dropped() {
    let dir = TestDir::new("room-plain-trickle-big");
    let (mut host, _port, p1, mut p2) = plain_room_of_two(&dir);
    let p1 = p1.into_stream();
    let clone = p1.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        use std::io::Write;
        let mut stream = clone;
        stream.write_all(b"/file big.bin 10000000\n").unwrap();
        stream.write_all(&[7; 1_500_000]).unwrap();
        trickle(stream, vec![7; 1000], ms(300));
    });
    // It started for p2, whose stream is then out of step: p2 is let go.
    p2.expect_line("/file big.bin 10000000");
    host.expect_exact(TRICKLED);
    p2.expect_eof();
    sending.join().unwrap();
    drop(p1);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_member_whose_chat_closes_without_a_goodbye_is_not_said_to_be_lost() {
    let dir = TestDir::new("room-closed");
    let (mut host, port) = host(&dir, &[]);
    let mut watcher = join(&dir, &mut host, port, "I057");
    // As an older chat that will not stay in a room does: it closes its
    // connection at once, without the goodbye.
    let mut leaver = hostile_room::Member::join(port, "older");
    watcher.expect_exact("[System] older joined the room.");
    leaver.cut();
    let line = "older left the room (its chat closed the connection without a goodbye).";
    host.expect_exact(&format!("[System] {line}"));
    watcher.expect_exact(&format!("[System] {line}"));
}

#[test]
fn the_host_leaves_a_room_at_once_and_the_members_get_its_last_words() {
    let dir = TestDir::new("room-quick-quit");
    let (mut host, _port, mut members) = room(&dir, &["I056", "I057"]);
    members[0].send_line("my last words");
    host.expect_exact("[I056] my last words");
    host.send_raw(b"goodbye all\n/quit\n");
    let asked = Instant::now();
    assert_eq!(host.wait_exit_within(Duration::from_secs(10)), 0);
    let took = asked.elapsed();
    // A plain listener leaves in a few hundredths of a second; so does a
    // room whose members read the goodbye and close.
    assert!(
        took < Duration::from_secs(1),
        "the host took {took:?} to leave"
    );
    members[1].expect_exact("[I056] my last words");
    for member in &mut members {
        member.expect_exact("[host] goodbye all");
        member.expect_exact("[System] The room is closed: its host left.");
        assert_eq!(member.wait_exit(), 0, "{}", member.report());
    }
}

#[test]
fn a_member_held_back_is_said_to_be_once_an_episode() {
    let dir = TestDir::new("room-flood-once");
    let (mut host, port) = host(&dir, &[]);
    let mut flooder = hostile_room::Member::join(port, "flood");
    host.expect_prefix("[System] flood joined the room (");
    // Chat lines far over the rate, each with a message that carries a
    // transfer along (here cancelling one it never began), which has a
    // budget of its own and is never held back.
    let flooding = std::thread::spawn(move || {
        for n in 0..150 {
            flooder.say(&format!("spam {n}")).unwrap();
            flooder.send(&Message::Cancel { id: n }).unwrap();
        }
        flooder
    });
    host.set_timeout(Duration::from_secs(30));
    host.expect_exact("[flood] spam 149");
    let said = host
        .stdout_lines()
        .iter()
        .filter(|l| l.contains("sends faster than the room allows"))
        .count();
    assert_eq!(said, 1, "{}", host.report());
    let mut flooder = flooding.join().unwrap_or_else(|_| panic!("flooder"));
    assert!(flooder.expect_notice().contains("slowed down"));
    flooder.close();
}

/// The line everyone in the room sees when `name` is dropped for `why`.
fn dropped(name: &str, why: &str) -> String {
    format!("[System] {name} was dropped from the room: {why}.")
}

#[test]
fn a_member_breaking_a_folders_rules_is_dropped_and_the_room_goes_on() {
    let dir = TestDir::new("room-folder-rules");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    // A folder of nothing, and then a file of it.
    let mut liar = hostile_room::Member::join(port, "liar");
    let empty = Message::Folder {
        id: 1,
        files: 0,
        bytes: 0,
        name: "pics",
    };
    liar.send(&empty).unwrap();
    assert_eq!(liar.answer_to(1), Some(0));
    let entry = Message::Entry {
        id: 2,
        folder: 1,
        size: 5,
        path: "a.jpg",
    };
    liar.send(&entry).unwrap();
    let why = "it sent more of folder pics than the 0 files and 0 B it announced";
    host.expect_exact(&dropped("liar", why));
    members[0].expect_exact(&dropped("liar", why));
    // A folder ended while a file of it is still on its way.
    let mut liar = hostile_room::Member::join(port, "liar");
    let five = Message::Folder {
        id: 1,
        files: 5,
        bytes: 5,
        name: "pics",
    };
    liar.send(&five).unwrap();
    assert_eq!(liar.answer_to(1), Some(0));
    liar.send(&entry).unwrap();
    assert_eq!(liar.answer_to(2), Some(0));
    liar.send(&Message::End {
        id: 1,
        hash: [0; 32],
    })
    .unwrap();
    let why = "it ended folder pics with files of it still on their way";
    host.expect_exact(&dropped("liar", why));
    members[0].expect_exact(&dropped("liar", why));
    // Nobody else was hurt.
    members[0].send_line("still here");
    host.expect_exact("[I057] still here");
    host.send_line("and me");
    members[0].expect_exact("[host] and me");
}

/// Waits until each of `dirs` (a chat's working folder) keeps `bytes` of
/// a cut file.
fn wait_until_kept(dirs: &[&std::path::Path], bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while dirs.iter().any(|dir| kept_bytes(dir) < bytes) {
        assert!(Instant::now() < deadline, "not kept in time");
        // Polling a file size: nothing tells when it grows.
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_member_resuming_out_of_turn_is_dropped_and_the_file_still_resumes() {
    let dir = TestDir::new("room-resume-rules");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    let data = random_bytes(200_000, 71);
    let offer = Message::Offer {
        id: 1,
        size: data.len() as u64,
        name: "f.bin",
    };
    // A first try, cut after a chunk: everyone keeps it.
    let mut sender = hostile_room::Member::join(port, "sender");
    sender.send(&offer).unwrap();
    assert_eq!(sender.answer_to(1), Some(0));
    let first = Message::Chunk {
        id: 1,
        data: &data[..65_536],
    };
    sender.send(&first).unwrap();
    wait_until_kept(&[dir.path(), &dir.subdir("I057")], 65_536);
    sender.close();
    let kept = "[System] Transfer of f.bin incomplete: its sender left the room; what arrived \
                is kept, so sending it again resumes.";
    host.expect_exact(kept);
    members[0].expect_exact(kept);
    // Offered again, everyone holds the same start; the sender then
    // begins elsewhere, or not at all.
    let wrong = Message::Begin {
        id: 1,
        offset: 65_537,
    };
    for (step, why) in [
        (
            &wrong,
            "it began f.bin at byte 65537, neither 0 nor where it was asked",
        ),
        (&first, "it sent f.bin without saying where it begins"),
    ] {
        let mut sender = hostile_room::Member::join(port, "sender");
        sender.send(&offer).unwrap();
        assert_eq!(sender.answer_to(1), Some(65_536));
        sender.send(step).unwrap();
        host.expect_exact(&dropped("sender", why));
        members[0].expect_exact(&dropped("sender", why));
    }
    // What was kept is still there: sent as it should be, it resumes.
    let mut sender = hostile_room::Member::join(port, "sender");
    sender.send(&offer).unwrap();
    assert_eq!(sender.answer_to(1), Some(65_536));
    sender
        .send(&Message::Begin {
            id: 1,
            offset: 65_536,
        })
        .unwrap();
    for piece in data[65_536..].chunks(65_536) {
        sender.send(&Message::Chunk { id: 1, data: piece }).unwrap();
    }
    sender
        .send(&Message::End {
            id: 1,
            hash: *blake3::hash(&data).as_bytes(),
        })
        .unwrap();
    for chat in [&mut host, &mut members[0]] {
        chat.expect_prefix("[System] Resuming f.bin: 64.0 KiB of ");
        chat.expect_exact("[System] File saved to received_files/f.bin");
    }
    assert!(std::fs::read(dir.join("received_files/f.bin")).unwrap() == data);
    assert!(std::fs::read(dir.subdir("I057").join("received_files/f.bin")).unwrap() == data);
}

/// A small deterministic source of choices for the fuzzing member.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % sides
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.roll(from.len() as u64) as usize]
    }
}

/// What the fuzzing member sent so far, and what the room answered.
#[derive(Default)]
struct Fuzzed {
    next_id: u32,
    files: Vec<u32>,
    folders: Vec<u32>,
    accepted: Vec<(u32, u64)>,
    /// What the room offered it, and what of that ended.
    offered: Vec<u32>,
}

impl Fuzzed {
    /// A number for something new: mostly a fresh one, sometimes one in
    /// use.
    fn new_id(&mut self, dice: &mut Dice) -> u32 {
        let used: Vec<u32> = self.files.iter().chain(&self.folders).copied().collect();
        if used.is_empty() || dice.roll(5) > 0 {
            self.next_id += 1;
            return self.next_id;
        }
        dice.pick(&used)
    }

    /// A number to go on with: mostly one the room accepted.
    fn going_id(&self, dice: &mut Dice, among: &[u32]) -> u32 {
        match (self.accepted.is_empty(), among.is_empty(), dice.roll(4)) {
            (false, _, 0..=2) => dice.pick(&self.accepted).0,
            (_, false, _) => dice.pick(among),
            _ => 1 + dice.roll(4) as u32,
        }
    }

    fn offset_of(&self, id: u32) -> u64 {
        self.accepted
            .iter()
            .find(|(of, _)| *of == id)
            .map_or(0, |(_, offset)| *offset)
    }
}

/// One turn of the fuzzing member: a message about a file or folder,
/// mostly about what it offered and the room answered, sometimes not;
/// `false` once the room let it go.
fn fuzz_step(member: &mut hostile_room::Member, dice: &mut Dice, fuzzed: &mut Fuzzed) -> bool {
    use hostile_room::FileNews;
    let bytes = vec![7; dice.pick(&[1, 5, 100, 65_536]) as usize];
    let path = format!("e{}.txt", dice.roll(3));
    let (files, folders) = (fuzzed.files.clone(), fuzzed.folders.clone());
    // Mostly, something is offered first.
    let fresh = files.is_empty() && folders.is_empty() && dice.roll(5) > 0;
    let message = match if fresh { dice.roll(2) } else { dice.roll(14) } {
        0 => {
            let id = fuzzed.new_id(dice);
            fuzzed.files.push(id);
            Message::Offer {
                id,
                size: dice.pick(&[0, 5, 100, 70_000]),
                name: "f.bin",
            }
        }
        1 => {
            let id = fuzzed.new_id(dice);
            fuzzed.folders.push(id);
            Message::Folder {
                id,
                files: dice.roll(3),
                bytes: dice.pick(&[0, 5, 105, 70_000]),
                name: "d",
            }
        }
        2 | 3 => {
            let folder = fuzzed.going_id(dice, &folders);
            let id = fuzzed.new_id(dice);
            fuzzed.files.push(id);
            Message::Entry {
                id,
                folder,
                size: dice.pick(&[0, 5, 100]),
                path: &path,
            }
        }
        4 => Message::Subfolder {
            folder: fuzzed.going_id(dice, &folders),
            path: "sub",
        },
        5 => {
            let id = fuzzed.going_id(dice, &files);
            let taken = fuzzed.offset_of(id);
            Message::Begin {
                id,
                offset: dice.pick(&[0, 1, taken, taken]),
            }
        }
        6 | 7 => Message::Chunk {
            id: fuzzed.going_id(dice, &files),
            data: &bytes,
        },
        8 => Message::End {
            id: fuzzed.going_id(dice, &[files, folders].concat()),
            hash: [0; 32],
        },
        9 => Message::Cancel {
            id: fuzzed.going_id(dice, &[files, folders].concat()),
        },
        // As a receiver of the others' files.
        10 | 11 => Message::Accept {
            id: offered_id(dice, &fuzzed.offered),
            offset: dice.pick(&[0, 0, 1, 65_536, 1 << 40]),
            prefix: dice.pick(&[[0; 32], *blake3::hash(b"").as_bytes()]),
        },
        12 => Message::Refused {
            id: offered_id(dice, &fuzzed.offered),
            reason: "no",
        },
        _ => Message::Saved {
            id: offered_id(dice, &fuzzed.offered),
        },
    };
    if member.send(&message).is_err() {
        return false;
    }
    let wait = Duration::from_millis(dice.pick(&[0, 5, 30]));
    let Some(answers) = member.poll(wait) else {
        return false;
    };
    for news in answers {
        match news {
            FileNews::Accepted { id, offset } => fuzzed.accepted.push((id, offset)),
            FileNews::Refused { id } => fuzzed.accepted.retain(|(of, _)| *of != id),
            FileNews::Offered { id } | FileNews::Ended { id } => fuzzed.offered.push(id),
        }
    }
    true
}

/// A number the room gave a file it offered, mostly.
fn offered_id(dice: &mut Dice, offered: &[u32]) -> u32 {
    match offered {
        [] => 1 + dice.roll(3) as u32,
        _ if dice.roll(8) == 0 => 1 + dice.roll(3) as u32,
        _ => dice.pick(offered),
    }
}

/// A member sends file messages at random, as many rounds as
/// `CHAT_FUZZ_ROUNDS` says (60 by default), from the seed
/// `CHAT_FUZZ_SEED` (a fixed one by default): the room drops it when it
/// breaks a rule, and nobody else hears of a breach.
#[test]
fn a_member_sending_file_messages_at_random_never_ends_the_room() {
    let dir = TestDir::new("room-fuzz");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut dice = Dice(setting("CHAT_FUZZ_SEED", 0x5eed_1234_abcd_0001) | 1);
    // Files and a folder for I057 to send meanwhile, for the fuzzing
    // member to answer as it likes.
    let small = dir.join("small.txt");
    std::fs::write(&small, b"small").unwrap();
    let big = dir.join("big.bin");
    std::fs::write(&big, random_bytes(200_000, 81)).unwrap();
    let folder = dir.subdir("pics");
    std::fs::write(folder.join("a.jpg"), b"a").unwrap();
    std::fs::write(folder.join("b.jpg"), random_bytes(70_000, 82)).unwrap();
    for round in 0..setting("CHAT_FUZZ_ROUNDS", 60) {
        let mut member = hostile_room::Member::join(port, "fuzz");
        if round % 3 == 0 {
            let path = dice.pick(&[&small, &big, &folder]);
            members[0].send_line(&format!("/send {}", path.display()));
        }
        let mut fuzzed = Fuzzed::default();
        for _ in 0..dice.pick(&[3, 8, 20, 40]) {
            if !fuzz_step(&mut member, &mut dice, &mut fuzzed) {
                break;
            }
        }
        member.close();
        // Whatever it did, the others still talk.
        host.send_line(&format!("round {round}"));
        members[0].expect_exact(&format!("[host] round {round}"));
    }
    members[0].send_line("still here");
    host.expect_exact("[I057] still here");
    if std::env::var("CHAT_FUZZ_SHOW").is_ok() {
        eprintln!("{}", host.stdout_lines().join("\n"));
    }
    for chat in [&host, &members[0]] {
        let broken: Vec<String> = chat
            .stdout_lines()
            .into_iter()
            .filter(|l| l.contains("broke the protocol") || l.contains("Connection"))
            .collect();
        assert!(broken.is_empty(), "{broken:?}");
    }
}

#[test]
fn a_member_sending_when_the_host_leaves_hears_the_room_close() {
    use chat::net::secure::record::RecordError;
    let dir = TestDir::new("room-close-while-sending");
    let (mut host, port, mut members) = room(&dir, &["I057"]);
    let mut sender = hostile_room::Member::join_reading_little(port, "sender");
    host.expect_prefix("[System] sender joined the room (");
    sender
        .send(&Message::Offer {
            id: 1,
            size: 1 << 30,
            name: "big.bin",
        })
        .unwrap();
    assert_eq!(sender.answer_to(1), Some(0));
    let (mut records, mut reader, stream) = sender.split();
    let sending = std::thread::spawn(move || {
        use std::io::Write;
        let piece = vec![7; 65_536];
        let mut chunk = Vec::new();
        Message::Chunk {
            id: 1,
            data: &piece,
        }
        .encode(&mut chunk);
        // (At a pace a member's chat keeps, not as fast as the loop
        // goes: the room's 2 s to see its members close hold on a busy
        // machine.)
        while records.send(&chunk).and_then(|()| records.flush()).is_ok() {
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    // The host says more than the member's buffers hold, then leaves while
    // the file goes.
    let line = "x".repeat(1000);
    for _ in 0..100 {
        host.send_line(&line);
    }
    host.send_line("/quit");
    let mut read = 0u32;
    let ended = loop {
        // A slow reader: the room's goodbye is still to come when the host
        // decides to leave.
        read += 1;
        if read.is_multiple_of(4) {
            std::thread::sleep(Duration::from_millis(1));
        }
        match reader.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(
        matches!(ended, Ok(())),
        "the room ended without its goodbye: {:?}",
        ended.map_err(|e: RecordError| e.to_string())
    );
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sending.join().unwrap();
    assert_eq!(host.wait_exit(), 0, "{}", host.report());
    members[0].expect_exact("[System] The room is closed: its host left.");
    assert_eq!(members[0].wait_exit(), 0);
}

#[test]
fn a_room_host_is_told_where_others_join_and_how_many() {
    let dir = TestDir::new("room-words");
    let (mut host, port) = Chat::listen_on(
        "host",
        dir.path(),
        "0.0.0.0",
        &["--room", "--name", "host", "--max-peers", "1"],
    );
    let join_at = host.expect_prefix("[System] Others can join at ");
    assert!(join_at.ends_with(&format!(" {port}")), "{join_at}");
    host.expect_exact(
        "[System] Hosting a room for up to 1 other: they join with `chat connect` --plain, \
         the original chat or nc.",
    );
    let lines = host.stdout_lines();
    assert!(!lines.iter().any(|l| l.contains("Your peer")), "{lines:?}");
}
