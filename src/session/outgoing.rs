//! The writer thread: owns the socket's write half and sends, in order,
//! whatever the main loop queues. The wire format cannot interleave text
//! with a file's bytes, so a message queued behind a file waits for it.

use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use super::progress::{Meter, Transfers};
use crate::files::transfer::{OutgoingFile, SendFailure};
use crate::terminal::screen::Screen;
use crate::wire::frame;

/// Write buffer size: file chunks and batches of queued lines fit whole.
const WRITE_BUFFER: usize = 64 * 1024;

/// How long a write may wait for the peer to take bytes before the peer is
/// given up on. Without it, a peer that stops reading would hold a pending
/// file, and the goodbye behind it, forever.
pub const WRITE_STALL: Duration = Duration::from_secs(30);

/// Why the writer stopped; the connection is unusable after any of them.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the peer stopped reading: nothing went out for {} s", WRITE_STALL.as_secs())]
    Stalled,
    #[error(transparent)]
    Connection(io::Error),
    /// The file being sent could not be read to its end. The peer expects
    /// bytes that will never come, so the connection has to end.
    #[error("{0}; the connection is closed because the peer expects bytes that will not come")]
    Source(SendFailure),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Self::Stalled,
            _ => Self::Connection(e),
        }
    }
}

impl From<SendFailure> for WriteError {
    fn from(e: SendFailure) -> Self {
        match e {
            SendFailure::Connection(e) => e.into(),
            source @ SendFailure::Source { .. } => Self::Source(source),
        }
    }
}

/// What the main loop asks the writer to send.
pub enum Outgoing {
    /// Messages, in order, already encoded as wire lines: the main loop
    /// encodes a burst of piped input into one buffer.
    Lines(Vec<u8>),
    /// A file, with its id in the transfer list.
    File(OutgoingFile, u64),
    /// Say goodbye and shut our write half down.
    Leave,
}

/// Sends what arrives on `queue` until it is closed or [`Outgoing::Leave`]
/// comes. Text is flushed only when the queue is empty, so piped input goes
/// out in large writes while a single typed line still leaves at once.
pub fn write_peer(
    stream: TcpStream,
    name: &str,
    queue: Receiver<Outgoing>,
    screen: &Screen,
    transfers: &Transfers,
) -> Result<(), WriteError> {
    stream.set_write_timeout(Some(WRITE_STALL))?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, &stream);
    let Ok(mut next) = queue.recv() else {
        return Ok(());
    };
    loop {
        match next {
            Outgoing::Lines(lines) => out.write_all(&lines)?,
            Outgoing::File(file, id) => {
                let (shown, size) = (file.name().to_string(), file.size());
                let mut meter = Meter::start(transfers, screen, id);
                file.send(&mut out, &mut |n| meter.advance(n))?;
                out.flush()?;
                screen.system(match meter.summary() {
                    Some(summary) => format!("Sent file {shown} ({size} bytes, {summary})"),
                    None => format!("Sent file {shown} ({size} bytes)"),
                });
            }
            Outgoing::Leave => {
                frame::write_text(&mut out, name, frame::LEAVE_MESSAGE)?;
                out.flush()?;
                stream.shutdown(Shutdown::Write)?;
                return Ok(());
            }
        }
        next = match queue.try_recv() {
            Ok(outgoing) => outgoing,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match queue.recv() {
                    Ok(outgoing) => outgoing,
                    Err(_) => return Ok(()),
                }
            }
            Err(TryRecvError::Disconnected) => {
                out.flush()?;
                return Ok(());
            }
        };
    }
}
