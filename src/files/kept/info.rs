//! The info note beside each kept item, named by its key: what the item
//! is and whose, written and locked by the transfer that claims the item,
//! read back to list it.
//!
//! A note is one line, `KIND\tSIZE\tOWNER\tNAME\n`: `file` or `folder`,
//! the size offered in decimal, the sender's identity key in 64 lowercase
//! hexadecimal digits (or `unproved`), and the safe name. A note written
//! before items had owners lacks the owner field: it is listed, and
//! discarded, but resumed for nobody. Anything else is no note.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rustix::fs::{AtFlags, FileType, FlockOperation};
use rustix::io::Errno;

use super::open_at::open_info_at;
use super::walk::{names_in, tree_bytes_at, usage_at};
use super::{Dir, KEPT_FOR, Kept, KeptItem, KeptKind, KeptOwner, SERIAL};
use crate::files::download::DownloadError;
use crate::identity::PeerKey;

/// The most of a note that is read: a longer one is no note of ours.
const NOTE_MAX: u64 = 4096;

/// How a note names the owner that proved no identity.
const UNPROVED: &str = "unproved";

/// The key of an offer: its kind, name and size, and whose it is, hashed
/// (in a mode of its own, so that no key of a note without an owner is
/// ever made again).
pub(super) fn key(kind: KeptKind, name: &str, size: u64, owner: KeptOwner) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("chat kept item, by its sender");
    hasher.update(kind_word(kind).as_bytes());
    hasher.update(b"\0");
    hasher.update(&size.to_be_bytes());
    // (Of one length whoever it is: what follows cannot shift into it.)
    match owner {
        KeptOwner::Peer(key) => hasher.update(&[1]).update(&key.to_bytes()),
        KeptOwner::Unproved => hasher.update(&[0]).update(&[0; 32]),
        KeptOwner::Relayed(host, sender) => hasher
            .update(&[2])
            .update(&host.to_bytes())
            .update(&sender.map_or([0; 32], PeerKey::to_bytes)),
    };
    hasher.update(name.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

fn kind_word(kind: KeptKind) -> &'static str {
    match kind {
        KeptKind::File => "file",
        KeptKind::Folder => "folder",
    }
}

/// What a note says of its kept item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Note {
    pub(super) kind: KeptKind,
    /// The size offered (for a folder, its bytes the last time).
    pub(super) size: u64,
    /// Whose it is; `None` in a note written before items had owners.
    pub(super) owner: Option<KeptOwner>,
    pub(super) name: String,
}

impl Note {
    /// The note as written. (A control character in the name, which no
    /// safe name has, would break the line: it is written as `_`.)
    pub(super) fn line(&self) -> String {
        let name: String = self
            .name
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        let (kind, size) = (kind_word(self.kind), self.size);
        match self.owner {
            Some(owner) => format!("{kind}\t{size}\t{}\t{name}\n", owner_field(owner)),
            None => format!("{kind}\t{size}\t{name}\n"),
        }
    }

    /// The note written as `text`, read strictly: exactly what
    /// [`Note::line`] writes (one line, each field in its one spelling),
    /// or nothing.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let line = text.strip_suffix('\n')?;
        let fields: Vec<&str> = line.split('\t').collect();
        let (kind, size, owner, name) = match fields[..] {
            [kind, size, owner, name] => (kind, size, Some(owner_of(owner)?), name),
            [kind, size, name] => (kind, size, None, name),
            _ => return None,
        };
        let kind = match kind {
            "file" => KeptKind::File,
            "folder" => KeptKind::Folder,
            _ => return None,
        };
        let size: u64 = size.parse().ok()?;
        let canonical = !name.is_empty() && !name.chars().any(char::is_control);
        let note = Self {
            kind,
            size,
            owner,
            name: name.to_string(),
        };
        // (One spelling: no `+`, no leading zeros.)
        (canonical && note.line() == text).then_some(note)
    }
}

