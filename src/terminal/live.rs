//! Live lines: a status line per running task (a transfer's progress), kept
//! under the conversation and right above the input line, and redrawn in
//! place as it changes, so that progress never scrolls the conversation away.
//!
//! They are drawn as part of what the line editor prints above its input:
//! each time, the text handed over first takes the live lines off the screen
//! (up over the rows they took, clear to the end), then shows the new lines
//! of the conversation where they were, then the live lines again below
//! them; the editor draws its input line after that. A live line is a
//! [`Status`] of parts, fitted to the width each time it is drawn by
//! leaving out whole parts and shortening a name, never by cutting a part,
//! and never wraps, so the rows to go up over are known from
//! the widths drawn, at the width the terminal has when they are erased: a
//! terminal that re-wraps its rows on resizing (tmux, VTE, kitty, iTerm2,
//! Windows Terminal; see `console::rewrap_fix`) has made a row wider than
//! itself into several. Things no escape can mend: on a terminal that
//! does not re-wrap (xterm), narrowing it also takes rows above the live
//! lines; tmux, narrowed, keeps the cursor's row and pushes what grew
//! into the scrollback, which may take part of the live lines with it when
//! the conversation above is shorter than what they grew by; and a terminal
//! made lower than the live lines need pushes the top ones into its
//! scrollback, out of reach, where they stay as stale copies (tmux brings
//! them back into view when it grows again).
//!
//! On a terminal too low for them all, the live lines that leave a row for
//! the conversation are shown, the last summing up the rest; with room for
//! one only, it says how many more there are. Ctrl-Z takes them off the
//! screen before the chat stops, and they are drawn again above the input
//! once it goes on (see `console::TakeLiveOff`).

use anstyle::Style;
use unicode_width::UnicodeWidthStr;

use crate::terminal::wrap::{cautious_char, cautious_width};

/// Parts that are never left out.
pub const ALWAYS: u8 = u8::MAX;

/// Cells of a bar at most, and at least to be worth showing.
const BAR_CELLS: usize = 20;
const MIN_BAR: usize = 5;

/// Fewest columns a name is shortened to while other parts are left out
/// to make room; once only what is always shown is left, it goes shorter.
const MIN_NAME: usize = 12;
const LAST_NAME: usize = 4;

/// What a live line says, as parts in the order shown, each kept as long as
/// the width allows by its rank: when the line does not fit, the parts of
/// the lowest rank go first, whole. A name is shortened in its middle
/// before that; a bar takes the room left, up to 20 cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    /// What goes before it when something is shown before it.
    gap: &'static str,
    what: What,
    /// Left out before parts of a higher rank; [`ALWAYS`] never.
    keep: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum What {
    Text(String),
    /// Shortened in its middle (`long…name`) to fit.
    Name(String),
    /// `[=====>    ]`: how much of `size` is done.
    Bar {
        done: u64,
        size: u64,
    },
}

impl Status {
    /// A text shown as it is, after `gap`.
    pub fn text(mut self, gap: &'static str, text: impl Into<String>, keep: u8) -> Self {
        let what = What::Text(text.into());
        self.parts.push(Part { gap, what, keep });
        self
    }

    /// A name, shortened to fit.
    pub fn name(mut self, gap: &'static str, name: impl Into<String>, keep: u8) -> Self {
        let what = What::Name(name.into());
        self.parts.push(Part { gap, what, keep });
        self
    }

    /// A bar of how much of `size` is `done`.
    pub fn bar(mut self, gap: &'static str, done: u64, size: u64, keep: u8) -> Self {
        let what = What::Bar { done, size };
        self.parts.push(Part { gap, what, keep });
        self
    }

    /// The same with each text and name passed through `change` (to make
    /// peer text safe).
    pub fn map_text(mut self, change: impl Fn(&str) -> String) -> Self {
        for part in &mut self.parts {
            match &mut part.what {
                What::Text(text) | What::Name(text) => *text = change(text),
                What::Bar { .. } => {}
            }
        }
        self
    }

    /// The line within `columns` (as [`cautious_width`] counts): every
    /// part, or as many as fit with their ranks, whole; empty when not even
    /// the parts always shown fit.
    pub fn fit(&self, columns: usize) -> String {
        let mut ranks: Vec<u8> = self.parts.iter().map(|p| p.keep).collect();
        ranks.sort_unstable();
        ranks.dedup();
        // Left out: those under `least`, from none to all but the last.
        for least in ranks {
            let kept: Vec<&Part> = self.parts.iter().filter(|p| p.keep >= least).collect();
            if let Some(line) = lay_out(&kept, columns, MIN_NAME) {
                return line;
            }
            // The name goes next: shorter first.
            let name_next = kept
                .iter()
                .any(|p| p.keep == least && matches!(p.what, What::Name(_)));
            if let Some(line) = name_next
                .then(|| lay_out(&kept, columns, LAST_NAME))
                .flatten()
            {
                return line;
            }
        }
        String::new()
    }
}

