//! Folders, offers, resume and cancel on the encrypted wire, attacked: a
//! peer with the keys of a real handshake sends Folder, Entry, Subfolder,
//! Begin and Cancel messages out of turn or with hostile content, and the
//! user types /accept, /decline, /cancel and /discard at odd moments.
//!
//! Each test names the defence it proves.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::common;
use crate::common::hostile::{HostilePeer, chunk, end_of, entry, folder, hash};
use crate::common::{Chat, TestDir, dir_entries, saved_entries};
use chat::wire::message::{FileId, Message};

const KEPT: &str = ".chat-partial";

/// A chat named alice listening in `cwd` with `extra` options, and a peer
/// named mallory connected to it.
fn alice_and_mallory(cwd: &Path, extra: &[&str]) -> (Chat, HostilePeer) {
    let mut args = vec!["--name", "alice"];
    args.extend_from_slice(extra);
    let (mut chat, port) = Chat::listen_encrypted("alice", cwd, &args);
    let peer = HostilePeer::mallory_meets_alice(&mut chat, port);
    (chat, peer)
}

/// Everything sent before has been dealt with by the chat.
fn sync(chat: &mut Chat, peer: &mut HostilePeer, tag: &str) {
    peer.sync(chat, tag);
}

fn accept_new(id: FileId) -> Message<'static> {
    Message::Accept {
        id,
        offset: 0,
        prefix: hash(b""),
    }
}

/// How a chat accepts a folder it holds nothing of: streamed.
fn accept_folder(id: FileId) -> Message<'static> {
    Message::Accept {
        id,
        offset: chat::wire::message::FOLDER_STREAMED,
        prefix: [0; 32],
    }
}

/// How a chat accepts a folder it holds part of already.
fn accept_kept_folder(id: FileId) -> Message<'static> {
    Message::Accept {
        id,
        offset: 0,
        prefix: [0; 32],
    }
}

fn end_folder(id: FileId) -> Message<'static> {
    Message::End { id, hash: [0; 32] }
}

/// Reads the transfer id from `[System] mallory offers NAME (SIZE): /accept N or /decline N`.
fn offered_id(chat: &mut Chat, name: &str) -> u64 {
    let line = chat.expect_prefix(&format!("[System] mallory offers {name} ("));
    line.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| chat.fail(&format!("no id in {line:?}")))
}

/// Every path below `dir`, relative to it, sorted; links are not followed.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Ends the conversation with a goodbye and waits for the chat to exit.
fn goodbye(chat: &mut Chat, peer: &mut HostilePeer) -> i32 {
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    let code = chat.wait_exit();
    chat.assert_no_panic();
    code
}

fn assert_breach(chat: &mut Chat, peer: &HostilePeer, why: &str) {
    chat.expect_exact(&format!(
        "[System] Connection ended: the peer broke the protocol: {why}."
    ));
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, why);
    peer.expect_dropped_after_answers(chat);
}

// ---------------------------------------------------------------------------
// Kept parts, folders and the user's decisions
// ---------------------------------------------------------------------------

/// A folder resumed from what was kept of an earlier try takes its final
/// name with only what this transfer sent: a half-written file or a
/// subfolder of the earlier try that was not sent again is not in it.
#[test]
fn a_resumed_folder_holds_only_what_was_sent_again() {
    let dir = TestDir::new("htr_stale_folder");
    {
        let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
        peer.send(&[folder(0, 1, 10, "pics")]);
        peer.expect_message(&mut chat, accept_folder(0));
        peer.send(&[
            entry(1, 0, 10, "evil.txt"),
            Message::Subfolder {
                folder: 0,
                path: "stale",
            },
        ]);
        peer.expect_message(&mut chat, accept_new(1));
        peer.send(&[chunk(1, b"EVIL!")]);
        sync(&mut chat, &mut peer, "first try");
        peer.close();
        chat.expect_prefix("[System] Folder pics incomplete");
        let _ = chat.wait_exit();
        chat.assert_no_panic();
    }
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 1, 10, "pics")]);
    // Holding part of it, the chat wants each file's answer awaited.
    peer.expect_message(&mut chat, accept_kept_folder(0));
    peer.send(&[entry(1, 0, 10, "good.txt")]);
    peer.expect_message(&mut chat, accept_new(1));
    peer.send(&[chunk(1, b"0123456789"), end_of(1, b"0123456789")]);
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    peer.send(&[end_folder(0)]);
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    chat.expect_prefix("[System] Folder saved to received_files/pics (1 file, 10 B");
    let saved = tree(&dir.join("received_files/pics"));
    goodbye(&mut chat, &mut peer);
    assert_eq!(
        saved,
        ["good.txt"],
        "the saved folder holds what this transfer never sent"
    );
}

/// A folder is asked about, and checked for room, by the size it
/// announces; its files may not go past what it announced, so a folder
/// announced as empty cannot bring large files in without a question.
#[test]
fn files_past_what_a_folder_announced_end_the_conversation() {
    let dir = TestDir::new("htr_ask_bypass");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "1K"]);
    // A lone file of the same size does wait for the user.
    peer.send(&[Message::Offer {
        id: 7,
        size: 200_000,
        name: "lone.bin",
    }]);
    offered_id(&mut chat, "lone.bin");
    peer.send(&[folder(0, 0, 0, "tiny")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, 200_000, "big.bin")]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer sent more of folder tiny than the 0 files and 0 B it announced",
    );
    assert!(saved_entries(&dir.join("received_files")).is_empty());
    assert!(
        !chat
            .stdout_lines()
            .iter()
            .any(|l| l.contains("Folder saved"))
    );
}

