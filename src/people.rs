//! `chat id` and `chat contacts`: the user's identity and contacts, shown
//! and changed without a peer.

use std::io::{self, Write};

use anyhow::{Context, Result};

use crate::cli::ContactsChange;
use crate::identity::contacts::Contact;
use crate::identity::{Me, home};

/// Prints the identity's fingerprint, and where it is kept; makes it on
/// first use.
pub fn id() -> Result<()> {
    let folder = home::from_env()?;
    let me = Me::load(&folder)?;
    let fingerprint = me.identity.public().fingerprint();
    let path = folder.join(crate::identity::file::FILE_NAME);
    let made = match me.made {
        Some(_) => "Made a new identity. ",
        None => "",
    };
    print(&format!(
        "Your identity: {fingerprint}\n\
         {made}It is kept in {}: keep it private, and back it up to stay the same person \
         on another machine.\n",
        path.display()
    ))
}

/// Lists the contacts, or makes the change asked for.
pub fn contacts(change: Option<ContactsChange>) -> Result<()> {
    let folder = home::from_env()?;
    let contacts = crate::identity::contacts::Contacts::at(&folder);
    let text = match change {
        None => {
            let list = contacts.list()?;
            match list.is_empty() {
                true => "No contacts yet: in a chat, once the safety code matched on both \
                         screens, /trust saves the peer.\n"
                    .to_string(),
                false => list.iter().map(|c| listed(c) + "\n").collect(),
            }
        }
        Some(ContactsChange::Rename { old, new }) => {
            let contact = contacts.rename(&old, &new)?;
            format!("Renamed {old} to {}.\n", contact.name)
        }
        Some(ContactsChange::Forget { name }) => {
            let contact = contacts.forget(&name)?;
            format!(
                "Forgot {} (known since {}): next time it is a stranger.\n",
                contact.name, contact.since
            )
        }
    };
    print(&text)
}

/// One contact's line: the name the user gave it, since when, its
/// identity, and the name it gives itself when another.
fn listed(contact: &Contact) -> String {
    let calls_itself = match contact.calls_itself.as_str() {
        name if name == contact.name || name.is_empty() => String::new(),
        name => format!(" (calls itself {name})"),
    };
    format!(
        "{} — known since {}, verified — identity {}{calls_itself}",
        contact.name,
        contact.since,
        contact.key.fingerprint()
    )
}

/// Prints `text`, made safe for the terminal: names came from peers.
fn print(text: &str) -> Result<()> {
    let text: String = text
        .lines()
        .map(|line| crate::wire::sanitize::for_terminal(line.as_bytes()) + "\n")
        .collect();
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("cannot print"),
        _ => Ok(()),
    }
}
