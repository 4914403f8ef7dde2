//! The info note beside each kept item, named by its key: written and
//! locked by the transfer that claims the item, read back to list it.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rustix::fs::{AtFlags, FileType, FlockOperation};
use rustix::io::Errno;

use super::open_at::open_info_at;
use super::walk::{names_in, tree_bytes_at, usage_at};
use super::{Dir, KEPT_FOR, Kept, KeptItem, KeptKind, SERIAL};
use crate::files::download::DownloadError;

/// The key of an offer: its kind, name and size, hashed.
pub(super) fn key(kind: KeptKind, name: &str, size: u64) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(match kind {
        KeptKind::File => b"file\0",
        KeptKind::Folder => b"folder\0",
    });
    hasher.update(&size.to_be_bytes());
    hasher.update(name.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

impl Kept {
    /// Claims the info file of `kind name size` for this process: the one
    /// of the offer if no other chat is using it, else a fresh one of this
    /// transfer alone (which still works, but cannot be resumed by the
    /// other). Returns the key and the claim.
    pub(super) fn claim(
        &self,
        kind: KeptKind,
        name: &str,
        size: u64,
    ) -> Result<(String, Claim), DownloadError> {
        // A folder is found again by its name alone: its files may have
        // changed since (each is checked by hash), and what was not sent
        // again is pruned before it is named.
        let base = match kind {
            KeptKind::File => key(kind, name, size),
            KeptKind::Folder => key(kind, name, 0),
        };
        let mut key = base.clone();
        loop {
            let info_name = format!("{key}.info");
            let (root, mut info) = self.open_info(&info_name)?;
            match rustix::fs::flock(&info, FlockOperation::NonBlockingLockExclusive) {
                // Discarded by another chat between our opening and locking
                // it: a lock on a file nobody can find again is no claim.
                Ok(()) if !still_named(&info, &root, &info_name) => {}
                Ok(()) => {
                    let kind = match kind {
                        KeptKind::File => "file",
                        KeptKind::Folder => "folder",
                    };
                    // Rewritten on every use: its time is the kept item's.
                    info.set_len(0)
                        .and_then(|()| {
                            info.write_all(format!("{kind}\t{size}\t{name}\n").as_bytes())
                        })
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
                Err(Errno::WOULDBLOCK) => {
                    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
                    key = format!("{base}-{}-{serial}", std::process::id());
                }
                Err(e) => return Err(self.create_error(e.into())),
            }
        }
    }
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
    file.read_to_string(&mut text).ok()?;
    let mut fields = text.trim_end_matches('\n').splitn(3, '\t');
    let (kind, size, name) = (fields.next()?, fields.next()?, fields.next()?);
    let size = size.parse().ok()?;
    let (part, folder) = (format!("{key}.part"), format!("{key}.folder"));
    let (kind, held) = match kind {
        "file" => (
            KeptKind::File,
            rustix::fs::statat(root, part.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .filter(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile)
                .map_or(0, |s| u64::try_from(s.st_size).unwrap_or(0)),
        ),
        "folder" => (
            KeptKind::Folder,
            tree_bytes_at(root, OsStr::new(&folder), 0),
        ),
        _ => return None,
    };
    let disk = [info, &part, &folder]
        .iter()
        .map(|name| usage_at(root, OsStr::new(name), 0))
        .fold(0, u64::saturating_add);
    let age = modified.elapsed().unwrap_or_default();
    let item = KeptItem {
        kind,
        name: name.to_string(),
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
