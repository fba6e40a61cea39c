//! `watch-bookmarkable`: a bookmark at rv b promises that every event up to b was delivered: its
//! rv is at least that of every object event before it (and of every earlier bookmark), and no
//! later object event has an rv at or below it (etcd's progress-notify check).

use super::collector::Collector;
use super::stream::{event, is_object, Streams};
use crate::history::{EventType, History};

/// The checker's name.
pub(crate) const NAME: &str = "watch-bookmarkable";

/// Checks every answered stream.
pub(crate) fn check(history: &History, streams: &Streams<'_>, out: &mut Collector) {
    for s in &streams.streams {
        let mut newest_object: Option<(u64, usize)> = None;
        let mut newest_bookmark: Option<(u64, usize)> = None;
        for (p, &entry) in s.events.iter().enumerate() {
            let e = event(history, entry);
            if e.kind == EventType::Bookmark {
                if let Some((rv, at)) = newest_object.filter(|&(rv, _)| rv > e.rv) {
                    out.report(e.time, entry, || {
                        format!(
                            "{}: bookmark at rv {} after an event at rv {rv} (entry {at})",
                            s.describe(),
                            e.rv
                        )
                    });
                } else if let Some((rv, at)) = newest_bookmark.filter(|&(rv, _)| rv > e.rv) {
                    out.report(e.time, entry, || {
                        format!(
                            "{}: bookmark at rv {} after a bookmark at rv {rv} (entry {at})",
                            s.describe(),
                            e.rv
                        )
                    });
                }
                newest_bookmark = newest_bookmark.max(Some((e.rv, entry)));
            } else if is_object(e.kind) {
                // Initial-state events carry old rvs by design; only live events are bound.
                if let Some((rv, at)) = newest_bookmark.filter(|&(rv, _)| p >= s.initial && e.rv <= rv) {
                    out.report(e.time, entry, || {
                        format!(
                            "{}: {:?} of {} at rv {} after a bookmark at rv {rv} (entry {at})",
                            s.describe(),
                            e.kind,
                            e.key,
                            e.rv
                        )
                    });
                }
                newest_object = newest_object.max(Some((e.rv, entry)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const P: &str = "/registry/pods/";
    const A: &str = "/registry/pods/ns/a";

    #[test]
    fn bookmarks_between_events_pass() {
        let e = vec![
            open(1, 1, "c", P, None, Some(1)),
            event(2, 1, EventType::Bookmark, "", 1),
            event(3, 1, EventType::Added, A, 2),
            event(4, 1, EventType::Bookmark, "", 2),
            event(5, 1, EventType::Bookmark, "", 5),
            event(6, 1, EventType::Modified, A, 6),
        ];
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn bookmark_behind_events_or_events_behind_a_bookmark_are_reported() {
        let e = vec![
            open(1, 1, "c", P, None, Some(1)),
            event(2, 1, EventType::Added, A, 4),
            event(3, 1, EventType::Bookmark, "", 3),
            event(4, 1, EventType::Bookmark, "", 8),
            event(5, 1, EventType::Modified, A, 7),
            event(6, 1, EventType::Bookmark, "", 6),
        ];
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![2, 4, 5]);
        assert!(v[0].message.contains("after an event at rv 4"), "{v:?}");
        assert!(v[1].message.contains("after a bookmark at rv 8"), "{v:?}");
        assert!(v[2].message.contains("bookmark at rv 6 after an event at rv 7"), "{v:?}");
    }
}
