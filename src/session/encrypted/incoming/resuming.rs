//! Taking a file from what is here of it already: opening where it is
//! kept, hashing what that holds (off this thread when it must be), and
//! telling the peer where its chunks may begin.

use std::sync::Arc;

use super::Reader;
use super::arriving::{Arriving, Here, Owner, Stage};
use super::hashing::{Found, Job, Pending, Reply, Source};
use crate::files::download::DownloadError;
use crate::files::kept::{Kept, KeptFile};
use crate::session::outgoing::Answer;
use crate::session::progress::Meter;
use crate::wire::message::FileId;

impl<'a> Reader<'a> {
    /// Opens where a file is saved, resuming what was kept of it; says how
    /// much was kept.
    pub(super) fn prepare(
        &mut self,
        arriving: &mut Arriving<'a>,
        open: impl FnOnce(&Kept, &str, u64) -> Result<KeptFile, DownloadError>,
    ) -> Result<Here, DownloadError> {
        let kept = open(&self.kept, &arriving.name, arriving.size)?;
        let held = kept.held();
        arriving.kept = Some(kept);
        Ok(match held {
            0 => Here::Nothing,
            held => Here::Kept(held),
        })
    }

    /// Answers the offer of `arriving` (`reply` says when) once what is here
    /// of it is hashed: at once when nothing is, or its hash is known
    /// already; else by the hashing worker, once it has read it.
    pub(super) fn answer_when_known(
        &mut self,
        id: FileId,
        arriving: &mut Arriving<'a>,
        here: Here,
        reply: Reply,
    ) {
        let source = match (here, &arriving.kept) {
            (Here::Kept(held), Some(kept)) => match self.hashing.remembered(kept.path(), held) {
                Some(hasher) => {
                    return self.answer_found(id, arriving, Found { len: held, hasher }, reply);
                }
                None => Source::Kept {
                    file: kept.reader(),
                    path: kept.path().to_path_buf(),
                    held,
                },
            },
            (Here::There(seen), _) => {
                arriving.there = Some(seen);
                Source::There {
                    path: self.downloads.path().join(&arriving.name),
                    seen,
                }
            }
            _ => return self.answer_found(id, arriving, Found::nothing(), reply),
        };
        let pending = Arc::new(Pending::default());
        arriving.pending = Some(pending.clone());
        match reply {
            // Taken now; where its chunks begin is known once it is hashed.
            Reply::Now => self.take(arriving),
            Reply::Asked(transfer) => self.transfers.ask_while_hashing(
                transfer,
                here.held(arriving.size),
                matches!(here, Here::There(_)),
            ),
        }
        let name = arriving.name.clone();
        self.hashing.submit(Job {
            id,
            name,
            source,
            reply,
            pending,
        });
    }

    /// Answers the offer of `arriving`, of which `found` is here: at once,
    /// or once the user accepts it.
    fn answer_found(
        &mut self,
        id: FileId,
        arriving: &mut Arriving<'a>,
        found: Found,
        reply: Reply,
    ) {
        let prefix = found.prefix();
        set_found(arriving, found);
        match reply {
            Reply::Now => self.accept(id, arriving, prefix),
            Reply::Asked(transfer) => self.transfers.ask(transfer, arriving.offset, prefix),
        }
    }

    /// Takes a file, from what was kept of it: its bytes may come once the
    /// peer is answered.
    fn take(&mut self, arriving: &mut Arriving<'a>) {
        // What is kept of it is about to change: its hash must be worked
        // out anew next time.
        if let Some(kept) = &arriving.kept {
            self.hashing.forget(kept.path());
        }
        arriving.stage = Stage::Accepted {
            awaiting_begin: arriving.offset > 0 || arriving.pending.is_some(),
        };
        if let Owner::Lone { transfer, meter } = &mut arriving.owner {
            *meter = Some(Meter::start(self.transfers, self.front, *transfer));
        }
    }

    /// Takes a file, from what was kept of it, and tells the peer.
    pub(super) fn accept(&mut self, id: FileId, arriving: &mut Arriving<'a>, prefix: [u8; 32]) {
        self.take(arriving);
        self.answer(Answer::Accept {
            id,
            offset: arriving.offset,
            prefix,
        });
    }
}

/// Counts `found` as held of `arriving`: its chunks begin after it.
fn set_found(arriving: &mut Arriving<'_>, found: Found) {
    arriving.offset = found.len;
    arriving.received = found.len;
    arriving.hash = found.hasher;
}

/// Takes in what the hashing worker found of `arriving`, once it did: the
/// peer has been answered then (or is about to be), and may act on it.
/// `false` while it is still hashing: nothing was answered.
pub(super) fn settle(arriving: &mut Arriving<'_>) -> bool {
    let Some(pending) = arriving.pending.clone() else {
        return true;
    };
    match pending.take() {
        None => return false,
        Some(Ok(found)) => {
            if found.len == 0 {
                arriving.there = None;
            }
            set_found(arriving, found);
            if let Stage::Accepted { .. } = arriving.stage {
                arriving.stage = Stage::Accepted {
                    awaiting_begin: arriving.offset > 0,
                };
            }
        }
        // Refused: what was kept could not be read (the peer was told).
        Some(Err(_)) => {
            arriving.stage = Stage::Dropped;
            arriving.kept = None;
        }
    }
    arriving.pending = None;
    true
}

/// Stops hashing for `arriving`, which the peer withdrew or cannot send any
/// more: unless the peer was answered already, it counts as an offer not
/// taken, whatever was kept of it staying as it was.
pub(super) fn withdrawn(arriving: &mut Arriving<'_>) {
    if let Some(pending) = &arriving.pending {
        pending.cancel();
        if !settle(arriving) {
            arriving.pending = None;
            arriving.stage = Stage::Asked;
        }
    }
}
