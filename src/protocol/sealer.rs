//! The encrypted wire's writer: messages encoded and sealed into records,
//! gathered until a flush, and the closing record that tells an end from
//! a cut (PROTOCOL.md §3.3).

use std::io::{self, Write};
use std::time::Duration;

use crate::net::secure::record::RecordWriter;
use crate::net::transport::WriteHalf;
use crate::wire::message::Message;

/// What we send a peer on the encrypted wire.
pub struct Sealer {
    records: RecordWriter<WriteHalf>,
    /// Where a message is encoded before it is sealed.
    encoded: Vec<u8>,
}

impl Sealer {
    pub fn new(records: RecordWriter<WriteHalf>) -> Self {
        Self {
            records,
            encoded: Vec::new(),
        }
    }

    /// Seals `message`; it goes out with the next flush, or sooner once
    /// enough is waiting.
    pub fn send(&mut self, message: &Message<'_>) -> io::Result<()> {
        self.encoded.clear();
        message.encode(&mut self.encoded);
        self.records.send(&self.encoded)
    }

    /// Seals a message encoded already (a room encodes once what goes to
    /// every member).
    pub fn send_encoded(&mut self, message: &[u8]) -> io::Result<()> {
        self.records.send(message)
    }

    /// Seals a record of `len` bytes that `fill` writes in place (a piece
    /// of a file read straight into it). When `fill` fails nothing is
    /// sent; its error comes back inside the `Ok`.
    pub fn send_filled<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> io::Result<Result<(), E>> {
        self.records.send_filled(len, fill)
    }

    /// Writes out what is sealed.
    pub fn flush(&mut self) -> io::Result<()> {
        self.records.flush()
    }

    /// Ends our side: the closing record, then the end of the stream.
    pub fn goodbye(&mut self) -> io::Result<()> {
        self.records.close()?;
        self.records.get_ref().finish()
    }

    /// Gives up on a write that cannot go on for `limit`: the peer stopped
    /// reading.
    pub fn give_up_after(&self, limit: Duration) -> io::Result<()> {
        self.records.get_ref().set_write_timeout(Some(limit))
    }
}
