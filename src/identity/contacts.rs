//! The contacts: peers the user chose to remember, each by the identity
//! key it proved, with the name the user knows it by. Kept in `contacts`
//! in the user's chat folder, changed whole under a lock, so that two chats
//! saving at once lose nothing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::PeerKey;

/// The file's name in the chat folder.
pub const FILE_NAME: &str = "contacts";

/// The largest contacts file read: some hundred thousand contacts.
const MAX_FILE: u64 = 64 << 20;

/// A peer the user trusts with the key it proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The name the user knows the peer by; unique among contacts.
    pub name: String,
    pub key: PeerKey,
    /// The day it was first trusted, as `2026-12-07`.
    pub since: String,
    /// The name the peer last gave itself, which it may change.
    pub calls_itself: String,
}

/// Why the contacts cannot be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    #[error("cannot read the contacts {}: {error}", path.display())]
    Unreadable { path: PathBuf, error: io::Error },
    #[error("the contacts {} are damaged ({why}); nothing was changed", path.display())]
    Damaged { path: PathBuf, why: String },
    #[error("cannot save the contacts {}: {error}", path.display())]
    Unsaved { path: PathBuf, error: io::Error },
    #[error("no contact is called {0:?}")]
    Unknown(String),
    #[error("another contact is called {0:?} already")]
    Taken(String),
}

/// The contacts file of one chat folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contacts {
    folder: PathBuf,
}

impl Contacts {
    pub fn at(folder: &Path) -> Self {
        Self {
            folder: folder.to_path_buf(),
        }
    }

    fn path(&self) -> PathBuf {
        self.folder.join(FILE_NAME)
    }

    /// Every contact, in the order they were saved.
    pub fn list(&self) -> Result<Vec<Contact>, ContactsError> {
        let path = self.path();
        let text = match read_limited(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(ContactsError::Unreadable { path, error }),
        };
        parse(&text).map_err(|why| ContactsError::Damaged { path, why })
    }

    /// The contact with this key.
    pub fn by_key(&self, key: &PeerKey) -> Result<Option<Contact>, ContactsError> {
        Ok(self.list()?.into_iter().find(|c| c.key == *key))
    }

    /// The contact the user calls `name` (in any case).
    pub fn by_name(&self, name: &str) -> Result<Option<Contact>, ContactsError> {
        Ok(self.list()?.into_iter().find(|c| same_name(&c.name, name)))
    }

    /// The contacts a peer calling itself `name` might pass for: those the
    /// user calls so, or that called themselves so (in any case).
    pub fn passing_for(&self, name: &str) -> Result<Vec<Contact>, ContactsError> {
        let mut list = self.list()?;
        list.retain(|c| same_name(&c.name, name) || same_name(&c.calls_itself, name));
        Ok(list)
    }

    /// Saves `contact`, replacing any contact of the same key, and any of
    /// the same name (whose key changed: the user said to trust the new
    /// one). Keeps the first day a key was trusted.
    pub fn trust(&self, mut contact: Contact) -> Result<Contact, ContactsError> {
        self.change(|list| {
            if let Some(old) = list.iter().find(|c| c.key == contact.key) {
                contact.since.clone_from(&old.since);
            }
            list.retain(|c| c.key != contact.key && !same_name(&c.name, &contact.name));
            list.push(contact.clone());
            Ok(contact)
        })
    }

    /// Notes the name a contact now gives itself.
    pub fn seen(&self, key: &PeerKey, calls_itself: &str) -> Result<(), ContactsError> {
        self.change(|list| {
            for contact in list.iter_mut().filter(|c| c.key == *key) {
                contact.calls_itself = calls_itself.to_string();
            }
            Ok(())
        })
    }

    /// Renames the contact called `old`.
    pub fn rename(&self, old: &str, new: &str) -> Result<Contact, ContactsError> {
        self.change(|list| {
            let taken = |c: &&Contact| same_name(&c.name, new) && !same_name(&c.name, old);
            if list.iter().any(|c| taken(&c)) {
                return Err(ContactsError::Taken(new.to_string()));
            }
            let contact = list
                .iter_mut()
                .find(|c| same_name(&c.name, old))
                .ok_or_else(|| ContactsError::Unknown(old.to_string()))?;
            contact.name = new.to_string();
            Ok(contact.clone())
        })
    }

    /// Forgets the contact called `name`.
    pub fn forget(&self, name: &str) -> Result<Contact, ContactsError> {
        self.change(|list| {
            let at = list
                .iter()
                .position(|c| same_name(&c.name, name))
                .ok_or_else(|| ContactsError::Unknown(name.to_string()))?;
            Ok(list.remove(at))
        })
    }

    /// Reads the list, changes it with `edit` and saves it whole (written
    /// aside, then renamed over the old), all under the folder's lock.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Vec<Contact>) -> Result<T, ContactsError>,
    ) -> Result<T, ContactsError> {
        let path = self.path();
        let unsaved = |error| ContactsError::Unsaved {
            path: path.clone(),
            error,
        };
        fs::create_dir_all(&self.folder).map_err(unsaved)?;
        let _lock = lock(&self.folder.join(".contacts.lock")).map_err(unsaved)?;
        let mut list = self.list()?;
        let done = edit(&mut list)?;
        let aside = self.folder.join(".contacts.new");
        write_private(&aside, format(&list).as_bytes()).map_err(unsaved)?;
        fs::rename(&aside, &path).map_err(unsaved)?;
        Ok(done)
    }
}

/// Whether two names are one contact's: names are told apart as a room
/// tells them (PROTOCOL.md 3.6), in any case and by look-alike letters.
pub fn same_name(a: &str, b: &str) -> bool {
    crate::wire::name::looks_alike(a, b)
}

