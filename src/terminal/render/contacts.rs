//! The lines about who the peer is: a contact recognised, a stranger
//! passing for a contact (the warning nobody may miss), and `/trust`.

use crate::identity::contacts::{Contact, ContactsError};
use crate::session::acquaintance::{Standing, TrustError, Trusted};
use crate::terminal::screen::Screen;

/// How a contact is recognised, right after the connected line.
pub(super) fn known(contact: &Contact) -> String {
    format!(
        "Encrypted. {} — known since {}, verified",
        contact.name, contact.since
    )
}

/// The warning for a stranger calling itself `name` as `contacts` are
/// called, as SSH warns of a changed host key: several lines, in capitals
/// first, each saying what to do.
pub(super) fn passing_for(screen: &Screen, name: &str, contacts: &[Contact], code: &str) {
    screen.warning("@@@ WARNING: THIS IS NOT THE IDENTITY YOU KNOW @@@");
    screen.warning(format!(
        "The peer calls itself {name}, as {} — but it proved another identity than the one \
         you trusted.",
        as_contacts(contacts)
    ));
    screen.warning(
        "Someone may be passing for your contact, or your contact made a new identity \
         (a new machine, a lost file). Nothing it offers is taken without asking.",
    );
    let trust = match contacts {
        [one] => format!("/trust gives {} this new identity", one.name),
        _ => "/trust NAME gives the contact NAME this new identity".to_string(),
    };
    screen.warning(format!(
        "Ask your contact by another way (in person, a call) whether its safety code is \
         {code} (/code shows it again): if it is, {trust}; otherwise /quit."
    ));
}

/// `your contact bob (known since …)`, or several of them.
fn as_contacts(contacts: &[Contact]) -> String {
    let each: Vec<String> = contacts
        .iter()
        .map(|c| format!("{} (known since {})", c.name, c.since))
        .collect();
    match each.as_slice() {
        [one] => format!("your contact {one}"),
        [rest @ .., last] => format!("your contacts {} and {last}", rest.join(", ")),
        [] => "a contact".to_string(),
    }
}

/// `/trust` saved the peer.
pub(super) fn trusted(trusted: &Trusted) -> String {
    let contact = &trusted.contact;
    match &trusted.replaced {
        Some(old) => format!(
            "Saved {} as a contact with its new identity (the one known since {} is forgotten).",
            contact.name, old.since
        ),
        None => format!(
            "Saved {} as a contact: next time it is recognised by its identity, with no code \
             to compare.",
            contact.name
        ),
    }
}

pub(super) fn not_trusted(why: &TrustError) -> String {
    format!("Not saved as a contact: {why}")
}

pub(super) const NO_IDENTITY: &str =
    "The original wire (--plain) proves no identity: there is nobody to trust.";

pub(super) fn trouble(e: &ContactsError) -> String {
    format!(
        "Contacts: {e}. Until the file is mended (or moved away, which forgets every \
         contact), contacts are shown as strangers."
    )
}

/// A member's line as it joins a room the user hosts: a contact is named
/// as one; a stranger passing for a contact is warned of; anyone else
/// comes with the safety code to compare.
pub(super) fn joined(
    name: &str,
    address: std::net::SocketAddr,
    code: Option<&str>,
    standing: Option<&Standing>,
) -> String {
    let code_note = |code: &str| {
        format!("Safety code: {code} (the same on {name}'s screen means nobody is in between)")
    };
    match (standing, code) {
        (Some(Standing::Contact(contact)), _) => format!(
            "{name} joined the room ({address}): {} — known since {}, verified",
            contact.name, contact.since
        ),
        (Some(Standing::Passing(contacts)), Some(code)) => format!(
            "{name} joined the room ({address}). @@@ WARNING: it calls itself as {} does, \
             but it is not the identity you trusted: someone may pass for it, and what it \
             sends waits for /accept. Ask your contact by another way whether its safety code \
             is {code}.",
            as_contacts(contacts)
        ),
        (_, Some(code)) => format!("{name} joined the room ({address}). {}", code_note(code)),
        (_, None) => format!("{name} joined the room ({address})."),
    }
}
