//! The download folder: where received files go, and the one place that turns
//! a peer's file name into a local path.
//!
//! A file is written to an unnamed temporary file in the folder (`O_TMPFILE`)
//! and only given its final name once every byte has arrived, so a process
//! killed mid-transfer leaves nothing behind. Where the file system has no
//! unnamed files, a hidden `.NAME.PID-N.part` is used instead, and those left
//! by processes that no longer exist are swept away. The final name never
//! replaces an existing file (`notes.txt` becomes `notes (1).txt`).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

use crate::files::space::Space;
use crate::wire::limits::{MAX_DEPTH, MAX_FOLDER_FILES, SPARE_FOLDERS};
use crate::wire::sanitize;

/// Longest file name we create before numbering, in bytes. Common file
/// systems allow 255; numbering adds at most ` (4294967295)`, 13 bytes.
const MAX_NAME_BYTES: usize = 200;

/// Most folders a received folder of `files` files may hold inside it,
/// every level of every path counted once.
pub fn folders_allowed(files: u64) -> u64 {
    files.min(MAX_FOLDER_FILES) + SPARE_FOLDERS
}

/// Used when nothing usable is left of the peer's name.
const FALLBACK_NAME: &str = "unnamed";

/// How many names one file may try before giving up: taken names are
/// skipped by remembering and scanning, so this is only reached when other
/// programs keep taking the names we pick.
const MAX_TRIES: u32 = 10_000;

/// The local file name for a name a peer sent: only its final component,
/// without control or invisible characters, never starting with a dot (no
/// hidden files, no `..`) whatever spaces come before it, never empty. The
/// result can be joined onto a folder safely.
pub fn safe_file_name(peer_name: &str) -> String {
    let last = peer_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| if sanitize::is_unsafe_char(c) { '_' } else { c })
        .collect();
    // Spaces and dots in any mix: `. .bashrc` must not become `.bashrc`.
    let trimmed = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    // (Cutting may leave whitespace at the end again.)
    let name = truncate_keeping_extension(trimmed, MAX_NAME_BYTES);
    let name = name.trim_end();
    if name.is_empty() {
        FALLBACK_NAME.to_string()
    } else {
        name.to_string()
    }
}

/// The local relative path for a path a peer sent inside a folder, or
/// `None` when nothing safe is left of it. Each component loses control and
/// invisible characters and is cut to a usable length; `.` and empty ones
/// are dropped, and one made only of dots (`..`), before or after it was
/// cut, makes the whole path unsafe. Unlike a top-level name, a component
/// may start with a dot: it can only shadow something inside the folder
/// being received.
pub fn safe_relative_path(peer_path: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    let mut depth = 0;
    for component in peer_path.split(['/', '\\']) {
        let cleaned: String = component
            .chars()
            .map(|c| if sanitize::is_unsafe_char(c) { '_' } else { c })
            .collect();
        let cleaned = cleaned.trim_end();
        if cleaned.is_empty() || cleaned == "." {
            continue;
        }
        // Cut first: a long run of dots cut short is dots alone.
        let cut = truncate_keeping_extension(cleaned, MAX_NAME_BYTES);
        let cut = cut.trim_end();
        if cut.chars().all(|c| c == '.' || c.is_whitespace()) {
            return None;
        }
        depth += 1;
        if depth > MAX_DEPTH {
            return None;
        }
        path.push(cut);
    }
    (!path.as_os_str().is_empty()).then_some(path)
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

/// What goes before and after the number in a numbered `name`:
/// `notes.txt` is numbered `notes (` N `).txt`.
fn number_slot(name: &str) -> (String, String) {
    let path = Path::new(name);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => (
            format!("{} (", stem.to_string_lossy()),
            format!(").{}", ext.to_string_lossy()),
        ),
        _ => (format!("{name} ("), ")".to_string()),
    }
}

/// `notes.txt` numbered `n`: `notes (n).txt`.
fn numbered(name: &str, n: u32) -> String {
    let (before, after) = number_slot(name);
    format!("{before}{n}{after}")
}

