//! The editor's helper: Tab completes command names, and file paths
//! after `/send`; and its hook before each redraw of the input line.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use rustyline::Helper;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use super::layout::{columns, rewrap_fix};

/// Completes command names, and file paths after `/send `.
pub(super) struct ChatHelper {
    files: FilenameCompleter,
    commands: Vec<&'static str>,
    /// The terminal's width when the editor last drew the input line, to
    /// notice a resize before the editor redraws for it; 0 before the first.
    /// Shared with the [`Printer`].
    ///
    /// [`Printer`]: super::printer::Printer
    pub(super) drawn_at: Arc<AtomicUsize>,
    /// How many live lines the screen drew above the input last, kept by
    /// the [`Printer`].
    ///
    /// [`Printer`]: super::printer::Printer
    pub(super) live_rows: Arc<AtomicUsize>,
    /// Where lists of candidates go to be shown above the input.
    lists: Sender<String>,
    /// The line and cursor that Tab left last time it found several
    /// candidates: Tab again there lists them.
    ambiguous: std::sync::Mutex<Option<(String, usize)>>,
}

impl ChatHelper {
    pub(super) fn new(commands: Vec<&'static str>, lists: Sender<String>) -> Self {
        Self {
            files: FilenameCompleter::new(),
            commands,
            drawn_at: Arc::new(AtomicUsize::new(0)),
            live_rows: Arc::new(AtomicUsize::new(0)),
            lists,
            ambiguous: std::sync::Mutex::new(None),
        }
    }

    /// What Tab completes to with live lines drawn above the input: the
    /// editor lists several candidates below the input, between the live
    /// lines and the prompt it then draws again, where the next redraw of
    /// the live lines would take rows of the list and leave the old ones
    /// behind. So the editor gets one candidate, as far as all agree, and
    /// lists nothing; Tab again where nothing more is agreed sends the list
    /// to be shown above, as the editor would have shown it below.
    fn list_above(&self, line: &str, pos: usize, start: usize, pairs: &[Pair]) -> Pair {
        let typed = &line[start..pos];
        let agreed = agreed_start(pairs.iter().map(|p| p.replacement.as_str()));
        let agreed = match agreed.strip_prefix(typed) {
            Some(more) if !more.is_empty() => agreed,
            _ => typed,
        };
        let after = (
            format!("{}{agreed}{}", &line[..start], &line[pos..]),
            start + agreed.len(),
        );
        let mut ambiguous = self
            .ambiguous
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if agreed == typed && ambiguous.as_ref() == Some(&(line.to_string(), pos)) {
            let names: Vec<&str> = pairs.iter().map(|p| p.display.as_str()).collect();
            let _ = self.lists.send(names.join("  "));
        }
        *ambiguous = Some(after);
        Pair {
            display: agreed.to_string(),
            replacement: agreed.to_string(),
        }
    }

    /// The candidates for Tab at `pos` in `line`, and where in the line
    /// they start.
    fn candidates(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.starts_with("/send ") && pos >= "/send ".len() {
            let (start, mut paths) = self.files.complete(line, pos, ctx)?;
            let open_quote = open_quote(&line[..pos]);
            for path in &mut paths {
                finish_path(&mut path.replacement, open_quote);
            }
            return Ok((start, paths));
        }
        let typed = &line[..pos];
        if typed.starts_with('/') && !typed.contains(' ') {
            let matches = self
                .commands
                .iter()
                .filter(|name| name.starts_with(typed))
                .map(|name| Pair {
                    display: name.to_string(),
                    replacement: format!("{name} "),
                })
                .collect();
            return Ok((0, matches));
        }
        Ok((pos, Vec::new()))
    }
}

impl Completer for ChatHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, pairs) = self.candidates(line, pos, ctx)?;
        if pairs.len() < 2 || self.live_rows.load(Ordering::Relaxed) == 0 {
            return Ok((start, pairs));
        }
        Ok((start, vec![self.list_above(line, pos, start, &pairs)]))
    }
}

/// The longest start all of `texts` share, on a character boundary.
fn agreed_start<'a>(mut texts: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = texts.next() else {
        return "";
    };
    texts.fold(first, |agreed, text| {
        let same = agreed
            .char_indices()
            .zip(text.chars())
            .find(|((_, a), b)| a != b)
            .map_or(agreed.len().min(text.len()), |((at, _), _)| at);
        &agreed[..same]
    })
}

/// The quote `typed` ends inside of, if any, read as `/send` reads its
/// arguments: a backslash escapes the next character outside single quotes.
fn open_quote(typed: &str) -> Option<char> {
    let mut open = None;
    let mut escaped = false;
    for c in typed.chars() {
        match (open, c) {
            _ if escaped => escaped = false,
            (None | Some('"'), '\\') => escaped = true,
            (None, '"' | '\'') => open = Some(c),
            (Some(quote), _) if c == quote => open = None,
            _ => {}
        }
    }
    open
}

/// Ends a completed file path as the user goes on typing: rustyline's file
/// completer leaves the quote it completed inside open, and puts no space
/// after the name. A folder stays open, to go on into it.
fn finish_path(path: &mut String, open_quote: Option<char>) {
    if path.ends_with(std::path::MAIN_SEPARATOR) {
        return;
    }
    path.extend(open_quote);
    path.push(' ');
}

