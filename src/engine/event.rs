//! What a conversation tells the people in it, as typed values, and the
//! front end that shows them.

use crate::net::events::LinkEvent;
use crate::session::progress::ProgressEvent;

/// Something that happened, for the front ends to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step of reaching the peer.
    Link(LinkEvent<'a>),
    /// Transfers: their progress, the list, what leaving waits for.
    Progress(ProgressEvent<'a>),
}

/// What shows a conversation to its user: the terminal, or a page.
pub trait Frontend: Send + Sync {
    /// Shows one event.
    fn show(&self, event: Event<'_>);
    /// Whether a person follows the conversation as it happens (and can be
    /// asked, and watches progress), rather than a script reading lines.
    fn attended(&self) -> bool;
}
