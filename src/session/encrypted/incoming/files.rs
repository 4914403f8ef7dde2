//! Files the peer offers, of their own or inside a folder: taking them
//! (at once, or once the user accepts), resuming what was kept of them,
//! their bytes, their hash at the end, and a cancel from either side.

use super::{Arriving, Breach, MAX_PREFIXES, Owner, Reader, Stage, unknown};
use crate::files::download::{DownloadError, safe_file_name};
use crate::files::kept::{Kept, KeptFile};
use crate::session::incoming;
use crate::session::outgoing::Answer;
use crate::session::progress::{self, Meter, Verdict};
use crate::wire::frame;
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
    /// A file offered by the peer, or (in a room) by the member `from`.
    pub(super) fn offer(
        &mut self,
        id: FileId,
        size: u64,
        name: &str,
        from: Option<&str>,
    ) -> Result<(), Breach> {
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
        self.screen.system(match from {
            None => format!("Incoming file {name} ({size} bytes)..."),
            Some(from) => format!("Incoming file {name} ({size} bytes) from {from}..."),
        });
        let owner = Owner::Lone {
            transfer,
            meter: None,
        };
        let mut arriving = Arriving::new(name, size, owner);
        let prepared = if size == 0 {
            // Nothing to keep or resume: it is made when it ends.
            Ok(*blake3::hash(b"").as_bytes())
        } else {
            self.prepare(&mut arriving, |kept, name, size| kept.file(name, size))
        };
        let prefix = match prepared {
            Ok(prefix) => prefix,
            Err(e) => {
                self.cannot_save(id, &arriving.name, &e);
                self.transfers.forget(transfer);
                self.files.insert(id, arriving);
                return Ok(());
            }
        };
        if let Some(why) = self.no_room(size, arriving.offset, transfer) {
            self.decline_for(id, &arriving.name, why);
            self.transfers.forget(transfer);
            arriving.kept = None;
        } else if self.asks(size) {
            arriving.stage = Stage::Asked;
            self.transfers.ask(transfer, arriving.offset, prefix);
            self.ask(transfer, &arriving.name, size, from);
        } else {
            self.accept(id, &mut arriving, prefix);
        }
        self.files.insert(id, arriving);
        Ok(())
    }

    /// Opens where a file is saved, resuming what was kept of it; returns
    /// the hash of the kept part, as offered to the peer.
    pub(super) fn prepare(
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
    pub(super) fn forget_prefix(&mut self, arriving: &Arriving<'_>) {
        if let Some(kept) = &arriving.kept {
            self.prefixes.remove(kept.path());
        }
    }

    /// Takes a file, from what was kept of it.
    pub(super) fn accept(&mut self, id: FileId, arriving: &mut Arriving<'a>, prefix: [u8; 32]) {
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

    /// The file `id`, which the user must have accepted for its bytes to
    /// come, and which the user may have cancelled since.
    pub(super) fn arriving(&mut self, id: FileId) -> Result<&mut Arriving<'a>, Breach> {
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

    pub(super) fn begin(&mut self, id: FileId, offset: u64) -> Result<(), Breach> {
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
                    meter.resume_from(offset);
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
                        meter.resume_from(offset);
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

    pub(super) fn chunk(&mut self, id: FileId, data: &[u8]) -> Result<(), Breach> {
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

    pub(super) fn end(&mut self, id: FileId, hash: &[u8; 32]) -> Result<(), Breach> {
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
        // An empty file of its own was given no place to be kept.
        let empty = size == 0
            && matches!(stage, Stage::Accepted { .. })
            && matches!(owner, Owner::Lone { .. });
        if stage == Stage::Dropped || (kept.is_none() && !empty) {
            // Already refused, and the peer told why.
            return self.entry_settled(owner, None);
        }
        if hasher.finalize() != *hash {
            self.screen.system(format!(
                "{name} arrived damaged (its hash does not match); nothing was saved."
            ));
            // What was kept is what did not match: it goes.
            if let Some(kept) = kept {
                kept.discard();
            }
            self.answer(Answer::Refused(
                id,
                "it arrived damaged (its hash does not match)".into(),
            ));
            return self.entry_settled(owner, None);
        }
        let finished = |kept: Option<KeptFile>| match kept {
            Some(kept) => kept.finish(self.downloads, &name),
            None => self.downloads.save_empty(&name),
        };
        match owner {
            Owner::Lone { meter, .. } => match finished(kept) {
                Ok(path) => {
                    if let Some(meter) = meter {
                        incoming::say_saved(self.screen, &path, meter);
                    }
                    self.answer(Answer::Saved(id));
                }
                Err(e) => self.cannot_save(id, &name, &e),
            },
            Owner::Entry(_) => {
                if let Some(kept) = kept {
                    kept.complete();
                }
                self.answer(Answer::Saved(id));
                self.entry_settled(owner, Some(size))?;
            }
        }
        Ok(())
    }

    /// The peer stopped sending a file or folder: what arrived of it goes.
    pub(super) fn cancelled(&mut self, id: FileId) -> Result<(), Breach> {
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

    /// In a room: the member sending `id` left before its end. What
    /// arrived is kept, as when a connection is cut, so that sending it
    /// again resumes; a folder keeps what arrived of its files.
    pub(super) fn lost(&mut self, id: FileId) -> Result<(), Breach> {
        if let Some(folder) = self.folders.remove(&id) {
            let of_folder = |a: &Arriving<'_>| matches!(a.owner, Owner::Entry(f) if f == id);
            self.files.retain(|_, arriving| !of_folder(arriving));
            self.transfers.forget(folder.transfer);
            if matches!(folder.stage, Stage::Accepted { .. }) {
                let resume = match &folder.kept {
                    Some(kept) if kept.holds_a_file() => {
                        "what arrived is kept, so sending it again resumes"
                    }
                    _ => "nothing was saved",
                };
                self.screen.system(format!(
                    "Folder {} incomplete: its sender left the room ({} of {} files); {resume}.",
                    folder.name, folder.saved, folder.files
                ));
            }
            return Ok(());
        }
        let arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
        if let Owner::Lone { transfer, .. } = &arriving.owner {
            self.transfers.forget(*transfer);
        }
        match (&arriving.kept, arriving.stage) {
            (Some(kept), Stage::Accepted { .. }) => {
                let resume = if kept.held() > 0 {
                    "what arrived is kept, so sending it again resumes"
                } else {
                    "nothing was saved"
                };
                self.screen.system(format!(
                    "Transfer of {} incomplete: its sender left the room; {resume}.",
                    arriving.name
                ));
            }
            (_, Stage::Asked) => self.screen.system(format!(
                "The offer of {} is over: its sender left the room.",
                arriving.name
            )),
            _ => {}
        }
        self.entry_settled(arriving.owner, None)
    }
}
