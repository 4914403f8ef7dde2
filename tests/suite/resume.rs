//! Resuming cut transfers on the encrypted wire: what arrived is kept,
//! hidden, and sending the same file again moves only what is missing
//! (for the sender alone: another's file of that name comes whole);
//! a changed file starts over; `/status` lists what is kept, `/discard`
//! removes it, and a week-old item goes when a conversation starts.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crate::common;
use crate::common::{Chat, TestDir, dir_entries, pseudo_random_bytes};

/// Time allowed for each expected event: a gibibyte takes a while in a
/// debug build.
const SLOW: Duration = Duration::from_secs(120);

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Pace of a relay that must let the test cut a transfer in the middle.
const THROTTLED: Option<u64> = Some(16_000_000);

const LOST: &str =
    "[System] Connection lost: the connection was cut without the peer saying goodbye";

/// A TCP relay between a connecting chat (the sender) and a listening one,
/// which counts the bytes it passes from the sender to the receiver and
/// may pace them. It ends by itself once both sides have closed.
struct CountingRelay {
    port: u16,
    forwarded: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl CountingRelay {
    fn start(target: u16, rate: Option<u64>) -> CountingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarded = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&forwarded);
        let handle = thread::spawn(move || {
            let sender = common::accept_within_timeout(&listener);
            let receiver = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let (back_from, back_to) = (receiver.try_clone().unwrap(), sender.try_clone().unwrap());
            let back = thread::spawn(move || copy(back_from, back_to, None, None));
            copy(sender, receiver, Some(&count), rate);
            let _ = back.join();
        });
        CountingRelay {
            port,
            forwarded,
            handle: Some(handle),
        }
    }

    /// The bytes passed from the sender to the receiver so far.
    fn so_far(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// The bytes passed from the sender to the receiver, once both sides
    /// have closed.
    fn finish(mut self) -> u64 {
        if let Some(handle) = self.handle.take() {
            handle.join().unwrap();
        }
        self.forwarded.load(Ordering::Relaxed)
    }
}

