//! Receiving a file: streaming a payload from the wire into the download
//! folder, straight from the socket to the disk where the kernel can.

use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::PathBuf;

use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags};

use super::CHUNK;
use crate::files::download::{DownloadDir, DownloadError, Partial};
use crate::wire::frame::Payload;

/// Pipe sizes asked for when splicing, the first the kernel grants. 1 MiB
/// is the most an unprivileged process may set by default, and the
/// fastest: on loopback a 64 KiB pipe moved a file 30% slower, and a
/// 4 MiB one 25% slower. A smaller size is granted where 1 MiB is not
/// when the user's pipes are near `fs.pipe-user-pages-soft`.
const PIPE_SIZES: [usize; 3] = [1024 * 1024, 256 * 1024, 64 * 1024];

/// Smallest pipe worth splicing through. A user whose pipes already hold
/// more than `fs.pipe-user-pages-soft` gets pipes of 8 KiB, which cannot
/// be made bigger and moved a file at half the speed of copying it
/// through our own buffer; the copy is taken then.
const SMALLEST_PIPE: usize = 64 * 1024;

/// Why a received file was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The file could not be written; the rest of its payload was read and
    /// discarded, so the connection is still in step.
    #[error(transparent)]
    Save(DownloadError),
    /// The payload ended early: the connection closed or failed mid-file.
    #[error("received {} of {}", super::size::bytes(*received), super::size::bytes(*expected))]
    Incomplete { received: u64, expected: u64 },
}

