//! Moving file contents: checking and streaming a local file out, and
//! streaming a payload from the wire into the download folder.
//!
//! Both directions copy in fixed-size chunks, so memory stays flat whatever
//! the size of the file.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;

use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags};
use std::path::{Path, PathBuf};

use crate::files::download::{DownloadDir, DownloadError, Partial, safe_file_name};
use crate::wire::frame;

/// Size of the copy buffer, in both directions. Reads of this size from the
/// socket bypass its (smaller) read buffer.
const CHUNK: usize = 256 * 1024;

/// The pipe size asked for when splicing: 1 MiB, the most an unprivileged
/// process may set by default.
const PIPE_SIZE: usize = 1024 * 1024;

/// Most bytes one `sendfile` call is asked to move: large enough to keep
/// system calls few, small enough for smooth progress.
const SENDFILE_CHUNK: u64 = 4 * 1024 * 1024;

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
    ///
    /// The bytes go by `sendfile`, straight from the page cache to the
    /// socket without passing through our memory; where the kernel cannot
    /// do that for this pair of descriptors, by an ordinary copy loop.
    pub fn send<W: Write + AsFd>(
        mut self,
        out: &mut BufWriter<W>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SendFailure> {
        frame::write_file_header(out, &self.name, self.size).map_err(SendFailure::Connection)?;
        out.flush().map_err(SendFailure::Connection)?;
        let mut sent = 0;
        while sent < self.size {
            let want = (self.size - sent).min(SENDFILE_CHUNK) as usize;
            match rustix::fs::sendfile(out.get_ref(), &self.file, None, want) {
                Ok(0) => return Err(self.shrank(sent)),
                Ok(n) => {
                    sent += n as u64;
                    progress(n as u64);
                }
                Err(Errno::INTR) => {}
                // Not possible here (an unusual file system, say): copy.
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => break,
                Err(e) => return Err(SendFailure::Connection(e.into())),
            }
        }
        let mut buf = vec![0; CHUNK];
        while sent < self.size {
            let want = (self.size - sent).min(CHUNK as u64) as usize;
            let n = match self.file.read(&mut buf[..want]) {
                Ok(0) => return Err(self.shrank(sent)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(self.failed(sent, source)),
            };
            out.write_all(&buf[..n]).map_err(SendFailure::Connection)?;
            sent += n as u64;
            progress(n as u64);
        }
        Ok(())
    }

    fn failed(&self, sent: u64, source: io::Error) -> SendFailure {
        SendFailure::Source {
            path: self.path.clone(),
            sent,
            size: self.size,
            source,
        }
    }

    fn shrank(&self, sent: u64) -> SendFailure {
        self.failed(
            sent,
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being sent",
            ),
        )
    }
}

