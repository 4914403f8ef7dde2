//! Offering: what a member sends (a file, a folder, or a file inside a
//! folder that goes) is opened as a transfer and offered to everyone it
//! goes to, each under a number of its own; a sender that offers more than
//! a receiver takes at once, or what it may not, is dropped.

use std::collections::BTreeMap;

use super::transfer::{Kind, Offering, Receiver, Relay, RelayId, Taking};
use super::{Asked, Relays, Room};
use crate::files::download::safe_file_name;
use crate::files::size;
use crate::room::course::{Announced, Course};
use crate::room::roster::MemberId;
use crate::wire::limits::{self, MAX_FOLDERS, MAX_INCOMING};
use crate::wire::message::{FileId, Message};

impl Relays {
    /// A member on the encrypted wire offers a file or a folder.
    pub(super) fn offered(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        id: FileId,
        offering: Offering<'_>,
    ) {
        let folder = matches!(offering, Offering::Folder { .. });
        if let Err(why) = self.may_open(from, id, folder) {
            return room.drop_member(self, from, &why);
        }
        let members = room.members();
        let others = members
            .iter()
            .filter(|(m, sealed)| *m != from && (*sealed || !folder))
            .count();
        if others == 0 {
            let reason = if folder && members.len() > 1 {
                "folders go to members on the encrypted wire only, and none is in the room"
            } else {
                "nobody else is in the room"
            };
            return room.send(self, from, &Message::Refused { id, reason });
        }
        if let Some(relay_id) = self.open_relay(room, from, id, offering) {
            self.maybe_start(room, relay_id);
        }
    }

    /// Whether member `from` may start a file (of its own or in a folder)
    /// or a folder numbered `id`: not one in progress, and no more at once
    /// than a receiver takes (PROTOCOL.md 3.5, 3 and 4). `Err` says why not.
    fn may_open(&mut self, from: MemberId, id: FileId, folder: bool) -> Result<(), String> {
        if self.by_sender.contains_key(&(from, id)) {
            return Err(format!("it offered file {id} again while sending it"));
        }
        let open = self
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
        self.stopped.remove(&(from, id));
        Ok(())
    }

    /// A file inside a folder that goes: offered to everyone taking the
    /// folder, and answered by each at once.
    pub(super) fn entry(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        id: FileId,
        folder: FileId,
        size: u64,
        path: &str,
    ) {
        let Some(folder_id) = self.by_sender.get(&(from, folder)).copied() else {
            if !self.stopped.contains(&(from, folder)) {
                let why = "it sent a file of a folder nobody accepted";
                room.drop_member(self, from, why);
            }
            return;
        };
        let Some(relay) = self.list.get_mut(&folder_id) else {
            return;
        };
        let within = relay
            .course
            .entry(size)
            .map_err(|breach| breach.to_string());
        if let Err(why) = within.and_then(|()| self.may_open(from, id, false)) {
            return room.drop_member(self, from, &why);
        }
        let offering = Offering::Entry {
            folder: folder_id,
            size,
            path,
        };
        if let Some(relay_id) = self.open_relay(room, from, id, offering) {
            self.maybe_start(room, relay_id);
        }
    }

    /// A folder inside a folder that goes: made by everyone taking it.
    pub(super) fn subfolder(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        folder: FileId,
        path: &str,
    ) {
        let Some(relay) = self.relay_of_sender(from, folder) else {
            if !self.stopped.contains(&(from, folder)) {
                let why = "it sent a folder inside a folder nobody accepted";
                room.drop_member(self, from, why);
            }
            return;
        };
        if let Err(breach) = relay.course.subfolder() {
            return room.drop_member(self, from, &breach.to_string());
        }
        for (member, rid, ..) in relay.taking() {
            room.send(self, member, &Message::Subfolder { folder: rid, path });
        }
    }

