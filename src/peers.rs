//! `chat peers`: the chats that announce themselves on the local network,
//! as a table for people or JSON for scripts. Names come from the network,
//! so they are made safe before they are shown.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::net::discovery::{self, Found};
use crate::terminal::sanitize;

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

fn addresses(found: &Found) -> String {
    let list: Vec<String> = found.addresses.iter().map(|a| a.to_string()).collect();
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

/// A JSON string: quotes, backslashes and control characters escaped.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
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
    fn json_escapes_what_the_network_says() {
        assert_eq!(
            as_json(&[alice()]),
            "[{\"name\":\"alice \\\"a\\\"\\u000a\",\"addresses\":[\"10.0.0.1\"],\"port\":5050,\
             \"encrypted\":true,\"code\":false,\"room\":true}]\n"
        );
        assert_eq!(as_json(&[]), "[]\n");
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
