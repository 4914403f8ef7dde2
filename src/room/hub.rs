//! The room's one point of order: who is in, and what goes to whom. Every
//! message passes here, on the room's main loop, so everyone receives them
//! in the same order; each member's share is queued for its writer, in the
//! form its wire takes, and a member that is too far behind is dropped
//! instead of waited for. The host's own user is a member too, on a
//! connection inside the program that always speaks the encrypted wire.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::Crew;
use super::events::{RoomEvent, Turned, Unheard, Unreachable, Unwelcome};
use super::link::{self, Answer, Door, Gone, Heard, Knock, Outbox, Turn};
use super::plain;
use super::relay::Relays;
use super::roster::{HOST, MemberId, Roster};
use super::words::{Forms, Words};
use crate::net::transport::{Closer, Connection, Reading};
use crate::permits::Permits;
use crate::session::command::{Command, UserCommand};
use crate::session::members::{self, Occupancy};
use crate::settings::{RoomSettings, Settings};
use crate::wire::limits;
use crate::wire::message::{Change, MemberList, Message};
use crate::wire::name::looks_alike;

/// How often transfers are looked at for members that fall behind.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// A member, as the hub reaches it.
pub(super) struct Link {
    pub outbox: Outbox,
    closer: Closer,
    pub permits: Permits,
    /// Whether it speaks the encrypted wire (typed messages).
    pub sealed: bool,
    safety_code: Option<String>,
    /// On the original wire: whether the member gave its name yet.
    named: bool,
    /// On the original wire: whether it said goodbye before leaving.
    said_goodbye: bool,
    /// The number its next file from the room gets.
    pub next_file: u32,
    /// On the original wire, while a file goes to it: what else is for it
    /// waits here, with its size, until the file's last byte is queued.
    pub held: Option<(Vec<Arc<[u8]>>, usize)>,
}

impl Link {
    fn new(outbox: Outbox, closer: Closer, permits: Permits, sealed: bool) -> Self {
        Self {
            outbox,
            closer,
            permits,
            sealed,
            safety_code: None,
            named: true,
            said_goodbye: false,
            next_file: 1,
            held: None,
        }
    }

    /// Queues `bytes`, or holds them while a file goes; `false` when the
    /// member is too far behind.
    fn put(&mut self, bytes: &Arc<[u8]>) -> bool {
        match &mut self.held {
            Some((held, size)) => {
                *size += bytes.len();
                held.push(bytes.clone());
                *size <= limits::MAX_BACKLOG
            }
            None => self.outbox.put(bytes),
        }
    }

    /// Queues what was held.
    pub fn release(&mut self) -> bool {
        let Some((held, _)) = self.held.take() else {
            return true;
        };
        held.iter().all(|bytes| self.outbox.put(bytes))
    }
}

pub struct Hub {
    pub(super) roster: Roster,
    pub(super) links: HashMap<MemberId, Link>,
    pub(super) relays: Relays,
    /// What the room tells its host, shown by a thread of its own: a
    /// screen that stops taking lines (a terminal paused with Ctrl-S, a
    /// full pipe) must not stop the room.
    reports: Sender<RoomEvent>,
    keepalive: Duration,
    /// The turn to pass a file to members on the original wire.
    turn: Arc<Turn>,
    /// Connections turned away: when the last window of
    /// [`TURNED_AWAY_WINDOW`] began, those the host was told of in it,
    /// those left out.
    turned_away: (Instant, usize, usize),
    /// What the room holds, for its host's user to be told on leaving.
    occupancy: Arc<Occupancy>,
}

/// At most this many connections turned away are told in a window:
/// a flood of connections must not flood the host's screen.
const TURNED_AWAY_LINES: usize = 5;
const TURNED_AWAY_WINDOW: Duration = Duration::from_secs(10);

impl Hub {
    pub fn new(
        settings: &Settings,
        room: RoomSettings,
        reports: Sender<RoomEvent>,
        turn: Arc<Turn>,
        occupancy: Arc<Occupancy>,
    ) -> Self {
        Self {
            roster: Roster::new(settings.name.clone(), room.max_peers, Instant::now()),
            links: HashMap::new(),
            relays: Relays::default(),
            reports,
            keepalive: room.keepalive,
            turn,
            turned_away: (Instant::now(), 0, 0),
            occupancy,
        }
    }

    /// Tells the host's user what the room holds now: its members, and
    /// the files they send through it.
    pub fn tally(&self) {
        let members = self.links.keys().filter(|id| **id != HOST).count();
        self.occupancy.set(members, self.relays.sent_by_members());
    }

