//! The peer protocol over connections made inside the program: the name
//! first, messages in order, the goodbye, and lines on the original wire.

use std::io::Write;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::net::transport::Connection;
use crate::wire::frame::Frame;
use crate::wire::message::Message;

/// Both ends of a connection inside the program, opened for the protocol:
/// sealed, or on the original wire.
fn pair(sealed: bool) -> (Peer, Peer) {
    let (one, other) = if sealed {
        Connection::pair().unwrap()
    } else {
        Connection::local_pair().unwrap()
    };
    let open = |connection| {
        let established = Established {
            connection,
            agreed: None,
        };
        super::open(established, false).unwrap()
    };
    (open(one), open(other))
}

/// The encrypted ends' halves: our reader, their writer.
fn sealed() -> (Messages, Sealer) {
    let (ours, theirs) = pair(true);
    let (Wire::Encrypted { messages, .. }, Wire::Encrypted { out, .. }) = (ours.wire, theirs.wire)
    else {
        panic!("a sealed pair speaks the encrypted wire");
    };
    (messages, out)
}

#[test]
fn a_name_first_then_messages_in_order_then_the_goodbye() {
    let (mut messages, mut out) = sealed();
    out.send(&Message::Hello { name: "  bea " }).unwrap();
    out.send(&Message::Text("hi")).unwrap();
    out.send(&Message::Who).unwrap();
    out.goodbye().unwrap();
    let limit = Some(Duration::from_secs(5));
    assert_eq!(messages.hello(limit).unwrap(), "bea", "made canonical");
    let (first, more_coming) = messages.next_message().unwrap().unwrap();
    assert_eq!(first, Message::Text("hi"));
    assert!(more_coming, "the next record came in the same write");
    let (second, _) = messages.next_message().unwrap().unwrap();
    assert_eq!(second, Message::Who);
    assert!(messages.next_message().unwrap().is_none(), "the goodbye");
}

#[test]
fn a_first_message_that_is_not_a_good_name_is_refused() {
    type Expected = fn(&NoHello) -> bool;
    let cases: [(&[u8], Expected); 3] = [
        (&[2, b'h', b'i'], |e| matches!(e, NoHello::NotHello)),
        (&[1, 0x1b, b'[', b'2', b'J'], |e| {
            matches!(e, NoHello::Name(_))
        }),
        (&[250], |e| matches!(e, NoHello::Malformed(_))),
    ];
    for (record, expected) in cases {
        let (mut messages, mut out) = sealed();
        out.send_encoded(record).unwrap();
        out.flush().unwrap();
        let refused = messages.hello(None).unwrap_err();
        assert!(expected(&refused), "{record:?}: {refused}");
    }
}

#[test]
fn a_peer_that_leaves_or_is_cut_before_its_name_says_which() {
    let (mut messages, mut out) = sealed();
    out.goodbye().unwrap();
    assert!(matches!(messages.hello(None), Err(NoHello::Left)));
    let (ours, theirs) = pair(true);
    let Wire::Encrypted { mut messages, .. } = ours.wire else {
        unreachable!()
    };
    drop(theirs);
    let cut = messages.hello(None).unwrap_err();
    assert!(matches!(cut, NoHello::Unreadable(_)), "{cut}");
}

#[test]
fn a_name_that_does_not_come_in_time_is_given_up_on() {
    let (mut messages, _out) = sealed();
    let silent = messages.hello(Some(Duration::from_millis(50))).unwrap_err();
    assert!(matches!(silent, NoHello::Unreadable(_)), "{silent}");
}

#[test]
fn the_original_wire_reads_lines_and_files_and_drains_to_the_end() {
    let (ours, theirs) = pair(false);
    let (Wire::Original { mut lines, .. }, Wire::Original { mut out, .. }) =
        (ours.wire, theirs.wire)
    else {
        panic!("a local pair speaks the original wire");
    };
    assert_eq!(ours.capabilities, Capabilities::plain());
    out.write_all(b"[bea] hi\n/file a.txt 3\nabc[bea] more\n")
        .unwrap();
    // More than a socket holds: the drain reads while it comes.
    let writer = std::thread::spawn(move || {
        out.write_all(&vec![b'x'; 1 << 20]).unwrap();
        out.finish().unwrap();
    });
    assert_eq!(
        lines.next_frame().unwrap(),
        Some(Frame::Text(b"[bea] hi".to_vec()))
    );
    let file = Frame::File {
        name: "a.txt".into(),
        size: 3,
    };
    assert_eq!(lines.next_frame().unwrap(), Some(file));
    assert_eq!(
        lines.next_frame().unwrap(),
        Some(Frame::Text(b"[bea] more".to_vec()))
    );
    lines.drain();
    writer.join().unwrap();
    assert_eq!(lines.next_frame().unwrap(), None, "all was read");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever record comes first, the name is taken only from a Hello
    /// whose name passes the rules, and what follows it is read next.
    #[test]
    fn only_a_hello_with_a_good_name_gives_a_name(
        first in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let (mut messages, mut out) = sealed();
        out.send_encoded(&first).unwrap();
        out.send(&Message::Text("after")).unwrap();
        out.flush().unwrap();
        let expected = Message::decode(&first).ok().map(|m| m.hello_name());
        match (messages.hello(None), expected) {
            (Ok(name), Some(Ok(want))) => {
                prop_assert_eq!(name, want);
                let (next, _) = messages.next_message().unwrap().unwrap();
                prop_assert_eq!(next, Message::Text("after"));
            }
            (Err(NoHello::NotHello), Some(Err(crate::wire::message::HelloError::NotHello)))
            | (Err(NoHello::Name(_)), Some(Err(crate::wire::message::HelloError::Name(_))))
            | (Err(NoHello::Malformed(_)), None) => {}
            (got, want) => prop_assert!(false, "got {:?}, expected {:?}", got, want),
        }
    }
}
