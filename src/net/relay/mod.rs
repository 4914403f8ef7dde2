//! A client of magic-wormhole's transit relay (PROTOCOL.md 3.10): both
//! sides connect to it and present the same token, and once both are there
//! it passes each one's bytes to the other. It sees only the encrypted
//! wire, so what it learns is addresses, timing and sizes.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The public transit relay that magic-wormhole's programs use.
pub const DEFAULT_RELAY: &str = "tcp:transit.magic-wormhole.io:4001";

/// How long a connection to the relay may take to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a wait for the other side looks whether it should stop.
const TICK: Duration = Duration::from_millis(250);

/// A transit relay's address, written `tcp:HOST:PORT`.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayAddr {
    pub host: String,
    pub port: u16,
}

impl FromStr for RelayAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a relay address: write it as tcp:HOST:PORT");
        let rest = text
            .strip_prefix("tcp://")
            .or_else(|| text.strip_prefix("tcp:"))
            .ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(bad)?;
        // A host name or an address, nothing else: it may come from the
        // other side, and is shown.
        let is_host = crate::net::target::is_host_name(host) || host.parse::<IpAddr>().is_ok();
        if !is_host {
            return Err(bad());
        }
        Ok(RelayAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for RelayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "[{}]:{}", self.host, self.port),
            false => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Debug for RelayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp:{self}")
    }
}

/// Why the relay gave no connection.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot reach the relay {relay} ({why})")]
    Unreachable { relay: String, why: io::Error },
    #[error("the relay {relay} refused us ({answer:?})")]
    Refused { relay: String, answer: String },
    #[error("the other side did not come to the relay {relay} within {secs} s")]
    Alone { relay: String, secs: u64 },
    #[error("stopped")]
    Stopped,
}

/// Connects to `relay` and waits there, as long as `within` and `stop`
/// allow, for the other side that presents `token`; then the stream
/// passes the other side's bytes. `side` tells our connection from the
/// other's (the relay pairs two different sides).
pub fn join(
    relay: &RelayAddr,
    token: &[u8; 32],
    side: &[u8; 8],
    within: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<TcpStream, RelayError> {
    let unreachable = |why| RelayError::Unreachable {
        relay: relay.to_string(),
        why,
    };
    let mut stream = connect(relay).map_err(unreachable)?;
    let line = format!("please relay {} for side {}\n", hex(token), hex(side));
    stream.write_all(line.as_bytes()).map_err(unreachable)?;
    stream.set_read_timeout(Some(TICK)).map_err(unreachable)?;
    // Nothing may be sent before its "ok": the relay drops a side that is
    // impatient. The other side's first bytes may follow the "ok" in the
    // same read, so exactly three bytes are read.
    let until = Instant::now() + within;
    let mut answer = Vec::with_capacity(3);
    while answer.len() < 3 {
        if stop() {
            return Err(RelayError::Stopped);
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => answer.push(byte[0]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() >= until {
                    return Err(RelayError::Alone {
                        relay: relay.to_string(),
                        secs: within.as_secs(),
                    });
                }
            }
            Err(e) => return Err(unreachable(e)),
        }
    }
    if answer != b"ok\n" {
        let mut rest = [0u8; 64];
        let n = stream.read(&mut rest).unwrap_or(0);
        answer.extend_from_slice(&rest[..n]);
        return Err(RelayError::Refused {
            relay: relay.to_string(),
            answer: String::from_utf8_lossy(&answer).trim().to_string(),
        });
    }
    stream.set_read_timeout(None).map_err(unreachable)?;
    Ok(stream)
}

/// A side for the relay: random, so that the two connections of one
/// meeting are told apart.
pub fn random_side() -> [u8; 8] {
    let mut side = [0u8; 8];
    getrandom::fill(&mut side).expect("the system's random generator works");
    side
}

fn connect(relay: &RelayAddr) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for address in (relay.host.as_str(), relay.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn hex(bytes: &[u8]) -> String {
    crate::net::mailbox::messages::hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn relay_addresses_are_read_as_wormhole_writes_them() {
        let relay: RelayAddr = DEFAULT_RELAY.parse().unwrap();
        assert_eq!(relay.to_string(), "transit.magic-wormhole.io:4001");
        let relay: RelayAddr = "tcp://[::1]:4001".parse().unwrap();
        assert_eq!((relay.host.as_str(), relay.port), ("::1", 4001));
        assert_eq!(relay.to_string(), "[::1]:4001");
        for bad in [
            "relay:4001",
            "tcp:relay",
            "tcp::4001",
            "tcp:relay:0",
            "tcp:a b:1",
            "tcp:\u{1b}[2J:4001",
        ] {
            assert!(bad.parse::<RelayAddr>().is_err(), "{bad}");
        }
    }

    /// A relay that answers `answer` to the first line it reads.
    fn fake_relay(answer: &'static [u8]) -> (RelayAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(&stream), &mut line).unwrap();
            stream.write_all(answer).unwrap();
            line
        });
        (format!("tcp:127.0.0.1:{port}").parse().unwrap(), thread)
    }

    #[test]
    fn the_relay_is_asked_with_the_token_and_side_and_its_ok_is_taken() {
        let (relay, thread) = fake_relay(b"ok\nfirst bytes");
        let mut stream = join(&relay, &[0xab; 32], &[1; 8], TICK * 8, &|| false).unwrap();
        let line = thread.join().unwrap();
        assert_eq!(
            line,
            format!(
                "please relay {} for side {}\n",
                "ab".repeat(32),
                "01".repeat(8)
            )
        );
        let mut rest = String::new();
        stream.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "first bytes");
    }

    #[test]
    fn a_refusal_of_the_relay_is_said() {
        let (relay, _thread) = fake_relay(b"impatient\n");
        let e = join(&relay, &[0; 32], &[0; 8], TICK * 8, &|| false).unwrap_err();
        assert!(e.to_string().contains("\"impatient\""), "{e}");
    }
}
