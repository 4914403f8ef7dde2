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
//!
//! PROTOCOL.md §3.8 specifies what members see of it; this is how the
//! host does it. The transfers under way are [`Relays`]; they reach the
//! members only through the [`Room`] they are handed.

mod answers;
mod endings;
mod flow;
mod offers;
mod transfer;
mod watch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use self::transfer::{Kind, Offering, Relay, RelayId};
use super::events::RoomEvent;
use super::link::{FileNews, Piece, PlainFile, Share, Turn};
use super::roster::{HOST, MemberId};
use crate::permits::Permit;
use crate::wire::message::{FileId, Message};

/// Plain members' files go by numbers from here up, one per file, since
/// the original wire gives them none (a sender's earlier file may still
/// wait for answers while its next one goes).
const PLAIN_FILES: FileId = 1 << 31;

/// The room around its transfers: its members, as the relay reaches them.
/// What the room does at the relay's word may drop a member (one too far
/// behind, or one that broke a rule), which takes it out of the transfers
/// at once, before the relay goes on: those calls are handed the relay.
pub trait Room {
    /// Everyone in the room (its host's user too), each with whether it
    /// speaks the encrypted wire.
    fn members(&self) -> Vec<(MemberId, bool)>;

    /// The name `member` goes by in the room.
    fn name(&self, member: MemberId) -> String;

    /// The identity `member` proved (all zeros for none: the original
    /// wire, or the host's own seat).
    fn identity(&self, member: MemberId) -> [u8; 32];

    /// Numbers the next file from the room to `member`, and says whether
    /// it speaks the encrypted wire; `None` when it is not in the room.
    fn number_file(&mut self, member: MemberId) -> Option<(FileId, bool)>;

    /// Queues a piece of a file for `member`, as its file `rid`.
    fn queue_piece(&self, member: MemberId, rid: FileId, piece: &Arc<Piece>, share: &Arc<Share>);

    /// Starts a file on the stream of `member`, on the original wire: its
    /// `header` goes, and whatever else is for the member waits for the
    /// file's end. `false` when it is not in the room.
    fn open_stream(&mut self, member: MemberId, header: &Arc<[u8]>) -> bool;

    /// The file on `member`'s stream is whole: what waited goes. `false`
    /// when that leaves the member too far behind, or it is not in.
    fn close_stream(&mut self, member: MemberId) -> bool;

    /// Whether a file is on the stream of any member on the original wire.
    fn streaming(&self) -> bool;

    /// Tells the room's host, and nobody else.
    fn report(&self, event: RoomEvent);

    /// A typed message for one member (on the encrypted wire).
    fn send(&mut self, relays: &mut Relays, member: MemberId, message: &Message<'_>);

    /// Something the room tells one member about itself.
    fn notify(&mut self, relays: &mut Relays, member: MemberId, text: &str);

    /// Drops a member from the room, saying why.
    fn drop_member(&mut self, relays: &mut Relays, member: MemberId, why: &str);
}

/// A receiver to ask about a transfer: who, its number for it, and its
/// number for the folder it is in.
type Asked = (MemberId, FileId, Option<FileId>);

/// The transfers under way in the room.
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
    /// The turn to pass a file to members on the original wire, which
    /// plain senders' readers take too.
    plain_turn: Arc<Turn>,
    /// The room's turn to pass files to plain members, while the room
    /// holds it for an encrypted sender's file.
    turn: Option<(Permit, RelayId)>,
}

impl Relays {
    /// No transfers yet; files go to plain members in `plain_turn`.
    pub fn new(plain_turn: Arc<Turn>) -> Self {
        Self {
            next: 0,
            list: BTreeMap::new(),
            by_sender: HashMap::new(),
            by_receiver: HashMap::new(),
            stopped: HashSet::new(),
            plain_current: HashMap::new(),
            next_plain: 0,
            plain_turn,
            turn: None,
        }
    }

    /// Forgets every transfer, giving back the turn the room holds.
    pub fn clear(&mut self) {
        *self = Self::new(self.plain_turn.clone());
    }

    /// Files and folders that members (not the host's user) are sending
    /// through the room now.
    pub fn sent_by_members(&self) -> usize {
        self.list
            .values()
            .filter(|r| r.from != HOST && !r.ended() && !matches!(r.kind, Kind::Entry { .. }))
            .count()
    }

