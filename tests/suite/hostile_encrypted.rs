//! A hostile peer that speaks the encrypted protocol: it runs a real
//! handshake with a listening chat, then breaks the conversation's rules
//! with typed messages and records of its own making (out of turn, lying
//! about sizes, hostile names and text, garbage) and reads the chat's
//! answers.

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

use crate::common;
use crate::common::hostile::{HostilePeer, chunk, end_of};
use crate::common::{Chat, TestDir, credentials, dir_entries, saved_entries};
use chat::net::secure::handshake::{Side, handshake};
use chat::net::secure::record::RecordWriter;
use chat::wire::message::{FileId, Message};

/// The largest file a peer may offer: 16 TiB.
const MAX_FILE_SIZE: u64 = 1 << 44;

/// A chat named `alice` listening on the encrypted wire in `cwd`, with a
/// hostile peer connected: both show the same safety code, and the peer has
/// read the chat's Hello but not said its own.
fn alice_and_hostile_peer(cwd: &Path) -> (Chat, HostilePeer) {
    let (mut chat, port) = Chat::listen_encrypted("alice", cwd, &["--name", "alice"]);
    let mut peer = HostilePeer::connect(port);
    // None of these tests is about the acceptances a chat sends on its own.
    peer.skip_accepts = true;
    chat.expect_exact(&format!(
        "[System] Connected by 127.0.0.1:{}",
        peer.local_port()
    ));
    let shown = chat.expect_prefix("[System] Encrypted. Safety code: ");
    if !shown.contains(&peer.safety_code) {
        chat.fail(&format!("the peer's safety code is {}", peer.safety_code));
    }
    peer.expect_message(&mut chat, Message::Hello { name: "alice" });
    (chat, peer)
}

/// [`alice_and_hostile_peer`], the peer having said hello as `mallory`.
fn alice_and_mallory(cwd: &Path) -> (Chat, HostilePeer) {
    let (chat, mut peer) = alice_and_hostile_peer(cwd);
    peer.send(&[Message::Hello { name: "mallory" }]);
    (chat, peer)
}

fn encoded(message: &Message<'_>) -> Vec<u8> {
    let mut data = Vec::new();
    message.encode(&mut data);
    data
}

fn offer(id: FileId, size: u64, name: &str) -> Message<'_> {
    Message::Offer { id, size, name }
}

/// The reason the chat gives for a breach of the conversation's rules.
fn breach(why: &str) -> String {
    format!("the peer broke the protocol: {why}")
}

/// The chat ended the conversation because of `why`: it says so in one
/// line, exits with code 1 and one error line, without panicking, and
/// drops the connection without a goodbye.
fn assert_ended(chat: &mut Chat, peer: &HostilePeer, why: &str) {
    chat.expect_exact(&format!("[System] Connection ended: {why}."));
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, why);
    let ended = chat
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("[System] Connection"))
        .count();
    if ended != 1 {
        chat.fail("expected one line saying how the connection ended");
    }
    peer.expect_dropped(chat);
}

/// [`assert_ended`] for a breach of the conversation's rules.
fn assert_breach(chat: &mut Chat, peer: &HostilePeer, why: &str) {
    assert_ended(chat, peer, &breach(why));
}

/// Lines the chat showed that are not its own `[System]` lines.
fn peer_lines(chat: &Chat) -> Vec<String> {
    chat.stdout_lines()
        .into_iter()
        .filter(|l| !l.starts_with("[System] "))
        .collect()
}

/// Fails unless the download folder in `cwd` is absent or holds nothing
/// under a final name.
fn assert_nothing_saved(chat: &mut Chat, cwd: &Path) {
    let saved = saved_entries(&cwd.join("received_files"));
    if !saved.is_empty() {
        chat.fail(&format!("files were saved: {saved:?}"));
    }
    if chat
        .stdout_lines()
        .iter()
        .any(|l| l.starts_with("[System] File saved"))
    {
        chat.fail("a file was reported saved");
    }
}

/// A chat and a hostile peer that said hello; the peer then sends
/// `records` in one write, the chat must end the conversation for the
/// breach `why`, show no line of the peer's and save nothing.
fn assert_breach_after(test: &str, records: &[Vec<u8>], why: &str) -> Chat {
    let dir = TestDir::new(test);
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    for record in records {
        peer.queue_record(record);
    }
    peer.flush();
    assert_breach(&mut chat, &peer, why);
    if !peer_lines(&chat).is_empty() {
        chat.fail("a line of the peer's was shown");
    }
    assert_nothing_saved(&mut chat, dir.path());
    chat
}

