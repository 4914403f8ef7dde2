//! Setting up the one connection: waiting for a single peer, or
//! connecting to one, and, unless the user chose the original wire, the
//! encrypted channel's handshake. A listener turns away a peer that does
//! not speak the encrypted protocol and waits on; a connecting side gives
//! up on one. Neither ever falls back to the clear.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::net::patience::{Patience, Trying};
use crate::net::secure::Protection;
use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{Agreed, HandshakeError, Side};
use crate::net::stranger::sounds_like;
use crate::net::transport::{Connection, shown};
use crate::terminal::screen::Screen;
use crate::wire::limits::HANDSHAKE_LIMIT;

/// The port a chat listens on, and connects to, unless told otherwise.
pub const DEFAULT_PORT: u16 = 5050;

/// How long to try each of a host's addresses before moving on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause before trying a peer that is not there yet again, and
/// the longest: one that starts listening meanwhile is reached within
/// about a second.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// What the handshake says to the people on each side.
const SAFETY_CODE_NOTE: &str = "(the same on both screens means nobody is in between)";

/// A connection with its peer, ready for a conversation.
pub struct Established {
    pub connection: Connection,
    /// What the handshake agreed on; `None` on the original wire.
    pub agreed: Option<Agreed>,
}

/// A bound listening socket, waiting for its one peer. [`Waiting::stop`]
/// (from another thread) ends the wait, for a user who leaves first.
#[derive(Clone)]
pub struct Waiting {
    listener: Arc<TcpListener>,
    local: SocketAddr,
    stop_asked: Arc<AtomicBool>,
    /// The connection whose handshake runs, so that stopping ends it too.
    handshaking: Arc<Mutex<Option<TcpStream>>>,
    /// The wrong codes allowed to everyone who tries, together.
    guesses: Guesses,
}

/// Who a listening chat waits for, as its lines say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joiners {
    /// One peer.
    Peer,
    /// The members of a room.
    Room,
}

/// Binds `host:port` and says where it listens, and, when it listens on
/// every interface, which addresses a peer on the network can use.
pub fn bind(host: &str, port: u16, screen: &Screen) -> Result<Waiting> {
    bind_for(host, port, screen, Joiners::Peer)
}

/// [`bind`], saying the addresses to give to `joiners`.
pub fn bind_for(host: &str, port: u16, screen: &Screen, joiners: Joiners) -> Result<Waiting> {
    let host = unbracket(host);
    let addrs = resolve(host, port)?;
    // A name may resolve to several addresses; the first that binds serves.
    let listener = TcpListener::bind(&addrs[..]).with_context(|| match &addrs[..] {
        [one] => format!("cannot listen on {one}"),
        _ => format!("cannot listen on {host} port {port}"),
    })?;
    let local = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {host} port {port}"))?;
    screen.system(format!("Listening on {local} ..."));
    if local.ip().is_unspecified() {
        for ip in addresses_to_give(local.ip()) {
            let port = local.port();
            screen.system(match joiners {
                Joiners::Peer => format!("Your peer can connect to {ip} {port}"),
                Joiners::Room => format!("Others can join at {ip} {port}"),
            });
        }
    }
    Ok(Waiting {
        listener: Arc::new(listener),
        local,
        stop_asked: Arc::new(AtomicBool::new(false)),
        handshaking: Arc::new(Mutex::new(None)),
        guesses: Guesses::default(),
    })
}

