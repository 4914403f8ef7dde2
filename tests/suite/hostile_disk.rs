//! A hostile peer against the receiver's disk, on the encrypted wire:
//! folders that make folders nobody was asked about, folders of very many
//! empty files, an offer taken for the file of its name here while others
//! come, and kept parts reached through a symbolic link. Most run on a
//! small disk of the chat's own (see `common::disk`).
//!
//! Each test names the defence it proves.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::common;
use crate::common::disk::SmallDisk;
use crate::common::hostile::{HostilePeer, chunk, end_of, folder, hash};
use crate::common::{Chat, TestDir, dir_entries};
use chat::wire::message::{FileId, Message};

const KEPT: &str = ".chat-partial";

/// Alice listening in `cwd` with `extra` options (run through `disk`'s
/// wrapper when given), and a peer named mallory connected to her.
fn alice_and_mallory(cwd: &Path, disk: Option<&SmallDisk>, extra: &[&str]) -> (Chat, HostilePeer) {
    let mut args = vec!["--name", "alice"];
    args.extend_from_slice(extra);
    let (mut chat, port) = match disk {
        Some(disk) => Chat::listen_through("alice", cwd, &disk.wrapper(), &args),
        None => Chat::listen_encrypted("alice", cwd, &args),
    };
    let peer = HostilePeer::mallory_meets_alice(&mut chat, port);
    (chat, peer)
}

/// Everything sent before has been dealt with by the chat.
fn sync(chat: &mut Chat, peer: &mut HostilePeer, tag: &str) {
    peer.sync(chat, tag);
}

/// How a chat accepts a folder it holds nothing of: streamed.
fn accept_folder(id: FileId) -> Message<'static> {
    Message::Accept {
        id,
        offset: chat::wire::message::FOLDER_STREAMED,
        prefix: [0; 32],
    }
}

fn accept_new(id: FileId) -> Message<'static> {
    Message::Accept {
        id,
        offset: 0,
        prefix: hash(b""),
    }
}

/// Folder 0, announced as one file of one byte, with that file saved.
fn one_byte_folder(chat: &mut Chat, peer: &mut HostilePeer, name: &str, files: u64) {
    peer.send(&[folder(0, files, 1, name)]);
    peer.expect_message(chat, accept_folder(0));
    peer.send(&[Message::Entry {
        id: 1,
        folder: 0,
        size: 1,
        path: "a.txt",
    }]);
    peer.expect_message(chat, accept_new(1));
    peer.send(&[chunk(1, b"x"), end_of(1, b"x")]);
    peer.expect_message(chat, Message::Saved { id: 1 });
}

