//! What the receiving side does with what it is sent on the encrypted
//! wire: a folder saved whole, a file resumed from what was kept of an
//! earlier try, and a file of the same name and size here already.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Person, Setup, meet, scratch};
use crate::engine::command::Command;
use crate::files::download::DownloadDir;
use crate::files::kept::{Kept, KeptOwner};
use crate::identity::Identity;

/// `size` bytes that differ from one to the next.
fn contents(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

/// A file `name` holding `bytes` in a folder of its own, and its path.
fn file(test: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(&format!("{test}-out")).join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// A folder `photos` with files at its top and in two levels of
/// subfolders, one file empty, and an empty subfolder; and its path.
fn folder(test: &str) -> PathBuf {
    let root = scratch(&format!("{test}-out")).join("photos");
    fs::create_dir_all(root.join("2024/summer")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("cover.jpg"), contents(70_000)).unwrap();
    fs::write(root.join("2024/beach.jpg"), contents(150_000)).unwrap();
    fs::write(root.join("2024/summer/notes.txt"), b"sand").unwrap();
    fs::write(root.join("2024/summer/nothing"), b"").unwrap();
    root
}

/// Each file under `dir`, by its path inside it, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let inside = path.strip_prefix(dir).unwrap().to_path_buf();
                found.push((inside, fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

/// Whose what Ana sends is: her identity (see `meet`).
fn ana_s() -> KeptOwner {
    KeptOwner::Peer(Identity::from_secret(&[2; 32]).public())
}

fn part_ways(ana: Person, bea: Person) {
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}

#[test]
fn a_folder_arrives_whole_with_its_subfolders() {
    let (ana, bea) = meet("receiving-folder", Setup::default(), Setup::default());
    let sent = folder("receiving-folder");
    ana.order(Command::Send(vec![sent.clone()]));
    bea.front
        .wait_for(&["Arriving", "name: \"photos\"", "files: Some(4)"]);
    bea.front
        .wait_for(&["FolderSaved", "photos", "files: 4", "bytes: 220004"]);
    let saved = bea.downloads.join("photos");
    assert_eq!(tree(&saved), tree(&sent));
    assert!(
        saved.join("empty").is_dir(),
        "an empty subfolder is made too"
    );
    part_ways(ana, bea);
}

#[test]
fn a_folder_that_waits_is_saved_once_accepted() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("receiving-folder-asked", Setup::default(), asks);
    let sent = folder("receiving-folder-asked");
    ana.order(Command::Send(vec![sent.clone()]));
    bea.front
        .wait_for(&["Asked", "name: \"photos\"", "files: Some(4)"]);
    assert!(!bea.downloads.join("photos").exists());
    bea.order(Command::Accept(None));
    bea.front.wait_for(&["FolderSaved", "photos", "files: 4"]);
    assert_eq!(tree(&bea.downloads.join("photos")), tree(&sent));
    part_ways(ana, bea);
}

#[test]
fn a_file_resumes_from_what_was_kept_of_an_earlier_try() {
    let (ana, bea) = meet("receiving-resumed", Setup::default(), Setup::default());
    let bytes = contents(300_000);
    // What a try that was cut left: the first part, kept hidden.
    let kept = Kept::of(&DownloadDir::new(&bea.downloads));
    let mut part = kept.file("big.bin", bytes.len() as u64, ana_s()).unwrap();
    part.write(&bytes[..120_000]).unwrap();
    drop(part);
    ana.order(Command::Send(vec![file(
        "receiving-resumed",
        "big.bin",
        &bytes,
    )]));
    bea.front
        .wait_for(&["Resuming { name: \"big.bin\", kept: 120000, size: 300000 }"]);
    bea.front.wait_for(&["Receive(Saved", "big.bin"]);
    ana.front.wait_for(&["Sent", "big.bin"]);
    assert_eq!(fs::read(bea.downloads.join("big.bin")).unwrap(), bytes);
    assert!(kept.list().is_empty(), "nothing is kept once it is saved");
    part_ways(ana, bea);
}

#[test]
fn what_was_kept_of_another_peers_file_is_neither_resumed_nor_touched() {
    let test = "receiving-not-theirs";
    let (ana, bea) = meet(test, Setup::default(), Setup::default());
    let bytes = contents(300_000);
    // What a try by somebody else, cut, left: the same first bytes even,
    // under the same name and size.
    let kept = Kept::of(&DownloadDir::new(&bea.downloads));
    let someone_else = KeptOwner::Peer(Identity::from_secret(&[9; 32]).public());
    let mut part = kept
        .file("big.bin", bytes.len() as u64, someone_else)
        .unwrap();
    part.write(&bytes[..120_000]).unwrap();
    let (part_path, part_hidden) = (part.path().to_path_buf(), kept.path().to_path_buf());
    drop(part);
    let before = fs::read(&part_path).unwrap();
    let notes = |dir: &Path| {
        let mut found: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| (e.file_name(), fs::read(e.path()).unwrap()))
            .collect();
        found.sort();
        found
    };
    let hidden_before = notes(&part_hidden);
    ana.order(Command::Send(vec![file(test, "big.bin", &bytes)]));
    bea.front.wait_for(&["Receive(Saved", "big.bin"]);
    ana.front.wait_for(&["Sent", "big.bin"]);
    for side in [&ana, &bea] {
        assert!(!side.front.saw(&["Resuming"]), "resumed another's part");
    }
    bea.front
        .wait_for(&["Arriving", "name: \"big.bin\"", "size: 300000"]);
    assert_eq!(fs::read(bea.downloads.join("big.bin")).unwrap(), bytes);
    assert_eq!(notes(&part_hidden), hidden_before, "the kept part changed");
    assert_eq!(fs::read(&part_path).unwrap(), before);
    let listed: Vec<_> = kept.list().into_iter().map(|i| (i.name, i.held)).collect();
    assert_eq!(listed, [("big.bin".to_string(), 120_000)]);
    part_ways(ana, bea);
}

#[test]
fn a_file_here_already_is_not_sent_again() {
    let (ana, bea) = meet("receiving-there", Setup::default(), Setup::default());
    let bytes = contents(200_000);
    fs::write(bea.downloads.join("same.bin"), &bytes).unwrap();
    ana.order(Command::Send(vec![file(
        "receiving-there",
        "same.bin",
        &bytes,
    )]));
    bea.front.wait_for(&["Checking", "name: \"same.bin\""]);
    bea.front
        .wait_for(&["AlreadyThere { name: \"same.bin\", from: None, came_whole: false }"]);
    assert_eq!(fs::read(bea.downloads.join("same.bin")).unwrap(), bytes);
    let visible = fs::read_dir(&bea.downloads)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(visible, 1, "nothing was saved beside it");
    part_ways(ana, bea);
}

#[test]
fn a_different_file_of_the_same_name_and_size_comes_whole_beside_it() {
    let (ana, bea) = meet("receiving-differs", Setup::default(), Setup::default());
    let bytes = contents(200_000);
    let other = vec![1; bytes.len()];
    fs::write(bea.downloads.join("same.bin"), &other).unwrap();
    ana.order(Command::Send(vec![file(
        "receiving-differs",
        "same.bin",
        &bytes,
    )]));
    bea.front
        .wait_for(&["Differs { name: \"same.bin\", size: 200000 }"]);
    bea.front.wait_for(&["Receive(Saved", "same"]);
    assert_eq!(fs::read(bea.downloads.join("same.bin")).unwrap(), other);
    let arrived: Vec<_> = fs::read_dir(&bea.downloads)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && fs::read(p).unwrap() == bytes)
        .collect();
    assert_eq!(arrived.len(), 1, "saved once, under another name");
    part_ways(ana, bea);
}
