//! The reader thread of the original wire: owns the socket's read half,
//! decodes the peer's stream, prints its lines and saves its files until
//! the stream ends.

use std::io::{self, BufReader};
use std::path::Path;

use super::events::{ChatEvent, ReceiveEvent};
use super::progress::{Direction, Meter, Transfers};
use crate::engine::Frontend;
use crate::files::download::DownloadDir;
use crate::files::receive::{self, ReceiveError};
use crate::net::secure::handshake::is_greeting;
use crate::net::transport::ReadHalf;
use crate::protocol::Lines;
use crate::wire::frame::{self, Frame, FrameError, FrameReader};
use crate::wire::limits;
use crate::wire::sanitize;

/// How the peer's side of the stream ended.
#[derive(Debug)]
pub enum PeerEnd {
    /// Closed cleanly between frames.
    Left,
    /// Closed in the middle of a file; what was lost has been said.
    Cut(ReceiveError),
    /// Failed with an error, such as a reset.
    Lost(io::Error),
    /// Sent what cannot be read on: a record that failed its check, or a
    /// breach of the protocol (encrypted wire).
    Broken(String),
    /// Greeted us as an encrypted chat, while we speak the original wire.
    SpeaksEncrypted,
    /// A room's host did not let us in, and said why.
    Unwelcome(String),
}

/// Reads frames from the peer until its stream ends, and says how it ended.
pub fn read_peer(
    mut frames: Lines,
    downloads: &DownloadDir,
    front: &dyn Frontend,
    transfers: &Transfers,
) -> PeerEnd {
    let mut run = Vec::new();
    loop {
        // A burst of plain lines goes to the front in one piece.
        run.clear();
        // (A goodbye is left out of a burst, to be seen below.)
        frames.take_text_run(&mut run, |line| {
            sanitize::is_plain(line) && !frame::is_leave_line(line) && !is_greeting(line)
        });
        if !run.is_empty() {
            let more_coming = frames.has_buffered_line();
            front.chat(ChatEvent::PeerLines {
                raw: &run,
                more_coming,
            });
        }
        match frames.next_frame() {
            Ok(None) => return PeerEnd::Left,
            Ok(Some(Frame::Text(line))) if is_greeting(&line) => return PeerEnd::SpeaksEncrypted,
            Ok(Some(Frame::Text(line))) if frame::is_leave_line(&line) => {
                // The original program says goodbye but keeps its side open
                // until ours closes: its goodbye is the end.
                front.chat(ChatEvent::PeerLine {
                    raw: &line,
                    more_coming: false,
                });
                return PeerEnd::Left;
            }
            Ok(Some(Frame::Text(line))) => front.chat(ChatEvent::PeerLine {
                raw: &line,
                more_coming: frames.has_buffered_line(),
            }),
            Ok(Some(Frame::File { name, size })) => {
                let arriving = (name.as_str(), size);
                if let Err(cut) = receive_file(&mut frames, arriving, downloads, front, transfers) {
                    return PeerEnd::Cut(cut);
                }
            }
            Err(FrameError::MalformedHeader(why)) => {
                front.chat(ChatEvent::MalformedHeader(&why));
            }
            Err(FrameError::LineTooLong { len }) => front.chat(ChatEvent::LineTooLong {
                len,
                limit: limits::MAX_LINE as u64,
            }),
            Err(FrameError::EndedMidLine { partial }) => {
                // A last line without its newline (`printf hi | nc`) is still
                // text the peer meant to send.
                front.chat(ChatEvent::PeerLine {
                    raw: &partial,
                    more_coming: false,
                });
                return PeerEnd::Left;
            }
            Err(FrameError::Io(e)) => return PeerEnd::Lost(crate::net::transport::in_words(e)),
        }
    }
}

/// Saves the file `name` of `size` bytes whose payload follows, and says
/// how that went; fails when the payload was cut short.
fn receive_file(
    frames: &mut FrameReader<BufReader<ReadHalf>>,
    (name, size): (&str, u64),
    downloads: &DownloadDir,
    front: &dyn Frontend,
    transfers: &Transfers,
) -> Result<(), ReceiveError> {
    // In the list before it is announced, so a `/status` that follows the
    // announcement sees it. (Names and all other peer text are made safe
    // by the front end.)
    let mut meter = Meter::begin(transfers, front, Direction::Receive, name, size);
    front.receive(ReceiveEvent::Incoming { name, size });
    let saved = receive::receive(frames.payload(), downloads, name, &mut |n| meter.advance(n));
    match saved {
        Ok(path) => say_saved(front, &path, meter),
        Err(ReceiveError::Save(e)) => front.receive(ReceiveEvent::NotSaved { name, why: &e }),
        Err(e @ ReceiveError::Incomplete { .. }) => {
            front.receive(ReceiveEvent::Incomplete { name, why: &e });
            return Err(e);
        }
    }
    Ok(())
}

/// Says where a received file was saved (and, on a terminal, how fast),
/// once it is off the list of transfers: nothing the user types after
/// reading it finds it still arriving.
pub(crate) fn say_saved(front: &dyn Frontend, path: &Path, meter: Meter<'_>) {
    let summary = meter.summary();
    drop(meter);
    front.receive(ReceiveEvent::Saved {
        path,
        summary: summary.as_ref(),
    });
}
