//! Files through a room. A member's offer goes to every other member (the
//! host's user too) as the room's offer of that member's file; each answers
//! on its own terms. Once all have answered (or the time to answer is up),
//! the sender is told to go, and each piece it sends is passed to everyone
//! who took the file, as it comes: the room stores nothing, and holds at
//! most the sender's pieces in flight. Everyone goes at the pace of the
//! slowest, unless one is far behind the fastest for long: that one is
//! dropped from the transfer, and the others go on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::hub::Hub;
use super::link::{FileNews, Piece, Share};
use super::roster::MemberId;
use crate::files::download::safe_file_name;
use crate::wire::message::{FileId, Message};

/// How long members have to answer an offer before it goes without those
/// who did not.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// How far behind the fastest receiver one may be, and for how long,
/// before it is dropped from the transfer.
pub const MAX_LAG: u64 = 2 << 20;
pub const LAG_FOR: Duration = Duration::from_secs(5);

type RelayId = u64;

/// The transfers under way in the room.
#[derive(Default)]
pub struct Relays {
    next: RelayId,
    list: BTreeMap<RelayId, Relay>,
    /// Each transfer by its sender's file number, and by each receiver's.
    by_sender: HashMap<(MemberId, FileId), RelayId>,
    by_receiver: HashMap<(MemberId, FileId), RelayId>,
    /// Senders' files the room stopped taking: what of them is still on
    /// its way is dropped, until the sender says it stopped.
    stopped: HashSet<(MemberId, FileId)>,
}

impl Relays {
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

struct Relay {
    from: MemberId,
    id: FileId,
    name: String,
    opened: Instant,
    /// The sender was told to go.
    flowing: bool,
    /// The sender's End was passed on.
    ended: bool,
    receivers: BTreeMap<MemberId, Receiver>,
    /// Whether anyone saved it, and why those who did not.
    saved: usize,
}

struct Receiver {
    id: FileId,
    taking: Taking,
    share: Arc<Share>,
    behind_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taking {
    Asked,
    Accepted {
        offset: u64,
        prefix: [u8; 32],
    },
    /// Saved, refused, or dropped: out of the transfer.
    Done,
}

impl Hub {
    /// Acts on what member `from` says about a file.
    pub(super) fn file_news(&mut self, from: MemberId, news: FileNews) {
        match news {
            FileNews::Offer { id, size, name } => self.offered(from, id, size, &name),
            FileNews::Folder { id, .. } => {
                let reason = "folders are not passed on in a room yet; send the files in it";
                self.send_message(from, &Message::Refused { id, reason });
            }
            FileNews::Begin { id, offset } => self.sender_begins(from, id, offset),
            FileNews::Piece { id, piece } => self.piece(from, id, &piece),
            FileNews::End { id, hash } => self.sender_ends(from, id, hash),
            FileNews::Cancel { id } => self.sender_cancels(from, id),
            FileNews::Accept { id, offset, prefix } => {
                self.receiver_accepts(from, id, offset, prefix)
            }
            FileNews::Saved { id } => self.receiver_settles(from, id, None),
            FileNews::Refused { id, reason } => self.receiver_settles(from, id, Some(reason)),
        }
    }

    /// A member offers a file: the room offers it to everyone else.
    fn offered(&mut self, from: MemberId, id: FileId, size: u64, name: &str) {
        if self.relays.by_sender.contains_key(&(from, id)) {
            let why = format!("it offered file {id} again while sending it");
            return self.remove(from, crate::wire::message::Change::Dropped, &why);
        }
        let sender = self.name(from);
        let name = safe_file_name(name);
        let others: Vec<MemberId> = self.links.keys().copied().filter(|m| *m != from).collect();
        if others.is_empty() {
            let reason = "nobody else is in the room";
            return self.send_message(from, &Message::Refused { id, reason });
        }
        let relay_id = self.relays.next;
        self.relays.next += 1;
        let mut receivers = BTreeMap::new();
        for member in others {
            let Some(link) = self.links.get_mut(&member) else {
                continue;
            };
            let rid = link.next_file;
            link.next_file = link.next_file.wrapping_add(1);
            receivers.insert(
                member,
                Receiver {
                    id: rid,
                    taking: Taking::Asked,
                    share: Arc::default(),
                    behind_since: None,
                },
            );
            self.relays.by_receiver.insert((member, rid), relay_id);
            let offer = Message::Passed {
                id: rid,
                size,
                from: &sender,
                name: &name,
            };
            self.send_message(member, &offer);
        }
        self.relays.by_sender.insert((from, id), relay_id);
        self.relays.list.insert(
            relay_id,
            Relay {
                from,
                id,
                name,
                opened: Instant::now(),
                flowing: false,
                ended: false,
                receivers,
                saved: 0,
            },
        );
        // (Someone may have been dropped while it was offered.)
        self.maybe_start(relay_id);
    }

