//! The user's commands about files: sending, answering offers, cancelling,
//! and what is kept of cut transfers.

use std::path::PathBuf;

use super::UserSide;
use crate::files::kept::Kept;
use crate::files::send::{OutgoingFile, SendError};
use crate::files::tree::FolderTree;
use crate::session::events::{Offered, ReceiveEvent, Reply, SendEvent};
use crate::session::outgoing::{Answer, Outgoing, Typed};
use crate::session::progress::{Cancelled, Direction};

impl UserSide<'_> {
    /// Answers an offer of the peer's that waits for the user.
    pub(super) fn decide(&mut self, id: Option<u64>, accept: bool) {
        let downloads = self.downloads;
        let fits = |needed, promised| match downloads.space() {
            Some(space) => space.check(needed, promised, downloads.path()),
            None => Ok(()),
        };
        match self.transfers.decide(id, accept, fits) {
            Ok(decision) => {
                let name = decision.name.as_str();
                let answer = if accept {
                    self.front.receive(ReceiveEvent::Accepted { name });
                    if let Some(size) = decision.checking_here {
                        let offered = Offered {
                            name,
                            size,
                            files: None,
                            from: None,
                        };
                        self.front.receive(ReceiveEvent::Checking(offered));
                    }
                    if decision.pending {
                        // Answered once what it resumes from is known.
                        return;
                    }
                    Answer::Accept {
                        id: decision.id,
                        offset: decision.offset,
                        prefix: decision.prefix,
                    }
                } else {
                    let to = self.transfers.counterpart();
                    self.front.receive(ReceiveEvent::DeclinedByUs { name, to });
                    Answer::Refused(decision.id, "declined".into())
                };
                self.queue(Outgoing::Typed(Typed::Reply(answer)));
            }
            Err(why) => self.front.reply(Reply::Undecided(&why)),
        }
    }

    /// Queues the files and folders `/send` named, in order; `sending` says
    /// whether others go out before them. Their last lines are said in the
    /// same order.
    pub(super) fn send_paths(&mut self, paths: Vec<PathBuf>, sending: bool) {
        let front = self.front;
        let mut queued = Vec::new();
        for path in paths {
            match OutgoingFile::open(&path) {
                Err(SendError::IsDirectory) if self.caps.folders => {
                    queued.extend(self.send_folder(&path));
                }
                Ok(file) => {
                    let id = self
                        .transfers
                        .enqueue(Direction::Send, file.name(), file.size());
                    if sending {
                        let (name, size) = (file.name().to_string(), file.size());
                        front.sending(&SendEvent::Queued { name, size });
                    }
                    self.queue(Outgoing::File(file, id));
                    queued.push(id);
                }
                Err(SendError::IsDirectory) => front.sending(&SendEvent::NoFolders { path }),
                Err(why) => front.sending(&SendEvent::CannotSend { path, why }),
            }
        }
        self.transfers.in_order(&queued);
    }

    /// Queues a folder, after saying what of it will not go; returns its
    /// id in the transfer list.
    fn send_folder(&mut self, path: &std::path::Path) -> Option<u64> {
        let tree = match FolderTree::walk(path) {
            Ok(tree) => tree,
            Err(e) => {
                let (path, why) = (path.to_path_buf(), SendError::from(e));
                self.front.sending(&SendEvent::CannotSend { path, why });
                return None;
            }
        };
        for skipped in &tree.skipped {
            self.front.sending(&SendEvent::NotSending {
                folder: tree.name.clone(),
                skipped: skipped.clone(),
            });
        }
        let id = self
            .transfers
            .enqueue(Direction::Send, &tree.name, tree.bytes);
        self.transfers.count_files(id, tree.files);
        self.queue(Outgoing::Folder(tree, id));
        Some(id)
    }

    /// Stops the transfer `id`, or the only one: one of ours is stopped by
    /// the writer; one of the peer's is declined or refused.
    pub(super) fn cancel(&mut self, id: Option<u64>) {
        match self.transfers.cancel(id) {
            Ok(Cancelled::Ours { id, .. }) => self.queue(Outgoing::Typed(Typed::Cancel(id))),
            // Still only offered: a decline.
            Ok(Cancelled::Theirs {
                id,
                name,
                offered: true,
            }) => {
                let to = self.transfers.counterpart();
                self.front
                    .receive(ReceiveEvent::DeclinedByUs { name: &name, to });
                self.queue(Outgoing::Typed(Typed::Reply(Answer::Refused(
                    id,
                    "declined".into(),
                ))));
            }
            Ok(Cancelled::Theirs { id, name, .. }) => {
                self.front
                    .receive(ReceiveEvent::CancelledByUs { name: &name });
                let why = "cancelled by the receiver".to_string();
                self.queue(Outgoing::Typed(Typed::Reply(Answer::Refused(id, why))));
            }
            Err(why) => self.front.reply(Reply::NotCancelled(&why)),
        }
    }

    /// Removes what is kept of cut transfers, and says how much that freed.
    pub(super) fn discard_kept(&self) {
        let discarded = Kept::of(self.downloads).discard(false);
        self.front.reply(Reply::Discarded(discarded.as_ref()));
    }

    /// Lists what is kept of cut transfers.
    pub(super) fn show_kept(&self) {
        for item in Kept::of(self.downloads).list() {
            self.front.reply(Reply::Kept(&item));
        }
    }
}
