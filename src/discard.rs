//! `chat discard`: removes what is kept of cut transfers in a download
//! folder, as `/discard` does in a chat, without a peer; what a running
//! chat is receiving stays.

use std::io::{self, Write};

use anyhow::{Context, Result, bail};

use crate::files::download::DownloadDir;
use crate::files::kept::Kept;
use crate::session::progress;

/// Removes what is kept, and says how much that freed.
pub fn run(downloads: &DownloadDir) -> Result<()> {
    let folder = downloads.path();
    // A folder named wrong is not one with nothing kept in it.
    match folder.metadata() {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", folder.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("download folder {} does not exist", folder.display())
        }
        Err(e) => bail!("cannot read the download folder {}: {e}", folder.display()),
    }
    let kept = Kept::of(downloads);
    let gone = kept.discard(false).context("nothing was discarded")?;
    let line = format!("{}.\n", progress::discarded(gone, Some(kept.path())));
    io::stdout()
        .write_all(line.as_bytes())
        .context("cannot write what was discarded")
}
