//! What arrived of transfers that were cut, kept so that sending the same
//! file or folder again moves only what is missing.
//!
//! Everything lives hidden in the download folder's `.chat-partial/`, never
//! under a final name: a file as `KEY.part`, a folder as `KEY.folder/` with
//! its tree inside, each beside a `KEY.info` that says what it is (and whose
//! lock says it is in use). Nothing in it is reached through a symbolic
//! link, at any moment: the hidden folder is opened once (one that is a
//! link is refused) and everything below it is opened, made, renamed and
//! removed from the folder above it, by name and without following a link
//! (PROTOCOL.md 3.5, 8). Somebody who can write in the download folder
//! may still swap things in it, but what a chat then writes, reads,
//! hashes or removes stays inside the folders it opened.
//!
//! The key comes from the name and, for a file, the size offered, so the
//! same offer finds what was kept; whether the kept bytes are still the
//! sender's is checked by hash before anything is resumed. Kept items
//! expire a week after they were last used. A transfer that finds its key
//! in use by another chat sharing the download folder gets a private key
//! (`KEY-PID-N`), which nothing could find again: what it holds is not
//! kept.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, CWD, FileType, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::download::{DownloadDir, DownloadError};
use crate::wire::limits::MAX_DEPTH;

/// The hidden folder inside the download folder.
pub const KEPT_FOLDER: &str = ".chat-partial";

/// How long a kept item waits for its transfer to be tried again.
pub const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Numbers what this process names for itself alone: private keys, and
/// hidden folders made beside the real one.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Buffer for hashing what was kept.
const HASH_BUFFER: usize = 1024 * 1024;

/// A folder held open: what is in it is reached from it by name.
type Dir = Arc<OwnedFd>;

/// A file or a folder, as kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptKind {
    File,
    Folder,
}

/// One kept item, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptItem {
    pub kind: KeptKind,
    pub name: String,
    /// Bytes held, and the size offered.
    pub held: u64,
    pub size: u64,
    /// What it takes on the disk: its blocks, its folders' and its info's.
    pub disk: u64,
    /// Time left before it expires.
    pub left: Duration,
}

/// The store of kept items of one download folder.
#[derive(Debug, Clone)]
pub struct Kept {
    downloads: DownloadDir,
    root: PathBuf,
}

