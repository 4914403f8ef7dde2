//! The lines a room shows its host: the room open, who joined, who was
//! turned away and why, and who could not keep up.

use crate::files::size::bytes;
use crate::room::events::{Ignored, RoomEvent, Shut, Turned, Unheard, Unreachable};
use crate::session::acquaintance::Standing;

/// The line an event of the host's room shows.
/// Whether the line of `event` is a warning: a member passing for a
/// contact joined.
pub(super) fn warns(event: &RoomEvent) -> bool {
    matches!(
        event,
        RoomEvent::Joined {
            standing: Some(Standing::Passing(_)),
            ..
        }
    )
}

pub(super) fn line(event: RoomEvent) -> String {
    match event {
        RoomEvent::Hosting { max_peers, plain } => hosting(max_peers, plain),
        RoomEvent::TurnedAway { turned, earlier } => match earlier {
            0 => turned_away(&turned),
            n => format!(
                "{} ({n} more were turned away before it.)",
                turned_away(&turned)
            ),
        },
        // (The line a listener waiting for one peer shows too.)
        RoomEvent::WrongCode {
            address,
            nth,
            allowed,
        } => super::link::wrong_code(address, nth, allowed),
        RoomEvent::Shut(Shut::Guessed { allowed }) => format!(
            "{allowed} attempts with a wrong code: the room takes nobody new from now on, \
             since each one is a guess (those in it stay)."
        ),
        RoomEvent::Shut(Shut::ListenFailed(e)) => format!("The room takes nobody new: {e:#}."),
        RoomEvent::HostUnreachable(why) => match why {
            Unreachable::Split(e) => format!("The room cannot reach its host: {e}."),
            Unreachable::NoThread(e) => format!("The room cannot reach its host: {e:#}."),
        },
        RoomEvent::Joined {
            name,
            address,
            safety_code,
            standing,
        } => super::contacts::joined(&name, address, safety_code.as_deref(), standing.as_ref()),
        RoomEvent::Slowed { name } => {
            format!("{name} sends faster than the room allows; its messages are slowed down.")
        }
        RoomEvent::FellBehind { name, file } => {
            format!("{name} fell too far behind and was dropped from {file}.")
        }
        RoomEvent::Ignored { name, what } => match what {
            Ignored::MalformedHeader(why) => {
                format!("Ignored malformed file header from {name}: {why}")
            }
            Ignored::LineTooLong { len } => format!(
                "Dropped a line of {} from {name} (the limit is {}).",
                bytes(len),
                bytes(crate::wire::limits::MAX_LINE as u64)
            ),
        },
    }
}

/// How many the room takes, and how they join it.
fn hosting(max_peers: usize, plain: bool) -> String {
    let others = match max_peers {
        1 => "1 other".to_string(),
        n => format!("{n} others"),
    };
    let how = match plain {
        true => " --plain, the original chat or nc",
        false => "",
    };
    format!("Hosting a room for up to {others}: they join with `chat connect`{how}.")
}

/// Who was turned away, and why.
fn turned_away(turned: &Turned) -> String {
    match turned {
        Turned::Connection { address, why } => format!("Turned away {address}: {}.", unheard(why)),
        Turned::Knock { name, address, why } => {
            let who = name.as_deref().unwrap_or("a peer");
            format!("Turned away {who} ({address}): {why}.")
        }
    }
}