/// The free-space check covers a folder's files: an 8 TiB file inside a
/// folder announced as 0 bytes ends the conversation, and a folder that
/// announces 8 TiB is declined at once, as the same file on its own is.
#[test]
fn a_file_inside_a_folder_cannot_pass_the_free_space_check() {
    let dir = TestDir::new("htr_free_space_bypass");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    let huge = 8u64 << 40;
    peer.send(&[Message::Offer {
        id: 9,
        size: huge,
        name: "lone.bin",
    }]);
    let lone = peer.next_record(&mut chat);
    assert!(
        matches!(Message::decode(&lone), Ok(Message::Refused { id: 9, .. })),
        "the lone file is declined for lack of room: {:?}",
        Message::decode(&lone)
    );
    peer.send(&[Message::Cancel { id: 9 }, folder(3, 1, huge, "announced")]);
    let announced = peer.next_record(&mut chat);
    assert!(
        matches!(
            Message::decode(&announced),
            Ok(Message::Refused { id: 3, .. })
        ),
        "a folder announcing 8 TiB is declined for lack of room: {:?}",
        Message::decode(&announced)
    );
    peer.send(&[Message::Cancel { id: 3 }, folder(0, 1, 0, "tiny")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, huge, "huge.bin")]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer sent more of folder tiny than the 1 files and 0 B it announced",
    );
}

/// A first try at sending `big.bin` (`data`, 100 bytes) to a chat in
/// `dir`, cut after 60 bytes: what arrived is kept there.
fn keep_the_first_60_bytes(dir: &Path, data: &[u8]) {
    let (mut chat, mut peer) = alice_and_mallory(dir, &[]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 100,
        name: "big.bin",
    }]);
    peer.expect_message(&mut chat, accept_new(0));
    peer.send(&[chunk(0, &data[..60])]);
    sync(&mut chat, &mut peer, "cut here");
    peer.close();
    chat.expect_prefix("[System] Transfer of big.bin incomplete");
    let _ = chat.wait_exit();
}

/// Declining an offer keeps what was kept of it from a cut transfer, also
/// once the Cancel every sender sends after a refusal (PROTOCOL.md 3.5.7)
/// comes, and the user is not told that the peer withdrew an offer the
/// user declined.
#[test]
fn declining_an_offer_keeps_what_was_kept_of_it_for_another_try() {
    let dir = TestDir::new("htr_decline_kept");
    let data = common::pseudo_random_bytes(100, 3);
    keep_the_first_60_bytes(dir.path(), &data);
    let withdrew = {
        let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
        peer.send(&[Message::Offer {
            id: 0,
            size: 100,
            name: "big.bin",
        }]);
        let id = offered_id(&mut chat, "big.bin");
        chat.send_line(&format!("/decline {id}"));
        chat.expect_exact("[System] Declined big.bin; the peer was told.");
        peer.expect_message(
            &mut chat,
            Message::Refused {
                id: 0,
                reason: "declined",
            },
        );
        // What chat itself sends on a refusal.
        peer.send(&[Message::Cancel { id: 0 }]);
        sync(&mut chat, &mut peer, "ok then");
        goodbye(&mut chat, &mut peer);
        chat.stdout_lines()
            .iter()
            .any(|l| l == "[System] The peer withdrew its offer of big.bin.")
    };
    // Offered again: what was kept should make it resume at 60.
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 100,
        name: "big.bin",
    }]);
    let answer = peer.next_record(&mut chat);
    let answer = Message::decode(&answer);
    let resumed = answer
        == Ok(Message::Accept {
            id: 0,
            offset: 60,
            prefix: hash(&data[..60]),
        });
    assert!(
        resumed && !withdrew,
        "after /decline: offered again, answered {answer:?} (60 B were kept); \
         told the peer withdrew: {withdrew}"
    );
}

/// Leaving with a transfer cut, the chat says how much is kept hidden and
/// names the command that frees it without a peer; `chat discard` then
/// removes it and says how much that freed.
#[test]
fn leaving_says_what_is_kept_and_chat_discard_frees_it() {
    let dir = TestDir::new("htr_leaving_kept");
    let data = common::pseudo_random_bytes(4096, 4);
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--download-dir", "my files"]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 1 << 20,
        name: "half.bin",
    }]);
    peer.expect_message(&mut chat, accept_new(0));
    peer.send(&[chunk(0, &data)]);
    sync(&mut chat, &mut peer, "cut here");
    peer.close();
    chat.expect_prefix("[System] Transfer of half.bin incomplete");
    let said = chat.expect_line("what is kept", |l| l.contains(" of cut transfers is kept "));
    chat.next_line_is("[System] Exiting.");
    let _ = chat.wait_exit();
    assert_eq!(dir_entries(&dir.join("my files")), [KEPT]);
    // What it takes on the disk: the part, and the note beside it.
    let hidden = dir.join("my files").join(KEPT);
    let on_disk = common::disk_usage(&hidden) - common::disk_usage_of(&hidden);
    assert!(on_disk >= 4096, "{on_disk}");
    assert_eq!(
        said,
        format!(
            "[System] {} of cut transfers is kept in my files/.chat-partial, so that sending \
             them again resumes; `chat discard --download-dir 'my files'` frees it.",
            common::size(on_disk)
        )
    );

    for said in [
        format!(
            "Discarded 1 kept transfer ({}) from my files/.chat-partial.",
            common::size(on_disk)
        ),
        "Nothing kept to discard in my files/.chat-partial.".to_string(),
    ] {
        let args = ["discard", "--download-dir", "my files"];
        let mut discard = Chat::spawn("discard", dir.path(), &args);
        assert_eq!(discard.wait_exit(), 0, "{}", discard.report());
        assert_eq!(discard.stdout_lines(), [said]);
        assert_eq!(dir_entries(&dir.join("my files")), Vec::<String>::new());
    }
}

