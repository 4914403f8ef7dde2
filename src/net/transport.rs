//! The connection a conversation runs over, as three parts with one owner
//! each: a reader (the reader thread's), a writer (the writer thread's) and
//! a closer (the session's, to end both directions from outside).
//!
//! Plain TCP is one kind of connection; the encrypted channel wrapping TCP
//! is the other, with the same parts: its reader opens records and its
//! writer seals them. Zero-copy moves (`sendfile`, `splice`) are a
//! capability of plain TCP only: its halves hand out their descriptor.
//! Under either lies a [`Socket`]: TCP to a peer, or a socket pair between
//! two parts of this program ([`Connection::pair`]).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{self, Agreed, Credentials, HandshakeError, Side};
use crate::net::secure::record::{RecordReader, RecordWriter};
use crate::net::socket::{Socket, tcp_info};

pub use crate::net::socket::Sending;

/// TCP keepalive: a peer whose machine vanished (power, network gone) is
/// noticed after about `IDLE + INTERVAL * PROBES` of silence, instead of
/// never while the chat is idle.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 6;

/// Most bytes of an encrypted connection left waiting in the kernel to be
/// sent. A message goes out between file chunks, but behind whatever the
/// kernel already holds: on a slow link, megabytes of queued chunks would
/// hold it back for seconds.
const SEALED_UNSENT_LIMIT: u32 = 128 * 1024;

/// A connection to the peer, before it is split into its parts.
pub struct Connection {
    stream: Box<dyn Socket>,
    peer: SocketAddr,
    /// The keys of the encrypted channel; `None` on the original wire.
    keys: Option<Keys>,
}

struct Keys {
    send: [u8; 32],
    receive: [u8; 32],
}

/// The reading part: plain bytes, or records to open.
pub enum Reading {
    Plain(ReadHalf),
    Sealed(Box<RecordReader<ReadHalf>>),
}

/// The writing part: plain bytes, or records to seal.
pub enum Writing {
    Plain(WriteHalf),
    Sealed(Box<RecordWriter<WriteHalf>>),
}

impl Connection {
    /// A plain TCP connection, set up for chatting: lines leave at once
    /// (no Nagle delay) and a vanished peer is noticed by keepalive.
    pub fn tcp(stream: TcpStream) -> io::Result<Self> {
        // Chat lines are small and typed one at a time; Nagle's algorithm
        // would hold each back waiting for an acknowledgement.
        stream.set_nodelay(true)?;
        set_keepalive(&stream)?;
        let peer = shown(stream.peer_addr()?);
        Ok(Self {
            stream: Box::new(stream),
            peer,
            keys: None,
        })
    }

    /// Two ends of one connection between two parts of this program (a
    /// room and its host's own user), on a socket pair: no port, so nobody
    /// else can reach it. Both are sealed with keys made here, so what runs
    /// over it is an ordinary encrypted conversation, with no handshake.
    /// Each end's peer is [`THIS_MACHINE`].
    pub fn pair() -> io::Result<(Self, Self)> {
        let (mut one, mut other) = Self::local_pair()?;
        let (a, b) = (fresh_key()?, fresh_key()?);
        one.keys = Some(Keys {
            send: a,
            receive: b,
        });
        other.keys = Some(Keys {
            send: b,
            receive: a,
        });
        Ok((one, other))
    }

    /// Two connected ends made inside the program, in the clear until a
    /// handshake runs on them: for running conversations without a
    /// network. Each end's peer is [`THIS_MACHINE`].
    pub fn local_pair() -> io::Result<(Self, Self)> {
        let (one, other) = UnixStream::pair()?;
        let end = |stream: UnixStream| Self {
            stream: Box::new(stream),
            peer: THIS_MACHINE,
            keys: None,
        };
        Ok((end(one), end(other)))
    }