/// Holds `path` locked (`flock`) until the file returned is dropped.
fn lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(file)
}

fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    File::open(path)?.take(MAX_FILE).read_to_end(&mut text)?;
    Ok(text)
}

/// Writes `bytes` to a new file at `path`, readable by its owner only;
/// whatever was there (a link included) is removed first, never followed.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The file's text: one JSON object, `{"contacts": [...]}`.
pub fn format(list: &[Contact]) -> String {
    let contacts: Vec<Value> = list
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "key": c.key.to_hex(),
                "since": c.since,
                "calls_itself": c.calls_itself,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "contacts": contacts }))
        .expect("JSON values always print");
    text.push('\n');
    text
}

/// What [`format`] writes.
pub fn parse(text: &[u8]) -> Result<Vec<Contact>, String> {
    let value: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let list = value
        .get("contacts")
        .and_then(Value::as_array)
        .ok_or("no list of contacts")?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            contact(entry).ok_or_else(|| format!("contact {} is not readable", i + 1))
        })
        .collect()
}

fn contact(entry: &Value) -> Option<Contact> {
    let text = |field| entry.get(field).and_then(Value::as_str).map(str::to_string);
    let a_name = |name: &String| crate::wire::name::parse(name).as_deref() == Ok(name);
    let a_day = |day: &String| {
        day.len() == 10 && chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
    };
    Some(Contact {
        name: text("name").filter(a_name)?,
        key: PeerKey::from_hex(&text("key")?)?,
        since: text("since").filter(a_day)?,
        calls_itself: text("calls_itself").filter(|n| n.is_empty() || a_name(n))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn contact(name: &str, secret: u8) -> Contact {
        Contact {
            name: name.into(),
            key: Identity::from_secret(&[secret; 32]).public(),
            since: "2026-12-07".into(),
            calls_itself: name.into(),
        }
    }

    fn folder(test: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("chat-contacts-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        path
    }

    #[test]
    fn contacts_are_saved_renamed_and_forgotten() {
        let path = folder("round");
        let contacts = Contacts::at(&path);
        assert_eq!(contacts.list().unwrap(), vec![]);
        contacts.trust(contact("alice", 1)).unwrap();
        contacts.trust(contact("bob", 2)).unwrap();
        assert_eq!(
            contacts
                .by_key(&contact("bob", 2).key)
                .unwrap()
                .unwrap()
                .name,
            "bob"
        );
        contacts.rename("alice", "Alice W").unwrap();
        assert!(matches!(
            contacts.rename("bob", "Alice W"),
            Err(ContactsError::Taken(_))
        ));
        assert_eq!(contacts.forget("bob").unwrap().name, "bob");
        assert!(matches!(
            contacts.forget("bob"),
            Err(ContactsError::Unknown(_))
        ));
        let names: Vec<String> = contacts
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Alice W"]);
        let _ = fs::remove_dir_all(&path);
    }

    #[test]
    fn trusting_a_new_key_under_a_known_name_replaces_the_old_key() {
        let path = folder("replace");
        let contacts = Contacts::at(&path);
        contacts.trust(contact("alice", 1)).unwrap();
        contacts.trust(contact("alice", 3)).unwrap();
        assert_eq!(contacts.list().unwrap(), vec![contact("alice", 3)]);
        let _ = fs::remove_dir_all(&path);
    }

    #[test]
    fn a_name_that_looks_like_a_contacts_passes_for_it() {
        let path = folder("alike");
        let contacts = Contacts::at(&path);
        contacts.trust(contact("alice", 1)).unwrap();
        for alike in ["ALICE", "Alice", "aIice"] {
            assert_eq!(contacts.passing_for(alike).unwrap().len(), 1, "{alike}");
            assert!(contacts.by_name(alike).unwrap().is_some(), "{alike}");
        }
        assert!(contacts.passing_for("alina").unwrap().is_empty());
        // No second contact may look like the first.
        contacts.trust(contact("bob", 2)).unwrap();
        assert!(matches!(
            contacts.rename("bob", "ALICE"),
            Err(ContactsError::Taken(_))
        ));
        let _ = fs::remove_dir_all(&path);
    }

    #[test]
    fn a_link_in_the_way_of_the_new_file_is_never_followed() {
        let path = folder("link");
        fs::create_dir_all(&path).unwrap();
        let victim = path.join("victim.txt");
        fs::write(&victim, b"untouched").unwrap();
        std::os::unix::fs::symlink(&victim, path.join(".contacts.new")).unwrap();
        Contacts::at(&path).trust(contact("alice", 1)).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        let saved = fs::symlink_metadata(path.join(FILE_NAME)).unwrap();
        assert!(saved.file_type().is_file());
        let _ = fs::remove_dir_all(&path);
    }

    #[test]
    fn damaged_files_are_said_and_left_alone() {
        let path = folder("damaged");
        fs::create_dir_all(&path).unwrap();
        fs::write(path.join(FILE_NAME), b"{\"contacts\": [{\"name\": 1}]}").unwrap();
        let contacts = Contacts::at(&path);
        assert!(matches!(
            contacts.list(),
            Err(ContactsError::Damaged { .. })
        ));
        assert!(contacts.trust(contact("bob", 2)).is_err());
        assert_eq!(
            fs::read(path.join(FILE_NAME)).unwrap(),
            b"{\"contacts\": [{\"name\": 1}]}"
        );
        let _ = fs::remove_dir_all(&path);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse(&text);
        }

        #[test]
        fn a_list_round_trips(secrets in proptest::collection::vec(1u8..200, 0..5)) {
            let list: Vec<Contact> = secrets.iter().map(|s| contact(&format!("n{s}"), *s)).collect();
            proptest::prop_assert_eq!(parse(format(&list).as_bytes()).unwrap(), list);
        }
    }
}
