//! Acting on what the user types: messages go to the writer, commands are
//! answered here.

mod transfers;

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use super::acquaintance::{self, Acquaintance, TrustError};
use super::events::{ChatEvent, Reply};
use super::input::Ticket;
use super::outgoing::Outgoing;
use super::outgoing::Typed;
use super::progress::Transfers;
use crate::engine::Frontend;
use crate::engine::command::{self, Command, UserCommand};
use crate::engine::members::Occupancy;
use crate::files::download::DownloadDir;
use crate::identity::contacts::Contacts;
use crate::protocol::capabilities::Capabilities;
use crate::wire::limits;

/// What the main loop keeps between the user's lines.
pub struct UserSide<'a> {
    outbox: &'a Sender<Outgoing>,
    name: &'a str,
    front: &'a dyn Frontend,
    transfers: &'a Transfers,
    downloads: &'a DownloadDir,
    /// Whether the user was told that messages wait for the file being sent.
    told_about_waiting: bool,
    /// Whether the user was told, on the original wire, that `/who` and
    /// `/msg` go out as lines only a room answers.
    told_about_room_lines: bool,
    /// Messages not yet handed to the writer, encoded: lines that arrive
    /// together go to it together.
    texts: Vec<u8>,
    /// Whether the batch being acted on has queued messages.
    queued_texts: bool,
    /// What the wire can do.
    caps: Capabilities,
    /// Whether the peer said it hosts a room we are in.
    in_room: &'a AtomicBool,
    /// Whether the user was told what leaving would lose, and has not done
    /// anything since: asking to leave again then leaves.
    warned: bool,
    /// The room the user hosts, which leaving closes.
    hosted: Option<&'a Occupancy>,
    /// The peer as the user knows it, to `/trust`: on the encrypted wire.
    acquaintance: Option<Arc<Acquaintance>>,
    /// Where `/trust` saves a member of the room the user hosts.
    contacts: Option<Contacts>,
}

/// How the user asked to leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// `/quit`.
    Command,
    /// Ctrl-C on an empty line.
    CtrlC,
    /// Ctrl-D on an empty line.
    CtrlD,
}

impl<'a> UserSide<'a> {
    pub fn new(
        outbox: &'a Sender<Outgoing>,
        name: &'a str,
        front: &'a dyn Frontend,
        transfers: &'a Transfers,
        downloads: &'a DownloadDir,
        caps: Capabilities,
        in_room: &'a AtomicBool,
    ) -> Self {
        Self {
            outbox,
            name,
            front,
            transfers,
            downloads,
            told_about_waiting: false,
            told_about_room_lines: false,
            texts: Vec::new(),
            queued_texts: false,
            caps,
            in_room,
            warned: false,
            hosted: None,
            acquaintance: None,
            contacts: None,
        }
    }

    /// The peer proved an identity, which `/trust` saves in `contacts`
    /// (with the members of a room the user hosts).
    pub fn acquainted(
        mut self,
        acquaintance: Option<Arc<Acquaintance>>,
        contacts: Option<Contacts>,
    ) -> Self {
        self.acquaintance = acquaintance;
        self.contacts = contacts;
        self
    }

    /// The user hosts the room `hosted`: leaving closes it.
    pub fn hosting(mut self, hosted: Option<&'a Occupancy>) -> Self {
        self.hosted = hosted;
        self
    }

    /// The user asked to leave; breaks when the chat should end. At a
    /// terminal, when an offer waits for the user's answer or something is
    /// arriving, the first asking says what leaving would lose, and only
    /// the next one, with nothing done in between, leaves. (What is being
    /// sent is not lost: leaving waits for it, and says so.) Scripts leave
    /// at once.
    pub fn leave(&mut self, how: Leaving) -> ControlFlow<()> {
        if !self.front.attended() || std::mem::take(&mut self.warned) {
            return ControlFlow::Break(());
        }
        // A host is warned when files would be cut, its own or its
        // members', and told what leaving does to its room then.
        let ours = self.transfers.at_stake();
        if ours.is_none() && !self.hosted.is_some_and(Occupancy::has_files) {
            return ControlFlow::Break(());
        }
        let room = self.hosted.and_then(Occupancy::at_stake);
        if ours.is_none() && room.is_none() {
            return ControlFlow::Break(());
        }
        self.front.reply(Reply::LeavingWouldCut {
            ours: ours.as_ref(),
            room,
            again: how,
        });
        self.warned = true;
        ControlFlow::Continue(())
    }

