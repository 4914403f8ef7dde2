//! What a front end asks of a conversation ([`Command`]), and the chat's
//! command language that text front ends type it in: what a line means —
//! a message, a command, or nothing.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The commands, with what `/help` says of each.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/send PATH...",
        "send files or folders; quote paths with spaces (\"my notes.txt\")",
    ),
    (
        "/status",
        "show transfers in progress, queued and kept from cut ones",
    ),
    ("/accept [ID]", "take a file or folder the peer offers"),
    (
        "/decline [ID]",
        "say no to a file or folder the peer offers",
    ),
    (
        "/cancel [ID]",
        "stop a transfer, either way, or drop it from the queue",
    ),
    ("/discard", "remove what is kept of cut transfers"),
    ("/who", "in a room: list its members"),
    (
        "/msg NAME TEXT",
        "in a room: send TEXT to NAME alone; quote a name with spaces (\"Bea K\")",
    ),
    (
        "/code",
        "show the safety code again (compare it with your peer's), and its identity",
    ),
    (
        "/trust [NAME]",
        "once the safety code matched, remember the peer as a contact (as NAME)",
    ),
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

/// What a front end asks of a conversation, as typed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send this text as a message.
    Say(String),
    /// Send these files and folders, in order.
    Send(Vec<PathBuf>),
    /// List the transfers, and what is kept of cut ones.
    Status,
    /// Take the offer with this id, or the only one.
    Accept(Option<u64>),
    /// Say no to the offer with this id, or the only one.
    Decline(Option<u64>),
    /// Stop the transfer with this id, or the only one.
    Cancel(Option<u64>),
    /// Remove what is kept of cut transfers.
    Discard,
    /// Show what the people compare to know nobody is in between.
    Code,
    /// Save the peer as a contact, under this name or the one it gave.
    Trust(Option<String>),
    /// List a room's members.
    Who,
    /// A private message to one member of a room.
    Msg { to: String, text: String },
    /// Leave the conversation.
    Quit,
}

/// One line of user input, interpreted.
#[derive(Debug, PartialEq, Eq)]
pub enum UserCommand<'a> {
    /// Send this text as a message. Borrowed from the line where possible:
    /// piped input can be a million lines.
    Say(Cow<'a, str>),
    /// Send these files, in order: the paths as typed, taken as a shell
    /// would once the home folder is known.
    Send(SendArgs),
    /// Any other command, as a front end gives it.
    Order(Command),
    /// List the commands.
    Help,
    /// A command used wrongly, or one that does not exist.
    Usage(Usage),
    /// A blank line: nothing to do.
    Nothing,
}