impl Waiting {
    /// Takes the first peer that completes the handshake `protection`
    /// asks for; others are turned away, with a line saying why. The
    /// listening socket is closed as soon as one peer is in, so anyone
    /// else who tries is refused and cannot disturb the conversation.
    /// `Ok(None)` when [`Waiting::stop`] ended the wait.
    pub fn accept(self, screen: &Screen, protection: &Protection) -> Result<Option<Established>> {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // A shut-down listening socket fails its `accept`.
                Err(_) if self.stopped() => return Ok(None),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot accept a connection on {}", self.local));
                }
            };
            let peer = shown(peer);
            match self.meet(stream, protection) {
                Ok(established) => {
                    // No longer listening from this moment, whoever else
                    // still holds the socket: a second peer is refused.
                    self.stop();
                    screen.system(format!("Connected by {peer}"));
                    announce(screen, established.agreed.as_ref());
                    return Ok(Some(established));
                }
                Err(_) if self.stopped() => return Ok(None),
                Err(Refusal::Handshake(HandshakeError::WrongCode { nth, allowed })) => {
                    screen.system(wrong_code(peer, nth, allowed));
                    if nth >= allowed {
                        self.stop();
                        bail!(
                            "{allowed} attempts with a wrong code: stopped listening, \
                             since each one is a guess (start again with a new code)"
                        );
                    }
                }
                Err(Refusal::Handshake(HandshakeError::GuessesSpent(allowed))) => {
                    self.stop();
                    bail!("{allowed} attempts with a wrong code: stopped listening");
                }
                Err(e) => screen.system(format!(
                    "Turned away {peer}: {}. Still waiting for a peer.",
                    turned_away(&e)
                )),
            }
        }
    }

    /// The wrong codes allowed to everyone who connects here, together.
    pub fn guesses(&self) -> &Guesses {
        &self.guesses
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The next connection to the listening socket, before any handshake,
    /// for a room that lets many in; `Ok(None)` once [`Waiting::stop`] ended
    /// the wait.
    pub fn next_connection(&self) -> Result<Option<(TcpStream, SocketAddr)>> {
        match self.listener.accept() {
            Ok((stream, peer)) => Ok(Some((stream, shown(peer)))),
            Err(_) if self.stopped() => Ok(None),
            Err(e) => {
                Err(e).with_context(|| format!("cannot accept a connection on {}", self.local))
            }
        }
    }

    /// Sets up an accepted connection and runs the handshake on it, which
    /// [`Waiting::stop`] can interrupt.
    fn meet(&self, stream: TcpStream, protection: &Protection) -> Result<Established, Refusal> {
        let mut connection = Connection::tcp(stream).map_err(Refusal::Setup)?;
        let agreed = match protection {
            Protection::Plain => None,
            Protection::Encrypted { code } => {
                let interrupt = connection.try_clone_stream().map_err(Refusal::Setup)?;
                *self.lock_handshaking() = Some(interrupt);
                if self.stopped() {
                    return Err(Refusal::Setup(io::ErrorKind::Interrupted.into()));
                }
                let agreed = connection.encrypt(
                    Side::Listening,
                    code.as_ref(),
                    Some(&self.guesses),
                    HANDSHAKE_LIMIT,
                );
                *self.lock_handshaking() = None;
                Some(agreed.map_err(Refusal::Handshake)?)
            }
        };
        Ok(Established { connection, agreed })
    }

    fn lock_handshaking(&self) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
        self.handshaking
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop_asked.load(Ordering::SeqCst)
    }

    /// Ends a wait in [`Waiting::accept`]: on Linux, shutting a listening
    /// socket down wakes the thread blocked on it; a handshake under way
    /// ends with its connection.
    pub fn stop(&self) {
        self.stop_asked.store(true, Ordering::SeqCst);
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Both);
        if let Some(stream) = self.lock_handshaking().as_ref() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Why an accepted peer was not taken.
enum Refusal {
    Setup(io::Error),
    Handshake(HandshakeError),
}

/// The listening user's line for the `nth` wrong code of the `allowed`.
pub fn wrong_code(peer: SocketAddr, nth: u32, allowed: u32) -> String {
    format!("Turned away {peer}: the code did not match ({nth} of {allowed} attempts).")
}

