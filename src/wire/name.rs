//! Names people go by (PROTOCOL.md 3.6): which are acceptable, and which
//! two look alike on a screen, by their confusable skeleton (Unicode TS #39).

use icu_casemap::CaseMapper;
use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// Longest name accepted, in characters.
pub const MAX_CHARS: usize = 32;

/// The name of the program's own lines, `[System] ...`, which nobody may
/// take nor imitate.
const SYSTEM: &str = "System";

/// A name goes on the wire inside `[...]` on every line, so it must be one
/// short line without brackets or anything a terminal would interpret, and
/// must not pass for the program's own lines. Returns it trimmed.
pub fn parse(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.chars().count() > MAX_CHARS {
        return Err(format!("the name is longer than {MAX_CHARS} characters"));
    }
    if name.contains(['[', ']']) {
        return Err("the name may not contain [ or ]".into());
    }
    if name.chars().any(crate::terminal::sanitize::is_unsafe_char) {
        return Err("the name may not contain control characters".into());
    }
    if looks_alike(name, SYSTEM) {
        return Err("the name System is the program's own".into());
    }
    Ok(name.to_string())
}

/// Whether two names would pass for one another on a screen: the same
/// letters in another case, in another script that looks the same
/// (Cyrillic `А` for Latin `A`), in a compatibility form (fullwidth `Ａ`,
/// superscript `ᴬ`), or as look-alike sequences (`rn` for `m`).
pub fn looks_alike(a: &str, b: &str) -> bool {
    let (a, b) = (Looks::of(a), Looks::of(b));
    a.as_written == b.as_written || a.in_lower_case == b.in_lower_case
}

/// How a name looks, for comparison: its skeleton taken as written (where
/// a capital `I` passes for an `l`) and case-folded (where `I` and `i` are
/// one letter), each after NFKC and itself case-folded.
struct Looks {
    as_written: String,
    in_lower_case: String,
}

impl Looks {
    fn of(name: &str) -> Self {
        let fold = |text: &str| {
            CaseMapper::new()
                .fold_string(text)
                .nfkc()
                .collect::<String>()
        };
        let normal: String = name.trim().nfkc().collect();
        let sketch = |text: &str| fold(&skeleton(text).collect::<String>());
        Self {
            as_written: sketch(&normal),
            in_lower_case: sketch(&fold(&normal)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(parse("  I049 ").as_deref(), Ok("I049"));
        assert_eq!(parse("Daksh Ü").as_deref(), Ok("Daksh Ü"));
        assert!(parse(&"x".repeat(MAX_CHARS + 1)).is_err());
        assert!(parse("new\nline").is_err());
        assert!(parse("rtl\u{202e}").is_err());
        assert!(parse("System").is_err() && parse(" system ").is_err());
        assert_eq!(parse("Systems").as_deref(), Ok("Systems"));
    }

    #[test]
    fn look_alikes_of_system_are_the_programs_own() {
        for fake in [
            "Sуstem",       // Cyrillic у
            "ЅYSTEM",       // Cyrillic Ѕ
            "Ｓｙｓｔｅｍ", // fullwidth
            "Syѕtem",       // Cyrillic ѕ
            "Systern",      // rn for m
            "ˢystem",       // modifier letter
        ] {
            assert!(parse(fake).is_err(), "{fake} was taken as a name");
        }
    }

    #[test]
    fn names_that_pass_for_one_another_look_alike() {
        for (a, b) in [
            ("Alice", "Аlice"),  // Cyrillic А
            ("Alice", "Ａlice"), // fullwidth
            ("Alice", "ᴬlice"),  // modifier letter
            ("Alice", "alice"),
            ("Alice", "ALICE"),
            ("I049", "l049"), // capital i, small L
            ("I049", "i049"),
            ("bob", "b0b"),
            ("emma", "ernma"),
            ("Zoë", "Zoe\u{308}"), // composed and not
        ] {
            assert!(looks_alike(a, b), "{a} and {b}");
            assert!(looks_alike(b, a), "{b} and {a}");
        }
        for (a, b) in [("Alice", "Alicia"), ("I049", "I056"), ("Zoë", "Zoe")] {
            assert!(!looks_alike(a, b), "{a} and {b}");
        }
    }

    proptest! {
        #[test]
        fn a_name_looks_like_itself_in_any_case(name in "\\PC{1,32}") {
            prop_assert!(looks_alike(&name, &name));
            prop_assert!(looks_alike(&name, &name.to_uppercase()));
            prop_assert!(looks_alike(&name, &name.to_lowercase()));
        }

        #[test]
        fn an_accepted_name_never_passes_for_the_program(name in "\\PC{1,40}") {
            if let Ok(name) = parse(&name) {
                prop_assert!(!looks_alike(&name, SYSTEM));
            }
        }
    }
}
