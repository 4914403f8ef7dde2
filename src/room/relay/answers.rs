//! The receivers' answers, and the start they lead to: a transfer goes
//! once everyone asked answered or the time to answer is up, to those who
//! took it, from where they all hold it; members on the original wire get
//! it on their streams when no other file is on them. Then each receiver
//! says it saved the file, or refused it.

use std::sync::Arc;

use super::transfer::{Kind, RelayId, Taking};
use super::{Relays, Room};
use crate::room::link::Share;
use crate::room::roster::MemberId;
use crate::wire::frame;
use crate::wire::limits::ANSWER_WITHIN;
use crate::wire::message::{FileId, Message};

impl Relays {
    /// A receiver on the encrypted wire takes the file, maybe holding its
    /// start already.
    pub(super) fn receiver_accepts(
        &mut self,
        room: &mut impl Room,
        member: MemberId,
        rid: FileId,
        offset: u64,
        prefix: [u8; 32],
    ) {
        let Some((relay_id, relay)) = self.relay_of_receiver(member, rid) else {
            return;
        };
        let Some(receiver) = relay.receivers.get_mut(&member) else {
            return;
        };
        if receiver.taking != Taking::Asked {
            return;
        }
        receiver.taking = Taking::Accepted { offset, prefix };
        if !relay.course.is_going() {
            return self.maybe_start(room, relay_id);
        }
        if !relay.plain_sender {
            // Too late: it went without this member.
            let (name, from) = (relay.name.clone(), relay.from);
            self.drop_receiver(relay_id, member);
            room.send(self, member, &Message::Cancel { id: rid });
            let why = format!(
                "{}'s {name} went without you: it started before you answered",
                room.name(from)
            );
            return room.notify(self, member, &why);
        }
        // A plain sender's file: what came of it so far was kept.
        let share = receiver.share.clone();
        let early = relay.early.clone();
        let hash = relay.hash;
        if !relay.keeps_early() {
            relay.early.clear();
        }
        if offset > 0 {
            room.send(self, member, &Message::Begin { id: rid, offset: 0 });
        }
        for piece in &early {
            room.queue_piece(member, rid, piece, &share);
        }
        if let Some(hash) = hash {
            room.send(self, member, &Message::End { id: rid, hash });
        }
    }

    /// A receiver saved the file, or refused it (declined, cancelled, no
    /// room, a hash that did not match).
    pub(super) fn receiver_settles(
        &mut self,
        room: &mut impl Room,
        member: MemberId,
        rid: FileId,
        refusal: Option<String>,
    ) {
        let Some((relay_id, relay)) = self.relay_of_receiver(member, rid) else {
            return;
        };
        let Some(receiver) = relay.receivers.get(&member) else {
            return;
        };
        let (from, name, ended, was) = (
            relay.from,
            relay.name.clone(),
            relay.ended(),
            receiver.taking,
        );
        if refusal.is_none() && !ended {
            // Saved before the end: not how the protocol goes.
            return;
        }
        if refusal.is_none() {
            relay.saved += 1;
        }
        let told = !matches!(relay.kind, Kind::Entry { .. });
        self.drop_receiver(relay_id, member);
        let who = room.name(member);
        match &refusal {
            None if told => room.notify(self, from, &format!("{who} saved {name}")),
            None => {}
            Some(reason) => {
                if told {
                    room.notify(self, from, &format!("{who} did not take {name}: {reason}"));
                }
                // As a sender would, after a refusal before the end.
                if !ended && was != Taking::Done {
                    room.send(self, member, &Message::Cancel { id: rid });
                }
            }
        }
        self.after_change(room, relay_id);
    }

    /// Tells an encrypted sender to go once every receiver answered, or
    /// when the time to answer is up.
    pub(super) fn maybe_start(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        let waiting = relay.has(|t| t == Taking::Asked);
        if relay.flowing() || (waiting && relay.opened.elapsed() < ANSWER_WITHIN) {
            return;
        }
        self.answer_late(room, relay_id);
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        let Some((offset, prefix)) = relay.start() else {
            return self.nobody_takes(room, relay_id, "nobody in the room took it");
        };
        let to_plain = relay.taking().iter().any(|(_, _, plain, _)| *plain);
        if relay.kind == Kind::Folder {
            let (from, id) = (relay.from, relay.id);
            if let Some(relay) = self.list.get_mut(&relay_id) {
                relay.course.go(0);
            }
            let prefix = [0; 32];
            return room.send(
                self,
                from,
                &Message::Accept {
                    id,
                    offset: 0,
                    prefix,
                },
            );
        }
        if to_plain {
            // Plain members' streams carry one file at a time: not while
            // another goes (its end may still be on its way to the room).
            if room.streaming() {
                return;
            }
            let Some(turn) = self.plain_turn.try_take() else {
                return;
            };
            self.turn = Some((turn, relay_id));
            self.start_plain_receivers(room, relay_id);
        }
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        let (from, id) = (relay.from, relay.id);
        relay.course.go(offset);
        if offset == 0 {
            for (member, rid) in relay.resuming() {
                room.send(self, member, &Message::Begin { id: rid, offset: 0 });
            }
        }
        room.send(self, from, &Message::Accept { id, offset, prefix });
    }

    /// Those who did not answer in time are out of the transfer.
    pub(super) fn answer_late(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        if relay.opened.elapsed() < ANSWER_WITHIN {
            return;
        }
        let (name, from) = (relay.name.clone(), relay.from);
        let late = relay.unanswered();
        let sender = room.name(from);
        for (member, rid) in late {
            self.drop_receiver(relay_id, member);
            room.send(self, member, &Message::Cancel { id: rid });
            let secs = ANSWER_WITHIN.as_secs();
            let why =
                format!("{sender}'s {name} went without you: you did not answer within {secs} s");
            room.notify(self, member, &why);
            let who = room.name(member);
            room.notify(
                self,
                from,
                &format!("{who} did not answer within {secs} s: {name} goes without it"),
            );
        }
    }

    /// Sends the file's header to the plain members taking it, and what
    /// came of it so far; their streams carry nothing else until its end.
    pub(super) fn start_plain_receivers(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        relay.plain_started = true;
        let mut header = Vec::new();
        let _ = frame::write_file_header(&mut header, &relay.name, relay.size);
        let plain: Vec<(MemberId, FileId, Arc<Share>)> = relay
            .taking()
            .into_iter()
            .filter(|(_, _, plain, _)| *plain)
            .map(|(member, rid, _, share)| (member, rid, share))
            .collect();
        let early = match relay.keeps_early() {
            true => relay.early.clone(),
            false => std::mem::take(&mut relay.early),
        };
        let header: Arc<[u8]> = Arc::from(header);
        for (member, rid, share) in plain {
            // (Nothing is held yet: one file goes at a time.)
            if room.open_stream(member, &header) {
                for piece in &early {
                    room.queue_piece(member, rid, piece, &share);
                }
            }
        }
    }
}
