//! Files on this machine: the download folder with its safe names, and
//! streaming file contents out to and in from a connection.

pub mod download;
pub mod transfer;
