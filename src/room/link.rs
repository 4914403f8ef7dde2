//! One member's connection, on the host: letting it in (the handshake, its
//! name, the host's answer), then a reader thread that turns what it sends
//! into events for the host, as fast as its throttle allows, and a writer
//! thread that sends what the host queues for it. The queue is bounded in
//! bytes, so a member that falls behind is dropped instead of holding
//! memory, and the host never waits for any member.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use super::Happening;
use super::inflow::Inflow;
use super::roster::{HOST, MemberId};
use super::throttle::{Episodes, Throttle};
use crate::net::events::Refusal;
use crate::net::secure::Protection;
use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{HandshakeError, Side};
use crate::net::secure::record::{Ending, RecordError, RecordReader};
use crate::net::transport::{Closer, Connection, ReadHalf, Reading, Writing};
use crate::permits::{Permit, Permits};
use crate::wire::frame::{Frame, FrameError, FrameReader};
use crate::wire::limits::{HANDSHAKE_LIMIT, MAX_BACKLOG, SILENT_INTERVALS};
use crate::wire::message::{FileId, Message, chunk_header};

/// Pieces of files one member may have on their way through the room at
/// once: they are what the room holds of its files, 4 MiB per sender. The
/// member's reader waits for one of its [`Permits`] before it reads on, so
/// a sender goes as fast as its receivers take.
pub const PIECES_IN_FLIGHT: usize = 64;

/// What the host hands a member's writer.
pub enum Out {
    /// An encoded message (encrypted room) or raw lines (plain room).
    Bytes(Arc<[u8]>),
    /// A piece of a file, as the member's file `id`, unless its share of
    /// the transfer was stopped meanwhile.
    Piece {
        id: FileId,
        piece: Arc<Piece>,
        share: Arc<Share>,
    },
    /// Say goodbye and end the connection.
    Leave,
}

/// A piece of a file on its way from one member to others. It holds one
/// of its sender's [`Permits`] until the last receiver has written it.
pub struct Piece {
    pub data: Vec<u8>,
    _permit: Permit,
}

/// One receiver's part in a transfer: how far its writer got, and whether
/// it is out of the transfer (what is queued for it then goes unsent).
#[derive(Default)]
pub struct Share {
    pub written: AtomicU64,
    pub stopped: AtomicBool,
}

/// The host's end of a member's queue.
pub struct Outbox {
    queue: Sender<Out>,
    backlog: Arc<AtomicUsize>,
}

/// The writer's end of a member's queue.
pub struct Inbox {
    queue: Receiver<Out>,
    backlog: Arc<AtomicUsize>,
}

/// A member's queue, both ends.
pub fn queue() -> (Outbox, Inbox) {
    let (sender, receiver) = mpsc::channel();
    let backlog = Arc::new(AtomicUsize::new(0));
    let outbox = Outbox {
        queue: sender,
        backlog: backlog.clone(),
    };
    (
        outbox,
        Inbox {
            queue: receiver,
            backlog,
        },
    )
}

