//! What the main loop asks a writer thread to send, and the writer of the
//! original wire: it owns the connection's write half and sends, in order,
//! whatever the main loop queues. The original format cannot interleave
//! text with a file's bytes, so a message queued behind a file waits for it.
//!
//! When the connection fails, the writer says what did not go out: the
//! file it was sending, those queued behind it, and the messages.

use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use super::events::{SendEvent, Undelivered};
use super::input::Ticket;
use super::progress::{Meter, Transfers};
use crate::engine::Frontend;
use crate::files::send;
use crate::files::send::{OutgoingFile, SendFailure};
use crate::files::tree::FolderTree;
use crate::net::transport::{Closer, Sending, WriteHalf};
use crate::wire::frame;
use crate::wire::limits;
use crate::wire::message::FileId;

/// Write buffer size: file chunks and batches of queued lines fit whole.
const WRITE_BUFFER: usize = 64 * 1024;

/// Why the writer stopped; the connection is unusable after any of them.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Too little of what we sent was taken within the stall window.
    #[error("the peer stopped reading: less than {} went out in {} s",
        crate::session::progress::bytes(limits::MIN_PROGRESS), .window.as_secs())]
    Stalled { window: Duration },
    #[error(transparent)]
    Connection(io::Error),
    /// The file being sent could not be read to its end. The peer expects
    /// bytes that will never come, so the connection has to end.
    #[error("{0}; the connection is closed because the peer expects bytes that will not come")]
    Source(SendFailure),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        Self::Connection(crate::net::transport::in_words(e))
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
    /// Messages, in order, each ending in a newline: the main loop hands a
    /// burst of piped input over in one buffer. The ticket of the input
    /// batch they came from, if any, is given back once they are sent.
    Lines(Vec<u8>, Option<Ticket>),
    /// One message whose text may hold line breaks: a block pasted at the
    /// terminal (encrypted wire only; the original one takes each line as
    /// a message of its own).
    Text(String),
    /// A file, with its id in the transfer list.
    File(OutgoingFile, u64),
    /// A folder, with its id in the transfer list.
    Folder(FolderTree, u64),
    /// Say goodbye and shut our write half down.
    Leave,
    /// What only the encrypted wire's typed messages carry: never queued
    /// on the original wire, whose capabilities do not offer them.
    Typed(Typed),
}

/// What the main loop and the reader ask the encrypted wire's writer to
/// send, which the original wire has no words for.
pub enum Typed {
    /// Stop sending the file or folder with this id in the transfer list,
    /// or drop it from the queue.
    Cancel(u64),
    /// Our answer about a file the peer sent, decided by the user.
    Reply(Answer),
    /// The user leaves at once: stop the files and folders being sent or
    /// waiting to be, telling the peer, and wait for no more answers
    /// (the original wire cannot stop a file midway).
    StopSending,
    /// Our answer about a file the peer sent. The reader holds a ticket for
    /// each message it hands the writer, so a peer that sends without
    /// reading ours cannot make them pile up.
    Answer(Answer, Ticket),
    /// The peer's answer about a file of ours: saved, or refused and why.
    Settled {
        id: FileId,
        refusal: Option<String>,
        ticket: Ticket,
    },
    /// The peer takes a file or folder of ours, holding the first `offset`
    /// bytes of a file already, whose hash is `prefix`.
    Accepted {
        id: FileId,
        offset: u64,
        prefix: [u8; 32],
        ticket: Ticket,
    },
    /// A private message to one member of the room we are in.
    Whisper { to: String, text: String },
    /// Ask the room's host who is in the room.
    Who,
    /// Answer the room host's keepalive ping.
    Pong(Ticket),
}

/// What we tell the peer about a file or folder it offered.
pub enum Answer {
    Accept {
        id: FileId,
        offset: u64,
        prefix: [u8; 32],
    },
    Saved(FileId),
    Refused(FileId, String),
}

