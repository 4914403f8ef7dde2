//! Reaching a peer anywhere by a code: the listener registers the code
//! with the mailbox and waits there for whoever gives it, then brings the
//! relayed connection, if it comes to that, to its arrivals; the connecting
//! side meets it there, then takes the fastest path: one of the listener's
//! addresses, or the relay if none answers within a few seconds.

pub mod connecting;
pub mod listening;
mod router;

use anyhow::{Result, bail};

use crate::net::mailbox::MailboxUrl;
use crate::net::relay::RelayAddr;
use crate::net::secure::code::Code;

/// Shortest secret part of a code met through the mailbox, in bytes: the
/// words after its number, which the mailbox never sees.
const MIN_WORDS: usize = 6;

/// The number of a code that may meet through the mailbox: it starts with
/// one, and words follow that the mailbox does not see.
pub fn nameplate(code: &Code) -> Result<&str> {
    match code.nameplate() {
        Some(number) if code.as_bytes().len() > number.len() + MIN_WORDS => Ok(number),
        _ => bail!(
            "a code met through the mailbox is a number and words, as 7-guitar-lantern: the \
             mailbox sees the number, the words ({MIN_WORDS} letters or more) are the secret; \
             with another code, add --lan (listen) or the listener's address (connect)"
        ),
    }
}

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