/// An offer that waits for the user says in advance what accepting it
/// would move: only the rest of a kept part, or nothing at all when a file
/// of its name and size is here already and turns out to be the same. The
/// answer carries what is here (its length and hash); the file here stays
/// untouched.
#[test]
fn an_offer_waiting_for_the_user_says_what_is_here_already() {
    let dir = TestDir::new("htr_prompt_here");
    let data = common::pseudo_random_bytes(100, 5);
    keep_the_first_60_bytes(dir.path(), &data);
    let here = dir.join("received_files/here.bin");
    fs::write(&here, &data[..50]).unwrap();
    let before = fs::metadata(&here).unwrap().modified().unwrap();
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 100,
        name: "big.bin",
    }]);
    chat.expect_exact(
        "[System] mallory offers big.bin (100 B, would resume: 60 B of 100 B kept): /accept 1 \
         or /decline 1",
    );
    peer.send(&[Message::Offer {
        id: 1,
        size: 50,
        name: "here.bin",
    }]);
    chat.expect_exact(
        "[System] mallory offers here.bin (50 B, a file of this name and size is there already: \
         if identical, nothing travels): /accept 2 or /decline 2",
    );
    chat.send_line("/accept 2");
    chat.expect_exact("[System] Accepted here.bin.");
    peer.expect_message(
        &mut chat,
        Message::Accept {
            id: 1,
            offset: 50,
            prefix: hash(&data[..50]),
        },
    );
    peer.send(&[Message::Begin { id: 1, offset: 50 }, end_of(1, &data[..50])]);
    chat.expect_exact("[System] here.bin: already there, identical");
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    chat.send_line("/accept 1");
    peer.expect_message(
        &mut chat,
        Message::Accept {
            id: 0,
            offset: 60,
            prefix: hash(&data[..60]),
        },
    );
    peer.send(&[
        Message::Begin { id: 0, offset: 60 },
        chunk(0, &data[60..]),
        end_of(0, &data),
    ]);
    chat.expect_saved("received_files/big.bin");
    assert_eq!(goodbye(&mut chat, &mut peer), 0);
    assert_eq!(
        saved_entries(&dir.join("received_files")),
        ["big.bin", "here.bin"]
    );
    assert_eq!(fs::read(&here).unwrap(), &data[..50]);
    assert_eq!(fs::metadata(&here).unwrap().modified().unwrap(), before);
}

/// A file here of the offered name and size is read whole to hash it,
/// which takes a while when it is large: meanwhile the conversation goes
/// on, a withdrawn offer stops the reading, and leaving does not wait for
/// it. (The file is 64 GiB, sparse: it takes no room but is long to read.)
#[test]
fn hashing_a_large_file_here_does_not_hold_the_conversation_up() {
    let dir = TestDir::new("htr_hash_aside");
    let size: u64 = 64 << 30;
    let here = dir.subdir("received_files").join("huge.bin");
    fs::File::create(&here).unwrap().set_len(size).unwrap();
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[
        Message::Offer {
            id: 0,
            size,
            name: "huge.bin",
        },
        Message::Text("still there?"),
    ]);
    chat.expect_exact(&format!(
        "[System] Checking huge.bin ({}) against the file of that name here...",
        common::size(size)
    ));
    chat.expect_exact("[mallory] still there?");
    if let Some(heard) = peer.heard_so_far() {
        chat.fail(&format!(
            "answered before 64 GiB could be read and hashed: {heard:?}"
        ));
    }
    peer.send(&[Message::Cancel { id: 0 }]);
    chat.expect_exact("[System] The peer withdrew its offer of huge.bin.");
    sync(&mut chat, &mut peer, "never mind");
    let left = std::time::Instant::now();
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    assert!(
        left.elapsed() < std::time::Duration::from_secs(5),
        "leaving took {:?}",
        left.elapsed()
    );
    assert!(
        matches!(
            peer.heard_so_far(),
            None | Some(common::hostile::Heard::Ended(_))
        ),
        "the withdrawn offer was answered"
    );
    assert_eq!(saved_entries(&dir.join("received_files")), ["huge.bin"]);
}

/// An offer the user accepts while the file of its name here is still
/// being read to compare them (a large one takes a while) says so, as one
/// taken without a question does. (The file is 64 GiB, sparse.)
#[test]
fn accepting_an_offer_still_compared_with_the_file_here_says_it_is_checked() {
    let dir = TestDir::new("htr_hash_accepted");
    let size: u64 = 64 << 30;
    let here = dir.subdir("received_files").join("huge.bin");
    fs::File::create(&here).unwrap().set_len(size).unwrap();
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
    peer.send(&[Message::Offer {
        id: 0,
        size,
        name: "huge.bin",
    }]);
    chat.expect_prefix("[System] mallory offers huge.bin (64.0 GiB, a file of this name");
    chat.send_line("/accept 1");
    chat.expect_exact("[System] Accepted huge.bin.");
    chat.next_line_is(
        "[System] Checking huge.bin (64.0 GiB) against the file of that name here...",
    );
    peer.send(&[Message::Cancel { id: 0 }]);
    sync(&mut chat, &mut peer, "never mind");
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    assert_eq!(saved_entries(&dir.join("received_files")), ["huge.bin"]);
}

