//! A member on the encrypted wire, on the host: its reader turns the
//! member's messages into what the host hears, and its writer sends what
//! the host queues for it as sealed records.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::door::Door;
use super::pace::Pace;
use super::queue::Piece;
use super::{FileNews, Gone, Heard, MemberReader, MemberWriter, Said};
use crate::net::secure::record::{Ending, RecordError};
use crate::permits::Permits;
use crate::protocol::{Messages, MessagesError, Sealer};
use crate::room::roster::MemberId;
use crate::wire::limits::SILENT_INTERVALS;
use crate::wire::message::{FileId, Message};

impl MemberReader for Messages {
    fn read(&mut self, id: MemberId, permits: &Permits, door: &Door) -> Gone {
        let silence = door.keepalive * SILENT_INTERVALS;
        if let Err(e) = self.expect_within(Some(silence)) {
            return Gone::Lost(e.to_string());
        }
        let mut pace = Pace::new(id, &door.events, permits);
        loop {
            let message = match self.next_message() {
                Ok(Some((message, _))) => message,
                Ok(None) => return Gone::Left,
                Err(MessagesError::Record(e)) => return unreadable(e, silence),
                Err(MessagesError::Message(e)) => {
                    return Gone::Broke(format!("it broke the protocol: {e}"));
                }
            };
            let heard = match heard(message, permits, &mut pace) {
                Ok(Some(heard)) => heard,
                Ok(None) => continue,
                Err(gone) => return gone,
            };
            if !pace.tell(heard) {
                return Gone::Left;
            }
        }
    }

    fn drain(&mut self) {
        Messages::drain(self);
    }
}

/// What the host hears of a member's message, counted against its
/// throttle; `None` for what it need not hear (a keepalive's answer).
fn heard(
    message: Message<'_>,
    permits: &Permits,
    pace: &mut Pace<'_>,
) -> Result<Option<Heard>, Gone> {
    Ok(Some(match message {
        Message::Text(text) => {
            pace.count(text.len());
            Heard::Text(text.to_string())
        }
        Message::Whisper { name, text } => {
            pace.count(text.len());
            Heard::Whisper {
                to: name.to_string(),
                text: text.to_string(),
            }
        }
        Message::Who => {
            pace.count(0);
            Heard::Who
        }
        Message::Chunk { id, data } => {
            // Waits while the pieces already sent are on their way.
            let permit = permits.take().ok_or(Gone::Left)?;
            let piece = Arc::new(Piece::new(data.to_vec(), permit));
            Heard::File(FileNews::Piece { id, piece })
        }
        Message::Pong => return Ok(None),
        message => {
            // A new transfer counts as a message; what carries one along
            // has its own budget.
            match message {
                Message::Offer { name, .. } | Message::Folder { name, .. } => {
                    pace.count(name.len())
                }
                Message::Entry { path, .. } | Message::Subfolder { folder: _, path } => {
                    pace.count_transfer(path.len());
                }
                Message::Begin { .. }
                | Message::End { .. }
                | Message::Cancel { .. }
                | Message::Accept { .. }
                | Message::Saved { .. }
                | Message::Refused { .. } => pace.count_transfer(0),
                _ => {
                    return Err(Gone::Broke(format!(
                        "it sent {} to the room",
                        kind(&message)
                    )));
                }
            }
            Heard::File(FileNews::Said(Said::new(&message)))
        }
    }))
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

/// What a message that has no place going to a room's host is called.
fn kind(message: &Message<'_>) -> &'static str {
    match message {
        Message::Hello { .. } => "its name twice",
        _ => "a message only a host sends",
    }
}

impl MemberWriter for Sealer {
    fn give_up_after(&self, stall: Duration) -> io::Result<()> {
        Sealer::give_up_after(self, stall)
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send_encoded(bytes)
    }

    fn piece(&mut self, id: FileId, data: &[u8]) -> io::Result<()> {
        self.send(&Message::Chunk { id, data })
    }

    fn flush(&mut self) -> io::Result<()> {
        Sealer::flush(self)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.goodbye()
    }
}
