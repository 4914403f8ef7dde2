//! Live lines: a status line per running task (a transfer's progress), kept
//! under the conversation and right above the input line, and redrawn in
//! place as it changes, so that progress never scrolls the conversation away.
//!
//! They are drawn as part of what the line editor prints above its input:
//! each time, the text handed over first takes the live lines off the screen
//! (up over the rows they took, clear to the end), then shows the new lines
//! of the conversation where they were, then the live lines again below
//! them; the editor draws its input line after that. A live line never
//! wraps (it is cut to the width), so the rows to go up over are known from
//! the widths drawn, at the width the terminal has when they are erased: a
//! terminal that re-wraps its rows on resizing (tmux, VTE, kitty, iTerm2,
//! Windows Terminal; see `console::rewrap_fix`) has made a row wider than
//! itself into several. Two things no escape can mend: on a terminal that
//! does not re-wrap (xterm), narrowing it also takes rows above the live
//! lines; and tmux, narrowed, keeps the cursor's row and pushes what grew
//! into the scrollback, which may take part of the live lines with it when
//! the conversation above is shorter than what they grew by.

use anstyle::Style;
use unicode_width::UnicodeWidthChar;

/// The live lines, and the rows they took when last drawn.
#[derive(Debug, Default)]
pub struct LiveLines {
    /// Each under its key, in the order they came.
    lines: Vec<(u64, String)>,
    /// The width of each row drawn last, top to bottom.
    drawn: Vec<usize>,
}

impl LiveLines {
    /// Sets the line under `key`, a new one going below the others.
    pub fn set(&mut self, key: u64, text: String) {
        match self.lines.iter_mut().find(|(k, _)| *k == key) {
            Some((_, line)) => *line = text,
            None => self.lines.push((key, text)),
        }
    }

    /// Takes the line under `key` away; whether there was one.
    pub fn remove(&mut self, key: u64) -> bool {
        let before = self.lines.len();
        self.lines.retain(|(k, _)| *k != key);
        self.lines.len() != before
    }

    /// How many rows the live lines took when last drawn.
    pub fn rows(&self) -> usize {
        self.drawn.len()
    }

    /// Whether there are live lines, or rows of them still on the screen:
    /// what is printed must then go through [`LiveLines::redraw`].
    pub fn active(&self) -> bool {
        !self.lines.is_empty() || !self.drawn.is_empty()
    }

    /// Terminal text, written where the input line was, that takes the
    /// live lines drawn last off the screen, shows `above` (whole lines,
    /// each ending in a newline) in their place, and draws the live lines
    /// again below it, each cut to fit one row, in `style`. The terminal is
    /// `columns` wide and `rows` high: live lines that would leave no room
    /// for the input are summed up in one. Ends in a newline, as the editor
    /// wants (it would add one); empty when there is nothing to do.
    pub fn redraw(&mut self, above: &str, (columns, rows): (usize, usize), style: Style) -> String {
        let mut out = String::new();
        let up: usize = self.drawn.iter().map(|&w| rows_taken(w, columns)).sum();
        if up > 0 {
            out += &erase_rows_above(up);
        }
        out += above;
        self.drawn.clear();
        // One row for the input, one at least for the conversation.
        let room = rows.saturating_sub(2).max(1);
        let hidden = match self.lines.len() {
            n if n > room => n - (room - 1),
            _ => 0,
        };
        let summary = (hidden > 0).then(|| format!("... and {hidden} more: /status lists them"));
        let shown = self.lines.len() - hidden;
        let texts = self.lines[..shown]
            .iter()
            .map(|(_, text)| text.as_str())
            .chain(summary.as_deref());
        for text in texts {
            let (fitted, width) = fit(text, columns.saturating_sub(1));
            out += &format!("{style}{fitted}{style:#}\n");
            self.drawn.push(width);
        }
        if !out.is_empty() && !out.ends_with('\n') {
            // Only taken off: the editor must draw its input where they
            // were, not a row lower. Up a row and down again.
            out += "\x1b[A\n";
        }
        out
    }
}

/// Goes up `rows` rows and clears each, and stays at the first. Row by
/// row: cleared from the screen's top-left corner to its end at once, the
/// screen goes to the scrollback whole in some terminals (tmux's
/// `scroll-on-clear`), live lines and all.
fn erase_rows_above(rows: usize) -> String {
    format!("\x1b[{rows}A\r{}\x1b[{rows}A", "\x1b[2K\x1b[B".repeat(rows))
}

/// Rows a row of `width` columns takes on a terminal `columns` wide.
fn rows_taken(width: usize, columns: usize) -> usize {
    width.div_ceil(columns.max(1)).max(1)
}

