//! Setting up the one connection: waiting for a single peer, or
//! connecting to one, and, unless the user chose the original wire, the
//! encrypted channel's handshake. A listener turns away a peer that does
//! not speak the encrypted protocol and waits on; a connecting side gives
//! up on one. Neither ever falls back to the clear.

use crate::identity::PeerKey;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::net::arrivals::{Arrival, Arrivals, Via};
use crate::net::events::{Joiners, LinkEvent, NotEncrypted, PLAIN_HINT, Refusal};
use crate::net::patience::Trying;
use crate::net::secure::Protection;
use crate::net::secure::guesses::Guesses;
use crate::net::secure::handshake::{Agreed, HandshakeError, Side};
use crate::net::socket::Socket;
use crate::net::stranger::sounds_like;
use crate::net::transport::{Connection, shown};
use crate::wire::limits::HANDSHAKE_LIMIT;

/// Where `net` tells what happens while the connection is set up.
pub type Report<'r> = &'r (dyn Fn(LinkEvent<'_>) + Sync);

/// The port a chat listens on, and connects to, unless told otherwise.
pub const DEFAULT_PORT: u16 = 5050;

/// How long to try each of a host's addresses before moving on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause before trying a peer that is not there yet again, and
/// the longest: one that starts listening meanwhile is reached within
/// about a second.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

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
    /// What comes to the socket, and through the relay.
    arrivals: Arrivals,
    local: SocketAddr,
    stop_asked: Arc<AtomicBool>,
    /// The connection whose handshake runs, so that stopping ends it too.
    handshaking: Arc<Mutex<Option<Box<dyn Socket>>>>,
    /// The wrong codes allowed to everyone who tries, together.
    guesses: Guesses,
}

/// Binds `host:port` and says where it listens, and, when it listens on
/// every interface, which addresses a peer on the network can use.
pub fn bind(host: &str, port: u16, report: Report) -> Result<Waiting> {
    bind_for(host, port, report, Joiners::Peer)
}

/// [`bind`], saying the addresses to give to `joiners`.
pub fn bind_for(host: &str, port: u16, report: Report, joiners: Joiners) -> Result<Waiting> {
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
    report(LinkEvent::Listening(local));
    if local.ip().is_unspecified() {
        for ip in addresses_to_give(local.ip()) {
            let port = local.port();
            report(LinkEvent::ReachableAt { ip, port, joiners });
        }
    }
    let listener = Arc::new(listener);
    let stop_asked = Arc::new(AtomicBool::new(false));
    let arrivals = Arrivals::new(stop_asked.clone());
    arrivals.take_from(listener.clone())?;
    Ok(Waiting {
        listener,
        arrivals,
        local,
        stop_asked,
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
    pub fn accept(self, report: Report, protection: &Protection) -> Result<Option<Established>> {
        loop {
            let (stream, via) = match self.arrivals.next() {
                Some(Arrival::Connection(stream, via)) => (stream, via),
                Some(Arrival::End(why)) => {
                    self.stop();
                    bail!("{why}");
                }
                None => return Ok(None),
            };
            let peer = &via;
            match self.meet(stream, protection) {
                Ok(established) => {
                    // No longer listening from this moment, whoever else
                    // still holds the socket: a second peer is refused.
                    self.stop();
                    report(match &via {
                        Via::Direct(address) if self.arrivals.may_be_relayed() => {
                            LinkEvent::ConnectedDirectlyBy(*address)
                        }
                        Via::Direct(address) => LinkEvent::ConnectedBy(*address),
                        Via::Relay(relay) => LinkEvent::Relayed(relay),
                    });
                    return Ok(Some(established));
                }
                Err(_) if self.stopped() => return Ok(None),
                Err(Refusal::Handshake(HandshakeError::WrongCode { nth, allowed })) => {
                    report(LinkEvent::WrongCode { peer, nth, allowed });
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
                Err(why) => report(LinkEvent::TurnedAway { peer, why: &why }),
            }
        }
    }

    /// The wrong codes allowed to everyone who connects here, together.
    pub fn guesses(&self) -> &Guesses {
        &self.guesses
    }

    /// The addresses a peer elsewhere may try: those of every interface
    /// when listening on all of them.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        match self.local.ip().is_unspecified() {
            true => addresses_to_give(self.local.ip())
                .into_iter()
                .map(|ip| SocketAddr::new(ip, self.local.port()))
                .collect(),
            false => vec![self.local],
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The next connection to the listening socket, before any handshake,
    /// for a room that lets many in; `Ok(None)` once [`Waiting::stop`] ended
    /// the wait.
    pub fn next_connection(&self) -> Result<Option<(TcpStream, SocketAddr)>> {
        match self.arrivals.next() {
            Some(Arrival::Connection(stream, Via::Direct(peer))) => Ok(Some((stream, peer))),
            Some(Arrival::Connection(stream, Via::Relay(_))) => {
                let relay = stream
                    .peer_addr()
                    .context("a connection through the relay")?;
                Ok(Some((stream, shown(relay))))
            }
            Some(Arrival::End(why)) => bail!("{why}"),
            None => Ok(None),
        }
    }

    /// Where connections through the relay are brought.
    pub fn arrivals(&self) -> &Arrivals {
        &self.arrivals
    }

    /// Whether waiting ended (the peer is in, or the user left).
    pub fn stopped(&self) -> bool {
        self.stop_asked.load(Ordering::SeqCst)
    }

    /// Sets up an accepted connection and runs the handshake on it, which
    /// [`Waiting::stop`] can interrupt.
    fn meet(&self, stream: TcpStream, protection: &Protection) -> Result<Established, Refusal> {
        let mut connection = Connection::tcp(stream).map_err(Refusal::Setup)?;
        let agreed = match protection {
            Protection::Plain => None,
            Protection::Encrypted { .. } => {
                let interrupt = connection.try_clone_stream().map_err(Refusal::Setup)?;
                *self.lock_handshaking() = Some(interrupt);
                if self.stopped() {
                    return Err(Refusal::Setup(io::ErrorKind::Interrupted.into()));
                }
                let credentials = protection.credentials().expect("an encrypted chat's");
                let agreed = connection.encrypt(
                    Side::Listening,
                    credentials,
                    Some(&self.guesses),
                    HANDSHAKE_LIMIT,
                );
                *self.lock_handshaking() = None;
                Some(agreed.map_err(Refusal::Handshake)?)
            }
        };
        Ok(Established { connection, agreed })
    }

    fn lock_handshaking(&self) -> std::sync::MutexGuard<'_, Option<Box<dyn Socket>>> {
        self.handshaking
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends a wait in [`Waiting::accept`]: on Linux, shutting a listening
    /// socket down wakes the thread blocked on it; a handshake under way
    /// ends with its connection.
    pub fn stop(&self) {
        self.stop_asked.store(true, Ordering::SeqCst);
        self.arrivals.wake();
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Both);
        if let Some(stream) = self.lock_handshaking().as_ref() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Connects to `host:port`, trying each address the host resolves to (and
/// trying again while nobody listens there yet, as long as `trying`
/// allows), then runs the handshake `protection` asks for. `host` may be
/// written in brackets, `[::1]`, as addresses are shown.
pub fn connect(
    host: &str,
    port: u16,
    report: Report,
    protection: &Protection,
    trying: &Trying,
) -> Result<Established> {
    let (stream, addr) = reach(host, port, report, trying)?;
    let addr = shown(addr);
    let established = secure(stream, &addr, protection)?;
    report(LinkEvent::ConnectedTo(addr));
    Ok(established)
}

/// Runs the handshake `protection` asks for, as the connecting side, on
/// `stream` to the peer shown as `addr`.
pub(crate) fn secure(
    stream: TcpStream,
    addr: &dyn std::fmt::Display,
    protection: &Protection,
) -> Result<Established> {
    let mut connection = Connection::tcp(stream).context("cannot set up the connection")?;
    let agreed = match protection.credentials() {
        None => None,
        Some(credentials) => Some(
            connection
                .encrypt(Side::Connecting, credentials, None, HANDSHAKE_LIMIT)
                .map_err(|e| refused(addr, e))?,
        ),
    };
    Ok(Established { connection, agreed })
}

/// The peer proved another identity than the one expected: the
/// connecting side stopped before proving its own.
#[derive(Debug, thiserror::Error)]
#[error(
    "{addr}: this chat does not hold the identity expected (it proved {}); \
     not connected, and nothing of yours was revealed to it",
    proved.fingerprint()
)]
pub struct Impostor {
    pub addr: String,
    pub proved: PeerKey,
}

/// Why the handshake with the peer at `addr` failed, for the user.
fn refused(addr: &dyn std::fmt::Display, e: HandshakeError) -> anyhow::Error {
    match e {
        HandshakeError::CodeMismatch => anyhow!(
            "{addr}: the code did not match; nothing of the conversation was \
             exchanged (check the code with the other side)"
        ),
        HandshakeError::CodeExpected
        | HandshakeError::CodeUnexpected
        | HandshakeError::BadCodeMessage => {
            anyhow!("{addr}: {e}; both sides must give the same --code")
        }
        HandshakeError::OlderVersion => anyhow!("{addr}: {e}"),
        HandshakeError::BadProof => anyhow!(
            "{addr}: {e}: someone between the two sides changes what passes; nothing was exchanged"
        ),
        HandshakeError::Impostor(key) => anyhow::Error::new(Impostor {
            addr: addr.to_string(),
            proved: key,
        }),
        HandshakeError::NotEncrypted { first } if sounds_like(&first).is_some() => {
            anyhow!(
                "{addr}: this port answers like {}, not a chat; check the address \
                 and the port (chat listen takes {DEFAULT_PORT} unless told otherwise)",
                sounds_like(&first).unwrap_or_default()
            )
        }
        e => anyhow!(
            "{addr}: {}. Nothing was sent in the clear. {PLAIN_HINT}",
            NotEncrypted(&e)
        ),
    }
}

/// Opens a TCP connection to the first of `host`'s addresses that answers.
/// While none does because nobody listens there yet, or it cannot be
/// reached yet, tries again as long as `trying` allows, and says so once.
/// A name that does not resolve is not tried again.
fn reach(
    host: &str,
    port: u16,
    report: Report,
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
            report(LinkEvent::NotThereYet {
                host,
                port,
                why: &e,
                patience: trying.patience(),
            });
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

/// Whether this machine can listen on IPv6 and IPv4 with one socket.
pub fn dual_stack() -> bool {
    std::net::TcpListener::bind("[::]:0").is_ok_and(|socket| {
        let v4 = socket.local_addr().map(|a| a.port()).ok();
        v4.is_some_and(|port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
    })
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
    fn a_stopped_wait_ends_without_a_peer() {
        let waiting = bind("127.0.0.1", 0, &|_| {}).unwrap();
        let stopper = waiting.clone();
        let waiter = std::thread::spawn(move || {
            waiting
                .accept(&|_| {}, &Protection::for_tests(2))
                .map(|s| s.is_none())
        });
        stopper.stop();
        assert!(waiter.join().unwrap().unwrap());
    }
}