/// The key of an offer: its kind, name and size, hashed.
fn key(kind: KeptKind, name: &str, size: u64) -> String {
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
    pub fn of(downloads: &DownloadDir) -> Self {
        Self {
            downloads: downloads.clone(),
            root: downloads.path().join(KEPT_FOLDER),
        }
    }

    /// Whether the hidden folder is there, refusing it when it is a
    /// symbolic link (or anything but a folder): put there by somebody
    /// who can write in the download folder, it would send what we keep,
    /// and what we discard, somewhere else.
    fn root_is_there(&self) -> Result<bool, DownloadError> {
        match self.root.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(DownloadError::KeptLink(self.root.clone()))
            }
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(DownloadError::NotADirectory(self.root.clone())),
            // (Nor is the download folder, or it is no folder: making it
            // says so.)
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(false)
            }
            Err(cause) => Err(DownloadError::Read {
                path: self.root.clone(),
                cause,
            }),
        }
    }

    /// The hidden folder, opened without following a link; `None` when it
    /// is not there.
    fn open_root(&self) -> Result<Option<OwnedFd>, DownloadError> {
        if !self.root_is_there()? {
            return Ok(None);
        }
        match rustix::fs::open(&self.root, dir_flags(), Mode::empty()) {
            Ok(dir) => Ok(Some(dir)),
            Err(Errno::NOENT) => Ok(None),
            // Made a link since it was looked at.
            Err(Errno::LOOP | Errno::NOTDIR) => Err(DownloadError::KeptLink(self.root.clone())),
            Err(e) => Err(DownloadError::Read {
                path: self.root.clone(),
                cause: e.into(),
            }),
        }
    }

    fn create_error(&self, cause: io::Error) -> DownloadError {
        DownloadError::CreateFile {
            path: self.root.clone(),
            cause,
        }
    }

    /// Claims the info file of `kind name size` for this process: the one
    /// of the offer if no other chat is using it, else a fresh one of this
    /// transfer alone (which still works, but cannot be resumed by the
    /// other). Returns the key and the claim.
    fn claim(
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

    /// Opens the info file `name` in the hidden folder, creating both;
    /// returns the hidden folder, open, with it.
    ///
    /// Another chat sharing the download folder removes the hidden folder
    /// the moment it holds nothing. Made empty and then filled, it could go
    /// in between; so a missing hidden folder is made elsewhere with the
    /// info file already inside, and moved into place whole.
    fn open_info(&self, name: &str) -> Result<(Dir, File), DownloadError> {
        loop {
            if let Some(root) = self.open_root()? {
                match open_file_at(&root, name) {
                    // (Removed since it was opened: made anew below.)
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    opened => {
                        return opened
                            .map(|info| (Arc::new(root), info))
                            .map_err(|e| self.create_error(e));
                    }
                }
            }
            self.downloads.make()?;
            let downloads = rustix::fs::open(
                self.downloads.path(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.create_error(e.into()))?;
            let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
            let staging = format!("{KEPT_FOLDER}-{}-{serial}", std::process::id());
            let made = make_dir_at(&downloads, OsStr::new(&staging)).and_then(|dir| {
                let info = open_file_at(&dir, name)?;
                let to = Path::new(KEPT_FOLDER);
                rename_new_at(&downloads, OsStr::new(&staging), downloads.as_fd(), to)?;
                Ok((dir, info))
            });
            match made {
                Ok((dir, info)) => return Ok((Arc::new(dir), info)),
                Err(cause) => {
                    remove_at(&downloads, OsStr::new(&staging), 0);
                    // Made by another chat meanwhile: that one is used.
                    if cause.kind() != io::ErrorKind::AlreadyExists {
                        return Err(self.create_error(cause));
                    }
                }
            }
        }
    }

    /// Starts or resumes receiving the file `name` of `size` bytes.
    pub fn file(&self, name: &str, size: u64) -> Result<KeptFile, DownloadError> {
        let (key, claim) = self.claim(KeptKind::File, name, size)?;
        let part = OsString::from(format!("{key}.part"));
        let path = self.root.join(&part);
        match KeptFile::open_in(claim.root.clone(), part.clone(), path, size) {
            Ok(mut kept) => {
                kept.claim = Some(claim);
                Ok(kept)
            }
            Err(e) => {
                // (No room for the part, say: its info alone would be a
                // kept item of nothing.)
                if rustix::fs::statat(&*claim.root, &part, AtFlags::SYMLINK_NOFOLLOW).is_err() {
                    claim.release();
                }
                Err(e)
            }
        }
    }

    /// Whether something of the file `name` of `size` bytes is kept: if
    /// not, keeping it makes two files, its part and its info.
    pub fn holds_file(&self, name: &str, size: u64) -> bool {
        let part = format!("{}.part", key(KeptKind::File, name, size));
        self.open_root().ok().flatten().is_some_and(|root| {
            rustix::fs::statat(&root, part.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok()
        })
    }

    /// Starts or resumes receiving the folder `name` of `bytes` bytes.
    pub fn folder(&self, name: &str, bytes: u64) -> Result<KeptFolder, DownloadError> {
        let (key, claim) = self.claim(KeptKind::Folder, name, bytes)?;
        let folder = OsString::from(format!("{key}.folder"));
        let path = self.root.join(&folder);
        match make_dir_at(&claim.root, &folder) {
            Ok(dir) => Ok(KeptFolder {
                path,
                root: claim.root.clone(),
                name: folder,
                dir: Arc::new(dir),
                claim: Some(claim),
            }),
            Err(cause) => {
                if rustix::fs::statat(&*claim.root, &folder, AtFlags::SYMLINK_NOFOLLOW).is_err() {
                    claim.release();
                }
                Err(folder_error(&path, cause))
            }
        }
    }

    /// Every kept item that a resend would find, oldest first; not those a
    /// transfer is using now.
    pub fn list(&self) -> Vec<KeptItem> {
        // (A hidden folder that is a link holds nothing of ours.)
        let Ok(Some(root)) = self.open_root() else {
            return Vec::new();
        };
        let mut items: Vec<(SystemTime, KeptItem)> = infos_in(&root)
            .into_iter()
            .filter(|(_, key)| !is_private(key))
            .filter_map(|(info, key)| listed(&root, &info, &key))
            .collect();
        items.sort_by_key(|(modified, _)| *modified);
        items.into_iter().map(|(_, item)| item).collect()
    }

    /// Where the kept items are: the hidden folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Removes kept items not in use; with `expired_only`, only those older
    /// than [`KEPT_FOR`]. Says how many went, and what they took on the
    /// disk. Nothing is reached through a symbolic link: a hidden folder
    /// that is one is refused, and one that becomes one meanwhile is not
    /// followed.
    pub fn discard(&self, expired_only: bool) -> Result<Discarded, DownloadError> {
        let mut gone = Discarded::default();
        let Some(root) = self.open_root()? else {
            return Ok(gone);
        };
        for (info_name, key) in infos_in(&root) {
            let Ok(info) = open_info_at(&root, &info_name) else {
                continue;
            };
            // A private item of a chat that ended can never be resumed.
            if expired_only && !is_private(&key) {
                let age = info
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| m.elapsed().ok());
                if age.is_none_or(|age| age < KEPT_FOR) {
                    continue;
                }
            }
            // In use by a transfer (ours or another chat's): left alone.
            if rustix::fs::flock(&info, FlockOperation::NonBlockingLockExclusive).is_err() {
                gone.in_use += usize::from(!is_private(&key));
                continue;
            }
            for name in [format!("{key}.part"), format!("{key}.folder"), info_name] {
                let name = OsStr::new(&name);
                gone.bytes = gone.bytes.saturating_add(usage_at(&root, name, 0));
                remove_at(&root, name, 0);
            }
            gone.items += 1;
        }
        // Leaves no empty hidden folder behind (a link is not removed
        // this way, nor followed).
        let _ = fs::remove_dir(&self.root);
        Ok(gone)
    }
}

/// The kept item of the info file `info` (of `key`) in the hidden folder
/// `root`, with when it was last used; `None` while a transfer uses it.
fn listed(root: &OwnedFd, info: &str, key: &str) -> Option<(SystemTime, KeptItem)> {
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

/// What [`Kept::discard`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Discarded {
    /// Kept files and folders.
    pub items: usize,
    /// What they took on the disk.
    pub bytes: u64,
    /// Those left alone because a transfer is using them.
    pub in_use: usize,
}

/// Whether `key` is one of a single transfer (`KEY-PID-N`).
fn is_private(key: &str) -> bool {
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

/// How a folder is opened: never through a link.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens the folder `name` in `dir`, never through a link.
fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, dir_flags(), Mode::empty())?)
}