/// Folders offered and not taken (no room, declined, or still waiting when
/// the connection ends) leave nothing in `.chat-partial`: a peer that
/// offers folders larger than the free space and withdraws them cannot
/// fill the download folder, and `/status` lists none of them as kept.
#[test]
fn folders_not_taken_leave_nothing_behind() {
    let dir = TestDir::new("htr_folder_leak");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let id = i as FileId;
        peer.send(&[folder(id, 1, 1 << 62, name)]);
        let answer = peer.next_record(&mut chat);
        assert!(matches!(
            Message::decode(&answer),
            Ok(Message::Refused { .. })
        ));
        peer.send(&[Message::Cancel { id }]);
    }
    sync(&mut chat, &mut peer, "done");
    let left = dir_entries(&dir.join("received_files").join(KEPT));
    chat.send_line("/status");
    chat.expect_exact("[System] No transfers in progress or queued.");
    // Answered by the same thread after every line of /status.
    chat.send_line("/help");
    chat.expect_prefix("[System] /send PATH...");
    let kept_lines = chat
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("[System] Kept: folder"))
        .count();
    goodbye(&mut chat, &mut peer);
    assert!(
        left.is_empty() && kept_lines == 0,
        "{} entries left in {KEPT} and {kept_lines} kept folders listed by /status after 40 \
         refused offers",
        left.len()
    );
}

/// A folder offer, like a file offer, that waits for /accept when the
/// connection ends leaves nothing kept.
#[test]
fn offers_waiting_when_the_peer_leaves_leave_nothing_kept() {
    let dir = TestDir::new("htr_waiting_folder_leak");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
    peer.send(&[
        folder(0, 1, 100, "asked"),
        Message::Offer {
            id: 1,
            size: 100,
            name: "asked.bin",
        },
    ]);
    offered_id(&mut chat, "folder asked");
    offered_id(&mut chat, "asked.bin");
    goodbye(&mut chat, &mut peer);
    let left = dir_entries(&dir.join("received_files").join(KEPT));
    assert!(
        left.is_empty(),
        "offers never accepted left {left:?} in {KEPT}"
    );
}

/// The user cancels a folder on its way and is told "what arrived of it is
/// removed": so it is, also when the connection ends before the sender's
/// Cancel comes, and nothing says it was kept.
#[test]
fn a_folder_the_user_cancelled_is_removed_when_the_connection_ends_first() {
    let dir = TestDir::new("htr_cancelled_folder_kept");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 1, 1000, "pics")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, 1000, "a.bin")]);
    peer.expect_message(&mut chat, accept_new(1));
    peer.send(&[chunk(1, &[1; 500])]);
    sync(&mut chat, &mut peer, "half way");
    chat.send_line("/cancel");
    chat.expect_exact("[System] Cancelled pics; what arrived of it is removed.");
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 0,
            reason: "cancelled by the receiver",
        },
    );
    // The sender quits right then, before its Cancel went out.
    peer.close();
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let kept = tree(&dir.join("received_files").join(KEPT));
    let said_kept = chat
        .stdout_lines()
        .iter()
        .any(|l| l.starts_with("[System] Folder pics incomplete"));
    assert!(
        kept.is_empty() && !said_kept,
        "after /cancel, kept: {kept:?}\n{}",
        chat.report()
    );
}

/// After the user cancels a folder, its files still arriving are neither
/// written nor answered Saved, even from a peer that ignores the refusal.
#[test]
fn files_of_a_folder_the_user_cancelled_are_dropped() {
    let dir = TestDir::new("htr_cancelled_folder_written");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 1, 1000, "pics")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, 1000, "a.bin")]);
    peer.expect_message(&mut chat, accept_new(1));
    sync(&mut chat, &mut peer, "ready");
    chat.send_line("/cancel");
    chat.expect_exact("[System] Cancelled pics; what arrived of it is removed.");
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 0,
            reason: "cancelled by the receiver",
        },
    );
    let data = [2u8; 1000];
    peer.send(&[chunk(1, &data), end_of(1, &data)]);
    sync(&mut chat, &mut peer, "ignored your refusal");
    let kept = tree(&dir.join("received_files").join(KEPT));
    assert!(kept.is_empty(), "still kept: {kept:?}");
    // The next answer is about the next offer: nothing was said of a.bin.
    peer.send(&[Message::Offer {
        id: 2,
        size: 1,
        name: "next.txt",
    }]);
    peer.expect_message(&mut chat, accept_new(2));
    peer.send(&[chunk(2, b"n"), end_of(2, b"n")]);
    peer.expect_message(&mut chat, Message::Saved { id: 2 });
    goodbye(&mut chat, &mut peer);
    assert_eq!(saved_entries(&dir.join("received_files")), ["next.txt"]);
}

/// Kept parts have predictable names, so somebody else who can write in a
/// shared download folder could plant a link at `.chat-partial/KEY.part`:
/// it is never followed. The file is refused and what the link points to
/// is untouched.
/// A file of someone else's reached from the kept folder, by a link put
/// where a kept part of the peer's offer would be (`plant` puts it), is
/// neither cut short, written, nor fingerprinted for the peer: the offer is
/// refused, and the file is as it was.
fn planted_part_is_not_used(test: &str, plant: fn(&Path, &Path)) {
    let dir = TestDir::new(test);
    let victim = dir.join("victim.txt");
    fs::write(&victim, b"precious contents that are longer than ten").unwrap();
    let kept = dir.join("received_files").join(KEPT);
    fs::create_dir_all(&kept).unwrap();
    // Where mallory's offer of a.txt is kept.
    let mallory = common::credentials(None).identity.public();
    let key = common::kept_file_key("a.txt", 10, &mallory);
    plant(&victim, &kept.join(format!("{key}.part")));
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 10,
        name: "a.txt",
    }]);
    // Told why in short: where the chat keeps its files, and what is
    // there, is none of the peer's business.
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 0,
            reason: "it cannot be saved here",
        },
    );
    let here = chat.expect_prefix("[System] Could not save file a.txt (10 B): ");
    assert!(here.contains(KEPT), "{here}");
    peer.send(&[Message::Cancel { id: 0 }]);
    sync(&mut chat, &mut peer, "sent");
    goodbye(&mut chat, &mut peer);
    assert!(fs::symlink_metadata(dir.join("received_files/a.txt")).is_err());
    let victim_now = String::from_utf8_lossy(&fs::read(&victim).unwrap()).into_owned();
    assert_eq!(victim_now, "precious contents that are longer than ten");
}

