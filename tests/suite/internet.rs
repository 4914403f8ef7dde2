//! The test internet itself, proving what the tests of meeting through a
//! mailbox rely on: the real magic-wormhole servers answer, on loopback and
//! on the public network of namespaces; a home behind its NAT router
//! reaches them but cannot be reached; two homes pair through the relay,
//! whose proxy records and cuts; a router with miniupnpd maps a port asked
//! for over NAT-PMP.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use crate::common::internet::{Internet, Options};
use crate::common::wormhole::Servers;
use crate::common::{TIMEOUT, inside};

/// How long a connection that should fail is given: an address behind a
/// NAT swallows the attempt rather than refusing it.
const UNREACHABLE: Duration = Duration::from_secs(1);

#[test]
fn servers_on_loopback_answer_and_relay_until_cut() {
    let servers = Servers::on_loopback();
    let mailbox = address_of(&servers.mailbox_url());
    assert!(mailbox.ip().is_loopback(), "{}", servers.mailbox_url());
    assert!(get_root(None, mailbox).contains("Wormhole Relay"));

    let relay = address_of(&servers.relay());
    let (mut a, mut b) = pair_through(relay, None, None, &token(1));
    exchange(&a, &b);
    let recorded = servers.relayed_bytes();
    for said in [
        &b"please relay "[..],
        b"ok\n",
        b"hello from a",
        b"hello from b",
    ] {
        assert!(
            contains(&recorded, said),
            "{:?}",
            String::from_utf8_lossy(&recorded)
        );
    }
    assert_eq!(servers.relayed_total(), recorded.len() as u64);

    servers.cut_relay();
    assert_ended(&mut a);
    assert_ended(&mut b);
    let (a, b) = pair_through(relay, None, None, &token(2));
    exchange(&a, &b);
}

#[test]
fn a_home_reaches_the_servers_from_its_routers_address() {
    let Some(internet) = Internet::new(Options::default()) else {
        return;
    };
    let h1 = Some(internet.h1_ns());
    let mailbox = address_of(&internet.mailbox_url());
    let relay = address_of(&internet.relay());
    assert_eq!(mailbox.ip().to_string(), internet.pub_address());
    assert_eq!(relay.ip().to_string(), internet.pub_address());
    connect_from(h1, relay).expect("h1 reaches the relay");
    assert!(get_root(h1, mailbox).contains("Wormhole Relay"));

    // What the servers see: the router's public address, not the host's.
    let (listener, public) = listen_in(internet.pub_ns(), internet.pub_address());
    let _client = connect_from(h1, public).expect("h1 reaches pub");
    let (_, seen) = listener.accept().expect("pub accepts h1");
    assert_eq!(seen.ip().to_string(), internet.wan_address(1));
}

#[test]
fn a_home_cannot_be_reached_from_outside() {
    let Some(internet) = Internet::new(Options::default()) else {
        return;
    };
    let (_listener, inside_h2) = listen_in(internet.h2_ns(), "0.0.0.0");
    let port = inside_h2.port();
    let lan: SocketAddr = format!("{}:{port}", internet.h2_address()).parse().unwrap();
    let wan: SocketAddr = format!("{}:{port}", internet.wan_address(2))
        .parse()
        .unwrap();
    connect_from(Some(internet.h2_ns()), lan).expect("h2 reaches its own listener");
    let h1 = Some(internet.h1_ns());
    assert!(
        connect_from(h1, lan).is_err(),
        "h1 reached h2's LAN address"
    );
    assert!(
        connect_from(h1, wan).is_err(),
        "h1 reached h2 through its router"
    );
    let public = Some(internet.pub_ns());
    assert!(
        connect_from(public, wan).is_err(),
        "pub reached h2 through its router"
    );
}

#[test]
fn two_homes_pair_through_the_relay_until_it_is_cut() {
    let Some(internet) = Internet::new(Options::default()) else {
        return;
    };
    let relay = address_of(&internet.relay());
    let (h1, h2) = (Some(internet.h1_ns()), Some(internet.h2_ns()));
    let (mut a, mut b) = pair_through(relay, h1, h2, &token(1));
    exchange(&a, &b);
    let recorded = internet.relayed_bytes();
    assert!(contains(&recorded, b"hello from a") && contains(&recorded, b"hello from b"));
    assert_eq!(internet.relayed_total(), recorded.len() as u64);

    internet.cut_relay();
    assert_ended(&mut a);
    assert_ended(&mut b);
    let (a, b) = pair_through(relay, h1, h2, &token(2));
    exchange(&a, &b);
}

