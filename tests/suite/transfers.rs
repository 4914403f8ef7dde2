//! Files and folders between two chats on the encrypted wire, as their
//! users see them: folders arriving whole (and only whole), offers that wait
//! for `/accept` or `/decline`, offers larger than the free space, `/cancel`
//! from either side and of a queued file, and `/discard`.
//!
//! In every test Alice listens and receives, Bob connects and sends.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common;
use crate::common::disk::SmallDisk;
use crate::common::{Chat, TIMEOUT, TestDir, dir_entries, encrypted_pair, pseudo_random_bytes};

/// The hidden folder inside the download folder where transfers on their
/// way (and those cut) are kept.
const KEPT: &str = ".chat-partial";

const NO_TRANSFERS: &str = "[System] No transfers in progress or queued.";

/// Alice listening with `alice_extra`, Bob connected to her; each in its
/// own working directory below `dir`.
fn pair(dir: &TestDir, alice_extra: &[&str]) -> (Chat, Chat) {
    encrypted_pair(&dir.subdir("alice"), alice_extra, &dir.subdir("bob"), &[])
}

/// Bob leaves; both chats end cleanly.
fn leave(mut alice: Chat, mut bob: Chat) {
    bob.close_stdin();
    alice.expect_exact("[bob] has left the chat.");
    assert_eq!(bob.wait_exit(), 0, "{}", bob.report());
    assert_eq!(alice.wait_exit(), 0, "{}", alice.report());
    alice.assert_no_panic();
    bob.assert_no_panic();
}

/// Bob says one more line and Alice sees it: the conversation goes on, and
/// everything Bob sent before it has been dealt with on Alice's side.
fn still_talking(alice: &mut Chat, bob: &mut Chat, line: &str) {
    bob.send_line(line);
    alice.expect_exact(&format!("[bob] {line}"));
}

/// A file of `len` zero bytes that takes no room on disk.
fn sparse_file(path: &Path, len: u64) {
    fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Makes the folder `root` with `files` (path below it, contents) and the
/// empty subfolders `empty`.
fn make_folder(root: &Path, files: &[(&str, Vec<u8>)], empty: &[&str]) {
    for (path, body) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    for path in empty {
        fs::create_dir_all(root.join(path)).unwrap();
    }
    fs::create_dir_all(root).unwrap();
}

/// What is at a path below a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Folder,
    /// A regular file, by its length (its bytes are compared apart, so a
    /// failure does not print them).
    File(u64),
    /// Anything else: a link, a FIFO.
    Other,
}

