//! The answers to the user's commands, and words on what it typed.

use std::fmt;

use crate::engine::command::{self, Usage};
use crate::engine::members::RoomStake;
use crate::files::kept::{KeptItem, KeptKind};
use crate::files::size::bytes;
use crate::protocol::capabilities::Safety;
use crate::session::events::Reply;
use crate::session::progress::AtStake;
use crate::session::user::Leaving;
use crate::terminal::render::discarded;
use crate::terminal::screen::Screen;

pub(super) fn show(screen: &Screen, reply: Reply<'_>) {
    match reply {
        Reply::NotConnectedYet => screen.system(Usage::NotConnected),
        Reply::SafetyCode(safety) => screen.system(safety_code(safety)),
        Reply::TheirIdentity(fingerprint) => screen.system(format!(
            "The peer's identity: {fingerprint} (`chat id` shows it on the peer's machine)"
        )),
        Reply::Trusted(trusted) => screen.system(super::contacts::trusted(trusted)),
        Reply::NotTrusted(why) => screen.system(super::contacts::not_trusted(why)),
        Reply::NoIdentity => screen.system(super::contacts::NO_IDENTITY),
        Reply::NoAnswers => screen.system(
            "The original wire (--plain) cannot accept, decline, cancel or resume files: it has \
             no way to say so.",
        ),
        Reply::NotInRoom => {
            screen.system(
                "/who and /msg work in a room (chat listen --room); here there is one peer.",
            );
        }
        Reply::MessagesWait => {
            screen.system("Messages typed now wait until the file transfer is done.");
        }
        Reply::RoomLinesOnPlain => screen.system(
            "On the original wire (--plain), /who and /msg go out as lines that a room answers; \
             a peer that is not a room sees them as messages.",
        ),
        Reply::Kept(item) => screen.system(kept(item)),
        Reply::LeavingWouldCut { ours, room, again } => {
            screen.system(leaving_would_cut(ours, room, again));
        }
        Reply::Help => {
            for (usage, what) in command::COMMANDS {
                screen.system(format!("{usage:<14} {what}"));
            }
        }
        Reply::Usage(usage) => screen.system(usage),
        Reply::Undecided(why) => screen.system(why),
        Reply::NotCancelled(why) => screen.system(why),
        Reply::Discarded(Ok(gone)) => screen.system(format!("{}.", discarded(*gone, None))),
        Reply::Discarded(Err(e)) => screen.system(format!("Nothing was discarded: {e}.")),
        Reply::TooLong { len, limit } => screen.system(format!(
            "Message not sent: it is {} and the limit is {}.",
            bytes(len),
            bytes(limit)
        )),
    }
}

/// A line of `/status` on what is kept of a cut transfer.
fn kept(item: &KeptItem) -> String {
    let what = match item.kind {
        KeptKind::File => "",
        KeptKind::Folder => "folder ",
    };
    let days = item.left.as_secs().div_ceil(24 * 3600);
    format!(
        "Kept: {what}{} ({} of {}), for {days} more day{}; sending it again resumes, /discard \
         removes it",
        item.name,
        bytes(item.held),
        bytes(item.size),
        if days == 1 { "" } else { "s" }
    )
}

/// Leaving now would cut what is on its way and close the room the user
/// hosts: what asked to leave leaves, done again.
fn leaving_would_cut(ours: Option<&AtStake>, room: Option<RoomStake>, again: Leaving) -> String {
    let what = match (ours, room) {
        (Some(ours), Some(room)) => format!("{ours}, and {room}"),
        (Some(ours), None) => ours.to_string(),
        (None, Some(room)) => room.to_string(),
        (None, None) => String::new(),
    };
    let again = match again {
        Leaving::Command => "/quit again",
        Leaving::CtrlC => "Ctrl-C again",
        Leaving::CtrlD => "Ctrl-D again",
    };
    format!("Leaving now {what}: {again} to leave.")
}

/// `closes the room for its 2 members, cutting the 1 file going through it`.
impl fmt::Display for RoomStake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.members {
            1 => f.write_str("closes the room for its 1 member")?,
            n => write!(f, "closes the room for its {n} members")?,
        }
        match self.files {
            0 => Ok(()),
            1 => f.write_str(", cutting the 1 file going through it"),
            n => write!(f, ", cutting the {n} files going through it"),
        }
    }
}

/// What to do instead of a command used wrongly.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SEND: &str = "Usage: /send PATH... (quote paths that contain spaces)";
        const MSG: &str = "Usage: /msg NAME TEXT (quote a name with spaces: /msg \"Bea K\" hi)";
        match self {
            Self::Unknown(word) => write!(
                f,
                "Unknown command /{word}: nothing was sent. /help lists the commands; //{word} \
                 sends it as a message."
            ),
            Self::NoArguments(name) => write!(f, "/{name} takes no arguments."),
            Self::Id(name) => write!(
                f,
                "Usage: /{name} [ID], with ID a number from /status (#3 or 3)."
            ),
            Self::Send(None) => f.write_str(SEND),
            Self::Send(Some(why)) => write!(f, "{why}. {SEND}"),
            Self::Msg(None) => f.write_str(MSG),
            Self::Msg(Some(why)) => write!(f, "{why}. {MSG}"),
            Self::NotConnected => f.write_str("Nobody is connected yet; /quit leaves."),
        }
    }
}

/// What `/code` shows.
fn safety_code(safety: &Safety) -> String {
    match safety {
        Safety::Code { code, .. } => super::safety_code_line(code),
        Safety::EachMember => "Each member has its own safety code with you: it is shown when \
                               the member joins, and /who shows them all."
            .to_string(),
        Safety::Nothing => {
            "This conversation is not encrypted (--plain): there is no safety code.".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_kept_is_listed_with_the_days_it_stays() {
        let item = KeptItem {
            kind: KeptKind::Folder,
            name: "photos".into(),
            held: 1024,
            size: 4096,
            disk: 8192,
            left: std::time::Duration::from_secs(24 * 3600 + 1),
        };
        assert_eq!(
            kept(&item),
            "Kept: folder photos (1.0 KiB of 4.0 KiB), for 2 more days; sending it again \
             resumes, /discard removes it"
        );
    }

    #[test]
    fn a_command_used_wrongly_says_what_to_do_instead() {
        let cases = [
            (
                Usage::Id("cancel"),
                "Usage: /cancel [ID], with ID a number from /status (#3 or 3).",
            ),
            (Usage::NoArguments("quit"), "/quit takes no arguments."),
            (
                Usage::Unknown("QUITTING".into()),
                "Unknown command /QUITTING: nothing was sent. /help lists the commands; \
                 //QUITTING sends it as a message.",
            ),
            (
                Usage::Send(None),
                "Usage: /send PATH... (quote paths that contain spaces)",
            ),
            (
                Usage::Msg(Some("A ' quote is not closed")),
                "A ' quote is not closed. Usage: /msg NAME TEXT (quote a name with spaces: \
                 /msg \"Bea K\" hi)",
            ),
            (
                Usage::NotConnected,
                "Nobody is connected yet; /quit leaves.",
            ),
        ];
        for (usage, words) in cases {
            assert_eq!(usage.to_string(), words);
        }
    }

    #[test]
    fn leaving_says_what_it_would_cut_and_how_to_leave_anyway() {
        let room = RoomStake {
            members: 2,
            files: 1,
        };
        assert_eq!(
            leaving_would_cut(None, Some(room), Leaving::CtrlC),
            "Leaving now closes the room for its 2 members, cutting the 1 file going through \
             it: Ctrl-C again to leave."
        );
    }
}