// Hello: first, once, and a name that passes the rules.

#[test]
fn text_before_hello_ends_the_conversation() {
    let dir = TestDir::new("henc_text_first");
    let (mut chat, mut peer) = alice_and_hostile_peer(dir.path());
    peer.send(&[
        Message::Text("[mallory] who am I?"),
        Message::Hello { name: "mallory" },
        Message::Text("and now?"),
    ]);
    assert_breach(&mut chat, &peer, "the peer did not say its name first");
    assert_eq!(peer_lines(&chat), Vec::<String>::new(), "{}", chat.report());
}

#[test]
fn anything_else_before_hello_ends_the_conversation_too() {
    let dir = TestDir::new("henc_offer_first");
    let (mut chat, mut peer) = alice_and_hostile_peer(dir.path());
    peer.send(&[offer(0, 2, "early.txt"), chunk(0, b"hi"), end_of(0, b"hi")]);
    assert_breach(&mut chat, &peer, "the peer did not say its name first");
    assert_nothing_saved(&mut chat, dir.path());
}

#[test]
fn a_second_hello_ends_the_conversation_and_the_new_name_is_never_shown() {
    let dir = TestDir::new("henc_second_hello");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[Message::Text("I am mallory")]);
    chat.expect_exact("[mallory] I am mallory");
    peer.send(&[
        Message::Hello { name: "bob" },
        Message::Text("now I am bob"),
    ]);
    assert_breach(&mut chat, &peer, "the peer said its name twice");
    assert_eq!(
        peer_lines(&chat),
        ["[mallory] I am mallory"],
        "{}",
        chat.report()
    );
}

#[test]
fn names_that_break_the_rules_end_the_conversation() {
    let dir = TestDir::new("henc_bad_names");
    let refused = |why: &str| format!("the peer's name is refused: {why}");
    let brackets = refused("the name may not contain [ or ]");
    let control = refused("the name may not contain control characters");
    let hello = |name: &[u8]| [&[1u8][..], name].concat();
    let cases: Vec<(Vec<u8>, String)> = vec![
        (hello(b"[System]"), brackets.clone()),
        (
            hello(b"System"),
            refused("the name System is the program's own"),
        ),
        (
            hello(b"sYsTeM"),
            refused("the name System is the program's own"),
        ),
        // Look-alikes: Cyrillic у, fullwidth letters, a modifier letter.
        (
            hello("ЅУЅТЕМ".as_bytes()),
            refused("the name System is the program's own"),
        ),
        (
            hello("Sуstem".as_bytes()),
            refused("the name mixes letters of several scripts"),
        ),
        (
            hello("Ｓｙｓｔｅｍ".as_bytes()),
            refused(
                "the name may not contain 'Ｓ' (U+FF33): only letters and marks in common use, \
                 digits, punctuation, spaces and emoji",
            ),
        ),
        (hello(b"a]b"), brackets),
        (hello(b"bad\x1bname"), control.clone()),
        (hello(b"a\x07b"), control.clone()),
        (hello(b"tab\there"), control.clone()),
        (hello("left\u{202e}right".as_bytes()), control.clone()),
        (hello("zero\u{200b}width".as_bytes()), control),
        (
            hello(&[b'x'; 33]),
            refused("the name is longer than 32 characters"),
        ),
        (hello(b"   "), refused("the name is empty")),
        // Over the 128 bytes a Hello may carry: not even a Hello.
        (
            hello(&[b'x'; 200]),
            "a hello message of the wrong length".to_string(),
        ),
        (
            hello(b""),
            "a hello message of the wrong length".to_string(),
        ),
        (
            hello(b"caf\xc3"),
            "a hello message whose text is not UTF-8".to_string(),
        ),
    ];
    for (i, (record, why)) in cases.iter().enumerate() {
        let cwd = dir.subdir(&format!("case{i}"));
        let (mut chat, mut peer) = alice_and_hostile_peer(&cwd);
        peer.queue_record(record);
        peer.queue(&Message::Text("hello from a bad name"));
        peer.flush();
        assert_breach(&mut chat, &peer, why);
        if !peer_lines(&chat).is_empty() {
            chat.fail(&format!("a line of the peer's was shown in case {i}"));
        }
    }
}

