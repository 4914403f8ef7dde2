//! The reader thread of an encrypted conversation: opens the peer's
//! records, shows its messages under the name it gave once, and saves its
//! files and folders, several at once, each file checked against its
//! BLAKE3 hash before it (or its folder) takes its final name. Offers are
//! taken at once or wait for the user; what arrived of a transfer that was
//! cut is kept, hidden, so that sending it again resumes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::sync::mpsc::Sender;

use crate::files::download::{DownloadDir, DownloadError, safe_file_name, safe_relative_path};
use crate::files::kept::{Kept, KeptFile, KeptFolder};
use crate::files::receive::ReceiveError;
use crate::net::secure::record::{RecordError, RecordReader};
use crate::net::transport::ReadHalf;
use crate::session::incoming::{self, PeerEnd};
use crate::session::input::{Ticket, Tickets};
use crate::session::outgoing::{Answer, Outgoing};
use crate::session::progress::{self, Meter, Transfers, Verdict};
use crate::terminal::screen::Screen;
use crate::wire::frame;
use crate::wire::message::{FileId, Message, MessageError};

/// Files the peer may send at once, its own and inside folders; more is a
/// breach of the protocol.
const MAX_INCOMING: usize = 64;

/// Folders the peer may send at once; more is a breach of the protocol.
const MAX_FOLDERS: usize = 16;

/// Hashes of kept parts remembered at most (about 2 KiB each).
const MAX_PREFIXES: usize = 256;

/// Messages the reader may have handed the writer and not yet seen dealt
/// with; past that, the reader waits, and so does the peer.
pub const ANSWERS_IN_FLIGHT: usize = 64;

/// What the reader is told of the user's wishes.
#[derive(Debug, Clone)]
pub struct Receiving {
    pub downloads: DownloadDir,
    /// Offers over this many bytes wait for `/accept`; `None` takes all.
    pub ask_above: Option<u64>,
}

/// Reads the peer's messages until the channel closes, and says how it
/// ended. Answers about files go to the writer on `outbox`, each with one
/// of `answers`' tickets.
pub fn read_peer(
    records: RecordReader<BufReader<ReadHalf>>,
    outbox: Sender<Outgoing>,
    answers: Tickets,
    receiving: &Receiving,
    screen: &Screen,
    transfers: &Transfers,
) -> PeerEnd {
    let kept = Kept::of(&receiving.downloads);
    // A week is long enough to try again; what is older goes.
    kept.discard(true);
    let mut reader = Reader {
        outbox,
        answers,
        downloads: &receiving.downloads,
        kept,
        ask_above: receiving.ask_above,
        screen,
        transfers,
        peer: None,
        line: Vec::new(),
        files: BTreeMap::new(),
        folders: BTreeMap::new(),
        prefixes: HashMap::new(),
        holding: false,
    };
    let end = reader.read(records);
    reader.report_unfinished(end)
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

/// A folder arriving.
struct ArrivingFolder<'a> {
    name: String,
    files: u64,
    bytes: u64,
    transfer: u64,
    stage: Stage,
    kept: Option<KeptFolder>,
    meter: Option<Meter<'a>>,
    /// Paths inside it given to files so far, by their hash (a folder may
    /// hold millions): two files may not share one. The hasher is seeded at
    /// random, so a peer cannot make two paths collide on purpose.
    paths: HashSet<u64>,
    seed: RandomState,
    /// Files and bytes offered in it so far: never more than announced,
    /// which is what the user accepted (or was not asked about).
    offered_files: u64,
    offered_bytes: u64,
    /// Its files on their way, saved, and those that did not make it.
    arriving: usize,
    saved: u64,
    saved_bytes: u64,
    failed: u64,
}

