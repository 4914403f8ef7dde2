//! Who is in a room: the member list a host sends, read in place once
//! checked, and how membership changes.

use super::MessageError;
use super::fields::{counted, cut};
use crate::wire::limits::{MAX_ADDRESS, MAX_NAME, MAX_TEXT};

/// How a room's membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Joined,
    Left,
    /// Sent away by the host (it stopped reading, went silent, broke the
    /// protocol); the reason says which.
    Dropped,
}

impl Change {
    pub(super) fn byte(self) -> u8 {
        match self {
            Self::Joined => 1,
            Self::Left => 2,
            Self::Dropped => 3,
        }
    }

    pub(super) fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Joined),
            2 => Some(Self::Left),
            3 => Some(Self::Dropped),
            _ => None,
        }
    }
}

/// The members of a room as a host lists them, checked when decoded and
/// read in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MemberList<'a>(pub(super) &'a [u8]);

/// The members it lists, rather than its bytes.
impl std::fmt::Debug for MemberList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One member in a [`MemberList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    pub address: &'a str,
    /// How long it has been in the room.
    pub seconds: u32,
}

impl<'a> MemberList<'a> {
    /// A list of nobody.
    pub fn empty() -> Self {
        Self(&[])
    }

    /// Encodes `members` into `out` (cut to fit a record), for sending.
    pub fn encode<'m>(members: impl IntoIterator<Item = Member<'m>>, out: &mut Vec<u8>) {
        let start = out.len();
        for member in members {
            let name = cut(member.name, MAX_NAME);
            let address = cut(member.address, MAX_ADDRESS);
            if out.len() - start + 6 + name.len() + address.len() > MAX_TEXT {
                break;
            }
            out.extend_from_slice(&member.seconds.to_be_bytes());
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.push(address.len() as u8);
            out.extend_from_slice(address.as_bytes());
        }
    }

    /// Checks every entry, so that iterating cannot fail.
    pub(super) fn decode(bytes: &'a [u8]) -> Result<Self, MessageError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = Self::entry(rest)?.1;
        }
        Ok(Self(bytes))
    }

    fn entry(bytes: &'a [u8]) -> Result<(Member<'a>, &'a [u8]), MessageError> {
        const WHAT: &str = "members";
        let (seconds, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or(MessageError::BadLength(WHAT))?;
        let (name, rest) = counted(WHAT, rest, 1, MAX_NAME)?;
        let (address, rest) = counted(WHAT, rest, 0, MAX_ADDRESS)?;
        let member = Member {
            name,
            address,
            seconds: u32::from_be_bytes(*seconds),
        };
        Ok((member, rest))
    }

    pub fn iter(&self) -> impl Iterator<Item = Member<'a>> + 'a {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let (member, next) = Self::entry(rest).ok()?;
            rest = next;
            Some(member)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::tests::round_trip;
    use crate::wire::message::{MEMBERS, Message};

    #[test]
    fn a_member_list_reads_back_as_written() {
        let members = [
            Member {
                name: "I049",
                address: "",
                seconds: 0,
            },
            Member {
                name: "Daksh",
                address: "[fe80::1%eth0]:52144",
                seconds: u32::MAX,
            },
        ];
        let mut bytes = vec![MEMBERS];
        MemberList::encode(members, &mut bytes);
        let Ok(Message::Members(list)) = Message::decode(&bytes) else {
            panic!("not a member list");
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), members);
        round_trip(Message::Members(list));
    }
}
