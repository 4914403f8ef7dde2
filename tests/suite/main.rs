//! The integration tests: the `chat` binary driven as users and peers
//! drive it, one module per area, linked into one test program.

mod common;

mod anywhere;
mod cli;
mod commands;
mod connecting;
mod contacts;
mod conversation;
mod discovery;
mod display;
mod docs;
mod downloads;
mod encrypted;
mod faults;
mod files;
mod guesses;
mod hostile_disk;
mod hostile_encrypted;
mod hostile_peer;
mod hostile_transfers;
mod interactive;
mod internet;
mod kept;
mod portmap;
mod resume;
mod rooms;
mod sending;
mod transfers;
mod user_flows;
