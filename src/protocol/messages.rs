//! The encrypted wire's reader: the peer's sealed records opened and read
//! as typed messages, its name first (PROTOCOL.md §3.5, rule 1).

use std::io;
use std::time::Duration;

use crate::net::secure::record::{RecordError, RecordReader};
use crate::net::transport::ReadHalf;
use crate::wire::message::{HelloError, Message, MessageError};

/// What a peer on the encrypted wire sends, message by message.
pub struct Messages(RecordReader<ReadHalf>);

/// Why the peer's messages cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    /// A record could not be opened, or the stream under it failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A record opened but holds no message this protocol knows.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Why the peer's first message gave no name.
#[derive(Debug, thiserror::Error)]
pub enum NoHello {
    /// Its side ended before it said anything.
    #[error("it left before saying its name")]
    Left,
    /// Its first record could not be read.
    #[error("it did not say its name ({0})")]
    Unreadable(RecordError),
    /// Its first record holds no message this protocol knows.
    #[error("it broke the protocol: {0}")]
    Malformed(MessageError),
    /// Something else came first.
    #[error("it did not say its name first")]
    NotHello,
    /// The name breaks the rules for names, as this says.
    #[error("its name is refused: {0}")]
    Name(String),
}

impl Messages {
    pub fn new(records: RecordReader<ReadHalf>) -> Self {
        Self(records)
    }

    /// The name the peer's first message gives, made canonical; `limit`
    /// is how long it may take to come (`None`: no limit of its own).
    pub fn hello(&mut self, limit: Option<Duration>) -> Result<String, NoHello> {
        if limit.is_some() {
            self.expect_within(limit)
                .map_err(|e| NoHello::Unreadable(RecordError::Io(e)))?;
        }
        let first = match self.next_message() {
            Ok(Some((message, _))) => message.hello_name(),
            Ok(None) => return Err(NoHello::Left),
            Err(MessagesError::Record(e)) => return Err(NoHello::Unreadable(e)),
            Err(MessagesError::Message(e)) => return Err(NoHello::Malformed(e)),
        };
        let name = first.map_err(|e| match e {
            HelloError::NotHello => NoHello::NotHello,
            HelloError::Name(why) => NoHello::Name(why),
        })?;
        if limit.is_some() {
            self.expect_within(None)
                .map_err(|e| NoHello::Unreadable(RecordError::Io(e)))?;
        }
        Ok(name)
    }

    /// The next message, and whether the whole record after it has
    /// already come (so a burst can be shown at once); `Ok(None)` once the
    /// peer closed its side with the closing record.
    pub fn next_message(&mut self) -> Result<Option<(Message<'_>, bool)>, MessagesError> {
        match self.0.next_record_and_more()? {
            Some((record, more_coming)) => Ok(Some((Message::decode(record)?, more_coming))),
            None => Ok(None),
        }
    }

    /// Gives up on a read once nothing came for `limit` (`None`: waits).
    pub fn expect_within(&self, limit: Option<Duration>) -> io::Result<()> {
        self.0.get_ref().set_read_timeout(limit)
    }

    /// Reads past whatever still comes, until the peer's side ends or
    /// cannot be read on: the connection then ends after our last words
    /// reached it, not with its records unread (a reset).
    pub fn drain(&mut self) {
        while let Ok(Some(_)) = self.0.next_record() {}
    }
}
