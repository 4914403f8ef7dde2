//! The lines of files and folders going out.

use std::fmt;

use super::in_words;
use crate::files::size::{self, bytes};
use crate::session::events::{Counterpart, Outbound, SendEvent, Undelivered};
use crate::session::progress::Summary;

/// `notes.pdf`, or `folder photos`.
impl fmt::Display for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.folder {
            true => write!(f, "folder {}", self.name),
            false => f.write_str(&self.name),
        }
    }
}

/// The line a step of a file or folder going out shows; `None` for none.
pub(super) fn line(event: &SendEvent) -> Option<String> {
    Some(match event {
        SendEvent::Sent {
            name,
            size,
            summary,
        } => sent(&format!("file {name}"), &[bytes(*size)], summary),
        SendEvent::SentFolder {
            name,
            files,
            bytes: total,
            summary,
        } => sent(
            &format!("folder {name}"),
            &[size::files(*files), bytes(*total)],
            summary,
        ),
        SendEvent::LeftOut(items) => format!(
            "Not in the folder sent, as said above: {}.",
            listed(items.clone())
        ),
        SendEvent::AlreadyThere { name, to } => {
            format!("{name}: {to} already has it (identical); nothing sent")
        }
        SendEvent::NotSaved { what, to, reason } => not_saved(what, to, reason),
        SendEvent::Resuming {
            name,
            to,
            held,
            size,
        } => format!(
            "Resuming {name}: {to} has {} of {} already.",
            bytes(*held),
            bytes(*size)
        ),
        SendEvent::Unanswered { what, size, to } => unanswered(what, *size, *to),
        SendEvent::Stopped { why, to } => {
            format!("Sending stopped: {why}; {to} was told, and nothing was saved there.")
        }
        SendEvent::Skipped { folder, entry, why } => skipped(folder, entry, why.as_deref()),
        SendEvent::SkippedInFolder { folder, why } => {
            format!("Skipped in folder {folder}: {why}.")
        }
        SendEvent::Cancelled { what, to } => cancelled(what, *to),
        SendEvent::NotCancelled { transfer, to } => not_cancelled(*transfer, *to),
        SendEvent::LeftFirst { name } => format!("{name} was not sent: you left first."),
        SendEvent::StoppedLeaving { what, to } => {
            format!("Stopped sending {what}: {to} keeps what arrived, so sending it again resumes.")
        }
        SendEvent::UnconfirmedLeaving { name, to } => {
            format!("{name} was sent whole; you left before {to} said it was saved.")
        }
        SendEvent::Undelivered(what) => return undelivered(what),
        SendEvent::FolderOnPlain { name } => {
            format!("Cannot send {name}: folders go on the encrypted wire only")
        }
        SendEvent::NoFolders { path } => format!(
            "Cannot send {}: it is a folder, and the original wire (--plain) carries files only",
            path.display()
        ),
        SendEvent::CannotSend { path, why } => format!("Cannot send {}: {why}", path.display()),
        SendEvent::Queued { name, size } => format!(
            "Queued {name} ({}); it goes out after the transfers before it.",
            bytes(*size)
        ),
        SendEvent::NotSending { folder, skipped } => {
            format!("Not sending {} ({}).", skipped.shown(folder), skipped.why)
        }
    })
}

/// The line of what did not reach the peer as the conversation ended.
fn undelivered(what: &Undelivered) -> Option<String> {
    Some(match what {
        Undelivered::GaveUp {
            what,
            accepted,
            to,
            patience,
        } => gave_up(what, *accepted, *to, patience.as_secs()),
        Undelivered::QueuedBehind { name, to } => {
            format!("{name} was not sent: it was queued behind offers {to} did not answer.")
        }
        Undelivered::NotDelivered { name, done, size } => not_delivered(name, *done, *size),
        Undelivered::NotStarted { name } => format!("{name} was not delivered (not started)."),
        Undelivered::NotAnswered {
            name,
            to,
            sent_whole,
        } => not_answered(name, *to, *sent_whole),
        Undelivered::MessagesNotSent(n) => return messages_not_sent(*n),
    })
}

/// `Sent file notes.pdf (1.0 MiB, SUMMARY)`.
fn sent(what: &str, figures: &[String], summary: &Option<Summary>) -> String {
    let mut figures = figures.join(", ");
    if let Some(summary) = summary {
        figures = format!("{figures}, {summary}");
    }
    format!("Sent {what} ({figures})")
}

