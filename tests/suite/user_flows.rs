//! Two real chats (and, where a moment must be held still, a peer with the
//! keys of a real handshake) used the way people use them: folders that
//! change between /send and /accept, leaving while offers wait, and what
//! /status and the final lines tell each side.
//! Each test asserts what each user sees.

use std::fs;
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::{Chat, TIMEOUT, TestDir, pseudo_random_bytes};
use chat::net::secure::handshake::{Side, handshake};
use chat::net::secure::record::{RecordReader, RecordWriter};
use chat::wire::message::{FileId, Message};

/// Alice listening in `alice_dir`, Bob connected from `bob_dir`, both past
/// the safety code.
fn alice_and_bob(
    alice_dir: &Path,
    alice_extra: &[&str],
    bob_dir: &Path,
    bob_extra: &[&str],
) -> (Chat, Chat) {
    let mut args = vec!["--name", "alice"];
    args.extend_from_slice(alice_extra);
    let (mut alice, port) = Chat::listen_encrypted("alice", alice_dir, &args);
    let mut args = vec!["--name", "bob"];
    args.extend_from_slice(bob_extra);
    let mut bob = Chat::connect_encrypted("bob", bob_dir, "127.0.0.1", port, &args);
    alice.expect_prefix("[System] Encrypted. Safety code: ");
    bob.expect_prefix("[System] Encrypted. Safety code: ");
    (alice, bob)
}

/// A file inside a folder that is replaced by a symbolic link after /send
/// walked the folder (here: while the peer's user decides) must not be
/// followed: docs/files.md says links inside a folder are never sent.
#[test]
fn a_file_replaced_by_a_link_after_the_walk_is_not_followed() {
    let dir = TestDir::new("flows-link-after-walk");
    let src = dir.subdir("src/album");
    fs::write(src.join("photo.jpg"), vec![7u8; 50]).unwrap();
    fs::write(src.join("ok.txt"), b"ok\n").unwrap();
    let secret = dir.join("secret.txt");
    fs::write(&secret, b"TOP SECRET\n").unwrap();
    let (mut alice, mut bob) = alice_and_bob(
        &dir.subdir("alice"),
        &[],
        &dir.subdir("bob"),
        &["--ask-above", "0"],
    );
    alice.send_line(&format!("/send {}", src.display()));
    bob.expect_prefix("[System] alice offers folder album (");
    // Between the walk and the file being opened, somebody who can write
    // in the folder plants a link to a file of the sender's.
    fs::remove_file(src.join("photo.jpg")).unwrap();
    symlink(&secret, src.join("photo.jpg")).unwrap();
    bob.send_line("/accept");
    alice.expect_exact(
        "[System] Skipped album/photo.jpg: it was replaced since the folder was looked at",
    );
    bob.expect_prefix("[System] Folder saved to received_files/album (1 file, 3 B");
    alice.expect_prefix("[System] Sent folder album (1 file, 3 B");
    alice.expect_exact("[System] Not in the folder sent, as said above: album/photo.jpg.");
    assert!(!dir.join("bob/received_files/album/photo.jpg").exists());
    assert_eq!(
        fs::read(dir.join("bob/received_files/album/ok.txt")).unwrap(),
        b"ok\n"
    );
}