/// Sends what arrives on `queue` until it is closed or [`Outgoing::Leave`]
/// comes. On a failure, `failed` hears why at once; the writer then waits
/// for the queue to close and says what was not delivered.
pub fn write_peer(
    writer: WriteHalf,
    closer: Closer,
    name: &str,
    queue: Receiver<Outgoing>,
    front: &dyn Frontend,
    transfers: &Transfers,
    failed: impl FnOnce(WriteError),
) {
    let mut writer = Writer {
        out: BufWriter::with_capacity(WRITE_BUFFER, writer),
        closer,
        front,
        transfers,
        unflushed_messages: 0,
        lines_since_file: false,
        lost: Lost::default(),
    };
    if let Err(e) = writer.send_queue(name, &queue) {
        failed(e);
        for outgoing in queue.iter() {
            writer.lost.add(&outgoing, front);
        }
        writer.lost.report(front);
    }
}

struct Writer<'a> {
    out: BufWriter<WriteHalf>,
    closer: Closer,
    front: &'a dyn Frontend,
    transfers: &'a Transfers,
    /// Messages written into the buffer since it was last flushed.
    unflushed_messages: usize,
    /// Whether lines went out since the last file.
    lines_since_file: bool,
    lost: Lost,
}

impl Writer<'_> {
    fn send_queue(&mut self, name: &str, queue: &Receiver<Outgoing>) -> Result<(), WriteError> {
        let Ok(mut next) = queue.recv() else {
            return Ok(());
        };
        loop {
            match next {
                Outgoing::Lines(lines, _ticket) => {
                    let count = count_messages(&lines);
                    self.unflushed_messages += count;
                    self.lines_since_file |= count > 0;
                    if let Err(e) = write_lines(&mut self.out, name, &lines) {
                        return Err(self.lose_messages(e));
                    }
                }
                Outgoing::Text(text) => {
                    next = Outgoing::Lines(format!("{text}\n").into_bytes(), None);
                    continue;
                }
                // Never queued on this wire: its capabilities offer none.
                Outgoing::Typed(_) => {}
                Outgoing::Folder(folder, _) => self
                    .front
                    .sending(&SendEvent::FolderOnPlain { name: folder.name }),
                Outgoing::File(file, id) => self.send_file(file, id)?,
                Outgoing::Leave => {
                    frame::write_text(&mut self.out, name, frame::LEAVE_MESSAGE)
                        .and_then(|()| self.out.flush())
                        .and_then(|()| self.out.get_ref().finish())
                        .map_err(|e| self.lose_messages(e))?;
                    return Ok(());
                }
            }
            next = match crate::queue::next_or_flush(queue, || self.flush())? {
                Some(outgoing) => outgoing,
                None => return Ok(()),
            };
        }
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        match self.out.flush() {
            Ok(()) => {
                self.unflushed_messages = 0;
                Ok(())
            }
            Err(e) => Err(self.lose_messages(e)),
        }
    }

    /// Counts the messages still in the buffer as lost, for `e`.
    fn lose_messages(&mut self, e: io::Error) -> WriteError {
        self.lost.messages += std::mem::take(&mut self.unflushed_messages);
        e.into()
    }

    /// Sends a file. It counts as sent, and its progress moves, by what
    /// the peer's side has acknowledged, not by what was written: bytes
    /// written may still wait in buffers when the connection ends.
    fn send_file(&mut self, file: OutgoingFile, id: u64) -> Result<(), WriteError> {
        self.flush()?;
        if std::mem::take(&mut self.lines_since_file) {
            // Lines and the header after them must not reach the peer in
            // one piece: the original program would take both for one line.
            send::let_arrive(self.out.get_ref().as_fd());
        }
        let (shown, size) = (file.name().to_string(), file.size());
        let mut meter = Meter::start(self.transfers, self.front, id);
        let closer = &self.closer;
        let mut delivery = Delivery::start(closer);
        let result = file
            .send(&mut self.out, &mut |n| {
                delivery.written += n;
                delivery.update(closer, &mut meter);
            })
            .map_err(WriteError::from)
            .and_then(|()| self.out.flush().map_err(WriteError::from))
            .and_then(|()| delivery.wait_for_all(closer, &mut meter));
        if let Err(e) = result {
            delivery.update(closer, &mut meter);
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::NotDelivered {
                    name: shown,
                    done: delivery.taken,
                    size,
                }));
            return Err(e);
        }
        let summary = meter.summary();
        self.front.sending(&SendEvent::Sent {
            name: shown,
            size,
            summary,
        });
        Ok(())
    }
}

