//! Messages of a room's host, as a member reads them: being let in or
//! turned away, the others' messages and private ones, comings and goings,
//! the member list, and the host's keepalive pings.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Breach, Reader};
use crate::session::events::ChatEvent;
use crate::session::outgoing::{Outgoing, Typed};
use crate::wire::limits::SILENT_INTERVALS;
use crate::wire::message::{Change, MemberList};

impl Reader<'_> {
    /// The host says this is a room: from now on its messages come from
    /// many people.
    pub(super) fn joined_room(&mut self, keepalive: u16, others: u16) -> Result<(), Breach> {
        if self.room.is_some() || self.said_anything {
            return Err(Breach::Protocol(
                "the peer said it hosts a room after the conversation began".into(),
            ));
        }
        if !self.may_join {
            return Err(Breach::Protocol(
                "the peer said it hosts a room, but it is the one that connected".into(),
            ));
        }
        if keepalive == 0 {
            return Err(Breach::Protocol("the room's keepalive is 0 seconds".into()));
        }
        let silence = Duration::from_secs(u64::from(keepalive)) * SILENT_INTERVALS;
        self.room = Some(silence);
        self.new_read_timeout = Some(silence);
        self.in_room.store(true, Ordering::SeqCst);
        self.transfers.joined_room();
        let host = self.peer.as_deref().unwrap_or_default();
        if self.hosting {
            return Ok(());
        }
        self.front.chat(ChatEvent::InRoom { host, others });
        Ok(())
    }

    /// Checks that a room message comes in a room, and that the name it
    /// carries is one a member may have.
    pub(super) fn in_room(&self, what: &str, name: &str) -> Result<(), Breach> {
        if self.room.is_none() {
            return Err(Breach::Protocol(format!(
                "the peer sent a room's {what} outside a room"
            )));
        }
        crate::wire::name::parse(name)
            .map(drop)
            .map_err(|why| Breach::Protocol(format!("a member's name is refused: {why}")))
    }

    /// Another member's message to the room.
    pub(super) fn said(&mut self, name: &str, text: &str, more_coming: bool) -> Result<(), Breach> {
        self.in_room("message", name)?;
        self.front.chat(ChatEvent::PeerSaid {
            name,
            text,
            more_coming,
        });
        Ok(())
    }

    /// A member's message to us alone.
    pub(super) fn whispered(&mut self, name: &str, text: &str) -> Result<(), Breach> {
        self.in_room("private message", name)?;
        self.front.chat(ChatEvent::Whispered { name, text });
        Ok(())
    }

    /// The host passed our private message on to `name`: it shows as we
    /// wrote it (one that reached nobody gets a notice instead).
    pub(super) fn whisper_went(&mut self, name: &str, text: &str) -> Result<(), Breach> {
        self.in_room("private message", name)?;
        self.front.chat(ChatEvent::WhisperWent {
            own: &self.own_name,
            to: name,
            text,
        });
        Ok(())
    }

    pub(super) fn presence(
        &mut self,
        change: Change,
        name: &str,
        reason: &str,
    ) -> Result<(), Breach> {
        self.in_room("news of a member", name)?;
        self.front.chat(ChatEvent::Presence {
            change,
            name,
            reason,
        });
        Ok(())
    }

    /// The host's answer to our `/who`.
    pub(super) fn members(&mut self, list: MemberList<'_>) -> Result<(), Breach> {
        for member in list.iter() {
            self.in_room("member list", member.name)?;
        }
        let me = self.own_name.as_str();
        self.front.chat(ChatEvent::Members { list: &list, me });
        Ok(())
    }

    /// What the host has to tell us, marked as the room's words.
    pub(super) fn notice(&mut self, text: &str) -> Result<(), Breach> {
        if self.room.is_none() {
            return Err(Breach::Protocol(
                "the peer sent a room's notice outside a room".into(),
            ));
        }
        self.front.chat(ChatEvent::RoomNotice(text));
        Ok(())
    }

    pub(super) fn pinged(&mut self) {
        self.tell_writer(|ticket| Outgoing::Typed(Typed::Pong(ticket)));
    }
}