/// `count` paths of `levels` new folders each, none shared.
fn chains(count: usize, levels: usize) -> Vec<String> {
    (0..count)
        .map(|chain| {
            (0..levels)
                .map(|level| format!("c{chain}l{level}"))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// A folder announced as one file of one byte, taken without a question,
/// then sent a thousand chains of 64 new folders (a few hundred kilobytes
/// of messages that would take every inode of the disk, or all its
/// blocks): past the folders a folder of one file may hold it is refused,
/// what it made is removed, and the disk is as it was.
#[test]
fn a_folder_cannot_make_more_folders_than_its_files_allow() {
    let dir = TestDir::new("hd_folders");
    let downloads = dir.join("received_files");
    let Some(disk) = SmallDisk::ext4(&downloads, &dir.join("disk.img"), 64, 60_000) else {
        return;
    };
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), Some(&disk), &[]);
    let before = disk.used(chat.pid());
    one_byte_folder(&mut chat, &mut peer, "innocent", 1);
    let paths = chains(1000, 64);
    for batch in paths.chunks(50) {
        let subfolders: Vec<Message> = batch
            .iter()
            .map(|path| Message::Subfolder { folder: 0, path })
            .collect();
        peer.send(&subfolders);
    }
    let why = "it makes more folders than the 1001 a folder of 1 file may hold";
    peer.expect_message(&mut chat, Message::Refused { id: 0, reason: why });
    chat.expect_exact(&format!(
        "[System] Refused folder innocent: {why}; what arrived of it was removed."
    ));
    // What a sender does on a refusal.
    peer.send(&[Message::Cancel { id: 0 }]);
    sync(&mut chat, &mut peer, "all sent");
    let after = disk.used(chat.pid());
    assert!(
        after.1 <= before.1 + 10 && after.0 <= before.0 + (64 << 10),
        "{before:?} of the disk was used before, {after:?} after"
    );
    let hers = disk.seen_by(chat.pid());
    assert!(
        dir_entries(&hers).iter().all(|name| name == "lost+found"),
        "{:?} left in the download folder",
        dir_entries(&hers)
    );
    peer.cut();
    chat.expect_prefix("[System] Connection lost");
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let kept_said = chat
        .stdout_lines()
        .into_iter()
        .filter(|line| line.contains("of cut transfers is kept"))
        .collect::<Vec<_>>();
    assert!(kept_said.is_empty(), "{kept_said:?}");
}

/// A folder of very many files costs a block and an inode for each, empty
/// or not: one of more files than a folder may have is declined at once,
/// one of more than the disk has room for is declined for lack of room,
/// and one of very many is asked about, as a big one is.
#[test]
fn a_folder_of_very_many_files_is_asked_about_and_needs_room_for_each() {
    let dir = TestDir::new("hd_files");
    let downloads = dir.join("received_files");
    let Some(disk) = SmallDisk::ext4(&downloads, &dir.join("disk.img"), 64, 16_000) else {
        return;
    };
    let extra = ["--ask-above", "100M"];
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), Some(&disk), &extra);
    peer.send(&[folder(0, 2_000_000, 0, "lots")]);
    let why = "it has more than the 1000000 files a folder may have";
    peer.expect_message(&mut chat, Message::Refused { id: 0, reason: why });
    chat.expect_exact(&format!(
        "[System] Declined folder lots (2000000 files, 0 B): {why}."
    ));
    // Their blocks fit; their inodes do not.
    peer.send(&[Message::Cancel { id: 0 }, folder(1, 30_000, 0, "inodes")]);
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 1,
            reason: "not enough free space",
        },
    );
    chat.expect_prefix(
        "[System] Declined folder inodes (30000 files, 0 B): not enough room for more files: it \
         makes 30000 files and folders and the disk of received_files has room for only ",
    );
    peer.send(&[Message::Cancel { id: 1 }, folder(2, 12_000, 0, "many")]);
    // (The third offer here.)
    chat.expect_exact(
        "[System] mallory offers folder many (12000 files, 0 B): /accept 3 or /decline 3",
    );
    if let Some(heard) = peer.heard_so_far() {
        chat.fail(&format!("answered without asking: {heard:?}"));
    }
    chat.send_line("/decline 3");
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 2,
            reason: "declined",
        },
    );
    peer.send(&[Message::Cancel { id: 2 }]);
    sync(&mut chat, &mut peer, "never mind");
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
}

/// What is kept of a cut folder is said, on leaving and by `chat discard`,
/// as what it takes on the disk: a folder of empty folders holds one byte
/// and still takes a block for each of its folders.
#[test]
fn what_is_kept_of_a_cut_folder_is_counted_as_it_takes_the_disk() {
    let dir = TestDir::new("hd_kept_usage");
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), None, &[]);
    one_byte_folder(&mut chat, &mut peer, "hollow", 1000);
    let paths = chains(200, 5);
    let subfolders: Vec<Message> = paths
        .iter()
        .map(|path| Message::Subfolder { folder: 0, path })
        .collect();
    peer.send(&subfolders);
    sync(&mut chat, &mut peer, "cut here");
    peer.cut();
    chat.expect_prefix("[System] Folder hollow incomplete");
    let said = chat.expect_line("what is kept", |l| l.contains(" of cut transfers is kept "));
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let hidden = dir.join("received_files").join(KEPT);
    let on_disk = common::disk_usage(&hidden) - common::disk_usage_of(&hidden);
    let shown = common::size(on_disk);
    assert_eq!(
        said,
        format!(
            "[System] {shown} of cut transfers is kept in received_files/.chat-partial, so that \
             sending them again resumes; `chat discard` frees it."
        )
    );
    let mut discard = Chat::spawn("discard", dir.path(), &["discard"]);
    assert_eq!(discard.wait_exit(), 0, "{}", discard.report());
    assert_eq!(
        discard.stdout_lines(),
        [format!(
            "Discarded 1 kept transfer ({shown}) from received_files/.chat-partial."
        )]
    );
    assert!(!hidden.exists());
}

/// The key under which a file offer of `name` and `size` is kept.
fn file_key(name: &str, size: u64) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"file\0");
    hasher.update(&size.to_be_bytes());
    hasher.update(name.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

/// Names left in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names = dir_entries(dir);
    names.sort();
    names
}

