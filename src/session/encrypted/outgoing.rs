//! The writer thread of an encrypted conversation: owns the sealing half
//! of the channel and sends typed messages. Files go in chunks, several at
//! once, and messages go between chunks, so a line typed during a long
//! transfer is not held back behind it.
//!
//! A file counts as sent only once the peer says it saved it and its hash
//! matched; leaving waits for those answers (for at most the stall window
//! after the last one).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use crate::files::send::{OutgoingFile, SendFailure};
use crate::net::secure::record::{MAX_PLAINTEXT, RecordWriter};
use crate::net::transport::WriteHalf;
use crate::session::outgoing::{self, Answer, Outgoing, WriteError};
use crate::session::progress::{Meter, Transfers};
use crate::terminal::screen::Screen;
use crate::wire::message::{self, CHUNK_HEADER, FileId, Message};

/// Files sent at once; those queued after them wait their turn.
const IN_FLIGHT: usize = 4;

/// File bytes in one chunk message: 64 KiB, which fits a record with the
/// message header.
const CHUNK_DATA: usize = 64 * 1024;
const _: () = assert!(CHUNK_HEADER + CHUNK_DATA <= MAX_PLAINTEXT);

/// Sends our name, then what arrives on `queue`, until [`Outgoing::Leave`]
/// has been acted on or the queue closes. On a failure, `failed` hears why
/// at once; the writer then waits for the queue to close and says what was
/// not delivered.
pub fn write_peer(
    out: RecordWriter<WriteHalf>,
    name: &str,
    queue: Receiver<Outgoing>,
    screen: &Screen,
    transfers: &Transfers,
    patience: Duration,
    failed: impl FnOnce(WriteError),
) {
    let mut writer = Writer {
        out,
        screen,
        transfers,
        waiting: VecDeque::new(),
        active: VecDeque::new(),
        unconfirmed: HashMap::new(),
        next_id: 0,
        message: Vec::new(),
        chunk: vec![0; CHUNK_HEADER + CHUNK_DATA],
        unflushed_messages: 0,
        lost_messages: 0,
    };
    if let Err(e) = writer.run(name, &queue, patience) {
        failed(e);
        for outgoing in queue.iter() {
            writer.lose(outgoing);
        }
        writer.report_lost();
    }
}

/// A file being sent.
struct Sending<'a> {
    id: FileId,
    file: OutgoingFile,
    sent: u64,
    hash: blake3::Hasher,
    meter: Meter<'a>,
}

/// A file sent whole, waiting for the peer to say it saved it.
struct Unconfirmed<'a> {
    name: String,
    size: u64,
    meter: Meter<'a>,
}

struct Writer<'a> {
    out: RecordWriter<WriteHalf>,
    screen: &'a Screen,
    transfers: &'a Transfers,
    /// Files queued behind the ones in flight, with their transfer ids.
    waiting: VecDeque<(OutgoingFile, u64)>,
    /// Files in flight, sent a chunk each in turn.
    active: VecDeque<Sending<'a>>,
    unconfirmed: HashMap<FileId, Unconfirmed<'a>>,
    next_id: FileId,
    /// Where a message is encoded before it is sealed.
    message: Vec<u8>,
    /// A chunk message: its header, then room for a chunk of a file.
    chunk: Vec<u8>,
    /// Messages sealed since the last flush: lost if the connection fails.
    unflushed_messages: usize,
    lost_messages: usize,
}

