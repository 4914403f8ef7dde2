//! Offers waiting for the peer's answer: the user at a terminal is told
//! of those that wait, and a file the peer accepts is set going.

use std::time::Duration;

use super::chunks::Sending;
use super::resume::Check;
use super::{Owner, Writer, file, folder_named};
use crate::files::send::OutgoingFile;
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::wire::message::{FOLDER_STREAMED, FileId};

/// How long an offer may wait for the peer's answer before the user (at a
/// terminal) is told that it waits: an answer usually comes at once, unless
/// the peer's user is asked.
pub(super) const UNANSWERED_NOTE: Duration = Duration::from_secs(1);

/// A file offered, waiting for the peer to accept it.
pub(super) struct Offered<'a> {
    pub(super) file: OutgoingFile,
    pub(super) owner: Owner<'a>,
    /// Whether the user was told that it waits for the peer.
    pub(super) told: bool,
}

impl<'a> Writer<'a> {
    /// Whether offers wait for the peer that the user at a terminal was not
    /// told of.
    pub(super) fn untold_offers(&self) -> bool {
        self.front.attended()
            && (self.offered.values().any(|o| !o.told)
                || self.folders.values().any(|f| !f.accepted && !f.told))
    }

    /// Tells the user which offers wait for the peer's answer.
    pub(super) fn tell_unanswered(&mut self) {
        let to = self.transfers.counterpart();
        let mut waiting = Vec::new();
        for (id, offered) in &mut self.offered {
            if !std::mem::replace(&mut offered.told, true) {
                let (name, size) = (offered.file.name(), offered.file.size());
                waiting.push((*id, file(name), size));
            }
        }
        for (id, folder) in &mut self.folders {
            if !folder.accepted && !std::mem::replace(&mut folder.told, true) {
                waiting.push((*id, folder_named(&folder.name), folder.bytes));
            }
        }
        waiting.sort_by_key(|(id, ..)| *id);
        for (_, what, size) in waiting {
            self.front
                .sending(&SendEvent::Unanswered { what, size, to });
        }
    }

    /// The peer took the file or folder `id`; for a file, it holds its
    /// first `offset` bytes already if their hash is `prefix`, which is
    /// checked before anything of it is sent.
    pub(super) fn accepted(
        &mut self,
        id: FileId,
        offset: u64,
        prefix: &[u8; 32],
    ) -> Result<(), WriteError> {
        if let Some(folder) = self.folders.get_mut(&id)
            && !folder.accepted
        {
            folder.accepted = true;
            folder.streamed = offset == FOLDER_STREAMED;
            folder.meter.restart();
            return self.offer_entries(id);
        }
        let Some(Offered {
            file, mut owner, ..
        }) = self.offered.remove(&id)
        else {
            // An answer about no file of ours waiting for one.
            return Ok(());
        };
        if let Owner::Lone(meter, _) = &mut owner {
            meter.restart();
        }
        let check = (offset > 0).then_some(Check {
            offset,
            prefix: *prefix,
            at: 0,
        });
        self.active.push_back(Sending {
            id,
            file,
            sent: 0,
            hash: blake3::Hasher::new(),
            owner,
            check,
            held: 0,
        });
        Ok(())
    }
}