    pub(super) fn plain_turn(&self) -> &Arc<Turn> {
        &self.turn
    }

    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Tells the room's host, and nobody else.
    pub fn report(&self, event: RoomEvent) {
        let _ = self.reports.send(event);
    }

    /// A connection was turned away before it could ask to be let in.
    pub fn turned_away(&mut self, address: SocketAddr, why: Unheard) {
        self.report_turned_away(Turned::Connection { address, why });
    }

    /// Tells the host a connection was turned away, unless many were just
    /// now: those are counted, and the count comes with the next one told.
    fn report_turned_away(&mut self, turned: Turned) {
        let (since, shown, left_out) = &mut self.turned_away;
        if since.elapsed() >= TURNED_AWAY_WINDOW {
            (*since, *shown) = (Instant::now(), 0);
        }
        if *shown >= TURNED_AWAY_LINES {
            *left_out += 1;
            return;
        }
        *shown += 1;
        let earlier = std::mem::take(left_out);
        self.report(RoomEvent::TurnedAway { turned, earlier });
    }

    /// Seats the host's own user, on the room's end of the connection
    /// inside the program; its threads are the crew's.
    pub(super) fn seat_host(&mut self, connection: Connection, door: &Door, crew: &Crew) {
        let (outbox, inbox) = link::queue();
        let permits = Permits::new(link::PIECES_IN_FLIGHT);
        let (reading, writing, closer) = match connection.split() {
            Ok(parts) => parts,
            Err(e) => return self.report(RoomEvent::HostUnreachable(Unreachable::Split(e))),
        };
        let link = Link::new(outbox, closer, permits.clone(), true);
        self.greet(&link, 0);
        self.links.insert(HOST, link);
        let door = door.clone();
        let spawned = crate::session::spawn("host link", move || {
            let mut reading = reading;
            // The user's side says its name first, as any member does.
            if let Reading::Sealed(records) = &mut reading
                && let Err(why) = link::read_hello(records)
            {
                let gone = Gone::Broke(why);
                let _ = door
                    .events
                    .send(super::Happening::Heard(HOST, Heard::Ended(gone)));
                return;
            }
            link::be_member(HOST, (reading, writing), inbox, &permits, &door);
        });
        match spawned {
            Ok(handle) => crew.hire(handle),
            Err(e) => self.report(RoomEvent::HostUnreachable(Unreachable::NoThread(e))),
        }
    }

    /// The first words to a member on the encrypted wire: who hosts the
    /// room, and how many are in it.
    fn greet(&self, link: &Link, others: usize) {
        if link.sealed {
            let mut hello = Vec::new();
            Message::Hello {
                name: self.roster.host(),
            }
            .encode(&mut hello);
            link.outbox.put(&Arc::from(hello));
            let keepalive = u16::try_from(self.keepalive.as_secs()).unwrap_or(u16::MAX);
            let room = Message::Room {
                keepalive,
                members: u16::try_from(others).unwrap_or(u16::MAX),
            };
            let mut bytes = Vec::new();
            room.encode(&mut bytes);
            link.outbox.put(&Arc::from(bytes));
        }
    }

    /// Lets a connection in, or says why not.
    pub fn knock(&mut self, knock: Knock) {
        let name = match &knock.name {
            Some(name) => name.clone(),
            None => self.guest_name(),
        };
        let id = match self.roster.admit(&name, knock.address, Instant::now()) {
            Ok(id) => id,
            Err(refusal) => return self.turn_away(knock, Unwelcome::Refused(refusal)),
        };
        let (outbox, inbox) = link::queue();
        let permits = Permits::new(link::PIECES_IN_FLIGHT);
        let mut link = Link::new(outbox, knock.closer, permits.clone(), knock.sealed);
        link.named = knock.name.is_some();
        link.safety_code = knock.safety_code.clone();
        // The host, and those already in.
        self.greet_member(&link, &name);
        let welcome = Answer::Welcome { id, inbox, permits };
        if knock.answer.send(welcome).is_err() {
            self.roster.leave(id);
            return;
        }
        self.report(RoomEvent::Joined {
            name: name.clone(),
            address: knock.address,
            safety_code: knock.safety_code,
        });
        self.links.insert(id, link);
        // (The host was told above.)
        let words = Words::Presence {
            change: Change::Joined,
            name: &name,
            reason: "",
        };
        self.broadcast(&[id, HOST], &words);
    }

