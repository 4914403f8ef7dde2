//! Reaching the peer: listening for or connecting to it (trying again while
//! it is not there yet), and the connection a conversation runs over.

pub mod arrivals;
pub mod connect;
pub mod discovery;
pub mod events;
pub mod mailbox;
pub mod meeting;
pub mod patience;
pub mod portmap;
pub mod relay;
pub mod rendezvous;
pub mod secure;
pub mod socket;
pub mod stranger;
pub mod target;
pub mod transport;
