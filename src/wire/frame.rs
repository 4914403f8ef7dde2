//! The wire format: encoding and decoding of text lines and `/file` headers.
//!
//! The format is the original program's and a contract with other peers
//! (the Python original, plain `nc`): PROTOCOL.md §2 specifies it, with
//! what a receiver does with headers that make no sense (§2.3).
//!
//! Nothing here knows about sockets, threads or the terminal: decoding works
//! over any `BufRead`, encoding over any `Write`, so tests feed byte slices.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::wire::limits::{MAX_FILE_SIZE, MAX_LINE};

const FILE_COMMAND: &[u8] = b"/file";

/// One decoded unit of the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text line as sent, without its line ending. Raw bytes: the peer
    /// may send anything, and sanitising is the terminal's business.
    Text(Vec<u8>),
    /// A file header; exactly `size` payload bytes follow it on the stream.
    File { name: String, size: u64 },
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A `/file` line whose fields make no sense. The line has been consumed
    /// and no payload is assumed, so decoding can go on.
    #[error("malformed file header: {0}")]
    MalformedHeader(String),
    /// A line longer than [`MAX_LINE`]. It has been skipped up to and
    /// including its newline, so decoding can go on.
    #[error("line of {len} bytes exceeds the limit of {MAX_LINE} bytes")]
    LineTooLong { len: u64 },
    /// The stream ended in the middle of a line. `partial` holds what arrived
    /// of it (at most [`MAX_LINE`] bytes).
    #[error("connection ended in the middle of a line")]
    EndedMidLine { partial: Vec<u8> },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the stream is still in step after this error, so the next
    /// frame can be read.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Self::MalformedHeader(_) | Self::LineTooLong { .. })
    }
}

/// Reads whole frames from a buffered byte stream.
///
/// After a [`Frame::File`] the payload can be read through
/// [`FrameReader::payload`]; whatever of it the caller leaves unread is
/// skipped by the next [`FrameReader::next_frame`], so the stream stays in
/// step whatever the caller does.
pub struct FrameReader<R> {
    inner: R,
    line: Vec<u8>,
    /// Bytes of the last file's payload not yet taken from `inner`.
    pending: u64,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            line: Vec::new(),
            pending: 0,
        }
    }

    /// The next frame, or `Ok(None)` when the stream ends cleanly at a frame
    /// boundary. What is left of a payload is skipped first; a stream that
    /// ends inside it is an `UnexpectedEof` error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        self.skip_payload()?;
        match read_bounded_line(&mut self.inner, &mut self.line)? {
            Line::End => Ok(None),
            Line::Partial => Err(FrameError::EndedMidLine {
                partial: std::mem::take(&mut self.line),
            }),
            Line::TooLong(len) => Err(FrameError::LineTooLong { len }),
            Line::Complete => {
                let line = strip_line_ending(&self.line);
                if is_file_header(line) {
                    let (name, size) = parse_file_header(line)?;
                    self.pending = size;
                    Ok(Some(Frame::File { name, size }))
                } else {
                    Ok(Some(Frame::Text(line.to_vec())))
                }
            }
        }
    }

    /// The stream underneath, to set how it reads.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The stream underneath, to read past what is left of it.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The rest of the payload of the file header just read: a reader that
    /// yields at most its remaining bytes, fewer if the stream ends early.
    pub fn payload(&mut self) -> Payload<'_, R> {
        Payload {
            inner: &mut self.inner,
            left: &mut self.pending,
        }
    }

    fn skip_payload(&mut self) -> io::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.payload().discard_rest()?;
        if self.pending > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection ended {} before the end of a file",
                    crate::files::size::bytes(self.pending)
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> FrameReader<BufReader<R>> {
    /// Whether a whole line has arrived beyond what was decoded (and beyond
    /// any payload still pending), so that the next frame (or at least its
    /// header) can be read without waiting.
    pub fn has_buffered_line(&self) -> bool {
        let buffered = self.inner.buffer();
        let payload = buffered
            .len()
            .min(usize::try_from(self.pending).unwrap_or(usize::MAX));
        buffered[payload..].contains(&b'\n')
    }

    /// Takes from what is already buffered the run of complete text lines
    /// that `accept` takes whole, appending each (without a `\r` before its
    /// newline) to `out`. Stops before a file header, an incomplete or
    /// overlong line, or one `accept` refuses: [`FrameReader::next_frame`]
    /// deals with those, and with a payload still pending. A burst of chat
    /// lines is so handled in one pass, with no allocation per line.
    pub fn take_text_run(&mut self, out: &mut Vec<u8>, accept: impl Fn(&[u8]) -> bool) {
        if self.pending > 0 {
            return;
        }
        let buffered = self.inner.buffer();
        let mut used = 0;
        loop {
            let start = out.len();
            // `read_until` on a slice finds the newline with std's memchr.
            let n = (&buffered[used..]).read_until(b'\n', out).unwrap_or(0);
            let line = strip_line_ending(&out[start..]);
            let whole = n > 0 && out.ends_with(b"\n");
            if !whole || line.len() > MAX_LINE || is_file_header(line) || !accept(line) {
                out.truncate(start);
                break;
            }
            if out.ends_with(b"\r\n") {
                out.truncate(out.len() - 2);
                out.push(b'\n');
            }
            used += n;
        }
        self.inner.consume(used);
    }
}

