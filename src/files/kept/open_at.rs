//! What is kept is reached by name from a folder held open, never through
//! a symbolic link: opening, making and renaming one name at a time.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::files::download::{DownloadDir, DownloadError};

/// How a folder is opened: never through a link.
pub(super) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens the folder `name` in `dir`, never through a link.
pub(super) fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, dir_flags(), Mode::empty())?)
}

/// Makes the folder `name` in `dir` unless it is there, and opens it:
/// a folder of its own, not a link to one elsewhere (that fails with
/// `ELOOP` or `ENOTDIR`).
pub(super) fn make_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
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
pub(super) fn open_file_at(dir: &OwnedFd, name: impl rustix::path::Arg) -> io::Result<File> {
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
pub(super) fn open_info_at(dir: &OwnedFd, name: &str) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    own_regular(File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::empty(),
    )?))
}

/// Whether `cause` is what opening a link without following it gives.
pub(super) fn is_link_error(cause: &io::Error) -> bool {
    matches!(cause.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
}

/// Why the folder at `path` cannot be made or opened.
pub(super) fn folder_error(path: &Path, cause: io::Error) -> DownloadError {
    match is_link_error(&cause) {
        true => DownloadError::KeptLink(path.to_path_buf()),
        false => DownloadError::CreateFolder {
            path: path.to_path_buf(),
            cause,
        },
    }
}

/// The type of `name` in `dir`, not following a link.
pub(super) fn type_at(dir: &OwnedFd, name: &OsStr) -> Option<FileType> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(FileType::from_raw_mode(stat.st_mode))
}

/// Renames `from` in the folder `dir` to `to` (relative to `to_dir`),
/// never replacing what `to` names.
pub(super) fn rename_new_at(
    dir: &OwnedFd,
    from: &OsStr,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> io::Result<()> {
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

/// Gives `from` in the folder `dir` (a file or a folder) its final name
/// `name` in the download folder, numbered if taken. Like `cp`, this
/// leaves writing to the disk to the kernel.
pub(super) fn name_finally(
    dir: &OwnedFd,
    from: &OsStr,
    downloads: &DownloadDir,
    name: &str,
) -> Result<PathBuf, DownloadError> {
    downloads.claim_name(name, |target| rename_new_at(dir, from, CWD, target))
}
