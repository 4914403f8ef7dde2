//! The peer's answers about files and folders of ours, saved or refused,
//! and the last word said on each.

use super::{Owner, Writer, file};
use crate::session::events::SendEvent;
use crate::session::outgoing::WriteError;
use crate::wire::message::{FileId, Message};

/// A file sent whole, waiting for the peer to say it saved it.
pub(super) struct Unconfirmed<'a> {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) owner: Owner<'a>,
    /// Whether the peer had all of it already: no byte of it travelled.
    pub(super) had_it: bool,
}

impl<'a> Writer<'a> {
    /// The peer's answer about a file or folder of ours.
    pub(super) fn settle(&mut self, id: FileId, refusal: Option<String>) -> Result<(), WriteError> {
        let to = self.transfers.counterpart();
        if let Some(unconfirmed) = self.unconfirmed.remove(&id) {
            let (name, size) = (&unconfirmed.name, unconfirmed.size);
            return match unconfirmed.owner {
                Owner::Lone(meter, transfer) => {
                    let through = refusal.is_none();
                    let said = match (refusal, meter.summary()) {
                        (None, _) if unconfirmed.had_it => SendEvent::AlreadyThere {
                            name: name.clone(),
                            to,
                        },
                        (None, summary) => SendEvent::Sent {
                            name: name.clone(),
                            size,
                            summary,
                        },
                        (Some(reason), _) => SendEvent::NotSaved {
                            what: file(name),
                            to,
                            reason,
                        },
                    };
                    // Off the list before the user reads that it is done.
                    drop(meter);
                    self.say(transfer, vec![said], through);
                    Ok(())
                }
                Owner::Entry(folder) => {
                    let outcome = match refusal {
                        None => Ok(size),
                        Some(_) => Err(name.clone()),
                    };
                    self.entry_done(folder, outcome)
                }
            };
        }
        if let Some(folder) = self.folders.remove(&id) {
            return self.settle_folder(id, folder, refusal);
        }
        // A refusal can come before the file is accepted (declined, no
        // room) or while it is being sent (disk full, cancelled there):
        // sending the rest is of no use.
        let Some(reason) = refusal else {
            return Ok(());
        };
        let (file, owner) = if let Some(offered) = self.offered.remove(&id) {
            (offered.file, offered.owner)
        } else if let Some(at) = self.active.iter().position(|s| s.id == id) {
            let sending = self.active.remove(at).expect("position is in range");
            (sending.file, sending.owner)
        } else {
            // An answer about no file of ours: nothing to do.
            return Ok(());
        };
        self.send(&Message::Cancel { id })?;
        match owner {
            Owner::Lone(_, transfer) => {
                let what = self::file(file.name());
                let said = SendEvent::NotSaved { what, to, reason };
                self.say(transfer, vec![said], false);
                self.start_waiting()
            }
            Owner::Entry(folder) => self.entry_done(folder, Err(file.name().to_string())),
        }
    }

    /// Says the last lines on `transfer`: lines of success wait for the
    /// transfers its `/send` named before it that are still on their way
    /// (`through`); others are news at once.
    pub(super) fn say(&mut self, transfer: u64, lines: Vec<SendEvent>, through: bool) {
        let Writer {
            reports,
            active,
            unconfirmed,
            folders,
            transfers,
            front,
            ..
        } = self;
        let lone = |owner: &Owner<'_>, t| matches!(owner, Owner::Lone(_, of) if *of == t);
        let on_its_way = |t| {
            active.iter().any(|s| lone(&s.owner, t))
                || unconfirmed.values().any(|u| lone(&u.owner, t))
                || folders.values().any(|f| f.transfer == t && f.accepted)
        };
        reports.say(transfer, lines, through, on_its_way, transfers, *front);
    }
}