/// Streams the rest of a payload into the download folder under a safe
/// form of `peer_name`, telling `progress` of every chunk. Returns where it
/// was saved; `expected` in an error is what remained when called.
///
/// On a local failure (folder not writable, disk full, file size limit)
/// the rest of the payload is read and discarded, so the next frame can be
/// decoded and a stream cut short is told apart from a save failure.
pub fn receive<S: Read + AsFd>(
    mut payload: Payload<'_, BufReader<S>>,
    downloads: &DownloadDir,
    peer_name: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<PathBuf, ReceiveError> {
    let size = payload.remaining();
    let saved = save(&mut payload, downloads, peer_name, progress);
    if payload.remaining() > 0 {
        // A failed read leaves the shortfall, reported below.
        let _ = payload.discard_rest();
    }
    let received = size - payload.remaining();
    match saved {
        Ok(Some(path)) => Ok(path),
        Err(e) if received == size => Err(ReceiveError::Save(e)),
        _ => Err(ReceiveError::Incomplete {
            received,
            expected: size,
        }),
    }
}

/// Moves the payload into a temporary file and names it. `Ok(None)` when
/// the stream ended early; the temporary file is then gone.
fn save<S: Read + AsFd>(
    payload: &mut Payload<'_, BufReader<S>>,
    downloads: &DownloadDir,
    peer_name: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<PathBuf>, DownloadError> {
    let mut partial = downloads.start(peer_name)?;
    // The start of the payload may have arrived with its header.
    let head = payload.buffered();
    let early = head.len();
    partial.write(head)?;
    payload.consume(early);
    progress(early as u64);

    if payload.remaining() > 0 && !splice_into(payload, &mut partial, progress)? {
        copy_into(payload, &mut partial, progress)?;
    }
    if payload.remaining() > 0 {
        return Ok(None);
    }
    partial.finish().map(Some)
}

/// Moves bytes from the socket to the file through a pipe with `splice`,
/// so they never pass through our memory. Each call takes what has arrived
/// so far, so progress moves however slowly bytes trickle in. `Ok(false)`
/// when the kernel cannot splice from this stream, before any byte moved.
/// (`SPLICE_F_MOVE` is not asked for: the kernel has ignored it since
/// 2.6.21, and it measured no different.)
fn splice_into<S: Read + AsFd>(
    payload: &mut Payload<'_, BufReader<S>>,
    partial: &mut Partial,
    progress: &mut dyn FnMut(u64),
) -> Result<bool, DownloadError> {
    let Ok((pipe_out, pipe_in)) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC) else {
        return Ok(false);
    };
    let Some(capacity) = pipe_capacity(
        |size| rustix::pipe::fcntl_setpipe_size(&pipe_in, size).ok(),
        rustix::pipe::fcntl_getpipe_size(&pipe_in).ok(),
    ) else {
        return Ok(false);
    };
    let mut spliced_any = false;
    while payload.remaining() > 0 {
        let Some(stream) = payload.direct() else {
            return Ok(spliced_any);
        };
        let want = payload.remaining().min(capacity as u64) as usize;
        let n = match rustix::pipe::splice(stream, None, &pipe_in, None, want, SpliceFlags::empty())
        {
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
        // Counted before writing: the bytes have left the stream either way.
        payload.moved_directly(n as u64);
        partial.splice_in(&pipe_out, n)?;
        progress(n as u64);
    }
    Ok(true)
}

/// How much the pipe holds once made as big as the kernel lets it, from
/// `grow` (the size granted, if any) and the size it has; `None` when it
/// is too small to be worth splicing through.
fn pipe_capacity(grow: impl Fn(usize) -> Option<usize>, has: Option<usize>) -> Option<usize> {
    PIPE_SIZES
        .into_iter()
        .find_map(grow)
        .or(has)
        .filter(|&capacity| capacity >= SMALLEST_PIPE)
}

/// The portable way: read into a buffer, write it out.
fn copy_into(
    payload: &mut impl Read,
    partial: &mut Partial,
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
        partial.write(&buf[..n])?;
        progress(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::scratch;
    use crate::wire::frame::{self, Frame, FrameReader};
    use std::fs;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    /// Frames from a connected socket whose far end writes `wire` and then
    /// closes, read through a small buffer so that most of a payload is
    /// spliced.
    fn frames_of(wire: Vec<u8>) -> FrameReader<BufReader<UnixStream>> {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let _ = theirs.write_all(&wire);
        });
        FrameReader::new(BufReader::with_capacity(1000, ours))
    }

    fn with_header(name: &str, size: usize, payload: &[u8], after: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        frame::write_file_header(&mut wire, name, size as u64).unwrap();
        wire.extend_from_slice(payload);
        wire.extend_from_slice(after);
        wire
    }

    fn next_file(frames: &mut FrameReader<BufReader<UnixStream>>) -> u64 {
        match frames.next_frame() {
            Ok(Some(Frame::File { size, .. })) => size,
            other => panic!("expected a file header, got {other:?}"),
        }
    }

    fn next_text(frames: &mut FrameReader<BufReader<UnixStream>>) -> Vec<u8> {
        match frames.next_frame() {
            Ok(Some(Frame::Text(line))) => line,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    #[test]
    fn a_received_payload_is_saved_whole_and_the_stream_goes_on() {
        let root = scratch("receive");
        let downloads = DownloadDir::new(root.join("in"));
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let mut frames = frames_of(with_header("../x.bin", body.len(), &body, b"next\n"));
        assert_eq!(next_file(&mut frames), body.len() as u64);
        let mut reported = 0;
        let path = receive(frames.payload(), &downloads, "../x.bin", &mut |n| {
            reported += n
        })
        .unwrap();
        assert_eq!(path, root.join("in/x.bin"));
        assert!(fs::read(&path).unwrap() == body);
        assert_eq!(reported, body.len() as u64);
        assert_eq!(next_text(&mut frames), b"next");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_short_payload_saves_nothing() {
        let root = scratch("short");
        let downloads = DownloadDir::new(&root);
        let mut frames = frames_of(with_header("cut.bin", 100, b"only part", b""));
        next_file(&mut frames);
        match receive(frames.payload(), &downloads, "cut.bin", &mut |_| {}) {
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
        let mut frames = frames_of(with_header("x", 10, b"0123456789", b"next\n"));
        next_file(&mut frames);
        let err = receive(frames.payload(), &downloads, "x", &mut |_| {}).unwrap_err();
        assert!(matches!(err, ReceiveError::Save(_)), "{err:?}");
        assert_eq!(next_text(&mut frames), b"next");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_biggest_pipe_granted_is_used_and_a_small_one_is_not() {
        const KIB: usize = 1024;
        // Granted at once.
        assert_eq!(pipe_capacity(Some, Some(64 * KIB)), Some(1024 * KIB));
        // Refused 1 MiB (the user's pipes near their limit), granted the next.
        let below_a_mebibyte = |size| (size < 1024 * KIB).then_some(size);
        assert_eq!(
            pipe_capacity(below_a_mebibyte, Some(64 * KIB)),
            Some(256 * KIB)
        );
        // Nothing granted: the default pipe still serves.
        assert_eq!(pipe_capacity(|_| None, Some(64 * KIB)), Some(64 * KIB));
        // Over the per-user limit pipes stay at 8 KiB: copy instead.
        assert_eq!(pipe_capacity(|_| None, Some(8 * KIB)), None);
        assert_eq!(pipe_capacity(|_| None, None), None);
    }

    #[test]
    fn the_copy_loop_moves_what_cannot_be_spliced() {
        let root = scratch("copy");
        let downloads = DownloadDir::new(&root);
        let body: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        let mut partial = downloads.start("c.bin").unwrap();
        let mut received = 0;
        copy_into(&mut &body[..], &mut partial, &mut |n| received += n).unwrap();
        assert_eq!(received, body.len() as u64);
        let path = partial.finish().unwrap();
        assert!(fs::read(path).unwrap() == body);
        fs::remove_dir_all(root).unwrap();
    }
}
