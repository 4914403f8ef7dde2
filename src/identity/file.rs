//! The identity file, `identity` in the user's chat folder: made once, on
//! first use, readable by its owner only; read on each start, and never
//! replaced silently when it cannot be read.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Identity;
use super::key::hex32;

/// The file's name in the chat folder.
pub const FILE_NAME: &str = "identity";

/// What starts the one line that holds the key.
const KEY_PREFIX: &str = "chat-identity/1 ed25519 ";

const HEADER: &str = "\
# chat identity: the private key that proves to your contacts that you are you.
# Anyone who has this file can pass for you; keep it to yourself.
";

/// Why the identity cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the identity {}: {error}", path.display())]
    Unreadable { path: PathBuf, error: io::Error },
    #[error(
        "the identity {} is damaged ({why}); restore it from your backup, or move it \
         away to make a new one, which your contacts will see as a changed identity",
        path.display()
    )]
    Damaged { path: PathBuf, why: &'static str },
    #[error(
        "the identity {} can be read by other users (mode {mode:04o}); \
         run `chmod 600 {}` if nobody else took it",
        path.display(),
        path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot save a new identity in {}: {error}", path.display())]
    Unsaved { path: PathBuf, error: io::Error },
}

/// An identity and whether it was made just now.
pub struct Loaded {
    pub identity: Identity,
    pub made: bool,
    pub path: PathBuf,
}

/// Reads the identity in `folder`, making it (and the folder) first if
/// there is none.
pub fn load_or_make(folder: &Path) -> Result<Loaded, IdentityError> {
    let path = folder.join(FILE_NAME);
    match read(&path) {
        Err(IdentityError::Unreadable { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
            let made = make(folder, &path)?;
            Ok(Loaded {
                identity: made.unwrap_or(read(&path)?),
                made: true,
                path,
            })
        }
        Err(e) => Err(e),
        Ok(identity) => Ok(Loaded {
            identity,
            made: false,
            path,
        }),
    }
}

/// Reads the identity at `path`, refusing one others can read.
fn read(path: &Path) -> Result<Identity, IdentityError> {
    let unreadable = |error| IdentityError::Unreadable {
        path: path.to_path_buf(),
        error,
    };
    // (Not blocking on a FIFO put in its place: such is refused below.)
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(unreadable(io::Error::other("it is not a file")));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(IdentityError::Exposed {
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    let mut text = Vec::new();
    // A real identity file is a few hundred bytes.
    file.take(4096).read_to_end(&mut text).map_err(unreadable)?;
    parse(&text).map_err(|why| IdentityError::Damaged {
        path: path.to_path_buf(),
        why,
    })
}

/// The identity in a file's bytes: comment lines, and one line with the key.
pub fn parse(text: &[u8]) -> Result<Identity, &'static str> {
    let text = std::str::from_utf8(text).map_err(|_| "it is not text")?;
    let mut keys = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty());
    let line = keys.next().ok_or("it holds no key")?;
    if keys.next().is_some() {
        return Err("it holds more than one line besides comments");
    }
    let keys = line
        .trim_end()
        .strip_prefix(KEY_PREFIX)
        .ok_or("its key line does not start with `chat-identity/1 ed25519`")?;
    let (secret, public) = keys
        .split_once(' ')
        .ok_or("its key line lacks the public key")?;
    let secret = hex32(secret).ok_or("its secret key is not 64 hexadecimal digits")?;
    let identity = Identity::from_secret(&secret);
    // Any 32 bytes make a secret key: the public key beside it is what
    // tells a changed digit.
    match identity.public().to_hex() == public {
        true => Ok(identity),
        false => Err("its secret and public keys do not match"),
    }
}

/// What [`parse`] reads back.
pub fn format(identity: &Identity) -> String {
    let hex: String = identity
        .secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let public = identity.public().to_hex();
    format!("{HEADER}{KEY_PREFIX}{hex} {public}\n")
}

/// Makes a new identity at `path`, whole or not at all: written under a
/// temporary name, then linked to its name, which fails if another chat
/// made one first (that one is then read instead: `Ok(None)`).
fn make(folder: &Path, path: &Path) -> Result<Option<Identity>, IdentityError> {
    let unsaved = |error| IdentityError::Unsaved {
        path: path.to_path_buf(),
        error,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(unsaved)?;
    let identity = Identity::generate().map_err(unsaved)?;
    let temporary = folder.join(format!(".{FILE_NAME}.{}.new", std::process::id()));
    let written = write_new(&temporary, format(&identity).as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(Some(identity)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(unsaved(e)),
    }
}

/// Writes `bytes` to a new file only its owner can read, on disk before it
/// returns.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_made_identity_reads_back_the_same() {
        let identity = Identity::from_secret(&[9; 32]);
        assert_eq!(parse(format(&identity).as_bytes()).unwrap(), identity);
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let good = format(&Identity::from_secret(&[9; 32]));
        let twice = format!("{good}{good}");
        let cases: [(&[u8], &str); 5] = [
            (b"", "it holds no key"),
            (b"\xff\xfe", "it is not text"),
            (&good.as_bytes()[..good.len() - 3], "do not match"),
            (b"ssh-ed25519 AAAA\n", "does not start with"),
            (twice.as_bytes(), "more than one line"),
        ];
        for (text, why) in cases {
            let refused = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was read"));
            assert!(refused.contains(why), "{text:?}: {refused}");
        }
    }

    #[test]
    fn a_fifo_in_place_of_the_identity_is_refused_at_once() {
        let folder = std::env::temp_dir().join(format!("chat-fifo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(FILE_NAME);
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let refused = load_or_make(&folder).err().expect("a FIFO is no identity");
        assert!(
            refused.to_string().contains("it is not a file"),
            "{refused}"
        );
        let _ = fs::remove_dir_all(&folder);
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(text in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&text);
        }
    }
}
