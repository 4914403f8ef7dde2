//! What a line typed by the user means: a message, a command, or nothing.

use std::path::PathBuf;

/// One line of user input, interpreted.
#[derive(Debug, PartialEq, Eq)]
pub enum UserCommand {
    /// Send this text as a message.
    Say(String),
    /// Send the file at this path.
    Send(PathBuf),
    /// Leave the chat.
    Quit,
    /// A command used wrongly; the text says how to use it.
    Usage(&'static str),
    /// A blank line: nothing to do.
    Nothing,
}

/// Interprets one line of input (its line ending already removed or not).
pub fn parse(line: &str) -> UserCommand {
    let line = line.trim_end_matches(['\n', '\r']);
    let command = line.trim();
    if command.is_empty() {
        return UserCommand::Nothing;
    }
    if command == "/quit" {
        return UserCommand::Quit;
    }
    if command == "/send" {
        return UserCommand::Usage("Usage: /send PATH");
    }
    if let Some(path) = command.strip_prefix("/send ") {
        // The rest of the line is the path, so names with spaces need no quoting.
        return UserCommand::Send(PathBuf::from(path.trim()));
    }
    UserCommand::Say(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_interpreted() {
        let send = |p: &str| UserCommand::Send(PathBuf::from(p));
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
            ("/send notes.txt\n", send("notes.txt")),
            ("/send   my notes.txt  \n", send("my notes.txt")),
            ("/send /tmp/a b/c d.bin", send("/tmp/a b/c d.bin")),
            ("/send", UserCommand::Usage("Usage: /send PATH")),
            ("/send   ", UserCommand::Usage("Usage: /send PATH")),
            ("/quitting", UserCommand::Say("/quitting".into())),
            ("/sender x", UserCommand::Say("/sender x".into())),
            ("/file x 3", UserCommand::Say("/file x 3".into())),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), expected, "line {line:?}");
        }
    }
}