/// A folder whose first file grew and second file shrank between the walk
/// and the sending: the file that shrank fits what was announced and must
/// not be left out as one that "grew".
#[test]
fn a_file_that_shrank_is_not_skipped_as_one_that_grew() {
    let dir = TestDir::new("flows-grew-shrank");
    let src = dir.subdir("src/notes");
    fs::write(src.join("a_grows"), vec![1u8; 10]).unwrap();
    fs::write(src.join("b_shrinks"), vec![2u8; 100]).unwrap();
    let (mut alice, mut bob) = alice_and_bob(
        &dir.subdir("alice"),
        &[],
        &dir.subdir("bob"),
        &["--ask-above", "0"],
    );
    alice.send_line(&format!("/send {}", src.display()));
    bob.expect_prefix("[System] alice offers folder notes (");
    fs::write(src.join("a_grows"), vec![1u8; 110]).unwrap();
    fs::write(src.join("b_shrinks"), vec![2u8; 10]).unwrap();
    bob.send_line("/accept");
    // Each file stays within its size when the folder was looked at, so
    // the folder within what was announced: the one that grew waits for
    // another /send, the one that shrank goes.
    alice.expect_exact("[System] Skipped notes/a_grows: it grew since the folder was looked at.");
    bob.expect_prefix("[System] Folder saved to received_files/notes (1 file, 10 B");
    assert_eq!(
        fs::read(dir.join("bob/received_files/notes/b_shrinks")).unwrap(),
        vec![2u8; 10]
    );
    assert!(!dir.join("bob/received_files/notes/a_grows").exists());
}

/// With more than 4 files queued, the first ones waiting for the peer's
/// /accept, leaving tells about every file that did not go, the queued
/// ones included.
#[test]
fn leaving_while_offers_wait_names_the_queued_files_too() {
    let dir = TestDir::new("flows-quit-queued");
    let src = dir.subdir("src");
    let mut paths = Vec::new();
    for i in 1..=6 {
        let path = src.join(format!("f{i}.bin"));
        fs::write(&path, vec![i as u8; 1000]).unwrap();
        paths.push(path.display().to_string());
    }
    let (mut alice, mut bob) = alice_and_bob(
        &dir.subdir("alice"),
        &["--stall-timeout", "2"],
        &dir.subdir("bob"),
        &["--ask-above", "0"],
    );
    alice.send_line(&format!("/send {}", paths.join(" ")));
    for i in 1..=4 {
        bob.expect_prefix(&format!("[System] alice offers f{i}.bin ("));
    }
    alice.send_line("/quit");
    alice.set_timeout(Duration::from_secs(15));
    // In the order they were sent.
    for i in 1..=4 {
        alice.expect_exact(&format!(
            "[System] f{i}.bin was not sent: the peer did not accept it within 2 s."
        ));
    }
    for i in 5..=6 {
        alice.expect_exact(&format!(
            "[System] f{i}.bin was not sent: it was queued behind offers the peer did not answer."
        ));
    }
    alice.wait_exit();
    alice.assert_no_panic();
}

/// /status lists an offer that only waits for /accept (nothing of it
/// arrived, nothing was cut) as a kept part that "sending it again
/// resumes".
#[test]
fn an_offer_that_waits_is_not_listed_as_kept() {
    let dir = TestDir::new("flows-status-kept");
    let src = dir.subdir("src");
    fs::write(src.join("movie.mkv"), pseudo_random_bytes(5000, 1)).unwrap();
    let (mut alice, mut bob) = alice_and_bob(
        &dir.subdir("alice"),
        &[],
        &dir.subdir("bob"),
        &["--ask-above", "0"],
    );
    alice.send_line(&format!("/send {}", src.join("movie.mkv").display()));
    bob.expect_prefix("[System] alice offers movie.mkv (");
    bob.send_line("/status");
    bob.send_line("/code");
    bob.expect_prefix("[System] #1 Offered: movie.mkv");
    // The safety code line comes after everything /status said.
    bob.expect_prefix("[System] Safety code: ");
    assert!(
        !bob.stdout_lines()
            .iter()
            .any(|l| l.starts_with("[System] Kept: movie.mkv")),
        "an offer nothing of which arrived is listed as kept:\n{}",
        bob.stdout_lines().join("\n")
    );
}

#[derive(Debug)]
enum Heard {
    Record(Vec<u8>),
    Over,
}

/// A sender with the keys of a real handshake, holding its messages still
/// while the chat's user acts.
struct Sender {
    stream: TcpStream,
    records: RecordWriter<TcpStream>,
    heard: Receiver<Heard>,
    reader: Option<JoinHandle<()>>,
}

