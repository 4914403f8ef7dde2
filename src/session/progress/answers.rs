//! The user's `/accept`, `/decline` and `/cancel` on the list: what they
//! act on, or why they cannot.

use super::{Cancelled, Decision, Direction, Transfers, Verdict, owed, promised_in};
use crate::files::space::Owed;

/// Why `/accept` or `/decline` answered no offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecided<E> {
    /// No offer waits for an answer.
    NoOffer,
    /// The offer named is not one waiting for an answer.
    NotWaiting(u64),
    /// Several wait, and none was named: these.
    Several { waiting: Vec<u64>, accepting: bool },
    /// Accepting the offer `id` would not fit beside what is promised,
    /// for the reason `why`: it stays waiting.
    DoesNotFit { id: u64, name: String, why: E },
}

/// Why `/cancel` stopped nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCancelled {
    /// No transfer is in progress or queued.
    NoTransfers,
    /// No transfer has this id.
    Unknown(u64),
    /// Several run, and none was named: these.
    Several(Vec<u64>),
}

impl Transfers {
    /// Accepts or declines the waiting offer `id`, or the only one when
    /// `id` is `None`. A declined offer leaves the list. Accepting asks
    /// `fits` whether what it still needs fits beside what is promised to
    /// others (both given, in that order); an offer that does not fit stays
    /// waiting, and the answer says why.
    pub fn decide<E>(
        &self,
        id: Option<u64>,
        accept: bool,
        fits: impl FnOnce(Owed, Owed) -> Result<(), E>,
    ) -> Result<Decision, Undecided<E>> {
        let mut entries = self.entries();
        let waiting: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.verdict == Verdict::Waiting && id.is_none_or(|id| e.id == id))
            .map(|(at, _)| at)
            .collect();
        let at = match (waiting.as_slice(), id) {
            ([at], _) => *at,
            ([], Some(id)) => return Err(Undecided::NotWaiting(id)),
            ([], None) => return Err(Undecided::NoOffer),
            (_, _) => {
                return Err(Undecided::Several {
                    waiting: waiting.iter().map(|&at| entries[at].id).collect(),
                    accepting: accept,
                });
            }
        };
        if accept {
            let entry = &entries[at];
            let needed = owed(entry);
            let (id, name) = (entry.id, entry.name.clone());
            fits(needed, promised_in(&entries, id)).map_err(|why| Undecided::DoesNotFit {
                id,
                name,
                why,
            })?;
        }
        let entry = &mut entries[at];
        let decision = Decision {
            id: entry.peer_id.unwrap_or_default(),
            name: entry.name.clone(),
            offset: entry.resume.0,
            prefix: entry.resume.1,
            pending: entry.hashing,
            checking_here: (entry.hashing && entry.compares_here).then_some(entry.size),
        };
        if accept {
            entry.verdict = Verdict::Accepted;
        } else {
            entry.verdict = Verdict::Declined;
            entries.remove(at);
        }
        Ok(decision)
    }

    /// Stops the transfer `id`, or the only one when `id` is `None`: one of
    /// ours is handed back for the writer to stop; one of the peer's leaves
    /// the list, and its reader drops what arrived.
    pub fn cancel(&self, id: Option<u64>) -> Result<Cancelled, NotCancelled> {
        let mut entries = self.entries();
        let at = match id {
            Some(id) => entries
                .iter()
                .position(|e| e.id == id)
                .ok_or(NotCancelled::Unknown(id))?,
            None => match entries.len() {
                0 => return Err(NotCancelled::NoTransfers),
                1 => 0,
                _ => {
                    return Err(NotCancelled::Several(
                        entries.iter().map(|e| e.id).collect(),
                    ));
                }
            },
        };
        let entry = &mut entries[at];
        Ok(match (entry.direction, entry.peer_id) {
            (Direction::Receive, Some(peer_id)) => {
                let name = entry.name.clone();
                let offered = entry.verdict == Verdict::Waiting;
                entries.remove(at);
                Cancelled::Theirs {
                    id: peer_id,
                    name,
                    offered,
                }
            }
            _ => Cancelled::Ours {
                id: entry.id,
                name: entry.name.clone(),
            },
        })
    }
}
