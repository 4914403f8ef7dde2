//! The room's members as its hub reaches them: who is in, each one's link
//! (its queue, its wire, what waits for it while a file goes to it), the
//! words that go to them, and taking them out. A member too far behind to
//! be sent to is dropped, and a member dropped is out of the room's
//! transfers at once: so whatever may drop one is handed the transfers.

use crate::identity::PeerKey;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Instant;

use super::events::RoomEvent;
use super::link::{Outbox, Piece, Share};
use super::plain;
use super::relay::{Relays, Room};
use super::roster::{HOST, MemberId, Refusal, Roster};
use super::words::{Forms, Words};
use crate::net::transport::Closer;
use crate::permits::Permits;
use crate::wire::limits;
use crate::wire::message::{Change, FileId, Message};
use crate::wire::name::looks_alike;

/// A member, as the hub reaches it.
pub struct Link {
    pub outbox: Outbox,
    closer: Closer,
    pub permits: Permits,
    /// Whether it speaks the encrypted wire (typed messages).
    pub sealed: bool,
    pub safety_code: Option<String>,
    /// The identity the member proved, on the encrypted wire.
    pub key: Option<PeerKey>,
    /// On the original wire: whether the member gave its name yet.
    pub named: bool,
    /// On the original wire: whether it said goodbye before leaving.
    pub said_goodbye: bool,
    /// The number its next file from the room gets.
    next_file: u32,
    /// On the original wire, while a file goes to it: what else is for it
    /// waits here, with its size, until the file's last byte is queued.
    held: Option<(Vec<Arc<[u8]>>, usize)>,
}

impl Link {
    pub fn new(outbox: Outbox, closer: Closer, permits: Permits, sealed: bool) -> Self {
        Self {
            outbox,
            closer,
            permits,
            sealed,
            safety_code: None,
            key: None,
            named: true,
            said_goodbye: false,
            next_file: 1,
            held: None,
        }
    }

    /// Queues `bytes`, or holds them while a file goes; `false` when the
    /// member is too far behind.
    pub fn put(&mut self, bytes: &Arc<[u8]>) -> bool {
        match &mut self.held {
            Some((held, size)) => {
                *size += bytes.len();
                held.push(bytes.clone());
                *size <= limits::MAX_BACKLOG
            }
            None => self.outbox.put(bytes),
        }
    }

    /// Queues what was held.
    fn release(&mut self) -> bool {
        let Some((held, _)) = self.held.take() else {
            return true;
        };
        held.iter().all(|bytes| self.outbox.put(bytes))
    }
}

pub struct Members {
    roster: Roster,
    links: HashMap<MemberId, Link>,
    /// What the room tells its host, shown by a thread of its own: a
    /// screen that stops taking lines (a terminal paused with Ctrl-S, a
    /// full pipe) must not stop the room.
    reports: Sender<RoomEvent>,
}

impl Members {
    /// Nobody in yet: the room of `host`, for up to `max_peers` others.
    pub fn new(host: String, max_peers: usize, reports: Sender<RoomEvent>) -> Self {
        Self {
            roster: Roster::new(host, max_peers, Instant::now()),
            links: HashMap::new(),
            reports,
        }
    }

    /// Who is in, by name and address.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Tells the room's host, and nobody else.
    pub fn report(&self, event: RoomEvent) {
        let _ = self.reports.send(event);
    }

