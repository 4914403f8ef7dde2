//! Who is in a room: each member's name (unique, whatever its case or
//! look-alike letters), address and arrival, and the host's own name,
//! which no member may take.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use crate::wire::message::Member;
use crate::wire::name::looks_alike;

/// A member's number for as long as the room runs; never reused.
pub type MemberId = u64;

/// The host's own user, as a member of its room.
pub const HOST: MemberId = 0;

/// One member, as the host knows it.
#[derive(Debug, Clone)]
pub struct Seat {
    pub name: String,
    pub address: SocketAddr,
    pub since: Instant,
}

/// Why someone may not have a seat, or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Full(usize),
    Taken(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(1) => write!(f, "the room is full (it takes 1 member besides its host)"),
            Self::Full(max) => write!(
                f,
                "the room is full (it takes {max} members besides its host)"
            ),
            Self::Taken(name) => write!(
                f,
                "the name {name} is taken in this room; join again with another --name"
            ),
        }
    }
}

#[derive(Debug)]
pub struct Roster {
    host: String,
    since: Instant,
    max: usize,
    seats: BTreeMap<MemberId, Seat>,
    next: MemberId,
}

impl Roster {
    pub fn new(host: String, max: usize, now: Instant) -> Self {
        Self {
            host,
            since: now,
            max,
            seats: BTreeMap::new(),
            next: 1,
        }
    }

    /// Gives a seat to `name`, unless the room is full or the name is
    /// someone's already.
    pub fn admit(
        &mut self,
        name: &str,
        address: SocketAddr,
        now: Instant,
    ) -> Result<MemberId, Refusal> {
        if self.seats.len() >= self.max {
            return Err(Refusal::Full(self.max));
        }
        if self.taken(name, None) {
            return Err(Refusal::Taken(name.to_string()));
        }
        let id = self.next;
        self.next += 1;
        let seat = Seat {
            name: name.to_string(),
            address,
            since: now,
        };
        self.seats.insert(id, seat);
        Ok(id)
    }

    /// Gives member `id` another name, if nobody else has it.
    pub fn rename(&mut self, id: MemberId, name: &str) -> Result<(), Refusal> {
        if self.taken(name, Some(id)) {
            return Err(Refusal::Taken(name.to_string()));
        }
        if let Some(seat) = self.seats.get_mut(&id) {
            seat.name = name.to_string();
        }
        Ok(())
    }

    /// Whether `name` is the host's or a member's other than `except`.
    /// Names that would pass for one another on the screen count as the
    /// same: `Alice`, `alice` and `Аlice` with a Cyrillic `А`.
    fn taken(&self, name: &str, except: Option<MemberId>) -> bool {
        looks_alike(&self.host, name)
            || self
                .seats
                .iter()
                .any(|(id, seat)| Some(*id) != except && looks_alike(&seat.name, name))
    }

    pub fn leave(&mut self, id: MemberId) -> Option<Seat> {
        self.seats.remove(&id)
    }

    pub fn get(&self, id: MemberId) -> Option<&Seat> {
        self.seats.get(&id)
    }

    /// The member called `name`, by the rule that keeps names unique: in
    /// any case, and by look-alike letters (so there is at most one).
    pub fn find(&self, name: &str) -> Option<MemberId> {
        self.seats
            .iter()
            .find(|(_, seat)| looks_alike(&seat.name, name))
            .map(|(id, _)| *id)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn len(&self) -> usize {
        self.seats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.seats.keys().copied()
    }

    /// Everyone, the host first (without an address), then the members in
    /// the order they came; addresses as `shown` gives them.
    pub fn members<'a>(&'a self, now: Instant, addresses: &'a [String]) -> Vec<Member<'a>> {
        let seconds = |since: Instant| {
            u32::try_from(now.saturating_duration_since(since).as_secs()).unwrap_or(u32::MAX)
        };
        let host = Member {
            name: &self.host,
            address: "",
            seconds: seconds(self.since),
        };
        let others = self
            .seats
            .values()
            .zip(addresses)
            .map(|(seat, address)| Member {
                name: &seat.name,
                address,
                seconds: seconds(seat.since),
            });
        std::iter::once(host).chain(others).collect()
    }

    /// The members' addresses as shown, in the order [`Roster::members`]
    /// lists them.
    pub fn addresses(&self) -> Vec<String> {
        self.seats.values().map(|s| s.address.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn names_are_unique_whatever_their_case_and_the_host_has_one() {
        let now = Instant::now();
        let mut roster = Roster::new("I049".into(), 3, now);
        let a = roster.admit("I056", addr(1), now).unwrap();
        assert_eq!(
            roster.admit("i056", addr(2), now),
            Err(Refusal::Taken("i056".into()))
        );
        assert_eq!(
            roster.admit("i049", addr(2), now),
            Err(Refusal::Taken("i049".into()))
        );
        let b = roster.admit("Daksh", addr(2), now).unwrap();
        assert_ne!(a, b);
        assert_eq!(roster.rename(b, "I056"), Err(Refusal::Taken("I056".into())));
        roster.rename(b, "daksh").unwrap();
        assert_eq!(roster.find("DAKSH"), Some(b));
        roster.leave(a);
        assert!(roster.admit("I056", addr(3), now).is_ok());
    }

    #[test]
    fn a_name_that_looks_like_one_taken_is_taken() {
        let now = Instant::now();
        let mut roster = Roster::new("Alice".into(), 4, now);
        let bob = roster.admit("bob", addr(1), now).unwrap();
        for look_alike in ["Аlice", "Ａlice", "ᴬlice", "b0b", "ЬоЬ"] {
            assert_eq!(
                roster.admit(look_alike, addr(2), now),
                Err(Refusal::Taken(look_alike.into()))
            );
        }
        let carol = roster.admit("carol", addr(2), now).unwrap();
        assert_eq!(
            roster.rename(carol, "Ьob"),
            Err(Refusal::Taken("Ьob".into()))
        );
        roster.rename(bob, "Bob").unwrap();
    }

    #[test]
    fn a_full_room_takes_nobody_until_someone_leaves() {
        let now = Instant::now();
        let mut roster = Roster::new("host".into(), 1, now);
        let a = roster.admit("a", addr(1), now).unwrap();
        assert_eq!(roster.admit("b", addr(2), now), Err(Refusal::Full(1)));
        roster.leave(a);
        let b = roster.admit("b", addr(2), now).unwrap();
        assert!(b > a, "numbers are not reused");
    }

    #[test]
    fn the_list_puts_the_host_first_with_times() {
        let start = Instant::now();
        let mut roster = Roster::new("host".into(), 4, start);
        roster
            .admit("a", addr(1), start + Duration::from_secs(10))
            .unwrap();
        let addresses = roster.addresses();
        let list = roster.members(start + Duration::from_secs(70), &addresses);
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].name, list[0].address, list[0].seconds),
            ("host", "", 70)
        );
        assert_eq!(
            (list[1].name, list[1].address, list[1].seconds),
            ("a", "127.0.0.1:1", 60)
        );
    }
}
