//! Where the mailbox server is: a `ws://HOST[:PORT]/PATH` address, as
//! magic-wormhole writes it.

use std::fmt;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::str::FromStr;
use std::time::Duration;

/// The public mailbox server that magic-wormhole's programs use.
pub const DEFAULT_MAILBOX: &str = "ws://relay.magic-wormhole.io:4000/v1";

/// A mailbox server's address.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxUrl {
    url: String,
    host: String,
    port: u16,
}

impl MailboxUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// A TCP connection to the server, made within `within` (a WebSocket
    /// has no timeout of its own), trying each of the host's addresses.
    pub fn connect(&self, within: Duration) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
        let addresses = (self.host.as_str(), self.port).to_socket_addrs()?;
        for address in addresses {
            match TcpStream::connect_timeout(&address, within) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl FromStr for MailboxUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?} is not a mailbox address: {why}");
        let rest = match text.split_once("://") {
            Some(("ws", rest)) => rest,
            Some(("wss", _)) => return Err(bad("wss:// is not supported, use ws://")),
            _ => return Err(bad("write it as ws://HOST:PORT/PATH")),
        };
        let (authority, _) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port = port.parse().map_err(|_| bad("its port is not a number"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(bad("it has no host"));
        }
        Ok(MailboxUrl {
            url: text.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for MailboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for MailboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxUrl({})", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_addresses_are_read_as_wormhole_writes_them() {
        let url: MailboxUrl = DEFAULT_MAILBOX.parse().unwrap();
        assert_eq!(
            (url.host.as_str(), url.port),
            ("relay.magic-wormhole.io", 4000)
        );
        let url: MailboxUrl = "ws://[::1]:4000/v1".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 4000));
        let url: MailboxUrl = "ws://example.org/v1".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("example.org", 80));
        for bad in [
            "relay:4000",
            "http://x/v1",
            "wss://x/v1",
            "ws://:4000/v1",
            "ws://x:y/v1",
        ] {
            assert!(bad.parse::<MailboxUrl>().is_err(), "{bad}");
        }
    }
}
