//! The store of one download folder's kept items: its hidden folder,
//! found or made without following a link, the files and folders started
//! or resumed in it, and listing and discarding what it holds.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::info::{infos_in, is_private, key, listed};
use super::open_at::{
    dir_flags, folder_error, make_dir_at, open_file_at, open_info_at, rename_new_at,
};
use super::walk::{remove_at, usage_at};
use super::{
    Dir, Discarded, KEPT_FOLDER, KEPT_FOR, KeptFile, KeptFolder, KeptItem, KeptKind, KeptOwner,
    SERIAL,
};
use crate::files::download::{DownloadDir, DownloadError};

/// The store of kept items of one download folder.
#[derive(Debug, Clone)]
pub struct Kept {
    downloads: DownloadDir,
    pub(super) root: PathBuf,
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

    pub(super) fn create_error(&self, cause: io::Error) -> DownloadError {
        DownloadError::CreateFile {
            path: self.root.clone(),
            cause,
        }
    }

    /// Opens the info file `name` in the hidden folder, creating both;
    /// returns the hidden folder, open, with it.
    ///
    /// Another chat sharing the download folder removes the hidden folder
    /// the moment it holds nothing. Made empty and then filled, it could go
    /// in between; so a missing hidden folder is made elsewhere with the
    /// info file already inside, and moved into place whole.
    pub(super) fn open_info(&self, name: &str) -> Result<(Dir, File), DownloadError> {
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

    /// Starts or resumes receiving the file `name` of `size` bytes from
    /// `owner`: what was kept of it from anyone else is not touched.
    pub fn file(&self, name: &str, size: u64, owner: KeptOwner) -> Result<KeptFile, DownloadError> {
        let (key, claim) = self.claim(KeptKind::File, name, size, owner)?;
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

    /// Whether something of the file `name` of `size` bytes from `owner`
    /// is kept: if not, keeping it makes two files, its part and its info.
    pub fn holds_file(&self, name: &str, size: u64, owner: KeptOwner) -> bool {
        let part = format!("{}.part", key(KeptKind::File, name, size, owner));
        self.open_root().ok().flatten().is_some_and(|root| {
            rustix::fs::statat(&root, part.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok()
        })
    }

    /// Starts or resumes receiving the folder `name` of `bytes` bytes from
    /// `owner`: what was kept of it from anyone else is not touched.
    pub fn folder(
        &self,
        name: &str,
        bytes: u64,
        owner: KeptOwner,
    ) -> Result<KeptFolder, DownloadError> {
        let (key, claim) = self.claim(KeptKind::Folder, name, bytes, owner)?;
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

    /// Every kept item that a resend would find, whoever its sender (and
    /// those of notes without an owner, which none would), oldest first;
    /// not those a transfer is using now.
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::files::kept::peer;
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
        let there = key(KeptKind::File, "important", 10, peer(1));
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
            matches!(
                kept.file("important", 10, peer(1)),
                Err(DownloadError::KeptLink(_))
            ),
            "a transfer kept its part through the link"
        );
        assert!(matches!(
            kept.folder("photos", 10, peer(1)),
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
        let folder = kept.folder("empty-ish", 1, peer(1)).unwrap();
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
    fn a_kept_file_in_use_is_not_shared_nor_discarded() {
        let root = scratch("kept-busy");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let mut first = kept.file("a", 4, peer(1)).unwrap();
        first.write(b"ab").unwrap();
        let mut second = kept.file("a", 4, peer(1)).unwrap();
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

    /// Every file in the hidden folder `root`, below it too, with its
    /// bytes.
    fn everything_in(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        let mut todo = vec![root.to_path_buf()];
        while let Some(at) = todo.pop() {
            for entry in fs::read_dir(&at).into_iter().flatten().flatten() {
                let path = entry.path();
                match path.is_dir() {
                    true => todo.push(path),
                    false => found.push((path.clone(), fs::read(&path).unwrap())),
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn a_kept_file_resumes_for_its_sender_alone() {
        let root = scratch("kept-owner-file");
        let kept = Kept::of(&DownloadDir::new(&root));
        let mut theirs = kept.file("a.bin", 10, peer(1)).unwrap();
        theirs.write(b"01234").unwrap();
        drop(theirs);
        let before = everything_in(&kept.root);
        assert!(!kept.holds_file("a.bin", 10, peer(2)));
        assert!(!kept.holds_file("a.bin", 10, KeptOwner::Unproved));
        // Another sender starts from nothing, elsewhere, and what it leaves
        // is its own.
        for other in [peer(2), KeptOwner::Unproved] {
            let mut file = kept.file("a.bin", 10, other).unwrap();
            assert_eq!(file.held(), 0);
            file.write(b"xy").unwrap();
        }
        let left: Vec<_> = everything_in(&kept.root)
            .into_iter()
            .filter(|entry| before.contains(entry))
            .collect();
        assert_eq!(left, before, "another's offer touched what was kept");
        assert_eq!(kept.list().len(), 3);
        assert!(kept.holds_file("a.bin", 10, peer(1)));
        let again = kept.file("a.bin", 10, peer(1)).unwrap();
        assert_eq!(again.held(), 5);
        assert_eq!(
            again.hash_prefix(5).unwrap().finalize(),
            blake3::hash(b"01234")
        );
        drop(again);
        assert_eq!(kept.discard(false).unwrap().items, 3);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_kept_folder_resumes_for_its_sender_alone() {
        let root = scratch("kept-owner-folder");
        let kept = Kept::of(&DownloadDir::new(&root));
        let theirs = kept.folder("pics", 9, peer(1)).unwrap();
        let mut entry = theirs.entry(Path::new("a/one.txt"), 9).unwrap();
        entry.write(b"one").unwrap();
        entry.complete();
        drop(theirs);
        let before = everything_in(&kept.root);
        // Another sender's folder of that name holds nothing, and pruning
        // it or cutting its files short leaves the first one's alone.
        let other = kept.folder("pics", 9, peer(2)).unwrap();
        assert!(!other.holds_a_file());
        let entry = other.entry(Path::new("a/one.txt"), 2).unwrap();
        assert_eq!(entry.held(), 0);
        entry.complete();
        other.keep_only(|_| false);
        other.discard();
        assert_eq!(everything_in(&kept.root), before);
        let again = kept.folder("pics", 9, peer(1)).unwrap();
        assert!(again.holds_a_file());
        assert_eq!(again.entry(Path::new("a/one.txt"), 9).unwrap().held(), 3);
        drop(again);
        fs::remove_dir_all(root).unwrap();
    }

    /// A note under the sender's key that names another owner (or none,
    /// as before items had owners), or is no note at all: what it is kept
    /// with is not resumed, nor touched; `discard` still removes it.
    #[test]
    fn a_note_naming_another_owner_or_none_is_left_alone() {
        let root = scratch("kept-owner-note");
        let kept = Kept::of(&DownloadDir::new(&root));
        let KeptOwner::Peer(other) = peer(2) else {
            unreachable!()
        };
        let notes = [
            format!("file\t10\t{}\ta.bin\n", other.to_hex()),
            "file\t10\tunproved\ta.bin\n".to_string(),
            "file\t10\ta.bin\n".to_string(),
            "not a note".to_string(),
        ];
        for note in notes {
            let there = key(KeptKind::File, "a.bin", 10, peer(1));
            fs::create_dir_all(&kept.root).unwrap();
            fs::write(kept.root.join(format!("{there}.info")), &note).unwrap();
            fs::write(kept.root.join(format!("{there}.part")), b"01234").unwrap();
            let before = everything_in(&kept.root);
            let mut file = kept.file("a.bin", 10, peer(1)).unwrap();
            assert_eq!(file.held(), 0, "resumed under {note:?}");
            file.write(b"xy").unwrap();
            drop(file);
            assert_eq!(everything_in(&kept.root), before, "{note:?}");
            let gone = kept.discard(false).unwrap();
            assert_eq!((gone.items, gone.in_use), (1, 0), "{note:?}");
            assert!(!kept.root.exists());
        }
        fs::remove_dir_all(root).unwrap();
    }

    /// Kept before items had owners: listed, so that the user sees it,
    /// and discarded; resumed for nobody.
    #[test]
    fn what_was_kept_before_items_had_owners_is_listed_and_discarded() {
        let root = scratch("kept-ownerless");
        let kept = Kept::of(&DownloadDir::new(&root));
        let mut before = blake3::Hasher::new();
        before.update(b"file\0");
        before.update(&10u64.to_be_bytes());
        before.update(b"old.bin");
        let old = before.finalize().to_hex()[..32].to_string();
        fs::create_dir_all(&kept.root).unwrap();
        fs::write(kept.root.join(format!("{old}.info")), "file\t10\told.bin\n").unwrap();
        fs::write(kept.root.join(format!("{old}.part")), b"0123").unwrap();
        let listed: Vec<_> = kept.list().into_iter().map(|i| (i.name, i.held)).collect();
        assert_eq!(listed, [("old.bin".to_string(), 4)]);
        for owner in [peer(1), KeptOwner::Unproved] {
            assert!(!kept.holds_file("old.bin", 10, owner));
            assert_eq!(kept.file("old.bin", 10, owner).unwrap().held(), 0);
        }
        assert_eq!(kept.discard(false).unwrap().items, 1);
        assert!(!kept.root.exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_expired_items_go_when_asked_for_those() {
        let root = scratch("kept-expiry");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        for name in ["old", "new"] {
            let mut file = kept.file(name, 9, peer(1)).unwrap();
            file.write(b"x").unwrap();
        }
        let old_info = kept
            .root
            .join(format!("{}.info", key(KeptKind::File, "old", 9, peer(1))));
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
            let file = kept.file("same.bin", 8, peer(1));
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
}
