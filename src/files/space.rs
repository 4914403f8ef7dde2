//! Room on the disk of the download folder: what a transfer costs there
//! (its bytes, and a block and an inode for each file or folder it makes)
//! and whether it fits beside what the transfers already accepted will
//! still take.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::files::size;

/// The block assumed where the disk cannot be asked.
const DEFAULT_BLOCK: u64 = 4096;

/// What a transfer still has to put on the disk: bytes, and files or
/// folders to make, each of which takes an inode and may take a block
/// beyond its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owed {
    pub bytes: u64,
    pub files: u64,
}

impl Owed {
    pub fn plus(self, other: Owed) -> Owed {
        Owed {
            bytes: self.bytes.saturating_add(other.bytes),
            files: self.files.saturating_add(other.files),
        }
    }
}

/// The disk the download folder is (or will be) on, as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes free for us.
    pub free: u64,
    /// Inodes free for us; `None` where the file system has no fixed
    /// number of them (btrfs, for one).
    pub inodes: Option<u64>,
    /// Its block: what the smallest file, or a folder, takes.
    pub block: u64,
}

impl Space {
    /// The disk of `path`, or of its nearest existing parent; `None` when
    /// that cannot be told.
    pub fn of(path: &Path) -> Option<Space> {
        let existing = path
            .ancestors()
            .find(|p| !p.as_os_str().is_empty() && p.exists())
            .unwrap_or(Path::new("."));
        let stat = rustix::fs::statvfs(existing).ok()?;
        Some(Space {
            free: stat.f_bavail.saturating_mul(stat.f_frsize),
            inodes: (stat.f_files > 0).then_some(stat.f_favail),
            block: match stat.f_frsize {
                0 => DEFAULT_BLOCK,
                block => block,
            },
        })
    }

    /// Bytes of the disk that `owed` takes at most: its bytes, and a block
    /// for each file or folder.
    pub fn on_disk(&self, owed: Owed) -> u64 {
        owed.bytes
            .saturating_add(owed.files.saturating_mul(self.block))
    }

    /// Whether `needed` fits beside `promised` to transfers on their way,
    /// in the folder shown as `place`.
    pub fn check(&self, needed: Owed, promised: Owed, place: &Path) -> Result<(), NoRoom> {
        let (bytes, promised_bytes) = (self.on_disk(needed), self.on_disk(promised));
        let left = self.free.saturating_sub(promised_bytes);
        let what = match self.inodes {
            _ if bytes > left => Lacking::Bytes {
                needed: bytes,
                free: self.free,
                promised: promised_bytes.min(self.free),
            },
            Some(inodes) if needed.files > inodes.saturating_sub(promised.files) => {
                Lacking::Files {
                    needed: needed.files,
                    free: inodes,
                    promised: promised.files.min(inodes),
                }
            }
            _ => return Ok(()),
        };
        Err(NoRoom {
            what,
            place: place.to_path_buf(),
        })
    }
}

/// Why a transfer does not fit on the disk, for the user; the peer is
/// told only [`NoRoom::FOR_PEER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRoom {
    what: Lacking,
    place: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lacking {
    Bytes {
        needed: u64,
        free: u64,
        promised: u64,
    },
    Files {
        needed: u64,
        free: u64,
        promised: u64,
    },
}

impl NoRoom {
    /// What the peer is told: where our files go, and how much room is
    /// there, is none of its business.
    pub const FOR_PEER: &'static str = "not enough free space";
}