#[test]
fn a_link_planted_in_the_kept_folder_is_not_followed() {
    planted_part_is_not_used("htr_planted_link", |victim, part| {
        symlink(victim, part).unwrap()
    });
}

#[test]
fn a_hard_link_planted_in_the_kept_folder_is_not_written() {
    planted_part_is_not_used("htr_planted_hard_link", |victim, part| {
        fs::hard_link(victim, part).unwrap()
    });
}

/// A FIFO where the note of a kept item would be holds up neither `chat
/// discard` nor `/status`, which would wait forever to read it.
#[test]
fn a_fifo_planted_in_the_kept_folder_holds_nothing_up() {
    let dir = TestDir::new("htr_planted_fifo");
    let kept = dir.join("received_files").join(KEPT);
    fs::create_dir_all(&kept).unwrap();
    let fifo = kept.join("0123456789abcdef0123456789abcdef.info");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let mut discard = Chat::spawn("discard", dir.path(), &["discard"]);
    discard.expect_prefix("Nothing kept to discard");
    assert_eq!(discard.wait_exit(), 0, "{}", discard.report());
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    chat.send_line("/status");
    chat.expect_exact("[System] No transfers in progress or queued.");
    sync(&mut chat, &mut peer, "after the status");
    goodbye(&mut chat, &mut peer);
}

// ---------------------------------------------------------------------------
// Protocol rules
// ---------------------------------------------------------------------------

/// Entry paths that climb out, absolute ones, backslashes, a path
/// through a file, a file where a subfolder is, very deep and 4096-byte
/// paths: each is refused or made safe, nothing is written outside the
/// download folder, and the folder does not take its final name.
#[test]
fn hostile_entry_paths_stay_inside_and_the_folder_does_not_complete() {
    let dir = TestDir::new("htr_paths");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 20, 20, "pics")]);
    peer.expect_message(&mut chat, accept_folder(0));
    let deep = "d/".repeat(1800) + "f";
    let long = "x".repeat(4096);
    let wide = vec!["y".repeat(200); 20].join("/");
    let unsafe_paths = [
        "../escape",
        "a/../../escape",
        "..\\..\\escape",
        " .. /escape",
        "...",
        "/",
    ];
    let mut id = 1;
    for path in unsafe_paths {
        peer.send(&[entry(id, 0, 1, path)]);
        let answer = peer.next_record(&mut chat);
        assert!(
            matches!(Message::decode(&answer), Ok(Message::Refused { .. })),
            "{path:?}: {:?}",
            Message::decode(&answer)
        );
        peer.send(&[Message::Cancel { id }]);
        id += 1;
    }
    peer.send(&[Message::Subfolder {
        folder: 0,
        path: "sub",
    }]);
    // Made safe and taken: an absolute path, backslashes, a long name, a
    // deep path.
    for path in [
        "/etc/passwd",
        "b\\c",
        long.as_str(),
        deep.as_str(),
        wide.as_str(),
        "file",
    ] {
        peer.send(&[entry(id, 0, 1, path)]);
        let answer = peer.next_record(&mut chat);
        match Message::decode(&answer) {
            Ok(Message::Accept { .. }) => {
                peer.send(&[chunk(id, b"z"), end_of(id, b"z")]);
                peer.expect_message(&mut chat, Message::Saved { id });
            }
            Ok(Message::Refused { .. }) => peer.send(&[Message::Cancel { id }]),
            other => chat.fail(&format!("{path:?}: {other:?}")),
        }
        id += 1;
    }
    // A file where a subfolder is, a path through a file, a path taken.
    for path in ["sub", "file/below", "etc/passwd"] {
        peer.send(&[entry(id, 0, 1, path)]);
        let answer = peer.next_record(&mut chat);
        assert!(
            matches!(Message::decode(&answer), Ok(Message::Refused { .. })),
            "{:.40}: {:?}",
            path,
            Message::decode(&answer)
        );
        peer.send(&[Message::Cancel { id }]);
        id += 1;
    }
    peer.send(&[end_folder(0)]);
    let answer = peer.next_record(&mut chat);
    assert!(matches!(
        Message::decode(&answer),
        Ok(Message::Refused { id: 0, .. })
    ));
    goodbye(&mut chat, &mut peer);
    assert!(saved_entries(&dir.join("received_files")).is_empty());
    let outside: Vec<String> = dir_entries(dir.path())
        .into_iter()
        .filter(|n| n != "received_files")
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    let all = tree(&dir.join("received_files"));
    assert!(
        !all.iter().any(|p| p.contains("escape")),
        "{:?}",
        all.iter()
            .filter(|p| p.contains("escape"))
            .collect::<Vec<_>>()
    );
}

