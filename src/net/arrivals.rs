//! What comes to a listening chat: connections to its socket, taken by a
//! thread of their own, and connections the relay passes on once a peer
//! met it through the mailbox. Whoever takes them gets them one at a time
//! from one queue, in the order they came.

use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::net::relay::RelayAddr;

/// How often a wait for the next arrival looks whether it should stop.
const TICK: Duration = Duration::from_millis(100);

/// How a connection reached us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Straight to our socket, from this address.
    Direct(SocketAddr),
    /// Through this relay.
    Relay(RelayAddr),
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct(address) => write!(f, "{address}"),
            Self::Relay(relay) => write!(f, "the relay {relay}"),
        }
    }
}

/// One thing that came.
pub enum Arrival {
    Connection(TcpStream, Via),
    /// Listening must end, for this reason (said to the user).
    End(String),
}

/// The queue of arrivals; clones share it.
#[derive(Clone)]
pub struct Arrivals {
    /// `None` wakes whoever waits, to look whether to stop.
    sender: SyncSender<Option<Arrival>>,
    receiver: Arc<Mutex<Receiver<Option<Arrival>>>>,
    stopped: Arc<AtomicBool>,
    /// Whether connections may come through the relay too: then those to
    /// the socket are said to be direct.
    relayed_too: Arc<AtomicBool>,
}

impl Arrivals {
    /// A queue that holds nothing: a connection waits in its sender's
    /// hands (and others in the system's backlog) until it is taken.
    pub fn new(stopped: Arc<AtomicBool>) -> Self {
        let (sender, receiver) = sync_channel(0);
        Self {
            sender,
            receiver: Arc::new(Mutex::new(receiver)),
            stopped,
            relayed_too: Arc::default(),
        }
    }

    /// From now on, connections may come through the relay too.
    pub fn relayed_too(&self) {
        self.relayed_too.store(true, Ordering::SeqCst);
    }

    /// Whether connections may come through the relay too.
    pub fn may_be_relayed(&self) -> bool {
        self.relayed_too.load(Ordering::SeqCst)
    }

    /// Hands `arrival` to whoever takes the next one; `false` once
    /// listening stopped (the arrival is dropped then).
    pub fn bring(&self, arrival: Arrival) -> bool {
        let mut arrival = Some(arrival);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return false;
            }
            match self.sender.try_send(arrival) {
                Ok(()) => return true,
                Err(TrySendError::Full(back)) => {
                    arrival = back;
                    std::thread::sleep(TICK / 4);
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
    }

    /// Wakes whoever waits for the next arrival, once listening stopped,
    /// so that it does not wait for its next look.
    pub fn wake(&self) {
        let _ = self.sender.try_send(None);
    }

    /// The next arrival, or `None` once listening stopped.
    pub fn next(&self) -> Option<Arrival> {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return None;
            }
            match receiver.recv_timeout(TICK) {
                Ok(Some(arrival)) => return Some(arrival),
                Ok(None) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Takes the connections to `listener` on a thread of its own until
    /// listening stops (shutting the socket down wakes it).
    pub fn take_from(&self, listener: Arc<TcpListener>) -> anyhow::Result<()> {
        let arrivals = self.clone();
        crate::threads::spawn("door", move || {
            loop {
                let arrival = match listener.accept() {
                    Ok((stream, peer)) => {
                        Arrival::Connection(stream, Via::Direct(crate::net::transport::shown(peer)))
                    }
                    Err(_) if arrivals.stopped.load(Ordering::SeqCst) => return,
                    Err(e) => Arrival::End(format!("cannot accept a connection ({e})")),
                };
                let end = matches!(arrival, Arrival::End(_));
                if !arrivals.bring(arrival) || end {
                    return;
                }
            }
        })
        .map(drop)
    }
}