/// Everything below `root` by its `/`-separated path, links not followed.
fn tree(root: &Path) -> BTreeMap<String, Node> {
    fn walk(dir: &Path, below: &str, out: &mut BTreeMap<String, Node>) {
        for name in dir_entries(dir) {
            let path = dir.join(&name);
            let rel = if below.is_empty() {
                name
            } else {
                format!("{below}/{name}")
            };
            let meta = path.symlink_metadata().unwrap();
            if meta.is_dir() {
                out.insert(rel.clone(), Node::Folder);
                walk(&path, &rel, out);
            } else if meta.is_file() {
                out.insert(rel, Node::File(meta.len()));
            } else {
                out.insert(rel, Node::Other);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

/// Fails unless `saved` holds exactly what `sent` does but the entries
/// `left_out`, every file byte for byte.
fn assert_same_tree(sent: &Path, saved: &Path, left_out: &[&str]) {
    let mut expected = tree(sent);
    for path in left_out {
        assert!(
            expected.remove(*path).is_some(),
            "{path} is not in {}",
            sent.display()
        );
    }
    let got = tree(saved);
    assert_eq!(
        got,
        expected,
        "{} differs from what was sent",
        saved.display()
    );
    for (path, node) in &expected {
        if let Node::File(_) = node {
            let same = fs::read(sent.join(path)).unwrap() == fs::read(saved.join(path)).unwrap();
            assert!(same, "{path} arrived with other bytes");
        }
    }
}

/// Fails unless Alice's download folder holds nothing: no file or folder
/// under a final name, and nothing kept in the hidden folder either.
fn assert_nothing_saved(alice: &mut Chat, downloads: &Path) {
    let named: Vec<String> = dir_entries(downloads)
        .into_iter()
        .filter(|name| name != KEPT)
        .collect();
    let kept = tree(&downloads.join(KEPT));
    if !named.is_empty() || !kept.is_empty() {
        alice.fail(&format!(
            "expected nothing in the download folder, found {named:?} and kept {kept:?}"
        ));
    }
}

/// Fails if any line `chat` showed so far satisfies `pred`.
fn assert_never_said(chat: &mut Chat, what: &str, pred: impl Fn(&str) -> bool) {
    if chat.stdout_lines().iter().any(|l| pred(l)) {
        chat.fail(&format!("it said {what}"));
    }
}

/// Waits for Alice's question about Bob's offer of `name`, shown as
/// `size`, and returns the id it names.
fn expect_offer(alice: &mut Chat, name: &str, size: &str) -> u64 {
    let prefix = format!("[System] bob offers {name} ({size}): /accept ");
    let line = alice.expect_prefix(&prefix);
    let id = line[prefix.len()..]
        .split(' ')
        .next()
        .and_then(|id| id.parse::<u64>().ok());
    match id {
        Some(id) if line == format!("{prefix}{id} or /decline {id}") => id,
        _ => alice.fail(&format!("cannot read an offer's id from {line:?}")),
    }
}

/// Where a transfer stands in a `/status` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Sending,
    Receiving,
    Queued,
    Offered,
}

/// The id and state of the transfer `name` if `line` is its `/status`
/// line: `[System] #ID Sending NAME: ...`, `#ID Receiving NAME: ...`,
/// `#ID Queued: NAME (SIZE)` or `#ID Offered: NAME (SIZE): ...`.
fn status_of(line: &str, name: &str) -> Option<(u64, State)> {
    let (id, rest) = line.strip_prefix("[System] #")?.split_once(' ')?;
    let id = id.parse().ok()?;
    let forms = [
        (State::Sending, format!("Sending {name}: ")),
        (State::Receiving, format!("Receiving {name}: ")),
        (State::Queued, format!("Queued: {name} (")),
        (State::Offered, format!("Offered: {name} (")),
    ];
    forms
        .into_iter()
        .find(|(_, form)| rest.starts_with(form.as_str()))
        .map(|(state, _)| (id, state))
}

/// Asks `chat` for `/status` until it lists `name` as `state` (a file
/// starts moving a moment after its `Incoming` line), and returns its id
/// and its line.
fn transfer(chat: &mut Chat, name: &str, state: State) -> (u64, String) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        chat.send_line("/status");
        let line = chat.expect_line(&format!("a /status line for {name}"), |l| {
            status_of(l, name).is_some()
        });
        match status_of(&line, name) {
            Some((id, now)) if now == state => return (id, line),
            _ if Instant::now() < deadline => {}
            _ => chat.fail(&format!("{name} was never listed as {state:?}")),
        }
    }
}

fn transfer_id(chat: &mut Chat, name: &str, state: State) -> u64 {
    transfer(chat, name, state).0
}

/// A sparse file of `len` bytes for Bob to send, in his folder if its file
/// system takes a file that large, else in `/dev/shm` (removed on drop).
struct HugeFile {
    path: PathBuf,
    shm: Option<PathBuf>,
}

impl HugeFile {
    fn new(dir: &TestDir, name: &str, len: u64) -> HugeFile {
        let path = dir.subdir("bob").join(name);
        if fs::File::create(&path).and_then(|f| f.set_len(len)).is_ok() {
            return HugeFile { path, shm: None };
        }
        let _ = fs::remove_file(&path);
        let shm = PathBuf::from(format!("/dev/shm/chat-transfers-{}", std::process::id()));
        fs::create_dir_all(&shm).unwrap();
        let path = shm.join(name);
        fs::File::create(&path).unwrap().set_len(len).unwrap();
        HugeFile {
            path,
            shm: Some(shm),
        }
    }
}

impl Drop for HugeFile {
    fn drop(&mut self) {
        if let Some(shm) = &self.shm {
            let _ = fs::remove_dir_all(shm);
        }
    }
}

// Folders.

#[test]
fn a_folder_arrives_with_its_whole_tree_byte_for_byte() {
    let dir = TestDir::new("transfers_folder_tree");
    let album = dir.subdir("bob").join("album");
    let files = [
        ("cover.jpg", pseudo_random_bytes(300_001, 1)),
        (".config/x", b"colour = blue\n".to_vec()),
        ("disc 1/01 intro.flac", pseudo_random_bytes(150_000, 2)),
        (
            "disc 1/deeper/liner notes.txt",
            pseudo_random_bytes(9_999, 3),
        ),
        ("disc 2/.hidden", pseudo_random_bytes(10, 4)),
        ("zero", Vec::new()),
    ];
    make_folder(&album, &files, &["empty", "disc 2/nothing here"]);
    let bytes: usize = files.iter().map(|(_, body)| body.len()).sum();
    let (mut alice, mut bob) = pair(&dir, &[]);

    bob.send_line("/send album");
    alice.expect_exact(&format!(
        "[System] Incoming folder album (6 files, {})...",
        common::size(bytes)
    ));
    alice.expect_exact(&format!(
        "[System] Folder saved to received_files/album (6 files, {})",
        common::size(bytes)
    ));
    bob.expect_exact(&format!(
        "[System] Sent folder album (6 files, {})",
        common::size(bytes)
    ));
    assert_same_tree(&album, &dir.join("alice/received_files/album"), &[]);
    assert_eq!(
        dir_entries(&dir.join("alice/received_files")),
        ["album"],
        "nothing else is left in the download folder"
    );
    leave(alice, bob);
}

#[test]
fn links_and_fifos_inside_a_folder_are_named_and_not_sent() {
    let dir = TestDir::new("transfers_folder_links");
    let bob_dir = dir.subdir("bob");
    fs::write(bob_dir.join("secret.txt"), b"not for the peer").unwrap();
    let docs = bob_dir.join("docs");
    make_folder(&docs, &[("report.txt", b"the report".to_vec())], &["sub"]);
    symlink(bob_dir.join("secret.txt"), docs.join("link")).unwrap();
    symlink(&bob_dir, docs.join("sub/up")).unwrap();
    let made = Command::new("mkfifo").arg(docs.join("pipe")).status();
    assert!(made.unwrap().success(), "mkfifo failed");
    let (mut alice, mut bob) = pair(&dir, &[]);

    bob.send_line("/send docs");
    bob.expect_all_unordered(&[
        "[System] Not sending docs/link (a symbolic link).",
        "[System] Not sending docs/pipe (not a regular file).",
        "[System] Not sending docs/sub/up (a symbolic link).",
    ]);
    alice.expect_exact("[System] Incoming folder docs (1 file, 10 B)...");
    alice.expect_exact("[System] Folder saved to received_files/docs (1 file, 10 B)");
    bob.expect_exact("[System] Sent folder docs (1 file, 10 B)");
    let saved = dir.join("alice/received_files/docs");
    assert_same_tree(&docs, &saved, &["link", "pipe", "sub/up"]);
    assert_eq!(
        tree(&saved),
        BTreeMap::from([
            ("report.txt".to_string(), Node::File(10)),
            ("sub".to_string(), Node::Folder),
        ])
    );
    leave(alice, bob);
}

#[test]
fn a_folder_sent_twice_is_saved_beside_the_first_which_stays_untouched() {
    let dir = TestDir::new("transfers_folder_twice");
    let notes = dir.subdir("bob").join("notes");
    make_folder(
        &notes,
        &[("a.txt", b"first".to_vec()), ("b/c.txt", b"see".to_vec())],
        &[],
    );
    let (mut alice, mut bob) = pair(&dir, &[]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send notes");
    alice.expect_exact("[System] Folder saved to received_files/notes (2 files, 8 B)");
    bob.expect_exact("[System] Sent folder notes (2 files, 8 B)");
    let first = tree(&downloads.join("notes"));
    // The same folder with one file changed, its size the same.
    fs::write(notes.join("a.txt"), b"later").unwrap();
    bob.send_line("/send notes");
    alice.expect_exact("[System] Folder saved to received_files/notes (1) (2 files, 8 B)");
    bob.expect_exact("[System] Sent folder notes (2 files, 8 B)");

    assert_eq!(dir_entries(&downloads), ["notes", "notes (1)"]);
    assert_eq!(tree(&downloads.join("notes")), first);
    assert_eq!(fs::read(downloads.join("notes/a.txt")).unwrap(), b"first");
    assert_same_tree(&notes, &downloads.join("notes (1)"), &[]);
    leave(alice, bob);
}

#[test]
fn a_folder_is_not_in_the_download_folder_until_it_arrived_whole() {
    let dir = TestDir::new("transfers_folder_whole");
    let movie = dir.subdir("bob").join("movie");
    make_folder(
        &movie,
        &[("notes.txt", b"watch this".to_vec())],
        &["extras"],
    );
    let size: u64 = 384 << 20;
    sparse_file(&movie.join("big.bin"), size);
    let bytes = size + 10;
    let (mut alice, mut bob) = pair(&dir, &[]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send movie");
    alice.expect_exact(&format!(
        "[System] Incoming folder movie (2 files, {})...",
        common::size(bytes)
    ));
    // Look at the download folder, then ask how far the folder got: if part
    // but not all of it had arrived by then, the look was taken while it
    // was arriving.
    let deadline = Instant::now() + TIMEOUT;
    let looked = loop {
        let looked = dir_entries(&downloads);
        alice.send_line("/status");
        let line = alice.expect_line("the folder's /status line", |l| {
            status_of(l, "movie").is_some() || l.starts_with("[System] Folder saved")
        });
        let receiving = matches!(status_of(&line, "movie"), Some((_, State::Receiving)));
        if line.starts_with("[System] Folder saved") || line.contains("(100%)") {
            alice.fail("the folder arrived before it was seen arriving: make it larger");
        }
        if receiving && !line.contains(": 0 B / ") {
            // Bytes and files are both counted.
            assert!(line.ends_with(" of 2 files"), "{line}");
            break looked;
        }
        if Instant::now() > deadline {
            alice.fail("no byte of the folder arrived");
        }
    };
    if looked.iter().any(|name| name != KEPT) {
        alice.fail(&format!(
            "the download folder held {looked:?} while the folder was arriving"
        ));
    }
    alice.expect_exact(&format!(
        "[System] Folder saved to received_files/movie (2 files, {})",
        common::size(bytes)
    ));
    bob.expect_exact(&format!(
        "[System] Sent folder movie (2 files, {})",
        common::size(bytes)
    ));
    assert_eq!(dir_entries(&downloads), ["movie"]);
    assert_eq!(
        tree(&downloads.join("movie")),
        BTreeMap::from([
            ("big.bin".to_string(), Node::File(size)),
            ("extras".to_string(), Node::Folder),
            ("notes.txt".to_string(), Node::File(10)),
        ])
    );
    assert_eq!(
        fs::read(downloads.join("movie/notes.txt")).unwrap(),
        b"watch this"
    );
    leave(alice, bob);
}

/// A chain of folders `d/d/d/...` below `root`, made and removed one level
/// at a time relative to the last: the whole path is too long for the
/// system to name, and removing it by recursion would need a stack (and a
/// descriptor) per level.
struct DeepChain {
    root: PathBuf,
}

impl DeepChain {
    fn new(root: &Path, levels: usize) -> DeepChain {
        use rustix::fs::{Mode, OFlags};
        let mut level = rustix::fs::open(root, OFlags::DIRECTORY, Mode::empty()).unwrap();
        for _ in 0..levels {
            rustix::fs::mkdirat(&level, "d", Mode::from_raw_mode(0o755)).unwrap();
            level = rustix::fs::openat(&level, "d", OFlags::DIRECTORY, Mode::empty()).unwrap();
        }
        DeepChain {
            root: root.to_path_buf(),
        }
    }
}

impl Drop for DeepChain {
    fn drop(&mut self) {
        use rustix::fs::{AtFlags, Mode, OFlags};
        let open = |at: &rustix::fd::OwnedFd, name: &str| {
            let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW;
            rustix::fs::openat(at, name, flags, Mode::empty())
        };
        let Ok(mut level) = rustix::fs::open(&self.root, OFlags::DIRECTORY, Mode::empty()) else {
            return;
        };
        let mut levels = 0;
        while let Ok(below) = open(&level, "d") {
            (level, levels) = (below, levels + 1);
        }
        for _ in 0..levels {
            let Ok(up) = open(&level, "..") else { return };
            let _ = rustix::fs::unlinkat(&up, "d", AtFlags::REMOVEDIR);
            level = up;
        }
    }
}

/// Bob's chat runs with a small stack (256 KiB) and sends a folder nested
/// 100,000 levels deep: the walk neither recurses nor sends what no peer
/// takes. The levels a peer takes (64) arrive; Bob is told in one short
/// line what is left out.
#[test]
fn a_folder_nested_a_hundred_thousand_deep_goes_down_to_what_a_peer_takes() {
    let dir = TestDir::new("transfers_folder_deep");
    let deep = dir.subdir("bob").join("deep");
    make_folder(&deep, &[("top.txt", b"top".to_vec())], &[]);
    let _chain = DeepChain::new(&deep, 100_000);
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &dir.subdir("alice"), &["--name", "alice"]);
    // 512 KiB: room for the command line's parser in a debug build, and
    // far too little for a walk that recursed 100,000 levels deep.
    let small_stack = ["sh", "-c", "ulimit -s 512 && exec \"$0\" \"$@\""];
    let port = port.to_string();
    let connect = ["connect", "127.0.0.1", &port, "--name", "bob"];
    let mut bob = Chat::spawn_through("bob", &dir.join("bob"), &small_stack, &connect);
    for chat in [&mut alice, &mut bob] {
        chat.expect_prefix("[System] Encrypted. Safety code: ");
    }

    bob.send_line("/send deep");
    let note = bob.expect_prefix("[System] Not sending what is inside deep/");
    assert_eq!(
        note,
        "[System] Not sending what is inside deep/d/…/d (64 levels) (nested too deep: a peer \
         takes paths of at most 64 levels and 4096 bytes)."
    );
    alice.expect_exact("[System] Incoming folder deep (1 file, 3 B)...");
    alice.expect_exact("[System] Folder saved to received_files/deep (1 file, 3 B)");
    bob.expect_exact("[System] Sent folder deep (1 file, 3 B)");
    let saved = dir.join("alice/received_files/deep");
    let deepest = saved.join(vec!["d"; 64].join("/"));
    assert!(
        deepest.is_dir(),
        "the 64 levels a peer takes did not arrive"
    );
    assert_eq!(dir_entries(&deepest), Vec::<String>::new());
    assert_eq!(fs::read(saved.join("top.txt")).unwrap(), b"top");
    leave(alice, bob);
}

/// What a process read and wrote so far, by `/proc/PID/io`: system calls
/// and bytes.
fn io_of(chat: &Chat) -> BTreeMap<String, u64> {
    let text = fs::read_to_string(format!("/proc/{}/io", chat.pid())).unwrap();
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .filter_map(|(key, value)| Some((key.to_string(), value.parse().ok()?)))
        .collect()
}

/// How much more of `key` the chat did between `before` and `after`.
fn grew(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, key: &str) -> u64 {
    after[key] - before[key]
}

/// A file sent inside a folder takes the same reads and writes on both
/// sides as the same file sent alone: the same chunks, no second pass
/// over its bytes, no smaller writes.
#[test]
fn a_file_in_a_folder_takes_the_reads_and_writes_of_the_file_alone() {
    let dir = TestDir::new("transfers_folder_cost");
    let size = 32 << 20;
    let bob_dir = dir.subdir("bob");
    fs::write(bob_dir.join("alone.bin"), pseudo_random_bytes(size, 1)).unwrap();
    fs::create_dir_all(bob_dir.join("box")).unwrap();
    fs::write(bob_dir.join("box/inside.bin"), pseudo_random_bytes(size, 2)).unwrap();
    let (mut alice, mut bob) = pair(&dir, &[]);
    let (alice_0, bob_0) = (io_of(&alice), io_of(&bob));
    bob.send_line("/send alone.bin");
    alice.expect_saved("received_files/alone.bin");
    bob.expect_exact(&format!(
        "[System] Sent file alone.bin ({})",
        common::size(size)
    ));
    let (alice_1, bob_1) = (io_of(&alice), io_of(&bob));
    bob.send_line("/send box");
    alice.expect_exact(&format!(
        "[System] Folder saved to received_files/box (1 file, {})",
        common::size(size)
    ));
    bob.expect_exact(&format!(
        "[System] Sent folder box (1 file, {})",
        common::size(size)
    ));
    let (alice_2, bob_2) = (io_of(&alice), io_of(&bob));
    // What a folder adds: a few messages, a few folders made and named.
    // (Socket reads and writes are not counted here; file reads and
    // writes are.)
    for (side, zero, one, two) in [
        ("receiver", &alice_0, &alice_1, &alice_2),
        ("sender", &bob_0, &bob_1, &bob_2),
    ] {
        for (key, slack) in [("syscw", 16), ("wchar", 64 << 10), ("rchar", 1 << 20)] {
            let (alone, folder) = (grew(zero, one, key), grew(one, two, key));
            assert!(
                folder <= alone + slack,
                "{side}: {key} {folder} for the folder, {alone} for the file alone"
            );
        }
    }
    // The sender reads the file once, a chunk per read, whichever way.
    let (alone, folder) = (grew(&bob_0, &bob_1, "syscr"), grew(&bob_1, &bob_2, "syscr"));
    assert!(
        folder <= alone + 16,
        "sender: {folder} reads for the folder, {alone} for the file alone"
    );
    leave(alice, bob);
}

// Accepting and declining.

#[test]
fn an_offer_over_the_limit_waits_for_accept_and_a_small_file_does_not() {
    let dir = TestDir::new("transfers_accept");
    let big = pseudo_random_bytes(2 << 20, 5);
    let small = pseudo_random_bytes(100_000, 6);
    fs::write(dir.subdir("bob").join("big.bin"), &big).unwrap();
    fs::write(dir.subdir("bob").join("small.txt"), &small).unwrap();
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send big.bin small.txt");
    let id = expect_offer(&mut alice, "big.bin", "2.0 MiB");
    alice.expect_exact("[System] Incoming file small.txt (97.7 KiB)...");
    alice.expect_exact("[System] File saved to received_files/small.txt");
    // An offer that waits is one line: nothing of it comes yet.
    assert_never_said(&mut alice, "big.bin as incoming", |l| {
        l.starts_with("[System] Incoming file big.bin")
    });
    bob.expect_exact("[System] Sent file small.txt (97.7 KiB)");
    assert_never_said(&mut alice, "an offer of small.txt", |l| {
        l.contains("offers small.txt")
    });
    assert!(fs::read(downloads.join("small.txt")).unwrap() == small);

    // While the offer waits, the conversation goes on and no byte goes.
    still_talking(&mut alice, &mut bob, "did you get it?");
    alice.send_line("/status");
    alice.expect_exact(&format!(
        "[System] #{id} Offered: big.bin (2.0 MiB): /accept {id} or /decline {id}"
    ));
    // Bob knows it waits for Alice, and nothing of it went.
    let (id_here, status) = transfer(&mut bob, "big.bin", State::Offered);
    assert_eq!(
        status,
        format!("[System] #{id_here} Offered: big.bin (2.0 MiB), waiting for the peer's answer")
    );
    let named: Vec<String> = dir_entries(&downloads)
        .into_iter()
        .filter(|n| n != KEPT)
        .collect();
    assert_eq!(named, ["small.txt"], "big.bin is not saved while it waits");

    alice.send_line(&format!("/accept {id}"));
    alice.expect_exact("[System] Accepted big.bin.");
    alice.expect_exact("[System] File saved to received_files/big.bin");
    bob.expect_exact("[System] Sent file big.bin (2.0 MiB)");
    assert!(fs::read(downloads.join("big.bin")).unwrap() == big);
    leave(alice, bob);
}

#[test]
fn a_declined_offer_is_not_saved_and_the_sender_is_told() {
    let dir = TestDir::new("transfers_decline");
    fs::write(
        dir.subdir("bob").join("big.bin"),
        pseudo_random_bytes(2 << 20, 7),
    )
    .unwrap();
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);

    bob.send_line("/send big.bin");
    let id = expect_offer(&mut alice, "big.bin", "2.0 MiB");
    alice.send_line(&format!("/decline {id}"));
    alice.expect_exact("[System] Declined big.bin; the peer was told.");
    bob.expect_exact("[System] big.bin was not saved by the peer: declined");
    still_talking(&mut alice, &mut bob, "fair enough");
    alice.send_line("/status");
    alice.expect_exact(NO_TRANSFERS);
    bob.send_line("/status");
    bob.expect_exact(NO_TRANSFERS);
    assert_nothing_saved(&mut alice, &dir.join("alice/received_files"));
    assert_never_said(&mut bob, "the file was sent", |l| {
        l.starts_with("[System] Sent file")
    });
    leave(alice, bob);
}

#[test]
fn with_two_offers_waiting_accept_and_decline_need_to_know_which() {
    let dir = TestDir::new("transfers_two_offers");
    let one = pseudo_random_bytes(2 << 20, 8);
    let two = pseudo_random_bytes(2 << 20, 9);
    fs::write(dir.subdir("bob").join("one.bin"), &one).unwrap();
    fs::write(dir.subdir("bob").join("two.bin"), &two).unwrap();
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send one.bin two.bin");
    let first = expect_offer(&mut alice, "one.bin", "2.0 MiB");
    let second = expect_offer(&mut alice, "two.bin", "2.0 MiB");
    alice.send_line("/accept");
    alice.expect_exact(&format!(
        "[System] Several offers wait (#{first}, #{second}): say which, as in /accept {first}."
    ));
    alice.send_line("/decline");
    alice.expect_exact(&format!(
        "[System] Several offers wait (#{first}, #{second}): say which, as in /decline {first}."
    ));
    alice.send_line(&format!("/accept {second}"));
    alice.expect_exact("[System] Accepted two.bin.");
    // One offer waits now: no id needed.
    alice.send_line("/decline");
    // Told by the main thread and the reader, in either order.
    alice.expect_all_unordered(&[
        "[System] Declined one.bin; the peer was told.",
        "[System] File saved to received_files/two.bin",
    ]);
    bob.expect_all_unordered(&[
        "[System] Sent file two.bin (2.0 MiB)",
        "[System] one.bin was not saved by the peer: declined",
    ]);
    still_talking(&mut alice, &mut bob, "thanks");
    assert!(fs::read(downloads.join("two.bin")).unwrap() == two);
    assert_eq!(dir_entries(&downloads), ["two.bin"]);
    leave(alice, bob);
}

#[test]
fn a_folder_over_the_limit_is_asked_about_as_a_whole() {
    let dir = TestDir::new("transfers_folder_ask");
    let photos = dir.subdir("bob").join("photos");
    // Each file is under the limit; together they are over it.
    make_folder(
        &photos,
        &[
            ("a.jpg", pseudo_random_bytes(512 << 10, 10)),
            ("b.jpg", pseudo_random_bytes(512 << 10, 11)),
            ("trip/c.jpg", pseudo_random_bytes(512 << 10, 12)),
        ],
        &[],
    );
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send photos");
    let id = expect_offer(&mut alice, "folder photos", "3 files, 1.5 MiB");
    still_talking(&mut alice, &mut bob, "a moment");
    let named: Vec<String> = dir_entries(&downloads)
        .into_iter()
        .filter(|n| n != KEPT)
        .collect();
    assert!(named.is_empty(), "saved before it was accepted: {named:?}");
    alice.send_line(&format!("/accept {id}"));
    alice.expect_exact("[System] Accepted photos.");
    alice.expect_exact("[System] Folder saved to received_files/photos (3 files, 1.5 MiB)");
    bob.expect_exact("[System] Sent folder photos (3 files, 1.5 MiB)");
    let asked: Vec<String> = alice
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains(" offers "))
        .collect();
    assert_eq!(asked.len(), 1, "asked more than once: {asked:?}");
    // Nothing was said to be incoming before it was accepted.
    assert_never_said(&mut alice, "an incoming folder", |l| {
        l.starts_with("[System] Incoming")
    });
    assert_same_tree(&photos, &downloads.join("photos"), &[]);
    leave(alice, bob);
}