/// A name cut to its 200 bytes can be dots alone (250 dots and a 20-byte
/// tail, no extension to keep): such a path is refused like `..`, and
/// nothing named only with dots is made anywhere.
#[test]
fn a_path_made_only_of_dots_once_cut_to_size_is_refused() {
    let dir = TestDir::new("htr_dots_cut");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 3, 3, "pics")]);
    peer.expect_message(&mut chat, accept_folder(0));
    let dots = format!("{}{}", ".".repeat(250), "x".repeat(20));
    let below = format!("a/{dots}/file");
    for (id, path) in [(1, dots.as_str()), (2, below.as_str())] {
        peer.send(&[entry(id, 0, 1, path)]);
        let answer = peer.next_record(&mut chat);
        if !matches!(Message::decode(&answer), Ok(Message::Refused { .. })) {
            chat.fail(&format!("{:.20}...: {:?}", path, Message::decode(&answer)));
        }
        chat.expect_prefix("[System] Skipped pics/");
        peer.send(&[Message::Cancel { id }]);
    }
    peer.send(&[entry(3, 0, 1, "fine")]);
    peer.expect_message(&mut chat, accept_new(3));
    peer.send(&[chunk(3, b"z"), end_of(3, b"z"), end_folder(0)]);
    peer.expect_message(&mut chat, Message::Saved { id: 3 });
    let answer = peer.next_record(&mut chat);
    assert!(
        matches!(Message::decode(&answer), Ok(Message::Refused { id: 0, .. })),
        "{:?}",
        Message::decode(&answer)
    );
    goodbye(&mut chat, &mut peer);
    let dotted: Vec<String> = tree(&dir.join("received_files"))
        .into_iter()
        .filter(|p| {
            p.split('/')
                .any(|c| c.len() > 1 && c.chars().all(|c| c == '.'))
        })
        .collect();
    assert!(dotted.is_empty(), "made: {dotted:?}");
}

/// With --ask-above 0, chunks and ends of a file or of a folder's
/// files before the user accepted are a breach.
#[test]
fn a_chunk_before_the_user_accepted_is_a_breach() {
    let dir = TestDir::new("htr_chunk_before_accept");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
    peer.send(&[
        Message::Offer {
            id: 0,
            size: 3,
            name: "early.bin",
        },
        chunk(0, b"abc"),
    ]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer sent early.bin before it was accepted",
    );
    let dir = TestDir::new("htr_entry_before_accept");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &["--ask-above", "0"]);
    peer.send(&[folder(0, 1, 3, "early"), entry(1, 0, 3, "x")]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer sent files of folder early before it was accepted",
    );
}

/// Begin at an offset neither 0 nor the accepted one, Begin not
/// asked for, and a folder ended with a file on its way are breaches.
#[test]
fn odd_begins_and_early_folder_ends_are_breaches() {
    let dir = TestDir::new("htr_odd_begin");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 10,
        name: "a",
    }]);
    peer.expect_message(&mut chat, accept_new(0));
    peer.send(&[Message::Begin { id: 0, offset: 0 }]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer said where a begins without being asked",
    );

    let dir = TestDir::new("htr_odd_begin_offset");
    {
        let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
        peer.send(&[Message::Offer {
            id: 0,
            size: 10,
            name: "a",
        }]);
        peer.expect_message(&mut chat, accept_new(0));
        peer.send(&[chunk(0, b"01234")]);
        sync(&mut chat, &mut peer, "x");
        peer.close();
        let _ = chat.wait_exit();
    }
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[Message::Offer {
        id: 0,
        size: 10,
        name: "a",
    }]);
    peer.expect_message(
        &mut chat,
        Message::Accept {
            id: 0,
            offset: 5,
            prefix: hash(b"01234"),
        },
    );
    peer.send(&[Message::Begin { id: 0, offset: 3 }]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer began a at 3, neither 0 nor where it was asked",
    );

    let dir = TestDir::new("htr_early_folder_end");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 1, 3, "f")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, 3, "x")]);
    peer.expect_message(&mut chat, accept_new(1));
    peer.send(&[chunk(1, b"a"), end_folder(0)]);
    assert_breach(
        &mut chat,
        &peer,
        "the peer ended folder f with files of it still on their way",
    );
    assert!(saved_entries(&dir.join("received_files")).is_empty());
}

/// Ids shared by a file and a folder, an entry reusing its folder's
/// id, late chunks after a folder's Cancel, and a 17th folder are breaches.
#[test]
fn shared_ids_and_late_entries_are_breaches() {
    let cases: Vec<(Vec<Message<'static>>, &str)> = vec![
        (
            vec![
                folder(0, 1, 3, "f"),
                Message::Offer {
                    id: 0,
                    size: 1,
                    name: "g",
                },
            ],
            "the peer offered file 0 again while still sending it",
        ),
        (
            vec![folder(0, 1, 3, "f"), entry(0, 0, 1, "x")],
            "the peer offered file 0 again while still sending it",
        ),
        (
            vec![
                folder(0, 1, 3, "f"),
                entry(1, 0, 3, "x"),
                Message::Cancel { id: 0 },
                chunk(1, b"abc"),
            ],
            "the peer sent part of file 1, which it never offered",
        ),
        (
            vec![
                folder(0, 1, 3, "f"),
                Message::Cancel { id: 0 },
                entry(1, 0, 3, "x"),
            ],
            "the peer sent part of file 0, which it never offered",
        ),
    ];
    for (n, (messages, why)) in cases.into_iter().enumerate() {
        let dir = TestDir::new(&format!("htr_ids_{n}"));
        let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
        peer.send(&messages);
        assert_breach(&mut chat, &peer, why);
        assert!(saved_entries(&dir.join("received_files")).is_empty());
        assert!(
            dir_entries(&dir.join("received_files").join(KEPT))
                .iter()
                .all(|n| !n.ends_with(".part")),
        );
    }
    let dir = TestDir::new("htr_17_folders");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    let names: Vec<String> = (0..17).map(|i| format!("f{i}")).collect();
    let offers: Vec<Message<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| folder(i as FileId, 0, 0, name))
        .collect();
    peer.send(&offers);
    assert_breach(
        &mut chat,
        &peer,
        "the peer offered a folder while already sending 16",
    );
}