impl fmt::Display for NoRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = self.place.display();
        match self.what {
            Lacking::Bytes {
                needed,
                free,
                promised: 0,
            } => write!(
                f,
                "not enough free space: it needs {} and {place} has only {} free",
                size::bytes(needed),
                size::bytes(free)
            ),
            Lacking::Bytes {
                needed,
                free,
                promised,
            } => write!(
                f,
                "not enough free space: it needs {} and only {} is left in {place} ({} free, \
                 {} of it promised to transfers on their way)",
                size::bytes(needed),
                size::bytes(free - promised),
                size::bytes(free),
                size::bytes(promised)
            ),
            Lacking::Files {
                needed,
                free,
                promised: 0,
            } => write!(
                f,
                "not enough room for more files: it makes {} and the disk of {place} has room \
                 for only {free} more",
                made(needed)
            ),
            Lacking::Files {
                needed,
                free,
                promised,
            } => write!(
                f,
                "not enough room for more files: it makes {} and the disk of {place} has room \
                 for only {} more ({free}, {promised} of them promised to transfers on their \
                 way)",
                made(needed),
                free - promised
            ),
        }
    }
}

/// `1 file or folder`, `2 files and folders`.
fn made(n: u64) -> String {
    match n {
        1 => "1 file or folder".to_string(),
        n => format!("{n} files and folders"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn disk(free: u64, inodes: Option<u64>) -> Space {
        Space {
            free,
            inodes,
            block: 4096,
        }
    }

    fn owed(bytes: u64, files: u64) -> Owed {
        Owed { bytes, files }
    }

    #[test]
    fn what_is_left_after_the_promise_is_what_counts_and_is_said() {
        let place = Path::new("received_files");
        let space = disk(100 * MIB, None);
        assert_eq!(
            space.check(owed(50 * MIB, 0), owed(50 * MIB, 0), place),
            Ok(())
        );
        let refused = space
            .check(owed(50 * MIB, 1), owed(50 * MIB, 0), place)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "not enough free space: it needs 50.0 MiB and only 50.0 MiB is left in \
             received_files (100.0 MiB free, 50.0 MiB of it promised to transfers on their way)"
        );
        let refused = space.check(owed(200 * MIB, 0), Owed::default(), place);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "not enough free space: it needs 200.0 MiB and received_files has only 100.0 MiB \
             free"
        );
        // More promised than free: nothing is left, and no more is
        // promised than there is.
        let refused = space.check(owed(1, 0), owed(300 * MIB, 0), place);
        assert!(refused.unwrap_err().to_string().ends_with(
            "only 0 B is left in received_files (100.0 MiB free, 100.0 MiB of it promised \
                 to transfers on their way)"
        ));
    }

    #[test]
    fn every_file_and_folder_takes_a_block_and_an_inode() {
        let place = Path::new("dl");
        // A million empty files need 3.8 GiB of blocks.
        let space = disk(MIB, Some(u64::MAX));
        let refused = space.check(owed(0, 1_000_000), Owed::default(), place);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .starts_with("not enough free space: it needs 3.8 GiB and dl has only 1.0 MiB"),
        );
        // Room for the blocks, not for the inodes.
        let space = disk(u64::MAX, Some(60_000));
        assert_eq!(space.check(owed(0, 50_000), owed(0, 10_000), place), Ok(()));
        let refused = space.check(owed(0, 50_001), owed(0, 10_000), place);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "not enough room for more files: it makes 50001 files and folders and the disk of \
             dl has room for only 50000 more (60000, 10000 of them promised to transfers on \
             their way)"
        );
        let refused = disk(u64::MAX, Some(0)).check(owed(0, 1), Owed::default(), place);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "not enough room for more files: it makes 1 file or folder and the disk of dl has \
             room for only 0 more"
        );
        // A file system without a count of inodes runs out of blocks only.
        let space = disk(u64::MAX, None);
        assert_eq!(
            space.check(owed(0, 1 << 40), Owed::default(), place),
            Ok(())
        );
        assert_eq!(space.on_disk(owed(u64::MAX, u64::MAX)), u64::MAX);
    }

    #[test]
    fn the_disk_of_a_folder_not_made_yet_is_its_parents() {
        let here = Space::of(Path::new("no/such/folder/yet")).unwrap();
        assert!(here.block > 0);
    }
}
