//! Reading the peer's records, and acting on the message each carries:
//! its name first, then talk, news of a room, and files.

use super::{Breach, Reader};
use crate::net::secure::record::RecordError;
use crate::protocol::{Messages, NoHello};
use crate::session::acquaintance::{Introduced, Standing, TrustError};
use crate::session::events::{ChatEvent, Reply};
use crate::session::outgoing::{Outgoing, Typed};
use crate::wire::message::Message;

impl<'a> Reader<'a> {
    pub(super) fn read(&mut self, mut messages: Messages) -> Result<(), Breach> {
        self.peer = match messages.hello(None) {
            Ok(name) => Some(self.introduced(name)),
            Err(NoHello::Left) => return Ok(()),
            Err(NoHello::Unreadable(e)) => return Err(Breach::Record(e)),
            Err(NoHello::Malformed(e)) => return Err(e.into()),
            Err(NoHello::NotHello) => {
                return Err(Breach::Protocol(
                    "the peer did not say its name first".into(),
                ));
            }
            Err(NoHello::Name(why)) => {
                return Err(Breach::Protocol(format!(
                    "the peer's name is refused: {why}"
                )));
            }
        };
        loop {
            let Some((message, more_coming)) = messages.next_message()? else {
                return Ok(());
            };
            let text = matches!(message, Message::Text(_) | Message::Said { .. });
            if self.holding && !text {
                self.front.flush();
            }
            self.holding = text && more_coming;
            self.act(message, more_coming)?;
            if let Some(limit) = self.new_read_timeout.take() {
                messages
                    .expect_within(Some(limit))
                    .map_err(|e| Breach::Record(RecordError::Io(e)))?;
            }
        }
    }

    /// The peer said its name: one passing for a contact is warned of.
    /// Gives the name its lines are shown under: a contact's as the user
    /// calls it, and one passing for a contact marked with a `?`.
    fn introduced(&self, name: String) -> String {
        let Some(acquaintance) = self.acquaintance else {
            return name;
        };
        let today = chrono::Local::now().format("%Y-%m-%d").to_string();
        match acquaintance.named(&name, &today) {
            Ok(Introduced::AsBefore) => {}
            Ok(Introduced::Passing(contacts)) => {
                self.front.chat(ChatEvent::PassingFor {
                    name: &name,
                    contacts: &contacts,
                    code: acquaintance.safety_code(),
                });
                return format!("{name}?");
            }
            Ok(Introduced::Trusted(trusted)) => self.front.reply(Reply::Trusted(&trusted)),
            Err(TrustError::Contacts(e)) => self.front.chat(ChatEvent::ContactsTrouble(&e)),
            Err(e) => self.front.reply(Reply::NotTrusted(&e)),
        }
        match acquaintance.standing() {
            Standing::Contact(contact) => contact.name,
            _ => name,
        }
    }

    fn act(&mut self, message: Message<'_>, more_coming: bool) -> Result<(), Breach> {
        if let Message::Room { keepalive, members } = message {
            return self.joined_room(keepalive, members);
        }
        self.said_anything = true;
        match message {
            Message::Hello { .. } => {
                return Err(Breach::Protocol("the peer said its name twice".into()));
            }
            // (Taken above, where a late one is refused.)
            Message::Room { .. } => {}
            Message::Said { name, text } => self.said(name, text, more_coming)?,
            Message::Whisper { name, text } => self.whispered(name, text)?,
            Message::Whispered { name, text } => self.whisper_went(name, text)?,
            Message::Presence {
                change,
                name,
                reason,
            } => self.presence(change, name, reason)?,
            Message::Members(list) => self.members(list)?,
            Message::Unwelcome { reason } => {
                // It also goes to stderr, where nothing else makes it safe.
                let reason = crate::wire::sanitize::for_terminal(reason.as_bytes());
                return Err(Breach::Unwelcome(reason.into_owned()));
            }
            Message::Ping => self.pinged(),
            Message::Pong => {}
            Message::Notice { text } => self.notice(text)?,
            Message::Lost { id } => {
                if self.room.is_none() {
                    return Err(Breach::Protocol(
                        "the peer said a sender left, outside a room".into(),
                    ));
                }
                self.lost(id)?;
            }
            Message::Who => {
                return Err(Breach::Protocol(
                    "the peer asked who is in a room we do not host".into(),
                ));
            }
            Message::Text(text) => {
                let peer = self.peer.as_deref().unwrap_or_default();
                self.front.chat(ChatEvent::PeerSaid {
                    name: peer,
                    text,
                    more_coming,
                });
            }
            file @ (Message::Offer { .. }
            | Message::Passed { .. }
            | Message::Folder { .. }
            | Message::PassedFolder { .. }
            | Message::Entry { .. }
            | Message::Subfolder { .. }
            | Message::Begin { .. }
            | Message::Chunk { .. }
            | Message::End { .. }
            | Message::Cancel { .. }
            | Message::Saved { .. }
            | Message::Refused { .. }
            | Message::Accept { .. }) => self.act_on_file(file)?,
        }
        Ok(())
    }

    /// Acts on a message about files: offers, their bytes, their answers.
    fn act_on_file(&mut self, message: Message<'_>) -> Result<(), Breach> {
        match message {
            Message::Offer { id, size, name } => self.offer(id, size, name, None)?,
            Message::Passed {
                id,
                size,
                from,
                from_key,
                name,
            } => {
                self.in_room("file", from)?;
                self.offer(id, size, name, Some((from, from_key)))?;
            }
            Message::Folder {
                id,
                files,
                bytes,
                name,
            } => self.folder(id, files, bytes, name, None)?,
            Message::PassedFolder {
                id,
                files,
                bytes,
                from,
                from_key,
                name,
            } => {
                self.in_room("folder", from)?;
                self.folder(id, files, bytes, name, Some((from, from_key)))?;
            }
            Message::Entry {
                id,
                folder,
                size,
                path,
            } => self.entry(id, folder, size, path)?,
            Message::Subfolder { folder, path } => self.subfolder(folder, path)?,
            Message::Begin { id, offset } => self.begin(id, offset)?,
            Message::Chunk { id, data } => self.chunk(id, data)?,
            Message::End { id, hash } => self.end(id, &hash)?,
            Message::Cancel { id } => self.cancelled(id)?,
            Message::Saved { id } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Settled {
                    id,
                    refusal: None,
                    ticket,
                })
            }),
            Message::Refused { id, reason } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Settled {
                    id,
                    refusal: Some(reason.to_string()),
                    ticket,
                })
            }),
            Message::Accept { id, offset, prefix } => self.tell_writer(|ticket| {
                Outgoing::Typed(Typed::Accepted {
                    id,
                    offset,
                    prefix,
                    ticket,
                })
            }),
            // (`act` hands over the messages above only.)
            _ => {}
        }
        Ok(())
    }
}
