//! Who the peer is to the user: a contact, recognised by the identity it
//! proved; a stranger; or a stranger passing for a contact (it calls itself
//! as a contact is called, with another identity). `/trust` makes the peer
//! a contact.

use std::sync::{Mutex, MutexGuard};

use crate::identity::PeerKey;
use crate::identity::contacts::{Contact, Contacts, ContactsError};

/// What the peer is to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A contact, by the identity it proved.
    Contact(Contact),
    /// Not a contact.
    Stranger,
    /// Not a contact, though it calls itself as these contacts are (or
    /// were) called: someone passing for them, or one of them with a new
    /// identity. Nothing it offers is taken without asking.
    Passing(Vec<Contact>),
}

/// The peer of one conversation as the user knows it.
#[derive(Debug)]
pub struct Acquaintance {
    key: PeerKey,
    /// The safety code of this connection, to compare when in doubt.
    code: String,
    /// Whether the peer is saved as a contact once it gives its name: a
    /// code proved it, and the user asked for that (`--trust`).
    trust_at_once: bool,
    contacts: Contacts,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    standing: Standing,
    /// The name the peer gave itself, once it did.
    name: Option<String>,
}

/// What the peer's name made of it.
#[derive(Debug)]
pub enum Introduced {
    /// Nothing new to tell.
    AsBefore,
    /// It calls itself as these contacts are (or were) called.
    Passing(Vec<Contact>),
    /// It was saved as a contact (`--trust`, with a code).
    Trusted(Trusted),
}

/// A peer made a contact by `/trust`.
#[derive(Debug)]
pub struct Trusted {
    pub contact: Contact,
    /// The contact of that name whose identity this one replaces.
    pub replaced: Option<Contact>,
}

/// Why `/trust` saved nothing.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the peer has not said its name yet; give one: /trust NAME")]
    NoName,
    #[error("say which member: /trust NAME")]
    WhichMember,
    #[error("nobody called {0} is in the room with an identity (the original wire has none)")]
    NoMember(String),
    #[error("{0}")]
    BadName(String),
    #[error(transparent)]
    Contacts(#[from] ContactsError),
}

impl Acquaintance {
    /// The peer that proved `key`, looked up in `contacts`. A contacts file
    /// that cannot be read makes it a stranger, and is said.
    pub fn meet(contacts: &Contacts, key: PeerKey, code: &str) -> (Self, Option<ContactsError>) {
        let (standing, trouble) = match contacts.by_key(&key) {
            Ok(Some(contact)) => (Standing::Contact(contact), None),
            Ok(None) => (Standing::Stranger, None),
            Err(e) => (Standing::Stranger, Some(e)),
        };
        let met = Self {
            key,
            code: code.to_string(),
            trust_at_once: false,
            contacts: contacts.clone(),
            state: Mutex::new(State {
                standing,
                name: None,
            }),
        };
        (met, trouble)
    }