/// How a note names `owner`: an identity key as 64 lowercase digits, a
/// relayed member's as the host's key, `/`, and the member's (or
/// `unproved`).
fn owner_field(owner: KeptOwner) -> String {
    match owner {
        KeptOwner::Peer(key) => key.to_hex(),
        KeptOwner::Unproved => UNPROVED.to_string(),
        KeptOwner::Relayed(host, sender) => format!(
            "{}/{}",
            host.to_hex(),
            sender.map_or(UNPROVED.to_string(), PeerKey::to_hex)
        ),
    }
}

/// The owner a note names, in the one spelling [`owner_field`] writes.
fn owner_of(field: &str) -> Option<KeptOwner> {
    let key = |hex: &str| PeerKey::from_hex(hex).filter(|key| key.to_hex() == hex);
    let owner = match field.split_once('/') {
        None if field == UNPROVED => KeptOwner::Unproved,
        None => KeptOwner::Peer(key(field)?),
        Some((host, UNPROVED)) => KeptOwner::Relayed(key(host)?, None),
        Some((host, sender)) => KeptOwner::Relayed(key(host)?, Some(key(sender)?)),
    };
    Some(owner)
}

impl Kept {
    /// Claims the info file of `kind name size` from `owner` for this
    /// process: the one of the offer if no other chat is using it and it
    /// is `owner`'s, else a fresh one of this transfer alone (which still
    /// works, but cannot be resumed). Returns the key and the claim.
    pub(super) fn claim(
        &self,
        kind: KeptKind,
        name: &str,
        size: u64,
        owner: KeptOwner,
    ) -> Result<(String, Claim), DownloadError> {
        // A folder is found again by its name alone: its files may have
        // changed since (each is checked by hash), and what was not sent
        // again is pruned before it is named.
        let base = match kind {
            KeptKind::File => key(kind, name, size, owner),
            KeptKind::Folder => key(kind, name, 0, owner),
        };
        let note = Note {
            kind,
            size,
            owner: Some(owner),
            name: name.to_string(),
        };
        let mut key = base.clone();
        loop {
            let info_name = format!("{key}.info");
            let (root, info) = self.open_info(&info_name)?;
            let taken = match rustix::fs::flock(&info, FlockOperation::NonBlockingLockExclusive) {
                // Discarded by another chat between our opening and locking
                // it: a lock on a file nobody can find again is no claim.
                Ok(()) if !still_named(&info, &root, &info_name) => continue,
                Ok(()) => !is_for(&info, &note),
                Err(Errno::WOULDBLOCK) => true,
                Err(e) => return Err(self.create_error(e.into())),
            };
            if taken {
                let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
                key = format!("{base}-{}-{serial}", std::process::id());
                continue;
            }
            // Rewritten on every use: its time is the kept item's.
            info.set_len(0)
                .and_then(|()| info.write_all_at(note.line().as_bytes(), 0))
                .map_err(|e| self.create_error(e))?;
            let claim = Claim {
                root,
                name: info_name,
                root_path: self.root.clone(),
                private: key != base,
                _lock: info,
            };
            return Ok((key, claim));
        }
    }
}

/// Whether the info file `info`, locked, may be claimed for `note`: it is
/// new, or says the same kind and owner. One that says another owner, or
/// none, or nothing readable, is left as it is, and so is its item.
fn is_for(info: &File, note: &Note) -> bool {
    let mut text = String::new();
    if info.take(NOTE_MAX).read_to_string(&mut text).is_err() {
        return false;
    }
    text.is_empty()
        || Note::parse(&text)
            .is_some_and(|there| (there.kind, there.owner) == (note.kind, note.owner))
}

