//! Reaching a peer anywhere by a code: the listener registers the code
//! with the mailbox and waits there for whoever gives it, then brings the
//! relayed connection, if it comes to that, to its arrivals; the connecting
//! side meets it there, then takes the fastest path: one of the listener's
//! addresses, or the relay if none answers within a few seconds.

pub mod connecting;
pub mod listening;
mod router;

use crate::net::mailbox::MailboxUrl;
use crate::net::relay::RelayAddr;

/// Where a code meets from anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anywhere {
    pub mailbox: MailboxUrl,
    /// The relay to meet at; `None` refuses relayed connections.
    pub relay: Option<RelayAddr>,
    /// Whether direct connections are made or taken: not when the user
    /// keeps this machine's addresses to itself.
    pub direct: bool,
}

impl Anywhere {
    /// The servers given, the relay left out when `no_relay`, direct
    /// paths when `relay_only`.
    pub fn new(mailbox: MailboxUrl, relay: RelayAddr, no_relay: bool, relay_only: bool) -> Self {
        Self {
            mailbox,
            relay: (!no_relay).then_some(relay),
            direct: !relay_only,
        }
    }
}
