//! Checkers, each named after the guarantee it checks (see README "Invariants"). Each reads a
//! recorded [`History`] and reports [`Violation`]s; none can vouch for more than its rule says, and
//! every rule is sound: where an unknown-outcome write or an unevaluable filter makes it undecidable,
//! the checker says nothing.
//!
//! * `store-linearizable`: store ops fit one linearizable order of the single global revision.
//! * `watch-ordered`: object events on a stream have strictly increasing rvs.
//! * `watch-unique`: no (key, rv) arrives twice on one stream.
//! * `watch-atomic`: each object event is exactly one commit of its key, with a fitting type.
//! * `watch-reliable`: a stream delivers every commit its filter selects within its window.
//! * `watch-resumable`: a stream resumed from rv n starts at the first selected commit after n.
//! * `watch-bookmarkable`: a bookmark's rv covers every earlier event and precedes every later one.
//! * `no-time-travel`: the rvs a client sees on one resource never go back across lists and watches.
//! * `pod-bound-once`: a pod is bound at most once and never moved to another node.
//! * `node-capacity`: the Running pods on a node fit its allocatable cpu, memory and pod count.
//! * `single-kubelet`: a pod uid never runs on two nodes at once.
//! * `liveness-after-healing`: after healing, every expected pod reaches its phase in time and stays.
//!
//! Every checker runs in O(n log n) of the history's size and keeps at most
//! [`MAX_REPORTED`] violations (the earliest), then one "... and N more".
//!
//! Watch streams with `start_rv` `None` begin with synthetic ADDED events for the current state,
//! whose rvs are the objects' own (unordered, older than the stream's start). The checkers take
//! as that *initial part* the leading ADDED events whose rv is at most the store's latest commit
//! revision when the stream was answered (the watch cache cannot be ahead of the store); it ends
//! at the first non-ADDED object event or the first one with a newer rv. That part may also
//! swallow a few genuine ADDED events, which only costs checking power (see `stream.rs`).

mod atomicity;
mod binding;
mod bookmarks;
mod capacity;
mod collector;
mod commit_log;
mod exclusivity;
mod field_filter;
mod lineage;
mod linearizability;
mod liveness;
mod matching;
mod ordering;
mod reliability;
mod resumability;
mod stream;
mod time_travel;
mod uniqueness;

#[cfg(test)]
mod fixtures;

use crate::history::{History, Time};

pub use collector::MAX_REPORTED;

/// One broken guarantee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker that found it (one of [`CHECKERS`]).
    pub checker: &'static str,
    /// When the violation became evident (usually the offending entry's time).
    pub time: Time,
    /// Index into `history.entries` of the offending entry.
    pub entry: usize,
    /// What went wrong, naming the other entries involved.
    pub message: String,
}

/// What the checkers need to know about the run beyond its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckContext {
    /// When the last fault healed.
    pub healed_at: Time,
    /// How long after `healed_at` (nanoseconds) expectations must be met.
    pub liveness_deadline: Time,
    /// When the run ended.
    pub end: Time,
}

/// The names of all checkers, in the order they run and report ties.
pub const CHECKERS: &[&str] = &[
    linearizability::NAME,
    ordering::NAME,
    uniqueness::NAME,
    atomicity::NAME,
    reliability::NAME,
    resumability::NAME,
    bookmarks::NAME,
    time_travel::NAME,
    binding::NAME,
    capacity::NAME,
    exclusivity::NAME,
    liveness::NAME,
];

