//! A peer that breaks the protocol, or vanishes: the conversation ends,
//! and says why.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{PATIENCE, Recorder, Setup, scratch, settings};
use crate::files::download::DownloadDir;
use crate::files::kept::{Kept, KeptOwner};
use crate::identity::Identity;
use crate::net::connect::Established;
use crate::net::secure::handshake::{Credentials, Side};
use crate::net::transport::{Closer, Connection};
use crate::protocol::{self, Sealer, Wire};
use crate::session;
use crate::wire::message::Message;

/// What the peer the test plays does once it said its piece.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Waits for Bea to end the conversation.
    Waits,
    /// Vanishes, as a killed peer does.
    Vanishes,
}

/// Bea's conversation with a peer that the test plays by hand over the
/// encrypted wire: it says `said` (records, each a message's bytes), then
/// does as `then` says. Returns what Bea was shown and how her
/// conversation ended.
fn bea_meets(test: &str, said: &[Vec<u8>], then: Then) -> (Arc<Recorder>, anyhow::Result<()>) {
    bea_meets_in(scratch(test), said, then)
}

/// [`bea_meets`], Bea saving into `downloads`.
fn bea_meets_in(
    downloads: std::path::PathBuf,
    said: &[Vec<u8>],
    then: Then,
) -> (Arc<Recorder>, anyhow::Result<()>) {
    let (mallory, front, running) = bea_in_conversation(downloads);
    let (mut records, closer) = sealer(mallory);
    for record in said {
        records.send_encoded(record).unwrap();
    }
    records.flush().ok();
    if then == Then::Vanishes {
        closer.close();
    }
    // (Bounded: a conversation that does not end fails here, not hangs.)
    front.wait_for(&["Chat(Over)"]);
    let ended = running.join().unwrap();
    closer.close();
    (front, ended)
}

/// Bea in a conversation with Mallory, whose end the test plays: the
/// connection after the handshake (Mallory listening), what Bea is shown,
/// and Bea's conversation under way, saving into `downloads`.
fn bea_in_conversation(
    downloads: std::path::PathBuf,
) -> (Connection, Arc<Recorder>, JoinHandle<anyhow::Result<()>>) {
    let (mut mallory, mut bea) = Connection::local_pair().unwrap();
    let handshake = std::thread::spawn(move || {
        let agreed = bea.encrypt(
            Side::Connecting,
            Credentials::of_test(3, None),
            None,
            PATIENCE,
        );
        (bea, agreed)
    });
    let mallorys = Credentials::of_test(2, None);
    mallory
        .encrypt(Side::Listening, mallorys, None, PATIENCE)
        .unwrap();
    let (bea, agreed) = handshake.join().unwrap();
    let front = Arc::new(Recorder::default());
    let (news, inbox) = mpsc::channel();
    let running = {
        let front = front.clone();
        std::thread::spawn(move || {
            let settings = settings("bea", Setup::default(), &downloads);
            let established = Established {
                connection: bea,
                agreed: Some(agreed.unwrap()),
            };
            session::converse(&settings, front, established, (news, inbox))
        })
    };
    (mallory, front, running)
}

fn encoded(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

#[test]
fn a_message_of_no_known_type_ends_the_conversation() {
    let hello = encoded(&Message::Hello { name: "mallory" });
    let (front, ended) = bea_meets("unknown-type", &[hello, vec![250, 1, 2, 3]], Then::Waits);
    front.wait_for(&["PeerEnded", "Broken"]);
    assert!(ended.is_err(), "a broken protocol is a failure");
}

#[test]
fn a_name_that_breaks_the_rules_ends_the_conversation() {
    // (Brackets would let it pass for another's `[NAME]` on the screen.)
    let hello = encoded(&Message::Hello { name: "[System]" });
    let (front, ended) = bea_meets("bad-name", &[hello], Then::Waits);
    front.wait_for(&["PeerEnded", "Broken"]);
    assert!(ended.is_err());
    assert!(!front.saw(&["PeerSaid"]));
}

#[test]
fn a_chunk_of_a_file_never_offered_ends_the_conversation() {
    let hello = encoded(&Message::Hello { name: "mallory" });
    let chunk = encoded(&Message::Chunk {
        id: 9,
        data: b"surprise",
    });
    let (front, ended) = bea_meets("unoffered", &[hello, chunk], Then::Waits);
    front.wait_for(&["PeerEnded", "Broken", "never offered"]);
    assert!(ended.is_err());
}

#[test]
fn a_peer_that_vanishes_mid_file_leaves_what_arrived_kept() {
    let hello = encoded(&Message::Hello { name: "mallory" });
    let offer = encoded(&Message::Offer {
        id: 1,
        size: 100_000,
        name: "half.bin",
    });
    let chunk = encoded(&Message::Chunk {
        id: 1,
        data: &[7; 40_000],
    });
    let (front, ended) = bea_meets("vanished", &[hello, offer, chunk], Then::Vanishes);
    front.wait_for(&["IncompleteKept", "half.bin", "received: 40000"]);
    // Whichever of its reader and writer notices first says so.
    assert!(front.saw(&["PeerEnded"]) || front.saw(&["WriteFailed"]));
    assert!(ended.is_err(), "a peer that vanished is a failure");
}

#[test]
fn a_host_that_says_a_member_proved_anothers_identity_resumes_nothing_of_theirs() {
    // What a cut transfer from Alice left with Bea, 1:1.
    let downloads = scratch("not-the-host");
    let alice = Identity::from_secret(&[9; 32]).public();
    let kept = Kept::of(&DownloadDir::new(&downloads));
    let mut part = kept
        .file("big.bin", 100_000, KeptOwner::Peer(alice))
        .unwrap();
    part.write(&[7; 60_000]).unwrap();
    drop(part);
    // Mallory plays a room's host that relays "alice"'s file, saying the
    // member proved Alice's identity (which anyone may learn).
    let (mallory, _front, running) = bea_in_conversation(downloads);
    let established = Established {
        connection: mallory,
        agreed: None,
    };
    let peer = protocol::open(established, false).unwrap();
    let Wire::Encrypted {
        mut messages,
        mut out,
    } = peer.wire
    else {
        panic!("an encrypted connection");
    };
    out.send(&Message::Hello { name: "mallory" }).unwrap();
    let room = Message::Room {
        keepalive: 15,
        members: 1,
    };
    out.send(&room).unwrap();
    out.send(&Message::Passed {
        id: 1,
        size: 100_000,
        from: "alice",
        from_key: alice.to_bytes(),
        name: "big.bin",
    })
    .unwrap();
    out.flush().unwrap();
    messages.expect_within(Some(PATIENCE)).unwrap();
    let offset = loop {
        match messages.next_message().unwrap() {
            Some((Message::Accept { offset, .. }, _)) => break offset,
            Some(_) => {}
            None => panic!("Bea left without answering"),
        }
    };
    assert_eq!(
        offset, 0,
        "resumed (and told the hash of) Alice's part for another host"
    );
    peer.closer.close();
    let _ = running.join().unwrap();
}

/// The writer of a connection the handshake made encrypted, to send
/// records of any bytes, and its closer.
pub(super) fn sealer(connection: Connection) -> (Sealer, Closer) {
    let established = Established {
        connection,
        agreed: None,
    };
    let peer = protocol::open(established, false).unwrap();
    let Wire::Encrypted { out, .. } = peer.wire else {
        panic!("the handshake made the connection encrypted");
    };
    (out, peer.closer)
}
