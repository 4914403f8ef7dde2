//! A peer with the keys of a real handshake and no manners, for tests of a
//! chat facing a hostile peer on the encrypted wire.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use chat::net::secure::handshake::{Credentials, Side, handshake};
use chat::net::secure::record::{RecordError, RecordReader, RecordWriter};
use chat::wire::limits::MAX_PLAINTEXT;
use chat::wire::message::{FileId, Message};

use super::{Chat, TIMEOUT};

/// What the hostile peer read from the chat.
#[derive(Debug)]
pub enum Heard {
    /// The data of one record: one message.
    Record(Vec<u8>),
    /// The chat's closing record.
    Closed,
    /// The connection ended without a closing record, or failed.
    Ended(RecordError),
}

/// A peer with the keys of a real handshake and no manners. What it sends
/// is sealed into records as the protocol says, but the records carry
/// whatever the test asks for; a reader thread opens the chat's records.
pub struct HostilePeer {
    stream: TcpStream,
    records: RecordWriter<TcpStream>,
    send_key: [u8; 32],
    /// Records sealed so far, the number of the next one.
    sealed: u64,
    heard: Receiver<Heard>,
    reader: Option<JoinHandle<()>>,
    pub safety_code: String,
    /// Whether the acceptances a chat sends on its own for every offer are
    /// passed over, for tests that are not about them.
    pub skip_accepts: bool,
}

impl HostilePeer {
    /// Connects to `chat`, listening on `port`, and greets it as `mallory`
    /// once the chat showed its safety code and said hello as `alice`.
    pub fn mallory_meets_alice(chat: &mut Chat, port: u16) -> HostilePeer {
        let mut peer = HostilePeer::connect(port);
        chat.expect_prefix("[System] Encrypted. Safety code: ");
        peer.expect_message(chat, Message::Hello { name: "alice" });
        peer.send(&[Message::Hello { name: "mallory" }]);
        peer
    }

    /// Returns once everything sent before has been dealt with by `chat`:
    /// a text sent after it is shown.
    pub fn sync(&mut self, chat: &mut Chat, tag: &str) {
        self.send(&[Message::Text(tag)]);
        chat.expect_exact(&format!("[mallory] {tag}"));
    }

    /// Connects to a chat listening on `port` and runs the handshake as the
    /// connecting side, without a code.
    pub fn connect(port: u16) -> HostilePeer {
        HostilePeer::connect_proving(port, super::credentials(None))
    }

