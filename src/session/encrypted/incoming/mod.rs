//! The reader thread of an encrypted conversation: opens the peer's
//! records, shows its messages under the name it gave once, and saves its
//! files and folders, several at once, each file checked against its
//! BLAKE3 hash before it (or its folder) takes its final name. Offers are
//! taken at once or wait for the user; what arrived of a transfer that was
//! cut is kept, hidden, so that sending it again resumes.

mod files;
mod folders;
mod hashing;
mod room;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::engine::Frontend;
use crate::files::download::{DownloadDir, DownloadError};
use crate::files::kept::{Kept, KeptFile};
use crate::files::receive::ReceiveError;
use crate::files::space::{NoRoom, Owed};
use crate::net::secure::record::{Ending, RecordError, RecordReader};
use crate::net::transport;
use crate::net::transport::ReadHalf;
use crate::session::events::{self, ChatEvent, Offered, ReceiveEvent, Refusal, Unsaved};
use crate::session::incoming::PeerEnd;
use crate::session::input::{Ticket, Tickets};
use crate::session::outgoing::{Answer, Outgoing, Typed};
use crate::session::progress::{Meter, Transfers, Verdict};
use crate::wire::frame;
use crate::wire::limits::MAX_INCOMING;
use crate::wire::message::{FileId, Message, MessageError};

use self::folders::ArrivingFolder;
use self::hashing::{Hashing, Identity, Pending, Tell};

/// Folders of more files than this wait for the user as big offers do
/// (when offers wait for the user at all): each file takes a block of the
/// disk and an inode, whatever its size.
pub const ASK_FILES: u64 = 10_000;

/// Messages the reader may have handed the writer and not yet seen dealt
/// with; past that, the reader waits, and so does the peer.
pub const ANSWERS_IN_FLIGHT: usize = 64;

/// What the reader is told of the user's wishes.
#[derive(Debug, Clone)]
pub struct Receiving {
    pub downloads: DownloadDir,
    /// Offers over this many bytes wait for `/accept`; `None` takes all.
    pub ask_above: Option<u64>,
    /// Our own name, as a room's member list shows it.
    pub name: String,
    /// Whether we host the room the peer (our own room) says we are in.
    pub hosting: bool,
    /// Whether the peer may be a room's host: we connected to it.
    pub may_join: bool,
}

/// Reads the peer's messages until the channel closes, and says how it
/// ended. Answers about files go to the writer on `outbox`, each with one
/// of `answers`' tickets.
pub fn read_peer(
    records: RecordReader<ReadHalf>,
    outbox: Sender<Outgoing>,
    answers: Tickets,
    receiving: &Receiving,
    front: &dyn Frontend,
    transfers: &Transfers,
    in_room: &AtomicBool,
) -> PeerEnd {
    let kept = Kept::of(&receiving.downloads);
    // A week is long enough to try again; what is older goes.
    if let Err(e) = kept.discard(true) {
        front.receive(ReceiveEvent::KeptUnusable(&e));
    }
    std::thread::scope(|scope| {
        let tell = Tell {
            outbox: outbox.clone(),
            answers: answers.clone(),
            front,
            transfers,
        };
        let mut reader = Reader {
            outbox,
            answers,
            downloads: &receiving.downloads,
            kept,
            ask_above: receiving.ask_above,
            front,
            transfers,
            peer: None,
            files: BTreeMap::new(),
            folders: BTreeMap::new(),
            hashing: Hashing::start(scope, tell),
            holding: false,
            own_name: receiving.name.clone(),
            hosting: receiving.hosting,
            may_join: receiving.may_join || receiving.hosting,
            room: None,
            new_read_timeout: None,
            in_room,
            said_anything: false,
        };
        let end = reader.read(records);
        reader.forget_unanswered();
        reader.report_unfinished(end)
        // (The hashing worker stops as the reader goes, and is joined.)
    })
}

/// How far a file or folder the peer offered has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the user's `/accept`.
    Asked,
    /// Accepted: its bytes may come. With a kept part offered, the peer
    /// first says where its chunks begin.
    Accepted { awaiting_begin: bool },
    /// Refused, declined or cancelled here: what still comes is dropped.
    Dropped,
}