/// A command used wrongly, or one that does not exist: the front end says
/// what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// `/WORD` is no command, spelled as typed.
    Unknown(String),
    /// The command takes no arguments.
    NoArguments(&'static str),
    /// `/accept`, `/decline` or `/cancel` with something else than an id.
    Id(&'static str),
    /// `/send` without paths, or with quoting that went wrong (why).
    Send(Option<&'static str>),
    /// `/msg` without a name and a text, or with quoting that went wrong.
    Msg(Option<&'static str>),
    /// Nobody is connected yet: only `/help` and `/quit` do something.
    NotConnected,
}

/// The arguments of `/send`, as typed and as split into words.
#[derive(Debug, PartialEq, Eq)]
pub struct SendArgs {
    raw: String,
    words: Vec<Word>,
}

/// One argument after quoting is undone.
#[derive(Debug, PartialEq, Eq)]
struct Word {
    text: String,
    /// Starts with a `~` that was neither quoted nor escaped: a shell would
    /// put the home folder there.
    tilde: bool,
}

impl SendArgs {
    /// [`SendArgs::paths_with_home`] with the home folder from `$HOME`, as a
    /// shell takes it.
    pub fn paths(&self, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
        self.paths_with_home(exists, home.as_deref().map(Path::new))
    }

    /// The files to send, with a leading `~` or `~/` (unquoted, as in a
    /// shell; Tab completion writes it so) replaced by `home` when there is
    /// one. `~user` is left alone.
    ///
    /// Unquoted paths with spaces were the only way to name them before
    /// quoting existed, so unquoted text with spaces is taken as one path
    /// when it names something (`exists` says) or when none of its words
    /// does.
    pub fn paths_with_home(
        &self,
        exists: impl Fn(&Path) -> bool,
        home: Option<&Path>,
    ) -> Vec<PathBuf> {
        let plain = !self.raw.contains(['"', '\'', '\\']);
        let words: Vec<PathBuf> = self
            .words
            .iter()
            .map(|w| expand_tilde(&w.text, w.tilde, home))
            .collect();
        if words.len() > 1 && plain {
            let whole = expand_tilde(&self.raw, self.raw.starts_with('~'), home);
            if exists(&whole) || !words.iter().any(|w| exists(w)) {
                return vec![whole];
            }
        }
        words
    }
}

/// `path` with a leading `~` or `~/` replaced by `home`, if `tilde` says the
/// `~` was typed bare and there is a home to put there.
fn expand_tilde(path: &str, tilde: bool, home: Option<&Path>) -> PathBuf {
    let Some(home) = home.filter(|_| tilde) else {
        return PathBuf::from(path);
    };
    if path == "~" {
        return home.to_path_buf();
    }
    match path.strip_prefix("~/") {
        // Extra slashes must not make the rest absolute, replacing `home`.
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// The command words, as `/help` spells them.
const NAMES: [&str; 12] = [
    "quit", "help", "status", "send", "code", "accept", "decline", "cancel", "discard", "who",
    "msg", "trust",
];

/// Interprets one line of input (its line ending already removed or not).
/// Command words may be typed in any case (`/QUIT`, `/Send`); their
/// arguments keep theirs.
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
    let Some(name) = NAMES.into_iter().find(|n| word.eq_ignore_ascii_case(n)) else {
        return UserCommand::Usage(Usage::Unknown(word.to_string()));
    };
    match name {
        "quit" if rest.is_empty() => UserCommand::Order(Command::Quit),
        "help" if rest.is_empty() => UserCommand::Help,
        "status" if rest.is_empty() => UserCommand::Order(Command::Status),
        "code" if rest.is_empty() => UserCommand::Order(Command::Code),
        // A name may hold spaces: all the rest is the name, quoted or not.
        "trust" => UserCommand::Order(Command::Trust((!rest.is_empty()).then(|| {
            let quoted = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
            quoted.unwrap_or(rest).to_string()
        }))),
        "discard" if rest.is_empty() => UserCommand::Order(Command::Discard),
        "who" if rest.is_empty() => UserCommand::Order(Command::Who),
        "msg" => match msg_name(rest) {
            Ok((to, text)) if !to.is_empty() && !text.is_empty() => {
                UserCommand::Order(Command::Msg {
                    to,
                    text: text.to_string(),
                })
            }
            Ok(_) => UserCommand::Usage(Usage::Msg(None)),
            Err(why) => UserCommand::Usage(Usage::Msg(Some(why))),
        },
        "accept" | "decline" | "cancel" => match transfer_id(rest) {
            Ok(id) if name == "accept" => UserCommand::Order(Command::Accept(id)),
            Ok(id) if name == "decline" => UserCommand::Order(Command::Decline(id)),
            Ok(id) => UserCommand::Order(Command::Cancel(id)),
            Err(()) => UserCommand::Usage(Usage::Id(name)),
        },
        "send" => match split_words(rest) {
            Ok(words) if !words.is_empty() => UserCommand::Send(SendArgs {
                raw: rest.to_string(),
                words,
            }),
            Ok(_) => UserCommand::Usage(Usage::Send(None)),
            Err(why) => UserCommand::Usage(Usage::Send(Some(why))),
        },
        _ => UserCommand::Usage(Usage::NoArguments(name)),
    }
}

impl UserCommand<'_> {
    /// Whether acting on this needs somebody at the other end: everything
    /// but `/help`, `/quit`, a usage hint and a blank line.
    pub fn needs_peer(&self) -> bool {
        match self {
            Self::Say(_) | Self::Send(_) => true,
            Self::Order(command) => *command != Command::Quit,
            Self::Help | Self::Usage(_) | Self::Nothing => false,
        }
    }
}

/// The optional transfer id after a command: `3` or `#3`.
fn transfer_id(rest: &str) -> Result<Option<u64>, ()> {
    if rest.is_empty() {
        return Ok(None);
    }
    let digits = rest.strip_prefix('#').unwrap_or(rest);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    digits.parse().map(Some).map_err(|_| ())
}

/// What a line typed before anybody is connected means: [`parse`], except
/// that what needs a peer becomes a hint, since only `/help` and `/quit`
/// can be acted on yet.
pub fn parse_unconnected(line: &str) -> UserCommand<'_> {
    match parse(line) {
        command if command.needs_peer() => UserCommand::Usage(Usage::NotConnected),
        command => command,
    }
}

/// The name `/msg` is given, and the text after it (from its first
/// non-blank). A name with spaces is quoted, `"Bea K"` or `'Bea K'` (a
/// backslash in double quotes escapes the next character, as in `/send`);
/// an unquoted name is the first word as typed, `O'Brien` too. So which
/// member is meant never depends on who else is in the room.
fn msg_name(text: &str) -> Result<(String, &str), &'static str> {
    let text = text.trim_start();
    let Some(quote) = text.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        return Ok((text[..end].to_string(), text[end..].trim_start()));
    };
    let unclosed = if quote == '"' {
        "A \" quote is not closed"
    } else {
        "A ' quote is not closed"
    };
    let mut name = String::new();
    let mut chars = text.char_indices().skip(1);
    loop {
        match chars.next().ok_or(unclosed)? {
            (at, c) if c == quote => {
                let rest = &text[at + 1..];
                if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                    return Err("A quoted name is followed by a space");
                }
                return Ok((name, rest.trim_start()));
            }
            (_, '\\') if quote == '"' => name.push(chars.next().ok_or(unclosed)?.1),
            (_, c) => name.push(c),
        }
    }
}

