//! What the mailbox server says, read into typed values, and what we say
//! to it (PROTOCOL.md 3.10: JSON objects, one per WebSocket message). A
//! server, or whatever answers at its address, may send anything: every
//! field is checked, unknown types and fields are ignored.

use serde_json::{Value, json};

use crate::wire::limits::MAX_MAILBOX_BODY;

/// One message from the mailbox server that we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromServer {
    /// The first thing the server says; `refusal` when it turns every
    /// client away (its `error`), `motd` its message of the day.
    Welcome {
        refusal: Option<String>,
        motd: Option<String>,
    },
    /// The nameplate `allocate` gave us.
    Allocated {
        nameplate: String,
    },
    /// The mailbox our nameplate points to.
    Claimed {
        mailbox: String,
    },
    Released,
    Closed,
    /// A message added to our mailbox by `side` (ours too: the echo).
    Message {
        side: String,
        phase: String,
        body: Vec<u8>,
    },
    /// The server refused a command: `error` says why, `command` is the
    /// type of the command it refused, when it says.
    Error {
        error: String,
        command: Option<String>,
    },
    /// An acknowledgement, a pong, a list or any type we do not use.
    Other,
}

/// Why a message from the server was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the mailbox server sent something that is not JSON")]
    NotJson,
    #[error("the mailbox server sent a {0:?} message without its fields")]
    Missing(&'static str),
    #[error("the mailbox server sent a message body that is not hex")]
    BadBody,
    #[error("the mailbox server sent a message over {MAX_MAILBOX_BODY} bytes")]
    TooLong,
}

