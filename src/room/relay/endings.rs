//! How transfers end: settled once every receiver answered its end,
//! refused when nobody takes them, cancelled or lost when their sender
//! stops or leaves; and how receivers drop out of them, as a member that
//! leaves the room drops out of all of them.

use super::transfer::{Kind, Relay, RelayId, Taking};
use super::{Relays, Room};
use crate::room::roster::MemberId;
use crate::wire::message::{FileId, Message};

impl Relays {
    /// A member left: its transfers stop, and it is out of those of others.
    pub fn member_gone(&mut self, room: &mut impl Room, member: MemberId, name: &str) {
        // What it sent whole goes on to those taking it; the rest stops.
        let sent: Vec<RelayId> = self
            .list
            .iter()
            .filter(|(_, r)| r.from == member && !r.ended())
            .map(|(id, _)| *id)
            .collect();
        for relay_id in sent {
            self.lose_relay(room, relay_id);
        }
        self.stopped.retain(|(from, _)| *from != member);
        self.plain_current.remove(&member);
        let taking: Vec<(RelayId, MemberId, String, Kind)> = self
            .list
            .iter()
            .filter(|(_, r)| {
                r.receivers
                    .get(&member)
                    .is_some_and(|x| x.taking != Taking::Done)
            })
            .map(|(id, r)| (*id, r.from, r.name.clone(), r.kind))
            .collect();
        for (relay_id, from, file, kind) in taking {
            self.drop_receiver(relay_id, member);
            if !matches!(kind, Kind::Entry { .. }) {
                room.notify(self, from, &format!("{name} left before {file} arrived"));
            }
            self.after_change(room, relay_id);
        }
    }

    /// Ends a transfer whose sender stopped, left, or was cut off: those
    /// on the encrypted wire offered it or taking it hear it was cancelled;
    /// those on the original one, once it started, leave the room.
    pub(super) fn cancel_relay(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.take_out(relay_id) else {
            return;
        };
        let why = format!(
            "{}'s {} stopped on its way, and the original wire cannot say so",
            room.name(relay.from),
            relay.name
        );
        // (Those on the original wire it never started for are in step.)
        let started = relay.plain_started;
        for (member, receiver) in relay.receivers {
            self.by_receiver.remove(&(member, receiver.id));
            receiver.share.stop();
            match (receiver.taking, receiver.plain) {
                (Taking::Done, _) => {}
                (_, false) => room.send(self, member, &Message::Cancel { id: receiver.id }),
                (_, true) if started => room.drop_member(self, member, &why),
                (_, true) => {}
            }
        }
    }

    /// Ends a transfer whose sender left before its end: those taking it
    /// on the encrypted wire keep what arrived (Lost), as when their own
    /// connection is cut, so that sending it again resumes; those only
    /// offered it see the offer withdrawn; those on the original wire, once
    /// it started, leave the room.
    pub(super) fn lose_relay(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        let lost: Vec<(MemberId, FileId)> = relay
            .taking()
            .into_iter()
            .filter(|(_, _, plain, _)| !plain)
            .map(|(member, rid, ..)| (member, rid))
            .collect();
        for (member, rid) in lost {
            self.drop_receiver(relay_id, member);
            room.send(self, member, &Message::Lost { id: rid });
        }
        self.cancel_relay(room, relay_id);
    }

    /// Forgets the files of a folder that no longer goes, without a word
    /// to anyone: the folder's own Cancel or refusal says it all.
    fn forget_entries(&mut self, folder: RelayId) {
        let entries: Vec<RelayId> = self
            .list
            .iter()
            .filter(|(_, r)| r.kind == Kind::Entry { folder })
            .map(|(id, _)| *id)
            .collect();
        for entry in entries {
            let Some(relay) = self.list.remove(&entry) else {
                continue;
            };
            // What of it is still on its way is dropped.
            if self.unlink_sender(&relay, entry) {
                self.stopped.insert((relay.from, relay.id));
            }
            for (member, receiver) in relay.receivers {
                receiver.share.stop();
                self.by_receiver.remove(&(member, receiver.id));
            }
        }
    }

    /// Takes a receiver out of a transfer; what is queued for it of the
    /// file is not sent. Out of a folder, it is out of the folder's files.
    pub(super) fn drop_receiver(&mut self, relay_id: RelayId, member: MemberId) {
        let entries: Vec<RelayId> = self
            .list
            .iter()
            .filter(|(_, r)| r.kind == Kind::Entry { folder: relay_id })
            .map(|(id, _)| *id)
            .collect();
        for entry in entries {
            self.count_out(entry, member, true);
        }
        self.count_out(relay_id, member, true);
        if let Some(relay) = self.list.get_mut(&relay_id)
            && !relay.keeps_early()
        {
            relay.early.clear();
        }
    }

    /// Counts a receiver out of a transfer: no more news of it comes
    /// from it, and, when `stop`, what is queued for it of the file goes
    /// unsent.
    pub(super) fn count_out(&mut self, relay_id: RelayId, member: MemberId, stop: bool) {
        let Some(receiver) = self
            .list
            .get_mut(&relay_id)
            .and_then(|r| r.receivers.get_mut(&member))
        else {
            return;
        };
        receiver.taking = Taking::Done;
        if stop {
            receiver.share.stop();
        }
        self.by_receiver.remove(&(member, receiver.id));
    }

    /// After a receiver dropped out: the transfer may start, settle, or
    /// have nobody left to go to.
    pub(super) fn after_change(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        if !relay.flowing() {
            return self.maybe_start(room, relay_id);
        }
        let open = relay.has(|t| t != Taking::Done);
        if relay.ended() {
            self.maybe_settle(room, relay_id);
        } else if !open && !relay.plain_sender {
            self.nobody_takes(room, relay_id, "nobody in the room is taking it any more");
        }
    }

    /// Tells an encrypted sender nobody takes its file, and forgets the
    /// transfer (the sender answers with a Cancel, which is then expected).
    pub(super) fn nobody_takes(&mut self, room: &mut impl Room, relay_id: RelayId, reason: &str) {
        let Some(relay) = self.take_out(relay_id) else {
            return;
        };
        for (member, receiver) in &relay.receivers {
            self.by_receiver.remove(&(*member, receiver.id));
        }
        self.stopped.insert((relay.from, relay.id));
        let refused = Message::Refused {
            id: relay.id,
            reason,
        };
        room.send(self, relay.from, &refused);
    }

    /// Once the end went out and every receiver answered, the sender hears
    /// that it was saved (by at least one) or not.
    pub(super) fn maybe_settle(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        if !relay.ended() || relay.has(|t| t != Taking::Done) {
            return;
        }
        let Some(relay) = self.list.remove(&relay_id) else {
            return;
        };
        self.unlink_sender(&relay, relay_id);
        if relay.plain_sender {
            return;
        }
        let id = relay.id;
        if relay.saved > 0 {
            room.send(self, relay.from, &Message::Saved { id });
        } else {
            let reason = "nobody in the room saved it";
            room.send(self, relay.from, &Message::Refused { id, reason });
        }
    }

    /// Takes the transfer `relay_id` off the list, with what it holds: a
    /// folder's files go with it (a receiver drops them on the folder's
    /// Cancel), its turn on the original wire is given back, and its sender
    /// no longer counts it.
    fn take_out(&mut self, relay_id: RelayId) -> Option<Relay> {
        let relay = self.list.remove(&relay_id)?;
        if relay.kind == Kind::Folder {
            self.forget_entries(relay_id);
        }
        self.give_back_turn(relay_id);
        self.unlink_sender(&relay, relay_id);
        Some(relay)
    }
}
