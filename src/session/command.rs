//! What a line typed by the user means: a message, a command, or nothing.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The commands, with what `/help` says of each.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/send PATH...",
        "send files; quote paths with spaces (\"my notes.txt\")",
    ),
    ("/status", "show transfers in progress and queued"),
    ("/help", "show this list"),
    (
        "/quit",
        "leave the chat (also Ctrl-D, or Ctrl-C on an empty line)",
    ),
    ("//text", "send a message that starts with /"),
];

/// The command names as typed (`/send`, `/status`, ...), for completion.
pub fn command_names() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter_map(|(usage, _)| usage.split(' ').next())
        .filter(|name| name.len() > 1 && !name.starts_with("//"))
        .collect()
}

/// One line of user input, interpreted.
#[derive(Debug, PartialEq, Eq)]
pub enum UserCommand<'a> {
    /// Send this text as a message. Borrowed from the line where possible:
    /// piped input can be a million lines.
    Say(Cow<'a, str>),
    /// Send these files, in order.
    Send(SendArgs),
    Status,
    Help,
    /// Leave the chat.
    Quit,
    /// A command used wrongly, or one that does not exist; the text says
    /// what to do instead.
    Usage(String),
    /// A blank line: nothing to do.
    Nothing,
}

/// The arguments of `/send`, as typed and as split into words.
#[derive(Debug, PartialEq, Eq)]
pub struct SendArgs {
    raw: String,
    words: Vec<String>,
}

impl SendArgs {
    /// The files to send. Unquoted paths with spaces were the only way to
    /// name them before quoting existed, so unquoted text with spaces is
    /// taken as one path when it names something (`exists` says) or when
    /// none of its words does.
    pub fn paths(&self, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
        let plain = !self.raw.contains(['"', '\'', '\\']);
        if self.words.len() > 1
            && plain
            && (exists(Path::new(&self.raw)) || !self.words.iter().any(|w| exists(Path::new(w))))
        {
            return vec![PathBuf::from(&self.raw)];
        }
        self.words.iter().map(PathBuf::from).collect()
    }
}

const SEND_USAGE: &str = "Usage: /send PATH... (quote paths that contain spaces)";

/// Interprets one line of input (its line ending already removed or not).
pub fn parse(line: &str) -> UserCommand<'_> {
    let line = line.trim_end_matches(['\n', '\r']);
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return UserCommand::Nothing;
    }
    if let Some(text) = trimmed.strip_prefix("//") {
        // `//text` is the escape for a message that starts with a slash.
        return UserCommand::Say(Cow::Owned(format!("/{text}")));
    }
    let Some(command) = trimmed.strip_prefix('/') else {
        return UserCommand::Say(Cow::Borrowed(line));
    };
    if !command.starts_with(|c: char| c.is_ascii_alphabetic()) {
        // "/ shrug" or "/-)" are not commands.
        return UserCommand::Say(Cow::Borrowed(line));
    }
    let (word, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(w, r)| (w, r.trim()));
    match word {
        "quit" if rest.is_empty() => UserCommand::Quit,
        "help" if rest.is_empty() => UserCommand::Help,
        "status" if rest.is_empty() => UserCommand::Status,
        "send" => match split_words(rest) {
            Ok(words) if !words.is_empty() => UserCommand::Send(SendArgs {
                raw: rest.to_string(),
                words,
            }),
            Ok(_) => UserCommand::Usage(SEND_USAGE.into()),
            Err(why) => UserCommand::Usage(format!("{why}. {SEND_USAGE}")),
        },
        "quit" | "help" | "status" => UserCommand::Usage(format!("/{word} takes no arguments.")),
        _ => UserCommand::Usage(format!(
            "Unknown command /{word}: nothing was sent. /help lists the commands; \
             //{word} sends it as a message."
        )),
    }
}

/// Splits a command's arguments into words the way a shell does for the
/// simple cases: whitespace separates, `"..."` and `'...'` group, and a
/// backslash escapes the next character (outside single quotes).
fn split_words(text: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                word.push(chars.next().ok_or("A backslash ends the line")?);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("A ' quote is not closed")? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("A \" quote is not closed")? {
                        '"' => break,
                        '\\' => word.push(chars.next().ok_or("A \" quote is not closed")?),
                        c => word.push(c),
                    }
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_words(line: &str) -> Vec<String> {
        match parse(line) {
            UserCommand::Send(args) => args.words,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn lines_are_interpreted() {
        let usage = |s: &str| UserCommand::Usage(s.to_string());
        let cases = [
            ("hello\n", UserCommand::Say("hello".into())),
            (
                "  indented stays  \r\n",
                UserCommand::Say("  indented stays  ".into()),
            ),
            ("", UserCommand::Nothing),
            ("   \n", UserCommand::Nothing),
            ("/quit\n", UserCommand::Quit),
            ("  /quit  ", UserCommand::Quit),
            ("/help", UserCommand::Help),
            ("/status", UserCommand::Status),
            ("//quit", UserCommand::Say("/quit".into())),
            ("//", UserCommand::Say("/".into())),
            ("/ shrug", UserCommand::Say("/ shrug".into())),
            ("/-)", UserCommand::Say("/-)".into())),
            ("/send", usage(SEND_USAGE)),
            ("/send   ", usage(SEND_USAGE)),
            ("/quit now", usage("/quit takes no arguments.")),
            (
                "/quitting",
                usage(
                    "Unknown command /quitting: nothing was sent. /help lists the commands; \
                     //quitting sends it as a message.",
                ),
            ),
            (
                "/file x 3",
                usage(
                    "Unknown command /file: nothing was sent. /help lists the commands; \
                     //file sends it as a message.",
                ),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), expected, "line {line:?}");
        }
    }

    #[test]
    fn send_arguments_split_like_a_shell() {
        assert_eq!(send_words("/send a.txt"), ["a.txt"]);
        assert_eq!(send_words("/send a.txt  b.bin\n"), ["a.txt", "b.bin"]);
        assert_eq!(
            send_words("/send \"my notes.txt\" b"),
            ["my notes.txt", "b"]
        );
        assert_eq!(send_words("/send 'it''s' x"), ["its", "x"]);
        assert_eq!(send_words("/send my\\ notes.txt"), ["my notes.txt"]);
        assert_eq!(send_words("/send \"a \\\"q\\\" b\""), ["a \"q\" b"]);
        assert_eq!(send_words("/send \"\""), [""]);
        assert_eq!(send_words("/send /tmp/x"), ["/tmp/x"]);
    }

    #[test]
    fn broken_quoting_is_a_usage_error() {
        for line in ["/send \"open", "/send 'open", "/send end\\"] {
            match parse(line) {
                UserCommand::Usage(text) => assert!(text.ends_with(SEND_USAGE), "{text}"),
                other => panic!("{line:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn an_unquoted_name_with_spaces_is_one_path_when_it_exists() {
        let UserCommand::Send(args) = parse("/send my notes.txt") else {
            panic!("not a send");
        };
        let only = |name: &'static str| move |p: &Path| p == Path::new(name);
        assert_eq!(
            args.paths(only("my notes.txt")),
            [PathBuf::from("my notes.txt")]
        );
        assert_eq!(args.paths(only("other")), [PathBuf::from("my notes.txt")]);
        assert_eq!(
            args.paths(only("notes.txt")),
            [PathBuf::from("my"), PathBuf::from("notes.txt")]
        );
        let UserCommand::Send(quoted) = parse("/send \"a b\" c") else {
            panic!("not a send");
        };
        assert_eq!(
            quoted.paths(|_| true),
            [PathBuf::from("a b"), PathBuf::from("c")]
        );
    }
}
