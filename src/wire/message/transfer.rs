//! A file's bytes and the answers about it: chunks, its end, and taking,
//! refusing, cancelling or resuming it.

use super::fields::{bare_id, cut, id, text, u64_field};
use super::{
    ACCEPT, BEGIN, CANCEL, CHUNK, CHUNK_HEADER, END, ENTRY, FOLDER, FileId, Message, MessageError,
    OFFER, PASSED, PASSED_FOLDER, REFUSED, SAVED, SUBFOLDER,
};
use crate::wire::limits::MAX_REASON;

impl<'a> Message<'a> {
    /// Reads a message about files of type `kind`, their bytes and their
    /// answers (or fails on a type that is none).
    pub(super) fn decode_file(kind: u8, body: &'a [u8]) -> Result<Self, MessageError> {
        Ok(match kind {
            CHUNK => {
                let (id, data) = id("chunk", body)?;
                if data.is_empty() {
                    return Err(MessageError::BadLength("chunk"));
                }
                Self::Chunk { id, data }
            }
            END => {
                let (id, hash) = id("end", body)?;
                let hash = hash
                    .try_into()
                    .map_err(|_| MessageError::BadLength("end"))?;
                Self::End { id, hash }
            }
            SAVED => Self::Saved {
                id: bare_id("saved", body)?,
            },
            REFUSED => {
                let (id, reason) = id("refused", body)?;
                Self::Refused {
                    id,
                    reason: text("refused", reason, 0, MAX_REASON)?,
                }
            }
            CANCEL => Self::Cancel {
                id: bare_id("cancel", body)?,
            },
            ACCEPT => {
                let (id, rest) = id("accept", body)?;
                let (offset, prefix) = u64_field("accept", rest)?;
                let prefix = prefix
                    .try_into()
                    .map_err(|_| MessageError::BadLength("accept"))?;
                Self::Accept { id, offset, prefix }
            }
            BEGIN => {
                let (id, rest) = id("begin", body)?;
                match u64_field("begin", rest)? {
                    (offset, []) => Self::Begin { id, offset },
                    _ => return Err(MessageError::BadLength("begin")),
                }
            }
            OFFER | FOLDER | ENTRY | SUBFOLDER | PASSED | PASSED_FOLDER => {
                Self::decode_offer(kind, body)?
            }
            other => return Err(MessageError::UnknownType(other)),
        })
    }

    /// [`Message::encode`] for a file's bytes and the answers about it.
    pub(super) fn encode_file(&self, out: &mut Vec<u8>) {
        match self {
            Self::Chunk { id, data } => {
                out.extend_from_slice(&chunk_header(*id));
                out.extend_from_slice(data);
            }
            Self::End { id, hash } => {
                out.push(END);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(hash);
            }
            Self::Saved { id } => {
                out.push(SAVED);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Self::Refused { id, reason } => {
                out.push(REFUSED);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(cut(reason, MAX_REASON).as_bytes());
            }
            Self::Cancel { id } => {
                out.push(CANCEL);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Self::Accept { id, offset, prefix } => {
                out.push(ACCEPT);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(prefix);
            }
            Self::Begin { id, offset } => {
                out.push(BEGIN);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
            }
            // (`encode` hands over the messages above only.)
            _ => {}
        }
    }
}

/// The start of a chunk message, for a sender that reads the file's bytes
/// straight in after it.
pub fn chunk_header(id: FileId) -> [u8; CHUNK_HEADER] {
    let [a, b, c, d] = id.to_be_bytes();
    [CHUNK, a, b, c, d]
}