/// The highest `n` for which `numbered(name, n)` exists in `dir`, or 0.
fn highest_number_in(dir: &Path, name: &str) -> u32 {
    let (before, after) = number_slot(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let digits = file_name
                .to_str()?
                .strip_prefix(before.as_str())?
                .strip_suffix(after.as_str())?;
            if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Why the download folder cannot take a file. The OS error is part of the
/// message and deliberately not a `source`, so a chain printed with `{:#}`
/// names it once.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot write to {}: {cause}", path.display())]
    NotWritable { path: PathBuf, cause: io::Error },
    /// The folder is not there, and cannot be made where it would go.
    #[error("cannot make {}: {} takes no new files ({cause})", path.display(), inside.display())]
    CannotMake {
        path: PathBuf,
        inside: PathBuf,
        cause: io::Error,
    },
    #[error("cannot create folder {}: {cause}", path.display())]
    CreateFolder { path: PathBuf, cause: io::Error },
    #[error("cannot create a file in {}: {cause}", path.display())]
    CreateFile { path: PathBuf, cause: io::Error },
    #[error("cannot write to {}: {cause}", path.display())]
    Write { path: PathBuf, cause: io::Error },
    #[error("cannot name the file {}: {cause}", path.display())]
    Name { path: PathBuf, cause: io::Error },
    #[error("too many files named like {0}")]
    NoFreeName(String),
    #[error("cannot read {}: {cause}", path.display())]
    Read { path: PathBuf, cause: io::Error },
    #[error(
        "{} is a symbolic link, and what is kept of cut transfers is never reached through one",
        .0.display()
    )]
    KeptLink(PathBuf),
    #[error(
        "{} is a symbolic link put where the download folder was being made: it is not followed",
        .0.display()
    )]
    LinkInTheWay(PathBuf),
}

impl DownloadError {
    /// What the peer is told of it, in short: where our files go, and
    /// what is there, is none of its business.
    pub fn for_peer(&self) -> &'static str {
        let cause = match self {
            Self::NotWritable { cause, .. }
            | Self::CannotMake { cause, .. }
            | Self::CreateFolder { cause, .. }
            | Self::CreateFile { cause, .. }
            | Self::Write { cause, .. }
            | Self::Read { cause, .. }
            | Self::Name { cause, .. } => cause,
            Self::NoFreeName(_) => return "too many files of that name",
            _ => return "it cannot be saved here",
        };
        match cause.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => "not enough free space",
            Some(libc::EACCES | libc::EPERM | libc::EROFS) => {
                "the download folder cannot be written to"
            }
            _ => "it cannot be saved here",
        }
    }
}

/// The folder received files are saved in. It is created when the first
/// file arrives, not before. Clones share what they know of taken names.
#[derive(Debug, Clone)]
pub struct DownloadDir {
    path: PathBuf,
    /// The part of the path there when the chat started: the user's own,
    /// followed wherever it leads. What is made below it is made by us,
    /// and is never a link somebody put in its place.
    there: PathBuf,
    numbering: Arc<Mutex<Numbering>>,
}

/// The next number to try for each name already taken, so the thousandth
/// `x` does not try `x`, `x (1)`, … `x (998)` first.
#[derive(Debug, Default)]
struct Numbering {
    next: HashMap<String, u32>,
    /// Names tried in all, for tests of the cost.
    tries: u64,
}

/// A file being received: an unnamed (or, where the file system has none,
/// hidden) temporary file in the download folder, gone on drop unless
/// [`Partial::finish`] gave it its final name.
#[derive(Debug)]
pub struct Partial {
    file: File,
    /// The hidden name of a named temporary file; `None` for an unnamed one.
    temp_path: Option<PathBuf>,
    name: String,
    dir: DownloadDir,
}

