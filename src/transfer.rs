//! Moving file contents: checking and streaming a local file out, and
//! streaming a payload from the wire into the download folder.
//!
//! Both directions copy in fixed-size chunks, so memory stays flat whatever
//! the size of the file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::download::{DownloadDir, DownloadError, safe_file_name};
use crate::frame;

/// Size of the copy buffer, in both directions.
const CHUNK: usize = 64 * 1024;

/// Why a local file cannot be sent. Nothing has gone on the wire.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("file not found")]
    NotFound,
    #[error("is a directory")]
    IsDirectory,
    #[error("not a regular file")]
    NotRegular,
    #[error("permission denied")]
    PermissionDenied,
    #[error("{0}")]
    Io(io::Error),
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => Self::NotFound,
            io::ErrorKind::PermissionDenied => Self::PermissionDenied,
            io::ErrorKind::IsADirectory => Self::IsDirectory,
            _ => Self::Io(e),
        }
    }
}

/// Why sending a file stopped after its header went out. The peer expects
/// bytes that will never come, so the connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error(transparent)]
    Connection(io::Error),
    #[error("reading {path} failed after {sent} of {size} bytes: {source}")]
    Source {
        path: PathBuf,
        sent: u64,
        size: u64,
        #[source]
        source: io::Error,
    },
}

/// Why a received file was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The file could not be written; the rest of its payload was read and
    /// discarded, so the connection is still in step.
    #[error(transparent)]
    Save(DownloadError),
    /// The payload ended early: the connection closed or failed mid-file.
    #[error("received {received} of {expected} bytes")]
    Incomplete { received: u64, expected: u64 },
}

fn check_regular(meta: &fs::Metadata) -> Result<(), SendError> {
    if meta.is_dir() {
        Err(SendError::IsDirectory)
    } else if !meta.is_file() {
        Err(SendError::NotRegular)
    } else {
        Ok(())
    }
}

/// A local file checked and opened for sending.
#[derive(Debug)]
pub struct OutgoingFile {
    file: File,
    path: PathBuf,
    name: String,
    size: u64,
}

impl OutgoingFile {
    /// Opens `path` and checks it is a regular file, so that every refusal
    /// happens before anything goes on the wire.
    pub fn open(path: &Path) -> Result<Self, SendError> {
        // Checked before opening: opening a FIFO would block until some
        // other program opened its other end.
        check_regular(&fs::metadata(path)?)?;
        let file = File::open(path)?;
        // Checked again on what was opened, in case the path changed.
        let meta = file.metadata()?;
        check_regular(&meta)?;
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        Ok(Self {
            file,
            path: path.to_path_buf(),
            name: safe_file_name(&base),
            size: meta.len(),
        })
    }

    /// The name announced to the peer.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Writes the header and exactly `size` bytes of the file to `out`,
    /// telling `progress` of every chunk written.
    pub fn send(
        mut self,
        out: &mut impl Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SendFailure> {
        frame::write_file_header(out, &self.name, self.size).map_err(SendFailure::Connection)?;
        let mut buf = vec![0; CHUNK];
        let mut sent = 0;
        while sent < self.size {
            let want = (self.size - sent).min(CHUNK as u64) as usize;
            let n = match self.file.read(&mut buf[..want]) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was being sent",
                )),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            }
            .map_err(|source| SendFailure::Source {
                path: self.path.clone(),
                sent,
                size: self.size,
                source,
            })?;
            out.write_all(&buf[..n]).map_err(SendFailure::Connection)?;
            sent += n as u64;
            progress(n as u64);
        }
        Ok(())
    }
}