#[test]
fn accept_all_takes_every_offer_without_asking() {
    let dir = TestDir::new("transfers_accept_all");
    let big = pseudo_random_bytes(3 << 20, 13);
    fs::write(dir.subdir("bob").join("big.bin"), &big).unwrap();
    let folder = dir.subdir("bob").join("folder");
    make_folder(
        &folder,
        &[("inside.bin", pseudo_random_bytes(2 << 20, 14))],
        &[],
    );
    let (mut alice, mut bob) = pair(&dir, &["--accept-all"]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send big.bin folder");
    alice.expect_all_unordered(&[
        "[System] File saved to received_files/big.bin",
        "[System] Folder saved to received_files/folder (1 file, 2.0 MiB)",
    ]);
    bob.expect_all_unordered(&[
        "[System] Sent file big.bin (3.0 MiB)",
        "[System] Sent folder folder (1 file, 2.0 MiB)",
    ]);
    assert_never_said(&mut alice, "an offer", |l| l.contains(" offers "));
    assert!(fs::read(downloads.join("big.bin")).unwrap() == big);
    assert_same_tree(&folder, &downloads.join("folder"), &[]);
    leave(alice, bob);
}

// Free space.

/// An offer larger than the free space is declined at once: the receiver
/// is told how much it needs and how much is free where; the sender only
/// that there is not enough room, and nothing of the receiver's folder or
/// disk.
#[test]
fn an_offer_larger_than_the_free_space_is_declined_at_once() {
    let dir = TestDir::new("transfers_no_room");
    let huge = HugeFile::new(&dir, "huge.bin", 8 << 40);
    let downloads = dir.subdir("alice").join("my downloads");
    let at = downloads.to_str().unwrap();
    let (mut alice, mut bob) = pair(&dir, &["--download-dir", at]);

    bob.send_line(&format!("/send {}", huge.path.display()));
    bob.expect_exact("[System] huge.bin was not saved by the peer: not enough free space");
    let declined = alice.expect_prefix(
        "[System] Declined huge.bin (8.0 TiB): not enough free space: it needs 8.0 TiB and ",
    );
    assert!(
        declined.contains(&format!("and {at} has only ")) && declined.ends_with(" free."),
        "{declined}"
    );
    still_talking(&mut alice, &mut bob, "too big for you?");
    assert_nothing_saved(&mut alice, &downloads);
    assert_never_said(&mut alice, "the file was saved", |l| {
        l.starts_with("[System] File saved")
    });
    leave(alice, bob);
}

/// An 18 MiB folder and then a 15 MiB file, offered at once to a download
/// folder on a 20 MiB disk: the folder is taken, and the file is refused
/// at once on both sides, because the folder's bytes are promised though
/// not yet written. Nothing fills the disk; nothing is kept.
#[test]
fn a_second_offer_does_not_get_the_space_promised_to_the_first() {
    let dir = TestDir::new("transfers_promised");
    let downloads = dir.subdir("alice").join("received_files");
    let Some(disk) = SmallDisk::tmpfs(&downloads, 20) else {
        return;
    };
    let bob_dir = dir.subdir("bob");
    let album = bob_dir.join("album");
    fs::create_dir_all(&album).unwrap();
    for (name, seed) in [("a.bin", 1), ("b.bin", 2), ("c.bin", 3)] {
        fs::write(album.join(name), pseudo_random_bytes(6 << 20, seed)).unwrap();
    }
    fs::write(bob_dir.join("big.bin"), pseudo_random_bytes(15 << 20, 4)).unwrap();
    let wrapper = disk.wrapper();
    let (mut alice, port) =
        Chat::listen_through("alice", &dir.join("alice"), &wrapper, &["--name", "alice"]);
    let mut bob = Chat::connect_encrypted("bob", &bob_dir, "127.0.0.1", port, &["--name", "bob"]);
    for chat in [&mut alice, &mut bob] {
        chat.expect_prefix("[System] Encrypted. Safety code: ");
    }

    bob.send_line("/send album big.bin");
    // What is left once the folder's bytes, and a block for each of its
    // files, are promised.
    let why = "not enough free space: it needs 15.0 MiB and only 2.0 MiB is left in \
               received_files (20.0 MiB free, 18.0 MiB of it promised to transfers on their way)";
    alice.expect_exact("[System] Incoming folder album (3 files, 18.0 MiB)...");
    alice.expect_exact(&format!("[System] Declined big.bin (15.0 MiB): {why}."));
    // The peer learns nothing of the disk, nor where files go.
    bob.expect_exact("[System] big.bin was not saved by the peer: not enough free space");
    alice.expect_exact("[System] Folder saved to received_files/album (3 files, 18.0 MiB)");
    bob.expect_exact("[System] Sent folder album (3 files, 18.0 MiB)");

    // Alice's disk, seen through her chat's own view of the mounts.
    let hers = disk.seen_by(alice.pid());
    assert_eq!(dir_entries(&hers), ["album"], "nothing else, nothing kept");
    assert_same_tree(&album, &hers.join("album"), &[]);
    let disk = rustix::fs::statvfs(&hers).unwrap();
    let free = disk.f_bavail * disk.f_frsize;
    assert!(
        ((3 << 20) / 2..=2 << 20).contains(&free),
        "{free} bytes free after 18 MiB on a 20 MiB disk"
    );
    leave(alice, bob);
}

/// Offers that wait for the user are promised nothing until accepted; once
/// one is, accepting another that would not fit beside it is refused and
/// the offer waits on, until Alice declines it.
#[test]
fn accepting_an_offer_that_no_longer_fits_is_refused_and_it_waits_on() {
    let dir = TestDir::new("transfers_promised_accept");
    let downloads = dir.subdir("alice").join("received_files");
    let Some(disk) = SmallDisk::tmpfs(&downloads, 20) else {
        return;
    };
    let bob_dir = dir.subdir("bob");
    let album = bob_dir.join("album");
    fs::create_dir_all(&album).unwrap();
    fs::write(album.join("a.bin"), pseudo_random_bytes(18 << 20, 1)).unwrap();
    fs::write(bob_dir.join("big.bin"), pseudo_random_bytes(15 << 20, 2)).unwrap();
    let wrapper = disk.wrapper();
    let alice_args = ["--name", "alice", "--ask-above", "10M"];
    let (mut alice, port) =
        Chat::listen_through("alice", &dir.join("alice"), &wrapper, &alice_args);
    let mut bob = Chat::connect_encrypted("bob", &bob_dir, "127.0.0.1", port, &["--name", "bob"]);
    for chat in [&mut alice, &mut bob] {
        chat.expect_prefix("[System] Encrypted. Safety code: ");
    }

    bob.send_line("/send album big.bin");
    let folder = expect_offer(&mut alice, "folder album", "1 file, 18.0 MiB");
    let file = expect_offer(&mut alice, "big.bin", "15.0 MiB");
    // Both at once: the folder's bytes have not begun to arrive.
    alice.send_raw(format!("/accept {folder}\n/accept {file}\n").as_bytes());
    alice.expect_exact("[System] Accepted album.");
    let refused = alice.expect_prefix("[System] Cannot accept big.bin now: ");
    let why = "[System] Cannot accept big.bin now: not enough free space: it needs 15.0 MiB and \
               only ";
    let again = format!("Free some space and /accept {file} again, or /decline {file}.");
    assert!(
        refused.starts_with(why)
            && refused.contains(" is left in received_files (")
            && refused.ends_with(&again),
        "{refused}"
    );
    alice.expect_exact("[System] Folder saved to received_files/album (1 file, 18.0 MiB)");
    alice.send_line("/status");
    alice.expect_exact(&format!(
        "[System] #{file} Offered: big.bin (15.0 MiB): /accept {file} or /decline {file}"
    ));
    alice.send_line(&format!("/decline {file}"));
    bob.expect_all_unordered(&[
        "[System] big.bin was not saved by the peer: declined",
        "[System] Sent folder album (1 file, 18.0 MiB)",
    ]);
    still_talking(&mut alice, &mut bob, "all there?");
    let hers = disk.seen_by(alice.pid());
    assert_eq!(dir_entries(&hers), ["album"], "nothing else, nothing kept");
    leave(alice, bob);
}

// Cancelling.

#[test]
fn the_sender_cancels_a_file_on_its_way() {
    let dir = TestDir::new("transfers_cancel_sender");
    sparse_file(&dir.subdir("bob").join("big.bin"), 512 << 20);
    let (mut alice, mut bob) = pair(&dir, &[]);

    bob.send_line("/send big.bin");
    alice.expect_exact("[System] Incoming file big.bin (512.0 MiB)...");
    let id = transfer_id(&mut bob, "big.bin", State::Sending);
    bob.send_line(&format!("/cancel {id}"));
    bob.expect_exact("[System] Cancelled big.bin; the peer was told.");
    alice.expect_exact("[System] The peer stopped sending big.bin; nothing was saved.");
    still_talking(&mut alice, &mut bob, "never mind");
    assert_nothing_saved(&mut alice, &dir.join("alice/received_files"));
    bob.send_line("/status");
    bob.expect_exact(NO_TRANSFERS);
    assert_never_said(&mut bob, "the file was sent", |l| {
        l.starts_with("[System] Sent file")
    });
    leave(alice, bob);
}

#[test]
fn the_sender_cancels_an_offer_that_waits_for_an_answer() {
    let dir = TestDir::new("transfers_cancel_offer");
    fs::write(
        dir.subdir("bob").join("big.bin"),
        pseudo_random_bytes(2 << 20, 15),
    )
    .unwrap();
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);

    bob.send_line("/send big.bin");
    let offer = expect_offer(&mut alice, "big.bin", "2.0 MiB");
    let id = transfer_id(&mut bob, "big.bin", State::Offered);
    bob.send_line(&format!("/cancel {id}"));
    bob.expect_exact("[System] Cancelled big.bin; the peer was told.");
    // Alice is told; the offer was never accepted.
    alice.expect_exact("[System] The peer withdrew its offer of big.bin.");
    still_talking(&mut alice, &mut bob, "sorry, wrong file");
    // The offer is gone: nothing waits, nothing can be accepted.
    alice.send_line("/status");
    alice.expect_exact(NO_TRANSFERS);
    alice.send_line(&format!("/accept {offer}"));
    alice.expect_exact(&format!("[System] No offer #{offer} waits for an answer."));
    assert_nothing_saved(&mut alice, &dir.join("alice/received_files"));
    leave(alice, bob);
}