    /// Turns the connection into an encrypted channel: runs the handshake
    /// as `side`, proving our identity and the code if the users gave one (a listening side
    /// counting wrong ones in `guesses`), giving up after `limit` (a peer
    /// that says nothing, or trickles). What follows travels in sealed
    /// records.
    pub fn encrypt(
        &mut self,
        side: Side,
        credentials: Credentials<'_>,
        guesses: Option<&Guesses>,
        limit: Duration,
    ) -> Result<Agreed, HandshakeError> {
        let mut timed = Timed {
            stream: &mut *self.stream,
            deadline: Instant::now() + limit,
        };
        let agreed = handshake::handshake(side, &mut timed, credentials, guesses)?;
        self.stream.set_read_timeout(None)?;
        self.stream.set_write_timeout(None)?;
        self.keys = Some(Keys {
            send: agreed.send_key,
            receive: agreed.receive_key,
        });
        Ok(agreed)
    }

    /// The peer's address, as people know it.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// A second handle on the socket, to end the connection from another
    /// thread before it is split.
    pub fn try_clone_stream(&self) -> io::Result<Box<dyn Socket>> {
        self.stream.another_handle()
    }

    /// Whether the connection is an encrypted channel.
    pub fn is_encrypted(&self) -> bool {
        self.keys.is_some()
    }

    /// The three parts, for three owners.
    pub fn split(self) -> io::Result<(Reading, Writing, Closer)> {
        let reader = ReadHalf(self.stream.another_handle()?);
        let writer = WriteHalf(self.stream.another_handle()?);
        if self.keys.is_some() {
            self.stream.limit_unsent(SEALED_UNSENT_LIMIT)?;
        }
        let closer = Closer(Arc::from(self.stream));
        Ok(match self.keys {
            None => (Reading::Plain(reader), Writing::Plain(writer), closer),
            Some(keys) => (
                Reading::Sealed(Box::new(RecordReader::new(reader, &keys.receive))),
                Writing::Sealed(Box::new(RecordWriter::new(writer, &keys.send))),
                closer,
            ),
        })
    }
}

/// The peer of a connection inside this program: this machine, at no port.
pub const THIS_MACHINE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A key for one direction of a connection inside this program.
fn fresh_key() -> io::Result<[u8; 32]> {
    let mut key = [0; 32];
    getrandom::fill(&mut key).map_err(|e| {
        io::Error::other(format!(
            "no random numbers for the keys of a connection inside the program: {e}"
        ))
    })?;
    Ok(key)
}

/// An address as people know it: an IPv4 peer reached over an IPv6 socket
/// (`[::ffff:127.0.0.1]:39748`) is shown as plain IPv4.
pub fn shown(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// A stream whose reads and writes fail with `TimedOut` once `deadline`
/// has passed, however the peer paces its bytes.
struct Timed<'a> {
    stream: &'a mut dyn Socket,
    deadline: Instant,
}

impl Timed<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(io::ErrorKind::TimedOut.into()));
        }
        Ok(left)
    }
}

/// A socket's timeout shows as `WouldBlock`; to the handshake it is the
/// deadline passing.
fn timed_out(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "timed out")
        }
        _ => e,
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        self.stream.read(buf).map_err(timed_out)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn set_keepalive(stream: &TcpStream) -> io::Result<()> {
    use rustix::net::sockopt;
    sockopt::set_socket_keepalive(stream, true)?;
    sockopt::set_tcp_keepidle(stream, KEEPALIVE_IDLE)?;
    sockopt::set_tcp_keepintvl(stream, KEEPALIVE_INTERVAL)?;
    sockopt::set_tcp_keepcnt(stream, KEEPALIVE_PROBES)?;
    Ok(())
}

/// What the peer sends us.
pub struct ReadHalf(Box<dyn Socket>);

impl ReadHalf {
    /// Makes a read that waits longer than `limit` fail: silence that long
    /// means the peer is gone.
    pub fn set_read_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(limit)
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl AsFd for ReadHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// What we send the peer.
pub struct WriteHalf(Box<dyn Socket>);

impl WriteHalf {
    /// Says we will send nothing more; the peer reads to its end.
    pub fn finish(&self) -> io::Result<()> {
        self.0.shutdown(Shutdown::Write)
    }

    /// Makes a write that cannot go on for `limit` fail: a peer that takes
    /// nothing that long has stopped reading.
    pub fn set_write_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(limit)
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl AsFd for WriteHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Ends the connection from outside its reader and writer, and watches
/// how much of what we sent the peer has taken.
#[derive(Clone)]
pub struct Closer(Arc<dyn Socket>);

impl Closer {
    /// Ends both directions at once: a reader or writer blocked on the
    /// connection returns.
    pub fn close(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }

