//! `store-linearizable`: the store operations the API servers made are consistent with one
//! linearizable order given by the store's single global revision.
//!
//! Rather than search all interleavings (millions of ops), it checks necessary conditions that
//! each follow from linearizability with one revision counter, every one in O(n log n):
//!
//! * unique revisions: two acknowledged (Ok) writes never share a revision (any keys);
//! * real time: a write invoked after an Ok op returned revision r gets a revision > r (any keys:
//!   the revision is global, and a read's mod revision r is at most the global one);
//! * reads are explained: an Ok read of revision r names an Ok non-delete write of that key at r
//!   invoked before the read returned, or else (r taken by no Ok write) an Unknown-outcome
//!   create/update of the key invoked before the read returned;
//! * reads are fresh: no Ok op on the key returned a revision above r before the read was
//!   invoked; a NotFound read is preceded by no live version of the key unless a delete (Ok and
//!   newer, or Unknown) was invoked before the read returned;
//! * preconditions hold: an Ok conditional update/delete with expected e at revision r has no Ok
//!   write of the key in (e, r), and e is a live version of the key (an Ok non-delete write, or
//!   possibly an Unknown one); an Ok create has no live version below it, an Ok unconditional
//!   delete has one (Unknown writes of the right kind excuse both);
//! * the commit log holds every acknowledged write, and its revisions strictly increase.
//!
//! Unknown-outcome writes have no known revision, so every rule that one could explain stays
//! silent when such a write was invoked in time. It assumes every write of the run was recorded
//! (the store starts empty, or its seeding is in the history).

use std::collections::BTreeMap;

use super::collector::Collector;
use super::commit_log::CommitLog;
use crate::history::{Entry, History, StoreOp, StoreOpKind, StoreOutcome, Time};

/// The checker's name.
pub(crate) const NAME: &str = "store-linearizable";

#[derive(Clone, Copy)]
struct Op<'h> {
    entry: usize,
    op: &'h StoreOp,
}

impl Op<'_> {
    fn ok(&self) -> Option<u64> {
        match self.op.outcome {
            StoreOutcome::Ok { revision } => Some(revision),
            _ => None,
        }
    }

    fn is_write(&self) -> bool {
        self.op.kind != StoreOpKind::Get
    }

    fn is_delete(&self) -> bool {
        matches!(self.op.kind, StoreOpKind::Delete { .. })
    }

    fn report(&self, out: &mut Collector, message: impl FnOnce() -> String) {
        out.report(self.op.returned, self.entry, message);
    }
}

fn kind_name(kind: StoreOpKind) -> String {
    match kind {
        StoreOpKind::Get => "get".into(),
        StoreOpKind::Create => "create".into(),
        StoreOpKind::Update { expected } => format!("update(expected {expected})"),
        StoreOpKind::Delete { expected: None } => "delete".into(),
        StoreOpKind::Delete { expected: Some(e) } => format!("delete(expected {e})"),
    }
}

fn describe(op: &Op<'_>) -> String {
    format!("{} of {} (entry {})", kind_name(op.op.kind), op.op.key, op.entry)
}

/// Checks the history's store ops (see the module doc).
pub(crate) fn check(history: &History, log: &CommitLog<'_>, out: &mut Collector) {
    let all: Vec<Op<'_>> = history
        .entries
        .iter()
        .enumerate()
        .filter_map(|(entry, e)| match e {
            Entry::Store(op) => Some(Op { entry, op }),
            _ => None,
        })
        .collect();
    let mut by_key: BTreeMap<&str, Vec<Op<'_>>> = BTreeMap::new();
    for o in &all {
        by_key.entry(&*o.op.key).or_default().push(*o);
    }
    // Every Ok write, by revision: which write (if any) owns a revision.
    let mut writes: Vec<Op<'_>> = all.iter().filter(|o| o.is_write() && o.ok().is_some()).copied().collect();
    writes.sort_by_key(|o| (o.ok(), o.entry));

    unique_revisions(&writes, out);
    real_time(&all, out);
    commit_log(history, log, &writes, out);
    for ops in by_key.values() {
        per_key(ops, &writes, out);
    }
}

