//! The lines of the conversation itself: the peer's lines, how the
//! conversation ends, and what leaving says.

use std::path::Path;

use crate::cli;
use crate::engine::members;
use crate::files::size::bytes;
use crate::session::events::ChatEvent;
use crate::session::incoming::PeerEnd;
use crate::session::outgoing::WriteError;
use crate::terminal::render::shell_word;
use crate::terminal::screen::Screen;
use crate::wire::sanitize;

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
        ChatEvent::PassingFor {
            name,
            contacts,
            code,
        } => super::contacts::passing_for(screen, name, contacts, code),
        ChatEvent::ContactsTrouble(e) => screen.system(super::contacts::trouble(e)),
        ChatEvent::NewIdentity { path, fingerprint } => screen.system(format!(
            "Made your identity, {fingerprint} (`chat id` shows it): kept in {}; back it up \
             to stay the same person on another machine.",
            path.display()
        )),
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
        ChatEvent::KeptOnDisk {
            held,
            kept,
            downloads,
        } => screen.system(kept_on_disk(held, kept, downloads)),
        ChatEvent::Over => screen.system("Exiting."),
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
        PeerEnd::SpeaksEncrypted => speaks_encrypted(peer),
    }
}

/// A peer met with `--plain` turned out to speak the encrypted protocol.
fn speaks_encrypted(peer: std::net::SocketAddr) -> String {
    format!(
        "The peer's chat is encrypted (the default), and this side uses --plain: both sides \
         must use --plain, or neither. Disconnected from {peer}."
    )
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
}
