//! The room's one point of order: who is in, and what goes to whom. Every
//! message passes here, on the host's main loop, so everyone receives them
//! in the same order; each member's share is queued for its writer, and a
//! member that is too far behind is dropped instead of waited for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::link::{self, Answer, Gone, Heard, Knock, Outbox};
use super::plain;
use super::roster::{MemberId, Roster};
use crate::net::secure::Protection;
use crate::net::transport::Closer;
use crate::session::command::{self, UserCommand};
use crate::session::{members, user};
use crate::settings::{RoomSettings, Settings};
use crate::terminal::screen::Screen;
use crate::wire::frame;
use crate::wire::message::{Change, MAX_TEXT, MemberList, Message};

/// What the room says to a member that sends files, until rooms carry them.
const NO_FILES: &str = "files are not passed on in a room yet; send them in a chat of two";

/// A member, as the hub reaches it.
struct Link {
    outbox: Outbox,
    closer: Closer,
    safety_code: Option<String>,
    /// On the original wire: whether the member gave its name yet.
    named: bool,
    /// On the original wire: whether it said goodbye before leaving.
    said_goodbye: bool,
}

pub struct Hub<'a> {
    roster: Roster,
    links: HashMap<MemberId, Link>,
    screen: &'a Screen,
    plain: bool,
    keepalive: Duration,
}

impl<'a> Hub<'a> {
    pub fn new(settings: &Settings, room: RoomSettings, screen: &'a Screen) -> Self {
        Self {
            roster: Roster::new(settings.name.clone(), room.max_peers, Instant::now()),
            links: HashMap::new(),
            screen,
            plain: matches!(settings.protection, Protection::Plain),
            keepalive: room.keepalive,
        }
    }

    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// A line of the program's own, on the host's screen.
    pub fn say(&self, text: impl std::fmt::Display) {
        self.screen.system(text);
    }

    pub fn turned_away(&self, address: SocketAddr, why: &str) {
        self.say(format!("Turned away {address}: {why}."));
    }

    /// Lets a connection in, or says why not.
    pub fn knock(&mut self, knock: Knock) {
        let name = match &knock.name {
            Some(name) => name.clone(),
            None => self.guest_name(),
        };
        let id = match self.roster.admit(&name, knock.address, Instant::now()) {
            Ok(id) => id,
            Err(refusal) => return self.turn_away(knock, &refusal.to_string()),
        };
        let (outbox, inbox) = link::queue();
        let others = self.roster.len() - 1;
        if self.plain {
            let welcome = format!(
                "You are in {}'s room as {name}, with {others} other{}.",
                self.roster.host(),
                if others == 1 { "" } else { "s" }
            );
            outbox.put(&Arc::from(plain::system(&welcome)));
        } else {
            outbox.put(&encode(&Message::Hello {
                name: self.roster.host(),
            }));
            let keepalive = u16::try_from(self.keepalive.as_secs()).unwrap_or(u16::MAX);
            outbox.put(&encode(&Message::Room {
                keepalive,
                members: u16::try_from(others + 1).unwrap_or(u16::MAX),
            }));
        }
        if knock.answer.send(Answer::Welcome { id, inbox }).is_err() {
            self.roster.leave(id);
            return;
        }
        let safety = match &knock.safety_code {
            Some(code) => format!(
                " Safety code: {code} (the same on {name}'s screen means nobody is in between)"
            ),
            None => String::new(),
        };
        self.say(format!(
            "{name} joined the room ({}).{safety}",
            knock.address
        ));
        self.links.insert(
            id,
            Link {
                outbox,
                closer: knock.closer,
                safety_code: knock.safety_code,
                named: knock.name.is_some(),
                said_goodbye: false,
            },
        );
        self.presence(Some(id), Change::Joined, &name, "");
    }

    /// Tells a connection it is not let in.
    pub fn turn_away(&self, knock: Knock, why: &str) {
        let who = knock.name.as_deref().unwrap_or("a peer");
        self.say(format!("Turned away {who} ({}): {why}.", knock.address));
        let _ = knock.answer.send(Answer::Refused(why.to_string()));
    }

