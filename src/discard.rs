//! `chat discard`: removes what is kept of cut transfers in a download
//! folder, as `/discard` does in a chat, without a peer; what a running
//! chat is receiving stays.

use std::io::{self, Write};

use anyhow::{Context, Result, bail};

use crate::files::download::DownloadDir;
use crate::files::kept::{Discarded, Kept};
use crate::terminal::render;

/// Removes what is kept, and says how much that freed. A download folder
/// the user `named` must exist; the default one is made only when a first
/// file arrives, so its absence means only that nothing is kept.
pub fn run(downloads: &DownloadDir, named: bool) -> Result<()> {
    let folder = downloads.path();
    let kept = Kept::of(downloads);
    // A folder named wrong is not one with nothing kept in it.
    let line = match folder.metadata() {
        Ok(meta) if meta.is_dir() => {
            let gone = kept.discard(false).context("nothing was discarded")?;
            render::discarded(gone, Some(kept.path()))
        }
        Ok(_) => bail!("{} is not a directory", folder.display()),
        // (Said of the same place as when something was discarded.)
        Err(e) if e.kind() == io::ErrorKind::NotFound && !named => {
            render::discarded(Discarded::default(), Some(kept.path()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("download folder {} does not exist", folder.display())
        }
        Err(e) => bail!("cannot read the download folder {}: {e}", folder.display()),
    };
    io::stdout()
        .write_all(format!("{line}.\n").as_bytes())
        .context("cannot write what was discarded")
}
