//! The words of transfers: a running one's live line (bar, percent, rate,
//! time left) above the input, the lines of `/status`, what leaving would
//! lose or waits for, why an answer or a cancel did nothing, how a
//! finished one went, and what `/discard` removed.

use std::fmt::{self, Write as _};
use std::path::Path;
use std::time::Duration;

use crate::files::kept::Discarded;
use crate::files::size::bytes;
use crate::session::progress::{
    AtStake, Counterpart, Departure, Direction, Figures, FileCount, NotCancelled, Pace,
    ProgressEvent, Row, Stage, Summary, TimeLeft, Undecided,
};
use crate::terminal::live::{ALWAYS, Status};
use crate::terminal::screen::Screen;

/// Files up to this size get no live line: they are done at once.
const PROGRESS_THRESHOLD: u64 = 1024 * 1024;

/// The ranks of a live line's parts: when it does not fit, the lowest go
/// first (see [`Status`]): the bar, then the time left, the rate, the
/// count of files, the sizes; the name is shortened meanwhile, and goes
/// last but for the verb and the percentage.
const BAR_RANK: u8 = 0;
const TIME_LEFT_RANK: u8 = 10;
const RATE_RANK: u8 = 20;
const FILES_RANK: u8 = 30;
const SIZES_RANK: u8 = 40;
const STALLED_RANK: u8 = 50;
const NAME_RANK: u8 = 200;

/// Shows an event of transfers on `screen`. Live progress is a live line
/// at a terminal a person watches, for files over [`PROGRESS_THRESHOLD`],
/// updated in place and taken away when the transfer ends, where its final
/// line takes over; a script gets none.
pub(super) fn show(screen: &Screen, event: ProgressEvent<'_>) {
    match event {
        ProgressEvent::Live {
            id,
            direction,
            name,
            figures,
        } => {
            if screen.is_interactive() && figures.size > PROGRESS_THRESHOLD {
                screen.live(id, live_status(direction, name, &figures));
            }
        }
        ProgressEvent::Ended { id } => screen.end_live(id),
        ProgressEvent::Status(rows) => {
            for line in status_lines(&rows) {
                screen.system(line);
            }
        }
        ProgressEvent::Leaving(departure) => screen.system(leaving_line(&departure)),
    }
}

fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Send => "Sending",
        Direction::Receive => "Receiving",
    }
}

/// A live line: `Receiving big.bin [=====>        ] 120.0 MiB / 300.0
/// MiB (40%), 30.0 MiB/s, 6.0s left`, made to fit by leaving out whole
/// parts (see the ranks above).
fn live_status(direction: Direction, name: &str, figures: &Figures) -> Status {
    let mut status = Status::default()
        .text("", verb(direction), ALWAYS)
        .name(" ", name, NAME_RANK)
        .bar(" ", figures.done, figures.size, BAR_RANK)
        .text(" ", sizes(figures), SIZES_RANK)
        .text(" ", format!("({}%)", figures.percent), ALWAYS);
    status = match figures.pace {
        Pace::Unmeasured => status,
        Pace::Moving { rate, left } => {
            let status = status.text(", ", rate_text(rate), RATE_RANK);
            match left {
                Some(left) => status.text(", ", time_left(left), TIME_LEFT_RANK),
                None => status,
            }
        }
        Pace::Stalled(still) => status.text(", ", stalled(still), STALLED_RANK),
    };
    match figures.files {
        Some(files) => status.text(", ", files_count(files), FILES_RANK),
        None => status,
    }
}

/// One line per transfer for `/status`, or a single line saying there
/// are none.
fn status_lines(rows: &[Row]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["No transfers in progress or queued.".to_string()];
    }
    rows.iter()
        .map(|row| {
            let (id, name, size) = (row.id, &row.name, bytes(row.size));
            match &row.stage {
                Stage::Offered(who) => {
                    format!("#{id} Offered: {name} ({size}), waiting for {who}'s answer")
                }
                Stage::Asking => {
                    format!("#{id} Offered: {name} ({size}): /accept {id} or /decline {id}")
                }
                Stage::Queued => format!("#{id} Queued: {name} ({size})"),
                Stage::Moving(figures) => format!(
                    "#{id} {} {name}: {}",
                    verb(row.direction),
                    figures_text(figures)
                ),
            }
        })
        .collect()
}

