//! The lines of the conversation itself: the peer's lines, how the
//! conversation ends, and what leaving says.

use std::path::Path;

use crate::cli;
use crate::files::size::bytes;
use crate::session::command;
use crate::session::events::ChatEvent;
use crate::session::incoming::PeerEnd;
use crate::session::outgoing::WriteError;
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
        ChatEvent::NotConnectedYet => screen.system(command::NOT_CONNECTED),
        ChatEvent::KeptOnDisk {
            held,
            kept,
            downloads,
        } => screen.system(kept_on_disk(held, kept, downloads)),
        ChatEvent::Over => screen.system("Exiting."),
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
