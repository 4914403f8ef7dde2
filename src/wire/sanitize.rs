//! Making untrusted peer text safe to show on a terminal: the rule every
//! layer keeps, the terminal as it prints, the room as it passes a member's
//! words on to the original wire, names as they are checked.
//!
//! Everything a peer sends passes [`for_terminal`] right before it is printed:
//! control characters (which start escape sequences that can move the cursor,
//! rewrite the title or the clipboard), bidirectional overrides (which make
//! text read differently from what it is) and every other invisible
//! character (which can hide text from the reader) are shown as visible
//! escapes.

use std::borrow::Cow;
use std::fmt::Write;

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

/// The peer's bytes as one printable line: invalid UTF-8 is replaced with
/// U+FFFD and every control, format or otherwise invisible character is
/// shown as an escape such as `\x1b` or `\u{202e}`. Tabs are kept; they
/// cannot do harm. So are the joiners emoji are built with, where they join
/// visible characters (see [`joins_visible_text`]).
pub fn for_terminal(bytes: &[u8]) -> Cow<'_, str> {
    // Most lines are plain printable ASCII: nothing to do, nothing to copy.
    if is_plain(bytes)
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Cow::Borrowed(text);
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    // The last character written as it is, if the last one was.
    let mut shown: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let raw =
            c == '\t' || !needs_escape(c) || joins_visible_text(shown, c, chars.peek().copied());
        if raw {
            out.push(c);
            shown = Some(c);
            continue;
        }
        shown = None;
        if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// Whether `bytes` are printable ASCII (and tabs) only: safe to show as
/// they are, and [`for_terminal`] would return them unchanged.
pub fn is_plain(bytes: &[u8]) -> bool {
    // A fold rather than `all`: without an early exit the check runs on
    // whole vectors of bytes, and most lines pass it anyway.
    bytes.iter().fold(true, |ok, &b| {
        ok & (matches!(b, b' '..=b'~') | (b == b'\t'))
    })
}

/// Characters that must not reach a terminal as they are: controls, and
/// everything Unicode says is invisible or only steers other text.
fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control() || is_invisible(c)
}

