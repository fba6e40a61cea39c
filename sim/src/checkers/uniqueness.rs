//! `watch-unique`: one stream never delivers the same (key, rv) twice (etcd's Unique).

use super::collector::Collector;
use super::stream::{event, is_object, Streams};
use crate::history::History;

/// The checker's name.
pub(crate) const NAME: &str = "watch-unique";

/// Checks every answered stream, initial part included.
pub(crate) fn check(history: &History, streams: &Streams<'_>, out: &mut Collector) {
    for s in &streams.streams {
        let mut seen: Vec<(u64, &str, usize)> = s
            .events
            .iter()
            .map(|&i| (event(history, i), i))
            .filter(|(e, _)| is_object(e.kind))
            .map(|(e, i)| (e.rv, &*e.key, i))
            .collect();
        seen.sort_unstable();
        for pair in seen.windows(2) {
            let ((rv, key, first), (_, _, again)) = (pair[0], pair[1]);
            if (pair[0].0, pair[0].1) == (pair[1].0, pair[1].1) {
                let e = event(history, again);
                out.report(e.time, again, || {
                    format!("{}: {key} at rv {rv} delivered again (first at entry {first})", s.describe())
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

    #[test]
    fn distinct_events_pass_and_repeats_are_reported() {
        let mut e = vec![
            open(1, 1, "c", "/registry/pods/", None, Some(1)),
            event(2, 1, EventType::Added, A, 2),
            event(3, 1, EventType::Modified, A, 3),
            event(4, 1, EventType::Bookmark, "", 3),
            event(4, 1, EventType::Bookmark, "", 3),
            open(5, 2, "c", "/registry/pods/", None, Some(1)),
            event(6, 2, EventType::Added, A, 2),
        ];
        assert_eq!(only(NAME, &history(e.clone())), vec![]);
        e.push(event(7, 1, EventType::Modified, A, 3));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![7]);
        assert!(v[0].message.contains("first at entry 2"), "{v:?}");
    }
}