    /// A receiver takes the file, maybe holding its start already.
    fn receiver_accepts(&mut self, member: MemberId, rid: FileId, offset: u64, prefix: [u8; 32]) {
        let Some(relay_id) = self.relays.by_receiver.get(&(member, rid)).copied() else {
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        let Some(receiver) = relay.receivers.get_mut(&member) else {
            return;
        };
        if receiver.taking != Taking::Asked {
            return;
        }
        if relay.flowing {
            // Too late: it went without this member.
            receiver.taking = Taking::Done;
            let (name, from) = (relay.name.clone(), relay.from);
            let sender = self.name(from);
            self.relays.by_receiver.remove(&(member, rid));
            self.send_message(member, &Message::Cancel { id: rid });
            return self.notify(
                member,
                &format!("{sender}'s {name} went without you: it started before you answered"),
            );
        }
        receiver.taking = Taking::Accepted { offset, prefix };
        self.maybe_start(relay_id);
    }

    /// Tells the sender to go once every receiver answered, or when the
    /// time to answer is up.
    fn maybe_start(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        let waiting = relay.receivers.values().any(|r| r.taking == Taking::Asked);
        if relay.flowing || (waiting && relay.opened.elapsed() < ANSWER_WITHIN) {
            return;
        }
        let (from, id, name) = (relay.from, relay.id, relay.name.clone());
        let sender = self.name(from);
        let late: Vec<(MemberId, FileId)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| r.taking == Taking::Asked)
            .map(|(m, r)| (*m, r.id))
            .collect();
        for (member, rid) in late {
            self.drop_receiver(relay_id, member);
            self.send_message(member, &Message::Cancel { id: rid });
            let why = format!(
                "{sender}'s {name} went without you: you did not answer within {} s",
                ANSWER_WITHIN.as_secs()
            );
            self.notify(member, &why);
        }
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        let taken: Vec<(u64, [u8; 32])> = relay
            .receivers
            .values()
            .filter_map(|r| match r.taking {
                Taking::Accepted { offset, prefix } => Some((offset, prefix)),
                _ => None,
            })
            .collect();
        if taken.is_empty() {
            return self.nobody_takes(relay_id, "nobody in the room took it");
        }
        relay.flowing = true;
        // Everyone holding the same start resumes from it; otherwise all
        // start from the beginning.
        let (offset, prefix) = if taken.iter().all(|t| *t == taken[0]) {
            taken[0]
        } else {
            (0, [0; 32])
        };
        if offset == 0 {
            let resuming: Vec<(MemberId, FileId)> = relay
                .receivers
                .iter()
                .filter(|(_, r)| matches!(r.taking, Taking::Accepted { offset, .. } if offset > 0))
                .map(|(m, r)| (*m, r.id))
                .collect();
            for (member, rid) in resuming {
                self.send_message(member, &Message::Begin { id: rid, offset: 0 });
            }
        }
        self.send_message(from, &Message::Accept { id, offset, prefix });
    }

    /// The sender's answer to a resumed start: passed on to all who asked.
    fn sender_begins(&mut self, from: MemberId, id: FileId, offset: u64) {
        let Some(relay) = self.relay_of_sender(from, id) else {
            return;
        };
        let resuming: Vec<(MemberId, FileId)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| matches!(r.taking, Taking::Accepted { offset, .. } if offset > 0))
            .map(|(m, r)| (*m, r.id))
            .collect();
        for (member, rid) in resuming {
            self.send_message(member, &Message::Begin { id: rid, offset });
        }
    }