/// Copies `from` to `to` until either ends, counting into `count` and
/// pacing to `rate` bytes a second; then tells `to` nothing more comes.
fn copy(mut from: TcpStream, mut to: TcpStream, count: Option<&AtomicU64>, rate: Option<u64>) {
    let started = Instant::now();
    let mut passed = 0u64;
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(rate) = rate {
            // Pacing, not waiting for an event.
            let due = Duration::from_secs_f64((passed + n as u64) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                thread::sleep(wait);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        passed += n as u64;
        if let Some(count) = count {
            count.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `b` listening in `b_dir` and `a` connecting to it from `a_dir` through
/// a fresh counting relay; both have shown the safety code.
fn pair_through_relay(
    a_dir: &Path,
    b_dir: &Path,
    rate: Option<u64>,
) -> (Chat, Chat, CountingRelay) {
    let (mut b, port) = Chat::listen_encrypted("b", b_dir, &["--name", "b"]);
    let relay = CountingRelay::start(port, rate);
    let mut a = Chat::connect_encrypted("a", a_dir, "127.0.0.1", relay.port, &["--name", "a"]);
    for chat in [&mut a, &mut b] {
        chat.set_timeout(SLOW);
    }
    let codes =
        [&mut a, &mut b].map(|chat| chat.expect_prefix("[System] Encrypted. Safety code: "));
    assert_eq!(
        codes[0], codes[1],
        "a relay that only passes bytes on changes no code"
    );
    (a, b, relay)
}

/// `b` listening in `b_dir` and a chat `c` with nothing to send connected
/// to it directly.
fn plain_conversation(b_dir: &Path, c_dir: &Path) -> (Chat, Chat) {
    let (mut b, port) = Chat::listen_encrypted("b", b_dir, &["--name", "b"]);
    let mut c = Chat::connect_encrypted("c", c_dir, "127.0.0.1", port, &["--name", "c"]);
    for chat in [&mut b, &mut c] {
        chat.expect_prefix("[System] Encrypted. Safety code: ");
    }
    (b, c)
}

/// Ends a conversation from the connecting side; both leave cleanly.
fn leave(mut connecting: Chat, mut listening: Chat) {
    connecting.close_stdin();
    assert_eq!(connecting.wait_exit(), 0, "{}", connecting.report());
    assert_eq!(listening.wait_exit(), 0, "{}", listening.report());
    connecting.assert_no_panic();
    listening.assert_no_panic();
}

/// The hidden folder of cut transfers in `chat_dir`'s download folder.
fn kept_folder(chat_dir: &Path) -> PathBuf {
    chat_dir.join("received_files/.chat-partial")
}

/// The `.part` files kept in `chat_dir`'s download folder.
fn kept_parts(chat_dir: &Path) -> Vec<PathBuf> {
    let folder = kept_folder(chat_dir);
    dir_entries(&folder)
        .into_iter()
        .filter(|name| name.ends_with(".part"))
        .map(|name| folder.join(name))
        .collect()
}

/// Waits until `chat_dir` keeps at least `at_least` bytes of a file, by
/// watching the size of its `.part` grow.
fn wait_for_kept_bytes(chat_dir: &Path, at_least: u64) {
    let deadline = Instant::now() + SLOW;
    loop {
        let held = kept_parts(chat_dir)
            .iter()
            .filter_map(|part| fs::metadata(part).ok())
            .map(|meta| meta.len())
            .max();
        if held.is_some_and(|held| held >= at_least) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} kept only {held:?} bytes after {SLOW:?}, not {at_least}",
            chat_dir.display()
        );
        // Polling a file size: nothing tells when it grows.
        thread::sleep(Duration::from_millis(2));
    }
}

/// Checks that `chat_dir` keeps exactly one file, of `held` bytes, as a
/// `KEY.part` beside its `KEY.info`, and nothing under a final name.
fn assert_kept_hidden(chat_dir: &Path, held: u64) {
    assert_eq!(
        dir_entries(&chat_dir.join("received_files")),
        vec![".chat-partial".to_string()],
        "something besides the hidden folder is in the download folder"
    );
    let entries = dir_entries(&kept_folder(chat_dir));
    let keys: Vec<&str> = entries
        .iter()
        .map(|e| e.rsplit_once('.').unwrap().0)
        .collect();
    assert!(
        entries.len() == 2
            && entries[0].ends_with(".info")
            && entries[1].ends_with(".part")
            && keys[0] == keys[1],
        "expected KEY.info and KEY.part, found {entries:?}"
    );
    let part = fs::metadata(kept_folder(chat_dir).join(&entries[1])).unwrap();
    assert_eq!(
        part.len(),
        held,
        "the .part holds other than what was reported"
    );
}

/// Checks that nothing is kept any more in `chat_dir`'s download folder.
fn assert_nothing_kept(chat_dir: &Path) {
    let left = dir_entries(&kept_folder(chat_dir));
    assert!(left.is_empty(), "still kept: {left:?}");
}

/// Sizes as the chat shows them: `512 B`, `3.5 MiB`, `1.0 GiB`.
fn shown(n: u64) -> String {
    chat::session::progress::bytes(n)
}

/// Writes `size` bytes of pseudo-random content to `path` quickly: one
/// random mebibyte, repeated with the block's number in its first bytes
/// so that no two blocks are alike and a block out of place shows.
fn write_big_file(path: &Path, size: u64, seed: u64) {
    let mut block = pseudo_random_bytes(MIB as usize, seed);
    let mut out = BufWriter::with_capacity(MIB as usize, File::create(path).unwrap());
    let mut written = 0;
    for n in 0u64.. {
        if written == size {
            break;
        }
        block[..8].copy_from_slice(&n.to_le_bytes());
        let len = (size - written).min(MIB) as usize;
        out.write_all(&block[..len]).unwrap();
        written += len as u64;
    }
    out.flush().unwrap();
}

/// Whether two files hold the same bytes, read a mebibyte at a time.
fn same_contents(a: &Path, b: &Path) -> bool {
    let (mut a, mut b) = (File::open(a).unwrap(), File::open(b).unwrap());
    if a.metadata().unwrap().len() != b.metadata().unwrap().len() {
        return false;
    }
    let (mut left, mut right) = (vec![0; MIB as usize], vec![0; MIB as usize]);
    loop {
        let n = a.read(&mut left).unwrap();
        if n == 0 {
            return true;
        }
        b.read_exact(&mut right[..n]).unwrap();
        if left[..n] != right[..n] {
            return false;
        }
    }
}

/// What a cut left behind.
struct Cut {
    /// The bytes the receiver said it received and kept.
    kept: u64,
    /// The bytes the relay passed from the sender to the receiver.
    relayed: u64,
}

/// `a` (connecting from `a_dir`) sends `name`, of `size` bytes, to `b`
/// (listening in `b_dir`) through a relay paced to `rate`, and is killed
/// once `b` holds `at_least` bytes of it. `b` says what it kept and leaves,
/// the connection lost; the file is kept hidden, not under its name.
fn cut_by_killing_sender(
    a_dir: &Path,
    b_dir: &Path,
    name: &str,
    size: u64,
    at_least: u64,
    rate: Option<u64>,
) -> Cut {
    let (mut a, mut b, relay) = pair_through_relay(a_dir, b_dir, rate);
    a.send_line(&format!("/send {name}"));
    b.expect_exact(&format!(
        "[System] Incoming file {name} ({})...",
        shown(size)
    ));
    wait_for_kept_bytes(b_dir, at_least);
    a.signal("KILL");
    let line = b.expect_prefix(&format!("[System] Transfer of {name} incomplete: "));
    // The line says what is kept as people read sizes; the disk has it to
    // the byte.
    let kept = kept_parts(b_dir)
        .first()
        .map(|part| fs::metadata(part).unwrap().len())
        .unwrap_or_else(|| b.fail("nothing was kept"));
    let expected = format!(
        "[System] Transfer of {name} incomplete: received {} of {}; what arrived is kept, so \
         sending it again resumes.",
        shown(kept),
        shown(size)
    );
    if line != expected {
        b.fail(&format!("unexpected line {line:?}, not {expected:?}"));
    }
    b.expect_exact(LOST);
    assert_eq!(b.wait_exit(), 1, "{}", b.report());
    b.assert_no_panic();
    drop(a);
    let relayed = relay.finish();
    assert!(
        kept >= at_least && kept < size,
        "kept {kept} of {size}, waited for {at_least}"
    );
    assert!(!b_dir.join("received_files").join(name).exists());
    assert_kept_hidden(b_dir, kept);
    Cut { kept, relayed }
}

/// `/status` on `b` lists nothing kept: the next line after the transfers
/// is the answer to `/code`.
fn assert_status_lists_nothing_kept(b: &mut Chat) {
    b.send_line("/status");
    b.send_line("/code");
    b.expect_exact("[System] No transfers in progress or queued.");
    let next = b.next_line();
    if !next.starts_with("[System] Safety code: ") {
        b.fail(&format!(
            "expected the safety code after /status, got {next:?}"
        ));
    }
}

#[test]
fn a_gibibyte_cut_in_the_middle_resumes_where_it_stopped() {
    let dir = TestDir::new("resume_gib");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let source = a_dir.join("big.bin");
    let started = Instant::now();
    write_big_file(&source, GIB, 1);
    eprintln!("wrote 1 GiB in {:?}", started.elapsed());

    let started = Instant::now();
    let cut = cut_by_killing_sender(&a_dir, &b_dir, "big.bin", GIB, GIB / 2, None);
    eprintln!(
        "first try: {} bytes relayed, {} kept, in {:?}",
        cut.relayed,
        cut.kept,
        started.elapsed()
    );

    let started = Instant::now();
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send big.bin");
    let (held, whole) = (shown(cut.kept), shown(GIB));
    b.expect_exact(&format!(
        "[System] Resuming big.bin: {held} of {whole} kept from before."
    ));
    a.expect_exact(&format!(
        "[System] Resuming big.bin: the peer has {held} of {whole} already."
    ));
    b.expect_saved("received_files/big.bin");
    a.expect_exact(&format!("[System] Sent file big.bin ({})", shown(GIB)));
    leave(a, b);
    let relayed = relay.finish();
    eprintln!(
        "second try: {relayed} bytes relayed ({:.1}% of 1 GiB), in {:?}",
        relayed as f64 * 100.0 / GIB as f64,
        started.elapsed()
    );
    assert!(
        relayed < GIB * 6 / 10,
        "{relayed} bytes crossed the second time"
    );
    assert!(
        relayed >= GIB - cut.kept,
        "only {relayed} bytes crossed, but {} were missing",
        GIB - cut.kept
    );

    let started = Instant::now();
    assert!(
        same_contents(&source, &b_dir.join("received_files/big.bin")),
        "the saved file differs from the one sent"
    );
    eprintln!("compared in {:?}", started.elapsed());
    assert_eq!(
        dir_entries(&b_dir.join("received_files")),
        vec!["big.bin".to_string()]
    );
    assert_nothing_kept(&b_dir);
}

#[test]
fn a_file_changed_since_the_cut_starts_over() {
    let dir = TestDir::new("resume_changed");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 64 * MIB;
    let source = a_dir.join("data.bin");
    write_big_file(&source, size, 2);
    let cut = cut_by_killing_sender(&a_dir, &b_dir, "data.bin", size, 8 * MIB, THROTTLED);
    eprintln!("cut after {} bytes relayed, {} kept", cut.relayed, cut.kept);

    // Same name, same size, other bytes at the start.
    let mut file = fs::OpenOptions::new().write(true).open(&source).unwrap();
    file.write_all(&pseudo_random_bytes(64 * 1024, 99)).unwrap();
    drop(file);
    assert_eq!(fs::metadata(&source).unwrap().len(), size);

    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send data.bin");
    b.expect_saved("received_files/data.bin");
    a.expect_exact(&format!("[System] Sent file data.bin ({})", shown(size)));
    for chat in [&mut a, &mut b] {
        if chat.stdout_lines().iter().any(|l| l.contains("Resuming")) {
            chat.fail("resumed from bytes that no longer match the file");
        }
    }
    leave(a, b);
    let relayed = relay.finish();
    eprintln!("sent again: {relayed} bytes relayed");
    assert!(
        relayed >= size,
        "only {relayed} bytes crossed: not the whole file"
    );
    assert!(
        same_contents(&source, &b_dir.join("received_files/data.bin")),
        "the saved file is not the new content"
    );
    assert_nothing_kept(&b_dir);
}

#[test]
fn status_lists_what_is_kept_and_discard_removes_it() {
    let dir = TestDir::new("resume_status");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 32 * MIB;
    write_big_file(&a_dir.join("notes.bin"), size, 3);
    let cut = cut_by_killing_sender(&a_dir, &b_dir, "notes.bin", size, 4 * MIB, THROTTLED);

    let (mut b, c) = plain_conversation(&b_dir, &dir.subdir("c"));
    b.send_line("/status");
    b.expect_exact("[System] No transfers in progress or queued.");
    b.next_line_is(&format!(
        "[System] Kept: notes.bin ({} of {}), for 7 more days; sending it again resumes, \
         /discard removes it",
        shown(cut.kept),
        shown(size)
    ));
    // What it frees is what it takes on the disk, its note included.
    let hidden = kept_folder(&b_dir);
    let on_disk = common::disk_usage(&hidden) - common::disk_usage_of(&hidden);
    assert!(
        on_disk >= cut.kept,
        "{on_disk} bytes on disk for {}",
        cut.kept
    );
    b.send_line("/discard");
    b.expect_exact(&format!(
        "[System] Discarded 1 kept transfer ({}).",
        shown(on_disk)
    ));
    assert!(
        kept_parts(&b_dir).is_empty(),
        "a .part is left: {:?}",
        dir_entries(&kept_folder(&b_dir))
    );
    assert_nothing_kept(&b_dir);
    assert_status_lists_nothing_kept(&mut b);
    leave(c, b);
}

#[test]
fn what_was_kept_for_over_a_week_goes_when_a_conversation_starts() {
    let dir = TestDir::new("resume_expiry");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 32 * MIB;
    write_big_file(&a_dir.join("old.bin"), size, 4);
    cut_by_killing_sender(&a_dir, &b_dir, "old.bin", size, 4 * MIB, THROTTLED);

    let info = dir_entries(&kept_folder(&b_dir))
        .into_iter()
        .find(|name| name.ends_with(".info"))
        .unwrap();
    let eight_days_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
    File::options()
        .write(true)
        .open(kept_folder(&b_dir).join(info))
        .unwrap()
        .set_modified(eight_days_ago)
        .unwrap();

    let (mut b, mut c) = plain_conversation(&b_dir, &dir.subdir("c"));
    c.send_line("a week later");
    b.expect_exact("[c] a week later");
    assert_nothing_kept(&b_dir);
    assert_status_lists_nothing_kept(&mut b);
    leave(c, b);
}

#[test]
fn a_receiver_killed_mid_file_keeps_what_arrived_and_resumes() {
    let dir = TestDir::new("resume_receiver_killed");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 64 * MIB;
    let source = a_dir.join("clip.bin");
    write_big_file(&source, size, 5);

    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, THROTTLED);
    a.send_line("/send clip.bin");
    b.expect_exact(&format!(
        "[System] Incoming file clip.bin ({})...",
        shown(size)
    ));
    wait_for_kept_bytes(&b_dir, 8 * MIB);
    b.signal("KILL");
    a.expect_prefix("[System] clip.bin was not delivered");
    assert_eq!(a.wait_exit(), 1, "{}", a.report());
    a.assert_no_panic();
    drop(b);
    let first = relay.finish();
    let held = fs::metadata(&kept_parts(&b_dir)[0]).unwrap().len();
    eprintln!("receiver killed after {first} bytes relayed, {held} kept");
    assert!(held >= 8 * MIB && held < size, "kept {held} of {size}");
    assert_kept_hidden(&b_dir, held);

    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send clip.bin");
    let (kept, whole) = (shown(held), shown(size));
    b.expect_exact(&format!(
        "[System] Resuming clip.bin: {kept} of {whole} kept from before."
    ));
    a.expect_exact(&format!(
        "[System] Resuming clip.bin: the peer has {kept} of {whole} already."
    ));
    b.expect_saved("received_files/clip.bin");
    a.expect_exact(&format!("[System] Sent file clip.bin ({})", shown(size)));
    leave(a, b);
    let relayed = relay.finish();
    eprintln!("sent again: {relayed} bytes relayed");
    assert!(
        relayed < size - held + MIB,
        "{relayed} bytes crossed, {} were missing",
        size - held
    );
    assert!(
        same_contents(&source, &b_dir.join("received_files/clip.bin")),
        "the saved file differs from the one sent"
    );
    assert_nothing_kept(&b_dir);
}

/// The size of the file at `path` once some of it arrived anywhere below
/// `dir` (a folder's files are kept inside its hidden folder).
fn wait_for_bytes_below(dir: &Path, name: &str, at_least: u64) {
    fn held(dir: &Path, name: &str) -> u64 {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|entry| {
                let path = entry.path();
                if path.is_dir() {
                    held(&path, name)
                } else if entry.file_name() == name {
                    entry.metadata().map_or(0, |m| m.len())
                } else {
                    0
                }
            })
            .max()
            .unwrap_or(0)
    }
    let deadline = Instant::now() + SLOW;
    while held(dir, name) < at_least {
        assert!(
            Instant::now() < deadline,
            "{name} never reached {at_least} bytes below {}",
            dir.display()
        );
        // Polling a file size: nothing tells when it grows.
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_folder_cut_in_the_middle_resumes_file_by_file() {
    let dir = TestDir::new("resume_folder");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let album = a_dir.join("album");
    fs::create_dir_all(album.join("empty")).unwrap();
    for (name, seed) in [("one.txt", 11), ("two.txt", 12)] {
        fs::write(album.join(name), pseudo_random_bytes(4096, seed)).unwrap();
    }
    let size = 64 * MIB;
    write_big_file(&album.join("take.bin"), size, 13);
    let total = size + 2 * 4096;

    // Cut in the middle of the large file.
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, THROTTLED);
    a.send_line("/send album");
    b.expect_exact(&format!(
        "[System] Incoming folder album (3 files, {})...",
        shown(total)
    ));
    wait_for_bytes_below(&kept_folder(&b_dir), "take.bin", size / 2);
    a.signal("KILL");
    b.expect_prefix("[System] Folder album incomplete: received ");
    b.expect_exact(LOST);
    assert_eq!(b.wait_exit(), 1, "{}", b.report());
    drop(a);
    let first = relay.finish();
    assert!(!b_dir.join("received_files/album").exists());

    // Sent again: what arrived does not travel again.
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send album");
    b.expect_exact(&format!(
        "[System] Folder saved to received_files/album (3 files, {})",
        shown(total)
    ));
    a.expect_exact(&format!(
        "[System] Sent folder album (3 files, {})",
        shown(total)
    ));
    leave(a, b);
    let second = relay.finish();
    eprintln!("first try relayed {first} bytes, the second {second} of {total}");
    assert!(
        second < total - size / 2 + MIB,
        "the second try relayed {second} bytes of {total}, though half of the large file was kept"
    );
    let saved = b_dir.join("received_files/album");
    for name in ["one.txt", "two.txt", "take.bin"] {
        assert!(
            same_contents(&album.join(name), &saved.join(name)),
            "{name}"
        );
    }
    assert!(saved.join("empty").is_dir());
    assert_nothing_kept(&b_dir);
}

/// Every file in `chat_dir`'s hidden folder of cut transfers, with its
/// bytes and when it was last written.
fn kept_as_it_is(chat_dir: &Path) -> Vec<(String, Vec<u8>, SystemTime)> {
    let folder = kept_folder(chat_dir);
    dir_entries(&folder)
        .into_iter()
        .map(|name| {
            let path = folder.join(&name);
            let written = fs::metadata(&path).unwrap().modified().unwrap();
            (name, fs::read(&path).unwrap(), written)
        })
        .collect()
}

/// What is kept of a cut transfer resumes for its sender alone: a chat
/// with another identity sending a file of the same name and size is not
/// resumed from it (its file comes whole, and is saved), and what is kept
/// stays as it was, byte for byte; the sender, back, resumes from it.
#[test]
fn what_is_kept_resumes_for_its_sender_alone() {
    let dir = TestDir::new("resume_owner");
    let (a_dir, b_dir, c_dir) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
    let size = 32 * MIB;
    let (source, others) = (a_dir.join("data.bin"), c_dir.join("data.bin"));
    write_big_file(&source, size, 51);
    write_big_file(&others, size, 52);
    let cut = cut_by_killing_sender(&a_dir, &b_dir, "data.bin", size, 4 * MIB, THROTTLED);
    let kept = kept_as_it_is(&b_dir);

    // Somebody else (a chat in another folder: another identity).
    let (mut c, mut b, relay) = pair_through_relay(&c_dir, &b_dir, None);
    c.send_line("/send data.bin");
    b.expect_exact(&format!(
        "[System] Incoming file data.bin ({})...",
        shown(size)
    ));
    b.expect_saved("received_files/data.bin");
    c.expect_exact(&format!("[System] Sent file data.bin ({})", shown(size)));
    for chat in [&mut c, &mut b] {
        if chat.stdout_lines().iter().any(|l| l.contains("Resuming")) {
            chat.fail("resumed from what was kept of another's transfer");
        }
    }
    leave(c, b);
    let relayed = relay.finish();
    assert!(relayed >= size, "only {relayed} bytes crossed");
    assert!(same_contents(
        &others,
        &b_dir.join("received_files/data.bin")
    ));
    assert!(
        kept_as_it_is(&b_dir) == kept,
        "what was kept of a's transfer changed"
    );

    // The sender again: only what is missing travels.
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send data.bin");
    let (held, whole) = (shown(cut.kept), shown(size));
    b.expect_exact(&format!(
        "[System] Resuming data.bin: {held} of {whole} kept from before."
    ));
    a.expect_exact(&format!(
        "[System] Resuming data.bin: the peer has {held} of {whole} already."
    ));
    b.expect_saved("received_files/data (1).bin");
    a.expect_exact(&format!("[System] Sent file data.bin ({whole})"));
    leave(a, b);
    let relayed = relay.finish();
    assert!(
        relayed < size - cut.kept + MIB,
        "{relayed} bytes crossed, {} were missing",
        size - cut.kept
    );
    assert!(same_contents(
        &source,
        &b_dir.join("received_files/data (1).bin")
    ));
    assert!(same_contents(
        &others,
        &b_dir.join("received_files/data.bin")
    ));
    assert_nothing_kept(&b_dir);
}

/// Sending a file the receiver has already (same name, size and hash)
/// moves none of its bytes and makes no copy: both sides say so.
#[test]
fn a_file_the_peer_has_already_is_not_sent_again() {
    let dir = TestDir::new("resume_identical");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 16 * MIB;
    let source = a_dir.join("big.bin");
    write_big_file(&source, size, 21);
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send big.bin");
    b.expect_saved("received_files/big.bin");
    a.expect_exact(&format!("[System] Sent file big.bin ({})", shown(size)));
    let saved = b_dir.join("received_files/big.bin");
    let first = fs::metadata(&saved).unwrap();
    let before = relay.so_far();

    a.send_line("/send big.bin");
    // Nothing is said to be incoming: it is checked first.
    b.expect_exact(&format!(
        "[System] Checking big.bin ({}) against the file of that name here...",
        shown(size)
    ));
    b.expect_exact("[System] big.bin: already there, identical");
    a.expect_exact("[System] big.bin: the peer already has it (identical); nothing sent");
    let incoming = b
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("[System] Incoming file big.bin"))
        .count();
    assert_eq!(incoming, 1, "only the first time: {}", b.report());
    let again = relay.so_far() - before;
    leave(a, b);
    relay.finish();
    assert!(again < 64 * 1024, "{again} bytes crossed the second time");
    assert_eq!(
        dir_entries(&b_dir.join("received_files")),
        vec!["big.bin".to_string()]
    );
    let now = fs::metadata(&saved).unwrap();
    assert!(
        now.modified().unwrap() == first.modified().unwrap(),
        "the file there was written again"
    );
    assert!(same_contents(&source, &saved));
}