/// The unread part of one file's payload: reads stop at its end, and every
/// byte taken, through it or straight from the stream underneath, is
/// counted off so the [`FrameReader`] knows what is left to skip.
pub struct Payload<'a, R> {
    inner: &'a mut R,
    left: &'a mut u64,
}

impl<R: BufRead> Payload<'_, R> {
    /// Payload bytes not yet read.
    pub fn remaining(&self) -> u64 {
        *self.left
    }

    /// Reads and throws away the rest of the payload, up to the end of the
    /// stream. Returns how many bytes were skipped.
    pub fn discard_rest(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }
}

impl<R: BufRead> Read for Payload<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if *self.left == 0 {
            return Ok(0);
        }
        let max = u64::try_from(buf.len()).unwrap_or(u64::MAX).min(*self.left);
        let n = self.inner.read(&mut buf[..max as usize])?;
        *self.left -= n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Payload<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if *self.left == 0 {
            return Ok(&[]);
        }
        let left = *self.left;
        let buf = self.inner.fill_buf()?;
        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX).min(left);
        Ok(&buf[..n as usize])
    }

    fn consume(&mut self, amt: usize) {
        let amt = u64::try_from(amt).unwrap_or(u64::MAX).min(*self.left);
        self.inner.consume(amt as usize);
        *self.left -= amt;
    }
}

impl<'a, S: Read> Payload<'a, BufReader<S>> {
    /// What of the payload has already arrived in the buffer, to be taken
    /// before anything is moved straight from the stream.
    pub fn buffered(&self) -> &[u8] {
        let buffered = self.inner.buffer();
        let n = u64::try_from(buffered.len())
            .unwrap_or(u64::MAX)
            .min(*self.left);
        &buffered[..n as usize]
    }

    /// The stream underneath, for moving payload bytes without passing
    /// through memory (`splice`). `None` while part of the payload is still
    /// buffered: those bytes come first. Report what was moved with
    /// [`Payload::moved_directly`].
    pub fn direct(&self) -> Option<&S> {
        self.buffered().is_empty().then(|| self.inner.get_ref())
    }

    /// Counts off `n` payload bytes taken from [`Payload::direct`].
    pub fn moved_directly(&mut self, n: u64) {
        debug_assert!(n <= *self.left, "moved more than the payload");
        *self.left -= n.min(*self.left);
    }
}

enum Line {
    Complete,
    Partial,
    End,
    TooLong(u64),
}

