//! Connecting to a chat by the name it announces on the local network;
//! for a contact, only to a chat that proves the contact's identity, each
//! one that does not shown as an impostor.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Result, anyhow};

use crate::identity::contacts::{Contact, same_name};
use crate::net::connect::{self, DEFAULT_PORT, Established, Impostor};
use crate::net::discovery;
use crate::net::events::LinkEvent;
use crate::net::patience::Trying;
use crate::net::secure::Protection;
use crate::settings::Settings;

/// The contact the user calls `name`: the one of exactly that name, else
/// the one whose name it looks like (in any case). Contacts that cannot be
/// read fail: a contact could not be told from an impostor.
pub(super) fn contact_called(settings: &Settings, name: &str) -> Result<Option<Contact>> {
    let Some(me) = settings.me.as_ref() else {
        return Ok(None);
    };
    let list = me.contacts.list().map_err(|e| {
        anyhow!("{e}: a contact could not be told from an impostor; mend or move the file")
    })?;
    if let Some(exact) = list.iter().find(|c| c.name == name) {
        return Ok(Some(exact.clone()));
    }
    let mut alike = list.into_iter().filter(|c| same_name(&c.name, name));
    match (alike.next(), alike.next()) {
        (Some(one), None) => Ok(Some(one)),
        (None, _) => Ok(None),
        (Some(one), Some(other)) => Err(anyhow!(
            "{name} looks like two of your contacts, {} and {}: give the name exactly",
            one.name,
            other.name
        )),
    }
}

/// What a step of finding reports.
type Report<'r> = &'r (dyn Fn(LinkEvent<'_>) + Sync);

/// Connects to the chat called `name`, or to the host of that name when
/// `may_be_host` and it resolves; to `contact` only, when the name is a
/// contact's.
pub(super) fn connect(
    name: &str,
    may_be_host: bool,
    contact: Option<&Contact>,
    protection: &Protection,
    report: Report<'_>,
    trying: &Trying,
) -> Result<Established> {
    let Some(contact) = contact else {
        if may_be_host && connect::resolves(name, DEFAULT_PORT) {
            return connect::connect(name, DEFAULT_PORT, report, protection, trying);
        }
        let (address, port) = discovery::find(name, trying, still_looking(name, report, trying))?;
        report(LinkEvent::Found {
            name,
            address,
            port,
        });
        return connect::connect(&address.to_string(), port, report, protection, trying);
    };
    let protection = protection.expecting(contact.key);
    if may_be_host && connect::resolves(name, DEFAULT_PORT) {
        return connect::connect(name, DEFAULT_PORT, report, &protection, trying);
    }
    // It announces the name it gives itself, which the user may call
    // otherwise.
    let announced = match contact.calls_itself.as_str() {
        "" => contact.name.as_str(),
        theirs => theirs,
    };
    let found = discovery::find_every(announced, trying, still_looking(announced, report, trying))?;
    let mut impostors = 0;
    for (address, port) in &found {
        let (address, port) = (*address, *port);
        // Each try may take a whole handshake's time: the wait bounds all.
        if trying.stopped() || trying.left() == Some(std::time::Duration::ZERO) {
            break;
        }
        report(LinkEvent::Found {
            name: announced,
            address,
            port,
        });
        match connect::connect(&address.to_string(), port, report, &protection, trying) {
            Ok(established) => return Ok(established),
            Err(e) => match e.downcast_ref::<Impostor>() {
                Some(impostor) => {
                    impostors += 1;
                    report(LinkEvent::Impostor {
                        name: &contact.name,
                        address: SocketAddr::new(address, port),
                        proved: impostor.proved.fingerprint(),
                    });
                }
                None if found.len() == 1 => return Err(e),
                None => report(LinkEvent::NotReached {
                    name: announced,
                    address: SocketAddr::new(address, port),
                    why: &e,
                }),
            },
        }
    }
    Err(not_found(contact, announced, &found, impostors))
}

/// Why no chat of those `found` is the contact.
fn not_found(
    contact: &Contact,
    announced: &str,
    found: &[(IpAddr, u16)],
    impostors: usize,
) -> anyhow::Error {
    let name = &contact.name;
    match (found.len(), impostors) {
        (0, _) => anyhow!(
            "your contact {name} (announced as {announced}) is not on this network; \
             `chat peers` lists the chats that are, or connect with HOST PORT"
        ),
        (_, 0) => anyhow!("no chat announced as {announced} could be reached"),
        (_, n) => anyhow!(
            "no chat on this network proves to be your contact {name}: {n} announced as \
             {announced} with another identity"
        ),
    }
}

/// What is said while a name is looked for: the names answering instead,
/// once when looking starts and once more when some first answer.
fn still_looking<'a>(
    name: &'a str,
    report: Report<'a>,
    trying: &'a Trying,
) -> impl FnMut(&[String]) + 'a {
    let mut said = false;
    move |others: &[String]| {
        let patience = trying.patience();
        report(match std::mem::replace(&mut said, true) {
            false => LinkEvent::StillLooking {
                name,
                others,
                patience,
            },
            true => LinkEvent::AnnouncedMeanwhile { name, others },
        });
    }
}