impl<'a> Writer<'a> {
    fn run(
        &mut self,
        name: &str,
        queue: &Receiver<Outgoing>,
        patience: Duration,
    ) -> Result<(), WriteError> {
        self.send(&Message::Hello { name })?;
        self.flush()?;
        let mut leaving = false;
        loop {
            let next = if !self.active.is_empty() {
                match queue.try_recv() {
                    Ok(outgoing) => Some(outgoing),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return self.abandoned(),
                }
            } else {
                self.flush()?;
                if leaving && self.unconfirmed.is_empty() {
                    break;
                }
                let next = if leaving {
                    queue.recv_timeout(patience)
                } else {
                    queue.recv().map_err(|_| RecvTimeoutError::Disconnected)
                };
                match next {
                    Ok(outgoing) => Some(outgoing),
                    Err(RecvTimeoutError::Timeout) => {
                        self.give_up_on_answers(patience);
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => return self.abandoned(),
                }
            };
            match next {
                Some(Outgoing::Lines(lines, _ticket)) => self.send_lines(&lines)?,
                Some(Outgoing::File(file, transfer)) => {
                    self.waiting.push_back((file, transfer));
                    self.start_waiting()?;
                }
                Some(Outgoing::Leave) => leaving = true,
                // (Each ticket is given back once its message is dealt with.)
                Some(Outgoing::Answer(answer, _ticket)) => self.answer(answer)?,
                Some(Outgoing::Settled { id, refusal, .. }) => self.settle(id, refusal)?,
                None => self.send_next_chunk()?,
            }
        }
        self.out
            .close()
            .and_then(|()| self.out.get_ref().finish())
            .map_err(|e| self.lose_messages(e))
    }

    /// The queue closed without a goodbye to send: the conversation ended
    /// on the peer's side. Files not through yet were not delivered.
    fn abandoned(&self) -> Result<(), WriteError> {
        if self.active.is_empty() && self.unconfirmed.is_empty() && self.waiting.is_empty() {
            return Ok(());
        }
        Err(WriteError::Connection(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the conversation ended before the peer had every file",
        )))
    }

    fn send(&mut self, message: &Message<'_>) -> Result<(), WriteError> {
        self.message.clear();
        message.encode(&mut self.message);
        self.out
            .send(&self.message)
            .map_err(|e| self.lose_messages(e))
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        self.out.flush().map_err(|e| self.lose_messages(e))?;
        self.unflushed_messages = 0;
        Ok(())
    }

    fn lose_messages(&mut self, e: std::io::Error) -> WriteError {
        self.lost_messages += std::mem::take(&mut self.unflushed_messages);
        e.into()
    }

