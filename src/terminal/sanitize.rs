//! Making untrusted peer text safe to show on a terminal.
//!
//! Everything a peer sends passes [`for_terminal`] right before it is printed:
//! control characters (which start escape sequences that can move the cursor,
//! rewrite the title or the clipboard) and bidirectional overrides (which make
//! text read differently from what it is) are shown as visible escapes.

use std::borrow::Cow;
use std::fmt::Write;

/// The peer's bytes as one printable line: invalid UTF-8 is replaced with
/// U+FFFD and every control or bidi character is shown as an escape such as
/// `\x1b` or `\u{202e}`. Tabs are kept; they cannot do harm.
pub fn for_terminal(bytes: &[u8]) -> Cow<'_, str> {
    // Most lines are plain printable ASCII: nothing to do, nothing to copy.
    // (A fold rather than `all`, so that the check runs without branches.)
    let plain = bytes.iter().fold(true, |ok, &b| {
        ok & (matches!(b, b' '..=b'~') | (b == b'\t'))
    });
    if plain && let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' || !needs_escape(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
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

/// Characters that must not reach a terminal as they are.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Invisible characters that change how text reads: Unicode's explicit
/// directional formatting (UAX #9), zero-width characters that hide or join
/// text, line and paragraph separators some terminals break lines on, and
/// the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Whether `c` may appear in a name we print or write: the same characters
/// [`for_terminal`] would escape are refused.
pub fn is_unsafe_char(c: char) -> bool {
    needs_escape(c)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn output_never_contains_a_control_character() {
        let all: Vec<u8> = (0..=255).collect();
        let shown = for_terminal(&all);
        assert!(shown.chars().all(|c| c == '\t' || !needs_escape(c)));
    }
}
