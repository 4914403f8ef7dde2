//! Reaching the peer: listening for or connecting to it.

pub mod connect;