    /// The first words to a member just let in (and counted in).
    fn greet_member(&self, link: &Link, name: &str) {
        let others = self.roster.len().saturating_sub(1);
        if link.sealed {
            return self.greet(link, others);
        }
        let host = self.roster.host();
        let welcome = match others {
            0 => format!("You are in {host}'s room as {name}, alone with the host."),
            1 => format!("You are in {host}'s room as {name}, with the host and 1 other."),
            n => format!("You are in {host}'s room as {name}, with the host and {n} others."),
        };
        link.outbox.put(&Arc::from(plain::system(&welcome)));
    }

    /// Tells a connection it is not let in.
    pub fn turn_away(&mut self, knock: Knock, why: Unwelcome) {
        let told = why.to_string();
        self.report_turned_away(Turned::Knock {
            name: knock.name,
            address: knock.address,
            why,
        });
        let _ = knock.answer.send(Answer::Refused(told));
    }

    /// A name for a plain member until it gives one.
    fn guest_name(&self) -> String {
        (1..)
            .map(|n| format!("guest{n}"))
            .find(|name| self.find(name).is_none())
            .unwrap_or_default()
    }

    pub(super) fn name(&self, id: MemberId) -> String {
        if id == HOST {
            return self.roster.host().to_string();
        }
        self.roster
            .get(id)
            .map(|seat| seat.name.clone())
            .unwrap_or_default()
    }

    /// The member called `name` (the host too), as the room tells names
    /// apart: in any case, and by look-alike letters.
    fn find(&self, name: &str) -> Option<MemberId> {
        if looks_alike(self.roster.host(), name) {
            return Some(HOST);
        }
        self.roster.find(name)
    }

    /// Acts on what a member did; breaks when the host's user is gone.
    pub fn heard(&mut self, id: MemberId, heard: Heard) -> ControlFlow<()> {
        if !self.links.contains_key(&id) {
            // Dropped already; what it still said goes nowhere.
            return ControlFlow::Continue(());
        }
        match heard {
            Heard::Text(text) => {
                let name = self.name(id);
                let words = Words::Said {
                    name: &name,
                    text: &text,
                    by_host: id == HOST,
                };
                self.broadcast(&[id], &words);
            }
            Heard::Line(raw) => self.plain_line(id, &raw),
            Heard::Whisper { to, text } => self.whisper(id, &to, &text),
            Heard::Who => self.who(id),
            Heard::File(news) => self.file_news(id, news),
            Heard::Plain(file) => self.plain_file(id, file),
            Heard::Slowed => {
                let name = self.name(id);
                self.report(RoomEvent::Slowed { name });
                self.notify(
                    id,
                    "you are sending faster than the room allows; your messages are slowed down",
                );
            }
            Heard::Ended(gone) => {
                if id == HOST {
                    return ControlFlow::Break(());
                }
                let said_goodbye = self.links.get(&id).is_some_and(|l| l.said_goodbye);
                let (change, reason) = match gone {
                    Gone::Left => (Change::Left, String::new()),
                    Gone::Closed => (
                        Change::Left,
                        "its chat closed the connection without a goodbye".to_string(),
                    ),
                    Gone::Lost(_) if said_goodbye => (Change::Left, String::new()),
                    Gone::Lost(why) => (Change::Left, format!("connection lost: {why}")),
                    Gone::Silent(limit) => (
                        Change::Dropped,
                        format!("no answer to the keepalive for {} s", limit.as_secs()),
                    ),
                    Gone::Trickled(limit) => (
                        Change::Dropped,
                        format!(
                            "it sent less than {} of its file in {} s",
                            crate::files::size::bytes(limits::MIN_PROGRESS),
                            limit.as_secs()
                        ),
                    ),
                    Gone::Broke(why) => (Change::Dropped, why),
                };
                self.remove(id, change, &reason);
            }
        }
        ControlFlow::Continue(())
    }

