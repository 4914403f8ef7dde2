//! The end of a file the peer sent: its hash checked, and the file given
//! its final name, or found to be the one here already.

use super::arriving::{Arriving, Owner, Stage};
use super::hashing::Identity;
use super::{Breach, Reader};
use crate::files::kept::KeptFile;
use crate::session::events::{ReceiveEvent, Unsaved};
use crate::session::incoming;
use crate::session::outgoing::Answer;
use crate::session::progress::{Meter, bytes};
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
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
}
