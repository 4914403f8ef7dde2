//! Reaching the peer: listening for or connecting to it (trying again while
//! it is not there yet), and the connection a conversation runs over.

pub mod connect;
pub mod discovery;
pub mod events;
pub mod patience;
pub mod portmap;
pub mod secure;
pub mod socket;
pub mod stranger;
pub mod target;
pub mod transport;