/// The same name and size offered twice at once: the second does
/// not share the first's kept part, and both arrive whole and apart.
#[test]
fn the_same_name_and_size_twice_at_once_arrive_apart() {
    let dir = TestDir::new("htr_same_twice");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    let offer = |id| Message::Offer {
        id,
        size: 8,
        name: "same.bin",
    };
    peer.send(&[offer(0), offer(1)]);
    peer.expect_message(&mut chat, accept_new(0));
    peer.expect_message(&mut chat, accept_new(1));
    peer.send(&[
        chunk(0, b"AAAA"),
        chunk(1, b"BBBB"),
        chunk(0, b"aaaa"),
        chunk(1, b"bbbb"),
        end_of(0, b"AAAAaaaa"),
        end_of(1, b"BBBBbbbb"),
    ]);
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    goodbye(&mut chat, &mut peer);
    let downloads = dir.join("received_files");
    assert_eq!(fs::read(downloads.join("same.bin")).unwrap(), b"AAAAaaaa");
    assert_eq!(
        fs::read(downloads.join("same (1).bin")).unwrap(),
        b"BBBBbbbb"
    );
    assert!(dir_entries(&downloads.join(KEPT)).is_empty());
}

/// Two paths of one folder that are the same once made safe: the
/// second is refused rather than written over the first, and the folder
/// does not complete.
#[test]
fn paths_that_collide_once_made_safe_do_not_overwrite() {
    let dir = TestDir::new("htr_collide");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 2, 2, "f")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[entry(1, 0, 1, "a\u{1}"), chunk(1, b"1"), end_of(1, b"1")]);
    peer.expect_message(&mut chat, accept_new(1));
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    peer.send(&[entry(2, 0, 1, "./a\u{7}  ")]);
    let answer = peer.next_record(&mut chat);
    assert!(matches!(
        Message::decode(&answer),
        Ok(Message::Refused { id: 2, .. })
    ));
    peer.send(&[Message::Cancel { id: 2 }, end_folder(0)]);
    let answer = peer.next_record(&mut chat);
    assert!(matches!(
        Message::decode(&answer),
        Ok(Message::Refused { id: 0, .. })
    ));
    goodbye(&mut chat, &mut peer);
    assert!(saved_entries(&dir.join("received_files")).is_empty());
}

/// Accept, Saved and Refused for ids the chat never used are
/// ignored; the conversation goes on.
#[test]
fn answers_for_unknown_ids_are_ignored() {
    let dir = TestDir::new("htr_unknown_answers");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[
        Message::Accept {
            id: 3,
            offset: 99,
            prefix: [1; 32],
        },
        Message::Accept {
            id: u32::MAX,
            offset: u64::MAX,
            prefix: [0; 32],
        },
        Message::Saved { id: 3 },
        Message::Refused { id: 3, reason: "x" },
    ]);
    sync(&mut chat, &mut peer, "still here");
    assert_eq!(goodbye(&mut chat, &mut peer), 0);
}

/// A 65th file at once, counting the files inside folders, is a
/// breach: open files stay bounded.
#[test]
fn a_sixty_fifth_file_counting_folder_entries_is_a_breach() {
    let dir = TestDir::new("htr_entry_flood");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    peer.send(&[folder(0, 100, 1000, "f")]);
    peer.expect_message(&mut chat, accept_folder(0));
    let paths: Vec<String> = (0..65).map(|i| format!("e{i}")).collect();
    let entries: Vec<Message<'_>> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| entry(i as FileId + 1, 0, 10, path))
        .collect();
    peer.send(&entries);
    assert_breach(
        &mut chat,
        &peer,
        "the peer offered a file while already sending 64",
    );
}

/// Two chats sharing one download folder, each offered the same
/// name and size at the same time: each writes its own kept part, and both
/// files arrive whole under two names.
#[test]
fn two_chats_sharing_a_download_folder_keep_their_parts_apart() {
    let dir = TestDir::new("htr_shared_downloads");
    let (mut one, mut first) = alice_and_mallory(dir.path(), &[]);
    let (mut two, mut second) = alice_and_mallory(dir.path(), &[]);
    let offer = Message::Offer {
        id: 0,
        size: 8,
        name: "same.bin",
    };
    first.send(std::slice::from_ref(&offer));
    first.expect_message(&mut one, accept_new(0));
    second.send(&[offer]);
    second.expect_message(&mut two, accept_new(0));
    first.send(&[chunk(0, b"1111")]);
    second.send(&[chunk(0, b"2222")]);
    first.send(&[chunk(0, b"1111"), end_of(0, b"11111111")]);
    second.send(&[chunk(0, b"2222"), end_of(0, b"22222222")]);
    first.expect_message(&mut one, Message::Saved { id: 0 });
    second.expect_message(&mut two, Message::Saved { id: 0 });
    goodbye(&mut one, &mut first);
    goodbye(&mut two, &mut second);
    let downloads = dir.join("received_files");
    let mut got: Vec<Vec<u8>> = ["same.bin", "same (1).bin"]
        .iter()
        .map(|n| fs::read(downloads.join(n)).unwrap())
        .collect();
    got.sort();
    assert_eq!(got, [b"11111111".to_vec(), b"22222222".to_vec()]);
}

