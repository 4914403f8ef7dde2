//! The user's `/cancel` of a file or folder of ours: taken off the queue,
//! withdrawn from the peer, or stopped on its way.

use super::{Owner, Writer, file, folder_named};
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::wire::message::Message;

impl<'a> Writer<'a> {
    /// The user's `/cancel` of the transfer `transfer`.
    pub(super) fn cancel(&mut self, transfer: u64) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        if let Some(at) = self.waiting.iter().position(|q| q.transfer() == transfer) {
            let queued = self.waiting.remove(at).expect("position is in range");
            self.transfers.forget(transfer);
            let what = queued.outbound();
            self.say(
                transfer,
                vec![SendEvent::Cancelled { what, to: None }],
                false,
            );
            return Ok(());
        }
        let lone = |owner: &Owner<'_>| matches!(owner, Owner::Lone(_, t) if *t == transfer);
        let found = self
            .offered
            .iter()
            .find(|(_, o)| lone(&o.owner))
            .map(|(id, _)| *id)
            .or_else(|| self.active.iter().find(|s| lone(&s.owner)).map(|s| s.id));
        if let Some(id) = found {
            let name = match self.offered.remove(&id) {
                Some(offered) => offered.file.name().to_string(),
                None => {
                    let at = self.active.iter().position(|s| s.id == id);
                    let sending = self
                        .active
                        .remove(at.expect("found above"))
                        .expect("in range");
                    sending.file.name().to_string()
                }
            };
            self.send(&Message::Cancel { id })?;
            let what = file(&name);
            let said = SendEvent::Cancelled { what, to: Some(to) };
            self.say(transfer, vec![said], false);
            return self.start_waiting();
        }
        let folder = self
            .folders
            .iter()
            .find(|(_, f)| f.transfer == transfer)
            .map(|(id, f)| (*id, f.ended));
        match folder {
            Some((id, false)) => {
                let folder = self.folders.remove(&id).expect("found above");
                self.drop_entries_of(id);
                self.send(&Message::Cancel { id })?;
                let what = folder_named(&folder.name);
                let said = SendEvent::Cancelled { what, to: Some(to) };
                self.say(transfer, vec![said], false);
                self.start_waiting()
            }
            _ => {
                let sent_whole = folder.is_some()
                    || self
                        .unconfirmed
                        .values()
                        .any(|u| matches!(u.owner, Owner::Lone(_, t) if t == transfer));
                let to = sent_whole.then_some(to);
                self.front
                    .sending(&SendEvent::NotCancelled { transfer, to });
                Ok(())
            }
        }
    }
}