/// How much of a file the peer has taken: what its side acknowledged
/// since the file began, at most what was written. The kernel keeps the
/// count even once the connection has ended, so the last reading is right.
struct Delivery {
    /// Bytes the peer had acknowledged when the file began.
    base: u64,
    written: u64,
    taken: u64,
}

impl Delivery {
    fn start(closer: &Closer) -> Self {
        Self {
            base: closer.sending().map_or(0, |s| s.acknowledged),
            written: 0,
            taken: 0,
        }
    }

    /// Takes a reading of the kernel's and counts what it says was taken.
    fn update(&mut self, closer: &Closer, meter: &mut Meter) -> Option<Sending> {
        let sending = closer.sending();
        let taken = match sending {
            Some(sending) => sending
                .acknowledged
                .saturating_sub(self.base)
                .min(self.written)
                .max(self.taken),
            // Where the kernel cannot tell, written is all we know.
            None => self.written,
        };
        meter.advance(taken - self.taken);
        self.taken = taken;
        sending
    }

    /// Waits until the peer's side has acknowledged everything written, or
    /// the connection ends (the stall watch ends it for a peer that stopped
    /// taking).
    fn wait_for_all(&mut self, closer: &Closer, meter: &mut Meter) -> Result<(), WriteError> {
        let mut pause = Duration::from_millis(1);
        loop {
            match self.update(closer, meter) {
                Some(sending) if !sending.waiting => return Ok(()),
                Some(sending) if !sending.open => {
                    return Err(WriteError::Connection(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the connection ended before the peer had the whole file",
                    )));
                }
                Some(_) => {}
                None => return Ok(()),
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// What did not go out after a failure.
#[derive(Default)]
struct Lost {
    messages: usize,
}

impl Lost {
    fn add(&mut self, outgoing: &Outgoing, front: &dyn Frontend) {
        match outgoing {
            Outgoing::Lines(lines, _) => self.messages += count_messages(lines),
            Outgoing::Text(_) => self.messages += 1,
            Outgoing::File(file, _) => {
                front.sending(&SendEvent::Undelivered(Undelivered::NotStarted {
                    name: file.name().to_string(),
                }))
            }
            Outgoing::Folder(folder, _) => {
                front.sending(&SendEvent::Undelivered(Undelivered::NotStarted {
                    name: folder.name.clone(),
                }))
            }
            Outgoing::Leave | Outgoing::Typed(_) => {}
        }
    }

    fn report(&self, front: &dyn Frontend) {
        front.sending(&SendEvent::Undelivered(Undelivered::MessagesNotSent(
            self.messages,
        )));
    }
}

/// Writes each message of `lines` as `[NAME] MESSAGE\n`.
fn write_lines(out: &mut impl Write, name: &str, lines: &[u8]) -> io::Result<()> {
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.write_all(b"[")?;
        out.write_all(name.as_bytes())?;
        out.write_all(b"] ")?;
        out.write_all(line)?;
    }
    Ok(())
}

/// Messages in a buffer of lines: one per newline.
pub(crate) fn count_messages(lines: &[u8]) -> usize {
    lines.iter().filter(|&&b| b == b'\n').count()
}