/// Names are only ever shown, never joined onto a path, so the rules let
/// through what looks like a path; surrounding spaces are dropped.
#[test]
fn names_the_rules_allow_are_shown_as_given_and_trimmed() {
    let dir = TestDir::new("henc_odd_names");
    for (i, (name, shown)) in [
        ("../x", "[../x] hi"),
        ("  spaced out  ", "[spaced out] hi"),
        ("élodie 日本", "[élodie 日本] hi"),
    ]
    .into_iter()
    .enumerate()
    {
        let cwd = dir.subdir(&format!("case{i}"));
        let (mut chat, mut peer) = alice_and_hostile_peer(&cwd);
        peer.send(&[Message::Hello { name }, Message::Text("hi")]);
        chat.expect_exact(shown);
        peer.close();
        chat.expect_exact(&format!("{} has left the chat.", &shown[..shown.len() - 3]));
        assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
        chat.assert_no_panic();
        assert_eq!(dir_entries(&cwd), Vec::<String>::new(), "case {name:?}");
    }
}

// Text.

#[test]
fn text_with_escapes_bidi_and_fake_lines_is_shown_sanitised_under_the_hello_name() {
    let dir = TestDir::new("henc_escapes");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    let cases = [
        (
            "\x1b[31mred\x1b[0m alert",
            r"[mallory] \x1b[31mred\x1b[0m alert",
        ),
        (
            "ring\x07 back\x08 ret\r clear\x1bc end\x7f",
            r"[mallory] ring\x07 back\x08 ret\x0d clear\x1bc end\x7f",
        ),
        ("abc\u{202e}fed", r"[mallory] abc\u{202e}fed"),
        ("in\u{200b}visible", r"[mallory] in\u{200b}visible"),
        ("osc\x1b]0;title\x07", r"[mallory] osc\x1b]0;title\x07"),
        ("c1 \u{9b}31m", r"[mallory] c1 \x9b31m"),
        ("[bob] not bob", "[mallory] [bob] not bob"),
        (
            "\u{fffd} is only a character",
            "[mallory] \u{fffd} is only a character",
        ),
        ("", "[mallory] "),
        ("\ttabs\tstay", "[mallory] \ttabs\tstay"),
    ];
    for (text, shown) in cases {
        peer.send(&[Message::Text(text)]);
        chat.next_line_is(shown);
    }
    if let Some(line) = chat
        .stdout_raw_lines()
        .iter()
        .find(|l| l.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f))
    {
        let line = common::show(line);
        chat.fail(&format!("a control byte reached the screen: {line}"));
    }
    // Text that is not UTF-8 is not a message at all.
    peer.send_record(b"\x02bad \xff\xfe bytes");
    assert_breach(&mut chat, &peer, "a text message whose text is not UTF-8");
    assert!(
        !chat.stdout_lines().iter().any(|l| l.contains("bytes")),
        "{}",
        chat.report()
    );
}

/// A text of several lines shows each line made safe, the first after the
/// name and the others indented under it: no line of it passes for one of
/// the chat's own, another's, or a line of its own.
#[test]
fn text_of_several_lines_is_shown_indented_under_the_one_name() {
    let dir = TestDir::new("henc_lines");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    let cases: [(&str, &[&str]); 4] = [
        (
            "ok\n[System] File saved to received_files/evil",
            &[
                "[mallory] ok",
                "          [System] File saved to received_files/evil",
            ],
        ),
        (
            "\n[bob] not bob\r\n\x1b[1A\x1b[2K[System] gone\n",
            &[
                "[mallory] ",
                r"          [bob] not bob\x0d",
                r"          \x1b[1A\x1b[2K[System] gone",
                "          ",
            ],
        ),
        ("a\u{2028}b\u{85}c", &[r"[mallory] a\u{2028}b\x85c"]),
        ("\n\n", &["[mallory] ", "          ", "          "]),
    ];
    for (text, shown) in cases {
        peer.send(&[Message::Text(text)]);
        for line in shown {
            chat.next_line_is(line);
        }
    }
    peer.send(&[Message::Text("still talking")]);
    chat.next_line_is("[mallory] still talking");
}