/// Makes the folder `name` in `dir` unless it is there, and opens it:
/// a folder of its own, not a link to one elsewhere (that fails with
/// `ELOOP` or `ENOTDIR`).
fn make_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
        Ok(()) | Err(Errno::EXIST) => open_dir_at(dir, name),
        Err(e) => Err(e.into()),
    }
}

/// Opens the file `name` in `dir` to read and write, creating it, but
/// never through a symbolic link, and only if it is a regular file of its
/// own: a hard link to a file elsewhere (someone else's, say) would be
/// cut short, written to and fingerprinted through it, and a FIFO or a
/// device would hold the chat up.
fn open_file_at(dir: &OwnedFd, name: impl rustix::path::Arg) -> io::Result<File> {
    let flags =
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::from_raw_mode(0o666),
    )?);
    own_regular(file)
}

/// `file` if it is a regular file with one name only; an error saying what
/// it is otherwise.
fn own_regular(file: File) -> io::Result<File> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(
            "it is not a regular file, and nothing else is kept there",
        ));
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(io::Error::other(
            "it is a hard link to a file that has another name too, and is never written",
        ));
    }
    // Reads and writes wait as usual again.
    rustix::fs::fcntl_setfl(&file, OFlags::empty())?;
    Ok(file)
}

/// Opens the info file `name` in `dir` to read it, if it is a regular file
/// of its own (see [`own_regular`]); never through a link, and never
/// waiting on a FIFO put there.
fn open_info_at(dir: &OwnedFd, name: &str) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    own_regular(File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::empty(),
    )?))
}

/// Whether `cause` is what opening a link without following it gives.
fn is_link_error(cause: &io::Error) -> bool {
    matches!(cause.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
}

/// Why the folder at `path` cannot be made or opened.
fn folder_error(path: &Path, cause: io::Error) -> DownloadError {
    match is_link_error(&cause) {
        true => DownloadError::KeptLink(path.to_path_buf()),
        false => DownloadError::CreateFolder {
            path: path.to_path_buf(),
            cause,
        },
    }
}

/// The info files in the hidden folder opened as `root`, with their keys.
fn infos_in(root: &OwnedFd) -> Vec<(String, String)> {
    names_in(root)
        .into_iter()
        .filter_map(|name| {
            let name = name.into_string().ok()?;
            let key = name.strip_suffix(".info")?.to_string();
            Some((name, key))
        })
        .collect()
}

/// Deepest a walk below the hidden folder goes: a kept folder is at most
/// [`MAX_DEPTH`] deep; what is deeper was not made by a chat.
const DEEPEST: usize = MAX_DEPTH + 2;

/// The type of `name` in `dir`, not following a link.
fn type_at(dir: &OwnedFd, name: &OsStr) -> Option<FileType> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(FileType::from_raw_mode(stat.st_mode))
}

