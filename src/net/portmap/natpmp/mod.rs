//! Asking the router for a port by NAT-PMP (RFC 6886) over UDP: its
//! external address first, then the mapping; each request sent again as
//! the RFC says (after 250 ms, then twice as long each time) until the
//! caller's deadline.

pub mod wire;

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use super::deadline::Deadline;
use super::lease::{LEASE_SECS, Lease};
use super::{MapError, Method, route};
use wire::{Protocol, Reply, Request};

pub use wire::PORT;

/// The first wait for a reply, doubled after each request (RFC 6886 §3.1).
const FIRST_WAIT: Duration = Duration::from_millis(250);
/// How many times a request is sent at most (RFC 6886 §3.1).
const TRIES: u32 = 9;
/// Larger than any reply; a longer datagram is cut, which decoding allows.
const DATAGRAM: usize = 1100;

/// Maps the TCP port `internal` on this host at the router whose NAT-PMP
/// service is `router`, asking for the same port outside first.
pub(super) fn map(
    router: SocketAddrV4,
    internal: u16,
    deadline: Deadline,
) -> Result<Box<dyn Lease>, MapError> {
    let client = Client::new(router)?;
    let address = client.external_address(deadline)?;
    route::check_external(Method::NatPmp, address)?;
    // A router that will not give this port may still pick one (RFC 6886
    // §3.3: a suggested port of 0 leaves the choice to it).
    let (external, lifetime) = match client.map(internal, internal, LEASE_SECS, deadline) {
        Err(MapError::Refused { .. }) => client.map(internal, 0, LEASE_SECS, deadline)?,
        other => other?,
    };
    Ok(Box::new(NatPmpLease {
        client,
        address,
        internal,
        external,
        lifetime,
    }))
}

/// A UDP socket that talks to the router alone.
struct Client {
    socket: UdpSocket,
    router: SocketAddrV4,
}

impl Client {
    fn new(router: SocketAddrV4) -> Result<Client, MapError> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|socket| socket.connect(router).map(|()| socket))
            .map_err(|cause| network(router, cause))?;
        Ok(Client { socket, router })
    }

    fn external_address(&self, deadline: Deadline) -> Result<Ipv4Addr, MapError> {
        self.ask(Request::ExternalAddress, deadline, |reply| match reply {
            Reply::ExternalAddress { address, .. } => Some(Ok(address)),
            Reply::Refused { result, .. } => Some(Err(refused(result))),
            Reply::Mapped { .. } => None,
        })
    }

    /// Asks for `suggested` (0: any) to forward to `internal` for
    /// `lifetime` seconds (0: remove it); the router's answer is the port
    /// it gave and for how long.
    fn map(
        &self,
        internal: u16,
        suggested: u16,
        lifetime: u32,
        deadline: Deadline,
    ) -> Result<(u16, u32), MapError> {
        let request = Request::Map {
            protocol: Protocol::Tcp,
            internal,
            suggested,
            lifetime,
        };
        self.ask(request, deadline, |reply| match reply {
            // A late reply to an earlier request for another port.
            Reply::Mapped {
                internal: other, ..
            } if other != internal => None,
            // Only a removal may be answered with no port or no time.
            Reply::Mapped {
                external,
                lifetime: given,
                ..
            } if lifetime != 0 && (external == 0 || given == 0) => Some(Err(gave_nothing())),
            Reply::Mapped {
                external,
                lifetime: given,
                ..
            } => Some(Ok((external, given))),
            Reply::Refused { result, .. } => Some(Err(refused(result))),
            Reply::ExternalAddress { .. } => None,
        })
    }

    /// Sends `request` until `answer` makes something of a reply to it or
    /// the deadline passes. Datagrams from anywhere but the router, and
    /// replies to other requests, are passed over.
    fn ask<T>(
        &self,
        request: Request,
        deadline: Deadline,
        answer: impl Fn(Reply) -> Option<Result<T, MapError>>,
    ) -> Result<T, MapError> {
        let bytes = request.encode();
        let mut wait = FIRST_WAIT;
        for _ in 0..TRIES {
            if deadline.left().is_none() {
                break;
            }
            let until = deadline.cut(wait);
            self.socket
                .send(&bytes)
                .map_err(|cause| network(self.router, cause))?;
            loop {
                let reply = match self.next_reply(until) {
                    Ok(Some(reply)) => reply,
                    Ok(None) => break,
                    // The router says (ICMP) that nothing listens: it does
                    // not speak NAT-PMP, and waiting would not change that.
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        return Err(deadline.timed_out());
                    }
                    Err(cause) => return Err(network(self.router, cause)),
                };
                if reply.opcode() != request.opcode() {
                    continue;
                }
                if let Some(answer) = answer(reply) {
                    return answer;
                }
            }
            wait *= 2;
        }
        Err(deadline.timed_out())
    }

    /// The next reply from the router before `until`, or `None` when the
    /// time is up.
    fn next_reply(&self, until: Instant) -> io::Result<Option<Reply>> {
        let mut buffer = [0; DATAGRAM];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buffer) {
                Ok((len, from)) if from == SocketAddr::V4(self.router) => {
                    if let Ok(reply) = Reply::decode(&buffer[..len]) {
                        return Ok(Some(reply));
                    }
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A port the router gave by NAT-PMP.
struct NatPmpLease {
    client: Client,
    address: Ipv4Addr,
    internal: u16,
    external: u16,
    lifetime: u32,
}

impl Lease for NatPmpLease {
    fn method(&self) -> Method {
        Method::NatPmp
    }

    fn external(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.address, self.external)
    }

    fn lifetime(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.lifetime.into()))
    }

    fn renew(&mut self, deadline: Deadline) -> Result<(), MapError> {
        let (_, lifetime) = self
            .client
            .map(self.internal, self.external, LEASE_SECS, deadline)?;
        self.lifetime = lifetime;
        Ok(())
    }

    fn remove(&self, deadline: Deadline) {
        // RFC 6886 §3.4: a lifetime of 0 removes it; the suggested port must be 0.
        let _ = self.client.map(self.internal, 0, 0, deadline);
    }
}

fn refused(result: NonZeroU16) -> MapError {
    MapError::Refused {
        method: Method::NatPmp,
        reason: format!("result {result} ({})", wire::result_meaning(result)),
    }
}

/// A router that says yes but gives no port or no time.
fn gave_nothing() -> MapError {
    MapError::Refused {
        method: Method::NatPmp,
        reason: "it gave no port".into(),
    }
}

fn network(router: SocketAddrV4, cause: io::Error) -> MapError {
    MapError::Network {
        gateway: *router.ip(),
        cause,
    }
}

#[cfg(test)]
mod tests;