    /// A name for a plain member until it gives one.
    fn guest_name(&self) -> String {
        (1..)
            .map(|n| format!("guest{n}"))
            .find(|name| self.roster.find(name).is_none() && name != self.roster.host())
            .unwrap_or_default()
    }

    fn name(&self, id: MemberId) -> String {
        self.roster
            .get(id)
            .map(|seat| seat.name.clone())
            .unwrap_or_default()
    }

    /// Acts on what a member did.
    pub fn heard(&mut self, id: MemberId, heard: Heard) {
        if !self.links.contains_key(&id) {
            // Dropped already; what it still said goes nowhere.
            return;
        }
        match heard {
            Heard::Text(text) => {
                let name = self.name(id);
                self.show_message(&name, &text);
                let bytes = encode(&Message::Said {
                    name: &name,
                    text: &text,
                });
                self.broadcast(Some(id), &bytes);
            }
            Heard::Line(raw) => self.plain_line(id, &raw),
            Heard::Whisper { to, text } => self.whisper(Some(id), &to, &text),
            Heard::Who => {
                let now = Instant::now();
                let addresses = self.roster.addresses();
                let mut bytes = vec![];
                Message::Members(MemberList::empty()).encode(&mut bytes);
                MemberList::encode(self.roster.members(now, &addresses), &mut bytes);
                self.send_to(id, &Arc::from(bytes));
            }
            Heard::Offer { id: file, name } => {
                let name = crate::files::download::safe_file_name(&name);
                self.say(format!(
                    "{} offered {name} to the room: {NO_FILES}.",
                    self.name(id)
                ));
                let bytes = encode(&Message::Refused {
                    id: file,
                    reason: NO_FILES,
                });
                self.send_to(id, &bytes);
            }
            Heard::File { name, size } => {
                let name = crate::files::download::safe_file_name(&name);
                self.say(format!(
                    "{} sent {name} ({size} bytes) to the room: {NO_FILES}.",
                    self.name(id)
                ));
                let line = format!("{name} was not passed on: {NO_FILES}.");
                self.send_to(id, &Arc::from(plain::system(&line)));
            }
            Heard::Slowed => {
                let name = self.name(id);
                self.say(format!(
                    "{name} sends faster than the room allows; its messages are slowed down."
                ));
                self.notify(
                    id,
                    "you are sending faster than the room allows; your messages are slowed down",
                );
            }
            Heard::Ended(gone) => {
                let said_goodbye = self.links.get(&id).is_some_and(|l| l.said_goodbye);
                let (change, reason) = match gone {
                    Gone::Left => (Change::Left, String::new()),
                    Gone::Lost(_) if said_goodbye => (Change::Left, String::new()),
                    Gone::Lost(why) => (Change::Left, format!("connection lost: {why}")),
                    Gone::Silent(limit) => (
                        Change::Dropped,
                        format!("no answer to the keepalive for {} s", limit.as_secs()),
                    ),
                    Gone::Broke(why) => (Change::Dropped, why),
                };
                self.remove(id, change, &reason);
            }
        }
    }

