//! The lines about who the peer is: a contact recognised, a stranger
//! passing for a contact (the warning nobody may miss), and `/trust`.

use crate::identity::contacts::{Contact, ContactsError};
use crate::session::acquaintance::{TrustError, Trusted};
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