impl Outbox {
    /// Queues `bytes`; `false`, with nothing queued, when the member is
    /// more than [`MAX_BACKLOG`] behind.
    pub fn put(&self, bytes: &Arc<[u8]>) -> bool {
        let len = bytes.len();
        if self.backlog.fetch_add(len, Ordering::SeqCst) + len > MAX_BACKLOG {
            self.backlog.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        // A writer that is gone has said why already.
        let _ = self.queue.send(Out::Bytes(bytes.clone()));
        true
    }

    /// Queues a piece of a file; pieces are bounded by their sender's
    /// permits, not by the backlog.
    pub fn put_piece(&self, id: FileId, piece: &Arc<Piece>, share: &Arc<Share>) {
        let _ = self.queue.send(Out::Piece {
            id,
            piece: piece.clone(),
            share: share.clone(),
        });
    }

    /// Queues the goodbye: what is queued before it is still sent.
    pub fn leave(&self) {
        let _ = self.queue.send(Out::Leave);
    }
}

/// A connection that completed its handshake and said who it is, waiting
/// for the host's answer.
pub struct Knock {
    /// The name it gave; `None` on the original wire, where nobody gives
    /// one first.
    pub name: Option<String>,
    pub address: SocketAddr,
    pub safety_code: Option<String>,
    /// Whether it speaks the encrypted wire.
    pub sealed: bool,
    pub closer: Closer,
    pub answer: SyncSender<Answer>,
}

/// The host's answer to a knock.
pub enum Answer {
    /// In, as member `id`; its writer sends what comes in `inbox`, and
    /// its reader takes `permits` for the pieces of its files.
    Welcome {
        id: MemberId,
        inbox: Inbox,
        permits: Permits,
    },
    /// Not let in, and why.
    Refused(String),
}

/// What a member did, as its reader tells the host.
pub enum Heard {
    /// A message to the room: text (encrypted), or a line (plain, still raw).
    Text(String),
    Line(Vec<u8>),
    Whisper {
        to: String,
        text: String,
    },
    Who,
    /// Something about a file (encrypted).
    File(FileNews),
    /// Its file on the original wire, as it comes.
    Plain(PlainFile),
    /// It is sending faster than its throttle allows, and is held back.
    Slowed,
    /// Its side of the connection ended.
    Ended(Gone),
}

/// What a member says about a file: one it sends, or one it is offered.
pub enum FileNews {
    Offer {
        id: FileId,
        size: u64,
        name: String,
    },
    Folder {
        id: FileId,
        files: u64,
        bytes: u64,
        name: String,
    },
    Entry {
        id: FileId,
        folder: FileId,
        size: u64,
        path: String,
    },
    Subfolder {
        folder: FileId,
        path: String,
    },
    Begin {
        id: FileId,
        offset: u64,
    },
    Piece {
        id: FileId,
        piece: Arc<Piece>,
    },
    End {
        id: FileId,
        hash: [u8; 32],
    },
    Cancel {
        id: FileId,
    },
    Accept {
        id: FileId,
        offset: u64,
        prefix: [u8; 32],
    },
    Saved {
        id: FileId,
    },
    Refused {
        id: FileId,
        reason: String,
    },
}

/// A file on the original wire, as the room passes it on: its header,
/// its bytes, and whether they all came.
pub enum PlainFile {
    Start {
        name: String,
        size: u64,
    },
    Piece(Arc<Piece>),
    End,
    /// The connection ended before the last byte.
    Cut,
}

/// How a member's side of the connection ended.
pub enum Gone {
    Left,
    /// Its side ended without the goodbye: its chat stopped, or would not
    /// stay.
    Closed,
    Silent(Duration),
    /// Its file on the original wire came slower than 16 KiB in this long.
    Trickled(Duration),
    Lost(String),
    Broke(String),
}

/// What every connection is let in with.
#[derive(Clone)]
pub struct Door {
    pub protection: Protection,
    pub host: String,
    /// How long a member may take nothing of what is sent to it.
    pub stall: Duration,
    pub keepalive: Duration,
    pub events: Sender<Happening>,
    /// On the original wire, one file goes through the room at a time: a
    /// member's stream cannot carry two at once, nor a line in the middle
    /// of one.
    pub plain_turn: Arc<Turn>,
    /// The wrong codes allowed to all joiners together.
    pub guesses: Guesses,
}

/// The room's turn to pass a file to members on the original wire: a
/// plain sender's reader waits for it; the room takes it for an encrypted
/// sender's file only when it is free. It is one permit, never closed, and
/// given back when its holder drops it.
pub struct Turn(Permits);

impl Default for Turn {
    fn default() -> Self {
        Self(Permits::new(1))
    }
}

impl Turn {
    /// Waits for the turn.
    pub fn take(&self) -> Permit {
        self.0.take().expect("the turn is never closed")
    }

