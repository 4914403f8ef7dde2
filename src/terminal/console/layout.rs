//! Where the prompt and the input line fall on the terminal: its size,
//! the rows a line takes as the editor lays it out, and the moves that
//! wipe a line typed or put a re-wrapped one back.

use std::io::{self, Write};

use unicode_width::UnicodeWidthChar;

use super::PROMPT;

/// The terminal's width in columns.
pub(super) fn columns() -> usize {
    rustix::termios::tcgetwinsize(io::stdout())
        .map(|size| usize::from(size.ws_col))
        .unwrap_or(80)
        .max(1)
}

/// The terminal's height in rows.
pub(super) fn rows() -> usize {
    rustix::termios::tcgetwinsize(io::stdout())
        .map(|size| usize::from(size.ws_row))
        .unwrap_or(24)
        .max(1)
}

/// Tab stops the editor assumes when it draws a tab.
const TAB_STOP: usize = 8;

/// Screen rows the prompt and `line` took once the editor accepted the line
/// and moved below it, on a terminal `columns` wide.
pub(super) fn rows_taken(line: &str, columns: usize) -> usize {
    row_after(line, columns) + 1
}

/// The row, counted from the prompt's, that the cursor is on after the
/// editor drew the prompt and `text`, on a terminal `columns` wide. Laid out
/// as the editor lays it out: a pasted line may hold newlines, each starting
/// a row, and a row filled to the last column puts the cursor on the next.
pub(super) fn row_after(text: &str, columns: usize) -> usize {
    let (mut row, mut column) = (0, 0);
    for c in PROMPT.chars().chain(text.chars()) {
        if c == '\n' {
            row += 1;
            column = 0;
            continue;
        }
        let width = if c == '\t' {
            TAB_STOP - column % TAB_STOP
        } else {
            c.width().unwrap_or(0)
        };
        column += width;
        if column > columns {
            row += 1;
            column = width;
        }
    }
    if column == columns {
        row += 1;
    }
    row
}

/// Cursor movements that undo, for the line editor, what a terminal that
/// re-wraps its rows on resizing did to the input line: the editor is about
/// to redraw `line` (cursor at byte `pos`) after the terminal went from
/// `old` to `new` columns. It clears as many rows as the input took at the
/// old width, upwards from where the cursor was then. Once the terminal
/// joined wrapped rows (widening), those rows reach above the input and the
/// lines of the conversation there were erased. So the cursor goes to the
/// row the editor believes it is on, after making room below the input for
/// the rows it will clear in excess.
///
/// Terminals that do not re-wrap (xterm) keep the rows as they were, and
/// these movements leave a stray part of the input behind there instead;
/// most terminals re-wrap (tmux, VTE, Konsole, kitty, iTerm2, Windows
/// Terminal), and losing a line of the conversation is the worse outcome.
pub(super) fn rewrap_fix(line: &str, pos: usize, old: usize, new: usize) -> String {
    let before = &line[..pos];
    let (old_cursor, old_end) = (row_after(before, old), row_after(line, old));
    let (new_cursor, new_end) = (row_after(before, new), row_after(line, new));
    let mut moves = String::new();
    let now = if old_end > new_end {
        if new_end > new_cursor {
            moves += &format!("\x1b[{}B", new_end - new_cursor);
        }
        // Newlines scroll the conversation up when the input is at the
        // bottom, leaving blank rows below it.
        moves += &"\n".repeat(old_end - new_end);
        old_end
    } else {
        new_cursor
    };
    if now > old_cursor {
        moves += &format!("\x1b[{}A", now - old_cursor);
    } else if old_cursor > now {
        moves += &format!("\x1b[{}B", old_cursor - now);
    }
    moves
}

/// Moves up over `rows` rows and clears from there down.
fn erase_rows(rows: usize) -> String {
    format!("\x1b[{rows}A\r\x1b[J")
}

/// Wipes the last `rows` rows, the line just typed. Written straight to the
/// terminal, not through the screen: a thread printing through the screen
/// may be waiting for the editor to take its line, and the editor thread
/// must not wait for it in turn.
pub(super) fn wipe(rows: usize) {
    let mut out = io::stdout();
    let _ = out
        .write_all(erase_rows(rows).as_bytes())
        .and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_are_erased_row_by_row() {
        assert_eq!(erase_rows(2), "\x1b[2A\r\x1b[J");
    }

    #[test]
    fn rows_taken_follow_the_editors_layout() {
        // `> ` and the text, wrapped at the terminal's width.
        assert_eq!(rows_taken("", 80), 1);
        assert_eq!(rows_taken(&"x".repeat(77), 80), 1);
        // Filling the last column puts the cursor on the next row.
        assert_eq!(rows_taken(&"x".repeat(78), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(79), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(200), 80), 3);
        // A wide character that does not fit goes to the next row whole.
        assert_eq!(rows_taken(&format!("{}界", "x".repeat(77)), 80), 2);
        // A pasted text: each newline starts a row.
        assert_eq!(rows_taken("alpha\nbeta\n", 80), 3);
        assert_eq!(rows_taken("alpha\nbeta", 80), 2);
    }

    #[test]
    fn a_rewrapped_input_is_put_back_where_the_editor_left_it() {
        let line = "y".repeat(70);
        // Wider, the two rows became one: a row is made below it, where the
        // editor believes the cursor at the end is.
        assert_eq!(rewrap_fix(&line, 70, 50, 120), "\n");
        // A cursor that was in the first row goes back up to it.
        assert_eq!(rewrap_fix(&line, 10, 50, 120), "\n\x1b[1A");
        // Narrower, the row became two: up to where the input starts.
        assert_eq!(rewrap_fix(&line, 70, 120, 50), "\x1b[1A");
        // Rows that stay as they were need nothing.
        assert_eq!(rewrap_fix(&line, 70, 50, 60), "");
        assert_eq!(rewrap_fix("short", 5, 50, 120), "");
    }
}