/// Why a peer was turned away, for the listening user.
fn turned_away(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Setup(e) => format!("the connection could not be set up ({e})"),
        Refusal::Handshake(
            e @ (HandshakeError::CodeExpected
            | HandshakeError::CodeUnexpected
            | HandshakeError::BadCodeMessage),
        ) => format!("{e}; both sides must give the same --code"),
        Refusal::Handshake(HandshakeError::NotEncrypted { first })
            if sounds_like(first).is_some() =>
        {
            let what = sounds_like(first).unwrap_or_default();
            format!("it spoke like {what}, not a chat")
        }
        Refusal::Handshake(e) => format!("{}. {}", not_encrypted(e), PLAIN_HINT),
    }
}

/// Why a peer whose handshake failed was turned away, for the listening
/// user.
pub fn handshake_refused(e: HandshakeError) -> String {
    turned_away(&Refusal::Handshake(e))
}

/// Says how a connection is protected, right after the line that says who
/// connected.
pub fn announce_protection(screen: &Screen, agreed: Option<&Agreed>) {
    announce(screen, agreed);
}

const PLAIN_HINT: &str = "To talk with a peer that is not encrypted, both sides must use --plain";

/// What a failed handshake says about the peer.
fn not_encrypted(e: &HandshakeError) -> String {
    match e {
        HandshakeError::NotEncrypted { .. } => {
            "it sent plain text instead of the encrypted greeting (the original chat, or nc?)"
                .to_string()
        }
        HandshakeError::Io(e) if e.kind() == io::ErrorKind::TimedOut => format!(
            "it did not answer as an encrypted chat within {} s (the original chat, or nc?)",
            HANDSHAKE_LIMIT.as_secs()
        ),
        HandshakeError::Cut => {
            "it closed the connection during the handshake (a chat using --plain?)".to_string()
        }
        e => e.to_string(),
    }
}

/// Says how the conversation is protected, right after the connected line.
fn announce(screen: &Screen, agreed: Option<&Agreed>) {
    match agreed {
        Some(agreed) if agreed.verified => screen.system("Encrypted and verified with the code."),
        Some(agreed) => screen.system(format!(
            "Encrypted. Safety code: {} {SAFETY_CODE_NOTE}",
            agreed.safety_code
        )),
        // (Pipe mode's lines stay those a script of the original knows.)
        None if screen.is_interactive() => screen.system(PLAIN_NOTE),
        None => {}
    }
}

/// What a user at a terminal is told of a conversation on the original
/// wire, which has no encryption to announce.
const PLAIN_NOTE: &str =
    "Not encrypted (--plain): anyone on the network in between can read and change what is sent.";

/// The line that shows the safety code again.
pub fn safety_code_line(agreed: &Agreed) -> String {
    format!("Safety code: {} {SAFETY_CODE_NOTE}", agreed.safety_code)
}

/// Connects to `host:port`, trying each address the host resolves to (and
/// trying again while nobody listens there yet, as long as `trying`
/// allows), then runs the handshake `protection` asks for. `host` may be
/// written in brackets, `[::1]`, as addresses are shown.
pub fn connect(
    host: &str,
    port: u16,
    screen: &Screen,
    protection: &Protection,
    trying: &Trying,
) -> Result<Established> {
    let (stream, addr) = reach(host, port, screen, trying)?;
    let addr = shown(addr);
    let mut connection = Connection::tcp(stream).context("cannot set up the connection")?;
    let agreed = match protection {
        Protection::Plain => None,
        Protection::Encrypted { code } => {
            let agreed = connection
                .encrypt(Side::Connecting, code.as_ref(), None, HANDSHAKE_LIMIT)
                .map_err(|e| match e {
                    HandshakeError::CodeMismatch => anyhow!(
                        "{addr}: the code did not match; nothing of the conversation was \
                         exchanged (check the code with the other side)"
                    ),
                    HandshakeError::CodeExpected
                    | HandshakeError::CodeUnexpected
                    | HandshakeError::BadCodeMessage => {
                        anyhow!("{addr}: {e}; both sides must give the same --code")
                    }
                    HandshakeError::NotEncrypted { first } if sounds_like(&first).is_some() => {
                        anyhow!(
                            "{addr}: this port answers like {}, not a chat; check the address \
                             and the port (chat listen takes {DEFAULT_PORT} unless told otherwise)",
                            sounds_like(&first).unwrap_or_default()
                        )
                    }
                    e => anyhow!(
                        "{addr}: {}. Nothing was sent in the clear. {PLAIN_HINT}",
                        not_encrypted(&e)
                    ),
                })?;
            Some(agreed)
        }
    };
    screen.system(format!("Connected to {addr}"));
    announce(screen, agreed.as_ref());
    Ok(Established { connection, agreed })
}

