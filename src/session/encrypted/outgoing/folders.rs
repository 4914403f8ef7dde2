//! Folders being sent: their files offered a window at a time once the
//! peer accepts the folder, their answers counted, and the folder ended,
//! then confirmed or refused as a whole.

use std::collections::VecDeque;

use super::chunks::Sending;
use super::{Offered, Owner, Writer};
use crate::files::send::OutgoingFile;
use crate::files::tree::TreeItem;
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::session::progress::Meter;
use crate::wire::message::{FileId, Message};

/// Files of one folder offered and not yet answered, or (streamed) on
/// their way and not yet ended: enough to keep the link busy with small
/// files, and within what the peer takes at once (64) with
/// [`super::queue::IN_FLIGHT`] folders.
const ENTRY_WINDOW: usize = 15;

/// Files of a streamed folder ended and not yet answered: the peer holds
/// none of them open, so only our memory of them bounds this; enough for
/// a link's round trip of small files (a few thousand files a second
/// across 100 ms).
const STREAM_WINDOW: usize = 4096;

/// A folder being sent.
pub(super) struct FolderOut<'a> {
    pub(super) transfer: u64,
    pub(super) name: String,
    /// Bytes announced, which its files may not exceed in all.
    pub(super) bytes: u64,
    /// What is still to be offered, in order.
    pub(super) items: VecDeque<TreeItem>,
    pub(super) accepted: bool,
    /// Whether the peer holds nothing of it, so that each file's bytes
    /// follow its Entry at once, without waiting for its Accept.
    pub(super) streamed: bool,
    /// Files offered and not yet answered.
    pub(super) outstanding: usize,
    pub(super) saved: u64,
    pub(super) saved_bytes: u64,
    /// Files that did not make it, by their paths below it.
    pub(super) failed: Vec<String>,
    /// What the walk left out (links, what could not be read), as shown:
    /// `photos/latest`, `what is inside photos/private`.
    pub(super) left_out: Vec<String>,
    /// Whether its end went out: then it waits for the peer's answer.
    pub(super) ended: bool,
    /// Whether the user was told that it waits for the peer to accept it.
    pub(super) told: bool,
    pub(super) meter: Meter<'a>,
}

impl<'a> Writer<'a> {
    /// Offers the next files of the folder `id` while fewer than
    /// [`ENTRY_WINDOW`] wait for answers; once all are answered, ends it.
    pub(super) fn offer_entries(&mut self, id: FileId) -> Result<(), WriteError> {
        let Some(mut folder) = self.folders.remove(&id) else {
            return Ok(());
        };
        let result = self.offer_entries_of(id, &mut folder);
        self.folders.insert(id, folder);
        result?;
        self.start_waiting()
    }

    pub(super) fn offer_entries_of(
        &mut self,
        id: FileId,
        folder: &mut FolderOut<'a>,
    ) -> Result<(), WriteError> {
        if !folder.accepted || folder.ended {
            return Ok(());
        }
        while self.room_for_entry(id, folder) {
            let Some(item) = folder.items.pop_front() else {
                break;
            };
            match item {
                TreeItem::Folder(path) => self.send(&Message::Subfolder {
                    folder: id,
                    path: &path,
                })?,
                TreeItem::File {
                    path,
                    relative,
                    size,
                    identity,
                } => match OutgoingFile::open_walked(&path, identity) {
                    // Each file stays within its size when walked, so the
                    // folder within what was announced.
                    Ok(file) if file.size() > size => {
                        self.front.sending(&SendEvent::Skipped {
                            folder: folder.name.clone(),
                            entry: relative.clone(),
                            why: None,
                        });
                        folder.failed.push(relative);
                    }
                    Ok(file) => {
                        let entry = self.new_id();
                        self.send(&Message::Entry {
                            id: entry,
                            folder: id,
                            size: file.size(),
                            path: &relative,
                        })?;
                        let owner = Owner::Entry(id);
                        match folder.streamed {
                            true => self.active.push_back(Sending::whole(entry, file, owner)),
                            false => {
                                let told = true;
                                self.offered.insert(entry, Offered { file, owner, told });
                            }
                        }
                        folder.outstanding += 1;
                    }
                    Err(e) => {
                        self.front.sending(&SendEvent::Skipped {
                            folder: folder.name.clone(),
                            entry: relative.clone(),
                            why: Some(Box::new(e)),
                        });
                        folder.failed.push(relative);
                    }
                },
            }
        }
        if folder.items.is_empty() && folder.outstanding == 0 {
            self.send(&Message::End { id, hash: [0; 32] })?;
            folder.ended = true;
        }
        Ok(())
    }

    /// Whether another file of the folder `id` may be offered: fewer than
    /// [`ENTRY_WINDOW`] wait for answers; streamed, fewer than that are
    /// on their way and fewer than [`STREAM_WINDOW`] wait.
    fn room_for_entry(&self, id: FileId, folder: &FolderOut<'a>) -> bool {
        if !folder.streamed {
            return folder.outstanding < ENTRY_WINDOW;
        }
        let of_it = |s: &&Sending<'_>| matches!(s.owner, Owner::Entry(f) if f == id);
        folder.outstanding < STREAM_WINDOW
            && self.active.iter().filter(of_it).count() < ENTRY_WINDOW
    }

    /// A file of the folder `folder` was answered for: saved, or with the
    /// name of one that was not.
    pub(super) fn entry_done(
        &mut self,
        folder: FileId,
        outcome: Result<u64, String>,
    ) -> Result<(), WriteError> {
        if let Some(folder) = self.folders.get_mut(&folder) {
            folder.outstanding = folder.outstanding.saturating_sub(1);
            match outcome {
                Err(name) => folder.failed.push(name),
                Ok(size) => {
                    folder.saved += 1;
                    folder.saved_bytes += size;
                    folder.meter.file_done();
                }
            }
        }
        self.offer_entries(folder)
    }

    pub(super) fn settle_folder(
        &mut self,
        id: FileId,
        folder: FolderOut<'a>,
        refusal: Option<String>,
    ) -> Result<(), WriteError> {
        let summary = folder.meter.summary();
        // Off the list before the user reads that it is done.
        drop(folder.meter);
        let name = &folder.name;
        let mut lines = Vec::new();
        let through = refusal.is_none();
        match refusal {
            None => {
                lines.push(SendEvent::SentFolder {
                    name: name.clone(),
                    files: folder.saved,
                    bytes: folder.saved_bytes,
                    summary,
                });
                let failed = folder.failed.iter().map(|path| format!("{name}/{path}"));
                let not_sent: Vec<String> = folder.left_out.into_iter().chain(failed).collect();
                if !not_sent.is_empty() {
                    lines.push(SendEvent::LeftOut(not_sent));
                }
            }
            Some(reason) => {
                let to = self.transfers.counterpart();
                let what = super::folder_named(name);
                lines.push(SendEvent::NotSaved { what, to, reason });
                if !folder.ended {
                    self.drop_entries_of(id);
                    self.send(&Message::Cancel { id })?;
                }
            }
        }
        self.say(folder.transfer, lines, through);
        self.start_waiting()
    }

    /// Forgets the files of the folder `id` still on their way.
    pub(super) fn drop_entries_of(&mut self, id: FileId) {
        let of_folder = |owner: &Owner<'_>| matches!(owner, Owner::Entry(f) if *f == id);
        self.offered.retain(|_, o| !of_folder(&o.owner));
        self.active.retain(|s| !of_folder(&s.owner));
        self.unconfirmed.retain(|_, u| !of_folder(&u.owner));
    }
}
