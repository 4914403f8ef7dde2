//! Asking the router for a port: miniupnpd, in a home network of the
//! test's own, forwards a port of the router's outside to the host behind
//! it, by NAT-PMP and by UPnP-IGD, and stops when the mapping is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use chat::net::portmap::{Method, PortMapping};

use crate::common::TIMEOUT;
use crate::common::router::{HomeNetwork, Offers, PUBLIC, ROUTER_OUTSIDE};

/// About what the listener gives the router before it goes on without.
const WITHIN: Duration = Duration::from_secs(3);

#[test]
fn nat_pmp_forwards_a_port_until_the_mapping_is_dropped() {
    forwards_until_dropped(Offers::NatPmpOnly, Some(Method::NatPmp));
}

#[test]
fn upnp_forwards_a_port_until_the_mapping_is_dropped() {
    forwards_until_dropped(Offers::UpnpOnly, Some(Method::Upnp));
}

#[test]
fn a_router_that_speaks_both_forwards_one_port_until_the_mapping_is_dropped() {
    forwards_until_dropped(Offers::Both, None);
}

/// A host behind a router offering `offers` opens a port by `method` (either
/// if `None`); a connection from the internet reaches the host through it,
/// and none does once the mapping is dropped.
fn forwards_until_dropped(offers: Offers, method: Option<Method>) {
    let Some(home) = HomeNetwork::new(offers) else {
        return;
    };
    let (listener, mapping) = home.in_host(|| {
        let listener = TcpListener::bind("0.0.0.0:0").expect("a listening socket");
        let port = listener.local_addr().unwrap().port();
        match PortMapping::open(port, WITHIN) {
            Ok(mapping) => (listener, mapping),
            Err(e) => panic!("no port mapped: {e}\nminiupnpd said:\n{}", home.log()),
        }
    });
    let port = listener.local_addr().unwrap().port();
    if let Some(method) = method {
        assert_eq!(mapping.method(), method);
    }
    let external = mapping.external();
    assert_eq!(external, SocketAddr::from((ROUTER_OUTSIDE, port)));
    assert_eq!(home.forwarded_ports(), [port]);

    let mut outside = home
        .in_public(|| TcpStream::connect_timeout(&external, TIMEOUT))
        .unwrap_or_else(|e| panic!("cannot connect to {external} from outside: {e}"));
    let (mut inside, from) = listener.accept().unwrap();
    assert_eq!(from.ip(), PUBLIC);
    for stream in [&outside, &inside] {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
    let mut heard = [0; 4];
    outside.write_all(b"ping").unwrap();
    inside.read_exact(&mut heard).unwrap();
    assert_eq!(&heard, b"ping");
    inside.write_all(b"pong").unwrap();
    outside.read_exact(&mut heard).unwrap();
    assert_eq!(&heard, b"pong");

    if offers == Offers::Both {
        // UPnP maps the same port too, after NAT-PMP has won: the router
        // keeps one forward for both, and dropping must remove it however
        // each protocol left it.
        home.wait_for_log(&format!("AddPortMapping: ext port {port} "));
    }
    drop(mapping);
    if offers == Offers::Both {
        // Removed at once, or by the UPnP thread once it is done.
        home.wait_for_log(&format!("removing redirect rule port {port} TCP"));
    }
    assert_eq!(home.forwarded_ports(), [0u16; 0]);
    let after = home.in_public(|| TcpStream::connect_timeout(&external, TIMEOUT));
    assert_eq!(
        after.map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused),
        "the port still forwards after the mapping was dropped"
    );
}