    /// A member's writer failed: it is gone.
    pub fn writer_failed(&mut self, id: MemberId, e: &std::io::Error) -> ControlFlow<()> {
        if id == HOST {
            return ControlFlow::Break(());
        }
        let reason = match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "it stopped reading".to_string()
            }
            _ => format!("sending to it failed: {e}"),
        };
        self.remove(id, Change::Dropped, &reason);
        ControlFlow::Continue(())
    }

    /// Takes a member out of the room, ends its connection and tells the
    /// others.
    pub(super) fn remove(&mut self, id: MemberId, change: Change, reason: &str) {
        if id == HOST {
            return;
        }
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        link.closer.close();
        link.permits.close();
        let name = self.name(id);
        self.member_gone(id, &name);
        self.roster.leave(id);
        let words = Words::Presence {
            change,
            name: &name,
            reason,
        };
        self.broadcast(&[], &words);
    }

    /// Forgets a member once the room is closing.
    pub fn forget(&mut self, id: MemberId) {
        if let Some(link) = self.links.remove(&id) {
            link.closer.close();
            link.permits.close();
        }
        self.roster.leave(id);
    }

    /// Queues `words` for every member but those in `except`, each in its
    /// wire's form. Those too far behind are dropped, which is news for the
    /// others in turn.
    pub(super) fn broadcast(&mut self, except: &[MemberId], words: &Words<'_>) {
        let mut forms = Forms::of(words);
        let behind: Vec<MemberId> = self
            .links
            .iter_mut()
            .filter(|(id, _)| !except.contains(id))
            .filter_map(|(id, link)| {
                let bytes = forms.get(link.sealed)?;
                (!link.put(&bytes)).then_some(*id)
            })
            .collect();
        for id in behind {
            self.remove(id, Change::Dropped, "it fell too far behind the room");
        }
    }

    /// Queues `words` for one member.
    pub(super) fn tell(&mut self, id: MemberId, words: &Words<'_>) {
        let behind = self.links.get_mut(&id).is_some_and(|link| {
            words
                .encode(link.sealed)
                .is_some_and(|bytes| !link.put(&bytes))
        });
        if behind {
            self.remove(id, Change::Dropped, "it fell too far behind the room");
        }
    }

    /// A typed message for one member (on the encrypted wire).
    pub(super) fn send_message(&mut self, id: MemberId, message: &Message<'_>) {
        self.tell(id, &Words::Typed(message.clone()));
    }

    /// Something the room tells one member about itself.
    pub(super) fn notify(&mut self, id: MemberId, text: &str) {
        self.tell(id, &Words::Notice(text));
    }

    /// The member list, for `/who`; the host also gets each member's
    /// safety code.
    fn who(&mut self, id: MemberId) {
        let now = Instant::now();
        let addresses = self.roster.addresses();
        let list = self.roster.members(now, &addresses);
        let sealed = self.links.get(&id).is_some_and(|l| l.sealed);
        let lines: Vec<Arc<[u8]>> = if sealed {
            let mut bytes = vec![];
            Message::Members(MemberList::empty()).encode(&mut bytes);
            MemberList::encode(list, &mut bytes);
            vec![Arc::from(bytes)]
        } else {
            let me = self.name(id);
            members::member_lines(list, &me)
                .iter()
                .map(|line| Arc::from(plain::system(line)))
                .collect()
        };
        if let Some(link) = self.links.get_mut(&id) {
            for line in &lines {
                link.put(line);
            }
        }
        if id != HOST {
            return;
        }
        let codes: Vec<String> = self
            .roster
            .ids()
            .filter_map(|member| {
                let code = self.links.get(&member)?.safety_code.as_ref()?;
                Some(format!("safety code with {}: {code}", self.name(member)))
            })
            .collect();
        for code in codes {
            self.notify(HOST, &code);
        }
    }

    /// A line from a plain member: it may name the member, and it goes on
    /// under the member's name.
    fn plain_line(&mut self, id: MemberId, raw: &[u8]) {
        if crate::session::incoming::is_greeting(raw) {
            let why = "it speaks the encrypted wire, and this room the original one (--plain)";
            return self.remove(id, Change::Dropped, why);
        }
        let line = plain::clean(raw);
        let said = plain::read(&line);
        let mut name = self.name(id);
        let named = self.links.get(&id).is_some_and(|l| l.named);
        if let (Some(claimed), false) = (said.claimed, named) {
            if self.find(claimed).is_none() && self.roster.rename(id, claimed).is_ok() {
                if let Some(link) = self.links.get_mut(&id) {
                    link.named = true;
                }
                let news = format!("{name} is now called {claimed}");
                self.broadcast(&[id], &Words::Notice(&news));
                name = claimed.to_string();
            } else {
                self.notify(
                    id,
                    &format!("the name {claimed} is taken here; you are {name}"),
                );
            }
        }
        if plain::is_goodbye(&said, &name) {
            // The original program says goodbye and may keep the connection
            // open a while: its membership ends here.
            if let Some(link) = self.links.get_mut(&id) {
                link.said_goodbye = true;
            }
            return self.remove(id, Change::Left, "");
        }
        let text = match said.claimed {
            Some(claimed) if claimed == name => said.text,
            _ => &line,
        };
        // What a plain member types as a command works as in a room's chat,
        // also from a `chat --plain` whose name was taken, which puts that
        // name in front of each line: a command speaks for nobody else.
        match crate::session::command::parse(said.text) {
            UserCommand::Order(Command::Who) => return self.who(id),
            UserCommand::Order(Command::Msg { to, text }) => return self.whisper(id, &to, &text),
            _ => {}
        }
        let words = Words::Said {
            name: &name,
            text,
            by_host: false,
        };
        self.broadcast(&[id], &words);
    }

    /// A private message from member `from` to the member called `to`:
    /// the name is the whole name (PROTOCOL.md 4.4), never split again
    /// with the text, so nobody else gets a message because their name
    /// begins with it.
    fn whisper(&mut self, from: MemberId, to: &str, text: &str) {
        let Some(target) = self.find(to) else {
            return self.notify(from, &self.nobody_called(to));
        };
        if target == from {
            return self.notify(from, "that is you: a private message goes to someone else");
        }
        let sender = self.name(from);
        let words = Words::Whisper {
            name: &sender,
            text,
        };
        self.tell(target, &words);
        // The sender sees it once it went (a member on the original wire
        // sees what it typed).
        let name = self.name(target);
        self.send_message(from, &Message::Whispered { name: &name, text });
    }

    /// Why a private message to `to` reached nobody, with a hint when a
    /// name with spaces begins with it: the user may have meant that one.
    fn nobody_called(&self, to: &str) -> String {
        let everyone = std::iter::once(HOST).chain(self.roster.ids());
        let longer = everyone.map(|id| self.name(id)).find(|name| {
            name.get(..to.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(to))
                && name[to.len()..].starts_with(' ')
        });
        match longer {
            Some(name) => format!(
                "nobody called {to} is in the room; a name with spaces is quoted: /msg {} text",
                crate::session::command::quoted_name(&name)
            ),
            None => format!("nobody called {to} is in the room; /who lists who is."),
        }
    }

    /// Pings every member on the encrypted wire; one that does not answer
    /// in time is dropped by its reader.
    pub fn ping(&mut self) {
        self.broadcast(&[], &Words::Typed(Message::Ping));
    }

    /// Says goodbye to everyone: the room is over.
    pub fn close(&mut self) {
        self.relays.clear();
        let goodbye = plain::goodbye(self.roster.host());
        for link in self.links.values_mut() {
            // A file half passed on cannot be finished: the stream ends.
            if link.held.is_none() {
                if !link.sealed {
                    link.outbox.put(&Arc::from(goodbye.clone()));
                }
                link.outbox.leave();
            }
            link.permits.close();
        }
    }

    /// Lets go of the host's own seat once the room is closing, without
    /// ending its connection: its writer still sends what is queued, the
    /// goodbye last, and the room waits for the members alone.
    pub fn unseat_host(&mut self) {
        self.links.remove(&HOST);
    }

    /// Ends every connection still open.
    pub fn cut_all(&mut self) {
        for (_, link) in self.links.drain() {
            link.closer.close();
            link.permits.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::settings::Action;
    use clap::Parser;
    use std::sync::mpsc::{self, Receiver};

    /// A room's hub with nobody in it, and what it tells its host.
    fn hub() -> (Hub, Receiver<RoomEvent>) {
        let Action::Chat(settings) =
            Action::new(Cli::parse_from(["chat", "listen", "--room"]), None)
        else {
            panic!("`chat listen --room` is a chat");
        };
        let room = settings.room.expect("a room's settings");
        let (reports, told) = mpsc::channel();
        let hub = Hub::new(&settings, room, reports, Arc::default(), Arc::default());
        (hub, told)
    }

    /// How many were left out before each connection the host is told of.
    fn told(told: &Receiver<RoomEvent>) -> Vec<usize> {
        told.try_iter()
            .map(|event| match event {
                RoomEvent::TurnedAway { earlier, .. } => earlier,
                other => panic!("told {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_flood_of_connections_turned_away_is_counted_not_told_one_by_one() {
        let (mut hub, host) = hub();
        let address: SocketAddr = "10.0.0.7:40000".parse().unwrap();
        let crowded = || Unheard::Crowded { limit: 32 };
        for _ in 0..TURNED_AWAY_LINES + 3 {
            hub.turned_away(address, crowded());
        }
        assert_eq!(told(&host), vec![0; TURNED_AWAY_LINES]);
        // Once the window has passed, the next one comes with the count.
        hub.turned_away.0 = Instant::now()
            .checked_sub(TURNED_AWAY_WINDOW)
            .expect("a clock that ran for the window");
        hub.turned_away(address, crowded());
        hub.turned_away(address, crowded());
        assert_eq!(told(&host), vec![3, 0]);
    }
}
