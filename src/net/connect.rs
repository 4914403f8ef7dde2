//! Setting up the one TCP connection: waiting for a single peer, or
//! connecting to one.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::terminal::screen::Screen;

/// How long to try each of a host's addresses before moving on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens on `host:port` and returns the first peer's connection. The
/// listening socket is closed as soon as one peer is in, so anyone else who
/// tries is refused and cannot disturb the conversation.
pub fn listen(host: &str, port: u16, screen: &Screen) -> Result<TcpStream> {
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
    let (stream, peer) = listener
        .accept()
        .with_context(|| format!("cannot accept a connection on {local}"))?;
    drop(listener);
    screen.system(format!("Connected by {peer}"));
    Ok(stream)
}

/// Connects to `host:port`, trying each address the host resolves to.
pub fn connect(host: &str, port: u16, screen: &Screen) -> Result<TcpStream> {
    let mut last_error = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                screen.system(format!("Connected to {addr}"));
                return Ok(stream);
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    let (addr, e) = last_error.expect("resolve returns at least one address");
    let target = if addr.ip().to_string() == host {
        addr.to_string()
    } else {
        format!("{host} ({addr})")
    };
    Err(e).with_context(|| format!("cannot connect to {target}"))
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
