//! A kept file being received: appended to, hashed to check what was
//! kept, and given its final name or discarded.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustix::fs::AtFlags;

use super::Dir;
use super::info::Claim;
use super::open_at::{is_link_error, name_finally, open_file_at};
use crate::files::download::{DownloadDir, DownloadError};

/// Buffer for hashing what was kept.
const HASH_BUFFER: usize = 1024 * 1024;

/// A file being received that survives a cut: what was written stays on
/// disk, hidden, until the same file is offered again.
#[derive(Debug)]
pub struct KeptFile {
    file: File,
    /// Where it is, as shown; it is reached as `name` in `dir`.
    path: PathBuf,
    dir: Dir,
    name: OsString,
    /// The bytes it holds.
    len: u64,
    /// For a file of its own (not inside a folder): its claim.
    pub(super) claim: Option<Claim>,
}

impl KeptFile {
    /// Opens `name` in `dir` (shown as `path`) for receiving a file of
    /// `size` bytes, keeping what it already holds unless that is more
    /// than `size`.
    pub(super) fn open_in(
        dir: Dir,
        name: OsString,
        path: PathBuf,
        size: u64,
    ) -> Result<Self, DownloadError> {
        let create_error = |cause: io::Error| match is_link_error(&cause) {
            true => DownloadError::KeptLink(path.clone()),
            false => DownloadError::CreateFile {
                path: path.parent().unwrap_or(&path).to_path_buf(),
                cause,
            },
        };
        let file = open_file_at(&dir, name.as_os_str()).map_err(create_error)?;
        // (A regular file of its own: `open_file_at` made sure.)
        let meta = file.metadata().map_err(create_error)?;
        let mut kept = Self {
            file,
            path,
            dir,
            name,
            len: meta.len(),
            claim: None,
        };
        if kept.len > size {
            kept.restart_at(0)?;
        }
        kept.file
            .seek(SeekFrom::Start(kept.len))
            .map_err(|e| kept.write_error(e))?;
        Ok(kept)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes held already.
    pub fn held(&self) -> u64 {
        self.len
    }

    /// The file, opened again to be read (by position) elsewhere.
    pub fn reader(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// A hasher that has seen the first `len` bytes held.
    pub fn hash_prefix(&self, len: u64) -> Result<blake3::Hasher, DownloadError> {
        let mut hasher = blake3::Hasher::new();
        let mut reader = (&self.file).take(len);
        let mut buf = vec![0; HASH_BUFFER];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| self.write_error(e))?;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.write_error(e)),
            }
        }
        file.seek(SeekFrom::Start(self.len))
            .map_err(|e| self.write_error(e))?;
        Ok(hasher)
    }

    /// Drops what is held past `offset`; the next bytes go there.
    pub fn restart_at(&mut self, offset: u64) -> Result<(), DownloadError> {
        self.file
            .set_len(offset)
            .and_then(|()| self.file.seek(SeekFrom::Start(offset)).map(drop))
            .map_err(|e| self.write_error(e))?;
        self.len = offset;
        Ok(())
    }

    /// Appends received bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        self.file
            .write_all(bytes)
            .map_err(|cause| self.write_error(cause))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn write_error(&self, cause: io::Error) -> DownloadError {
        DownloadError::Write {
            path: self.path.parent().unwrap_or(&self.path).to_path_buf(),
            cause,
        }
    }

    /// Gives a file of its own its final name in the download folder,
    /// numbered if taken.
    pub fn finish(mut self, downloads: &DownloadDir, name: &str) -> Result<PathBuf, DownloadError> {
        let saved = name_finally(&self.dir, &self.name, downloads, name)?;
        self.forget();
        Ok(saved)
    }

    /// For a file inside a folder: it is complete where it is, and stays.
    pub fn complete(mut self) {
        self.forget();
    }

    /// Removes what was received: cancelled, or damaged.
    pub fn discard(mut self) {
        self.remove();
        self.forget();
    }

    fn remove(&self) {
        let _ = rustix::fs::unlinkat(&*self.dir, self.name.as_os_str(), AtFlags::empty());
    }

    /// Done with: dropping it leaves the file as it is.
    fn forget(&mut self) {
        if let Some(claim) = self.claim.take() {
            claim.release();
        }
        self.len = u64::MAX;
    }
}

impl Drop for KeptFile {
    fn drop(&mut self) {
        // Nothing worth keeping: no trace is left.
        let private = self.claim.as_ref().is_some_and(|c| c.private);
        if self.len == 0 || private {
            self.remove();
            self.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::*;
    use crate::files::kept::{KEPT_FOR, Kept, KeptKind, peer};
    use crate::files::scratch;

    #[test]
    fn a_cut_file_is_kept_hidden_and_resumed_from_where_it_stopped() {
        let root = scratch("kept-file");
        let downloads = DownloadDir::new(&root);
        let kept = Kept::of(&downloads);
        let mut file = kept.file("big.bin", 10, peer(1)).unwrap();
        assert_eq!(file.held(), 0);
        file.write(b"01234").unwrap();
        drop(file);
        let names: Vec<_> = fs::read_dir(&root).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the hidden folder: {names:?}");
        let listed = kept.list();
        assert_eq!(listed.len(), 1);
        let item = &listed[0];
        assert_eq!(
            (item.kind, item.name.as_str(), item.held, item.size),
            (KeptKind::File, "big.bin", 5, 10)
        );
        assert!(item.left > KEPT_FOR - Duration::from_secs(60));
        // Another size is another file.
        assert_eq!(kept.file("big.bin", 11, peer(1)).unwrap().held(), 0);
        let mut again = kept.file("big.bin", 10, peer(1)).unwrap();
        assert_eq!(again.held(), 5);
        let prefix = again.hash_prefix(5).unwrap();
        assert_eq!(prefix.finalize(), blake3::hash(b"01234"));
        again.write(b"56789").unwrap();
        let saved = again.finish(&downloads, "big.bin").unwrap();
        assert_eq!(fs::read(saved).unwrap(), b"0123456789");
        assert!(kept.list().is_empty());
        fs::remove_dir_all(root).unwrap();
    }
}