/// Lines that came in the same write as a breach are shown, in order,
/// before the line that says the conversation ended.
#[test]
fn lines_just_before_a_breach_are_still_shown() {
    let dir = TestDir::new("henc_last_words");
    let (mut chat, mut peer) = alice_and_mallory(&dir.subdir("message"));
    peer.queue(&Message::Text("one"));
    peer.queue(&Message::Text("two"));
    peer.queue_record(b"\x02bad \xff");
    peer.flush();
    chat.next_line_is("[mallory] one");
    chat.next_line_is("[mallory] two");
    assert_breach(&mut chat, &peer, "a text message whose text is not UTF-8");

    let (mut chat, mut peer) = alice_and_mallory(&dir.subdir("record"));
    let mut wire = peer.seal_by_hand(0, &encoded(&Message::Text("three")));
    wire.extend_from_slice(&40u32.to_be_bytes());
    wire.extend_from_slice(&[0; 40]);
    peer.write_wire(&wire);
    chat.next_line_is("[mallory] three");
    assert_ended(
        &mut chat,
        &peer,
        "a record failed its check: the connection was tampered with \
         (a record changed, dropped, replayed or reordered)",
    );
}

#[test]
fn a_goodbye_before_hello_ends_the_conversation_quietly() {
    let dir = TestDir::new("henc_close_first");
    let (mut chat, mut peer) = alice_and_hostile_peer(dir.path());
    peer.close();
    chat.expect_exact("[System] Peer disconnected.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
    assert_eq!(peer_lines(&chat), Vec::<String>::new(), "{}", chat.report());
}

#[test]
fn a_cut_before_hello_is_a_lost_connection() {
    let dir = TestDir::new("henc_cut_first");
    let (mut chat, mut peer) = alice_and_hostile_peer(dir.path());
    peer.cut();
    chat.expect_exact(
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "lost");
}

// Files.

#[test]
fn hostile_file_names_are_saved_under_safe_names_inside_the_download_folder() {
    let dir = TestDir::new("henc_file_names");
    let cwd = dir.subdir("alice");
    // An absolute path points into the test folder, so a faulty chat cannot
    // harm the system.
    let outside = dir.subdir("outside");
    let absolute = format!("{}/abs.txt", outside.display());
    let cases: Vec<(&str, &str)> = vec![
        ("../../etc/passwd", "passwd"),
        (".bashrc", "bashrc"),
        (". .profile", "profile"),
        (&absolute, "abs.txt"),
        ("..\\..\\win.txt", "win.txt"),
        ("x\x1b[2Jy.txt", "x_[2Jy.txt"),
        ("r\u{202e}txt.exe", "r_txt.exe"),
        ("..", "unnamed"),
        ("sub/", "unnamed (1)"),
        ("../../etc/passwd", "passwd (1)"),
    ];
    let (mut chat, mut peer) = alice_and_mallory(&cwd);
    peer.skip_accepts = false;
    for (i, (sent, expected)) in cases.iter().enumerate() {
        let id = i as FileId;
        let payload = format!("payload of case {i}");
        peer.send(&[offer(id, payload.len() as u64, sent)]);
        // A file of that name and size is there already for the last two:
        // offered as the file itself, which this one is not.
        let answer = peer.next_record(&mut chat);
        match Message::decode(&answer) {
            Ok(Message::Accept { offset: 0, .. }) => {}
            Ok(Message::Accept { offset, .. }) if offset == payload.len() as u64 => {
                peer.send(&[Message::Begin { id, offset: 0 }]);
            }
            other => chat.fail(&format!("case {sent:?}: answered {other:?}")),
        }
        peer.send(&[
            chunk(id, payload.as_bytes()),
            end_of(id, payload.as_bytes()),
        ]);
        chat.expect_saved(&format!("received_files/{expected}"));
        peer.expect_message(&mut chat, Message::Saved { id });
        assert_eq!(
            fs::read_to_string(cwd.join("received_files").join(expected)).unwrap(),
            payload,
            "case {sent:?}"
        );
    }
    let mut expected: Vec<String> = cases.iter().map(|(_, e)| e.to_string()).collect();
    expected.sort();
    assert_eq!(dir_entries(&cwd.join("received_files")), expected);
    assert_eq!(dir_entries(&cwd), ["received_files"]);
    assert_eq!(dir_entries(&outside), Vec::<String>::new());
    if let Some(line) = chat
        .stdout_raw_lines()
        .iter()
        .find(|l| l.iter().any(|&b| b < 0x20) || String::from_utf8_lossy(l).contains('\u{202e}'))
    {
        let line = common::show(line);
        chat.fail(&format!("a file name reached the screen raw: {line}"));
    }
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
}

#[test]
fn more_bytes_than_offered_end_the_conversation_and_save_nothing() {
    let chat = assert_breach_after(
        "henc_too_many_bytes",
        &[
            encoded(&offer(0, 10, "ten.bin")),
            encoded(&chunk(0, &[1; 11])),
        ],
        "the peer sent more of ten.bin than the 10 B it announced",
    );
    let lines = chat.stdout_lines();
    assert!(
        lines.contains(
            &"[System] Transfer of ten.bin incomplete: received 0 B of 10 B; nothing was saved."
                .to_string()
        ),
        "{lines:?}"
    );
}

#[test]
fn more_bytes_than_offered_in_several_chunks_end_the_conversation() {
    assert_breach_after(
        "henc_too_many_chunks",
        &[
            encoded(&offer(4, 10, "ten.bin")),
            encoded(&chunk(4, &[1; 6])),
            encoded(&chunk(4, &[2; 5])),
            encoded(&Message::End {
                id: 4,
                hash: [0; 32],
            }),
        ],
        "the peer sent more of ten.bin than the 10 B it announced",
    );
}

#[test]
fn an_end_before_all_bytes_ends_the_conversation_and_saves_nothing() {
    let data = [5u8; 50];
    assert_breach_after(
        "henc_short_end",
        &[
            encoded(&offer(0, 100, "hundred.bin")),
            encoded(&chunk(0, &data)),
            encoded(&end_of(0, &data)),
        ],
        "the peer ended hundred.bin after 50 B of its 100 B",
    );
}

#[test]
fn a_wrong_hash_is_refused_and_the_conversation_goes_on() {
    let dir = TestDir::new("henc_wrong_hash");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    let data = b"what was sent";
    peer.send(&[
        offer(9, data.len() as u64, "damaged.txt"),
        chunk(9, data),
        end_of(9, b"what was meant"),
    ]);
    chat.expect_exact(
        "[System] damaged.txt arrived damaged (its hash does not match); nothing was saved.",
    );
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 9,
            reason: "it arrived damaged (its hash does not match)",
        },
    );
    peer.send(&[Message::Text("still here")]);
    chat.next_line_is("[mallory] still here");
    assert_nothing_saved(&mut chat, dir.path());
    // The id is free again: the same file, whole this time, is saved.
    peer.send(&[
        offer(9, data.len() as u64, "damaged.txt"),
        chunk(9, data),
        end_of(9, data),
    ]);
    chat.expect_saved("received_files/damaged.txt");
    peer.expect_message(&mut chat, Message::Saved { id: 9 });
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
    assert_eq!(
        dir_entries(&dir.join("received_files")),
        ["damaged.txt"],
        "{}",
        chat.report()
    );
}