/// Streams a `size`-byte payload from `stream` into the download folder
/// under a safe form of `peer_name`, telling `progress` of every chunk.
/// Returns where it was saved.
///
/// On a local failure (folder not writable, disk full) the rest of the
/// payload is read and discarded so that the next frame can be decoded.
pub fn receive<S: Read + AsFd>(
    stream: &mut BufReader<S>,
    size: u64,
    downloads: &DownloadDir,
    peer_name: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<PathBuf, ReceiveError> {
    let mut received = 0;
    let saved = save(stream, size, downloads, peer_name, &mut received, progress);
    if received < size {
        // Whatever stopped the save, the payload's bytes must still be
        // consumed to stay in step.
        let mut rest = stream.take(size - received);
        received += io::copy(&mut rest, &mut io::sink()).unwrap_or(0);
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

/// Moves the payload into a temporary file and names it, counting the
/// bytes taken from the stream in `received`. `Ok(None)` when the stream
/// ended early; the temporary file is then gone.
fn save<S: Read + AsFd>(
    stream: &mut BufReader<S>,
    size: u64,
    downloads: &DownloadDir,
    peer_name: &str,
    received: &mut u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<PathBuf>, DownloadError> {
    let mut partial = downloads.start(peer_name)?;
    // The start of the payload may have arrived with its header.
    let buffered = stream.buffer();
    let early = buffered.len().min(size as usize);
    let head = buffered[..early].to_vec();
    stream.consume(early);
    *received += early as u64;
    partial.write(&head)?;
    progress(early as u64);

    if *received < size && !splice_into(stream.get_ref(), &mut partial, size, received, progress)? {
        copy_into(
            &mut stream.take(size - *received),
            &mut partial,
            received,
            progress,
        )?;
    }
    if *received < size {
        return Ok(None);
    }
    partial.finish().map(Some)
}

/// Moves bytes from the socket to the file through a pipe with `splice`,
/// so they never pass through our memory. `Ok(false)` when the kernel
/// cannot splice from this stream, before any byte moved.
fn splice_into(
    stream: &impl AsFd,
    partial: &mut Partial,
    size: u64,
    received: &mut u64,
    progress: &mut dyn FnMut(u64),
) -> Result<bool, DownloadError> {
    let Ok((pipe_out, pipe_in)) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC) else {
        return Ok(false);
    };
    // A bigger pipe moves more per call; the default is kept if refused.
    let capacity = rustix::pipe::fcntl_setpipe_size(&pipe_in, PIPE_SIZE).unwrap_or(64 * 1024);
    let mut spliced_any = false;
    while *received < size {
        let want = (size - *received).min(capacity as u64) as usize;
        let n = match rustix::pipe::splice(stream, None, &pipe_in, None, want, SpliceFlags::MOVE) {
            Ok(0) => return Ok(true),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if !spliced_any => {
                return Ok(false);
            }
            // The connection failed: the shortfall is reported as such.
            Err(_) => return Ok(true),
        };
        spliced_any = true;
        *received += n as u64;
        partial.splice_in(&pipe_out, n)?;
        progress(n as u64);
    }
    Ok(true)
}

/// The portable way: read into a buffer, write it out.
fn copy_into(
    payload: &mut impl Read,
    partial: &mut Partial,
    received: &mut u64,
    progress: &mut dyn FnMut(u64),
) -> Result<(), DownloadError> {
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match payload.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The connection failed: the shortfall is reported as such.
            Err(_) => return Ok(()),
        };
        *received += n as u64;
        partial.write(&buf[..n])?;
        progress(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

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
        // sendfile needs a real descriptor on the other end; a file will do.
        let wire_path = root.join("wire");
        let mut out = BufWriter::new(File::create(&wire_path).unwrap());
        let mut reported = 0;
        file.send(&mut out, &mut |n| reported += n).unwrap();
        drop(out);
        assert_eq!(reported, 200_000);
        let wire = fs::read(&wire_path).unwrap();
        let header = b"/file my notes.txt 200000\n";
        assert_eq!(&wire[..header.len()], header);
        assert_eq!(&wire[header.len()..], &body[..]);
        fs::remove_dir_all(root).unwrap();
    }

    /// A connected socket whose far end writes `wire` and then closes,
    /// read through a small buffer so that most of the payload is spliced.
    fn stream_of(wire: Vec<u8>) -> BufReader<UnixStream> {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let _ = theirs.write_all(&wire);
        });
        BufReader::with_capacity(1000, ours)
    }

    #[test]
    fn a_received_payload_is_saved_whole_and_the_stream_goes_on() {
        let root = scratch("receive");
        let downloads = DownloadDir::new(root.join("in"));
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = body.clone();
        wire.extend_from_slice(b"next frame");
        let mut stream = stream_of(wire);
        // Part of the payload is already buffered, as after a header.
        stream.fill_buf().unwrap();
        let mut reported = 0;
        let path = receive(
            &mut stream,
            body.len() as u64,
            &downloads,
            "../x.bin",
            &mut |n| reported += n,
        )
        .unwrap();
        assert_eq!(path, root.join("in/x.bin"));
        assert!(fs::read(&path).unwrap() == body);
        assert_eq!(reported, body.len() as u64);
        let mut rest = String::new();
        stream.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "next frame");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_short_payload_saves_nothing() {
        let root = scratch("short");
        let downloads = DownloadDir::new(&root);
        let mut stream = stream_of(b"only part".to_vec());
        match receive(&mut stream, 100, &downloads, "cut.bin", &mut |_| {}) {
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
        let mut stream = stream_of(b"0123456789next".to_vec());
        let err = receive(&mut stream, 10, &downloads, "x", &mut |_| {}).unwrap_err();
        assert!(matches!(err, ReceiveError::Save(_)), "{err:?}");
        let mut rest = String::new();
        stream.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "next");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_copy_loop_moves_what_cannot_be_spliced() {
        let root = scratch("copy");
        let downloads = DownloadDir::new(&root);
        let body: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        let mut partial = downloads.start("c.bin").unwrap();
        let mut received = 0;
        copy_into(&mut &body[..], &mut partial, &mut received, &mut |_| {}).unwrap();
        assert_eq!(received, body.len() as u64);
        let path = partial.finish().unwrap();
        assert!(fs::read(path).unwrap() == body);
        fs::remove_dir_all(root).unwrap();
    }
}