    /// One text message per line.
    fn send_lines(&mut self, lines: &[u8]) -> Result<(), WriteError> {
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            // The user's side hands over valid UTF-8 only.
            let text = String::from_utf8_lossy(line);
            self.send(&Message::Text(&text))?;
            self.unflushed_messages += 1;
        }
        Ok(())
    }

    /// Offers queued files while fewer than [`IN_FLIGHT`] are being sent.
    fn start_waiting(&mut self) -> Result<(), WriteError> {
        while self.active.len() < IN_FLIGHT {
            let Some((file, transfer)) = self.waiting.pop_front() else {
                break;
            };
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.send(&Message::Offer {
                id,
                size: file.size(),
                name: file.name(),
            })?;
            self.active.push_back(Sending {
                id,
                file,
                sent: 0,
                hash: blake3::Hasher::new(),
                meter: Meter::start(self.transfers, self.screen, transfer),
            });
        }
        Ok(())
    }

    /// Sends the next chunk of the file whose turn it is; a file sent whole
    /// is closed with its hash and waits for the peer's answer.
    fn send_next_chunk(&mut self) -> Result<(), WriteError> {
        let Some(mut sending) = self.active.pop_front() else {
            return Ok(());
        };
        let left = sending.file.size() - sending.sent;
        if left > 0 {
            let want = left.min(CHUNK_DATA as u64) as usize;
            self.chunk[..CHUNK_HEADER].copy_from_slice(&message::chunk_header(sending.id));
            let data = &mut self.chunk[CHUNK_HEADER..CHUNK_HEADER + want];
            if let Err(failure) = sending.file.read_at(sending.sent, data) {
                return self.stop_sending(sending, failure);
            }
            sending.hash.update(data);
            self.out
                .send(&self.chunk[..CHUNK_HEADER + want])
                .map_err(|e| self.lose_messages(e))
                .inspect_err(|_| self.not_delivered(&sending))?;
            // Messages sealed before the chunk went out with it.
            self.unflushed_messages = 0;
            sending.sent += want as u64;
            sending.meter.advance(want as u64);
        }
        if sending.sent < sending.file.size() {
            self.active.push_back(sending);
            return Ok(());
        }
        let hash = *sending.hash.finalize().as_bytes();
        self.send(&Message::End {
            id: sending.id,
            hash,
        })?;
        self.unconfirmed.insert(
            sending.id,
            Unconfirmed {
                name: sending.file.name().to_string(),
                size: sending.file.size(),
                meter: sending.meter,
            },
        );
        self.start_waiting()
    }

    /// The file could not be read on: the peer is told to drop it, and the
    /// conversation goes on.
    fn stop_sending(
        &mut self,
        sending: Sending<'a>,
        failure: SendFailure,
    ) -> Result<(), WriteError> {
        self.screen.system(format!(
            "Sending stopped: {failure}; the peer was told, and nothing was saved there."
        ));
        self.send(&Message::Cancel { id: sending.id })?;
        drop(sending);
        self.start_waiting()
    }

    fn answer(&mut self, answer: Answer) -> Result<(), WriteError> {
        match answer {
            Answer::Saved(id) => self.send(&Message::Saved { id }),
            Answer::Refused(id, reason) => self.send(&Message::Refused {
                id,
                reason: &reason,
            }),
        }
    }

    /// The peer's answer about a file of ours.
    fn settle(&mut self, id: FileId, refusal: Option<String>) -> Result<(), WriteError> {
        if let Some(unconfirmed) = self.unconfirmed.remove(&id) {
            let (name, size) = (&unconfirmed.name, unconfirmed.size);
            self.screen
                .system(match (&refusal, unconfirmed.meter.summary()) {
                    (None, Some(summary)) => format!("Sent file {name} ({size} bytes, {summary})"),
                    (None, None) => format!("Sent file {name} ({size} bytes)"),
                    (Some(reason), _) => format!("{name} was not saved by the peer: {reason}"),
                });
            return Ok(());
        }
        // A refusal can come while the file is still being sent (the
        // peer's disk is full, say): sending the rest is of no use.
        if let (Some(reason), Some(at)) = (&refusal, self.active.iter().position(|s| s.id == id)) {
            let sending = self.active.remove(at).expect("position is in range");
            self.screen.system(format!(
                "{} was not saved by the peer: {reason}",
                sending.file.name()
            ));
            self.send(&Message::Cancel { id })?;
            return self.start_waiting();
        }
        // An answer about no file of ours: nothing to do.
        Ok(())
    }

    /// Leaving, with files the peer has not answered for.
    fn give_up_on_answers(&mut self, patience: Duration) {
        for (_, unconfirmed) in self.unconfirmed.drain() {
            self.screen.system(format!(
                "{} may not have been saved: the peer did not confirm it within {} s.",
                unconfirmed.name,
                patience.as_secs()
            ));
        }
    }

    fn not_delivered(&self, sending: &Sending<'_>) {
        let file = &sending.file;
        outgoing::say_not_delivered(self.screen, file.name(), sending.sent, file.size());
    }

    /// After a failure: what was in flight, queued, or about to be queued.
    fn lose(&mut self, outgoing: Outgoing) {
        match outgoing {
            Outgoing::Lines(lines, _) => self.lost_messages += outgoing::count_messages(&lines),
            Outgoing::File(file, _) => self.waiting.push_back((file, 0)),
            Outgoing::Leave | Outgoing::Answer(..) | Outgoing::Settled { .. } => {}
        }
    }

    fn report_lost(&mut self) {
        for sending in std::mem::take(&mut self.active) {
            self.not_delivered(&sending);
        }
        for (_, unconfirmed) in self.unconfirmed.drain() {
            self.screen.system(format!(
                "{} was not delivered (sent whole, but the peer did not confirm it).",
                unconfirmed.name
            ));
        }
        for (file, _) in self.waiting.drain(..) {
            self.screen
                .system(format!("{} was not delivered (not started).", file.name()));
        }
        outgoing::say_not_sent(self.screen, self.lost_messages);
    }
}
