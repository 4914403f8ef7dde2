//! The checked settings a chat runs on, derived from the command line and
//! the environment.

use std::time::Duration;

use crate::cli::{self, Cli, Command, Common};
use crate::files::download::DownloadDir;
use crate::identity::Me;
use crate::net::patience::Patience;
use crate::net::rendezvous::Anywhere;
use crate::net::secure::Protection;
use crate::net::secure::code::Code;
use crate::net::target::{self, Given, Target};

/// How long `chat connect` tries a peer that is not there yet, unless
/// told (`--wait`).
const DEFAULT_WAIT: u64 = 30;

/// Used when no name is given and the login name is unusable.
const ANONYMOUS: &str = "Anonymous";

/// How the connection is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Listen {
        host: String,
        port: u16,
    },
    /// Connect to `host:port`, trying again while nobody listens there, as
    /// long as `wait` allows.
    Connect {
        host: String,
        port: u16,
        wait: Patience,
    },
    /// Meet the peer that gave the same code through the mailbox, from
    /// anywhere, waiting for it as long as `wait` allows.
    Meet {
        wait: Patience,
    },
    /// Connect to the chat that announces this name on the local network,
    /// looking for it as long as `wait` allows; first to the host of that
    /// name, when `may_be_host` and it resolves.
    Find {
        name: String,
        may_be_host: bool,
        wait: Patience,
    },
}

impl Role {
    /// How `chat connect HOST [PORT]` connects (see [`crate::net::target`]):
    /// to an address, with its port or on the port a listener takes; to a
    /// name by looking for it on the network.
    fn connecting(given: Option<Given>, port: Option<u16>, wait: Option<u64>) -> Self {
        let Some(given) = given else {
            return Self::Meet {
                wait: Patience::from_secs(wait.unwrap_or(0)),
            };
        };
        let wait = Patience::from_secs(wait.unwrap_or(DEFAULT_WAIT));
        match target::target(given, port, cli::DEFAULT_PORT) {
            Target::Address { host, port } => Self::Connect { host, port, wait },
            Target::Name { name, may_be_host } => Self::Find {
                name,
                may_be_host,
                wait,
            },
        }
    }

    /// Whether this side made the connection, by address or by name: only
    /// such a side may be let into a room by its peer.
    pub fn connects(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Find { .. } | Self::Meet { .. } => true,
            Self::Listen { .. } => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    /// The name our messages are sent under.
    pub name: String,
    pub downloads: DownloadDir,
    /// How long a peer may take (almost) nothing of what we send.
    pub stall: Duration,
    /// Encrypted (the default), or the original wire.
    pub protection: Protection,
    /// Whether the code in `protection` was made here, to be shown to the
    /// user to pass on.
    pub made_code: bool,
    pub asking: Asking,
    /// Hosting a room, with its limits; `None` for a conversation of two.
    pub room: Option<RoomSettings>,
    /// Whether a listening chat announces itself on the local network.
    pub announce: bool,
    /// Where a code meets from anywhere: `None` unless the code is to be
    /// reached through the mailbox.
    pub anywhere: Option<Box<Anywhere>>,
    /// The user's identity and contacts: `None` on the original wire,
    /// which has no identities.
    pub me: Option<Me>,
    /// Whether a peer the code proved is saved as a contact at once.
    pub trust_verified: bool,
}

/// What a room's host runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomSettings {
    /// Most members besides the host.
    pub max_peers: usize,
    /// How often each encrypted member is pinged.
    pub keepalive: Duration,
}

/// Which offers of the peer's wait for the user's `/accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// Those over 100 MiB with a terminal; none without one, for scripts.
    Default,
    Above(u64),
    Never,
}

/// Above this, an offer waits for the user at a terminal.
pub const DEFAULT_ASK_ABOVE: u64 = 100 << 20;

