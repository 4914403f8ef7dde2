//! Reading the user's input on a thread of its own, so the conversation
//! can react to the peer while the user is not typing: piped lines in
//! batches with a ticket each, or the line editor's entries, handed to the
//! engine as its news.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::Sender;

use anyhow::Result;

use crate::session::News;
use crate::session::input::{MAX_INPUT_LINE, Tickets};
use crate::session::user::Leaving;
use crate::terminal::console::{EditorStop, Entry, Input, LineEditor};
use crate::threads::spawn;

/// Bytes of input handed to the main loop in one batch, at most (plus the
/// line that crosses the mark).
const INPUT_BATCH: usize = 64 * 1024;

/// Starts reading `input`. Returns the means to stop the line editor in
/// interactive mode.
///
/// A thread blocked reading a pipe cannot be interrupted portably, so in
/// pipe mode the thread is not joined: it ends with the process.
pub fn spawn_input(
    input: Input,
    events: Sender<News>,
    tickets: Tickets,
) -> Result<Option<EditorStop>> {
    match input {
        Input::Lines(lines) => {
            spawn("input", move || read_lines(lines, &events, &tickets))?;
            Ok(None)
        }
        Input::Editor(editor) => {
            let (stop, done) = EditorStop::new(&editor);
            spawn("input", move || {
                let _done = done;
                edit_lines(*editor, &events);
            })?;
            Ok(Some(stop))
        }
    }
}

fn read_lines(
    mut lines: BufReader<Box<dyn Read + Send>>,
    events: &Sender<News>,
    tickets: &Tickets,
) {
    loop {
        let Some(ticket) = tickets.take() else {
            return;
        };
        // Lines already read in together go on together: piped input costs
        // one hand-over per buffer, not one per line.
        let mut batch = Vec::new();
        let mut too_long = Vec::new();
        let ended = loop {
            let buffered = match lines.fill_buf() {
                Ok([]) | Err(_) => break true,
                Ok(buffered) => buffered,
            };
            match buffered.iter().rposition(|&b| b == b'\n') {
                Some(last) => {
                    batch.extend_from_slice(&buffered[..=last]);
                    lines.consume(last + 1);
                }
                // A line that does not fit the buffer is taken on its own,
                // within the limit.
                None => match take_line(&mut lines, &mut batch, MAX_INPUT_LINE) {
                    Ok(Taken::Line) => {}
                    Ok(Taken::TooLong(len)) => too_long.push(len),
                    // An unreadable input ends like a closed one.
                    Ok(Taken::End) | Err(_) => break true,
                },
            }
            if batch.len() >= INPUT_BATCH || !too_long.is_empty() || lines.buffer().is_empty() {
                break false;
            }
        };
        if !batch.is_empty() && events.send(News::Input(batch, Some(ticket))).is_err() {
            return;
        }
        for len in too_long {
            if events.send(News::InputTooLong(len)).is_err() {
                return;
            }
        }
        if ended {
            let _ = events.send(News::InputEnded);
            return;
        }
    }
}

/// What [`take_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Taken {
    /// A line, appended with its newline (or without one at the end of
    /// the input).
    Line,
    /// A line of this many bytes, over the limit: skipped, newline and all.
    TooLong(u64),
    /// The input ended before another byte.
    End,
}

