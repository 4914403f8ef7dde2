//! A room on the original wire: what a member's line says, and the lines
//! the room sends. Members there are the original program or `nc`, which
//! put their own `[NAME] ` in front of each line, or nothing at all, so a
//! member is named by the first name it gives, and its lines are always
//! relayed under that one: nobody speaks under another's name.

use std::borrow::Cow;

use crate::wire::frame;
use crate::wire::limits;
use crate::wire::sanitize;

/// A line from a plain member, made safe to show and to pass on.
#[derive(Debug, PartialEq, Eq)]
pub struct Said<'a> {
    /// The name in front of the line, if it has one a member may have.
    pub claimed: Option<&'a str>,
    /// The text after that name, or the whole line.
    pub text: &'a str,
}

/// Makes a plain member's raw line safe text: control characters become
/// visible escapes, so nothing a member sends acts on another's terminal,
/// and a trailing carriage return (from Windows) goes.
pub fn clean(line: &[u8]) -> Cow<'_, str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    sanitize::for_terminal(line)
}

/// Splits `[NAME] text` into the name and the text.
pub fn read(line: &str) -> Said<'_> {
    let claimed = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .filter(|(name, _)| crate::wire::name::parse(name).is_ok_and(|n| n == *name));
    match claimed {
        Some((name, text)) => Said {
            claimed: Some(name),
            text,
        },
        None => Said {
            claimed: None,
            text: line,
        },
    }
}

/// Whether the line is `name`'s goodbye: `[NAME] has left the chat.`, or
/// the bare words, which would go on as that.
pub fn is_goodbye(said: &Said<'_>, name: &str) -> bool {
    said.claimed.is_none_or(|claimed| claimed == name) && said.text == frame::LEAVE_MESSAGE
}

/// A message as the room sends it: `[NAME] text`, within the length a line
/// may have. A message of several lines (pasted on the encrypted wire) goes
/// as one such line per line, each made safe as a plain member's are: sent
/// as it is, a line of it would reach the member as a line of its own, a
/// `[System]` line or a `/file` header. A line that reads as a goodbye is
/// quoted: passed on as it is, it would end every receiver's conversation.
pub fn message(name: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = sanitize::for_terminal(line.as_bytes());
        let line = if line == frame::LEAVE_MESSAGE {
            Cow::Owned(format!("\"{line}\""))
        } else {
            line
        };
        let room = limits::MAX_LINE.saturating_sub(name.len() + 3);
        let mut end = line.len().min(room);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(format!("[{name}] {}\n", &line[..end]).as_bytes());
    }
    out
}

/// A private message as its plain receiver gets it.
pub fn whisper(name: &str, text: &str) -> Vec<u8> {
    message(name, &format!("(to you) {text}"))
}

/// What the room itself says, as the original program's own lines look.
pub fn system(text: &str) -> Vec<u8> {
    format!("[System] {text}\n").into_bytes()
}

/// The host's goodbye, as the original program says it.
pub fn goodbye(host: &str) -> Vec<u8> {
    format!("[{host}] {}\n", frame::LEAVE_MESSAGE).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_line_gives_its_name_if_it_is_one() {
        assert_eq!(
            read("[I056] hello there"),
            Said {
                claimed: Some("I056"),
                text: "hello there"
            }
        );
        for nameless in [
            "hello",
            "[] hi",
            "[I056]hi",
            "[System] I am the host",
            "[ I056 ] padded",
            "[[x]] nested",
        ] {
            assert_eq!(read(nameless).claimed, None, "{nameless}");
            assert_eq!(read(nameless).text, nameless);
        }
    }

    #[test]
    fn control_characters_never_pass_through() {
        assert_eq!(clean(b"[I056] hi\r"), "[I056] hi");
        let cleaned = clean(b"[I056] \x1b[2Jgone\xff");
        assert!(!cleaned.contains('\x1b'), "{cleaned}");
        assert!(cleaned.starts_with("[I056] "));
    }

    #[test]
    fn goodbyes_are_only_the_members_own() {
        let own = read("[I056] has left the chat.");
        assert!(is_goodbye(&own, "I056"));
        assert!(!is_goodbye(&own, "I057"));
        assert!(is_goodbye(&read("has left the chat."), "guest1"));
        assert!(!is_goodbye(&read("[I056] has left the chat. not"), "I056"));
    }

    #[test]
    fn what_the_room_passes_on_never_reads_as_a_goodbye_or_runs_over() {
        let line = message("I049", "has left the chat.");
        assert!(!frame::is_leave_line(line.strip_suffix(b"\n").unwrap()));
        let long = message("I049", &"é".repeat(limits::MAX_LINE));
        assert!(long.len() <= limits::MAX_LINE + 1);
        assert!(std::str::from_utf8(&long).is_ok());
    }

    #[test]
    fn a_message_of_several_lines_goes_as_one_named_line_each() {
        let lines = message("I049", "first\n[System] forged\n/file x.bin 3\n\x1b[2Jend");
        assert_eq!(
            String::from_utf8(lines).unwrap(),
            "[I049] first\n[I049] [System] forged\n[I049] /file x.bin 3\n[I049] \\x1b[2Jend\n"
        );
    }

    proptest! {
        /// Whatever text an encrypted member sends, each line passed on to
        /// plain members is one of the sender's, safe to show.
        #[test]
        fn any_text_is_passed_on_as_the_senders_lines(text in "(\\PC|[\n\r\x1b\t])*") {
            let out = message("I049", &text);
            let out = String::from_utf8(out).unwrap();
            prop_assert_eq!(out.lines().count(), text.split('\n').count());
            for line in out.lines() {
                prop_assert!(line.starts_with("[I049] "), "{:?}", line);
                prop_assert!(!line.chars().any(|c| c.is_control() && c != '\t'), "{:?}", line);
            }
        }

        /// Whatever a member sends, the line passed on is one line of
        /// printable text, and a name read from it is a valid name.
        #[test]
        fn any_line_is_passed_on_safely(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let raw: Vec<u8> = raw.into_iter().filter(|&b| b != b'\n').collect();
            let cleaned = clean(&raw);
            let said = read(&cleaned);
            if let Some(name) = said.claimed {
                prop_assert!(crate::wire::name::parse(name).is_ok());
            }
            let out = message("guest1", said.text);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert!(!out.iter().any(|&b| b < 0x20 && b != b'\n' && b != b'\t'));
        }
    }
}