/// Reads one line into `buf` (newline included), holding at most
/// [`MAX_LINE`] + 2 bytes however long the line is.
fn read_bounded_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<Line> {
    buf.clear();
    // A line may end in "\r\n"; allow for both bytes on top of the limit.
    let keep = MAX_LINE + 2;
    let n = (&mut *reader).take(keep as u64).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if buf.ends_with(b"\n") {
        let content = n - 1 - usize::from(buf.ends_with(b"\r\n"));
        return Ok(if content > MAX_LINE {
            Line::TooLong(content as u64)
        } else {
            Line::Complete
        });
    }
    if n < keep {
        // The stream ended inside the line.
        return Ok(if n > MAX_LINE {
            Line::TooLong(n as u64)
        } else {
            Line::Partial
        });
    }
    // Over the limit: skip the rest without keeping it, remembering
    // whether the last byte seen was a `\r`, which is not content if the
    // newline comes next.
    let mut total = n as u64;
    let mut after_cr = buf.ends_with(b"\r");
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(Line::TooLong(total));
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let cr = if i == 0 {
                    after_cr
                } else {
                    chunk[i - 1] == b'\r'
                };
                reader.consume(i + 1);
                return Ok(Line::TooLong(total + i as u64 - u64::from(cr)));
            }
            None => {
                let len = chunk.len();
                after_cr = chunk[len - 1] == b'\r';
                reader.consume(len);
                total += len as u64;
            }
        }
    }
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_file_header(line: &[u8]) -> bool {
    line == FILE_COMMAND || line.starts_with(b"/file ")
}

/// Splits `/file NAME SIZE` into its fields. The size is the last field, so
/// names may contain spaces.
fn parse_file_header(line: &[u8]) -> Result<(String, u64), FrameError> {
    let malformed = |why: String| Err(FrameError::MalformedHeader(why));
    let rest = line[FILE_COMMAND.len()..].trim_ascii();
    let Some(split) = rest.iter().rposition(|&b| b == b' ') else {
        return malformed(if rest.is_empty() {
            "no file name or size".into()
        } else {
            "no size".into()
        });
    };
    let (name, size) = (rest[..split].trim_ascii(), &rest[split + 1..]);
    if name.is_empty() {
        return malformed("no file name".into());
    }
    let shown = String::from_utf8_lossy(size);
    if !size.iter().all(u8::is_ascii_digit) {
        return malformed(format!("size \"{shown}\" is not a number"));
    }
    match std::str::from_utf8(size)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(size) if size <= MAX_FILE_SIZE => {
            Ok((String::from_utf8_lossy(name).into_owned(), size))
        }
        _ => malformed(format!("size {shown} is too large")),
    }
}

