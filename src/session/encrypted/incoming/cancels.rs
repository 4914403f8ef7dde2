//! Files and folders the peer stops sending: cancelled, or (in a room)
//! lost with the member sending them.

use super::arriving::{Owner, Stage};
use super::resuming::withdrawn;
use super::{Breach, Reader, unknown};
use crate::session::events::ReceiveEvent;
use crate::session::progress::Verdict;
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
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
}
