//! A member on the encrypted wire, on the host: its reader turns the
//! member's messages into what the host hears, and its writer sends what
//! the host queues for it as sealed records.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use super::door::Door;
use super::pace::Pace;
use super::queue::{self, Inbox, Piece};
use super::{FileNews, Gone, Heard};
use crate::net::secure::record::{Ending, RecordError, RecordReader, RecordWriter};
use crate::net::transport::{ReadHalf, WriteHalf};
use crate::permits::Permits;
use crate::room::roster::MemberId;
use crate::wire::limits::SILENT_INTERVALS;
use crate::wire::message::Message;

/// Reads an encrypted member's messages until its side ends.
pub fn read(
    records: &mut RecordReader<ReadHalf>,
    id: MemberId,
    permits: &Permits,
    door: &Door,
) -> Gone {
    let silence = door.keepalive * SILENT_INTERVALS;
    if let Err(e) = records.get_ref().set_read_timeout(Some(silence)) {
        return Gone::Lost(e.to_string());
    }
    let mut pace = Pace::new(id, &door.events, permits);
    loop {
        let record = match records.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => return Gone::Left,
            Err(e) => return unreadable(e, silence),
        };
        let heard = match Message::decode(record) {
            Ok(Message::Text(text)) => {
                pace.count(text.len());
                Heard::Text(text.to_string())
            }
            Ok(Message::Whisper { name, text }) => {
                pace.count(text.len());
                Heard::Whisper {
                    to: name.to_string(),
                    text: text.to_string(),
                }
            }
            Ok(Message::Who) => {
                pace.count(0);
                Heard::Who
            }
            Ok(Message::Chunk { id, data }) => {
                // Waits while the pieces already sent are on their way.
                let Some(permit) = permits.take() else {
                    return Gone::Left;
                };
                let piece = Arc::new(Piece::new(data.to_vec(), permit));
                Heard::File(FileNews::Piece { id, piece })
            }
            Ok(message) => match file_news(&message) {
                Some(news) => {
                    // A new transfer counts as a message; what carries one
                    // along has its own budget.
                    match news {
                        FileNews::Offer { ref name, .. } | FileNews::Folder { ref name, .. } => {
                            pace.count(name.len());
                        }
                        FileNews::Entry { ref path, .. } | FileNews::Subfolder { ref path, .. } => {
                            pace.count_transfer(path.len());
                        }
                        _ => pace.count_transfer(0),
                    }
                    Heard::File(news)
                }
                None if matches!(message, Message::Pong) => continue,
                None => {
                    return Gone::Broke(format!("it sent {} to the room", kind(&message)));
                }
            },
            Err(e) => return Gone::Broke(format!("it broke the protocol: {e}")),
        };
        if !pace.tell(heard) {
            return Gone::Left;
        }
    }
}

/// How a member whose records cannot be read on is gone; `silence` is how
/// long it may say nothing.
fn unreadable(e: RecordError, silence: Duration) -> Gone {
    match e.ending() {
        Ending::Silent(_) => Gone::Silent(silence),
        Ending::Lost(e) => Gone::Lost(e.to_string()),
        // Only the member's own end sends a FIN: its chat (or its machine)
        // closed without the goodbye, the network did not.
        Ending::Cut => Gone::Closed,
        Ending::Broken(e) => Gone::Broke(e.to_string()),
    }
}

/// What a message about a file says, owned, for the room.
fn file_news(message: &Message<'_>) -> Option<FileNews> {
    Some(match *message {
        Message::Offer { id, size, name } => FileNews::Offer {
            id,
            size,
            name: name.to_string(),
        },
        Message::Folder {
            id,
            files,
            bytes,
            name,
        } => FileNews::Folder {
            id,
            files,
            bytes,
            name: name.to_string(),
        },
        Message::Entry {
            id,
            folder,
            size,
            path,
        } => FileNews::Entry {
            id,
            folder,
            size,
            path: path.to_string(),
        },
        Message::Subfolder { folder, path } => FileNews::Subfolder {
            folder,
            path: path.to_string(),
        },
        Message::Begin { id, offset } => FileNews::Begin { id, offset },
        Message::End { id, hash } => FileNews::End { id, hash },
        Message::Cancel { id } => FileNews::Cancel { id },
        Message::Accept { id, offset, prefix } => FileNews::Accept { id, offset, prefix },
        Message::Saved { id } => FileNews::Saved { id },
        Message::Refused { id, reason } => FileNews::Refused {
            id,
            reason: reason.to_string(),
        },
        _ => return None,
    })
}

/// What a message that has no place going to a room's host is called.
fn kind(message: &Message<'_>) -> &'static str {
    match message {
        Message::Hello { .. } => "its name twice",
        _ => "a message only a host sends",
    }
}

/// Sends what the host queues for the member as records until the
/// goodbye, or until the queue closes. A write that cannot go on for
/// `stall` fails: the member stopped reading.
pub fn write(
    mut records: Box<RecordWriter<WriteHalf>>,
    inbox: &Inbox,
    stall: Duration,
) -> Result<(), io::Error> {
    records.get_ref().set_write_timeout(Some(stall))?;
    let result = queue::drain(inbox, &mut *records, true, |records, bytes| {
        records.send(bytes)
    });
    match result {
        Ok(true) => {
            records.close()?;
            records.get_ref().finish()
        }
        Ok(false) => records.flush(),
        Err(e) => Err(e),
    }
}