/// Writes one text message as `[NAME] MESSAGE\n`.
pub fn write_text(out: &mut impl Write, name: &str, message: &str) -> io::Result<()> {
    debug_assert!(!message.contains('\n'), "a message is a single line");
    // Piece by piece rather than through `format_args!`: this runs once per
    // line of piped input.
    out.write_all(b"[")?;
    out.write_all(name.as_bytes())?;
    out.write_all(b"] ")?;
    out.write_all(message.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes the header that announces a file of `size` bytes.
pub fn write_file_header(out: &mut impl Write, name: &str, size: u64) -> io::Result<()> {
    debug_assert!(!name.contains('\n'), "a file name is a single line");
    writeln!(out, "/file {name} {size}")
}

/// The text a leaving peer sends last.
pub const LEAVE_MESSAGE: &str = "has left the chat.";

/// Whether `line` (without its line ending) is a peer's goodbye,
/// `[NAME] has left the chat.`.
pub fn is_leave_line(line: &[u8]) -> bool {
    line.starts_with(b"[")
        && line
            .strip_suffix(LEAVE_MESSAGE.as_bytes())
            .and_then(|rest| rest.strip_suffix(b"] "))
            .is_some_and(|name| !name[1..].contains(&b']'))
}

#[cfg(test)]
mod leave_tests {
    use super::*;

    #[test]
    fn only_a_whole_goodbye_is_a_leave_line() {
        assert!(is_leave_line(b"[I056] has left the chat."));
        assert!(is_leave_line(b"[Daksh P] has left the chat."));
        for line in [
            &b"[I056] has left the chat. Not."[..],
            b"I056 has left the chat.",
            b"[I056] said [x] has left the chat.",
            b"[I056] has left the chat",
            b"has left the chat.",
        ] {
            assert!(!is_leave_line(line), "{:?}", String::from_utf8_lossy(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a whole stream decodes to, payloads included.
    #[derive(Debug, PartialEq)]
    enum Decoded {
        Frame(Frame),
        Payload(Vec<u8>),
        Error(String),
    }

    fn decode_all<R: BufRead>(reader: R) -> Vec<Decoded> {
        let mut frames = FrameReader::new(reader);
        let mut out = Vec::new();
        loop {
            match frames.next_frame() {
                Ok(None) => return out,
                Ok(Some(Frame::File { name, size })) => {
                    out.push(Decoded::Frame(Frame::File { name, size }));
                    let mut payload = Vec::new();
                    frames.payload().read_to_end(&mut payload).unwrap();
                    out.push(Decoded::Payload(payload));
                }
                Ok(Some(frame)) => out.push(Decoded::Frame(frame)),
                Err(e) if e.is_recoverable() => out.push(Decoded::Error(e.to_string())),
                Err(e) => {
                    out.push(Decoded::Error(e.to_string()));
                    return out;
                }
            }
        }
    }

    fn text(s: &str) -> Decoded {
        Decoded::Frame(Frame::Text(s.as_bytes().to_vec()))
    }

    fn file(name: &str, size: u64) -> Decoded {
        Decoded::Frame(Frame::File {
            name: name.into(),
            size,
        })
    }

    fn encode_sample() -> Vec<u8> {
        let mut wire = Vec::new();
        write_text(&mut wire, "I049", "Hi! I'm Daksh.").unwrap();
        write_file_header(&mut wire, "my notes.txt", 12).unwrap();
        wire.extend_from_slice(b"line1\nline2\n");
        write_file_header(&mut wire, "empty", 0).unwrap();
        wire.extend_from_slice(b"/file broken\n");
        write_file_header(&mut wire, "bin", 5).unwrap();
        wire.extend_from_slice(&[0, 0xff, b'\n', b'\r', 7]);
        write_text(&mut wire, "I056", LEAVE_MESSAGE).unwrap();
        wire
    }

    fn sample_frames() -> Vec<Decoded> {
        vec![
            text("[I049] Hi! I'm Daksh."),
            file("my notes.txt", 12),
            Decoded::Payload(b"line1\nline2\n".to_vec()),
            file("empty", 0),
            Decoded::Payload(Vec::new()),
            Decoded::Error("malformed file header: no size".into()),
            file("bin", 5),
            Decoded::Payload(vec![0, 0xff, b'\n', b'\r', 7]),
            text("[I056] has left the chat."),
        ]
    }

    /// A reader that hands out its data in pieces ending at the given
    /// offsets, the way TCP may deliver it.
    struct Pieces<'a> {
        data: &'a [u8],
        cuts: Vec<usize>,
        pos: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let end = self
                .cuts
                .iter()
                .copied()
                .find(|&c| c > self.pos)
                .unwrap_or(self.data.len());
            let n = (end - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn every_frame_kind_round_trips() {
        assert_eq!(decode_all(&encode_sample()[..]), sample_frames());
    }

    #[test]
    fn splitting_the_stream_at_any_boundary_changes_nothing() {
        let wire = encode_sample();
        let expected = sample_frames();
        for cut in 0..=wire.len() {
            let pieces = Pieces {
                data: &wire,
                cuts: vec![cut],
                pos: 0,
            };
            assert_eq!(decode_all(BufReader::new(pieces)), expected, "cut at {cut}");
        }
        for a in 0..wire.len() {
            for b in a + 1..wire.len() {
                let pieces = Pieces {
                    data: &wire,
                    cuts: vec![a, b],
                    pos: 0,
                };
                assert_eq!(
                    decode_all(BufReader::new(pieces)),
                    expected,
                    "cuts at {a} and {b}"
                );
            }
        }
    }

    #[test]
    fn pieces_of_every_size_and_any_buffer_size_change_nothing() {
        let wire = encode_sample();
        let expected = sample_frames();
        for piece in 1..=wire.len() {
            for capacity in [1, 2, 3, 7, 64, 8192] {
                let pieces = Pieces {
                    data: &wire,
                    cuts: (piece..wire.len()).step_by(piece).collect(),
                    pos: 0,
                };
                let reader = BufReader::with_capacity(capacity, pieces);
                assert_eq!(
                    decode_all(reader),
                    expected,
                    "pieces of {piece}, buffer {capacity}"
                );
            }
        }
    }

    #[test]
    fn clean_end_is_none_and_end_mid_line_is_an_error() {
        let mut empty = FrameReader::new(&b""[..]);
        assert!(empty.next_frame().unwrap().is_none());

        let mut cut = FrameReader::new(&b"[A] hi\n[A] unfinished"[..]);
        assert_eq!(
            cut.next_frame().unwrap(),
            Some(Frame::Text(b"[A] hi".to_vec()))
        );
        match cut.next_frame() {
            Err(FrameError::EndedMidLine { partial }) => assert_eq!(partial, b"[A] unfinished"),
            other => panic!("expected EndedMidLine, got {other:?}"),
        }
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let decoded = decode_all(&b"[nc] hello\r\n/file a b.txt 2\r\nxy[nc] bye\r\n"[..]);
        assert_eq!(
            decoded,
            vec![
                text("[nc] hello"),
                file("a b.txt", 2),
                Decoded::Payload(b"xy".to_vec()),
                text("[nc] bye"),
            ]
        );
    }

    #[test]
    fn malformed_headers_are_reported_and_decoding_goes_on() {
        let cases: &[(&[u8], &str)] = &[
            (b"/file\n", "no file name or size"),
            (b"/file   \n", "no file name or size"),
            (b"/file notes.txt\n", "no size"),
            (b"/file 12\n", "no size"),
            (b"/file  12\n", "no size"),
            (b"/file x abc\n", "size \"abc\" is not a number"),
            (b"/file x -5\n", "size \"-5\" is not a number"),
            (b"/file x +5\n", "size \"+5\" is not a number"),
            (b"/file x 1.5\n", "size \"1.5\" is not a number"),
            (b"/file x 0x10\n", "size \"0x10\" is not a number"),
            (
                b"/file x 99999999999999999999999\n",
                "size 99999999999999999999999 is too large",
            ),
            (
                b"/file x 17592186044417\n",
                "size 17592186044417 is too large",
            ),
        ];
        for (header, why) in cases {
            let mut wire = header.to_vec();
            wire.extend_from_slice(b"[A] still here\n");
            assert_eq!(
                decode_all(&wire[..]),
                vec![
                    Decoded::Error(format!("malformed file header: {why}")),
                    text("[A] still here"),
                ],
                "header {:?}",
                String::from_utf8_lossy(header)
            );
        }
    }

    #[test]
    fn lines_that_merely_start_like_a_header_are_text() {
        let decoded = decode_all(&b"/filesystem full\n[A] /file x 3\n"[..]);
        assert_eq!(
            decoded,
            vec![text("/filesystem full"), text("[A] /file x 3")]
        );
    }

    #[test]
    fn the_largest_allowed_size_is_accepted() {
        let header = format!("/file big {MAX_FILE_SIZE}\n");
        let mut frames = FrameReader::new(header.as_bytes());
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::File {
                name: "big".into(),
                size: MAX_FILE_SIZE
            })
        );
    }

    #[test]
    fn a_line_at_the_limit_is_kept_and_one_over_is_skipped() {
        let at_limit = vec![b'a'; MAX_LINE];
        let mut wire = at_limit.clone();
        wire.extend_from_slice(b"\r\n");
        wire.extend(vec![b'b'; MAX_LINE + 1]);
        wire.extend_from_slice(b"\n[A] after\n");
        let decoded = decode_all(BufReader::with_capacity(1000, &wire[..]));
        assert_eq!(
            decoded,
            vec![
                Decoded::Frame(Frame::Text(at_limit)),
                Decoded::Error(format!(
                    "line of {} bytes exceeds the limit of {MAX_LINE} bytes",
                    MAX_LINE + 1
                )),
                text("[A] after"),
            ]
        );
    }

    /// A peer that never sends a newline must not make us hold its bytes.
    struct Endless {
        left: u64,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(b'x');
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn an_endless_line_is_skipped_in_bounded_memory() {
        let len = 50 * 1024 * 1024;
        let stream = Endless { left: len }.chain(&b"\n[A] after\n"[..]);
        let mut frames = FrameReader::new(BufReader::new(stream));
        match frames.next_frame() {
            Err(FrameError::LineTooLong { len: got }) => assert_eq!(got, len),
            other => panic!("expected LineTooLong, got {other:?}"),
        }
        assert!(frames.line.capacity() <= 4 * MAX_LINE);
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::Text(b"[A] after".to_vec()))
        );
    }

    #[test]
    fn an_oversized_line_cut_by_the_end_of_stream_is_too_long_not_partial() {
        let stream = Endless {
            left: MAX_LINE as u64 + 10,
        };
        let mut frames = FrameReader::new(BufReader::new(stream));
        assert!(matches!(
            frames.next_frame(),
            Err(FrameError::LineTooLong { .. })
        ));
        assert!(frames.next_frame().unwrap().is_none());
    }

    #[test]
    fn a_text_run_stops_where_frames_need_decoding() {
        let wire = b"[A] one\r\n[A] two\n/file x 1\nz[A] three\n[A] cut";
        let mut frames = FrameReader::new(BufReader::new(&wire[..]));
        frames.inner.fill_buf().unwrap();
        let mut out = Vec::new();
        frames.take_text_run(&mut out, |_| true);
        assert_eq!(out, b"[A] one\n[A] two\n");
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::File { .. }))));
        let mut payload = Vec::new();
        frames.payload().read_to_end(&mut payload).unwrap();
        out.clear();
        frames.take_text_run(&mut out, |line| !line.ends_with(b"three"));
        assert!(out.is_empty());
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::Text(b"[A] three".to_vec()))
        );
        frames.take_text_run(&mut out, |_| true);
        assert!(out.is_empty(), "an incomplete line is left for next_frame");
        assert!(matches!(
            frames.next_frame(),
            Err(FrameError::EndedMidLine { .. })
        ));
    }

    #[test]
    fn a_short_payload_yields_what_arrived() {
        let mut frames = FrameReader::new(&b"/file x 10\nabc"[..]);
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::File {
                name: "x".into(),
                size: 10
            })
        );
        let mut got = Vec::new();
        frames.payload().read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abc");
    }

    #[test]
    fn invalid_utf8_in_a_name_is_replaced() {
        let mut frames = FrameReader::new(&b"/file a\xffb 1\nz"[..]);
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::File {
                name: "a\u{fffd}b".into(),
                size: 1
            })
        );
    }

    #[test]
    fn an_overlong_crlf_line_reports_its_content_length() {
        for capacity in [1000, MAX_LINE + 2, MAX_LINE + 3, 1 << 20] {
            let mut wire = vec![b'b'; MAX_LINE + 1];
            wire.extend_from_slice(b"\r\n[A] after\n");
            let mut frames = FrameReader::new(BufReader::with_capacity(capacity, &wire[..]));
            match frames.next_frame() {
                Err(FrameError::LineTooLong { len }) => {
                    assert_eq!(len, MAX_LINE as u64 + 1, "buffer {capacity}")
                }
                other => panic!("expected LineTooLong, got {other:?}"),
            }
            assert_eq!(
                frames.next_frame().unwrap(),
                Some(Frame::Text(b"[A] after".to_vec()))
            );
        }
    }

    #[test]
    fn an_unread_payload_is_skipped_by_the_next_frame() {
        let wire = b"/file x 10\n0123456789[A] after\n/file y 3\nab";
        let mut frames = FrameReader::new(BufReader::with_capacity(4, &wire[..]));
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::File { .. }))));
        let mut some = [0; 3];
        frames.payload().read_exact(&mut some).unwrap();
        assert_eq!(frames.payload().remaining(), 7);
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::Text(b"[A] after".to_vec()))
        );
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::File { .. }))));
        match frames.next_frame() {
            Err(FrameError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("expected an early end, got {other:?}"),
        }
    }

    #[test]
    fn payload_bytes_are_never_taken_for_lines() {
        let wire = b"/file x 7\n[A] a\n\n[A] after\n";
        let mut frames = FrameReader::new(BufReader::new(&wire[..]));
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::File { .. }))));
        assert!(frames.has_buffered_line(), "the line after the payload");
        let mut out = Vec::new();
        frames.take_text_run(&mut out, |_| true);
        assert!(out.is_empty(), "took payload as text: {out:?}");
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::Text(b"[A] after".to_vec()))
        );
        assert!(!frames.has_buffered_line());
    }

    #[test]
    fn bytes_moved_directly_are_counted_off() {
        let (mut ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        theirs.write_all(b"/file x 6\nab").unwrap();
        let mut frames = FrameReader::new(BufReader::new(ours.try_clone().unwrap()));
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::File { .. }))));
        let mut payload = frames.payload();
        assert_eq!(payload.buffered(), b"ab");
        assert!(payload.direct().is_none(), "buffered bytes come first");
        payload.consume(2);
        assert!(payload.direct().is_some());
        theirs.write_all(b"cdef[A] after\n").unwrap();
        let mut moved = [0; 4];
        payload.direct().unwrap();
        ours.read_exact(&mut moved).unwrap();
        payload.moved_directly(4);
        assert_eq!(payload.remaining(), 0);
        drop(theirs);
        assert_eq!(
            frames.next_frame().unwrap(),
            Some(Frame::Text(b"[A] after".to_vec()))
        );
    }

    /// One unit of a generated stream, with what decoding it must give.
    #[derive(Debug, Clone)]
    enum Unit {
        Text {
            line: Vec<u8>,
            crlf: bool,
        },
        File {
            name: String,
            payload: Vec<u8>,
            read: usize,
        },
        Malformed(&'static [u8]),
    }

    fn unit() -> impl Strategy<Value = Unit> {
        let text = (
            proptest::collection::vec(any::<u8>(), 0..40).prop_filter_map("not a line", |mut l| {
                l.retain(|&b| b != b'\n');
                // A `\r` right before the newline is line ending, not content;
                // `/` first might make a header.
                if l.first() == Some(&b'/') || l.last() == Some(&b'\r') {
                    return None;
                }
                Some(l)
            }),
            any::<bool>(),
        )
            .prop_map(|(line, crlf)| Unit::Text { line, crlf });
        let file = (
            "[a-zA-Z0-9._-][a-zA-Z0-9 ._-]{0,10}[a-zA-Z0-9._-]|[a-z]",
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<proptest::sample::Index>(),
        )
            .prop_map(|(name, payload, read)| {
                let read = read.index(payload.len() + 1);
                Unit::File {
                    name,
                    payload,
                    read,
                }
            });
        let malformed = proptest::sample::select(vec![
            &b"/file\n"[..],
            b"/file x\n",
            b"/file x abc\r\n",
            b"/file x -3\n",
            b"/file x 99999999999999999999\n",
        ])
        .prop_map(Unit::Malformed);
        prop_oneof![3 => text, 3 => file, 1 => malformed]
    }

    fn encode(units: &[Unit]) -> Vec<u8> {
        let mut wire = Vec::new();
        for unit in units {
            match unit {
                Unit::Text { line, crlf } => {
                    wire.extend_from_slice(line);
                    wire.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                }
                Unit::File { name, payload, .. } => {
                    write_file_header(&mut wire, name, payload.len() as u64).unwrap();
                    wire.extend_from_slice(payload);
                }
                Unit::Malformed(header) => wire.extend_from_slice(header),
            }
        }
        wire
    }

    proptest! {
        #[test]
        fn random_streams_in_random_pieces_decode_to_what_was_sent(
            units in proptest::collection::vec(unit(), 0..20),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
            capacity in 1usize..600,
        ) {
            let wire = encode(&units);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            cuts.sort_unstable();
            let pieces = Pieces { data: &wire, cuts, pos: 0 };
            let mut frames = FrameReader::new(BufReader::with_capacity(capacity, pieces));
            for unit in &units {
                match (unit, frames.next_frame()) {
                    (Unit::Text { line, .. }, Ok(Some(Frame::Text(got)))) => {
                        prop_assert_eq!(&got, line);
                    }
                    (Unit::File { name, payload, read }, Ok(Some(Frame::File { name: got, size }))) => {
                        prop_assert_eq!(&got, name);
                        prop_assert_eq!(size, payload.len() as u64);
                        // The caller reads only part of the payload.
                        let mut part = vec![0; *read];
                        frames.payload().read_exact(&mut part).unwrap();
                        prop_assert_eq!(&part[..], &payload[..*read]);
                    }
                    (Unit::Malformed(_), Err(FrameError::MalformedHeader(_))) => {}
                    (unit, got) => prop_assert!(false, "{:?} decoded as {:?}", unit, got),
                }
            }
            prop_assert!(frames.next_frame().unwrap().is_none());
        }
    }
}
