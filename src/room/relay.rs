//! Files through a room. A member's file goes to every other member (the
//! host's user too), each taking it on its own terms; the room passes each
//! piece on as it comes, stores nothing, and holds at most the sender's
//! pieces in flight. Everyone goes at the pace of the slowest, unless one
//! is far behind the fastest for long: that one is dropped from the
//! transfer, and the others go on.
//!
//! On the encrypted wire the room offers the file as the sender's
//! (`Passed`), and once everyone answered (or the time to answer is up)
//! tells the sender to go. Members on the original wire have no say: they
//! get `/file NAME SIZE` and the bytes when it goes, nothing else in
//! between (what else is for them is held meanwhile), one file at a time.
//! A file from such a member goes at once; the room hashes it on its way,
//! for those on the encrypted wire to check, and keeps its first pieces
//! for those still deciding. A member on the original wire cannot be
//! taken out of a file half sent: its stream would be out of step, so it
//! leaves the room instead.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::course::{Announced, Breach, Course};
use super::events::RoomEvent;
use super::hub::Hub;
use super::link::{FileNews, Piece, PlainFile, Share};
use super::roster::{HOST, MemberId};
use crate::files::download::safe_file_name;
use crate::files::size;
use crate::permits::Permit;
use crate::wire::frame;
use crate::wire::limits::{self, ANSWER_WITHIN, LAG_FOR, MAX_FOLDERS, MAX_INCOMING, MAX_LAG};
use crate::wire::message::{Change, FileId, Message};

/// A plain sender's file reaches the members on the original wire once
/// it is whole or the room holds this much of it (pieces, bytes): a file
/// cut off before it started for them leaves their streams in step, so a
/// small one that never comes whole holds nobody up. (Less than
/// [`MAX_LAG`], so that they are not behind by waiting.)
const PLAIN_HOLD_PIECES: usize = super::link::PIECES_IN_FLIGHT / 2;
const PLAIN_HOLD_BYTES: usize = 1 << 20;

/// Plain members' files go by numbers from here up, one per file, since
/// the original wire gives them none (a sender's earlier file may still
/// wait for answers while its next one goes).
const PLAIN_FILES: FileId = 1 << 31;

type RelayId = u64;

/// A receiver to ask about a transfer: who, its number for it, and its
/// number for the folder it is in.
type Asked = (MemberId, FileId, Option<FileId>);

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
    /// The number of the file each plain member is sending now.
    plain_current: HashMap<MemberId, FileId>,
    next_plain: FileId,
    /// The room's turn to pass files to plain members, while the room
    /// holds it for an encrypted sender's file.
    turn: Option<(Permit, RelayId)>,
}

impl Relays {
    /// Forgets every transfer, giving back the turn the room holds.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Files and folders that members (not the host's user) are sending
    /// through the room now.
    pub fn sent_by_members(&self) -> usize {
        self.list
            .values()
            .filter(|r| r.from != HOST && !r.ended() && !matches!(r.kind, Kind::Entry { .. }))
            .count()
    }

    /// Forgets the sender's number for the transfer `relay_id`; `false`
    /// when it no longer stood for it (the transfer ended, and the number
    /// may be in use again).
    fn unlink_sender(&mut self, relay: &Relay, relay_id: RelayId) -> bool {
        let key = (relay.from, relay.id);
        let linked = self.by_sender.get(&key) == Some(&relay_id);
        if linked {
            self.by_sender.remove(&key);
        }
        linked
    }
}

/// What goes: a file, a folder, or a file inside a folder that goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
    Entry { folder: RelayId },
}

/// What a sender offers, as the room offers it on.
enum Offering<'a> {
    File {
        size: u64,
        name: &'a str,
        plain_sender: bool,
    },
    Folder {
        files: u64,
        bytes: u64,
        name: &'a str,
    },
    Entry {
        folder: RelayId,
        size: u64,
        path: &'a str,
    },
}

impl Offering<'_> {
    /// The offer as the room passes it on to a receiver, as its file
    /// `rid` (in its folder `folder_rid`, for a folder's file).
    fn as_passed<'m>(
        &self,
        rid: FileId,
        folder_rid: Option<FileId>,
        sender: &'m str,
        name: &'m str,
    ) -> Message<'m> {
        match *self {
            Self::File { size, .. } => Message::Passed {
                id: rid,
                size,
                from: sender,
                name,
            },
            Self::Folder { files, bytes, .. } => Message::PassedFolder {
                id: rid,
                files,
                bytes,
                from: sender,
                name,
            },
            Self::Entry { size, .. } => Message::Entry {
                id: rid,
                folder: folder_rid.unwrap_or_default(),
                size,
                path: name,
            },
        }
    }
}