/// /accept, /decline, /cancel and /discard with nothing to act on,
/// twice, or with wrong ids, say so and change nothing.
#[test]
fn commands_at_odd_moments_say_so() {
    let dir = TestDir::new("htr_odd_commands");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), &[]);
    sync(&mut chat, &mut peer, "hello");
    for (line, answer) in [
        ("/accept", "[System] No offer waits for an answer."),
        ("/decline 7", "[System] No offer #7 waits for an answer."),
        ("/cancel", "[System] No transfers in progress or queued."),
        (
            "/cancel 99",
            "[System] No transfer #99; /status lists them.",
        ),
        (
            "/cancel 99999999999999999999999",
            "[System] Usage: /cancel [ID], with ID a number from /status (#3 or 3).",
        ),
        ("/discard", "[System] Nothing kept to discard."),
        ("/discard", "[System] Nothing kept to discard."),
    ] {
        chat.send_line(line);
        chat.expect_exact(answer);
    }
    assert_eq!(goodbye(&mut chat, &mut peer), 0);
}

/// A folder sent to a --plain peer is refused with a note and the
/// conversation goes on.
#[test]
fn a_folder_to_a_plain_peer_is_refused_with_a_note() {
    let dir = TestDir::new("htr_plain_folder");
    let bob_dir = dir.subdir("bob");
    fs::create_dir_all(bob_dir.join("pics")).unwrap();
    fs::write(bob_dir.join("pics/a.txt"), b"a").unwrap();
    let (mut alice, mut bob) = common::connected_pair(&dir.subdir("alice"), &[], &bob_dir, &[]);
    bob.send_line("/send pics");
    bob.expect_prefix("[System] Cannot send pics");
    bob.send_line("still here");
    alice.expect_exact("[bob] still here");
    assert!(!dir.join("alice/received_files/pics").exists());
}

// A folder the receiver holds nothing of is streamed (PROTOCOL.md 3.5,
// rule 5): no round trip per file.

/// The message in a record the chat sent.
fn decoded(data: &[u8]) -> Message<'_> {
    Message::decode(data).expect("the chat sends what decodes")
}

#[test]
fn a_folder_accepted_as_streamed_comes_without_waiting_for_any_answer() {
    let dir = TestDir::new("ht_streamed_send");
    let photos = dir.subdir("photos");
    for i in 0..40 {
        fs::write(photos.join(format!("f{i:02}.txt")), format!("file {i}\n")).unwrap();
    }
    let (mut alice, mut mallory) = alice_and_mallory(dir.path(), &[]);
    alice.send_line("/send photos");
    let folder_id = match decoded(&mallory.next_record(&mut alice)) {
        Message::Folder { id, files: 40, .. } => id,
        other => alice.fail(&format!("expected the folder, got {other:?}")),
    };
    mallory.send(&[Message::Accept {
        id: folder_id,
        offset: chat::wire::message::FOLDER_STREAMED,
        prefix: [0; 32],
    }]);
    // Every file, entry, bytes and end, comes with no answer given: many
    // more than the 15 a folder waits on otherwise.
    let (mut entries, mut ends) = (Vec::new(), Vec::new());
    while ends.len() < 40 {
        match decoded(&mallory.next_record(&mut alice)) {
            Message::Entry { id, .. } => entries.push(id),
            Message::End { id, .. } => ends.push(id),
            Message::Chunk { .. } => {}
            other => alice.fail(&format!("expected files, got {other:?}")),
        }
    }
    entries.sort_unstable();
    ends.sort_unstable();
    assert_eq!(entries, ends);
    let saved: Vec<Message> = ends.iter().map(|&id| Message::Saved { id }).collect();
    mallory.send(&saved);
    mallory.expect_message(&mut alice, end_folder(folder_id));
    mallory.send(&[Message::Saved { id: folder_id }]);
    alice.expect_prefix("[System] Sent folder photos (40 files, ");
    assert_eq!(goodbye(&mut alice, &mut mallory), 0);
}

#[test]
fn a_fresh_folder_is_accepted_as_streamed_and_its_files_may_follow_their_entries_at_once() {
    let dir = TestDir::new("ht_streamed_receive");
    let (mut alice, mut mallory) = alice_and_mallory(dir.path(), &[]);
    let contents: Vec<String> = (0..20).map(|i| format!("file {i}\n")).collect();
    let bytes: u64 = contents.iter().map(|c| c.len() as u64).sum();
    mallory.send(&[folder(1, 20, bytes, "streamed")]);
    mallory.expect_message(
        &mut alice,
        Message::Accept {
            id: 1,
            offset: chat::wire::message::FOLDER_STREAMED,
            prefix: [0; 32],
        },
    );
    let paths: Vec<String> = (0..20).map(|i| format!("f{i:02}.txt")).collect();
    let mut files = Vec::new();
    for (i, (path, data)) in paths.iter().zip(&contents).enumerate() {
        let id = 10 + i as FileId;
        files.push(entry(id, 1, data.len() as u64, path));
        files.push(chunk(id, data.as_bytes()));
        files.push(end_of(id, data.as_bytes()));
    }
    mallory.send(&files);
    let mut saved = 0;
    while saved < 20 {
        match decoded(&mallory.next_record(&mut alice)) {
            Message::Saved { .. } => saved += 1,
            Message::Accept { .. } => {}
            other => alice.fail(&format!("expected answers, got {other:?}")),
        }
    }
    mallory.send(&[end_folder(1)]);
    mallory.expect_message(&mut alice, Message::Saved { id: 1 });
    alice.expect_prefix("[System] Folder saved to received_files/streamed (20 files, ");
    let saved = dir.join("received_files/streamed");
    assert_eq!(
        fs::read_to_string(saved.join("f07.txt")).unwrap(),
        "file 7\n"
    );
    assert_eq!(goodbye(&mut alice, &mut mallory), 0);
}
