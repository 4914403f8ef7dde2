//! The list and its meters, as the typed values they report; how the
//! terminal words them is tested beside its words.

use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::engine::{Event, Frontend};

/// What a front end was shown of transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Live { id: u64, done: u64, pace: Pace },
    Ended(u64),
    Other,
}

/// A front end that keeps what it is shown.
#[derive(Default)]
struct Recorder {
    attended: bool,
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Frontend for Recorder {
    fn show(&self, event: Event<'_>) {
        let seen = match event {
            Event::Progress(ProgressEvent::Live { id, figures, .. }) => Seen::Live {
                id,
                done: figures.done,
                pace: figures.pace,
            },
            Event::Progress(ProgressEvent::Ended { id }) => Seen::Ended(id),
            _ => Seen::Other,
        };
        self.seen.lock().unwrap().push(seen);
    }

    fn attended(&self) -> bool {
        self.attended
    }
}

/// Every offer fits.
fn fits(_needed: Owed, _promised: Owed) -> Result<(), String> {
    Ok(())
}

fn bytes_owed(bytes: u64) -> Owed {
    Owed { bytes, files: 0 }
}

#[test]
fn status_lists_running_and_queued_transfers() {
    let transfers = Transfers::default();
    assert_eq!(transfers.status(), []);
    let front = Recorder::default();
    let running = transfers.enqueue(Direction::Send, "a.bin", 2048);
    transfers.enqueue(Direction::Send, "b.bin", 10);
    let mut meter = Meter::start(&transfers, &front, running);
    meter.advance(1024);
    let rows = transfers.status();
    assert!(
        matches!(&rows[0].stage, Stage::Moving(f) if (f.done, f.size, f.percent) == (1024, 2048, 50)),
        "{rows:?}"
    );
    let queued = Row {
        id: 2,
        direction: Direction::Send,
        name: "b.bin".into(),
        size: 10,
        stage: Stage::Queued,
    };
    assert_eq!(rows[1], queued);
    assert!(transfers.sending());
    drop(meter);
    assert_eq!(transfers.status(), [queued]);
}

#[test]
fn what_accepted_transfers_still_write_is_promised_until_they_leave() {
    let transfers = Transfers::default();
    let front = Recorder::default();
    let folder = transfers.offered("photos", 18 << 20, 1);
    let mut meter = Meter::start(&transfers, &front, folder);
    meter.advance(3 << 20);
    let waiting = transfers.offered("big.bin", 15 << 20, 2);
    transfers.ask(waiting, 5 << 20, [0; 32]);
    transfers.enqueue(Direction::Send, "ours.bin", 1 << 30);
    assert_eq!(
        transfers.promised(0),
        bytes_owed(15 << 20),
        "only what is left to write"
    );
    assert_eq!(transfers.promised(folder), Owed::default());
    // Accepting asks about what it still needs (its kept part aside)
    // beside what is promised; one that does not fit keeps waiting.
    let refused = transfers.decide(Some(waiting), true, |needed, promised| {
        assert_eq!(
            (needed, promised),
            (bytes_owed(10 << 20), bytes_owed(15 << 20))
        );
        Err("not enough free space")
    });
    assert_eq!(
        refused,
        Err(Undecided::DoesNotFit {
            id: 2,
            name: "big.bin".into(),
            why: "not enough free space"
        })
    );
    assert_eq!(transfers.verdict(waiting), Verdict::Waiting);
    assert!(transfers.decide(Some(waiting), true, fits).is_ok());
    assert_eq!(transfers.promised(0), bytes_owed(25 << 20));
    drop(meter);
    assert_eq!(transfers.promised(0), bytes_owed(10 << 20));
    transfers.forget(waiting);
    assert_eq!(transfers.promised(0), Owed::default());
}

#[test]
fn what_is_here_already_is_not_promised_and_a_folder_owes_its_files() {
    let transfers = Transfers::default();
    // The file here is counted as the one offered until it comes whole.
    let same = transfers.offered("video.mp4", 30 << 20, 1);
    transfers.counts_held(same, 30 << 20);
    let kept = transfers.offered("big.bin", 10 << 20, 2);
    transfers.counts_held(kept, 4 << 20);
    assert_eq!(transfers.promised(0), bytes_owed(6 << 20));
    transfers.begins_whole(same);
    assert_eq!(transfers.promised(0), bytes_owed(36 << 20));
    // Waiting for the user while what is here is hashed: it counts
    // as here when accepted, until the hash says otherwise.
    let asked = transfers.offered("same.iso", 1 << 30, 3);
    transfers.ask_while_hashing(asked, 1 << 30, true);
    let needed = transfers.decide(Some(asked), true, |needed, _| {
        assert_eq!(needed, Owed::default());
        Ok::<(), String>(())
    });
    assert!(needed.is_ok());
    let front = Recorder::default();
    let folder = transfers.offered("photos", 5 << 20, 4);
    transfers.count_files(folder, 300);
    let meter = Meter::start(&transfers, &front, folder);
    meter.file_done();
    assert_eq!(
        transfers.promised(same),
        Owed {
            bytes: (6 << 20) + (5 << 20),
            files: 299
        }
    );
}

#[test]
fn offers_wait_for_the_user_and_are_named_when_several_wait() {
    let transfers = Transfers::default();
    assert_eq!(transfers.decide(None, true, fits), Err(Undecided::NoOffer));
    let big = transfers.offered("big.iso", 1 << 30, 7);
    transfers.ask(big, 5, [1; 32]);
    assert_eq!(transfers.status()[0].stage, Stage::Asking);
    let other = transfers.offered("other", 1 << 30, 8);
    transfers.ask(other, 0, [0; 32]);
    assert_eq!(
        transfers.decide(None, false, fits),
        Err(Undecided::Several {
            waiting: vec![1, 2],
            accepting: false
        })
    );
    let accepted = transfers.decide(Some(big), true, fits).unwrap();
    assert_eq!(
        (accepted.id, accepted.offset, accepted.prefix),
        (7, 5, [1; 32])
    );
    assert_eq!(transfers.verdict(big), Verdict::Accepted);
    assert_eq!(transfers.decide(None, false, fits).unwrap().id, 8);
    assert_eq!(
        transfers.verdict(other),
        Verdict::Cancelled,
        "gone from the list"
    );
    assert_eq!(
        transfers.decide(Some(big), true, fits),
        Err(Undecided::NotWaiting(1))
    );
}

#[test]
fn what_leaving_would_lose_is_the_offers_waiting_and_what_arrives() {
    let transfers = Transfers::default();
    assert_eq!(transfers.at_stake(), None);
    // Ours, even waiting for the peer, go out before leaving.
    transfers.enqueue(Direction::Send, "mine.bin", 10);
    assert_eq!(transfers.at_stake(), None);
    let offer = transfers.offered("iso", 1 << 30, 7);
    transfers.ask(offer, 0, [0; 32]);
    let arriving = |list: &[(&str, u8)]| {
        list.iter()
            .map(|&(name, percent)| Arriving {
                name: name.into(),
                percent,
            })
            .collect()
    };
    let at_stake = |offers_waiting, list: &[(&str, u8)]| AtStake {
        offers_waiting,
        arriving: arriving(list),
    };
    assert_eq!(transfers.at_stake(), Some(at_stake(1, &[])));
    let front = Recorder::default();
    let mut big = Meter::begin(&transfers, &front, Direction::Receive, "big.bin", 1000);
    big.advance(400);
    assert_eq!(transfers.at_stake(), Some(at_stake(1, &[("big.bin", 40)])));
    let other = transfers.offered("other", 5, 8);
    transfers.ask(other, 0, [0; 32]);
    let accepted = transfers.offered("photos", 0, 9);
    assert_eq!(
        transfers.at_stake(),
        Some(at_stake(2, &[("big.bin", 40), ("photos", 100)]))
    );
    transfers.decide(Some(offer), false, fits).unwrap();
    transfers.decide(Some(other), false, fits).unwrap();
    transfers.forget(accepted);
    drop(big);
    assert_eq!(transfers.at_stake(), None);
}

#[test]
fn leaving_waits_for_the_offers_not_answered() {
    let transfers = Transfers::default();
    let front = Recorder::default();
    let thirty = Duration::from_secs(30);
    let going = transfers.enqueue(Direction::Send, "going.bin", 10);
    let _going = Meter::start(&transfers, &front, going);
    assert_eq!(transfers.departure(thirty).unanswered, []);
    let big = transfers.enqueue(Direction::Send, "big.bin", 1 << 30);
    let big = Meter::start(&transfers, &front, big);
    big.await_peer();
    let photos = transfers.enqueue(Direction::Send, "photos", 1 << 20);
    transfers.count_files(photos, 3);
    let photos = Meter::start(&transfers, &front, photos);
    photos.await_peer();
    transfers.joined_room();
    let unanswered = |name: &str, folder| Unanswered {
        name: name.into(),
        folder,
    };
    assert_eq!(
        transfers.departure(thirty),
        Departure {
            unanswered: vec![unanswered("big.bin", false), unanswered("photos", true)],
            counterpart: Counterpart::Room,
            patience: thirty
        }
    );
}

#[test]
fn cancelling_tells_ours_from_the_peers() {
    let transfers = Transfers::default();
    assert_eq!(transfers.cancel(None), Err(NotCancelled::NoTransfers));
    let ours = transfers.enqueue(Direction::Send, "a", 1);
    let theirs = transfers.offered("b", 2, 40);
    assert_eq!(
        transfers.cancel(None),
        Err(NotCancelled::Several(vec![ours, theirs]))
    );
    assert_eq!(
        transfers.cancel(Some(theirs)),
        Ok(Cancelled::Theirs {
            id: 40,
            name: "b".into(),
            offered: false
        })
    );
    assert_eq!(transfers.verdict(theirs), Verdict::Cancelled);
    assert_eq!(
        transfers.cancel(None),
        Ok(Cancelled::Ours {
            id: ours,
            name: "a".into()
        })
    );
    assert_eq!(transfers.cancel(Some(9)), Err(NotCancelled::Unknown(9)));
}

#[test]
fn progress_is_reported_at_a_pace_and_its_end_at_once() {
    let transfers = Transfers::default();
    let front = Recorder::default();
    let mut meter = Meter::begin(&transfers, &front, Direction::Receive, "big", 1 << 30);
    let id = meter.id();
    meter.report_due();
    meter.advance(1 << 20);
    // Too soon for another report.
    meter.advance(1 << 20);
    meter.advance((1 << 30) - (2 << 20));
    assert_eq!(meter.summary(), None, "nobody follows it");
    drop(meter);
    let seen = front.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(matches!(seen[0], Seen::Live { done, .. } if done == 1 << 20));
    assert!(matches!(seen[1], Seen::Live { done, .. } if done == 1 << 30));
    assert_eq!(seen[2], Seen::Ended(id));
}

#[test]
fn a_stalled_transfer_is_reported_once_a_second_until_bytes_move() {
    let transfers = Transfers::default();
    let front = Recorder::default();
    let mut meter = Meter::begin(&transfers, &front, Direction::Send, "big", 1 << 30);
    meter.report_due();
    meter.advance(1 << 20);
    transfers.show_stalled(&front);
    assert_eq!(front.seen().len(), 1, "not stalled yet");
    meter.stand_still(STALLED_AFTER);
    transfers.show_stalled(&front);
    transfers.show_stalled(&front);
    let seen = front.seen();
    assert_eq!(seen.len(), 2, "once a second: {seen:?}");
    assert!(
        matches!(seen[1], Seen::Live { pace: Pace::Stalled(still), .. } if still.as_secs() == 3)
    );
    // Bytes move: no longer stalled.
    meter.report_due();
    meter.advance(1 << 20);
    let seen = front.seen();
    assert!(matches!(seen[2], Seen::Live { pace, .. } if !matches!(pace, Pace::Stalled(_))));
    transfers.show_stalled(&front);
    assert_eq!(front.seen().len(), 3);
    // Once it ends, nothing reports it again.
    meter.stand_still(STALLED_AFTER * 2);
    let id = meter.id();
    drop(meter);
    transfers.show_stalled(&front);
    assert_eq!(front.seen().last(), Some(&Seen::Ended(id)));
    assert_eq!(transfers.verdict(id), Verdict::Cancelled, "off the list");
}

#[test]
fn a_summary_is_for_a_person_and_times_what_moved() {
    let transfers = Transfers::default();
    let front = Recorder {
        attended: true,
        ..Recorder::default()
    };
    let mut meter = Meter::begin(&transfers, &front, Direction::Send, "big", 2 << 30);
    meter.backdate(Duration::from_secs(2));
    meter.resume_from(3 << 29);
    meter.advance(1 << 29);
    let summary = meter.summary().unwrap();
    assert_eq!(
        (summary.direction, summary.kept, summary.moved),
        (Direction::Send, 3 << 29, 1 << 29)
    );
    let rate = summary.rate.unwrap();
    assert!((200 << 20..=256 << 20).contains(&rate), "{rate}");
}

#[test]
fn figures_are_measured_from_what_moved_now() {
    let figures = Figures::measure(
        150 << 20,
        100 << 20,
        200 << 20,
        Duration::from_secs(2),
        None,
    );
    let left = TimeLeft::About(Duration::from_secs(2));
    assert_eq!(
        (figures.percent, figures.pace),
        (
            75,
            Pace::Moving {
                rate: 25 << 20,
                left: Some(left)
            }
        )
    );
    let early = Figures::measure(3, 0, 1 << 44, Duration::from_millis(5), None);
    assert_eq!(early.pace, Pace::Unmeasured);
    let month = Duration::from_secs(30 * 24 * 3600);
    let slow = Figures::measure(1, 0, 1 << 44, month, None);
    assert_eq!(
        slow.pace,
        Pace::Moving {
            rate: 0,
            left: Some(TimeLeft::Beyond(MAX_TIME_LEFT))
        }
    );
}

proptest! {
    #[test]
    fn figures_never_pass_one_hundred_percent(
        done in any::<u64>(),
        size in prop_oneof![Just(0), Just(1), any::<u64>()],
        millis in any::<u64>(),
    ) {
        let elapsed = Duration::from_millis(millis);
        let figures = Figures::measure(done, done / 2, size, elapsed, None);
        prop_assert!(figures.percent <= 100);
    }
}
