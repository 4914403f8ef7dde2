//! A member on the original wire, on the host: its reader turns the
//! member's lines into what the host hears and hands on its files piece by
//! piece, one file in the room at a time (the [`Turn`]), and its writer
//! sends what the host queues for it as raw bytes.

use std::io::{self, BufWriter, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::door::Door;
use super::pace::Pace;
use super::queue::Piece;
use super::{Gone, Heard, MemberReader, MemberWriter, PlainFile};
use crate::net::transport::WriteHalf;
use crate::permits::{Permit, Permits};
use crate::protocol::Lines;
use crate::room::events::Ignored;
use crate::room::inflow::Inflow;
use crate::room::roster::MemberId;
use crate::wire::frame::{Frame, FrameError};
use crate::wire::message::FileId;

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

impl MemberReader for Lines {
    /// Reads a plain member's lines until its side ends. Files are passed
    /// on as they come: the original wire has no way to say no to them.
    fn read(&mut self, id: MemberId, permits: &Permits, door: &Door) -> Gone {
        read_lines(self, id, permits, door)
    }

    fn drain(&mut self) {
        Lines::drain(self);
    }
}

fn read_lines(frames: &mut Lines, id: MemberId, permits: &Permits, door: &Door) -> Gone {
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
                let passed = pass_file(frames, name, size, permits, &pace, door.stall);
                drop(turn);
                if let Err(e) = frames.expect_within(None) {
                    return Gone::Lost(e.to_string());
                }
                match passed {
                    Ok(()) => continue,
                    Err(gone) => return gone,
                }
            }
            Err(FrameError::MalformedHeader(why)) => {
                pace.count(why.len());
                Heard::Ignored(Ignored::MalformedHeader(why))
            }
            Err(FrameError::LineTooLong { len }) => {
                pace.count(0);
                Heard::Ignored(Ignored::LineTooLong { len })
            }
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
    frames: &mut Lines,
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
            Some(left) => match frames.expect_within(Some(left)) {
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

/// Bytes for a plain member are gathered here, and written once enough
/// wait or the queue runs dry.
const WRITE_BUFFER: usize = 64 * 1024;

/// What the host sends a plain member: raw bytes, through a buffer.
pub struct Plain(BufWriter<WriteHalf>);

impl Plain {
    pub fn new(half: WriteHalf) -> Self {
        Self(BufWriter::with_capacity(WRITE_BUFFER, half))
    }
}

impl MemberWriter for Plain {
    fn give_up_after(&self, stall: Duration) -> io::Result<()> {
        self.0.get_ref().set_write_timeout(Some(stall))
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn piece(&mut self, _: FileId, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.0.get_ref().finish()
    }
}