/// The longest start of `text` that is at most `columns` wide, and its
/// width.
fn fit(text: &str, columns: usize) -> (&str, usize) {
    let mut width = 0;
    for (at, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if width + w > columns {
            return (&text[..at], width);
        }
        width += w;
    }
    (text, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PLAIN: Style = Style::new();

    #[test]
    fn the_first_draw_adds_rows_and_the_next_ones_go_over_them() {
        let mut live = LiveLines::default();
        assert!(!live.active());
        assert_eq!(live.redraw("", (80, 24), PLAIN), "");
        live.set(1, "Sending a.bin".into());
        live.set(2, "Receiving b.bin".into());
        assert_eq!(
            live.redraw("", (80, 24), PLAIN),
            "Sending a.bin\nReceiving b.bin\n"
        );
        live.set(1, "Sending a.bin 50%".into());
        // Up over the two rows, each cleared on its own (never to the end of
        // the screen at once), then the new line and the live lines again.
        assert_eq!(
            live.redraw("[peer] hi\n", (80, 24), PLAIN),
            "\x1b[2A\r\x1b[2K\x1b[B\x1b[2K\x1b[B\x1b[2A[peer] hi\nSending a.bin 50%\nReceiving b.bin\n"
        );
    }

    #[test]
    fn the_last_line_taken_away_leaves_the_input_where_they_were() {
        let mut live = LiveLines::default();
        live.set(7, "Sending a.bin".into());
        live.redraw("", (80, 24), PLAIN);
        assert!(live.remove(7));
        assert!(!live.remove(7));
        assert!(live.active(), "still on the screen");
        assert_eq!(
            live.redraw("", (80, 24), PLAIN),
            "\x1b[1A\r\x1b[2K\x1b[B\x1b[1A\x1b[A\n"
        );
        assert!(!live.active());
        assert_eq!(live.redraw("", (80, 24), PLAIN), "");
    }

    #[test]
    fn lines_are_cut_to_the_width_and_counted_at_the_width_of_the_erase() {
        let mut live = LiveLines::default();
        live.set(1, "x".repeat(100));
        live.set(2, "界".repeat(10));
        assert_eq!(
            live.redraw("", (50, 24), PLAIN),
            format!("{}\n{}\n", "x".repeat(49), "界".repeat(10))
        );
        // Narrower, the terminal made the first row two; the second fits.
        let text = live.redraw("", (25, 24), PLAIN);
        assert!(text.starts_with(&erase_rows_above(3)), "{text:?}");
        // Wider again, each is one row.
        let text = live.redraw("", (120, 24), PLAIN);
        assert!(text.starts_with(&erase_rows_above(2)), "{text:?}");
    }

    #[test]
    fn lines_that_do_not_fit_the_screen_are_summed_up() {
        let mut live = LiveLines::default();
        for key in 0..8 {
            live.set(key, format!("line {key}"));
        }
        assert_eq!(
            live.redraw("", (80, 6), PLAIN),
            "line 0\nline 1\nline 2\n... and 5 more: /status lists them\n"
        );
    }

    #[test]
    fn the_style_wraps_each_line_without_counting() {
        let mut live = LiveLines::default();
        let yellow = anstyle::AnsiColor::Yellow.on_default();
        live.set(1, "abc".into());
        assert_eq!(
            live.redraw("", (80, 24), yellow),
            format!("{yellow}abc{yellow:#}\n")
        );
        assert_eq!(live.drawn, [3]);
    }

    proptest! {
        /// Whatever the lines and widths, each drawn row fits the terminal,
        /// and the next erase goes up over exactly the rows drawn.
        #[test]
        fn what_is_drawn_is_what_is_erased(
            lines in proptest::collection::vec("[a-z界 ]{0,90}", 0..10),
            columns in 1usize..120,
            rows in 1usize..40,
        ) {
            let mut live = LiveLines::default();
            for (key, line) in lines.iter().enumerate() {
                live.set(key as u64, line.clone());
            }
            let text = live.redraw("", (columns, rows), PLAIN);
            let drawn: Vec<&str> = text.lines().collect();
            prop_assert_eq!(drawn.len(), live.drawn.len());
            prop_assert!(drawn.len() <= rows.saturating_sub(2).max(1));
            for row in &drawn {
                let width: usize = row.chars().map(|c| c.width().unwrap_or(0)).sum();
                prop_assert!(width < columns || width == 0);
            }
            let again = live.redraw("", (columns, rows), PLAIN);
            if !drawn.is_empty() {
                prop_assert!(again.starts_with(&erase_rows_above(drawn.len())));
            }
        }
    }
}