#[test]
fn a_router_with_upnp_maps_a_port_asked_for_over_nat_pmp() {
    let Some(internet) = Internet::new(Options { upnp: true }) else {
        return;
    };
    let (listener, local) = listen_in(internet.h1_ns(), &internet.h1_address());
    let wan = internet.wan_address(1);
    let unmapped: SocketAddr = format!("{wan}:{}", local.port()).parse().unwrap();
    let public = Some(internet.pub_ns());
    assert!(
        connect_from(public, unmapped).is_err(),
        "h1 was reachable unmapped"
    );

    let mapped = inside::run_in(Some(internet.h1_ns()), || {
        let gateway = UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
        gateway.connect("192.168.1.1:5351").expect("the gateway");
        // RFC 6886 3.2: the router's public address.
        let reply = ask(&gateway, &[0, 0], 12);
        assert_eq!(reply[..4], [0, 128, 0, 0], "{reply:?}");
        assert_eq!(reply[8..].to_vec(), [11, 0, 0, 11]);
        // RFC 6886 3.3: a TCP mapping of the same port, for 120 s.
        let port = local.port().to_be_bytes();
        let request = [&[0, 2, 0, 0][..], &port, &port, &120u32.to_be_bytes()].concat();
        let reply = ask(&gateway, &request, 16);
        assert_eq!(reply[..4], [0, 130, 0, 0], "{reply:?}");
        u16::from_be_bytes([reply[10], reply[11]])
    });

    let outside: SocketAddr = format!("{wan}:{mapped}").parse().unwrap();
    let client = connect_from(public, outside).expect("pub reaches h1 through the mapping");
    let (server, seen) = listener.accept().expect("h1 accepts");
    assert_eq!(seen.ip().to_string(), internet.pub_address());
    exchange(&client, &server);
}

/// A 64-hex-digit relay token, different for each `n`.
fn token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// The address in `tcp:HOST:PORT` or `ws://HOST:PORT/v1`.
fn address_of(server: &str) -> SocketAddr {
    let rest = server
        .strip_prefix("tcp:")
        .or_else(|| server.strip_prefix("ws://"))
        .unwrap_or_else(|| panic!("not a server: {server}"));
    rest.trim_end_matches("/v1")
        .parse()
        .unwrap_or_else(|e| panic!("not a server: {server}: {e}"))
}

/// A TCP connection to `to` made in `netns`, failing soon if `to` does not
/// answer.
fn connect_from(netns: Option<&str>, to: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = inside::run_in(netns, || TcpStream::connect_timeout(&to, UNREACHABLE))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// A listener on `host` at a free port, made in `netns`.
fn listen_in(netns: &str, host: &str) -> (TcpListener, SocketAddr) {
    let listener = inside::run_in(Some(netns), || TcpListener::bind((host, 0)).unwrap());
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// What the web server at `address` answers for `/`.
fn get_root(netns: Option<&str>, address: SocketAddr) -> String {
    let mut web = connect_from(netns, address).expect("the mailbox server answers");
    web.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    web.read_to_string(&mut page).unwrap();
    page
}

/// Two clients, from `a` and from `b`, that the relay at `relay` paired.
fn pair_through(
    relay: SocketAddr,
    a: Option<&str>,
    b: Option<&str>,
    token: &str,
) -> (TcpStream, TcpStream) {
    let mut pair = [(a, "aaaaaaaaaaaaaaaa"), (b, "bbbbbbbbbbbbbbbb")].map(|(netns, side)| {
        let mut client = connect_from(netns, relay).expect("the relay answers");
        let line = format!("please relay {token} for side {side}\n");
        client.write_all(line.as_bytes()).unwrap();
        client
    });
    for client in &mut pair {
        let mut ok = [0; 3];
        client.read_exact(&mut ok).expect("the relay answers");
        assert_eq!(&ok, b"ok\n");
    }
    let [a, b] = pair;
    (a, b)
}

/// Each side says hello and hears the other's.
fn exchange(a: &TcpStream, b: &TcpStream) {
    for (mut from, mut to, hello) in [(a, b, b"hello from a"), (b, a, b"hello from b")] {
        from.write_all(hello).unwrap();
        let mut heard = [0; 12];
        to.read_exact(&mut heard).expect("the hello passes");
        assert_eq!(&heard, hello);
    }
}

/// The connection ends (rather than waiting for more).
fn assert_ended(client: &mut TcpStream) {
    match client.read(&mut [0; 64]) {
        Ok(0) => {}
        Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the connection still runs: {other:?}"),
    }
}

/// A NAT-PMP request and its reply of `len` bytes, sent again after
/// 250 ms, 500 ms and 1 s as RFC 6886 3.1 asks.
fn ask(gateway: &UdpSocket, request: &[u8], len: usize) -> Vec<u8> {
    for wait in [250, 500, 1000, 2000] {
        gateway.send(request).expect("the request is sent");
        gateway
            .set_read_timeout(Some(Duration::from_millis(wait)))
            .unwrap();
        let mut reply = [0; 64];
        if let Ok(n) = gateway.recv(&mut reply) {
            assert_eq!(n, len, "a reply of {n} bytes: {:?}", &reply[..n]);
            return reply[..n].to_vec();
        }
    }
    panic!("the router does not answer NAT-PMP");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
