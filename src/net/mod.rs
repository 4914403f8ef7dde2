//! Reaching the peer: listening for or connecting to it, and the connection
//! a conversation runs over.

pub mod connect;
pub mod discovery;
pub mod secure;
pub mod transport;