    /// Acts on what member `from` says about a file.
    pub fn file_news(&mut self, room: &mut impl Room, from: MemberId, news: FileNews) {
        let said = match news {
            FileNews::Piece { id, piece } => return self.piece(room, from, id, &piece),
            FileNews::Said(said) => said,
        };
        let message = match said.message() {
            Ok(message) => message,
            Err(e) => return room.drop_member(self, from, &format!("it broke the protocol: {e}")),
        };
        match message {
            Message::Offer { id, size, name } => {
                let offering = Offering::File {
                    size,
                    name,
                    plain_sender: false,
                };
                self.offered(room, from, id, offering);
            }
            Message::Folder {
                id,
                files,
                bytes,
                name,
            } => {
                let offering = Offering::Folder { files, bytes, name };
                self.offered(room, from, id, offering);
            }
            Message::Entry {
                id,
                folder,
                size,
                path,
            } => self.entry(room, from, id, folder, size, path),
            Message::Subfolder { folder, path } => self.subfolder(room, from, folder, path),
            Message::Begin { id, offset } => self.sender_begins(room, from, id, offset),
            Message::End { id, hash } => self.sender_ends(room, from, id, Some(hash)),
            Message::Cancel { id } => self.sender_cancels(room, from, id),
            Message::Accept { id, offset, prefix } => {
                self.receiver_accepts(room, from, id, offset, prefix);
            }
            Message::Saved { id } => self.receiver_settles(room, from, id, None),
            Message::Refused { id, reason } => {
                self.receiver_settles(room, from, id, Some(reason.to_string()));
            }
            // (The member's reader hands over the messages above only.)
            _ => {}
        }
    }

