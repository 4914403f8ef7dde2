//! The reader thread of an encrypted conversation: opens the peer's
//! records, shows its messages under the name it gave once, and saves its
//! files, several at once, each checked against its BLAKE3 hash before it
//! takes its final name.

use std::collections::BTreeMap;
use std::io::{self, BufReader};
use std::sync::mpsc::Sender;

use crate::files::download::{DownloadDir, DownloadError, Partial, safe_file_name};
use crate::files::receive::ReceiveError;
use crate::net::secure::record::{RecordError, RecordReader};
use crate::net::transport::ReadHalf;
use crate::session::incoming::{self, PeerEnd};
use crate::session::input::{Ticket, Tickets};
use crate::session::outgoing::{Answer, Outgoing};
use crate::session::progress::{Direction, Meter, Transfers};
use crate::terminal::screen::Screen;
use crate::wire::frame;
use crate::wire::message::{FileId, Message, MessageError};

/// Files the peer may send at once; more is a breach of the protocol.
const MAX_INCOMING: usize = 16;

/// Messages the reader may have handed the writer and not yet seen dealt
/// with; past that, the reader waits, and so does the peer.
pub const ANSWERS_IN_FLIGHT: usize = 64;

/// Reads the peer's messages until the channel closes, and says how it
/// ended. Answers about files go to the writer on `outbox`, each with one
/// of `answers`' tickets.
pub fn read_peer(
    records: RecordReader<BufReader<ReadHalf>>,
    outbox: Sender<Outgoing>,
    answers: Tickets,
    downloads: &DownloadDir,
    screen: &Screen,
    transfers: &Transfers,
) -> PeerEnd {
    let mut reader = Reader {
        outbox,
        answers,
        downloads,
        screen,
        transfers,
        peer: None,
        line: Vec::new(),
        files: BTreeMap::new(),
        holding: false,
    };
    let end = reader.read(records);
    reader.report_unfinished(end)
}

/// A file arriving.
struct Arriving<'a> {
    name: String,
    size: u64,
    received: u64,
    hash: blake3::Hasher,
    /// Where it is saved; `None` once saving failed (the rest is read and
    /// dropped).
    partial: Option<Partial>,
    meter: Meter<'a>,
}

struct Reader<'a> {
    outbox: Sender<Outgoing>,
    answers: Tickets,
    downloads: &'a DownloadDir,
    screen: &'a Screen,
    transfers: &'a Transfers,
    /// The peer's name, once it said it.
    peer: Option<String>,
    /// Where a message is put together as `[NAME] text`.
    line: Vec<u8>,
    files: BTreeMap<FileId, Arriving<'a>>,
    /// Whether the last line shown was held back for the next: a burst of
    /// lines costs one write, but a line followed by a chunk goes at once.
    holding: bool,
}

/// Why the peer's stream cannot be read on.
enum Breach {
    Record(RecordError),
    Protocol(String),
}

impl From<MessageError> for Breach {
    fn from(e: MessageError) -> Self {
        Self::Protocol(e.to_string())
    }
}