/// Waiting for an answer: the protocol has no word for "checking", so the
/// line is true whichever it is.
fn unanswered(what: &Outbound, size: u64, to: Counterpart) -> String {
    match what.folder {
        true => format!(
            "Waiting for {to}'s answer to folder {} ({}): it may be asking its user.",
            what.name,
            bytes(size)
        ),
        false => format!(
            "Waiting for {to}'s answer to {} ({}): it may be asking its user, or checking a \
             copy it has.",
            what.name,
            bytes(size)
        ),
    }
}

fn skipped(folder: &str, entry: &str, why: Option<&(dyn std::error::Error + Send)>) -> String {
    match why {
        Some(why) => format!("Skipped {folder}/{entry}: {why}"),
        None => format!("Skipped {folder}/{entry}: it grew since the folder was looked at."),
    }
}

fn cancelled(what: &Outbound, to: Option<Counterpart>) -> String {
    match to {
        Some(to) => format!("Cancelled {what}; {to} was told."),
        // (A folder not started is named as a file is.)
        None => format!("Cancelled {} (not started).", what.name),
    }
}

fn not_cancelled(transfer: u64, to: Option<Counterpart>) -> String {
    match to {
        Some(to) => {
            format!("Transfer #{transfer} was sent whole already; it waits for {to} to confirm it.")
        }
        None => format!("Transfer #{transfer} is over already."),
    }
}

fn gave_up(what: &Outbound, accepted: bool, to: Counterpart, secs: u64) -> String {
    let folder = if what.folder { "Folder " } else { "" };
    let name = &what.name;
    match accepted {
        true => format!(
            "{folder}{name} may not have been saved: {to} did not confirm it within {secs} s."
        ),
        false => format!("{folder}{name} was not sent: {to} did not accept it within {secs} s."),
    }
}

fn not_delivered(name: &str, done: u64, size: u64) -> String {
    let percent = done.saturating_mul(100).checked_div(size).unwrap_or(0);
    format!(
        "{name} was not delivered (stopped at {}%).",
        percent.min(99)
    )
}

fn not_answered(name: &str, to: Counterpart, sent_whole: bool) -> String {
    match sent_whole {
        true => format!("{name} was not delivered (sent whole, but {to} did not confirm it)."),
        false => format!("{name} was not delivered ({to} had not accepted it yet)."),
    }
}

fn messages_not_sent(n: usize) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 message was not sent: the connection ended first.".to_string()),
        n => Some(format!(
            "{n} messages were not sent: the connection ended first."
        )),
    }
}

/// The first few of `items` for a line: `a`, `a and b`, `a, b, c, d, e
/// and 7 more`.
fn listed(mut items: Vec<String>) -> String {
    const SHOWN: usize = 5;
    let more = items.len().saturating_sub(SHOWN);
    items.truncate(SHOWN);
    if more > 0 {
        return format!("{} and {more} more", items.join(", "));
    }
    in_words(items)
}

/// A file or folder of ours the peer did not save, and why.
fn not_saved(what: &Outbound, to: &Counterpart, reason: &str) -> String {
    // (A peer may refuse without a word.)
    let reason = if reason.trim().is_empty() {
        "it gave no reason"
    } else {
        reason
    };
    match what.folder {
        true => format!("Folder {} was not saved by {to}: {reason}", what.name),
        false => format!("{} was not saved by {to}: {reason}", what.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_left_out_is_listed_in_short() {
        let items = |n: usize| (1..=n).map(|i| format!("d/{i}")).collect::<Vec<_>>();
        assert_eq!(listed(items(1)), "d/1");
        assert_eq!(listed(items(3)), "d/1, d/2 and d/3");
        assert_eq!(listed(items(5)), "d/1, d/2, d/3, d/4 and d/5");
        assert_eq!(listed(items(8)), "d/1, d/2, d/3, d/4, d/5 and 3 more");
    }

    #[test]
    fn a_refusal_without_a_reason_says_so() {
        let refused = |reason: &str| SendEvent::NotSaved {
            what: Outbound {
                name: "a.txt".into(),
                folder: false,
            },
            to: Counterpart::Peer,
            reason: reason.into(),
        };
        assert_eq!(
            line(&refused("declined")).as_deref(),
            Some("a.txt was not saved by the peer: declined")
        );
        assert_eq!(
            line(&refused(" ")).as_deref(),
            Some("a.txt was not saved by the peer: it gave no reason")
        );
    }

    #[test]
    fn no_line_says_that_no_message_was_lost() {
        assert_eq!(undelivered(&Undelivered::MessagesNotSent(0)), None);
        assert_eq!(
            undelivered(&Undelivered::MessagesNotSent(2)).as_deref(),
            Some("2 messages were not sent: the connection ended first.")
        );
    }
}
