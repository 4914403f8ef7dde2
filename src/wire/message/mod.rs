//! Typed messages, the conversation inside the encrypted channel: one
//! message per record, its first byte saying its type.
//!
//! The types, their fields and their limits are the table of PROTOCOL.md
//! §3.4, which is the one specification; the rules for what may follow
//! what are §3.5 (a conversation) and §3.8 (a room). Each type's encoding
//! is in the submodule named after its part of the protocol.
//!
//! Integers are big-endian. Leaving is not a message: it is the channel's
//! closing record. Decoding borrows from the record and never allocates.

mod fields;
mod members;
mod offer;
mod room;
mod transfer;

use thiserror::Error;

use crate::wire::limits::{MAX_NAME, MAX_TEXT};
use fields::{cut, text};

pub use members::{Change, Member, MemberList};
pub use transfer::chunk_header;

/// Bytes of a chunk message before its data.
pub const CHUNK_HEADER: usize = 5;

/// The offset of an Accept for a folder that says the receiver holds
/// nothing of it: the sender may send each file's bytes right after its
/// Entry, without waiting for its Accept (PROTOCOL.md 3.5, rule 5).
pub const FOLDER_STREAMED: u64 = 1;

const HELLO: u8 = 1;
const TEXT: u8 = 2;
const OFFER: u8 = 3;
const CHUNK: u8 = 4;
const END: u8 = 5;
const SAVED: u8 = 6;
const REFUSED: u8 = 7;
const CANCEL: u8 = 8;
const ACCEPT: u8 = 9;
const BEGIN: u8 = 10;
const FOLDER: u8 = 11;
const ENTRY: u8 = 12;
const SUBFOLDER: u8 = 13;
const ROOM: u8 = 14;
const SAID: u8 = 15;
const WHISPER: u8 = 16;
const PRESENCE: u8 = 17;
const WHO: u8 = 18;
const MEMBERS: u8 = 19;
const UNWELCOME: u8 = 20;
const PING: u8 = 21;
const PONG: u8 = 22;
const NOTICE: u8 = 23;
const PASSED: u8 = 24;
const PASSED_FOLDER: u8 = 25;
const LOST: u8 = 26;
const WHISPERED: u8 = 27;

/// A file's number in one direction of one conversation, chosen by its
/// sender.
pub type FileId = u32;