/// `name` as `/msg` takes it back: quoted when it holds a blank or starts
/// with a quote, which would otherwise split or change it.
pub fn quoted_name(name: &str) -> Cow<'_, str> {
    if !name.contains(char::is_whitespace) && !name.starts_with(['"', '\'']) {
        return Cow::Borrowed(name);
    }
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    Cow::Owned(format!("\"{escaped}\""))
}

/// Splits a command's arguments into words the way a shell does for the
/// simple cases: whitespace separates, `"..."` and `'...'` group, and a
/// backslash escapes the next character (outside single quotes).
/// A word that starts with a bare `~` (or `"~`) is marked, for
/// [`expand_tilde`].
fn split_words(text: &str) -> Result<Vec<Word>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut tilde = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(Word {
                        text: std::mem::take(&mut word),
                        tilde,
                    });
                    in_word = false;
                    tilde = false;
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
                // Tab completion writes `"~/my notes.txt"`, so a `~` that
                // opens a double-quoted word is the home folder too.
                let word_start = !in_word;
                in_word = true;
                loop {
                    match chars.next().ok_or("A \" quote is not closed")? {
                        '"' => break,
                        '~' if word_start && word.is_empty() => {
                            tilde = true;
                            word.push('~');
                        }
                        '\\' => word.push(chars.next().ok_or("A \" quote is not closed")?),
                        c => word.push(c),
                    }
                }
            }
            c => {
                if !in_word {
                    tilde = c == '~';
                }
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(Word { text: word, tilde });
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_words(line: &str) -> Vec<String> {
        match parse(line) {
            UserCommand::Send(args) => args.words.into_iter().map(|w| w.text).collect(),
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn lines_are_interpreted() {
        let usage = UserCommand::Usage;
        let cases = [
            ("hello\n", UserCommand::Say("hello".into())),
            (
                "  indented stays  \r\n",
                UserCommand::Say("  indented stays  ".into()),
            ),
            ("", UserCommand::Nothing),
            ("   \n", UserCommand::Nothing),
            ("/quit\n", UserCommand::Order(Command::Quit)),
            ("  /quit  ", UserCommand::Order(Command::Quit)),
            ("/help", UserCommand::Help),
            ("/status", UserCommand::Order(Command::Status)),
            ("/accept", UserCommand::Order(Command::Accept(None))),
            ("/accept 3", UserCommand::Order(Command::Accept(Some(3)))),
            (
                "/decline #12",
                UserCommand::Order(Command::Decline(Some(12))),
            ),
            ("/cancel", UserCommand::Order(Command::Cancel(None))),
            ("/cancel  4 ", UserCommand::Order(Command::Cancel(Some(4)))),
            ("/discard", UserCommand::Order(Command::Discard)),
            ("/cancel x", usage(Usage::Id("cancel"))),
            ("/discard all", usage(Usage::NoArguments("discard"))),
            ("//quit", UserCommand::Say("/quit".into())),
            ("//", UserCommand::Say("/".into())),
            ("/ shrug", UserCommand::Say("/ shrug".into())),
            ("/-)", UserCommand::Say("/-)".into())),
            ("/send", usage(Usage::Send(None))),
            ("/send   ", usage(Usage::Send(None))),
            ("/quit now", usage(Usage::NoArguments("quit"))),
            ("/quitting", usage(Usage::Unknown("quitting".into()))),
            ("/file x 3", usage(Usage::Unknown("file".into()))),
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
                UserCommand::Usage(Usage::Send(Some(_))) => {}
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
            args.paths_with_home(only("my notes.txt"), None),
            [PathBuf::from("my notes.txt")]
        );
        assert_eq!(
            args.paths_with_home(only("other"), None),
            [PathBuf::from("my notes.txt")]
        );
        assert_eq!(
            args.paths_with_home(only("notes.txt"), None),
            [PathBuf::from("my"), PathBuf::from("notes.txt")]
        );
        let UserCommand::Send(quoted) = parse("/send \"a b\" c") else {
            panic!("not a send");
        };
        assert_eq!(
            quoted.paths_with_home(|_| true, None),
            [PathBuf::from("a b"), PathBuf::from("c")]
        );
    }

    #[test]
    fn command_words_may_be_typed_in_any_case() {
        let cases = [
            ("/QUIT", UserCommand::Order(Command::Quit)),
            ("/Quit\n", UserCommand::Order(Command::Quit)),
            ("/HELP", UserCommand::Help),
            ("/Status", UserCommand::Order(Command::Status)),
            ("//QUIT", UserCommand::Say("/QUIT".into())),
            ("/QUIT now", UserCommand::Usage(Usage::NoArguments("quit"))),
            (
                "/QUITTING",
                UserCommand::Usage(Usage::Unknown("QUITTING".into())),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), expected, "line {line:?}");
        }
        // Paths keep their case.
        assert_eq!(send_words("/SEND Notes.TXT"), ["Notes.TXT"]);
        assert_eq!(send_words("/Send a B"), ["a", "B"]);
    }

    #[test]
    fn before_anybody_connects_only_help_and_quit_do_something() {
        assert_eq!(
            parse_unconnected("/QUIT"),
            UserCommand::Order(Command::Quit)
        );
        assert_eq!(parse_unconnected("/help"), UserCommand::Help);
        assert_eq!(parse_unconnected(""), UserCommand::Nothing);
        for line in ["hello", "//quit", "/send a.txt", "/status"] {
            assert_eq!(
                parse_unconnected(line),
                UserCommand::Usage(Usage::NotConnected),
                "line {line:?}"
            );
        }
        assert_eq!(
            parse_unconnected("/quit now"),
            UserCommand::Usage(Usage::NoArguments("quit"))
        );
    }

    fn send_paths(line: &str, home: Option<&Path>) -> Vec<PathBuf> {
        match parse(line) {
            UserCommand::Send(args) => args.paths_with_home(|_| false, home),
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn a_bare_leading_tilde_is_the_home_folder() {
        let home = Some(Path::new("/home/daksh"));
        let paths = |line: &str| send_paths(line, home);
        assert_eq!(paths("/send ~/x.txt"), [PathBuf::from("/home/daksh/x.txt")]);
        assert_eq!(paths("/send ~"), [PathBuf::from("/home/daksh")]);
        assert_eq!(paths("/send ~//x"), [PathBuf::from("/home/daksh/x")]);
        assert_eq!(
            paths("/send ~/a b ~/c"),
            [PathBuf::from("/home/daksh/a b ~/c")],
            "unquoted text naming nothing stays one path"
        );
        assert_eq!(
            paths("/send ~/my\\ notes.txt ~/b"),
            [
                PathBuf::from("/home/daksh/my notes.txt"),
                PathBuf::from("/home/daksh/b")
            ]
        );
        // As Tab completion writes it, in double quotes, it is expanded too.
        assert_eq!(
            paths("/send \"~/my notes.txt\""),
            [PathBuf::from("/home/daksh/my notes.txt")]
        );
        // In single quotes or escaped, a tilde is just a character; so it is
        // after the start and in `~user`.
        for kept in ["'~/x'", "\\~/x", "\"a~/x\"", "a~/x", "~daksh/x", "~x"] {
            let line = format!("/send {kept}");
            let typed = send_words(&line).remove(0);
            assert_eq!(paths(&line), [PathBuf::from(typed)], "{kept}");
        }
        // Without a home folder nothing changes.
        assert_eq!(send_paths("/send ~/x", None), [PathBuf::from("~/x")]);
    }

    #[test]
    fn the_whole_unquoted_text_is_expanded_when_it_names_a_file() {
        let UserCommand::Send(args) = parse("/send ~/my notes.txt") else {
            panic!("not a send");
        };
        let exists = |p: &Path| p == Path::new("/h/my notes.txt");
        assert_eq!(
            args.paths_with_home(exists, Some(Path::new("/h"))),
            [PathBuf::from("/h/my notes.txt")]
        );
        let exists = |p: &Path| p == Path::new("/h/my");
        assert_eq!(
            args.paths_with_home(exists, Some(Path::new("/h"))),
            [PathBuf::from("/h/my"), PathBuf::from("notes.txt")]
        );
    }

    fn msg(to: &str, text: &str) -> UserCommand<'static> {
        UserCommand::Order(Command::Msg {
            to: to.into(),
            text: text.into(),
        })
    }

    #[test]
    fn a_private_messages_name_is_one_word_or_quoted() {
        let usage = |why| UserCommand::Usage(Usage::Msg(Some(why)));
        let cases = [
            ("/msg Bea can you?", msg("Bea", "can you?")),
            ("/msg  Bea   hi ", msg("Bea", "hi")),
            ("/msg \"Bea can\" you?", msg("Bea can", "you?")),
            ("/msg 'Bea can' you?", msg("Bea can", "you?")),
            ("/msg \"Bea\" can you?", msg("Bea", "can you?")),
            ("/msg \"say \\\"hi\\\"\" x", msg("say \"hi\"", "x")),
            ("/msg O'Brien hi", msg("O'Brien", "hi")),
            ("/msg a\\b hi", msg("a\\b", "hi")),
            ("/msg \"Bea can\"", UserCommand::Usage(Usage::Msg(None))),
            ("/msg \"\" hi", UserCommand::Usage(Usage::Msg(None))),
            ("/msg Bea", UserCommand::Usage(Usage::Msg(None))),
            ("/msg \"Bea can you", usage("A \" quote is not closed")),
            ("/msg 'Bea can you", usage("A ' quote is not closed")),
            (
                "/msg \"Bea\"can",
                usage("A quoted name is followed by a space"),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), expected, "line {line:?}");
        }
    }

    proptest::proptest! {
        /// Any name, given back as [`quoted_name`] writes it, is the name
        /// `/msg` takes, and the text after it is all the message.
        #[test]
        fn a_quoted_name_is_taken_back_whole(
            name in "[^\\s]([\"' \\\\a-zA-Z]{0,8}[^\\s])?",
            text in "[^\\s][\\PC ]{0,20}",
        ) {
            let line = format!("/msg {} {text}", quoted_name(&name));
            let text = text.trim_end();
            proptest::prop_assert_eq!(parse(&line), msg(&name, text));
        }

        #[test]
        fn any_case_of_a_command_word_means_the_same(
            name in proptest::sample::select(&NAMES[..]),
            upper in proptest::collection::vec(proptest::bool::ANY, 8),
            rest in "( [a-zA-Z~/.\"' ]{0,12})?",
        ) {
            let cased: String = name
                .chars()
                .zip(&upper)
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            let (typed, lower) = (format!("/{cased}{rest}"), format!("/{name}{rest}"));
            proptest::prop_assert_eq!(parse(&typed), parse(&lower));
        }

        #[test]
        fn any_line_is_interpreted_without_a_panic(line in "\\PC*") {
            let _ = parse(&line);
            let _ = parse_unconnected(&line);
        }
    }
}