    /// Takes the turn if it is free.
    pub fn try_take(&self) -> Option<Permit> {
        self.0.try_take()
    }
}

/// Lets one connection in, or turns it away, then (when in) reads the
/// member until its side ends. Runs on a thread of its own.
/// `answered` is called once the host has answered, or the connection
/// failed before.
pub fn let_in(stream: TcpStream, address: SocketAddr, door: &Door, answered: impl FnOnce()) {
    let outcome = knock(stream, address, door);
    answered();
    if let Some((id, reading, writing, inbox, permits)) = outcome {
        be_member(id, (reading, writing), inbox, &permits, door);
    }
}

/// Runs the handshake, reads the joiner's name and asks the host. Returns
/// the member's number and parts once it is in.
fn knock(
    stream: TcpStream,
    address: SocketAddr,
    door: &Door,
) -> Option<(MemberId, Reading, Writing, Inbox, Permits)> {
    let turn_away = |why: String| {
        let _ = door.events.send(Happening::TurnedAway { address, why });
        None
    };
    let mut connection = match Connection::tcp(stream) {
        Ok(connection) => connection,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let agreed = match &door.protection {
        Protection::Plain => None,
        Protection::Encrypted { code } => {
            let agreed = connection.encrypt(
                Side::Listening,
                code.as_ref(),
                Some(&door.guesses),
                HANDSHAKE_LIMIT,
            );
            match agreed {
                Ok(agreed) => Some(agreed),
                Err(HandshakeError::WrongCode { nth, allowed }) => {
                    let _ = door.events.send(Happening::WrongCode {
                        address,
                        nth,
                        allowed,
                    });
                    return None;
                }
                // The room said once that it takes nobody new.
                Err(HandshakeError::GuessesSpent(_)) => return None,
                Err(e) => return turn_away(Refusal::Handshake(e).to_string()),
            }
        }
    };
    let (reading, writing, closer) = match connection.split() {
        Ok(parts) => parts,
        Err(e) => return turn_away(Refusal::Setup(e).to_string()),
    };
    let sealed = matches!(reading, Reading::Sealed(_));
    let (reading, name) = match reading {
        Reading::Sealed(mut records) => match read_hello(&mut records) {
            Ok(name) => (Reading::Sealed(records), Some(name)),
            Err(why) => {
                closer.close();
                return turn_away(why);
            }
        },
        plain => (plain, None),
    };
    let (answer, answered) = mpsc::sync_channel(1);
    let knock = Knock {
        name,
        address,
        safety_code: agreed.map(|a| a.safety_code),
        sealed,
        closer: closer.clone(),
        answer,
    };
    if door.events.send(Happening::Knock(knock)).is_err() {
        closer.close();
        return None;
    }
    match answered.recv() {
        Ok(Answer::Welcome { id, inbox, permits }) => Some((id, reading, writing, inbox, permits)),
        Ok(Answer::Refused(why)) => {
            refuse(writing, &door.host, &why);
            closer.close();
            None
        }
        Err(_) => {
            closer.close();
            None
        }
    }
}

/// A member's life in the room: its writer on a thread of its own, its
/// reader on this one, until its side ends.
pub fn be_member(
    id: MemberId,
    (reading, writing): (Reading, Writing),
    inbox: Inbox,
    permits: &Permits,
    door: &Door,
) {
    let events = door.events.clone();
    let stall = door.stall;
    let writer = std::thread::Builder::new()
        .name("member writer".into())
        .spawn(move || {
            if let Err(e) = write_member(writing, inbox, stall) {
                let _ = events.send(Happening::WriterFailed(id, e));
            }
        });
    let mut reading = reading;
    let gone = match &mut reading {
        Reading::Sealed(records) => read_sealed(records, id, permits, door),
        Reading::Plain(half) => read_plain(half, id, permits, door),
    };
    if permits.is_closed() {
        // Out of the room, or the room is closing: what the member still
        // sends is read past until it closes, so that the connection ends
        // after our goodbye has reached it, not before (a cut), nor with
        // its bytes unread (a reset).
        read_to_end(&mut reading);
    }
    let _ = door.events.send(Happening::Heard(id, Heard::Ended(gone)));
    match writer {
        Ok(writer) => {
            let _ = writer.join();
        }
        Err(e) => {
            let _ = door.events.send(Happening::WriterFailed(id, e));
        }
    }
}

/// Reads the joiner's Hello, within the handshake's time limit.
pub fn read_hello(records: &mut RecordReader<ReadHalf>) -> Result<String, String> {
    let half = records.get_ref();
    half.set_read_timeout(Some(HANDSHAKE_LIMIT))
        .map_err(|e| e.to_string())?;
    let record = match records.next_record() {
        Ok(Some(record)) => record,
        Ok(None) => return Err("it left before saying its name".into()),
        Err(e) => return Err(format!("it did not say its name ({e})")),
    };
    match Message::decode(record) {
        Ok(Message::Hello { name }) => {
            crate::wire::name::parse(name).map_err(|why| format!("its name is refused: {why}"))
        }
        Ok(_) => Err("it did not say its name first".into()),
        Err(e) => Err(format!("it broke the protocol: {e}")),
    }
}

/// Tells a joiner it is not let in, and why, as well as its wire can.
fn refuse(writing: Writing, host: &str, why: &str) {
    match writing {
        Writing::Sealed(mut records) => {
            let _ = records.get_ref().set_write_timeout(Some(HANDSHAKE_LIMIT));
            let mut bytes = Vec::new();
            Message::Hello { name: host }.encode(&mut bytes);
            let _ = records.send(&bytes);
            bytes.clear();
            Message::Unwelcome { reason: why }.encode(&mut bytes);
            let _ = records.send(&bytes);
            let _ = records.close();
            let _ = records.get_ref().finish();
        }
        Writing::Plain(mut half) => {
            let _ = half.set_write_timeout(Some(HANDSHAKE_LIMIT));
            let _ = half.write_all(&super::plain::system(&format!("Not let in: {why}.")));
            let _ = half.finish();
        }
    }
}

/// Reads an encrypted member's messages until its side ends.
fn read_sealed(
    records: &mut RecordReader<ReadHalf>,
    id: MemberId,
    permits: &Permits,
    door: &Door,
) -> Gone {
    let silence = door.keepalive * SILENT_INTERVALS;
    if let Err(e) = records.get_ref().set_read_timeout(Some(silence)) {
        return Gone::Lost(e.to_string());
    }
    let mut pace = Pace::new(id, &door.events, permits);
    loop {
        let record = match records.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => return Gone::Left,
            Err(e) => return unreadable(e, silence),
        };
        let heard = match Message::decode(record) {
            Ok(Message::Text(text)) => {
                pace.count(text.len());
                Heard::Text(text.to_string())
            }
            Ok(Message::Whisper { name, text }) => {
                pace.count(text.len());
                Heard::Whisper {
                    to: name.to_string(),
                    text: text.to_string(),
                }
            }
            Ok(Message::Who) => {
                pace.count(0);
                Heard::Who
            }
            Ok(Message::Chunk { id, data }) => {
                // Waits while the pieces already sent are on their way.
                let Some(permit) = permits.take() else {
                    return Gone::Left;
                };
                let piece = Arc::new(Piece {
                    data: data.to_vec(),
                    _permit: permit,
                });
                Heard::File(FileNews::Piece { id, piece })
            }
            Ok(message) => match file_news(&message) {
                Some(news) => {
                    // A new transfer counts as a message; what carries one
                    // along has its own budget.
                    match news {
                        FileNews::Offer { ref name, .. } | FileNews::Folder { ref name, .. } => {
                            pace.count(name.len());
                        }
                        FileNews::Entry { ref path, .. } | FileNews::Subfolder { ref path, .. } => {
                            pace.count_transfer(path.len());
                        }
                        _ => pace.count_transfer(0),
                    }
                    Heard::File(news)
                }
                None if matches!(message, Message::Pong) => continue,
                None => {
                    return Gone::Broke(format!("it sent {} to the room", kind(&message)));
                }
            },
            Err(e) => return Gone::Broke(format!("it broke the protocol: {e}")),
        };
        if !pace.tell(heard) {
            return Gone::Left;
        }
    }
}

/// Reads what comes until the member's side of the connection ends (or
/// the room cuts it), dropping it.
fn read_to_end(reading: &mut Reading) {
    match reading {
        Reading::Sealed(records) => while let Ok(Some(_)) = records.next_record() {},
        Reading::Plain(half) => {
            let _ = io::copy(half, &mut io::sink());
        }
    }
}

/// How a member whose records cannot be read on is gone; `silence` is how
/// long it may say nothing.
fn unreadable(e: RecordError, silence: Duration) -> Gone {
    match e.ending() {
        Ending::Silent(_) => Gone::Silent(silence),
        Ending::Lost(e) => Gone::Lost(e.to_string()),
        // Only the member's own end sends a FIN: its chat (or its machine)
        // closed without the goodbye, the network did not.
        Ending::Cut => Gone::Closed,
        Ending::Broken(e) => Gone::Broke(e.to_string()),
    }
}

/// What a message about a file says, owned, for the room.
fn file_news(message: &Message<'_>) -> Option<FileNews> {
    Some(match *message {
        Message::Offer { id, size, name } => FileNews::Offer {
            id,
            size,
            name: name.to_string(),
        },
        Message::Folder {
            id,
            files,
            bytes,
            name,
        } => FileNews::Folder {
            id,
            files,
            bytes,
            name: name.to_string(),
        },
        Message::Entry {
            id,
            folder,
            size,
            path,
        } => FileNews::Entry {
            id,
            folder,
            size,
            path: path.to_string(),
        },
        Message::Subfolder { folder, path } => FileNews::Subfolder {
            folder,
            path: path.to_string(),
        },
        Message::Begin { id, offset } => FileNews::Begin { id, offset },
        Message::End { id, hash } => FileNews::End { id, hash },
        Message::Cancel { id } => FileNews::Cancel { id },
        Message::Accept { id, offset, prefix } => FileNews::Accept { id, offset, prefix },
        Message::Saved { id } => FileNews::Saved { id },
        Message::Refused { id, reason } => FileNews::Refused {
            id,
            reason: reason.to_string(),
        },
        _ => return None,
    })
}
/// What a message that has no place going to a room's host is called.
fn kind(message: &Message<'_>) -> &'static str {
    match message {
        Message::Hello { .. } => "its name twice",
        _ => "a message only a host sends",
    }
}

/// Reads a plain member's lines until its side ends. Files are read past:
/// the original wire has no way to say no to them.
fn read_plain(half: &mut ReadHalf, id: MemberId, permits: &Permits, door: &Door) -> Gone {
    let mut frames = FrameReader::new(BufReader::with_capacity(64 * 1024, half));
    let mut pace = Pace::new(id, &door.events, permits);
    loop {
        let heard = match frames.next_frame() {
            Ok(None) => return Gone::Left,
            Ok(Some(Frame::Text(line))) => {
                pace.count(line.len());
                Heard::Line(line)
            }
            Ok(Some(Frame::File { name, size })) => {
                pace.count(name.len());
                // The room hears the file's end before anyone else's start.
                let turn = door.plain_turn.take();
                // Others' lines wait while it goes: a sender that trickles
                // its file is not waited for.
                let passed = pass_file(&mut frames, name, size, permits, &pace, door.stall);
                drop(turn);
                if let Err(e) = frames.get_ref().get_ref().set_read_timeout(None) {
                    return Gone::Lost(e.to_string());
                }
                match passed {
                    Ok(()) => continue,
                    Err(gone) => return gone,
                }
            }
            Err(e) if e.is_recoverable() => continue,
            // The last line, without its newline, still counts.
            Err(FrameError::EndedMidLine { partial }) => {
                pace.tell(Heard::Line(partial));
                return Gone::Left;
            }
            Err(e) => return Gone::Lost(e.to_string()),
        };
        if !pace.tell(heard) {
            return Gone::Left;
        }
    }
}

/// Hands the room a plain member's file, piece by piece, as it comes,
/// as long as it comes fast enough (see [`Inflow`]).
fn pass_file(
    frames: &mut FrameReader<BufReader<&mut ReadHalf>>,
    name: String,
    size: u64,
    permits: &Permits,
    pace: &Pace<'_>,
    stall: Duration,
) -> Result<(), Gone> {
    if !pace.tell(Heard::Plain(PlainFile::Start { name, size })) {
        return Err(Gone::Left);
    }
    let mut inflow = Inflow::new(stall, size, Instant::now());
    loop {
        let remaining = frames.payload().remaining();
        if remaining == 0 {
            break;
        }
        let waiting = Instant::now();
        let permit = permits.take().ok_or(Gone::Left)?;
        inflow.waited(waiting.elapsed());
        let want = usize::try_from(remaining).map_or(PIECE, |left| left.min(PIECE));
        let mut data = vec![0; want];
        let got = match inflow.left(Instant::now()) {
            Some(left) => match frames.get_ref().get_ref().set_read_timeout(Some(left)) {
                Ok(()) => frames.payload().read(&mut data),
                Err(e) => Err(e),
            },
            None => Err(io::ErrorKind::TimedOut.into()),
        };
        let n = match got {
            Ok(0) => Err(Gone::Lost(
                "the connection ended in the middle of a file".to_string(),
            )),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Gone::Trickled(inflow.limit()))
            }
            Err(e) => Err(Gone::Lost(e.to_string())),
        };
        let n = n.inspect_err(|_| {
            pace.tell(Heard::Plain(PlainFile::Cut));
        })?;
        inflow.came(n as u64, remaining - n as u64, Instant::now());
        data.truncate(n);
        let piece = Arc::new(Piece {
            data,
            _permit: permit,
        });
        if !pace.tell(Heard::Plain(PlainFile::Piece(piece))) {
            return Err(Gone::Left);
        }
    }
    if pace.tell(Heard::Plain(PlainFile::End)) {
        Ok(())
    } else {
        Err(Gone::Left)
    }
}