/// One typed message, borrowing from the record it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Hello {
        name: &'a str,
    },
    Text(&'a str),
    Offer {
        id: FileId,
        size: u64,
        name: &'a str,
    },
    Chunk {
        id: FileId,
        data: &'a [u8],
    },
    End {
        id: FileId,
        hash: [u8; 32],
    },
    Saved {
        id: FileId,
    },
    Refused {
        id: FileId,
        reason: &'a str,
    },
    Cancel {
        id: FileId,
    },
    /// The receiver takes the file or folder `id`. For a file, it holds its
    /// first `offset` bytes already (kept from a transfer that was cut),
    /// whose BLAKE3 hash is `prefix`: the sender sends the rest if its own
    /// first bytes hash the same, and the whole file otherwise.
    Accept {
        id: FileId,
        offset: u64,
        prefix: [u8; 32],
    },
    /// The sender's answer to an Accept with an offset: its chunks start at
    /// `offset`, the one accepted or 0.
    Begin {
        id: FileId,
        offset: u64,
    },
    /// A folder offered whole: `files` files of `bytes` bytes in all follow
    /// as entries once it is accepted.
    Folder {
        id: FileId,
        files: u64,
        bytes: u64,
        name: &'a str,
    },
    /// A file inside the folder `folder`, at `path` ('/'-separated) below
    /// it; it then goes like an offered file.
    Entry {
        id: FileId,
        folder: FileId,
        size: u64,
        path: &'a str,
    },
    /// A folder inside the folder `folder`, made even when empty.
    Subfolder {
        folder: FileId,
        path: &'a str,
    },
    /// Sent by a room's host right after its Hello: this is a room of
    /// `members` people besides us, and the host pings every `keepalive`
    /// seconds, so silence for a few times that means the host is gone.
    Room {
        keepalive: u16,
        members: u16,
    },
    /// From a room's host: `name`'s message to the room.
    Said {
        name: &'a str,
        text: &'a str,
    },
    /// A private message: to a room's host, for `name`; from it, by `name`.
    Whisper {
        name: &'a str,
        text: &'a str,
    },
    /// From a room's host: our private message went to `name` (one to
    /// nobody gets a Notice instead).
    Whispered {
        name: &'a str,
        text: &'a str,
    },
    /// From a room's host: `name` came or went.
    Presence {
        change: Change,
        name: &'a str,
        reason: &'a str,
    },
    /// To a room's host: who is in the room?
    Who,
    /// From a room's host: who is in the room.
    Members(MemberList<'a>),
    /// From a room's host, instead of Room: we are not let in, and why.
    Unwelcome {
        reason: &'a str,
    },
    Ping,
    Pong,
    /// From a room's host: something about us (we are sending too fast,
    /// the member we wrote to is not there).
    Notice {
        text: &'a str,
    },
    /// From a room's host: member `from` offers the file `name` to the
    /// room; it then goes as an offered file does. `from_key` is the
    /// identity the member proved to the host (all zeros for none), which
    /// what is kept of the file belongs to.
    Passed {
        id: FileId,
        size: u64,
        from: &'a str,
        from_key: [u8; 32],
        name: &'a str,
    },
    /// From a room's host: the member sending the file or folder `id` left
    /// the room before its end; what arrived of it is kept, as when a
    /// connection is cut.
    Lost {
        id: FileId,
    },
    /// From a room's host: member `from` offers the folder `name` to the
    /// room; it then goes as an offered folder does.
    PassedFolder {
        id: FileId,
        files: u64,
        bytes: u64,
        from: &'a str,
        from_key: [u8; 32],
        name: &'a str,
    },
}

/// Why a record is not a message; the peer does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("an empty message")]
    Empty,
    #[error("a message of unknown type {0}")]
    UnknownType(u8),
    #[error("a {0} message of the wrong length")]
    BadLength(&'static str),
    #[error("a {0} message whose text is not UTF-8")]
    NotUtf8(&'static str),
}

/// Why a peer's first message is not the Hello it must be (PROTOCOL.md
/// 3.5, 3.6): each side words it for its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloError {
    /// Something else came first.
    NotHello,
    /// The name breaks the rules for names, as this says.
    Name(String),
}

impl<'a> Message<'a> {
    /// The name a peer's first message gives, if it is a Hello with a name
    /// the rules allow (made canonical).
    pub fn hello_name(&self) -> Result<String, HelloError> {
        match self {
            Self::Hello { name } => crate::wire::name::parse(name).map_err(HelloError::Name),
            _ => Err(HelloError::NotHello),
        }
    }

    /// Reads the message a record carries.
    pub fn decode(record: &'a [u8]) -> Result<Self, MessageError> {
        let (&kind, body) = record.split_first().ok_or(MessageError::Empty)?;
        Ok(match kind {
            HELLO => Self::Hello {
                name: text("hello", body, 1, MAX_NAME)?,
            },
            TEXT => Self::Text(text("text", body, 0, MAX_TEXT)?),
            ROOM | SAID | WHISPER | WHISPERED | PRESENCE | WHO | MEMBERS | UNWELCOME | PING
            | PONG | NOTICE | LOST => Self::decode_room(kind, body)?,
            _ => Self::decode_file(kind, body)?,
        })
    }

    /// Appends the message's bytes to `out`. Fields over their limits are
    /// cut to fit (at a character boundary), so what is sent always decodes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Hello { name } => {
                out.push(HELLO);
                out.extend_from_slice(cut(name, MAX_NAME).as_bytes());
            }
            Self::Text(text) => {
                out.push(TEXT);
                out.extend_from_slice(cut(text, MAX_TEXT).as_bytes());
            }
            Self::Room { .. }
            | Self::Said { .. }
            | Self::Whisper { .. }
            | Self::Whispered { .. }
            | Self::Presence { .. }
            | Self::Who
            | Self::Members(..)
            | Self::Unwelcome { .. }
            | Self::Ping
            | Self::Pong
            | Self::Notice { .. }
            | Self::Lost { .. } => self.encode_room(out),
            Self::Offer { .. }
            | Self::Folder { .. }
            | Self::Entry { .. }
            | Self::Subfolder { .. }
            | Self::Passed { .. }
            | Self::PassedFolder { .. } => self.encode_offer(out),
            Self::Chunk { .. }
            | Self::End { .. }
            | Self::Saved { .. }
            | Self::Refused { .. }
            | Self::Cancel { .. }
            | Self::Accept { .. }
            | Self::Begin { .. } => self.encode_file(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(super) fn round_trip(message: Message<'_>) {
        let mut bytes = Vec::new();
        message.encode(&mut bytes);
        assert_eq!(Message::decode(&bytes).unwrap(), message);
    }

    #[test]
    fn every_message_type_round_trips() {
        round_trip(Message::Hello { name: "I049" });
        round_trip(Message::Text("hello, wörld"));
        round_trip(Message::Text(""));
        round_trip(Message::Offer {
            id: 7,
            size: u64::MAX,
            name: "notes.pdf",
        });
        round_trip(Message::Chunk {
            id: u32::MAX,
            data: &[0, 1, 2],
        });
        round_trip(Message::End {
            id: 1,
            hash: [9; 32],
        });
        round_trip(Message::Saved { id: 3 });
        round_trip(Message::Refused {
            id: 3,
            reason: "disk full",
        });
        round_trip(Message::Cancel { id: 4 });
        round_trip(Message::Accept {
            id: 5,
            offset: 1 << 40,
            prefix: [7; 32],
        });
        round_trip(Message::Begin { id: 5, offset: 0 });
        round_trip(Message::Folder {
            id: 6,
            files: 10_000,
            bytes: 40 << 20,
            name: "photos",
        });
        round_trip(Message::Entry {
            id: 7,
            folder: 6,
            size: 4096,
            path: "2024/.hidden/a b.jpg",
        });
        round_trip(Message::Subfolder {
            folder: 6,
            path: "empty/inside",
        });
        round_trip(Message::Room {
            keepalive: 15,
            members: 3,
        });
        round_trip(Message::Said {
            name: "I056",
            text: "hello, room",
        });
        round_trip(Message::Whisper {
            name: "I057",
            text: "",
        });
        round_trip(Message::Whispered {
            name: "I058",
            text: "only you",
        });
        round_trip(Message::Presence {
            change: Change::Dropped,
            name: "I058",
            reason: "it stopped reading",
        });
        round_trip(Message::Who);
        round_trip(Message::Unwelcome {
            reason: "the name I056 is taken",
        });
        round_trip(Message::Ping);
        round_trip(Message::Pong);
        round_trip(Message::Notice {
            text: "nobody called Bob is in the room",
        });
        round_trip(Message::Passed {
            id: 9,
            size: 1 << 30,
            from: "I056",
            from_key: [7; 32],
            name: "notes.pdf",
        });
        round_trip(Message::Lost { id: 11 });
        round_trip(Message::PassedFolder {
            id: 10,
            files: 3,
            bytes: 1 << 20,
            from: "I056",
            from_key: [0; 32],
            name: "album",
        });
    }

    #[test]
    fn malformed_messages_are_refused() {
        use MessageError::*;
        let table: &[(&[u8], MessageError)] = &[
            (b"", Empty),
            (b"\x00", UnknownType(0)),
            (b"\x1cx", UnknownType(28)),
            (b"\x1a\0\0\0\x01\0", BadLength("lost")),
            (b"\x19\0\0\0\x01", BadLength("passed folder")),
            (
                b"\x18\0\0\0\x01\0\0\0\0\0\0\0\x05\x01a",
                BadLength("passed"),
            ),
            (b"\x18\0\0\0\x01\0\0\0\0\0\0\0\x05\0ab", BadLength("passed")),
            (b"\x17", BadLength("notice")),
            (b"\x0e\0\x01\0", BadLength("room")),
            (b"\x0f\x05ab", BadLength("said")),
            (b"\x0f\0text", BadLength("said")),
            (b"\x10", BadLength("whisper")),
            (b"\x11\x04\x01a", BadLength("presence")),
            (b"\x12x", BadLength("who")),
            (b"\x13\0\0\0\x01\x01a\x05ab", BadLength("members")),
            (b"\x13\0\0\0", BadLength("members")),
            (b"\x14", BadLength("unwelcome")),
            (b"\x15\0", BadLength("ping")),
            (b"\x16\0", BadLength("pong")),
            (b"\x09\0\0\0\x01\0\0\0\0\0\0\0\0", BadLength("accept")),
            (b"\x0a\0\0\0\x01\0\0\0\0\0\0\0\0\0", BadLength("begin")),
            (b"\x0b\0\0\0\x01\0\0\0\0\0\0\0\0", BadLength("folder")),
            (
                b"\x0c\0\0\0\x01\0\0\0\x02\0\0\0\0\0\0\0\0",
                BadLength("entry"),
            ),
            (b"\x0d\0\0\0\x01", BadLength("subfolder")),
            (b"\x01", BadLength("hello")),
            (b"\x01\xff", NotUtf8("hello")),
            (b"\x02\xc3", NotUtf8("text")),
            (b"\x03\0\0\0\x01", BadLength("offer")),
            (b"\x03\0\0\0\x01\0\0\0\0\0\0\0\x05", BadLength("offer")),
            (b"\x04\0\0\0\x01", BadLength("chunk")),
            (b"\x04\0\0", BadLength("chunk")),
            (b"\x05\0\0\0\x01abc", BadLength("end")),
            (b"\x06\0\0\0\x01\0", BadLength("saved")),
            (b"\x08\0\0", BadLength("cancel")),
        ];
        for (bytes, error) in table {
            assert_eq!(Message::decode(bytes).as_ref(), Err(error), "{bytes:?}");
        }
        let long_name = [&[HELLO][..], &[b'a'; MAX_NAME + 1]].concat();
        assert_eq!(
            Message::decode(&long_name),
            Err(MessageError::BadLength("hello"))
        );
    }

    proptest! {
        /// Whatever a peer puts in a record decodes to a message or an
        /// error, and a message decoded re-encodes to the same bytes.
        #[test]
        fn any_record_decodes_without_panicking(record in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(message) = Message::decode(&record) {
                let mut again = Vec::new();
                message.encode(&mut again);
                prop_assert_eq!(again, record);
            }
        }

        #[test]
        fn chunks_and_texts_round_trip(id in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 1..3000), text in ".{0,200}") {
            round_trip(Message::Chunk { id, data: &data });
            round_trip(Message::Text(&text));
        }
    }
}
