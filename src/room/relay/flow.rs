//! A transfer on its way, from its sender's side: where its chunks begin,
//! each piece passed on to those taking it as it comes, and its end (or
//! its sender's cancel). A sender that breaks its course is dropped.

use std::sync::Arc;

use super::transfer::{Kind, RelayId};
use super::{PLAIN_FILES, Relays, Room};
use crate::room::course::Breach;
use crate::room::link::Piece;
use crate::room::roster::MemberId;
use crate::wire::message::{FileId, Message};

impl Relays {
    /// The sender's answer to a resumed start: passed on to all who asked.
    pub(super) fn sender_begins(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        id: FileId,
        offset: u64,
    ) {
        let Some(relay_id) = self.by_sender.get(&(from, id)).copied() else {
            return self.unknown(room, from, id, "it began a file nobody accepted");
        };
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.course.begin(offset) {
            return self.sender_broke(room, relay_id, from, &breach);
        }
        for (member, rid) in relay.resuming() {
            room.send(self, member, &Message::Begin { id: rid, offset });
        }
    }

    /// A piece of a file: queued for everyone taking it.
    pub(super) fn piece(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        id: FileId,
        piece: &Arc<Piece>,
    ) {
        let Some(relay_id) = self.by_sender.get(&(from, id)).copied() else {
            return self.unknown(room, from, id, "it sent part of a file nobody accepted");
        };
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.take_piece(piece) {
            return self.sender_broke(room, relay_id, from, &breach);
        }
        let to_plain = relay.plain_started;
        for (member, rid, plain, share) in relay.taking() {
            if to_plain || !plain {
                room.queue_piece(member, rid, piece, &share);
            }
        }
        if relay.plain_sender && !relay.plain_started && relay.holds_enough() {
            self.start_plain_receivers(room, relay_id);
        }
    }

    /// Drops a sender that broke a rule of its transfer, saying why. Its
    /// takers keep what arrived, as when a sender leaves, unless what came
    /// cannot be the file it announced: then it is cancelled for them.
    fn sender_broke(
        &mut self,
        room: &mut impl Room,
        relay_id: RelayId,
        from: MemberId,
        breach: &Breach,
    ) {
        if matches!(breach, Breach::TooLong { .. } | Breach::TooShort { .. }) {
            self.cancel_relay(room, relay_id);
        }
        room.drop_member(self, from, &breach.to_string());
    }

    /// The sender sent the whole file: its hash goes to everyone on the
    /// encrypted wire taking it, and the plain members' streams are free.
    pub(super) fn sender_ends(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        id: FileId,
        hash: Option<[u8; 32]>,
    ) {
        let Some(relay_id) = self.by_sender.get(&(from, id)).copied() else {
            return self.unknown(room, from, id, "it ended a file nobody accepted");
        };
        // A folder ends once none of its files is still on its way.
        let unfinished = self
            .list
            .values()
            .any(|r| r.kind == Kind::Entry { folder: relay_id } && !r.ended());
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.course.end(unfinished) {
            return self.sender_broke(room, relay_id, from, &breach);
        }
        // Its number is the sender's to use again; the answers to come are
        // the receivers'.
        self.by_sender.remove(&(from, id));
        if relay.plain_sender && !relay.plain_started {
            // Whole: it goes to the members on the original wire now.
            self.start_plain_receivers(room, relay_id);
        }
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        let hash = relay.finish(hash);
        let (from, name) = (relay.from, relay.name.clone());
        let mut passed = Vec::new();
        for (member, rid, plain, _) in relay.taking() {
            if plain {
                passed.push(member);
            } else {
                room.send(self, member, &Message::End { id: rid, hash });
            }
        }
        for member in passed {
            let released = room.close_stream(member);
            if let Some(relay) = self.list.get_mut(&relay_id) {
                relay.saved += 1;
            }
            // Through with it; what is queued of it still goes.
            self.count_out(relay_id, member, false);
            if released {
                let who = room.name(member);
                let got = format!("{who} got {name} (the original wire does not confirm saving)");
                room.notify(self, from, &got);
            } else {
                room.drop_member(self, member, "it fell too far behind the room");
            }
        }
        self.give_back_turn(relay_id);
        self.maybe_settle(room, relay_id);
    }

    /// The sender stopped sending: everyone still taking it is told.
    /// A sender spoke of a file the room does not know: unless the room
    /// stopped it (what was on its way then still comes), it broke the
    /// rules (PROTOCOL.md §3.5) and is dropped. (A Cancel is not: a sender
    /// may cancel a file whose end it sent, while the answers come.)
    fn unknown(&mut self, room: &mut impl Room, from: MemberId, id: FileId, why: &str) {
        if !self.stopped.contains(&(from, id)) && id & PLAIN_FILES == 0 {
            room.drop_member(self, from, why);
        }
    }

    pub(super) fn sender_cancels(&mut self, room: &mut impl Room, from: MemberId, id: FileId) {
        if self.stopped.remove(&(from, id)) {
            return;
        }
        if let Some(relay_id) = self.by_sender.get(&(from, id)).copied() {
            self.cancel_relay(room, relay_id);
        }
    }
}
