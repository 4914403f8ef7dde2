//! Who the peer is to the user: a contact, recognised by the identity it
//! proved; a stranger; or a stranger passing for a contact (it calls itself
//! as a contact is called, with another identity). `/trust` makes the peer
//! a contact.

use std::sync::{Mutex, MutexGuard};

use crate::identity::PeerKey;
use crate::identity::contacts::{Contact, Contacts, ContactsError, same_name};

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
    #[error(
        "it is your contact already, as {} (known since {}); `chat contacts rename` renames it",
        .0.name, .0.since
    )]
    Already(Contact),
    #[error(
        "another contact is called {} (known since {}), with another identity; \
         choose another name: /trust NAME",
        .0.name, .0.since
    )]
    Taken(Contact),
    #[error(
        "it calls itself as several contacts are called ({0}); say which one it is: /trust NAME"
    )]
    WhichOne(String),
    #[error("in a room, /trust saves its host, {0}; meet a member alone to save it")]
    OnlyHost(String),
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
                let trusted = trust(&self.contacts, name, (self.key, name), today, None)?;
                state.standing = Standing::Contact(trusted.contact.clone());
                Ok(Introduced::Trusted(trusted))
            }
        }
    }

    /// Saves the peer as a contact called `name`, or by the name it gave
    /// itself. One passing for a contact replaces that contact's identity:
    /// the user says the new identity is theirs. `host_of_room`: the peer
    /// is the host of a room we are in, which alone `/trust` saves.
    pub fn trust(
        &self,
        name: Option<&str>,
        today: &str,
        host_of_room: bool,
    ) -> Result<Trusted, TrustError> {
        let mut state = self.state();
        let calls_itself = state.name.clone().ok_or(TrustError::NoName)?;
        if let (true, Some(name)) = (host_of_room, name)
            && !same_name(name, &calls_itself)
        {
            return Err(TrustError::OnlyHost(calls_itself));
        }
        let replacing = match (&state.standing, name) {
            (Standing::Contact(contact), _) => return Err(TrustError::Already(contact.clone())),
            (Standing::Stranger, _) => None,
            (Standing::Passing(contacts), None) => match contacts.as_slice() {
                [one] => Some(one.clone()),
                several => {
                    let names: Vec<&str> = several.iter().map(|c| c.name.as_str()).collect();
                    return Err(TrustError::WhichOne(names.join(", ")));
                }
            },
            (Standing::Passing(contacts), Some(name)) => {
                contacts.iter().find(|c| same_name(&c.name, name)).cloned()
            }
        };
        let name = match (&replacing, name) {
            (Some(contact), _) => contact.name.as_str(),
            (None, name) => name.unwrap_or(&calls_itself),
        };
        let peer = (self.key, calls_itself.as_str());
        let trusted = trust(&self.contacts, name, peer, today, replacing.as_ref())?;
        state.standing = Standing::Contact(trusted.contact.clone());
        Ok(trusted)
    }
}

/// Saves the identity `key` of one calling itself `calls_itself` as the
/// contact `name`, in place of the contact `replacing` (whose identity the
/// user says changed); an identity saved already, or a name another
/// contact has, is refused.
pub fn trust(
    contacts: &Contacts,
    name: &str,
    (key, calls_itself): (PeerKey, &str),
    today: &str,
    replacing: Option<&Contact>,
) -> Result<Trusted, TrustError> {
    let name = crate::wire::name::parse(name).map_err(TrustError::BadName)?;
    if let Some(known) = contacts.by_key(&key)? {
        return Err(TrustError::Already(known));
    }
    let replaced = contacts.by_name(&name)?;
    if let Some(other) = &replaced
        && replacing.is_none_or(|r| r.key != other.key)
    {
        return Err(TrustError::Taken(other.clone()));
    }
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
            first.trust(None, "2026-12-07", false),
            Err(TrustError::NoName)
        ));
        assert!(matches!(
            first.named("alice", "2026-12-07").unwrap(),
            Introduced::AsBefore
        ));
        let trusted = first.trust(None, "2026-12-07", false).unwrap();
        assert_eq!(trusted.contact.name, "alice");
        let (again, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        assert!(matches!(again.standing(), Standing::Contact(c) if c.since == "2026-12-07"));
    }

    #[test]
    fn another_identity_under_a_contacts_name_passes_for_it_until_trusted() {
        let contacts = contacts("passing");
        let (alice, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        alice.named("alice", "2026-12-07").unwrap();
        alice.trust(None, "2026-12-07", false).unwrap();
        let (other, _) = Acquaintance::meet(&contacts, key(2), "000-002");
        assert!(!other.doubtful());
        let Introduced::Passing(passing) = other.named("alice", "2026-12-08").unwrap() else {
            panic!("it passes for alice");
        };
        assert_eq!(passing[0].key, key(1));
        assert!(other.doubtful());
        let trusted = other.trust(None, "2026-12-08", false).unwrap();
        assert_eq!(trusted.replaced.map(|c| c.key), Some(key(1)));
        assert!(!other.doubtful());
        assert_eq!(contacts.list().unwrap().len(), 1);
    }

    #[test]
    fn trust_never_overwrites_another_contact_and_says_why() {
        let contacts = contacts("refusals");
        let met = |secret, name: &str| {
            let (met, _) = Acquaintance::meet(&contacts, key(secret), "000-000");
            met.named(name, "2026-12-07").unwrap();
            met
        };
        met(1, "dave").trust(None, "2026-12-07", false).unwrap();
        met(2, "bob").trust(None, "2026-12-07", false).unwrap();
        // Eve may not take dave's name, in any case.
        let eve = met(3, "eve");
        assert!(
            matches!(eve.trust(Some("DAVE"), "d", false), Err(TrustError::Taken(c)) if c.name == "dave")
        );
        // A contact already is not saved twice.
        assert!(matches!(
            met(1, "dave").trust(None, "d", false),
            Err(TrustError::Already(_))
        ));
        // In a room, only its host.
        assert!(
            matches!(eve.trust(Some("bob"), "d", true), Err(TrustError::OnlyHost(h)) if h == "eve")
        );
        // One passing for bob replaces bob alone, even under another name.
        let new_bob = met(4, "BOB");
        assert!(new_bob.doubtful());
        let trusted = new_bob.trust(None, "2026-12-08", false).unwrap();
        assert_eq!(trusted.contact.name, "bob");
        assert_eq!(trusted.replaced.map(|c| c.key), Some(key(2)));
        let names: Vec<String> = contacts
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["dave", "bob"]);
    }

    #[test]
    fn a_contact_that_renamed_itself_is_still_known_and_its_new_name_noted() {
        let contacts = contacts("renamed");
        let (alice, _) = Acquaintance::meet(&contacts, key(1), "000-001");
        alice.named("alice", "2026-12-07").unwrap();
        alice.trust(Some("Alice W"), "2026-12-07", false).unwrap();
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
