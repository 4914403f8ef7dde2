//! Sealed records, the encrypted channel's unit on the wire.
//!
//! PROTOCOL.md §3.3 specifies the record (length, AES-256-GCM sealing,
//! kind byte, the nonce as its number) and what that proves: a record
//! changed, dropped, replayed, reordered or sent back the other way does
//! not open, and a stream that ends without the closing record was cut,
//! not closed.

use std::io::{self, Read, Write};
use std::ops::Range;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::wire::limits::MAX_PLAINTEXT;

const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 4;

/// Largest sealed record: the kind byte, the plaintext and the tag. A
/// length above it is refused before anything is allocated for it.
const MAX_SEALED: usize = 1 + MAX_PLAINTEXT + TAG_LEN;

const KIND_DATA: u8 = 0;
const KIND_CLOSE: u8 = 1;

/// Why the records from the peer cannot be trusted or read on.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("a record of {len} bytes is over the limit of {MAX_SEALED}")]
    TooLong { len: u64 },
    #[error(
        "a record failed its check: the connection was tampered with \
         (a record changed, dropped, replayed or reordered)"
    )]
    Forged,
    #[error("the connection was cut without the peer closing it")]
    Cut,
    #[error("a record of unknown kind {0}")]
    UnknownKind(u8),
    #[error("too many records for one key")]
    Exhausted,
    #[error(transparent)]
    Io(io::Error),
}

impl From<RecordError> for io::Error {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Io(e) => e,
            RecordError::Cut => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// What a failed read of records says of the peer's side, for the reader
/// to tell in its own words.
#[derive(Debug)]
pub enum Ending {
    /// Nothing came within the read timeout set on the stream.
    Silent(io::Error),
    /// The connection failed.
    Lost(io::Error),
    /// The stream ended without the closing record.
    Cut,
    /// What came cannot be trusted or read on.
    Broken(RecordError),
}

impl RecordError {
    /// What this error says of the peer's side. (A read timeout shows as
    /// either kind, by platform.)
    pub fn ending(self) -> Ending {
        match self {
            Self::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ending::Silent(e)
            }
            Self::Io(e) => Ending::Lost(e),
            Self::Cut => Ending::Cut,
            e => Ending::Broken(e),
        }
    }
}

/// The nonce of record number `count`: four zero bytes, then the count.
fn nonce(count: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&count.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// One direction's key and record count.
struct Direction {
    cipher: LessSafeKey,
    count: u64,
}

impl Direction {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, key).expect("a key of 32 bytes suits AES-256"),
            ),
            count: 0,
        }
    }

    /// The next record's nonce; no nonce is ever used twice.
    fn next_nonce(&mut self) -> Result<Nonce, RecordError> {
        let count = self.count;
        self.count = count.checked_add(1).ok_or(RecordError::Exhausted)?;
        Ok(nonce(count))
    }
}

/// Seals what is sent into records. Records are gathered and written
/// together once [`FLUSH_AT`] bytes are waiting, or on `flush`: many short
/// messages take one system call, and a record is never split over writes
/// of its own.
pub struct RecordWriter<W> {
    out: W,
    direction: Direction,
    /// Room for the records not yet written: the first `pending` bytes.
    /// It is filled once when made, so that a piece of a file can be read
    /// straight into it without clearing its place first.
    buffer: Box<[u8]>,
    pending: usize,
}

/// Pending bytes that are written at once.
const FLUSH_AT: usize = 64 * 1024;

