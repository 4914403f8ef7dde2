//! A mapping's life with a router played by the test: renewed at half its
//! lifetime, removed on drop, and a drop never held up for long.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::deadline::Deadline;
use super::lease::Lease;
use super::{MapError, Method, PortMapping};

/// What happened to a [`FakeLease`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    Renewed(u16),
    Removed(u16),
    /// Let go of, whether removed or not.
    Dropped(u16),
}

/// A mapping on a router that exists only in the test: it says what is
/// done to it, and its removal may wait for the test to allow it.
pub(super) struct FakeLease {
    pub method: Method,
    pub port: u16,
    pub lifetime: Option<Duration>,
    pub events: Sender<Event>,
    /// Removal waits until the test drops the other end.
    pub removal_gate: Option<Receiver<()>>,
}

impl FakeLease {
    pub(super) fn new(port: u16, events: &Sender<Event>) -> FakeLease {
        FakeLease {
            method: Method::NatPmp,
            port,
            lifetime: None,
            events: events.clone(),
            removal_gate: None,
        }
    }
}

impl Lease for FakeLease {
    fn method(&self) -> Method {
        self.method
    }

    fn external(&self) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(11, 0, 0, 11), self.port)
    }

    fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    fn renew(&mut self, _deadline: Deadline) -> Result<(), MapError> {
        let _ = self.events.send(Event::Renewed(self.port));
        Ok(())
    }

    fn remove(&self, _deadline: Deadline) {
        if let Some(gate) = &self.removal_gate {
            let _ = gate.recv();
        }
        let _ = self.events.send(Event::Removed(self.port));
    }
}

impl Drop for FakeLease {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Dropped(self.port));
    }
}

const PATIENCE: Duration = Duration::from_secs(5);

#[test]
fn a_mapping_says_where_and_how_and_is_removed_when_dropped() {
    let (events, happened) = mpsc::channel();
    let mapping = PortMapping::keep(Box::new(FakeLease::new(5050, &events))).unwrap();
    assert_eq!(mapping.external(), "11.0.0.11:5050".parse().unwrap());
    assert_eq!(mapping.method(), Method::NatPmp);
    drop(mapping);
    // The drop waited for the removal.
    assert_eq!(happened.try_recv(), Ok(Event::Removed(5050)));
}

#[test]
fn a_mapping_is_renewed_at_half_its_lifetime() {
    let (events, happened) = mpsc::channel();
    let mut lease = FakeLease::new(5050, &events);
    lease.lifetime = Some(Duration::from_millis(2400));
    let start = Instant::now();
    let mapping = PortMapping::keep(Box::new(lease)).unwrap();
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Renewed(5050)));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1200),
        "renewed after {took:?}"
    );
    drop(mapping);
    let after: Vec<Event> = happened.try_iter().collect();
    assert!(
        after.ends_with(&[Event::Removed(5050), Event::Dropped(5050)]),
        "{after:?}"
    );
}

#[test]
fn a_router_slow_to_remove_holds_up_a_drop_for_a_second_at_most() {
    let (events, happened) = mpsc::channel();
    let (allow_removal, removal_gate) = mpsc::channel::<()>();
    let mut lease = FakeLease::new(5050, &events);
    lease.removal_gate = Some(removal_gate);
    let mapping = PortMapping::keep(Box::new(lease)).unwrap();
    let start = Instant::now();
    drop(mapping);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "the drop took {took:?}");
    assert_eq!(happened.try_recv(), Err(mpsc::TryRecvError::Empty));
    // The removal still happens once the router gets to it.
    drop(allow_removal);
    assert_eq!(happened.recv_timeout(PATIENCE), Ok(Event::Removed(5050)));
}

#[test]
fn port_0_is_never_asked_for() {
    let refused = PortMapping::open_with(Ipv4Addr::LOCALHOST, 0, Duration::from_secs(1));
    assert!(
        matches!(refused, Err(MapError::Local(ref e)) if e.kind() == std::io::ErrorKind::InvalidInput),
        "{refused:?}"
    );
}

#[test]
fn methods_are_named_as_users_know_them() {
    assert_eq!(Method::NatPmp.to_string(), "NAT-PMP");
    assert_eq!(Method::Upnp.to_string(), "UPnP");
}
