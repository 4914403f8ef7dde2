//! The writer thread of an encrypted conversation: owns the sealing half
//! of the channel and sends typed messages. Files and folders are offered
//! and go once the peer accepts them, from where a kept part of an earlier
//! try ends if the peer has one; their chunks go several files at once, and
//! messages go between chunks, so a line typed during a long transfer is
//! not held back behind it.
//!
//! A file counts as sent only once the peer says it saved it and its hash
//! matched; a folder once the peer says every file in it did. Leaving waits
//! for those answers (for at most the stall window after the last one).
//!
//! This module holds the writer's loop and the sealing of each message.
//! Its parts, a job each: what waits its turn ([`queue`]), offers waiting
//! for an answer ([`offers`]), what the peer holds already ([`resume`]),
//! chunks on their way ([`chunks`]), folders ([`folders`]), the peer's
//! answers ([`settling`]) and the last word on each ([`reports`]),
//! `/cancel` ([`cancel`]), leaving at once ([`leaving`]), and what was not
//! delivered ([`undelivered`]).

mod cancel;
mod chunks;
mod folders;
mod leaving;
mod offers;
mod queue;
mod reports;
mod resume;
mod settling;
mod undelivered;

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use crate::engine::Frontend;
use crate::protocol::Sealer;
use crate::session::events::Outbound;
use crate::session::outgoing::{Answer, Outgoing, Typed, WriteError};
use crate::session::progress::{Meter, Transfers};
use crate::wire::message::{FileId, Message};

use self::chunks::Sending;
use self::folders::FolderOut;
use self::offers::{Offered, UNANSWERED_NOTE};
use self::queue::Queued;
use self::reports::Reports;
use self::settling::Unconfirmed;

/// Sends our name, then what arrives on `queue`, until [`Outgoing::Leave`]
/// has been acted on or the queue closes. On a failure, `failed` hears why
/// at once; the writer then waits for the queue to close and says what was
/// not delivered.
pub fn write_peer(
    out: Sealer,
    name: &str,
    queue: Receiver<Outgoing>,
    front: &dyn Frontend,
    transfers: &Transfers,
    patience: Duration,
    failed: impl FnOnce(WriteError),
) {
    let mut writer = Writer {
        out,
        front,
        transfers,
        waiting: VecDeque::new(),
        offered: HashMap::new(),
        active: VecDeque::new(),
        unconfirmed: HashMap::new(),
        folders: HashMap::new(),
        next_id: 0,
        unflushed_messages: 0,
        block: Vec::new(),
        lost_messages: 0,
        reports: Reports::default(),
    };
    if let Err(e) = writer.run(name, &queue, patience) {
        failed(e);
        for outgoing in queue.iter() {
            writer.lose(outgoing);
        }
        writer.report_lost();
    }
}

/// Whose bytes a file's are: a file of its own, followed by its meter, or
/// one inside a folder being sent.
enum Owner<'a> {
    Lone(Meter<'a>, u64),
    Entry(FileId),
}

/// A file of ours, as events name it.
fn file(name: &str) -> Outbound {
    Outbound {
        name: name.to_string(),
        folder: false,
    }
}

/// A folder of ours, as events name it.
fn folder_named(name: &str) -> Outbound {
    Outbound {
        name: name.to_string(),
        folder: true,
    }
}