#[test]
fn the_receiver_cancels_a_file_on_its_way() {
    let dir = TestDir::new("transfers_cancel_receiver");
    sparse_file(&dir.subdir("bob").join("big.bin"), 512 << 20);
    let (mut alice, mut bob) = pair(&dir, &[]);

    bob.send_line("/send big.bin");
    alice.expect_exact("[System] Incoming file big.bin (512.0 MiB)...");
    let id = transfer_id(&mut alice, "big.bin", State::Receiving);
    alice.send_line(&format!("/cancel {id}"));
    alice.expect_exact("[System] Cancelled big.bin; what arrived of it is removed.");
    bob.expect_exact("[System] big.bin was not saved by the peer: cancelled by the receiver");
    still_talking(&mut alice, &mut bob, "ok, stopped");
    let told = alice
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains("big.bin") && l.contains("removed"))
        .count();
    if told != 1 {
        alice.fail("the cancel was not told exactly once");
    }
    assert_nothing_saved(&mut alice, &dir.join("alice/received_files"));
    alice.send_line("/status");
    alice.expect_exact(NO_TRANSFERS);
    assert_never_said(&mut alice, "the file was saved", |l| {
        l.starts_with("[System] File saved")
    });
    leave(alice, bob);
}

#[test]
fn a_queued_file_is_cancelled_before_it_starts() {
    let dir = TestDir::new("transfers_cancel_queued");
    let bob_dir = dir.subdir("bob");
    let names = ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin"];
    let bodies: Vec<Vec<u8>> = (0..names.len())
        .map(|i| pseudo_random_bytes(2 << 20, 20 + i as u64))
        .collect();
    for (name, body) in names.iter().zip(&bodies) {
        fs::write(bob_dir.join(name), body).unwrap();
    }
    // The first four are offered and wait for Alice; the fifth waits behind
    // them, not yet offered.
    let (mut alice, mut bob) = pair(&dir, &["--ask-above", "1M"]);
    let downloads = dir.join("alice/received_files");

    bob.send_line("/send a.bin b.bin c.bin d.bin e.bin");
    let offers: Vec<u64> = names[..4]
        .iter()
        .map(|name| expect_offer(&mut alice, name, "2.0 MiB"))
        .collect();
    let queued = transfer_id(&mut bob, "e.bin", State::Queued);
    bob.send_line(&format!("/cancel {queued}"));
    bob.expect_exact("[System] Cancelled e.bin (not started).");

    alice.send_line("/accept");
    let listed: Vec<String> = offers.iter().map(|id| format!("#{id}")).collect();
    alice.expect_exact(&format!(
        "[System] Several offers wait ({}): say which, as in /accept {}.",
        listed.join(", "),
        offers[0]
    ));
    for id in &offers {
        alice.send_line(&format!("/accept {id}"));
    }
    // A file accepted may be saved before the next is accepted.
    let said: Vec<String> = names[..4]
        .iter()
        .flat_map(|name| {
            [
                format!("[System] Accepted {name}."),
                format!("[System] File saved to received_files/{name}"),
            ]
        })
        .collect();
    alice.expect_all_unordered(&said.iter().map(String::as_str).collect::<Vec<_>>());
    let sent: Vec<String> = names[..4]
        .iter()
        .map(|name| format!("[System] Sent file {name} (2.0 MiB)"))
        .collect();
    bob.expect_all_unordered(&sent.iter().map(String::as_str).collect::<Vec<_>>());
    still_talking(&mut alice, &mut bob, "four of five");
    bob.send_line("/status");
    bob.expect_exact(NO_TRANSFERS);

    assert_eq!(dir_entries(&downloads), names[..4]);
    for (name, body) in names.iter().zip(&bodies).take(4) {
        assert!(
            fs::read(downloads.join(name)).unwrap() == *body,
            "{name} differs"
        );
    }
    assert_never_said(&mut alice, "a word of e.bin", |l| l.contains("e.bin"));
    leave(alice, bob);
}

