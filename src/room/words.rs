//! What the room says to its members, in the form each one's wire takes:
//! typed messages on the encrypted wire, `[NAME] text` lines on the
//! original one (where what only typed messages can say is left out).

use std::sync::Arc;

use super::plain;
use crate::engine::members;
use crate::wire::message::{Change, Message};

pub enum Words<'a> {
    /// A member's message to the room; the host's own goes as a plain Text
    /// on the encrypted wire, since the host is every member's peer.
    Said {
        name: &'a str,
        text: &'a str,
        by_host: bool,
    },
    Presence {
        change: Change,
        name: &'a str,
        reason: &'a str,
    },
    /// A private message from `name`.
    Whisper { name: &'a str, text: &'a str },
    /// The room's word to one member, or news for all.
    Notice(&'a str),
    /// A typed message, for the encrypted wire only.
    Typed(Message<'a>),
}

impl Words<'_> {
    /// The bytes for a member on the encrypted wire (`sealed`) or the
    /// original one; `None` when there is nothing to say there.
    pub fn encode(&self, sealed: bool) -> Option<Arc<[u8]>> {
        if sealed {
            let message = match *self {
                Self::Said {
                    text,
                    by_host: true,
                    ..
                } => Message::Text(text),
                Self::Said { name, text, .. } => Message::Said { name, text },
                Self::Presence {
                    change,
                    name,
                    reason,
                } => Message::Presence {
                    change,
                    name,
                    reason,
                },
                Self::Whisper { name, text } => Message::Whisper { name, text },
                Self::Notice(text) => Message::Notice { text },
                Self::Typed(ref message) => message.clone(),
            };
            let mut bytes = Vec::new();
            message.encode(&mut bytes);
            return Some(Arc::from(bytes));
        }
        let bytes = match *self {
            Self::Said { name, text, .. } => plain::message(name, text),
            Self::Presence {
                change,
                name,
                reason,
            } => plain::system(&members::presence_line(change, name, reason)),
            Self::Whisper { name, text } => plain::whisper(name, text),
            Self::Notice(text) => plain::system(&format!("Room: {}.", text.trim_end_matches('.'))),
            Self::Typed(_) => return None,
        };
        Some(Arc::from(bytes))
    }
}

/// Each form of some words, made once however many members get them.
pub struct Forms<'w, 'a> {
    words: &'w Words<'a>,
    sealed: Option<Option<Arc<[u8]>>>,
    plain: Option<Option<Arc<[u8]>>>,
}

impl<'w, 'a> Forms<'w, 'a> {
    pub fn of(words: &'w Words<'a>) -> Self {
        Self {
            words,
            sealed: None,
            plain: None,
        }
    }

    pub fn get(&mut self, sealed: bool) -> Option<Arc<[u8]>> {
        let slot = if sealed {
            &mut self.sealed
        } else {
            &mut self.plain
        };
        slot.get_or_insert_with(|| self.words.encode(sealed))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wire_gets_its_own_form() {
        let said = Words::Said {
            name: "I056",
            text: "hi",
            by_host: false,
        };
        assert_eq!(&*said.encode(false).unwrap(), b"[I056] hi\n");
        let sealed = said.encode(true).unwrap();
        assert_eq!(
            Message::decode(&sealed).unwrap(),
            Message::Said {
                name: "I056",
                text: "hi"
            }
        );
        let gone = Words::Presence {
            change: Change::Left,
            name: "I056",
            reason: "",
        };
        assert_eq!(
            &*gone.encode(false).unwrap(),
            b"[System] I056 left the room.\n"
        );
        assert!(Words::Typed(Message::Ping).encode(false).is_none());
    }
}
