//! The code for `--code`: a short secret two people share beforehand, so
//! that each side's handshake proves it reached the other and nobody between.

use std::fmt;
use std::str::FromStr;

use crate::wire::limits::MAX_CODE;

/// A code as both sides compare it: without surrounding whitespace and with
/// ASCII letters in lower case, so that `7-Guitar-Revenge` and
/// `7-guitar-revenge` are one code.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("the code is longer than {MAX_CODE} bytes")]
    TooLong,
}

impl Code {
    /// The code as typed, normalised: ASCII letters in lower case, and the
    /// words separated by one `-` whatever the user put between them
    /// (`7 Guitar  lantern` is `7-guitar-lantern`).
    pub fn new(text: &str) -> Result<Code, CodeError> {
        let code = text
            .split(|c: char| c.is_whitespace() || c == '-')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join("-")
            .to_ascii_lowercase();
        if code.is_empty() {
            Err(CodeError::Empty)
        } else if code.len() > MAX_CODE {
            Err(CodeError::TooLong)
        } else {
            Ok(Code(code))
        }
    }

    /// A fresh code such as `7-guitar-lantern`: a number from 1 to 999 and
    /// two words, almost 26 bits from the system's random generator. Each
    /// connection gives someone without the code one guess, so this is
    /// plenty for a code that is used once.
    pub fn generate() -> Code {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random).expect("the system's random generator works");
        let [n0, n1, n2, n3, n4, n5, n6, n7, first, second] = random;
        // The remainder's bias is below one in ten million billion.
        let number = u64::from_be_bytes([n0, n1, n2, n3, n4, n5, n6, n7]) % 999 + 1;
        let first = WORDS[usize::from(first)];
        let second = WORDS[usize::from(second)];
        Code(format!("{number}-{first}-{second}"))
    }

    /// The code's number, its first word when that is all digits: the
    /// only part the mailbox sees (its nameplate).
    pub fn nameplate(&self) -> Option<&str> {
        let first = self.0.split('-').next()?;
        let digits =
            !first.is_empty() && first.len() <= 16 && first.bytes().all(|b| b.is_ascii_digit());
        digits.then_some(first)
    }

    /// This code with its number replaced by `number` (what the mailbox
    /// allocated), or put in front if it has none.
    pub fn numbered(&self, number: &str) -> Code {
        let words = match self.nameplate() {
            Some(old) => &self.0[old.len()..],
            None => &format!("-{}", self.0)[..],
        };
        Code(format!("{number}{words}"))
    }

    /// The bytes both sides feed to the key exchange.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for Code {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Code, CodeError> {
        Code::new(text)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Kept out of debugging output, which may end up in a log.
impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(..)")
    }
}

