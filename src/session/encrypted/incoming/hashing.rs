//! Hashing what is here already of a file the peer offers (the part kept
//! of an earlier try, or a file of the same name and size in the download
//! folder) on a thread of its own. Reading a big file takes seconds to
//! minutes; meanwhile the reader goes on reading the peer, whose messages
//! would otherwise wait, and whose stall watch would give up on us.
//!
//! The worker records what it found before it answers the peer, so that
//! whatever the peer sends about the file after our answer finds it there.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Scope;

use crate::engine::Frontend;
use crate::session::events::ReceiveEvent;
use crate::session::input::Tickets;
use crate::session::outgoing::{Answer, Outgoing, Typed};
use crate::session::progress::{Transfers, Verdict};
use crate::wire::message::FileId;

/// Bytes read at a time; between two reads the worker sees a cancel.
const READ: usize = 1024 * 1024;

/// Hashes remembered at most (about 2 KiB each): a peer that offers the
/// same file again and again (withdrawing it each time) must not make us
/// read it again and again.
const REMEMBERED: usize = 256;

/// What of a file is here already: its first `len` bytes, hashed.
pub(super) struct Found {
    pub len: u64,
    pub hasher: blake3::Hasher,
}

impl Found {
    /// Nothing is here: the file comes whole.
    pub fn nothing() -> Self {
        Self {
            len: 0,
            hasher: blake3::Hasher::new(),
        }
    }

    /// The hash an Accept carries.
    pub fn prefix(&self) -> [u8; 32] {
        *self.hasher.finalize().as_bytes()
    }
}

/// Why what was kept of a file offered cannot be read: the offer is
/// refused, and the peer told so in these words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read what was kept of it: {0}")]
pub(super) struct KeptUnreadable(Arc<io::Error>);

