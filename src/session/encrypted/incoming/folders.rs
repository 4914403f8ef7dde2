//! Folders the peer offers: taking them (at once, or once the user
//! accepts), and giving a folder its final name once every file in it
//! arrived whole.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use super::arriving::{Here, Stage};
use super::{Breach, Reader, unknown};
use crate::files::download::safe_file_name;
use crate::files::kept::KeptFolder;
use crate::files::space::{NoRoom, Owed};
use crate::session::events::{Offered, ReceiveEvent, Refusal, Unsaved};
use crate::session::outgoing::Answer;
use crate::session::progress::{Meter, Verdict};
use crate::wire::limits::{MAX_FOLDER_FILES, MAX_FOLDERS};
use crate::wire::message::{FOLDER_STREAMED, FileId};

/// A folder arriving.
pub(super) struct ArrivingFolder<'a> {
    pub(super) name: String,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) transfer: u64,
    pub(super) stage: Stage,
    pub(super) kept: Option<KeptFolder>,
    pub(super) meter: Option<Meter<'a>>,
    /// Paths inside it given to files so far, by their hash (a folder may
    /// hold millions): two files may not share one. The hasher is seeded at
    /// random, so a peer cannot make two paths collide on purpose.
    pub(super) paths: HashSet<u64>,
    pub(super) seed: RandomState,
    /// Files and bytes offered in it so far: never more than announced,
    /// which is what the user accepted (or was not asked about).
    pub(super) offered_files: u64,
    pub(super) offered_bytes: u64,
    /// Its files on their way, saved, and those that did not make it.
    pub(super) arriving: usize,
    pub(super) saved: u64,
    pub(super) saved_bytes: u64,
    pub(super) failed: u64,
    /// Folders made inside it so far, by the hash of their paths: each is
    /// counted once, against what it may hold.
    pub(super) dirs: HashSet<u64>,
}

impl ArrivingFolder<'_> {
    /// A folder just offered: nowhere to be saved and not taken, until it
    /// is.
    fn new(name: String, files: u64, bytes: u64, transfer: u64) -> Self {
        Self {
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
            dirs: HashSet::new(),
        }
    }
}

impl<'a> Reader<'a> {
    /// A folder offered by the peer, or (in a room) by the member `from`.
    pub(super) fn folder(
        &mut self,
        id: FileId,
        files: u64,
        bytes: u64,
        name: &str,
        from: Option<(&str, [u8; 32])>,
    ) -> Result<(), Breach> {
        let (sender, doubtful) = (self.sender_of(from), self.doubts(from));
        let from = from.map(|(name, _)| name);
        self.check_new(id)?;
        if self.folders.len() >= MAX_FOLDERS {
            return Err(Breach::Protocol(format!(
                "the peer offered a folder while already sending {MAX_FOLDERS}"
            )));
        }
        let name = safe_file_name(name);
        let transfer = self.transfers.offered(&name, bytes, id);
        self.transfers.count_files(transfer, files);
        let what = Offered {
            name: &name,
            size: bytes,
            files: Some(files),
            from,
        };
        let mut folder = ArrivingFolder::new(name.clone(), files, bytes, transfer);
        if files > MAX_FOLDER_FILES {
            let for_peer =
                format!("it has more than the {MAX_FOLDER_FILES} files a folder may have");
            let refusal = Refusal::TooManyFiles {
                limit: MAX_FOLDER_FILES,
            };
            self.decline_for(id, what, refusal, &for_peer);
            self.transfers.forget(transfer);
            self.folders.insert(id, folder);
            return Ok(());
        }
        match self.kept.folder(&folder.name, bytes, sender) {
            Ok(kept) => folder.kept = Some(kept),
            Err(e) => {
                self.cannot_save(id, Unsaved::Offer(what), &e);
                self.transfers.forget(transfer);
                self.folders.insert(id, folder);
                return Ok(());
            }
        }
        // Each file takes an inode, and may take a block beyond its bytes.
        if let Some(why) = self.no_room(Owed { bytes, files }, transfer) {
            self.decline_for(id, what, Refusal::NoRoom(&why), NoRoom::FOR_PEER);
            self.transfers.forget(transfer);
            folder.kept = None;
        } else if self.asks(bytes, files, doubtful) {
            folder.stage = Stage::Asked;
            self.transfers.ask(transfer, 0, [0; 32]);
            self.ask(transfer, what, &Here::Nothing);
        } else {
            self.front.receive(ReceiveEvent::Arriving(what));
            self.accept_folder(id, &mut folder);
        }
        self.folders.insert(id, folder);
        Ok(())
    }

    pub(super) fn accept_folder(&self, id: FileId, folder: &mut ArrivingFolder<'a>) {
        folder.stage = Stage::Accepted {
            awaiting_begin: false,
        };
        folder.meter = Some(Meter::start(self.transfers, self.front, folder.transfer));
        // Holding nothing of it, every file is taken from its start at
        // once: its bytes may follow its Entry without waiting.
        let fresh = folder
            .kept
            .as_ref()
            .is_some_and(|kept| !kept.holds_a_file());
        self.answer(Answer::Accept {
            id,
            offset: if fresh { FOLDER_STREAMED } else { 0 },
            prefix: [0; 32],
        });
    }

    /// The folder `id`, which the user must have accepted for anything to
    /// go in it.
    pub(super) fn accepted_folder(
        &mut self,
        id: FileId,
    ) -> Result<&mut ArrivingFolder<'a>, Breach> {
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
                    folder.meter = Some(Meter::start(self.transfers, self.front, folder.transfer));
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

    /// Every file of the folder `id` was sent: it takes its final name if
    /// every one arrived whole.
    pub(super) fn end_folder(&mut self, id: FileId) -> Result<(), Breach> {
        let folder = self.accepted_folder(id)?;
        if folder.arriving > 0 {
            return Err(Breach::Protocol(format!(
                "the peer ended folder {} with files of it still on their way",
                folder.name
            )));
        }
        let folder = self.folders.remove(&id).expect("found above");
        let left_out = LeftOut {
            files: folder.files.saturating_sub(folder.offered_files),
            bytes: folder.bytes.saturating_sub(folder.offered_bytes),
            announced: folder.files,
        };
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
            let name = &name;
            self.front
                .receive(ReceiveEvent::FolderMissing { name, failed });
            drop(kept);
            self.answer(Answer::Refused(
                id,
                format!("{failed} {files} did not arrive"),
            ));
            return Ok(());
        }
        match kept.finish(self.downloads, &name) {
            Ok(path) => {
                let summary = meter.as_ref().and_then(Meter::summary);
                // Off the list before the user reads that it is done.
                drop(meter);
                self.front.receive(ReceiveEvent::FolderSaved {
                    path: &path,
                    files: saved,
                    bytes: saved_bytes,
                    summary: summary.as_ref(),
                });
                if left_out.files > 0 {
                    self.front.receive(left_out.event(&name));
                }
                self.answer(Answer::Saved(id));
            }
            Err(e) => self.cannot_save(id, Unsaved::Folder(&name), &e),
        }
        Ok(())
    }
}

/// What of a folder its sender announced and never offered: files it
/// could not read, or that changed since it looked.
struct LeftOut {
    files: u64,
    bytes: u64,
    announced: u64,
}

impl LeftOut {
    /// What the user is told of it, of the folder `name`.
    fn event<'e>(&self, name: &'e str) -> ReceiveEvent<'e> {
        ReceiveEvent::LeftOut {
            name,
            files: self.files,
            bytes: self.bytes,
            announced: self.announced,
        }
    }
}
