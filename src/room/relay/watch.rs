//! The room's regular look at its transfers: those whose time to answer
//! is up start, receivers far behind the fastest for long are dropped
//! from them, and ends nobody confirmed in time are settled.

use std::time::Instant;

use super::transfer::{Kind, RelayId, Taking};
use super::{Relays, Room};
use crate::room::events::RoomEvent;
use crate::room::roster::MemberId;
use crate::wire::limits::ANSWER_WITHIN;
use crate::wire::message::Message;

impl Relays {
    /// Starts transfers whose time to answer is up or whose turn came, and
    /// drops receivers that have been far behind the fastest for long, as
    /// of `now`.
    pub fn check(&mut self, room: &mut impl Room, now: Instant) {
        let ids: Vec<RelayId> = self.list.keys().copied().collect();
        for relay_id in ids {
            let Some(relay) = self.list.get(&relay_id) else {
                continue;
            };
            if !relay.flowing() {
                self.maybe_start(room, relay_id);
                continue;
            }
            let (late, ended) = (
                relay.plain_sender && relay.has(|t| t == Taking::Asked),
                relay.ended(),
            );
            if late {
                self.answer_late(room, relay_id);
            }
            if ended {
                // All of it is queued: nobody is dropped from it now, but
                // an answer does not wait for ever.
                self.unconfirmed(room, relay_id);
                continue;
            }
            self.drop_laggards(room, relay_id, now);
        }
    }

    /// Drops from the transfer those that have been far behind the
    /// fastest for long; one on the original wire leaves the room.
    fn drop_laggards(&mut self, room: &mut impl Room, relay_id: RelayId, now: Instant) {
        let Some(relay) = self.list.get_mut(&relay_id) else {
            return;
        };
        let laggards = relay.laggards(now);
        let (from, name) = (relay.from, relay.name.clone());
        for (member, rid, plain) in laggards {
            let who = room.name(member);
            room.report(RoomEvent::FellBehind {
                name: who.clone(),
                file: name.clone(),
            });
            if plain {
                let why = format!("it fell too far behind the others taking {name}");
                room.drop_member(self, member, &why);
                continue;
            }
            self.drop_receiver(relay_id, member);
            room.send(self, member, &Message::Cancel { id: rid });
            let why =
                format!("{name} was stopped for you: you fell too far behind the others taking it");
            room.notify(self, member, &why);
            let told = format!("{who} fell too far behind and was dropped from {name}");
            room.notify(self, from, &told);
            self.after_change(room, relay_id);
        }
    }

    /// Once the end has been out for [`ANSWER_WITHIN`], those that did not
    /// answer are counted out, and the sender hears what is known.
    fn unconfirmed(&mut self, room: &mut impl Room, relay_id: RelayId) {
        let Some(relay) = self.list.get(&relay_id) else {
            return;
        };
        if relay.ended_at.is_none_or(|at| at.elapsed() < ANSWER_WITHIN) {
            return;
        }
        let (from, name, kind) = (relay.from, relay.name.clone(), relay.kind);
        let silent: Vec<MemberId> = relay
            .taking()
            .into_iter()
            .map(|(member, ..)| member)
            .collect();
        for member in silent {
            // (Its pieces still go: it may yet save it.)
            self.count_out(relay_id, member, false);
            if !matches!(kind, Kind::Entry { .. }) {
                let who = room.name(member);
                let why = format!(
                    "{who} did not say within {} s whether it saved {name}",
                    ANSWER_WITHIN.as_secs()
                );
                room.notify(self, from, &why);
            }
        }
        self.maybe_settle(room, relay_id);
    }
}
