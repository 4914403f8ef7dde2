//! What the peer holds of a file already, from an earlier try: hashed a
//! block at a time before the file's chunks begin, which then begin after
//! it, or at the start if it differs.

use super::chunks::Sending;
use super::{Owner, Writer};
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::wire::message::Message;

/// Bytes read at a time to hash the start of a file the peer holds: one
/// such block per turn, between chunks and messages.
const PREFIX_READ: usize = 1024 * 1024;

/// The peer holds the first `offset` bytes of a file if they hash to
/// `prefix`: checked a block at a time, `at` bytes so far.
pub(super) struct Check {
    pub(super) offset: u64,
    pub(super) prefix: [u8; 32],
    pub(super) at: u64,
}

impl<'a> Writer<'a> {
    /// Hashes the next block of what the peer says it holds of `sending`
    /// (a block per turn, so that messages and other files go meanwhile);
    /// once all of it is hashed, tells the peer where the chunks begin:
    /// there if the hash is the same, else at the start.
    pub(super) fn check_next(&mut self, mut sending: Sending<'a>) -> Result<(), WriteError> {
        let size = sending.file.size();
        let Some(check) = &mut sending.check else {
            self.active.push_back(sending);
            return Ok(());
        };
        if check.offset <= size && check.at < check.offset {
            let want = (check.offset - check.at).min(PREFIX_READ as u64) as usize;
            self.block.resize(want, 0);
            if let Err(failure) = sending.file.read_at(check.at, &mut self.block) {
                return self.stop_sending(sending, failure);
            }
            sending.hash.update(&self.block);
            check.at += want as u64;
            if check.at < check.offset {
                self.active.push_back(sending);
                return Ok(());
            }
        }
        // (The block is of no more use: memory stays flat between checks.)
        self.block = Vec::new();
        let same = check.offset <= size && *sending.hash.finalize().as_bytes() == check.prefix;
        let from = if same { check.offset } else { 0 };
        sending.check = None;
        if !same {
            // The peer's is another file, or this one changed since: it
            // goes whole.
            sending.hash = blake3::Hasher::new();
        }
        self.send(&Message::Begin {
            id: sending.id,
            offset: from,
        })?;
        (sending.sent, sending.held) = (from, from);
        if from > 0 {
            self.resumed(&mut sending);
        }
        self.active.push_back(sending);
        Ok(())
    }

    /// The peer holds the first `held` bytes of `sending` already.
    fn resumed(&mut self, sending: &mut Sending<'a>) {
        let to = self.transfers.counterpart();
        let (held, size) = (sending.held, sending.file.size());
        match &mut sending.owner {
            Owner::Lone(meter, _) => {
                meter.resume_from(held);
                // (Said once the peer confirms, when it had all of it.)
                if held < size {
                    self.front.sending(&SendEvent::Resuming {
                        name: sending.file.name().to_string(),
                        to,
                        held,
                        size,
                    });
                }
            }
            Owner::Entry(folder) => {
                if let Some(folder) = self.folders.get_mut(folder) {
                    folder.meter.resume_from(held);
                }
            }
        }
    }
}
