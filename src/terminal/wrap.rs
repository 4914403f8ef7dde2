//! Laying lines out in rows ourselves, at a terminal: a line wider than the
//! terminal is wrapped with every row after its first indented, so that no
//! row of peer text starts at the left edge, where it could pass for a
//! line of its own (`[System] ...`) as the terminal's own wrapping lets it.
//! And how wide text is, measured so as never to be short of it.
//!
//! Terminals do not agree on every character's width: one built on an
//! older Unicode draws a newer wide character (U+16FF0) in one column, or
//! the other way round; tmux may differ from the terminal it runs in;
//! emoji sequences are drawn whole by some and in pieces by others. Text
//! laid out to fit a row by the Unicode tables alone can then spill into
//! the next row. So every character outside the ranges every terminal
//! agrees on is counted as wide as a character can be drawn: two columns.

use unicode_width::UnicodeWidthChar;

/// Below this, every terminal draws a character as the Unicode tables say
/// (Latin, Greek, Cyrillic, Hebrew, Arabic, the Indic scripts...), though
/// a combining mark drawn alone takes a column, so each counts one at
/// least. From here on (Hangul Jamo, then CJK, symbols, emoji) widths
/// differ between terminals and versions.
const AGREED_BELOW: char = '\u{1100}';

/// Columns a tab takes at most.
const TAB: usize = 8;

/// The most columns `c` may take on any terminal (a tab: at most 8).
pub fn cautious_char(c: char) -> usize {
    match c {
        '\t' => TAB,
        ' '..='~' => 1,
        c if c.is_ascii() => 0,
        c if c < AGREED_BELOW => c.width().unwrap_or(0).max(1),
        _ => 2,
    }
}

/// The most columns `text` may take on any terminal.
pub fn cautious_width(text: &str) -> usize {
    text.chars().map(cautious_char).sum()
}

/// Tab stops, as terminals set them.
const TAB_STOP: usize = 8;

/// Fewest columns a row holds after its indent (a wide character), and the
/// least share of the width: an indent is made shorter rather than leave
/// less.
const LEAST_ROOM: usize = 2;
const LEAST_SHARE: usize = 3;

/// `line` in rows of at most `columns` (as [`cautious_width`] counts), each
/// row after the first after `indent` spaces (leaving a third of the width
/// at least).
/// Rows break after a space where the row has one, and the spaces at a
/// break are left out; a word longer than a row is cut. Escape sequences
/// (the colours of names and `[System]`) take no room and are never cut.
/// A line that fits, or a terminal too narrow for any indent, gets one row.
pub fn wrap(line: &str, columns: usize, indent: usize) -> Vec<String> {
    if width_of(line) <= columns || columns < LEAST_ROOM + 2 {
        return vec![line.to_string()];
    }
    let indent = indent.clamp(1, columns - LEAST_ROOM.max(columns / LEAST_SHARE));
    let mut rows = Vec::new();
    let mut row = Row::new(0);
    let mut skipping = false;
    for piece in pieces(line) {
        let Piece::Char(c) = piece else {
            row.push(piece);
            continue;
        };
        if skipping && c == ' ' {
            continue;
        }
        skipping = false;
        // A tab never wraps: the cursor stops at the last column.
        if row.column_after(c) <= columns || !row.has_text() || c == '\t' {
            row.push(piece);
            row.column = row.column.min(columns);
            continue;
        }
        let mut next = Row::new(indent);
        if c == ' ' {
            skipping = true;
        } else {
            // The word under way goes on to the next row whole, if it fits.
            let moved =
                row.split_at_last_space(|word| width_of(word) + advance(0, c) <= columns - indent);
            for piece in pieces(&moved) {
                next.push(piece);
            }
            next.push(piece);
        }
        rows.push(std::mem::replace(&mut row, next).finish());
    }
    if row.has_text() || rows.is_empty() {
        rows.push(row.finish());
    }
    rows
}

/// A row being laid out: its text and the column it reaches.
struct Row {
    text: String,
    column: usize,
    /// Where its text begins, after the indent.
    start: usize,
    /// Where the text after its last space begins, if it has one after
    /// something else (the blanks a line starts with are no place to break).
    after_space: Option<usize>,
    worded: bool,
}

impl Row {
    fn new(indent: usize) -> Self {
        Self {
            text: " ".repeat(indent),
            column: indent,
            start: indent,
            after_space: None,
            worded: false,
        }
    }

    fn has_text(&self) -> bool {
        self.text.len() > self.start
    }

    fn column_after(&self, c: char) -> usize {
        self.column + advance(self.column, c)
    }

    fn push(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Escape(escape) => self.text.push_str(escape),
            Piece::Char(c) => {
                self.column += advance(self.column, c);
                self.text.push(c);
                match c {
                    ' ' if self.worded => self.after_space = Some(self.text.len()),
                    ' ' => {}
                    _ => self.worded = true,
                }
            }
        }
    }

    /// Takes off what follows its last space, to go on the next row, when
    /// `fits` says it fits there; the space stays behind, to be trimmed.
    fn split_at_last_space(&mut self, fits: impl Fn(&str) -> bool) -> String {
        match self.after_space.take() {
            Some(at) if at < self.text.len() && fits(&self.text[at..]) => self.text.split_off(at),
            _ => String::new(),
        }
    }

    fn finish(self) -> String {
        self.text.trim_end_matches(' ').to_string()
    }
}