struct Reader<'a> {
    outbox: Sender<Outgoing>,
    answers: Tickets,
    downloads: &'a DownloadDir,
    kept: Kept,
    ask_above: Option<u64>,
    screen: &'a Screen,
    transfers: &'a Transfers,
    /// The peer's name, once it said it.
    peer: Option<String>,
    /// Where a message is put together as `[NAME] text`.
    line: Vec<u8>,
    files: BTreeMap<FileId, Arriving<'a>>,
    folders: BTreeMap<FileId, ArrivingFolder<'a>>,
    /// What was kept of files, hashed once per conversation: a peer that
    /// offers the same file again and again (withdrawing it each time) must
    /// not make us read it again and again.
    prefixes: HashMap<PathBuf, (u64, blake3::Hasher)>,
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
            Message::Folder {
                id,
                files,
                bytes,
                name,
            } => self.folder(id, files, bytes, name)?,
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
            Message::Accept { id, offset, prefix } => {
                self.tell_writer(|ticket| Outgoing::Accepted {
                    id,
                    offset,
                    prefix,
                    ticket,
                })
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

    /// Why an offer of `size` bytes, of which `held` are here already,
    /// cannot be taken for lack of room; `None` when it fits or nobody can
    /// tell.
    fn no_room(&self, size: u64, held: u64) -> Option<String> {
        let free = self.downloads.free_space()?;
        let needed = size.saturating_sub(held);
        (needed > free).then(|| {
            format!(
                "not enough free space: it needs {} and {} has {} free",
                progress::bytes(needed),
                self.downloads.path().display(),
                progress::bytes(free)
            )
        })
    }

    /// Whether an offer of `size` bytes waits for the user.
    fn asks(&self, size: u64) -> bool {
        self.ask_above.is_some_and(|limit| size > limit)
    }

    fn offer(&mut self, id: FileId, size: u64, name: &str) -> Result<(), Breach> {
        if size > frame::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {size} bytes, over the limit of {}",
                frame::MAX_FILE_SIZE
            )));
        }
        self.check_new(id)?;
        // Shown as it will be saved: what a peer puts in a name (a path, a
        // look-alike of our own lines) never reaches the screen.
        let name = safe_file_name(name);
        // In the list before it is announced, so a `/status` that follows
        // the announcement sees it.
        let transfer = self.transfers.offered(&name, size, id);
        self.screen
            .system(format!("Incoming file {name} ({size} bytes)..."));
        let owner = Owner::Lone {
            transfer,
            meter: None,
        };
        let mut arriving = Arriving::new(name, size, owner);
        let prefix = match self.prepare(&mut arriving, |kept, name, size| kept.file(name, size)) {
            Ok(prefix) => prefix,
            Err(e) => {
                self.cannot_save(id, &arriving.name, &e);
                self.transfers.forget(transfer);
                self.files.insert(id, arriving);
                return Ok(());
            }
        };
        if let Some(why) = self.no_room(size, arriving.offset) {
            self.decline_for(id, &arriving.name, why);
            self.transfers.forget(transfer);
            arriving.kept = None;
        } else if self.asks(size) {
            arriving.stage = Stage::Asked;
            self.transfers.ask(transfer, arriving.offset, prefix);
            self.ask(transfer, &arriving.name, size);
        } else {
            self.accept(id, &mut arriving, prefix);
        }
        self.files.insert(id, arriving);
        Ok(())
    }

    /// Opens where a file is saved, resuming what was kept of it; returns
    /// the hash of the kept part, as offered to the peer.
    fn prepare(
        &mut self,
        arriving: &mut Arriving<'a>,
        open: impl FnOnce(&Kept, &str, u64) -> Result<KeptFile, DownloadError>,
    ) -> Result<[u8; 32], DownloadError> {
        let kept = open(&self.kept, &arriving.name, arriving.size)?;
        let held = kept.held();
        let hash = match self.prefixes.get(kept.path()) {
            _ if held == 0 => blake3::Hasher::new(),
            Some((len, hash)) if *len == held => hash.clone(),
            _ => {
                let hash = kept.hash_prefix(held)?;
                if self.prefixes.len() >= MAX_PREFIXES {
                    self.prefixes.clear();
                }
                self.prefixes
                    .insert(kept.path().to_path_buf(), (held, hash.clone()));
                hash
            }
        };
        arriving.offset = held;
        arriving.received = held;
        let prefix = *hash.finalize().as_bytes();
        arriving.hash = hash;
        arriving.kept = Some(kept);
        Ok(prefix)
    }

    /// Once a file is taken, what was kept of it changes: its hash must be
    /// worked out anew next time.
    fn forget_prefix(&mut self, arriving: &Arriving<'_>) {
        if let Some(kept) = &arriving.kept {
            self.prefixes.remove(kept.path());
        }
    }

    fn ask(&self, transfer: u64, name: &str, size: u64) {
        let peer = self.peer.as_deref().unwrap_or_default();
        self.screen.system(format!(
            "{peer} offers {name} ({}): /accept {transfer} or /decline {transfer}",
            progress::bytes(size)
        ));
    }

    /// Refuses an offer at once for a reason of ours, and says so.
    fn decline_for(&self, id: FileId, name: &str, why: String) {
        self.screen.system(format!("Declined {name}: {why}."));
        self.answer(Answer::Refused(id, why));
    }

    /// Takes a file, from what was kept of it.
    fn accept(&mut self, id: FileId, arriving: &mut Arriving<'a>, prefix: [u8; 32]) {
        self.forget_prefix(arriving);
        arriving.stage = Stage::Accepted {
            awaiting_begin: arriving.offset > 0,
        };
        if let Owner::Lone { transfer, meter } = &mut arriving.owner {
            *meter = Some(Meter::start(self.transfers, self.screen, *transfer));
        }
        self.answer(Answer::Accept {
            id,
            offset: arriving.offset,
            prefix,
        });
    }

    fn folder(&mut self, id: FileId, files: u64, bytes: u64, name: &str) -> Result<(), Breach> {
        self.check_new(id)?;
        if self.folders.len() >= MAX_FOLDERS {
            return Err(Breach::Protocol(format!(
                "the peer offered a folder while already sending {MAX_FOLDERS}"
            )));
        }
        let name = safe_file_name(name);
        let transfer = self.transfers.offered(&name, bytes, id);
        self.transfers.count_files(transfer, files);
        self.screen.system(format!(
            "Incoming folder {name} ({files} files, {bytes} bytes)..."
        ));
        let mut folder = ArrivingFolder {
            name,
            files,
            bytes,
            transfer,
            stage: Stage::Dropped,
            kept: None,
            meter: None,
            paths: HashSet::new(),
            seed: RandomState::new(),
            offered_files: 0,
            offered_bytes: 0,
            arriving: 0,
            saved: 0,
            saved_bytes: 0,
            failed: 0,
        };
        match self.kept.folder(&folder.name, bytes) {
            Ok(kept) => folder.kept = Some(kept),
            Err(e) => {
                self.cannot_save(id, &folder.name, &e);
                self.transfers.forget(transfer);
                self.folders.insert(id, folder);
                return Ok(());
            }
        }
        if let Some(why) = self.no_room(bytes, 0) {
            self.decline_for(id, &folder.name, why);
            self.transfers.forget(transfer);
            folder.kept = None;
        } else if self.asks(bytes) {
            folder.stage = Stage::Asked;
            self.transfers.ask(transfer, 0, [0; 32]);
            self.ask(transfer, &folder.name, bytes);
        } else {
            self.accept_folder(id, &mut folder);
        }
        self.folders.insert(id, folder);
        Ok(())
    }

    fn accept_folder(&self, id: FileId, folder: &mut ArrivingFolder<'a>) {
        folder.stage = Stage::Accepted {
            awaiting_begin: false,
        };
        folder.meter = Some(Meter::start(self.transfers, self.screen, folder.transfer));
        self.answer(Answer::Accept {
            id,
            offset: 0,
            prefix: [0; 32],
        });
    }

    /// The folder `id`, which the user must have accepted for anything to
    /// go in it.
    fn accepted_folder(&mut self, id: FileId) -> Result<&mut ArrivingFolder<'a>, Breach> {
        let folder = self.folders.get_mut(&id).ok_or_else(|| unknown(id))?;
        if folder.stage == Stage::Asked {
            folder.stage = match self.transfers.verdict(folder.transfer) {
                Verdict::Waiting => {
                    return Err(Breach::Protocol(format!(
                        "the peer sent files of folder {} before it was accepted",
                        folder.name
                    )));
                }
                Verdict::Accepted => {
                    folder.meter = Some(Meter::start(self.transfers, self.screen, folder.transfer));
                    Stage::Accepted {
                        awaiting_begin: false,
                    }
                }
                Verdict::Declined | Verdict::Cancelled => {
                    folder.kept = None;
                    Stage::Dropped
                }
            };
        }
        if folder.stage
            == (Stage::Accepted {
                awaiting_begin: false,
            })
            && self.transfers.verdict(folder.transfer) == Verdict::Cancelled
        {
            // Cancelled here (the user was told): what arrived goes.
            folder.stage = Stage::Dropped;
            if let Some(kept) = folder.kept.take() {
                kept.discard();
            }
        }
        Ok(self.folders.get_mut(&id).expect("found above"))
    }

    fn entry(
        &mut self,
        id: FileId,
        folder_id: FileId,
        size: u64,
        path: &str,
    ) -> Result<(), Breach> {
        if size > frame::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {size} bytes, over the limit of {}",
                frame::MAX_FILE_SIZE
            )));
        }
        self.check_new(id)?;
        let folder = self.accepted_folder(folder_id)?;
        folder.offered_files += 1;
        folder.offered_bytes = folder.offered_bytes.saturating_add(size);
        if folder.offered_files > folder.files || folder.offered_bytes > folder.bytes {
            return Err(Breach::Protocol(format!(
                "the peer sent more of folder {} than the {} files and {} bytes it announced",
                folder.name, folder.files, folder.bytes
            )));
        }
        folder.arriving += 1;
        let stage = folder.stage;
        let name = format!("{}/{}", folder.name, path);
        let mut arriving = Arriving::new(safe_shown_path(&name), size, Owner::Entry(folder_id));
        if stage == Stage::Dropped {
            // Refused already: the peer cancels what it still offers.
            self.files.insert(id, arriving);
            return Ok(());
        }
        let relative =
            safe_relative_path(path).filter(|rel| folder.paths.insert(folder.seed.hash_one(rel)));
        let Some(relative) = relative else {
            let why = "its path is unsafe or names another file of the folder";
            self.screen
                .system(format!("Skipped {}: {why}.", arriving.name));
            self.answer(Answer::Refused(id, why.into()));
            self.files.insert(id, arriving);
            return Ok(());
        };
        let kept_folder = folder
            .kept
            .as_ref()
            .expect("an accepted folder has its place");
        let opened = kept_folder.entry(&relative, size);
        match self.prepare(&mut arriving, |_, _, _| opened) {
            Ok(prefix) => self.accept(id, &mut arriving, prefix),
            Err(e) => self.cannot_save(id, &arriving.name, &e),
        }
        self.files.insert(id, arriving);
        Ok(())
    }

    fn subfolder(&mut self, folder_id: FileId, path: &str) -> Result<(), Breach> {
        let folder = self.accepted_folder(folder_id)?;
        let Some(kept) = &folder.kept else {
            return Ok(());
        };
        let Some(relative) = safe_relative_path(path) else {
            // The folder is not what was sent: it does not complete.
            folder.failed += 1;
            let shown = safe_shown_path(&format!("{}/{path}", folder.name));
            self.screen
                .system(format!("Skipped {shown}: its path is unsafe."));
            return Ok(());
        };
        // (Named twice, it is made once.)
        folder.paths.insert(folder.seed.hash_one(&relative));
        if let Err(e) = kept.subfolder(&relative) {
            folder.failed += 1;
            let name = folder.name.clone();
            self.screen
                .system(format!("Could not save folder {name}: {e}"));
        }
        Ok(())
    }

    /// The file `id`, which the user must have accepted for its bytes to
    /// come, and which the user may have cancelled since.
    fn arriving(&mut self, id: FileId) -> Result<&mut Arriving<'a>, Breach> {
        let arriving = self.files.get(&id).ok_or_else(|| unknown(id))?;
        if let Owner::Entry(folder) = arriving.owner
            && arriving.stage != Stage::Dropped
        {
            // A folder cancelled here takes its files with it.
            let dropped = !self.folders.contains_key(&folder)
                || self.accepted_folder(folder)?.stage == Stage::Dropped;
            let arriving = self.files.get_mut(&id).expect("found above");
            if dropped {
                arriving.stage = Stage::Dropped;
                arriving.kept = None;
            }
        }
        let arriving = self.files.get_mut(&id).expect("found above");
        if let Owner::Lone { transfer, meter } = &mut arriving.owner {
            match (arriving.stage, self.transfers.verdict(*transfer)) {
                (Stage::Asked, Verdict::Waiting) => {
                    return Err(Breach::Protocol(format!(
                        "the peer sent {} before it was accepted",
                        arriving.name
                    )));
                }
                (Stage::Asked, Verdict::Accepted) => {
                    if let Some(kept) = &arriving.kept {
                        self.prefixes.remove(kept.path());
                    }
                    arriving.stage = Stage::Accepted {
                        awaiting_begin: arriving.offset > 0,
                    };
                    *meter = Some(Meter::start(self.transfers, self.screen, *transfer));
                }
                // Declined: what was kept from before stays for another try.
                (Stage::Asked, _) => {
                    arriving.stage = Stage::Dropped;
                    arriving.kept = None;
                }
                // Cancelled here (the user was told): what arrived goes.
                (Stage::Accepted { .. }, Verdict::Cancelled) => {
                    arriving.stage = Stage::Dropped;
                    if let Some(kept) = arriving.kept.take() {
                        kept.discard();
                    }
                }
                _ => {}
            }
        }
        Ok(arriving)
    }

    fn begin(&mut self, id: FileId, offset: u64) -> Result<(), Breach> {
        let screen = self.screen;
        let arriving = self.arriving(id)?;
        match arriving.stage {
            Stage::Accepted {
                awaiting_begin: true,
            } => {}
            Stage::Dropped => return Ok(()),
            _ => {
                return Err(Breach::Protocol(format!(
                    "the peer said where {} begins without being asked",
                    arriving.name
                )));
            }
        }
        arriving.stage = Stage::Accepted {
            awaiting_begin: false,
        };
        if offset == arriving.offset {
            match &mut arriving.owner {
                Owner::Lone {
                    meter: Some(meter), ..
                } => {
                    meter.advance(offset);
                    screen.system(format!(
                        "Resuming {}: {} of {} kept from before.",
                        arriving.name,
                        progress::bytes(offset),
                        progress::bytes(arriving.size)
                    ));
                }
                Owner::Lone { meter: None, .. } => {}
                Owner::Entry(folder) => {
                    let folder = *folder;
                    if let Some(meter) =
                        self.folders.get_mut(&folder).and_then(|f| f.meter.as_mut())
                    {
                        meter.advance(offset);
                    }
                }
            }
            return Ok(());
        }
        if offset != 0 {
            return Err(Breach::Protocol(format!(
                "the peer began {} at {offset}, neither 0 nor where it was asked",
                arriving.name
            )));
        }
        // The peer's file changed since: it comes again whole.
        arriving.received = 0;
        arriving.hash = blake3::Hasher::new();
        if let Some(kept) = &mut arriving.kept
            && let Err(e) = kept.restart_at(0)
        {
            arriving.kept = None;
            let name = arriving.name.clone();
            self.cannot_save(id, &name, &e);
        }
        Ok(())
    }

    fn chunk(&mut self, id: FileId, data: &[u8]) -> Result<(), Breach> {
        let arriving = self.arriving(id)?;
        if arriving.stage
            == (Stage::Accepted {
                awaiting_begin: true,
            })
        {
            return Err(Breach::Protocol(format!(
                "the peer sent {} without saying where it begins",
                arriving.name
            )));
        }
        let len = data.len() as u64;
        if arriving.size - arriving.received < len {
            return Err(Breach::Protocol(format!(
                "the peer sent more of {} than the {} bytes it announced",
                arriving.name, arriving.size
            )));
        }
        arriving.received += len;
        let folder = match &mut arriving.owner {
            Owner::Lone { meter, .. } => {
                if let Some(meter) = meter {
                    meter.advance(len);
                }
                None
            }
            Owner::Entry(folder) => Some(*folder),
        };
        let failed = match &mut arriving.kept {
            Some(kept) if matches!(arriving.stage, Stage::Accepted { .. }) => {
                arriving.hash.update(data);
                kept.write(data).err()
            }
            _ => None,
        };
        if let Some(e) = failed {
            arriving.kept = None;
            let name = arriving.name.clone();
            self.cannot_save(id, &name, &e);
        }
        if let Some(meter) = folder
            .and_then(|folder| self.folders.get_mut(&folder))
            .and_then(|folder| folder.meter.as_mut())
        {
            meter.advance(len);
        }
        Ok(())
    }

    fn end(&mut self, id: FileId, hash: &[u8; 32]) -> Result<(), Breach> {
        if self.folders.contains_key(&id) {
            return self.end_folder(id);
        }
        self.arriving(id)?;
        let arriving = self.files.remove(&id).expect("found above");
        if arriving.received != arriving.size
            || arriving.stage
                == (Stage::Accepted {
                    awaiting_begin: true,
                })
        {
            return Err(Breach::Protocol(format!(
                "the peer ended {} after {} of its {} bytes",
                arriving.name, arriving.received, arriving.size
            )));
        }
        let Arriving {
            name,
            size,
            hash: hasher,
            kept,
            owner,
            stage,
            ..
        } = arriving;
        let Some(kept) = kept.filter(|_| stage != Stage::Dropped) else {
            // Already refused, and the peer told why.
            return self.entry_settled(owner, None);
        };
        if hasher.finalize() != *hash {
            self.screen.system(format!(
                "{name} arrived damaged (its hash does not match); nothing was saved."
            ));
            // What was kept is what did not match: it goes.
            kept.discard();
            self.answer(Answer::Refused(
                id,
                "it arrived damaged (its hash does not match)".into(),
            ));
            return self.entry_settled(owner, None);
        }
        match owner {
            Owner::Lone { meter, .. } => match kept.finish(self.downloads, &name) {
                Ok(path) => {
                    if let Some(meter) = &meter {
                        incoming::say_saved(self.screen, &path, meter);
                    }
                    self.answer(Answer::Saved(id));
                }
                Err(e) => self.cannot_save(id, &name, &e),
            },
            Owner::Entry(_) => {
                kept.complete();
                self.answer(Answer::Saved(id));
                self.entry_settled(owner, Some(size))?;
            }
        }
        Ok(())
    }

    /// Counts a file of a folder as done with: saved, with its size, or not.
    fn entry_settled(&mut self, owner: Owner<'_>, saved: Option<u64>) -> Result<(), Breach> {
        if let Owner::Entry(folder) = owner
            && let Some(folder) = self.folders.get_mut(&folder)
        {
            folder.arriving = folder.arriving.saturating_sub(1);
            if let Some(size) = saved {
                folder.saved += 1;
                folder.saved_bytes += size;
                if let Some(meter) = &folder.meter {
                    meter.file_done();
                }
            } else {
                folder.failed += 1;
            }
        }
        Ok(())
    }

    /// Every file of the folder `id` was sent: it takes its final name if
    /// every one arrived whole.
    fn end_folder(&mut self, id: FileId) -> Result<(), Breach> {
        let folder = self.accepted_folder(id)?;
        if folder.arriving > 0 {
            return Err(Breach::Protocol(format!(
                "the peer ended folder {} with files of it still on their way",
                folder.name
            )));
        }
        let folder = self.folders.remove(&id).expect("found above");
        let ArrivingFolder {
            name,
            kept,
            meter,
            saved,
            saved_bytes,
            failed,
            paths,
            seed,
            ..
        } = folder;
        let Some(kept) = kept else {
            return Ok(());
        };
        // Files of an earlier try that were not sent this time are not part
        // of the folder.
        kept.keep_only(|path| paths.contains(&seed.hash_one(path)));
        if failed > 0 {
            let files = if failed == 1 { "file" } else { "files" };
            self.screen.system(format!(
                "Folder {name} incomplete: {failed} {files} did not arrive; what arrived is kept, \
                 so sending it again resumes."
            ));
            drop(kept);
            self.answer(Answer::Refused(
                id,
                format!("{failed} {files} did not arrive"),
            ));
            return Ok(());
        }
        match kept.finish(self.downloads, &name) {
            Ok(path) => {
                let bytes = saved_bytes;
                let summary = meter.as_ref().and_then(Meter::summary);
                self.screen.system(match summary {
                    Some(summary) => format!(
                        "Folder saved to {} ({saved} files, {bytes} bytes, {summary})",
                        path.display()
                    ),
                    None => format!(
                        "Folder saved to {} ({saved} files, {bytes} bytes)",
                        path.display()
                    ),
                });
                self.answer(Answer::Saved(id));
            }
            Err(e) => self.cannot_save(id, &name, &e),
        }
        Ok(())
    }

    /// The peer stopped sending a file or folder: what arrived of it goes.
    fn cancelled(&mut self, id: FileId) -> Result<(), Breach> {
        if let Some(folder) = self.folders.remove(&id) {
            let of_folder = |a: &Arriving<'_>| matches!(a.owner, Owner::Entry(f) if f == id);
            self.files.retain(|_, arriving| !of_folder(arriving));
            let verdict = self.transfers.verdict(folder.transfer);
            self.transfers.forget(folder.transfer);
            self.say_stopped(&folder.name, folder.stage, Some(verdict), "folder ");
            if let Some(kept) = folder.kept
                && folder.stage != Stage::Asked
            {
                kept.discard();
            }
            return Ok(());
        }
        let arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
        let verdict = match &arriving.owner {
            Owner::Lone { transfer, .. } => {
                let verdict = self.transfers.verdict(*transfer);
                self.transfers.forget(*transfer);
                Some(verdict)
            }
            Owner::Entry(_) => None,
        };
        if arriving.kept.is_some() {
            self.say_stopped(&arriving.name, arriving.stage, verdict, "");
        }
        // Offered and not taken, what was kept from an earlier try stays;
        // taken, what arrived goes.
        if let Some(kept) = arriving.kept
            && arriving.stage != Stage::Asked
        {
            kept.discard();
        }
        self.entry_settled(arriving.owner, None)
    }

    /// Tells the user the peer stopped sending `name`, unless the user
    /// stopped it first (and was told then): `verdict` is the user's, for a
    /// transfer the user could decide on.
    fn say_stopped(&self, name: &str, stage: Stage, verdict: Option<Verdict>, what: &str) {
        match (stage, verdict) {
            (Stage::Asked, Some(Verdict::Waiting)) => self
                .screen
                .system(format!("The peer withdrew its offer of {name}.")),
            (Stage::Accepted { .. }, Some(Verdict::Accepted) | None) => {
                self.screen.system(match what {
                    "" => format!("The peer stopped sending {name}; nothing was saved."),
                    _ => format!(
                        "The peer stopped sending {what}{name}; what arrived of it was removed."
                    ),
                })
            }
            _ => {}
        }
    }

    /// Says what of the peer's files did not arrive, and how the stream
    /// ended. What arrived of a file or folder accepted is kept, hidden,
    /// for sending it again to resume.
    fn report_unfinished(&mut self, end: Result<(), Breach>) -> PeerEnd {
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
            let cut = ReceiveError::Incomplete {
                received: arriving.received,
                expected: arriving.size,
            };
            let resume = if kept.held() > 0 {
                "what arrived is kept, so sending it again resumes"
            } else {
                "nothing was saved"
            };
            self.screen.system(format!(
                "Transfer of {} incomplete: {cut}; {resume}.",
                arriving.name
            ));
            first_cut.get_or_insert(cut);
        }
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
            let resume = if kept.holds_a_file() {
                "what arrived is kept, so sending it again resumes"
            } else {
                "nothing was saved"
            };
            self.screen.system(format!(
                "Folder {} incomplete: {cut} ({} of {} files); {resume}.",
                folder.name, folder.saved, folder.files
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

/// A folder's name and a path inside it as the peer gave it, fit to show.
fn safe_shown_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if crate::terminal::sanitize::is_unsafe_char(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn unknown(id: FileId) -> Breach {
    Breach::Protocol(format!(
        "the peer sent part of file {id}, which it never offered"
    ))
}
