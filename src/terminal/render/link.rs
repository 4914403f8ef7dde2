//! The lines of reaching the peer: listening, connecting, the handshake's
//! outcome, announcing a chat and finding one by name.

use std::io;

use crate::net::events::{Joiners, LinkEvent, Protection};
use crate::net::patience::Patience;
use crate::net::secure::code::Code;

/// What the safety code is for, said beside it.
const SAFETY_CODE_NOTE: &str = "(the same on both screens means nobody is in between)";

/// What a user at a terminal is told of a conversation on the original
/// wire, which has no encryption to announce.
const PLAIN_NOTE: &str =
    "Not encrypted (--plain): anyone on the network in between can read and change what is sent.";

/// The line an event of reaching the peer shows, if any. `attended`: a
/// person reads it, not a script.
pub(super) fn line(event: LinkEvent<'_>, attended: bool) -> Option<String> {
    Some(match event {
        LinkEvent::Listening(local) => format!("Listening on {local} ..."),
        LinkEvent::ReachableAt { ip, port, joiners } => match joiners {
            Joiners::Peer => format!("Your peer can connect to {ip} {port}"),
            Joiners::Room => format!("Others can join at {ip} {port}"),
        },
        LinkEvent::ConnectedBy(peer) => format!("Connected by {peer}"),
        LinkEvent::ConnectedDirectlyBy(peer) => format!("Connected directly by {peer}"),
        LinkEvent::ConnectedTo(peer) => format!("Connected to {peer}"),
        LinkEvent::ConnectedDirectly(peer) => format!("Connected directly to {peer}"),
        LinkEvent::Relayed(relay) => {
            format!("Connected through the relay {relay} (it passes only encrypted bytes)")
        }
        LinkEvent::Protected(protection) => return protected(protection, attended),
        LinkEvent::TurnedAway { peer, why } => {
            format!("Turned away {peer}: {why}. Still waiting for a peer.")
        }
        LinkEvent::WrongCode { peer, nth, allowed } => wrong_code(peer, nth, allowed),
        LinkEvent::NotThereYet {
            host,
            port,
            why,
            patience,
        } => waiting_line(host, port, why, patience),
        LinkEvent::Anywhere(step) => super::anywhere::line(step),
        LinkEvent::CodeToGive { code, joiners } => code_to_give(code, joiners),
        LinkEvent::Announced { name, code } => format!(
            "Announced as {name} on the local network: others can {}.",
            how_to_connect(name, code)
        ),
        LinkEvent::NotAnnounced(e) => format!("Not announced on the local network: {e:#}."),
        LinkEvent::Renamed { was, name, code } => renamed_line(was, name, code),
        LinkEvent::StillLooking {
            name,
            others,
            patience,
        } => still_looking(name, others, patience),
        LinkEvent::AnnouncedMeanwhile { name, others } => announced_meanwhile(name, others),
        LinkEvent::Found {
            name,
            address,
            port,
        } => format!("Found {name} at {address} port {port}."),
        LinkEvent::NotReached { name, address, why } => {
            format!("Could not talk with the chat announced as {name} at {address} ({why:#}).")
        }
        LinkEvent::Impostor {
            name,
            address,
            proved,
        } => format!(
            "IMPOSTOR: {address} announces itself as {name} but does not hold your contact's \
             identity (it proved {proved}). Not connected; it learned nothing of you."
        ),
    })
}

/// The code made for this chat, and how the others give it.
fn code_to_give(code: &Code, joiners: Joiners) -> String {
    match joiners {
        Joiners::Peer => format!("Code for your peer: {code} (it connects with --code {code})"),
        Joiners::Room => format!("Code for the room: {code} (everyone joins with --code {code})"),
    }
}

/// The listening user's line for the `nth` wrong code of the `allowed`.
pub(super) fn wrong_code(peer: impl std::fmt::Display, nth: u32, allowed: u32) -> String {
    format!("Turned away {peer}: the code did not match ({nth} of {allowed} attempts).")
}

/// How the conversation is protected, right after the connected line.
fn protected(protection: Protection<'_>, attended: bool) -> Option<String> {
    Some(match protection {
        Protection::Verified => "Encrypted and verified with the code.".to_string(),
        // A person is told how to be spared the comparison next time.
        Protection::SafetyCode(code) if attended => format!(
            "Encrypted. Safety code: {code} (the same on both screens means nobody is in \
             between; once it is, /trust remembers this peer)"
        ),
        Protection::SafetyCode(code) => {
            format!("Encrypted. Safety code: {code} {SAFETY_CODE_NOTE}")
        }
        Protection::Known(contact) => super::contacts::known(contact),
        // (Pipe mode's lines stay those a script of the original knows.)
        Protection::Plain if attended => PLAIN_NOTE.to_string(),
        Protection::Plain => return None,
    })
}

/// The line that shows the safety code again.
pub fn safety_code_line(code: &str) -> String {
    format!("Safety code: {code} {SAFETY_CODE_NOTE}")
}

/// What the owner of an announcement hears when the network renames it:
/// another chat announced the same name, `was`, at the same moment.
fn renamed_line(was: &str, name: &str, code: bool) -> String {
    format!(
        "Another chat on the network also announced {was}: you are listed as `{name}` \
         (others connect with {}).",
        how_to_connect(name, code)
    )
}

