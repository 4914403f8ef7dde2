//! Sending a local file: checking it before anything goes on the wire,
//! then its header and exactly its bytes, straight from the page cache to
//! the socket where the kernel can.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::CHUNK;
use crate::files::download::safe_file_name;
use crate::wire::frame::{self};
use crate::wire::limits;

/// Bounds of what one `sendfile` call is asked to move. Calls grow towards
/// the largest while the link keeps up, which keeps system calls few on a
/// fast link, and shrink on a slow one so progress still moves.
const SENDFILE_SMALLEST: u64 = 16 * 1024;
const SENDFILE_FIRST: u64 = 64 * 1024;
const SENDFILE_LARGEST: u64 = 4 * 1024 * 1024;

/// How long one `sendfile` call should take: progress is reported after
/// each, and should move at least about once a second at any speed.
const SENDFILE_CALL: Duration = Duration::from_millis(250);

/// Largest file read whole before sending when its size cannot be known
/// up front (files of the kernel's, in /proc or /sys).
const UNKNOWN_SIZE_LIMIT: u64 = 1024 * 1024;

/// How long to wait for the peer to acknowledge a file header before its
/// payload follows, and the pause after that for the peer to take it.
const HEADER_ACK_WAIT: Duration = Duration::from_millis(50);
const HEADER_GRACE: Duration = Duration::from_millis(10);

/// `f_type` of file systems whose files report no true size: proc, sysfs,
/// debugfs, tracefs, cgroup, cgroup2, securityfs, configfs, bpf, pstore,
/// efivarfs, fusectl, selinuxfs, binfmt_misc.
const SIZELESS_FILE_SYSTEMS: [u64; 14] = [
    0x9fa0,
    0x6265_6572,
    0x6462_6720,
    0x7472_6163,
    0x0027_e0eb,
    0x6367_7270,
    0x7363_6673,
    0x6265_6570,
    0xcafe_4a11,
    0x6165_676c,
    0xde5e_81e4,
    0x6573_5543,
    0xf97c_ff8c,
    0x4249_4e4d,
];

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
    #[error(
        "it is larger than the {} a peer accepts",
        super::size::bytes(limits::MAX_FILE_SIZE)
    )]
    TooLarge { size: u64 },
    #[error(
        "its size is only known by reading it (a file of the kernel's), and it is over {} KiB",
        UNKNOWN_SIZE_LIMIT / 1024
    )]
    SizeUnknown,
    #[error("it was replaced since the folder was looked at")]
    Changed,
    #[error("{0}")]
    Io(io::Error),
}

/// Which file a path named when it was looked at: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
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
    // The OS error is in the message and not a `source`, so that a chain
    // printed with `{:#}` names it once.
    #[error("reading {} failed after {sent} of {size} bytes: {cause}", path.display())]
    Source {
        path: PathBuf,
        sent: u64,
        size: u64,
        cause: io::Error,
    },
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
    contents: Contents,
    path: PathBuf,
    name: String,
    size: u64,
}

#[derive(Debug)]
enum Contents {
    /// Streamed from the file as it is sent.
    File(File),
    /// Read whole up front, because only reading told its size.
    Read(Vec<u8>),
}

impl OutgoingFile {
    /// Opens `path` and checks it is a regular file whose size is known, so
    /// that every refusal happens before anything goes on the wire.
    pub fn open(path: &Path) -> Result<Self, SendError> {
        // Checked before opening: opening a FIFO would block until some
        // other program opened its other end.
        check_regular(&fs::metadata(path)?)?;
        let file = File::open(path)?;
        // Checked again on what was opened, in case the path changed.
        let meta = file.metadata()?;
        check_regular(&meta)?;
        Self::opened(file, &meta, path)
    }

