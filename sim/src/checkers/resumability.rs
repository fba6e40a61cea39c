//! `watch-resumable`: a stream started from rv n (not expired: no ERROR first) resumes exactly
//! there: its first object event is newer than n and is the first commit after n that the
//! stream's filter selects (etcd's Resumable).

use super::collector::Collector;
use super::commit_log::CommitLog;
use super::matching::MatchIndex;
use super::stream::{event, is_object, Streams};
use crate::history::{EventType, History};

/// The checker's name.
pub(crate) const NAME: &str = "watch-resumable";

/// Checks every answered stream that has a start revision.
pub(crate) fn check(
    history: &History,
    streams: &Streams<'_>,
    log: &CommitLog<'_>,
    index: &MatchIndex,
    out: &mut Collector,
) {
    for s in &streams.streams {
        let Some(n) = s.open.start_rv else { continue };
        let Some(entry) = s.events.iter().copied().find(|&i| event(history, i).kind != EventType::Bookmark)
        else {
            continue;
        };
        let e = event(history, entry);
        if !is_object(e.kind) {
            // Expired (410) or another error: the client must relist; nothing was resumed.
            continue;
        }
        if e.rv <= n {
            out.report(e.time, entry, || {
                format!(
                    "{}: first event {:?} of {} at rv {} is not after the start",
                    s.describe(),
                    e.kind,
                    e.key,
                    e.rv
                )
            });
        } else if let Some(p) = index.seen(log, s, n.saturating_add(1), e.rv - 1).next() {
            let l = &log.commits[p];
            out.report(e.time, entry, || {
                format!(
                    "{}: first event {:?} of {} at rv {} skips the selected commit at revision {} of {} \
                     (entry {})",
                    s.describe(),
                    e.kind,
                    e.key,
                    e.rv,
                    l.commit.revision,
                    l.commit.key,
                    l.entry
                )
            });
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

    fn commits() -> Vec<Entry> {
        vec![
            commit(1, 1, A, false, pod("ns", "a", "", "")),
            commit(2, 2, B, false, pod("ns", "b", "n1", "")),
            commit(3, 3, A, false, pod("ns", "a", "n1", "")),
        ]
    }

    #[test]
    fn resuming_at_the_next_selected_commit_passes() {
        let n1 = Some(vec![term("spec.nodeName", true, "n1")]);
        let mut e = commits();
        e.extend([
            open(4, 1, "k", P, n1.clone(), Some(1)),
            event(4, 1, EventType::Bookmark, "", 1),
            event(4, 1, EventType::Added, B, 2),
            open(4, 2, "k", P, n1.clone(), Some(2)),
            event(4, 2, EventType::Added, A, 3),
            // Expired: fine.
            open(4, 3, "k", P, n1, Some(1)),
            event(4, 3, EventType::Error, "", 410),
        ]);
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn skipping_or_replaying_is_reported() {
        let mut e = commits();
        e.extend([
            open(4, 1, "k", P, Some(vec![]), Some(1)),
            event(4, 1, EventType::Added, A, 3),
            open(4, 2, "k", P, None, Some(2)),
            event(4, 2, EventType::Added, B, 2),
        ]);
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![4, 6]);
        assert!(v[0].message.contains("skips the selected commit at revision 2"), "{v:?}");
        assert!(v[1].message.contains("is not after the start"), "{v:?}");
    }
}