/// The kept item of the info file `info` (of `key`) in the hidden folder
/// `root`, with when it was last used; `None` while a transfer uses it.
pub(super) fn listed(root: &OwnedFd, info: &str, key: &str) -> Option<(SystemTime, KeptItem)> {
    let mut file = open_info_at(root, info).ok()?;
    if rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared) == Err(Errno::WOULDBLOCK) {
        return None;
    }
    let modified = file.metadata().and_then(|m| m.modified()).ok()?;
    let mut text = String::new();
    (&mut file).take(NOTE_MAX).read_to_string(&mut text).ok()?;
    let Note {
        kind, size, name, ..
    } = Note::parse(&text)?;
    let (part, folder) = (format!("{key}.part"), format!("{key}.folder"));
    let held = match kind {
        KeptKind::File => rustix::fs::statat(root, part.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .filter(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile)
            .map_or(0, |s| u64::try_from(s.st_size).unwrap_or(0)),
        KeptKind::Folder => tree_bytes_at(root, OsStr::new(&folder), 0),
    };
    let disk = [info, &part, &folder]
        .iter()
        .map(|name| usage_at(root, OsStr::new(name), 0))
        .fold(0, u64::saturating_add);
    let age = modified.elapsed().unwrap_or_default();
    let item = KeptItem {
        kind,
        name,
        held,
        size,
        disk,
        left: KEPT_FOR.saturating_sub(age),
    };
    Some((modified, item))
}

/// Whether `key` is one of a single transfer (`KEY-PID-N`).
pub(super) fn is_private(key: &str) -> bool {
    key.contains('-')
}

/// Whether `name` in the folder `dir` still names the open file `file`.
fn still_named(file: &File, dir: &OwnedFd, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        file.metadata(),
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW),
    ) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.st_dev, named.st_ino),
        _ => false,
    }
}

/// The info files in the hidden folder opened as `root`, with their keys.
pub(super) fn infos_in(root: &OwnedFd) -> Vec<(String, String)> {
    names_in(root)
        .into_iter()
        .filter_map(|name| {
            let name = name.into_string().ok()?;
            let key = name.strip_suffix(".info")?.to_string();
            Some((name, key))
        })
        .collect()
}

/// A kept item's info file, locked while a transfer uses it: the lock goes
/// with the descriptor.
#[derive(Debug)]
pub(super) struct Claim {
    /// The hidden folder it is in, open.
    pub(super) root: Dir,
    name: String,
    root_path: PathBuf,
    /// Under a key of this transfer alone: not worth keeping.
    pub(super) private: bool,
    _lock: File,
}

