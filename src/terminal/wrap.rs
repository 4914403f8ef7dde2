//! How wide text is on a terminal, measured so as never to be short of it.
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

    proptest! {
        /// Never less than the Unicode tables say.
        #[test]
        fn never_short_of_the_unicode_width(text in "\\PC{0,40}") {
            prop_assert!(cautious_width(&text) >= text.width());
        }
    }
}
