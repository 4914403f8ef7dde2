//! A member's queue: what the host hands the member's writer, and the
//! writer's loop over it. Messages are bounded in bytes, so a member that
//! falls behind is dropped instead of holding memory and the host never
//! waits for it; pieces of files are bounded by their sender's permits.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};

use super::MemberWriter;
use crate::permits::Permit;
use crate::wire::limits::MAX_BACKLOG;
use crate::wire::message::FileId;

/// Pieces of files one member may have on their way through the room at
/// once: they are what the room holds of its files, 4 MiB per sender. The
/// member's reader waits for one of its [`Permits`] before it reads on, so
/// a sender goes as fast as its receivers take.
///
/// [`Permits`]: crate::permits::Permits
pub const PIECES_IN_FLIGHT: usize = 64;

/// What the host hands a member's writer.
enum Out {
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
/// of its sender's permits until the last receiver has written it.
pub struct Piece {
    pub data: Vec<u8>,
    _permit: Permit,
}

impl Piece {
    /// A piece of `data`, holding one of its sender's permits.
    pub fn new(data: Vec<u8>, permit: Permit) -> Self {
        Self {
            data,
            _permit: permit,
        }
    }
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

/// Writes what comes in `inbox`, flushing whenever it runs dry. `Ok(true)`
/// on the goodbye, `Ok(false)` when the queue closed.
pub fn drain(inbox: &Inbox, out: &mut impl MemberWriter) -> io::Result<bool> {
    loop {
        let Some(next) = crate::queue::next_or_flush(&inbox.queue, || out.flush())? else {
            return Ok(false);
        };
        match next {
            Out::Bytes(bytes) => {
                out.bytes(&bytes)?;
                inbox.backlog.fetch_sub(bytes.len(), Ordering::SeqCst);
            }
            Out::Piece { id, piece, share } => {
                if share.stopped.load(Ordering::SeqCst) {
                    continue;
                }
                out.piece(id, &piece.data)?;
                share
                    .written
                    .fetch_add(piece.data.len() as u64, Ordering::SeqCst);
            }
            Out::Leave => return Ok(true),
        }
    }
}