impl Claim {
    /// The item is gone (saved or discarded): so is its info, and the
    /// hidden folder once nothing is kept in it, so a download folder
    /// without cut transfers looks as it always did.
    pub(super) fn release(self) {
        let _ = rustix::fs::unlinkat(&*self.root, self.name.as_str(), AtFlags::empty());
        // Fails, as it should, while anything is inside (and for a link).
        let _ = fs::remove_dir(&self.root_path);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::files::kept::peer;

    fn note(kind: KeptKind, size: u64, owner: Option<KeptOwner>, name: &str) -> Note {
        Note {
            kind,
            size,
            owner,
            name: name.to_string(),
        }
    }

    #[test]
    fn a_note_says_whose_its_item_is_and_reads_back() {
        let KeptOwner::Peer(key) = peer(1) else {
            unreachable!()
        };
        let hex = key.to_hex();
        let cases = [
            (
                note(KeptKind::File, 100, Some(peer(1)), "big.bin"),
                format!("file\t100\t{hex}\tbig.bin\n"),
            ),
            (
                note(KeptKind::Folder, 0, Some(KeptOwner::Unproved), "my pics"),
                "folder\t0\tunproved\tmy pics\n".to_string(),
            ),
            // As written before items had owners: resumed for nobody.
            (
                note(KeptKind::File, 7, None, "old.txt"),
                "file\t7\told.txt\n".to_string(),
            ),
        ];
        for (note, line) in cases {
            assert_eq!(note.line(), line);
            assert_eq!(Note::parse(&line), Some(note));
        }
    }

    #[test]
    fn anything_but_a_note_as_written_is_no_note() {
        let hex = crate::identity::Identity::from_secret(&[1; 32])
            .public()
            .to_hex();
        // A valid key's hex with one digit changed is (almost surely) no
        // usable key; a key of all zeros is of small order.
        let zeros = "0".repeat(64);
        let rejected = [
            String::new(),
            "\n".into(),
            format!("file\t100\t{hex}\tbig.bin"),
            format!("file\t100\t{hex}\tbig.bin\n\n"),
            format!("file\t100\t{hex}\tbig.bin\r\n"),
            format!("file\t100\t{hex}\tbig.bin\textra\n"),
            format!("file\t100\t{hex}\t\n"),
            "file\t100\n".to_string(),
            format!("File\t100\t{hex}\tbig.bin\n"),
            format!("part\t100\t{hex}\tbig.bin\n"),
            format!("file\t+100\t{hex}\tbig.bin\n"),
            format!("file\t0100\t{hex}\tbig.bin\n"),
            format!("file\t-1\t{hex}\tbig.bin\n"),
            format!("file\t18446744073709551616\t{hex}\tbig.bin\n"),
            format!("file\t 100\t{hex}\tbig.bin\n"),
            format!("file\t100\t{}\tbig.bin\n", hex.to_uppercase()),
            format!("file\t100\t{}\tbig.bin\n", &hex[..62]),
            format!("file\t100\t{zeros}\tbig.bin\n"),
            "file\t100\tUnproved\tbig.bin\n".to_string(),
            "file\t100\t\tbig.bin\n".to_string(),
            format!("file\t100\t{hex}\tbig\u{7}.bin\n"),
        ];
        for text in rejected {
            assert_eq!(Note::parse(&text), None, "{text:?}");
        }
    }

    #[test]
    fn a_name_that_would_break_the_line_is_written_safe() {
        let odd = note(KeptKind::File, 3, Some(KeptOwner::Unproved), "a\tb\nc");
        let read = Note::parse(&odd.line()).unwrap();
        assert_eq!(read.name, "a_b_c");
    }

    #[test]
    fn keys_differ_by_owner_and_never_are_those_of_notes_without_one() {
        let keys = [
            key(KeptKind::File, "a.bin", 10, peer(1)),
            key(KeptKind::File, "a.bin", 10, peer(2)),
            key(KeptKind::File, "a.bin", 10, KeptOwner::Unproved),
            key(KeptKind::Folder, "a.bin", 10, peer(1)),
            key(KeptKind::File, "a.bin", 11, peer(1)),
        ];
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        // How keys were made before items had owners.
        let mut before = blake3::Hasher::new();
        before.update(b"file\0");
        before.update(&10u64.to_be_bytes());
        before.update(b"a.bin");
        let before = before.finalize().to_hex()[..32].to_string();
        assert!(!keys.contains(&before));
    }

    fn any_owner() -> impl Strategy<Value = Option<KeptOwner>> {
        prop_oneof![
            Just(None),
            Just(Some(KeptOwner::Unproved)),
            any::<u8>().prop_map(|n| Some(peer(n))),
            (any::<u8>(), any::<Option<u8>>()).prop_map(|(host, sender)| {
                let key = |n: u8| crate::identity::Identity::from_secret(&[n; 32]).public();
                Some(KeptOwner::Relayed(key(host), sender.map(key)))
            }),
        ]
    }

    fn any_kind() -> impl Strategy<Value = KeptKind> {
        prop_oneof![Just(KeptKind::File), Just(KeptKind::Folder)]
    }

    proptest! {
        #[test]
        fn every_note_reads_back_as_written(
            kind in any_kind(),
            size in any::<u64>(),
            owner in any_owner(),
            name in "[^\\p{Cc}]{1,40}",
        ) {
            let written = note(kind, size, owner, &name);
            prop_assert_eq!(Note::parse(&written.line()), Some(written));
        }

        /// Strict: whatever is read as a note is written back to the very
        /// same bytes, so a note has one spelling.
        #[test]
        fn what_reads_as_a_note_has_one_spelling(
            text in "(file|folder|x)\t[+0-9]{0,3}\t(unproved|[0-9a-fA-F]{0,66}|\t)?\t?[^\n]{0,12}\n?",
        ) {
            if let Some(read) = Note::parse(&text) {
                prop_assert_eq!(read.line(), text);
            }
        }

        #[test]
        fn no_text_makes_reading_fail_loudly(text in "\\PC{0,200}") {
            let _ = Note::parse(&text);
        }
    }
}