/// Bytes of a plain file passed on at a time.
const PIECE: usize = 64 * 1024;

/// A member's reader keeping to its throttle.
struct Pace<'a> {
    id: MemberId,
    events: &'a Sender<Happening>,
    /// Closed once the member is out of the room: then reading stops.
    permits: &'a Permits,
    throttle: Throttle,
    transfers: Throttle,
    /// When the member is held back, told to the host once an episode.
    episodes: Episodes,
}

impl<'a> Pace<'a> {
    fn new(id: MemberId, events: &'a Sender<Happening>, permits: &'a Permits) -> Self {
        Self {
            id,
            events,
            permits,
            throttle: Throttle::new(Instant::now()),
            transfers: Throttle::for_transfers(Instant::now()),
            episodes: Episodes::default(),
        }
    }

    /// Counts a message; past the limits, waits before the next is read,
    /// so the member is held back by its own connection. The host's own
    /// user is not held back.
    fn count(&mut self, len: usize) {
        let now = Instant::now();
        let wait = self.throttle.count(len, now);
        self.hold_back(wait, now);
    }

    /// Counts a message that carries a transfer along.
    fn count_transfer(&mut self, len: usize) {
        let now = Instant::now();
        let wait = self.transfers.count(len, now);
        self.hold_back(wait, now);
    }

