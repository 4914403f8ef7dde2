//! `chat discard`: removes what is kept of cut transfers in a download
//! folder, as `/discard` does in a chat, without a peer; what a running
//! chat is receiving stays.

use std::io::{self, Write};

use anyhow::{Context, Result};

use crate::files::download::DownloadDir;
use crate::files::kept::Kept;
use crate::session::progress;

/// Removes what is kept, and says how much that freed.
pub fn run(downloads: &DownloadDir) -> Result<()> {
    let kept = Kept::of(downloads);
    let gone = kept.discard(false);
    let line = format!("{}.\n", progress::discarded(gone, Some(kept.path())));
    io::stdout()
        .write_all(line.as_bytes())
        .context("cannot write what was discarded")
}
