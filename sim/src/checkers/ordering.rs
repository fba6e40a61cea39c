//! `watch-ordered`: along one stream, object events have strictly increasing resourceVersions
//! (etcd's Ordered: never an event that precedes one already posted).
//!
//! The initial part of a stream without a start revision is unordered by nature; its events only
//! bound the rest: every later event must be newer than all of them.

use super::collector::Collector;
use super::stream::{event, is_object, Streams};
use crate::history::History;

/// The checker's name.
pub(crate) const NAME: &str = "watch-ordered";

/// Checks every answered stream.
pub(crate) fn check(history: &History, streams: &Streams<'_>, out: &mut Collector) {
    for s in &streams.streams {
        // The newest rv delivered so far, and where.
        let mut top: Option<(u64, usize)> = s.events[..s.initial]
            .iter()
            .map(|&i| (event(history, i), i))
            .filter(|(e, _)| is_object(e.kind))
            .map(|(e, i)| (e.rv, i))
            .max();
        for (_, entry, e) in s.live_objects(history) {
            if let Some((rv, at)) = top.filter(|&(rv, _)| e.rv <= rv) {
                out.report(e.time, entry, || {
                    format!(
                        "{}: {:?} of {} at rv {} arrived after rv {rv} (entry {at})",
                        s.describe(),
                        e.kind,
                        e.key,
                        e.rv
                    )
                });
            }
            top = top.max(Some((e.rv, entry)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const P: &str = "/registry/pods/";
    const A: &str = "/registry/pods/ns/a";
    const B: &str = "/registry/pods/ns/b";

    fn base() -> Vec<Entry> {
        vec![
            commit(1, 5, A, false, pod("ns", "a", "", "")),
            commit(2, 3, B, false, pod("ns", "b", "", "")),
            open(3, 1, "c", P, None, None),
            // Initial state: unordered rvs.
            event(4, 1, EventType::Added, A, 5),
            event(4, 1, EventType::Added, B, 3),
            event(5, 1, EventType::Modified, B, 6),
            event(6, 1, EventType::Deleted, A, 7),
        ]
    }

    #[test]
    fn increasing_stream_passes() {
        assert_eq!(only(NAME, &history(base())), vec![]);
    }

    #[test]
    fn going_back_is_reported() {
        let mut e = base();
        e.push(event(7, 1, EventType::Modified, B, 6));
        e.push(event(8, 1, EventType::Added, B, 9));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![7]);
        assert!(v[0].message.contains("at rv 6 arrived after rv 7"), "{v:?}");
    }

    #[test]
    fn live_event_older_than_the_initial_state_is_reported() {
        let mut e = base();
        e.insert(5, event(5, 1, EventType::Modified, B, 4));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![5]);
    }

    #[test]
    fn resumed_stream_is_ordered_from_its_first_event() {
        let e = vec![
            open(1, 2, "c", P, None, Some(10)),
            event(2, 2, EventType::Modified, A, 12),
            event(3, 2, EventType::Modified, A, 11),
        ];
        assert_eq!(entries(&only(NAME, &history(e))), vec![2]);
    }
}
