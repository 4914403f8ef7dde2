//! The conversation on the encrypted wire: typed messages in sealed
//! records, read by one thread and written by another.

pub mod incoming;
pub mod outgoing;
