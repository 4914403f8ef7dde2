//! Leaving at once: nothing more of ours is sent, and nothing sent is
//! waited for.

use super::{Owner, Writer, file, folder_named};
use crate::session::events::{Outbound, SendEvent};
use crate::session::outgoing::WriteError;

impl<'a> Writer<'a> {
    /// The user leaves at once: files and folders of ours still queued are
    /// not sent, offers not yet answered are withdrawn (the peer told), and
    /// those on their way stop where they are, untold: leaving then cuts
    /// them, and the peer keeps what arrived for sending them again to
    /// resume, where a Cancel would have made it throw that away. Those
    /// sent whole are not waited for.
    pub(super) fn stop_all(&mut self) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        for queued in std::mem::take(&mut self.waiting) {
            self.transfers.forget(queued.transfer());
            let name = queued.name().to_string();
            self.say(
                queued.transfer(),
                vec![SendEvent::LeftFirst { name }],
                false,
            );
        }
        let lone = |owner: &Owner<'_>| match owner {
            Owner::Lone(_, transfer) => Some(*transfer),
            Owner::Entry(_) => None,
        };
        let mut offered: Vec<u64> = self
            .offered
            .values()
            .filter_map(|o| lone(&o.owner))
            .collect();
        offered.sort_unstable();
        for transfer in offered {
            self.cancel(transfer)?;
        }
        // (What is left on offer are files of folders on their way.)
        self.offered.clear();
        let mut going: Vec<(u64, Outbound)> = (self.active.iter())
            .filter_map(|s| Some((lone(&s.owner)?, file(s.file.name()))))
            .chain(
                self.folders
                    .values()
                    .map(|f| (f.transfer, folder_named(&f.name))),
            )
            .collect();
        going.sort_unstable_by_key(|(transfer, what)| (*transfer, what.name.clone()));
        self.active.clear();
        self.folders.clear();
        for (transfer, what) in going {
            let said = SendEvent::StoppedLeaving { what, to };
            self.say(transfer, vec![said], false);
        }
        for (_, unconfirmed) in std::mem::take(&mut self.unconfirmed) {
            if let Owner::Lone(_, transfer) = unconfirmed.owner {
                let name = unconfirmed.name;
                let said = SendEvent::UnconfirmedLeaving { name, to };
                self.say(transfer, vec![said], false);
            }
        }
        Ok(())
    }
}
