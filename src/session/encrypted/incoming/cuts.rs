//! How reading the peer ended: what was still arriving when the stream
//! was cut, and how the conversation ended.

use std::io;

use super::arriving::{Owner, Stage};
use super::resuming::withdrawn;
use super::{Breach, Reader};
use crate::files::receive::ReceiveError;
use crate::net::secure::record::Ending;
use crate::net::transport;
use crate::session::events::{ChatEvent, ReceiveEvent};
use crate::session::incoming::PeerEnd;
use crate::session::progress::{Meter, Verdict};
use crate::wire::frame;

impl Reader<'_> {
    /// The conversation is over: files whose offers were not answered yet
    /// (what is here of them still being hashed) were never taken.
    pub(super) fn forget_unanswered(&mut self) {
        for arriving in self.files.values_mut() {
            withdrawn(arriving);
        }
    }

    /// Says which files of their own that were arriving did not arrive
    /// whole; returns the first.
    fn report_cut_files(&mut self) -> Option<ReceiveError> {
        let mut first_cut = None;
        for arriving in std::mem::take(&mut self.files).into_values() {
            let Owner::Lone { transfer, .. } = arriving.owner else {
                continue;
            };
            let Some(kept) = arriving.kept else {
                continue;
            };
            if !matches!(arriving.stage, Stage::Accepted { .. }) {
                continue;
            }
            if self.transfers.verdict(transfer) == Verdict::Cancelled {
                kept.discard();
                continue;
            }
            if arriving.there.is_some() {
                // Taken for the file of its name here: no byte came yet.
                self.front.receive(ReceiveEvent::IncompleteUntouched {
                    name: &arriving.name,
                });
                first_cut.get_or_insert(ReceiveError::Incomplete {
                    received: 0,
                    expected: arriving.size,
                });
                continue;
            }
            let cut = ReceiveError::Incomplete {
                received: arriving.received,
                expected: arriving.size,
            };
            let (name, why) = (arriving.name.as_str(), &cut);
            self.front.receive(match kept.held() {
                0 => ReceiveEvent::Incomplete { name, why },
                _ => ReceiveEvent::IncompleteKept { name, why },
            });
            first_cut.get_or_insert(cut);
        }
        first_cut
    }

    /// Says which folders that were arriving did not arrive whole; returns
    /// the first.
    fn report_cut_folders(&mut self) -> Option<ReceiveError> {
        let mut first_cut = None;
        for folder in std::mem::take(&mut self.folders).into_values() {
            let Some(kept) = folder.kept else {
                continue;
            };
            if !matches!(folder.stage, Stage::Accepted { .. }) {
                continue;
            }
            if self.transfers.verdict(folder.transfer) == Verdict::Cancelled {
                kept.discard();
                continue;
            }
            let done = folder.meter.as_ref().map_or(0, Meter::done);
            let cut = ReceiveError::Incomplete {
                received: done,
                expected: folder.bytes,
            };
            self.front.receive(ReceiveEvent::FolderIncomplete {
                name: &folder.name,
                why: &cut,
                saved: folder.saved,
                files: folder.files,
                kept: kept.holds_a_file(),
            });
            first_cut.get_or_insert(cut);
        }
        first_cut
    }

    /// Says what of the peer's files did not arrive, and how the stream
    /// ended. What arrived of a file or folder accepted is kept, hidden,
    /// for sending it again to resume.
    pub(super) fn report_unfinished(&mut self, end: Result<(), Breach>) -> PeerEnd {
        // (Both are said, whichever was cut first.)
        let files_cut = self.report_cut_files();
        let folders_cut = self.report_cut_folders();
        let first_cut = files_cut.or(folders_cut);
        match end {
            Ok(()) => {
                // (A room's host hears its own room close as it leaves.)
                if let Some(peer) = self.peer.as_ref().filter(|_| !self.hosting) {
                    let line = format!("[{peer}] {}", frame::LEAVE_MESSAGE);
                    self.front.chat(ChatEvent::PeerLine {
                        raw: line.as_bytes(),
                        more_coming: false,
                    });
                }
                match first_cut {
                    Some(cut) => PeerEnd::Cut(cut),
                    None => PeerEnd::Left,
                }
            }
            Err(Breach::Record(e)) => match (e.ending(), self.room) {
                (Ending::Silent(_), Some(silence)) => PeerEnd::Lost(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the room's host was silent for {} s", silence.as_secs()),
                )),
                (Ending::Silent(e) | Ending::Lost(e), _) => PeerEnd::Lost(transport::in_words(e)),
                (Ending::Cut, _) => {
                    PeerEnd::Lost(io::Error::new(io::ErrorKind::UnexpectedEof, transport::CUT))
                }
                (Ending::Broken(e), _) => PeerEnd::Broken(e.to_string()),
            },
            Err(Breach::Unwelcome(why)) => PeerEnd::Unwelcome(why),
            Err(Breach::Protocol(why)) => {
                PeerEnd::Broken(format!("the peer broke the protocol: {why}"))
            }
        }
    }
}
