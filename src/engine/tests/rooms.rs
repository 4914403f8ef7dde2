//! A room inside the test: its host runs the room and its own seat, and
//! its members are conversations that connect to it over loopback; every
//! one of them shows typed events to a recording front end.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use super::{Person, Recorder, Setup, scratch, settings};
use crate::engine::command::Command;
use crate::engine::{Front, link_report};
use crate::net::connect;
use crate::net::patience::{Patience, Trying};
use crate::net::secure::Protection;
use crate::room;
use crate::session::{self, Attach, InputSide, News};
use crate::settings::RoomSettings;

/// The host's front end: a recorder, and a slot where the engine's news
/// channel is left once the room takes commands.
struct HostEnd {
    front: Arc<Recorder>,
    news: Arc<Mutex<Option<Sender<News>>>>,
}

struct Quiet;

impl InputSide for Quiet {
    fn stop(&mut self) {}
}

impl Attach for HostEnd {
    fn front(&self) -> Front {
        self.front.clone()
    }

    fn start_input(self: Box<Self>, news: Sender<News>) -> Result<Box<dyn InputSide>> {
        *self.news.lock().unwrap() = Some(news);
        Ok(Box::new(Quiet))
    }
}

/// A room hosted by Ana, and the port it listens on.
struct Room {
    front: Arc<Recorder>,
    news: Arc<Mutex<Option<Sender<News>>>>,
    running: JoinHandle<Result<()>>,
    port: u16,
}

impl Room {
    fn open(test: &str) -> Self {
        let front = Arc::new(Recorder::default());
        let news = Arc::new(Mutex::new(None));
        let host = Box::new(HostEnd {
            front: front.clone(),
            news: news.clone(),
        });
        let downloads = scratch(&format!("{test}-ana"));
        let hosting = RoomSettings {
            max_peers: 8,
            keepalive: Duration::from_secs(30),
        };
        let mut settings = settings("ana", Setup::default(), &downloads);
        settings.room = Some(hosting);
        let running = std::thread::spawn(move || room::run(&settings, hosting, host));
        let listening = front.wait_for(&["Listening(127.0.0.1:"]);
        let port = listening
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches("))").parse().ok())
            .expect("the port the room listens on");
        Self {
            front,
            news,
            running,
            port,
        }
    }

    fn order(&self, command: Command) {
        let news = self
            .news
            .lock()
            .unwrap()
            .clone()
            .expect("the room takes commands");
        news.send(News::Command(command)).unwrap();
    }

    /// A member named `name` joins, as `chat connect` would.
    fn join(&self, test: &str, name: &str) -> Person {
        let (trying, _stop) = Trying::start(Patience::from_secs(5));
        let front = Arc::new(Recorder::default());
        let protection = Protection::for_tests(2);
        let established = {
            let report = link_report(&*front);
            connect::connect("127.0.0.1", self.port, &report, &protection, &trying)
                .expect("the room lets members in")
        };
        let downloads = scratch(&format!("{test}-{name}"));
        let settings = settings(name, Setup::default(), &downloads);
        let (news, inbox) = mpsc::channel();
        let running = {
            let (front, news) = (front.clone(), news.clone());
            std::thread::spawn(move || {
                session::converse(&settings, front, established, (news, inbox))
            })
        };
        Person::running(front, downloads, news, running)
    }
}

#[test]
fn what_a_member_says_reaches_the_others_and_the_host() {
    let room = Room::open("room-said");
    let bea = room.join("room-said", "bea");
    bea.front
        .wait_for(&["InRoom", "host: \"ana\"", "others: 0"]);
    let cy = room.join("room-said", "cy");
    cy.front.wait_for(&["InRoom", "host: \"ana\"", "others: 1"]);
    bea.front.wait_for(&["Presence", "Joined", "name: \"cy\""]);
    bea.order(Command::Say("hello room".into()));
    cy.front
        .wait_for(&["PeerSaid", "name: \"bea\"", "text: \"hello room\""]);
    room.front
        .wait_for(&["PeerSaid", "name: \"bea\"", "text: \"hello room\""]);
    room.order(Command::Say("welcome".into()));
    bea.front
        .wait_for(&["PeerSaid", "name: \"ana\"", "text: \"welcome\""]);
    room.order(Command::Quit);
    bea.front.wait_for(&["PeerEnded", "hosted: true"]);
    cy.front.wait_for(&["PeerEnded", "hosted: true"]);
    room.running
        .join()
        .unwrap()
        .expect("the host leaves cleanly");
    bea.ended().expect("a room that closes is no failure");
    cy.ended().expect("a room that closes is no failure");
}