impl Asking {
    /// Offers over how many bytes wait for the user; `None` takes all.
    pub fn limit(self, interactive: bool) -> Option<u64> {
        match self {
            Self::Default => interactive.then_some(DEFAULT_ASK_ABOVE),
            Self::Above(limit) => Some(limit),
            Self::Never => None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    Chat(Box<Settings>),
    /// List the chats on the local network: as JSON or not, waiting this
    /// long.
    Peers {
        json: bool,
        wait: Duration,
    },
    Completions(clap_complete::Shell),
    /// Show the user's identity.
    Id,
    /// List the contacts, or change one.
    Contacts(Option<cli::ContactsChange>),
    /// Remove what is kept of cut transfers in this download folder;
    /// `named` when the user gave it (then it must exist).
    Discard {
        downloads: DownloadDir,
        named: bool,
    },
}

impl Action {
    /// `login` is the login name from the environment (`$USER`), if any;
    /// `me` loads the user's identity and contacts, which only an
    /// encrypted chat needs.
    pub fn new(
        cli: Cli,
        login: Option<String>,
        me: impl FnOnce() -> anyhow::Result<Me>,
    ) -> anyhow::Result<Self> {
        let mut room = None;
        let mut announce = false;
        let anywhere;
        let (role, code, common) = match cli.command {
            Command::Listen {
                host,
                port,
                code,
                room: hosts_room,
                max_peers,
                keepalive,
                no_announce,
                lan,
                reach,
                common,
            } => {
                announce = !no_announce;
                anywhere = (code.is_some() && !lan).then(|| far(reach));
                room = hosts_room.then(|| RoomSettings {
                    max_peers: usize::from(max_peers),
                    keepalive: Duration::from_secs(u64::from(keepalive)),
                });
                let code = code.map(|given| match given {
                    Some(code) => (code, false),
                    // `--code` alone: make one.
                    None => (Code::generate(), true),
                });
                let host = host.unwrap_or_else(|| listening_host(anywhere.is_some()));
                (Role::Listen { host, port }, code, common)
            }
            Command::Connect {
                peer,
                wait,
                code,
                reach,
                common,
            } => (
                {
                    anywhere = peer.host.is_none().then(|| far(reach));
                    Role::connecting(peer.host.clone(), peer.port(), wait)
                },
                code.map(|code| (code, false)),
                common,
            ),
            Command::Peers { json, wait } => {
                return Ok(Self::Peers {
                    json,
                    wait: Duration::from_secs(wait),
                });
            }
            Command::Completions { shell } => return Ok(Self::Completions(shell)),
            Command::Id => return Ok(Self::Id),
            Command::Contacts { change } => return Ok(Self::Contacts(change)),
            Command::Discard { download_dir } => {
                return Ok(Self::Discard {
                    named: download_dir.is_some(),
                    downloads: DownloadDir::new(
                        download_dir.unwrap_or_else(|| cli::DEFAULT_DOWNLOAD_DIR.into()),
                    ),
                });
            }
        };
        let me = (!common.plain).then(me).transpose()?;
        let mut settings = Settings::new(role, code, common, login, room, announce, me);
        settings.anywhere = anywhere;
        Ok(Self::Chat(Box::new(settings)))
    }
}

/// Where a code meets from anywhere, as the command line says.
fn far(reach: cli::Reach) -> Box<Anywhere> {
    Box::new(Anywhere::new(
        reach.mailbox,
        reach.relay,
        reach.no_relay,
        reach.relay_only,
    ))
}

/// Where a listener listens unless told: every IPv4 address, as the
/// original does; from anywhere, where a peer may have IPv6 only, `::`,
/// which takes IPv4 too where the system lets it.
fn listening_host(anywhere: bool) -> String {
    match anywhere && crate::net::connect::dual_stack() {
        true => "::".to_string(),
        false => "0.0.0.0".to_string(),
    }
}

impl Settings {
    /// A chat's settings, from its role, its code (and whether it was made
    /// here), the options every chat takes, the login name, and a
    /// listener's room and announcing.
    fn new(
        role: Role,
        code: Option<(Code, bool)>,
        common: Common,
        login: Option<String>,
        room: Option<RoomSettings>,
        announce: bool,
        me: Option<Me>,
    ) -> Self {
        let Common {
            name,
            download_dir,
            stall_timeout,
            plain,
            ask_above,
            accept_all,
            trust,
        } = common;
        let name = name
            .or_else(|| login.and_then(|l| cli::parse_name(&l).ok()))
            .unwrap_or_else(|| ANONYMOUS.to_string());
        Self {
            role,
            name,
            downloads: DownloadDir::new(download_dir),
            stall: Duration::from_secs(stall_timeout),
            made_code: code.as_ref().is_some_and(|(_, made)| *made),
            asking: match (ask_above, accept_all) {
                (_, true) => Asking::Never,
                (Some(limit), false) => Asking::Above(limit),
                (None, false) => Asking::Default,
            },
            room,
            announce,
            anywhere: None,
            protection: match &me {
                Some(me) if !plain => Protection::Encrypted {
                    code: code.map(|(code, _)| code),
                    identity: me.identity.clone(),
                    expect: None,
                },
                _ => Protection::Plain,
            },
            me,
            trust_verified: trust,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str], login: Option<&str>) -> Settings {
        match Action::new(Cli::parse_from(args), login.map(str::to_string), || {
            Ok(crate::identity::Me::for_tests(1))
        }) {
            Ok(Action::Chat(settings)) => *settings,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_listener_takes_every_ipv4_address_unless_its_code_meets_from_anywhere() {
        let host = |args: &[&str]| match settings(args, None).role {
            Role::Listen { host, .. } => host,
            other => panic!("{other:?}"),
        };
        assert_eq!(host(&["chat", "listen"]), "0.0.0.0");
        assert_eq!(host(&["chat", "listen", "--code", "--lan"]), "0.0.0.0");
        let anywhere = host(&["chat", "listen", "--code"]);
        assert!(anywhere == "::" || anywhere == "0.0.0.0", "{anywhere}");
        assert_eq!(
            host(&["chat", "listen", "--code", "--host", "1.2.3.4"]),
            "1.2.3.4"
        );
        assert!(
            settings(&["chat", "listen", "--code", "--lan"], None)
                .anywhere
                .is_none()
        );
        let meet = settings(&["chat", "connect", "--code", "7-a-b", "--no-relay"], None);
        assert_eq!(
            meet.role,
            Role::Meet {
                wait: Patience::Endless
            }
        );
        assert_eq!(meet.anywhere.map(|a| a.relay), Some(None));
    }

    #[test]
    fn the_name_falls_back_to_the_login_then_anonymous() {
        assert_eq!(
            settings(&["chat", "listen", "--name", "I049"], Some("root")).name,
            "I049"
        );
        assert_eq!(settings(&["chat", "listen"], Some("daksh")).name, "daksh");
        assert_eq!(settings(&["chat", "listen"], None).name, ANONYMOUS);
        assert_eq!(settings(&["chat", "listen"], Some("")).name, ANONYMOUS);
        assert_eq!(
            settings(&["chat", "listen"], Some("bad]name")).name,
            ANONYMOUS
        );
    }

    #[test]
    fn the_role_carries_the_address() {
        let s = settings(&["chat", "connect", "localhost", "6000"], None);
        assert_eq!(
            s.role,
            Role::Connect {
                host: "localhost".into(),
                port: 6000,
                wait: Patience::UpTo(Duration::from_secs(30)),
            }
        );
        assert_eq!(s.downloads.path(), std::path::Path::new("received_files"));
        assert_eq!(s.room, None);
    }

    #[test]
    fn a_name_alone_is_looked_for_on_the_network() {
        let s = settings(&["chat", "connect", "alice"], None);
        assert_eq!(
            s.role,
            Role::Find {
                name: "alice".into(),
                may_be_host: false,
                wait: Patience::UpTo(Duration::from_secs(30)),
            }
        );
        assert!(settings(&["chat", "listen"], None).announce);
        assert!(!settings(&["chat", "listen", "--no-announce"], None).announce);
    }

    #[test]
    fn an_address_alone_takes_the_port_a_listener_takes() {
        for (host, shown) in [
            ("192.168.1.20", "192.168.1.20"),
            ("::1", "::1"),
            ("[::1]", "[::1]"),
            ("localhost", "localhost"),
        ] {
            let s = settings(&["chat", "connect", host, "--wait", "0"], None);
            assert_eq!(
                s.role,
                Role::Connect {
                    host: shown.into(),
                    port: 5050,
                    wait: Patience::Endless,
                }
            );
        }
        // A dotted name is a host's if it resolves, else looked for.
        let s = settings(&["chat", "connect", "alice.local", "--wait", "5"], None);
        assert_eq!(
            s.role,
            Role::Find {
                name: "alice.local".into(),
                may_be_host: true,
                wait: Patience::UpTo(Duration::from_secs(5)),
            }
        );
        // With its port after a colon, or given as listen takes it.
        for args in [
            &["chat", "connect", "127.0.0.1:6000"][..],
            &["chat", "connect", "127.0.0.1", "--port", "6000"],
        ] {
            let s = settings(args, None);
            assert_eq!(
                s.role,
                Role::Connect {
                    host: "127.0.0.1".into(),
                    port: 6000,
                    wait: Patience::UpTo(Duration::from_secs(30)),
                }
            );
        }
    }

    #[test]
    fn a_side_that_connects_by_name_or_address_may_join_a_room() {
        assert!(
            settings(&["chat", "connect", "alice"], None)
                .role
                .connects()
        );
        assert!(
            settings(&["chat", "connect", "h", "1"], None)
                .role
                .connects()
        );
        assert!(!settings(&["chat", "listen"], None).role.connects());
    }

    #[test]
    fn a_room_has_limits_and_needs_listening() {
        let s = settings(&["chat", "listen", "--room"], None);
        assert_eq!(
            s.room,
            Some(RoomSettings {
                max_peers: 16,
                keepalive: Duration::from_secs(15)
            })
        );
        let s = settings(&["chat", "listen", "--room", "--max-peers", "50"], None);
        assert_eq!(s.room.map(|r| r.max_peers), Some(50));
        for bad in [
            &["chat", "listen", "--max-peers", "5"][..],
            &["chat", "listen", "--room", "--max-peers", "0"],
            &["chat", "listen", "--room", "--max-peers", "257"],
            &["chat", "connect", "h", "1", "--room"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