/// A file of the same name and size but other bytes comes whole and is
/// saved beside the one there, which stays as it was.
#[test]
fn a_file_of_the_same_name_and_size_but_other_bytes_is_saved_beside_it() {
    let dir = TestDir::new("resume_same_size");
    let (a_dir, b_dir) = (dir.subdir("a"), dir.subdir("b"));
    let size = 8 * MIB;
    let source = a_dir.join("big.bin");
    write_big_file(&source, size, 22);
    let theirs = b_dir.join("received_files/big.bin");
    fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    write_big_file(&theirs, size, 23);
    let (mut a, mut b, relay) = pair_through_relay(&a_dir, &b_dir, None);
    a.send_line("/send big.bin");
    b.expect_exact(&format!(
        "[System] Checking big.bin ({}) against the file of that name here...",
        shown(size)
    ));
    b.expect_exact(&format!(
        "[System] Incoming file big.bin ({}): it differs from the file of that name here...",
        shown(size)
    ));
    b.expect_saved("received_files/big (1).bin");
    a.expect_exact(&format!("[System] Sent file big.bin ({})", shown(size)));
    leave(a, b);
    let relayed = relay.finish();
    assert!(relayed >= size, "only {relayed} bytes crossed");
    assert!(same_contents(
        &source,
        &b_dir.join("received_files/big (1).bin")
    ));
    let kept_as_it_was = b_dir.join("theirs.bin");
    write_big_file(&kept_as_it_was, size, 23);
    assert!(
        same_contents(&kept_as_it_was, &theirs),
        "the file there changed"
    );
    assert_nothing_kept(&b_dir);
}

