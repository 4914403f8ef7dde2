//! A local folder to send: walked once, before anything goes on the wire,
//! into the subfolders and files the peer will receive. Symbolic links are
//! not followed and special files (devices, sockets, FIFOs) are left out;
//! each is named in a note for the user.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::download::{MAX_DEPTH, safe_file_name};
use crate::files::send::FileIdentity;
use crate::wire::frame;
use crate::wire::message::MAX_PATH;

/// What a folder holds, in the order it is sent: every subfolder before
/// what is inside it.
#[derive(Debug)]
pub struct FolderTree {
    /// The name announced to the peer.
    pub name: String,
    pub items: Vec<TreeItem>,
    pub files: u64,
    pub bytes: u64,
    /// What was left out, and why, for the user.
    pub skipped: Vec<String>,
}

#[derive(Debug)]
pub enum TreeItem {
    /// A subfolder, by its '/'-separated path below the folder.
    Folder(String),
    /// A file: where it is here, its path below the folder, and its size
    /// and identity when walked.
    File {
        path: PathBuf,
        relative: String,
        size: u64,
        identity: FileIdentity,
    },
}

impl FolderTree {
    /// Walks the folder at `root`, one level at a time with a stack of its
    /// own: a folder nested however deep cannot exhaust the thread's.
    pub fn walk(root: &Path) -> io::Result<Self> {
        // A link named on the command line is followed, as `cp -r` does;
        // links inside are not.
        let root = fs::canonicalize(root)?;
        let base = root
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let mut tree = Self {
            name: safe_file_name(&base),
            items: Vec::new(),
            files: 0,
            bytes: 0,
            skipped: Vec::new(),
        };
        // Each folder being looked through, with what is left of it (in
        // reverse order, taken from the end).
        let mut open = vec![Level {
            relative: String::new(),
            depth: 0,
            left: sorted_entries(&root)?,
        }];
        while let Some(level) = open.last_mut() {
            let Some(entry) = level.left.pop() else {
                open.pop();
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let below = match level.relative.as_str() {
                "" => name,
                above => format!("{above}/{name}"),
            };
            let depth = level.depth + 1;
            if let Some(deeper) = tree.take(&entry, below, depth) {
                open.push(deeper);
            }
        }
        Ok(tree)
    }

    /// Takes in one entry at `below`, `depth` levels down; returns the
    /// folder to look through next when it is one to go into.
    fn take(&mut self, entry: &fs::DirEntry, below: String, depth: usize) -> Option<Level> {
        if below.len() > MAX_PATH || depth > MAX_DEPTH {
            // Not even looked at: the depth alone bounds the walk.
            return self.skip(&below, &too_deep());
        }
        let meta = match entry.path().symlink_metadata() {
            Ok(meta) => meta,
            Err(e) => return self.skip(&below, &why_not(&e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            self.skip(&below, "a symbolic link")
        } else if kind.is_dir() {
            self.items.push(TreeItem::Folder(below.clone()));
            self.look_into(entry, below, depth)
        } else if !kind.is_file() {
            self.skip(&below, "not a regular file")
        } else if meta.len() > frame::MAX_FILE_SIZE {
            self.skip(&below, "over 16 TiB")
        } else {
            self.files += 1;
            self.bytes += meta.len();
            self.items.push(TreeItem::File {
                path: entry.path(),
                relative: below,
                size: meta.len(),
                identity: FileIdentity {
                    device: meta.dev(),
                    inode: meta.ino(),
                },
            });
            None
        }
    }

    /// The subfolder `below` to look through next, unless what is in it
    /// would be deeper than a peer takes, or cannot be read.
    fn look_into(&mut self, entry: &fs::DirEntry, below: String, depth: usize) -> Option<Level> {
        let inside = format!("what is inside {below}");
        match sorted_entries(&entry.path()) {
            Ok(left) if left.is_empty() => None,
            Ok(_) if depth == MAX_DEPTH => self.skip(&inside, &too_deep()),
            Ok(left) => Some(Level {
                relative: below,
                depth,
                left,
            }),
            Err(e) => self.skip(&inside, &why_not(&e)),
        }
    }

    /// Notes that `what` is left out, and why.
    fn skip(&mut self, what: &str, why: &str) -> Option<Level> {
        self.skipped.push(format!("{} ({why})", shortened(what)));
        None
    }
}

/// Why a path is left out when it is deeper than a peer takes: more levels
/// than a received path may have (PROTOCOL.md 2.4), or more bytes than the
/// wire carries (3.4).
fn too_deep() -> String {
    format!(
        "nested too deep: a peer takes paths of at most {MAX_DEPTH} levels and {MAX_PATH} bytes"
    )
}

/// Why what the walk found could not be looked at; a path too long for
/// this system to name is too deep for a peer too.
fn why_not(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENAMETOOLONG) => too_deep(),
        _ => e.to_string(),
    }
}

/// A folder being looked through in the walk.
struct Level {
    /// Its '/'-separated path below the folder sent; empty for the folder.
    relative: String,
    /// How many levels down it is.
    depth: usize,
    /// What is left to take of it, last first.
    left: Vec<fs::DirEntry>,
}

/// The entries of `dir`, sorted by name in reverse, so that taking them
/// from the end goes in order.
fn sorted_entries(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
    Ok(entries)
}

/// A long path made short enough to read in a note: its first and last
/// components around an ellipsis.
fn shortened(path: &str) -> String {
    const LONGEST: usize = 120;
    if path.len() <= LONGEST {
        return path.to_string();
    }
    let first = path.split('/').next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let levels = path.split('/').count();
    let cut = |part: &str| -> String { part.chars().take(40).collect() };
    format!("{}/…/{} ({levels} levels)", cut(first), cut(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scratch;
    use rustix::fs::{AtFlags, Mode, OFlags};
    use std::os::unix::fs::symlink;

    #[test]
    fn a_file_replaced_after_the_walk_is_not_opened() {
        use crate::files::send::{OutgoingFile, SendError};
        let root = scratch("tree-replaced").join("album");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("photo.jpg"), b"photo").unwrap();
        fs::write(root.join("kept.jpg"), b"kept").unwrap();
        let secret = root.parent().unwrap().join("secret");
        fs::write(&secret, b"secret").unwrap();
        let tree = FolderTree::walk(&root).unwrap();
        fs::remove_file(root.join("photo.jpg")).unwrap();
        symlink(&secret, root.join("photo.jpg")).unwrap();
        for item in tree.items {
            let TreeItem::File { path, identity, .. } = item else {
                continue;
            };
            let opened = OutgoingFile::open_walked(&path, identity);
            if path.ends_with("photo.jpg") {
                assert!(matches!(opened, Err(SendError::Changed)), "{opened:?}");
            } else {
                assert_eq!(opened.unwrap().size(), 4);
            }
        }
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_folder_deeper_than_a_peer_takes_is_sent_down_to_the_limit() {
        let root = scratch("tree-deep").join("deep");
        let mut bottom = root.clone();
        for _ in 0..70 {
            bottom.push("d");
        }
        fs::create_dir_all(&bottom).unwrap();
        fs::write(root.join("top.txt"), b"top").unwrap();
        // 21 names of 200 bytes, made a level at a time: the whole path is
        // too long to name at once. The last level's path is over 4096
        // bytes, and the file inside it is not reached.
        let mut level = rustix::fs::open(&root, OFlags::DIRECTORY, Mode::empty()).unwrap();
        let long = "n".repeat(200);
        for _ in 0..21 {
            rustix::fs::mkdirat(&level, long.as_str(), Mode::from_raw_mode(0o755)).unwrap();
            level = rustix::fs::openat(&level, long.as_str(), OFlags::DIRECTORY, Mode::empty())
                .unwrap();
        }
        let file = OFlags::CREATE | OFlags::WRONLY;
        rustix::fs::openat(&level, "f", file, Mode::from_raw_mode(0o644)).unwrap();
        let tree = FolderTree::walk(&root).unwrap();
        let folders: Vec<&str> = tree
            .items
            .iter()
            .filter_map(|item| match item {
                TreeItem::Folder(path) => Some(path.as_str()),
                TreeItem::File { .. } => None,
            })
            .collect();
        let deepest = vec!["d"; MAX_DEPTH].join("/");
        assert_eq!(folders.iter().filter(|p| p.starts_with('d')).count(), 64);
        assert_eq!(folders.iter().find(|p| p.starts_with('d')), Some(&"d"));
        assert!(folders.contains(&deepest.as_str()));
        // 20 names of 200 bytes: the last level's path is over 4096 bytes.
        assert_eq!(folders.iter().filter(|p| p.starts_with('n')).count(), 20);
        assert_eq!((tree.files, tree.bytes), (1, 3));
        assert_eq!(tree.skipped.len(), 2, "{:?}", tree.skipped);
        assert!(
            tree.skipped[0].starts_with("what is inside d/…/d (64 levels) (nested too deep: ")
                && tree.skipped[1].starts_with("nnnn"),
            "{:?}",
            tree.skipped
        );
        assert!(tree.skipped.iter().all(|note| note.len() < 250));
        // Removed from the bottom, where whole paths can be named again.
        for _ in 0..21 {
            let up = rustix::fs::openat(&level, "..", OFlags::DIRECTORY, Mode::empty()).unwrap();
            let _ = rustix::fs::unlinkat(&level, "f", AtFlags::empty());
            rustix::fs::unlinkat(&up, long.as_str(), AtFlags::REMOVEDIR).unwrap();
            level = up;
        }
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_folder_is_walked_without_following_links_or_special_files() {
        let root = scratch("tree").join("notes");
        fs::create_dir_all(root.join("a/empty")).unwrap();
        fs::write(root.join("a/.hidden"), b"12").unwrap();
        fs::write(root.join("b.txt"), b"123").unwrap();
        symlink("/etc/passwd", root.join("link")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status();
        assert!(made.unwrap().success());
        let tree = FolderTree::walk(&root).unwrap();
        assert_eq!(tree.name, "notes");
        assert_eq!((tree.files, tree.bytes), (2, 5));
        let items: Vec<String> = tree
            .items
            .iter()
            .map(|item| match item {
                TreeItem::Folder(path) => format!("{path}/"),
                TreeItem::File { relative, size, .. } => format!("{relative} {size}"),
            })
            .collect();
        assert_eq!(items, ["a/", "a/.hidden 2", "a/empty/", "b.txt 3"]);
        assert_eq!(
            tree.skipped,
            ["fifo (not a regular file)", "link (a symbolic link)"]
        );
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