/// Words for generated codes: one per byte value, common, short, easy to
/// spell and to say, and none sounding like another.
const WORDS: [&str; 256] = [
    "acorn", "anchor", "apple", "apricot", "arrow", "badge", "bagel", "balloon", "bamboo",
    "banana", "banjo", "barn", "barrel", "basket", "beach", "beetle", "bicycle", "bison",
    "blanket", "blossom", "boat", "boot", "bottle", "bowl", "bracelet", "branch", "bridge",
    "broom", "brush", "bubble", "bucket", "bugle", "bus", "butter", "button", "cabbage", "cabin",
    "cactus", "cake", "camel", "camera", "canary", "candle", "canoe", "canyon", "carpet", "carrot",
    "castle", "cheese", "cherry", "chess", "chimney", "circle", "cliff", "clock", "cloud",
    "clover", "coconut", "comb", "comet", "compass", "cookie", "copper", "cotton", "cradle",
    "crayon", "cricket", "crystal", "cup", "curtain", "daisy", "diamond", "dolphin", "donkey",
    "dragon", "drum", "eagle", "engine", "falcon", "feather", "fern", "ferret", "field", "flute",
    "forest", "fork", "fountain", "fox", "frog", "galaxy", "garden", "garlic", "gecko", "ginger",
    "giraffe", "glove", "goat", "goose", "grape", "grass", "guitar", "hammer", "hamster", "harp",
    "hat", "hedgehog", "helmet", "heron", "hill", "honey", "igloo", "jacket", "jaguar", "jar",
    "jigsaw", "jungle", "kettle", "kite", "kitten", "koala", "ladder", "lagoon", "lake", "lamp",
    "lantern", "leaf", "lemon", "lily", "lion", "lizard", "lobster", "lotus", "magnet", "magpie",
    "mango", "maple", "marble", "market", "meadow", "melon", "meteor", "mirror", "mitten",
    "monkey", "moon", "moss", "mountain", "muffin", "mug", "museum", "needle", "noodle",
    "notebook", "oak", "ocean", "olive", "onion", "orange", "orbit", "otter", "owl", "paddle",
    "palace", "pancake", "panda", "parrot", "pasta", "peanut", "pebble", "pelican", "pen",
    "pencil", "penguin", "pepper", "piano", "pickle", "pillow", "pine", "pizza", "planet", "pond",
    "pony", "puffin", "pumpkin", "puzzle", "rabbit", "radish", "rainbow", "raisin", "ribbon",
    "rice", "river", "robin", "rocket", "rope", "saddle", "salad", "salmon", "sand", "school",
    "shark", "sheep", "shovel", "sled", "snail", "snow", "soap", "sock", "soup", "spider",
    "spinach", "spoon", "squid", "stamp", "star", "stone", "storm", "sugar", "sunset", "swan",
    "sweater", "table", "teapot", "temple", "tent", "thunder", "ticket", "tiger", "toucan",
    "tower", "tractor", "train", "truck", "trumpet", "tuba", "tulip", "tuna", "tunnel", "turtle",
    "umbrella", "valley", "velvet", "village", "violin", "volcano", "waffle", "wagon", "wallet",
    "walnut", "walrus", "whistle", "willow", "window", "wolf", "zebra", "zipper",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn case_and_surrounding_whitespace_do_not_matter() {
        let typed = Code::new("  7-Guitar-Revenge\n").unwrap();
        assert_eq!(typed, Code::new("7-guitar-revenge").unwrap());
        assert_eq!(typed.to_string(), "7-guitar-revenge");
        assert_eq!(typed.as_bytes(), b"7-guitar-revenge");
        assert_ne!(typed, Code::new("7-guitar-revenges").unwrap());
        assert_ne!(typed, Code::new("7-guitar-avenge").unwrap());
    }

    #[test]
    fn empty_and_over_long_codes_are_refused() {
        assert_eq!(Code::new(""), Err(CodeError::Empty));
        assert_eq!(Code::new(" \t\n"), Err(CodeError::Empty));
        assert!(Code::new(&"x".repeat(MAX_CODE)).is_ok());
        assert_eq!(
            Code::new(&"x".repeat(MAX_CODE + 1)),
            Err(CodeError::TooLong)
        );
        assert!(Code::new(&format!("  {}  ", "x".repeat(MAX_CODE))).is_ok());
        assert_eq!("".parse::<Code>(), Err(CodeError::Empty));
    }

    #[test]
    fn debugging_output_does_not_show_the_code() {
        let code = Code::new("7-guitar-revenge").unwrap();
        assert!(!format!("{code:?}").contains("guitar"));
    }

    #[test]
    fn the_word_list_has_256_distinct_short_lowercase_words() {
        let distinct: HashSet<_> = WORDS.iter().collect();
        assert_eq!(distinct.len(), 256);
        for word in WORDS {
            assert!((3..=8).contains(&word.len()), "{word}");
            assert!(word.bytes().all(|b| b.is_ascii_lowercase()), "{word}");
        }
        // A number from 1 to 999 and two words of eight bits each.
        let bits = 999f64.log2() + 2.0 * (WORDS.len() as f64).log2();
        assert!(bits >= 25.0, "{bits}");
    }

    #[test]
    fn generated_codes_are_a_number_and_two_listed_words() {
        for _ in 0..100 {
            let code = Code::generate();
            let text = code.to_string();
            let parts: Vec<&str> = text.split('-').collect();
            assert_eq!(parts.len(), 3, "{text}");
            let number: u16 = parts[0].parse().unwrap();
            assert!((1..=999).contains(&number), "{text}");
            assert_eq!(parts[0], number.to_string(), "{text}");
            assert!(
                WORDS.contains(&parts[1]) && WORDS.contains(&parts[2]),
                "{text}"
            );
            assert_eq!(Code::new(&text), Ok(code));
        }
    }

    #[test]
    fn two_generated_codes_differ() {
        assert_ne!(Code::generate(), Code::generate());
    }

    #[test]
    fn spaces_and_dashes_between_words_do_not_matter() {
        let typed = [
            "7 guitar lantern",
            "7-guitar--lantern",
            " 7 - Guitar\tlantern-",
        ];
        for text in typed {
            assert_eq!(
                Code::new(text).unwrap(),
                Code::new("7-guitar-lantern").unwrap()
            );
        }
        assert!(Code::new(" - ").is_err());
    }
}