/// A file the chat cannot save is refused on its offer; the rest of it is
/// read and dropped, and its end gets no second answer.
#[test]
fn a_file_that_cannot_be_saved_is_refused_at_once_and_answered_once() {
    let dir = TestDir::new("henc_cannot_save");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    // The download folder cannot be made: a file is in its place.
    fs::write(dir.join("received_files"), b"").unwrap();
    peer.send(&[offer(2, 6, "notes.txt")]);
    chat.expect_prefix("[System] Could not save file notes.txt (6 B): ");
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 2,
            reason: "it cannot be saved here",
        },
    );
    peer.send(&[
        chunk(2, b"notes\n"),
        end_of(2, b"notes\n"),
        Message::Text("did it come?"),
    ]);
    chat.next_line_is("[mallory] did it come?");
    // Whatever the chat sends next comes after any answer to that end.
    chat.send_line("no");
    peer.expect_message(&mut chat, Message::Text("no"));
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
    assert_eq!(fs::read(dir.join("received_files")).unwrap(), b"");
    assert!(
        !chat
            .stdout_lines()
            .iter()
            .any(|l| l.contains("File saved") || l.contains("incomplete")),
        "{}",
        chat.report()
    );
}

const NEVER_OFFERED: &str = "the peer sent part of file 7, which it never offered";

#[test]
fn a_chunk_for_a_file_never_offered_ends_the_conversation() {
    assert_breach_after(
        "henc_unknown_chunk",
        &[encoded(&chunk(7, b"x"))],
        NEVER_OFFERED,
    );
}