/// Streams a `size`-byte payload into the download folder under a safe form
/// of `peer_name`, telling `progress` of every chunk. Returns where it was
/// saved.
///
/// On a local failure (folder not writable, disk full) the rest of the
/// payload is read and discarded so that the next frame can be decoded.
pub fn receive(
    payload: &mut impl Read,
    size: u64,
    downloads: &DownloadDir,
    peer_name: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<PathBuf, ReceiveError> {
    let mut received = 0;
    let saved = save(payload, size, downloads, peer_name, &mut received, progress);
    if received < size {
        // Whatever stopped the save, the payload's bytes must still be
        // consumed to stay in step.
        received += io::copy(payload, &mut io::sink()).unwrap_or(0);
    }
    match saved {
        Ok(Some(path)) => Ok(path),
        Err(e) if received == size => Err(ReceiveError::Save(e)),
        _ => Err(ReceiveError::Incomplete {
            received,
            expected: size,
        }),
    }
}

/// Copies the payload into a temporary file and names it, counting the
/// bytes taken from the payload in `received`. `Ok(None)` when the payload
/// ended early; the temporary file is then gone.
fn save(
    payload: &mut impl Read,
    size: u64,
    downloads: &DownloadDir,
    peer_name: &str,
    received: &mut u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<PathBuf>, DownloadError> {
    let mut partial = downloads.start(peer_name)?;
    let mut buf = vec![0; CHUNK];
    while *received < size {
        let n = match payload.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(None),
        };
        *received += n as u64;
        partial.write(&buf[..n])?;
        progress(n as u64);
    }
    partial.finish().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chat-transfer-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn refusals_happen_before_anything_is_sent() {
        let root = scratch("refusals");
        assert!(matches!(
            OutgoingFile::open(&root.join("missing")),
            Err(SendError::NotFound)
        ));
        assert!(matches!(
            OutgoingFile::open(&root),
            Err(SendError::IsDirectory)
        ));
        assert!(matches!(
            OutgoingFile::open(Path::new("/dev/null")),
            Err(SendError::NotRegular)
        ));
        // A FIFO must be refused without opening it, which would block.
        let fifo = root.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo failed");
        assert!(matches!(
            OutgoingFile::open(&fifo),
            Err(SendError::NotRegular)
        ));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_sent_file_is_header_then_exact_bytes() {
        let root = scratch("send");
        let path = root.join("my notes.txt");
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &body).unwrap();
        let file = OutgoingFile::open(&path).unwrap();
        assert_eq!((file.name(), file.size()), ("my notes.txt", 200_000));
        let mut wire = Vec::new();
        file.send(&mut wire, &mut |_| {}).unwrap();
        let header = b"/file my notes.txt 200000\n";
        assert_eq!(&wire[..header.len()], header);
        assert_eq!(&wire[header.len()..], &body[..]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_received_payload_is_saved_whole() {
        let root = scratch("receive");
        let downloads = DownloadDir::new(root.join("in"));
        let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = &body[..];
        let path = receive(
            &mut wire,
            body.len() as u64,
            &downloads,
            "../x.bin",
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(path, root.join("in/x.bin"));
        assert_eq!(fs::read(&path).unwrap(), body);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_short_payload_saves_nothing() {
        let root = scratch("short");
        let downloads = DownloadDir::new(&root);
        let mut wire = &b"only part"[..];
        match receive(&mut wire, 100, &downloads, "cut.bin", &mut |_| {}) {
            Err(ReceiveError::Incomplete { received, expected }) => {
                assert_eq!((received, expected), (9, 100))
            }
            other => panic!("expected Incomplete, got {other:?}"),
        }
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_save_failure_still_consumes_the_payload() {
        let root = scratch("blocked");
        fs::write(root.join("file"), b"").unwrap();
        let downloads = DownloadDir::new(root.join("file/sub"));
        let mut wire = &b"0123456789next"[..];
        let err = receive(&mut (&mut wire).take(10), 10, &downloads, "x", &mut |_| {}).unwrap_err();
        assert!(matches!(err, ReceiveError::Save(_)), "{err:?}");
        assert_eq!(wire, b"next");
        fs::remove_dir_all(root).unwrap();
    }
}
