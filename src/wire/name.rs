//! Names people go by (PROTOCOL.md 3.6): which are acceptable, and which
//! two look alike on a screen, by their confusable skeleton (Unicode TS #39).

use icu_casemap::CaseMapper;
use icu_properties::props::{ExtendedPictographic, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

/// Longest name accepted, in characters.
pub const MAX_CHARS: usize = 32;

/// Most combining marks one letter of a name may carry (after NFC, where
/// most accented letters are one character): two are enough for the tone
/// and vowel of Thai or Vietnamese; more only stack into a smear.
const MAX_MARKS: usize = 2;

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
    if name.chars().any(crate::wire::sanitize::is_unsafe_char) {
        return Err("the name may not contain control characters".into());
    }
    // (Fullwidth brackets are brackets too.)
    if name.nfkc().any(|c| c == '[' || c == ']') {
        return Err("the name may not contain [ or ]".into());
    }
    if let Some(odd) = name.chars().find(|c| !usual(*c)) {
        return Err(format!(
            "the name may not contain {:?} (U+{:04X}): only letters and marks in common \
             use, digits, punctuation, spaces and emoji",
            odd, odd as u32
        ));
    }
    if !one_script(name) {
        return Err("the name mixes letters of several scripts".into());
    }
    marks_on_letters(name)?;
    if looks_alike(name, SYSTEM) {
        return Err("the name System is the program's own".into());
    }
    Ok(name.to_string())
}

/// Whether a character may be in a name: one that Unicode recommends for
/// identifiers (letters, digits and marks of scripts in common use, not
/// look-alike forms such as small capitals, nor invisible ones), printable
/// ASCII, or an emoji.
fn usual(c: char) -> bool {
    c.is_ascii_graphic()
        || c == ' '
        || c.identifier_allowed()
        || CodePointSetData::new::<ExtendedPictographic>().contains(c)
}

/// Checks that every combining mark of a name sits on a letter, and that
/// no letter carries a pile of them.
fn marks_on_letters(name: &str) -> Result<(), String> {
    let mut in_a_row = 0;
    for c in name.nfc() {
        in_a_row = if is_mark(c) { in_a_row + 1 } else { 0 };
        if in_a_row > MAX_MARKS || (in_a_row == 1 && name.nfc().next() == Some(c)) {
            return Err(format!(
                "the name may not start with a combining mark nor put more than {MAX_MARKS} \
                 on one letter"
            ));
        }
    }
    Ok(())
}

/// Whether a character is a combining mark (one drawn on the character
/// before it, or beside it as a vowel sign is).
fn is_mark(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
    )
}

/// Whether a character is a mark drawn over or under the one before it,
/// which a reader may not notice: `System` with a dot under its `m` passes
/// for `System`.
fn is_drawn_over(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
    )
}

/// Whether the letters of a name are of one script (or of the scripts
/// written together, such as Han with Hiragana and Katakana), as Unicode
/// TS #39's highly restrictive level has it: `Sуstem` with a Cyrillic `у`
/// mixes two. Digits, punctuation and emoji belong to any script.
fn one_script(name: &str) -> bool {
    let letters: String = name.chars().filter(|c| c.identifier_allowed()).collect();
    letters.as_str().detect_restriction_level() <= RestrictionLevel::HighlyRestrictive
}

/// Whether two names would pass for one another on a screen: the same
/// letters in another case, in another script that looks the same
/// (Cyrillic `А` for Latin `A`, Greek `Ε` for `E`), in a compatibility form
/// (fullwidth `Ａ`, superscript `ᴬ`), as look-alike sequences (`rn` for
/// `m`), or with marks over or under letters (`Zoë` for `Zoe`).
pub fn looks_alike(a: &str, b: &str) -> bool {
    let (a, b) = (Looks::of(a), Looks::of(b));
    a.0.iter().zip(&b.0).any(|(a, b)| a == b)
}