struct Writer<'a> {
    out: Sealer,
    front: &'a dyn Frontend,
    transfers: &'a Transfers,
    /// Files and folders queued behind the ones in flight.
    waiting: VecDeque<Queued>,
    offered: HashMap<FileId, Offered<'a>>,
    /// Files being sent, a chunk each in turn.
    active: VecDeque<Sending<'a>>,
    unconfirmed: HashMap<FileId, Unconfirmed<'a>>,
    folders: HashMap<FileId, FolderOut<'a>>,
    next_id: FileId,
    /// Messages sealed since the last flush: lost if the connection fails.
    unflushed_messages: usize,
    /// Where a block of a file is read to check what the peer holds of it.
    block: Vec<u8>,
    lost_messages: usize,
    /// The last lines of files and folders sent, in the order of each `/send`.
    reports: Reports,
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
                if leaving && self.nothing_owed() {
                    break;
                }
                let next = if leaving {
                    queue.recv_timeout(patience)
                } else if self.untold_offers() {
                    match queue.recv_timeout(UNANSWERED_NOTE) {
                        Err(RecvTimeoutError::Timeout) => {
                            self.tell_unanswered();
                            continue;
                        }
                        next => next,
                    }
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
                Some(Outgoing::Leave) => leaving = true,
                Some(outgoing) => self.handle(outgoing)?,
                None => self.send_next_chunk()?,
            }
        }
        self.out.goodbye().map_err(|e| self.lose_messages(e))
    }

    /// Does what the session asked for (all but leaving, which `run`
    /// keeps track of).
    fn handle(&mut self, outgoing: Outgoing) -> Result<(), WriteError> {
        match outgoing {
            Outgoing::Lines(lines, _ticket) => self.send_lines(&lines)?,
            Outgoing::Text(text) => {
                self.send(&Message::Text(&text))?;
                self.unflushed_messages += 1;
            }
            Outgoing::File(file, transfer) => {
                self.waiting.push_back(Queued::File(file, transfer));
                self.start_waiting()?;
            }
            Outgoing::Folder(folder, transfer) => {
                self.waiting.push_back(Queued::Folder(folder, transfer));
                self.start_waiting()?;
            }
            Outgoing::Typed(Typed::Cancel(transfer)) => self.cancel(transfer)?,
            Outgoing::Typed(Typed::StopSending) => self.stop_all()?,
            // (Each ticket is given back once its message is dealt with.)
            Outgoing::Typed(Typed::Answer(answer, _ticket)) => self.answer(answer)?,
            Outgoing::Typed(Typed::Reply(answer)) => self.answer(answer)?,
            Outgoing::Typed(Typed::Settled { id, refusal, .. }) => self.settle(id, refusal)?,
            Outgoing::Typed(Typed::Accepted {
                id, offset, prefix, ..
            }) => self.accepted(id, offset, &prefix)?,
            Outgoing::Typed(Typed::Whisper { to, text }) => self.send(&Message::Whisper {
                name: &to,
                text: &text,
            })?,
            Outgoing::Typed(Typed::Who) => self.send(&Message::Who)?,
            Outgoing::Typed(Typed::Pong(_ticket)) => self.send(&Message::Pong)?,
            Outgoing::Leave => {}
        }
        Ok(())
    }

    /// Whether every file and folder sent has been answered for.
    fn nothing_owed(&self) -> bool {
        self.unconfirmed.is_empty()
            && self.offered.is_empty()
            && self.folders.is_empty()
            && self.waiting.is_empty()
    }

    /// The queue closed without a goodbye to send: the conversation ended
    /// on the peer's side. Files not through yet were not delivered.
    fn abandoned(&self) -> Result<(), WriteError> {
        if self.active.is_empty() && self.nothing_owed() {
            return Ok(());
        }
        Err(WriteError::Connection(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the conversation ended before the peer had every file",
        )))
    }

    fn send(&mut self, message: &Message<'_>) -> Result<(), WriteError> {
        self.out.send(message).map_err(|e| self.lose_messages(e))
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

    fn new_id(&mut self) -> FileId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
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

    fn answer(&mut self, answer: Answer) -> Result<(), WriteError> {
        match answer {
            Answer::Accept { id, offset, prefix } => {
                self.send(&Message::Accept { id, offset, prefix })
            }
            Answer::Saved(id) => self.send(&Message::Saved { id }),
            Answer::Refused(id, reason) => self.send(&Message::Refused {
                id,
                reason: &reason,
            }),
        }
    }
}