/// A sealed record's header and kind byte, before its data.
const BEFORE_DATA: usize = HEADER_LEN + 1;

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W, key: &[u8; 32]) -> Self {
        Self {
            out,
            direction: Direction::new(key),
            // Less than FLUSH_AT waits before a record is added.
            buffer: vec![0; FLUSH_AT + HEADER_LEN + MAX_SEALED].into_boxed_slice(),
            pending: 0,
        }
    }

    /// Sends `data`, in as many records as it takes.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(MAX_PLAINTEXT) {
            self.seal(KIND_DATA, chunk)?;
        }
        Ok(())
    }

    /// Sends one record of `len` data bytes that `fill` writes in place, so
    /// that a piece of a file is read straight into the record instead of
    /// being copied there. When `fill` fails nothing is sent; its error
    /// comes back inside the `Ok`, apart from a failure to write.
    pub fn send_filled<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> io::Result<Result<(), E>> {
        assert!(
            len <= MAX_PLAINTEXT,
            "a filled record holds one record's data"
        );
        let data = self.pending + BEFORE_DATA;
        if let Err(e) = fill(&mut self.buffer[data..data + len]) {
            return Ok(Err(e));
        }
        self.seal_in_place(KIND_DATA, len)?;
        Ok(Ok(()))
    }

    /// Sends the closing record: nothing follows it, and the peer can tell
    /// an end from a cut.
    pub fn close(&mut self) -> io::Result<()> {
        self.seal(KIND_CLOSE, &[])?;
        self.flush()
    }

    fn seal(&mut self, kind: u8, data: &[u8]) -> io::Result<()> {
        debug_assert!(data.len() <= MAX_PLAINTEXT);
        let at = self.pending + BEFORE_DATA;
        self.buffer[at..at + data.len()].copy_from_slice(data);
        self.seal_in_place(kind, data.len())
    }

    /// Seals the record whose `len` data bytes are already in place after
    /// the pending ones, and adds it to them.
    fn seal_in_place(&mut self, kind: u8, len: usize) -> io::Result<()> {
        let start = self.pending;
        let plain = start + HEADER_LEN;
        let end = plain + 1 + len;
        let header = ((1 + len + TAG_LEN) as u32).to_be_bytes();
        let nonce = self.direction.next_nonce()?;
        self.buffer[start..plain].copy_from_slice(&header);
        self.buffer[plain] = kind;
        let tag = self
            .direction
            .cipher
            .seal_in_place_separate_tag(nonce, Aad::from(header), &mut self.buffer[plain..end])
            .map_err(|_| io::Error::other("a record could not be sealed"))?;
        self.buffer[end..end + TAG_LEN].copy_from_slice(tag.as_ref());
        self.pending = end + TAG_LEN;
        if self.pending >= FLUSH_AT {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        let result = self.out.write_all(&self.buffer[..self.pending]);
        // After a failure the connection is unusable; nothing is resent.
        self.pending = 0;
        result
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

impl<W: Write> Write for RecordWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(MAX_PLAINTEXT);
        self.seal(KIND_DATA, &buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending > 0 {
            self.write_pending()?;
        }
        self.out.flush()
    }
}

/// Opens the peer's records and hands out their data. Records are read
/// into a buffer of its own, several at a time, and opened where they lie:
/// a file's piece is not copied again between the socket and its use.
pub struct RecordReader<R> {
    input: R,
    direction: Direction,
    /// What was read: `buffer[start..end]` is not opened yet.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// The last opened record's data not yet handed out by `read`.
    data: Range<usize>,
    closed: bool,
}

/// Bytes read from the input at most at a time: a few whole records; and
/// the buffer's size before any record needed more.
const READ_BUFFER: usize = 256 * 1024;
const FIRST_READ_BUFFER: usize = 16 * 1024;
const _: () = assert!(READ_BUFFER >= 2 * (HEADER_LEN + MAX_SEALED));

impl<R: Read> RecordReader<R> {
    pub fn new(input: R, key: &[u8; 32]) -> Self {
        Self {
            input,
            direction: Direction::new(key),
            buffer: Vec::new(),
            start: 0,
            end: 0,
            data: 0..0,
            closed: false,
        }
    }

    /// The data of the next record, or `None` once the peer closed.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, RecordError> {
        Ok(self.open_next()?.then(|| &self.buffer[self.data.clone()]))
    }

    /// [`RecordReader::next_record`], and whether the whole record after
    /// it has already been read in, so that it can be opened at once.
    pub fn next_record_and_more(&mut self) -> Result<Option<(&[u8], bool)>, RecordError> {
        let data = self.open_next()?;
        let more = self.whole_record_buffered();
        Ok(data.then(|| (&self.buffer[self.data.clone()], more)))
    }

    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// Opens the next record: true for data, false once the peer closed.
    fn open_next(&mut self) -> Result<bool, RecordError> {
        if self.closed {
            return Ok(false);
        }
        self.data = 0..0;
        self.fill(HEADER_LEN)?;
        let at = self.start;
        let header: [u8; HEADER_LEN] = self.buffer[at..at + HEADER_LEN].try_into().unwrap();
        let len = u32::from_be_bytes(header) as usize;
        if len > MAX_SEALED {
            return Err(RecordError::TooLong { len: len as u64 });
        }
        if len < 1 + TAG_LEN {
            return Err(RecordError::Forged);
        }
        self.fill(HEADER_LEN + len)?;
        let sealed = self.start + HEADER_LEN..self.start + HEADER_LEN + len;
        let nonce = self.direction.next_nonce()?;
        let opened = self
            .direction
            .cipher
            .open_in_place(nonce, Aad::from(header), &mut self.buffer[sealed.clone()])
            .map_err(|_| RecordError::Forged)?;
        let (kind, data_len) = (opened[0], opened.len() - 1);
        self.start = sealed.end;
        match kind {
            KIND_DATA => {
                self.data = sealed.start + 1..sealed.start + 1 + data_len;
                Ok(true)
            }
            KIND_CLOSE if data_len == 0 => {
                self.closed = true;
                Ok(false)
            }
            kind => Err(RecordError::UnknownKind(kind)),
        }
    }

    /// Reads until `need` unopened bytes are buffered: a cut if the input
    /// ends first. What is left of the last record moves to the front
    /// when the next would not fit behind it, and an empty buffer starts
    /// over. The buffer starts small and grows to [`READ_BUFFER`] only
    /// while reads fill it: a conversation of short lines stays small.
    fn fill(&mut self, need: usize) -> Result<(), RecordError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end - self.start >= need {
            return Ok(());
        }
        if self.start + need > self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if need > self.buffer.len() {
                let size = need.max(FIRST_READ_BUFFER).next_power_of_two();
                self.buffer.resize(size.min(READ_BUFFER).max(need), 0);
            }
        }
        while self.end - self.start < need {
            let room = self.buffer.len() - self.end;
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => return Err(RecordError::Cut),
                Ok(n) => {
                    self.end += n;
                    // More was waiting than there was room for, and what
                    // waits fills much of the buffer: a burst, not a short
                    // line that happened to end at the buffer's end.
                    if n == room
                        && self.end - self.start > self.buffer.len() / 2
                        && self.buffer.len() < READ_BUFFER
                    {
                        let size = (self.buffer.len() * 2).min(READ_BUFFER);
                        self.buffer.resize(size, 0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecordError::Io(e)),
            }
        }
        Ok(())
    }

    /// Whether the record after the last one opened is all read in.
    fn whole_record_buffered(&self) -> bool {
        let buffered = &self.buffer[self.start..self.end];
        buffered.first_chunk::<HEADER_LEN>().is_some_and(|header| {
            buffered.len() as u64 >= HEADER_LEN as u64 + u64::from(u32::from_be_bytes(*header))
        })
    }
}

