//! Folders the peer offers: taking them, the files and subfolders inside
//! them (made safe, within what the folder announced), and giving a folder
//! its final name once every file in it arrived whole.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use super::hashing::Reply;
use super::{Arriving, Breach, Here, MAX_FOLDERS, Owner, Reader, Stage, unknown};
use crate::files::download::{safe_file_name, safe_relative_path};
use crate::files::kept::KeptFolder;
use crate::files::size;
use crate::session::outgoing::Answer;
use crate::session::progress::{Meter, Verdict};
use crate::wire::frame;
use crate::wire::message::FileId;

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
}

impl<'a> Reader<'a> {
    /// A folder offered by the peer, or (in a room) by the member `from`.
    pub(super) fn folder(
        &mut self,
        id: FileId,
        files: u64,
        bytes: u64,
        name: &str,
        from: Option<&str>,
    ) -> Result<(), Breach> {
        self.check_new(id)?;
        if self.folders.len() >= MAX_FOLDERS {
            return Err(Breach::Protocol(format!(
                "the peer offered a folder while already sending {MAX_FOLDERS}"
            )));
        }
        let name = safe_file_name(name);
        let transfer = self.transfers.offered(&name, bytes, id);
        self.transfers.count_files(transfer, files);
        self.screen.system(match from {
            None => format!(
                "Incoming folder {name} ({}, {})...",
                size::files(files),
                size::bytes(bytes)
            ),
            Some(from) => {
                format!(
                    "Incoming folder {name} ({}, {}) from {from}...",
                    size::files(files),
                    size::bytes(bytes)
                )
            }
        });
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
        if let Some(why) = self.no_room(bytes, 0, transfer) {
            self.decline_for(id, &folder.name, why);
            self.transfers.forget(transfer);
            folder.kept = None;
        } else if self.asks(bytes) {
            folder.stage = Stage::Asked;
            self.transfers.ask(transfer, 0, [0; 32]);
            self.ask(transfer, &folder.name, bytes, from, &Here::Nothing);
        } else {
            self.accept_folder(id, &mut folder);
        }
        self.folders.insert(id, folder);
        Ok(())
    }

    pub(super) fn accept_folder(&self, id: FileId, folder: &mut ArrivingFolder<'a>) {
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

    pub(super) fn entry(
        &mut self,
        id: FileId,
        folder_id: FileId,
        size: u64,
        path: &str,
    ) -> Result<(), Breach> {
        if size > frame::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {}, over the limit of {}",
                size::bytes(size),
                size::bytes(frame::MAX_FILE_SIZE)
            )));
        }
        self.check_new(id)?;
        let folder = self.accepted_folder(folder_id)?;
        folder.offered_files += 1;
        folder.offered_bytes = folder.offered_bytes.saturating_add(size);
        if folder.offered_files > folder.files || folder.offered_bytes > folder.bytes {
            return Err(Breach::Protocol(format!(
                "the peer sent more of folder {} than the {} files and {} it announced",
                folder.name,
                folder.files,
                size::bytes(folder.bytes)
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
            Ok(here) => self.answer_when_known(id, &mut arriving, here, Reply::Now),
            Err(e) => self.cannot_save(id, &arriving.name, &e),
        }
        self.files.insert(id, arriving);
        Ok(())
    }

    pub(super) fn subfolder(&mut self, folder_id: FileId, path: &str) -> Result<(), Breach> {
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

    /// Counts a file of a folder as done with: saved, with its size, or not.
    pub(super) fn entry_settled(
        &mut self,
        owner: Owner<'_>,
        saved: Option<u64>,
    ) -> Result<(), Breach> {
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
    pub(super) fn end_folder(&mut self, id: FileId) -> Result<(), Breach> {
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
                // Off the list before the user reads that it is done.
                drop(meter);
                self.screen.system(match summary {
                    Some(summary) => format!(
                        "Folder saved to {} ({}, {}, {summary})",
                        path.display(),
                        size::files(saved),
                        size::bytes(bytes)
                    ),
                    None => format!(
                        "Folder saved to {} ({}, {})",
                        path.display(),
                        size::files(saved),
                        size::bytes(bytes)
                    ),
                });
                self.answer(Answer::Saved(id));
            }
            Err(e) => self.cannot_save(id, &name, &e),
        }
        Ok(())
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
