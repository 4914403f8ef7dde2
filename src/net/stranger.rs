//! What the other end of a connection is likely to be when it is not a
//! chat, from the first bytes it sent instead of the encrypted greeting: a
//! web server answering on the port typed, an SSH server, a TLS service,
//! or a browser that came to a listening chat. Said so, a wrong port is
//! not taken for a chat that needs `--plain`.

/// What sent `first`, said for the user (`a web server`), when it is
/// recognisably a common service rather than the original chat or `nc`.
pub fn sounds_like(first: &[u8]) -> Option<&'static str> {
    let starts = |prefix: &[u8]| {
        first.len() >= prefix.len() && first[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let http_request = [
        "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ",
    ]
    .iter()
    .any(|method| starts(method.as_bytes()))
        && first.windows(6).any(|w| w == b" HTTP/");
    match first {
        // A status line, or a bare HTML page (Python's http.server answers
        // our greeting, which it reads as an old HTTP/0.9 request, so).
        _ if starts(b"HTTP/") || starts(b"<!DOCTYPE HTML") || starts(b"<html") => {
            Some("a web server (HTTP)")
        }
        _ if http_request => Some("a web browser or HTTP client"),
        _ if starts(b"SSH-") => Some("an SSH server"),
        // A TLS record: handshake (a client's hello) or alert (a server
        // refusing what it cannot read), in any version of TLS.
        [0x15 | 0x16, 0x03, 0x00..=0x04, ..] => Some("a TLS service (HTTPS or the like)"),
        _ if starts(b"220 ") || starts(b"220-") => Some("a mail or FTP server"),
        _ if starts(b"+OK") || starts(b"* OK") => Some("a mail server"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_services_are_recognised_by_their_first_bytes() {
        let web = Some("a web server (HTTP)");
        assert_eq!(sounds_like(b"HTTP/1.1 400 Bad Request\r\n"), web);
        assert_eq!(sounds_like(b"HTTP/1.0 200 OK\r\n"), web);
        assert_eq!(sounds_like(b"<!DOCTYPE HTML>\n"), web);
        assert_eq!(sounds_like(b"<!doctype html>\n"), web);
        assert_eq!(sounds_like(b"<html><head>\n"), web);
        assert_eq!(
            sounds_like(b"GET / HTTP/1.1\r\n"),
            Some("a web browser or HTTP client")
        );
        assert_eq!(
            sounds_like(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
            Some("an SSH server")
        );
        let tls = Some("a TLS service (HTTPS or the like)");
        assert_eq!(
            sounds_like(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]),
            tls
        );
        assert_eq!(sounds_like(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), tls);
        assert_eq!(
            sounds_like(b"220 mail.example.org ESMTP\r\n"),
            Some("a mail or FTP server")
        );
        assert_eq!(sounds_like(b"+OK POP3 ready\r\n"), Some("a mail server"));
    }

    #[test]
    fn chat_lines_and_other_text_are_not_taken_for_a_service() {
        for line in [
            &b"[Daksh] hello\n"[..],
            b"GET me a coffee\n",
            b"http is a protocol\n",
            b"",
            b"\x16",
            b"\x16\x04\x01",
            b"2200 lines\n",
        ] {
            assert_eq!(
                sounds_like(line),
                None,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    proptest! {
        /// Whatever a peer sends first, the answer comes without panicking,
        /// and only a line that starts as a service's does is taken for one.
        #[test]
        fn any_first_bytes_are_read_safely(first in prop::collection::vec(any::<u8>(), 0..300)) {
            if sounds_like(&first).is_some() {
                prop_assert!(first.len() >= 3);
            }
        }
    }
}
