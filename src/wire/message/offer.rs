//! Offers of files and folders, what a folder holds, and those a room
//! passes on from a member.

use super::fields::{counted, cut, id, key_field, put_counted, text, u64_field};
use super::{ENTRY, FOLDER, Message, MessageError, OFFER, PASSED, PASSED_FOLDER, SUBFOLDER};
use crate::wire::limits::{MAX_FILE_NAME, MAX_NAME, MAX_PATH};

impl<'a> Message<'a> {
    /// Reads an offer of type `kind`: a file or folder, a folder's entry or
    /// subfolder, or one passed on in a room.
    pub(super) fn decode_offer(kind: u8, body: &'a [u8]) -> Result<Self, MessageError> {
        Ok(match kind {
            OFFER => {
                let (id, rest) = id("offer", body)?;
                let (size, name) = rest
                    .split_at_checked(8)
                    .ok_or(MessageError::BadLength("offer"))?;
                Self::Offer {
                    id,
                    size: u64::from_be_bytes(size.try_into().expect("8 bytes")),
                    name: text("offer", name, 1, MAX_FILE_NAME)?,
                }
            }
            FOLDER => {
                let (id, rest) = id("folder", body)?;
                let (files, rest) = u64_field("folder", rest)?;
                let (bytes, name) = u64_field("folder", rest)?;
                Self::Folder {
                    id,
                    files,
                    bytes,
                    name: text("folder", name, 1, MAX_FILE_NAME)?,
                }
            }
            ENTRY => {
                let (id, rest) = id("entry", body)?;
                let (folder, rest) = self::id("entry", rest)?;
                let (size, path) = u64_field("entry", rest)?;
                Self::Entry {
                    id,
                    folder,
                    size,
                    path: text("entry", path, 1, MAX_PATH)?,
                }
            }
            SUBFOLDER => {
                let (folder, path) = id("subfolder", body)?;
                Self::Subfolder {
                    folder,
                    path: text("subfolder", path, 1, MAX_PATH)?,
                }
            }
            PASSED_FOLDER => {
                let (id, rest) = id("passed folder", body)?;
                let (files, rest) = u64_field("passed folder", rest)?;
                let (bytes, rest) = u64_field("passed folder", rest)?;
                let (from, rest) = counted("passed folder", rest, 1, MAX_NAME)?;
                let (from_key, name) = key_field("passed folder", rest)?;
                Self::PassedFolder {
                    id,
                    files,
                    bytes,
                    from,
                    from_key,
                    name: text("passed folder", name, 1, MAX_FILE_NAME)?,
                }
            }
            PASSED => {
                let (id, rest) = id("passed", body)?;
                let (size, rest) = u64_field("passed", rest)?;
                let (from, rest) = counted("passed", rest, 1, MAX_NAME)?;
                let (from_key, name) = key_field("passed", rest)?;
                Self::Passed {
                    id,
                    size,
                    from,
                    from_key,
                    name: text("passed", name, 1, MAX_FILE_NAME)?,
                }
            }
            other => return Err(MessageError::UnknownType(other)),
        })
    }

    /// [`Message::encode`] for offers of files and folders and what they
    /// hold, and those passed on in a room.
    pub(super) fn encode_offer(&self, out: &mut Vec<u8>) {
        match self {
            Self::Offer { id, size, name } => {
                out.push(OFFER);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(cut(name, MAX_FILE_NAME).as_bytes());
            }
            Self::Folder {
                id,
                files,
                bytes,
                name,
            } => {
                out.push(FOLDER);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&files.to_be_bytes());
                out.extend_from_slice(&bytes.to_be_bytes());
                out.extend_from_slice(cut(name, MAX_FILE_NAME).as_bytes());
            }
            Self::Entry {
                id,
                folder,
                size,
                path,
            } => {
                out.push(ENTRY);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&folder.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(cut(path, MAX_PATH).as_bytes());
            }
            Self::Subfolder { folder, path } => {
                out.push(SUBFOLDER);
                out.extend_from_slice(&folder.to_be_bytes());
                out.extend_from_slice(cut(path, MAX_PATH).as_bytes());
            }
            Self::PassedFolder {
                id,
                files,
                bytes,
                from,
                from_key,
                name,
            } => {
                out.push(PASSED_FOLDER);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&files.to_be_bytes());
                out.extend_from_slice(&bytes.to_be_bytes());
                put_counted(out, from, MAX_NAME);
                out.extend_from_slice(from_key);
                out.extend_from_slice(cut(name, MAX_FILE_NAME).as_bytes());
            }
            Self::Passed {
                id,
                size,
                from,
                from_key,
                name,
            } => {
                out.push(PASSED);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                put_counted(out, from, MAX_NAME);
                out.extend_from_slice(from_key);
                out.extend_from_slice(cut(name, MAX_FILE_NAME).as_bytes());
            }
            // (`encode` hands over the messages above only.)
            _ => {}
        }
    }
}