struct Relay {
    kind: Kind,
    from: MemberId,
    id: FileId,
    /// Whether the sender is on the original wire: its file goes at once.
    plain_sender: bool,
    name: String,
    size: u64,
    opened: Instant,
    /// Where it stands, as its sender keeps to the rules: once it goes, its
    /// pieces go to those taking it; never more than its size, and all of
    /// it by its end.
    course: Course,
    /// When its end went out.
    ended_at: Option<Instant>,
    receivers: BTreeMap<MemberId, Receiver>,
    /// Receivers that saved it, or (on the original wire) got it whole.
    saved: usize,
    /// A plain sender's file: its hash so far, its hash once whole, and
    /// its pieces kept for receivers still deciding and for those on the
    /// original wire until it starts for them.
    hasher: blake3::Hasher,
    hash: Option<[u8; 32]>,
    early: Vec<Arc<Piece>>,
    /// Its header went to the members on the original wire taking it:
    /// their streams carry it to its end.
    plain_started: bool,
}

struct Receiver {
    id: FileId,
    /// On the original wire.
    plain: bool,
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

impl Relay {
    /// Its pieces go to those taking it.
    fn flowing(&self) -> bool {
        self.course.is_going()
    }

    /// Its end went out.
    fn ended(&self) -> bool {
        self.course.is_ended()
    }

    fn has(&self, taking: impl Fn(Taking) -> bool) -> bool {
        self.receivers.values().any(|r| taking(r.taking))
    }

    /// Whether its first pieces are kept: receivers still decide, or those
    /// on the original wire have yet to get it.
    fn keeps_early(&self) -> bool {
        self.has(|t| t == Taking::Asked) || (self.plain_sender && !self.plain_started)
    }

    /// Whether a plain sender's file has come far enough, without its end,
    /// to start for the members on the original wire.
    fn holds_enough(&self) -> bool {
        let held: usize = self.early.iter().map(|p| p.data.len()).sum();
        self.early.len() >= PLAIN_HOLD_PIECES || held >= PLAIN_HOLD_BYTES
    }

    /// Receivers that took it holding its start already, with their
    /// numbers: they wait for a Begin.
    fn resuming(&self) -> Vec<(MemberId, FileId)> {
        self.receivers
            .iter()
            .filter(|(_, r)| matches!(r.taking, Taking::Accepted { offset, .. } if offset > 0))
            .map(|(m, r)| (*m, r.id))
            .collect()
    }

    /// Receivers taking it, with their numbers and shares.
    fn taking(&self) -> Vec<(MemberId, FileId, bool, Arc<Share>)> {
        self.receivers
            .iter()
            .filter(|(_, r)| accepted(r.taking))
            .map(|(m, r)| (*m, r.id, r.plain, r.share.clone()))
            .collect()
    }
}

/// How many of a kind a member takes at once, as its reader allows.
fn limit_of(kind: Kind) -> usize {
    match kind {
        Kind::Folder => MAX_FOLDERS,
        Kind::File | Kind::Entry { .. } => MAX_INCOMING,
    }
}

fn accepted(taking: Taking) -> bool {
    matches!(taking, Taking::Accepted { .. })
}

impl Hub {
    /// Acts on what member `from` says about a file.
    pub(super) fn file_news(&mut self, from: MemberId, news: FileNews) {
        match news {
            FileNews::Offer { id, size, name } => {
                let offering = Offering::File {
                    size,
                    name: &name,
                    plain_sender: false,
                };
                self.offered(from, id, offering);
            }
            FileNews::Folder {
                id,
                files,
                bytes,
                name,
            } => {
                let offering = Offering::Folder {
                    files,
                    bytes,
                    name: &name,
                };
                self.offered(from, id, offering);
            }
            FileNews::Entry {
                id,
                folder,
                size,
                path,
            } => self.entry(from, id, folder, size, &path),
            FileNews::Subfolder { folder, path } => self.subfolder(from, folder, &path),
            FileNews::Begin { id, offset } => self.sender_begins(from, id, offset),
            FileNews::Piece { id, piece } => self.piece(from, id, &piece),
            FileNews::End { id, hash } => self.sender_ends(from, id, Some(hash)),
            FileNews::Cancel { id } => self.sender_cancels(from, id),
            FileNews::Accept { id, offset, prefix } => {
                self.receiver_accepts(from, id, offset, prefix);
            }
            FileNews::Saved { id } => self.receiver_settles(from, id, None),
            FileNews::Refused { id, reason } => self.receiver_settles(from, id, Some(reason)),
        }
    }

    /// Acts on what a plain member's file does.
    pub(super) fn plain_file(&mut self, from: MemberId, file: PlainFile) {
        match file {
            PlainFile::Start { name, size } => {
                let id = PLAIN_FILES | (self.relays.next_plain & !PLAIN_FILES);
                self.relays.next_plain = self.relays.next_plain.wrapping_add(1);
                self.relays.plain_current.insert(from, id);
                let offering = Offering::File {
                    size,
                    name: &name,
                    plain_sender: true,
                };
                // It starts for the members on the original wire once it
                // comes whole or far enough.
                self.open_relay(from, id, offering);
            }
            PlainFile::Piece(piece) => {
                if let Some(id) = self.relays.plain_current.get(&from).copied() {
                    self.piece(from, id, &piece);
                }
            }
            PlainFile::End => {
                if let Some(id) = self.relays.plain_current.remove(&from) {
                    self.sender_ends(from, id, None);
                }
            }
            PlainFile::Cut => {
                let id = self.relays.plain_current.remove(&from);
                if let Some(relay_id) =
                    id.and_then(|id| self.relays.by_sender.get(&(from, id)).copied())
                {
                    self.lose_relay(relay_id);
                }
            }
        }
    }