    /// Waits before the next message is read, if the member is over its
    /// limits; the host's own user never is. The host hears of it when an
    /// episode begins.
    fn hold_back(&mut self, wait: Duration, now: Instant) {
        if self.id == HOST || self.permits.is_closed() || wait.is_zero() {
            return;
        }
        if self.episodes.begins(wait, now) {
            let _ = self.events.send(Happening::Heard(self.id, Heard::Slowed));
        }
        std::thread::sleep(wait);
    }

    /// Hands the host what was heard; `false` once the host is gone.
    /// What a member that is out of the room still sent is not read on.
    fn tell(&self, heard: Heard) -> bool {
        !self.permits.is_closed() && self.events.send(Happening::Heard(self.id, heard)).is_ok()
    }
}

/// Sends what the host queues for a member until the goodbye, or until the
/// queue closes. A write that cannot go on for `stall` fails: the member
/// stopped reading.
fn write_member(writing: Writing, inbox: Inbox, stall: Duration) -> Result<(), io::Error> {
    match writing {
        Writing::Sealed(mut records) => {
            records.get_ref().set_write_timeout(Some(stall))?;
            let result = drain(&inbox, &mut *records, true, |records, bytes| {
                records.send(bytes)
            });
            match result {
                Ok(true) => {
                    records.close()?;
                    records.get_ref().finish()
                }
                Ok(false) => records.flush(),
                Err(e) => Err(e),
            }
        }
        Writing::Plain(half) => {
            half.set_write_timeout(Some(stall))?;
            let mut out = BufWriter::with_capacity(64 * 1024, half);
            match drain(&inbox, &mut out, false, |out, bytes| out.write_all(bytes)) {
                Ok(true) => {
                    out.flush()?;
                    out.get_ref().finish()
                }
                Ok(false) => out.flush(),
                Err(e) => Err(e),
            }
        }
    }
}

