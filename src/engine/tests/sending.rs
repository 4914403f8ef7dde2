//! The sender's side of files on the encrypted wire: cancelled while
//! queued or on their way, and leaving at once with offers unanswered or
//! a file on its way.

use std::fs;
use std::path::PathBuf;

use anyhow::Result;

use super::{Person, Setup, meet, scratch};
use crate::engine::command::Command;

/// A sparse file of `size` bytes, in a folder of its own: big enough to be
/// on its way for a while, without taking the room.
fn large(test: &str, name: &str, size: u64) -> PathBuf {
    let path = scratch(&format!("{test}-out")).join(name);
    fs::File::create(&path).unwrap().set_len(size).unwrap();
    path
}

/// Small files, one per name, in a folder of their own.
fn small(test: &str, names: &[&str]) -> Vec<PathBuf> {
    let dir = scratch(&format!("{test}-out"));
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            fs::write(&path, b"a few bytes").unwrap();
            path
        })
        .collect()
}

/// Waits for the sender's progress on `name`: its chunks are on their way.
fn on_its_way(sender: &Person, name: &str) {
    let name = format!("name: \"{name}\"");
    sender.front.wait_for(&["Live", "direction: Send", &name]);
}

/// The id `/status` lists for `name`, from the form of its event.
fn transfer_id(status: &str, name: &str) -> u64 {
    let row = status.find(&format!("name: \"{name}\"")).expect("listed");
    status[..row]
        .rsplit_once("id: ")
        .and_then(|(_, id)| id.split(',').next()?.parse().ok())
        .expect("an id before the name")
}

/// Waits for both sides to end, then removes the folders the test wrote
/// in (a large file leaves a part behind); gives how each side ended.
fn end(test: &str, ana: Person, bea: Person) -> (Result<()>, Result<()>) {
    let downloads = [ana.downloads.clone(), bea.downloads.clone()];
    let ended = (ana.ended(), bea.ended());
    let _ = fs::remove_dir_all(scratch(&format!("{test}-out")));
    for folder in downloads {
        let _ = fs::remove_dir_all(folder);
    }
    ended
}

#[test]
fn a_file_cancelled_on_its_way_stops_and_the_other_side_drops_it() {
    let (ana, bea) = meet("cancel-going", Setup::default(), Setup::default());
    let path = large("cancel-going", "big.bin", 1 << 30);
    ana.order(Command::Send(vec![path]));
    on_its_way(&ana, "big.bin");
    ana.order(Command::Cancel(None));
    ana.front
        .wait_for(&["Cancelled", "name: \"big.bin\"", "to: Some(Peer)"]);
    bea.front
        .wait_for(&["Stopped { name: \"big.bin\", folder: false }"]);
    assert!(!bea.downloads.join("big.bin").exists());
    ana.order(Command::Quit);
    bea.front.wait_for(&["PeerEnded", "end: Left"]);
    let (ana, bea) = end("cancel-going", ana, bea);
    ana.unwrap();
    bea.unwrap();
}

#[test]
fn a_file_cancelled_while_queued_is_never_offered() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("cancel-queued", Setup::default(), asks);
    let names = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"];
    ana.order(Command::Send(small("cancel-queued", &names)));
    // Four go at once; the fifth waits its turn behind them.
    for name in &names[..4] {
        bea.front.wait_for(&["Asked", &format!("name: \"{name}\"")]);
    }
    ana.order(Command::Status);
    let status = ana.front.wait_for(&["Status", "e.txt"]);
    ana.order(Command::Cancel(Some(transfer_id(&status, "e.txt"))));
    ana.front
        .wait_for(&["Cancelled", "name: \"e.txt\"", "to: None"]);
    ana.order(Command::Quit);
    ana.order(Command::Quit);
    bea.front.wait_for(&["PeerEnded", "end: Left"]);
    assert!(!bea.front.saw(&["e.txt"]));
    let (ana, bea) = end("cancel-queued", ana, bea);
    ana.unwrap();
    bea.unwrap();
}

#[test]
fn leaving_at_once_withdraws_an_offer_that_waits() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("leave-offered", Setup::default(), asks);
    let paths = small("leave-offered", &["draft.txt"]);
    ana.order(Command::Send(paths));
    bea.front.wait_for(&["Asked", "draft.txt"]);
    // Leaving waits for the answer; leaving again does not.
    ana.order(Command::Quit);
    ana.order(Command::Quit);
    ana.front
        .wait_for(&["Cancelled", "name: \"draft.txt\"", "to: Some(Peer)"]);
    bea.front.wait_for(&["Withdrawn { name: \"draft.txt\" }"]);
    bea.front.wait_for(&["PeerEnded", "end: Left"]);
    let (ana, bea) = end("leave-offered", ana, bea);
    ana.unwrap();
    bea.unwrap();
}

#[test]
fn leaving_at_once_stops_a_file_on_its_way_and_the_other_side_keeps_it() {
    let (ana, bea) = meet("leave-going", Setup::default(), Setup::default());
    let path = large("leave-going", "big.bin", 1 << 30);
    ana.order(Command::Send(vec![path]));
    on_its_way(&ana, "big.bin");
    ana.order(Command::Quit);
    ana.order(Command::Quit);
    ana.front
        .wait_for(&["StoppedLeaving", "name: \"big.bin\"", "to: Peer"]);
    bea.front
        .wait_for(&["IncompleteKept", "name: \"big.bin\"", "received"]);
    let (ana, bea) = end("leave-going", ana, bea);
    ana.unwrap();
    // (Cut in the middle of a file, its conversation ended short.)
    assert!(bea.is_err());
}