    /// Like [`HostilePeer::connect`], proving what `credentials` hold (an
    /// identity other than every hostile peer's, say).
    pub fn connect_proving(port: u16, credentials: Credentials<'_>) -> HostilePeer {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("hostile peer cannot connect to 127.0.0.1:{port}: {e}"));
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let agreed = handshake(Side::Connecting, &mut stream, credentials, None)
            .unwrap_or_else(|e| panic!("hostile peer: the handshake failed: {e}"));
        let input = BufReader::new(stream.try_clone().unwrap());
        let receive_key = agreed.receive_key;
        let (tell, heard) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut records = RecordReader::new(input, &receive_key);
            loop {
                let next = match records.next_record() {
                    Ok(Some(data)) => Heard::Record(data.to_vec()),
                    Ok(None) => Heard::Closed,
                    Err(e) => Heard::Ended(e),
                };
                let last = !matches!(next, Heard::Record(_));
                if tell.send(next).is_err() || last {
                    break;
                }
            }
        });
        HostilePeer {
            records: RecordWriter::new(stream.try_clone().unwrap(), &agreed.send_key),
            stream,
            send_key: agreed.send_key,
            sealed: 0,
            heard,
            reader: Some(reader),
            safety_code: agreed.safety_code,
            skip_accepts: false,
        }
    }

    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    /// Seals `message` in a record of its own, to go with the next flush.
    pub fn queue(&mut self, message: &Message<'_>) {
        let mut data = Vec::new();
        message.encode(&mut data);
        self.queue_record(&data);
    }

    /// Seals one data record carrying exactly `data`, whatever it is (an
    /// empty record too), to go with the next flush.
    pub fn queue_record(&mut self, data: &[u8]) {
        assert!(data.len() <= MAX_PLAINTEXT, "one record holds 64 KiB");
        let taken = self
            .records
            .write(data)
            .unwrap_or_else(|e| panic!("hostile peer: cannot seal a record: {e}"));
        assert_eq!(taken, data.len(), "one write is one record");
        self.sealed += 1;
    }

    pub fn flush(&mut self) {
        self.records
            .flush()
            .unwrap_or_else(|e| panic!("hostile peer: write failed: {e}"));
    }

    /// Sends `messages`, a record each, in one write: the chat has all of
    /// them before it acts on the first.
    pub fn send(&mut self, messages: &[Message<'_>]) {
        for message in messages {
            self.queue(message);
        }
        self.flush();
    }

    /// Sends one data record carrying exactly `data`.
    pub fn send_record(&mut self, data: &[u8]) {
        self.queue_record(data);
        self.flush();
    }

    /// A record of any `kind` byte (0 is data, 1 close) sealed by hand, as
    /// the next record, for the test to put on the wire. Records the writer
    /// seals after it no longer open: it is the last.
    pub fn seal_by_hand(&mut self, kind: u8, data: &[u8]) -> Vec<u8> {
        let sealed_len = 1 + data.len() + AES_256_GCM.tag_len();
        let header = (sealed_len as u32).to_be_bytes();
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.sealed.to_be_bytes());
        let mut record = [&[kind], data].concat();
        let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.send_key).unwrap());
        cipher
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut record,
            )
            .unwrap();
        self.sealed += 1;
        [&header[..], &record].concat()
    }

    /// Writes `bytes` on the connection as they are, after what was sealed.
    pub fn write_wire(&mut self, bytes: &[u8]) {
        self.flush();
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("hostile peer: write failed: {e}"));
    }

    /// Says goodbye properly: the closing record, then the end of stream.
    pub fn close(&mut self) {
        self.records
            .close()
            .unwrap_or_else(|e| panic!("hostile peer: cannot close: {e}"));
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Ends the stream without the closing record.
    pub fn cut(&mut self) {
        self.flush();
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// The next thing heard from the chat (past its acceptances, with
    /// `skip_accepts`).
    pub fn next_heard(&self, chat: &mut Chat) -> Heard {
        match self.heard.recv_timeout(TIMEOUT) {
            Ok(Heard::Record(data))
                if self.skip_accepts
                    && matches!(Message::decode(&data), Ok(Message::Accept { .. })) =>
            {
                self.next_heard(chat)
            }
            Ok(heard) => heard,
            Err(RecvTimeoutError::Timeout) => {
                chat.fail(&format!("hostile peer: nothing came within {TIMEOUT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                chat.fail("hostile peer: waiting for more after the connection ended")
            }
        }
    }

    /// What the chat sent and was not read yet, without waiting: `None`
    /// when nothing came.
    pub fn heard_so_far(&self) -> Option<Heard> {
        self.heard.try_recv().ok()
    }

    /// The data of the chat's next record.
    pub fn next_record(&self, chat: &mut Chat) -> Vec<u8> {
        match self.next_heard(chat) {
            Heard::Record(data) => data,
            other => chat.fail(&format!("hostile peer: expected a record, got {other:?}")),
        }
    }

    /// Reads the chat's next record, which must carry `expected`.
    pub fn expect_message(&self, chat: &mut Chat, expected: Message<'_>) {
        let data = self.next_record(chat);
        let message = Message::decode(&data);
        if message.as_ref() != Ok(&expected) {
            chat.fail(&format!(
                "hostile peer: expected {expected:?}, got {message:?}"
            ));
        }
    }

    /// The chat dropped the connection without a closing record (as it
    /// does on a breach), and sent no other record before: the stream ends,
    /// or is reset, at a record boundary.
    pub fn expect_dropped(&self, chat: &mut Chat) {
        match self.next_heard(chat) {
            Heard::Ended(RecordError::Cut | RecordError::Io(_)) => {}
            other => chat.fail(&format!(
                "hostile peer: expected the connection dropped, got {other:?}"
            )),
        }
    }

    /// [`HostilePeer::expect_dropped`], after any answers (Accept, Refused)
    /// to what was sent before the breach.
    pub fn expect_dropped_after_answers(&self, chat: &mut Chat) {
        loop {
            match self.next_heard(chat) {
                Heard::Ended(RecordError::Cut | RecordError::Io(_)) => return,
                Heard::Record(data)
                    if matches!(
                        Message::decode(&data),
                        Ok(Message::Accept { .. } | Message::Refused { .. })
                    ) => {}
                other => chat.fail(&format!(
                    "hostile peer: expected the connection dropped, got {other:?}"
                )),
            }
        }
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        // Also ends a read the reader thread is blocked in.
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// BLAKE3 of `data`, as an End carries it.
pub fn hash(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// A Folder message: the offer of folder `id`.
pub fn folder(id: FileId, files: u64, bytes: u64, name: &str) -> Message<'_> {
    Message::Folder {
        id,
        files,
        bytes,
        name,
    }
}

/// An Entry message: file `id` of folder `folder`.
pub fn entry(id: FileId, folder: FileId, size: u64, path: &str) -> Message<'_> {
    Message::Entry {
        id,
        folder,
        size,
        path,
    }
}

/// A chunk of file `id`.
pub fn chunk(id: FileId, data: &[u8]) -> Message<'_> {
    Message::Chunk { id, data }
}

/// The end of file `id`, whose bytes were `data`.
pub fn end_of(id: FileId, data: &[u8]) -> Message<'static> {
    Message::End {
        id,
        hash: hash(data),
    }
}