/// Opens a TCP connection to the first of `host`'s addresses that answers.
/// While none does because nobody listens there yet, or it cannot be
/// reached yet, tries again as long as `trying` allows, and says so once.
/// A name that does not resolve is not tried again.
fn reach(
    host: &str,
    port: u16,
    screen: &Screen,
    trying: &Trying,
) -> Result<(TcpStream, SocketAddr)> {
    let host = unbracket(host);
    let addrs = resolve(host, port)?;
    let mut pause = FIRST_PAUSE;
    let mut waited = false;
    loop {
        let (addr, e) = match first_to_answer(&addrs, trying) {
            Ok(reached) => return Ok(reached),
            Err(failed) => failed,
        };
        if !not_there_yet(&e) || trying.stopped() {
            return Err(cannot_connect(host, addr, e, None));
        }
        if !waited {
            screen.system(waiting_line(host, port, &e, trying.patience()));
            waited = true;
        }
        if !trying.pause(pause) {
            return Err(cannot_connect(host, addr, e, trying.patience().limit()));
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Why `host` could not be reached at `addr`, and for how long it was
/// tried, if it was tried again.
fn cannot_connect(
    host: &str,
    addr: SocketAddr,
    e: io::Error,
    tried: Option<Duration>,
) -> anyhow::Error {
    let target = if addr.ip().to_string() == host {
        shown(addr).to_string()
    } else {
        format!("{host} ({})", shown(addr))
    };
    let tried = tried.map_or(String::new(), |limit| {
        format!(" (tried for {} s)", limit.as_secs())
    });
    anyhow!(e).context(format!("cannot connect to {target}{tried}"))
}

/// Tries each address in turn; the first connection made, or the last
/// address and why it failed.
fn first_to_answer(
    addrs: &[SocketAddr],
    trying: &Trying,
) -> Result<(TcpStream, SocketAddr), (SocketAddr, io::Error)> {
    let mut last_error = None;
    for &addr in addrs {
        // Not past the time to give up, and never zero, which is refused.
        let limit = trying
            .left()
            .map_or(CONNECT_TIMEOUT, |left| left.min(CONNECT_TIMEOUT))
            .max(Duration::from_millis(10));
        match TcpStream::connect_timeout(&addr, limit) {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => last_error = Some((addr, e)),
        }
    }
    Err(last_error.expect("resolve returns at least one address"))
}

/// Whether a failed connection means the peer may be there later: nobody
/// listens yet, or its machine or network cannot be reached yet.
fn not_there_yet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::TimedOut
    )
}

/// What the user is told, once, while `chat connect HOST PORT` waits.
fn waiting_line(host: &str, port: u16, e: &io::Error, patience: Patience) -> String {
    let how_long = match patience {
        Patience::UpTo(limit) => format!("for up to {} s", limit.as_secs()),
        Patience::Endless => "until it answers".to_string(),
    };
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("Nobody listens on {host} {port} yet"),
        _ => format!("Cannot reach {host} {port} yet ({e})"),
    };
    format!("{what}; trying again {how_long} (Ctrl-C stops).")
}

