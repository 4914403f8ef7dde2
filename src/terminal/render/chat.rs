//! The lines of the conversation itself: the peer's lines, how the
//! conversation ends, and what leaving says.

use std::fmt;
use std::path::Path;

use crate::cli;
use crate::files::kept::{KeptItem, KeptKind};
use crate::files::size::bytes;
use crate::session::capabilities::Safety;
use crate::session::command::{self, Usage};
use crate::session::events::ChatEvent;
use crate::session::incoming::PeerEnd;
use crate::session::members;
use crate::session::members::RoomStake;
use crate::session::outgoing::WriteError;
use crate::session::progress::AtStake;
use crate::session::user::Leaving;
use crate::terminal::render::discarded;
use crate::terminal::render::shell_word;
use crate::terminal::sanitize;
use crate::terminal::screen::Screen;

pub(super) fn show(screen: &Screen, event: ChatEvent<'_>) {
    match event {
        ChatEvent::PeerSaid {
            name,
            text,
            more_coming,
        } => screen.peer_message(name, text, more_coming),
        ChatEvent::Said { name, text } => screen.own_message(name, text),
        ChatEvent::InRoom { host, others } => screen.system(in_room(host, others)),
        ChatEvent::Whispered { name, text } => {
            screen.peer_line(members::whisper_from(name, text).as_bytes(), false);
        }
        ChatEvent::WhisperWent { own, to, text } => {
            screen.own_message(own, &format!("(to {to}) {text}"));
        }
        ChatEvent::Presence {
            change,
            name,
            reason,
        } => screen.system(members::presence_line(change, name, reason)),
        ChatEvent::Members { list, me } => {
            for line in members::member_lines(list.iter(), me) {
                screen.system(line);
            }
        }
        ChatEvent::RoomNotice(text) => screen.system(format!("Room: {text}")),
        ChatEvent::PeerLine { raw, more_coming } => screen.peer_line(raw, more_coming),
        ChatEvent::PeerLines { raw, more_coming } => peer_lines(screen, raw, more_coming),
        ChatEvent::LineTooLong { len, limit } => screen.system(format!(
            "Dropped a line of {} from peer (the limit is {}).",
            bytes(len),
            bytes(limit)
        )),
        ChatEvent::MalformedHeader(why) => {
            screen.system(format!("Ignored malformed file header from peer: {why}"));
        }
        ChatEvent::SpeaksEncrypted(peer) => screen.system(format!(
            "The peer's chat is encrypted (the default), and this side uses --plain: both \
             sides must use --plain, or neither. Disconnected from {peer}."
        )),
        ChatEvent::PeerEnded { end, peer, hosted } => screen.system(peer_ended(end, peer, hosted)),
        ChatEvent::WriteFailed(e @ WriteError::Source(_)) => {
            screen.system(format!("Sending stopped: {e}"));
        }
        ChatEvent::WriteFailed(e) => screen.system(format!("Connection lost: {e}")),
        ChatEvent::NotSentWhileLeaving => {
            screen.system("Leaving: nothing typed now is sent (Ctrl-C leaves at once).");
        }
        ChatEvent::LeavingAtOnce => {
            screen.system("Leaving at once: the file being sent is cut off.");
        }
        ChatEvent::NotConnectedYet => screen.system(Usage::NotConnected),
        ChatEvent::KeptOnDisk {
            held,
            kept,
            downloads,
        } => screen.system(kept_on_disk(held, kept, downloads)),
        ChatEvent::Over => screen.system("Exiting."),
        ChatEvent::SafetyCode(safety) => screen.system(safety_code(safety)),
        ChatEvent::NoAnswers => screen.system(
            "The original wire (--plain) cannot accept, decline, cancel or resume files: it has \
             no way to say so.",
        ),
        ChatEvent::NotInRoom => {
            screen.system(
                "/who and /msg work in a room (chat listen --room); here there is one peer.",
            );
        }
        ChatEvent::MessagesWait => {
            screen.system("Messages typed now wait until the file transfer is done.");
        }
        ChatEvent::RoomLinesOnPlain => screen.system(
            "On the original wire (--plain), /who and /msg go out as lines that a room answers; \
             a peer that is not a room sees them as messages.",
        ),
        ChatEvent::Kept(item) => screen.system(kept(item)),
        ChatEvent::LeavingWouldCut { ours, room, again } => {
            screen.system(leaving_would_cut(ours, room, again));
        }
        ChatEvent::Help => {
            for (usage, what) in command::COMMANDS {
                screen.system(format!("{usage:<14} {what}"));
            }
        }
        ChatEvent::Usage(usage) => screen.system(usage),
        ChatEvent::Undecided(why) => screen.system(why),
        ChatEvent::NotCancelled(why) => screen.system(why),
        ChatEvent::Discarded(Ok(gone)) => screen.system(format!("{}.", discarded(*gone, None))),
        ChatEvent::Discarded(Err(e)) => screen.system(format!("Nothing was discarded: {e}.")),
        ChatEvent::TooLong { len, limit } => screen.system(format!(
            "Message not sent: it is {} and the limit is {}.",
            bytes(len),
            bytes(limit)
        )),
    }
}

