//! A kept folder being received: its tree made one folder at a time,
//! pruned to what was sent again, and given its final name or discarded.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::FileType;

use super::info::Claim;
use super::open_at::{folder_error, make_dir_at, name_finally, type_at};
use super::walk::{names_in, open_folder_at, remove_at};
use super::{Dir, KeptFile};
use crate::files::download::{DownloadDir, DownloadError};

/// A folder being received, hidden until every file in it arrived whole.
/// Dropped holding no file, it leaves no trace.
#[derive(Debug)]
pub struct KeptFolder {
    /// Where it is, as shown; it is `name` in the hidden folder `root`,
    /// open as `dir`.
    pub(super) path: PathBuf,
    pub(super) root: Dir,
    pub(super) name: OsString,
    pub(super) dir: Dir,
    /// `None` once it was given its final name or discarded.
    pub(super) claim: Option<Claim>,
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::files::kept::{KEPT_FOLDER, Kept, KeptKind, peer};
    use crate::files::scratch;

    #[test]
    fn a_resent_folder_keeps_only_what_was_sent_again() {
        let root = scratch("kept-prune");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let folder = kept.folder("pics", 9, peer(1)).unwrap();
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
        drop(kept.folder("never", 5, peer(1)).unwrap());
        assert!(!root.join(KEPT_FOLDER).exists(), "an empty folder was kept");
        // A link planted where a part would go is refused, not followed.
        let victim = root.join("victim.txt");
        fs::write(&victim, b"mine").unwrap();
        let mut file = kept.file("a.txt", 10, peer(1)).unwrap();
        file.write(b"x").unwrap();
        let part = file.path().to_path_buf();
        drop(file);
        fs::remove_file(&part).unwrap();
        std::os::unix::fs::symlink(&victim, &part).unwrap();
        assert!(kept.file("a.txt", 10, peer(1)).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"mine");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_folder_appears_only_when_finished_and_never_replaces_one() {
        let root = scratch("kept-folder");
        let downloads = DownloadDir::new(&root);
        fs::create_dir_all(root.join("photos")).unwrap();
        let kept = Kept::of(&downloads);
        let folder = kept.folder("photos", 3, peer(1)).unwrap();
        let mut entry = folder.entry(Path::new("a/.b"), 3).unwrap();
        entry.write(b"abc").unwrap();
        entry.complete();
        folder.subfolder(Path::new("empty")).unwrap();
        assert!(kept.list().is_empty(), "in use");
        drop(folder);
        let listed: Vec<_> = kept.list().into_iter().map(|i| (i.kind, i.held)).collect();
        assert_eq!(listed, [(KeptKind::Folder, 3)]);
        // Found again by its name, whatever its size now.
        let folder = kept.folder("photos", 7, peer(1)).unwrap();
        let saved = folder.finish(&downloads, "photos").unwrap();
        assert_eq!(saved, root.join("photos (1)"));
        assert_eq!(fs::read(saved.join("a/.b")).unwrap(), b"abc");
        assert!(saved.join("empty").is_dir());
        assert!(kept.list().is_empty());
        fs::remove_dir_all(root).unwrap();
    }
}