    /// A piece of a file: queued for everyone taking it.
    fn piece(&mut self, from: MemberId, id: FileId, piece: &Arc<Piece>) {
        let Some(relay) = self.relay_of_sender(from, id) else {
            if !self.relays.stopped.contains(&(from, id)) {
                let why = "it sent part of a file nobody accepted";
                self.remove(from, crate::wire::message::Change::Dropped, why);
            }
            return;
        };
        if !relay.flowing {
            let why = "it sent part of a file before it was accepted";
            return self.remove(from, crate::wire::message::Change::Dropped, why);
        }
        let targets: Vec<(MemberId, FileId, Arc<Share>)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| matches!(r.taking, Taking::Accepted { .. }))
            .map(|(m, r)| (*m, r.id, r.share.clone()))
            .collect();
        for (member, rid, share) in targets {
            if let Some(link) = self.links.get(&member) {
                link.outbox.put_piece(rid, piece, &share);
            }
        }
    }

    /// The sender sent the whole file: its hash goes to everyone taking it.
    fn sender_ends(&mut self, from: MemberId, id: FileId, hash: [u8; 32]) {
        let Some(relay_id) = self.relays.by_sender.get(&(from, id)).copied() else {
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        relay.ended = true;
        let targets: Vec<(MemberId, FileId)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| matches!(r.taking, Taking::Accepted { .. }))
            .map(|(m, r)| (*m, r.id))
            .collect();
        for (member, rid) in targets {
            self.send_message(member, &Message::End { id: rid, hash });
        }
        self.maybe_settle(relay_id);
    }

    /// The sender stopped sending: everyone still taking it is told.
    fn sender_cancels(&mut self, from: MemberId, id: FileId) {
        if self.relays.stopped.remove(&(from, id)) {
            return;
        }
        let Some(relay_id) = self.relays.by_sender.remove(&(from, id)) else {
            return;
        };
        self.cancel_relay(relay_id);
    }

    /// Ends a transfer whose sender stopped or left: whoever was offered
    /// it or is taking it hears it was cancelled.
    fn cancel_relay(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        self.relays.by_sender.remove(&(relay.from, relay.id));
        for (member, receiver) in relay.receivers {
            self.relays.by_receiver.remove(&(member, receiver.id));
            receiver.share.stopped.store(true, Ordering::SeqCst);
            if receiver.taking != Taking::Done {
                self.send_message(member, &Message::Cancel { id: receiver.id });
            }
        }
    }