/// What the user is told on leaving while files of ours go: leaving
/// waits for them, and for the answer to offers the counterpart has not
/// answered yet.
fn leaving_line(departure: &Departure) -> String {
    let unanswered: Vec<String> = departure
        .unanswered
        .iter()
        .map(|offer| match offer.folder {
            true => format!("folder {}", offer.name),
            false => offer.name.clone(),
        })
        .collect();
    let offers = match unanswered.len() {
        0 => {
            return "Leaving once the files being sent are through (Ctrl-C leaves at once)."
                .to_string();
        }
        1 => "the offer of",
        _ => "the offers of",
    };
    format!(
        "Leaving once the files being sent are through; {} has not answered {offers} {} \
         yet, and is waited for up to {} s (Ctrl-C leaves at once).",
        departure.counterpart,
        in_words(unanswered),
        departure.patience.as_secs()
    )
}

impl fmt::Display for Counterpart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Peer => "the peer",
            Self::Room => "the room",
        })
    }
}

/// `declines 1 offer waiting for your answer and stops big.bin at 40%`.
impl fmt::Display for AtStake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.offers_waiting {
            0 => {}
            1 => parts.push("declines 1 offer waiting for your answer".to_string()),
            n => parts.push(format!("declines {n} offers waiting for your answer")),
        }
        let arriving: Vec<String> = self
            .arriving
            .iter()
            .map(|a| format!("{} at {}%", a.name, a.percent))
            .collect();
        if !arriving.is_empty() {
            parts.push(format!("stops {}", in_words(arriving)));
        }
        f.write_str(&in_words(parts))
    }
}

/// `2.3s at 305.4 MiB/s`, or just `0.0s` for a transfer too quick to
/// time; a resumed one says first how much was there.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timing = match self.rate {
            Some(rate) => format!("{} at {}", duration(self.elapsed), rate_text(rate)),
            None => duration(self.elapsed),
        };
        let there = match self.direction {
            Direction::Send => "there already",
            Direction::Receive => "kept from before",
        };
        match self.kept {
            0 => f.write_str(&timing),
            kept => write!(
                f,
                "{} of it {there}; {} moved in {timing}",
                bytes(kept),
                bytes(self.moved)
            ),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Undecided<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOffer => f.write_str("No offer waits for an answer."),
            Self::NotWaiting(id) => write!(f, "No offer #{id} waits for an answer."),
            Self::Several { waiting, accepting } => {
                let ids: Vec<String> = waiting.iter().map(|id| format!("#{id}")).collect();
                let verb = if *accepting { "accept" } else { "decline" };
                write!(
                    f,
                    "Several offers wait ({}): say which, as in /{verb} {}.",
                    ids.join(", "),
                    waiting.first().copied().unwrap_or_default()
                )
            }
            Self::DoesNotFit { id, name, why } => write!(
                f,
                "Cannot accept {name} now: {why}. Free some space and /accept {id} again, or \
                 /decline {id}."
            ),
        }
    }
}

impl fmt::Display for NotCancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTransfers => f.write_str("No transfers in progress or queued."),
            Self::Unknown(id) => write!(f, "No transfer #{id}; /status lists them."),
            Self::Several(ids) => write!(
                f,
                "Several transfers run: say which, as in /cancel {}; /status lists them.",
                ids.first().copied().unwrap_or_default()
            ),
        }
    }
}

/// What `/discard` and `chat discard` removed, for the user, and from
/// where when `place` is given: `Discarded 2 kept transfers (33.0 MiB)`.
pub fn discarded(gone: Discarded, place: Option<&Path>) -> String {
    let (from, within) = match place {
        Some(place) => (
            format!(" from {}", place.display()),
            format!(" in {}", place.display()),
        ),
        None => Default::default(),
    };
    let mut text = match gone.items {
        0 => format!("Nothing kept to discard{within}"),
        1 => format!("Discarded 1 kept transfer ({}){from}", bytes(gone.bytes)),
        n => format!("Discarded {n} kept transfers ({}){from}", bytes(gone.bytes)),
    };
    match gone.in_use {
        0 => {}
        1 => text.push_str("; 1 more is in use by a transfer, and stays"),
        n => {
            let _ = write!(text, "; {n} more are in use by transfers, and stay");
        }
    }
    text
}

