//! `chat`: a peer-to-peer terminal chat with file transfer over one TCP
//! connection.
//!
//! Layout, from the wire up:
//! - `frame`     — the wire format: text lines and `/file` headers (pure codec)
//! - `sanitize`  — making peer text safe for the terminal
//! - `download`  — safe local names and the download folder
//! - `transfer`  — streaming file contents out and in
//! - `input`     — what a typed line means
//! - `screen`    — the output sink, one flushed line per event
//! - `net`       — listening for or connecting to the one peer
//! - `session`   — the reader, writer and main loop of a conversation
//! - `cli`, `settings`, `exit_codes` — the command line and what it yields

pub mod cli;
pub mod download;
pub mod exit_codes;
pub mod frame;
pub mod input;
pub mod net;
pub mod sanitize;
pub mod screen;
pub mod session;
pub mod settings;
pub mod transfer;

use std::io::{self, BufReader};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::Cli;
use crate::screen::Screen;
use crate::settings::{Role, Settings};

/// Runs the program for parsed arguments: connects, then chats on stdin and
/// stdout until either side leaves.
pub fn run(cli: Cli) -> Result<()> {
    let settings = Settings::from_env(cli);
    settings
        .downloads
        .check()
        .with_context(|| format!("download folder {}", settings.downloads.path().display()))?;
    let screen = Arc::new(Screen::stdout());
    let stream = match &settings.role {
        Role::Listen { host, port } => net::listen(host, *port, &screen)?,
        Role::Connect { host, port } => net::connect(host, *port, &screen)?,
    };
    let input = Box::new(BufReader::new(io::stdin()));
    session::run(stream, &settings.name, settings.downloads, input, screen)
}
