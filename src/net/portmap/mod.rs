//! Asking the home router to forward a TCP port to this host, by NAT-PMP
//! and UPnP-IGD at once, so that a peer behind another NAT can connect
//! straight here; the port is kept open while the [`PortMapping`] lives.

mod deadline;
mod error;
mod lease;
pub mod natpmp;
mod race;
mod route;
mod upnp;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

pub use error::MapError;

use deadline::Deadline;
use lease::{Keeper, Lease};
use race::{Attempt, race};

/// How the router was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    NatPmp,
    Upnp,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NatPmp => "NAT-PMP",
            Self::Upnp => "UPnP",
        })
    }
}

/// A TCP port the router forwards to this host: renewed in the background
/// while the value lives, removed when it is dropped.
pub struct PortMapping {
    external: SocketAddrV4,
    method: Method,
    _keeper: Keeper,
}

impl PortMapping {
    /// Asks the router of the IPv4 default route to forward a port to
    /// `local_port` here, the same port outside if it will, giving up
    /// after `within`.
    pub fn open(local_port: u16, within: Duration) -> Result<PortMapping, MapError> {
        let deadline = Deadline::after(within);
        let gateway = route::default_gateway().ok_or(MapError::NoGateway)?;
        Self::open_by(gateway, local_port, deadline)
    }

    /// As [`open`](Self::open), asking the router at `gateway`.
    pub fn open_with(
        gateway: Ipv4Addr,
        local_port: u16,
        within: Duration,
    ) -> Result<PortMapping, MapError> {
        Self::open_by(gateway, local_port, Deadline::after(within))
    }

    fn open_by(
        gateway: Ipv4Addr,
        local_port: u16,
        deadline: Deadline,
    ) -> Result<PortMapping, MapError> {
        if local_port == 0 {
            // To NAT-PMP, internal port 0 means every mapping of this host.
            let zero = io::Error::new(io::ErrorKind::InvalidInput, "port 0 cannot be forwarded");
            return Err(MapError::Local(zero));
        }
        let nat_pmp = SocketAddrV4::new(gateway, natpmp::PORT);
        let attempts = vec![
            Attempt::new(Method::NatPmp, move |deadline| {
                natpmp::map(nat_pmp, local_port, deadline)
            }),
            Attempt::new(Method::Upnp, move |deadline| {
                upnp::map(gateway, local_port, deadline)
            }),
        ];
        Self::keep(race(attempts, deadline)?)
    }

    fn keep(lease: Box<dyn Lease>) -> Result<PortMapping, MapError> {
        Ok(PortMapping {
            external: lease.external(),
            method: lease.method(),
            _keeper: Keeper::start(lease)?,
        })
    }

    /// The router's external IPv4 address and the port it forwards here.
    pub fn external(&self) -> SocketAddr {
        SocketAddr::V4(self.external)
    }

    pub fn method(&self) -> Method {
        self.method
    }
}

impl fmt::Debug for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortMapping")
            .field("external", &self.external)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
