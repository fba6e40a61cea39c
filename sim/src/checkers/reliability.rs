//! `watch-reliable`: a stream delivers every commit its filter selects within its window (etcd's
//! Reliable: never a gap). The window runs from the stream's start (the revision after
//! `start_rv`; for a stream without one, the earliest of its first real event, the revision after
//! its first bookmark and the revision after the store's revision when it was answered, which
//! its initial state cannot be newer than) to the newest rv it delivered as an event or a bookmark (a
//! bookmark at b promises everything up to b was sent). A commit is selected when it is under the
//! prefix and its old or new version matches the field filter; streams whose filter cannot be
//! evaluated are skipped.

use super::collector::Collector;
use super::commit_log::CommitLog;
use super::matching::MatchIndex;
use super::stream::{event, is_object, Stream, Streams};
use crate::history::{EventType, History};

/// The checker's name.
pub(crate) const NAME: &str = "watch-reliable";

/// The revisions `lo..=hi` a stream must have delivered in full, if any.
pub(crate) fn window(history: &History, s: &Stream<'_>) -> Option<(u64, u64)> {
    let mut first_live = None;
    let mut first_bookmark = None;
    let mut hi = None;
    for (p, &i) in s.events.iter().enumerate() {
        let e = event(history, i);
        let object = is_object(e.kind);
        if object && p >= s.initial && first_live.is_none() {
            first_live = Some(e.rv);
        }
        if e.kind == EventType::Bookmark && first_bookmark.is_none() {
            first_bookmark = Some(e.rv.saturating_add(1));
        }
        if object || e.kind == EventType::Bookmark {
            hi = hi.max(Some(e.rv));
        }
    }
    let lo = match s.open.start_rv {
        Some(n) => Some(n.saturating_add(1)),
        None => first_live.into_iter().chain(first_bookmark).chain([s.rev_at_open.saturating_add(1)]).min(),
    }?;
    hi.filter(|&hi| lo <= hi).map(|hi| (lo, hi))
}

/// Checks every answered stream with an evaluable filter.
pub(crate) fn check(
    history: &History,
    streams: &Streams<'_>,
    log: &CommitLog<'_>,
    index: &MatchIndex,
    out: &mut Collector,
) {
    for s in streams.streams.iter().filter(|s| s.terms.is_some()) {
        let Some((lo, hi)) = window(history, s) else { continue };
        let mut delivered: Vec<(u64, &str)> = s
            .events
            .iter()
            .map(|&i| event(history, i))
            .filter(|e| is_object(e.kind))
            .map(|e| (e.rv, &*e.key))
            .collect();
        delivered.sort_unstable();
        let mut missing = index.seen(log, s, lo, hi).filter(|&p| {
            let c = log.commits[p].commit;
            delivered.binary_search(&(c.revision, &*c.key)).is_err()
        });
        let Some(first) = missing.next() else { continue };
        let count = 1 + missing.count();
        let l = &log.commits[first];
        let rev = l.commit.revision;
        // Blame the first delivery that shows the gap: the first one past the missing commit.
        let witness = s
            .events
            .iter()
            .copied()
            .find(|&i| {
                let e = event(history, i);
                (is_object(e.kind) || e.kind == EventType::Bookmark) && e.rv > rev
            })
            .unwrap_or(s.open_entry);
        out.report(history.entries[witness].time(), witness, || {
            format!(
                "{}: {count} selected commit(s) in revisions {lo}..={hi} never delivered; first: revision \
                 {rev} of {} (entry {})",
                s.describe(),
                l.commit.key,
                l.entry
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const A: &str = "/registry/pods/ns/a";
    const B: &str = "/registry/pods/ns/b";

    fn on(node: &str) -> Option<Vec<FieldTerm>> {
        Some(vec![term("spec.nodeName", true, node)])
    }

    fn commits() -> Vec<Entry> {
        vec![
            commit(1, 1, A, false, pod("ns", "a", "", "")),
            commit(2, 2, B, false, pod("ns", "b", "n1", "")),
            commit(3, 3, A, false, pod("ns", "a", "n1", "")),
            commit(4, 4, B, false, pod("ns", "b", "n1", "Running")),
            commit(5, 5, A, false, pod("ns", "a", "n2", "")),
            commit(6, 6, B, true, pod("ns", "b", "n1", "Running")),
            commit(7, 7, A, false, pod("ns", "a", "n2", "Running")),
        ]
    }

    #[test]
    fn complete_streams_pass() {
        let mut e = commits();
        e.extend([
            open(8, 1, "k", "/registry/pods/", on("n1"), Some(1)),
            event(8, 1, EventType::Added, B, 2),
            event(8, 1, EventType::Added, A, 3),
            event(8, 1, EventType::Modified, B, 4),
            event(8, 1, EventType::Deleted, A, 5),
            event(8, 1, EventType::Deleted, B, 6),
            event(8, 1, EventType::Bookmark, "", 7),
            // Initial state at open (store at 7): a on n2 only; then a bookmark.
            open(9, 2, "k", "/registry/pods/", on("n2"), None),
            event(9, 2, EventType::Added, A, 7),
            event(9, 2, EventType::Bookmark, "", 7),
            // Unevaluable filters are skipped.
            open(9, 3, "k", "/registry/pods/", None, Some(1)),
            event(9, 3, EventType::Bookmark, "", 7),
        ]);
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn gap_is_reported_once_per_stream() {
        let mut e = commits();
        e.extend([
            open(8, 1, "k", "/registry/pods/", on("n1"), Some(1)),
            event(8, 1, EventType::Added, B, 2),
            // a's binding to n1 (rev 3) and b's update (rev 4) are missing.
            event(8, 1, EventType::Deleted, A, 5),
        ]);
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![9]);
        assert!(v[0].message.contains("2 selected commit(s)"), "{v:?}");
        assert!(v[0].message.contains("first: revision 3 of /registry/pods/ns/a"), "{v:?}");
    }

    #[test]
    fn commits_before_a_bookmark_must_be_delivered() {
        let mut e = commits();
        e.extend([
            open(8, 1, "k", "/registry/pods/ns/", Some(vec![]), Some(5)),
            event(8, 1, EventType::Bookmark, "", 7),
        ]);
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![8]);
        assert!(v[0].message.contains("2 selected commit(s) in revisions 6..=7"), "{v:?}");
    }

    #[test]
    fn stream_from_now_is_judged_from_its_first_real_event() {
        let mut e = commits();
        e.truncate(2);
        e.extend([
            open(3, 1, "k", "/registry/pods/", on("n1"), None),
            // Initial state: b (rev 2); everything after rev 2 must follow as events.
            event(3, 1, EventType::Added, B, 2),
        ]);
        e.extend(commits().split_off(2));
        e.push(event(8, 1, EventType::Modified, B, 4));
        // Missing: a bound to n1 (rev 3) and leaving it (rev 5); b's delete (rev 6) arrives.
        e.push(event(8, 1, EventType::Deleted, B, 6));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![9]);
        assert!(v[0].message.contains("2 selected commit(s) in revisions 3..=6"), "{v:?}");
        assert!(v[0].message.contains("first: revision 3 of /registry/pods/ns/a"), "{v:?}");
    }
}