/// Format characters (General_Category=Cf: bidi controls, zero-width
/// characters, the byte order mark, tag characters), line and paragraph
/// separators (some terminals break lines on them) and Default_Ignorable
/// code points (Hangul fillers, variation selectors, and code points kept
/// for future invisible characters). Unicode's own tables, so new
/// characters are covered when the data is updated.
fn is_invisible(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

const ZERO_WIDTH_NON_JOINER: char = '\u{200c}';
const ZERO_WIDTH_JOINER: char = '\u{200d}';
const TEXT_PRESENTATION: char = '\u{fe0e}';
const EMOJI_PRESENTATION: char = '\u{fe0f}';

/// Whether `c`, an invisible character, is one of the joiners of ordinary
/// emoji and scripts, in a place where it only joins what is visible anyway.
///
/// Escaping them would show ❤️ as `❤\u{fe0f}` and 👩‍💻 as `👩\u{200d}💻`,
/// and break words in Persian and Indic scripts, which need the zero-width
/// (non-)joiner; all are common in chat. Where they stand they cannot hide
/// text: a presentation selector (VS15, VS16) is kept only right after a
/// visible character shown as it is, so a run of selectors (a known way to
/// smuggle hidden bytes) is escaped from the second one on; a joiner or
/// non-joiner is kept only between two visible non-ASCII characters, so it
/// cannot split or disguise an ASCII word. Every other variation selector
/// (CJK and mathematical variants, rare in chat) is escaped.
fn joins_visible_text(shown: Option<char>, c: char, next: Option<char>) -> bool {
    let Some(before) = shown else {
        return false;
    };
    match c {
        TEXT_PRESENTATION | EMOJI_PRESENTATION => !before.is_whitespace() && !needs_escape(before),
        // `before` may be a kept presentation selector: 🏳️‍🌈 joins after one.
        ZERO_WIDTH_JOINER | ZERO_WIDTH_NON_JOINER => {
            !before.is_ascii()
                && !before.is_whitespace()
                && next.is_some_and(|n| !n.is_ascii() && !n.is_whitespace() && !needs_escape(n))
        }
        _ => false,
    }
}

/// Whether `c` may appear in a name we print or write: the same characters
/// [`for_terminal`] would escape are refused, joiners included, since a
/// name has no emoji to keep whole.
pub fn is_unsafe_char(c: char) -> bool {
    needs_escape(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_passes_unchanged() {
        let line = "[I056] Hi! I'm Daksh. Ünïcødé ✓ 日本語\tand a tab";
        assert_eq!(for_terminal(line.as_bytes()), line);
    }

    #[test]
    fn escape_sequences_are_made_visible() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
            (b"\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
            (b"\x1b]52;c;Y2xpcA==\x07", "\\x1b]52;c;Y2xpcA==\\x07"),
            (b"a\rb", "a\\x0db"),
            (b"back\x08\x08", "back\\x08\\x08"),
            (b"nul\x00del\x7f", "nul\\x00del\\x7f"),
            ("c1 \u{9b}31m".as_bytes(), "c1 \\x9b31m"),
            (b"line\nbreak", "line\\x0abreak"),
        ];
        for (raw, shown) in cases {
            assert_eq!(for_terminal(raw), *shown, "input {raw:?}");
        }
    }

    #[test]
    fn bidi_controls_are_made_visible() {
        let shown = for_terminal("evil\u{202e}txt.exe \u{2066}x\u{2069}".as_bytes());
        assert_eq!(shown, "evil\\u{202e}txt.exe \\u{2066}x\\u{2069}");
    }

    #[test]
    fn invisible_characters_are_made_visible() {
        let shown = for_terminal("a\u{200b}b\u{2028}c\u{feff}d\u{ad}e".as_bytes());
        assert_eq!(shown, "a\\u{200b}b\\u{2028}c\\u{feff}d\\xade");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(for_terminal(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn tag_characters_are_made_visible() {
        let shown = for_terminal("hi\u{e0001}\u{e0041}\u{e0042}\u{e007f}!".as_bytes());
        assert_eq!(shown, "hi\\u{e0001}\\u{e0041}\\u{e0042}\\u{e007f}!");
    }

    #[test]
    fn hangul_fillers_and_other_blanks_are_made_visible() {
        for (c, escaped) in [
            ('\u{115f}', "\\u{115f}"),
            ('\u{1160}', "\\u{1160}"),
            ('\u{3164}', "\\u{3164}"),
            ('\u{ffa0}', "\\u{ffa0}"),
            ('\u{180e}', "\\u{180e}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{34f}', "\\u{34f}"),
            ('\u{e0fff}', "\\u{e0fff}"),
        ] {
            let line = format!("[{c}] x{c}y");
            assert_eq!(
                for_terminal(line.as_bytes()),
                format!("[{escaped}] x{escaped}y"),
                "U+{:04X}",
                c as u32
            );
            assert!(is_unsafe_char(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn emoji_and_script_joiners_are_kept_between_visible_characters() {
        for kept in [
            "❤\u{fe0f}",
            "☺\u{fe0e} plain",
            "1\u{fe0f}\u{20e3}",
            "👩\u{200d}💻",
            "🏳\u{fe0f}\u{200d}🌈",
            "क्\u{200d}ष",
            "می\u{200c}خواهم",
        ] {
            assert_eq!(for_terminal(kept.as_bytes()), kept);
        }
    }

    #[test]
    fn joiners_that_could_hide_something_are_made_visible() {
        let cases = [
            ("\u{fe0f}start", "\\u{fe0f}start"),
            ("a \u{fe0f}", "a \\u{fe0f}"),
            ("❤\u{fe0f}\u{fe0f}\u{fe0e}", "❤\u{fe0f}\\u{fe0f}\\u{fe0e}"),
            ("x\u{fe00}", "x\\u{fe00}"),
            ("字\u{e0100}", "字\\u{e0100}"),
            ("pay\u{200d}pal", "pay\\u{200d}pal"),
            ("é\u{200d}x", "é\\u{200d}x"),
            ("👩\u{200d}", "👩\\u{200d}"),
            ("👩\u{200d}\u{200d}💻", "👩\\u{200d}\\u{200d}💻"),
            ("👩\u{200d}\u{3164}", "👩\\u{200d}\\u{3164}"),
            ("\u{3164}\u{200d}👩", "\\u{3164}\\u{200d}👩"),
        ];
        for (raw, shown) in cases {
            assert_eq!(for_terminal(raw.as_bytes()), shown, "input {raw:?}");
        }
    }

    #[test]
    fn names_refuse_joiners_too() {
        for c in [
            '\u{200c}', '\u{200d}', '\u{fe0e}', '\u{fe0f}', '\t', '\u{7f}',
        ] {
            assert!(is_unsafe_char(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', '日', '❤', ' ', '-'] {
            assert!(!is_unsafe_char(c), "U+{:04X}", c as u32);
        }
    }

    /// Characters of any kind, weighted towards the ones that matter here.
    fn any_text() -> impl Strategy<Value = String> {
        let interesting = prop::sample::select(vec![
            '\t',
            '\x1b',
            '\n',
            '\u{9b}',
            ' ',
            'a',
            'é',
            '❤',
            '👩',
            '💻',
            '字',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{202e}',
            '\u{2028}',
            '\u{feff}',
            '\u{fe00}',
            '\u{fe0e}',
            '\u{fe0f}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e0100}',
            '\u{115f}',
            '\u{1160}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{180e}',
            '\u{ad}',
        ]);
        prop::collection::vec(prop_oneof![any::<char>(), interesting], 0..24)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn nothing_that_needs_escaping_comes_out(text in any_text()) {
            let shown = for_terminal(text.as_bytes()).into_owned();
            for c in shown.chars() {
                prop_assert!(
                    c == '\t'
                        || !needs_escape(c)
                        || matches!(
                            c,
                            ZERO_WIDTH_JOINER
                                | ZERO_WIDTH_NON_JOINER
                                | TEXT_PRESENTATION
                                | EMOJI_PRESENTATION
                        ),
                    "U+{:04X} in {:?}", c as u32, shown
                );
            }
            // Kept joiners stay where they are allowed: showing the output
            // again changes nothing.
            prop_assert_eq!(for_terminal(shown.as_bytes()), shown.as_str());
        }

        #[test]
        fn any_bytes_come_out_without_controls(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let shown = for_terminal(&bytes);
            prop_assert!(shown.chars().all(|c| c == '\t' || !c.is_control()));
        }

        #[test]
        fn plain_ascii_passes_unchanged(text in "[ -~\t]*") {
            let shown = for_terminal(text.as_bytes());
            prop_assert!(matches!(shown, Cow::Borrowed(_)));
            prop_assert_eq!(shown, text.as_str());
        }
    }

    #[test]
    fn output_never_contains_a_control_character() {
        let all: Vec<u8> = (0..=255).collect();
        let shown = for_terminal(&all);
        assert!(shown.chars().all(|c| c == '\t' || !needs_escape(c)));
    }
}