/// Writes what comes in `inbox`, flushing whenever it runs dry: pieces of
/// files as chunk messages when `framed`, as raw bytes otherwise (the
/// original wire). `Ok(true)` on the goodbye, `Ok(false)` when the queue
/// closed.
fn drain<W: Write>(
    inbox: &Inbox,
    out: &mut W,
    framed: bool,
    mut write: impl FnMut(&mut W, &[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    let mut message = Vec::new();
    loop {
        let next = match inbox.queue.try_recv() {
            Ok(next) => next,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match inbox.queue.recv() {
                    Ok(next) => next,
                    Err(_) => return Ok(false),
                }
            }
            Err(TryRecvError::Disconnected) => return Ok(false),
        };
        match next {
            Out::Bytes(bytes) => {
                write(out, &bytes)?;
                inbox.backlog.fetch_sub(bytes.len(), Ordering::SeqCst);
            }
            Out::Piece { id, piece, share } => {
                if share.stopped.load(Ordering::SeqCst) {
                    continue;
                }
                if framed {
                    message.clear();
                    message.extend_from_slice(&chunk_header(id));
                    message.extend_from_slice(&piece.data);
                    write(out, &message)?;
                } else {
                    write(out, &piece.data)?;
                }
                share
                    .written
                    .fetch_add(piece.data.len() as u64, Ordering::SeqCst);
            }
            Out::Leave => return Ok(true),
        }
    }
}
