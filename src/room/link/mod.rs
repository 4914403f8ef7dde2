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

pub use self::door::{Answer, Door, Knock, let_in, read_hello};
pub use self::original::Turn;
pub use self::queue::{Inbox, Outbox, PIECES_IN_FLIGHT, Piece, Share, queue};
use super::Happening;
use super::roster::MemberId;
use crate::net::transport::{Reading, Writing};
use crate::permits::Permits;
use crate::wire::message::FileId;

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
        Reading::Sealed(records) => sealed::read(records, id, permits, door),
        Reading::Plain(half) => original::read(half, id, permits, door),
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

/// Sends what the host queues for a member until the goodbye, or until the
/// queue closes, in its wire's terms.
fn write_member(writing: Writing, inbox: Inbox, stall: Duration) -> Result<(), io::Error> {
    match writing {
        Writing::Sealed(records) => sealed::write(records, &inbox, stall),
        Writing::Plain(half) => original::write(half, &inbox, stall),
    }
}