/// `[::1]` as `::1`; anything else as it is.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The machine's addresses a peer could use to reach a socket bound to
/// the wildcard `bound`: non-loopback ones, IPv4 first (IPv6 too when
/// bound to `::`, without link-local ones, which need a scope to be
/// usable); the loopback address only when there is nothing else.
fn addresses_to_give(bound: IpAddr) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && usable_from(bound, *ip))
        .collect();
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
    if ips.is_empty() {
        ips.push(match bound {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    ips
}

fn usable_from(bound: IpAddr, ip: IpAddr) -> bool {
    match (bound, ip) {
        (_, IpAddr::V4(_)) => true,
        (IpAddr::V6(_), IpAddr::V6(v6)) => !v6.is_unicast_link_local(),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// Whether `host` is a host name that resolves to an address (`host` is
/// unbracketed first).
pub fn resolves(host: &str, port: u16) -> bool {
    (unbracket(host), port)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.next().is_some())
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve host {host:?}"))?
        .collect();
    if addrs.is_empty() {
        bail!("cannot resolve host {host:?}: no addresses");
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_are_taken_off_addresses() {
        assert_eq!(unbracket("[::1]"), "::1");
        assert_eq!(unbracket("::1"), "::1");
        assert_eq!(unbracket("localhost"), "localhost");
        assert_eq!(unbracket("[x"), "[x");
    }

    #[test]
    fn mapped_ipv4_peers_are_shown_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:39748".parse().unwrap();
        assert_eq!(shown(mapped).to_string(), "127.0.0.1:39748");
        let v6: SocketAddr = "[::1]:5050".parse().unwrap();
        assert_eq!(shown(v6).to_string(), "[::1]:5050");
    }

    #[test]
    fn addresses_to_give_are_never_empty_and_ipv4_comes_first() {
        let v4 = addresses_to_give("0.0.0.0".parse().unwrap());
        assert!(!v4.is_empty());
        assert!(v4.iter().all(IpAddr::is_ipv4));
        let any = addresses_to_give("::".parse().unwrap());
        let first_v6 = any.iter().position(IpAddr::is_ipv6).unwrap_or(any.len());
        assert!(any[first_v6..].iter().all(IpAddr::is_ipv6));
    }

    #[test]
    fn only_a_peer_not_there_yet_is_tried_again() {
        use io::ErrorKind::*;
        for kind in [
            ConnectionRefused,
            HostUnreachable,
            NetworkUnreachable,
            TimedOut,
        ] {
            assert!(not_there_yet(&kind.into()), "{kind:?}");
        }
        for kind in [
            PermissionDenied,
            AddrNotAvailable,
            InvalidInput,
            ConnectionReset,
        ] {
            assert!(!not_there_yet(&kind.into()), "{kind:?}");
        }
    }

    #[test]
    fn the_waiting_line_says_what_is_missing_and_for_how_long() {
        let refused = io::ErrorKind::ConnectionRefused.into();
        assert_eq!(
            waiting_line("192.168.1.20", 5050, &refused, Patience::from_secs(30)),
            "Nobody listens on 192.168.1.20 5050 yet; trying again for up to 30 s (Ctrl-C stops)."
        );
        let unreachable = io::Error::from(io::ErrorKind::HostUnreachable);
        let line = waiting_line("box", 6000, &unreachable, Patience::Endless);
        assert!(
            line.starts_with("Cannot reach box 6000 yet (")
                && line.ends_with("; trying again until it answers (Ctrl-C stops)."),
            "{line}"
        );
    }

    #[test]
    fn a_stopped_wait_ends_without_a_peer() {
        let (screen, _) = crate::terminal::screen::testing::captured();
        let waiting = bind("127.0.0.1", 0, &screen).unwrap();
        let stopper = waiting.clone();
        let waiter = std::thread::spawn(move || {
            let (screen, _) = crate::terminal::screen::testing::captured();
            waiting
                .accept(&screen, &Protection::Encrypted { code: None })
                .map(|s| s.is_none())
        });
        stopper.stop();
        assert!(waiter.join().unwrap().unwrap());
    }
}
