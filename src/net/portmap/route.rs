//! Where the router is: the gateway of the IPv4 default route, this host's
//! address on the way to it, and whether an address the router reports is
//! one the internet can reach.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};

use super::{MapError, Method};

/// The kernel's IPv4 routes. The calling thread's own view comes first:
/// `/proc/net` is the main thread's, which may be in another network
/// namespace than a thread that moved.
const ROUTE_TABLES: [&str; 2] = ["/proc/thread-self/net/route", "/proc/net/route"];

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// The gateway of the default route with the lowest metric, if any.
pub fn default_gateway() -> Option<Ipv4Addr> {
    ROUTE_TABLES
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|table| gateway_in(&table))
}

/// The default gateway in the text of `/proc/net/route`: columns Iface,
/// Destination, Gateway, Flags, RefCnt, Use, Metric, Mask…, addresses in
/// hex as the kernel holds them (network order read as a native u32).
fn gateway_in(table: &str) -> Option<Ipv4Addr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let hex = |i: usize| u32::from_str_radix(fields.get(i)?, 16).ok();
            let (destination, gateway, flags) = (hex(1)?, hex(2)?, hex(3)?);
            let (metric, mask) = (fields.get(6)?.parse::<u32>().ok()?, hex(7)?);
            let default = destination == 0 && mask == 0;
            let usable = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
            (default && usable && gateway != 0)
                .then(|| (metric, Ipv4Addr::from(gateway.to_ne_bytes())))
        })
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gateway)| gateway)
}

/// This host's address on the route to `gateway`: the one a mapping must
/// forward to. Connecting a UDP socket sends nothing; it only picks the
/// route and so the source address.
pub fn local_address_towards(gateway: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect((gateway, super::natpmp::PORT))?;
    match socket.local_addr()?.ip() {
        std::net::IpAddr::V4(address) => Ok(address),
        std::net::IpAddr::V6(_) => Err(io::Error::other("an IPv6 route to an IPv4 gateway")),
    }
}

/// Checks the external address a router reports: one the internet cannot
/// reach means the router is behind another NAT, where a port it opened
/// would be no use.
pub fn check_external(method: Method, address: Ipv4Addr) -> Result<(), MapError> {
    if address.is_unspecified() {
        return Err(MapError::Refused {
            method,
            reason: "it has no external address yet".into(),
        });
    }
    if !is_public(address) {
        return Err(MapError::DoubleNat { method, address });
    }
    Ok(())
}

/// Whether the internet could reach `address`: not private, shared
/// (carrier-grade NAT), loopback, link-local, documentation or reserved.
/// A router whose external address is not is itself behind a NAT.
pub fn is_public(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let reserved = a >= 240;
    !(address.is_private()
        || address.is_loopback()
        || address.is_link_local()
        || address.is_documentation()
        || address.is_multicast()
        || shared
        || this_network
        || reserved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address as `/proc/net/route` writes it.
    fn hex(address: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(address))
    }

    /// Interface, destination, gateway, flags, metric, mask.
    type Row<'a> = (&'a str, [u8; 4], [u8; 4], u32, u32, [u8; 4]);

    fn table(rows: &[Row]) -> String {
        let mut text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                .to_string();
        for (iface, destination, gateway, flags, metric, mask) in rows {
            text += &format!(
                "{iface}\t{}\t{}\t{flags:04X}\t0\t0\t{metric}\t{}\t0\t0\t0\n",
                hex(*destination),
                hex(*gateway),
                hex(*mask)
            );
        }
        text
    }

    #[test]
    fn the_default_route_with_the_lowest_metric_names_the_gateway() {
        let routes = table(&[
            ("eth0", [192, 168, 1, 0], [0; 4], 0x1, 0, [255, 255, 255, 0]),
            ("wlan0", [0; 4], [10, 0, 0, 1], 0x3, 600, [0; 4]),
            ("eth0", [0; 4], [192, 168, 1, 1], 0x3, 100, [0; 4]),
        ]);
        assert_eq!(gateway_in(&routes), Some(Ipv4Addr::new(192, 168, 1, 1)));
    }

    #[test]
    fn no_usable_default_route_is_no_gateway() {
        let routes = table(&[
            ("eth0", [192, 168, 1, 0], [0; 4], 0x1, 0, [255, 255, 255, 0]),
            // Down, and a default route through a device with no gateway.
            ("eth1", [0; 4], [10, 0, 0, 1], 0x2, 0, [0; 4]),
            ("wg0", [0; 4], [0; 4], 0x1, 0, [0; 4]),
        ]);
        assert_eq!(gateway_in(&routes), None);
        assert_eq!(gateway_in(""), None);
        assert_eq!(gateway_in("Iface\nnonsense in a row\n"), None);
    }

    #[test]
    fn only_addresses_the_internet_reaches_are_public() {
        for public in ["11.0.0.11", "8.8.8.8", "100.63.255.255", "100.128.0.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "192.0.2.1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }
}