#[test]
fn discard_with_nothing_kept_says_so() {
    let dir = TestDir::new("transfers_discard");
    let (mut alice, bob) = pair(&dir, &[]);
    alice.send_line("/discard");
    alice.expect_exact("[System] Nothing kept to discard.");
    leave(alice, bob);
}

/// Several files go at once, so a small one named after a large one is
/// through first; what `/send` says of them still comes in the order it
/// named them. (One that waits for the peer's word holds nothing back: see
/// `an_offer_over_the_limit_waits_for_accept_and_a_small_file_does_not`.)
#[test]
fn send_says_how_each_file_went_in_the_order_it_named_them() {
    let dir = TestDir::new("transfers_report_order");
    let bob_dir = dir.subdir("bob");
    fs::write(bob_dir.join("big.bin"), pseudo_random_bytes(32 << 20, 41)).unwrap();
    fs::write(bob_dir.join("small.txt"), b"hi\n").unwrap();
    fs::write(bob_dir.join("tiny.txt"), b"x").unwrap();
    let (mut alice, mut bob) = pair(&dir, &[]);
    bob.send_line("/send big.bin small.txt tiny.txt");
    // The receiver has the small ones first.
    alice.expect_exact("[System] File saved to received_files/small.txt");
    alice.expect_exact("[System] File saved to received_files/big.bin");
    let sent: Vec<String> = (0..3)
        .map(|_| bob.expect_prefix("[System] Sent file "))
        .collect();
    assert_eq!(
        sent,
        [
            "[System] Sent file big.bin (32.0 MiB)",
            "[System] Sent file small.txt (3 B)",
            "[System] Sent file tiny.txt (1 B)"
        ],
        "{}",
        bob.report()
    );
    leave(alice, bob);
}