    /// A member's writer failed: it is gone.
    pub fn writer_failed(&mut self, id: MemberId, e: &std::io::Error) {
        let reason = match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "it stopped reading".to_string()
            }
            _ => format!("sending to it failed: {e}"),
        };
        self.remove(id, Change::Dropped, &reason);
    }

    /// Takes a member out of the room, ends its connection and tells the
    /// others.
    fn remove(&mut self, id: MemberId, change: Change, reason: &str) {
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        link.closer.close();
        let name = self.name(id);
        self.roster.leave(id);
        self.say(members::presence_line(change, &name, reason));
        self.presence(None, change, &name, reason);
    }

    /// Forgets a member once the room is closing.
    pub fn forget(&mut self, id: MemberId) {
        if let Some(link) = self.links.remove(&id) {
            link.closer.close();
        }
        self.roster.leave(id);
    }

    /// Tells everyone but `except` that `name` came or went.
    fn presence(&mut self, except: Option<MemberId>, change: Change, name: &str, reason: &str) {
        let bytes: Arc<[u8]> = if self.plain {
            Arc::from(plain::system(&members::presence_line(change, name, reason)))
        } else {
            encode(&Message::Presence {
                change,
                name,
                reason,
            })
        };
        self.broadcast(except, &bytes);
    }

    /// Queues `bytes` for every member but `except`. Those too far behind
    /// are dropped, which is news for the others in turn.
    fn broadcast(&mut self, except: Option<MemberId>, bytes: &Arc<[u8]>) {
        let behind: Vec<MemberId> = self
            .links
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, link)| !link.outbox.put(bytes))
            .map(|(id, _)| *id)
            .collect();
        for id in behind {
            self.remove(id, Change::Dropped, "it fell too far behind the room");
        }
    }

    fn send_to(&mut self, id: MemberId, bytes: &Arc<[u8]>) {
        let behind = self
            .links
            .get(&id)
            .is_some_and(|link| !link.outbox.put(bytes));
        if behind {
            self.remove(id, Change::Dropped, "it fell too far behind the room");
        }
    }

    /// Something the room tells one member about itself.
    fn notify(&mut self, id: MemberId, text: &str) {
        let bytes: Arc<[u8]> = if self.plain {
            Arc::from(plain::system(&format!("Room: {text}.")))
        } else {
            encode(&Message::Notice { text })
        };
        self.send_to(id, &bytes);
    }

    /// A member's message to the room, on the host's screen.
    fn show_message(&self, name: &str, text: &str) {
        let line = format!("[{name}] {text}");
        self.screen.peer_line(line.as_bytes(), false);
    }

    /// A line from a plain member: it may name the member, and it goes on
    /// under the member's name.
    fn plain_line(&mut self, id: MemberId, raw: &[u8]) {
        let line = plain::clean(raw);
        let said = plain::read(&line);
        let mut name = self.name(id);
        let named = self.links.get(&id).is_some_and(|l| l.named);
        if let (Some(claimed), false) = (said.claimed, named) {
            if self.roster.rename(id, claimed).is_ok() {
                if let Some(link) = self.links.get_mut(&id) {
                    link.named = true;
                }
                let news = format!("{name} is now called {claimed}.");
                self.say(&news);
                self.broadcast(Some(id), &Arc::from(plain::system(&news)));
                name = claimed.to_string();
            } else {
                self.notify(
                    id,
                    &format!("the name {claimed} is taken here; you are {name}"),
                );
            }
        }
        if plain::is_goodbye(&said, &name) {
            if let Some(link) = self.links.get_mut(&id) {
                link.said_goodbye = true;
            }
            return;
        }
        let text = match said.claimed {
            Some(claimed) if claimed == name => said.text,
            _ => &line,
        };
        self.show_message(&name, text);
        self.broadcast(Some(id), &Arc::from(plain::message(&name, text)));
    }

    /// A private message from `from` (`None`: the host) to the member
    /// called `to`.
    fn whisper(&mut self, from: Option<MemberId>, to: &str, text: &str) {
        let sender = match from {
            Some(id) => self.name(id),
            None => self.roster.host().to_string(),
        };
        if from.is_some() && to.to_lowercase() == self.roster.host().to_lowercase() {
            let line = members::whisper_from(&sender, text);
            self.screen.peer_line(line.as_bytes(), false);
            return;
        }
        let Some(target) = self.roster.find(to).filter(|t| Some(*t) != from) else {
            let why = format!("nobody called {to} is in the room; /who lists who is");
            match from {
                Some(id) => self.notify(id, &why),
                None => self.say(format!("Not sent: {why}.")),
            }
            return;
        };
        if from.is_none() {
            let line = members::whisper_to(&self.name(target), text);
            if self.screen.is_interactive() {
                self.screen.peer_line(line.as_bytes(), false);
            }
        }
        let bytes: Arc<[u8]> = if self.plain {
            Arc::from(plain::whisper(&sender, text))
        } else {
            encode(&Message::Whisper {
                name: &sender,
                text,
            })
        };
        self.send_to(target, &bytes);
    }

    /// Pings every encrypted member; one that does not answer in time is
    /// dropped by its reader.
    pub fn ping(&mut self) {
        if !self.plain {
            self.broadcast(None, &encode(&Message::Ping));
        }
    }

    /// Acts on a batch of the host user's lines; breaks when the user
    /// leaves.
    pub fn act_on_input(&mut self, lines: &[u8]) -> ControlFlow<()> {
        let lines = String::from_utf8_lossy(lines);
        for line in lines.split_inclusive('\n') {
            self.act(line)?;
        }
        ControlFlow::Continue(())
    }

    pub fn too_long(&self, len: u64) {
        self.say(format!(
            "Message not sent: it is {len} bytes and the limit is {} bytes.",
            self.text_limit()
        ));
    }

    fn text_limit(&self) -> usize {
        if self.plain {
            frame::MAX_LINE - self.roster.host().len() - 3
        } else {
            MAX_TEXT
        }
    }

    fn act(&mut self, line: &str) -> ControlFlow<()> {
        match command::parse(line) {
            UserCommand::Nothing => {}
            UserCommand::Quit => return ControlFlow::Break(()),
            UserCommand::Usage(text) => self.say(text),
            UserCommand::Help => user::show_help(self.screen),
            UserCommand::Say(text) => self.host_says(&text),
            UserCommand::Msg { to, text } => self.whisper(None, &to, &text),
            UserCommand::Who => {
                let addresses = self.roster.addresses();
                let list = self.roster.members(Instant::now(), &addresses);
                for line in members::member_lines(list, self.roster.host()) {
                    self.say(line);
                }
            }
            UserCommand::Code => self.show_codes(),
            UserCommand::Status => self.say(format!("No transfers: {NO_FILES}.")),
            UserCommand::Send(_) => self.say(format!("Nothing sent: {NO_FILES}.")),
            UserCommand::Accept(_)
            | UserCommand::Decline(_)
            | UserCommand::Cancel(_)
            | UserCommand::Discard => self.say(format!("No offers here: {NO_FILES}.")),
        }
        ControlFlow::Continue(())
    }

    /// The host's own message to the room.
    fn host_says(&mut self, text: &str) {
        if text.len() > self.text_limit() {
            return self.too_long(text.len() as u64);
        }
        let host = self.roster.host().to_string();
        self.screen.own_message(&host, text);
        let bytes: Arc<[u8]> = if self.plain {
            Arc::from(plain::message(&host, text))
        } else {
            encode(&Message::Text(text))
        };
        self.broadcast(None, &bytes);
    }

    /// Each member's safety code, to compare with what its screen shows.
    fn show_codes(&self) {
        if self.plain {
            return self.say("This room is not encrypted (--plain): there are no safety codes.");
        }
        if self.links.is_empty() {
            return self.say("Nobody is in the room yet.");
        }
        for id in self.roster.ids() {
            if let Some(code) = self.links.get(&id).and_then(|l| l.safety_code.as_ref()) {
                self.say(format!("Safety code with {}: {code}", self.name(id)));
            }
        }
    }

    /// Says goodbye to everyone: the room is over.
    pub fn close(&mut self) {
        let goodbye: Arc<[u8]> = Arc::from(plain::goodbye(self.roster.host()));
        for link in self.links.values() {
            if self.plain {
                link.outbox.put(&goodbye);
            }
            link.outbox.leave();
        }
    }

    /// Ends every connection still open.
    pub fn cut_all(&mut self) {
        for (_, link) in self.links.drain() {
            link.closer.close();
        }
    }
}

/// A message's bytes, to share among the members' queues.
fn encode(message: &Message<'_>) -> Arc<[u8]> {
    let mut bytes = Vec::new();
    message.encode(&mut bytes);
    Arc::from(bytes)
}
