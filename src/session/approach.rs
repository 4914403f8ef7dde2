//! Getting to the peer while the user may already type: listening for it,
//! announced on the local network, or connecting to it by address or by
//! name, trying as long as `--wait` allows.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use anyhow::Result;

use super::{Event, join, spawn};
use crate::net::connect::{self, DEFAULT_PORT, Established};
use crate::net::discovery;
use crate::net::patience::{Patience, StopTrying, Trying};
use crate::net::secure::Protection;
use crate::settings::{Role, Settings};
use crate::terminal::screen::Screen;

/// Announces a listening chat on the local network, unless the user said
/// not to; a failure to announce is said, and the chat listens anyway.
pub(crate) fn announce(
    settings: &Settings,
    port: u16,
    screen: &Arc<Screen>,
) -> Option<discovery::Announcement> {
    let loopback = match &settings.role {
        Role::Listen { host, .. } => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => true,
    };
    // Nobody on the network could reach a chat that listens on loopback.
    if !settings.announce || loopback {
        return None;
    }
    let traits = discovery::Traits {
        encrypted: matches!(settings.protection, Protection::Encrypted { .. }),
        room: settings.room.is_some(),
        code: matches!(settings.protection, Protection::Encrypted { code: Some(_) }),
    };
    let on_screen = screen.clone();
    let code = traits.code;
    let renamed = move |was: &str, name: &str| on_screen.system(renamed_line(was, name, code));
    match discovery::Announcement::start(&settings.name, port, traits, renamed) {
        Ok(announcement) => {
            let name = &announcement.name;
            screen.system(format!(
                "Announced as {name} on the local network: others can {}.",
                how_to_connect(name, code)
            ));
            Some(announcement)
        }
        Err(e) => {
            screen.system(format!("Not announced on the local network: {e:#}."));
            None
        }
    }
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
pub(crate) fn shell_word(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// What waiting for the peer set going: a listening socket, the thread
/// taking the one peer and the chat's announcement; or, on a side that
/// connects, its trying, which stops when this is dropped.
pub(super) struct Approach {
    listening: Option<(connect::Waiting, JoinHandle<()>)>,
    announcement: Option<discovery::Announcement>,
    _stop_trying: Option<StopTrying>,
}

impl Approach {
    /// Listens for the peer, or starts connecting to it, on a thread that
    /// tells `events` once connected.
    pub(super) fn start(
        settings: &Settings,
        events: &Sender<Event>,
        screen: &Arc<Screen>,
    ) -> Result<Self> {
        let protection = settings.protection.clone();
        let thread_screen = screen.clone();
        match &settings.role {
            Role::Listen { host, port } => Self::listen(settings, host, *port, events, screen),
            Role::Connect { host, port, wait } => {
                let (host, port) = (host.clone(), *port);
                Self::connecting(*wait, events, move |trying| {
                    connect::connect(&host, port, &thread_screen, &protection, trying)
                })
            }
            Role::Find {
                name,
                may_be_host,
                wait,
            } => {
                let (name, may_be_host) = (name.clone(), *may_be_host);
                Self::connecting(*wait, events, move |trying| {
                    let screen = thread_screen;
                    if may_be_host && connect::resolves(&name, DEFAULT_PORT) {
                        return connect::connect(&name, DEFAULT_PORT, &screen, &protection, trying);
                    }
                    let mut said = false;
                    let still_looking = |others: &[String]| {
                        let patience = trying.patience();
                        let again = std::mem::replace(&mut said, true);
                        screen.system(match again {
                            false => still_looking(&name, others, patience),
                            true => announced_meanwhile(&name, others),
                        });
                    };
                    let (address, port) = discovery::find(&name, trying, still_looking)?;
                    screen.system(format!("Found {name} at {address} port {port}."));
                    connect::connect(&address.to_string(), port, &screen, &protection, trying)
                })
            }
        }
    }

    /// Connects on a thread of its own, trying as long as `wait` allows or
    /// until this is dropped.
    fn connecting(
        wait: Patience,
        events: &Sender<Event>,
        work: impl FnOnce(&Trying) -> Result<Established> + Send + 'static,
    ) -> Result<Self> {
        let (trying, stop) = Trying::start(wait);
        let events = events.clone();
        // Its trying stops once this is dropped, when the user leaves
        // first; a connection attempt or handshake under way cannot be
        // interrupted portably and ends within its own limit, so the thread
        // is not joined.
        spawn("connect", move || {
            let connected = work(&trying).map(Some);
            let _ = events.send(Event::Connected(connected));
        })?;
        Ok(Self {
            listening: None,
            announcement: None,
            _stop_trying: Some(stop),
        })
    }

    /// Binds, announces, and takes the one peer on a thread of its own.
    fn listen(
        settings: &Settings,
        host: &str,
        port: u16,
        events: &Sender<Event>,
        screen: &Arc<Screen>,
    ) -> Result<Self> {
        let waiting = connect::bind(host, port, screen)?;
        // Withdrawn once the one peer is in (or the wait ends).
        let announcement = announce(settings, waiting.port(), screen);
        if let (true, Protection::Encrypted { code: Some(code) }) =
            (settings.made_code, &settings.protection)
        {
            screen.system(format!(
                "Code for your peer: {code} (it connects with --code {code})"
            ));
        }
        let stopper = waiting.clone();
        let protection = settings.protection.clone();
        let (screen, events) = (screen.clone(), events.clone());
        let accepting = spawn("accept", move || {
            let _ = events.send(Event::Connected(waiting.accept(&screen, &protection)));
        })?;
        Ok(Self {
            listening: Some((stopper, accepting)),
            announcement,
            _stop_trying: None,
        })
    }

    /// Once the peer is in: the announcement is withdrawn and the thread
    /// that took the peer joined.
    pub(super) fn finish(self) -> Result<()> {
        drop(self.announcement);
        match self.listening {
            Some((_, accepting)) => join(accepting),
            None => Ok(()),
        }
    }

    /// The user left first: stops listening, or trying.
    pub(super) fn stop(self) -> Result<()> {
        match self.listening {
            Some((waiting, accepting)) => {
                waiting.stop();
                join(accepting)
            }
            None => Ok(()),
        }
    }
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
