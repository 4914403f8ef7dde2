//! What is said of each file or folder sent, in the order one `/send`
//! named them: several go at once, so a small file named after a large
//! one is through first, and the line saying so waits for the large one's.
//! Only lines of success wait; a refusal or a cancel is news at once.

use std::collections::{BTreeMap, HashSet};

use crate::engine::Frontend;
use crate::session::events::SendEvent;
use crate::session::progress::Transfers;

#[derive(Default)]
pub(super) struct Reports {
    /// Lines waiting for a transfer named before theirs to be through.
    held: BTreeMap<u64, Vec<SendEvent>>,
    /// Transfers whose last word was said.
    said: HashSet<u64>,
}

impl Reports {
    /// Says `lines`, the last word on transfer `transfer`: at once, unless
    /// `wait` and a transfer its `/send` named before it is still on its
    /// way (`on_its_way`); then what waited for this one.
    pub(super) fn say(
        &mut self,
        transfer: u64,
        lines: Vec<SendEvent>,
        wait: bool,
        on_its_way: impl Fn(u64) -> bool,
        transfers: &Transfers,
        front: &dyn Frontend,
    ) {
        if wait && self.waits(transfer, &on_its_way, transfers) {
            self.held.insert(transfer, lines);
            return;
        }
        show(front, lines);
        self.said.insert(transfer);
        // What waited for this one, and for those in turn.
        while let Some(next) = self
            .held
            .keys()
            .copied()
            .find(|next| !self.waits(*next, &on_its_way, transfers))
        {
            let lines = self.held.remove(&next).unwrap_or_default();
            show(front, lines);
            self.said.insert(next);
        }
    }

    /// Whether a transfer named before `transfer` is on its way, with
    /// nothing said of it yet.
    fn waits(
        &self,
        transfer: u64,
        on_its_way: &impl Fn(u64) -> bool,
        transfers: &Transfers,
    ) -> bool {
        std::iter::successors(transfers.named_before(transfer), |t| {
            transfers.named_before(*t)
        })
        .any(|before| !self.said.contains(&before) && on_its_way(before))
    }

    /// Says what still waits, in order: the conversation is over, and the
    /// lines they wait for will not come.
    pub(super) fn flush(&mut self, front: &dyn Frontend) {
        for (transfer, lines) in std::mem::take(&mut self.held) {
            show(front, lines);
            self.said.insert(transfer);
        }
    }
}

fn show(front: &dyn Frontend, lines: Vec<SendEvent>) {
    for line in lines {
        front.sending(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::events::Undelivered;
    use crate::session::progress::Direction;
    use crate::terminal::screen::testing::captured;

    /// A last word on a transfer, as the tests tell them apart.
    fn said(name: &str) -> SendEvent {
        let name = name.to_string();
        SendEvent::Undelivered(Undelivered::NotStarted { name })
    }

    fn queued(transfers: &Transfers, names: &[&str]) -> Vec<u64> {
        let ids: Vec<u64> = names
            .iter()
            .map(|name| transfers.enqueue(Direction::Send, name, 1))
            .collect();
        transfers.in_order(&ids);
        ids
    }

    #[test]
    fn a_file_through_first_waits_for_the_one_named_before_it() {
        let (front, shown) = captured();
        let transfers = Transfers::default();
        let ids = queued(&transfers, &["big", "small", "tiny"]);
        let alone = transfers.enqueue(Direction::Send, "alone", 1);
        let mut reports = Reports::default();
        let big_on_its_way = |t| t == ids[0];
        let line = |text: &str| vec![said(text)];
        reports.say(
            ids[2],
            line("tiny"),
            true,
            big_on_its_way,
            &transfers,
            &front,
        );
        reports.say(
            ids[1],
            line("small"),
            true,
            big_on_its_way,
            &transfers,
            &front,
        );
        reports.say(
            alone,
            line("alone"),
            true,
            big_on_its_way,
            &transfers,
            &front,
        );
        assert_eq!(
            shown.lines(),
            ["[System] alone was not delivered (not started)."]
        );
        let big = vec![said("big"), said("big, more")];
        reports.say(ids[0], big, true, |_| false, &transfers, &front);
        assert_eq!(
            shown.lines(),
            [
                "[System] alone was not delivered (not started).",
                "[System] big was not delivered (not started).",
                "[System] big, more was not delivered (not started).",
                "[System] small was not delivered (not started).",
                "[System] tiny was not delivered (not started)."
            ]
        );
    }

    #[test]
    fn news_and_what_follows_a_file_not_on_its_way_are_said_at_once() {
        let (front, shown) = captured();
        let transfers = Transfers::default();
        let ids = queued(&transfers, &["waits for the peer", "goes", "refused"]);
        let mut reports = Reports::default();
        let nothing_on_its_way = |_| false;
        let line = |text: &str| vec![said(text)];
        reports.say(
            ids[1],
            line("goes"),
            true,
            nothing_on_its_way,
            &transfers,
            &front,
        );
        reports.say(ids[2], line("refused"), false, |_| true, &transfers, &front);
        assert_eq!(
            shown.lines(),
            [
                "[System] goes was not delivered (not started).",
                "[System] refused was not delivered (not started)."
            ]
        );
    }

    #[test]
    fn what_waits_is_said_in_order_when_the_conversation_ends() {
        let (front, shown) = captured();
        let transfers = Transfers::default();
        let ids = queued(&transfers, &["first", "second", "third"]);
        let mut reports = Reports::default();
        let first_on_its_way = |t| t == ids[0];
        let line = |text: &str| vec![said(text)];
        reports.say(
            ids[2],
            line("third"),
            true,
            first_on_its_way,
            &transfers,
            &front,
        );
        reports.say(
            ids[1],
            line("second"),
            true,
            first_on_its_way,
            &transfers,
            &front,
        );
        reports.flush(&front);
        assert_eq!(
            shown.lines(),
            [
                "[System] second was not delivered (not started).",
                "[System] third was not delivered (not started)."
            ]
        );
    }
}