    /// Saves the peer as a contact as soon as it gives its name, unless it
    /// passes for another contact.
    pub fn trusting_at_once(mut self) -> Self {
        self.trust_at_once = true;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn key(&self) -> PeerKey {
        self.key
    }

    pub fn safety_code(&self) -> &str {
        &self.code
    }

    pub fn standing(&self) -> Standing {
        self.state().standing.clone()
    }

    /// Whether what the peer offers must wait for the user, whatever its
    /// size: it passes for a contact it may not be.
    pub fn doubtful(&self) -> bool {
        matches!(self.state().standing, Standing::Passing(_))
    }

    /// The peer gave its name: a contact's new name for itself is noted,
    /// and a stranger that passes for a contact is found out.
    pub fn named(&self, name: &str, today: &str) -> Result<Introduced, TrustError> {
        let mut state = self.state();
        state.name = Some(name.to_string());
        match &state.standing {
            Standing::Contact(contact) if contact.calls_itself != name => {
                self.contacts.seen(&self.key, name)?;
                Ok(Introduced::AsBefore)
            }
            Standing::Contact(_) | Standing::Passing(_) => Ok(Introduced::AsBefore),
            Standing::Stranger => {
                let passing_for = self.contacts.passing_for(name)?;
                if !passing_for.is_empty() {
                    state.standing = Standing::Passing(passing_for.clone());
                    return Ok(Introduced::Passing(passing_for));
                }
                if !self.trust_at_once {
                    return Ok(Introduced::AsBefore);
                }
                let trusted = trust(&self.contacts, name, (self.key, name), today)?;
                state.standing = Standing::Contact(trusted.contact.clone());
                Ok(Introduced::Trusted(trusted))
            }
        }
    }

    /// Saves the peer as a contact called `name`, or by the name it gave
    /// itself. A contact of that name with another identity is replaced:
    /// the user says the new identity is theirs.
    pub fn trust(&self, name: Option<&str>, today: &str) -> Result<Trusted, TrustError> {
        let mut state = self.state();
        let calls_itself = state.name.clone();
        let name = name.or(calls_itself.as_deref()).ok_or(TrustError::NoName)?;
        let member = (self.key, calls_itself.as_deref().unwrap_or_default());
        let trusted = trust(&self.contacts, name, member, today)?;
        state.standing = Standing::Contact(trusted.contact.clone());
        Ok(trusted)
    }
}

/// Saves the identity `key` of one calling itself `calls_itself` as the
/// contact `name`; a contact of that name with another identity is
/// replaced.
pub fn trust(
    contacts: &Contacts,
    name: &str,
    (key, calls_itself): (PeerKey, &str),
    today: &str,
) -> Result<Trusted, TrustError> {
    let name = crate::wire::name::parse(name).map_err(TrustError::BadName)?;
    let replaced = contacts
        .by_name(&name)?
        .filter(|contact| contact.key != key);
    let contact = contacts.trust(Contact {
        name,
        key,
        since: today.to_string(),
        calls_itself: calls_itself.to_string(),
    })?;
    Ok(Trusted { contact, replaced })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn contacts(test: &str) -> Contacts {
        let folder = std::env::temp_dir().join(format!("chat-acq-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        Contacts::at(&folder)
    }

    fn key(secret: u8) -> PeerKey {
        Identity::from_secret(&[secret; 32]).public()
    }

    #[test]
    fn a_trusted_peer_is_a_contact_next_time() {
        let contacts = contacts("trusted");
        let (first, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        assert!(matches!(
            first.trust(None, "2026-12-07"),
            Err(TrustError::NoName)
        ));
        assert!(matches!(
            first.named("alice", "2026-12-07").unwrap(),
            Introduced::AsBefore
        ));
        let trusted = first.trust(None, "2026-12-07").unwrap();
        assert_eq!(trusted.contact.name, "alice");
        let (again, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        assert!(matches!(again.standing(), Standing::Contact(c) if c.since == "2026-12-07"));
    }

    #[test]
    fn another_identity_under_a_contacts_name_passes_for_it_until_trusted() {
        let contacts = contacts("passing");
        let (alice, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        alice.named("alice", "2026-12-07").unwrap();
        alice.trust(None, "2026-12-07").unwrap();
        let (other, _) = Acquaintance::meet(&contacts, key(2), "000-002");
        assert!(!other.doubtful());
        let Introduced::Passing(passing) = other.named("alice", "2026-12-08").unwrap() else {
            panic!("it passes for alice");
        };
        assert_eq!(passing[0].key, key(1));
        assert!(other.doubtful());
        let trusted = other.trust(None, "2026-12-08").unwrap();
        assert_eq!(trusted.replaced.map(|c| c.key), Some(key(1)));
        assert!(!other.doubtful());
        assert_eq!(contacts.list().unwrap().len(), 1);
    }

    #[test]
    fn a_contact_that_renamed_itself_is_still_known_and_its_new_name_noted() {
        let contacts = contacts("renamed");
        let (alice, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        alice.named("alice", "2026-12-07").unwrap();
        alice.trust(Some("Alice W"), "2026-12-07").unwrap();
        let (again, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        assert!(matches!(
            again.named("ally", "2026-12-07").unwrap(),
            Introduced::AsBefore
        ));
        assert_eq!(
            contacts.by_name("Alice W").unwrap().unwrap().calls_itself,
            "ally"
        );
    }
}