/// What `name` in the folder `dir` takes on the disk, with all below it,
/// never following a link.
fn usage_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> u64 {
    let Ok(stat) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
        return 0;
    };
    let own = u64::try_from(stat.st_blocks)
        .unwrap_or(0)
        .saturating_mul(512);
    let below = match open_folder_at(dir, name, depth) {
        Some(sub) => names_in(&sub)
            .iter()
            .map(|name| usage_at(&sub, name, depth + 1))
            .fold(0, u64::saturating_add),
        None => 0,
    };
    own.saturating_add(below)
}

/// Bytes of the regular files at and below `name` in `dir`, never
/// following a link.
fn tree_bytes_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> u64 {
    match type_at(dir, name) {
        Some(FileType::RegularFile) => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_or(0, |s| u64::try_from(s.st_size).unwrap_or(0)),
        Some(FileType::Directory) => match open_folder_at(dir, name, depth) {
            Some(sub) => names_in(&sub)
                .iter()
                .map(|name| tree_bytes_at(&sub, name, depth + 1))
                .fold(0, u64::saturating_add),
            None => 0,
        },
        _ => 0,
    }
}

/// Removes `name` in the folder `dir`, with all below it, never following
/// a link.
fn remove_at(dir: &OwnedFd, name: &OsStr, depth: usize) {
    if let Some(sub) = open_folder_at(dir, name, depth) {
        for below in &names_in(&sub) {
            remove_at(&sub, below, depth + 1);
        }
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR);
    } else {
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
}

/// The folder `name` in `dir` (not a link to one), opened; `None` for
/// anything else, or too deep.
fn open_folder_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> Option<OwnedFd> {
    if depth > DEEPEST {
        return None;
    }
    open_dir_at(dir, name).ok()
}

/// The names in the folder `dir`.
fn names_in(dir: &OwnedFd) -> Vec<OsString> {
    let Ok(read) = rustix::fs::Dir::read_from(dir) else {
        return Vec::new();
    };
    read.flatten()
        .map(|entry| entry.file_name().to_bytes().to_vec())
        .filter(|name| name != b"." && name != b"..")
        .map(OsString::from_vec)
        .collect()
}

/// A kept item's info file, locked while a transfer uses it: the lock goes
/// with the descriptor.
#[derive(Debug)]
struct Claim {
    /// The hidden folder it is in, open.
    root: Dir,
    name: String,
    root_path: PathBuf,
    /// Under a key of this transfer alone: not worth keeping.
    private: bool,
    _lock: File,
}

impl Claim {
    /// The item is gone (saved or discarded): so is its info, and the
    /// hidden folder once nothing is kept in it, so a download folder
    /// without cut transfers looks as it always did.
    fn release(self) {
        let _ = rustix::fs::unlinkat(&*self.root, self.name.as_str(), AtFlags::empty());
        // Fails, as it should, while anything is inside (and for a link).
        let _ = fs::remove_dir(&self.root_path);
    }
}

/// Gives `from` in the folder `dir` (a file or a folder) its final name
/// `name` in the download folder, numbered if taken. Like `cp`, this
/// leaves writing to the disk to the kernel.
fn name_finally(
    dir: &OwnedFd,
    from: &OsStr,
    downloads: &DownloadDir,
    name: &str,
) -> Result<PathBuf, DownloadError> {
    downloads.claim_name(name, |target| rename_new_at(dir, from, CWD, target))
}

/// A file being received that survives a cut: what was written stays on
/// disk, hidden, until the same file is offered again.
#[derive(Debug)]
pub struct KeptFile {
    file: File,
    /// Where it is, as shown; it is reached as `name` in `dir`.
    path: PathBuf,
    dir: Dir,
    name: OsString,
    /// The bytes it holds.
    len: u64,
    /// For a file of its own (not inside a folder): its claim.
    claim: Option<Claim>,
}

