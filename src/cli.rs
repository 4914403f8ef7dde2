//! The command line, as clap parses it. Checked settings live in `settings`.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::net::mailbox::MailboxUrl;
use crate::net::mailbox::url::DEFAULT_MAILBOX;
use crate::net::relay::{DEFAULT_RELAY, RelayAddr};
use crate::net::secure::code::Code;
use crate::net::target::{self, Given};
use crate::wire::limits::MAX_PEERS;

/// Peer-to-peer terminal chat with file transfer over one TCP connection:
/// direct, or, from anywhere by a code, through a relay that passes only
/// encrypted bytes. No account.
#[derive(Debug, Parser)]
#[command(name = "chat", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const LISTEN_EXAMPLE: &str = "\
Example session (the peer runs `chat connect 192.168.1.20 5050 --name I056`):
  $ chat listen --port 5050 --name I049
  14:02 [System] Listening on 0.0.0.0:5050 ...
  14:02 [System] Your peer can connect to 192.168.1.20 5050
  14:03 [System] Connected by 192.168.1.31:52144
  14:03 [System] Encrypted. Safety code: 381-907 (the same on both screens means nobody is in between)
  14:03 [I056] Hi! I'm Daksh.
  14:03 [I049] Hello! Sending you the notes.
  14:04 [System] Sent file lecture notes.pdf (47.1 KiB, 0.1s at 460.2 KiB/s)
  14:04 [System] Exiting.

Read the safety code to each other: the same code on both screens means
nobody is in between. Each line typed is replaced by `[NAME] text` once sent;
commands (here `/send \"lecture notes.pdf\"`, then `/quit`) leave no trace. Without a terminal,
lines have no time, your own messages are not shown and the final line of a
transfer has no time and rate: `[System] Sent file lecture notes.pdf (47.1 KiB)`.

Commands while chatting: /send PATH..., /status, /accept, /decline, /cancel,\n/discard, /code, /trust, /who, /msg, /help, /quit
With the original Python chat or nc, both sides add --plain (not encrypted).
With --room, up to --max-peers others join the one conversation with
`chat connect`, each encrypted to the host, and the host passes on what
each says; /who lists them and /msg NAME text speaks to one.";

const CONNECT_EXAMPLE: &str = "\
Example session (the peer ran `chat listen --port 5050 --name I049`):
  $ chat connect 192.168.1.20 5050 --name I056
  14:03 [System] Connected to 192.168.1.20:5050
  14:03 [System] Encrypted. Safety code: 381-907 (the same on both screens means nobody is in between)
  14:03 [I056] Hi! I'm Daksh.
  14:03 [I049] Hello! Sending you the notes.
  14:04 [System] Incoming file lecture notes.pdf (47.1 KiB)...
  14:04 [System] File saved to received_files/lecture notes.pdf (0.1s at 460.2 KiB/s)
  14:04 [I049] has left the chat.
  14:04 [System] Peer disconnected.
  14:04 [System] Exiting.

Without a terminal, lines have no time, your own messages are not shown and
the final line of a transfer has no time and rate.

Either side may start first: while nobody listens there yet, it says so once
and tries again for up to 30 s (--wait SECS; 0 until Ctrl-C):
  $ chat connect 192.168.1.20 --name I056
  [System] Nobody listens on 192.168.1.20 5050 yet; trying again for up to 30 s (Ctrl-C stops).
From anywhere, behind any home router, with the code a listener started
with `chat listen --code` registered at the mailbox:
  $ chat connect --code 7-guitar-lantern --name I056
  [System] Connected through the relay transit.magic-wormhole.io:4001 (it passes only encrypted bytes)
An address alone, as here, takes port 5050; a port goes after a colon
(192.168.1.20:6000, [::1]:6000, localhost:6000), after the address, or
with --port. `localhost`, and a dotted host name that resolves
(box.local), are hosts; a one-word host name needs its port
(`chat connect raspberrypi 5050`). On the same network, a name alone finds
the chat that announces it: `chat connect I049`.

Commands while chatting: /send PATH..., /status, /accept, /decline, /cancel,\n/discard, /code, /trust, /who, /msg, /help, /quit
With the original Python chat or nc, both sides add --plain (not encrypted).
The same command joins a room (`chat listen --room`); /who and /msg work there.";

