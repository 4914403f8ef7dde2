//! The NAT-PMP client against a router played on loopback: one that
//! answers, refuses, lies or says nothing.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::num::NonZeroU16;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wire::{Opcode, Protocol, Reply, Request};
use super::*;

/// What the played router sends back to one request.
enum Answer {
    Reply(Reply),
    Bytes(Vec<u8>),
    /// Sent from another port, as anyone on the network could.
    FromElsewhere(Reply),
}

/// A NAT-PMP router on 127.0.0.1 at a port of its own, answering each
/// request as `script` says and telling the test what it was asked.
struct FakeRouter {
    address: SocketAddrV4,
    asked: Receiver<(Instant, Request)>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRouter {
    fn new(mut script: impl FnMut(Request) -> Vec<Answer> + Send + 'static) -> FakeRouter {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let elsewhere = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let address = match socket.local_addr().unwrap() {
            SocketAddr::V4(address) => address,
            SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
        };
        let (tell, asked) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut buffer = [0; 64];
            loop {
                let (len, client) = socket.recv_from(&mut buffer).unwrap();
                // An empty datagram is the test's sign to stop.
                let Some(request) = Request::decode(&buffer[..len]) else {
                    return;
                };
                let _ = tell.send((Instant::now(), request));
                for answer in script(request) {
                    let _ = match answer {
                        Answer::Reply(reply) => socket.send_to(&reply.encode(), client),
                        Answer::Bytes(bytes) => socket.send_to(&bytes, client),
                        Answer::FromElsewhere(reply) => elsewhere.send_to(&reply.encode(), client),
                    };
                }
            }
        });
        FakeRouter {
            address,
            asked,
            thread: Some(thread),
        }
    }

    /// Everything asked so far.
    fn asked(&self) -> Vec<Request> {
        self.asked_when()
            .into_iter()
            .map(|(_, request)| request)
            .collect()
    }

    /// Everything asked so far, and when.
    fn asked_when(&self) -> Vec<(Instant, Request)> {
        self.asked.try_iter().collect()
    }
}