/// The Ok write at revision `r`, if any.
fn write_at<'h>(writes: &[Op<'h>], r: u64) -> Option<Op<'h>> {
    let i = writes.partition_point(|o| o.ok() < Some(r));
    writes.get(i).filter(|o| o.ok() == Some(r)).copied()
}

fn unique_revisions(writes: &[Op<'_>], out: &mut Collector) {
    for pair in writes.windows(2) {
        if pair[0].ok() == pair[1].ok() {
            let (first, second) = (pair[0], pair[1]);
            second.report(out, || {
                format!(
                    "{} and {} were both acknowledged at revision {}",
                    describe(&first),
                    describe(&second),
                    second.ok().unwrap_or_default()
                )
            });
        }
    }
}

/// A write invoked after an op returned revision r must get a revision above r.
fn real_time(all: &[Op<'_>], out: &mut Collector) {
    let mut done: Vec<(Time, u64, usize)> =
        all.iter().filter_map(|o| o.ok().map(|r| (o.op.returned, r, o.entry))).collect();
    done.sort_unstable();
    let mut started: Vec<Op<'_>> = all.iter().filter(|o| o.is_write() && o.ok().is_some()).copied().collect();
    started.sort_by_key(|o| (o.op.invoked, o.entry));
    let mut best: Option<(u64, usize)> = None;
    let mut i = 0;
    for w in started {
        while i < done.len() && done[i].0 < w.op.invoked {
            best = best.max(Some((done[i].1, done[i].2)));
            i += 1;
        }
        let r = w.ok().unwrap_or_default();
        if let Some((seen, by)) = best.filter(|&(seen, _)| seen >= r) {
            w.report(out, || {
                format!(
                    "{} got revision {r} although entry {by} had returned revision {seen} before it \
                     was invoked",
                    describe(&w)
                )
            });
        }
    }
}

/// The commit log's revisions strictly increase, and it holds every acknowledged write.
fn commit_log(history: &History, log: &CommitLog<'_>, writes: &[Op<'_>], out: &mut Collector) {
    let mut last: Option<(u64, usize)> = None;
    for (entry, e) in history.entries.iter().enumerate() {
        if let Entry::Commit(c) = e {
            if let Some((r, at)) = last.filter(|&(r, _)| c.revision <= r) {
                out.report(c.time, entry, || {
                    format!(
                        "commit of {} at revision {} follows commit at revision {r} (entry {at})",
                        c.key, c.revision
                    )
                });
            }
            last = last.max(Some((c.revision, entry)));
        }
    }
    if log.commits.is_empty() {
        // No commit log recorded: nothing to compare with.
        return;
    }
    for w in writes {
        let r = w.ok().unwrap_or_default();
        match log.commit_at(r) {
            None => w.report(out, || {
                format!("{} was acknowledged at revision {r}, which has no commit", describe(w))
            }),
            Some(l) if l.commit.key != w.op.key || l.commit.deleted != w.is_delete() => w.report(out, || {
                format!(
                    "{} was acknowledged at revision {r}, but the commit there (entry {}) is a {} of {}",
                    describe(w),
                    l.entry,
                    if l.commit.deleted { "delete" } else { "put" },
                    l.commit.key
                )
            }),
            Some(_) => {}
        }
    }
}

fn per_key(ops: &[Op<'_>], writes: &[Op<'_>], out: &mut Collector) {
    let mut ok_writes: BTreeMap<u64, Op<'_>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.is_write()) {
        if let Some(r) = o.ok() {
            ok_writes.entry(r).or_insert(*o);
        }
    }
    // The earliest invocation of an Unknown-outcome write that could create/update or delete.
    let earliest = |delete: bool| {
        ops.iter()
            .filter(|o| o.is_write() && o.is_delete() == delete && o.op.outcome == StoreOutcome::Unknown)
            .map(|o| o.op.invoked)
            .min()
    };
    let (unknown_put, unknown_del) = (earliest(false), earliest(true));
    let before = |t: Option<Time>, limit: Time| t.is_some_and(|t| t < limit);

    for o in ops {
        let Some(r) = o.ok() else { continue };
        match o.op.kind {
            StoreOpKind::Get => {
                explain_read(o, r, &ok_writes, writes, before(unknown_put, o.op.returned), out)
            }
            StoreOpKind::Update { expected } | StoreOpKind::Delete { expected: Some(expected) } => {
                precondition(o, expected, r, &ok_writes, writes, before(unknown_put, o.op.returned), out)
            }
            StoreOpKind::Create => {
                let prev = ok_writes.range(..r).next_back().map(|(_, w)| *w);
                if let Some(p) = prev.filter(|p| !p.is_delete()) {
                    if !before(unknown_del, o.op.returned) {
                        o.report(out, || {
                            format!(
                                "{} succeeded at revision {r} while the key was live since {} at revision {}",
                                describe(o),
                                describe(&p),
                                p.ok().unwrap_or_default()
                            )
                        });
                    }
                }
            }
            StoreOpKind::Delete { expected: None } => {
                let prev = ok_writes.range(..r).next_back().map(|(_, w)| *w);
                if prev.is_none_or(|p| p.is_delete()) && !before(unknown_put, o.op.returned) {
                    o.report(out, || format!("{} succeeded at revision {r} on an absent key", describe(o)));
                }
            }
        }
    }
    freshness(ops, out, unknown_del);
}