pub use crate::net::connect::DEFAULT_PORT;

/// A change to the contacts.
#[derive(Debug, Subcommand)]
pub enum ContactsChange {
    /// Call the contact OLD by the name NEW.
    Rename {
        /// The name the contact has now.
        #[arg(value_parser = parse_name)]
        old: String,
        /// The name to call it by.
        #[arg(value_parser = parse_name)]
        new: String,
    },
    /// Forget the contact NAME: next time it is a stranger.
    Forget {
        /// The contact's name, as `chat contacts` lists it.
        #[arg(value_parser = parse_name)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait for one peer to connect, then chat with it.
    #[command(after_help = LISTEN_EXAMPLE)]
    Listen {
        /// Address to listen on [default: 0.0.0.0; with a code met through
        /// the mailbox, `::`, which takes IPv6 peers too].
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// Let in only a peer that gives the same code (`chat connect ...
        /// --code CODE`); with no value, a new code is made and shown.
        #[arg(long, value_name = "CODE", num_args = 0..=1, value_parser = parse_code,
              conflicts_with = "plain")]
        code: Option<Option<Code>>,
        /// Host a room: up to --max-peers others join with `chat connect`,
        /// and everyone talks with everyone through this host.
        #[arg(long)]
        room: bool,
        /// Most people who may be in the room besides the host.
        #[arg(long, value_name = "N", default_value_t = 16, requires = "room",
              value_parser = clap::value_parser!(u16).range(1..=MAX_PEERS as i64))]
        max_peers: u16,
        /// How often the room pings each encrypted member; one silent for
        /// three times this long is dropped.
        #[arg(long, value_name = "SECS", default_value_t = 15, requires = "room",
              value_parser = clap::value_parser!(u16).range(1..=3600))]
        keepalive: u16,
        /// Do not announce this chat on the local network (multicast DNS),
        /// where `chat peers` and `chat connect NAME` find it.
        #[arg(long)]
        no_announce: bool,
        /// Keep the code to the local network: do not register it with the
        /// mailbox, so that only peers that reach this address can join.
        #[arg(long, requires = "code")]
        lan: bool,
        #[command(flatten)]
        reach: Reach,
        #[command(flatten)]
        common: Common,
    },
    /// Connect to a listening peer and chat with it.
    #[command(after_help = CONNECT_EXAMPLE)]
    Connect {
        #[command(flatten)]
        peer: PeerAddress,
        /// How long to keep trying while the peer is not there yet (its
        /// name not announced, nobody listening at the address, or nobody
        /// with the code at the mailbox); 0 keeps trying until Ctrl-C
        /// [default: 30; with --code alone, until Ctrl-C].
        #[arg(long, value_name = "SECS",
              value_parser = clap::value_parser!(u64).range(0..=86_400))]
        wait: Option<u64>,
        /// The code the listening side gave: proves to each side that the
        /// other has it, with nobody in between. Without HOST|NAME, the
        /// two sides meet through the mailbox, from anywhere.
        #[arg(long, value_name = "CODE", value_parser = parse_code, conflicts_with = "plain")]
        code: Option<Code>,
        #[command(flatten)]
        reach: Reach,
        #[command(flatten)]
        common: Common,
    },
    /// List the chats listening on the local network (announced with
    /// multicast DNS), then exit.
    Peers {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// How long to wait for answers.
        #[arg(long, value_name = "SECS", default_value_t = 3,
              value_parser = clap::value_parser!(u64).range(1..=60))]
        wait: u64,
    },
    /// Remove what is kept of cut transfers in the download folder (as
    /// /discard does in a chat), then exit; no peer is needed.
    Discard {
        /// The download folder whose kept transfers go [default:
        /// received_files]. Named, it must exist; the default need not.
        #[arg(long, value_name = "DIR")]
        download_dir: Option<PathBuf>,
    },
    /// Print your identity's fingerprint, for your contacts to compare
    /// with what they see of you (made on first use). It is kept in
    /// $CHAT_HOME, else $XDG_DATA_HOME/chat, else ~/.local/share/chat.
    Id,
    /// List your contacts (peers saved with /trust), or rename or forget
    /// one.
    Contacts {
        #[command(subcommand)]
        change: Option<ContactsChange>,
    },
    /// Print a shell completion script, e.g. `chat completions bash > ~/.local/share/bash-completion/completions/chat`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Where `chat connect` goes, as typed. (Arguments of their own: built