/// A hidden folder of kept parts that is a symbolic link to a folder of
/// somebody's is never followed: `chat discard` deletes nothing there and
/// fails saying why, and a chat refuses offers (the peer told only that it
/// cannot save them) rather than keep their parts there.
#[test]
fn a_hidden_folder_that_is_a_link_is_refused_and_never_followed() {
    let dir = TestDir::new("hd_kept_link");
    let precious = dir.subdir("precious");
    let key = file_key("important", 100);
    fs::write(
        precious.join(format!("{key}.info")),
        "file\t100\timportant\n",
    )
    .unwrap();
    fs::write(precious.join(format!("{key}.part")), b"important").unwrap();
    fs::create_dir_all(precious.join(format!("{key}.folder/inside"))).unwrap();
    fs::write(precious.join("notes.info"), b"mine").unwrap();
    let before = names_in(&precious);
    let downloads = dir.subdir("dl3");
    symlink(&precious, downloads.join(KEPT)).unwrap();

    let args = ["discard", "--download-dir", "dl3"];
    let mut discard = Chat::spawn("discard", dir.path(), &args);
    assert_eq!(discard.wait_exit(), 1, "{}", discard.report());
    let said = discard.stderr_text();
    assert_eq!(
        said.trim_end(),
        "error: nothing was discarded: dl3/.chat-partial is a symbolic link, and what is kept \
         of cut transfers is never reached through one",
        "{said}"
    );
    assert_eq!(names_in(&precious), before);
    assert!(precious.join(format!("{key}.folder/inside")).is_dir());

    let (mut chat, mut peer) = alice_and_mallory(dir.path(), None, &["--download-dir", "dl3"]);
    chat.expect_exact(
        "[System] dl3/.chat-partial is a symbolic link, and what is kept of cut transfers is \
         never reached through one: files offered are refused until it is removed.",
    );
    peer.send(&[Message::Offer {
        id: 0,
        size: 100,
        name: "important",
    }]);
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 0,
            reason: "it cannot be saved here",
        },
    );
    chat.expect_exact(
        "[System] Could not save file important (100 B): dl3/.chat-partial is a symbolic link, \
         and what is kept of cut transfers is never reached through one",
    );
    peer.send(&[Message::Cancel { id: 0 }]);
    chat.send_line("/discard");
    chat.expect_prefix("[System] Nothing was discarded: dl3/.chat-partial is a symbolic link");
    peer.cut();
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    assert_eq!(names_in(&precious), before);
    assert_eq!(
        fs::read(precious.join(format!("{key}.part"))).unwrap(),
        b"important"
    );
}

/// Somebody who can write in the download folder swaps links in while a
/// folder arrives: one put inside the folder being kept, and one in place
/// of `.chat-partial` itself. Later files of the folder are never opened,
/// hashed or removed through them: nothing outside is read (no Accept
/// carries its hash) or touched, even when the folder is cancelled.
#[test]
fn links_swapped_in_while_a_folder_arrives_are_never_followed() {
    let dir = TestDir::new("hd_swapped_links");
    let downloads = dir.join("received_files");
    let secret = b"a secret of somebody else";
    let size = secret.len() as u64;
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), None, &[]);
    peer.send(&[folder(0, 3, 1 + 2 * size, "album")]);
    peer.expect_message(&mut chat, accept_folder(0));
    peer.send(&[Message::Entry {
        id: 1,
        folder: 0,
        size: 1,
        path: "a.txt",
    }]);
    peer.expect_message(&mut chat, accept_new(1));
    peer.send(&[chunk(1, b"x"), end_of(1, b"x")]);
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    let kept = downloads.join(KEPT);
    let folder = names_in(&kept)
        .into_iter()
        .find(|name| name.ends_with(".folder"))
        .expect("the folder is kept hidden");
    // A link inside the kept folder, to a folder of somebody else's.
    let outside = dir.subdir("outside");
    fs::write(outside.join("secret.txt"), secret).unwrap();
    symlink(&outside, kept.join(&folder).join("b")).unwrap();
    // And the hidden folder itself moved away, a link in its place to
    // another folder that holds what the next file would resume.
    let elsewhere = dir.subdir("elsewhere");
    fs::create_dir_all(elsewhere.join(&folder).join("c")).unwrap();
    fs::write(elsewhere.join(&folder).join("c/secret.txt"), secret).unwrap();
    fs::rename(&kept, dir.join("moved")).unwrap();
    symlink(&elsewhere, &kept).unwrap();
    for (id, path) in [(2, "b/secret.txt"), (3, "c/secret.txt")] {
        peer.send(&[Message::Entry {
            id,
            folder: 0,
            size,
            path,
        }]);
        sync(&mut chat, &mut peer, path);
    }
    peer.send(&[Message::Cancel { id: 0 }]);
    sync(&mut chat, &mut peer, "cancelled");
    peer.cut();
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let mut heard = Vec::new();
    while let Some(common::hostile::Heard::Record(data)) = peer.heard_so_far() {
        heard.push(data);
    }
    for data in &heard {
        if let Ok(Message::Accept { offset, prefix, .. }) = Message::decode(data) {
            assert!(
                offset == 0 && prefix != hash(secret),
                "a file outside was read: {:?}\n{}",
                Message::decode(data),
                chat.report()
            );
        }
    }
    assert_eq!(fs::read(outside.join("secret.txt")).unwrap(), secret);
    assert_eq!(names_in(&outside), ["secret.txt"]);
    let there = elsewhere.join(&folder).join("c/secret.txt");
    assert_eq!(fs::read(there).unwrap(), secret, "{}", chat.report());
}

