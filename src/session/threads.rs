//! The threads of a conversation, joined as it ends.

use std::thread::JoinHandle;

use anyhow::Result;

use crate::net::transport::Closer;
use crate::threads::{join, spawn};

/// The threads of a connected conversation. Finishing, or dropping on an
/// early return, ends the connection and joins every one of them, so no
/// thread outlives the conversation.
pub(super) struct Threads {
    closer: Closer,
    handles: Vec<JoinHandle<()>>,
}

impl Threads {
    pub(super) fn new(closer: Closer) -> Self {
        Self {
            closer,
            handles: Vec::new(),
        }
    }

    pub(super) fn spawn(&mut self, name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
        self.handles.push(spawn(name, work)?);
        Ok(())
    }

    /// Ends the connection and waits for every thread.
    pub(super) fn finish(mut self) -> Result<()> {
        self.closer.close();
        std::mem::take(&mut self.handles)
            .into_iter()
            .try_for_each(join)
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.closer.close();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}