/// A file as it was looked at: one changed since looks different.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity {
    device: u64,
    inode: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Identity {
    fn of(meta: &Metadata) -> Self {
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The regular file at `path`, not through a link; `None` for anything
    /// else, or nothing.
    pub fn of_file(path: &Path) -> Option<Self> {
        let meta = path.symlink_metadata().ok()?;
        meta.is_file().then(|| Self::of(&meta))
    }

    pub fn len(&self) -> u64 {
        self.len
    }
}

/// What to hash.
pub(super) enum Source {
    /// The part kept of the offer, of which the first `held` bytes count:
    /// open already (what is kept is never reached by a path that could
    /// lead through a link), and known by its `path`.
    Kept {
        file: io::Result<File>,
        path: PathBuf,
        held: u64,
    },
    /// A file of the offered name and size in the download folder, as
    /// looked at when offered: if it is no longer that file, or cannot be
    /// read, nothing is here.
    There { path: PathBuf, seen: Identity },
}

/// How the peer is answered once the hash is known.
pub(super) enum Reply {
    /// At once.
    Now,
    /// Once the user accepts the transfer with this id in the list (or at
    /// once if that happened while hashing).
    Asked(u64),
}

/// One file to hash, and whom to tell.
pub(super) struct Job {
    pub id: FileId,
    /// As shown to the user.
    pub name: String,
    pub source: Source,
    pub reply: Reply,
    pub pending: Arc<Pending>,
}

/// A hash being worked out: the worker fills it in; the reader takes it,
/// or cancels it.
#[derive(Default)]
pub(super) struct Pending {
    found: Mutex<Option<Result<Found, KeptUnreadable>>>,
    cancelled: AtomicBool,
}

impl Pending {
    fn found(&self) -> MutexGuard<'_, Option<Result<Found, KeptUnreadable>>> {
        self.found.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was found, or why what was kept cannot be read (the peer was
    /// told), once the worker is done: from then on the peer may act on
    /// our answer.
    pub fn take(&self) -> Option<Result<Found, KeptUnreadable>> {
        self.found().take()
    }

    /// Nobody needs the hash any more: the worker stops, and the peer is
    /// not answered unless it was already.
    pub fn cancel(&self) {
        let _found = self.found();
        self.cancelled.store(true, Ordering::SeqCst);
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Who the worker tells of what it found.
pub(super) struct Tell<'a> {
    pub outbox: Sender<Outgoing>,
    pub answers: Tickets,
    pub front: &'a dyn Frontend,
    pub transfers: &'a Transfers,
}

/// The worker, seen from the reader. Dropping it stops the worker, which
/// leaves what it was hashing.
pub(super) struct Hashing {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    woken: Condvar,
    /// Hashes already worked out, by path, with the file as it was then.
    remembered: Mutex<HashMap<PathBuf, (Identity, blake3::Hasher)>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    stopped: bool,
}

impl Hashing {
    /// Starts the worker in `scope`, which joins it.
    pub fn start<'scope, 'env>(scope: &'scope Scope<'scope, 'env>, tell: Tell<'env>) -> Self {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        scope.spawn(move || worker.work(&tell));
        Self { shared }
    }

    /// Hashes `job` after those before it.
    pub fn submit(&self, job: Job) {
        let mut queue = self.shared.queue();
        // What was cancelled waiting goes: a peer that offers and withdraws
        // files over and over leaves no trail here.
        queue.jobs.retain(|job| !job.pending.cancelled());
        queue.jobs.push_back(job);
        self.shared.woken.notify_one();
    }

    /// The hash of `held` bytes of the part kept at `path`, if it is known
    /// already and the part has not changed since.
    pub fn remembered(&self, path: &Path, held: u64) -> Option<blake3::Hasher> {
        let now = Identity::of_file(path)?;
        let remembered = self.shared.remembered();
        match remembered.get(path) {
            Some((seen, hasher)) if *seen == now && now.len == held => Some(hasher.clone()),
            _ => None,
        }
    }

    /// What is at `path` is about to change: its hash must be worked out
    /// anew next time.
    pub fn forget(&self, path: &Path) {
        self.shared.remembered().remove(path);
    }
}

impl Drop for Hashing {
    fn drop(&mut self) {
        let mut queue = self.shared.queue();
        queue.stopped = true;
        for job in queue.jobs.drain(..) {
            job.pending.cancel();
        }
        self.shared.woken.notify_all();
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remembered(&self) -> MutexGuard<'_, HashMap<PathBuf, (Identity, blake3::Hasher)>> {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.queue().stopped
    }

    /// Hashes one job after the other until the reader is done.
    fn work(&self, tell: &Tell<'_>) {
        loop {
            let job = {
                let mut queue = self.queue();
                loop {
                    if queue.stopped {
                        return;
                    }
                    if let Some(job) = queue.jobs.pop_front() {
                        break job;
                    }
                    queue = self
                        .woken
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            if job.pending.cancelled() {
                continue;
            }
            let Some(found) = self.hash(&job) else {
                continue;
            };
            self.answer(job, found, tell);
        }
    }

    /// What is here of `job`'s file; `None` when it was cancelled or the
    /// reader is done.
    fn hash(&self, job: &Job) -> Option<Result<Found, KeptUnreadable>> {
        match &job.source {
            Source::Kept { file, path, held } => self
                .hash_file(job, reopen(file), path, *held, None)
                .map(|read| read.map_err(|e| KeptUnreadable(Arc::new(e)))),
            Source::There { path, seen } => {
                let read = self.hash_file(job, open_here(path), path, seen.len, Some(seen))?;
                // Unreadable, or not the file seen: nothing is here.
                Some(Ok(read.unwrap_or_else(|_| Found::nothing())))
            }
        }
    }

    /// The hash of the first `len` bytes of the file `opened`, known by
    /// `path`, which must be the one `seen` when given; `None` once nobody
    /// needs it.
    fn hash_file(
        &self,
        job: &Job,
        opened: io::Result<File>,
        path: &Path,
        len: u64,
        seen: Option<&Identity>,
    ) -> Option<io::Result<Found>> {
        let file = match opened {
            Ok(file) => file,
            Err(e) => return Some(Err(e)),
        };
        let now = match file.metadata() {
            Ok(meta) if meta.is_file() => Identity::of(&meta),
            Ok(_) => return Some(Err(io::ErrorKind::InvalidInput.into())),
            Err(e) => return Some(Err(e)),
        };
        if seen.is_some_and(|seen| *seen != now) {
            return Some(Err(io::ErrorKind::InvalidData.into()));
        }
        if let Some((_, hasher)) = self.remembered().get(path).filter(|(then, _)| *then == now) {
            let hasher = hasher.clone();
            return Some(Ok(Found { len, hasher }));
        }
        let hasher = match self.read_all(job, &file, len)? {
            Ok(hasher) => hasher,
            Err(e) => return Some(Err(e)),
        };
        let mut remembered = self.remembered();
        if remembered.len() >= REMEMBERED {
            remembered.clear();
        }
        remembered.insert(path.to_path_buf(), (now, hasher.clone()));
        Some(Ok(Found { len, hasher }))
    }

    /// Reads the first `len` bytes of `file` into a hasher, a block at a
    /// time; `None` as soon as the job is cancelled or the reader is done.
    fn read_all(&self, job: &Job, file: &File, len: u64) -> Option<io::Result<blake3::Hasher>> {
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0; READ];
        let mut at = 0;
        while at < len {
            if job.pending.cancelled() || self.stopped() {
                return None;
            }
            let want = (len - at).min(READ as u64) as usize;
            if let Err(e) = file.read_exact_at(&mut buf[..want], at) {
                return Some(Err(e));
            }
            hasher.update(&buf[..want]);
            at += want as u64;
        }
        Some(Ok(hasher))
    }

    /// Records what was found, then answers the peer: at once, or once the
    /// user accepted. Nothing is answered for a job cancelled meanwhile.
    fn answer(&self, job: Job, found: Result<Found, KeptUnreadable>, tell: &Tell<'_>) {
        let unreadable = found.as_ref().err().cloned();
        let answer = {
            let mut slot = job.pending.found();
            if job.pending.cancelled() {
                return;
            }
            let answer = match &found {
                Ok(found) => Answer::Accept {
                    id: job.id,
                    offset: found.len,
                    prefix: found.prefix(),
                },
                Err(why) => Answer::Refused(job.id, why.to_string()),
            };
            *slot = Some(found);
            answer
        };
        let go = match (&answer, job.reply) {
            (Answer::Accept { offset, prefix, .. }, Reply::Asked(transfer)) => {
                tell.transfers.resolve(transfer, *offset, *prefix) == Verdict::Accepted
            }
            (Answer::Refused(..), reply) => {
                if let Reply::Asked(transfer) = reply {
                    tell.transfers.forget(transfer);
                }
                if let Some(why) = &unreadable {
                    let name = &job.name;
                    tell.front.receive(ReceiveEvent::NotSaved { name, why });
                }
                true
            }
            _ => true,
        };
        // No ticket once the conversation is over; the writer is gone then
        // too.
        if let Some(ticket) = go.then(|| tell.answers.take()).flatten() {
            let _ = tell
                .outbox
                .send(Outgoing::Typed(Typed::Answer(answer, ticket)));
        }
    }
}

/// The kept file `file` again, or why it could not be opened.
fn reopen(file: &io::Result<File>) -> io::Result<File> {
    match file {
        Ok(file) => file.try_clone(),
        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
    }
}

/// Opens a file here to read it, never through a link, and without
/// waiting on a FIFO put in its place.
fn open_here(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}
