//! HTTP/1.1 as the page's server speaks it, pure: a request's head read
//! strictly from bytes (bounded, one length-counted body or none), and the
//! head of an answer with the headers that keep the page to itself.

use std::fmt::Write as _;

/// The longest request head read; a longer one is refused (431).
pub const MAX_HEAD: usize = 16 * 1024;

/// The most headers a request may have.
pub const MAX_HEADERS: usize = 32;

/// What every answer says besides its own headers: nothing from elsewhere
/// runs or loads, the page is framed nowhere, the address (which held the
/// secret) is never passed on, and nothing is kept in a cache.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
];

/// A request's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The target as sent: a path, with a query maybe.
    pub target: String,
    /// Names in lower case, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body's length: 0 without `Content-Length`.
    pub body: u64,
}

impl Head {
    /// The value of the header `name` (lower case), when sent once and as
    /// text; a header sent twice counts as not sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let (_, value) = values.next()?;
        match values.next() {
            Some(_) => None,
            None => std::str::from_utf8(value).ok(),
        }
    }

    /// The target's path, without its query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }
}

/// Why a request is refused, with the status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error(
        "the request's head is longer than {MAX_HEAD} bytes, or has over {MAX_HEADERS} headers"
    )]
    TooLarge,
    #[error("the request is not HTTP/1.1 as this server reads it")]
    Malformed,
    #[error("the request's body is not counted by one Content-Length")]
    Uncounted,
}

impl BadRequest {
    /// The status line's code and words.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            Self::TooLarge => (431, "Request Header Fields Too Large"),
            Self::Malformed => (400, "Bad Request"),
            Self::Uncounted => (411, "Length Required"),
        }
    }
}

/// Reads a request's head from the start of `bytes`: the head and where
/// its body starts, `Ok(None)` while more bytes are needed.
pub fn parse(bytes: &[u8]) -> Result<Option<(Head, usize)>, BadRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let end = match request.parse(bytes) {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Err(BadRequest::TooLarge);
        }
        Err(_) => return Err(BadRequest::Malformed),
    };
    if end > MAX_HEAD {
        return Err(BadRequest::TooLarge);
    }
    if request.version != Some(1) {
        return Err(BadRequest::Malformed);
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(BadRequest::Malformed);
    };
    let mut head = Head {
        method: method.to_string(),
        target: target.to_string(),
        headers: request
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect(),
        body: 0,
    };
    head.body = body_length(&head)?;
    Ok(Some((head, end)))
}

/// The body's length: one `Content-Length` of digits, or none and no body;
/// a chunked body is not taken.
fn body_length(head: &Head) -> Result<u64, BadRequest> {
    if head.headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(BadRequest::Uncounted);
    }
    let lengths = head
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .count();
    match (lengths, head.header("content-length")) {
        (0, _) => Ok(0),
        (1, Some(text)) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map_err(|_| BadRequest::Uncounted)
        }
        _ => Err(BadRequest::Uncounted),
    }
}

/// The head of an answer: its status, its own headers, a body of `length`
/// bytes (`None`: it lasts until the connection closes, as an event
/// stream does), and the security headers. The connection is not kept.
pub fn answer_head(
    (code, words): (u16, &str),
    headers: &[(&str, &str)],
    length: Option<u64>,
) -> String {
    let mut head = format!("HTTP/1.1 {code} {words}\r\n");
    for (name, value) in headers.iter().chain(SECURITY_HEADERS) {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if let Some(length) = length {
        let _ = write!(head, "Content-Length: {length}\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GET: &[u8] =
        b"GET /app.js?v=1 HTTP/1.1\r\nHost: 127.0.0.1:41234\r\nSec-Fetch-Site: same-origin\r\n\r\n";

    #[test]
    fn a_request_head_is_read_with_its_headers_and_where_the_body_starts() {
        let mut bytes = b"PUT /api/upload?name=a%20b HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        let (head, end) = parse(&bytes).unwrap().unwrap();
        assert_eq!((head.method.as_str(), head.path()), ("PUT", "/api/upload"));
        assert_eq!(head.header("host"), Some("127.0.0.1:1"));
        assert_eq!((head.body, &bytes[end..]), (3, &b"abc"[..]));
        bytes.truncate(20);
        assert_eq!(parse(&bytes), Ok(None));
        let (head, _) = parse(GET).unwrap().unwrap();
        assert_eq!(
            (head.body, head.header("sec-fetch-site")),
            (0, Some("same-origin"))
        );
    }

    #[test]
    fn requests_this_server_does_not_read_are_refused_with_their_status() {
        let cases: [(&[u8], BadRequest); 6] = [
            (b"GET / HTTP/1.0\r\n\r\n", BadRequest::Malformed),
            (b"GET / FTP/1.1\r\n\r\n", BadRequest::Malformed),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                BadRequest::Uncounted,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                BadRequest::Uncounted,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
                BadRequest::Uncounted,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                BadRequest::Uncounted,
            ),
        ];
        for (bytes, refusal) in cases {
            assert_eq!(
                parse(bytes),
                Err(refusal),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(parse(many.as_bytes()), Err(BadRequest::TooLarge));
        let endless = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&endless), Err(BadRequest::TooLarge));
        assert_eq!(BadRequest::TooLarge.status().0, 431);
    }

    #[test]
    fn a_header_sent_twice_counts_as_not_sent() {
        let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        let (head, _) = parse(bytes).unwrap().unwrap();
        assert_eq!(head.header("host"), None);
    }

    #[test]
    fn every_answer_carries_the_security_headers_and_closes() {
        let head = answer_head((200, "OK"), &[("Content-Type", "text/html")], Some(5));
        assert!(head.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"));
        assert!(head.contains("Content-Security-Policy: default-src 'none';"));
        assert!(head.contains("Referrer-Policy: no-referrer\r\n"));
        assert!(head.ends_with("Content-Length: 5\r\nConnection: close\r\n\r\n"));
        let stream = answer_head((200, "OK"), &[], None);
        assert!(!stream.contains("Content-Length"));
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_never_more(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(Some((head, end))) = parse(&bytes) {
                prop_assert!(end <= bytes.len() && end <= MAX_HEAD);
                prop_assert!(head.headers.len() <= MAX_HEADERS);
            }
        }

        #[test]
        fn a_head_split_anywhere_reads_the_same_once_whole(cut in 0..GET.len()) {
            let whole = parse(GET).unwrap();
            prop_assert_eq!(parse(&GET[..cut]), Ok(None));
            prop_assert!(whole.is_some());
        }
    }
}