/// Reads one message from the server.
pub fn decode(text: &str) -> Result<FromServer, Malformed> {
    let value: Value = serde_json::from_str(text).map_err(|_| Malformed::NotJson)?;
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let needed = |name: &str, kind: &'static str| field(name).ok_or(Malformed::Missing(kind));
    Ok(match field("type") {
        Some("welcome") => {
            let welcome = value.get("welcome");
            let text = |name| {
                welcome
                    .and_then(|w| w.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            FromServer::Welcome {
                refusal: text("error"),
                motd: text("motd"),
            }
        }
        Some("allocated") => FromServer::Allocated {
            nameplate: needed("nameplate", "allocated")?.to_string(),
        },
        Some("claimed") => FromServer::Claimed {
            mailbox: needed("mailbox", "claimed")?.to_string(),
        },
        Some("released") => FromServer::Released,
        Some("closed") => FromServer::Closed,
        Some("message") => FromServer::Message {
            side: needed("side", "message")?.to_string(),
            phase: needed("phase", "message")?.to_string(),
            body: unhex(needed("body", "message")?)?,
        },
        Some("error") => FromServer::Error {
            error: field("error").unwrap_or("no reason given").to_string(),
            command: value
                .get("orig")
                .and_then(|orig| orig.get("type"))
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        _ => FromServer::Other,
    })
}

fn unhex(text: &str) -> Result<Vec<u8>, Malformed> {
    if text.len() > 2 * MAX_MAILBOX_BODY {
        return Err(Malformed::TooLong);
    }
    if !text.len().is_multiple_of(2) {
        return Err(Malformed::BadBody);
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(Malformed::BadBody)
        })
        .collect()
}

/// Bytes as lower-case hex, as message bodies travel.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A command for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToServer<'a> {
    Bind { appid: &'a str, side: &'a str },
    Allocate,
    Claim { nameplate: &'a str },
    Open { mailbox: &'a str },
    Add { phase: &'a str, body: &'a [u8] },
    Release { nameplate: &'a str },
    Close { mailbox: &'a str, mood: &'a str },
}

/// The command as the server reads it, numbered `id`.
pub fn encode(command: &ToServer, id: u32) -> String {
    let id = format!("{id:04x}");
    let value = match command {
        ToServer::Bind { appid, side } => json!({
            "type": "bind", "appid": appid, "side": side,
            "client_version": ["chat", env!("CARGO_PKG_VERSION")], "id": id,
        }),
        ToServer::Allocate => json!({"type": "allocate", "id": id}),
        ToServer::Claim { nameplate } => {
            json!({"type": "claim", "nameplate": nameplate, "id": id})
        }
        ToServer::Open { mailbox } => json!({"type": "open", "mailbox": mailbox, "id": id}),
        ToServer::Add { phase, body } => {
            json!({"type": "add", "phase": phase, "body": hex(body), "id": id})
        }
        ToServer::Release { nameplate } => {
            json!({"type": "release", "nameplate": nameplate, "id": id})
        }
        ToServer::Close { mailbox, mood } => {
            json!({"type": "close", "mailbox": mailbox, "mood": mood, "id": id})
        }
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_servers_messages_are_read() {
        let welcome = r#"{"type":"welcome","welcome":{"motd":"hi","your-address":{"ipv4":"1.2.3.4","port":5}},"server_tx":1.5}"#;
        assert_eq!(
            decode(welcome),
            Ok(FromServer::Welcome {
                refusal: None,
                motd: Some("hi".into())
            })
        );
        let message = r#"{"type":"message","side":"ab","phase":"pake","body":"00ff7A","id":"05"}"#;
        assert_eq!(
            decode(message),
            Ok(FromServer::Message {
                side: "ab".into(),
                phase: "pake".into(),
                body: vec![0, 255, 122]
            })
        );
        let crowded =
            r#"{"type":"error","error":"crowded","orig":{"type":"claim","nameplate":"2"}}"#;
        assert_eq!(
            decode(crowded),
            Ok(FromServer::Error {
                error: "crowded".into(),
                command: Some("claim".into())
            })
        );
        assert_eq!(decode(r#"{"type":"ack","id":"01"}"#), Ok(FromServer::Other));
        assert_eq!(decode(r#"{"type":"future"}"#), Ok(FromServer::Other));
    }

    #[test]
    fn what_is_not_a_message_is_refused() {
        assert_eq!(decode("not json"), Err(Malformed::NotJson));
        assert_eq!(
            decode(r#"{"type":"claimed"}"#),
            Err(Malformed::Missing("claimed"))
        );
        for body in ["0", "zz", "+1", "é1"] {
            let text = format!(r#"{{"type":"message","side":"a","phase":"p","body":"{body}"}}"#);
            assert_eq!(decode(&text), Err(Malformed::BadBody), "{body}");
        }
        let long = "00".repeat(MAX_MAILBOX_BODY + 1);
        let text = format!(r#"{{"type":"message","side":"a","phase":"p","body":"{long}"}}"#);
        assert_eq!(decode(&text), Err(Malformed::TooLong));
    }

    #[test]
    fn commands_carry_their_fields() {
        let add = encode(
            &ToServer::Add {
                phase: "pake",
                body: &[1, 171],
            },
            10,
        );
        let value: Value = serde_json::from_str(&add).unwrap();
        assert_eq!(value["type"], "add");
        assert_eq!(value["body"], "01ab");
        assert_eq!(value["id"], "000a");
        let bind = encode(
            &ToServer::Bind {
                appid: "x/y",
                side: "s",
            },
            1,
        );
        let value: Value = serde_json::from_str(&bind).unwrap();
        assert_eq!(
            (&value["appid"], &value["side"]),
            (&json!("x/y"), &json!("s"))
        );
    }

    proptest! {
        /// Whatever the server sends, reading it never panics.
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,200}") {
            let _ = decode(&text);
        }

        /// A body we add is read back as it was by the side that gets it.
        #[test]
        fn bodies_travel_unchanged(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let added: Value = serde_json::from_str(
                &encode(&ToServer::Add { phase: "0", body: &body }, 1)).unwrap();
            let echoed = json!({"type": "message", "side": "s", "phase": "0",
                                "body": added["body"]});
            prop_assert_eq!(
                decode(&echoed.to_string()),
                Ok(FromServer::Message { side: "s".into(), phase: "0".into(), body })
            );
        }
    }
}
