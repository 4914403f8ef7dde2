//! What did not reach the peer as the conversation ended: given up on
//! while leaving, its answers not coming, or cut short by a failure.

use std::time::Duration;

use super::chunks::Sending;
use super::queue::Queued;
use super::{Owner, Writer, file, folder_named};
use crate::session::events::{SendEvent, Undelivered};
use crate::session::outgoing::{self, Outgoing, Typed};

impl<'a> Writer<'a> {
    /// Leaving, with files and folders the peer has not answered for, and
    /// those queued behind them: said in the order they were sent.
    pub(super) fn give_up_on_answers(&mut self, patience: Duration) {
        self.reports.flush(self.front);
        let to = self.transfers.counterpart();
        let mut unanswered = Vec::new();
        for (id, offered) in self.offered.drain() {
            if let Owner::Lone(..) = offered.owner {
                unanswered.push((id, file(offered.file.name()), false));
            }
        }
        for (id, unconfirmed) in self.unconfirmed.drain() {
            if let Owner::Lone(..) = unconfirmed.owner {
                unanswered.push((id, file(&unconfirmed.name), true));
            }
        }
        for (id, folder) in self.folders.drain() {
            unanswered.push((id, folder_named(&folder.name), folder.accepted));
        }
        unanswered.sort_by_key(|(id, ..)| *id);
        for (_, what, accepted) in unanswered {
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::GaveUp {
                    what,
                    accepted,
                    to,
                    patience,
                }));
        }
        for queued in self.waiting.drain(..) {
            let name = queued.name().to_string();
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::QueuedBehind {
                    name,
                    to,
                }));
        }
    }

    pub(super) fn not_delivered(&self, sending: &Sending<'_>) {
        if let Owner::Lone(..) = sending.owner {
            let file = &sending.file;
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::NotDelivered {
                    name: file.name().to_string(),
                    done: sending.sent,
                    size: file.size(),
                }));
        }
    }

    /// After a failure: what was in flight, queued, or about to be queued.
    pub(super) fn lose(&mut self, outgoing: Outgoing) {
        match outgoing {
            Outgoing::Lines(lines, _) => self.lost_messages += outgoing::count_messages(&lines),
            Outgoing::Text(_) => self.lost_messages += 1,
            Outgoing::File(file, _) => self.waiting.push_back(Queued::File(file, 0)),
            Outgoing::Folder(folder, _) => self.waiting.push_back(Queued::Folder(folder, 0)),
            Outgoing::Typed(Typed::Whisper { .. }) => self.lost_messages += 1,
            // (Answers and requests are not messages of the user's.)
            Outgoing::Leave | Outgoing::Typed(_) => {}
        }
    }

    pub(super) fn report_lost(&mut self) {
        self.reports.flush(self.front);
        let to = self.transfers.counterpart();
        for sending in std::mem::take(&mut self.active) {
            self.not_delivered(&sending);
        }
        let unanswered = |name: &str, sent_whole| {
            SendEvent::Undelivered(Undelivered::NotAnswered {
                name: name.to_string(),
                to,
                sent_whole,
            })
        };
        for (_, offered) in self.offered.drain() {
            if let Owner::Lone(..) = offered.owner {
                self.front.sending(&unanswered(offered.file.name(), false));
            }
        }
        for (_, unconfirmed) in self.unconfirmed.drain() {
            if let Owner::Lone(..) = unconfirmed.owner {
                self.front.sending(&unanswered(&unconfirmed.name, true));
            }
        }
        for (_, folder) in self.folders.drain() {
            self.front.sending(&match folder.accepted {
                true => SendEvent::Undelivered(Undelivered::NotDelivered {
                    done: folder.meter.done(),
                    size: folder.bytes,
                    name: folder.name,
                }),
                false => unanswered(&folder.name, false),
            });
        }
        for queued in self.waiting.drain(..) {
            let name = queued.name().to_string();
            self.front
                .sending(&SendEvent::Undelivered(Undelivered::NotStarted { name }));
        }
        self.front
            .sending(&SendEvent::Undelivered(Undelivered::MessagesNotSent(
                self.lost_messages,
            )));
    }
}