/// How a name looks, for comparison: its confusable skeleton (Unicode TS
/// #39) after NFKC, case-folded, taken three ways, since the table maps
/// letters of one case only: as written (where a capital `I` passes for an
/// `l`), case-folded first (where `I` and `i` are one letter), and in
/// capitals first (where Cyrillic and Greek capitals meet Latin ones).
struct Looks([String; 3]);

impl Looks {
    fn of(name: &str) -> Self {
        let fold = |text: &str| {
            CaseMapper::new()
                .fold_string(text)
                .nfkc()
                .collect::<String>()
        };
        // Marks go after the case is changed: some become letters then
        // (the Greek iota written under a letter is a capital I beside it).
        let bare = |text: &str| -> String { text.nfd().filter(|c| !is_drawn_over(*c)).collect() };
        // And again after the skeleton, which writes some letters as one
        // with a mark (`ŧ` as `t` with a stroke).
        let sketch = |text: &str| fold(&bare(&skeleton(&bare(text)).collect::<String>()));
        let normal: String = name.trim().nfkc().collect();
        Self([
            sketch(&normal),
            sketch(&fold(&normal)),
            sketch(&normal.to_uppercase()),
        ])
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
            "Sуstem",         // Cyrillic у
            "ЅYSTEM",         // Cyrillic Ѕ
            "Ｓｙｓｔｅｍ",   // fullwidth
            "Syѕtem",         // Cyrillic ѕ
            "Systern",        // rn for m
            "ˢystem",         // modifier letter
            "SYSTΕM",         // Greek capital Epsilon
            "ЅYЅТЕМ",         // Cyrillic capitals
            "Sysτem",         // Greek tau
            "Sуѕтем",         // Cyrillic small letters
            "Systeᴍ",         // small capital
            "ꜱʏꜱᴛᴇᴍ",         // small capitals
            "System\u{2800}", // braille blank
            "System］",       // fullwidth bracket
            "System\u{358}",  // a combining mark not in common use
            "System\u{cbc}",
            "System\u{1dff}",
            "System\u{e000}", // private use
            "System\u{378}",  // unassigned
            "ЅУЅТЕМ",         // all Cyrillic capitals
            "System\u{331}",  // a line under the m
            "System\u{323}",  // a dot under it
            "Sys\u{307}tem",  // a dot over the s
            "SYSTEM\u{301}",  // an acute accent
            "Sysŧem",         // a t with a stroke
            "SysŦem",
            "Sƴstem", // a y with a hook
        ] {
            assert!(parse(fake).is_err(), "{fake} was taken as a name");
        }
    }

    #[test]
    fn names_in_one_script_of_common_letters_are_taken() {
        for name in [
            "Daksh Ü",
            "Zoë",
            "Zoe\u{308}",
            "Ελένη",
            "Дарья",
            "山田 太郎",
            "やまだ",
            "김민준",
            "O'Brien-Smith",
            "anna.k",
            "Ana 🎉",
            "I049",
            "Nguyễn",
            "สมชาย",
            "देवी",
        ] {
            assert_eq!(parse(name).as_deref(), Ok(name), "{name}");
        }
        for odd in [
            "Tom\u{16fe4}",
            "TOΜ",
            "Ali\u{0441}e",
            "Bob\u{200d}",
            "\u{301}",
            "\u{301}Bob",
            "Bob\u{300}\u{300}\u{300}",
        ] {
            assert!(parse(odd).is_err(), "{odd:?} was taken as a name");
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
            ("Tom", "ТОМ"),        // Cyrillic capitals
            ("Tom", "TOΜ"),        // Greek capital Mu
            ("Tom", "TOM"),
        ] {
            assert!(looks_alike(a, b), "{a} and {b}");
            assert!(looks_alike(b, a), "{b} and {a}");
        }
        for (a, b) in [("Zoë", "Zoé"), ("Zoë", "Zoe"), ("System", "System\u{331}")] {
            assert!(
                looks_alike(a, b),
                "{a} and {b}: marks over letters are easily missed"
            );
        }
        for (a, b) in [("Alice", "Alicia"), ("I049", "I056"), ("Zoe", "Zoey")] {
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
