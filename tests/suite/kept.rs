//! Kept parts belong to their sender: what is kept of a cut transfer
//! resumes only for the identity that sent it. Another peer offering the
//! same name and size is answered as if nothing were kept (offset 0, the
//! hash of nothing), and what it sends neither cuts short, prunes nor
//! removes what was kept; the sender, back, resumes where it was cut.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common;
use crate::common::hostile::{HostilePeer, chunk, end_of, entry, folder, hash};
use crate::common::{Chat, TestDir, dir_entries};
use chat::identity::Identity;
use chat::net::secure::handshake::Credentials;
use chat::wire::message::{FOLDER_STREAMED, FileId, Message};

/// A chat named alice listening in `dir`, and a hand-made peer named
/// `name` connected to it proving `identity` (every hostile peer's when
/// `None`).
fn alice_meets(dir: &Path, name: &str, identity: Option<&Identity>) -> (Chat, HostilePeer) {
    let (mut chat, port) = Chat::listen_encrypted("alice", dir, &["--name", "alice"]);
    let mut peer = match identity {
        None => HostilePeer::connect(port),
        Some(identity) => HostilePeer::connect_proving(
            port,
            Credentials {
                identity,
                code: None,
                expect: None,
            },
        ),
    };
    chat.expect_prefix("[System] Encrypted. Safety code: ");
    peer.expect_message(&mut chat, Message::Hello { name: "alice" });
    peer.send(&[Message::Hello { name }]);
    (chat, peer)
}

/// An identity that is not every hostile peer's.
fn eve() -> Identity {
    Identity::from_secret(&[77; 32])
}

/// Returns once everything `peer` sent before was dealt with.
fn sync(chat: &mut Chat, peer: &mut HostilePeer, name: &str, tag: &str) {
    peer.send(&[Message::Text(tag)]);
    chat.expect_exact(&format!("[{name}] {tag}"));
}

/// `peer` (named `name`) leaves with a goodbye; the chat exits cleanly.
fn goodbye(chat: &mut Chat, peer: &mut HostilePeer, name: &str) {
    peer.close();
    chat.expect_exact(&format!("[{name}] has left the chat."));
    assert_eq!(chat.wait_exit(), 0, "{}", chat.report());
    chat.assert_no_panic();
}

/// `peer` cuts the connection; the chat says what it kept and exits.
fn cut(chat: &mut Chat, peer: &mut HostilePeer, incomplete: &str) {
    peer.close();
    chat.expect_prefix(incomplete);
    let _ = chat.wait_exit();
    chat.assert_no_panic();
}

fn accept(id: FileId, offset: u64, prefix: [u8; 32]) -> Message<'static> {
    Message::Accept { id, offset, prefix }
}

/// Every file below the hidden folder of `dir`'s download folder, with its
/// bytes: what is kept, byte for byte.
fn kept_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.join("received_files/.chat-partial")];
    while let Some(at) = todo.pop() {
        for entry in fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.is_dir() {
                true => todo.push(path),
                false => found.push((path.clone(), fs::read(&path).unwrap())),
            }
        }
    }
    found.sort();
    found
}

/// Mallory's file is cut after 60 of its 100 bytes; Eve, another
/// identity, then offers the same name and size: she is answered as if
/// nothing were kept, her file comes whole and is saved, and Mallory's
/// part stays as it was. Mallory, back, resumes at 60.
#[test]
fn a_part_kept_for_one_peer_is_as_if_absent_for_another() {
    let dir = TestDir::new("kept_file_owner");
    let data = common::pseudo_random_bytes(100, 41);
    let offer = Message::Offer {
        id: 0,
        size: 100,
        name: "big.bin",
    };
    {
        let (mut chat, mut peer) = alice_meets(dir.path(), "mallory", None);
        peer.send(std::slice::from_ref(&offer));
        peer.expect_message(&mut chat, accept(0, 0, hash(b"")));
        peer.send(&[chunk(0, &data[..60])]);
        sync(&mut chat, &mut peer, "mallory", "cut here");
        cut(
            &mut chat,
            &mut peer,
            "[System] Transfer of big.bin incomplete",
        );
    }
    let kept = kept_in(dir.path());
    assert_eq!(kept.len(), 2, "a part and its note: {kept:?}");

    // Eve: the same name and size, other bytes.
    let theirs = common::pseudo_random_bytes(100, 42);
    let (mut chat, mut peer) = alice_meets(dir.path(), "eve", Some(&eve()));
    peer.send(std::slice::from_ref(&offer));
    peer.expect_message(&mut chat, accept(0, 0, hash(b"")));
    chat.expect_exact("[System] Incoming file big.bin (100 B)...");
    peer.send(&[chunk(0, &theirs), end_of(0, &theirs)]);
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    chat.expect_saved("received_files/big.bin");
    goodbye(&mut chat, &mut peer, "eve");
    assert!(
        !chat.stdout_lines().iter().any(|l| l.contains("Resuming")),
        "{}",
        chat.report()
    );
    assert!(fs::read(dir.join("received_files/big.bin")).unwrap() == theirs);
    assert_eq!(kept_in(dir.path()), kept, "what was kept changed");

    // Mallory again: it resumes, from where it was cut.
    let (mut chat, mut peer) = alice_meets(dir.path(), "mallory", None);
    peer.send(std::slice::from_ref(&offer));
    peer.expect_message(&mut chat, accept(0, 60, hash(&data[..60])));
    peer.send(&[
        Message::Begin { id: 0, offset: 60 },
        chunk(0, &data[60..]),
        end_of(0, &data),
    ]);
    chat.expect_exact("[System] Resuming big.bin: 60 B of 100 B kept from before.");
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    chat.expect_saved("received_files/big (1).bin");
    goodbye(&mut chat, &mut peer, "mallory");
    assert!(fs::read(dir.join("received_files/big (1).bin")).unwrap() == data);
    assert!(kept_in(dir.path()).is_empty());
    assert_eq!(
        dir_entries(&dir.join("received_files")),
        ["big (1).bin", "big.bin"]
    );
}

