//! Files the peer offers of their own: checked, then refused for lack
//! of room, asked about, or taken at once.

use super::arriving::{Arriving, Here, Owner, Stage};
use super::hashing::{Identity, Reply};
use super::{ASK_FILES, Breach, Reader};
use crate::files::download::safe_file_name;
use crate::files::space::{NoRoom, Owed};
use crate::identity::PeerKey;
use crate::session::acquaintance::Acquaintance;
use crate::session::events::{Offered, ReceiveEvent, Refusal, Unsaved};
use crate::session::outgoing::Answer;
use crate::session::progress::bytes;
use crate::wire::limits::{self, MAX_INCOMING};
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
    /// A file offered by the peer, or (in a room) by the member `from`.
    pub(super) fn offer(
        &mut self,
        id: FileId,
        size: u64,
        name: &str,
        from: Option<(&str, [u8; 32])>,
    ) -> Result<(), Breach> {
        let (sender, doubtful) = (self.sender_of(from), self.doubts(from));
        let from = from.map(|(name, _)| name);
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
        arriving.doubtful = doubtful;
        let what = Offered {
            name: &name,
            size,
            files: None,
            from,
        };
        // Keeping a file makes two (its part and its info): there must be
        // room for them before they are made.
        if size > 0 && !self.kept.holds_file(&name, size, sender) {
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
            _ => self.prepare(&mut arriving, |kept, name, size| {
                kept.file(name, size, sender)
            }),
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
        } else if self.asks(arriving.size, 1, arriving.doubtful) {
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

    /// Checks what any new file or folder must pass.
    pub(super) fn check_new(&self, id: FileId) -> Result<(), Breach> {
        if self.files.contains_key(&id) || self.folders.contains_key(&id) {
            return Err(Breach::Protocol(format!(
                "the peer offered file {id} again while still sending it"
            )));
        }
        if self.files.len() >= MAX_INCOMING {
            return Err(Breach::Protocol(format!(
                "the peer offered a file while already sending {MAX_INCOMING}"
            )));
        }
        Ok(())
    }

    /// Why `needed` cannot be taken for lack of room beside what the other
    /// transfers arriving (all but `transfer`, this one) still have to put
    /// on the disk; `None` when it fits or nobody can tell.
    pub(super) fn no_room(&self, needed: Owed, transfer: u64) -> Option<NoRoom> {
        let space = self.downloads.space()?;
        let promised = self.transfers.promised(transfer);
        space.check(needed, promised, self.downloads.path()).err()
    }

    /// Whether an offer of `size` bytes in `files` files waits for the
    /// user: a folder of very many files, as a big one does.
    /// One from a peer (or member) passing for a contact, `doubtful`,
    /// always does.
    pub(super) fn asks(&self, size: u64, files: u64, doubtful: bool) -> bool {
        doubtful
            || self
                .ask_above
                .is_some_and(|limit| size > limit || files > ASK_FILES)
    }

    /// Whether what `from` (a room's member, or else the peer) offers
    /// comes from one passing for a contact: it calls itself as a contact
    /// does, with another identity.
    pub(super) fn doubts(&self, from: Option<(&str, [u8; 32])>) -> bool {
        let Some((name, key)) = from else {
            return self.acquaintance.is_some_and(Acquaintance::doubtful);
        };
        let Some(contacts) = self.contacts else {
            return false;
        };
        let known = PeerKey::from_bytes(&key)
            .is_some_and(|key| contacts.by_key(&key).ok().flatten().is_some());
        !known && contacts.passing_for(name).is_ok_and(|c| !c.is_empty())
    }

    /// Asks the user about an offer; `here` says what is here of it
    /// already, and so what accepting it would move.
    pub(super) fn ask(&self, transfer: u64, offered: Offered<'_>, here: &Here) {
        self.front.receive(ReceiveEvent::Asked {
            offered,
            peer: self.peer.as_deref().unwrap_or_default(),
            transfer,
            here: here.shown(),
        });
    }

    /// Refuses an offer at once for a reason of ours, said in full here
    /// and as `for_peer` to the peer.
    pub(super) fn decline_for(
        &self,
        id: FileId,
        offered: Offered<'_>,
        why: Refusal<'_>,
        for_peer: &str,
    ) {
        self.front.receive(ReceiveEvent::Declined { offered, why });
        self.answer(Answer::Refused(id, for_peer.to_string()));
    }
}
