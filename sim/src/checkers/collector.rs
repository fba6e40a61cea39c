//! The per-checker sink for violations: keeps the earliest [`MAX_REPORTED`] and counts the rest, so
//! a badly broken run of millions of entries still yields a short report.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Violation;
use crate::history::Time;

/// The most violations one checker reports before summarizing the rest in one line.
pub const MAX_REPORTED: usize = 20;

/// A kept violation, ordered by (time, entry) so the heap's top is the latest kept.
struct Kept {
    time: Time,
    entry: usize,
    message: String,
}

impl Kept {
    fn key(&self) -> (Time, usize) {
        (self.time, self.entry)
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Collects one checker's violations.
pub(crate) struct Collector {
    checker: &'static str,
    kept: BinaryHeap<Kept>,
    total: usize,
    /// The earliest violation not kept: where the summary line points.
    first_dropped: Option<(Time, usize)>,
}

impl Collector {
    /// An empty collector for `checker`.
    pub(crate) fn new(checker: &'static str) -> Self {
        Collector { checker, kept: BinaryHeap::new(), total: 0, first_dropped: None }
    }

    /// Records a violation; `message` is only built when the violation is kept, which keeps a
    /// broken run cheap.
    pub(crate) fn report(&mut self, time: Time, entry: usize, message: impl FnOnce() -> String) {
        self.total += 1;
        let key = (time, entry);
        let dropped = if self.kept.len() < MAX_REPORTED {
            self.kept.push(Kept { time, entry, message: message() });
            None
        } else if self.kept.peek().is_some_and(|top| key < top.key()) {
            let top = self.kept.pop().map(|k| k.key());
            self.kept.push(Kept { time, entry, message: message() });
            top
        } else {
            Some(key)
        };
        if let Some(d) = dropped {
            self.first_dropped = Some(self.first_dropped.map_or(d, |f| f.min(d)));
        }
    }

    /// The kept violations in (time, entry) order, then the summary of the rest, if any.
    pub(crate) fn finish(self) -> Vec<Violation> {
        let checker = self.checker;
        let mut out: Vec<Violation> = self
            .kept
            .into_sorted_vec()
            .into_iter()
            .map(|k| Violation { checker, time: k.time, entry: k.entry, message: k.message })
            .collect();
        let more = self.total - out.len();
        if let Some((time, entry)) = self.first_dropped.filter(|_| more > 0) {
            out.push(Violation {
                checker,
                time,
                entry,
                message: format!("... and {more} more {checker} violations (from entry {entry} on)"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_earliest_and_summarizes_the_rest() {
        let mut c = Collector::new("x");
        // Reported out of order: the earliest MAX_REPORTED must survive.
        for i in (0..(MAX_REPORTED + 5)).rev() {
            c.report(i as Time * 10, i, || format!("v{i}"));
        }
        let out = c.finish();
        assert_eq!(out.len(), MAX_REPORTED + 1);
        for (i, v) in out.iter().take(MAX_REPORTED).enumerate() {
            assert_eq!((v.entry, v.message.as_str()), (i, format!("v{i}").as_str()));
        }
        let summary = &out[MAX_REPORTED];
        assert_eq!(summary.entry, MAX_REPORTED);
        assert!(summary.message.starts_with("... and 5 more x violations"), "{}", summary.message);
    }

    #[test]
    fn no_summary_when_all_fit() {
        let mut c = Collector::new("x");
        c.report(5, 1, || "a".into());
        c.report(1, 2, || "b".into());
        let out = c.finish();
        assert_eq!(out.iter().map(|v| v.entry).collect::<Vec<_>>(), vec![2, 1]);
    }
}
