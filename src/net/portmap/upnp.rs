//! Asking the router for a port by UPnP-IGD (igd-next, blocking): found by
//! SSDP before the caller's deadline, then asked for its external address
//! and the mapping over HTTP.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use igd_next::{
    AddAnyPortError, AddPortError, Gateway, GatewayIpVersion, PortMappingProtocol, SearchError,
    SearchOptions,
};

use super::deadline::Deadline;
use super::lease::{LEASE_SECS, Lease};
use super::{MapError, Method, route};

/// How the mapping is named in the router's list.
const DESCRIPTION: &str = "chat";

/// Maps the TCP port `internal` on this host at the UPnP router on the way
/// to `gateway`, asking for the same port outside first.
pub(super) fn map(
    gateway: Ipv4Addr,
    internal: u16,
    deadline: Deadline,
) -> Result<Box<dyn Lease>, MapError> {
    let local = route::local_address_towards(gateway)
        .map_err(|cause| MapError::Network { gateway, cause })?;
    let router = search(gateway, local, deadline)?;
    let address = match router.get_external_ip() {
        Ok(IpAddr::V4(address)) => address,
        Ok(IpAddr::V6(address)) => {
            return Err(refused(format!("an IPv6 external address {address}")));
        }
        Err(e) => return Err(refused(e)),
    };
    route::check_external(Method::Upnp, address)?;
    let internal = SocketAddr::new(local.into(), internal);
    let (external, lifetime) = add(&router, internal, LEASE_SECS)?;
    Ok(Box::new(UpnpLease {
        router,
        address,
        internal,
        external,
        lifetime,
    }))
}

/// The router's answer to an SSDP search sent from `local`, the address on
/// the way to `gateway`, so that it goes out on that network.
fn search(gateway: Ipv4Addr, local: Ipv4Addr, deadline: Deadline) -> Result<Gateway, MapError> {
    let left = deadline.left().ok_or_else(|| deadline.timed_out())?;
    let mut options = SearchOptions::default();
    options.bind_addr = SocketAddr::new(local.into(), 0);
    options.timeout = Some(left);
    options.single_search_timeout = Some(left);
    options.gateway_ip_version = GatewayIpVersion::V4;
    igd_next::search_gateway(options).map_err(|e| match e {
        SearchError::NoResponseWithinTimeout => deadline.timed_out(),
        SearchError::IoError(cause) => MapError::Network { gateway, cause },
        e => refused(e),
    })
}

/// Adds the mapping for `lease` seconds: the same port outside first,
/// then any the router picks. A router that keeps mappings only for good
/// (IGDv1 allows that) is asked again for a lease of 0.
fn add(router: &Gateway, internal: SocketAddr, lease: u32) -> Result<(u16, u32), MapError> {
    let tcp = PortMappingProtocol::TCP;
    match router.add_port(tcp, internal.port(), internal, lease, DESCRIPTION) {
        Ok(()) => return Ok((internal.port(), lease)),
        Err(AddPortError::OnlyPermanentLeasesSupported) if lease != 0 => {
            return add(router, internal, 0);
        }
        Err(_) => {}
    }
    match router.add_any_port(tcp, internal, lease, DESCRIPTION) {
        Ok(port) => Ok((port, lease)),
        Err(AddAnyPortError::OnlyPermanentLeasesSupported) if lease != 0 => {
            add(router, internal, 0)
        }
        Err(e) => Err(refused(e)),
    }
}

/// A port the router gave by UPnP.
struct UpnpLease {
    router: Gateway,
    address: Ipv4Addr,
    internal: SocketAddr,
    external: u16,
    /// In seconds; 0 is for good.
    lifetime: u32,
}

impl Lease for UpnpLease {
    fn method(&self) -> Method {
        Method::Upnp
    }

    fn external(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.address, self.external)
    }

    fn lifetime(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.lifetime.into())).filter(|lifetime| !lifetime.is_zero())
    }

    fn renew(&mut self, _deadline: Deadline) -> Result<(), MapError> {
        // Adding a mapping this host already has renews it (UPnP-IGD's
        // AddPortMapping); igd-next bounds the request itself.
        let tcp = PortMappingProtocol::TCP;
        self.router
            .add_port(
                tcp,
                self.external,
                self.internal,
                self.lifetime,
                DESCRIPTION,
            )
            .map_err(refused)
    }

    fn remove(&self, _deadline: Deadline) {
        let _ = self
            .router
            .remove_port(PortMappingProtocol::TCP, self.external);
    }
}

/// The router's refusal, worded as the rest of a line ("…: {reason}").
fn refused(e: impl Display) -> MapError {
    let said = e.to_string();
    let said = said.trim_end_matches('.');
    let mut chars = said.chars();
    let reason = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "no reason given".into(),
    };
    MapError::Refused {
        method: Method::Upnp,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_end_of_a_line() {
        let said = refused(AddPortError::PortInUse).to_string();
        assert_eq!(
            said,
            "the router would not open a port by UPnP: the requested mapping conflicts \
             with a mapping assigned to another client"
        );
    }
}