    /// How many are in, the host's own user left out.
    pub fn count(&self) -> usize {
        self.links.keys().filter(|id| **id != HOST).count()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    pub fn link(&self, id: MemberId) -> Option<&Link> {
        self.links.get(&id)
    }

    pub fn link_mut(&mut self, id: MemberId) -> Option<&mut Link> {
        self.links.get_mut(&id)
    }

    /// The members that proved an identity, by name.
    pub fn identities(&self) -> Vec<(String, PeerKey)> {
        self.links
            .iter()
            .filter_map(|(id, link)| Some((self.name(*id), link.key?)))
            .collect()
    }

    /// Gives `name` a seat, unless the room is full or the name is taken.
    pub fn admit(&mut self, name: &str, address: SocketAddr) -> Result<MemberId, Refusal> {
        self.roster.admit(name, address, Instant::now())
    }

    /// Member `id` is in, over `link`.
    pub fn seat(&mut self, id: MemberId, link: Link) {
        self.links.insert(id, link);
    }

    /// Gives member `id` the name `name`, if nobody else has it; `true`
    /// when it has it now.
    pub fn rename(&mut self, id: MemberId, name: &str) -> bool {
        self.roster.rename(id, name).is_ok()
    }

    pub fn name(&self, id: MemberId) -> String {
        if id == HOST {
            return self.roster.host().to_string();
        }
        self.roster
            .get(id)
            .map(|seat| seat.name.clone())
            .unwrap_or_default()
    }

    /// The member called `name` (the host too), as the room tells names
    /// apart: in any case, and by look-alike letters.
    pub fn find(&self, name: &str) -> Option<MemberId> {
        if looks_alike(self.roster.host(), name) {
            return Some(HOST);
        }
        self.roster.find(name)
    }

    /// Queues `words` for every member but those in `except`, each in its
    /// wire's form. Those too far behind are dropped, which is news for the
    /// others in turn.
    pub fn broadcast(&mut self, relays: &mut Relays, except: &[MemberId], words: &Words<'_>) {
        let mut forms = Forms::of(words);
        let behind: Vec<MemberId> = self
            .links
            .iter_mut()
            .filter(|(id, _)| !except.contains(id))
            .filter_map(|(id, link)| {
                let bytes = forms.get(link.sealed)?;
                (!link.put(&bytes)).then_some(*id)
            })
            .collect();
        for id in behind {
            self.remove(
                relays,
                id,
                Change::Dropped,
                "it fell too far behind the room",
            );
        }
    }

    /// Queues `words` for one member.
    pub fn tell(&mut self, relays: &mut Relays, id: MemberId, words: &Words<'_>) {
        let behind = self.links.get_mut(&id).is_some_and(|link| {
            words
                .encode(link.sealed)
                .is_some_and(|bytes| !link.put(&bytes))
        });
        if behind {
            self.remove(
                relays,
                id,
                Change::Dropped,
                "it fell too far behind the room",
            );
        }
    }

    /// A typed message for one member (on the encrypted wire).
    pub fn send_message(&mut self, relays: &mut Relays, id: MemberId, message: &Message<'_>) {
        self.tell(relays, id, &Words::Typed(message.clone()));
    }

    /// Something the room tells one member about itself.
    pub fn notify(&mut self, relays: &mut Relays, id: MemberId, text: &str) {
        self.tell(relays, id, &Words::Notice(text));
    }

    /// Takes a member out of the room, and out of its transfers, ends its
    /// connection and tells the others.
    pub fn remove(&mut self, relays: &mut Relays, id: MemberId, change: Change, reason: &str) {
        if id == HOST {
            return;
        }
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        link.closer.close();
        link.permits.close();
        let name = self.name(id);
        relays.member_gone(self, id, &name);
        self.roster.leave(id);
        let words = Words::Presence {
            change,
            name: &name,
            reason,
        };
        self.broadcast(relays, &[], &words);
    }

    /// Forgets a member once the room is closing, or one that was never
    /// let in after all.
    pub fn forget(&mut self, id: MemberId) {
        if let Some(link) = self.links.remove(&id) {
            link.closer.close();
            link.permits.close();
        }
        self.roster.leave(id);
    }

    /// Says goodbye to everyone: the room is over.
    pub fn close(&mut self) {
        let goodbye = plain::goodbye(self.roster.host());
        for link in self.links.values_mut() {
            // A file half passed on cannot be finished: the stream ends.
            if link.held.is_none() {
                if !link.sealed {
                    link.outbox.put(&Arc::from(goodbye.clone()));
                }
                link.outbox.leave();
            }
            link.permits.close();
        }
    }

    /// Lets go of the host's own seat without ending its connection.
    pub fn unseat_host(&mut self) {
        self.links.remove(&HOST);
    }

    /// Ends every connection still open.
    pub fn cut_all(&mut self) {
        for (_, link) in self.links.drain() {
            link.closer.close();
            link.permits.close();
        }
    }
}

impl Room for Members {
    fn members(&self) -> Vec<(MemberId, bool)> {
        self.links
            .iter()
            .map(|(id, link)| (*id, link.sealed))
            .collect()
    }

    fn name(&self, member: MemberId) -> String {
        Members::name(self, member)
    }

    fn identity(&self, member: MemberId) -> [u8; 32] {
        self.link(member)
            .and_then(|link| link.key)
            .map_or([0; 32], PeerKey::to_bytes)
    }

    fn number_file(&mut self, member: MemberId) -> Option<(FileId, bool)> {
        let link = self.links.get_mut(&member)?;
        let rid = link.next_file;
        link.next_file = link.next_file.wrapping_add(1);
        Some((rid, link.sealed))
    }

    fn queue_piece(&self, member: MemberId, rid: FileId, piece: &Arc<Piece>, share: &Arc<Share>) {
        if let Some(link) = self.links.get(&member) {
            link.outbox.put_piece(rid, piece, share);
        }
    }

    fn open_stream(&mut self, member: MemberId, header: &Arc<[u8]>) -> bool {
        let Some(link) = self.links.get_mut(&member) else {
            return false;
        };
        link.outbox.put(header);
        link.held = Some((Vec::new(), 0));
        true
    }

    fn close_stream(&mut self, member: MemberId) -> bool {
        self.links.get_mut(&member).is_some_and(Link::release)
    }

    fn streaming(&self) -> bool {
        self.links.values().any(|l| l.held.is_some())
    }

    fn report(&self, event: RoomEvent) {
        Members::report(self, event);
    }

    fn send(&mut self, relays: &mut Relays, member: MemberId, message: &Message<'_>) {
        self.send_message(relays, member, message);
    }

    fn notify(&mut self, relays: &mut Relays, member: MemberId, text: &str) {
        Members::notify(self, relays, member, text);
    }

    fn drop_member(&mut self, relays: &mut Relays, member: MemberId, why: &str) {
        self.remove(relays, member, Change::Dropped, why);
    }
}
