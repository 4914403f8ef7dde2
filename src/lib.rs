//! `chat`: a peer-to-peer terminal chat with file transfer over one TCP
//! connection.
//!
//! Layout, from the wire up:
//! - `frame`     — the wire format: text lines and `/file` headers (pure codec)
//! - `sanitize`  — making peer text safe for the terminal
//! - `download`  — safe local names and the download folder
//! - `transfer`  — streaming file contents out and in
//! - `progress`  — transfers in flight and queued, and their progress lines
//! - `input`     — what a typed line means
//! - `screen`    — the output sink, one flushed line per event
//! - `console`   — pipe or interactive mode, the line editor
//! - `net`       — listening for or connecting to the one peer
//! - `incoming`  — the reader thread
//! - `outgoing`  — the writer thread
//! - `session`   — the threads of a conversation and its main loop
//! - `signals`   — leaving cleanly on SIGTERM, SIGHUP and SIGINT
//! - `cli`, `settings`, `exit_codes` — the command line and what it yields

pub mod cli;
pub mod console;
pub mod download;
pub mod exit_codes;
pub mod frame;
pub mod incoming;
pub mod input;
pub mod net;
pub mod outgoing;
pub mod progress;
pub mod sanitize;
pub mod screen;
pub mod session;
pub mod settings;
pub mod signals;
pub mod transfer;

use std::io;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::console::Console;
use crate::settings::{Action, Role};

/// Runs the program for parsed arguments: connects, then chats on stdin and
/// stdout until either side leaves.
pub fn run(cli: Cli) -> Result<()> {
    let settings = match Action::new(cli, std::env::var("USER").ok()) {
        Action::Chat(settings) => settings,
        Action::Completions(shell) => {
            clap_complete::generate(shell, &mut Cli::command(), "chat", &mut io::stdout());
            return Ok(());
        }
    };
    settings
        .downloads
        .check()
        .with_context(|| format!("download folder {}", settings.downloads.path().display()))?;
    let console = Console::open();
    let stream = match &settings.role {
        Role::Listen { host, port } => net::listen(host, *port, &console.screen)?,
        Role::Connect { host, port } => net::connect(host, *port, &console.screen)?,
    };
    session::run(stream, &settings.name, settings.downloads, console)
}