impl KeptFile {
    /// Opens `name` in `dir` (shown as `path`) for receiving a file of
    /// `size` bytes, keeping what it already holds unless that is more
    /// than `size`.
    fn open_in(dir: Dir, name: OsString, path: PathBuf, size: u64) -> Result<Self, DownloadError> {
        let create_error = |cause: io::Error| match is_link_error(&cause) {
            true => DownloadError::KeptLink(path.clone()),
            false => DownloadError::CreateFile {
                path: path.parent().unwrap_or(&path).to_path_buf(),
                cause,
            },
        };
        let file = open_file_at(&dir, name.as_os_str()).map_err(create_error)?;
        // (A regular file of its own: `open_file_at` made sure.)
        let meta = file.metadata().map_err(create_error)?;
        let mut kept = Self {
            file,
            path,
            dir,
            name,
            len: meta.len(),
            claim: None,
        };
        if kept.len > size {
            kept.restart_at(0)?;
        }
        kept.file
            .seek(SeekFrom::Start(kept.len))
            .map_err(|e| kept.write_error(e))?;
        Ok(kept)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes held already.
    pub fn held(&self) -> u64 {
        self.len
    }

    /// The file, opened again to be read (by position) elsewhere.
    pub fn reader(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// A hasher that has seen the first `len` bytes held.
    pub fn hash_prefix(&self, len: u64) -> Result<blake3::Hasher, DownloadError> {
        let mut hasher = blake3::Hasher::new();
        let mut reader = (&self.file).take(len);
        let mut buf = vec![0; HASH_BUFFER];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| self.write_error(e))?;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.write_error(e)),
            }
        }
        file.seek(SeekFrom::Start(self.len))
            .map_err(|e| self.write_error(e))?;
        Ok(hasher)
    }

    /// Drops what is held past `offset`; the next bytes go there.
    pub fn restart_at(&mut self, offset: u64) -> Result<(), DownloadError> {
        self.file
            .set_len(offset)
            .and_then(|()| self.file.seek(SeekFrom::Start(offset)).map(drop))
            .map_err(|e| self.write_error(e))?;
        self.len = offset;
        Ok(())
    }

    /// Appends received bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        self.file
            .write_all(bytes)
            .map_err(|cause| self.write_error(cause))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn write_error(&self, cause: io::Error) -> DownloadError {
        DownloadError::Write {
            path: self.path.parent().unwrap_or(&self.path).to_path_buf(),
            cause,
        }
    }

    /// Gives a file of its own its final name in the download folder,
    /// numbered if taken.
    pub fn finish(mut self, downloads: &DownloadDir, name: &str) -> Result<PathBuf, DownloadError> {
        let saved = name_finally(&self.dir, &self.name, downloads, name)?;
        self.forget();
        Ok(saved)
    }

    /// For a file inside a folder: it is complete where it is, and stays.
    pub fn complete(mut self) {
        self.forget();
    }

    /// Removes what was received: cancelled, or damaged.
    pub fn discard(mut self) {
        self.remove();
        self.forget();
    }

    fn remove(&self) {
        let _ = rustix::fs::unlinkat(&*self.dir, self.name.as_os_str(), AtFlags::empty());
    }

    /// Done with: dropping it leaves the file as it is.
    fn forget(&mut self) {
        if let Some(claim) = self.claim.take() {
            claim.release();
        }
        self.len = u64::MAX;
    }
}

impl Drop for KeptFile {
    fn drop(&mut self) {
        // Nothing worth keeping: no trace is left.
        let private = self.claim.as_ref().is_some_and(|c| c.private);
        if self.len == 0 || private {
            self.remove();
            self.forget();
        }
    }
}

/// A folder being received, hidden until every file in it arrived whole.
/// Dropped holding no file, it leaves no trace.
#[derive(Debug)]
pub struct KeptFolder {
    /// Where it is, as shown; it is `name` in the hidden folder `root`,
    /// open as `dir`.
    path: PathBuf,
    root: Dir,
    name: OsString,
    dir: Dir,
    /// `None` once it was given its final name or discarded.
    claim: Option<Claim>,
}

impl KeptFolder {
    /// Starts or resumes the file at `relative` (already made safe) inside
    /// the folder.
    pub fn entry(&self, relative: &Path, size: u64) -> Result<KeptFile, DownloadError> {
        let parent = relative.parent().unwrap_or(Path::new(""));
        let dir = self.walk(parent)?;
        let Some(name) = relative.file_name() else {
            let path = self.path.join(relative);
            return Err(folder_error(&path, io::ErrorKind::InvalidInput.into()));
        };
        KeptFile::open_in(dir, name.to_os_string(), self.path.join(relative), size)
    }

    /// Makes the folder at `relative` (already made safe) inside it.
    pub fn subfolder(&self, relative: &Path) -> Result<(), DownloadError> {
        self.walk(relative).map(drop)
    }

    /// Opens the folder at `relative` inside it, making what is missing,
    /// one folder at a time and never through a link.
    fn walk(&self, relative: &Path) -> Result<Dir, DownloadError> {
        let (mut dir, mut at) = (self.dir.clone(), self.path.clone());
        for part in relative.components() {
            let Component::Normal(part) = part else {
                return Err(folder_error(&at, io::ErrorKind::InvalidInput.into()));
            };
            at.push(part);
            dir = Arc::new(make_dir_at(&dir, part).map_err(|e| folder_error(&at, e))?);
        }
        Ok(dir)
    }