/// An Ok read of revision r names a version some write of this key produced.
fn explain_read(
    o: &Op<'_>,
    r: u64,
    ok_writes: &BTreeMap<u64, Op<'_>>,
    writes: &[Op<'_>],
    unknown_put_in_time: bool,
    out: &mut Collector,
) {
    if let Some(w) = ok_writes.get(&r) {
        if w.is_delete() {
            o.report(out, || format!("{} returned revision {r}, which is {}", describe(o), describe(w)));
        } else if w.op.invoked > o.op.returned {
            o.report(out, || {
                format!(
                    "{} returned revision {r} before {} producing it was invoked",
                    describe(o),
                    describe(w)
                )
            });
        }
    } else if let Some(w) = write_at(writes, r) {
        o.report(out, || format!("{} returned revision {r}, which belongs to {}", describe(o), describe(&w)));
    } else if !unknown_put_in_time {
        o.report(out, || {
            format!("{} returned revision {r}, which no write of the key produced", describe(o))
        });
    }
}

/// An Ok conditional write expected revision `e` and committed at `r`.
fn precondition(
    o: &Op<'_>,
    e: u64,
    r: u64,
    ok_writes: &BTreeMap<u64, Op<'_>>,
    writes: &[Op<'_>],
    unknown_put_in_time: bool,
    out: &mut Collector,
) {
    if e >= r {
        o.report(out, || format!("{} succeeded at revision {r}, not above its precondition", describe(o)));
    } else if let Some((x, w)) = ok_writes.range(e + 1..r).next() {
        // After any write in (e, r) the key's mod revision is above e for good.
        o.report(out, || {
            format!(
                "{} succeeded at revision {r} although {} changed the key at revision {x}",
                describe(o),
                describe(w)
            )
        });
    } else if let Some(w) = ok_writes.get(&e) {
        if w.is_delete() {
            o.report(out, || {
                format!("{} succeeded at revision {r}, but revision {e} is {}", describe(o), describe(w))
            });
        }
    } else if let Some(w) = write_at(writes, e) {
        o.report(out, || {
            format!("{} succeeded at revision {r}, but revision {e} belongs to {}", describe(o), describe(&w))
        });
    } else if !unknown_put_in_time {
        o.report(out, || {
            format!(
                "{} succeeded at revision {r}, but no write of the key produced revision {e}",
                describe(o)
            )
        });
    }
}

/// Reads are not stale: sweeps the key's reads in invocation order against the newest version
/// any op had returned before.
fn freshness(ops: &[Op<'_>], out: &mut Collector, unknown_del: Option<Time>) {
    // (returned, revision, the key is live at that revision, entry)
    let mut done: Vec<(Time, u64, bool, usize)> =
        ops.iter().filter_map(|o| o.ok().map(|r| (o.op.returned, r, !o.is_delete(), o.entry))).collect();
    done.sort_unstable();
    // Ok deletes by invocation, with the highest revision among those invoked so far.
    let mut deletes: Vec<(Time, u64)> =
        ops.iter().filter(|o| o.is_delete()).filter_map(|o| o.ok().map(|r| (o.op.invoked, r))).collect();
    deletes.sort_unstable();
    let mut top = 0;
    for d in &mut deletes {
        top = top.max(d.1);
        d.1 = top;
    }
    let mut reads: Vec<&Op<'_>> = ops
        .iter()
        .filter(|o| o.op.kind == StoreOpKind::Get)
        .filter(|o| matches!(o.op.outcome, StoreOutcome::Ok { .. } | StoreOutcome::NotFound))
        .collect();
    reads.sort_by_key(|o| (o.op.invoked, o.entry));
    let mut best: Option<(u64, bool, usize)> = None;
    let mut i = 0;
    for o in reads {
        while i < done.len() && done[i].0 < o.op.invoked {
            let (_, r, live, entry) = done[i];
            if best.is_none_or(|(b, _, _)| r > b) {
                best = Some((r, live, entry));
            }
            i += 1;
        }
        let Some((b, live, by)) = best else { continue };
        match o.ok() {
            Some(r) if r < b => o.report(out, || {
                format!(
                    "{} returned revision {r} although entry {by} had returned revision {b} before",
                    describe(o)
                )
            }),
            None if live => {
                let n = deletes.partition_point(|d| d.0 < o.op.returned);
                let newer_delete = n > 0 && deletes[n - 1].1 > b;
                if !newer_delete && unknown_del.is_none_or(|t| t >= o.op.returned) {
                    o.report(out, || {
                        format!(
                            "{} found nothing although entry {by} had returned live revision {b} before, \
                             and no delete could come between",
                            describe(o)
                        )
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;
    use crate::history::StoreOpKind::{Create, Delete, Get, Update};
    use crate::history::StoreOutcome::{Failed, NotFound, Unknown};

    const K: &str = "/registry/pods/ns/a";
    const L: &str = "/registry/pods/ns/b";

    fn good() -> Vec<Entry> {
        vec![
            store(0, 10, K, Create, ok(1)),
            commit(5, 1, K, false, pod("ns", "a", "", "")),
            store(11, 12, K, Get, ok(1)),
            store(13, 20, K, Update { expected: 1 }, ok(2)),
            commit(15, 2, K, false, pod("ns", "a", "n1", "")),
            // Concurrent with the update: may see either version.
            store(14, 21, K, Get, ok(1)),
            store(16, 22, L, Create, ok(3)),
            commit(17, 3, L, false, pod("ns", "b", "", "")),
            store(23, 24, K, Update { expected: 1 }, Failed),
            store(25, 30, K, Delete { expected: Some(2) }, ok(4)),
            commit(26, 4, K, true, pod("ns", "a", "n1", "")),
            store(31, 32, K, Get, NotFound),
            store(33, 40, K, Create, ok(5)),
            commit(34, 5, K, false, pod("ns", "a", "", "")),
            store(41, 42, K, Get, ok(5)),
            store(43, 44, L, Delete { expected: None }, ok(6)),
            commit(43, 6, L, true, pod("ns", "b", "", "")),
        ]
    }

    fn with(mut entries: Vec<Entry>, extra: Entry) -> History {
        entries.push(extra);
        history(entries)
    }

    #[test]
    fn good_history_passes() {
        assert_eq!(only(NAME, &history(good())), vec![]);
    }

    #[test]
    fn duplicate_revision_is_reported() {
        let mut e = good();
        e.push(store(50, 51, L, Create, ok(5)));
        let v = only(NAME, &history(e));
        assert!(v.iter().any(|v| v.entry == 17 && v.message.contains("both acknowledged")), "{v:?}");
    }

    #[test]
    fn revision_going_back_in_real_time_is_reported() {
        // A write invoked after revision 6 returned gets revision 3... (also a duplicate).
        let v = only(NAME, &with(good(), store(50, 51, "/registry/pods/ns/c", Create, ok(3))));
        assert!(v.iter().any(|v| v.entry == 17 && v.message.contains("had returned revision 6")), "{v:?}");
    }

    #[test]
    fn stale_read_is_reported() {
        let v = only(NAME, &with(good(), store(50, 51, K, Get, ok(2))));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("had returned revision 5"), "{v:?}");
    }

    #[test]
    fn read_of_a_deleted_key_after_delete_returned_is_reported() {
        let mut e = good();
        e.insert(12, store(31, 32, K, Get, ok(2)));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![12]);
    }

    #[test]
    fn not_found_while_key_is_live_is_reported() {
        let v = only(NAME, &with(good(), store(50, 51, K, Get, NotFound)));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("found nothing"), "{v:?}");
    }

    #[test]
    fn not_found_concurrent_with_an_unknown_delete_is_fine() {
        let mut e = good();
        e.push(store(50, 60, K, Delete { expected: None }, Unknown));
        e.push(store(55, 61, K, Get, NotFound));
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn read_of_an_unwritten_revision_is_reported_unless_an_unknown_write_explains_it() {
        let v = only(NAME, &with(good(), store(50, 51, K, Get, ok(9))));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("no write of the key produced"), "{v:?}");
        let mut e = good();
        e.push(store(45, 100, K, Update { expected: 5 }, Unknown));
        e.push(store(50, 51, K, Get, ok(9)));
        assert_eq!(only(NAME, &history(e)), vec![]);
    }

    #[test]
    fn read_of_another_keys_revision_is_reported() {
        let v = only(NAME, &with(good(), store(50, 51, L, Get, ok(5))));
        assert!(v.iter().any(|v| v.message.contains("belongs to create of /registry/pods/ns/a")), "{v:?}");
    }

    #[test]
    fn ignored_precondition_is_reported() {
        // Update expecting revision 1 succeeds although revision 2 (and the delete) came between.
        let mut e = good();
        e.push(store(50, 51, K, Update { expected: 1 }, ok(7)));
        e.push(commit(50, 7, K, false, pod("ns", "a", "", "")));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("changed the key at revision 2"), "{v:?}");
    }

    #[test]
    fn update_expecting_a_delete_revision_is_reported() {
        let mut e = good();
        e.insert(12, store(31, 32, K, Update { expected: 4 }, ok(5)));
        // Shift the later create/read of revision 5 out of the way.
        e.truncate(13);
        let v = only(NAME, &history(e));
        assert!(v.iter().any(|v| v.entry == 12 && v.message.contains("revision 4 is delete")), "{v:?}");
    }

    #[test]
    fn create_over_a_live_key_is_reported() {
        let mut e = good();
        e.push(store(50, 51, K, Create, ok(7)));
        e.push(commit(50, 7, K, false, pod("ns", "a", "", "")));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("while the key was live"), "{v:?}");
    }

    #[test]
    fn delete_of_an_absent_key_is_reported() {
        let mut e = good();
        e.push(store(50, 51, L, Delete { expected: None }, ok(7)));
        e.push(commit(50, 7, L, true, pod("ns", "b", "", "")));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("absent key"), "{v:?}");
    }

    #[test]
    fn acknowledged_write_missing_from_the_commit_log_is_reported() {
        let v = only(NAME, &with(good(), store(50, 51, K, Update { expected: 5 }, ok(7))));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("has no commit"), "{v:?}");
    }

    #[test]
    fn commit_log_going_backwards_is_reported() {
        let v =
            only(NAME, &with(good(), commit(50, 6, "/registry/pods/ns/z", false, pod("ns", "z", "", ""))));
        assert_eq!(entries(&v), vec![17]);
        assert!(v[0].message.contains("follows commit at revision 6"), "{v:?}");
    }
}
