//! A local folder to send: walked once, before anything goes on the wire,
//! into the subfolders and files the peer will receive. Symbolic links are
//! not followed and special files (devices, sockets, FIFOs) are left out;
//! each is named in a note for the user. A folder of more files, or more
//! folders, than a peer takes is not sent at all.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::download::{folders_allowed, safe_file_name};
use crate::files::send::FileIdentity;
use crate::wire::limits::{self, MAX_DEPTH, MAX_FOLDER_FILES, MAX_PATH};

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
    pub skipped: Vec<Skipped>,
}

/// Something inside the folder that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its '/'-separated path below the folder, shortened to be read.
    pub path: String,
    /// Whether what is left out is what is inside that folder (which
    /// itself goes, empty).
    pub inside: bool,
    pub why: String,
}

impl Skipped {
    /// What is left out, in the folder `name`: `photos/latest`, or `what
    /// is inside photos/private`.
    pub fn shown(&self, name: &str) -> String {
        match self.inside {
            true => format!("what is inside {name}/{}", self.path),
            false => format!("{name}/{}", self.path),
        }
    }
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
        let mut folders = 0;
        while let Some(level) = open.last_mut() {
            let Some(entry) = level.left.pop() else {
                open.pop();
                continue;
            };
            // Checked as it goes: what a peer does not take is not held.
            if tree.files > MAX_FOLDER_FILES || folders > folders_allowed(MAX_FOLDER_FILES) {
                return Err(too_many(tree.files, folders));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let below = match level.relative.as_str() {
                "" => name,
                above => format!("{above}/{name}"),
            };
            let depth = level.depth + 1;
            let items = tree.items.len();
            if let Some(deeper) = tree.take(&entry, below, depth) {
                open.push(deeper);
            }
            let made_a_folder = matches!(tree.items.get(items), Some(TreeItem::Folder(_)));
            folders += u64::from(made_a_folder);
        }
        if folders > folders_allowed(tree.files) {
            return Err(too_many(tree.files, folders));
        }
        Ok(tree)
    }

    /// Takes in one entry at `below`, `depth` levels down; returns the
    /// folder to look through next when it is one to go into.
    fn take(&mut self, entry: &fs::DirEntry, below: String, depth: usize) -> Option<Level> {
        if below.len() > MAX_PATH || depth > MAX_DEPTH {
            // Not even looked at: the depth alone bounds the walk.
            return self.skip(&below, false, &too_deep());
        }
        let meta = match entry.path().symlink_metadata() {
            Ok(meta) => meta,
            Err(e) => return self.skip(&below, false, &why_not(&e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            self.skip(&below, false, "a symbolic link")
        } else if kind.is_dir() {
            self.items.push(TreeItem::Folder(below.clone()));
            self.look_into(entry, below, depth)
        } else if !kind.is_file() {
            self.skip(&below, false, "not a regular file")
        } else if meta.len() > limits::MAX_FILE_SIZE {
            self.skip(&below, false, "over 16 TiB")
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
        match sorted_entries(&entry.path()) {
            Ok(left) if left.is_empty() => None,
            Ok(_) if depth == MAX_DEPTH => self.skip(&below, true, &too_deep()),
            Ok(left) => Some(Level {
                relative: below,
                depth,
                left,
            }),
            Err(e) => self.skip(&below, true, &why_not(&e)),
        }
    }

    /// Notes that `path` is left out (or what is inside it), and why.
    fn skip(&mut self, path: &str, inside: bool, why: &str) -> Option<Level> {
        self.skipped.push(Skipped {
            path: shortened(path),
            inside,
            why: why.to_string(),
        });
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

/// Why a folder is not sent at all: it holds more files, or more folders
/// for its files, than a peer takes (PROTOCOL.md 3.5).
fn too_many(files: u64, folders: u64) -> io::Error {
    io::Error::other(if files > MAX_FOLDER_FILES {
        format!("it holds more than the {MAX_FOLDER_FILES} files a peer takes in a folder")
    } else {
        format!(
            "it holds {folders} folders, more than the {} a peer takes in a folder of {}",
            folders_allowed(files),
            crate::files::size::files(files)
        )
    })
}

/// Why what the walk found could not be looked at; a path too long for
/// this system to name is too deep for a peer too.
fn why_not(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENAMETOOLONG) => too_deep(),
        Some(libc::EACCES | libc::EPERM) => "permission denied".to_string(),
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
        let deepest = &tree.skipped[0];
        assert_eq!(
            deepest.shown("deep"),
            "what is inside deep/d/…/d (64 levels)"
        );
        assert!(deepest.why.starts_with("nested too deep: "), "{deepest:?}");
        assert!(tree.skipped[1].path.starts_with("nnnn"));
        assert!(tree.skipped.iter().all(|note| note.path.len() < 250));
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
    fn a_folder_of_more_folders_than_a_peer_takes_is_not_sent() {
        let root = scratch("tree-many-folders").join("skeleton");
        let allowed = folders_allowed(1);
        for i in 0..allowed {
            fs::create_dir_all(root.join(format!("{}/{i}", i % 10))).unwrap();
        }
        fs::write(root.join("0/one.txt"), b"1").unwrap();
        // Ten folders above the `allowed` ones inside them.
        let refused = FolderTree::walk(&root).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "it holds {} folders, more than the {allowed} a peer takes in a folder of 1 file",
                allowed + 10
            )
        );
        for i in 0..11 {
            fs::remove_dir(root.join(format!("{}/{i}", i % 10))).unwrap();
        }
        let tree = FolderTree::walk(&root).unwrap();
        assert_eq!(tree.files, 1);
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
        let skipped: Vec<String> = tree
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.shown("notes"), s.why))
            .collect();
        assert_eq!(
            skipped,
            [
                "notes/fifo (not a regular file)",
                "notes/link (a symbolic link)"
            ]
        );
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
