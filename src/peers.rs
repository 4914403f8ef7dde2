//! `chat peers`: the chats that announce themselves on the local network,
//! as a table for people or JSON for scripts. Names come from the network,
//! so they are made safe before they are shown.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::net::discovery::{self, Found};
use crate::wire::sanitize;

/// Looks for `wait`, then prints what answered.
pub fn list(json: bool, wait: Duration) -> Result<()> {
    let found = discovery::look(wait, |_| false, Duration::ZERO)?;
    let text = if json {
        as_json(&found)
    } else {
        as_table(&found)
    };
    io::stdout()
        .write_all(text.as_bytes())
        .context("cannot write the list")
}

fn as_table(found: &[Found]) -> String {
    if found.is_empty() {
        return "No chats announce themselves on this network.\n".to_string();
    }
    let rows: Vec<[String; 5]> = found
        .iter()
        .map(|f| {
            [
                sanitize::for_terminal(f.name.as_bytes()).into_owned(),
                addresses(f),
                f.port.to_string(),
                match (f.traits.encrypted, f.traits.code) {
                    (true, true) => "encrypted, code".to_string(),
                    (true, false) => "encrypted".to_string(),
                    (false, _) => "plain".to_string(),
                },
                if f.traits.room { "room" } else { "" }.to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "ADDRESS", "PORT", "WIRE", "ROOM"].map(str::to_string);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

/// The addresses a peer could be reached at from another machine: this
/// machine's own (loopback) and IPv6 link-local ones, which need an
/// interface named with them, are left out of the table when there are
/// others (`--json` lists every one).
fn addresses(found: &Found) -> String {
    let reachable = |a: &&IpAddr| match a {
        IpAddr::V4(v4) => !v4.is_loopback(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local(),
    };
    let mut shown: Vec<&IpAddr> = found.addresses.iter().filter(reachable).collect();
    if shown.is_empty() {
        shown = found.addresses.iter().collect();
    }
    let list: Vec<String> = shown.iter().map(|a| a.to_string()).collect();
    list.join(",")
}

fn as_json(found: &[Found]) -> String {
    let items: Vec<String> = found
        .iter()
        .map(|f| {
            let addresses: Vec<String> = f
                .addresses
                .iter()
                .map(|a| json_string(&a.to_string()))
                .collect();
            format!(
                "{{\"name\":{},\"addresses\":[{}],\"port\":{},\"encrypted\":{},\"code\":{},\"room\":{}}}",
                json_string(&f.name),
                addresses.join(","),
                f.port,
                f.traits.encrypted,
                f.traits.code,
                f.traits.room
            )
        })
        .collect();
    format!("[{}]\n", items.join(","))
}

/// A JSON string: quotes and backslashes escaped, and every character a
/// terminal would act on or that does not show (controls, C1 codes such as
/// U+009B, bidi overrides, zero-width characters), the ones the table view
/// makes visible, written as `\u` escapes: the JSON is as safe to print as
/// the table, and a parser reads the name back as announced.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || sanitize::is_unsafe_char(c) => {
                // Beyond the first plane, as the UTF-16 pair JSON spells it.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::discovery::Traits;

    fn alice() -> Found {
        Found {
            name: "alice \"a\"\n".into(),
            host: "box.local.".into(),
            addresses: vec!["10.0.0.1".parse().unwrap()],
            port: 5050,
            traits: Traits {
                encrypted: true,
                room: true,
                code: false,
            },
        }
    }

    #[test]
    fn the_table_shows_the_addresses_another_machine_can_use() {
        let mut found = alice();
        found.addresses = ["10.0.0.1", "127.0.0.1", "fe80::1", "2001:db8::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(addresses(&found), "10.0.0.1,2001:db8::1");
        found.addresses = vec!["127.0.0.1".parse().unwrap()];
        assert_eq!(addresses(&found), "127.0.0.1", "all there is");
    }

    #[test]
    fn json_escapes_what_the_network_says() {
        assert_eq!(
            as_json(&[alice()]),
            "[{\"name\":\"alice \\\"a\\\"\\u000a\",\"addresses\":[\"10.0.0.1\"],\"port\":5050,\
             \"encrypted\":true,\"code\":false,\"room\":true}]\n"
        );
        assert_eq!(as_json(&[]), "[]\n");
    }

    #[test]
    fn json_escapes_what_a_terminal_would_act_on_or_not_show() {
        let cases = [
            ("csi \u{9b}31m", "\"csi \\u009b31m\""),
            ("evil\u{202e}txt", "\"evil\\u202etxt\""),
            ("a\u{200b}b\u{feff}", "\"a\\u200bb\\ufeff\""),
            ("tab\tdel\u{7f}", "\"tab\\u0009del\\u007f\""),
            ("tag\u{e0041}", "\"tag\\udb40\\udc41\""),
            ("Daksh Ü 日本 ❤", "\"Daksh Ü 日本 ❤\""),
        ];
        for (name, json) in cases {
            assert_eq!(json_string(name), json, "{name:?}");
        }
    }

    /// Reads a JSON string as [`json_string`] writes it, for the property
    /// below: `None` if it is not one.
    fn read_json_string(json: &str) -> Option<String> {
        let inner = json.strip_prefix('"')?.strip_suffix('"')?;
        let mut units = Vec::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                units.extend(c.encode_utf16(&mut [0; 2]).iter());
                continue;
            }
            match chars.next()? {
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    units.push(u16::from_str_radix(&hex, 16).ok()?);
                }
                c @ ('"' | '\\') => units.push(c as u16),
                _ => return None,
            }
        }
        String::from_utf16(&units).ok()
    }

    proptest::proptest! {
        /// Whatever a name holds, its JSON reads back as the name, and holds
        /// nothing the table view would have escaped.
        #[test]
        fn json_names_read_back_and_are_safe_to_print(name in "(\\PC|\\pC|[\"\\\\\u{9b}\u{202e}])*") {
            let json = json_string(&name);
            proptest::prop_assert_eq!(read_json_string(&json), Some(name));
            proptest::prop_assert!(
                !json.chars().any(sanitize::is_unsafe_char),
                "{:?}", json
            );
        }
    }

    #[test]
    fn the_table_shows_names_safely() {
        let table = as_table(&[alice()]);
        assert!(!table.contains("\n\n"), "{table}");
        assert!(table.starts_with("NAME"), "{table}");
        assert!(table.contains("10.0.0.1"), "{table}");
        assert!(table.contains("encrypted"), "{table}");
    }
}