/// A file arriving, of its own or inside a folder.
struct Arriving<'a> {
    /// As shown: a safe name, or a folder's name and the path inside it.
    name: String,
    size: u64,
    /// Bytes held: kept from before, then received.
    received: u64,
    hash: blake3::Hasher,
    /// Where it is saved; `None` once dropped.
    kept: Option<KeptFile>,
    /// What was kept from before, as offered to the peer.
    offset: u64,
    stage: Stage,
    owner: Owner<'a>,
    /// While what is here of it is being hashed: the peer is answered once
    /// it is known.
    pending: Option<Arc<Pending>>,
    /// A file of its name and size in the download folder, as looked at,
    /// offered to the peer as the file itself: if the peer's is the same,
    /// nothing travels and that file stays as it is.
    there: Option<Identity>,
    /// That file, and its hash, when the peer's came whole all the same
    /// (in a room, because another member needed all of it): if what
    /// arrives is the same, it is not kept twice.
    compared: Option<([u8; 32], Identity)>,
    /// In a room: the member it is from.
    from: Option<String>,
}

impl<'a> Arriving<'a> {
    /// A file just offered: nowhere to be saved and not taken, until it is.
    fn new(name: String, size: u64, owner: Owner<'a>) -> Self {
        Self {
            name,
            size,
            received: 0,
            hash: blake3::Hasher::new(),
            kept: None,
            offset: 0,
            stage: Stage::Dropped,
            owner,
            pending: None,
            there: None,
            compared: None,
            from: None,
        }
    }
}

/// What is here already of a file offered.
#[derive(Clone, Copy)]
enum Here {
    Nothing,
    /// This many of its first bytes, kept from an earlier try.
    Kept(u64),
    /// A file of its name and size in the download folder, as looked at:
    /// perhaps the very file.
    There(Identity),
}

impl Here {
    /// Bytes of a file of `size` counted as here: not promised, unless it
    /// comes whole after all.
    fn held(&self, size: u64) -> u64 {
        match self {
            Here::Nothing => 0,
            Here::Kept(held) => *held,
            Here::There(_) => size,
        }
    }

    /// As the user is told of it.
    fn shown(&self) -> events::Here {
        match *self {
            Here::Nothing => events::Here::Nothing,
            Here::Kept(held) => events::Here::Kept(held),
            Here::There(_) => events::Here::There,
        }
    }
}

/// Whose a file is: one of its own, with its meter once it runs, or one
/// of a folder's.
enum Owner<'a> {
    Lone {
        transfer: u64,
        meter: Option<Meter<'a>>,
    },
    Entry(FileId),
}

struct Reader<'a> {
    outbox: Sender<Outgoing>,
    answers: Tickets,
    downloads: &'a DownloadDir,
    kept: Kept,
    ask_above: Option<u64>,
    front: &'a dyn Frontend,
    transfers: &'a Transfers,
    /// The peer's name, once it said it.
    peer: Option<String>,
    files: BTreeMap<FileId, Arriving<'a>>,
    folders: BTreeMap<FileId, ArrivingFolder<'a>>,
    /// Hashes what is here already of the files offered, off this thread.
    hashing: Hashing,
    /// Whether the last line shown was held back for the next: a burst of
    /// lines costs one write, but a line followed by a chunk goes at once.
    holding: bool,
    own_name: String,
    hosting: bool,
    may_join: bool,
    /// In a room: how long the host may be silent before it counts as gone.
    room: Option<Duration>,
    /// A read timeout to set on the connection before the next read.
    new_read_timeout: Option<Duration>,
    /// Told to the user's side once the peer says it hosts a room.
    in_room: &'a AtomicBool,
    /// Whether the peer sent anything past its Hello: a room is said first.
    said_anything: bool,
}

/// Why the peer's stream cannot be read on.
enum Breach {
    Record(RecordError),
    Protocol(String),
    /// A room's host did not let us in, and said why.
    Unwelcome(String),
}

impl From<MessageError> for Breach {
    fn from(e: MessageError) -> Self {
        Self::Protocol(e.to_string())
    }
}

