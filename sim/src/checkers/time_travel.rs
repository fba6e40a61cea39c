//! `no-time-travel`: the resourceVersions one client observes on one resource lineage (storage
//! prefix) never go backwards across calls and reconnects, whichever API server answers
//! (kubernetes#59848: a relist served by a stale watch cache after failover).
//!
//! Observations, in history order, per (client, lineage): a List answer's collection rv (lineage
//! from its path, see [`lineage`](super::lineage)), and the rvs of live object events and
//! bookmarks of the client's answered watch streams (lineage = the stream's prefix; initial-state
//! events carry objects' own old rvs and are not observations). Checks:
//!
//! * a List answer's rv is at least the highest rv the client observed on the lineage before it
//!   sent the List;
//! * a new stream's first observation is not behind what the client saw before it was answered:
//!   an object event must be newer and a bookmark not older than that (for a stream started at
//!   rv n below it, n is the bar: the client itself asked for older events).
//!
//! Later events of a stream are bound by `watch-ordered` instead, which also keeps concurrent
//! streams of one client (with different filters) from being compared with each other.

use std::collections::BTreeMap;

use super::collector::Collector;
use super::lineage;
use super::stream::{event, is_object, Streams};
use crate::history::{Entry, EventType, History, Time, Verb};

/// The checker's name.
pub(crate) const NAME: &str = "no-time-travel";

/// One observation or stream start, at its history entry.
enum Step {
    List { lineage: usize },
    Open { stream: usize },
    Event { stream: usize, first: bool },
}

/// The highest rv observed on one (client, lineage), as a step function of time.
#[derive(Default)]
struct Seen {
    /// (time, highest rv so far, the entry that showed it); rvs strictly increase.
    steps: Vec<(Time, u64, usize)>,
}

impl Seen {
    fn latest(&self) -> Option<(u64, usize)> {
        self.steps.last().map(|&(_, rv, e)| (rv, e))
    }

    /// The highest rv observed strictly before `time`.
    fn before(&self, time: Time) -> Option<(u64, usize)> {
        let n = self.steps.partition_point(|s| s.0 < time);
        n.checked_sub(1).map(|i| (self.steps[i].1, self.steps[i].2))
    }

    fn observe(&mut self, time: Time, rv: u64, entry: usize) {
        if self.latest().is_none_or(|(top, _)| rv > top) {
            self.steps.push((time, rv, entry));
        }
    }
}

