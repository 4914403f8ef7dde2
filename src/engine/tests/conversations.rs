//! Talking and leaving, on both wires.

use super::{Setup, Wire, meet};
use crate::engine::command::Command;

#[test]
fn a_message_said_on_one_side_is_shown_on_the_other() {
    let (ana, bea) = meet("said", Setup::default(), Setup::default());
    ana.order(Command::Say("hello Bea".into()));
    bea.front
        .wait_for(&["PeerSaid", "name: \"ana\"", "text: \"hello Bea\""]);
    bea.order(Command::Say("hi Ana".into()));
    ana.front
        .wait_for(&["PeerSaid", "name: \"bea\"", "text: \"hi Ana\""]);
    ana.order(Command::Quit);
    bea.front.wait_for(&["PeerEnded", "end: Left"]);
    ana.ended().expect("leaving is no failure");
    bea.ended().expect("the peer leaving is no failure");
}

#[test]
fn on_the_original_wire_a_message_is_a_line_with_the_name() {
    let plain = Setup {
        wire: Wire::Plain,
        ..Setup::default()
    };
    let (ana, bea) = meet("plain-said", plain, plain);
    ana.order(Command::Say("hello Bea".into()));
    bea.front.wait_for(&["PeerLine \"[ana] hello Bea"]);
    ana.order(Command::Quit);
    bea.front
        .wait_for(&["PeerLine \"[ana] has left the chat.\""]);
    ana.ended().expect("leaving is no failure");
    bea.ended().expect("the peer leaving is no failure");
}

#[test]
fn the_safety_code_is_the_same_on_both_sides() {
    let (ana, bea) = meet("code", Setup::default(), Setup::default());
    ana.order(Command::Code);
    bea.order(Command::Code);
    let code = |shown: String| {
        let start = shown.find("code: \"").expect("a code") + 7;
        shown[start..start + 7].to_string()
    };
    let ours = code(ana.front.wait_for(&["SafetyCode(Code"]));
    let theirs = code(bea.front.wait_for(&["SafetyCode(Code"]));
    assert_eq!(ours, theirs);
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}

#[test]
fn the_original_wire_has_no_safety_code_and_cannot_answer_offers() {
    let plain = Setup {
        wire: Wire::Plain,
        ..Setup::default()
    };
    let (ana, bea) = meet("plain-code", plain, plain);
    ana.order(Command::Code);
    ana.front.wait_for(&["SafetyCode(Nothing)"]);
    ana.order(Command::Accept(None));
    ana.front.wait_for(&["NoAnswers"]);
    ana.order(Command::Who);
    // (On the original wire `/who` goes out as the line a room answers.)
    bea.front.wait_for(&["PeerLine \"[ana] /who"]);
    bea.order(Command::Quit);
    bea.ended().unwrap();
    ana.ended().unwrap();
}

#[test]
fn who_outside_a_room_is_answered_here() {
    let (ana, bea) = meet("who", Setup::default(), Setup::default());
    ana.order(Command::Who);
    ana.front.wait_for(&["NotInRoom"]);
    ana.order(Command::Quit);
    ana.ended().unwrap();
    bea.ended().unwrap();
}
