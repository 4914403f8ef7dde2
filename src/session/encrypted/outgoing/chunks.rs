//! Files on their way: a chunk of each in turn, read straight into its
//! record; a file sent whole is closed with its hash, and one that cannot
//! be read on is dropped.

use super::resume::Check;
use super::settling::Unconfirmed;
use super::{Owner, Writer};
use crate::files::send::{OutgoingFile, SendFailure};
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::wire::limits::MAX_PLAINTEXT;
use crate::wire::message::{self, CHUNK_HEADER, FileId, Message};

/// File bytes in one chunk message: 64 KiB, which fits a record with the
/// message header.
const CHUNK_DATA: usize = 64 * 1024;
const _: () = assert!(CHUNK_HEADER + CHUNK_DATA <= MAX_PLAINTEXT);

/// A file being sent.
pub(super) struct Sending<'a> {
    pub(super) id: FileId,
    pub(super) file: OutgoingFile,
    pub(super) sent: u64,
    pub(super) hash: blake3::Hasher,
    pub(super) owner: Owner<'a>,
    /// What the peer says it holds of the file already, while that is
    /// being checked: nothing is sent before.
    pub(super) check: Option<Check>,
    /// Bytes the peer held already, which did not travel.
    pub(super) held: u64,
}

impl<'a> Sending<'a> {
    /// A file to send whole from its start, as a streamed folder's are.
    pub(super) fn whole(id: FileId, file: OutgoingFile, owner: Owner<'a>) -> Self {
        Self {
            id,
            file,
            sent: 0,
            hash: blake3::Hasher::new(),
            owner,
            check: None,
            held: 0,
        }
    }
}

impl<'a> Writer<'a> {
    /// Sends the next chunk of the file whose turn it is; a file sent whole
    /// is closed with its hash and waits for the peer's answer.
    pub(super) fn send_next_chunk(&mut self) -> Result<(), WriteError> {
        let Some(mut sending) = self.active.pop_front() else {
            return Ok(());
        };
        if sending.check.is_some() {
            return self.check_next(sending);
        }
        let left = sending.file.size() - sending.sent;
        if left > 0 {
            let want = left.min(CHUNK_DATA as u64) as usize;
            // The piece is read straight into its record and sealed there.
            let (file, at, hash) = (&sending.file, sending.sent, &mut sending.hash);
            let filled = self.out.send_filled(CHUNK_HEADER + want, |chunk| {
                let (header, data) = chunk.split_at_mut(CHUNK_HEADER);
                header.copy_from_slice(&message::chunk_header(sending.id));
                file.read_at(at, data)?;
                hash.update(data);
                Ok(())
            });
            match filled {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => return self.stop_sending(sending, failure),
                Err(e) => {
                    let e = self.lose_messages(e);
                    self.not_delivered(&sending);
                    return Err(e);
                }
            }
            // Messages sealed before the chunk went out with it.
            self.unflushed_messages = 0;
            sending.sent += want as u64;
            match &mut sending.owner {
                Owner::Lone(meter, _) => meter.advance(want as u64),
                Owner::Entry(folder) => {
                    if let Some(folder) = self.folders.get_mut(folder) {
                        folder.meter.advance(want as u64);
                    }
                }
            }
        }
        if sending.sent < sending.file.size() {
            self.active.push_back(sending);
            return Ok(());
        }
        let hash = *sending.hash.finalize().as_bytes();
        self.send(&Message::End {
            id: sending.id,
            hash,
        })?;
        let folder = match sending.owner {
            Owner::Entry(folder) => Some(folder),
            Owner::Lone(..) => None,
        };
        self.unconfirmed.insert(
            sending.id,
            Unconfirmed {
                name: sending.file.name().to_string(),
                size: sending.file.size(),
                owner: sending.owner,
                had_it: sending.held == sending.file.size() && sending.held > 0,
            },
        );
        match folder {
            // A streamed folder's next file may take its place.
            Some(folder) => self.offer_entries(folder),
            None => self.start_waiting(),
        }
    }

    /// The file could not be read on: the peer is told to drop it, and the
    /// conversation goes on.
    pub(super) fn stop_sending(
        &mut self,
        sending: Sending<'a>,
        failure: SendFailure,
    ) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        self.send(&Message::Cancel { id: sending.id })?;
        if let Owner::Entry(folder) = sending.owner {
            let shown = self.folders.get(&folder).map_or("", |f| f.name.as_str());
            self.front.sending(&SendEvent::SkippedInFolder {
                folder: shown.to_string(),
                why: failure,
            });
            let name = sending.file.name().to_string();
            return self.entry_done(folder, Err(name));
        }
        if let Owner::Lone(_, transfer) = sending.owner {
            let stopped = SendEvent::Stopped { why: failure, to };
            self.say(transfer, vec![stopped], false);
        }
        self.start_waiting()
    }
}