impl<'a> Reader<'a> {
    fn read(&mut self, mut records: RecordReader<ReadHalf>) -> Result<(), Breach> {
        loop {
            let (record, more_coming) = match records.next_record_and_more() {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Breach::Record(e)),
            };
            let message = Message::decode(record)?;
            let text = matches!(message, Message::Text(_) | Message::Said { .. });
            if self.holding && !text {
                self.front.flush();
            }
            self.holding = text && more_coming;
            self.act(message, more_coming)?;
            if let Some(limit) = self.new_read_timeout.take() {
                records
                    .get_ref()
                    .set_read_timeout(Some(limit))
                    .map_err(|e| Breach::Record(RecordError::Io(e)))?;
            }
        }
    }

    fn act(&mut self, message: Message<'_>, more_coming: bool) -> Result<(), Breach> {
        if self.peer.is_none() {
            let Message::Hello { name } = message else {
                return Err(Breach::Protocol(
                    "the peer did not say its name first".into(),
                ));
            };
            let name = crate::wire::name::parse(name)
                .map_err(|why| Breach::Protocol(format!("the peer's name is refused: {why}")))?;
            self.peer = Some(name);
            return Ok(());
        }
        if let Message::Room { keepalive, members } = message {
            return self.joined_room(keepalive, members);
        }
        self.said_anything = true;
        match message {
            Message::Hello { .. } => {
                return Err(Breach::Protocol("the peer said its name twice".into()));
            }
            // (Taken above, where a late one is refused.)
            Message::Room { .. } => {}
            Message::Said { name, text } => self.said(name, text, more_coming)?,
            Message::Whisper { name, text } => self.whispered(name, text)?,
            Message::Whispered { name, text } => self.whisper_went(name, text)?,
            Message::Presence {
                change,
                name,
                reason,
            } => self.presence(change, name, reason)?,
            Message::Members(list) => self.members(list)?,
            Message::Unwelcome { reason } => {
                // It also goes to stderr, where nothing else makes it safe.
                let reason = crate::terminal::sanitize::for_terminal(reason.as_bytes());
                return Err(Breach::Unwelcome(reason.into_owned()));
            }
            Message::Ping => self.pinged(),
            Message::Pong => {}
            Message::Notice { text } => self.notice(text)?,
            Message::Lost { id } => {
                if self.room.is_none() {
                    return Err(Breach::Protocol(
                        "the peer said a sender left, outside a room".into(),
                    ));
                }
                self.lost(id)?;
            }
            Message::Who => {
                return Err(Breach::Protocol(
                    "the peer asked who is in a room we do not host".into(),
                ));
            }
            Message::Text(text) => {
                let peer = self.peer.as_deref().unwrap_or_default();
                self.front.chat(ChatEvent::PeerSaid {
                    name: peer,
                    text,
                    more_coming,
                });
            }
            file @ (Message::Offer { .. }
            | Message::Passed { .. }
            | Message::Folder { .. }
            | Message::PassedFolder { .. }
            | Message::Entry { .. }
            | Message::Subfolder { .. }
            | Message::Begin { .. }
            | Message::Chunk { .. }
            | Message::End { .. }
            | Message::Cancel { .. }
            | Message::Saved { .. }
            | Message::Refused { .. }
            | Message::Accept { .. }) => self.act_on_file(file)?,
        }
        Ok(())
    }

    /// Acts on a message about files: offers, their bytes, their answers.
    fn act_on_file(&mut self, message: Message<'_>) -> Result<(), Breach> {
        match message {
            Message::Offer { id, size, name } => self.offer(id, size, name, None)?,
            Message::Passed {
                id,
                size,
                from,
                name,
            } => {
                self.in_room("file", from)?;
                self.offer(id, size, name, Some(from))?;
            }
            Message::Folder {
                id,
                files,
                bytes,
                name,
            } => self.folder(id, files, bytes, name, None)?,
            Message::PassedFolder {
                id,
                files,
                bytes,
                from,
                name,
            } => {
                self.in_room("folder", from)?;
                self.folder(id, files, bytes, name, Some(from))?;
            }
            Message::Entry {
                id,
                folder,
                size,
                path,
            } => self.entry(id, folder, size, path)?,
            Message::Subfolder { folder, path } => self.subfolder(folder, path)?,
            Message::Begin { id, offset } => self.begin(id, offset)?,
            Message::Chunk { id, data } => self.chunk(id, data)?,
            Message::End { id, hash } => self.end(id, &hash)?,
            Message::Cancel { id } => self.cancelled(id)?,
            Message::Saved { id } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Settled {
                    id,
                    refusal: None,
                    ticket,
                })
            }),
            Message::Refused { id, reason } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Settled {
                    id,
                    refusal: Some(reason.to_string()),
                    ticket,
                })
            }),
            Message::Accept { id, offset, prefix } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Accepted {
                    id,
                    offset,
                    prefix,
                    ticket,
                })
            }),
            // (`act` hands over the messages above only.)
            _ => {}
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

    /// Says that the peer's file or folder `id`, `what`, cannot be saved,
    /// here in full and to the peer in short: where our files go is none of
    /// its business.
    fn cannot_save(&self, id: FileId, what: Unsaved<'_>, e: &DownloadError) {
        self.front
            .receive(ReceiveEvent::CannotSave { what, why: e });
        self.answer(Answer::Refused(id, e.for_peer().to_string()));
    }

    fn answer(&self, answer: Answer) {
        self.tell_writer(|ticket| Outgoing::Typed(Typed::Answer(answer, ticket)));
    }

    /// Checks what any new file or folder must pass.
    fn check_new(&self, id: FileId) -> Result<(), Breach> {
        if self.files.contains_key(&id) || self.folders.contains_key(&id) {
            return Err(Breach::Protocol(format!(
                "the peer offered file {id} again while still sending it"
            )));
        }
        if self.files.len() >= MAX_INCOMING {
            return Err(Breach::Protocol(format!(
                "the peer offered a file while already sending {MAX_INCOMING}"
            )));
        }
        Ok(())
    }

    /// Why `needed` cannot be taken for lack of room beside what the other
    /// transfers arriving (all but `transfer`, this one) still have to put
    /// on the disk; `None` when it fits or nobody can tell.
    fn no_room(&self, needed: Owed, transfer: u64) -> Option<NoRoom> {
        let space = self.downloads.space()?;
        let promised = self.transfers.promised(transfer);
        space.check(needed, promised, self.downloads.path()).err()
    }

    /// Whether an offer of `size` bytes in `files` files waits for the
    /// user: a folder of very many files, as a big one does.
    fn asks(&self, size: u64, files: u64) -> bool {
        self.ask_above
            .is_some_and(|limit| size > limit || files > ASK_FILES)
    }

    /// Asks the user about an offer; `here` says what is here of it
    /// already, and so what accepting it would move.
    fn ask(&self, transfer: u64, offered: Offered<'_>, here: &Here) {
        self.front.receive(ReceiveEvent::Asked {
            offered,
            peer: self.peer.as_deref().unwrap_or_default(),
            transfer,
            here: here.shown(),
        });
    }

    /// Refuses an offer at once for a reason of ours, said in full here
    /// and as `for_peer` to the peer.
    fn decline_for(&self, id: FileId, offered: Offered<'_>, why: Refusal<'_>, for_peer: &str) {
        self.front.receive(ReceiveEvent::Declined { offered, why });
        self.answer(Answer::Refused(id, for_peer.to_string()));
    }

    /// Tells the user the peer stopped sending `name`, a `folder` or a
    /// file, unless the user stopped it first (and was told then):
    /// `verdict` is the user's, for a transfer the user could decide on.
    fn say_stopped(&self, name: &str, stage: Stage, verdict: Option<Verdict>, folder: bool) {
        match (stage, verdict) {
            // (Accepted by the user, but withdrawn before the peer knew.)
            (Stage::Asked, Some(Verdict::Waiting | Verdict::Accepted)) => {
                self.front.receive(ReceiveEvent::Withdrawn { name });
            }
            (Stage::Accepted { .. }, Some(Verdict::Accepted) | None) => {
                self.front.receive(ReceiveEvent::Stopped { name, folder });
            }
            _ => {}
        }
    }

    /// Says which files of their own that were arriving did not arrive
    /// whole; returns the first.
    fn report_cut_files(&mut self) -> Option<ReceiveError> {
        let mut first_cut = None;
        for arriving in std::mem::take(&mut self.files).into_values() {
            let Owner::Lone { transfer, .. } = arriving.owner else {
                continue;
            };
            let Some(kept) = arriving.kept else {
                continue;
            };
            if !matches!(arriving.stage, Stage::Accepted { .. }) {
                continue;
            }
            if self.transfers.verdict(transfer) == Verdict::Cancelled {
                kept.discard();
                continue;
            }
            if arriving.there.is_some() {
                // Taken for the file of its name here: no byte came yet.
                self.front.receive(ReceiveEvent::IncompleteUntouched {
                    name: &arriving.name,
                });
                first_cut.get_or_insert(ReceiveError::Incomplete {
                    received: 0,
                    expected: arriving.size,
                });
                continue;
            }
            let cut = ReceiveError::Incomplete {
                received: arriving.received,
                expected: arriving.size,
            };
            let (name, why) = (arriving.name.as_str(), &cut);
            self.front.receive(match kept.held() {
                0 => ReceiveEvent::Incomplete { name, why },
                _ => ReceiveEvent::IncompleteKept { name, why },
            });
            first_cut.get_or_insert(cut);
        }
        first_cut
    }

    /// Says which folders that were arriving did not arrive whole; returns
    /// the first.
    fn report_cut_folders(&mut self) -> Option<ReceiveError> {
        let mut first_cut = None;
        for folder in std::mem::take(&mut self.folders).into_values() {
            let Some(kept) = folder.kept else {
                continue;
            };
            if !matches!(folder.stage, Stage::Accepted { .. }) {
                continue;
            }
            if self.transfers.verdict(folder.transfer) == Verdict::Cancelled {
                kept.discard();
                continue;
            }
            let done = folder.meter.as_ref().map_or(0, Meter::done);
            let cut = ReceiveError::Incomplete {
                received: done,
                expected: folder.bytes,
            };
            self.front.receive(ReceiveEvent::FolderIncomplete {
                name: &folder.name,
                why: &cut,
                saved: folder.saved,
                files: folder.files,
                kept: kept.holds_a_file(),
            });
            first_cut.get_or_insert(cut);
        }
        first_cut
    }

    /// Says what of the peer's files did not arrive, and how the stream
    /// ended. What arrived of a file or folder accepted is kept, hidden,
    /// for sending it again to resume.
    fn report_unfinished(&mut self, end: Result<(), Breach>) -> PeerEnd {
        // (Both are said, whichever was cut first.)
        let files_cut = self.report_cut_files();
        let folders_cut = self.report_cut_folders();
        let first_cut = files_cut.or(folders_cut);
        match end {
            Ok(()) => {
                // (A room's host hears its own room close as it leaves.)
                if let Some(peer) = self.peer.as_ref().filter(|_| !self.hosting) {
                    let line = format!("[{peer}] {}", frame::LEAVE_MESSAGE);
                    self.front.chat(ChatEvent::PeerLine {
                        raw: line.as_bytes(),
                        more_coming: false,
                    });
                }
                match first_cut {
                    Some(cut) => PeerEnd::Cut(cut),
                    None => PeerEnd::Left,
                }
            }
            Err(Breach::Record(e)) => match (e.ending(), self.room) {
                (Ending::Silent(_), Some(silence)) => PeerEnd::Lost(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the room's host was silent for {} s", silence.as_secs()),
                )),
                (Ending::Silent(e) | Ending::Lost(e), _) => PeerEnd::Lost(transport::in_words(e)),
                (Ending::Cut, _) => {
                    PeerEnd::Lost(io::Error::new(io::ErrorKind::UnexpectedEof, transport::CUT))
                }
                (Ending::Broken(e), _) => PeerEnd::Broken(e.to_string()),
            },
            Err(Breach::Unwelcome(why)) => PeerEnd::Unwelcome(why),
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