    /// Where our sending stands, as the kernel sees it; `None` where it
    /// cannot tell.
    pub fn sending(&self) -> Option<Sending> {
        self.0.sending()
    }
}

/// Waits until the peer's side has acknowledged everything written to
/// `socket`, for at most `limit`. False, at once, when `socket` is not TCP.
pub fn wait_acknowledged(socket: BorrowedFd<'_>, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let Some(info) = tcp_info(socket) else {
            return false;
        };
        if !Sending::from(&info).waiting || std::time::Instant::now() >= deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What a peer that vanished without a goodbye does to a connection
/// (killed, or its machine gone), in words: the system's "Connection reset
/// by peer (os error 104)" or "Broken pipe" says the same less plainly.
pub const CUT: &str = "the connection was cut without the peer saying goodbye";

/// `e` in the words of [`CUT`] when it is a connection the peer cut; as it
/// is otherwise.
pub fn in_words(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => io::Error::new(e.kind(), CUT),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::secure::record::RecordError;
    use crate::wire::message::Message;
    use std::net::TcpListener;

    fn pair() -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Connection::tcp(server).unwrap(), client)
    }

    #[test]
    fn a_connection_is_set_up_for_chatting() {
        let (connection, _peer) = pair();
        let (Reading::Plain(reader), _, _) = connection.split().unwrap() else {
            panic!("a TCP connection is plain until encrypted");
        };
        let fd = reader.as_fd();
        assert!(rustix::net::sockopt::tcp_nodelay(fd).unwrap());
        assert!(rustix::net::sockopt::socket_keepalive(fd).unwrap());
        assert_eq!(
            rustix::net::sockopt::tcp_keepidle(fd).unwrap(),
            KEEPALIVE_IDLE
        );
        assert_eq!(
            rustix::net::sockopt::tcp_keepintvl(fd).unwrap(),
            KEEPALIVE_INTERVAL
        );
        assert_eq!(
            rustix::net::sockopt::tcp_keepcnt(fd).unwrap(),
            KEEPALIVE_PROBES
        );
    }

