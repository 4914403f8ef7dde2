//! Setting up the one TCP connection: waiting for a single peer, or
//! connecting to one.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::terminal::screen::Screen;

/// How long to try each of a host's addresses before moving on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listening socket, waiting for its one peer. [`Waiting::stop`]
/// (from another thread) ends the wait, for a user who leaves first.
#[derive(Clone)]
pub struct Waiting {
    listener: Arc<TcpListener>,
    local: SocketAddr,
    stop_asked: Arc<AtomicBool>,
}

/// Binds `host:port` and says where it listens, and, when it listens on
/// every interface, which addresses a peer on the network can use.
pub fn bind(host: &str, port: u16, screen: &Screen) -> Result<Waiting> {
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
            screen.system(format!("Your peer can connect to {ip} {}", local.port()));
        }
    }
    Ok(Waiting {
        listener: Arc::new(listener),
        local,
        stop_asked: Arc::new(AtomicBool::new(false)),
    })
}

impl Waiting {
    /// Takes the first peer. The listening socket is closed as soon as one
    /// peer is in, so anyone else who tries is refused and cannot disturb
    /// the conversation. `Ok(None)` when [`Waiting::stop`] ended the wait.
    pub fn accept(self, screen: &Screen) -> Result<Option<TcpStream>> {
        match self.listener.accept() {
            Ok((stream, peer)) => {
                // No longer listening from this moment, whoever else still
                // holds the socket: a second peer is refused at once.
                self.stop();
                screen.system(format!("Connected by {}", shown(peer)));
                Ok(Some(stream))
            }
            // A shut-down listening socket fails its `accept`.
            Err(_) if self.stop_asked.load(Ordering::SeqCst) => Ok(None),
            Err(e) => {
                Err(e).with_context(|| format!("cannot accept a connection on {}", self.local))
            }
        }
    }

    /// Ends a wait in [`Waiting::accept`]: on Linux, shutting a listening
    /// socket down wakes the thread blocked on it.
    pub fn stop(&self) {
        self.stop_asked.store(true, Ordering::SeqCst);
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Both);
    }
}

/// Connects to `host:port`, trying each address the host resolves to.
/// `host` may be written in brackets, `[::1]`, as addresses are shown.
pub fn connect(host: &str, port: u16, screen: &Screen) -> Result<TcpStream> {
    let host = unbracket(host);
    let mut last_error = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                screen.system(format!("Connected to {}", shown(addr)));
                return Ok(stream);
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    let (addr, e) = last_error.expect("resolve returns at least one address");
    let target = if addr.ip().to_string() == host {
        shown(addr).to_string()
    } else {
        format!("{host} ({})", shown(addr))
    };
    Err(e).with_context(|| format!("cannot connect to {target}"))
}

/// `[::1]` as `::1`; anything else as it is.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// An address as people know it: an IPv4 peer reached over an IPv6 socket
/// (`[::ffff:127.0.0.1]:39748`) is shown as plain IPv4.
pub fn shown(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
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
    fn a_stopped_wait_ends_without_a_peer() {
        let (screen, _) = crate::terminal::screen::testing::captured();
        let waiting = bind("127.0.0.1", 0, &screen).unwrap();
        let stopper = waiting.clone();
        let waiter = std::thread::spawn(move || {
            let (screen, _) = crate::terminal::screen::testing::captured();
            waiting.accept(&screen).map(|s| s.is_none())
        });
        stopper.stop();
        assert!(waiter.join().unwrap().unwrap());
    }
}