impl DownloadDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let there = path
            .ancestors()
            .find(|p| p.as_os_str().is_empty() || p.exists())
            .unwrap_or(Path::new(""))
            .to_path_buf();
        Self {
            path,
            there,
            numbering: Arc::default(),
        }
    }

    /// Makes the folder, and those above it, where they are not there, a
    /// level at a time: what is made below what was there when the chat
    /// started must be a folder, never a symbolic link somebody put in
    /// its place meanwhile (in a folder others can write to).
    pub fn make(&self) -> Result<(), DownloadError> {
        let mut levels: Vec<&Path> = self
            .path
            .ancestors()
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        levels.reverse();
        for dir in levels {
            let ours = !self.there.starts_with(dir);
            let failed = |cause| DownloadError::CreateFolder {
                path: dir.to_path_buf(),
                cause,
            };
            let meta = match dir.symlink_metadata() {
                Ok(_) if !ours => continue,
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(failed(e));
                    }
                    _ => dir.symlink_metadata().map_err(failed)?,
                },
                Err(cause) => return Err(failed(cause)),
            };
            if meta.file_type().is_symlink() {
                return Err(DownloadError::LinkInTheWay(dir.to_path_buf()));
            }
            if !meta.is_dir() {
                return Err(DownloadError::NotADirectory(dir.to_path_buf()));
            }
        }
        // (The user's own folder, followed where it leads.)
        if !self.path.is_dir() {
            return Err(DownloadError::NotADirectory(self.path.clone()));
        }
        Ok(())
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
        let not_writable = |cause| {
            if existing == self.path {
                DownloadError::NotWritable {
                    path: existing.to_path_buf(),
                    cause,
                }
            } else {
                DownloadError::CannotMake {
                    path: self.path.clone(),
                    inside: existing.to_path_buf(),
                    cause,
                }
            }
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
        self.make()?;
        let name = safe_file_name(peer_name);
        let create_error = |cause| DownloadError::CreateFile {
            path: self.path.clone(),
            cause,
        };
        match open_unnamed(&self.path) {
            Ok(file) => {
                return Ok(Partial {
                    file,
                    temp_path: None,
                    name,
                    dir: self.clone(),
                });
            }
            // The file system has no unnamed files: name it, hidden.
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => sweep_stale_parts(&self.path),
            Err(e) => return Err(create_error(e.into())),
        }
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
                        file,
                        temp_path: Some(temp_path),
                        name,
                        dir: self.clone(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(cause) => return Err(create_error(cause)),
            }
        }
    }

    /// Gives something the final name `name` in the folder, numbered if
    /// the name is taken: `claim` must fail with `AlreadyExists` rather
    /// than replace anything. Returns the path it took.
    pub fn claim_name(
        &self,
        name: &str,
        mut claim: impl FnMut(&Path) -> io::Result<()>,
    ) -> Result<PathBuf, DownloadError> {
        let mut numbering = self
            .numbering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = numbering.next.get(name).copied();
        if known.is_some() {
            // The name itself may be free again: the file that had it was
            // moved or removed since.
            numbering.tries += 1;
            let target = self.path.join(name);
            match claim(&target) {
                Ok(()) => return Ok(target),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(cause) => {
                    return Err(DownloadError::Name {
                        path: target,
                        cause,
                    });
                }
            }
        }
        let mut n = known.unwrap_or(0);
        for _ in 0..MAX_TRIES {
            let target = self.path.join(match n {
                0 => name.to_string(),
                n => numbered(name, n),
            });
            numbering.tries += 1;
            match claim(&target) {
                Ok(()) => {
                    if let Some(next) = n.checked_add(1) {
                        numbering.next.insert(name.to_string(), next);
                    }
                    return Ok(target);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // The first time a name is found taken, the folder is
                    // read once for the highest number used so far.
                    let above = if known.is_none() && n == 0 {
                        highest_number_in(&self.path, name)
                    } else {
                        n
                    };
                    match above.checked_add(1) {
                        Some(next) => n = next,
                        None => break,
                    }
                }
                Err(cause) => {
                    return Err(DownloadError::Name {
                        path: target,
                        cause,
                    });
                }
            }
        }
        Err(DownloadError::NoFreeName(name.to_string()))
    }

    /// Saves an empty file under the final name `name`, numbered if taken.
    pub fn save_empty(&self, name: &str) -> Result<PathBuf, DownloadError> {
        self.make()?;
        self.claim_name(name, |target| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(target)
                .map(drop)
        })
    }

    /// The disk the folder is (or will be) on, as it is now; `None` when
    /// that cannot be told.
    pub fn space(&self) -> Option<Space> {
        Space::of(&self.path)
    }

    /// Names tried so far by [`Partial::finish`] in this folder.
    #[cfg(test)]
    fn tries(&self) -> u64 {
        self.numbering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tries
    }
}

/// A file in `dir` with no name, which disappears with its last descriptor
/// unless it is linked into the folder.
fn open_unnamed(dir: &Path) -> Result<File, Errno> {
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd: OwnedFd = rustix::fs::open(dir, flags, Mode::from_raw_mode(0o666))?;
    Ok(File::from(fd))
}