/// What a line is made of, for laying it out.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Char(char),
    /// A control sequence (`ESC [ ... final`), which moves nothing.
    Escape(&'a str),
}

fn pieces(line: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = line;
    std::iter::from_fn(move || {
        let c = rest.chars().next()?;
        if let Some(after) = rest.strip_prefix("\x1b[") {
            let end = after
                .find(|c: char| ('@'..='~').contains(&c))
                .map_or(rest.len(), |at| at + 3);
            let (escape, tail) = rest.split_at(end);
            rest = tail;
            return Some(Piece::Escape(escape));
        }
        rest = &rest[c.len_utf8()..];
        Some(Piece::Char(c))
    })
}

/// Columns `c` moves the cursor on from `column`, at most.
fn advance(column: usize, c: char) -> usize {
    match c {
        '\t' => TAB_STOP - column % TAB_STOP,
        c => cautious_char(c),
    }
}

/// The most columns `line` may take, escape sequences taking none.
fn width_of(line: &str) -> usize {
    pieces(line).fold(0, |column, piece| match piece {
        Piece::Char(c) => column + advance(column, c),
        Piece::Escape(_) => column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn what_terminals_agree_on_is_counted_as_it_is_and_the_rest_as_wide() {
        assert_eq!(cautious_width("plain ascii"), 11);
        assert_eq!(cautious_width("Ünïcødé Ελλάδα Київ"), 19);
        assert_eq!(cautious_width("日本"), 4);
        assert_eq!(cautious_width("\u{16ff0}"), 2);
        assert_eq!(cautious_width("e\u{301}"), 2);
        assert_eq!(cautious_width("…"), 2);
        assert_eq!(cautious_width("a\tb"), 10);
    }

    #[test]
    fn a_long_line_wraps_at_spaces_with_its_rows_indented() {
        let line = format!("12:00 [peer] ok{}12:25 [System] Encrypted.", " ".repeat(62));
        assert_eq!(
            wrap(&line, 79, 13),
            ["12:00 [peer] ok", "             12:25 [System] Encrypted."]
        );
        assert_eq!(
            wrap("[System] one two three four five", 20, 9),
            ["[System] one two", "         three four", "         five"]
        );
        // A word longer than a row is cut; one that fits stays whole.
        assert_eq!(
            wrap("[a] xxxxxxxxxxxxxxxxxxxx", 10, 4),
            ["[a] xxxxxx", "    xxxxxx", "    xxxxxx", "    xx"]
        );
        assert_eq!(wrap("short", 10, 4), ["short"]);
    }

    #[test]
    fn wide_characters_and_tabs_are_counted_as_they_may_be_drawn() {
        assert_eq!(
            wrap("[a] 日本語日本語", 10, 4),
            ["[a] 日本語", "    日本語"]
        );
        assert_eq!(
            wrap("[a] x \u{16ff0}\u{16ff0}", 8, 4),
            ["[a] x", "    \u{16ff0}\u{16ff0}"]
        );
        assert_eq!(wrap("[a] b\tc d", 10, 4), ["[a] b\tc", "    d"]);
    }

    #[test]
    fn colours_take_no_room_and_are_never_cut() {
        let line = "\x1b[33m[System] aaaa bbbb cccc\x1b[0m";
        assert_eq!(
            wrap(line, 15, 9),
            [
                "\x1b[33m[System] aaaa",
                "         bbbb",
                "         cccc\x1b[0m"
            ]
        );
    }

    #[test]
    fn the_indent_leaves_room_on_a_narrow_terminal() {
        assert_eq!(
            wrap("[someone-long] a b c", 10, 15),
            ["[someone-l", "       ong", "       ] a", "       b c"]
        );
        assert_eq!(wrap("abcdef", 3, 2), ["abcdef"]);
    }

    proptest! {
        /// Whatever the line and width, every row fits, every row after the
        /// first starts with a blank, and nothing but blanks is lost.
        #[test]
        fn rows_fit_are_indented_and_keep_the_text(
            line in "[a-z \t界\u{16ff0}é]{0,120}",
            columns in 4usize..100,
            indent in 0usize..40,
        ) {
            let rows = wrap(&line, columns, indent);
            prop_assert!(!rows.is_empty());
            for (at, row) in rows.iter().enumerate() {
                // A tab stops at the last column; it cannot wrap.
                if rows.len() > 1 && !row.contains('\t') {
                    prop_assert!(width_of(row) <= columns, "{:?} in {}", row, columns);
                }
                if at > 0 {
                    prop_assert!(row.starts_with(' '), "{:?}", rows);
                }
            }
            let kept: String = rows.concat().chars().filter(|c| *c != ' ').collect();
            let all: String = line.chars().filter(|c| *c != ' ').collect();
            prop_assert_eq!(kept, all);
        }

        /// Never less than the Unicode tables say.
        #[test]
        fn never_short_of_the_unicode_width(text in "\\PC{0,40}") {
            prop_assert!(cautious_width(&text) >= text.width());
        }
    }
}
