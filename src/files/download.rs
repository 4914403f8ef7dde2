//! The download folder: where received files go, and the one place that turns
//! a peer's file name into a local path.
//!
//! A file is written to a hidden temporary file in the folder and only given
//! its final name once every byte has arrived; the final name never replaces
//! an existing file (`notes.txt` becomes `notes (1).txt`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;

use rustix::pipe::SpliceFlags;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::terminal::sanitize;

/// Longest file name we create, in bytes; common file systems allow 255.
const MAX_NAME_BYTES: usize = 200;

/// Used when nothing usable is left of the peer's name.
const FALLBACK_NAME: &str = "unnamed";

/// How many numbered alternatives to try before giving up on a name.
const MAX_NUMBERED: u32 = 10_000;

/// The local file name for a name a peer sent: only its final component,
/// without control or bidi characters, without leading dots (no hidden files,
/// no `..`), never empty. The result can be joined onto a folder safely.
pub fn safe_file_name(peer_name: &str) -> String {
    let last = peer_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| if sanitize::is_unsafe_char(c) { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim_start();
    let name = truncate_keeping_extension(trimmed, MAX_NAME_BYTES);
    if name.is_empty() {
        FALLBACK_NAME.to_string()
    } else {
        name
    }
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping a
/// short extension so the file still opens with the right program.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => &name[dot..],
        _ => "",
    };
    let mut cut = max - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

/// `notes.txt` numbered `n`: `notes (n).txt`.
fn numbered(name: &str, n: u32) -> String {
    let path = Path::new(name);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => {
            format!("{} ({n}).{}", stem.to_string_lossy(), ext.to_string_lossy())
        }
        _ => format!("{name} ({n})"),
    }
}

/// Why the download folder cannot take a file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot write to {}: {source}", path.display())]
    NotWritable { path: PathBuf, source: io::Error },
    #[error("cannot create folder {}: {source}", path.display())]
    CreateFolder { path: PathBuf, source: io::Error },
    #[error("cannot create a file in {}: {source}", path.display())]
    CreateFile { path: PathBuf, source: io::Error },
    #[error("cannot write to {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot name the file {}: {source}", path.display())]
    Name { path: PathBuf, source: io::Error },
    #[error("too many files named like {0}")]
    NoFreeName(String),
}

/// The folder received files are saved in. It is created when the first
/// file arrives, not before.
#[derive(Debug, Clone)]
pub struct DownloadDir {
    path: PathBuf,
}

/// A file being received: a hidden temporary file in the download folder,
/// removed on drop unless [`Partial::finish`] gave it its final name.
#[derive(Debug)]
pub struct Partial {
    file: Option<File>,
    temp_path: PathBuf,
    name: String,
    dir: PathBuf,
}