#[test]
fn an_end_or_cancel_for_a_file_never_offered_ends_the_conversation() {
    assert_breach_after(
        "henc_unknown_end",
        &[encoded(&end_of(7, b""))],
        NEVER_OFFERED,
    );
    assert_breach_after(
        "henc_unknown_cancel",
        &[encoded(&Message::Cancel { id: 7 })],
        NEVER_OFFERED,
    );
}

#[test]
fn a_chunk_after_its_files_end_ends_the_conversation() {
    let dir = TestDir::new("henc_chunk_after_end");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[offer(7, 1, "one.txt"), chunk(7, b"1"), end_of(7, b"1")]);
    chat.expect_saved("received_files/one.txt");
    peer.expect_message(&mut chat, Message::Saved { id: 7 });
    peer.send(&[chunk(7, b"2")]);
    assert_breach(&mut chat, &peer, NEVER_OFFERED);
    assert_eq!(
        fs::read(dir.join("received_files/one.txt")).unwrap(),
        b"1",
        "{}",
        chat.report()
    );
}

#[test]
fn an_offer_over_16_tib_ends_the_conversation() {
    for (test, size) in [
        ("henc_huge_offer", MAX_FILE_SIZE + 1),
        ("henc_max_offer", u64::MAX),
    ] {
        assert_breach_after(
            test,
            &[encoded(&offer(0, size, "huge.bin"))],
            &format!(
                "the peer offered a file of {}, over the limit of {}",
                common::size(size),
                common::size(MAX_FILE_SIZE)
            ),
        );
    }
}

#[test]
fn a_sixty_fifth_file_at_once_ends_the_conversation() {
    let names: Vec<String> = (0..65).map(|i| format!("f{i}.bin")).collect();
    let offers: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| encoded(&offer(i as FileId, 10, name)))
        .collect();
    let chat = assert_breach_after(
        "henc_sixty_five",
        &offers,
        "the peer offered a file while already sending 64",
    );
    let incomplete = chat
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("[System] Transfer of f") && l.contains("received 0 B of 10 B"))
        .count();
    assert_eq!(incomplete, 64, "{:?}", chat.stdout_lines());
}

#[test]
fn an_offer_for_an_id_in_progress_ends_the_conversation() {
    assert_breach_after(
        "henc_duplicate_id",
        &[
            encoded(&offer(3, 10, "first.bin")),
            encoded(&chunk(3, &[1; 4])),
            encoded(&offer(3, 4, "second.bin")),
        ],
        "the peer offered file 3 again while still sending it",
    );
}

#[test]
fn a_cancelled_file_is_dropped_and_the_conversation_goes_on() {
    let dir = TestDir::new("henc_cancel");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[
        offer(0, 100, "half.txt"),
        chunk(0, &[b'h'; 40]),
        Message::Cancel { id: 0 },
    ]);
    chat.expect_exact("[System] Incoming file half.txt (100 B)...");
    chat.next_line_is("[System] The peer stopped sending half.txt; nothing was saved.");
    // A large file is accepted, and can be cancelled before a byte came.
    peer.send(&[
        offer(1, 1 << 30, "huge.bin"),
        Message::Cancel { id: 1 },
        Message::Text("still here"),
    ]);
    chat.expect_exact("[System] Incoming file huge.bin (1.0 GiB)...");
    chat.next_line_is("[System] The peer stopped sending huge.bin; nothing was saved.");
    chat.next_line_is("[mallory] still here");
    assert_nothing_saved(&mut chat, dir.path());
    // A cancelled id is free again.
    peer.send(&[
        offer(0, 5, "whole.txt"),
        chunk(0, b"whole"),
        end_of(0, b"whole"),
    ]);
    chat.expect_saved("received_files/whole.txt");
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
    assert_eq!(dir_entries(&dir.join("received_files")), ["whole.txt"]);
}

#[test]
fn a_goodbye_in_the_middle_of_a_file_saves_nothing_and_is_not_a_success() {
    let dir = TestDir::new("henc_close_mid_file");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[offer(0, 100, "half.bin"), chunk(0, &[7; 50])]);
    chat.expect_exact("[System] Incoming file half.bin (100 B)...");
    common::wait_for_open_file_in(chat.pid(), &dir.join("received_files"));
    peer.close();
    chat.expect_exact(
        "[System] Transfer of half.bin incomplete: received 50 B of 100 B; what arrived is kept, so \
         sending it again resumes.",
    );
    chat.expect_exact("[mallory] has left the chat.");
    chat.expect_exact("[System] Peer disconnected.");
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "cut short");
    assert_nothing_saved(&mut chat, dir.path());
    // The chat does not answer a goodbye with its own.
    peer.expect_dropped(&mut chat);
}

