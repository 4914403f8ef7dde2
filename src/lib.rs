//! `chat`: a peer-to-peer terminal chat with file transfer over one TCP
//! connection.
//!
//! Layout, by layer from the bottom up (upper layers use lower ones):
//! - `permits`  — at most so many things on their way at once, each permit
//!   given back when dropped; closing turns every taker away
//! - `queue`    — the next item of a writer's queue, flushing what it
//!   buffered when none waits
//! - `threads`  — starting a named thread and joining it, a failure of
//!   either an error rather than a crash
//! - `wire`     — the bytes on the wire: frames of the original format, typed
//!   messages of the encrypted one, the rules for names and for what peer
//!   text may show, and the protocol's limits (pure codecs)
//! - `identity` — who the user is across conversations: the long-term key
//!   kept in the user's chat folder, and the contacts remembered by key
//! - `net`      — reaching the peer: what `chat connect` is pointed at,
//!   listening for or connecting to it, finding it on the local network,
//!   meeting it from anywhere by a code (mailbox, relay, router), the
//!   encrypted channel (handshake, codes, sealed records), and the
//!   transport under a conversation (a socket: TCP, or a pair inside the
//!   program); it reports its steps as typed events
//! - `files`    — files on this machine: the download folder and its safe
//!   names, what is kept of cut transfers, folders to send, sending and
//!   receiving file contents
//! - `protocol` — the peer protocol over one connection, for a conversation
//!   and a room's member alike: the wire it speaks (typed messages with the
//!   peer's name first, or lines and files), its writer, and what the wire
//!   can do (`Capabilities`)
//! - `engine`   — what a conversation tells its front ends (typed events)
//!   and takes from them (typed commands, and the command language), and
//!   how a room's people are named; its parts are `session` and `room`,
//!   which never write text for a screen
//! - `session`  — one conversation: reaching the peer, who it is to the
//!   user (a contact or not), the main loop, the user's commands, transfers and their progress, the stall watch, and
//!   the reader and writer of each wire
//! - `room`     — hosting a room: letting members in, one order for what
//!   they say, each member's queue, throttle and keepalive
//! - `terminal` — the terminal front end: each event rendered as a line
//!   (`render`), peer text made safe, lines wrapped and live lines fitted
//!   to the width, the output sink, the console and its line editor
//! - `peers`    — `chat peers`: the chats announced on the local network
//! - `people`   — `chat id` and `chat contacts`: the user's identity and
//!   contacts, shown and changed without a peer
//! - `discard`  — `chat discard`: what is kept of cut transfers, removed
//!   without a peer
//! - `web`      — the conversation in a local web page: so far the HTTP it
//!   speaks, read strictly, with the headers that keep the page to itself
//! - `signals`  — leaving cleanly on SIGTERM, SIGHUP and SIGINT
//! - `cli`, `settings`, `exit_codes` — the command line and what it yields

pub mod cli;
pub mod discard;
pub mod engine;
pub mod exit_codes;
pub mod files;
pub mod identity;
pub mod net;
pub mod peers;
pub mod people;
pub mod permits;
pub mod protocol;
pub mod queue;
pub mod room;
pub mod session;
pub mod settings;
pub mod signals;
pub mod terminal;
pub mod threads;
pub mod web;
pub mod wire;

use std::io;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::settings::Action;
use crate::terminal::console::Console;

/// Runs the program for parsed arguments: connects, then chats on stdin and
/// stdout until either side leaves.
pub fn run(cli: Cli) -> Result<()> {
    signals::ignore_file_size_limit()?;
    let settings = match Action::new(cli, std::env::var("USER").ok(), identity::Me::from_env)? {
        Action::Chat(settings) => settings,
        Action::Peers { json, wait } => return peers::list(json, wait),
        Action::Discard { downloads, named } => return discard::run(&downloads, named),
        Action::Completions(shell) => return print_completions(shell),
        Action::Id => return people::id(),
        Action::Contacts(change) => return people::contacts(change),
    };
    settings
        .downloads
        .check()
        .with_context(|| format!("download folder {}", settings.downloads.path().display()))?;
    let console = Box::new(Console::open(engine::command::command_names()));
    match settings.room {
        Some(room) => room::run(&settings, room, console),
        None => session::run(&settings, console),
    }
}

/// Prints the completion script for `shell`. It is made in memory first:
/// a reader that stops early (`| head`) ends the output quietly, as it
/// does for `--help`, instead of failing the write midway.
fn print_completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "chat", &mut script);
    match io::Write::write_all(&mut io::stdout().lock(), &script) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot print the completion script")
        }
        _ => Ok(()),
    }
}