/// Why a connection was not heard out.
fn unheard(why: &Unheard) -> String {
    match why {
        Unheard::Crowded { limit } => format!("{limit} others are still in their handshake"),
        Unheard::CrowdedFrom { ip, limit } => {
            format!("{limit} others from {ip} are still in their handshake")
        }
        Unheard::Untracked(e) => e.to_string(),
        Unheard::NoThread(e) => e.to_string(),
        Unheard::Failed(why) => why.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::identity::contacts::Contact;
    use crate::room::events::Unwelcome;
    use crate::room::roster::Refusal;
    use crate::session::acquaintance::Standing;
    use std::net::SocketAddr;

    fn at(address: &str) -> SocketAddr {
        address.parse().unwrap()
    }

    #[test]
    fn the_room_open_says_how_many_and_how_they_join() {
        assert_eq!(
            line(RoomEvent::Hosting {
                max_peers: 1,
                plain: false
            }),
            "Hosting a room for up to 1 other: they join with `chat connect`."
        );
        assert_eq!(
            line(RoomEvent::Hosting {
                max_peers: 8,
                plain: true
            }),
            "Hosting a room for up to 8 others: they join with `chat connect` --plain, \
             the original chat or nc."
        );
    }

    #[test]
    fn a_join_shows_the_address_and_any_safety_code() {
        assert_eq!(
            line(RoomEvent::Joined {
                name: "bob".into(),
                address: at("127.0.0.1:5001"),
                safety_code: None,
                standing: None,
            }),
            "bob joined the room (127.0.0.1:5001)."
        );
        assert_eq!(
            line(RoomEvent::Joined {
                name: "bob".into(),
                address: at("127.0.0.1:5001"),
                safety_code: Some("1234 5678".into()),
                standing: Some(Standing::Stranger),
            }),
            "bob joined the room (127.0.0.1:5001). Safety code: 1234 5678 \
             (the same on bob's screen means nobody is in between)"
        );
    }

    #[test]
    fn a_contact_joins_as_known_and_one_passing_for_it_with_a_warning() {
        let contact = Contact {
            name: "Bob K".into(),
            key: Identity::from_secret(&[1; 32]).public(),
            since: "2026-12-07".into(),
            calls_itself: "bob".into(),
        };
        let joined = |standing| {
            line(RoomEvent::Joined {
                name: "bob".into(),
                address: at("127.0.0.1:5001"),
                safety_code: Some("123-456".into()),
                standing: Some(standing),
            })
        };
        assert_eq!(
            joined(Standing::Contact(contact.clone())),
            "bob joined the room (127.0.0.1:5001): Bob K — known since 2026-12-07, verified"
        );
        let warned = joined(Standing::Passing(vec![contact]));
        assert!(
            warned.contains("@@@ WARNING: it calls itself as your contact Bob K (known since")
                && warned.contains("whether its safety code is 123-456."),
            "{warned}"
        );
    }

    #[test]
    fn a_turned_away_line_names_whom_and_counts_those_left_out() {
        let crowded = Turned::Connection {
            address: at("10.0.0.7:40000"),
            why: Unheard::CrowdedFrom {
                ip: "10.0.0.7".parse().unwrap(),
                limit: 8,
            },
        };
        assert_eq!(
            line(RoomEvent::TurnedAway {
                turned: crowded,
                earlier: 3,
            }),
            "Turned away 10.0.0.7:40000: 8 others from 10.0.0.7 are still in their \
             handshake. (3 more were turned away before it.)"
        );
        let full = Turned::Knock {
            name: None,
            address: at("127.0.0.1:5002"),
            why: Unwelcome::Refused(Refusal::Full(1)),
        };
        assert_eq!(
            line(RoomEvent::TurnedAway {
                turned: full,
                earlier: 0,
            }),
            "Turned away a peer (127.0.0.1:5002): the room is full (it takes 1 member \
             besides its host)."
        );
        let closing = Turned::Knock {
            name: Some("carol".into()),
            address: at("127.0.0.1:5003"),
            why: Unwelcome::Closing,
        };
        assert_eq!(
            line(RoomEvent::TurnedAway {
                turned: closing,
                earlier: 0,
            }),
            "Turned away carol (127.0.0.1:5003): the room is closing."
        );
    }

    #[test]
    fn wrong_codes_close_the_room_to_newcomers() {
        assert_eq!(
            line(RoomEvent::WrongCode {
                address: at("127.0.0.1:5004"),
                nth: 2,
                allowed: 3,
            }),
            "Turned away 127.0.0.1:5004: the code did not match (2 of 3 attempts)."
        );
        assert_eq!(
            line(RoomEvent::Shut(Shut::Guessed { allowed: 3 })),
            "3 attempts with a wrong code: the room takes nobody new from now on, since \
             each one is a guess (those in it stay)."
        );
    }

    #[test]
    fn members_that_cannot_keep_up_are_named() {
        assert_eq!(
            line(RoomEvent::Slowed {
                name: "flood".into()
            }),
            "flood sends faster than the room allows; its messages are slowed down."
        );
        assert_eq!(
            line(RoomEvent::FellBehind {
                name: "slow".into(),
                file: "big.bin".into()
            }),
            "slow fell too far behind and was dropped from big.bin."
        );
        assert_eq!(
            line(RoomEvent::Ignored {
                name: "guest2".into(),
                what: Ignored::MalformedHeader("size \"-5\" is not a number".into())
            }),
            "Ignored malformed file header from guest2: size \"-5\" is not a number"
        );
    }
}