/// `parts` in `columns`, the name no shorter than `min_name` and a bar of
/// [`MIN_BAR`] cells at least; `None` if they do not fit so.
fn lay_out(parts: &[&Part], columns: usize, min_name: usize) -> Option<String> {
    let gap = |at: usize, part: &Part| if at == 0 { "" } else { part.gap };
    let mut fixed = 0;
    for (at, part) in parts.iter().enumerate() {
        fixed += gap(at, part).len();
        fixed += match &part.what {
            What::Text(text) => cautious_width(text),
            What::Name(_) => 0,
            What::Bar { .. } => 2 + MIN_BAR,
        };
    }
    let room = columns.checked_sub(fixed)?;
    let name = parts.iter().find_map(|p| match &p.what {
        What::Name(name) => Some(name.as_str()),
        _ => None,
    });
    let name = match name {
        Some(name) if cautious_width(name) <= room => Some(name.to_string()),
        Some(_) if room >= min_name => Some(shorten(name?, room)),
        Some(_) => return None,
        None => None,
    };
    let spare = room - name.as_deref().map_or(0, cautious_width);
    let cells = (MIN_BAR + spare).min(BAR_CELLS);
    let mut line = String::new();
    for (at, part) in parts.iter().enumerate() {
        line.push_str(gap(at, part));
        match &part.what {
            What::Text(text) => line.push_str(text),
            What::Name(_) => line.push_str(name.as_deref().unwrap_or_default()),
            What::Bar { done, size } => line.push_str(&bar(*done, *size, cells)),
        }
    }
    Some(line)
}

/// `[=======>     ]`: how much of `size` is done, in `cells`.
fn bar(done: u64, size: u64, cells: usize) -> String {
    let filled = match size {
        0 => cells,
        _ => (u128::from(done.min(size)) * cells as u128 / u128::from(size)) as usize,
    };
    let head = if filled < cells { ">" } else { "" };
    let blank = cells.saturating_sub(filled + 1);
    format!("[{}{head}{}]", "=".repeat(filled), " ".repeat(blank))
}

/// `name` within `columns` (as [`cautious_width`] counts), its middle
/// replaced by `…` when it is wider.
pub fn shorten(name: &str, columns: usize) -> String {
    if cautious_width(name) <= columns {
        return name.to_string();
    }
    let keep = columns.saturating_sub(cautious_char('…'));
    let (mut start, mut end) = (String::new(), Vec::new());
    let (mut width, mut end_width) = (0, 0);
    for c in name.chars() {
        let w = cautious_char(c);
        if width + w > keep - keep / 2 {
            break;
        }
        width += w;
        start.push(c);
    }
    for c in name.chars().rev() {
        let w = cautious_char(c);
        if end_width + w > keep / 2 {
            break;
        }
        end_width += w;
        end.push(c);
    }
    start.push('…');
    start.extend(end.into_iter().rev());
    start
}

/// The live lines, and the rows they took when last drawn.
#[derive(Debug, Default)]
pub struct LiveLines {
    /// Each under its key, in the order they came.
    lines: Vec<(u64, Status)>,
    /// The width of each row drawn last, top to bottom.
    drawn: Vec<usize>,
}