/// Checks every client's lists and watch streams.
pub(crate) fn check<'h>(history: &'h History, streams: &Streams<'h>, out: &mut Collector) {
    let mut ids: BTreeMap<(&'h str, String), usize> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut intern = |client: &'h str, lineage: String| -> usize {
        let n = ids.len();
        *ids.entry((client, lineage)).or_insert_with_key(|(_, l)| {
            names.push(l.clone());
            n
        })
    };
    let mut steps: Vec<(usize, Step)> = Vec::new();
    for (entry, e) in history.entries.iter().enumerate() {
        if let Entry::Api(c) = e {
            if c.verb == Verb::List && c.status == 200 && c.rv.is_some() {
                let lineage = lineage::storage_prefix(&c.path).unwrap_or_else(|| c.path.to_string());
                steps.push((entry, Step::List { lineage: intern(&c.client, lineage) }));
            }
        }
    }
    let mut stream_lineage = Vec::with_capacity(streams.streams.len());
    for (i, s) in streams.streams.iter().enumerate() {
        stream_lineage.push(intern(&s.open.client, s.open.prefix.to_string()));
        steps.push((s.open_entry, Step::Open { stream: i }));
        let mut first = true;
        for (p, &entry) in s.events.iter().enumerate() {
            let e = event(history, entry);
            if (is_object(e.kind) && p >= s.initial) || e.kind == EventType::Bookmark {
                steps.push((entry, Step::Event { stream: i, first }));
                first = false;
            }
        }
    }
    steps.sort_by_key(|(entry, _)| *entry);

    let mut seen: Vec<Seen> = (0..ids.len()).map(|_| Seen::default()).collect();
    // Per stream: what its first observation must not fall behind, and where that came from.
    let mut bar: Vec<Option<(u64, usize)>> = vec![None; streams.streams.len()];
    for (entry, step) in steps {
        match step {
            Step::List { lineage } => {
                let Entry::Api(c) = &history.entries[entry] else { unreachable!() };
                let rv = c.rv.unwrap_or_default();
                if let Some((top, at)) = seen[lineage].before(c.invoked).filter(|&(top, _)| rv < top) {
                    out.report(c.returned, entry, || {
                        format!(
                            "list of {} by {} returned rv {rv}, but {} had seen rv {top} (entry {at}) on {} \
                             before sending it",
                            c.path, c.client, c.client, names[lineage]
                        )
                    });
                }
                seen[lineage].observe(c.returned, rv, entry);
            }
            Step::Open { stream } => {
                let s = &streams.streams[stream];
                let latest = seen[stream_lineage[stream]].latest();
                bar[stream] = match (latest, s.open.start_rv) {
                    // The client asked for events after n itself: n is the bar (set by the open).
                    (Some((top, _)), Some(n)) if n < top => Some((n, s.open_entry)),
                    (latest, _) => latest,
                };
            }
            Step::Event { stream, first } => {
                let s = &streams.streams[stream];
                let e = event(history, entry);
                let behind = |(top, _): &(u64, usize)| {
                    if e.kind == EventType::Bookmark {
                        e.rv < *top
                    } else {
                        e.rv <= *top
                    }
                };
                if let Some((top, at)) = bar[stream].filter(behind).filter(|_| first) {
                    out.report(e.time, entry, || {
                        format!(
                            "{}: first {:?} at rv {} is behind rv {top} (entry {at}), which the client was \
                             already past",
                            s.describe(),
                            e.kind,
                            e.rv
                        )
                    });
                }
                seen[stream_lineage[stream]].observe(e.time, e.rv, entry);
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

    fn informer() -> Vec<Entry> {
        vec![
            api("k", 1, 2, Verb::List, "/api/v1/pods", 200, Some(10)),
            open(3, 1, "k", P, None, Some(10)),
            event(4, 1, EventType::Modified, A, 11),
            event(5, 1, EventType::Bookmark, "", 12),
            close(6, 1),
            open(7, 2, "k", P, None, Some(12)),
            event(8, 2, EventType::Modified, A, 13),
            close(9, 2),
            // Another client may lag behind.
            api("other", 10, 11, Verb::List, "/api/v1/namespaces/ns/pods", 200, Some(5)),
            // Different lineage: nodes.
            api("k", 10, 11, Verb::List, "/api/v1/nodes", 200, Some(3)),
            api("k", 12, 13, Verb::List, "/api/v1/pods", 200, Some(13)),
        ]
    }

    #[test]
    fn monotonic_client_passes() {
        assert_eq!(only(NAME, &history(informer())), vec![]);
    }

    #[test]
    fn stale_relist_is_reported() {
        let mut e = informer();
        e.push(api("k", 20, 21, Verb::List, "/api/v1/pods", 200, Some(12)));
        // Namespaced list of the same lineage's subtree is a different lineage; not compared.
        e.push(api("k", 20, 21, Verb::List, "/api/v1/namespaces/ns/pods", 200, Some(1)));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![11]);
        assert!(v[0].message.contains("had seen rv 13"), "{v:?}");
    }

    #[test]
    fn list_concurrent_with_an_event_may_be_older() {
        let mut e = informer();
        e.insert(6, api("k", 4, 6, Verb::List, "/api/v1/pods", 200, Some(10)));
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn reconnect_to_a_stale_server_is_reported() {
        let mut e = informer();
        // A watch from "now" answered by a server whose cache is behind rv 13.
        e.push(commit(19, 14, A, false, pod("ns", "a", "", "")));
        e.push(open(20, 3, "k", P, None, None));
        e.push(event(21, 3, EventType::Added, A, 9));
        e.push(event(22, 3, EventType::Modified, A, 12));
        e.push(open(23, 4, "k", P, None, Some(13)));
        e.push(event(24, 4, EventType::Bookmark, "", 11));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![14, 16]);
        assert!(v[0].message.contains("first Modified at rv 12 is behind rv 13"), "{v:?}");
    }

    #[test]
    fn a_client_resuming_from_an_older_rv_gets_what_it_asked_for() {
        let mut e = informer();
        e.push(open(20, 3, "k", P, None, Some(11)));
        e.push(event(21, 3, EventType::Modified, A, 12));
        assert_eq!(only(NAME, &history(e.clone())), vec![]);
        e.push(event(22, 3, EventType::Bookmark, "", 13));
        e.push(close(23, 3));
        e.push(open(24, 4, "k", P, None, Some(11)));
        e.push(event(25, 4, EventType::Modified, A, 11));
        assert_eq!(entries(&only(NAME, &history(e))), vec![16]);
    }
}