/// `12.0 MiB / 200.0 MiB (6%), 85.3 MiB/s, 2s left`, and `, 3 of 10
/// files` for a folder.
fn figures_text(figures: &Figures) -> String {
    let mut text = format!("{} ({}%)", sizes(figures), figures.percent);
    match figures.pace {
        Pace::Unmeasured => {}
        Pace::Moving { rate, left } => {
            let _ = write!(text, ", {}", rate_text(rate));
            if let Some(left) = left {
                let _ = write!(text, ", {}", time_left(left));
            }
        }
        Pace::Stalled(still) => {
            let _ = write!(text, ", {}", stalled(still));
        }
    }
    if let Some(files) = figures.files {
        let _ = write!(text, ", {}", files_count(files));
    }
    text
}

/// `12.0 MiB / 200.0 MiB`.
fn sizes(figures: &Figures) -> String {
    format!("{} / {}", bytes(figures.done), bytes(figures.size))
}

/// `85.3 MiB/s`.
fn rate_text(rate: u64) -> String {
    format!("{}/s", bytes(rate))
}

/// `2.0s left`, or how long it is more than.
fn time_left(left: TimeLeft) -> String {
    match left {
        TimeLeft::About(left) => format!("{} left", duration(left)),
        TimeLeft::Beyond(most) => format!("more than {} days left", most.as_secs() / (24 * 3600)),
    }
}

/// `stalled 8s`: nothing moved for that long.
fn stalled(still: Duration) -> String {
    format!("stalled {}", whole_seconds(still))
}

/// `3 of 10 files`.
fn files_count(files: FileCount) -> String {
    format!("{} of {} files", files.done, files.all)
}

/// `8s`, `2m05s`: a time counted in whole seconds.
fn whole_seconds(d: Duration) -> String {
    match d.as_secs() {
        s if s < 60 => format!("{s}s"),
        _ => duration(Duration::from_secs(d.as_secs())),
    }
}

fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        if s < 60 {
            format!("{s}s")
        } else {
            format!("{}m{:02}s", s / 60, s % 60)
        }
    } else {
        let s = secs.round() as u64;
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn in_words(mut parts: Vec<String>) -> String {
    let last = parts.pop().unwrap_or_default();
    match parts.is_empty() {
        true => last,
        false => format!("{} and {last}", parts.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::space::Owed;
    use crate::session::progress::{Meter, STALLED_AFTER, Transfers};
    use crate::terminal::screen::Look;
    use crate::terminal::screen::testing::{captured, captured_with};
    use crate::terminal::wrap::cautious_width;
    use proptest::prelude::*;

    const INTERACTIVE: Look = Look {
        colour: false,
        interactive: true,
    };

    /// The line of `done` bytes of `size` after `elapsed`, `kept` of them
    /// there from an earlier try.
    fn progress_text(done: u64, kept: u64, size: u64, elapsed: Duration) -> String {
        figures_text(&Figures::measure(done, kept, size, elapsed, None))
    }

    /// The timing of `done` bytes moved in `elapsed`.
    fn summary_text(done: u64, elapsed: Duration) -> String {
        Summary::measure(Direction::Receive, 0, done, elapsed).to_string()
    }

    fn status_of(transfers: &Transfers) -> Vec<String> {
        status_lines(&transfers.status())
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(Duration::from_millis(2345)), "2.3s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration(Duration::from_secs(7300)), "2h01m");
    }

    #[test]
    fn progress_shows_done_total_percent_rate_and_time_left() {
        let text = progress_text(50 << 20, 0, 200 << 20, Duration::from_secs(2));
        assert_eq!(text, "50.0 MiB / 200.0 MiB (25%), 25.0 MiB/s, 6.0s left");
    }

    #[test]
    fn status_lists_running_and_queued_transfers() {
        let transfers = Transfers::default();
        assert_eq!(
            status_of(&transfers),
            ["No transfers in progress or queued."]
        );
        let (screen, _) = captured();
        let running = transfers.enqueue(Direction::Send, "a.bin", 2048);
        transfers.enqueue(Direction::Send, "b.bin", 10);
        let mut meter = Meter::start(&transfers, &screen, running);
        meter.advance(1024);
        let lines = status_of(&transfers);
        assert!(
            lines[0].starts_with("#1 Sending a.bin: 1.0 KiB / 2.0 KiB (50%)"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "#2 Queued: b.bin (10 B)");
        drop(meter);
        assert_eq!(status_of(&transfers), ["#2 Queued: b.bin (10 B)"]);
    }

    #[test]
    fn why_an_answer_or_a_cancel_did_nothing_is_said() {
        let transfers = Transfers::default();
        let fits = |_: Owed, _: Owed| Ok::<(), String>(());
        let said = |result: Result<_, Undecided<String>>| result.unwrap_err().to_string();
        assert_eq!(
            said(transfers.decide(None, true, fits)),
            "No offer waits for an answer."
        );
        let big = transfers.offered("big.iso", 1 << 30, 7);
        transfers.ask(big, 5, [1; 32]);
        assert_eq!(
            status_of(&transfers),
            ["#1 Offered: big.iso (1.0 GiB): /accept 1 or /decline 1"]
        );
        let other = transfers.offered("big.bin", 15 << 20, 8);
        transfers.ask(other, 0, [0; 32]);
        let several = said(transfers.decide(None, false, fits));
        assert!(
            several.starts_with("Several offers wait (#1, #2)"),
            "{several}"
        );
        let refused = transfers.decide(Some(2), true, |_, _| {
            Err("not enough free space".to_string())
        });
        assert_eq!(
            said(refused),
            "Cannot accept big.bin now: not enough free space. Free some space and \
             /accept 2 again, or /decline 2."
        );
        transfers.decide(Some(1), true, fits).unwrap();
        assert_eq!(
            said(transfers.decide(Some(1), true, fits)),
            "No offer #1 waits for an answer."
        );
        assert!(
            transfers
                .cancel(None)
                .unwrap_err()
                .to_string()
                .starts_with("Several transfers run")
        );
        assert_eq!(
            transfers.cancel(Some(9)).unwrap_err().to_string(),
            "No transfer #9; /status lists them."
        );
    }

    #[test]
    fn what_leaving_would_lose_is_the_offers_waiting_and_what_arrives() {
        let transfers = Transfers::default();
        let at_stake = || transfers.at_stake().map(|a| a.to_string());
        let offer = transfers.offered("iso", 1 << 30, 7);
        transfers.ask(offer, 0, [0; 32]);
        assert_eq!(
            at_stake().as_deref(),
            Some("declines 1 offer waiting for your answer")
        );
        let (screen, _) = captured();
        let mut big = Meter::begin(&transfers, &screen, Direction::Receive, "big.bin", 1000);
        big.advance(400);
        assert_eq!(
            at_stake().as_deref(),
            Some("declines 1 offer waiting for your answer and stops big.bin at 40%")
        );
        let other = transfers.offered("other", 5, 8);
        transfers.ask(other, 0, [0; 32]);
        transfers.offered("photos", 0, 9);
        assert_eq!(
            at_stake().as_deref(),
            Some(
                "declines 2 offers waiting for your answer and stops big.bin at 40% and photos \
                 at 100%"
            )
        );
    }

    #[test]
    fn leaving_says_which_offers_it_waits_to_be_answered_and_how_long() {
        let transfers = Transfers::default();
        let (screen, _) = captured();
        let leaving_line = |patience| leaving_line(&transfers.departure(patience));
        let thirty = Duration::from_secs(30);
        let going = transfers.enqueue(Direction::Send, "going.bin", 10);
        let _going = Meter::start(&transfers, &screen, going);
        assert_eq!(
            leaving_line(thirty),
            "Leaving once the files being sent are through (Ctrl-C leaves at once)."
        );
        let big = transfers.enqueue(Direction::Send, "big.bin", 1 << 30);
        let big = Meter::start(&transfers, &screen, big);
        big.await_peer();
        assert_eq!(
            leaving_line(thirty),
            "Leaving once the files being sent are through; the peer has not answered the \
             offer of big.bin yet, and is waited for up to 30 s (Ctrl-C leaves at once)."
        );
        let photos = transfers.enqueue(Direction::Send, "photos", 1 << 20);
        transfers.count_files(photos, 3);
        let photos = Meter::start(&transfers, &screen, photos);
        photos.await_peer();
        transfers.joined_room();
        assert_eq!(
            leaving_line(Duration::from_secs(5)),
            "Leaving once the files being sent are through; the room has not answered the \
             offers of big.bin and folder photos yet, and is waited for up to 5 s (Ctrl-C \
             leaves at once)."
        );
        assert_eq!(
            status_of(&transfers)[1],
            "#2 Offered: big.bin (1.0 GiB), waiting for the room's answer"
        );
    }

    #[test]
    fn a_folder_counts_its_files() {
        let transfers = Transfers::default();
        let (screen, _) = captured();
        let id = transfers.enqueue(Direction::Send, "photos", 2048);
        transfers.count_files(id, 10);
        let mut meter = Meter::start(&transfers, &screen, id);
        meter.advance(1024);
        meter.file_done();
        meter.file_done();
        let lines = status_of(&transfers);
        assert!(
            lines[0].starts_with("#1 Sending photos: 1.0 KiB / 2.0 KiB (50%)")
                && lines[0].ends_with(", 2 of 10 files"),
            "{lines:?}"
        );
    }

    #[test]
    fn pipe_mode_shows_no_progress_and_no_summary() {
        let transfers = Transfers::default();
        let (screen, sink) = captured();
        let mut meter = Meter::begin(&transfers, &screen, Direction::Receive, "big", 1 << 30);
        meter.report_due();
        meter.advance(1 << 20);
        meter.advance((1 << 30) - (1 << 20));
        assert_eq!(meter.summary(), None);
        drop(meter);
        assert!(sink.lines().is_empty());
    }

    #[test]
    fn interactive_mode_keeps_one_live_line_for_big_files_only() {
        let transfers = Transfers::default();
        let (screen, sink) = captured_with(INTERACTIVE);
        let mut big = Meter::begin(&transfers, &screen, Direction::Receive, "big", 1 << 30);
        big.backdate(Duration::from_secs(2));
        big.report_due();
        big.advance(1 << 20);
        // Too soon for another update.
        big.advance(1 << 20);
        let mut small = Meter::begin(&transfers, &screen, Direction::Send, "small", 1000);
        small.report_due();
        small.advance(1000);
        let lines = sink.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("Receiving big [>") && lines[0].ends_with(" left"),
            "{lines:?}"
        );
        // The end is shown at once, in place.
        big.advance((1 << 30) - (2 << 20));
        let lines = sink.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[1].starts_with("\x1b[1A\r\x1b[2K\x1b[B\x1b[1AReceiving big [====")
                && lines[1].contains("] 1.0 GiB / 1.0 GiB (100%)"),
            "{lines:?}"
        );
        let summary = big.summary().unwrap().to_string();
        assert!(
            summary.starts_with("2.0s at ") && summary.ends_with("/s"),
            "{summary}"
        );
        assert_eq!(small.summary().unwrap().to_string(), "0.0s");
        // Done, the live line goes, and the final line takes its place.
        drop(big);
        screen.system("File saved to received_files/big");
        assert_eq!(
            &sink.lines()[2..],
            [
                "\x1b[1A\r\x1b[2K\x1b[B\x1b[1A\x1b[A",
                "[System] File saved to received_files/big"
            ]
        );
    }

    /// A transfer of 300 MiB, 120 MiB of it done in 4 s, as its live line
    /// is fitted to a terminal `columns` wide.
    fn live_at(name: &str, files: Option<(u64, u64)>, stalled: bool, columns: usize) -> String {
        let stalled = stalled.then_some(Duration::from_secs(8));
        let elapsed = Duration::from_secs(4);
        let mut figures = Figures::measure(120 << 20, 0, 300 << 20, elapsed, stalled);
        figures.files = files.map(|(done, all)| FileCount { done, all });
        live_status(Direction::Receive, name, &figures).fit(columns - 1)
    }

    #[test]
    fn a_resumed_transfer_says_what_was_there_and_times_what_moved() {
        let transfers = Transfers::default();
        let (screen, _) = captured_with(INTERACTIVE);
        for (direction, there) in [
            (Direction::Receive, "kept from before"),
            (Direction::Send, "there already"),
        ] {
            let mut meter = Meter::begin(&transfers, &screen, direction, "big", 2 << 30);
            meter.backdate(Duration::from_secs(2));
            meter.resume_from(3 << 29);
            meter.advance(1 << 29);
            let summary = meter.summary().unwrap().to_string();
            let moved = format!("1.5 GiB of it {there}; 512.0 MiB moved in 2.0s at 2");
            assert!(
                summary.starts_with(&moved) && summary.ends_with(" MiB/s"),
                "{summary}"
            );
        }
    }

    #[test]
    fn a_live_line_fits_the_terminal_by_leaving_out_whole_parts() {
        let figures = "120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s, 6.0s left";
        assert_eq!(
            live_at("big.bin", None, false, 120),
            format!("Receiving big.bin [========>           ] {figures}")
        );
        // On 80 columns, a shorter bar; then none.
        assert_eq!(
            live_at("big.bin", None, false, 80),
            format!("Receiving big.bin [===>    ] {figures}")
        );
        assert_eq!(
            live_at("big.bin", None, false, 70),
            format!("Receiving big.bin {figures}")
        );
        // Then the time left, the rate, the sizes: never a part cut.
        let at = |columns| live_at("big2.bin", None, false, columns);
        assert_eq!(
            at(66),
            "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s"
        );
        assert_eq!(
            at(60),
            "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%), 30.0 MiB/s"
        );
        assert_eq!(at(58), "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%)");
        assert_eq!(at(50), "Receiving big2.bin 120.0 MiB / 300.0 MiB (40%)");
        assert_eq!(at(40), "Receiving big2.bin (40%)");
        // The name is shortened, down to a few characters at last.
        assert_eq!(
            live_at("a-rather-long-name.bin", None, false, 25),
            "Receiving a-r…bin (40%)"
        );
        assert_eq!(live_at("big2.bin", None, false, 16), "Receiving (40%)");
        assert_eq!(live_at("big2.bin", None, false, 12), "");
        // A long name is shortened to leave room for a bar.
        let long = format!("{}.bin", "n".repeat(200));
        let line = live_at(&long, None, false, 100);
        assert!(
            line.contains("n…n") && line.contains(".bin [==>  ] 120.0"),
            "{line}"
        );
        assert!(cautious_width(&line) <= 99, "{line}");
        // A folder's count of files goes after the rate, before the sizes.
        let folder = |columns| live_at("photos", Some((3, 10)), false, columns);
        assert_eq!(
            folder(85),
            format!("Receiving photos {figures}, 3 of 10 files")
        );
        assert_eq!(
            folder(60),
            "Receiving photos 120.0 MiB / 300.0 MiB (40%), 3 of 10 files"
        );
    }

    #[test]
    fn a_stalled_transfer_says_so_in_place_of_its_rate() {
        assert_eq!(
            live_at("big.bin", None, true, 120),
            "Receiving big.bin [========>           ] 120.0 MiB / 300.0 MiB (40%), stalled 8s"
        );
        // Kept longer than the sizes.
        assert_eq!(
            live_at("big.bin", None, true, 40),
            "Receiving big.bin (40%), stalled 8s"
        );
        assert_eq!(whole_seconds(Duration::from_millis(65_900)), "1m05s");
    }

    #[test]
    fn a_transfer_that_stops_moving_is_said_to_stall_until_bytes_move() {
        let transfers = Transfers::default();
        let (screen, sink) = captured_with(INTERACTIVE);
        let mut meter = Meter::begin(&transfers, &screen, Direction::Send, "big", 1 << 30);
        meter.report_due();
        meter.advance(1 << 20);
        transfers.show_stalled(&screen);
        assert_eq!(sink.lines().len(), 1, "not stalled yet");
        meter.stand_still(STALLED_AFTER);
        transfers.show_stalled(&screen);
        transfers.show_stalled(&screen);
        let lines = sink.lines();
        assert_eq!(lines.len(), 2, "once a second: {lines:?}");
        assert!(lines[1].ends_with("(0%), stalled 3s"), "{lines:?}");
        assert!(status_of(&transfers)[0].ends_with(", stalled 3s"));
        // Bytes move: the rate is back.
        meter.report_due();
        meter.advance(1 << 20);
        let lines = sink.lines();
        assert!(!lines[2].contains("stalled"), "{lines:?}");
        transfers.show_stalled(&screen);
        assert_eq!(sink.lines().len(), 3);
        // Once it ends, nothing draws it again.
        meter.stand_still(STALLED_AFTER * 2);
        drop(meter);
        transfers.show_stalled(&screen);
        assert!(!sink.lines().last().unwrap().contains("stalled"));
    }

    proptest! {
        /// At any width, a live line fits, and each part shown is whole.
        #[test]
        fn live_lines_fit_and_show_parts_whole(
            columns in 2usize..140,
            folder in any::<bool>(),
            stalled in any::<bool>(),
        ) {
            let files = folder.then_some((3, 10));
            let line = live_at("big.bin", files, stalled, columns);
            prop_assert!(cautious_width(&line) < columns, "{} in {}", line, columns);
            let whole = [
                "Receiving", "big.bin", "120.0 MiB / 300.0 MiB", "(40%)", "30.0 MiB/s",
                "6.0s left", "stalled 8s", "3 of 10 files",
            ];
            let mut rest = line.as_str();
            // The name may be shortened in its middle.
            if let Some(after) = rest.strip_prefix("Receiving b") {
                let end = after.find(' ').unwrap_or(after.len());
                prop_assert!(after[..end].ends_with('n'), "{:?}", line);
                rest = &after[end..];
            }
            // Each part, in order, then a bar or a gap.
            for part in whole {
                rest = rest.trim_start_matches([' ', ',']);
                if let Some(bar) = rest.strip_prefix('[') {
                    rest = &bar[bar.find(']').unwrap() + 1..];
                    rest = rest.trim_start_matches(' ');
                }
                if let Some(after) = rest.strip_prefix(part) {
                    rest = after;
                }
            }
            prop_assert!(rest.is_empty(), "{:?} is cut: {:?} left over", line, rest);
        }
    }

    #[test]
    fn an_instant_transfer_gets_its_time_but_no_rate() {
        assert_eq!(summary_text(1 << 20, Duration::from_millis(1)), "0.0s");
        assert_eq!(summary_text(1 << 20, Duration::ZERO), "0.0s");
        assert_eq!(summary_text(5 << 20, Duration::from_millis(99)), "0.1s");
        assert_eq!(
            summary_text(300 << 20, Duration::from_secs(2)),
            "2.0s at 150.0 MiB/s"
        );
    }

    #[test]
    fn a_resumed_transfer_is_timed_by_what_moves_now() {
        let text = progress_text(150 << 20, 100 << 20, 200 << 20, Duration::from_secs(2));
        assert_eq!(text, "150.0 MiB / 200.0 MiB (75%), 25.0 MiB/s, 2.0s left");
    }

    #[test]
    fn progress_shows_no_rate_before_it_can_be_measured() {
        let text = progress_text(3, 0, 1 << 44, Duration::from_millis(5));
        assert_eq!(text, "3 B / 16.0 TiB (0%)");
    }

    #[test]
    fn absurd_estimates_are_capped() {
        let month = Duration::from_secs(30 * 24 * 3600);
        let text = progress_text(1, 0, 1 << 44, month);
        assert_eq!(text, "1 B / 16.0 TiB (0%), 0 B/s, more than 99 days left");
        let text = progress_text(1, 0, u64::MAX, Duration::MAX);
        assert!(text.ends_with(", more than 99 days left"), "{text}");
    }

    #[test]
    fn more_done_than_announced_is_one_hundred_percent() {
        let text = progress_text(u64::MAX, 0, 10, Duration::from_secs(1));
        assert_eq!(text, "16.0 EiB / 10 B (100%), 16.0 EiB/s");
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0..10_000u64).prop_map(Duration::from_millis),
            (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_size() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0),
            Just(1),
            Just(u64::MAX),
            Just(1 << 44),
            any::<u64>()
        ]
    }

    proptest! {
        #[test]
        fn progress_never_panics_and_never_passes_one_hundred_percent(
            done in any_size(),
            size in any_size(),
            elapsed in any_duration(),
        ) {
            let text = progress_text(done, done / 2, size, elapsed);
            let percent: u64 = text
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once("%)"))
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or_else(|| panic!("no percentage in {text:?}"));
            prop_assert!(percent <= 100, "{}", text);
            let summary = summary_text(done, elapsed);
            prop_assert!(!summary.is_empty());
        }
    }
}