impl LiveLines {
    /// Sets the line under `key`, a new one going below the others.
    pub fn set(&mut self, key: u64, text: Status) {
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

    /// Forgets the rows drawn last, taken off the screen by other means:
    /// the next draw does not go up over them.
    pub fn forget_drawn(&mut self) {
        self.drawn.clear();
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
        for text in self.shown(rows) {
            let fitted = text.fit(columns.saturating_sub(1));
            out += &format!("{style}{fitted}{style:#}\n");
            self.drawn.push(fitted.width());
        }
        if !out.is_empty() && !out.ends_with('\n') {
            // Only taken off: the editor must draw its input where they
            // were, not a row lower. Up a row and down again.
            out += "\x1b[A\n";
        }
        out
    }

    /// The lines to draw on a terminal `rows` high: those that leave a row
    /// for the input and one at least for the conversation, the last of
    /// them summing up the others; with room for one only, the first line
    /// says how many more there are.
    fn shown(&self, rows: usize) -> Vec<Status> {
        let room = rows.saturating_sub(2).max(1);
        let all = self.lines.iter().map(|(_, status)| status.clone());
        let more = self.lines.len().saturating_sub(room - 1);
        match room {
            _ if self.lines.len() <= room => all.collect(),
            1 => all
                .take(1)
                .map(|first| first.text(" ", format!("(+{} more: /status)", more - 1), ALWAYS))
                .collect(),
            _ => all
                .take(room - 1)
                .chain([Status::default().text(
                    "",
                    format!("... and {more} more: /status lists them"),
                    ALWAYS,
                )])
                .collect(),
        }
    }
}

impl From<&str> for Status {
    /// A status of one text, always shown.
    fn from(text: &str) -> Self {
        Status::default().text("", text, ALWAYS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_width::UnicodeWidthChar;

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

    /// A transfer's status: verb, name, bar, figures, as progress makes it.
    fn transfer(name: &str) -> Status {
        Status::default()
            .text("", "Sending", ALWAYS)
            .name(" ", name, 200)
            .bar(" ", 40, 100, 0)
            .text(" ", "40.0 MiB / 100.0 MiB", 40)
            .text(" ", "(40%)", ALWAYS)
            .text(", ", "8.0 MiB/s", 20)
            .text(", ", "7.5s left", 10)
    }

    #[test]
    fn a_status_leaves_out_whole_parts_lowest_rank_first() {
        let status = transfer("a.bin");
        let all = "40.0 MiB / 100.0 MiB (40%), 8.0 MiB/s, 7.5s left";
        assert_eq!(
            status.fit(80),
            format!("Sending a.bin [======>        ] {all}")
        );
        assert_eq!(status.fit(72), format!("Sending a.bin [==>    ] {all}"));
        assert_eq!(status.fit(70), format!("Sending a.bin [==>  ] {all}"));
        assert_eq!(status.fit(67), format!("Sending a.bin {all}"));
        assert_eq!(
            status.fit(56),
            "Sending a.bin 40.0 MiB / 100.0 MiB (40%), 8.0 MiB/s"
        );
        assert_eq!(status.fit(40), "Sending a.bin 40.0 MiB / 100.0 MiB (40%)");
        assert_eq!(status.fit(39), "Sending a.bin (40%)");
        assert_eq!(status.fit(13), "Sending (40%)");
        assert_eq!(status.fit(7), "");
        // A name is shortened before the bar goes, to 12 columns, and at the
        // end to 4.
        let long = transfer("a-very-long-name-indeed.bin");
        assert_eq!(
            long.fit(78),
            "Sending a-very…d.bin [==>  ] 40.0 MiB / 100.0 MiB (40%), 8.0 MiB/s, 7.5s left"
        );
        assert_eq!(
            long.fit(73),
            "Sending a-very-…eed.bin 40.0 MiB / 100.0 MiB (40%), 8.0 MiB/s, 7.5s left"
        );
        assert_eq!(long.fit(19), "Sending a-…n (40%)");
        assert_eq!(bar(7, 0, 6), "[======]");
        assert_eq!(bar(u64::MAX, 10, 6), "[======]");
        assert_eq!(bar(0, 10, 6), "[>     ]");
    }

    #[test]
    fn lines_are_fitted_to_the_width_and_counted_at_the_width_of_the_erase() {
        let mut live = LiveLines::default();
        live.set(1, transfer(&"x".repeat(100)));
        live.set(2, Status::default().name("", "界".repeat(10), ALWAYS));
        let text = live.redraw("", (50, 24), PLAIN);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "Sending xxxxxx…xxxxxx 40.0 MiB / 100.0 MiB (40%)");
        assert_eq!(rows[1], "界".repeat(10));
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
            live.set(key, format!("line {key}").as_str().into());
        }
        assert_eq!(
            live.redraw("", (80, 6), PLAIN),
            "line 0\nline 1\nline 2\n... and 5 more: /status lists them\n"
        );
    }

    #[test]
    fn with_room_for_one_line_the_first_says_how_many_more() {
        let mut live = LiveLines::default();
        live.set(1, transfer("a.bin"));
        live.set(2, transfer("b.bin"));
        live.set(3, transfer("c.bin"));
        assert_eq!(
            live.redraw("", (60, 3), PLAIN),
            "Sending a.bin 40.0 MiB / 100.0 MiB (40%) (+2 more: /status)\n"
        );
        let mut one = LiveLines::default();
        one.set(1, "alone".into());
        assert_eq!(one.redraw("", (60, 3), PLAIN), "alone\n");
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
                live.set(key as u64, transfer(line));
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