    #[test]
    fn the_closer_ends_a_blocked_reader_and_counts_what_the_peer_took() {
        let (connection, mut peer) = pair();
        let (Reading::Plain(mut reader), Writing::Plain(mut writer), closer) =
            connection.split().unwrap()
        else {
            panic!("a TCP connection is plain until encrypted");
        };
        writer.write_all(b"hello").unwrap();
        let mut got = [0; 5];
        peer.read_exact(&mut got).unwrap();
        // The peer's kernel acknowledges what it received.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while closer.sending().unwrap().acknowledged < 5 {
            assert!(std::time::Instant::now() < deadline, "no acknowledgement");
            std::thread::yield_now();
        }
        let blocked = std::thread::spawn(move || reader.read(&mut [0; 8]));
        closer.close();
        assert_eq!(blocked.join().unwrap().unwrap(), 0);
    }

    #[test]
    fn an_encrypted_connection_carries_sealed_records_both_ways() {
        let (mut listening, client) = pair();
        let mut connecting = Connection::tcp(client).unwrap();
        let other = std::thread::spawn(move || {
            connecting
                .encrypt(
                    Side::Connecting,
                    Credentials::of_test(3, None),
                    None,
                    Duration::from_secs(5),
                )
                .map(|a| (connecting, a))
        });
        let ours = listening
            .encrypt(
                Side::Listening,
                Credentials::of_test(2, None),
                None,
                Duration::from_secs(5),
            )
            .unwrap();
        let (connecting, theirs) = other.join().unwrap().unwrap();
        assert_eq!(ours.safety_code, theirs.safety_code);
        let (Reading::Sealed(mut reader), _, _) = listening.split().unwrap() else {
            panic!("an encrypted connection reads records");
        };
        let (_, Writing::Sealed(mut writer), _) = connecting.split().unwrap() else {
            panic!("an encrypted connection writes records");
        };
        writer.send(b"sealed hello").unwrap();
        writer.flush().unwrap();
        assert_eq!(reader.next_record().unwrap(), Some(&b"sealed hello"[..]));
    }

    /// The sealed parts of both ends of [`Connection::pair`].
    fn sealed_pair() -> [(RecordReader<ReadHalf>, RecordWriter<WriteHalf>, Closer); 2] {
        let (one, other) = Connection::pair().unwrap();
        [one, other].map(|end| {
            assert!(end.is_encrypted(), "a pair is sealed from the start");
            assert_eq!(end.peer(), THIS_MACHINE);
            match end.split().unwrap() {
                (Reading::Sealed(reader), Writing::Sealed(writer), closer) => {
                    (*reader, *writer, closer)
                }
                _ => panic!("a pair reads and writes records"),
            }
        })
    }

    #[test]
    fn a_pair_carries_sealed_records_both_ways() {
        let [
            (mut one_reads, mut one_writes, _),
            (mut other_reads, mut other_writes, _),
        ] = sealed_pair();
        one_writes.send(b"from one").unwrap();
        one_writes.close().unwrap();
        other_writes.send(b"from the other").unwrap();
        other_writes.flush().unwrap();
        assert_eq!(other_reads.next_record().unwrap(), Some(&b"from one"[..]));
        assert_eq!(other_reads.next_record().unwrap(), None);
        assert_eq!(
            one_reads.next_record().unwrap(),
            Some(&b"from the other"[..])
        );
    }

    #[test]
    fn the_closer_ends_a_blocked_reader_on_a_pair() {
        let [(mut reader, _, closer), _other] = sealed_pair();
        let (done, finished) = std::sync::mpsc::channel();
        let blocked = std::thread::spawn(move || {
            let ended = reader.next_record().map(|r| r.map(<[u8]>::to_vec));
            let _ = done.send(matches!(ended, Err(RecordError::Cut)));
        });
        closer.close();
        let cut = finished.recv_timeout(Duration::from_secs(5));
        assert_eq!(cut, Ok(true), "the reader ends as on a cut connection");
        blocked.join().unwrap();
    }

    #[test]
    fn the_kernel_tells_delivery_on_tcp_but_not_on_a_pair() {
        let [(_, _, closer), _other] = sealed_pair();
        assert_eq!(closer.sending(), None);
        let (connection, _peer) = pair();
        let (_, _, closer) = connection.split().unwrap();
        assert!(closer.sending().is_some_and(|s| s.open));
    }

    #[test]
    fn a_conversations_typed_messages_go_over_a_pair() {
        let [(_, mut writer, _), (mut reader, _, _)] = sealed_pair();
        let said = [
            Message::Hello { name: "I049" },
            Message::Text("hello, wörld"),
            Message::Offer {
                id: 7,
                size: 1 << 40,
                name: "notes.pdf",
            },
            Message::Chunk {
                id: 7,
                data: &[0, 1, 2],
            },
        ];
        for message in &said {
            let mut record = Vec::new();
            message.encode(&mut record);
            writer.send(&record).unwrap();
        }
        writer.close().unwrap();
        for message in &said {
            let record = reader.next_record().unwrap().unwrap();
            assert_eq!(&Message::decode(record).unwrap(), message);
        }
        assert_eq!(reader.next_record().unwrap(), None);
    }

    #[test]
    fn a_peer_that_says_nothing_fails_the_handshake_in_time() {
        let (mut connection, _silent) = pair();
        let started = std::time::Instant::now();
        let result = connection.encrypt(
            Side::Listening,
            Credentials::of_test(2, None),
            None,
            Duration::from_millis(300),
        );
        assert!(
            matches!(&result, Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
            "{:?}",
            result.map(|a| a.safety_code)
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_peer_that_trickles_fails_the_handshake_in_time_too() {
        let (mut connection, mut peer) = pair();
        let trickle = std::thread::spawn(move || {
            for byte in handshake::GREETING {
                if peer.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let started = std::time::Instant::now();
        let result = connection.encrypt(
            Side::Listening,
            Credentials::of_test(2, None),
            None,
            Duration::from_millis(300),
        );
        assert!(
            matches!(&result, Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::TimedOut)
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(connection);
        trickle.join().unwrap();
    }
}