/// The command others type to connect by name: `chat connect alice`, and
/// with the code when one is asked for (the code itself is not shown
/// again: whoever is given it types it).
fn how_to_connect(name: &str, code: bool) -> String {
    match code {
        true => format!(
            "`chat connect {} --code CODE`, with the code",
            shell_word(name)
        ),
        false => format!("`chat connect {}`", shell_word(name)),
    }
}

/// A name as a shell command line takes it: quoted when it must be.
pub fn shell_word(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// What the user is told, once, while `chat connect HOST PORT` waits.
fn waiting_line(host: &str, port: u16, e: &io::Error, patience: Patience) -> String {
    let how_long = match patience {
        Patience::UpTo(limit) => format!("for up to {} s", limit.as_secs()),
        Patience::Endless => "until it answers".to_string(),
    };
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("Nobody listens on {host} {port} yet"),
        _ => format!("Cannot reach {host} {port} yet ({e})"),
    };
    format!("{what}; trying again {how_long} (Ctrl-C stops).")
}

/// What `chat connect NAME` says, once, when the name does not answer at
/// once, naming the chats that `others` are, if any: the name may be
/// mistyped.
fn still_looking(name: &str, others: &[String], patience: Patience) -> String {
    let how_long = match patience {
        Patience::UpTo(limit) => format!("up to {} s, Ctrl-C stops", limit.as_secs()),
        Patience::Endless => "Ctrl-C stops".to_string(),
    };
    match others {
        [] => format!("No chat called {name} yet; still looking ({how_long})."),
        _ => format!(
            "No chat called {name} yet; {}. Still looking ({how_long}).",
            announced(name, others)
        ),
    }
}

/// What `chat connect NAME` says, once, when others answer while it looks.
fn announced_meanwhile(name: &str, others: &[String]) -> String {
    format!(
        "Meanwhile {}; still looking for {name}.",
        announced(name, others)
    )
}

/// Most names of other chats said while looking for one.
const OTHERS_SAID: usize = 3;

/// `alice is announced (chat connect alice)`: the chats announced instead
/// of `name`, those that look most like it first.
fn announced(name: &str, others: &[String]) -> String {
    let mut others: Vec<&String> = others.iter().collect();
    others.sort_by_key(|other| (distance(name, other), other.to_lowercase()));
    let command = |other: &str| format!("chat connect {}", shell_word(other));
    match others.as_slice() {
        [one] => format!("{one} is announced ({})", command(one)),
        [a, b] => format!(
            "{a} and {b} are announced ({} or {})",
            command(a),
            command(b)
        ),
        many => {
            let said: Vec<&str> = many[..OTHERS_SAID].iter().map(|s| s.as_str()).collect();
            let more = many.len() - OTHERS_SAID;
            let names = match more {
                0 => format!("{} and {}", said[..2].join(", "), said[2]),
                n => format!("{} and {n} more", said.join(", ")),
            };
            format!("{names} are announced (`chat peers` lists them)")
        }
    }
}

/// How many characters to change, add or take away to go from `a` to `b`,
/// in any case (Levenshtein's distance).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_line_says_what_is_missing_and_for_how_long() {
        let refused = io::ErrorKind::ConnectionRefused.into();
        assert_eq!(
            waiting_line("192.168.1.20", 5050, &refused, Patience::from_secs(30)),
            "Nobody listens on 192.168.1.20 5050 yet; trying again for up to 30 s (Ctrl-C stops)."
        );
        let unreachable = io::Error::from(io::ErrorKind::HostUnreachable);
        let line = waiting_line("box", 6000, &unreachable, Patience::Endless);
        assert!(
            line.starts_with("Cannot reach box 6000 yet (")
                && line.ends_with("; trying again until it answers (Ctrl-C stops)."),
            "{line}"
        );
    }
    use std::time::Duration;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn looking_on_names_the_chats_announced_instead() {
        let wait = Patience::UpTo(Duration::from_secs(30));
        assert_eq!(
            still_looking("nobody", &[], wait),
            "No chat called nobody yet; still looking (up to 30 s, Ctrl-C stops)."
        );
        assert_eq!(
            still_looking("alcie", &names(&["alice"]), wait),
            "No chat called alcie yet; alice is announced (chat connect alice). Still looking \
             (up to 30 s, Ctrl-C stops)."
        );
        assert_eq!(
            still_looking("bob", &names(&["Daksh K", "bobby"]), Patience::Endless),
            "No chat called bob yet; bobby and Daksh K are announced (chat connect bobby or \
             chat connect 'Daksh K'). Still looking (Ctrl-C stops)."
        );
        assert_eq!(
            announced_meanwhile("alcie", &names(&["zed", "alice", "carol", "dave"])),
            "Meanwhile alice, dave, carol and 1 more are announced (`chat peers` lists them); \
             still looking for alcie."
        );
        assert_eq!(
            announced("x", &names(&["a", "b", "c"])),
            "a, b and c are announced (`chat peers` lists them)"
        );
    }

    #[test]
    fn names_are_told_apart_by_the_characters_to_change() {
        assert_eq!(distance("alcie", "alice"), 2);
        assert_eq!(distance("Alice", "alice"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("日本", "日本語"), 1);
    }
}
