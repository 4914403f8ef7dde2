//! What goes in a folder the peer sends: its files and subfolders, made
//! safe and kept within what the folder announced and the disk holds.

use std::hash::BuildHasher;
use std::path::Path;

use super::arriving::{Arriving, Owner, Stage};
use super::hashing::Reply;
use super::{Breach, Reader};
use crate::files::download::{folders_allowed, safe_relative_path};
use crate::files::size;
use crate::files::space::{NoRoom, Owed};
use crate::session::events::{ReceiveEvent, Refusal, Unsaved};
use crate::session::outgoing::Answer;
use crate::wire::limits;
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
    pub(super) fn entry(
        &mut self,
        id: FileId,
        folder_id: FileId,
        size: u64,
        path: &str,
    ) -> Result<(), Breach> {
        if size > limits::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {}, over the limit of {}",
                size::bytes(size),
                size::bytes(limits::MAX_FILE_SIZE)
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
            let path = &arriving.name;
            self.front.receive(ReceiveEvent::SkippedFile { path });
            self.answer(Answer::Refused(id, why.into()));
            self.files.insert(id, arriving);
            return Ok(());
        };
        let room = match relative.parent() {
            Some(parent) => self.room_for_folders(folder_id, parent),
            None => true,
        };
        let kept_folder = self.folders.get(&folder_id).and_then(|f| f.kept.as_ref());
        let Some(kept_folder) = kept_folder.filter(|_| room) else {
            // Refused meanwhile: the peer cancels what it still offers.
            arriving.stage = Stage::Dropped;
            self.files.insert(id, arriving);
            return Ok(());
        };
        let opened = kept_folder.entry(&relative, size);
        match self.prepare(&mut arriving, |_, _, _| opened) {
            Ok(here) => self.answer_when_known(id, &mut arriving, here, Reply::Now),
            Err(e) => self.cannot_save(id, Unsaved::File(&arriving.name), &e),
        }
        self.files.insert(id, arriving);
        Ok(())
    }

    pub(super) fn subfolder(&mut self, folder_id: FileId, path: &str) -> Result<(), Breach> {
        let folder = self.accepted_folder(folder_id)?;
        if folder.kept.is_none() {
            return Ok(());
        }
        let Some(relative) = safe_relative_path(path) else {
            // The folder is not what was sent: it does not complete.
            folder.failed += 1;
            let path = &safe_shown_path(&format!("{}/{path}", folder.name));
            self.front.receive(ReceiveEvent::SkippedSubfolder { path });
            return Ok(());
        };
        // (Named twice, it is made once.)
        folder.paths.insert(folder.seed.hash_one(&relative));
        if !self.room_for_folders(folder_id, &relative) {
            return Ok(());
        }
        let folder = self.accepted_folder(folder_id)?;
        let made = match &folder.kept {
            Some(kept) => kept.subfolder(&relative),
            None => return Ok(()),
        };
        if let Err(e) = made {
            folder.failed += 1;
            let name = folder.name.clone();
            let what = Unsaved::Folder(&name);
            self.front
                .receive(ReceiveEvent::CannotSave { what, why: &e });
        }
        Ok(())
    }

    /// Counts the folders that `relative` (the path of a folder inside the
    /// folder `id`) makes that were not made yet, each a block and an inode
    /// of the disk: within what a folder of its files may hold and what
    /// the disk has left, or the folder is refused. Says whether they fit.
    fn room_for_folders(&mut self, id: FileId, relative: &Path) -> bool {
        let Some(folder) = self.folders.get(&id) else {
            return false;
        };
        // Once a folder is known, so are those above it.
        let new: Vec<u64> = relative
            .ancestors()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| folder.seed.hash_one(dir))
            .take_while(|hash| !folder.dirs.contains(hash))
            .collect();
        if new.is_empty() {
            return true;
        }
        let (files, made) = (folder.files, folder.dirs.len() as u64);
        let allowed = folders_allowed(files);
        if made + new.len() as u64 > allowed {
            let for_peer = format!(
                "it makes more folders than the {allowed} a folder of {} may hold",
                size::files(files)
            );
            self.refuse_folder(id, Refusal::TooManyFolders { allowed, files }, &for_peer);
            return false;
        }
        let needed = Owed {
            bytes: 0,
            files: new.len() as u64,
        };
        // (What its own files still need is promised, and counted.)
        if let Some(why) = self.no_room(needed, 0) {
            self.refuse_folder(id, Refusal::NoRoom(&why), NoRoom::FOR_PEER);
            return false;
        }
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.dirs.extend(new);
        }
        true
    }

    /// Refuses the folder `id` while it arrives, for a reason of ours
    /// said in full here and as `for_peer` to the peer: what arrived of it
    /// goes, and what still comes of it is dropped.
    fn refuse_folder(&mut self, id: FileId, why: Refusal<'_>, for_peer: &str) {
        let Some(folder) = self.folders.get_mut(&id) else {
            return;
        };
        folder.stage = Stage::Dropped;
        // Off the list before the user reads of it.
        folder.meter = None;
        self.transfers.forget(folder.transfer);
        if let Some(kept) = folder.kept.take() {
            kept.discard();
        }
        let name = &folder.name;
        self.front
            .receive(ReceiveEvent::FolderRefused { name, why });
        self.answer(Answer::Refused(id, for_peer.to_string()));
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
}

/// A folder's name and a path inside it as the peer gave it, fit to show.
fn safe_shown_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if crate::wire::sanitize::is_unsafe_char(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}