    /// A member on the encrypted wire offers a file or a folder.
    fn offered(&mut self, from: MemberId, id: FileId, offering: Offering<'_>) {
        let folder = matches!(offering, Offering::Folder { .. });
        if let Err(why) = self.may_open(from, id, folder) {
            return self.remove(from, Change::Dropped, &why);
        }
        let others = self
            .links
            .iter()
            .filter(|(m, link)| **m != from && (link.sealed || !folder))
            .count();
        if others == 0 {
            let reason = if folder && self.links.len() > 1 {
                "folders go to members on the encrypted wire only, and none is in the room"
            } else {
                "nobody else is in the room"
            };
            return self.send_message(from, &Message::Refused { id, reason });
        }
        if let Some(relay_id) = self.open_relay(from, id, offering) {
            self.maybe_start(relay_id);
        }
    }

    /// Whether member `from` may start a file (of its own or in a folder)
    /// or a folder numbered `id`: not one in progress, and no more at once
    /// than a receiver takes (PROTOCOL.md 3.5, 3 and 4). `Err` says why not.
    fn may_open(&mut self, from: MemberId, id: FileId, folder: bool) -> Result<(), String> {
        if self.relays.by_sender.contains_key(&(from, id)) {
            return Err(format!("it offered file {id} again while sending it"));
        }
        let open = self
            .relays
            .list
            .values()
            .filter(|r| r.from == from && !r.ended() && (r.kind == Kind::Folder) == folder)
            .count();
        let (limit, what) = match folder {
            true => (MAX_FOLDERS, "folders"),
            false => (MAX_INCOMING, "files"),
        };
        if open >= limit {
            return Err(format!("it offered more than {limit} {what} at once"));
        }
        // A number the room stopped taking is in use again: what still
        // comes under it belongs to the new one.
        self.relays.stopped.remove(&(from, id));
        Ok(())
    }

    /// A file inside a folder that goes: offered to everyone taking the
    /// folder, and answered by each at once.
    fn entry(&mut self, from: MemberId, id: FileId, folder: FileId, size: u64, path: &str) {
        let Some(folder_id) = self.relays.by_sender.get(&(from, folder)).copied() else {
            if !self.relays.stopped.contains(&(from, folder)) {
                let why = "it sent a file of a folder nobody accepted";
                self.remove(from, Change::Dropped, why);
            }
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&folder_id) else {
            return;
        };
        let within = relay
            .course
            .entry(size)
            .map_err(|breach| breach.to_string());
        if let Err(why) = within.and_then(|()| self.may_open(from, id, false)) {
            return self.remove(from, Change::Dropped, &why);
        }
        let offering = Offering::Entry {
            folder: folder_id,
            size,
            path,
        };
        if let Some(relay_id) = self.open_relay(from, id, offering) {
            self.maybe_start(relay_id);
        }
    }

    /// A folder inside a folder that goes: made by everyone taking it.
    fn subfolder(&mut self, from: MemberId, folder: FileId, path: &str) {
        let Some(relay) = self.relay_of_sender(from, folder) else {
            if !self.relays.stopped.contains(&(from, folder)) {
                let why = "it sent a folder inside a folder nobody accepted";
                self.remove(from, Change::Dropped, why);
            }
            return;
        };
        if let Err(breach) = relay.course.subfolder() {
            return self.remove(from, Change::Dropped, &breach.to_string());
        }
        for (member, rid, ..) in relay.taking() {
            self.send_message(member, &Message::Subfolder { folder: rid, path });
        }
    }