/// Being let into a room.
fn in_room(host: &str, others: u16) -> String {
    let (with, them) = match others {
        0 => ("alone with the host".to_string(), "the members"),
        1 => ("with the host and 1 other".to_string(), "them"),
        n => (format!("with the host and {n} others"), "them"),
    };
    format!("You are in {host}'s room, {with}: /who lists {them}, /msg NAME text speaks to one.")
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

/// A burst of plain lines: in one piece where lines show as they are,
/// else each as a line of the peer's.
fn peer_lines(screen: &Screen, raw: &[u8], more_coming: bool) {
    if screen.shows_plain_lines() {
        return screen.plain_peer_lines(raw, more_coming);
    }
    let mut lines = raw.split_inclusive(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        debug_assert!(sanitize::is_plain(line));
        screen.peer_line(line, more_coming || lines.peek().is_some());
    }
}

/// How the peer's end of the conversation went.
fn peer_ended(end: &PeerEnd, peer: std::net::SocketAddr, hosted: bool) -> String {
    match end {
        // (What did not arrive whole was said, and is kept.)
        PeerEnd::Left | PeerEnd::Cut(_) if hosted => "The room is closed: its host left.".into(),
        PeerEnd::Lost(e) => format!("Connection lost: {e}"),
        PeerEnd::Left | PeerEnd::Cut(_) => "Peer disconnected.".to_string(),
        PeerEnd::Broken(why) => format!("Connection ended: {why}."),
        PeerEnd::Unwelcome(why) => format!("Not let into the room: {why}."),
        PeerEnd::SpeaksEncrypted => format!(
            "The peer's chat is encrypted (the default), and this side uses --plain: both \
             sides must use --plain, or neither. Disconnected from {peer}."
        ),
    }
}

/// On leaving: how much of the disk what is kept of cut transfers holds,
/// and how to free it once no peer is there to `/discard` with.
fn kept_on_disk(held: u64, kept: &Path, downloads: &Path) -> String {
    let folder = match downloads {
        path if path == Path::new(cli::DEFAULT_DOWNLOAD_DIR) => String::new(),
        path => format!(" --download-dir {}", shell_word(&path.to_string_lossy())),
    };
    format!(
        "{} of cut transfers is kept in {}, so that sending them again resumes; \
         `chat discard{folder}` frees it.",
        bytes(held),
        kept.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn being_let_into_a_room_says_who_else_is_there() {
        assert_eq!(
            in_room("Ana", 0),
            "You are in Ana's room, alone with the host: /who lists the members, /msg NAME \
             text speaks to one."
        );
        assert_eq!(
            in_room("Ana", 1),
            "You are in Ana's room, with the host and 1 other: /who lists them, /msg NAME text \
             speaks to one."
        );
        assert_eq!(
            in_room("Ana", 3),
            "You are in Ana's room, with the host and 3 others: /who lists them, /msg NAME \
             text speaks to one."
        );
    }

    #[test]
    fn the_peers_end_is_said_as_it_went() {
        let peer = "127.0.0.1:5050".parse().unwrap();
        assert_eq!(
            peer_ended(&PeerEnd::Left, peer, false),
            "Peer disconnected."
        );
        assert_eq!(
            peer_ended(&PeerEnd::Left, peer, true),
            "The room is closed: its host left."
        );
        assert_eq!(
            peer_ended(&PeerEnd::Unwelcome("full".into()), peer, false),
            "Not let into the room: full."
        );
    }

    #[test]
    fn what_is_kept_names_the_download_folder_only_when_it_is_not_the_default() {
        let kept = Path::new("received_files/.chat-partial");
        let default = Path::new(cli::DEFAULT_DOWNLOAD_DIR);
        assert!(kept_on_disk(2048, kept, default).ends_with("`chat discard` frees it."));
        let line = kept_on_disk(2048, kept, Path::new("my files"));
        assert!(
            line.starts_with("2.0 KiB of cut transfers is kept in received_files/.chat-partial")
                && line.ends_with("`chat discard --download-dir 'my files'` frees it."),
            "{line}"
        );
    }

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
