//! What the reader hands the writer, each with a ticket: its answers to
//! the peer's offers, and what the writer must hear of the peer's.

use super::Reader;
use crate::files::download::DownloadError;
use crate::session::events::{ReceiveEvent, Unsaved};
use crate::session::input::Ticket;
use crate::session::outgoing::{Answer, Outgoing, Typed};
use crate::wire::message::FileId;

impl Reader<'_> {
    /// Hands the writer a message, once a ticket is free.
    pub(super) fn tell_writer(&self, outgoing: impl FnOnce(Ticket) -> Outgoing) {
        // No ticket once the conversation is over; the writer is gone then
        // too.
        if let Some(ticket) = self.answers.take() {
            let _ = self.outbox.send(outgoing(ticket));
        }
    }

    /// Says that the peer's file or folder `id`, `what`, cannot be saved,
    /// here in full and to the peer in short: where our files go is none of
    /// its business.
    pub(super) fn cannot_save(&self, id: FileId, what: Unsaved<'_>, e: &DownloadError) {
        self.front
            .receive(ReceiveEvent::CannotSave { what, why: e });
        self.answer(Answer::Refused(id, e.for_peer().to_string()));
    }

    pub(super) fn answer(&self, answer: Answer) {
        self.tell_writer(|ticket| Outgoing::Typed(Typed::Answer(answer, ticket)));
    }
}
