//! What `chat connect` is pointed at: an address (`192.168.1.20`,
//! `[::1]:6000`, `localhost:5050`, `box.example.org`) or the name a chat
//! announces on the local network (`alice`, `Daksh K.`).
//!
//! A name may hold almost anything (up to 32 characters, spaces and dots
//! included), so what is taken as an address is what a chat's name is
//! rarely like and a host is: an IP address, `localhost`, anything with a
//! port after a colon (`HOST:PORT`, `[V6]:PORT`), or a port given apart.
//! A dotted host name (`box.local`, `example.org`) may be either: it is
//! taken as a host when it resolves, and looked for as a name when not.
//! A one-word host name (`raspberrypi`) reads as a name: a port after it
//! (`raspberrypi 5050`) makes it a host.

use std::net::{IpAddr, Ipv6Addr};

/// The argument as typed, with the port it carried (`HOST:PORT`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The host or name, without the `:PORT`; an IPv6 address keeps its
    /// brackets when it had them.
    pub text: String,
    pub port: Option<u16>,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Address {
        host: String,
        port: u16,
    },
    /// A name announced on the local network. `may_be_host` when it is also
    /// written as a dotted host name, tried as one first if it resolves.
    Name {
        name: String,
        may_be_host: bool,
    },
}

/// Reads `chat connect`'s first argument: `HOST:PORT` and `[V6]:PORT` carry
/// a port; anything else is taken whole. A port that is not one is an
/// error, said for the user.
pub fn given(arg: &str) -> Result<Given, String> {
    let arg = arg.trim();
    let whole = || Given {
        text: arg.to_string(),
        port: None,
    };
    if arg.parse::<IpAddr>().is_ok() {
        return Ok(whole());
    }
    let (host, port) = if let Some(rest) = arg.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Ok(whole());
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "{arg}: brackets hold an IPv6 address, as in [::1]:5050"
            ));
        }
        match after {
            "" => return Ok(whole()),
            _ => match after.strip_prefix(':') {
                Some(port) => (&arg[..inside.len() + 2], port),
                None => return Err(format!("{arg}: write a port as [V6]:PORT")),
            },
        }
    } else {
        match arg.rsplit_once(':') {
            Some((host, port))
                if is_number(port) && (is_host_name(host) || host.parse::<IpAddr>().is_ok()) =>
            {
                (host, port)
            }
            // A name with a colon in it, as names may have.
            _ => return Ok(whole()),
        }
    };
    Ok(Given {
        text: host.to_string(),
        port: Some(port_number(port)?),
    })
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A port as typed after a colon.
fn port_number(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{text:?} is not a port (1 to 65535)")),
    }
}

/// Where `chat connect` goes: `given` with the port given apart (`HOST
/// PORT` or `--port`), if any; without any port an address takes
/// `default_port`.
pub fn target(given: Given, port: Option<u16>, default_port: u16) -> Target {
    let Given { text, port: own } = given;
    if let Some(port) = own.or(port) {
        return Target::Address { host: text, port };
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(&text);
    let lower = text.to_ascii_lowercase();
    let local = lower == "localhost" || lower.ends_with(".localhost");
    if bare.parse::<IpAddr>().is_ok() || local {
        return Target::Address {
            host: text,
            port: default_port,
        };
    }
    let may_be_host = text.contains('.') && is_host_name(&text);
    Target::Name {
        name: text,
        may_be_host,
    }
}

/// Whether `text` is written as a host name is (RFC 1123): labels of ASCII
/// letters, digits and inner hyphens, 63 characters at most, joined by
/// dots, with an optional dot at the end.
pub fn is_host_name(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to(arg: &str, port: Option<u16>) -> Target {
        target(given(arg).unwrap(), port, 5050)
    }

    fn address(host: &str, port: u16) -> Target {
        Target::Address {
            host: host.into(),
            port,
        }
    }

    fn name(name: &str, may_be_host: bool) -> Target {
        Target::Name {
            name: name.into(),
            may_be_host,
        }
    }

    #[test]
    fn addresses_are_taken_as_people_write_them() {
        assert_eq!(to("127.0.0.1:6000", None), address("127.0.0.1", 6000));
        assert_eq!(to("[::1]:6000", None), address("[::1]", 6000));
        assert_eq!(to("localhost:6000", None), address("localhost", 6000));
        assert_eq!(to("box.lan:6000", None), address("box.lan", 6000));
        assert_eq!(to("alice:6000", None), address("alice", 6000));
        assert_eq!(to("127.0.0.1", None), address("127.0.0.1", 5050));
        assert_eq!(to("::1", None), address("::1", 5050));
        assert_eq!(to("fe80::1:5050", None), address("fe80::1:5050", 5050));
        assert_eq!(to("[::1]", None), address("[::1]", 5050));
        assert_eq!(to("localhost", None), address("localhost", 5050));
        assert_eq!(to("LocalHost", None), address("LocalHost", 5050));
        assert_eq!(to("app.localhost", None), address("app.localhost", 5050));
        // A port given apart makes anything a host.
        assert_eq!(to("raspberrypi", Some(22)), address("raspberrypi", 22));
        assert_eq!(to("127.0.0.1", Some(6000)), address("127.0.0.1", 6000));
    }

    #[test]
    fn names_stay_names_and_dotted_host_names_may_be_either() {
        assert_eq!(to("alice", None), name("alice", false));
        assert_eq!(to("Daksh K.", None), name("Daksh K.", false));
        assert_eq!(to("I049 (2)", None), name("I049 (2)", false));
        assert_eq!(to("team: red", None), name("team: red", false));
        assert_eq!(to("ratio 16:9", None), name("ratio 16:9", false));
        assert_eq!(to("alice:x", None), name("alice:x", false));
        assert_eq!(to("box.local", None), name("box.local", true));
        assert_eq!(to("example.org.", None), name("example.org.", true));
        assert_eq!(to("d.k.", None), name("d.k.", true));
    }

    #[test]
    fn a_port_that_is_not_one_is_said() {
        for bad in [
            "127.0.0.1:70000",
            "localhost:0",
            "box:99999",
            "[::1]:x",
            "[::1]:",
        ] {
            let err = given(bad).unwrap_err();
            assert!(err.contains("is not a port (1 to 65535)"), "{bad}: {err}");
        }
        assert!(given("[alice]:5050").unwrap_err().contains("IPv6"));
        assert!(given("[::1]5050").unwrap_err().contains("[V6]:PORT"));
    }

    #[test]
    fn host_names_are_told_by_their_form() {
        for ok in ["a", "box.local", "x-1.example.org", "example.org.", "1.2.3"] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in ["", ".", "a..b", "-a.b", "a-.b", "a b", "ü.de", "a_b.c"] {
            assert!(!is_host_name(bad), "{bad}");
        }
        assert!(!is_host_name(&format!("{}.org", "a".repeat(64))));
    }

    proptest! {
        /// Whatever is typed, reading it never fails but for a bad port, and
        /// what it is taken for keeps the text as typed (trimmed), less the
        /// port it carried.
        #[test]
        fn any_argument_is_an_address_or_a_name(arg in "(\\PC|[:\\[\\]. ]){0,40}") {
            let Ok(read) = given(&arg) else {
                prop_assert!(arg.contains(':') || arg.contains('['), "{:?}", arg);
                return Ok(());
            };
            let text = read.text.clone();
            prop_assert!(arg.trim().starts_with(&text));
            match target(read, None, 5050) {
                Target::Address { host, .. } => prop_assert_eq!(host, text),
                Target::Name { name, .. } => prop_assert_eq!(name, arg.trim()),
            }
        }
    }
}
