//! The bytes of a file the peer sends: the file they belong to, where
//! they begin (after what is here, or from the start when that differs),
//! and each chunk counted, hashed and written.

use super::arriving::{Arriving, Owner, Stage};
use super::resuming::settle;
use super::{Breach, Reader, unknown};
use crate::files::space::{NoRoom, Owed};
use crate::session::events::{ReceiveEvent, Unsaved};
use crate::session::outgoing::Answer;
use crate::session::progress::{Meter, Verdict, bytes};
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
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
}
