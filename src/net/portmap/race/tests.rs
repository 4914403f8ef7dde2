//! The race between methods with attempts played by the test: who wins,
//! what becomes of a mapping made too late, and which failure is told.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::super::tests::{Event, FakeLease};
use super::*;

const PATIENCE: Duration = Duration::from_secs(5);

/// An attempt that makes a mapping of `port` once `go` is dropped or sent.
fn mapping_when(go: Receiver<()>, port: u16, events: &Sender<Event>) -> Attempt {
    let events = events.clone();
    Attempt::new(Method::Upnp, move |_| {
        let _ = go.recv();
        Ok(Box::new(FakeLease::new(port, &events)) as Box<dyn Lease>)
    })
}

fn mapping_now(port: u16, events: &Sender<Event>) -> Attempt {
    let events = events.clone();
    Attempt::new(Method::NatPmp, move |_| {
        Ok(Box::new(FakeLease::new(port, &events)) as Box<dyn Lease>)
    })
}

fn failing(error: fn() -> MapError) -> Attempt {
    Attempt::new(Method::NatPmp, move |_| Err(error()))
}

#[test]
fn the_first_mapping_wins_and_one_made_after_it_is_removed() {
    let (events, happened) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let attempts = vec![
        mapping_when(wait, 6000, &events),
        mapping_now(5050, &events),
    ];
    let winner = race(attempts, Deadline::after(PATIENCE)).unwrap();
    assert_eq!(winner.external().port(), 5050);
    drop(go);
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Removed(6000)));
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Dropped(6000)));
}

#[test]
fn the_same_port_mapped_by_the_other_method_is_removed_with_the_winner() {
    let (events, happened) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let attempts = vec![
        mapping_now(5050, &events),
        mapping_when(wait, 5050, &events),
    ];
    let winner = race(attempts, Deadline::after(PATIENCE)).unwrap();
    drop(go);
    // Not while the winner is in use: the router may hold one mapping for both.
    assert_eq!(happened.try_recv(), Err(mpsc::TryRecvError::Empty));
    winner.remove(Deadline::after(PATIENCE));
    for _ in 0..2 {
        assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Removed(5050)));
    }
}

#[test]
fn a_twin_made_after_the_winner_was_removed_is_removed_at_once() {
    let (events, happened) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let attempts = vec![
        mapping_now(5050, &events),
        mapping_when(wait, 5050, &events),
    ];
    let winner = race(attempts, Deadline::after(PATIENCE)).unwrap();
    winner.remove(Deadline::after(PATIENCE));
    assert_eq!(happened.try_recv(), Ok(Event::Removed(5050)));
    drop(go);
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Removed(5050)));
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Dropped(5050)));
}

#[test]
fn silence_ends_at_the_deadline_and_a_later_mapping_is_removed() {
    let (events, happened) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let start = Instant::now();
    let within = Duration::from_millis(300);
    let outcome = race(
        vec![mapping_when(wait, 6000, &events)],
        Deadline::after(within),
    );
    let took = start.elapsed();
    assert!(
        matches!(outcome, Err(MapError::TimedOut(d)) if d == within),
        "{:?}",
        outcome.map(|lease| lease.external())
    );
    assert!(took >= within && took < within * 2, "took {took:?}");
    drop(go);
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Removed(6000)));
}

#[test]
fn when_every_method_fails_the_most_telling_failure_is_told_at_once() {
    let start = Instant::now();
    let refused = || MapError::Refused {
        method: Method::NatPmp,
        reason: "result 2 (not authorized or refused)".into(),
    };
    let silent = || MapError::TimedOut(Duration::ZERO);
    let outcome = race(
        vec![failing(silent), failing(refused)],
        Deadline::after(PATIENCE),
    );
    assert!(
        matches!(outcome, Err(MapError::Refused { .. })),
        "{:?}",
        outcome.map(|lease| lease.external())
    );
    assert!(start.elapsed() < PATIENCE);
    // Silence alone is told with the time the caller gave.
    let outcome = race(
        vec![failing(silent), failing(silent)],
        Deadline::after(PATIENCE),
    );
    assert!(matches!(outcome, Err(MapError::TimedOut(d)) if d == PATIENCE));
}