    /// Offers what a member sends to everyone it goes to: those on the
    /// encrypted wire are asked, those on the original one take a file (and
    /// get no folder).
    fn open_relay(
        &mut self,
        from: MemberId,
        id: FileId,
        offering: Offering<'_>,
    ) -> Option<RelayId> {
        let over = match offering {
            Offering::File { size, .. } | Offering::Entry { size, .. } => {
                size > limits::MAX_FILE_SIZE
            }
            Offering::Folder { .. } => false,
        };
        if over {
            let why = format!(
                "it offered a file over the limit of {}",
                size::bytes(limits::MAX_FILE_SIZE)
            );
            self.remove(from, Change::Dropped, &why);
            return None;
        }
        let sender = self.name(from);
        let (kind, name, size, plain_sender) = match offering {
            Offering::File {
                size,
                name,
                plain_sender,
            } => (Kind::File, safe_file_name(name), size, plain_sender),
            Offering::Folder { bytes, name, .. } => {
                (Kind::Folder, safe_file_name(name), bytes, false)
            }
            Offering::Entry { folder, size, path } => {
                (Kind::Entry { folder }, path.to_string(), size, false)
            }
        };
        let others = self.recipients(from, &offering);
        let others = self.leave_out_busy(from, others, kind, &name);
        let relay_id = self.relays.next;
        self.relays.next += 1;
        let (receivers, offers) = self.enlist(relay_id, others);
        self.relays.by_sender.insert((from, id), relay_id);
        let course = match offering {
            _ if plain_sender => Course::going(&name, size),
            Offering::Folder { files, bytes, .. } => {
                Course::offered(&name, Announced::Folder { files, bytes })
            }
            _ => Course::offered(&name, Announced::File { size }),
        };
        let relay = Relay {
            kind,
            from,
            id,
            plain_sender,
            name: name.clone(),
            size,
            opened: Instant::now(),
            course,
            ended_at: None,
            receivers,
            saved: 0,
            hasher: blake3::Hasher::new(),
            hash: None,
            early: Vec::new(),
            plain_started: false,
        };
        self.relays.list.insert(relay_id, relay);
        for (member, rid, folder_rid) in offers {
            let offer = offering.as_passed(rid, folder_rid, &sender, &name);
            self.send_message(member, &offer);
        }
        self.relays.list.contains_key(&relay_id).then_some(relay_id)
    }

    /// Who what `from` offers goes to, with their number for the folder it
    /// is in: a file to everyone else, a folder to everyone else on the
    /// encrypted wire, a folder's file to those taking the folder.
    fn recipients(
        &self,
        from: MemberId,
        offering: &Offering<'_>,
    ) -> Vec<(MemberId, Option<FileId>)> {
        match offering {
            Offering::Entry { folder, .. } => self
                .relays
                .list
                .get(folder)
                .map(|f| {
                    f.taking()
                        .into_iter()
                        .map(|(m, rid, ..)| (m, Some(rid)))
                        .collect()
                })
                .unwrap_or_default(),
            Offering::Folder { .. } => self
                .links
                .iter()
                .filter(|(m, link)| **m != from && link.sealed)
                .map(|(m, _)| (*m, None))
                .collect(),
            Offering::File { .. } => self
                .links
                .keys()
                .filter(|m| **m != from)
                .map(|m| (*m, None))
                .collect(),
        }
    }

    /// Leaves out of `others` those that have as many files or folders on
    /// their way as a member takes at once (more would be a breach), and
    /// tells the sender of a file or folder so.
    fn leave_out_busy(
        &mut self,
        from: MemberId,
        others: Vec<(MemberId, Option<FileId>)>,
        kind: Kind,
        name: &str,
    ) -> Vec<(MemberId, Option<FileId>)> {
        let (busy, others): (Vec<_>, Vec<_>) = others
            .into_iter()
            .partition(|(member, _)| self.receiving(*member, kind) >= limit_of(kind));
        for (member, _) in busy {
            if !matches!(kind, Kind::Entry { .. }) {
                let why = format!(
                    "{} has too many files on their way to it already: {name} was not offered",
                    self.name(member)
                );
                self.notify(from, &why);
            }
        }
        others
    }

    /// Counts `members` in as receivers of the transfer `relay_id`, each
    /// under a number of its own: those on the original wire take it,
    /// the others are to be asked (returned with their numbers).
    fn enlist(
        &mut self,
        relay_id: RelayId,
        members: Vec<(MemberId, Option<FileId>)>,
    ) -> (BTreeMap<MemberId, Receiver>, Vec<Asked>) {
        let mut receivers = BTreeMap::new();
        let mut asked = Vec::new();
        for (member, folder_rid) in members {
            let Some(link) = self.links.get_mut(&member) else {
                continue;
            };
            let rid = link.next_file;
            link.next_file = link.next_file.wrapping_add(1);
            let plain = !link.sealed;
            let taking = if plain {
                Taking::Accepted {
                    offset: 0,
                    prefix: [0; 32],
                }
            } else {
                asked.push((member, rid, folder_rid));
                Taking::Asked
            };
            let receiver = Receiver {
                id: rid,
                plain,
                taking,
                share: Arc::default(),
                behind_since: None,
            };
            receivers.insert(member, receiver);
            self.relays.by_receiver.insert((member, rid), relay_id);
        }
        (receivers, asked)
    }

    /// How many files (of their own or in folders), or folders, `member`
    /// is offered or taking now.
    fn receiving(&self, member: MemberId, kind: Kind) -> usize {
        let folder = kind == Kind::Folder;
        self.relays
            .list
            .values()
            .filter(|r| (r.kind == Kind::Folder) == folder)
            .filter(|r| {
                r.receivers
                    .get(&member)
                    .is_some_and(|x| x.taking != Taking::Done)
            })
            .count()
    }

    /// Sends the file's header to the plain members taking it, and what
    /// came of it so far; their streams carry nothing else until its end.
    fn start_plain_receivers(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
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
            if let Some(link) = self.links.get_mut(&member) {
                // (Nothing is held yet: one file goes at a time.)
                link.outbox.put(&header);
                link.held = Some((Vec::new(), 0));
                for piece in &early {
                    link.outbox.put_piece(rid, piece, &share);
                }
            }
        }
    }

