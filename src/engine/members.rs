//! How a room's people are told to the user, the same on the host's screen
//! and a member's: comings and goings, the list `/who` shows, private
//! messages.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::identity::PeerKey;
use crate::wire::message::{Change, Member};

/// What leaving would do to a room the user hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomStake {
    /// Members it is closed for.
    pub members: usize,
    /// Files (or folders) on their way through it, cut.
    pub files: usize,
}

/// What the room a user hosts holds now, kept up to date by the room for
/// its host's user: leaving ends the room for its members, and cuts the
/// files on their way through it.
#[derive(Debug, Default)]
pub struct Occupancy {
    members: AtomicUsize,
    files: AtomicUsize,
    /// The members that proved an identity, by name: the host's user may
    /// `/trust` them.
    identities: Mutex<Vec<(String, PeerKey)>>,
}

impl Occupancy {
    /// The room holds `members` besides its host, and `files` (or
    /// folders) that members send are on their way through it.
    pub fn set(&self, members: usize, files: usize) {
        self.members.store(members, Ordering::SeqCst);
        self.files.store(files, Ordering::SeqCst);
    }

    /// What leaving would do to the room: close it for its members, and
    /// cut the files on their way through it; `None` when nobody is in it.
    pub fn at_stake(&self) -> Option<RoomStake> {
        let members = self.members.load(Ordering::SeqCst);
        let files = self.files.load(Ordering::SeqCst);
        (members > 0).then_some(RoomStake { members, files })
    }

    /// The members that proved an identity now, by name.
    pub fn proved(&self, identities: Vec<(String, PeerKey)>) {
        *self.identities.lock().unwrap_or_else(|p| p.into_inner()) = identities;
    }

    /// The identity the member called `name` proved (in any case), if it
    /// is in.
    pub fn identity_of(&self, name: &str) -> Option<(String, PeerKey)> {
        let identities = self.identities.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = name.to_lowercase();
        identities
            .iter()
            .find(|(theirs, _)| theirs.to_lowercase() == wanted)
            .cloned()
    }

    /// Whether files members send are on their way through the room.
    pub fn has_files(&self) -> bool {
        self.files.load(Ordering::SeqCst) > 0
    }
}

/// The line for someone coming or going: `I056 joined the room.`
pub fn presence_line(change: Change, name: &str, reason: &str) -> String {
    match (change, reason) {
        (Change::Joined, _) => format!("{name} joined the room."),
        (Change::Left, "") => format!("{name} left the room."),
        (Change::Left, why) => format!("{name} left the room ({why})."),
        (Change::Dropped, "") => format!("{name} was dropped from the room."),
        (Change::Dropped, why) => format!("{name} was dropped from the room: {why}."),
    }
}

/// The lines `/who` shows: a count, then a line per member. `me` is the
/// name of whoever asks, marked as such; the host is the one without an
/// address.
pub fn member_lines<'a>(members: impl IntoIterator<Item = Member<'a>>, me: &str) -> Vec<String> {
    let members: Vec<Member<'a>> = members.into_iter().collect();
    let width = members
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = vec![match members.len() {
        1 => "1 in the room:".to_string(),
        n => format!("{n} in the room:"),
    }];
    for member in &members {
        let mut line = format!("  {:width$}", member.name);
        match member.address {
            "" => line.push_str("  host"),
            address => line.push_str(&format!("  {address}")),
        }
        line.push_str(&format!(", for {}", since(member.seconds)));
        if member.name == me {
            line.push_str(" (you)");
        }
        lines.push(line);
    }
    lines
}

/// A private message as shown to its receiver: `[I056] (to you) text`.
/// The bracket holds the sender's name alone, as on every message, so a
/// name cannot pass for a private message's marks.
pub fn whisper_from(name: &str, text: &str) -> String {
    format!("[{name}] (to you) {text}")
}

/// A time in the room, to the second: `42s`, `5m 02s`, `3h 07m`.
pub fn since(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m {s:02}s"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_a_room_says_whom_it_closes_for_and_what_it_cuts() {
        let room = Occupancy::default();
        assert_eq!(room.at_stake(), None);
        room.set(1, 0);
        assert_eq!(
            room.at_stake().unwrap().to_string(),
            "closes the room for its 1 member"
        );
        assert!(!room.has_files());
        room.set(2, 1);
        assert_eq!(
            room.at_stake().unwrap().to_string(),
            "closes the room for its 2 members, cutting the 1 file going through it"
        );
        room.set(3, 2);
        assert_eq!(
            room.at_stake().unwrap().to_string(),
            "closes the room for its 3 members, cutting the 2 files going through it"
        );
        assert!(room.has_files());
    }

    #[test]
    fn presence_lines_say_who_and_why() {
        assert_eq!(
            presence_line(Change::Joined, "I056", ""),
            "I056 joined the room."
        );
        assert_eq!(
            presence_line(Change::Left, "I056", ""),
            "I056 left the room."
        );
        assert_eq!(
            presence_line(Change::Dropped, "I056", "it stopped reading"),
            "I056 was dropped from the room: it stopped reading."
        );
    }

    #[test]
    fn the_member_list_marks_the_host_and_the_asker() {
        let lines = member_lines(
            [
                Member {
                    name: "I049",
                    address: "",
                    seconds: 3725,
                },
                Member {
                    name: "Daksh",
                    address: "192.168.1.31:52144",
                    seconds: 62,
                },
            ],
            "Daksh",
        );
        assert_eq!(
            lines,
            [
                "2 in the room:",
                "  I049   host, for 1h 02m",
                "  Daksh  192.168.1.31:52144, for 1m 02s (you)",
            ]
        );
    }

    #[test]
    fn times_are_short() {
        assert_eq!(since(0), "0s");
        assert_eq!(since(59), "59s");
        assert_eq!(since(61), "1m 01s");
        assert_eq!(since(7260), "2h 01m");
    }
}