/// In a room, a file the receiver has already comes whole all the same
/// when another member needs all of it: it is compared at its end, kept
/// once, and said to be there already, and whom it is from.
#[test]
fn in_a_room_a_file_that_came_whole_but_is_here_already_is_not_saved_twice() {
    let dir = TestDir::new("resume_room_identical");
    let notes = b"twelve bytes";
    let (alice_dir, bob_dir, carol_dir) =
        (dir.subdir("alice"), dir.subdir("bob"), dir.subdir("carol"));
    fs::create_dir_all(bob_dir.join("received_files")).unwrap();
    fs::write(bob_dir.join("received_files/notes.txt"), notes).unwrap();
    fs::write(carol_dir.join("notes.txt"), notes).unwrap();
    let (mut alice, port) =
        Chat::listen_encrypted("alice", &alice_dir, &["--room", "--name", "alice"]);
    let mut members = Vec::new();
    for name in ["bob", "carol"] {
        let cwd = dir.subdir(name);
        let mut member = Chat::connect_encrypted(name, &cwd, "127.0.0.1", port, &["--name", name]);
        member.expect_prefix("[System] You are in alice's room");
        alice.expect_prefix(&format!("[System] {name} joined the room (127.0.0.1:"));
        members.push(member);
    }
    let [mut bob, mut carol] = <[Chat; 2]>::try_from(members).ok().unwrap();
    bob.expect_exact("[System] carol joined the room.");
    carol.send_line("/send notes.txt");
    alice.expect_saved("received_files/notes.txt");
    bob.expect_exact(
        "[System] Incoming file notes.txt (12 B) from carol: it comes whole, and is compared \
         with the file of that name here at its end...",
    );
    bob.expect_exact(
        "[System] notes.txt from carol: already there, identical (it came whole: others in \
         the room needed it)",
    );
    carol.expect_all_unordered(&[
        "[System] Room: alice saved notes.txt",
        "[System] Room: bob saved notes.txt",
    ]);
    assert_eq!(
        dir_entries(&bob_dir.join("received_files")),
        vec!["notes.txt".to_string()]
    );
    assert!(fs::read(bob_dir.join("received_files/notes.txt")).unwrap() == notes);
}