#[test]
fn a_cut_in_the_middle_of_a_file_saves_nothing() {
    let dir = TestDir::new("henc_cut_mid_file");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[offer(0, 100, "half.bin"), chunk(0, &[7; 50])]);
    chat.expect_exact("[System] Incoming file half.bin (100 B)...");
    peer.cut();
    chat.expect_exact(
        "[System] Transfer of half.bin incomplete: received 50 B of 100 B; what arrived is kept, so \
         sending it again resumes.",
    );
    chat.expect_exact(
        "[System] Connection lost: the connection was cut without the peer saying goodbye",
    );
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "lost");
    assert!(
        !chat.stdout_lines().iter().any(|l| l.contains("has left")),
        "{}",
        chat.report()
    );
    assert_nothing_saved(&mut chat, dir.path());
}

// Garbage records.

#[test]
fn a_message_of_unknown_type_ends_the_conversation() {
    for (test, record) in [
        ("henc_type_28", &b"\x1chello"[..]),
        ("henc_type_0", b"\x00"),
        ("henc_type_255", b"\xff\xff\xff\xff"),
    ] {
        assert_breach_after(
            test,
            &[record.to_vec()],
            &format!("a message of unknown type {}", record[0]),
        );
    }
}

#[test]
fn an_empty_record_ends_the_conversation() {
    assert_breach_after("henc_empty_record", &[Vec::new()], "an empty message");
}

#[test]
fn messages_of_the_wrong_length_end_the_conversation() {
    for (test, record, what) in [
        ("henc_short_end_message", &b"\x05\0\0\0\x01abc"[..], "end"),
        ("henc_long_saved", b"\x06\0\0\0\x01\0", "saved"),
        ("henc_empty_chunk", b"\x04\0\0\0\x01", "chunk"),
        (
            "henc_nameless_offer",
            b"\x03\0\0\0\x01\0\0\0\0\0\0\0\x05",
            "offer",
        ),
    ] {
        assert_breach_after(
            test,
            &[record.to_vec()],
            &format!("a {what} message of the wrong length"),
        );
    }
}

#[test]
fn records_that_do_not_open_end_the_conversation() {
    const FORGED: &str = "a record failed its check: the connection was tampered with \
                          (a record changed, dropped, replayed or reordered)";
    let dir = TestDir::new("henc_forged");
    // Random bytes of a plausible length, and a length too short for a tag.
    let cases: [&[u8]; 2] = [
        &[
            &40u32.to_be_bytes()[..],
            &common::pseudo_random_bytes(40, 3),
        ]
        .concat(),
        &[0, 0, 0, 3, 1, 2, 3],
    ];
    for (i, wire) in cases.iter().enumerate() {
        let (mut chat, mut peer) = alice_and_mallory(&dir.subdir(&format!("case{i}")));
        peer.write_wire(wire);
        assert_ended(&mut chat, &peer, FORGED);
    }
}

#[test]
fn records_of_unknown_kind_end_the_conversation() {
    let dir = TestDir::new("henc_record_kind");
    // A close record carrying data is no close record.
    for (i, (kind, data)) in [(2u8, &b""[..]), (255, b"\x02hi"), (1, b"\x02bye")]
        .into_iter()
        .enumerate()
    {
        let (mut chat, mut peer) = alice_and_mallory(&dir.subdir(&format!("case{i}")));
        let record = peer.seal_by_hand(kind, data);
        peer.write_wire(&record);
        assert_ended(
            &mut chat,
            &peer,
            &format!("a record of unknown kind {kind}"),
        );
        if !peer_lines(&chat).is_empty() {
            chat.fail("a line of the peer's was shown");
        }
    }
}

#[test]
fn a_record_announcing_4_gib_ends_the_conversation_at_once_with_memory_bounded() {
    let dir = TestDir::new("henc_4_gib");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[Message::Text("ready")]);
    chat.expect_exact("[mallory] ready");
    // Allocating what the header announces would now fail, and abort.
    common::limit_address_space(chat.pid(), 1 << 30);
    let peak = common::watch_peak_rss_kib(chat.pid());
    let mut wire = u32::MAX.to_be_bytes().to_vec();
    wire.extend_from_slice(&[0xab; 16]);
    peer.write_wire(&wire);
    chat.expect_exact(
        "[System] Connection ended: a record of 4294967295 bytes is over the limit of 65809.",
    );
    let peak = peak.join().unwrap();
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "over the limit");
    assert!(
        peak < 40 * 1024,
        "peak resident memory {peak} KiB\n{}",
        chat.report()
    );
}