impl Sender {
    fn connect(port: u16) -> Sender {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let agreed = handshake(
            Side::Connecting,
            &mut stream,
            crate::common::credentials(None),
            None,
        )
        .unwrap();
        let input = BufReader::new(stream.try_clone().unwrap());
        let key = agreed.receive_key;
        let (tell, heard) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut records = RecordReader::new(input, &key);
            while let Ok(Some(data)) = records.next_record() {
                if tell.send(Heard::Record(data.to_vec())).is_err() {
                    return;
                }
            }
            let _ = tell.send(Heard::Over);
        });
        Sender {
            records: RecordWriter::new(stream.try_clone().unwrap(), &agreed.send_key),
            stream,
            heard,
            reader: Some(reader),
        }
    }

    fn send(&mut self, messages: &[Message<'_>]) {
        for message in messages {
            let mut data = Vec::new();
            message.encode(&mut data);
            self.records.write_all(&data).unwrap();
        }
        self.records.flush().unwrap();
    }

    /// Waits for a message the chat sent that `want` picks.
    fn wait_for(&self, chat: &mut Chat, what: &str, want: impl Fn(&Message<'_>) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.heard.recv_timeout(left) {
                Ok(Heard::Record(data)) => {
                    if Message::decode(&data).is_ok_and(|m| want(&m)) {
                        return;
                    }
                }
                Ok(Heard::Over) => chat.fail(&format!("connection over before {what}")),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    chat.fail(&format!("no {what} in time"))
                }
            }
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The user accepts an offer, and the sender withdraws it before a byte
/// of it came (its cancel crossed the acceptance): the user saw
/// "Accepted", so something must say the file is not coming.
#[test]
fn an_accepted_offer_withdrawn_before_its_bytes_is_said() {
    let dir = TestDir::new("flows-accepted-withdrawn");
    let (mut chat, port) = Chat::listen_encrypted(
        "alice",
        &dir.subdir("alice"),
        &["--name", "alice", "--ask-above", "0"],
    );
    let mut peer = Sender::connect(port);
    chat.expect_prefix("[System] Encrypted. Safety code: ");
    peer.send(&[Message::Hello { name: "mallory" }]);
    let id: FileId = 0;
    peer.send(&[Message::Offer {
        id,
        size: 4096,
        name: "report.pdf",
    }]);
    chat.expect_prefix("[System] mallory offers report.pdf (");
    chat.send_line("/accept");
    chat.expect_exact("[System] Accepted report.pdf.");
    peer.wait_for(&mut chat, "the Accept", |m| {
        matches!(m, Message::Accept { id: 0, .. })
    });
    // The sender's user cancelled before the acceptance reached it.
    peer.send(&[Message::Cancel { id }, Message::Text("sync")]);
    chat.expect_exact("[mallory] sync");
    let lines = chat.stdout_lines();
    let after = lines
        .iter()
        .skip_while(|l| *l != "[System] Accepted report.pdf.")
        .skip(1)
        .filter(|l| l.contains("report.pdf"))
        .count();
    chat.send_line("/status");
    chat.expect_exact("[System] No transfers in progress or queued.");
    assert!(
        after > 0,
        "the accepted file vanished without a word:\n{}",
        lines.join("\n")
    );
}

/// /cancel of a file sent whole and waiting for the peer's Saved says so,
/// a second /cancel too, and the Saved that follows makes it "Sent".
#[test]
fn cancel_after_the_last_chunk_waits_for_the_answer() {
    let dir = TestDir::new("flows-cancel-sent-whole");
    let src = dir.subdir("src");
    let data = pseudo_random_bytes(200_000, 3);
    fs::write(src.join("whole.bin"), &data).unwrap();
    let (mut chat, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--name", "alice"]);
    let mut peer = Sender::connect(port);
    chat.expect_prefix("[System] Encrypted. Safety code: ");
    peer.send(&[Message::Hello { name: "mallory" }]);
    chat.send_line(&format!("/send {}", src.join("whole.bin").display()));
    peer.wait_for(&mut chat, "the Offer", |m| {
        matches!(m, Message::Offer { id: 0, .. })
    });
    peer.send(&[Message::Accept {
        id: 0,
        offset: 0,
        prefix: *blake3::hash(b"").as_bytes(),
    }]);
    peer.wait_for(&mut chat, "the End", |m| {
        matches!(m, Message::End { id: 0, .. })
    });
    chat.send_line("/cancel 1");
    chat.expect_exact(
        "[System] Transfer #1 was sent whole already; it waits for the peer to confirm it.",
    );
    chat.send_line("/cancel 1");
    chat.expect_exact(
        "[System] Transfer #1 was sent whole already; it waits for the peer to confirm it.",
    );
    peer.send(&[Message::Saved { id: 0 }]);
    chat.expect_exact("[System] Sent file whole.bin (195.3 KiB)");
    chat.send_line("/cancel 1");
    chat.expect_exact("[System] No transfer #1; /status lists them.");
}

/// How a chat is run so that it cannot read what its user may not: as
/// root, whom no permission stops, it runs as `nobody`; otherwise as the
/// user running the tests. `None` (said on stderr) where root cannot
/// become `nobody`; under CI, a failure instead.
fn without_root_rights() -> Option<Vec<&'static str>> {
    if !rustix::process::getuid().is_root() {
        return Some(Vec::new());
    }
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    match std::process::Command::new(nobody[0])
        .args(&nobody[1..])
        .arg("true")
        .output()
    {
        Ok(out) if out.status.success() => Some(nobody.to_vec()),
        other => {
            let why = format!("cannot run a chat as nobody: {other:?}");
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A folder with a file and a subfolder its sender cannot read: the
/// sender's last line names both as left out, and the receiver, whose
/// folder comes without a file it was announced, is told so.
#[test]
fn what_a_sender_cannot_read_of_a_folder_is_said_on_both_sides() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("flows-unreadable");
    let Some(wrapper) = without_root_rights() else {
        return;
    };
    let bob_dir = dir.subdir("bob");
    let folder = bob_dir.join("dir");
    fs::create_dir_all(folder.join("closed")).unwrap();
    fs::write(folder.join("a.txt"), b"abc").unwrap();
    fs::write(folder.join("closed/x.txt"), b"xyz").unwrap();
    fs::write(folder.join("locked.txt"), b"locked away!").unwrap();
    for (path, mode) in [(bob_dir.as_path(), 0o777), (&folder, 0o755)] {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    for path in ["a.txt", "closed/x.txt"] {
        fs::set_permissions(folder.join(path), fs::Permissions::from_mode(0o644)).unwrap();
    }
    for path in ["locked.txt", "closed"] {
        fs::set_permissions(folder.join(path), fs::Permissions::from_mode(0o000)).unwrap();
    }
    let (mut alice, port) = Chat::listen_encrypted("alice", &dir.subdir("alice"), &[]);
    let port = port.to_string();
    let args = ["connect", "127.0.0.1", &port, "--name", "bob"];
    let mut bob = Chat::spawn_through("bob", &bob_dir, &wrapper, &args);
    bob.expect_prefix("[System] Encrypted. Safety code: ");
    bob.send_line("/send dir");
    alice.expect_exact("[System] Incoming folder dir (2 files, 15 B)...");
    alice.expect_exact("[System] Folder saved to received_files/dir (1 file, 3 B)");
    alice.expect_exact(
        "[System] Folder dir came without 1 file of the 2 announced (12 B): the sender left it \
         out.",
    );
    bob.expect_exact("[System] Not sending what is inside dir/closed (permission denied).");
    bob.expect_prefix("[System] Skipped dir/locked.txt: permission denied");
    bob.expect_exact("[System] Sent folder dir (1 file, 3 B)");
    bob.expect_exact(
        "[System] Not in the folder sent, as said above: what is inside dir/closed and \
         dir/locked.txt.",
    );
    bob.close_stdin();
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    let saved = dir.join("alice/received_files/dir");
    assert!(saved.join("closed").is_dir() && saved.join("a.txt").is_file());
    assert!(!saved.join("locked.txt").exists());
}