    /// A block pasted at the terminal: one message whose lines are kept,
    /// never a command, whatever its lines start with. The original wire
    /// has no message of several lines, so there each line goes as one, as
    /// typed ones do; each goes behind `[NAME] `, so none reads as a `/file`
    /// header either. Blank lines around the block are left out.
    pub fn paste(&mut self, text: &str) {
        self.warned = false;
        let lines: Vec<&str> = text.split('\n').collect();
        let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
            return;
        };
        let last = lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .unwrap_or(first);
        let lines = &lines[first..=last];
        if !self.caps.typed {
            let sending = self.sending_plain();
            self.told_about_waiting &= sending;
            for line in lines.iter().filter(|l| !l.trim().is_empty()) {
                self.say(line, sending);
            }
            self.send_texts(None);
            return;
        }
        let text = lines.join("\n");
        let (len, limit) = self.measure(text.len() as u64);
        if len > limit {
            self.refuse_long(len, limit);
            return;
        }
        self.front.chat(ChatEvent::Said {
            name: self.name,
            text: &text,
        });
        self.queue(Outgoing::Text(text));
    }

    /// Whether a message typed now waits for a file being sent, which only
    /// happens on the original wire; told about at a terminal only, and
    /// piped input can be a million lines: no look at the transfer list
    /// per line there.
    fn sending_plain(&self) -> bool {
        self.front.attended() && !self.caps.typed && self.transfers.sending()
    }

    /// Queues one line of text as a message, after saying when it waits for
    /// a file being sent (`sending`).
    fn say(&mut self, text: &str, sending: bool) {
        // The peer drops lines over the limit; better to say so here.
        let (len, limit) = self.measure(text.len() as u64);
        if len > limit {
            self.refuse_long(len, limit);
            return;
        }
        // (`sending` is false in pipe mode, which keeps to the core event
        // lines: scripts do not need telling.)
        if sending && !self.told_about_waiting {
            self.front.reply(Reply::MessagesWait);
            self.told_about_waiting = true;
        }
        let echo = self.plain_echo(text);
        self.front.chat(ChatEvent::Said {
            name: self.name,
            text: &echo,
        });
        self.texts.extend_from_slice(text.as_bytes());
        self.texts.push(b'\n');
    }

    /// How a line of ours on the original wire shows on our front: a room
    /// there reads `/msg NAME text` (typed, or as `//msg`: the line is the
    /// same) as a private message, so it shows as one, and the first such
    /// line, or `/who`, says what a peer that is not a room makes of it.
    fn plain_echo<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        if self.caps.typed || !text.trim_start().starts_with('/') {
            return Cow::Borrowed(text);
        }
        let echo = match command::parse(text) {
            UserCommand::Order(Command::Msg { to, text }) => {
                Cow::Owned(format!("(to {to}) {text}"))
            }
            UserCommand::Order(Command::Who) => Cow::Borrowed(text),
            _ => return Cow::Borrowed(text),
        };
        if !self.told_about_room_lines {
            self.told_about_room_lines = true;
            self.front.reply(Reply::RoomLinesOnPlain);
        }
        echo
    }

    /// Acts on a batch of input lines; breaks when the user leaves. A batch
    /// that queued messages hands its ticket to the writer behind them, so
    /// the next batch is read only once they are on their way: messages are
    /// what would pile up in memory. A batch of commands only gives its
    /// ticket back at once, so `/status` is answered however many files
    /// wait.
    pub fn act_on_batch(&mut self, lines: &[u8], ticket: Option<Ticket>) -> ControlFlow<()> {
        // Valid UTF-8 is the rule; checking it strictly first is quicker
        // than the lossy conversion's check.
        let lines = match std::str::from_utf8(lines) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(lines),
        };
        self.queued_texts = false;
        let mut flow = ControlFlow::Continue(());
        for line in lines.split_inclusive('\n') {
            flow = self.act(line);
            if flow.is_break() {
                break;
            }
        }
        if self.queued_texts || !self.texts.is_empty() {
            self.send_texts(ticket);
        }
        flow
    }

    /// Says that a line too long to send was dropped as it was read.
    pub fn too_long(&self, len: u64) {
        let (len, limit) = self.measure(len);
        self.refuse_long(len, limit);
    }

    /// A message of `len` bytes as the wire counts it, and the wire's limit:
    /// the original wire counts the whole line, name and all.
    fn measure(&self, len: u64) -> (u64, u64) {
        match self.caps.typed {
            true => (len, limits::MAX_TEXT as u64),
            false => (self.name.len() as u64 + len + 3, limits::MAX_LINE as u64),
        }
    }

    fn refuse_long(&self, len: u64, limit: u64) {
        self.front.reply(Reply::TooLong { len, limit });
    }

    fn queue(&mut self, outgoing: Outgoing) {
        self.send_texts(None);
        // If the writer has stopped, its reason is already on its way.
        let _ = self.outbox.send(outgoing);
    }

    fn send_texts(&mut self, ticket: Option<Ticket>) {
        if !self.texts.is_empty() || ticket.is_some() {
            self.queued_texts |= !self.texts.is_empty();
            let texts = std::mem::take(&mut self.texts);
            let _ = self.outbox.send(Outgoing::Lines(texts, ticket));
        }
    }

    /// Acts on one line typed in the chat's command language; breaks when
    /// the user leaves.
    fn act(&mut self, line: &str) -> ControlFlow<()> {
        // On the encrypted wire nothing waits: messages go between chunks.
        let sending = self.sending_plain();
        self.told_about_waiting &= sending;
        let command = command::parse(line);
        // Anything done but leaving calls for a new warning before leaving.
        self.warned &= matches!(
            command,
            UserCommand::Nothing | UserCommand::Order(Command::Quit)
        );
        let command = match command {
            UserCommand::Nothing => return ControlFlow::Continue(()),
            UserCommand::Usage(usage) => {
                self.front.reply(Reply::Usage(&usage));
                return ControlFlow::Continue(());
            }
            UserCommand::Help => {
                self.front.reply(Reply::Help);
                return ControlFlow::Continue(());
            }
            // (Borrowed from the batch: piped input can be a million lines.)
            UserCommand::Say(text) => {
                self.say(&text, sending);
                return ControlFlow::Continue(());
            }
            UserCommand::Send(args) => Command::Send(args.paths(|p| p.exists())),
            UserCommand::Order(command) => command,
        };
        self.obey(command, sending)
    }

    /// Acts on a command a front end gave; breaks when the user leaves.
    pub fn order(&mut self, command: Command) -> ControlFlow<()> {
        self.warned &= command == Command::Quit;
        let sending = self.sending_plain();
        self.told_about_waiting &= sending;
        let flow = self.obey(command, sending);
        self.send_texts(None);
        flow
    }

    /// `/trust [NAME]`: saves the peer as a contact; in a room the user
    /// hosts, the member NAME.
    fn trust(&self, name: Option<&str>) {
        let today = chrono::Local::now().format("%Y-%m-%d").to_string();
        let trusted = match (&self.acquaintance, self.hosted, &self.contacts) {
            (Some(acquaintance), _, _) => {
                let in_room = self.in_room.load(Ordering::SeqCst);
                acquaintance.trust(name, &today, in_room)
            }
            (None, Some(room), Some(contacts)) => match name {
                None => Err(TrustError::WhichMember),
                Some(name) => match room.identity_of(name) {
                    Some((member, key)) => {
                        acquaintance::trust(contacts, &member, (key, &member), &today, None)
                    }
                    None => Err(TrustError::NoMember(name.to_string())),
                },
            },
            _ => return self.front.reply(Reply::NoIdentity),
        };
        match trusted {
            Ok(trusted) => self.front.reply(Reply::Trusted(&trusted)),
            Err(why) => self.front.reply(Reply::NotTrusted(&why)),
        }
    }

    /// Carries out a command; `sending` says whether files go out before
    /// what it queues. Breaks when the user leaves.
    fn obey(&mut self, command: Command, sending: bool) -> ControlFlow<()> {
        let front = self.front;
        match command {
            Command::Quit => return self.leave(Leaving::Command),
            Command::Say(text) => self.say(&text, sending),
            Command::Send(paths) => self.send_paths(paths, sending),
            Command::Code => {
                front.reply(Reply::SafetyCode(&self.caps.safety));
                if let Some(acquaintance) = &self.acquaintance {
                    front.reply(Reply::TheirIdentity(acquaintance.key().fingerprint()));
                }
            }
            Command::Trust(name) => self.trust(name.as_deref()),
            Command::Status => {
                self.transfers.show_status(front);
                if self.caps.answers {
                    self.show_kept();
                }
            }
            Command::Accept(_) | Command::Decline(_) | Command::Cancel(_) | Command::Discard
                if !self.caps.answers =>
            {
                front.reply(Reply::NoAnswers);
            }
            // The original wire cannot say whether the peer is a room: the
            // commands go as the lines a room on it answers.
            Command::Who if !self.caps.typed => self.say("/who", sending),
            Command::Msg { to, text } if !self.caps.typed => {
                let line = format!("/msg {} {text}", command::quoted_name(&to));
                self.say(&line, sending);
            }
            Command::Who | Command::Msg { .. } if !self.in_room.load(Ordering::SeqCst) => {
                front.reply(Reply::NotInRoom);
            }
            Command::Who => self.queue(Outgoing::Typed(Typed::Who)),
            Command::Msg { to, text } => {
                let (len, limit) = self.measure(text.len() as u64);
                if len > limit {
                    self.refuse_long(len, limit);
                    return ControlFlow::Continue(());
                }
                // Shown once the room says whom it reached.
                self.queue(Outgoing::Typed(Typed::Whisper { to, text }));
            }
            Command::Accept(id) => self.decide(id, true),
            Command::Decline(id) => self.decide(id, false),
            Command::Cancel(id) => self.cancel(id),
            Command::Discard => self.discard_kept(),
        }
        ControlFlow::Continue(())
    }
}

/// Answers a line typed while nobody is connected yet; breaks when the
/// user leaves.
pub fn act_while_waiting(line: &str, front: &dyn Frontend) -> ControlFlow<()> {
    match command::parse_unconnected(line) {
        UserCommand::Order(Command::Quit) => return ControlFlow::Break(()),
        UserCommand::Help => front.reply(Reply::Help),
        UserCommand::Usage(usage) => front.reply(Reply::Usage(&usage)),
        _ => {}
    }
    ControlFlow::Continue(())
}