    /// Whether any file is in it (what a resend would resume).
    pub fn holds_a_file(&self) -> bool {
        holds_a_file(&self.dir, 0)
    }

    /// Removes what the folder holds from an earlier try but not at
    /// `wanted` (paths below it, as given to [`KeptFolder::entry`] and
    /// [`KeptFolder::subfolder`]): the folder that takes its final name is
    /// the one sent this time, not a mix.
    pub fn keep_only(&self, wanted: impl Fn(&Path) -> bool) {
        prune(&self.dir, Path::new(""), &wanted, 0);
    }

    /// Gives the folder its final name in the download folder, numbered if
    /// taken (`photos (1)`).
    pub fn finish(mut self, downloads: &DownloadDir, name: &str) -> Result<PathBuf, DownloadError> {
        let saved = name_finally(&self.root, &self.name, downloads, name)?;
        if let Some(claim) = self.claim.take() {
            claim.release();
        }
        Ok(saved)
    }

    /// Removes the folder and what arrived of it.
    pub fn discard(mut self) {
        remove_at(&self.root, &self.name, 0);
        if let Some(claim) = self.claim.take() {
            claim.release();
        }
    }
}

impl Drop for KeptFolder {
    fn drop(&mut self) {
        let private = self.claim.as_ref().is_some_and(|c| c.private);
        if self.claim.is_some() && (private || !holds_a_file(&self.dir, 0)) {
            remove_at(&self.root, &self.name, 0);
            if let Some(claim) = self.claim.take() {
                claim.release();
            }
        }
    }
}

/// Whether a regular file is anywhere below `dir` (an empty one counts).
fn holds_a_file(dir: &OwnedFd, depth: usize) -> bool {
    names_in(dir).iter().any(|name| match type_at(dir, name) {
        Some(FileType::Directory) => {
            open_folder_at(dir, name, depth + 1).is_some_and(|sub| holds_a_file(&sub, depth + 1))
        }
        Some(FileType::RegularFile) => true,
        _ => false,
    })
}

/// Removes below `dir` (at `relative` in its folder) every file not
/// `wanted`, and every folder neither wanted nor holding a wanted file.
/// Returns whether anything is left in `dir`.
fn prune(dir: &OwnedFd, relative: &Path, wanted: &impl Fn(&Path) -> bool, depth: usize) -> bool {
    let mut left = false;
    for name in names_in(dir) {
        let below = relative.join(&name);
        let sub = match type_at(dir, &name) {
            Some(FileType::Directory) => open_folder_at(dir, &name, depth + 1),
            _ => None,
        };
        let keep = match sub {
            Some(sub) => prune(&sub, &below, wanted, depth + 1) || wanted(&below),
            None => wanted(&below),
        };
        if keep {
            left = true;
        } else {
            remove_at(dir, &name, depth + 1);
        }
    }
    left
}

