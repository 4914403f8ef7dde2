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

mod folders;
mod reports;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use crate::engine::Frontend;
use crate::files::send::{OutgoingFile, SendFailure};
use crate::files::tree::FolderTree;
use crate::net::secure::record::RecordWriter;
use crate::net::transport::WriteHalf;
use crate::session::events::{Outbound, SendEvent, Undelivered};
use crate::session::outgoing::{self, Answer, Outgoing, Typed, WriteError};
use crate::session::progress::{Meter, Transfers};
use crate::wire::limits::MAX_PLAINTEXT;
use crate::wire::message::{self, CHUNK_HEADER, FileId, Message};

use self::folders::FolderOut;
use self::reports::Reports;

/// Files and folders sent at once; those queued after them wait their turn.
const IN_FLIGHT: usize = 4;

/// File bytes in one chunk message: 64 KiB, which fits a record with the
/// message header.
const CHUNK_DATA: usize = 64 * 1024;
const _: () = assert!(CHUNK_HEADER + CHUNK_DATA <= MAX_PLAINTEXT);

/// How long an offer may wait for the peer's answer before the user (at a
/// terminal) is told that it waits: an answer usually comes at once, unless
/// the peer's user is asked.
const UNANSWERED_NOTE: Duration = Duration::from_secs(1);

/// Bytes read at a time to hash the start of a file the peer holds: one
/// such block per turn, between chunks and messages.
const PREFIX_READ: usize = 1024 * 1024;

/// Sends our name, then what arrives on `queue`, until [`Outgoing::Leave`]
/// has been acted on or the queue closes. On a failure, `failed` hears why
/// at once; the writer then waits for the queue to close and says what was
/// not delivered.
pub fn write_peer(
    out: RecordWriter<WriteHalf>,
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
        message: Vec::new(),
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

/// What waits for its turn, with its id in the transfer list.
enum Queued {
    File(OutgoingFile, u64),
    Folder(FolderTree, u64),
}

impl Queued {
    fn name(&self) -> &str {
        match self {
            Self::File(file, _) => file.name(),
            Self::Folder(folder, _) => &folder.name,
        }
    }

    fn transfer(&self) -> u64 {
        match self {
            Self::File(_, id) | Self::Folder(_, id) => *id,
        }
    }

    fn outbound(&self) -> Outbound {
        match self {
            Self::File(file, _) => self::file(file.name()),
            Self::Folder(folder, _) => folder_named(&folder.name),
        }
    }
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

/// Whose bytes a file's are: a file of its own, followed by its meter, or
/// one inside a folder being sent.
enum Owner<'a> {
    Lone(Meter<'a>, u64),
    Entry(FileId),
}

/// A file offered, waiting for the peer to accept it.
struct Offered<'a> {
    file: OutgoingFile,
    owner: Owner<'a>,
    /// Whether the user was told that it waits for the peer.
    told: bool,
}

/// A file being sent.
struct Sending<'a> {
    id: FileId,
    file: OutgoingFile,
    sent: u64,
    hash: blake3::Hasher,
    owner: Owner<'a>,
    /// What the peer says it holds of the file already, while that is
    /// being checked: nothing is sent before.
    check: Option<Check>,
    /// Bytes the peer held already, which did not travel.
    held: u64,
}

/// The peer holds the first `offset` bytes of a file if they hash to
/// `prefix`: checked a block at a time, `at` bytes so far.
struct Check {
    offset: u64,
    prefix: [u8; 32],
    at: u64,
}

/// A file sent whole, waiting for the peer to say it saved it.
struct Unconfirmed<'a> {
    name: String,
    size: u64,
    owner: Owner<'a>,
    /// Whether the peer had all of it already: no byte of it travelled.
    had_it: bool,
}