impl DownloadDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails early, before any connection, when files could not be saved:
    /// the folder (or what would become its parent) is not a directory or
    /// cannot be written to.
    pub fn check(&self) -> Result<(), DownloadError> {
        let existing = self
            .path
            .ancestors()
            .find(|p| !p.as_os_str().is_empty() && p.exists())
            .unwrap_or(Path::new("."));
        if !existing.is_dir() {
            return Err(DownloadError::NotADirectory(existing.to_path_buf()));
        }
        // Permissions alone do not tell (root, read-only mounts, ACLs):
        // creating a file is the only reliable test.
        let probe = existing.join(format!(".chat-probe-{}", std::process::id()));
        let not_writable = |source| DownloadError::NotWritable {
            path: existing.to_path_buf(),
            source,
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(not_writable)?;
        fs::remove_file(&probe).map_err(not_writable)
    }

    /// Starts receiving a file the peer calls `peer_name`: creates the folder
    /// if needed and a temporary file inside it.
    pub fn start(&self, peer_name: &str) -> Result<Partial, DownloadError> {
        fs::create_dir_all(&self.path).map_err(|source| DownloadError::CreateFolder {
            path: self.path.clone(),
            source,
        })?;
        let name = safe_file_name(peer_name);
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let serial = NEXT.fetch_add(1, Ordering::Relaxed);
            let temp_path =
                self.path
                    .join(format!(".{}.{}-{serial}.part", name, std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp_path)
            {
                Ok(file) => {
                    return Ok(Partial {
                        file: Some(file),
                        temp_path,
                        name,
                        dir: self.path.clone(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(DownloadError::CreateFile {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
    }
}

impl Partial {
    /// Appends received bytes to the temporary file.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        let file = self.file.as_mut().expect("file is present until finish");
        file.write_all(bytes)
            .map_err(|source| DownloadError::Write {
                path: self.dir.clone(),
                source,
            })
    }

    /// Moves `len` bytes waiting in `pipe` into the temporary file, without
    /// copying them through user space.
    pub fn splice_in(&mut self, pipe: &OwnedFd, len: usize) -> Result<(), DownloadError> {
        let file = self.file.as_ref().expect("file is present until finish");
        let mut left = len;
        while left > 0 {
            match rustix::pipe::splice(pipe, None, file, None, left, SpliceFlags::MOVE) {
                Ok(0) => {
                    return Err(self.write_error(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => left -= n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(self.write_error(e.into())),
            }
        }
        Ok(())
    }

    fn write_error(&self, source: io::Error) -> DownloadError {
        DownloadError::Write {
            path: self.dir.clone(),
            source,
        }
    }

    /// Gives the received bytes their final name, numbered if the name is
    /// taken. Returns the path it was saved to. Like `cp` or `scp`, this
    /// leaves writing to the disk to the kernel: forcing it would cost more
    /// than the transfer on a fast link.
    pub fn finish(mut self) -> Result<PathBuf, DownloadError> {
        drop(self.file.take());
        for n in 0..=MAX_NUMBERED {
            let candidate = match n {
                0 => self.name.clone(),
                n => numbered(&self.name, n),
            };
            let target = self.dir.join(candidate);
            match claim(&self.temp_path, &target) {
                Ok(()) => return Ok(target),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(DownloadError::Name {
                        path: target,
                        source,
                    });
                }
            }
        }
        Err(DownloadError::NoFreeName(self.name.clone()))
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // Whatever did not reach `finish` must not be left behind; after a
        // successful `finish` the temporary name is already gone.
        self.file.take();
        let _ = fs::remove_file(&self.temp_path);
    }
}

/// Gives the temporary file the name `target` without ever replacing an
/// existing file: a hard link fails if the name exists, atomically. Where
/// links are not supported, the name is reserved with `create_new` first.
fn claim(temp: &Path, target: &Path) -> io::Result<()> {
    match fs::hard_link(temp, target) {
        // The file is saved; the temporary name goes when `Partial` drops.
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(target)?;
            fs::rename(temp, target).inspect_err(|_| {
                // Do not leave the empty placeholder behind.
                let _ = fs::remove_file(target);
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_plain_final_components() {
        let cases = [
            ("notes.txt", "notes.txt"),
            ("my notes.txt", "my notes.txt"),
            ("../../evil.txt", "evil.txt"),
            ("/etc/passwd", "passwd"),
            ("a\\b.txt", "b.txt"),
            ("C:\\Windows\\system.ini", "system.ini"),
            ("..", FALLBACK_NAME),
            (".", FALLBACK_NAME),
            ("/", FALLBACK_NAME),
            ("dir/", FALLBACK_NAME),
            ("", FALLBACK_NAME),
            ("   ", FALLBACK_NAME),
            (".bashrc", "bashrc"),
            ("...hidden", "hidden"),
            ("a\x1b[31mb", "a_[31mb"),
            ("new\nline", "new_line"),
            ("evil\u{202e}txt.exe", "evil_txt.exe"),
            ("tab\there", "tab_here"),
            ("  spaced  ", "spaced"),
            ("x/..", FALLBACK_NAME),
        ];
        for (peer, local) in cases {
            assert_eq!(safe_file_name(peer), local, "peer name {peer:?}");
        }
    }

    #[test]
    fn safe_names_never_escape_the_folder() {
        for peer in ["../x", "..\\x", "/abs", "a/../../b", "..", "./.", "\0"] {
            let name = safe_file_name(peer);
            assert!(!name.is_empty());
            assert!(!name.contains(['/', '\\', '\0']));
            assert!(!name.starts_with('.'));
            let joined = Path::new("dl").join(&name);
            assert_eq!(joined.parent(), Some(Path::new("dl")), "{peer:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let name = safe_file_name(&format!("{}.tar", "é".repeat(300)));
        assert!(name.len() <= MAX_NAME_BYTES);
        assert!(name.ends_with(".tar"));
        let plain = safe_file_name(&"x".repeat(1000));
        assert_eq!(plain.len(), MAX_NAME_BYTES);
    }

    #[test]
    fn numbering_goes_before_the_extension() {
        assert_eq!(numbered("notes.txt", 1), "notes (1).txt");
        assert_eq!(numbered("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(numbered("README", 3), "README (3)");
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chat-download-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn receive(dir: &DownloadDir, name: &str, bytes: &[u8]) -> PathBuf {
        let mut partial = dir.start(name).unwrap();
        partial.write(bytes).unwrap();
        partial.finish().unwrap()
    }

    #[test]
    fn finished_files_never_overwrite() {
        let root = scratch("numbering");
        let dir = DownloadDir::new(root.join("received"));
        assert_eq!(
            receive(&dir, "notes.txt", b"one"),
            root.join("received/notes.txt")
        );
        assert_eq!(
            receive(&dir, "notes.txt", b"two"),
            root.join("received/notes (1).txt")
        );
        assert_eq!(
            receive(&dir, "../notes.txt", b"three"),
            root.join("received/notes (2).txt")
        );
        assert_eq!(fs::read(root.join("received/notes.txt")).unwrap(), b"one");
        assert_eq!(
            fs::read(root.join("received/notes (1).txt")).unwrap(),
            b"two"
        );
        assert_eq!(
            fs::read(root.join("received/notes (2).txt")).unwrap(),
            b"three"
        );
        assert_eq!(fs::read_dir(root.join("received")).unwrap().count(), 3);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_unfinished_file_leaves_nothing_behind() {
        let root = scratch("unfinished");
        let dir = DownloadDir::new(&root);
        let mut partial = dir.start("big.bin").unwrap();
        partial.write(b"half").unwrap();
        drop(partial);
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_folder_is_created_on_the_first_file_only() {
        let root = scratch("lazy");
        fs::create_dir_all(&root).unwrap();
        let dir = DownloadDir::new(root.join("a/b"));
        dir.check().unwrap();
        assert!(!root.join("a").exists());
        receive(&dir, "x", b"x");
        assert!(root.join("a/b/x").is_file());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn check_refuses_a_file_in_the_way() {
        let root = scratch("blocked");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("file"), b"").unwrap();
        let err = DownloadDir::new(root.join("file")).check().unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        let err = DownloadDir::new(root.join("file/sub")).check().unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        fs::remove_dir_all(root).unwrap();
    }
}