/// The same for a folder: Eve's folder of the name Mallory's was kept
/// under is streamed as one nothing is held of, its file answered at 0;
/// what she sends and ends neither prunes nor cuts short Mallory's, which
/// then resumes file by file.
#[test]
fn a_folder_kept_for_one_peer_is_as_if_absent_for_another() {
    let dir = TestDir::new("kept_folder_owner");
    {
        let (mut chat, mut peer) = alice_meets(dir.path(), "mallory", None);
        peer.send(&[folder(0, 2, 20, "pics")]);
        peer.expect_message(&mut chat, accept(0, FOLDER_STREAMED, [0; 32]));
        peer.send(&[entry(1, 0, 10, "a.txt"), chunk(1, b"01234")]);
        peer.expect_message(&mut chat, accept(1, 0, hash(b"")));
        sync(&mut chat, &mut peer, "mallory", "cut here");
        cut(&mut chat, &mut peer, "[System] Folder pics incomplete");
    }
    let kept = kept_in(dir.path());
    assert_eq!(kept.len(), 2, "a.txt and the folder's note: {kept:?}");

    let (mut chat, mut peer) = alice_meets(dir.path(), "eve", Some(&eve()));
    peer.send(&[folder(0, 1, 10, "pics")]);
    peer.expect_message(&mut chat, accept(0, FOLDER_STREAMED, [0; 32]));
    peer.send(&[
        entry(1, 0, 10, "a.txt"),
        chunk(1, b"XXXXXXXXXX"),
        end_of(1, b"XXXXXXXXXX"),
    ]);
    peer.expect_message(&mut chat, accept(1, 0, hash(b"")));
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    peer.send(&[Message::End {
        id: 0,
        hash: [0; 32],
    }]);
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    chat.expect_prefix("[System] Folder saved to received_files/pics (1 file, 10 B");
    goodbye(&mut chat, &mut peer, "eve");
    assert_eq!(kept_in(dir.path()), kept, "what was kept changed");
    assert!(fs::read(dir.join("received_files/pics/a.txt")).unwrap() == b"XXXXXXXXXX");

    let (mut chat, mut peer) = alice_meets(dir.path(), "mallory", None);
    peer.send(&[folder(0, 2, 20, "pics")]);
    // Holding part of it, the chat answers each file before it comes.
    peer.expect_message(&mut chat, accept(0, 0, [0; 32]));
    peer.send(&[entry(1, 0, 10, "a.txt")]);
    peer.expect_message(&mut chat, accept(1, 5, hash(b"01234")));
    peer.send(&[
        Message::Begin { id: 1, offset: 5 },
        chunk(1, b"56789"),
        end_of(1, b"0123456789"),
        entry(2, 0, 10, "b.txt"),
    ]);
    peer.expect_message(&mut chat, Message::Saved { id: 1 });
    peer.expect_message(&mut chat, accept(2, 0, hash(b"")));
    peer.send(&[
        chunk(2, b"abcdefghij"),
        end_of(2, b"abcdefghij"),
        Message::End {
            id: 0,
            hash: [0; 32],
        },
    ]);
    peer.expect_message(&mut chat, Message::Saved { id: 2 });
    peer.expect_message(&mut chat, Message::Saved { id: 0 });
    chat.expect_prefix("[System] Folder saved to received_files/pics (1) (2 files, 20 B");
    goodbye(&mut chat, &mut peer, "mallory");
    let saved = dir.join("received_files/pics (1)");
    assert!(fs::read(saved.join("a.txt")).unwrap() == b"0123456789");
    assert!(fs::read(saved.join("b.txt")).unwrap() == b"abcdefghij");
    assert!(kept_in(dir.path()).is_empty());
}
