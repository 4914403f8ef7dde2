//! The lines of meeting from anywhere by a code: at the mailbox, at the
//! home router, and the path taken.

use crate::net::events::{AnywhereStep, Joiners};
use crate::net::patience::Patience;

/// The line a step of meeting from anywhere shows.
pub(super) fn line(step: AnywhereStep<'_>) -> String {
    match step {
        AnywhereStep::WaitingAtMailbox { patience } => format!(
            "Nobody has given this code at the mailbox yet; waiting for the other side{} \
             (Ctrl-C stops; if it is there already, check the code's number with it).",
            match patience {
                Patience::UpTo(limit) => format!(" for up to {} s", limit.as_secs()),
                Patience::Endless => String::new(),
            }
        ),
        AnywhereStep::Registered { code, joiners } => format!(
            "Registered the code at the mailbox: from anywhere, {} with \
         `chat connect --code {code}`",
            match joiners {
                Joiners::Peer => "your peer joins",
                Joiners::Room => "others join",
            }
        ),
        AnywhereStep::NotRegistered(e) => format!(
            "Not reachable from anywhere yet: {e}. Listening on the local network; the code is \
             registered as soon as the mailbox answers."
        ),
        AnywhereStep::NoPath => "The other side gave the code, but it refuses relayed \
                                 connections (--no-relay), and this chat connects only \
                                 through the relay (--relay-only): it cannot connect."
            .to_string(),
        AnywhereStep::RelayFailed(e) => format!("{e}: only a direct path may connect the peer."),
        AnywhereStep::MailboxFailed(e) => format!(
            "Meeting through the mailbox failed: {e}. Registering the code again until it works."
        ),
        AnywhereStep::MetAtMailbox => {
            "Someone gave the code at the mailbox; connecting...".to_string()
        }
        AnywhereStep::WrongCodeAtMailbox { nth, allowed } => {
            super::link::wrong_code("a peer at the mailbox", nth, allowed)
        }
        AnywhereStep::PortMapped { external, method } => format!(
            "Your router forwards {external} to this chat ({method}): a peer anywhere may \
         connect directly. The port is closed again when the chat ends."
        ),
        AnywhereStep::NotMapped(e) => format!(
            "Your router opened no port for this chat ({e}): a peer behind another router \
         connects through the relay, if both sides allow it."
        ),
        AnywhereStep::TryingRelay(relay) => {
            format!("No direct path to the other side answered; trying the relay {relay}.")
        }
    }
}
