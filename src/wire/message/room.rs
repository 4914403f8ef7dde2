//! A room's messages: what its host and members say and whisper, who
//! comes and goes, and the host's pings and notices.

use super::fields::{bare, bare_id, counted, cut, put_counted, text};
use super::{
    Change, LOST, MEMBERS, MemberList, Message, MessageError, NOTICE, PING, PONG, PRESENCE, ROOM,
    SAID, UNWELCOME, WHISPER, WHISPERED, WHO,
};
use crate::wire::limits::{MAX_NAME, MAX_REASON, MAX_TEXT};

impl<'a> Message<'a> {
    /// Reads a room's message of type `kind` (14–27, but for the files
    /// passed on).
    pub(super) fn decode_room(kind: u8, body: &'a [u8]) -> Result<Self, MessageError> {
        Ok(match kind {
            ROOM => match body {
                &[a, b, c, d] => Self::Room {
                    keepalive: u16::from_be_bytes([a, b]),
                    members: u16::from_be_bytes([c, d]),
                },
                _ => return Err(MessageError::BadLength("room")),
            },
            SAID => {
                let (name, text) = counted("said", body, 1, MAX_NAME)?;
                Self::Said {
                    name,
                    text: self::text("said", text, 0, MAX_TEXT)?,
                }
            }
            WHISPER => {
                let (name, text) = counted("whisper", body, 1, MAX_NAME)?;
                Self::Whisper {
                    name,
                    text: self::text("whisper", text, 0, MAX_TEXT)?,
                }
            }
            WHISPERED => {
                let (name, text) = counted("whispered", body, 1, MAX_NAME)?;
                Self::Whispered {
                    name,
                    text: self::text("whispered", text, 0, MAX_TEXT)?,
                }
            }
            PRESENCE => {
                let (&change, rest) = body
                    .split_first()
                    .ok_or(MessageError::BadLength("presence"))?;
                let change =
                    Change::from_byte(change).ok_or(MessageError::BadLength("presence"))?;
                let (name, reason) = counted("presence", rest, 1, MAX_NAME)?;
                Self::Presence {
                    change,
                    name,
                    reason: text("presence", reason, 0, MAX_REASON)?,
                }
            }
            WHO => bare("who", body, Self::Who)?,
            MEMBERS => Self::Members(MemberList::decode(body)?),
            UNWELCOME => Self::Unwelcome {
                reason: text("unwelcome", body, 1, MAX_REASON)?,
            },
            PING => bare("ping", body, Self::Ping)?,
            PONG => bare("pong", body, Self::Pong)?,
            NOTICE => Self::Notice {
                text: text("notice", body, 1, MAX_REASON)?,
            },
            LOST => Self::Lost {
                id: bare_id("lost", body)?,
            },
            other => return Err(MessageError::UnknownType(other)),
        })
    }

    /// [`Message::encode`] for a room's messages.
    pub(super) fn encode_room(&self, out: &mut Vec<u8>) {
        match self {
            Self::Room { keepalive, members } => {
                out.push(ROOM);
                out.extend_from_slice(&keepalive.to_be_bytes());
                out.extend_from_slice(&members.to_be_bytes());
            }
            Self::Said { name, text } => {
                out.push(SAID);
                put_counted(out, name, MAX_NAME);
                out.extend_from_slice(cut(text, MAX_TEXT).as_bytes());
            }
            Self::Whisper { name, text } => {
                out.push(WHISPER);
                put_counted(out, name, MAX_NAME);
                out.extend_from_slice(cut(text, MAX_TEXT).as_bytes());
            }
            Self::Whispered { name, text } => {
                out.push(WHISPERED);
                put_counted(out, name, MAX_NAME);
                out.extend_from_slice(cut(text, MAX_TEXT).as_bytes());
            }
            Self::Presence {
                change,
                name,
                reason,
            } => {
                out.push(PRESENCE);
                out.push(change.byte());
                put_counted(out, name, MAX_NAME);
                out.extend_from_slice(cut(reason, MAX_REASON).as_bytes());
            }
            Self::Who => out.push(WHO),
            Self::Members(list) => {
                out.push(MEMBERS);
                out.extend_from_slice(list.0);
            }
            Self::Unwelcome { reason } => {
                out.push(UNWELCOME);
                out.extend_from_slice(cut(reason, MAX_REASON).as_bytes());
            }
            Self::Ping => out.push(PING),
            Self::Pong => out.push(PONG),
            Self::Notice { text } => {
                out.push(NOTICE);
                out.extend_from_slice(cut(text, MAX_REASON).as_bytes());
            }
            Self::Lost { id } => {
                out.push(LOST);
                out.extend_from_slice(&id.to_be_bytes());
            }
            // (`encode` hands over the messages above only.)
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::Member;

    #[test]
    fn the_longest_room_message_fits_one_record() {
        let name = "n".repeat(MAX_NAME);
        let text = "t".repeat(MAX_TEXT);
        let mut bytes = Vec::new();
        Message::Said {
            name: &name,
            text: &text,
        }
        .encode(&mut bytes);
        assert!(bytes.len() <= crate::wire::limits::MAX_PLAINTEXT);
        let many = (0..2000).map(|_| Member {
            name: &name,
            address: "255.255.255.255:65535",
            seconds: 1,
        });
        let mut bytes = vec![MEMBERS];
        MemberList::encode(many, &mut bytes);
        assert!(bytes.len() <= crate::wire::limits::MAX_PLAINTEXT);
        assert!(Message::decode(&bytes).is_ok());
    }
}
