//! `liveness-after-healing`: every pod the workload has an expectation for (its latest one
//! counts) is in the expected phase at the end of the run, continuously since a time no later
//! than its deadline: `max(healed_at, expectation time) + liveness_deadline`, or the end of the
//! run when that is later. Phases come from commits: Running = a live version with phase
//! Running; Completed = a live version with phase Succeeded or Failed; Deleted = no live version
//! (a pod never created counts as deleted from the start).

use std::collections::BTreeMap;

use super::collector::Collector;
use super::CheckContext;
use crate::history::{Commit, Entry, Expectation, ExpectedPhase, History, Time};

/// The checker's name.
pub(crate) const NAME: &str = "liveness-after-healing";

fn in_phase(phase: ExpectedPhase, c: &Commit) -> bool {
    match phase {
        ExpectedPhase::Running => !c.deleted && &*c.attrs.phase == "Running",
        ExpectedPhase::Completed => !c.deleted && matches!(&*c.attrs.phase, "Succeeded" | "Failed"),
        ExpectedPhase::Deleted => c.deleted,
    }
}

/// What became of one expected pod.
struct Fate<'h> {
    /// Since when it has been in the expected phase without a break.
    since: Option<Time>,
    /// Its latest commit.
    last: Option<&'h Commit>,
}

/// Checks every pod's latest expectation.
pub(crate) fn check(history: &History, ctx: &CheckContext, out: &mut Collector) {
    let mut expected: BTreeMap<&str, (usize, &Expectation)> = BTreeMap::new();
    for (entry, e) in history.entries.iter().enumerate() {
        if let Entry::Expect(x) = e {
            expected.insert(&x.pod, (entry, x));
        }
    }
    let mut fates: BTreeMap<&str, Fate<'_>> = expected
        .iter()
        .map(|(&pod, (_, x))| {
            let since = (x.phase == ExpectedPhase::Deleted).then_some(0);
            (pod, Fate { since, last: None })
        })
        .collect();
    for e in &history.entries {
        let Entry::Commit(c) = e else { continue };
        let (Some(fate), Some((_, x))) = (fates.get_mut(&*c.key), expected.get(&*c.key)) else {
            continue;
        };
        fate.since = if in_phase(x.phase, c) { fate.since.or(Some(c.time)) } else { None };
        fate.last = Some(c);
    }
    for (pod, (entry, x)) in &expected {
        let deadline = ctx.healed_at.max(x.time).saturating_add(ctx.liveness_deadline).min(ctx.end);
        let fate = &fates[pod];
        if fate.since.is_some_and(|t| t <= deadline) {
            continue;
        }
        out.report(deadline, *entry, || {
            let state = match fate.last {
                None => "never created".to_owned(),
                Some(c) if c.deleted => format!("deleted at revision {}", c.revision),
                Some(c) => format!(
                    "phase {:?} on node {:?} at revision {}",
                    c.attrs.phase, c.attrs.node_name, c.revision
                ),
            };
            let since = fate.since.map_or("never settled".to_owned(), |t| format!("in phase only since {t}"));
            format!("pod {pod} expected {:?} by {deadline}: finally {state}, {since}", x.phase)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const A: &str = "/registry/pods/ns/a";
    const B: &str = "/registry/pods/ns/b";
    const C: &str = "/registry/pods/ns/c";

    fn base() -> Vec<Entry> {
        vec![
            expect(0, A, ExpectedPhase::Running),
            expect(0, B, ExpectedPhase::Completed),
            expect(0, C, ExpectedPhase::Deleted),
            commit(100, 1, A, false, pod("ns", "a", "", "Pending")),
            commit(200, 2, B, false, pod("ns", "b", "n1", "Running")),
            commit(300, 3, A, false, pod("ns", "a", "n1", "Running")),
            // Faults: a is knocked out of Running, recovers in time (deadline 2 000).
            commit(900, 4, A, false, pod("ns", "a", "n1", "Pending")),
            commit(1_500, 5, A, false, pod("ns", "a", "n1", "Running")),
            commit(1_800, 6, B, false, pod("ns", "b", "n1", "Succeeded")),
        ]
    }

    #[test]
    fn pods_settled_in_time_pass() {
        assert_eq!(only(NAME, &history(base())), vec![]);
    }

    #[test]
    fn late_or_wrong_phases_are_reported() {
        let mut e = base();
        // a leaves Running after the deadline: it did not stay.
        e.push(commit(3_000, 7, A, false, pod("ns", "a", "n1", "Failed")));
        // c exists at the end although expected deleted.
        e.push(commit(3_100, 8, C, false, pod("ns", "c", "", "Pending")));
        // A later expectation for b replaces the first, and is not met.
        e.push(expect(3_200, B, ExpectedPhase::Deleted));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![0, 2, 11]);
        assert_eq!(v[0].time, 2_000);
        assert_eq!(v[2].time, 4_200, "its own deadline");
        assert!(v[0].message.contains("finally phase \"Failed\""), "{v:?}");
    }

    #[test]
    fn the_end_of_the_run_caps_the_deadline() {
        let e = vec![
            expect(9_900, A, ExpectedPhase::Running),
            commit(9_950, 1, A, false, pod("ns", "a", "n1", "Pending")),
            expect(9_900, B, ExpectedPhase::Running),
            commit(9_960, 2, B, false, pod("ns", "b", "n1", "Running")),
        ];
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![0]);
        assert_eq!(v[0].time, 10_000);
    }
}