impl Drop for FakeRouter {
    fn drop(&mut self) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let _ = socket.send_to(&[], self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const PUBLIC: Ipv4Addr = Ipv4Addr::new(11, 0, 0, 11);
const PATIENCE: Duration = Duration::from_secs(5);

fn address_reply(address: Ipv4Addr) -> Reply {
    Reply::ExternalAddress { epoch: 7, address }
}

fn refusal(opcode: Opcode, result: u16) -> Reply {
    Reply::Refused {
        opcode,
        result: NonZeroU16::new(result).unwrap(),
        epoch: 7,
    }
}

/// A router that gives what is asked, or port 40000 when any will do.
fn obliging(request: Request) -> Vec<Answer> {
    vec![Answer::Reply(match request {
        Request::ExternalAddress => address_reply(PUBLIC),
        Request::Map {
            protocol,
            internal,
            suggested,
            lifetime,
        } => Reply::Mapped {
            protocol,
            epoch: 7,
            internal,
            external: if suggested == 0 { 40000 } else { suggested },
            lifetime: lifetime.min(7200),
        },
    })]
}

fn map_request(internal: u16, suggested: u16, lifetime: u32) -> Request {
    Request::Map {
        protocol: Protocol::Tcp,
        internal,
        suggested,
        lifetime,
    }
}

#[test]
fn the_same_port_is_asked_for_and_given() {
    let router = FakeRouter::new(obliging);
    let lease = map(router.address, 5050, Deadline::after(PATIENCE)).unwrap();
    assert_eq!(lease.external(), SocketAddrV4::new(PUBLIC, 5050));
    assert_eq!(lease.method(), Method::NatPmp);
    assert_eq!(lease.lifetime(), Some(Duration::from_secs(3600)));
    assert_eq!(
        router.asked(),
        [Request::ExternalAddress, map_request(5050, 5050, 3600)]
    );
}

#[test]
fn renewing_asks_for_the_port_given_and_removing_for_none() {
    let router = FakeRouter::new(|request| match request {
        Request::Map {
            suggested: 5050, ..
        } => vec![Answer::Reply(refusal(Opcode::Map(Protocol::Tcp), 2))],
        request => obliging(request),
    });
    let mut lease = map(router.address, 5050, Deadline::after(PATIENCE)).unwrap();
    assert_eq!(lease.external(), SocketAddrV4::new(PUBLIC, 40000));
    lease.renew(Deadline::after(PATIENCE)).unwrap();
    lease.remove(Deadline::after(PATIENCE));
    assert_eq!(
        router.asked(),
        [
            Request::ExternalAddress,
            map_request(5050, 5050, 3600),
            // Refused: any port will do.
            map_request(5050, 0, 3600),
            map_request(5050, 40000, 3600),
            map_request(5050, 0, 0),
        ]
    );
}

#[test]
fn a_refusal_says_the_result_code() {
    let router = FakeRouter::new(|request| match request {
        Request::Map { .. } => vec![Answer::Reply(refusal(Opcode::Map(Protocol::Tcp), 4))],
        request => obliging(request),
    });
    let refused =
        map(router.address, 5050, Deadline::after(PATIENCE)).map(|lease| lease.external());
    let Err(e) = refused else {
        panic!("mapped: {refused:?}")
    };
    assert_eq!(
        e.to_string(),
        "the router would not open a port by NAT-PMP: result 4 (out of resources)"
    );
}

#[test]
fn a_router_behind_another_nat_is_not_asked_for_a_port() {
    let router = FakeRouter::new(|request| match request {
        Request::ExternalAddress => {
            vec![Answer::Reply(address_reply(Ipv4Addr::new(100, 64, 1, 2)))]
        }
        request => obliging(request),
    });
    let outcome =
        map(router.address, 5050, Deadline::after(PATIENCE)).map(|lease| lease.external());
    assert!(
        matches!(outcome, Err(MapError::DoubleNat { method: Method::NatPmp, address }) if address == Ipv4Addr::new(100, 64, 1, 2)),
        "{outcome:?}"
    );
    assert_eq!(router.asked(), [Request::ExternalAddress]);
}

#[test]
fn a_silent_router_is_asked_again_after_250_ms_then_500_ms_until_the_deadline() {
    let router = FakeRouter::new(|_| Vec::new());
    let within = Duration::from_millis(1000);
    let start = Instant::now();
    let outcome = map(router.address, 5050, Deadline::after(within)).map(|lease| lease.external());
    let took = start.elapsed();
    assert!(
        matches!(outcome, Err(MapError::TimedOut(d)) if d == within),
        "{outcome:?}"
    );
    assert!(
        took >= within && took < within + Duration::from_millis(500),
        "took {took:?}"
    );
    // At 0, 250 and 750 ms; the next would be at 1750.
    let asked = router.asked_when();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(
        asked
            .iter()
            .all(|(_, request)| *request == Request::ExternalAddress)
    );
    assert!(asked[1].0 - asked[0].0 >= Duration::from_millis(250));
    assert!(asked[2].0 - asked[1].0 >= Duration::from_millis(500));
}

#[test]
fn a_router_with_no_external_address_yet_says_so() {
    let router = FakeRouter::new(|request| match request {
        Request::ExternalAddress => vec![Answer::Reply(address_reply(Ipv4Addr::UNSPECIFIED))],
        request => obliging(request),
    });
    let outcome =
        map(router.address, 5050, Deadline::after(PATIENCE)).map(|lease| lease.external());
    let Err(e) = outcome else {
        panic!("mapped: {outcome:?}")
    };
    assert_eq!(
        e.to_string(),
        "the router would not open a port by NAT-PMP: it has no external address yet"
    );
}

#[test]
fn a_yes_with_no_port_or_no_time_is_no_mapping() {
    for (external, lifetime) in [(0, 3600), (5050, 0)] {
        let router = FakeRouter::new(move |request| match request {
            Request::Map {
                protocol, internal, ..
            } => vec![Answer::Reply(Reply::Mapped {
                protocol,
                epoch: 7,
                internal,
                external,
                lifetime,
            })],
            request => obliging(request),
        });
        let outcome =
            map(router.address, 5050, Deadline::after(PATIENCE)).map(|lease| lease.external());
        assert!(
            matches!(&outcome, Err(MapError::Refused { reason, .. }) if reason == "it gave no port"),
            "{outcome:?}"
        );
    }
}

#[test]
fn lies_and_noise_are_passed_over() {
    let router = FakeRouter::new(|request| {
        let mut answers = vec![
            Answer::Bytes(Vec::new()),
            Answer::Bytes(vec![0xff; 16]),
            // Another version; a reply to another request; one cut short.
            Answer::Bytes({
                let mut bytes = address_reply(PUBLIC).encode();
                bytes[0] = 1;
                bytes
            }),
            Answer::Bytes(address_reply(PUBLIC).encode()[..10].to_vec()),
            Answer::FromElsewhere(refusal(request.opcode(), 2)),
        ];
        match request {
            Request::Map { .. } => {
                answers.push(Answer::Reply(address_reply(Ipv4Addr::new(192, 168, 9, 9))));
                answers.push(Answer::Reply(Reply::Mapped {
                    protocol: Protocol::Tcp,
                    epoch: 7,
                    internal: 9999,
                    external: 9999,
                    lifetime: 60,
                }));
            }
            Request::ExternalAddress => answers.push(Answer::Reply(Reply::Mapped {
                protocol: Protocol::Tcp,
                epoch: 7,
                internal: 5050,
                external: 1,
                lifetime: 60,
            })),
        }
        answers.extend(obliging(request));
        answers
    });
    let lease = map(router.address, 5050, Deadline::after(PATIENCE)).unwrap();
    assert_eq!(lease.external(), SocketAddrV4::new(PUBLIC, 5050));
    // Each answered at the first asking.
    assert_eq!(router.asked().len(), 2);
}

#[test]
fn a_router_that_does_not_speak_nat_pmp_is_not_waited_for() {
    // A port nobody listens on: the kernel answers for it (ICMP).
    let closed = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let SocketAddr::V4(address) = closed.local_addr().unwrap() else {
        unreachable!("bound to an IPv4 address")
    };
    drop(closed);
    let start = Instant::now();
    let outcome = map(address, 5050, Deadline::after(PATIENCE)).map(|lease| lease.external());
    assert!(matches!(outcome, Err(MapError::TimedOut(_))), "{outcome:?}");
    assert!(start.elapsed() < Duration::from_secs(1));
}