/// apart, they keep the stack that parsing takes small.)
#[derive(Debug, Args)]
pub struct PeerAddress {
    /// The peer's address: an IPv4 or IPv6 address, `localhost` or a
    /// host name, with its port as HOST:PORT or [V6]:PORT or given
    /// apart (5050 if none); or the name a chat on the local network
    /// announces. A dotted host name without a port is a host if it
    /// resolves, else a name; a one-word one needs its port.
    #[arg(value_name = "HOST|NAME", value_parser = parse_target,
          required_unless_present = "code")]
    pub host: Option<Given>,
    /// The peer's port [default: 5050 after an address].
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// The peer's port, as `listen` takes it (the same as PORT).
    #[arg(
        long = "port",
        id = "port_option",
        value_name = "PORT",
        conflicts_with = "port",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub port_option: Option<u16>,
}

impl PeerAddress {
    /// The port given apart from the host, either way.
    pub fn port(&self) -> Option<u16> {
        self.port.or(self.port_option)
    }
}

/// Where a code meets from anywhere: the servers used, and whether the
/// relay may carry the conversation. (Used only with `--code`, without an
/// address on `connect`, without `--lan` on `listen`.)
#[derive(Debug, Clone, Args)]
pub struct Reach {
    /// The mailbox server where two sides with a code meet: it sees the
    /// code's number and both sides' public addresses, never the code's
    /// words, what is said, or the listener's local addresses.
    #[arg(long, value_name = "URL", env = "CHAT_MAILBOX", default_value = DEFAULT_MAILBOX)]
    pub mailbox: MailboxUrl,
    /// The transit relay that passes the encrypted bytes when no direct
    /// path works.
    #[arg(long, value_name = "tcp:HOST:PORT", env = "CHAT_RELAY", default_value = DEFAULT_RELAY)]
    pub relay: RelayAddr,
    /// Refuse relayed connections: only direct ones.
    #[arg(long)]
    pub no_relay: bool,
    /// Connect only through the relay: this machine's addresses are not
    /// given to the other side, nor its addresses tried.
    #[arg(long, conflicts_with = "no_relay")]
    pub relay_only: bool,
}

/// Where received files go unless `--download-dir` says otherwise.
pub const DEFAULT_DOWNLOAD_DIR: &str = "received_files";

/// Options both subcommands take.
#[derive(Debug, Args)]
pub struct Common {
    /// Name shown to the peer [default: your login name, else Anonymous].
    #[arg(long, value_parser = parse_name)]
    pub name: Option<String>,
    /// Folder received files are saved in; created when the first file arrives.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DOWNLOAD_DIR)]
    pub download_dir: PathBuf,
    /// Give up on a peer that takes less than 16 KiB of what we send in
    /// this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub stall_timeout: u64,
    /// Speak the original, unencrypted wire, for the original Python chat
    /// or nc; both sides must use it. Without it, two chats talk encrypted
    /// and never fall back to the clear.
    #[arg(long)]
    pub plain: bool,
    /// Offers of files or folders over SIZE wait for /accept or /decline
    /// (e.g. 500M, 2G, 0 to ask for everything) [default: 100M with a
    /// terminal; without one, everything is accepted].
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "accept_all")]
    pub ask_above: Option<u64>,
    /// Accept every offer without asking, whatever its size.
    #[arg(long)]
    pub accept_all: bool,
    /// With --code: once the code proved the peer, save it as a contact,
    /// as /trust does; next time it is recognised without a code.
    #[arg(long, requires = "code")]
    pub trust: bool,
}

/// A size as people write it: `1500`, `512K`, `100M`, `2G`, `1T`, with an
/// optional `B` or `iB` (`100MiB`, `100MB`); the units are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (say 500M or 2G)"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{text:?} is not a size (say 500M or 2G)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text} is too large"))
}

/// A name as the command line takes it: as any name (PROTOCOL.md 3.6).
pub fn parse_name(name: &str) -> Result<String, String> {
    crate::wire::name::parse(name)
}

/// `chat connect`'s first argument, with the port it may carry.
fn parse_target(text: &str) -> Result<Given, String> {
    target::given(text)
}

