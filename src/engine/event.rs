//! What a conversation tells the people in it, as typed values, and the
//! front end that shows them.

use crate::net::events::LinkEvent;
use crate::room::events::RoomEvent;
use crate::session::events::{ChatEvent, ReceiveEvent, Reply, SendEvent};
use crate::session::progress::ProgressEvent;

/// Something that happened, for the front ends to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step of reaching the peer.
    Link(LinkEvent<'a>),
    /// A step of the conversation.
    Chat(ChatEvent<'a>),
    /// An answer to one of the user's commands.
    Reply(Reply<'a>),
    /// A step of a file or folder arriving.
    Receive(ReceiveEvent<'a>),
    /// A step of a file or folder going out.
    Send(&'a SendEvent),
    /// What a room tells its host.
    Room(RoomEvent),
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
    /// Shows at once what was held back because more was coming: the
    /// engine has nothing more to show for now.
    fn flush(&self) {}

    /// Shows a step of the conversation.
    fn chat(&self, event: ChatEvent<'_>) {
        self.show(Event::Chat(event));
    }

    /// Shows an answer to one of the user's commands.
    fn reply(&self, reply: Reply<'_>) {
        self.show(Event::Reply(reply));
    }

    /// Shows a step of a file or folder going out.
    fn sending(&self, event: &SendEvent) {
        self.show(Event::Send(event));
    }

    /// Shows a step of a file or folder arriving.
    fn receive(&self, event: ReceiveEvent<'_>) {
        self.show(Event::Receive(event));
    }
}

/// A front end shared between threads is the front end.
impl<F: Frontend + ?Sized> Frontend for std::sync::Arc<F> {
    fn show(&self, event: Event<'_>) {
        (**self).show(event);
    }

    fn attended(&self) -> bool {
        (**self).attended()
    }

    fn flush(&self) {
        (**self).flush();
    }
}