// Answers.

#[test]
fn answers_about_files_the_chat_never_sent_are_ignored() {
    let dir = TestDir::new("henc_stray_answers");
    let (mut chat, mut peer) = alice_and_mallory(dir.path());
    peer.send(&[
        Message::Saved { id: 0 },
        Message::Saved { id: u32::MAX },
        Message::Refused {
            id: 5,
            reason: "\x1b[2Jdisk full",
        },
        Message::Refused { id: 0, reason: "" },
        Message::Text("still here"),
    ]);
    chat.next_line_is("[mallory] still here");
    // The chat still sends and finishes files of its own.
    fs::write(dir.join("mine.txt"), b"my own file").unwrap();
    chat.send_line("/send mine.txt");
    let offered = peer.next_record(&mut chat);
    let id = match Message::decode(&offered) {
        Ok(Message::Offer {
            id,
            size: 11,
            name: "mine.txt",
        }) => id,
        other => chat.fail(&format!("expected the offer of mine.txt, got {other:?}")),
    };
    // Nothing of it comes before the peer takes it.
    peer.send(&[Message::Accept {
        id,
        offset: 0,
        prefix: [0; 32],
    }]);
    peer.expect_message(&mut chat, chunk(id, b"my own file"));
    peer.expect_message(&mut chat, end_of(id, b"my own file"));
    peer.send(&[Message::Saved { id }]);
    chat.expect_exact("[System] Sent file mine.txt (11 B)");
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
    let shown = chat.stdout_lines();
    assert!(
        !shown
            .iter()
            .any(|l| l.contains("disk full") || l.contains("not saved")),
        "{shown:?}"
    );
}

/// A peer that floods files the chat must answer for, and reads none of
/// the answers: the chat stops reading instead of queueing answers without
/// end, and its memory stays small.
#[test]
fn answers_owed_to_a_peer_that_does_not_read_them_do_not_pile_up() {
    let dir = TestDir::new("henc_answer_flood");
    let (mut chat, port) = Chat::listen_encrypted("alice", dir.path(), &["--name", "alice"]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let agreed = handshake(Side::Connecting, &mut stream, credentials(None), None).unwrap();
    chat.expect_prefix("[System] Encrypted. Safety code: ");
    // Never read: what the chat sends piles up in its own buffers.
    stream
        .set_write_timeout(Some(std::time::Duration::from_secs(6)))
        .unwrap();
    let peak = common::watch_peak_rss_kib(chat.pid());
    let mut records = RecordWriter::new(stream.try_clone().unwrap(), &agreed.send_key);
    let hello = encoded(&Message::Hello { name: "mallory" });
    records.send(&hello).unwrap();
    // Empty files with a wrong hash: each one owes a refusal.
    let refused_file = [
        encoded(&offer(1, 0, "e")),
        encoded(&Message::End {
            id: 1,
            hash: [0; 32],
        }),
    ];
    let started = std::time::Instant::now();
    let mut sent = 0u64;
    'flood: while started.elapsed() < std::time::Duration::from_secs(6) {
        for _ in 0..1000 {
            for record in &refused_file {
                if records.send(record).is_err() {
                    break 'flood;
                }
            }
        }
        if records.flush().is_err() {
            break;
        }
        sent += 1000;
    }
    // Closing with the chat's answers unread resets the connection.
    drop(records);
    drop(stream);
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let peak = peak.join().unwrap();
    eprintln!("peak RSS {peak} KiB after {sent} files owed an answer");
    // A few MiB of buffers; answers queued without end grow past this
    // within the six seconds.
    assert!(
        peak < 16 * 1024,
        "peak RSS {peak} KiB after {sent} files owed an answer"
    );
}

// Rooms: only the side that connected is ever in one.

#[test]
fn a_connecting_peer_that_says_it_hosts_a_room_ends_the_conversation() {
    let mut room = Vec::new();
    Message::Room {
        keepalive: 15,
        members: 3,
    }
    .encode(&mut room);
    assert_breach_after(
        "henc_room_from_joiner",
        &[room],
        "the peer said it hosts a room, but it is the one that connected",
    );
}