impl<R: Read> Read for RecordReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.data.is_empty() {
            if !self.open_next()? {
                return Ok(0);
            }
        }
        let n = self.data.len().min(buf.len());
        let from = self.data.start;
        buf[..n].copy_from_slice(&self.buffer[from..from + n]);
        self.data.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];
    const OTHER_KEY: [u8; 32] = [9; 32];

    fn sealed(messages: &[&[u8]], close: bool) -> Vec<u8> {
        let mut writer = RecordWriter::new(Vec::new(), &KEY);
        for m in messages {
            writer.send(m).unwrap();
        }
        if close {
            writer.close().unwrap();
        }
        writer.flush().unwrap();
        writer.out
    }

    fn opened(wire: &[u8], key: &[u8; 32]) -> Result<Vec<Vec<u8>>, RecordError> {
        let mut reader = RecordReader::new(wire, key);
        let mut out = Vec::new();
        while let Some(data) = reader.next_record()? {
            out.push(data.to_vec());
        }
        Ok(out)
    }

    /// Where each record starts in `wire`, and its whole length.
    fn records(wire: &[u8]) -> Vec<(usize, usize)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < wire.len() {
            let len = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
            out.push((at, HEADER_LEN + len));
            at += HEADER_LEN + len;
        }
        out
    }

    #[test]
    fn a_read_timeout_is_silence_and_an_end_without_close_a_cut() {
        let io = |kind| RecordError::Io(io::Error::from(kind));
        assert!(matches!(
            io(io::ErrorKind::WouldBlock).ending(),
            Ending::Silent(_)
        ));
        assert!(matches!(
            io(io::ErrorKind::TimedOut).ending(),
            Ending::Silent(_)
        ));
        assert!(matches!(
            io(io::ErrorKind::ConnectionReset).ending(),
            Ending::Lost(_)
        ));
        assert!(matches!(RecordError::Cut.ending(), Ending::Cut));
        assert!(matches!(
            RecordError::Forged.ending(),
            Ending::Broken(RecordError::Forged)
        ));
    }

    #[test]
    fn a_filled_record_is_sent_and_a_failed_fill_sends_nothing() {
        let mut writer = RecordWriter::new(Vec::new(), &KEY);
        let piece = message_of(MAX_PLAINTEXT, 3);
        let filled = writer.send_filled(piece.len(), |room| {
            room.copy_from_slice(&piece);
            Ok::<(), ()>(())
        });
        assert!(matches!(filled, Ok(Ok(()))));
        let failed = writer.send_filled(10, |room| {
            room.fill(9);
            Err("the file could not be read")
        });
        assert!(matches!(failed, Ok(Err("the file could not be read"))));
        writer.send(b"after").unwrap();
        writer.close().unwrap();
        // Nothing of the failed one went out, and no record number was
        // spent on it: the next record still opens.
        assert_eq!(
            opened(&writer.out, &KEY).unwrap(),
            vec![piece, b"after".to_vec()]
        );
    }

    #[test]
    fn records_round_trip_and_the_close_is_seen() {
        // Sending nothing sends no record.
        let wire = sealed(&[b"hello", b"", b"world"], true);
        assert_eq!(records(&wire).len(), 3);
        assert_eq!(
            opened(&wire, &KEY).unwrap(),
            [b"hello".to_vec(), b"world".to_vec()]
        );
    }

    #[test]
    fn the_plaintext_is_not_on_the_wire() {
        let wire = sealed(&[b"a secret message"], true);
        assert!(!wire.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn long_data_is_split_into_records_and_read_back_whole() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let wire = sealed(&[&data], true);
        assert_eq!(records(&wire).len(), 5);
        let mut back = Vec::new();
        RecordReader::new(&wire[..], &KEY)
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data);
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let wire = sealed(&[b"hi"], true);
        for bit in 0..wire.len() * 8 {
            let mut tampered = wire.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert!(opened(&tampered, &KEY).is_err(), "bit {bit} went unnoticed");
        }
    }

    #[test]
    fn dropped_replayed_and_reordered_records_are_caught() {
        let wire = sealed(&[b"one", b"two", b"three"], true);
        let parts: Vec<&[u8]> = records(&wire)
            .into_iter()
            .map(|(at, len)| &wire[at..at + len])
            .collect();
        let cases: [&[usize]; 3] = [&[0, 2, 3], &[0, 0, 1, 2, 3], &[1, 0, 2, 3]];
        for order in cases {
            let stream: Vec<u8> = order.iter().flat_map(|&i| parts[i].to_vec()).collect();
            assert!(
                matches!(opened(&stream, &KEY), Err(RecordError::Forged)),
                "{order:?}"
            );
        }
    }

    #[test]
    fn the_other_directions_key_does_not_open_a_record() {
        let wire = sealed(&[b"hi"], true);
        assert!(matches!(
            opened(&wire, &OTHER_KEY),
            Err(RecordError::Forged)
        ));
    }

    #[test]
    fn a_stream_cut_anywhere_is_a_cut_never_an_end() {
        let wire = sealed(&[b"one", b"two"], true);
        for cut in 0..wire.len() {
            assert!(
                matches!(opened(&wire[..cut], &KEY), Err(RecordError::Cut)),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_absurd_length_is_refused_before_anything_is_allocated() {
        let mut wire = u32::MAX.to_be_bytes().to_vec();
        wire.extend_from_slice(&[0; 64]);
        let mut reader = RecordReader::new(&wire[..], &KEY);
        assert!(matches!(
            reader.next_record(),
            Err(RecordError::TooLong { .. })
        ));
        // Nothing was made to the size it claims: only the read buffer.
        assert!(reader.buffer.len() <= READ_BUFFER);
    }

    /// Hands out the wire at most a set number of bytes per read, the
    /// numbers taken in turn, and counts the reads.
    struct Trickle<'a> {
        wire: &'a [u8],
        pieces: Vec<usize>,
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let most = self.pieces[self.reads % self.pieces.len()];
            self.reads += 1;
            let n = most.min(buf.len()).min(self.wire.len());
            buf[..n].copy_from_slice(&self.wire[..n]);
            self.wire = &self.wire[n..];
            Ok(n)
        }
    }

    /// A message of `len` bytes that tells itself apart from the others.
    fn message_of(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + seed * 7) as u8).collect()
    }

    #[test]
    fn short_lines_keep_the_read_buffer_small_and_a_burst_grows_it() {
        let lines: Vec<Vec<u8>> = (0..2000)
            .map(|i| message_of(10 + (i * 7919) % 80, i))
            .collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let wire = sealed(&refs, true);
        let read_all = |pieces: Vec<usize>| {
            let input = Trickle {
                wire: &wire,
                pieces,
                reads: 0,
            };
            let mut reader = RecordReader::new(input, &KEY);
            while reader.next_record().unwrap().is_some() {}
            reader.buffer.len()
        };
        // However the lines' bytes arrive, however they straddle reads.
        for piece in 1..200 {
            assert_eq!(
                read_all(vec![piece]),
                FIRST_READ_BUFFER,
                "pieces of {piece}"
            );
        }
        assert_eq!(read_all(vec![1 << 20]), READ_BUFFER);
    }

    proptest! {
        #[test]
        fn any_messages_round_trip_however_the_stream_is_read(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            piece in 1usize..64,
        ) {
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let wire = sealed(&refs, true);
            let mut reader = RecordReader::new(&wire[..], &KEY);
            let mut back = Vec::new();
            let mut buf = vec![0u8; piece];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 { break; }
                back.extend_from_slice(&buf[..n]);
            }
            prop_assert_eq!(back, messages.concat());
        }

        #[test]
        fn records_of_any_size_open_in_order_however_they_arrive(
            sizes in proptest::collection::vec(
                prop_oneof![1usize..300, (MAX_PLAINTEXT - 2000)..=MAX_PLAINTEXT],
                1..12,
            ),
            pieces in proptest::collection::vec(1usize..200_000, 1..6),
        ) {
            let messages: Vec<Vec<u8>> =
                sizes.iter().enumerate().map(|(i, &len)| message_of(len, i)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let wire = sealed(&refs, true);
            let input = Trickle { wire: &wire, pieces, reads: 0 };
            let mut reader = RecordReader::new(input, &KEY);
            let mut was_all_read_in = false;
            for message in &messages {
                let reads = reader.get_ref().reads;
                let (data, more) = reader.next_record_and_more().unwrap().unwrap();
                prop_assert_eq!(data, &message[..]);
                // A record said to be all read in opens without reading.
                if was_all_read_in {
                    prop_assert_eq!(reader.get_ref().reads, reads);
                }
                was_all_read_in = more;
            }
            prop_assert!(reader.next_record().unwrap().is_none());
        }

        #[test]
        fn random_bytes_never_open_and_never_panic(wire in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert!(opened(&wire, &KEY).is_err());
        }
    }
}