/// A download folder that was not there when the chat started is made when
/// the first file comes: a symbolic link somebody put in its way meanwhile
/// is refused, not followed.
#[test]
fn a_link_put_where_the_download_folder_is_made_is_not_followed() {
    let dir = TestDir::new("hd_planted_folder");
    let precious = dir.subdir("precious");
    let extra = ["--download-dir", "shared/dl"];
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), None, &extra);
    symlink(&precious, dir.join("shared")).unwrap();
    peer.send(&[Message::Offer {
        id: 0,
        size: 5,
        name: "a.txt",
    }]);
    peer.expect_message(
        &mut chat,
        Message::Refused {
            id: 0,
            reason: "it cannot be saved here",
        },
    );
    chat.expect_exact(
        "[System] Could not save file a.txt (5 B): shared is a symbolic link put where the \
         download folder was being made: it is not followed",
    );
    peer.send(&[Message::Cancel { id: 0 }]);
    sync(&mut chat, &mut peer, "oh well");
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    assert!(names_in(&precious).is_empty(), "{:?}", names_in(&precious));
}

/// `chat discard` in a folder that does not exist fails on one line,
/// rather than saying there was nothing to discard there.
#[test]
fn discard_in_a_folder_that_does_not_exist_fails() {
    let dir = TestDir::new("hd_discard_typo");
    let typo = dir.join("no such folder");
    let args = ["discard", "--download-dir", typo.to_str().unwrap()];
    let mut discard = Chat::spawn("discard", dir.path(), &args);
    assert_eq!(discard.wait_exit(), 1, "{}", discard.report());
    assert!(discard.stdout_lines().is_empty(), "{}", discard.report());
    assert_eq!(
        discard.stderr_text(),
        format!("error: download folder {} does not exist\n", typo.display())
    );
}

/// Many one-byte offers on a disk of few inodes: a kept file takes two
/// (the part and what says what it is), so the offers that fit are
/// taken and the rest are declined for lack of room, none fails half-made
/// and leaves a stray behind, and leaving says nothing of cut transfers.
#[test]
fn offers_past_the_inodes_left_are_declined_and_leave_nothing() {
    let dir = TestDir::new("hd_inodes");
    let downloads = dir.join("received_files");
    let Some(disk) = SmallDisk::tmpfs_with_inodes(&downloads, 16, 100) else {
        return;
    };
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), Some(&disk), &[]);
    let names: Vec<String> = (0..64).map(|i| format!("f{i}")).collect();
    let offers: Vec<Message> = names
        .iter()
        .enumerate()
        .map(|(id, name)| Message::Offer {
            id: id as FileId,
            size: 1,
            name,
        })
        .collect();
    peer.send(&offers);
    sync(&mut chat, &mut peer, "all offered");
    let kept = dir_entries(&disk.seen_by(chat.pid()).join(KEPT));
    let infos = kept.iter().filter(|n| n.ends_with(".info")).count();
    let parts = kept.iter().filter(|n| n.ends_with(".part")).count();
    assert_eq!(infos, parts, "{kept:?}\n{}", chat.report());
    assert!(infos > 0, "{}", chat.report());
    peer.close();
    chat.expect_exact("[mallory] has left the chat.");
    let _ = chat.wait_exit();
    chat.assert_no_panic();
    let lines = chat.stdout_lines();
    let declined: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("[System] Declined f"))
        .collect();
    assert_eq!(infos + declined.len(), 64, "{}", chat.report());
    assert!(
        declined[0].contains(": not enough room for more files: it makes 2 files and folders"),
        "{}",
        chat.report()
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Could not save") || l.contains("cut transfers")),
        "{}",
        chat.report()
    );
}