struct Writer<'a> {
    out: RecordWriter<WriteHalf>,
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
    /// Where a message is encoded before it is sealed.
    message: Vec<u8>,
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
        self.out
            .close()
            .and_then(|()| self.out.get_ref().finish())
            .map_err(|e| self.lose_messages(e))
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

    /// Whether offers wait for the peer that the user at a terminal was not
    /// told of.
    fn untold_offers(&self) -> bool {
        self.front.attended()
            && (self.offered.values().any(|o| !o.told)
                || self.folders.values().any(|f| !f.accepted && !f.told))
    }

    /// Tells the user which offers wait for the peer's answer.
    fn tell_unanswered(&mut self) {
        let to = self.transfers.counterpart();
        let mut waiting = Vec::new();
        for (id, offered) in &mut self.offered {
            if !std::mem::replace(&mut offered.told, true) {
                let (name, size) = (offered.file.name(), offered.file.size());
                waiting.push((*id, file(name), size));
            }
        }
        for (id, folder) in &mut self.folders {
            if !folder.accepted && !std::mem::replace(&mut folder.told, true) {
                waiting.push((*id, folder_named(&folder.name), folder.bytes));
            }
        }
        waiting.sort_by_key(|(id, ..)| *id);
        for (_, what, size) in waiting {
            self.front
                .sending(&SendEvent::Unanswered { what, size, to });
        }
    }

    /// Says the last lines on `transfer`: lines of success wait for the
    /// transfers its `/send` named before it that are still on their way
    /// (`through`); others are news at once.
    fn say(&mut self, transfer: u64, lines: Vec<SendEvent>, through: bool) {
        let Writer {
            reports,
            active,
            unconfirmed,
            folders,
            transfers,
            front,
            ..
        } = self;
        let lone = |owner: &Owner<'_>, t| matches!(owner, Owner::Lone(_, of) if *of == t);
        let on_its_way = |t| {
            active.iter().any(|s| lone(&s.owner, t))
                || unconfirmed.values().any(|u| lone(&u.owner, t))
                || folders.values().any(|f| f.transfer == t && f.accepted)
        };
        reports.say(transfer, lines, through, on_its_way, transfers, *front);
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

    /// Files of their own and folders offered or being sent, not counting
    /// those waiting for the peer's last answer.
    fn in_flight(&self) -> usize {
        let lone = |owner: &Owner<'_>| matches!(owner, Owner::Lone(..));
        self.offered.values().filter(|o| lone(&o.owner)).count()
            + self.active.iter().filter(|s| lone(&s.owner)).count()
            + self.folders.values().filter(|f| !f.ended).count()
    }

    /// Offers queued files and folders while fewer than [`IN_FLIGHT`] are
    /// on their way.
    fn start_waiting(&mut self) -> Result<(), WriteError> {
        while self.in_flight() < IN_FLIGHT {
            let Some(queued) = self.waiting.pop_front() else {
                break;
            };
            let id = self.new_id();
            match queued {
                Queued::File(file, transfer) => {
                    self.send(&Message::Offer {
                        id,
                        size: file.size(),
                        name: file.name(),
                    })?;
                    let meter = Meter::start(self.transfers, self.front, transfer);
                    meter.await_peer();
                    let owner = Owner::Lone(meter, transfer);
                    let told = false;
                    self.offered.insert(id, Offered { file, owner, told });
                }
                Queued::Folder(tree, transfer) => {
                    self.send(&Message::Folder {
                        id,
                        files: tree.files,
                        bytes: tree.bytes,
                        name: &tree.name,
                    })?;
                    let left_out = tree.skipped.iter().map(|s| s.shown(&tree.name)).collect();
                    let folder = FolderOut {
                        transfer,
                        name: tree.name,
                        bytes: tree.bytes,
                        items: tree.items.into(),
                        accepted: false,
                        outstanding: 0,
                        saved: 0,
                        saved_bytes: 0,
                        failed: Vec::new(),
                        left_out,
                        ended: false,
                        told: false,
                        meter: Meter::start(self.transfers, self.front, transfer),
                    };
                    folder.meter.await_peer();
                    self.folders.insert(id, folder);
                }
            }
        }
        Ok(())
    }

    /// The peer took the file or folder `id`; for a file, it holds its
    /// first `offset` bytes already if their hash is `prefix`, which is
    /// checked before anything of it is sent.
    fn accepted(&mut self, id: FileId, offset: u64, prefix: &[u8; 32]) -> Result<(), WriteError> {
        if let Some(folder) = self.folders.get_mut(&id)
            && !folder.accepted
        {
            folder.accepted = true;
            folder.meter.restart();
            return self.offer_entries(id);
        }
        let Some(Offered {
            file, mut owner, ..
        }) = self.offered.remove(&id)
        else {
            // An answer about no file of ours waiting for one.
            return Ok(());
        };
        if let Owner::Lone(meter, _) = &mut owner {
            meter.restart();
        }
        let check = (offset > 0).then_some(Check {
            offset,
            prefix: *prefix,
            at: 0,
        });
        self.active.push_back(Sending {
            id,
            file,
            sent: 0,
            hash: blake3::Hasher::new(),
            owner,
            check,
            held: 0,
        });
        Ok(())
    }

    /// Hashes the next block of what the peer says it holds of `sending`
    /// (a block per turn, so that messages and other files go meanwhile);
    /// once all of it is hashed, tells the peer where the chunks begin:
    /// there if the hash is the same, else at the start.
    fn check_next(&mut self, mut sending: Sending<'a>) -> Result<(), WriteError> {
        let size = sending.file.size();
        let Some(check) = &mut sending.check else {
            self.active.push_back(sending);
            return Ok(());
        };
        if check.offset <= size && check.at < check.offset {
            let want = (check.offset - check.at).min(PREFIX_READ as u64) as usize;
            self.block.resize(want, 0);
            if let Err(failure) = sending.file.read_at(check.at, &mut self.block) {
                return self.stop_sending(sending, failure);
            }
            sending.hash.update(&self.block);
            check.at += want as u64;
            if check.at < check.offset {
                self.active.push_back(sending);
                return Ok(());
            }
        }
        // (The block is of no more use: memory stays flat between checks.)
        self.block = Vec::new();
        let same = check.offset <= size && *sending.hash.finalize().as_bytes() == check.prefix;
        let from = if same { check.offset } else { 0 };
        sending.check = None;
        if !same {
            // The peer's is another file, or this one changed since: it
            // goes whole.
            sending.hash = blake3::Hasher::new();
        }
        self.send(&Message::Begin {
            id: sending.id,
            offset: from,
        })?;
        (sending.sent, sending.held) = (from, from);
        if from > 0 {
            self.resumed(&mut sending);
        }
        self.active.push_back(sending);
        Ok(())
    }

    /// The peer holds the first `held` bytes of `sending` already.
    fn resumed(&mut self, sending: &mut Sending<'a>) {
        let to = self.transfers.counterpart();
        let (held, size) = (sending.held, sending.file.size());
        match &mut sending.owner {
            Owner::Lone(meter, _) => {
                meter.resume_from(held);
                // (Said once the peer confirms, when it had all of it.)
                if held < size {
                    self.front.sending(&SendEvent::Resuming {
                        name: sending.file.name().to_string(),
                        to,
                        held,
                        size,
                    });
                }
            }
            Owner::Entry(folder) => {
                if let Some(folder) = self.folders.get_mut(folder) {
                    folder.meter.resume_from(held);
                }
            }
        }
    }

    /// Sends the next chunk of the file whose turn it is; a file sent whole
    /// is closed with its hash and waits for the peer's answer.
    fn send_next_chunk(&mut self) -> Result<(), WriteError> {
        let Some(mut sending) = self.active.pop_front() else {
            return Ok(());
        };
        if sending.check.is_some() {
            return self.check_next(sending);
        }
        let left = sending.file.size() - sending.sent;
        if left > 0 {
            let want = left.min(CHUNK_DATA as u64) as usize;
            // The piece is read straight into its record and sealed there.
            let (file, at, hash) = (&sending.file, sending.sent, &mut sending.hash);
            let filled = self.out.send_filled(CHUNK_HEADER + want, |chunk| {
                let (header, data) = chunk.split_at_mut(CHUNK_HEADER);
                header.copy_from_slice(&message::chunk_header(sending.id));
                file.read_at(at, data)?;
                hash.update(data);
                Ok(())
            });
            match filled {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => return self.stop_sending(sending, failure),
                Err(e) => {
                    let e = self.lose_messages(e);
                    self.not_delivered(&sending);
                    return Err(e);
                }
            }
            // Messages sealed before the chunk went out with it.
            self.unflushed_messages = 0;
            sending.sent += want as u64;
            match &mut sending.owner {
                Owner::Lone(meter, _) => meter.advance(want as u64),
                Owner::Entry(folder) => {
                    if let Some(folder) = self.folders.get_mut(folder) {
                        folder.meter.advance(want as u64);
                    }
                }
            }
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
                owner: sending.owner,
                had_it: sending.held == sending.file.size() && sending.held > 0,
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
        let to = self.transfers.counterpart();
        self.send(&Message::Cancel { id: sending.id })?;
        if let Owner::Entry(folder) = sending.owner {
            let shown = self.folders.get(&folder).map_or("", |f| f.name.as_str());
            self.front.sending(&SendEvent::SkippedInFolder {
                folder: shown.to_string(),
                why: failure,
            });
            let name = sending.file.name().to_string();
            return self.entry_done(folder, Err(name));
        }
        if let Owner::Lone(_, transfer) = sending.owner {
            let stopped = SendEvent::Stopped { why: failure, to };
            self.say(transfer, vec![stopped], false);
        }
        self.start_waiting()
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

    /// The peer's answer about a file or folder of ours.
    fn settle(&mut self, id: FileId, refusal: Option<String>) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        if let Some(unconfirmed) = self.unconfirmed.remove(&id) {
            let (name, size) = (&unconfirmed.name, unconfirmed.size);
            return match unconfirmed.owner {
                Owner::Lone(meter, transfer) => {
                    let through = refusal.is_none();
                    let said = match (refusal, meter.summary()) {
                        (None, _) if unconfirmed.had_it => SendEvent::AlreadyThere {
                            name: name.clone(),
                            to,
                        },
                        (None, summary) => SendEvent::Sent {
                            name: name.clone(),
                            size,
                            summary,
                        },
                        (Some(reason), _) => SendEvent::NotSaved {
                            what: file(name),
                            to,
                            reason,
                        },
                    };
                    // Off the list before the user reads that it is done.
                    drop(meter);
                    self.say(transfer, vec![said], through);
                    Ok(())
                }
                Owner::Entry(folder) => {
                    let outcome = match refusal {
                        None => Ok(size),
                        Some(_) => Err(name.clone()),
                    };
                    self.entry_done(folder, outcome)
                }
            };
        }
        if let Some(folder) = self.folders.remove(&id) {
            return self.settle_folder(id, folder, refusal);
        }
        // A refusal can come before the file is accepted (declined, no
        // room) or while it is being sent (disk full, cancelled there):
        // sending the rest is of no use.
        let Some(reason) = refusal else {
            return Ok(());
        };
        let (file, owner) = if let Some(offered) = self.offered.remove(&id) {
            (offered.file, offered.owner)
        } else if let Some(at) = self.active.iter().position(|s| s.id == id) {
            let sending = self.active.remove(at).expect("position is in range");
            (sending.file, sending.owner)
        } else {
            // An answer about no file of ours: nothing to do.
            return Ok(());
        };
        self.send(&Message::Cancel { id })?;
        match owner {
            Owner::Lone(_, transfer) => {
                let what = self::file(file.name());
                let said = SendEvent::NotSaved { what, to, reason };
                self.say(transfer, vec![said], false);
                self.start_waiting()
            }
            Owner::Entry(folder) => self.entry_done(folder, Err(file.name().to_string())),
        }
    }

    /// The user's `/cancel` of the transfer `transfer`.
    fn cancel(&mut self, transfer: u64) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        if let Some(at) = self.waiting.iter().position(|q| q.transfer() == transfer) {
            let queued = self.waiting.remove(at).expect("position is in range");
            self.transfers.forget(transfer);
            let what = queued.outbound();
            self.say(
                transfer,
                vec![SendEvent::Cancelled { what, to: None }],
                false,
            );
            return Ok(());
        }
        let lone = |owner: &Owner<'_>| matches!(owner, Owner::Lone(_, t) if *t == transfer);
        let found = self
            .offered
            .iter()
            .find(|(_, o)| lone(&o.owner))
            .map(|(id, _)| *id)
            .or_else(|| self.active.iter().find(|s| lone(&s.owner)).map(|s| s.id));
        if let Some(id) = found {
            let name = match self.offered.remove(&id) {
                Some(offered) => offered.file.name().to_string(),
                None => {
                    let at = self.active.iter().position(|s| s.id == id);
                    let sending = self
                        .active
                        .remove(at.expect("found above"))
                        .expect("in range");
                    sending.file.name().to_string()
                }
            };
            self.send(&Message::Cancel { id })?;
            let what = file(&name);
            let said = SendEvent::Cancelled { what, to: Some(to) };
            self.say(transfer, vec![said], false);
            return self.start_waiting();
        }
        let folder = self
            .folders
            .iter()
            .find(|(_, f)| f.transfer == transfer)
            .map(|(id, f)| (*id, f.ended));
        match folder {
            Some((id, false)) => {
                let folder = self.folders.remove(&id).expect("found above");
                self.drop_entries_of(id);
                self.send(&Message::Cancel { id })?;
                let what = folder_named(&folder.name);
                let said = SendEvent::Cancelled { what, to: Some(to) };
                self.say(transfer, vec![said], false);
                self.start_waiting()
            }
            _ => {
                let sent_whole = folder.is_some()
                    || self
                        .unconfirmed
                        .values()
                        .any(|u| matches!(u.owner, Owner::Lone(_, t) if t == transfer));
                let to = sent_whole.then_some(to);
                self.front
                    .sending(&SendEvent::NotCancelled { transfer, to });
                Ok(())
            }
        }
    }

    /// The user leaves at once: files and folders of ours still queued are
    /// not sent, offers not yet answered are withdrawn (the peer told), and
    /// those on their way stop where they are, untold: leaving then cuts
    /// them, and the peer keeps what arrived for sending them again to
    /// resume, where a Cancel would have made it throw that away. Those
    /// sent whole are not waited for.
    fn stop_all(&mut self) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        for queued in std::mem::take(&mut self.waiting) {
            self.transfers.forget(queued.transfer());
            let name = queued.name().to_string();
            self.say(
                queued.transfer(),
                vec![SendEvent::LeftFirst { name }],
                false,
            );
        }
        let lone = |owner: &Owner<'_>| match owner {
            Owner::Lone(_, transfer) => Some(*transfer),
            Owner::Entry(_) => None,
        };
        let mut offered: Vec<u64> = self
            .offered
            .values()
            .filter_map(|o| lone(&o.owner))
            .collect();
        offered.sort_unstable();
        for transfer in offered {
            self.cancel(transfer)?;
        }
        // (What is left on offer are files of folders on their way.)
        self.offered.clear();
        let mut going: Vec<(u64, Outbound)> = (self.active.iter())
            .filter_map(|s| Some((lone(&s.owner)?, file(s.file.name()))))
            .chain(
                self.folders
                    .values()
                    .map(|f| (f.transfer, folder_named(&f.name))),
            )
            .collect();
        going.sort_unstable_by_key(|(transfer, what)| (*transfer, what.name.clone()));
        self.active.clear();
        self.folders.clear();
        for (transfer, what) in going {
            let said = SendEvent::StoppedLeaving { what, to };
            self.say(transfer, vec![said], false);
        }
        for (_, unconfirmed) in std::mem::take(&mut self.unconfirmed) {
            if let Owner::Lone(_, transfer) = unconfirmed.owner {
                let name = unconfirmed.name;
                let said = SendEvent::UnconfirmedLeaving { name, to };
                self.say(transfer, vec![said], false);
            }
        }
        Ok(())
    }

    /// Leaving, with files and folders the peer has not answered for, and
    /// those queued behind them: said in the order they were sent.
    fn give_up_on_answers(&mut self, patience: Duration) {
        self.reports.flush(self.front);
        let to = self.transfers.counterpart();
        let mut unanswered = Vec::new();
        for (id, offered) in self.offered.drain() {
            if let Owner::Lone(..) = offered.owner {
                unanswered.push((id, file(offered.file.name()), false));
            }
        }
        for (id, unconfirmed) in self.unconfirmed.drain() {
            if let Owner::Lone(..) = unconfirmed.owner {
                unanswered.push((id, file(&unconfirmed.name), true));
            }
        }
        for (id, folder) in self.folders.drain() {
            unanswered.push((id, folder_named(&folder.name), folder.accepted));
        }
        unanswered.sort_by_key(|(id, ..)| *id);
        for (_, what, accepted) in unanswered {
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::GaveUp {
                    what,
                    accepted,
                    to,
                    patience,
                }));
        }
        for queued in self.waiting.drain(..) {
            let name = queued.name().to_string();
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::QueuedBehind {
                    name,
                    to,
                }));
        }
    }

    fn not_delivered(&self, sending: &Sending<'_>) {
        if let Owner::Lone(..) = sending.owner {
            let file = &sending.file;
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::NotDelivered {
                    name: file.name().to_string(),
                    done: sending.sent,
                    size: file.size(),
                }));
        }
    }

    /// After a failure: what was in flight, queued, or about to be queued.
    fn lose(&mut self, outgoing: Outgoing) {
        match outgoing {
            Outgoing::Lines(lines, _) => self.lost_messages += outgoing::count_messages(&lines),
            Outgoing::Text(_) => self.lost_messages += 1,
            Outgoing::File(file, _) => self.waiting.push_back(Queued::File(file, 0)),
            Outgoing::Folder(folder, _) => self.waiting.push_back(Queued::Folder(folder, 0)),
            Outgoing::Typed(Typed::Whisper { .. }) => self.lost_messages += 1,
            // (Answers and requests are not messages of the user's.)
            Outgoing::Leave | Outgoing::Typed(_) => {}
        }
    }

    fn report_lost(&mut self) {
        self.reports.flush(self.front);
        let to = self.transfers.counterpart();
        for sending in std::mem::take(&mut self.active) {
            self.not_delivered(&sending);
        }
        let unanswered = |name: &str, sent_whole| {
            SendEvent::Undelivered(Undelivered::NotAnswered {
                name: name.to_string(),
                to,
                sent_whole,
            })
        };
        for (_, offered) in self.offered.drain() {
            if let Owner::Lone(..) = offered.owner {
                self.front.sending(&unanswered(offered.file.name(), false));
            }
        }
        for (_, unconfirmed) in self.unconfirmed.drain() {
            if let Owner::Lone(..) = unconfirmed.owner {
                self.front.sending(&unanswered(&unconfirmed.name, true));
            }
        }
        for (_, folder) in self.folders.drain() {
            self.front.sending(&match folder.accepted {
                true => SendEvent::Undelivered(Undelivered::NotDelivered {
                    done: folder.meter.done(),
                    size: folder.bytes,
                    name: folder.name,
                }),
                false => unanswered(&folder.name, false),
            });
        }
        for queued in self.waiting.drain(..) {
            let name = queued.name().to_string();
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::NotStarted { name }));
        }
        self.front
            .sending(&SendEvent::Undelivered(Undelivered::MessagesNotSent(
                self.lost_messages,
            )));
    }
}
