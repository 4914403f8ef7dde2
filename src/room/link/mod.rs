//! One member's connection, on the host: letting it in (`door`), then a
//! reader thread that turns what it sends into events for the host, as
//! fast as its throttle allows (`pace`), and a writer thread that sends
//! what the host queues for it (`queue`), each in its wire's terms
//! (`sealed`, `original`). The queue is bounded in bytes, so a member that
//! falls behind is dropped instead of holding memory, and the host never
//! waits for any member.

mod door;
mod original;
mod pace;
mod queue;
mod sealed;

use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use self::door::{Answer, Door, Knock, let_in};
use self::original::Plain;
pub use self::original::Turn;
pub use self::queue::{Inbox, Outbox, PIECES_IN_FLIGHT, Piece, Share, queue};
use super::Happening;
use super::events::Ignored;
use super::roster::MemberId;
use crate::permits::Permits;
use crate::protocol::{NoHello, Wire};
use crate::wire::limits::HANDSHAKE_LIMIT;
use crate::wire::message::{FileId, Message, MessageError};

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
    /// What it sent on the original wire was read past, as this says.
    Ignored(Ignored),
    /// Its side of the connection ended.
    Ended(Gone),
}

/// What a member says about a file: one it sends, or one it is offered.
pub enum FileNews {
    /// A message about a file (an offer, its parts' starts and ends, an
    /// answer), as it came: the host reads it again where it acts on it,
    /// so that the room holds no second copy of the message types.
    Said(Said),
    /// A piece of a file it sends, as the room passes it on.
    Piece { id: FileId, piece: Arc<Piece> },
}

/// A message as a member sent it, owned, to cross to the host's thread.
pub struct Said(Vec<u8>);

impl Said {
    /// `message`, owned.
    pub fn new(message: &Message<'_>) -> Self {
        let mut bytes = Vec::new();
        message.encode(&mut bytes);
        Self(bytes)
    }

    /// The message again. (It was read once on the member's thread, and
    /// encoding then decoding gives it back: a message that does not is
    /// an internal error, said as a breach of the member's.)
    pub fn message(&self) -> Result<Message<'_>, MessageError> {
        Message::decode(&self.0)
    }
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

/// A member's reader, in its wire's terms.
trait MemberReader {
    /// Reads what the member sends until its side ends, or it is out of
    /// the room (its `permits` closed), and says how it ended.
    fn read(&mut self, id: MemberId, permits: &Permits, door: &Door) -> Gone;

    /// Reads past what still comes until the member's side ends.
    fn drain(&mut self);
}

/// A member's writer, in its wire's terms.
pub trait MemberWriter: Send + 'static {
    /// Gives up on a write that cannot go on for `stall`.
    fn give_up_after(&self, stall: Duration) -> io::Result<()>;
    /// An encoded message (encrypted room) or raw lines (plain room).
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// A piece of a file, as the member's file `id`.
    fn piece(&mut self, id: FileId, data: &[u8]) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Ends our side of the connection once the goodbye is written.
    fn finish(&mut self) -> io::Result<()>;
}

/// The name a joiner gives first: on the encrypted wire, its Hello, within
/// the handshake's time; on the original wire nobody gives one first.
pub fn hello(wire: &mut Wire) -> Result<Option<String>, NoHello> {
    match wire {
        Wire::Encrypted { messages, .. } => messages.hello(Some(HANDSHAKE_LIMIT)).map(Some),
        Wire::Original { .. } => Ok(None),
    }
}

/// A member's life in the room: its writer on a thread of its own, its
/// reader on this one, until its side ends.
pub fn be_member(id: MemberId, wire: Wire, inbox: Inbox, permits: &Permits, door: &Door) {
    match wire {
        Wire::Encrypted { mut messages, out } => {
            serve(id, (&mut messages, out), inbox, permits, door);
        }
        Wire::Original { mut lines, out } => {
            serve(id, (&mut lines, Plain::new(out)), inbox, permits, door);
        }
    }
}

/// [`be_member`], once its wire's reader and writer are known.
fn serve(
    id: MemberId,
    (reader, writer): (&mut dyn MemberReader, impl MemberWriter),
    inbox: Inbox,
    permits: &Permits,
    door: &Door,
) {
    let events = door.events.clone();
    let stall = door.stall;
    let writer = std::thread::Builder::new()
        .name("member writer".into())
        .spawn(move || {
            if let Err(e) = write_member(writer, &inbox, stall) {
                let _ = events.send(Happening::WriterFailed(id, e));
            }
        });
    let gone = reader.read(id, permits, door);
    if permits.is_closed() {
        // Out of the room, or the room is closing: what the member still
        // sends is read past until it closes, so that the connection ends
        // after our goodbye has reached it, not before (a cut), nor with
        // its bytes unread (a reset).
        reader.drain();
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

/// Sends what the host queues for a member until the goodbye, or until the
/// queue closes. A write that cannot go on for `stall` fails: the member
/// stopped reading.
fn write_member(mut out: impl MemberWriter, inbox: &Inbox, stall: Duration) -> io::Result<()> {
    out.give_up_after(stall)?;
    if queue::drain(inbox, &mut out)? {
        out.flush()?;
        out.finish()
    } else {
        out.flush()
    }
}