impl<'a> Reader<'a> {
    fn read(&mut self, mut records: RecordReader<BufReader<ReadHalf>>) -> Result<(), Breach> {
        loop {
            let (record, more_coming) = match records.next_record_and_more() {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Breach::Record(e)),
            };
            let message = Message::decode(record)?;
            let text = matches!(message, Message::Text(_));
            if self.holding && !text {
                self.screen.flush();
            }
            self.holding = text && more_coming;
            self.act(message, more_coming)?;
        }
    }

    fn act(&mut self, message: Message<'_>, more_coming: bool) -> Result<(), Breach> {
        if self.peer.is_none() {
            let Message::Hello { name } = message else {
                return Err(Breach::Protocol(
                    "the peer did not say its name first".into(),
                ));
            };
            let name = crate::cli::parse_name(name)
                .map_err(|why| Breach::Protocol(format!("the peer's name is refused: {why}")))?;
            self.peer = Some(name);
            return Ok(());
        }
        match message {
            Message::Hello { .. } => {
                return Err(Breach::Protocol("the peer said its name twice".into()));
            }
            Message::Text(text) => {
                let peer = self.peer.as_deref().unwrap_or_default();
                self.line.clear();
                self.line.push(b'[');
                self.line.extend_from_slice(peer.as_bytes());
                self.line.extend_from_slice(b"] ");
                self.line.extend_from_slice(text.as_bytes());
                self.screen.peer_line(&self.line, more_coming);
            }
            Message::Offer { id, size, name } => self.offer(id, size, name)?,
            Message::Chunk { id, data } => self.chunk(id, data)?,
            Message::End { id, hash } => self.end(id, &hash)?,
            Message::Saved { id } => self.tell_writer(|ticket| Outgoing::Settled {
                id,
                refusal: None,
                ticket,
            }),
            Message::Refused { id, reason } => self.tell_writer(|ticket| Outgoing::Settled {
                id,
                refusal: Some(reason.to_string()),
                ticket,
            }),
            Message::Cancel { id } => {
                let arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
                if arriving.partial.is_some() {
                    self.screen.system(format!(
                        "The peer stopped sending {}; nothing was saved.",
                        arriving.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Hands the writer a message, once a ticket is free.
    fn tell_writer(&self, outgoing: impl FnOnce(Ticket) -> Outgoing) {
        // No ticket once the conversation is over; the writer is gone then
        // too.
        if let Some(ticket) = self.answers.take() {
            let _ = self.outbox.send(outgoing(ticket));
        }
    }

    /// Says that the peer's file `id` cannot be saved, here and to the peer.
    fn cannot_save(&self, id: FileId, name: &str, e: &DownloadError) {
        self.screen
            .system(format!("Could not save file {name}: {e}"));
        self.answer(Answer::Refused(id, e.to_string()));
    }

    fn answer(&self, answer: Answer) {
        self.tell_writer(|ticket| Outgoing::Answer(answer, ticket));
    }

    fn offer(&mut self, id: FileId, size: u64, name: &str) -> Result<(), Breach> {
        if size > frame::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {size} bytes, over the limit of {}",
                frame::MAX_FILE_SIZE
            )));
        }
        if self.files.contains_key(&id) {
            return Err(Breach::Protocol(format!(
                "the peer offered file {id} again while still sending it"
            )));
        }
        if self.files.len() >= MAX_INCOMING {
            return Err(Breach::Protocol(format!(
                "the peer offered a file while already sending {MAX_INCOMING}"
            )));
        }
        // Shown as it will be saved: what a peer puts in a name (a path, a
        // look-alike of our own lines) never reaches the screen.
        let name = &safe_file_name(name);
        // In the list before it is announced, so a `/status` that follows
        // the announcement sees it.
        let meter = Meter::begin(self.transfers, self.screen, Direction::Receive, name, size);
        self.screen
            .system(format!("Incoming file {name} ({size} bytes)..."));
        let partial = match self.downloads.start(name) {
            Ok(partial) => Some(partial),
            Err(e) => {
                self.cannot_save(id, name, &e);
                None
            }
        };
        self.files.insert(
            id,
            Arriving {
                name: name.to_string(),
                size,
                received: 0,
                hash: blake3::Hasher::new(),
                partial,
                meter,
            },
        );
        Ok(())
    }

    fn chunk(&mut self, id: FileId, data: &[u8]) -> Result<(), Breach> {
        let arriving = self.files.get_mut(&id).ok_or_else(|| unknown(id))?;
        let len = data.len() as u64;
        if arriving.size - arriving.received < len {
            return Err(Breach::Protocol(format!(
                "the peer sent more of {} than the {} bytes it announced",
                arriving.name, arriving.size
            )));
        }
        arriving.received += len;
        arriving.meter.advance(len);
        let Some(partial) = &mut arriving.partial else {
            return Ok(());
        };
        arriving.hash.update(data);
        if let Err(e) = partial.write(data) {
            arriving.partial = None;
            let name = arriving.name.clone();
            self.cannot_save(id, &name, &e);
        }
        Ok(())
    }

    fn end(&mut self, id: FileId, hash: &[u8; 32]) -> Result<(), Breach> {
        let arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
        if arriving.received != arriving.size {
            return Err(Breach::Protocol(format!(
                "the peer ended {} after {} of its {} bytes",
                arriving.name, arriving.received, arriving.size
            )));
        }
        let Some(partial) = arriving.partial else {
            // Already refused, and the peer told why.
            return Ok(());
        };
        let name = &arriving.name;
        if arriving.hash.finalize() != *hash {
            self.screen.system(format!(
                "{name} arrived damaged (its hash does not match); nothing was saved."
            ));
            self.answer(Answer::Refused(
                id,
                "it arrived damaged (its hash does not match)".into(),
            ));
            return Ok(());
        }
        match partial.finish() {
            Ok(path) => {
                incoming::say_saved(self.screen, &path, &arriving.meter);
                self.answer(Answer::Saved(id));
            }
            Err(e) => self.cannot_save(id, name, &e),
        }
        Ok(())
    }

    /// Says what of the peer's files did not arrive, and how the stream
    /// ended. Unfinished files are dropped: they never had a name.
    fn report_unfinished(&mut self, end: Result<(), Breach>) -> PeerEnd {
        let mut first_cut = None;
        for arriving in std::mem::take(&mut self.files).into_values() {
            if arriving.partial.is_none() {
                continue;
            }
            let cut = ReceiveError::Incomplete {
                received: arriving.received,
                expected: arriving.size,
            };
            self.screen.system(format!(
                "Transfer of {} incomplete: {cut}; nothing was saved.",
                arriving.name
            ));
            first_cut.get_or_insert(cut);
        }
        match end {
            Ok(()) => {
                if let Some(peer) = &self.peer {
                    let line = format!("[{peer}] {}", frame::LEAVE_MESSAGE);
                    self.screen.peer_line(line.as_bytes(), false);
                }
                match first_cut {
                    Some(cut) => PeerEnd::Cut(cut),
                    None => PeerEnd::Left,
                }
            }
            Err(Breach::Record(RecordError::Io(e))) => PeerEnd::Lost(e),
            Err(Breach::Record(RecordError::Cut)) => PeerEnd::Lost(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection was cut without the peer saying goodbye",
            )),
            Err(Breach::Record(e)) => PeerEnd::Broken(e.to_string()),
            Err(Breach::Protocol(why)) => {
                PeerEnd::Broken(format!("the peer broke the protocol: {why}"))
            }
        }
    }
}

fn unknown(id: FileId) -> Breach {
    Breach::Protocol(format!(
        "the peer sent part of file {id}, which it never offered"
    ))
}
