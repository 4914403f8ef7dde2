//! What members say through the members: a message goes to everyone else
//! under its sender's name, a private message to the one member it names,
//! `/who` back to its asker; a plain member's line may name the member,
//! say goodbye, or be one of those commands.

use std::sync::Arc;
use std::time::Instant;

use super::members::Members;
use super::plain;
use super::relay::Relays;
use super::roster::{HOST, MemberId};
use super::words::Words;
use crate::engine::command::{Command, UserCommand};
use crate::engine::members::member_lines;
use crate::wire::message::{Change, MemberList, Message};

/// A member's message to the room (on the encrypted wire).
pub fn said(members: &mut Members, relays: &mut Relays, id: MemberId, text: &str) {
    let name = members.name(id);
    let words = Words::Said {
        name: &name,
        text,
        by_host: id == HOST,
    };
    members.broadcast(relays, &[id], &words);
}

/// The member list, for `/who`; the host also gets each member's
/// safety code.
pub fn who(members: &mut Members, relays: &mut Relays, id: MemberId) {
    let now = Instant::now();
    let addresses = members.roster().addresses();
    let list = members.roster().members(now, &addresses);
    let sealed = members.link(id).is_some_and(|l| l.sealed);
    let lines: Vec<Arc<[u8]>> = if sealed {
        let mut bytes = vec![];
        Message::Members(MemberList::empty()).encode(&mut bytes);
        MemberList::encode(list, &mut bytes);
        vec![Arc::from(bytes)]
    } else {
        let me = members.name(id);
        member_lines(list, &me)
            .iter()
            .map(|line| Arc::from(plain::system(line)))
            .collect()
    };
    if let Some(link) = members.link_mut(id) {
        for line in &lines {
            link.put(line);
        }
    }
    if id != HOST {
        return;
    }
    let codes: Vec<String> = members
        .roster()
        .ids()
        .filter_map(|member| {
            let code = members.link(member)?.safety_code.as_ref()?;
            Some(format!("safety code with {}: {code}", members.name(member)))
        })
        .collect();
    for code in codes {
        members.notify(relays, HOST, &code);
    }
}

/// A line from a plain member: it may name the member, and it goes on
/// under the member's name.
pub fn plain_line(members: &mut Members, relays: &mut Relays, id: MemberId, raw: &[u8]) {
    if crate::net::secure::handshake::is_greeting(raw) {
        let why = "it speaks the encrypted wire, and this room the original one (--plain)";
        return members.remove(relays, id, Change::Dropped, why);
    }
    let line = plain::clean(raw);
    let said = plain::read(&line);
    let mut name = members.name(id);
    let named = members.link(id).is_some_and(|l| l.named);
    if let (Some(claimed), false) = (said.claimed, named) {
        if members.find(claimed).is_none() && members.rename(id, claimed) {
            if let Some(link) = members.link_mut(id) {
                link.named = true;
            }
            let news = format!("{name} is now called {claimed}");
            members.broadcast(relays, &[id], &Words::Notice(&news));
            name = claimed.to_string();
        } else {
            let taken = format!("the name {claimed} is taken here; you are {name}");
            members.notify(relays, id, &taken);
        }
    }
    if plain::is_goodbye(&said, &name) {
        // The original program says goodbye and may keep the connection
        // open a while: its membership ends here.
        if let Some(link) = members.link_mut(id) {
            link.said_goodbye = true;
        }
        return members.remove(relays, id, Change::Left, "");
    }
    let text = match said.claimed {
        Some(claimed) if claimed == name => said.text,
        _ => &line,
    };
    // What a plain member types as a command works as in a room's chat,
    // also from a `chat --plain` whose name was taken, which puts that
    // name in front of each line: a command speaks for nobody else.
    match crate::engine::command::parse(said.text) {
        UserCommand::Order(Command::Who) => return who(members, relays, id),
        UserCommand::Order(Command::Msg { to, text }) => {
            return whisper(members, relays, id, &to, &text);
        }
        _ => {}
    }
    let words = Words::Said {
        name: &name,
        text,
        by_host: false,
    };
    members.broadcast(relays, &[id], &words);
}

/// A private message from member `from` to the member called `to`:
/// the name is the whole name (PROTOCOL.md 4.4), never split again
/// with the text, so nobody else gets a message because their name
/// begins with it.
pub fn whisper(members: &mut Members, relays: &mut Relays, from: MemberId, to: &str, text: &str) {
    let Some(target) = members.find(to) else {
        let why = nobody_called(members, to);
        return members.notify(relays, from, &why);
    };
    if target == from {
        let why = "that is you: a private message goes to someone else";
        return members.notify(relays, from, why);
    }
    let sender = members.name(from);
    let words = Words::Whisper {
        name: &sender,
        text,
    };
    members.tell(relays, target, &words);
    // The sender sees it once it went (a member on the original wire
    // sees what it typed).
    let name = members.name(target);
    members.send_message(relays, from, &Message::Whispered { name: &name, text });
}

/// Why a private message to `to` reached nobody, with a hint when a
/// name with spaces begins with it: the user may have meant that one.
fn nobody_called(members: &Members, to: &str) -> String {
    let everyone = std::iter::once(HOST).chain(members.roster().ids());
    let longer = everyone.map(|id| members.name(id)).find(|name| {
        name.get(..to.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(to))
            && name[to.len()..].starts_with(' ')
    });
    match longer {
        Some(name) => format!(
            "nobody called {to} is in the room; a name with spaces is quoted: /msg {} text",
            crate::engine::command::quoted_name(&name)
        ),
        None => format!("nobody called {to} is in the room; /who lists who is."),
    }
}
