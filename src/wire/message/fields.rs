//! The fields messages are made of, each checked against its limits when
//! read, and cut to fit them when written.

use super::{FileId, Message, MessageError};

/// Decodes a text after its one-byte length, and returns what follows it.
pub(super) fn counted<'a>(
    what: &'static str,
    body: &'a [u8],
    min: usize,
    max: usize,
) -> Result<(&'a str, &'a [u8]), MessageError> {
    let (&len, rest) = body.split_first().ok_or(MessageError::BadLength(what))?;
    let (field, rest) = rest
        .split_at_checked(usize::from(len))
        .ok_or(MessageError::BadLength(what))?;
    Ok((text(what, field, min, max)?, rest))
}

/// Appends `field`, cut to `max` (at most 255) bytes, after its length.
pub(super) fn put_counted(out: &mut Vec<u8>, field: &str, max: usize) {
    let field = cut(field, max.min(255));
    out.push(field.len() as u8);
    out.extend_from_slice(field.as_bytes());
}

/// A message with nothing after its type.
pub(super) fn bare<'a>(
    what: &'static str,
    body: &[u8],
    message: Message<'a>,
) -> Result<Message<'a>, MessageError> {
    match body {
        [] => Ok(message),
        _ => Err(MessageError::BadLength(what)),
    }
}

pub(super) fn id<'a>(
    what: &'static str,
    body: &'a [u8],
) -> Result<(FileId, &'a [u8]), MessageError> {
    let (id, rest) = body
        .split_first_chunk::<4>()
        .ok_or(MessageError::BadLength(what))?;
    Ok((FileId::from_be_bytes(*id), rest))
}

pub(super) fn u64_field<'a>(
    what: &'static str,
    body: &'a [u8],
) -> Result<(u64, &'a [u8]), MessageError> {
    let (n, rest) = body
        .split_first_chunk::<8>()
        .ok_or(MessageError::BadLength(what))?;
    Ok((u64::from_be_bytes(*n), rest))
}

/// A 32-byte field (an identity key) first in `body`, and what follows.
pub(super) fn key_field<'a>(
    what: &'static str,
    body: &'a [u8],
) -> Result<([u8; 32], &'a [u8]), MessageError> {
    let (key, rest) = body
        .split_first_chunk::<32>()
        .ok_or(MessageError::BadLength(what))?;
    Ok((*key, rest))
}

pub(super) fn bare_id(what: &'static str, body: &[u8]) -> Result<FileId, MessageError> {
    match id(what, body)? {
        (id, []) => Ok(id),
        _ => Err(MessageError::BadLength(what)),
    }
}

pub(super) fn text<'a>(
    what: &'static str,
    bytes: &'a [u8],
    min: usize,
    max: usize,
) -> Result<&'a str, MessageError> {
    if !(min..=max).contains(&bytes.len()) {
        return Err(MessageError::BadLength(what));
    }
    std::str::from_utf8(bytes).map_err(|_| MessageError::NotUtf8(what))
}

/// The longest start of `text` of at most `max` bytes.
pub(super) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::limits::MAX_NAME;

    #[test]
    fn over_long_fields_are_cut_at_a_character_boundary() {
        let name = "é".repeat(MAX_NAME);
        let mut bytes = Vec::new();
        Message::Hello { name: &name }.encode(&mut bytes);
        match Message::decode(&bytes).unwrap() {
            Message::Hello { name } => assert_eq!(name, "é".repeat(MAX_NAME / 2)),
            other => panic!("{other:?}"),
        }
    }
}