    /// Acts on what a plain member's file does.
    pub fn plain_file(&mut self, room: &mut impl Room, from: MemberId, file: PlainFile) {
        match file {
            PlainFile::Start { name, size } => {
                let id = PLAIN_FILES | (self.next_plain & !PLAIN_FILES);
                self.next_plain = self.next_plain.wrapping_add(1);
                self.plain_current.insert(from, id);
                let offering = Offering::File {
                    size,
                    name: &name,
                    plain_sender: true,
                };
                // It starts for the members on the original wire once it
                // comes whole or far enough.
                self.open_relay(room, from, id, offering);
            }
            PlainFile::Piece(piece) => {
                if let Some(id) = self.plain_current.get(&from).copied() {
                    self.piece(room, from, id, &piece);
                }
            }
            PlainFile::End => {
                if let Some(id) = self.plain_current.remove(&from) {
                    self.sender_ends(room, from, id, None);
                }
            }
            PlainFile::Cut => {
                let id = self.plain_current.remove(&from);
                if let Some(relay_id) = id.and_then(|id| self.by_sender.get(&(from, id)).copied()) {
                    self.lose_relay(room, relay_id);
                }
            }
        }
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

    /// Gives back the turn to pass files to plain members, if the room
    /// holds it for this transfer: its permit, dropped, gives it back.
    fn give_back_turn(&mut self, relay_id: RelayId) {
        self.turn.take_if(|(_, r)| *r == relay_id);
    }

    /// The transfer `member` receives as its file `rid`. Answers about
    /// files the room does not (or no longer) send are passed over.
    fn relay_of_receiver(
        &mut self,
        member: MemberId,
        rid: FileId,
    ) -> Option<(RelayId, &mut Relay)> {
        let relay_id = *self.by_receiver.get(&(member, rid))?;
        Some((relay_id, self.list.get_mut(&relay_id)?))
    }

    fn relay_of_sender(&self, from: MemberId, id: FileId) -> Option<&Relay> {
        let relay_id = self.by_sender.get(&(from, id))?;
        self.list.get(relay_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permits::Permits;
    use crate::room::link::Said;
    use crate::wire::limits::{LAG_FOR, MAX_LAG};
    use std::cell::RefCell;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    const ANN: MemberId = 1;
    const BOB: MemberId = 2;
    const CY: MemberId = 3;

    /// A room of members that records what the relay has it do, and drops
    /// a member as the room does: out of the transfers too.
    #[derive(Default)]
    struct Recorded {
        /// Who is in, and whether on the encrypted wire.
        members: Vec<(MemberId, bool)>,
        numbers: HashMap<MemberId, FileId>,
        sent: Vec<(MemberId, Vec<u8>)>,
        notes: Vec<(MemberId, String)>,
        pieces: RefCell<Vec<(MemberId, FileId, Arc<Share>)>>,
        dropped: Vec<(MemberId, String)>,
        reports: RefCell<Vec<RoomEvent>>,
    }

    impl Recorded {
        fn of(members: &[(MemberId, bool)]) -> Self {
            Self {
                members: members.to_vec(),
                ..Self::default()
            }
        }

        /// The messages `member` was sent, in order.
        fn messages(&self, member: MemberId) -> Vec<Message<'_>> {
            self.sent
                .iter()
                .filter(|(to, _)| *to == member)
                .map(|(_, bytes)| Message::decode(bytes).expect("a message the relay made"))
                .collect()
        }

        /// Who was queued pieces, each with its number for the file and
        /// its share in it, since the last look.
        fn pieces(&self) -> Vec<(MemberId, FileId, Arc<Share>)> {
            let mut pieces = self.pieces.take();
            pieces.sort_by_key(|(member, ..)| *member);
            pieces
        }
    }

    impl Room for Recorded {
        fn members(&self) -> Vec<(MemberId, bool)> {
            self.members.clone()
        }

        fn name(&self, member: MemberId) -> String {
            ["host", "ann", "bob", "cy"][member as usize].to_string()
        }

        fn identity(&self, member: MemberId) -> [u8; 32] {
            [member as u8; 32]
        }

        fn number_file(&mut self, member: MemberId) -> Option<(FileId, bool)> {
            let sealed = self.members.iter().find(|(m, _)| *m == member)?.1;
            let number = self.numbers.entry(member).or_insert(1);
            *number += 1;
            Some((*number - 1, sealed))
        }

        fn queue_piece(&self, member: MemberId, rid: FileId, _: &Arc<Piece>, share: &Arc<Share>) {
            self.pieces.borrow_mut().push((member, rid, share.clone()));
        }

        fn open_stream(&mut self, _: MemberId, _: &Arc<[u8]>) -> bool {
            true
        }

        fn close_stream(&mut self, _: MemberId) -> bool {
            true
        }

        fn streaming(&self) -> bool {
            false
        }

        fn report(&self, event: RoomEvent) {
            self.reports.borrow_mut().push(event);
        }

        fn send(&mut self, _: &mut Relays, member: MemberId, message: &Message<'_>) {
            let mut bytes = Vec::new();
            message.encode(&mut bytes);
            self.sent.push((member, bytes));
        }

        fn notify(&mut self, _: &mut Relays, member: MemberId, text: &str) {
            self.notes.push((member, text.to_string()));
        }

        fn drop_member(&mut self, relays: &mut Relays, member: MemberId, why: &str) {
            self.members.retain(|(m, _)| *m != member);
            self.dropped.push((member, why.to_string()));
            let name = self.name(member);
            relays.member_gone(self, member, &name);
        }
    }

    /// A piece of `len` bytes from a sender with `permits`.
    fn piece(permits: &Permits, len: usize) -> FileNews {
        let permit = permits.take().expect("permits are open");
        let piece = Arc::new(Piece::new(vec![7; len], permit));
        FileNews::Piece { id: 7, piece }
    }

    /// `member`'s number for the file offered to it last.
    fn offered_as(room: &Recorded, member: MemberId) -> FileId {
        match room.messages(member).last() {
            Some(Message::Passed { id, .. }) => *id,
            other => panic!("{member} was offered nothing, but sent {other:?}"),
        }
    }

    fn accept(relays: &mut Relays, room: &mut Recorded, member: MemberId) {
        let id = offered_as(room, member);
        let (offset, prefix) = (0, [0; 32]);
        let accept = Message::Accept { id, offset, prefix };
        relays.file_news(room, member, FileNews::Said(Said::new(&accept)));
    }

    /// Ann offers a file to everyone else in `room`.
    fn ann_offers(room: &mut Recorded) -> Relays {
        let mut relays = Relays::new(Arc::default());
        let offer = Message::Offer {
            id: 7,
            size: 1 << 20,
            name: "f.bin",
        };
        relays.file_news(room, ANN, FileNews::Said(Said::new(&offer)));
        relays
    }

    fn go(id: FileId) -> Message<'static> {
        Message::Accept {
            id,
            offset: 0,
            prefix: [0; 32],
        }
    }

    #[test]
    fn an_offer_goes_once_everyone_answered_to_those_who_accepted() {
        let mut room = Recorded::of(&[(HOST, true), (ANN, true), (BOB, true), (CY, true)]);
        let mut relays = ann_offers(&mut room);
        accept(&mut relays, &mut room, HOST);
        let bobs = offered_as(&room, BOB);
        let refused = Message::Refused {
            id: bobs,
            reason: "declined",
        };
        relays.file_news(&mut room, BOB, FileNews::Said(Said::new(&refused)));
        assert!(room.messages(ANN).is_empty(), "Cy has yet to answer");
        accept(&mut relays, &mut room, CY);
        assert_eq!(room.messages(ANN), vec![go(7)]);
        assert_eq!(
            room.notes,
            vec![(ANN, "bob did not take f.bin: declined".to_string())]
        );

        let permits = Permits::new(4);
        relays.file_news(&mut room, ANN, piece(&permits, 100));
        let to: Vec<MemberId> = room.pieces().iter().map(|(m, ..)| *m).collect();
        assert_eq!(to, vec![HOST, CY]);
        assert!(room.dropped.is_empty());
    }

    #[test]
    fn a_receiver_far_behind_for_long_is_dropped_and_the_others_go_on() {
        let mut room = Recorded::of(&[(HOST, true), (ANN, true), (BOB, true)]);
        let mut relays = ann_offers(&mut room);
        accept(&mut relays, &mut room, HOST);
        accept(&mut relays, &mut room, BOB);
        let permits = Permits::new(4);
        relays.file_news(&mut room, ANN, piece(&permits, 100));
        let shares = room.pieces();
        let (host, bob) = (&shares[0], &shares[1]);
        assert_eq!((host.0, bob.0), (HOST, BOB));
        host.2.written.store(MAX_LAG + 1, Ordering::SeqCst);

        let since = Instant::now();
        relays.check(&mut room, since);
        relays.check(&mut room, since + LAG_FOR - Duration::from_millis(1));
        assert!(room.notes.is_empty(), "not behind for long yet");
        relays.check(&mut room, since + LAG_FOR);
        assert_eq!(
            room.messages(BOB).last(),
            Some(&Message::Cancel { id: bob.1 })
        );
        assert!(bob.2.stopped.load(Ordering::SeqCst));
        assert!(!host.2.stopped.load(Ordering::SeqCst));
        let told = "bob fell too far behind and was dropped from f.bin";
        assert!(
            room.notes.contains(&(ANN, told.to_string())),
            "{:?}",
            room.notes
        );
        assert!(matches!(
            room.reports.borrow().as_slice(),
            [RoomEvent::FellBehind { name, file }] if name == "bob" && file == "f.bin"
        ));

        relays.file_news(&mut room, ANN, piece(&permits, 100));
        let to: Vec<MemberId> = room.pieces().iter().map(|(m, ..)| *m).collect();
        assert_eq!(to, vec![HOST]);
        assert!(
            room.dropped.is_empty(),
            "a receiver on the encrypted wire stays in the room"
        );
    }

    #[test]
    fn a_receiver_on_the_original_wire_far_behind_leaves_the_room() {
        let mut room = Recorded::of(&[(HOST, true), (ANN, true), (BOB, false)]);
        let mut relays = ann_offers(&mut room);
        accept(&mut relays, &mut room, HOST);
        assert_eq!(
            room.messages(ANN),
            vec![go(7)],
            "a plain member is not asked"
        );
        let permits = Permits::new(4);
        relays.file_news(&mut room, ANN, piece(&permits, 100));
        let shares = room.pieces();
        shares[0].2.written.store(MAX_LAG + 1, Ordering::SeqCst);

        let since = Instant::now();
        relays.check(&mut room, since);
        relays.check(&mut room, since + LAG_FOR);
        let why = "it fell too far behind the others taking f.bin";
        assert_eq!(room.dropped, vec![(BOB, why.to_string())]);
        // Out of the room, it is out of the transfer: the host goes on.
        relays.file_news(&mut room, ANN, piece(&permits, 100));
        let to: Vec<MemberId> = room.pieces().iter().map(|(m, ..)| *m).collect();
        assert_eq!(to, vec![HOST]);
    }
}
