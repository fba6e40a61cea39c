//! `watch-atomic`: every object event is one whole commit: its rv is the revision of a commit of
//! that very key, under the stream's prefix, and its type fits the commit (a delete arrives as
//! DELETED; with an evaluable filter, DELETED for a live version only when that version stopped
//! matching, ADDED/MODIFIED only for a matching version, MODIFIED only when the old version
//! matched and ADDED only when it did not). Revisions are single-key here, so etcd's "a revision
//! is never split" reduces to "an event is exactly a commit".

use super::collector::Collector;
use super::commit_log::CommitLog;
use super::field_filter;
use super::stream::{event, is_object, Streams};
use crate::history::{EventType, History};

/// The checker's name.
pub(crate) const NAME: &str = "watch-atomic";

/// Checks every object event of every answered stream.
pub(crate) fn check(history: &History, streams: &Streams<'_>, log: &CommitLog<'_>, out: &mut Collector) {
    for s in &streams.streams {
        for (p, &entry) in s.events.iter().enumerate() {
            let e = event(history, entry);
            if !is_object(e.kind) {
                continue;
            }
            let Some(pos) = log.at(e.rv) else {
                out.report(e.time, entry, || {
                    format!("{}: {:?} of {} at rv {} matches no commit", s.describe(), e.kind, e.key, e.rv)
                });
                continue;
            };
            let l = &log.commits[pos];
            let c = l.commit;
            let problem = if c.key != e.key {
                Some(format!("the commit at rv {} (entry {}) is of {}", e.rv, l.entry, c.key))
            } else if !c.key.starts_with(&*s.open.prefix) {
                Some("the key is outside the stream's prefix".to_owned())
            } else if c.deleted && e.kind != EventType::Deleted {
                Some(format!("the commit at rv {} (entry {}) is a delete", e.rv, l.entry))
            } else if let Some(terms) = s.terms.filter(|_| !c.deleted) {
                let now = field_filter::matches(terms, &c.attrs);
                let before = log.prev_of(pos).is_some_and(|p| field_filter::matches(terms, &p.attrs));
                let live = p >= s.initial;
                match e.kind {
                    EventType::Deleted if now => Some("the new version still matches the filter".to_owned()),
                    EventType::Added | EventType::Modified if !now => {
                        Some("the new version does not match the filter".to_owned())
                    }
                    EventType::Modified if !before => {
                        Some("the old version did not match (or did not exist): expected ADDED".to_owned())
                    }
                    EventType::Added if live && before => {
                        Some("the old version matched already: expected MODIFIED".to_owned())
                    }
                    _ => None,
                }
            } else {
                None
            };
            if let Some(problem) = problem {
                out.report(e.time, entry, || {
                    format!("{}: {:?} of {} at rv {}: {problem}", s.describe(), e.kind, e.key, e.rv)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const A: &str = "/registry/pods/ns/a";
    const B: &str = "/registry/pods/ns/b";

    fn base() -> Vec<Entry> {
        let n1 = Some(vec![term("spec.nodeName", true, "n1")]);
        vec![
            commit(1, 1, A, false, pod("ns", "a", "", "")),
            commit(2, 2, B, false, pod("ns", "b", "n1", "")),
            open(3, 1, "k", "/registry/pods/", n1, Some(1)),
            commit(4, 3, A, false, pod("ns", "a", "n1", "")),
            commit(5, 4, A, false, pod("ns", "a", "n1", "Running")),
            commit(6, 5, A, false, pod("ns", "a", "n2", "Running")),
            commit(7, 6, B, true, pod("ns", "b", "n1", "")),
            event(3, 1, EventType::Added, B, 2),
            event(4, 1, EventType::Added, A, 3),
            event(5, 1, EventType::Modified, A, 4),
            event(6, 1, EventType::Deleted, A, 5),
            event(7, 1, EventType::Deleted, B, 6),
        ]
    }

    #[test]
    fn events_that_are_commits_pass() {
        assert_eq!(only(NAME, &history(base())), vec![]);
    }

    #[test]
    fn event_without_commit_or_of_wrong_key_is_reported() {
        let mut e = base();
        e.push(event(8, 1, EventType::Modified, A, 9));
        e.push(event(8, 1, EventType::Modified, B, 4));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![12, 13]);
        assert!(v[0].message.contains("matches no commit"), "{v:?}");
        assert!(v[1].message.contains("is of /registry/pods/ns/a"), "{v:?}");
    }

    #[test]
    fn wrong_event_types_are_reported() {
        let mut e = base();
        e[9] = event(5, 1, EventType::Deleted, A, 4); // still matches
        e[10] = event(6, 1, EventType::Modified, A, 5); // no longer matches
        e[11] = event(7, 1, EventType::Modified, B, 6); // a delete
        e[8] = event(4, 1, EventType::Modified, A, 3); // newly matching
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![8, 9, 10, 11]);
    }

    #[test]
    fn event_outside_the_prefix_is_reported() {
        let mut e = base();
        e.push(open(8, 2, "k", "/registry/pods/other/", None, Some(1)));
        e.push(event(8, 2, EventType::Modified, A, 4));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![13]);
        assert!(v[0].message.contains("outside the stream's prefix"), "{v:?}");
    }
}