    /// Offers what a member sends to everyone it goes to: those on the
    /// encrypted wire are asked, those on the original one take a file (and
    /// get no folder).
    pub(super) fn open_relay(
        &mut self,
        room: &mut impl Room,
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
            room.drop_member(self, from, &why);
            return None;
        }
        let (sender, sender_key) = (room.name(from), room.identity(from));
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
        let others = self.recipients(room, from, &offering);
        let others = self.leave_out_busy(room, from, others, kind, &name);
        let relay_id = self.next;
        self.next += 1;
        let (receivers, offers) = self.enlist(room, relay_id, others);
        self.by_sender.insert((from, id), relay_id);
        let course = match offering {
            _ if plain_sender => Course::going(&name, size),
            Offering::Folder { files, bytes, .. } => {
                Course::offered(&name, Announced::Folder { files, bytes })
            }
            _ => Course::offered(&name, Announced::File { size }),
        };
        let mut relay = Relay::new(from, id, kind, plain_sender, name.clone(), size, course);
        relay.receivers = receivers;
        self.list.insert(relay_id, relay);
        for (member, rid, folder_rid) in offers {
            let offer = offering.as_passed(rid, folder_rid, (&sender, sender_key), &name);
            room.send(self, member, &offer);
        }
        self.list.contains_key(&relay_id).then_some(relay_id)
    }

    /// Who what `from` offers goes to, with their number for the folder it
    /// is in: a file to everyone else, a folder to everyone else on the
    /// encrypted wire, a folder's file to those taking the folder.
    fn recipients(
        &self,
        room: &impl Room,
        from: MemberId,
        offering: &Offering<'_>,
    ) -> Vec<(MemberId, Option<FileId>)> {
        match offering {
            Offering::Entry { folder, .. } => self
                .list
                .get(folder)
                .map(|f| {
                    f.taking()
                        .into_iter()
                        .map(|(m, rid, ..)| (m, Some(rid)))
                        .collect()
                })
                .unwrap_or_default(),
            Offering::Folder { .. } => room
                .members()
                .into_iter()
                .filter(|(m, sealed)| *m != from && *sealed)
                .map(|(m, _)| (m, None))
                .collect(),
            Offering::File { .. } => room
                .members()
                .into_iter()
                .filter(|(m, _)| *m != from)
                .map(|(m, _)| (m, None))
                .collect(),
        }
    }

    /// Leaves out of `others` those that have as many files or folders on
    /// their way as a member takes at once (more would be a breach), and
    /// tells the sender of a file or folder so.
    fn leave_out_busy(
        &mut self,
        room: &mut impl Room,
        from: MemberId,
        others: Vec<(MemberId, Option<FileId>)>,
        kind: Kind,
        name: &str,
    ) -> Vec<(MemberId, Option<FileId>)> {
        let (busy, others): (Vec<_>, Vec<_>) = others
            .into_iter()
            .partition(|(member, _)| self.receiving(*member, kind) >= kind.limit());
        for (member, _) in busy {
            if !matches!(kind, Kind::Entry { .. }) {
                let why = format!(
                    "{} has too many files on their way to it already: {name} was not offered",
                    room.name(member)
                );
                room.notify(self, from, &why);
            }
        }
        others
    }

    /// Counts `members` in as receivers of the transfer `relay_id`, each
    /// under a number of its own: those on the original wire take it,
    /// the others are to be asked (returned with their numbers).
    fn enlist(
        &mut self,
        room: &mut impl Room,
        relay_id: RelayId,
        members: Vec<(MemberId, Option<FileId>)>,
    ) -> (BTreeMap<MemberId, Receiver>, Vec<Asked>) {
        let mut receivers = BTreeMap::new();
        let mut asked = Vec::new();
        for (member, folder_rid) in members {
            let Some((rid, sealed)) = room.number_file(member) else {
                continue;
            };
            if sealed {
                asked.push((member, rid, folder_rid));
            }
            receivers.insert(member, Receiver::new(rid, !sealed));
            self.by_receiver.insert((member, rid), relay_id);
        }
        (receivers, asked)
    }

    /// How many files (of their own or in folders), or folders, `member`
    /// is offered or taking now.
    fn receiving(&self, member: MemberId, kind: Kind) -> usize {
        let folder = kind == Kind::Folder;
        self.list
            .values()
            .filter(|r| (r.kind == Kind::Folder) == folder)
            .filter(|r| {
                r.receivers
                    .get(&member)
                    .is_some_and(|x| x.taking != Taking::Done)
            })
            .count()
    }
}
