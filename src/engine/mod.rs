//! The engine's vocabulary with its front ends: it tells them what happens
//! as typed [`Event`]s, never as text for a screen, and takes what they
//! ask as typed [`command::Command`]s, so the terminal is one front end
//! among others that attach the same way. A conversation (`session`) and
//! a room (`room`) share it, with how a room's people are named
//! ([`members`]).

pub mod command;
pub mod event;
pub mod members;
#[cfg(test)]
mod tests;

use crate::net;

pub use self::event::{Event, Frontend};

/// The front ends a conversation shows itself to, shared by its threads.
pub type Front = std::sync::Arc<dyn Frontend>;

/// What reaching the peer reports, shown by `front`.
pub fn link_report(front: &dyn Frontend) -> impl Fn(net::events::LinkEvent<'_>) + Sync + '_ {
    move |event| front.show(Event::Link(event))
}
