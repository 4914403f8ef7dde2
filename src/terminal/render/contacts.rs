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
    let known: Vec<String> = contacts
        .iter()
        .map(|c| format!("{} (known since {})", c.name, c.since))
        .collect();
    screen.system("@@@ WARNING: THIS IS NOT THE IDENTITY YOU KNOW @@@");
    screen.system(format!(
        "The peer calls itself {name}, as your contact {} — but it proved another \
         identity than the one you trusted.",
        known.join(", ")
    ));
    screen.system(
        "Someone may be passing for your contact, or your contact made a new identity \
         (a new machine, a lost file). Nothing it offers is taken without asking.",
    );
    screen.system(format!(
        "Compare the safety code {code} with your contact by another way (in person, a call): \
         if it matches, /trust keeps the new identity; otherwise /quit."
    ));
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
    format!("Contacts: {e}")
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
            "{name} joined the room ({address}). WARNING: it is not the identity of your \
             contact {} (known since {}): someone may pass for it. {}",
            contacts[0].name,
            contacts[0].since,
            code_note(code)
        ),
        (_, Some(code)) => format!("{name} joined the room ({address}). {}", code_note(code)),
        (_, None) => format!("{name} joined the room ({address})."),
    }
}