    /// Opens the file of a folder being sent, which must still be the one
    /// `walked` found there: a file replaced since (by a link to something
    /// outside the folder, say, or through a folder on its path replaced by
    /// one) is not sent.
    pub fn open_walked(path: &Path, walked: FileIdentity) -> Result<Self, SendError> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        // Not through a link, and without waiting on a FIFO put there.
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => SendError::Changed,
                _ => SendError::from(e),
            })?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != (walked.device, walked.inode) {
            return Err(SendError::Changed);
        }
        check_regular(&meta)?;
        Self::opened(file, &meta, path)
    }

    fn opened(file: File, meta: &fs::Metadata, path: &Path) -> Result<Self, SendError> {
        let (contents, size) = if has_no_true_size(&file) {
            let bytes = read_whole(file)?;
            let size = bytes.len() as u64;
            (Contents::Read(bytes), size)
        } else {
            (Contents::File(file), meta.len())
        };
        if size > limits::MAX_FILE_SIZE {
            return Err(SendError::TooLarge { size });
        }
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        Ok(Self {
            contents,
            path: path.to_path_buf(),
            name: safe_file_name(&base),
            size,
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
    /// The header goes alone: the original Python peer takes each `recv()`
    /// as one message and would lose a header that arrives with file bytes.
    /// The bytes then go by `sendfile`, straight from the page cache to the
    /// socket without passing through our memory; where the kernel cannot
    /// do that for this pair of descriptors, by an ordinary copy loop.
    pub fn send<W: Write + AsFd>(
        self,
        out: &mut BufWriter<W>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SendFailure> {
        frame::write_file_header(out, &self.name, self.size).map_err(SendFailure::Connection)?;
        out.flush().map_err(SendFailure::Connection)?;
        let_arrive(out.get_ref().as_fd());
        match &self.contents {
            Contents::Read(bytes) => {
                for chunk in bytes.chunks(CHUNK) {
                    out.write_all(chunk).map_err(SendFailure::Connection)?;
                    progress(chunk.len() as u64);
                }
                Ok(())
            }
            Contents::File(file) => self.stream(file, out, progress),
        }
    }

    fn stream<W: Write + AsFd>(
        &self,
        mut file: &File,
        out: &mut BufWriter<W>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SendFailure> {
        let mut sent = 0;
        let mut chunk = SENDFILE_FIRST;
        while sent < self.size {
            let want = (self.size - sent).min(chunk);
            let started = Instant::now();
            match rustix::fs::sendfile(out.get_ref(), file, None, want as usize) {
                Ok(0) => return Err(self.shrank(sent)),
                Ok(n) => {
                    sent += n as u64;
                    progress(n as u64);
                    chunk = next_sendfile_chunk(chunk, n as u64, started.elapsed());
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
            let n = match file.read(&mut buf[..want]) {
                Ok(0) => return Err(self.shrank(sent)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(cause) => return Err(self.failed(sent, cause)),
            };
            out.write_all(&buf[..n]).map_err(SendFailure::Connection)?;
            sent += n as u64;
            progress(n as u64);
        }
        Ok(())
    }

    /// Fills `buf` with the file's bytes from `offset`, for senders that
    /// pass them through their own hands (to seal them, say). A file that
    /// cannot be read, or has become shorter, is a failure of its own.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SendFailure> {
        match &self.contents {
            Contents::Read(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                match bytes.get(start..).and_then(|rest| rest.get(..buf.len())) {
                    Some(part) => buf.copy_from_slice(part),
                    None => return Err(self.shrank(offset)),
                }
            }
            Contents::File(file) => {
                use std::os::unix::fs::FileExt;
                file.read_exact_at(buf, offset)
                    .map_err(|cause| match cause.kind() {
                        io::ErrorKind::UnexpectedEof => self.shrank(offset),
                        _ => self.failed(offset, cause),
                    })?;
            }
        }
        Ok(())
    }

    fn failed(&self, sent: u64, cause: io::Error) -> SendFailure {
        SendFailure::Source {
            path: self.path.clone(),
            sent,
            size: self.size,
            cause,
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

/// Whether `file` lives on a file system of the kernel's whose sizes are
/// made up (0 in /proc, 4096 in /sys): only reading tells its length.
fn has_no_true_size(file: &File) -> bool {
    rustix::fs::fstatfs(file).is_ok_and(|fs| {
        #[allow(clippy::unnecessary_cast)] // `f_type`'s width differs by target.
        let kind = fs.f_type as u64 & 0xffff_ffff;
        SIZELESS_FILE_SYSTEMS.contains(&kind)
    })
}

/// The whole of a small file whose size is unknown; refused when large.
fn read_whole(file: File) -> Result<Vec<u8>, SendError> {
    let mut bytes = Vec::new();
    read_whole_from(file, &mut bytes)?;
    Ok(bytes)
}

fn read_whole_from(source: impl Read, bytes: &mut Vec<u8>) -> Result<(), SendError> {
    source.take(UNKNOWN_SIZE_LIMIT + 1).read_to_end(bytes)?;
    if bytes.len() as u64 > UNKNOWN_SIZE_LIMIT {
        return Err(SendError::SizeUnknown);
    }
    Ok(())
}

/// What the next `sendfile` call is asked for, from how long moving `moved`
/// bytes took: about [`SENDFILE_CALL`]'s worth at the rate seen, growing at
/// most twofold per call.
fn next_sendfile_chunk(chunk: u64, moved: u64, took: Duration) -> u64 {
    let at_rate = u128::from(moved) * SENDFILE_CALL.as_nanos() / took.as_nanos().max(1);
    let at_rate = u64::try_from(at_rate).unwrap_or(u64::MAX);
    at_rate
        .min(chunk.saturating_mul(2))
        .clamp(SENDFILE_SMALLEST, SENDFILE_LARGEST)
}

/// On a socket, waits until the peer's kernel has acknowledged what was
/// written (a header, or lines before one), bounded by [`HEADER_ACK_WAIT`],
/// then a little more so the peer has been woken and has taken it: the
/// original program takes what one `recv()` returns as one message.
pub fn let_arrive(out: BorrowedFd<'_>) {
    if crate::net::transport::wait_acknowledged(out, HEADER_ACK_WAIT) {
        std::thread::sleep(HEADER_GRACE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scratch;

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

    #[test]
    fn a_file_over_the_limit_is_refused_before_sending() {
        // tmpfs takes files of any size; ext4 stops at 16 TiB.
        let path = Path::new("/dev/shm").join(format!("chat-huge-{}.img", std::process::id()));
        let file = File::create(&path).unwrap();
        // Sparse: no disk space is used.
        file.set_len(limits::MAX_FILE_SIZE + 1).unwrap();
        match OutgoingFile::open(&path) {
            Err(e @ SendError::TooLarge { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "it is larger than the 16.0 TiB a peer accepts"
                )
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        file.set_len(limits::MAX_FILE_SIZE).unwrap();
        assert_eq!(
            OutgoingFile::open(&path).unwrap().size(),
            limits::MAX_FILE_SIZE
        );
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn kernel_files_are_sent_with_their_true_size() {
        let status = OutgoingFile::open(Path::new("/proc/self/status")).unwrap();
        assert!(status.size() > 0);
        assert!(matches!(&status.contents, Contents::Read(b) if b.starts_with(b"Name:")));
        let online = OutgoingFile::open(Path::new("/sys/devices/system/cpu/online")).unwrap();
        assert!(
            online.size() > 0 && online.size() < 4096,
            "{}",
            online.size()
        );
        // A real empty file is still sent as empty.
        let root = scratch("empty");
        fs::write(root.join("empty"), b"").unwrap();
        let empty = OutgoingFile::open(&root.join("empty")).unwrap();
        assert!(matches!(empty.contents, Contents::File(_)) && empty.size() == 0);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_large_file_of_unknown_size_is_refused() {
        let mut whole = Vec::new();
        let big = vec![b'x'; UNKNOWN_SIZE_LIMIT as usize + 1];
        let err = read_whole_from(&big[..], &mut whole).unwrap_err();
        assert!(matches!(err, SendError::SizeUnknown), "{err:?}");
        assert!(err.to_string().contains("1024 KiB"), "{err}");
    }

    #[test]
    fn sendfile_calls_follow_the_link_speed() {
        // Fast: grows twofold up to the largest.
        let fast = next_sendfile_chunk(SENDFILE_FIRST, SENDFILE_FIRST, Duration::from_micros(50));
        assert_eq!(fast, 2 * SENDFILE_FIRST);
        let top = next_sendfile_chunk(SENDFILE_LARGEST, SENDFILE_LARGEST, Duration::ZERO);
        assert_eq!(top, SENDFILE_LARGEST);
        // 128 KiB/s: a quarter of a second's worth.
        let slow = next_sendfile_chunk(SENDFILE_FIRST, 64 * 1024, Duration::from_millis(500));
        assert_eq!(slow, 32 * 1024);
        let crawl = next_sendfile_chunk(SENDFILE_FIRST, 1024, Duration::from_secs(1));
        assert_eq!(crawl, SENDFILE_SMALLEST);
    }
}