#[test]
fn a_private_message_reaches_its_one_member_and_who_lists_them_all() {
    let room = Room::open("room-msg");
    let bea = room.join("room-msg", "bea");
    // (In before Cy, so that Bea hears Cy join.)
    bea.front.wait_for(&["InRoom"]);
    let cy = room.join("room-msg", "cy");
    bea.front.wait_for(&["Presence", "Joined", "name: \"cy\""]);
    bea.order(Command::Msg {
        to: "cy".into(),
        text: "psst".into(),
    });
    cy.front
        .wait_for(&["Whispered { name: \"bea\", text: \"psst\" }"]);
    bea.front
        .wait_for(&["WhisperWent", "to: \"cy\"", "text: \"psst\""]);
    bea.order(Command::Who);
    let members = bea.front.wait_for(&["Members"]);
    for name in ["ana", "bea", "cy"] {
        assert!(members.contains(&format!("\"{name}\"")), "{members}");
    }
    assert!(
        !room.front.saw(&["psst"]),
        "a private message is not the host's"
    );
    bea.order(Command::Quit);
    cy.front.wait_for(&["Presence", "Left", "name: \"bea\""]);
    bea.ended().unwrap();
    room.order(Command::Quit);
    room.running.join().unwrap().unwrap();
    cy.ended().unwrap();
}

#[test]
fn a_file_a_member_sends_is_saved_by_the_others() {
    let room = Room::open("room-file");
    let bea = room.join("room-file", "bea");
    bea.front.wait_for(&["InRoom"]);
    let cy = room.join("room-file", "cy");
    bea.front.wait_for(&["Presence", "Joined", "name: \"cy\""]);
    let path = scratch("room-file-out").join("minutes.txt");
    std::fs::write(&path, b"what we said").unwrap();
    bea.order(Command::Send(vec![path]));
    cy.front.wait_for(&["Saved", "minutes.txt"]);
    bea.front.wait_for(&["Sent", "minutes.txt"]);
    assert_eq!(
        std::fs::read(cy.downloads.join("minutes.txt")).unwrap(),
        b"what we said"
    );
    room.order(Command::Quit);
    room.running.join().unwrap().unwrap();
    bea.ended().unwrap();
    cy.ended().unwrap();
}

/// A member the test plays by hand: it joins over the encrypted wire,
/// says its name, then sends `said` (records, each a message's bytes).
/// Returns the closer of its connection, to leave when the test is done.
fn mallory_joins(room: &Room, said: &[Vec<u8>]) -> crate::net::transport::Closer {
    use crate::wire::message::Message;

    let (trying, _stop) = Trying::start(Patience::from_secs(5));
    let protection = Protection::for_tests(2);
    let established = connect::connect("127.0.0.1", room.port, &|_| {}, &protection, &trying)
        .expect("the room lets members in");
    let (mut records, closer) = super::hostile::sealer(established.connection);
    records.send(&Message::Hello { name: "mallory" }).unwrap();
    for record in said {
        records.send_encoded(record).unwrap();
    }
    records.flush().unwrap();
    closer
}

#[test]
fn a_member_that_breaks_the_protocol_is_dropped_and_the_room_goes_on() {
    use crate::wire::message::Message;

    let room = Room::open("room-mallory");
    let bea = room.join("room-mallory", "bea");
    bea.front.wait_for(&["InRoom"]);
    // Parts of a file it never offered: a piece, its start, its end.
    let chunk = Message::Chunk {
        id: 9,
        data: b"never offered",
    };
    let end = Message::End {
        id: 9,
        hash: [0; 32],
    };
    let broken = [
        (chunk, "it sent part of a file nobody accepted"),
        (
            Message::Begin { id: 9, offset: 0 },
            "it began a file nobody accepted",
        ),
        (end, "it ended a file nobody accepted"),
    ];
    for (nth, (message, why)) in broken.into_iter().enumerate() {
        let mut record = Vec::new();
        message.encode(&mut record);
        let mallory = mallory_joins(&room, &[record]);
        // Dropped, with the reason said to those who stay.
        bea.front.wait_for(&["Presence", "change: Dropped", why]);
        let text = format!("still here {nth}");
        bea.order(Command::Say(text.clone()));
        room.front
            .wait_for(&["PeerSaid", "name: \"bea\"", &format!("text: \"{text}\"")]);
        mallory.close();
    }
    room.order(Command::Quit);
    room.running.join().unwrap().unwrap();
    bea.ended().unwrap();
}