    /// A receiver on the encrypted wire takes the file, maybe holding its
    /// start already.
    fn receiver_accepts(&mut self, member: MemberId, rid: FileId, offset: u64, prefix: [u8; 32]) {
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
            return self.maybe_start(relay_id);
        }
        if !relay.plain_sender {
            // Too late: it went without this member.
            let (name, from) = (relay.name.clone(), relay.from);
            self.drop_receiver(relay_id, member);
            self.send_message(member, &Message::Cancel { id: rid });
            let why = format!(
                "{}'s {name} went without you: it started before you answered",
                self.name(from)
            );
            return self.notify(member, &why);
        }
        // A plain sender's file: what came of it so far was kept.
        let share = receiver.share.clone();
        let early = relay.early.clone();
        let hash = relay.hash;
        if !relay.keeps_early() {
            relay.early.clear();
        }
        if offset > 0 {
            self.send_message(member, &Message::Begin { id: rid, offset: 0 });
        }
        if let Some(link) = self.links.get(&member) {
            for piece in &early {
                link.outbox.put_piece(rid, piece, &share);
            }
        }
        if let Some(hash) = hash {
            self.send_message(member, &Message::End { id: rid, hash });
        }
    }

    /// Tells an encrypted sender to go once every receiver answered, or
    /// when the time to answer is up.
    fn maybe_start(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        let waiting = relay.has(|t| t == Taking::Asked);
        if relay.flowing() || (waiting && relay.opened.elapsed() < ANSWER_WITHIN) {
            return;
        }
        self.answer_late(relay_id);
        let Some(relay) = self.relays.list.get(&relay_id) else {
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
        let to_plain = relay.taking().iter().any(|(_, _, plain, _)| *plain);
        if relay.kind == Kind::Folder {
            let (from, id) = (relay.from, relay.id);
            if let Some(relay) = self.relays.list.get_mut(&relay_id) {
                relay.course.go(0);
            }
            let prefix = [0; 32];
            return self.send_message(
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
            if self.links.values().any(|l| l.held.is_some()) {
                return;
            }
            let Some(turn) = self.plain_turn().try_take() else {
                return;
            };
            self.relays.turn = Some((turn, relay_id));
            self.start_plain_receivers(relay_id);
        }
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        let (from, id) = (relay.from, relay.id);
        // Everyone holding the same start resumes from it; otherwise all
        // start from the beginning.
        let (offset, prefix) = if taken.iter().all(|t| *t == taken[0]) {
            taken[0]
        } else {
            (0, [0; 32])
        };
        relay.course.go(offset);
        if offset == 0 {
            for (member, rid) in relay.resuming() {
                self.send_message(member, &Message::Begin { id: rid, offset: 0 });
            }
        }
        self.send_message(from, &Message::Accept { id, offset, prefix });
    }

    /// Those who did not answer in time are out of the transfer.
    fn answer_late(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        if relay.opened.elapsed() < ANSWER_WITHIN {
            return;
        }
        let (name, from) = (relay.name.clone(), relay.from);
        let late: Vec<(MemberId, FileId)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| r.taking == Taking::Asked)
            .map(|(m, r)| (*m, r.id))
            .collect();
        let sender = self.name(from);
        for (member, rid) in late {
            self.drop_receiver(relay_id, member);
            self.send_message(member, &Message::Cancel { id: rid });
            let secs = ANSWER_WITHIN.as_secs();
            let why =
                format!("{sender}'s {name} went without you: you did not answer within {secs} s");
            self.notify(member, &why);
            let who = self.name(member);
            self.notify(
                from,
                &format!("{who} did not answer within {secs} s: {name} goes without it"),
            );
        }
    }

    /// The sender's answer to a resumed start: passed on to all who asked.
    fn sender_begins(&mut self, from: MemberId, id: FileId, offset: u64) {
        let Some(relay_id) = self.relays.by_sender.get(&(from, id)).copied() else {
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.course.begin(offset) {
            return self.sender_broke(relay_id, from, &breach);
        }
        for (member, rid) in relay.resuming() {
            self.send_message(member, &Message::Begin { id: rid, offset });
        }
    }

    /// A piece of a file: queued for everyone taking it.
    fn piece(&mut self, from: MemberId, id: FileId, piece: &Arc<Piece>) {
        let Some(relay_id) = self.relays.by_sender.get(&(from, id)).copied() else {
            if !self.relays.stopped.contains(&(from, id)) && id & PLAIN_FILES == 0 {
                let why = "it sent part of a file nobody accepted";
                self.remove(from, Change::Dropped, why);
            }
            return;
        };
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.course.chunk(piece.data.len() as u64) {
            return self.sender_broke(relay_id, from, &breach);
        }
        if relay.plain_sender {
            relay.hasher.update(&piece.data);
            if relay.keeps_early() {
                relay.early.push(piece.clone());
            }
        }
        let to_plain = relay.plain_started;
        for (member, rid, plain, share) in relay.taking() {
            if let Some(link) = self.links.get(&member)
                && (to_plain || !plain)
            {
                link.outbox.put_piece(rid, piece, &share);
            }
        }
        if relay.plain_sender && !relay.plain_started && relay.holds_enough() {
            self.start_plain_receivers(relay_id);
        }
    }

    /// Drops a sender that broke a rule of its transfer, saying why. Its
    /// takers keep what arrived, as when a sender leaves, unless what came
    /// cannot be the file it announced: then it is cancelled for them.
    fn sender_broke(&mut self, relay_id: RelayId, from: MemberId, breach: &Breach) {
        if matches!(breach, Breach::TooLong { .. } | Breach::TooShort { .. }) {
            self.cancel_relay(relay_id);
        }
        self.remove(from, Change::Dropped, &breach.to_string());
    }

    /// The sender sent the whole file: its hash goes to everyone on the
    /// encrypted wire taking it, and the plain members' streams are free.
    fn sender_ends(&mut self, from: MemberId, id: FileId, hash: Option<[u8; 32]>) {
        let Some(relay_id) = self.relays.by_sender.get(&(from, id)).copied() else {
            return;
        };
        // A folder ends once none of its files is still on its way.
        let unfinished = self
            .relays
            .list
            .values()
            .any(|r| r.kind == Kind::Entry { folder: relay_id } && !r.ended());
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        if let Err(breach) = relay.course.end(unfinished) {
            return self.sender_broke(relay_id, from, &breach);
        }
        // Its number is the sender's to use again; the answers to come are
        // the receivers'.
        self.relays.by_sender.remove(&(from, id));
        if relay.plain_sender && !relay.plain_started {
            // Whole: it goes to the members on the original wire now.
            self.start_plain_receivers(relay_id);
        }
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return;
        };
        relay.ended_at = Some(Instant::now());
        let hash = hash.unwrap_or_else(|| *relay.hasher.finalize().as_bytes());
        relay.hash = Some(hash);
        let (from, name) = (relay.from, relay.name.clone());
        let mut passed = Vec::new();
        for (member, rid, plain, _) in relay.taking() {
            if plain {
                passed.push(member);
            } else {
                self.send_message(member, &Message::End { id: rid, hash });
            }
        }
        for member in passed {
            let released = self.links.get_mut(&member).is_some_and(|l| l.release());
            if let Some(relay) = self.relays.list.get_mut(&relay_id) {
                relay.saved += 1;
            }
            // Through with it; what is queued of it still goes.
            self.count_out(relay_id, member, false);
            if released {
                let who = self.name(member);
                let got = format!("{who} got {name} (the original wire does not confirm saving)");
                self.notify(from, &got);
            } else {
                self.remove(member, Change::Dropped, "it fell too far behind the room");
            }
        }
        self.give_back_turn(relay_id);
        self.maybe_settle(relay_id);
    }

    /// The sender stopped sending: everyone still taking it is told.
    fn sender_cancels(&mut self, from: MemberId, id: FileId) {
        if self.relays.stopped.remove(&(from, id)) {
            return;
        }
        if let Some(relay_id) = self.relays.by_sender.get(&(from, id)).copied() {
            self.cancel_relay(relay_id);
        }
    }

    /// Ends a transfer whose sender stopped, left, or was cut off: those
    /// on the encrypted wire offered it or taking it hear it was cancelled;
    /// those on the original one, once it started, leave the room.
    fn cancel_relay(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        if relay.kind == Kind::Folder {
            // Its files go with it: a receiver drops them on the folder's
            // Cancel.
            self.forget_entries(relay_id);
        }
        self.give_back_turn(relay_id);
        self.relays.unlink_sender(&relay, relay_id);
        let why = format!(
            "{}'s {} stopped on its way, and the original wire cannot say so",
            self.name(relay.from),
            relay.name
        );
        // (Those on the original wire it never started for are in step.)
        let started = relay.plain_started;
        for (member, receiver) in relay.receivers {
            self.relays.by_receiver.remove(&(member, receiver.id));
            receiver.share.stopped.store(true, Ordering::SeqCst);
            match (receiver.taking, receiver.plain) {
                (Taking::Done, _) => {}
                (_, false) => self.send_message(member, &Message::Cancel { id: receiver.id }),
                (_, true) if started => self.remove(member, Change::Dropped, &why),
                (_, true) => {}
            }
        }
    }

    /// Ends a transfer whose sender left before its end: those taking it
    /// on the encrypted wire keep what arrived (Lost), as when their own
    /// connection is cut, so that sending it again resumes; those only
    /// offered it see the offer withdrawn; those on the original wire, once
    /// it started, leave the room.
    fn lose_relay(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        let lost: Vec<(MemberId, FileId)> = relay
            .receivers
            .iter()
            .filter(|(_, r)| !r.plain && accepted(r.taking))
            .map(|(m, r)| (*m, r.id))
            .collect();
        for (member, rid) in lost {
            self.drop_receiver(relay_id, member);
            self.send_message(member, &Message::Lost { id: rid });
        }
        self.cancel_relay(relay_id);
    }

    /// A receiver saved the file, or refused it (declined, cancelled, no
    /// room, a hash that did not match).
    fn receiver_settles(&mut self, member: MemberId, rid: FileId, refusal: Option<String>) {
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
        let who = self.name(member);
        match &refusal {
            None if told => self.notify(from, &format!("{who} saved {name}")),
            None => {}
            Some(reason) => {
                if told {
                    self.notify(from, &format!("{who} did not take {name}: {reason}"));
                }
                // As a sender would, after a refusal before the end.
                if !ended && was != Taking::Done {
                    self.send_message(member, &Message::Cancel { id: rid });
                }
            }
        }
        self.after_change(relay_id);
    }

    /// Forgets the files of a folder that no longer goes, without a word
    /// to anyone: the folder's own Cancel or refusal says it all.
    fn forget_entries(&mut self, folder: RelayId) {
        let entries: Vec<RelayId> = self
            .relays
            .list
            .iter()
            .filter(|(_, r)| r.kind == Kind::Entry { folder })
            .map(|(id, _)| *id)
            .collect();
        for entry in entries {
            let Some(relay) = self.relays.list.remove(&entry) else {
                continue;
            };
            // What of it is still on its way is dropped.
            if self.relays.unlink_sender(&relay, entry) {
                self.relays.stopped.insert((relay.from, relay.id));
            }
            for (member, receiver) in relay.receivers {
                receiver.share.stopped.store(true, Ordering::SeqCst);
                self.relays.by_receiver.remove(&(member, receiver.id));
            }
        }
    }

    /// Takes a receiver out of a transfer; what is queued for it of the
    /// file is not sent. Out of a folder, it is out of the folder's files.
    fn drop_receiver(&mut self, relay_id: RelayId, member: MemberId) {
        let entries: Vec<RelayId> = self
            .relays
            .list
            .iter()
            .filter(|(_, r)| r.kind == Kind::Entry { folder: relay_id })
            .map(|(id, _)| *id)
            .collect();
        for entry in entries {
            self.count_out(entry, member, true);
        }
        self.count_out(relay_id, member, true);
        if let Some(relay) = self.relays.list.get_mut(&relay_id)
            && !relay.keeps_early()
        {
            relay.early.clear();
        }
    }

    /// Counts a receiver out of a transfer: no more news of it comes
    /// from it, and, when `stop`, what is queued for it of the file goes
    /// unsent.
    fn count_out(&mut self, relay_id: RelayId, member: MemberId, stop: bool) {
        let Some(receiver) = self
            .relays
            .list
            .get_mut(&relay_id)
            .and_then(|r| r.receivers.get_mut(&member))
        else {
            return;
        };
        receiver.taking = Taking::Done;
        if stop {
            receiver.share.stopped.store(true, Ordering::SeqCst);
        }
        self.relays.by_receiver.remove(&(member, receiver.id));
    }

    /// After a receiver dropped out: the transfer may start, settle, or
    /// have nobody left to go to.
    fn after_change(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        if !relay.flowing() {
            return self.maybe_start(relay_id);
        }
        let open = relay.has(|t| t != Taking::Done);
        if relay.ended() {
            self.maybe_settle(relay_id);
        } else if !open && !relay.plain_sender {
            self.nobody_takes(relay_id, "nobody in the room is taking it any more");
        }
    }

    /// Tells an encrypted sender nobody takes its file, and forgets the
    /// transfer (the sender answers with a Cancel, which is then expected).
    fn nobody_takes(&mut self, relay_id: RelayId, reason: &str) {
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        if relay.kind == Kind::Folder {
            self.forget_entries(relay_id);
        }
        self.give_back_turn(relay_id);
        self.relays.unlink_sender(&relay, relay_id);
        for (member, receiver) in &relay.receivers {
            self.relays.by_receiver.remove(&(*member, receiver.id));
        }
        self.relays.stopped.insert((relay.from, relay.id));
        let refused = Message::Refused {
            id: relay.id,
            reason,
        };
        self.send_message(relay.from, &refused);
    }

    /// Once the end went out and every receiver answered, the sender hears
    /// that it was saved (by at least one) or not.
    fn maybe_settle(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        if !relay.ended() || relay.has(|t| t != Taking::Done) {
            return;
        }
        let Some(relay) = self.relays.list.remove(&relay_id) else {
            return;
        };
        self.relays.unlink_sender(&relay, relay_id);
        if relay.plain_sender {
            return;
        }
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
        // What it sent whole goes on to those taking it; the rest stops.
        let sent: Vec<RelayId> = self
            .relays
            .list
            .iter()
            .filter(|(_, r)| r.from == member && !r.ended())
            .map(|(id, _)| *id)
            .collect();
        for relay_id in sent {
            self.lose_relay(relay_id);
        }
        self.relays.stopped.retain(|(from, _)| *from != member);
        self.relays.plain_current.remove(&member);
        let taking: Vec<(RelayId, MemberId, String, Kind)> = self
            .relays
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
                self.notify(from, &format!("{name} left before {file} arrived"));
            }
            self.after_change(relay_id);
        }
    }

    /// Starts transfers whose time to answer is up or whose turn came, and
    /// drops receivers that have been far behind the fastest for long.
    pub fn check_transfers(&mut self) {
        let now = Instant::now();
        let ids: Vec<RelayId> = self.relays.list.keys().copied().collect();
        for relay_id in ids {
            let Some(relay) = self.relays.list.get(&relay_id) else {
                continue;
            };
            if !relay.flowing() {
                self.maybe_start(relay_id);
                continue;
            }
            let (late, ended) = (
                relay.plain_sender && relay.has(|t| t == Taking::Asked),
                relay.ended(),
            );
            if late {
                self.answer_late(relay_id);
            }
            if ended {
                // All of it is queued: nobody is dropped from it now, but
                // an answer does not wait for ever.
                self.unconfirmed(relay_id);
                continue;
            }
            let laggards = self.laggards(relay_id, now);
            let Some(relay) = self.relays.list.get(&relay_id) else {
                continue;
            };
            let (from, name) = (relay.from, relay.name.clone());
            for (member, rid, plain) in laggards {
                let who = self.name(member);
                self.report(RoomEvent::FellBehind {
                    name: who.clone(),
                    file: name.clone(),
                });
                if plain {
                    let why = format!("it fell too far behind the others taking {name}");
                    self.remove(member, Change::Dropped, &why);
                    continue;
                }
                self.drop_receiver(relay_id, member);
                self.send_message(member, &Message::Cancel { id: rid });
                let why = format!(
                    "{name} was stopped for you: you fell too far behind the others taking it"
                );
                self.notify(member, &why);
                let told = format!("{who} fell too far behind and was dropped from {name}");
                self.notify(from, &told);
                self.after_change(relay_id);
            }
        }
    }

    /// Once the end has been out for [`ANSWER_WITHIN`], those that did not
    /// answer are counted out, and the sender hears what is known.
    fn unconfirmed(&mut self, relay_id: RelayId) {
        let Some(relay) = self.relays.list.get(&relay_id) else {
            return;
        };
        if relay.ended_at.is_none_or(|at| at.elapsed() < ANSWER_WITHIN) {
            return;
        }
        let (from, name, kind) = (relay.from, relay.name.clone(), relay.kind);
        let silent: Vec<MemberId> = relay
            .receivers
            .iter()
            .filter(|(_, r)| accepted(r.taking))
            .map(|(m, _)| *m)
            .collect();
        for member in silent {
            // (Its pieces still go: it may yet save it.)
            self.count_out(relay_id, member, false);
            if !matches!(kind, Kind::Entry { .. }) {
                let who = self.name(member);
                let why = format!(
                    "{who} did not say within {} s whether it saved {name}",
                    ANSWER_WITHIN.as_secs()
                );
                self.notify(from, &why);
            }
        }
        self.maybe_settle(relay_id);
    }

    /// Receivers that have been more than [`MAX_LAG`] behind the fastest
    /// for [`LAG_FOR`].
    fn laggards(&mut self, relay_id: RelayId, now: Instant) -> Vec<(MemberId, FileId, bool)> {
        let Some(relay) = self.relays.list.get_mut(&relay_id) else {
            return Vec::new();
        };
        // (Those on the original wire it has not started for yet are not
        // behind.)
        let started = relay.plain_started;
        let fastest = relay
            .receivers
            .values()
            .filter(|r| accepted(r.taking))
            .map(|r| r.share.written.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0);
        let mut laggards = Vec::new();
        for (member, receiver) in &mut relay.receivers {
            if !accepted(receiver.taking) || (receiver.plain && !started) {
                continue;
            }
            let written = receiver.share.written.load(Ordering::SeqCst);
            if fastest.saturating_sub(written) <= MAX_LAG {
                receiver.behind_since = None;
            } else if now.duration_since(*receiver.behind_since.get_or_insert(now)) >= LAG_FOR {
                laggards.push((*member, receiver.id, receiver.plain));
            }
        }
        laggards
    }

    /// Gives back the turn to pass files to plain members, if the room
    /// holds it for this transfer: its permit, dropped, gives it back.
    fn give_back_turn(&mut self, relay_id: RelayId) {
        self.relays.turn.take_if(|(_, r)| *r == relay_id);
    }

    /// The transfer `member` receives as its file `rid`. Answers about
    /// files the room does not (or no longer) send are passed over.
    fn relay_of_receiver(
        &mut self,
        member: MemberId,
        rid: FileId,
    ) -> Option<(RelayId, &mut Relay)> {
        let relay_id = *self.relays.by_receiver.get(&(member, rid))?;
        Some((relay_id, self.relays.list.get_mut(&relay_id)?))
    }

    fn relay_of_sender(&self, from: MemberId, id: FileId) -> Option<&Relay> {
        let relay_id = self.relays.by_sender.get(&(from, id))?;
        self.relays.list.get(relay_id)
    }
}