/// Renames `from` in the folder `dir` to `to` (relative to `to_dir`),
/// never replacing what `to` names.
fn rename_new_at(dir: &OwnedFd, from: &OsStr, to_dir: BorrowedFd<'_>, to: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(dir, from, to_dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => Err(io::ErrorKind::AlreadyExists.into()),
        // A file system without the flag: a link fails if the name is
        // taken, atomically; a folder is checked first.
        Err(Errno::INVAL | Errno::NOSYS) => {
            if type_at(dir, from) == Some(FileType::Directory) {
                if rustix::fs::statat(to_dir, to, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                Ok(rustix::fs::renameat(dir, from, to_dir, to)?)
            } else {
                rustix::fs::linkat(dir, from, to_dir, to, AtFlags::empty())?;
                Ok(rustix::fs::unlinkat(dir, from, AtFlags::empty())?)
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scratch;

    /// What `path` takes on the disk, with all below it, not following
    /// links.
    fn disk_usage(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = path.symlink_metadata() else {
            return 0;
        };
        let below = match meta.is_dir() {
            true => fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| disk_usage(&entry.path()))
                .fold(0, u64::saturating_add),
            false => 0,
        };
        meta.blocks().saturating_mul(512).saturating_add(below)
    }

    /// What the hidden folder `root` takes on the disk itself.
    fn disk_usage_of_root_alone(root: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        root.symlink_metadata().unwrap().blocks() * 512
    }

    #[test]
    fn a_hidden_folder_that_is_a_link_is_neither_followed_nor_emptied() {
        let root = scratch("kept-link");
        let precious = root.join("precious");
        fs::create_dir_all(&precious).unwrap();
        let downloads = DownloadDir::new(root.join("dl"));
        let kept = Kept::of(&downloads);
        // What a chat would have kept there, had it followed the link.
        let there = key(KeptKind::File, "important", 10);
        for name in [
            format!("{there}.info"),
            format!("{there}.part"),
            "notes.info".into(),
        ] {
            fs::write(precious.join(name), b"mine").unwrap();
        }
        fs::create_dir_all(root.join("dl")).unwrap();
        std::os::unix::fs::symlink(&precious, root.join("dl").join(KEPT_FOLDER)).unwrap();
        let refused = kept.discard(false).unwrap_err();
        assert!(matches!(refused, DownloadError::KeptLink(_)), "{refused}");
        assert!(
            matches!(kept.file("important", 10), Err(DownloadError::KeptLink(_))),
            "a transfer kept its part through the link"
        );
        assert!(matches!(
            kept.folder("photos", 10),
            Err(DownloadError::KeptLink(_))
        ));
        assert!(kept.list().is_empty());
        let mut left: Vec<String> = fs::read_dir(&precious)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(fs::read(precious.join("notes.info")).unwrap() == b"mine");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn what_is_kept_is_counted_as_it_takes_the_disk() {
        let root = scratch("kept-usage");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let folder = kept.folder("empty-ish", 1).unwrap();
        for i in 0..50 {
            folder.subfolder(Path::new(&format!("d{i}/e"))).unwrap();
        }
        let mut entry = folder.entry(Path::new("f"), 1).unwrap();
        entry.write(b"x").unwrap();
        entry.complete();
        drop(folder);
        let listed = kept.list();
        assert_eq!(listed.len(), 1);
        let on_disk = disk_usage(&kept.root) - disk_usage_of_root_alone(&kept.root);
        assert_eq!((listed[0].held, listed[0].disk), (1, on_disk));
        let gone = kept.discard(false).unwrap();
        assert_eq!((gone.items, gone.bytes), (1, on_disk));
        assert!(!kept.root.exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_cut_file_is_kept_hidden_and_resumed_from_where_it_stopped() {
        let root = scratch("kept-file");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let mut file = kept.file("big.bin", 10).unwrap();
        assert_eq!(file.held(), 0);
        file.write(b"01234").unwrap();
        drop(file);
        let names: Vec<_> = fs::read_dir(&root).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the hidden folder: {names:?}");
        let listed = kept.list();
        assert_eq!(listed.len(), 1);
        let item = &listed[0];
        assert_eq!(
            (item.kind, item.name.as_str(), item.held, item.size),
            (KeptKind::File, "big.bin", 5, 10)
        );
        assert!(item.left > KEPT_FOR - Duration::from_secs(60));
        // Another size is another file.
        assert_eq!(kept.file("big.bin", 11).unwrap().held(), 0);
        let mut again = kept.file("big.bin", 10).unwrap();
        assert_eq!(again.held(), 5);
        let prefix = again.hash_prefix(5).unwrap();
        assert_eq!(prefix.finalize(), blake3::hash(b"01234"));
        again.write(b"56789").unwrap();
        let saved = again.finish(&downloads, "big.bin").unwrap();
        assert_eq!(fs::read(saved).unwrap(), b"0123456789");
        assert!(kept.list().is_empty());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_kept_file_in_use_is_not_shared_nor_discarded() {
        let root = scratch("kept-busy");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let mut first = kept.file("a", 4).unwrap();
        first.write(b"ab").unwrap();
        let mut second = kept.file("a", 4).unwrap();
        assert_eq!(second.held(), 0, "a second transfer starts its own");
        second.write(b"cd").unwrap();
        assert_eq!(
            kept.discard(false).unwrap(),
            Discarded {
                items: 0,
                bytes: 0,
                in_use: 1
            },
            "the second transfer's key is its own, and not kept"
        );
        assert!(
            kept.list().is_empty(),
            "what is in use is not listed as kept"
        );
        // Under a key nothing would find again, it is not kept.
        drop(second);
        drop(first);
        let listed: Vec<_> = kept.list().into_iter().map(|i| (i.held, i.disk)).collect();
        let on_disk = disk_usage(&kept.root);
        assert_eq!(
            listed,
            [(2, on_disk - disk_usage_of_root_alone(&kept.root))]
        );
        let gone = kept.discard(false).unwrap();
        assert_eq!((gone.items, gone.in_use), (1, 0));
        assert_eq!(gone.bytes, listed[0].1, "what it took on the disk");
        assert!(kept.list().is_empty());
        assert!(!root.join(KEPT_FOLDER).exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_expired_items_go_when_asked_for_those() {
        let root = scratch("kept-expiry");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        for name in ["old", "new"] {
            let mut file = kept.file(name, 9).unwrap();
            file.write(b"x").unwrap();
        }
        let old_info = kept
            .root
            .join(format!("{}.info", key(KeptKind::File, "old", 9)));
        let long_ago = SystemTime::now() - KEPT_FOR - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&old_info)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let gone = kept.discard(true).unwrap();
        assert_eq!(gone.items, 1);
        let left: Vec<_> = kept.list().into_iter().map(|i| i.name).collect();
        assert_eq!(left, ["new"]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_resent_folder_keeps_only_what_was_sent_again() {
        let root = scratch("kept-prune");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let folder = kept.folder("pics", 9).unwrap();
        for path in ["a/old.txt", "a/new.txt", "stale.txt", "b/c/gone.txt"] {
            let mut entry = folder.entry(Path::new(path), 9).unwrap();
            entry.write(b"x").unwrap();
            entry.complete();
        }
        folder.subfolder(Path::new("empty")).unwrap();
        folder.subfolder(Path::new("stale-empty")).unwrap();
        let wanted = ["a/new.txt", "empty"];
        folder.keep_only(|p| wanted.iter().any(|w| p == Path::new(w)));
        let saved = folder.finish(&downloads, "pics").unwrap();
        let mut left: Vec<String> = Vec::new();
        for entry in fs::read_dir(&saved).unwrap().flatten() {
            left.push(entry.file_name().into_string().unwrap());
        }
        left.sort();
        assert_eq!(left, ["a", "empty"]);
        assert!(saved.join("a/new.txt").is_file() && !saved.join("a/old.txt").exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_folder_not_taken_leaves_no_trace_and_links_are_not_followed() {
        let root = scratch("kept-drop");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        drop(kept.folder("never", 5).unwrap());
        assert!(!root.join(KEPT_FOLDER).exists(), "an empty folder was kept");
        // A link planted where a part would go is refused, not followed.
        let victim = root.join("victim.txt");
        fs::write(&victim, b"mine").unwrap();
        let mut file = kept.file("a.txt", 10).unwrap();
        file.write(b"x").unwrap();
        let part = file.path.clone();
        drop(file);
        fs::remove_file(&part).unwrap();
        std::os::unix::fs::symlink(&victim, &part).unwrap();
        assert!(kept.file("a.txt", 10).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"mine");
        fs::remove_dir_all(root).unwrap();
    }

    /// Another chat sharing the download folder removes the hidden folder
    /// the moment it is empty, and discards what nobody holds: a transfer
    /// starting meanwhile still gets its file.
    #[test]
    fn a_transfer_starts_while_another_chat_tidies_the_hidden_folder() {
        let root = scratch("kept-tidied");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tidier = {
            let (kept, done) = (kept.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    kept.discard(false).unwrap();
                }
            })
        };
        // Each is cut after a byte, so keeps what it holds.
        let started = (0..2000).map(|_| {
            let file = kept.file("same.bin", 8);
            let ok = file.is_ok();
            if let Ok(mut file) = file {
                file.write(b"x").unwrap();
            }
            ok
        });
        let failed = started.filter(|ok| !ok).count();
        done.store(true, Ordering::Relaxed);
        tidier.join().unwrap();
        assert_eq!(failed, 0, "transfers that could not start");
        // Nothing was kept where a discard cannot find it.
        kept.discard(false).unwrap();
        let left: Vec<_> = fs::read_dir(&root).unwrap().flatten().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_folder_appears_only_when_finished_and_never_replaces_one() {
        let root = scratch("kept-folder");
        let downloads = DownloadDir::new(&root);
        fs::create_dir_all(root.join("photos")).unwrap();
        let kept = Kept::of(&downloads);
        let folder = kept.folder("photos", 3).unwrap();
        let mut entry = folder.entry(Path::new("a/.b"), 3).unwrap();
        entry.write(b"abc").unwrap();
        entry.complete();
        folder.subfolder(Path::new("empty")).unwrap();
        assert!(kept.list().is_empty(), "in use");
        drop(folder);
        let listed: Vec<_> = kept.list().into_iter().map(|i| (i.kind, i.held)).collect();
        assert_eq!(listed, [(KeptKind::Folder, 3)]);
        // Found again by its name, whatever its size now.
        let folder = kept.folder("photos", 7).unwrap();
        let saved = folder.finish(&downloads, "photos").unwrap();
        assert_eq!(saved, root.join("photos (1)"));
        assert_eq!(fs::read(saved.join("a/.b")).unwrap(), b"abc");
        assert!(saved.join("empty").is_dir());
        assert!(kept.list().is_empty());
        fs::remove_dir_all(root).unwrap();
    }
}
