//! Files the peer offers, of their own or inside a folder: taking them
//! (at once, or once the user accepts), resuming what was kept of them,
//! their bytes, their hash at the end, and a cancel from either side.

use std::sync::Arc;

use super::hashing::{Found, Identity, Job, Pending, Reply, Source};
use super::{Arriving, Breach, Here, Owner, Reader, Stage, unknown};
use crate::files::download::{DownloadError, safe_file_name};
use crate::files::kept::{Kept, KeptFile};
use crate::files::space::{NoRoom, Owed};
use crate::session::events::{Offered, ReceiveEvent, Refusal, Unsaved};
use crate::session::incoming;
use crate::session::outgoing::Answer;
use crate::session::progress::{Meter, Verdict, bytes};
use crate::wire::limits;
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
        if size > limits::MAX_FILE_SIZE {
            return Err(Breach::Protocol(format!(
                "the peer offered a file of {}, over the limit of {}",
                bytes(size),
                bytes(limits::MAX_FILE_SIZE)
            )));
        }
        self.check_new(id)?;
        // Shown as it will be saved: what a peer puts in a name (a path, a
        // look-alike of our own lines) never reaches the front.
        let name = safe_file_name(name);
        // In the list before it is announced, so a `/status` that follows
        // the announcement sees it.
        let transfer = self.transfers.offered(&name, size, id);
        let owner = Owner::Lone {
            transfer,
            meter: None,
        };
        let mut arriving = Arriving::new(name.clone(), size, owner);
        arriving.from = from.map(str::to_string);
        let what = Offered {
            name: &name,
            size,
            files: None,
            from,
        };
        // Keeping a file makes two (its part and its info): there must be
        // room for them before they are made.
        if size > 0 && !self.kept.holds_file(&name, size) {
            let needed = Owed { bytes: 0, files: 2 };
            if let Some(why) = self.no_room(needed, transfer) {
                self.decline_for(id, what, Refusal::NoRoom(&why), NoRoom::FOR_PEER);
                self.transfers.forget(transfer);
                self.files.insert(id, arriving);
                return Ok(());
            }
        }
        let prepared = match size {
            // Nothing to keep or resume: it is made when it ends.
            0 => Ok(Here::Nothing),
            _ => self.prepare(&mut arriving, |kept, name, size| kept.file(name, size)),
        };
        let here = match prepared {
            Ok(Here::Nothing) if size > 0 => self.same_file_here(&arriving),
            Ok(here) => here,
            Err(e) => {
                self.cannot_save(id, Unsaved::Offer(what), &e);
                self.transfers.forget(transfer);
                self.files.insert(id, arriving);
                return Ok(());
            }
        };
        self.take_offer(id, &mut arriving, here, what);
        self.files.insert(id, arriving);
        Ok(())
    }

    /// Refuses the offer for lack of room, asks the user about it, or
    /// takes it, and says which: only an offer taken at once is said to be
    /// incoming, and one that may be the file here already is said to be
    /// checked first. A file that may be here needs no room unless it
    /// turns out not to be (see [`Reader::begin`]).
    fn take_offer(
        &mut self,
        id: FileId,
        arriving: &mut Arriving<'a>,
        here: Here,
        what: Offered<'_>,
    ) {
        let Owner::Lone { transfer, .. } = arriving.owner else {
            return;
        };
        let held = here.held(arriving.size);
        let needed = Owed {
            bytes: arriving.size - held,
            files: 0,
        };
        if let Some(why) = self.no_room(needed, transfer) {
            self.decline_for(id, what, Refusal::NoRoom(&why), NoRoom::FOR_PEER);
            self.transfers.forget(transfer);
            arriving.kept = None;
        } else if self.asks(arriving.size, 1) {
            arriving.stage = Stage::Asked;
            // Waiting in the list before the user is asked, so that an
            // /accept right after the question finds it.
            self.answer_when_known(id, arriving, here, Reply::Asked(transfer));
            self.ask(transfer, what, &here);
        } else {
            self.transfers.counts_held(transfer, held);
            self.front.receive(match here {
                Here::There(_) => ReceiveEvent::Checking(what),
                _ => ReceiveEvent::Arriving(what),
            });
            self.answer_when_known(id, arriving, here, Reply::Now);
        }
    }

    /// A file of the offered name and size already in the download folder
    /// (not through a link), which may be the very file.
    fn same_file_here(&self, arriving: &Arriving<'_>) -> Here {
        let path = self.downloads.path().join(&arriving.name);
        match Identity::of_file(&path) {
            Some(seen) if seen.len() == arriving.size => Here::There(seen),
            _ => Here::Nothing,
        }
    }

    /// Opens where a file is saved, resuming what was kept of it; says how
    /// much was kept.
    pub(super) fn prepare(
        &mut self,
        arriving: &mut Arriving<'a>,
        open: impl FnOnce(&Kept, &str, u64) -> Result<KeptFile, DownloadError>,
    ) -> Result<Here, DownloadError> {
        let kept = open(&self.kept, &arriving.name, arriving.size)?;
        let held = kept.held();
        arriving.kept = Some(kept);
        Ok(match held {
            0 => Here::Nothing,
            held => Here::Kept(held),
        })
    }

    /// Answers the offer of `arriving` (`reply` says when) once what is here
    /// of it is hashed: at once when nothing is, or its hash is known
    /// already; else by the hashing worker, once it has read it.
    pub(super) fn answer_when_known(
        &mut self,
        id: FileId,
        arriving: &mut Arriving<'a>,
        here: Here,
        reply: Reply,
    ) {
        let source = match (here, &arriving.kept) {
            (Here::Kept(held), Some(kept)) => match self.hashing.remembered(kept.path(), held) {
                Some(hasher) => {
                    return self.answer_found(id, arriving, Found { len: held, hasher }, reply);
                }
                None => Source::Kept {
                    file: kept.reader(),
                    path: kept.path().to_path_buf(),
                    held,
                },
            },
            (Here::There(seen), _) => {
                arriving.there = Some(seen);
                Source::There {
                    path: self.downloads.path().join(&arriving.name),
                    seen,
                }
            }
            _ => return self.answer_found(id, arriving, Found::nothing(), reply),
        };
        let pending = Arc::new(Pending::default());
        arriving.pending = Some(pending.clone());
        match reply {
            // Taken now; where its chunks begin is known once it is hashed.
            Reply::Now => self.take(arriving),
            Reply::Asked(transfer) => self.transfers.ask_while_hashing(
                transfer,
                here.held(arriving.size),
                matches!(here, Here::There(_)),
            ),
        }
        let name = arriving.name.clone();
        self.hashing.submit(Job {
            id,
            name,
            source,
            reply,
            pending,
        });
    }

    /// Answers the offer of `arriving`, of which `found` is here: at once,
    /// or once the user accepts it.
    fn answer_found(
        &mut self,
        id: FileId,
        arriving: &mut Arriving<'a>,
        found: Found,
        reply: Reply,
    ) {
        let prefix = found.prefix();
        set_found(arriving, found);
        match reply {
            Reply::Now => self.accept(id, arriving, prefix),
            Reply::Asked(transfer) => self.transfers.ask(transfer, arriving.offset, prefix),
        }
    }

    /// Takes a file, from what was kept of it: its bytes may come once the
    /// peer is answered.
    fn take(&mut self, arriving: &mut Arriving<'a>) {
        // What is kept of it is about to change: its hash must be worked
        // out anew next time.
        if let Some(kept) = &arriving.kept {
            self.hashing.forget(kept.path());
        }
        arriving.stage = Stage::Accepted {
            awaiting_begin: arriving.offset > 0 || arriving.pending.is_some(),
        };
        if let Owner::Lone { transfer, meter } = &mut arriving.owner {
            *meter = Some(Meter::start(self.transfers, self.front, *transfer));
        }
    }

    /// Takes a file, from what was kept of it, and tells the peer.
    pub(super) fn accept(&mut self, id: FileId, arriving: &mut Arriving<'a>, prefix: [u8; 32]) {
        self.take(arriving);
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
        let was_there = arriving.there.is_some();
        if arriving.stage != Stage::Dropped && !settle(arriving) {
            return Err(Breach::Protocol(format!(
                "the peer sent {} before it was accepted",
                arriving.name
            )));
        }
        if was_there && arriving.there.is_none() {
            // The file here could not be compared (it changed, or cannot be
            // read): the peer was asked for all of it.
            self.comes_whole(id, true);
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
                        self.hashing.forget(kept.path());
                    }
                    arriving.stage = Stage::Accepted {
                        awaiting_begin: arriving.offset > 0,
                    };
                    *meter = Some(Meter::start(self.transfers, self.front, *transfer));
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
            self.resumed(id);
            return Ok(());
        }
        if offset != 0 {
            return Err(Breach::Protocol(format!(
                "the peer began {} at {offset}, neither 0 nor where it was asked",
                arriving.name
            )));
        }
        let there = arriving.there.take();
        if let Some(seen) = there {
            // Hashed whole to answer the offer: compared at the end.
            arriving.compared = Some((*arriving.hash.finalize().as_bytes(), seen));
        }
        self.comes_whole(id, there.is_some());
        Ok(())
    }

    /// The chunks of `id` begin after what is here: that counts as done.
    fn resumed(&mut self, id: FileId) {
        let Some(arriving) = self.files.get_mut(&id) else {
            return;
        };
        let offset = arriving.offset;
        match &mut arriving.owner {
            Owner::Lone {
                meter: Some(meter), ..
            } => {
                meter.resume_from(offset);
                // (A file here already is said to be so when it ends.)
                if arriving.there.is_none() {
                    self.front.receive(ReceiveEvent::Resuming {
                        name: &arriving.name,
                        kept: offset,
                        size: arriving.size,
                    });
                }
            }
            Owner::Lone { meter: None, .. } => {}
            Owner::Entry(folder) => {
                let folder = *folder;
                if let Some(meter) = self.folders.get_mut(&folder).and_then(|f| f.meter.as_mut()) {
                    meter.resume_from(offset);
                }
            }
        }
    }

    /// The peer's file of `id` is not what is here (it changed since, or
    /// is another of the same name and size): it comes whole, if there is
    /// room for it. One taken for the file of its name in the download
    /// folder (`was_there`) needed no room until now, and was not said to
    /// be incoming.
    fn comes_whole(&mut self, id: FileId, was_there: bool) {
        let Some(arriving) = self.files.get_mut(&id) else {
            return;
        };
        arriving.received = 0;
        arriving.hash = blake3::Hasher::new();
        let (name, size) = (arriving.name.clone(), arriving.size);
        if let Owner::Lone { transfer, .. } = arriving.owner {
            self.transfers.begins_whole(transfer);
            let needed = Owed {
                bytes: size,
                files: 0,
            };
            let no_room = was_there.then(|| self.no_room(needed, transfer)).flatten();
            if let Some(why) = no_room {
                let name = &name;
                let differs = ReceiveEvent::DiffersNoRoom {
                    name,
                    size,
                    why: &why,
                };
                self.front.receive(differs);
                self.answer(Answer::Refused(id, NoRoom::FOR_PEER.to_string()));
                if let Some(arriving) = self.files.get_mut(&id) {
                    (arriving.stage, arriving.kept) = (Stage::Dropped, None);
                }
                return;
            }
            let from = self.files.get(&id).and_then(|a| a.from.clone());
            match (was_there, from) {
                (false, _) => {}
                // The host sends it whole when another member needs it all.
                (true, Some(from)) => self.front.receive(ReceiveEvent::ComesWhole {
                    name: &name,
                    size,
                    from: &from,
                }),
                (true, None) => self
                    .front
                    .receive(ReceiveEvent::Differs { name: &name, size }),
            }
        }
        let Some(arriving) = self.files.get_mut(&id) else {
            return;
        };
        if let Some(kept) = &mut arriving.kept
            && let Err(e) = kept.restart_at(0)
        {
            arriving.kept = None;
            self.cannot_save(id, Unsaved::File(&name), &e);
        }
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
                "the peer sent more of {} than the {} it announced",
                arriving.name,
                bytes(arriving.size)
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
            self.cannot_save(id, Unsaved::File(&name), &e);
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
                "the peer ended {} after {} of its {}",
                arriving.name,
                bytes(arriving.received),
                bytes(arriving.size)
            )));
        }
        let Arriving {
            name,
            size,
            hash: hasher,
            kept,
            owner,
            stage,
            there,
            compared,
            from,
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
            self.front.receive(ReceiveEvent::Damaged { name: &name });
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
        if let Owner::Lone { meter, .. } = owner {
            let from = from.as_deref();
            if let Some(seen) = self.identical_after_all(&name, compared, hash) {
                self.same_as_here(id, (&name, from, true), kept, meter, seen);
                return Ok(());
            }
            let there = there.or_else(|| self.empty_here(&name, empty));
            self.save_lone(id, (&name, from), kept, meter, there);
            return Ok(());
        }
        if let Some(kept) = kept {
            kept.complete();
        }
        self.answer(Answer::Saved(id));
        self.entry_settled(owner, Some(size))
    }

    /// The file `name` here, when one that came whole although it was
    /// taken for it (`compared`: its hash, and the file as looked at) has
    /// its `hash` and is still as it was looked at; if it changed since,
    /// what arrived is saved beside it.
    fn identical_after_all(
        &self,
        name: &str,
        compared: Option<([u8; 32], Identity)>,
        hash: &[u8; 32],
    ) -> Option<Identity> {
        let (_, seen) = compared.filter(|(here, _)| here == hash)?;
        let now = Identity::of_file(&self.downloads.path().join(name));
        (now == Some(seen)).then_some(seen)
    }

    /// An empty file of this name in the download folder, for an empty
    /// file that arrived.
    fn empty_here(&self, name: &str, empty: bool) -> Option<Identity> {
        let path = self.downloads.path().join(name);
        Identity::of_file(&path).filter(|seen| empty && seen.len() == 0)
    }

    /// Gives a file of its own (`from` a member, in a room) that arrived
    /// whole its final name; one that is the file `there` in the download
    /// folder already gets none.
    fn save_lone(
        &mut self,
        id: FileId,
        (name, from): (&str, Option<&str>),
        kept: Option<KeptFile>,
        meter: Option<Meter<'a>>,
        there: Option<Identity>,
    ) {
        if let Some(seen) = there {
            return self.same_as_here(id, (name, from, false), kept, meter, seen);
        }
        let saved = match kept {
            Some(kept) => kept.finish(self.downloads, name),
            None => self.downloads.save_empty(name),
        };
        match saved {
            Ok(path) => {
                if let Some(meter) = meter {
                    incoming::say_saved(self.front, &path, meter);
                }
                self.answer(Answer::Saved(id));
            }
            Err(e) => self.cannot_save(id, Unsaved::File(name), &e),
        }
    }

    /// The peer's file is the one `seen` here, by its size and hash: no
    /// byte of it travelled (or it `came_whole` and is not kept twice), and
    /// that file stays as it is, if it did not change while it was
    /// compared. `from`: the member it is from, in a room.
    fn same_as_here(
        &mut self,
        id: FileId,
        (name, from, came_whole): (&str, Option<&str>, bool),
        kept: Option<KeptFile>,
        meter: Option<Meter<'a>>,
        seen: Identity,
    ) {
        // (It holds nothing.)
        if let Some(kept) = kept {
            kept.discard();
        }
        // Off the list before the user reads that it is done.
        drop(meter);
        if Identity::of_file(&self.downloads.path().join(name)) != Some(seen) {
            let why = "the file here changed while it was compared; nothing was saved";
            self.front
                .receive(ReceiveEvent::ChangedWhileCompared { name, from });
            return self.answer(Answer::Refused(id, why.into()));
        }
        self.front.receive(ReceiveEvent::AlreadyThere {
            name,
            from,
            came_whole,
        });
        self.answer(Answer::Saved(id));
    }

    /// The peer stopped sending a file or folder: what arrived of it goes.
    pub(super) fn cancelled(&mut self, id: FileId) -> Result<(), Breach> {
        if let Some(folder) = self.folders.remove(&id) {
            self.drop_files_of(id);
            let verdict = self.transfers.verdict(folder.transfer);
            self.transfers.forget(folder.transfer);
            self.say_stopped(&folder.name, folder.stage, Some(verdict), true);
            if let Some(kept) = folder.kept
                && folder.stage != Stage::Asked
            {
                kept.discard();
            }
            return Ok(());
        }
        let mut arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
        withdrawn(&mut arriving);
        let verdict = match &arriving.owner {
            Owner::Lone { transfer, .. } => {
                let verdict = self.transfers.verdict(*transfer);
                self.transfers.forget(*transfer);
                Some(verdict)
            }
            Owner::Entry(_) => None,
        };
        if arriving.kept.is_some() {
            self.say_stopped(&arriving.name, arriving.stage, verdict, false);
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
            self.drop_files_of(id);
            self.transfers.forget(folder.transfer);
            if matches!(folder.stage, Stage::Accepted { .. }) {
                self.front.receive(ReceiveEvent::FolderSenderLeft {
                    name: &folder.name,
                    saved: folder.saved,
                    files: folder.files,
                    kept: folder.kept.as_ref().is_some_and(|kept| kept.holds_a_file()),
                });
            }
            return Ok(());
        }
        let mut arriving = self.files.remove(&id).ok_or_else(|| unknown(id))?;
        withdrawn(&mut arriving);
        if let Owner::Lone { transfer, .. } = &arriving.owner {
            self.transfers.forget(*transfer);
        }
        match (&arriving.kept, arriving.stage) {
            (Some(kept), Stage::Accepted { .. }) => {
                self.front.receive(ReceiveEvent::SenderLeft {
                    name: &arriving.name,
                    kept: kept.held() > 0,
                });
            }
            (_, Stage::Asked) => self.front.receive(ReceiveEvent::OfferSenderLeft {
                name: &arriving.name,
            }),
            _ => {}
        }
        self.entry_settled(arriving.owner, None)
    }
}

