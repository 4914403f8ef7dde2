//! The original wire's reader: the peer's stream as lines and files
//! (PROTOCOL.md §2), read through a buffer large enough that files arrive
//! in big pieces.

use std::io::{self, BufReader};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::net::transport::ReadHalf;
use crate::wire::frame::FrameReader;

/// Read buffer size: large enough that files arrive in big chunks.
const READ_BUFFER: usize = 64 * 1024;

/// What a peer on the original wire sends, frame by frame.
pub struct Lines(FrameReader<BufReader<ReadHalf>>);

impl Lines {
    pub fn new(half: ReadHalf) -> Self {
        Self(FrameReader::new(BufReader::with_capacity(
            READ_BUFFER,
            half,
        )))
    }

    /// Gives up on a read once nothing came for `limit` (`None`: waits).
    pub fn expect_within(&self, limit: Option<Duration>) -> io::Result<()> {
        self.0.get_ref().get_ref().set_read_timeout(limit)
    }

    /// Reads past whatever still comes, until the peer's side ends: the
    /// connection then ends after our last words reached it, not with its
    /// bytes unread (a reset).
    pub fn drain(&mut self) {
        let _ = io::copy(self.0.get_mut(), &mut io::sink());
    }
}

impl Deref for Lines {
    type Target = FrameReader<BufReader<ReadHalf>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Lines {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
