//! A member's queue: what the host hands the member's writer, and the
//! writer's loop over it. Messages are bounded in bytes, so a member that
//! falls behind is dropped instead of holding memory and the host never
//! waits for it; pieces of files are bounded by their sender's permits.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

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
    /// The next piece of a file in `share`, as the member's file `id`,
    /// unless its share of the transfer was stopped meanwhile.
    Piece { id: FileId, share: Arc<Share> },
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

/// One receiver's part in a transfer: how far its writer got, whether it
/// is out of the transfer, and the pieces queued for it. The pieces are
/// held here rather than in the member's queue, so that a receiver put out
/// of the transfer gives them (and their sender's permits) back at once,
/// even while its writer is stuck on a member that stopped reading.
#[derive(Default)]
pub struct Share {
    pub written: AtomicU64,
    pub stopped: AtomicBool,
    queued: Mutex<VecDeque<Arc<Piece>>>,
}

impl Share {
    /// Puts the receiver out of the transfer: what is queued for it goes
    /// unsent, and is let go now.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.pieces().clear();
    }

    /// Queues a piece; `false` once the receiver is out of the transfer.
    fn push(&self, piece: &Arc<Piece>) -> bool {
        let mut pieces = self.pieces();
        // (Checked under the lock: `stop` clears after setting it.)
        if self.stopped.load(Ordering::SeqCst) {
            return false;
        }
        pieces.push_back(piece.clone());
        true
    }

    /// The next piece to write, unless the receiver is out.
    fn next_piece(&self) -> Option<Arc<Piece>> {
        self.pieces().pop_front()
    }

    fn pieces(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Piece>>> {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
        if share.push(piece) {
            let share = share.clone();
            let _ = self.queue.send(Out::Piece { id, share });
        }
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
            Out::Piece { id, share } => {
                let Some(piece) = share.next_piece() else {
                    continue;
                };
                out.piece(id, &piece.data)?;
                share
                    .written
                    .fetch_add(piece.data.len() as u64, Ordering::SeqCst);
            }
            Out::Leave => return Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permits::Permits;

    #[test]
    fn a_receiver_put_out_of_a_transfer_gives_its_pieces_back_at_once() {
        let permits = Permits::new(2);
        let (outbox, inbox) = queue();
        let share = Arc::new(Share::default());
        for _ in 0..2 {
            let piece = Arc::new(Piece::new(vec![1; 10], permits.take().unwrap()));
            outbox.put_piece(7, &piece, &share);
        }
        assert!(permits.try_take().is_none(), "both are queued");
        // Its writer is stuck on a member that stopped reading; the room
        // puts it out of the transfer: the sender may go on.
        share.stop();
        let permit = permits.try_take();
        assert!(permit.is_some(), "the pieces were let go");
        drop(permit);
        let piece = Arc::new(Piece::new(vec![2; 10], permits.take().unwrap()));
        outbox.put_piece(7, &piece, &share);
        drop(piece);
        outbox.leave();
        let mut out = Written::default();
        assert!(drain(&inbox, &mut out).unwrap(), "the goodbye");
        assert_eq!(out.pieces, 0, "nothing of a stopped share is sent");
        assert!(permits.try_take().is_some());
    }

    /// A member's writer that counts what it is asked to write.
    #[derive(Default)]
    struct Written {
        pieces: usize,
    }

    impl MemberWriter for Written {
        fn give_up_after(&self, _: std::time::Duration) -> io::Result<()> {
            Ok(())
        }
        fn bytes(&mut self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn piece(&mut self, _: FileId, _: &[u8]) -> io::Result<()> {
            self.pieces += 1;
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