/// A folder that would make one more folder where the disk has no inode
/// left is refused, and the line says so in the singular.
#[test]
fn a_folder_refused_for_one_more_folder_says_it_in_the_singular() {
    let dir = TestDir::new("hd_one_inode");
    let downloads = dir.join("received_files");
    let Some(disk) = SmallDisk::tmpfs_with_inodes(&downloads, 16, 100) else {
        return;
    };
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), Some(&disk), &[]);
    peer.send(&[folder(0, 1, 1, "album")]);
    peer.expect_message(&mut chat, accept_folder(0));
    // Offers take what inodes are left.
    let names: Vec<String> = (1..64).map(|i| format!("f{i}")).collect();
    let offers: Vec<Message> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Message::Offer {
            id: i as FileId + 1,
            size: 1,
            name,
        })
        .collect();
    peer.send(&offers);
    sync(&mut chat, &mut peer, "all offered");
    // The last inodes, but for the one the folder's own file needs.
    for path in ["more", "again", "and again"] {
        peer.send(&[Message::Subfolder { folder: 0, path }]);
    }
    chat.expect_line("the folder refused", |line| {
        line.starts_with(
            "[System] Refused folder album: not enough room for more files: it makes 1 file or \
             folder and the disk of received_files has room for only ",
        )
    });
    peer.cut();
    let _ = chat.wait_exit();
    chat.assert_no_panic();
}

/// On a machine where no file ever arrived (no `received_files`, none
/// named), `chat discard` says that nothing is kept, and succeeds.
#[test]
fn discard_before_any_file_arrived_finds_nothing_kept() {
    let dir = TestDir::new("hd_discard_fresh");
    let mut discard = Chat::spawn("discard", dir.path(), &["discard"]);
    assert_eq!(discard.wait_exit(), 0, "{}", discard.report());
    assert_eq!(
        discard.stdout_lines(),
        ["Nothing kept to discard in received_files/.chat-partial."],
        "{}",
        discard.report()
    );
    assert_eq!(discard.stderr_text(), "");
    assert!(!dir.join("received_files").exists());
}

/// An offer taken for the file of its name and size here needs no room
/// while the peer has not said that its file comes whole: another offer
/// that fits beside what else is promised is taken. Cut before the peer
/// said, the chat says that nothing arrived and the file here stands.
#[test]
fn a_file_taken_for_the_one_here_needs_no_room_unless_it_comes_whole() {
    let dir = TestDir::new("hd_identical_promise");
    let downloads = dir.join("received_files");
    let Some(disk) = SmallDisk::tmpfs(&downloads, 50) else {
        return;
    };
    let (mut chat, mut peer) = alice_and_mallory(dir.path(), Some(&disk), &[]);
    let video = common::pseudo_random_bytes(28 << 20, 7);
    fs::write(disk.seen_by(chat.pid()).join("video.mp4"), &video).unwrap();
    let free = disk.free(chat.pid());
    assert!(
        ((15 << 20) + (1 << 20)..28 << 20).contains(&free),
        "{free} bytes free"
    );
    peer.send(&[Message::Offer {
        id: 0,
        size: video.len() as u64,
        name: "video.mp4",
    }]);
    peer.expect_message(
        &mut chat,
        Message::Accept {
            id: 0,
            offset: video.len() as u64,
            prefix: hash(&video),
        },
    );
    // Before its Begin: the file here is not promised to it.
    peer.send(&[Message::Offer {
        id: 1,
        size: 15 << 20,
        name: "other.bin",
    }]);
    peer.expect_message(&mut chat, accept_new(1));
    chat.expect_exact(
        "[System] Checking video.mp4 (28.0 MiB) against the file of that name here...",
    );
    chat.expect_exact("[System] Incoming file other.bin (15.0 MiB)...");
    peer.send(&[chunk(1, b"a little")]);
    sync(&mut chat, &mut peer, "cut here");
    peer.cut();
    chat.expect_exact(
        "[System] Transfer of video.mp4 incomplete: nothing arrived, and the file of that name \
         here is untouched.",
    );
    let _ = chat.wait_exit();
    chat.assert_no_panic();
}