/// The editor asks for a hint right before each time it draws the input
/// line, resizes included: the one moment to correct its idea of where the
/// input is before it clears rows (see [`rewrap_fix`]). rustyline offers no
/// other hook there. No hint is ever given.
impl Hinter for ChatHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &rustyline::Context<'_>) -> Option<String> {
        let new = columns();
        let old = self.drawn_at.swap(new, Ordering::Relaxed);
        if old != 0 && old != new {
            let moves = rewrap_fix(line, pos, old, new);
            if !moves.is_empty() {
                let mut out = io::stdout();
                let _ = out.write_all(moves.as_bytes()).and_then(|()| out.flush());
            }
        }
        None
    }
}
impl Highlighter for ChatHelper {}
impl Validator for ChatHelper {}
impl Helper for ChatHelper {}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use rustyline::history::DefaultHistory;

    use super::*;

    /// What Tab offers at the end of `line`.
    fn completes_to(line: &str) -> Vec<String> {
        let helper = ChatHelper::new(
            vec!["/send", "/status", "/help", "/quit"],
            mpsc::channel().0,
        );
        let history = DefaultHistory::new();
        let ctx = rustyline::Context::new(&history);
        let (_, pairs) = helper.complete(line, line.len(), &ctx).unwrap();
        pairs.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn with_live_lines_drawn_tab_lists_above_on_a_second_press() {
        let (lists, listed) = mpsc::channel();
        let helper = ChatHelper::new(vec!["/send", "/status", "/stats"], lists);
        let history = DefaultHistory::new();
        let ctx = rustyline::Context::new(&history);
        let complete = |line: &str| {
            let (start, pairs) = helper.complete(line, line.len(), &ctx).unwrap();
            let got: Vec<String> = pairs.into_iter().map(|p| p.replacement).collect();
            (start, got)
        };
        // With none, the editor gets every candidate and lists them itself.
        assert_eq!(complete("/s").1.len(), 3);
        helper.live_rows.store(1, Ordering::Relaxed);
        assert_eq!(complete("/s"), (0, vec!["/s".to_string()]));
        assert!(listed.try_recv().is_err(), "listed on the first press");
        assert_eq!(complete("/s"), (0, vec!["/s".to_string()]));
        assert_eq!(listed.try_recv().unwrap(), "/send  /status  /stats");
        // As far as they agree first, then the list on the next press.
        assert_eq!(complete("/st"), (0, vec!["/stat".to_string()]));
        assert!(listed.try_recv().is_err());
        assert_eq!(complete("/stat"), (0, vec!["/stat".to_string()]));
        assert_eq!(listed.try_recv().unwrap(), "/status  /stats");
        // One candidate is completed as always.
        assert_eq!(complete("/se"), (0, vec!["/send ".to_string()]));
    }

    #[test]
    fn candidates_agree_as_far_as_their_characters_do() {
        assert_eq!(agreed_start(["abc", "abd"].into_iter()), "ab");
        assert_eq!(agreed_start(["ab", "abc"].into_iter()), "ab");
        assert_eq!(agreed_start(["日本", "日本語", "日x"].into_iter()), "日");
        assert_eq!(agreed_start(["é", "e"].into_iter()), "");
        assert_eq!(agreed_start(std::iter::empty()), "");
    }

    #[test]
    fn commands_complete_by_prefix() {
        assert_eq!(completes_to("/st"), ["/status "]);
        assert_eq!(completes_to("/s").len(), 2);
        assert!(completes_to("hello").is_empty());
    }

    /// A fresh folder for one test, removed when dropped.
    struct Folder(std::path::PathBuf);

    impl Folder {
        fn new(test: &str) -> Self {
            let name = format!("chat-complete-{test}-{}", std::process::id());
            let dir = std::env::temp_dir().join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn path(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn paths_complete_after_send() {
        let dir = Folder::new("plain");
        std::fs::write(dir.0.join("unique-name.txt"), b"").unwrap();
        let got = completes_to(&format!("/send {}/uniq", dir.path()));
        assert_eq!(got, [format!("{}/unique-name.txt ", dir.path())]);
    }

    #[test]
    fn a_quote_opened_before_tab_is_closed_after_the_name() {
        let dir = Folder::new("quoted");
        std::fs::write(dir.0.join("my notes.txt"), b"").unwrap();
        let got = completes_to(&format!("/send \"{}/my no", dir.path()));
        assert_eq!(got, [format!("{}/my notes.txt\" ", dir.path())]);
        let got = completes_to(&format!("/send '{}/my no", dir.path()));
        assert_eq!(got, [format!("{}/my notes.txt' ", dir.path())]);
        // Without a quote, the space is escaped, as `/send` reads it.
        let got = completes_to(&format!("/send {}/my", dir.path()));
        assert_eq!(got, [format!("{}/my\\ notes.txt ", dir.path())]);
    }

    #[test]
    fn a_folder_completes_open_to_go_on_into_it() {
        let dir = Folder::new("folder");
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        let got = completes_to(&format!("/send \"{}/su", dir.path()));
        assert_eq!(got, [format!("{}/sub/", dir.path())]);
    }

    #[test]
    fn quotes_are_read_as_send_reads_them() {
        assert_eq!(open_quote("/send \"a b"), Some('"'));
        assert_eq!(open_quote("/send \"a b\" c"), None);
        assert_eq!(open_quote("/send 'it\"s"), Some('\''));
        assert_eq!(open_quote("/send \\\"a"), None);
        assert_eq!(open_quote("/send \"a\\\" b"), Some('"'));
        assert_eq!(open_quote("/send 'a\\' b"), None);
    }
}