/// Removes `.NAME.PID-N.part` files whose process no longer exists: they
/// are what a killed chat left behind on a file system without unnamed
/// files. Safe names never start with a dot, so no saved file matches.
fn sweep_stale_parts(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(part_owner) else {
            continue;
        };
        if !is_running(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The process id in a temporary name `.NAME.PID-N.part`.
fn part_owner(file_name: &str) -> Option<i32> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".part")?;
    let (_, owner) = inner.rsplit_once('.')?;
    let (pid, serial) = owner.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(serial) {
        return None;
    }
    pid.parse().ok()
}

fn is_running(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    // Permission denied still means the process exists.
    !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH))
}

impl Partial {
    /// Appends received bytes to the temporary file.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        self.file
            .write_all(bytes)
            .map_err(|cause| self.write_error(cause))
    }

    /// Moves `len` bytes waiting in `pipe` into the temporary file, without
    /// copying them through user space.
    pub fn splice_in(&mut self, pipe: &OwnedFd, len: usize) -> Result<(), DownloadError> {
        let mut left = len;
        while left > 0 {
            match rustix::pipe::splice(pipe, None, &self.file, None, left, SpliceFlags::empty()) {
                Ok(0) => {
                    return Err(self.write_error(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => left -= n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(self.write_error(e.into())),
            }
        }
        Ok(())
    }

    fn write_error(&self, cause: io::Error) -> DownloadError {
        DownloadError::Write {
            path: self.dir.path.clone(),
            cause,
        }
    }

    /// Gives the received bytes their final name, numbered if the name is
    /// taken. Returns the path it was saved to. Like `cp` or `scp`, this
    /// leaves writing to the disk to the kernel: forcing it would cost more
    /// than the transfer on a fast link.
    pub fn finish(self) -> Result<PathBuf, DownloadError> {
        self.dir.claim_name(&self.name, |target| self.claim(target))
    }

    /// Gives the temporary file the name `target` without ever replacing an
    /// existing file: a hard link fails if the name exists, atomically.
    fn claim(&self, target: &Path) -> io::Result<()> {
        match &self.temp_path {
            None => link_unnamed(&self.file, target),
            Some(temp) => claim_named(temp, target),
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // Whatever did not reach `finish` must not be left behind; after a
        // successful `finish` only the temporary name goes. An unnamed file
        // goes with its descriptor.
        if let Some(temp) = self.temp_path.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Links an unnamed file into the folder as `target`. The descriptor's
/// `/proc` entry works unprivileged; `AT_EMPTY_PATH` is the way without
/// `/proc` mounted.
fn link_unnamed(file: &File, target: &Path) -> io::Result<()> {
    let by_proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    match rustix::fs::linkat(CWD, by_proc.as_str(), CWD, target, AtFlags::SYMLINK_FOLLOW) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => Err(io::ErrorKind::AlreadyExists.into()),
        Err(first) => match rustix::fs::linkat(file, "", CWD, target, AtFlags::EMPTY_PATH) {
            Ok(()) => Ok(()),
            Err(Errno::EXIST) => Err(io::ErrorKind::AlreadyExists.into()),
            Err(_) => Err(first.into()),
        },
    }
}

/// Gives a named temporary file the name `target`. Where links are not
/// supported, the name is reserved with `create_new` first.
fn claim_named(temp: &Path, target: &Path) -> io::Result<()> {
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
    use proptest::prelude::*;

    #[test]
    fn hostile_names_become_plain_final_components() {
        let spaced = format!("x{}yz", " ".repeat(250));
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
            (". .bashrc", "bashrc"),
            ("\u{a0}. .ssh", "ssh"),
            (" .  .envrc", "envrc"),
            (". ..", FALLBACK_NAME),
            (". . .git", "git"),
            ("\u{3000}.\u{2003}.profile", "profile"),
            ("\u{200b}.hidden", "_.hidden"),
            // Cut to 200 bytes, then trimmed again.
            (&spaced, "x"),
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
    fn a_link_put_where_the_folder_is_being_made_is_not_followed() {
        let root = scratch("planted");
        let elsewhere = root.join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        // Nothing of `a/b` is there when the chat starts.
        let dir = DownloadDir::new(root.join("a/b"));
        std::os::unix::fs::symlink(&elsewhere, root.join("a")).unwrap();
        assert!(
            matches!(dir.start("x"), Err(DownloadError::LinkInTheWay(p)) if p == root.join("a"))
        );
        assert!(matches!(
            dir.save_empty("x"),
            Err(DownloadError::LinkInTheWay(_))
        ));
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // A link that was there from the start is the user's own.
        let mine = DownloadDir::new(root.join("a/c"));
        receive(&mine, "x", b"x");
        assert_eq!(fs::read(elsewhere.join("c/x")).unwrap(), b"x");
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

    /// Names a hostile peer might pick: mostly dots, spaces of every kind,
    /// separators and control or invisible characters, sometimes very long.
    fn hostile_name() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(".".to_string()),
            Just("..".to_string()),
            Just(" ".to_string()),
            Just("\u{a0}".to_string()),
            Just("\u{3000}".to_string()),
            Just("\u{2003}".to_string()),
            Just("\u{200b}".to_string()),
            Just("\u{feff}".to_string()),
            Just("\u{202e}".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("\0".to_string()),
            Just("/".to_string()),
            Just("\\".to_string()),
            Just("\x1b".to_string()),
            Just("é".to_string()),
            Just("日本".to_string()),
            "[a-z]{1,8}",
            "[a-z]{1,3}\\.[a-z]{1,4}",
            "\\PC{0,4}",
            any::<char>().prop_map(String::from),
        ];
        prop_oneof![
            proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
            (
                proptest::collection::vec("[ .\u{a0}\u{3000}]", 0..6),
                "\\PC{150,300}"
            )
                .prop_map(|(lead, tail)| lead.concat() + &tail),
            // Long runs of dots and spaces: what is left once cut to size.
            ("[. ]{190,260}", "\\PC{0,30}").prop_map(|(run, tail)| run + &tail),
            any::<String>(),
        ]
    }

    fn assert_safe(name: &str) {
        assert!(!name.is_empty());
        assert!(!name.starts_with('.'), "{name:?} is hidden");
        assert!(
            !name.contains(['/', '\\', '\0']),
            "{name:?} has a separator"
        );
        assert!(
            !name.chars().any(sanitize::is_unsafe_char),
            "{name:?} has a control or invisible character"
        );
        assert!(name.len() <= 255, "{name:?} is too long");
    }

    proptest! {
        #[test]
        fn every_safe_name_keeps_its_promises(peer in hostile_name(), n in any::<u32>()) {
            let name = safe_file_name(&peer);
            assert_safe(&name);
            assert_safe(&numbered(&name, n));
            assert_safe(&numbered(&name, u32::MAX));
            let joined = Path::new("dl").join(&name);
            prop_assert_eq!(joined.parent(), Some(Path::new("dl")));
        }
    }

    #[test]
    fn relative_paths_from_a_peer_stay_inside_the_folder() {
        let deep = "d/".repeat(64);
        let dots_txt = format!("{}.txt", ".".repeat(196));
        let cases: &[(&str, Option<&str>)] = &[
            (&deep, Some(deep.trim_end_matches('/'))),
            ("a/b/c.txt", Some("a/b/c.txt")),
            (".config/app.toml", Some(".config/app.toml")),
            ("./a//b/", Some("a/b")),
            ("a\\b", Some("a/b")),
            ("/etc/passwd", Some("etc/passwd")),
            ("../x", None),
            ("a/../../x", None),
            ("a/ .. /x", None),
            ("...", None),
            ("", None),
            ("/", None),
            ("a/\u{202e}b\n", Some("a/_b_")),
            (&"d/".repeat(65), None),
            // Only dots once cut to 200 bytes (the tail is no extension).
            (&format!("a/{}{}", ".".repeat(250), "x".repeat(20)), None),
            (&format!("{} {}", ".".repeat(199), "x".repeat(30)), None),
            (&format!("{}.txt", ".".repeat(250)), Some(dots_txt.as_str())),
        ];
        for (peer, expected) in cases {
            assert_eq!(
                safe_relative_path(peer).as_deref(),
                expected.map(Path::new),
                "{peer:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_safe_relative_path_stays_below_its_folder(
            pieces in proptest::collection::vec(hostile_name(), 0..6),
        ) {
            let peer = pieces.join("/");
            if let Some(path) = safe_relative_path(&peer) {
                prop_assert!(path.is_relative());
                for component in path.components() {
                    let std::path::Component::Normal(part) = component else {
                        panic!("{peer:?} gave {path:?}");
                    };
                    let part = part.to_str().unwrap();
                    prop_assert!(!part.is_empty() && part.len() <= 255);
                    prop_assert!(!part.chars().all(|c| c == '.' || c.is_whitespace()));
                    prop_assert_eq!(part.trim_end(), part);
                    prop_assert!(!part.chars().any(sanitize::is_unsafe_char));
                }
            }
        }
    }

    #[test]
    fn numbering_the_same_name_stays_cheap() {
        let root = scratch("many");
        let dir = DownloadDir::new(&root);
        let files = 2000;
        for i in 0..files {
            receive(&dir, "x", i.to_string().as_bytes());
        }
        let names = fs::read_dir(&root).unwrap().count();
        assert_eq!(names, files);
        assert_eq!(fs::read(root.join("x")).unwrap(), b"0");
        for i in 1..files {
            let content = fs::read(root.join(format!("x ({i})"))).unwrap();
            assert_eq!(content, i.to_string().as_bytes());
        }
        // The name itself, then one number per file, plus one for the
        // first collision.
        assert!(dir.tries() <= 2 * files as u64 + 1, "{} tries", dir.tries());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_name_freed_since_is_taken_again_before_any_number() {
        let root = scratch("freed");
        let dir = DownloadDir::new(&root);
        assert_eq!(receive(&dir, "a.txt", b"1"), root.join("a.txt"));
        assert_eq!(receive(&dir, "a.txt", b"2"), root.join("a (1).txt"));
        fs::remove_file(root.join("a.txt")).unwrap();
        assert_eq!(receive(&dir, "a.txt", b"3"), root.join("a.txt"));
        assert_eq!(receive(&dir, "a.txt", b"4"), root.join("a (2).txt"));
        assert_eq!(fs::read(root.join("a (1).txt")).unwrap(), b"2");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_empty_file_is_saved_without_replacing_one() {
        let root = scratch("empty");
        let dir = DownloadDir::new(root.join("in"));
        assert_eq!(dir.save_empty("e").unwrap(), root.join("in/e"));
        assert_eq!(dir.save_empty("e").unwrap(), root.join("in/e (1)"));
        assert_eq!(fs::read(root.join("in/e (1)")).unwrap(), b"");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn numbering_starts_above_what_an_earlier_run_left() {
        let root = scratch("earlier");
        fs::create_dir_all(&root).unwrap();
        for taken in ["n.txt", "n (1).txt", "n (7).txt", "n (007).txt"] {
            fs::write(root.join(taken), b"old").unwrap();
        }
        let dir = DownloadDir::new(&root);
        assert_eq!(receive(&dir, "n.txt", b"new"), root.join("n (8).txt"));
        assert_eq!(receive(&dir, "n.txt", b"new"), root.join("n (9).txt"));
        // The name, then 8; the name again (free once more?), then 9.
        assert_eq!(dir.tries(), 4);
        // Another program taking the next name is skipped, never replaced.
        fs::write(root.join("n (10).txt"), b"theirs").unwrap();
        assert_eq!(receive(&dir, "n.txt", b"new"), root.join("n (11).txt"));
        assert_eq!(fs::read(root.join("n (10).txt")).unwrap(), b"theirs");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_file_being_received_has_no_name_in_the_folder() {
        let root = scratch("unnamed");
        let dir = DownloadDir::new(&root);
        let mut partial = dir.start("big.bin").unwrap();
        partial.write(b"half").unwrap();
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        let path = partial.finish().unwrap();
        assert_eq!(fs::read(path).unwrap(), b"half");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn parts_of_dead_processes_are_swept_and_others_kept() {
        let root = scratch("sweep");
        fs::create_dir_all(&root).unwrap();
        // Above any pid_max, so no such process.
        let dead = root.join(".notes.txt.99999999-3.part");
        let alive = root.join(format!(".notes.txt.{}-0.part", std::process::id()));
        let unrelated = root.join(".notes.txt.part");
        for path in [&dead, &alive, &unrelated] {
            fs::write(path, b"x").unwrap();
        }
        sweep_stale_parts(&root);
        assert!(!dead.exists());
        assert!(alive.exists() && unrelated.exists());
        assert_eq!(part_owner(".a.b.c.12-0.part"), Some(12));
        assert_eq!(part_owner(".a.12-.part"), None);
        assert_eq!(part_owner("a.12-0.part"), None);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn os_errors_are_named_once_in_a_chain() {
        let err = DownloadError::Write {
            path: "dl".into(),
            cause: io::Error::from_raw_os_error(13),
        };
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(chain.matches("os error").count(), 1, "{chain}");
    }
}