impl Reader<'_> {
    /// Forgets the files of the folder `id`, and stops hashing for them.
    fn drop_files_of(&mut self, id: FileId) {
        self.files.retain(|_, arriving| {
            let of_folder = matches!(arriving.owner, Owner::Entry(f) if f == id);
            if of_folder && let Some(pending) = &arriving.pending {
                pending.cancel();
            }
            !of_folder
        });
    }

    /// The conversation is over: files whose offers were not answered yet
    /// (what is here of them still being hashed) were never taken.
    pub(super) fn forget_unanswered(&mut self) {
        for arriving in self.files.values_mut() {
            withdrawn(arriving);
        }
    }
}

/// Counts `found` as held of `arriving`: its chunks begin after it.
fn set_found(arriving: &mut Arriving<'_>, found: Found) {
    arriving.offset = found.len;
    arriving.received = found.len;
    arriving.hash = found.hasher;
}

/// Takes in what the hashing worker found of `arriving`, once it did: the
/// peer has been answered then (or is about to be), and may act on it.
/// `false` while it is still hashing: nothing was answered.
pub(super) fn settle(arriving: &mut Arriving<'_>) -> bool {
    let Some(pending) = arriving.pending.clone() else {
        return true;
    };
    match pending.take() {
        None => return false,
        Some(Ok(found)) => {
            if found.len == 0 {
                arriving.there = None;
            }
            set_found(arriving, found);
            if let Stage::Accepted { .. } = arriving.stage {
                arriving.stage = Stage::Accepted {
                    awaiting_begin: arriving.offset > 0,
                };
            }
        }
        // Refused: what was kept could not be read (the peer was told).
        Some(Err(_)) => {
            arriving.stage = Stage::Dropped;
            arriving.kept = None;
        }
    }
    arriving.pending = None;
    true
}

/// Stops hashing for `arriving`, which the peer withdrew or cannot send any
/// more: unless the peer was answered already, it counts as an offer not
/// taken, whatever was kept of it staying as it was.
pub(super) fn withdrawn(arriving: &mut Arriving<'_>) {
    if let Some(pending) = &arriving.pending {
        pending.cancel();
        if !settle(arriving) {
            arriving.pending = None;
            arriving.stage = Stage::Asked;
        }
    }
}
