//! Files and folders waiting their turn: offered in the order they were
//! queued, while fewer than [`IN_FLIGHT`] are on their way.

use super::folders::FolderOut;
use super::offers::Offered;
use super::{Owner, Writer};
use crate::files::send::OutgoingFile;
use crate::files::tree::FolderTree;
use crate::session::events::Outbound;
use crate::session::outgoing::WriteError;
use crate::session::progress::Meter;
use crate::wire::message::Message;

/// Files and folders sent at once; those queued after them wait their turn.
const IN_FLIGHT: usize = 4;

/// What waits for its turn, with its id in the transfer list.
pub(super) enum Queued {
    File(OutgoingFile, u64),
    Folder(FolderTree, u64),
}

impl Queued {
    pub(super) fn name(&self) -> &str {
        match self {
            Self::File(file, _) => file.name(),
            Self::Folder(folder, _) => &folder.name,
        }
    }

    pub(super) fn transfer(&self) -> u64 {
        match self {
            Self::File(_, id) | Self::Folder(_, id) => *id,
        }
    }

    pub(super) fn outbound(&self) -> Outbound {
        match self {
            Self::File(file, _) => super::file(file.name()),
            Self::Folder(folder, _) => super::folder_named(&folder.name),
        }
    }
}

impl<'a> Writer<'a> {
    /// Files of their own and folders offered or being sent, not counting
    /// those waiting for the peer's last answer.
    fn in_flight(&self) -> usize {
        let lone = |owner: &Owner<'_>| matches!(owner, Owner::Lone(..));
        self.offered.values().filter(|o| lone(&o.owner)).count()
            + self.active.iter().filter(|s| lone(&s.owner)).count()
            + self.folders.values().filter(|f| !f.ended).count()
    }

    /// Offers queued files and folders while fewer than [`IN_FLIGHT`] are
    /// on their way.
    pub(super) fn start_waiting(&mut self) -> Result<(), WriteError> {
        while self.in_flight() < IN_FLIGHT {
            let Some(queued) = self.waiting.pop_front() else {
                break;
            };
            let id = self.new_id();
            match queued {
                Queued::File(file, transfer) => {
                    self.send(&Message::Offer {
                        id,
                        size: file.size(),
                        name: file.name(),
                    })?;
                    let meter = Meter::start(self.transfers, self.front, transfer);
                    meter.await_peer();
                    let owner = Owner::Lone(meter, transfer);
                    let told = false;
                    self.offered.insert(id, Offered { file, owner, told });
                }
                Queued::Folder(tree, transfer) => {
                    self.send(&Message::Folder {
                        id,
                        files: tree.files,
                        bytes: tree.bytes,
                        name: &tree.name,
                    })?;
                    let left_out = tree.skipped.iter().map(|s| s.shown(&tree.name)).collect();
                    let folder = FolderOut {
                        transfer,
                        name: tree.name,
                        bytes: tree.bytes,
                        items: tree.items.into(),
                        accepted: false,
                        streamed: false,
                        outstanding: 0,
                        saved: 0,
                        saved_bytes: 0,
                        failed: Vec::new(),
                        left_out,
                        ended: false,
                        told: false,
                        meter: Meter::start(self.transfers, self.front, transfer),
                    };
                    folder.meter.await_peer();
                    self.folders.insert(id, folder);
                }
            }
        }
        Ok(())
    }
}
