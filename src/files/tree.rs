//! A local folder to send: walked once, before anything goes on the wire,
//! into the subfolders and files the peer will receive. Symbolic links are
//! not followed and special files (devices, sockets, FIFOs) are left out;
//! each is named in a note for the user.

use std::fs;
use std::path::{Path, PathBuf};

use std::os::unix::fs::MetadataExt;

use crate::files::download::safe_file_name;
use crate::files::send::FileIdentity;
use crate::wire::frame;

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
    /// Walks the folder at `root`.
    pub fn walk(root: &Path) -> std::io::Result<Self> {
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
        tree.walk_below(&root, "")?;
        Ok(tree)
    }

    fn walk_below(&mut self, dir: &Path, relative: &str) -> std::io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let below = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let meta = match entry.path().symlink_metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    self.skipped.push(format!("{below} ({e})"));
                    continue;
                }
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                self.skipped.push(format!("{below} (a symbolic link)"));
            } else if kind.is_dir() {
                self.items.push(TreeItem::Folder(below.clone()));
                if let Err(e) = self.walk_below(&entry.path(), &below) {
                    self.skipped.push(format!("what is inside {below} ({e})"));
                }
            } else if !kind.is_file() {
                self.skipped.push(format!("{below} (not a regular file)"));
            } else if meta.len() > frame::MAX_FILE_SIZE {
                self.skipped.push(format!("{below} (over 16 TiB)"));
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
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scratch;
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
