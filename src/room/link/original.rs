//! A member on the original wire, on the host: its reader turns the
//! member's lines into what the host hears and hands on its files piece by
//! piece, one file in the room at a time (the [`Turn`]), and its writer
//! sends what the host queues for it as raw bytes.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::door::Door;
use super::pace::Pace;
use super::queue::{self, Inbox, Piece};
use super::{Gone, Heard, PlainFile};
use crate::net::transport::{ReadHalf, WriteHalf};
use crate::permits::{Permit, Permits};
use crate::room::inflow::Inflow;
use crate::room::roster::MemberId;
use crate::wire::frame::{Frame, FrameError, FrameReader};

/// The room's turn to pass a file to members on the original wire: a
/// plain sender's reader waits for it; the room takes it for an encrypted
/// sender's file only when it is free. It is one permit, never closed, and
/// given back when its holder drops it.
pub struct Turn(Permits);

impl Default for Turn {
    fn default() -> Self {
        Self(Permits::new(1))
    }
}

impl Turn {
    /// Waits for the turn.
    pub fn take(&self) -> Permit {
        self.0.take().expect("the turn is never closed")
    }

    /// Takes the turn if it is free.
    pub fn try_take(&self) -> Option<Permit> {
        self.0.try_take()
    }
}

/// Reads a plain member's lines until its side ends. Files are read past:
/// the original wire has no way to say no to them.
pub fn read(half: &mut ReadHalf, id: MemberId, permits: &Permits, door: &Door) -> Gone {
    let mut frames = FrameReader::new(BufReader::with_capacity(64 * 1024, half));
    let mut pace = Pace::new(id, &door.events, permits);
    loop {
        let heard = match frames.next_frame() {
            Ok(None) => return Gone::Left,
            Ok(Some(Frame::Text(line))) => {
                pace.count(line.len());
                Heard::Line(line)
            }
            Ok(Some(Frame::File { name, size })) => {
                pace.count(name.len());
                // The room hears the file's end before anyone else's start.
                let turn = door.plain_turn.take();
                // Others' lines wait while it goes: a sender that trickles
                // its file is not waited for.
                let passed = pass_file(&mut frames, name, size, permits, &pace, door.stall);
                drop(turn);
                if let Err(e) = frames.get_ref().get_ref().set_read_timeout(None) {
                    return Gone::Lost(e.to_string());
                }
                match passed {
                    Ok(()) => continue,
                    Err(gone) => return gone,
                }
            }
            Err(e) if e.is_recoverable() => continue,
            // The last line, without its newline, still counts.
            Err(FrameError::EndedMidLine { partial }) => {
                pace.tell(Heard::Line(partial));
                return Gone::Left;
            }
            Err(e) => return Gone::Lost(e.to_string()),
        };
        if !pace.tell(heard) {
            return Gone::Left;
        }
    }
}

/// Hands the room a plain member's file, piece by piece, as it comes,
/// as long as it comes fast enough (see [`Inflow`]).
fn pass_file(
    frames: &mut FrameReader<BufReader<&mut ReadHalf>>,
    name: String,
    size: u64,
    permits: &Permits,
    pace: &Pace<'_>,
    stall: Duration,
) -> Result<(), Gone> {
    if !pace.tell(Heard::Plain(PlainFile::Start { name, size })) {
        return Err(Gone::Left);
    }
    let mut inflow = Inflow::new(stall, size, Instant::now());
    loop {
        let remaining = frames.payload().remaining();
        if remaining == 0 {
            break;
        }
        let waiting = Instant::now();
        let permit = permits.take().ok_or(Gone::Left)?;
        inflow.waited(waiting.elapsed());
        let want = usize::try_from(remaining).map_or(PIECE, |left| left.min(PIECE));
        let mut data = vec![0; want];
        let got = match inflow.left(Instant::now()) {
            Some(left) => match frames.get_ref().get_ref().set_read_timeout(Some(left)) {
                Ok(()) => frames.payload().read(&mut data),
                Err(e) => Err(e),
            },
            None => Err(io::ErrorKind::TimedOut.into()),
        };
        let n = match got {
            Ok(0) => Err(Gone::Lost(
                "the connection ended in the middle of a file".to_string(),
            )),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Gone::Trickled(inflow.limit()))
            }
            Err(e) => Err(Gone::Lost(e.to_string())),
        };
        let n = n.inspect_err(|_| {
            pace.tell(Heard::Plain(PlainFile::Cut));
        })?;
        inflow.came(n as u64, remaining - n as u64, Instant::now());
        data.truncate(n);
        let piece = Arc::new(Piece::new(data, permit));
        if !pace.tell(Heard::Plain(PlainFile::Piece(piece))) {
            return Err(Gone::Left);
        }
    }
    if pace.tell(Heard::Plain(PlainFile::End)) {
        Ok(())
    } else {
        Err(Gone::Left)
    }
}

/// Bytes of a plain file passed on at a time.
const PIECE: usize = 64 * 1024;

/// Sends what the host queues for the member as raw bytes until the
/// goodbye, or until the queue closes. A write that cannot go on for
/// `stall` fails: the member stopped reading.
pub fn write(half: WriteHalf, inbox: &Inbox, stall: Duration) -> Result<(), io::Error> {
    half.set_write_timeout(Some(stall))?;
    let mut out = BufWriter::with_capacity(64 * 1024, half);
    match queue::drain(inbox, &mut out, false, |out, bytes| out.write_all(bytes)) {
        Ok(true) => {
            out.flush()?;
            out.get_ref().finish()
        }
        Ok(false) => out.flush(),
        Err(e) => Err(e),
    }
}