/// Runs the checkers whose names are in `enabled` (all when `enabled` is None) and returns the
/// violations, sorted by time then entry index (ties in [`CHECKERS`] order). Names that are not in
/// [`CHECKERS`] are ignored: callers validate user input against [`CHECKERS`].
pub fn check(history: &History, ctx: &CheckContext, enabled: Option<&[String]>) -> Vec<Violation> {
    let on = |name: &str| enabled.is_none_or(|names| names.iter().any(|n| n == name));
    // The watch checkers share one pass over streams and commits; built only when one needs it.
    let watch_on = [ordering::NAME, uniqueness::NAME, atomicity::NAME, reliability::NAME]
        .into_iter()
        .chain([resumability::NAME, bookmarks::NAME, time_travel::NAME])
        .any(on);
    let log_on =
        [linearizability::NAME, atomicity::NAME, reliability::NAME, resumability::NAME].into_iter().any(on);
    let log = if log_on { commit_log::CommitLog::new(history) } else { commit_log::CommitLog::default() };
    let streams = if watch_on { stream::Streams::new(history) } else { stream::Streams::default() };
    let index = if on(reliability::NAME) || on(resumability::NAME) {
        matching::MatchIndex::new(&log, &streams)
    } else {
        matching::MatchIndex::default()
    };
    let mut out = Vec::new();
    for &name in CHECKERS {
        if !on(name) {
            continue;
        }
        let mut c = collector::Collector::new(name);
        match name {
            linearizability::NAME => linearizability::check(history, &log, &mut c),
            ordering::NAME => ordering::check(history, &streams, &mut c),
            uniqueness::NAME => uniqueness::check(history, &streams, &mut c),
            atomicity::NAME => atomicity::check(history, &streams, &log, &mut c),
            reliability::NAME => reliability::check(history, &streams, &log, &index, &mut c),
            resumability::NAME => resumability::check(history, &streams, &log, &index, &mut c),
            bookmarks::NAME => bookmarks::check(history, &streams, &mut c),
            time_travel::NAME => time_travel::check(history, &streams, &mut c),
            binding::NAME => binding::check(history, &mut c),
            capacity::NAME => capacity::check(history, &mut c),
            exclusivity::NAME => exclusivity::check(history, &mut c),
            liveness::NAME => liveness::check(history, ctx, &mut c),
            _ => unreachable!("every name in CHECKERS has a checker"),
        }
        out.extend(c.finish());
    }
    // Stable: ties keep CHECKERS order, and each checker's summary after its own violations.
    out.sort_by_key(|v| (v.time, v.entry));
    out
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names = CHECKERS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CHECKERS.len());
    }

    #[test]
    fn empty_history_has_no_violations() {
        assert!(check(&History::default(), &ctx(), None).is_empty());
    }

    #[test]
    fn enabled_selects_checkers_and_output_is_sorted() {
        // A pod bound to two nodes (pod-bound-once) and run on both at once (single-kubelet).
        let h = history(vec![
            commit(10, 1, "/registry/pods/ns/a", false, pod("ns", "a", "n1", "Running")),
            container(20, "n1", "/registry/pods/ns/a", "u", true),
            commit(30, 2, "/registry/pods/ns/a", false, pod("ns", "a", "n2", "Running")),
            container(40, "n2", "/registry/pods/ns/a", "u", true),
        ]);
        let all = check(&h, &ctx(), None);
        let names: Vec<_> = all.iter().map(|v| (v.checker, v.entry)).collect();
        assert_eq!(names, vec![("pod-bound-once", 2), ("single-kubelet", 3)]);
        let only = check(&h, &ctx(), Some(&["single-kubelet".to_owned()]));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].checker, "single-kubelet");
        assert!(check(&h, &ctx(), Some(&[])).is_empty());
        assert!(check(&h, &ctx(), Some(&["no-such-checker".to_owned()])).is_empty());
    }

    #[test]
    fn a_broken_run_is_summarized() {
        // 30 pods each started on a second node while still running on the first.
        let mut e = Vec::new();
        for i in 0..30 {
            let key = format!("/registry/pods/ns/p{i}");
            e.push(container(2 * i, "n1", &key, &format!("u{i}"), true));
            e.push(container(2 * i + 1, "n2", &key, &format!("u{i}"), true));
        }
        let v = only("single-kubelet", &history(e));
        assert_eq!(v.len(), MAX_REPORTED + 1);
        assert!(v.windows(2).all(|w| (w[0].time, w[0].entry) <= (w[1].time, w[1].entry)));
        let last = &v[MAX_REPORTED];
        assert_eq!(last.entry, 2 * MAX_REPORTED + 1);
        assert!(last.message.starts_with("... and 10 more single-kubelet violations"), "{}", last.message);
    }
}
