//! Walking a kept tree from a folder held open, never following a link
//! and never deeper than a chat makes one: its names, its bytes, what it
//! takes on the disk, and removing it.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;

use rustix::fs::{AtFlags, FileType};

use super::open_at::{open_dir_at, type_at};
use crate::wire::limits::MAX_DEPTH;

/// Deepest a walk below the hidden folder goes: a kept folder is at most
/// [`MAX_DEPTH`] deep; what is deeper was not made by a chat.
const DEEPEST: usize = MAX_DEPTH + 2;

/// What `name` in the folder `dir` takes on the disk, with all below it,
/// never following a link.
pub(super) fn usage_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> u64 {
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
pub(super) fn tree_bytes_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> u64 {
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
pub(super) fn remove_at(dir: &OwnedFd, name: &OsStr, depth: usize) {
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
pub(super) fn open_folder_at(dir: &OwnedFd, name: &OsStr, depth: usize) -> Option<OwnedFd> {
    if depth > DEEPEST {
        return None;
    }
    open_dir_at(dir, name).ok()
}

/// The names in the folder `dir`.
pub(super) fn names_in(dir: &OwnedFd) -> Vec<OsString> {
    let Ok(read) = rustix::fs::Dir::read_from(dir) else {
        return Vec::new();
    };
    read.flatten()
        .map(|entry| entry.file_name().to_bytes().to_vec())
        .filter(|name| name != b"." && name != b"..")
        .map(OsString::from_vec)
        .collect()
}