/// Appends the next line to `batch` unless it has more than `limit` bytes
/// before its line ending (`\n` or `\r\n`); such a line is read to its end
/// and dropped, holding no more than the reader's buffer of it at any time.
fn take_line(input: &mut impl BufRead, batch: &mut Vec<u8>, limit: usize) -> io::Result<Taken> {
    // While streaming, room for a `\r` before the newline, which is no part
    // of the line; a whole line is measured without it.
    let streaming_limit = limit + 1;
    let start = batch.len();
    let mut skipped: Option<u64> = None;
    let mut ends_in_cr = false;
    loop {
        let buffered = match input.fill_buf() {
            Ok(buffered) => buffered,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffered.is_empty() {
            return Ok(match skipped {
                Some(len) => Taken::TooLong(len),
                None if batch.len() > start => Taken::Line,
                None => Taken::End,
            });
        }
        let (piece, complete) = match buffered.iter().position(|&b| b == b'\n') {
            Some(newline) => (&buffered[..newline], true),
            None => (buffered, false),
        };
        let used = piece.len() + usize::from(complete);
        if let Some(&last) = piece.last() {
            ends_in_cr = last == b'\r';
        }
        match &mut skipped {
            Some(len) => *len += piece.len() as u64,
            None if batch.len() - start + piece.len() > streaming_limit => {
                skipped = Some((batch.len() - start + piece.len()) as u64);
                batch.truncate(start);
            }
            None => batch.extend_from_slice(&buffered[..used]),
        }
        input.consume(used);
        if complete {
            let len = match skipped {
                Some(len) => len,
                // Without its newline, which was taken too.
                None => (batch.len() - start - 1) as u64,
            } - u64::from(ends_in_cr);
            if len > limit as u64 {
                batch.truncate(start);
                return Ok(Taken::TooLong(len));
            }
            return Ok(Taken::Line);
        }
    }
}

fn edit_lines(editor: LineEditor, events: &Sender<News>) {
    // A person types far slower than any peer reads: lines from the editor
    // need no tickets, and the editor never waits for one.
    editor.run(|entry| events.send(event_of(entry)).is_ok());
    let _ = events.send(News::InputEnded);
}

/// What the main loop hears of what the user did at the prompt. A line
/// with a line break inside was pasted, and goes whole.
fn event_of(entry: Entry) -> News {
    match entry {
        Entry::Line(line) if line.contains('\n') => News::Pasted(line),
        Entry::Line(line) => {
            let mut line = line.into_bytes();
            line.push(b'\n');
            News::Input(line, None)
        }
        Entry::Interrupt => News::Leave(Leaving::CtrlC),
        Entry::EndOfInput => News::Leave(Leaving::CtrlD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(input: &[u8], capacity: usize, limit: usize) -> (Vec<u8>, Vec<u64>) {
        let mut reader = BufReader::with_capacity(capacity, input);
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        loop {
            match take_line(&mut reader, &mut kept, limit).unwrap() {
                Taken::Line => {}
                Taken::TooLong(len) => dropped.push(len),
                Taken::End => return (kept, dropped),
            }
        }
    }

    #[test]
    fn long_lines_are_dropped_and_the_rest_kept() {
        let input = b"short\nthis one is long\nok\nend";
        assert_eq!(
            lines_of(input, 4, 5),
            (b"short\nok\nend".to_vec(), vec![16])
        );
        assert_eq!(lines_of(b"", 4, 5), (Vec::new(), Vec::new()));
        assert_eq!(lines_of(b"exactly8\n", 3, 8).0, b"exactly8\n");
        assert_eq!(lines_of(b"exactly8\r\n", 3, 8).0, b"exactly8\r\n");
        assert_eq!(
            lines_of(b"too long!\r\nok\n", 3, 8),
            (b"ok\n".to_vec(), vec![9])
        );
        assert_eq!(
            lines_of(b"too long!\nok\n", 3, 8),
            (b"ok\n".to_vec(), vec![9])
        );
    }

    #[test]
    fn an_endless_line_is_skipped_in_bounded_memory() {
        struct Zeros(u64);
        impl Read for Zeros {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(0);
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let mut reader =
            BufReader::with_capacity(64 * 1024, Zeros(100 << 20).chain(&b"\nhi\n"[..]));
        let mut batch = Vec::new();
        assert_eq!(
            take_line(&mut reader, &mut batch, MAX_INPUT_LINE).unwrap(),
            Taken::TooLong(100 << 20)
        );
        assert!(batch.capacity() <= 2 * MAX_INPUT_LINE);
        assert_eq!(
            take_line(&mut reader, &mut batch, MAX_INPUT_LINE).unwrap(),
            Taken::Line
        );
        assert_eq!(batch, b"hi\n");
    }

    proptest! {
        #[test]
        fn lines_within_the_limit_pass_whole_whatever_the_buffer(
            lines in proptest::collection::vec(("[a-z]{0,12}", any::<bool>()), 0..20),
            capacity in 1usize..16,
            limit in 0usize..12,
        ) {
            let wire = |(l, crlf): &(String, bool)| {
                format!("{l}{}", if *crlf { "\r\n" } else { "\n" }).into_bytes()
            };
            let input: Vec<u8> = lines.iter().flat_map(wire).collect();
            let (kept, dropped) = lines_of(&input, capacity, limit);
            let expected_kept: Vec<u8> = lines
                .iter()
                .filter(|(l, _)| l.len() <= limit)
                .flat_map(wire)
                .collect();
            let expected_dropped: Vec<u64> = lines
                .iter()
                .filter(|(l, _)| l.len() > limit)
                .map(|(l, _)| l.len() as u64)
                .collect();
            prop_assert_eq!(kept, expected_kept);
            prop_assert_eq!(dropped, expected_dropped);
        }
    }
}