impl Cli {
    /// The command line, with what clap cannot check alone: a port given
    /// both after a colon and apart.
    pub fn checked(self) -> Result<Self, clap::Error> {
        if let Command::Connect { peer, .. } = &self.command
            && let (Some(own), Some(apart)) = (peer.host.as_ref().and_then(|h| h.port), peer.port())
        {
            let message = format!(
                "the port is given twice ({own} after the colon, and {apart}): give it once"
            );
            return Err(Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message));
        }
        Ok(self)
    }
}

/// A code as given on the command line.
pub fn parse_code(code: &str) -> Result<Code, String> {
    Code::new(code).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_original_program() {
        let cli = Cli::try_parse_from(["chat", "listen"]).unwrap();
        match cli.command {
            Command::Listen {
                host, port, common, ..
            } => {
                // 0.0.0.0 (settings), as the original listens.
                assert_eq!((host, port), (None, 5050));
                assert_eq!(common.name, None);
                assert_eq!(common.download_dir, PathBuf::from("received_files"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn connect_takes_host_and_port() {
        let cli =
            Cli::try_parse_from(["chat", "connect", "::1", "5050", "--name", "I056"]).unwrap();
        match cli.command {
            Command::Connect { peer, common, .. } => {
                let host = peer.host.expect("a host");
                assert_eq!((host.text.as_str(), peer.port), ("::1", Some(5050)));
                assert_eq!(common.name.as_deref(), Some("I056"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn connect_takes_the_port_after_a_colon_or_as_listen_does() {
        let port_of = |args: &[&str]| match Cli::try_parse_from(args).unwrap().checked() {
            Ok(Cli {
                command: Command::Connect { peer, .. },
            }) => {
                let host = peer.host.clone().expect("a host");
                Ok((host.text, host.port.or(peer.port())))
            }
            Ok(other) => panic!("parsed as {other:?}"),
            Err(e) => Err(e.exit_code()),
        };
        let local = |port| Ok(("127.0.0.1".to_string(), Some(port)));
        assert_eq!(port_of(&["chat", "connect", "127.0.0.1:6000"]), local(6000));
        assert_eq!(
            port_of(&["chat", "connect", "127.0.0.1", "--port", "6000"]),
            local(6000)
        );
        assert_eq!(
            port_of(&["chat", "connect", "127.0.0.1:6000", "6000"]),
            Err(2)
        );
        assert_eq!(
            port_of(&["chat", "connect", "127.0.0.1:6000", "--port", "6000"]),
            Err(2)
        );
        let both = Cli::try_parse_from(["chat", "connect", "h", "1", "--port", "2"]);
        assert_eq!(both.unwrap_err().exit_code(), 2);
        let bad = Cli::try_parse_from(["chat", "connect", "127.0.0.1:70000"]);
        assert_eq!(bad.unwrap_err().exit_code(), 2);
    }

    #[test]
    fn discard_needs_no_peer_and_takes_a_download_folder() {
        let cli = Cli::try_parse_from(["chat", "discard"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Discard { download_dir: None }
        ));
        let cli = Cli::try_parse_from(["chat", "discard", "--download-dir", "in"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Discard { download_dir: Some(dir) } if dir == Path::new("in")
        ));
        assert!(Cli::try_parse_from(["chat", "discard", "--name", "x"]).is_err());
    }

    #[test]
    fn completions_name_a_shell() {
        let cli = Cli::try_parse_from(["chat", "completions", "zsh"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Completions {
                shell: clap_complete::Shell::Zsh
            }
        ));
        assert!(Cli::try_parse_from(["chat", "completions", "cmd.exe"]).is_err());
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["chat"][..],
            &["chat", "connect"],
            &["chat", "connect", "localhost", "70000"],
            &["chat", "listen", "--port", "x"],
            &["chat", "listen", "--name", ""],
            &["chat", "listen", "--name", "a]b"],
            &["chat", "listen", "--name", "bell\x07"],
            &["chat", "connect", "alice", "--wait", "-1"],
            &["chat", "connect", "alice", "--wait", "soon"],
            &["chat", "connect", "alice", "--wait", "86401"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("2gb"), Ok(2 << 30));
        assert_eq!(parse_size("1 T"), Ok(1 << 40));
        for bad in ["", "M", "-1", "1.5G", "10X", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
