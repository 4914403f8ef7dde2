//! Who a user is across conversations: the long-term key pair kept in the
//! user's data folder, the peer keys others prove in the handshake, and the
//! contacts remembered by key (PROTOCOL.md §3.2, "Identities").

pub mod contacts;
pub mod file;
pub mod home;
mod key;

pub use self::key::{Fingerprint, Identity, PeerKey, SIGNATURE_LEN};

use std::path::{Path, PathBuf};

use self::contacts::Contacts;
use self::file::IdentityError;

/// The user as this chat knows it: the identity it proves, and its
/// contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub identity: Identity,
    pub contacts: Contacts,
    /// Where the identity was made just now, on first use.
    pub made: Option<PathBuf>,
}

impl Me {
    /// The user of the folder the environment names ([`home::from_env`]).
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self::load(&home::from_env()?)?)
    }

    /// The user whose chat folder is `folder`, made there on first use.
    pub fn load(folder: &Path) -> Result<Self, IdentityError> {
        let loaded = file::load_or_make(folder)?;
        Ok(Self {
            identity: loaded.identity,
            contacts: Contacts::at(folder),
            made: loaded.made.then_some(loaded.path),
        })
    }

    /// A user for tests, whose secret key is `secret` repeated and whose
    /// contacts are in a folder of its own under the system's temporary one.
    #[cfg(test)]
    pub fn for_tests(secret: u8) -> Self {
        let folder = std::env::temp_dir().join(format!("chat-me-{secret}-{}", std::process::id()));
        Self {
            identity: Identity::from_secret(&[secret; 32]),
            contacts: Contacts::at(&folder),
            made: None,
        }
    }
}
