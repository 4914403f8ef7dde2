//! Files going between the two sides: sent and saved, offers that wait,
//! declined and withdrawn.

use std::fs;

use super::{Setup, Wire, meet, scratch};
use crate::engine::command::Command;

/// A file of `size` bytes in a folder of its own, and its path.
fn file(test: &str, name: &str, size: usize) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let path = scratch(&format!("{test}-out")).join(name);
    fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[test]
fn a_file_sent_is_saved_whole_on_the_other_side() {
    for wire in [Wire::Encrypted, Wire::Plain] {
        let test = format!("sent-{wire:?}");
        let setup = Setup {
            wire,
            ..Setup::default()
        };
        let (ana, bea) = meet(&test, setup, setup);
        let (path, bytes) = file(&test, "notes.bin", 300_000);
        ana.order(Command::Send(vec![path]));
        bea.front.wait_for(&["Saved", "notes.bin"]);
        ana.front.wait_for(&["Sent", "notes.bin", "size: 300000"]);
        assert_eq!(fs::read(bea.downloads.join("notes.bin")).unwrap(), bytes);
        ana.order(Command::Quit);
        ana.ended().unwrap();
        bea.ended().unwrap();
    }
}

#[test]
fn an_offer_that_waits_is_saved_once_accepted() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("accepted", Setup::default(), asks);
    let (path, bytes) = file("accepted", "photo.jpg", 5000);
    ana.order(Command::Send(vec![path]));
    bea.front
        .wait_for(&["Asked", "name: \"photo.jpg\"", "size: 5000"]);
    assert!(!bea.downloads.join("photo.jpg").exists());
    bea.order(Command::Accept(None));
    bea.front.wait_for(&["Accepted { name: \"photo.jpg\" }"]);
    bea.front.wait_for(&["Saved", "photo.jpg"]);
    assert_eq!(fs::read(bea.downloads.join("photo.jpg")).unwrap(), bytes);
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}

#[test]
fn a_declined_offer_is_said_not_saved_on_the_senders_side() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("declined", Setup::default(), asks);
    let (path, _) = file("declined", "big.iso", 5000);
    ana.order(Command::Send(vec![path]));
    bea.front.wait_for(&["Asked", "big.iso"]);
    bea.order(Command::Decline(None));
    bea.front
        .wait_for(&["DeclinedByUs { name: \"big.iso\", to: Peer }"]);
    ana.front
        .wait_for(&["NotSaved", "big.iso", "reason: \"declined\""]);
    assert!(!bea.downloads.join("big.iso").exists());
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}

#[test]
fn an_offer_cancelled_by_its_sender_is_withdrawn_on_the_other_side() {
    let asks = Setup {
        ask_above: Some(0),
        ..Setup::default()
    };
    let (ana, bea) = meet("withdrawn", Setup::default(), asks);
    let (path, _) = file("withdrawn", "draft.txt", 5000);
    ana.order(Command::Send(vec![path]));
    bea.front.wait_for(&["Asked", "draft.txt"]);
    ana.order(Command::Cancel(None));
    ana.front
        .wait_for(&["Cancelled", "draft.txt", "to: Some(Peer)"]);
    bea.front.wait_for(&["Withdrawn { name: \"draft.txt\" }"]);
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}

#[test]
fn accepting_with_nothing_offered_is_answered_with_why() {
    let (ana, bea) = meet("nothing", Setup::default(), Setup::default());
    bea.order(Command::Accept(None));
    bea.front.wait_for(&["Undecided(NoOffer)"]);
    bea.order(Command::Cancel(Some(7)));
    bea.front.wait_for(&["NotCancelled"]);
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}
