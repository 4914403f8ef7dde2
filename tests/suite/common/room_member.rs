//! A room member made by hand: it joins with a real handshake and its
//! name, then does only what a test says: talk without end, never read,
//! never answer a ping.

use std::io::{self, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use chat::net::secure::handshake::{Side, handshake};
use chat::net::secure::record::{RecordError, RecordReader, RecordWriter};
use chat::wire::message::Message;

use super::TIMEOUT;

/// What the room said about files: its answers about those the member
/// sends, and those it offers the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNews {
    Accepted {
        id: u32,
        offset: u64,
    },
    Refused {
        id: u32,
    },
    /// A file, folder or file of a folder offered to the member.
    Offered {
        id: u32,
    },
    /// The end of one the member takes.
    Ended {
        id: u32,
    },
}

pub struct Member {
    stream: TcpStream,
    records: RecordWriter<TcpStream>,
    reader: RecordReader<BufReader<TcpStream>>,
}

impl Member {
    /// Joins the room at `port` as `name`, and reads the host's Hello and
    /// Room: it is in. From then on it reads only when told to.
    pub fn join(port: u16, name: &str) -> Member {
        Self::try_join(port, name)
            .unwrap_or_else(|why| panic!("member {name}: not let into the room: {why}"))
    }

    /// Joins the room at `port` as `name`, or returns the host's reason
    /// for not letting it in.
    pub fn try_join(port: u16, name: &str) -> Result<Member, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("member cannot connect to 127.0.0.1:{port}: {e}"));
        Self::try_join_over(stream, name)
    }

    /// Joins the room at `port` as `name` over a connection whose receive
    /// buffer is 16 KiB from the start, so that what the room sends it
    /// waits in the room, not in the kernel, while it reads slowly. (Made
    /// small once connected, the window the kernel advertises can stay shut
    /// for seconds.)
    pub fn join_reading_little(port: u16, name: &str) -> Member {
        use rustix::net::{AddressFamily, SocketType, sockopt};
        let socket = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        sockopt::set_socket_recv_buffer_size(&socket, 16 << 10).unwrap();
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        rustix::net::connect(&socket, &address)
            .unwrap_or_else(|e| panic!("member cannot connect to {address}: {e}"));
        Self::try_join_over(TcpStream::from(socket), name)
            .unwrap_or_else(|why| panic!("member {name}: not let into the room: {why}"))
    }

    /// Joins the room as `name` over `stream`, connected to it.
    fn try_join_over(mut stream: TcpStream, name: &str) -> Result<Member, String> {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        // A small receive buffer, so a member that does not read is found
        // out soon.
        let agreed = handshake(
            Side::Connecting,
            &mut stream,
            super::credentials(None),
            None,
        )
        .unwrap_or_else(|e| panic!("member: the handshake failed: {e}"));
        let mut member = Member {
            records: RecordWriter::new(stream.try_clone().unwrap(), &agreed.send_key),
            reader: RecordReader::new(
                BufReader::new(stream.try_clone().unwrap()),
                &agreed.receive_key,
            ),
            stream,
        };
        member.send(&Message::Hello { name }).unwrap();
        for expected in ["Hello", "Room"] {
            let record = match member.reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => return Err("the host closed".into()),
                Err(e) => return Err(format!("the host cut the connection ({e})")),
            };
            match Message::decode(record) {
                Ok(Message::Hello { .. }) if expected == "Hello" => {}
                Ok(Message::Room { .. }) if expected == "Room" => {}
                Ok(Message::Unwelcome { reason }) => return Err(reason.to_string()),
                other => panic!("member {name}: the host sent {other:?} instead of {expected}"),
            }
        }
        Ok(member)
    }

    fn next(&mut self) -> Message<'_> {
        let record = self
            .reader
            .next_record()
            .unwrap_or_else(|e| panic!("member: reading failed: {e}"))
            .unwrap_or_else(|| panic!("member: the host closed"));
        Message::decode(record).unwrap_or_else(|e| panic!("member: {e}"))
    }

    /// Sends any message, whatever the room expects.
    pub fn send(&mut self, message: &Message<'_>) -> io::Result<()> {
        let mut bytes = Vec::new();
        message.encode(&mut bytes);
        self.records.send(&bytes)?;
        self.records.flush()
    }

    /// Says `text` to the room.
    pub fn say(&mut self, text: &str) -> io::Result<()> {
        self.send(&Message::Text(text))
    }

    /// Reads until the room answers the file `id` it offered: `Some` with
    /// the offset on an Accept, `None` on a refusal.
    pub fn answer_to(&mut self, id: u32) -> Option<u64> {
        loop {
            match self.next() {
                Message::Accept { id: of, offset, .. } if of == id => return Some(offset),
                Message::Refused { id: of, .. } if of == id => return None,
                _ => {}
            }
        }
    }

    /// Reads what the room says for `wait`, answering its pings, and
    /// returns what it said about files; `None` once the room ended the
    /// connection.
    pub fn poll(&mut self, wait: Duration) -> Option<Vec<FileNews>> {
        let deadline = Instant::now() + wait;
        let mut answers = Vec::new();
        let heard = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Some(answers);
            }
            self.stream.set_read_timeout(Some(left)).ok()?;
            let record = match self.reader.next_record() {
                Ok(Some(record)) => record,
                Err(RecordError::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Some(answers);
                }
                Ok(None) | Err(_) => break None,
            };
            match Message::decode(record) {
                Ok(Message::Accept { id, offset, .. }) => {
                    answers.push(FileNews::Accepted { id, offset });
                }
                Ok(Message::Refused { id, .. }) => answers.push(FileNews::Refused { id }),
                Ok(
                    Message::Passed { id, .. }
                    | Message::PassedFolder { id, .. }
                    | Message::Entry { id, .. },
                ) => answers.push(FileNews::Offered { id }),
                Ok(Message::End { id, .. }) => answers.push(FileNews::Ended { id }),
                Ok(Message::Ping) => {
                    let _ = self.send(&Message::Pong);
                }
                Ok(_) => {}
                Err(e) => panic!("member: the room sent what does not decode: {e}"),
            }
        };
        self.stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        heard
    }

    /// Reads until the host's next notice, answering nothing, and returns it.
    pub fn expect_notice(&mut self) -> String {
        loop {
            if let Message::Notice { text } = self.next() {
                return text.to_string();
            }
        }
    }

    /// Reads until the room offers a file, takes it from the start, and
    /// returns its number and size.
    pub fn accept_offer(&mut self) -> (u32, u64) {
        loop {
            if let Message::Passed { id, size, .. } = self.next() {
                self.send(&Message::Accept {
                    id,
                    offset: 0,
                    prefix: [0; 32],
                })
                .unwrap();
                return (id, size);
            }
        }
    }

    /// Reads records, at most `per_second` of them a second, until the
    /// room cancels the file `id` for it (true) or sends its end (false),
    /// answering pings; returns which, and the file bytes that came.
    pub fn take_slowly(&mut self, id: u32, per_second: u32) -> (bool, u64) {
        let pause = std::time::Duration::from_secs(1) / per_second;
        let mut got = 0;
        loop {
            std::thread::sleep(pause);
            match self.next() {
                Message::Chunk { id: of, data } if of == id => got += data.len() as u64,
                Message::Cancel { id: of } if of == id => return (true, got),
                Message::End { id: of, .. } if of == id => return (false, got),
                Message::Ping => self.send(&Message::Pong).unwrap(),
                _ => {}
            }
        }
    }

    /// The member's two directions apart, for a test that sends on one
    /// thread and reads on another, and the connection itself.
    pub fn split(
        self,
    ) -> (
        RecordWriter<TcpStream>,
        RecordReader<BufReader<TcpStream>>,
        TcpStream,
    ) {
        (self.records, self.reader, self.stream)
    }

    /// Ends the connection without the goodbye, as a chat that will not
    /// stay, or that stopped, does.
    pub fn cut(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Says goodbye and ends the connection.
    pub fn close(&mut self) {
        let _ = self.records.close();
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