    /// A receiver saved the file, or refused it (declined, cancelled, no
    /// room, a hash that did not match).
    fn receiver_settles(&mut self, member: MemberId, rid: FileId, refusal: Option<String>) {
        let Some(relay_id) = self.relays.by_receiver.get(&(member, rid)).copied() else {
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        let Some(receiver) = relay.receivers.get(&member) else {
            return;
        };
        let (from, name, ended, was) =
            (relay.from, relay.name.clone(), relay.ended, receiver.taking);
        if refusal.is_none() && !ended {
            // Saved before the end: not how the protocol goes.
            return;
        }
        if refusal.is_none() {
            relay.saved += 1;
        }
        self.drop_receiver(relay_id, member);
        let who = self.name(member);
        match &refusal {
            None => self.notify(from, &format!("{who} saved {name}")),
            Some(reason) => {
                self.notify(from, &format!("{who} did not take {name}: {reason}"));
                // As a sender would, after a refusal before the end.
                if !ended && was != Taking::Done {
                    self.send_message(member, &Message::Cancel { id: rid });
                }
            }
        }
        self.after_change(relay_id);
    }

    /// Takes a receiver out of a transfer; what is queued for it of the
    /// file is not sent.
    fn drop_receiver(&mut self, relay_id: RelayId, member: MemberId) {
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        if let Some(receiver) = relay.receivers.get_mut(&member) {
            receiver.taking = Taking::Done;
            receiver.share.stopped.store(true, Ordering::SeqCst);
            self.relays.by_receiver.remove(&(member, receiver.id));
        }
    }

    /// After a receiver dropped out: the transfer may start, settle, or
    /// have nobody left to go to.
    fn after_change(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        if !relay.flowing {
            return self.maybe_start(relay_id);
        }
        let taking = relay
            .receivers
            .values()
            .any(|r| matches!(r.taking, Taking::Accepted { .. }));
        if relay.ended {
            self.maybe_settle(relay_id);
        } else if !taking {
            self.nobody_takes(relay_id, "nobody in the room is taking it any more");
        }
    }

    /// Tells the sender nobody takes its file, and forgets the transfer
    /// (the sender answers with a Cancel, which is then expected).
    fn nobody_takes(&mut self, relay_id: RelayId, reason: &str) {
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        self.relays.by_sender.remove(&(relay.from, relay.id));
        for (member, receiver) in &relay.receivers {
            self.relays.by_receiver.remove(&(*member, receiver.id));
        }
        self.relays.stopped.insert((relay.from, relay.id));
        self.send_message(
            relay.from,
            &Message::Refused {
                id: relay.id,
                reason,
            },
        );
    }

    /// Once the end went out and every receiver answered, the sender hears
    /// that it was saved (by at least one) or not.
    fn maybe_settle(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        let open = relay
            .receivers
            .values()
            .any(|r| matches!(r.taking, Taking::Accepted { .. }));
        if !relay.ended || open {
            return;
        }
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        self.relays.by_sender.remove(&(relay.from, relay.id));
        let id = relay.id;
        if relay.saved > 0 {
            self.send_message(relay.from, &Message::Saved { id });
        } else {
            let reason = "nobody in the room saved it";
            self.send_message(relay.from, &Message::Refused { id, reason });
        }
    }

    /// A member left: its transfers stop, and it is out of those of others.
    pub(super) fn member_gone(&mut self, member: MemberId, name: &str) {
        let sent: Vec<RelayId> = self
            .relays
            .list
            .iter()
            .filter(|(_, r)| r.from == member)
            .map(|(id, _)| *id)
            .collect();
        for relay_id in sent {
            self.cancel_relay(relay_id);
        }
        self.relays.stopped.retain(|(from, _)| *from != member);
        let taking: Vec<(RelayId, MemberId, String)> = self
            .relays
            .list
            .iter()
            .filter(|(_, r)| {
                r.receivers
                    .get(&member)
                    .is_some_and(|x| x.taking != Taking::Done)
            })
            .map(|(id, r)| (*id, r.from, r.name.clone()))
            .collect();
        for (relay_id, from, file) in taking {
            self.drop_receiver(relay_id, member);
            self.notify(from, &format!("{name} left before {file} arrived"));
            self.after_change(relay_id);
        }
    }

    /// Starts transfers whose time to answer is up, and drops receivers
    /// that have been far behind the fastest for long.
    pub fn check_transfers(&mut self) {
        let now = Instant::now();
        let ids: Vec<RelayId> = self.relays.list.keys().copied().collect();
        for relay_id in ids {
            let Some(relay) = self.relays.list.get_mut(&relay_id) else {
                continue;
            };
            if !relay.flowing {
                self.maybe_start(relay_id);
                continue;
            }
            let fastest = relay
                .receivers
                .values()
                .filter(|r| matches!(r.taking, Taking::Accepted { .. }))
                .map(|r| r.share.written.load(Ordering::SeqCst))
                .max()
                .unwrap_or(0);
            let mut laggards = Vec::new();
            for (member, receiver) in &mut relay.receivers {
                if !matches!(receiver.taking, Taking::Accepted { .. }) {
                    continue;
                }
                let written = receiver.share.written.load(Ordering::SeqCst);
                if fastest.saturating_sub(written) <= MAX_LAG {
                    receiver.behind_since = None;
                    continue;
                }
                let since = *receiver.behind_since.get_or_insert(now);
                if now.duration_since(since) >= LAG_FOR {
                    laggards.push((*member, receiver.id));
                }
            }
            let (from, name) = (relay.from, relay.name.clone());
            for (member, rid) in laggards {
                self.drop_receiver(relay_id, member);
                self.send_message(member, &Message::Cancel { id: rid });
                let who = self.name(member);
                self.notify(
                    member,
                    &format!(
                        "{name} was stopped for you: you fell too far behind the others taking it"
                    ),
                );
                self.notify(
                    from,
                    &format!("{who} fell too far behind and was dropped from {name}"),
                );
                self.say(format!(
                    "{who} fell too far behind and was dropped from {name}."
                ));
                self.after_change(relay_id);
            }
        }
    }

    fn relay_of_sender(&self, from: MemberId, id: FileId) -> Option<&Relay> {
        let relay_id = self.relays.by_sender.get(&(from, id))?;
        self.relays.list.get(relay_id)
    }
}
