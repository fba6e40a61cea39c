//! The run over simulated time, in fixed buckets: what the report's charts draw. The headline
//! metrics say how a run did overall; the timeline says *when*: latency climbing during a fault,
//! throughput stalling while the store is down, violations next to the fault that caused them.
//!
//! Like the metrics it is a pure function of the history (plus the checkers' violations), built
//! only from ordered collections, so it sits in the byte-identical part of the report. Values are
//! stored column by column (one vector per series) to keep the JSON small.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::checkers::Violation;
use crate::history::{Entry, EventType, History, Time, Verb};

/// At most this many buckets: enough resolution for a chart, small enough for the JSON.
pub const MAX_BUCKETS: u64 = 200;

/// Bucket widths tried in order (simulated ms): round numbers a reader can do sums with.
const WIDTHS_MS: [u64; 14] = [
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000,
];

/// A heal marker is paired with an injection whose announced end (start + its "for N.Ns") lies
/// this close to it: the duration is printed to 0.1 s and a heal may wait a little for its tasks.
const PAIR_TOLERANCE: Time = 300_000_000;

/// Per-bucket series of a run. Bucket `i` covers simulated time `[i·bucket_ms, (i+1)·bucket_ms)`;
/// an entry counts in the bucket of the time it completed (`Entry::time`). Latencies are exact
/// nearest-rank percentiles of the bucket's samples in ms with µs precision; `None` where the
/// bucket has no sample (drawn as a gap, not as zero).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of one bucket, simulated milliseconds.
    pub bucket_ms: u64,
    /// Number of buckets (the length of every series).
    pub buckets: usize,
    /// API requests completed (every verb; a watch counts when it is answered), as in the metrics.
    pub requests: Vec<u64>,
    /// Store commits (write transactions).
    pub commits: Vec<u64>,
    /// Pods whose containers a kubelet started for the first time (first start per pod uid).
    pub pods_started: Vec<u64>,
    /// Mutating requests (everything but get, list and watch): median latency.
    pub mutating_p50_ms: Vec<Option<f64>>,
    /// Mutating requests: 99th percentile latency.
    pub mutating_p99_ms: Vec<Option<f64>>,
    /// get and list requests: median latency.
    pub read_p50_ms: Vec<Option<f64>>,
    /// get and list requests: 99th percentile latency.
    pub read_p99_ms: Vec<Option<f64>>,
    /// Store commit → delivery on a client's watch, live events only (the metrics' rule): 99th
    /// percentile.
    pub watch_p99_ms: Vec<Option<f64>>,
    /// Every fault entry of the history, injections paired with their heals where unambiguous.
    pub faults: Vec<FaultMark>,
    /// Violations, one mark per (bucket, checker).
    pub violations: Vec<ViolationMark>,
}

/// A fault (or another harness event recorded as one, such as "cluster up") on the time axis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultMark {
    /// When it was injected, simulated seconds.
    pub start_s: f64,
    /// When it healed: the paired heal entry, else the announced duration; `None` for an event
    /// without duration (a compaction, a heal that paired with nothing).
    pub end_s: Option<f64>,
    /// The history's text, e.g. `crash Store[0] for 2.0s`.
    pub what: String,
    /// The text of the heal entry paired with it, if any.
    pub healed: Option<String>,
}

/// Violations of one checker within one bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ViolationMark {
    /// The earliest of them, simulated seconds.
    pub time_s: f64,
    /// The checker.
    pub checker: String,
    /// How many.
    pub count: usize,
}

/// The bucket width for a run that lasted `end`: the first round width giving at most
/// [`MAX_BUCKETS`] buckets.
pub fn bucket_width_ms(end: Time) -> u64 {
    let end_ms = end.div_ceil(1_000_000);
    let mut w = WIDTHS_MS.iter().copied().find(|w| end_ms.div_ceil(*w) <= MAX_BUCKETS).unwrap_or(3_600_000);
    while end_ms.div_ceil(w) > MAX_BUCKETS {
        w *= 2;
    }
    w
}

fn secs(t: Time) -> f64 {
    (t as f64 / 1e6).round() / 1e3
}

/// Nearest-rank percentile (`per_mille` of 1000) of sorted µs samples, in ms.
fn percentile_ms(sorted_us: &[u64], per_mille: usize) -> Option<f64> {
    let n = sorted_us.len();
    if n == 0 {
        return None;
    }
    let rank = (per_mille * n).div_ceil(1000).max(1);
    Some(sorted_us[rank - 1] as f64 / 1000.0)
}

/// One latency series per bucket: samples in µs (as the metrics record them).
struct Samples(Vec<Vec<u64>>);

impl Samples {
    fn new(n: usize) -> Self {
        Samples(vec![Vec::new(); n])
    }

    fn record(&mut self, bucket: usize, ns: u64) {
        self.0[bucket].push((ns / 1000).max(1));
    }

    /// (p50, p99) per bucket.
    fn percentiles(mut self) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
        let mut p50 = Vec::with_capacity(self.0.len());
        let mut p99 = Vec::with_capacity(self.0.len());
        for b in &mut self.0 {
            b.sort_unstable();
            p50.push(percentile_ms(b, 500));
            p99.push(percentile_ms(b, 990));
        }
        (p50, p99)
    }
}

/// The announced duration of an injection: its text ends in `for <seconds>s`.
fn announced_duration(what: &str) -> Option<Time> {
    let (_, tail) = what.rsplit_once(" for ")?;
    let s: f64 = tail.strip_suffix('s')?.parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| (s * 1e9).round() as Time)
}

/// A heal entry, as the world writes them (`healed: …`, `restarted …`).
fn is_heal(what: &str) -> bool {
    what.starts_with("healed:") || what.starts_with("restarted ")
}

/// Fault entries → marks. An injection announces its duration; a heal closes the one open
/// injection whose announced end is within [`PAIR_TOLERANCE`] of it, and only if exactly one is
/// (two overlapping faults ending together stay unpaired, ending at their announced times, and
/// the heal is kept as an event of its own).
fn fault_marks(history: &History) -> Vec<FaultMark> {
    struct Open {
        start: Time,
        nominal_end: Option<Time>,
        end: Option<Time>,
        what: String,
        healed: Option<String>,
    }
    let mut marks: Vec<Open> = Vec::new();
    for e in &history.entries {
        let Entry::Fault { time, what } = e else { continue };
        if is_heal(what) {
            let near = |m: &Open| {
                m.end.is_none() && m.nominal_end.is_some_and(|n| n.abs_diff(*time) <= PAIR_TOLERANCE)
            };
            let mut candidates = marks.iter_mut().filter(|m| near(m));
            if let (Some(m), None) = (candidates.next(), candidates.next()) {
                m.end = Some(*time);
                m.healed = Some(what.clone());
                continue;
            }
        }
        let nominal_end = (!is_heal(what)).then(|| announced_duration(what)).flatten().map(|d| time + d);
        marks.push(Open { start: *time, nominal_end, end: None, what: what.clone(), healed: None });
    }
    marks
        .into_iter()
        .map(|m| FaultMark {
            start_s: secs(m.start),
            end_s: m.end.or(m.nominal_end).map(secs),
            what: m.what,
            healed: m.healed,
        })
        .collect()
}

/// Builds the timeline of a run that ended at `end`.
pub fn compute(history: &History, violations: &[Violation], end: Time) -> Timeline {
    let bucket_ms = bucket_width_ms(end);
    let width = bucket_ms * 1_000_000;
    let n = (end.div_ceil(width) as usize).max(1);
    // Anything stamped at or after `end` (the run's last instant) goes into the last bucket.
    let bucket = |t: Time| ((t / width) as usize).min(n - 1);

    let mut requests = vec![0u64; n];
    let mut commits = vec![0u64; n];
    let mut pods_started = vec![0u64; n];
    let mut mutating = Samples::new(n);
    let mut reads = Samples::new(n);
    let mut watch = Samples::new(n);
    let mut started_uids: BTreeSet<&str> = BTreeSet::new();
    let mut commit_time: Vec<Time> = Vec::new(); // indexed by revision
    let mut watch_opened: BTreeMap<u64, Time> = BTreeMap::new();
    for e in &history.entries {
        let b = bucket(e.time());
        match e {
            Entry::Api(c) => {
                requests[b] += 1;
                let ns = c.returned.saturating_sub(c.invoked);
                match c.verb {
                    Verb::Watch => {}
                    Verb::Get | Verb::List => reads.record(b, ns),
                    _ => mutating.record(b, ns),
                }
            }
            Entry::WatchOpen(w) => {
                requests[b] += 1;
                watch_opened.insert(w.watch, w.time);
            }
            Entry::WatchClose { watch, .. } => {
                watch_opened.remove(watch);
            }
            Entry::Commit(c) => {
                commits[b] += 1;
                let r = c.revision as usize;
                if commit_time.len() <= r {
                    commit_time.resize(r + 1, Time::MAX);
                }
                commit_time[r] = c.time;
            }
            Entry::WatchEvent(ev) if !matches!(ev.kind, EventType::Bookmark | EventType::Error) => {
                let opened = watch_opened.get(&ev.watch).copied().unwrap_or(0);
                if let Some(&t) = commit_time.get(ev.rv as usize) {
                    if t != Time::MAX && t >= opened && ev.time >= t {
                        watch.record(b, ev.time - t);
                    }
                }
            }
            Entry::Container(c) if c.running && started_uids.insert(&*c.uid) => {
                pods_started[b] += 1;
            }
            _ => {}
        }
    }
    let (mutating_p50_ms, mutating_p99_ms) = mutating.percentiles();
    let (read_p50_ms, read_p99_ms) = reads.percentiles();
    let (_, watch_p99_ms) = watch.percentiles();

    let mut by_bucket: BTreeMap<(usize, &str), (Time, usize)> = BTreeMap::new();
    for v in violations {
        let slot = by_bucket.entry((bucket(v.time), v.checker)).or_insert((v.time, 0));
        slot.0 = slot.0.min(v.time);
        slot.1 += 1;
    }
    let mut marks: Vec<ViolationMark> = by_bucket
        .into_iter()
        .map(|((_, checker), (t, count))| ViolationMark {
            time_s: secs(t),
            checker: checker.to_owned(),
            count,
        })
        .collect();
    marks.sort_by(|a, b| a.time_s.total_cmp(&b.time_s).then_with(|| a.checker.cmp(&b.checker)));

    Timeline {
        bucket_ms,
        buckets: n,
        requests,
        commits,
        pods_started,
        mutating_p50_ms,
        mutating_p99_ms,
        read_p50_ms,
        read_p99_ms,
        watch_p99_ms,
        faults: fault_marks(history),
        violations: marks,
    }
}

impl Timeline {
    /// Start of bucket `i`, simulated seconds.
    pub fn bucket_start_s(&self, i: usize) -> f64 {
        i as f64 * self.bucket_ms as f64 / 1000.0
    }

    /// End of the last bucket, simulated seconds.
    pub fn span_s(&self) -> f64 {
        self.bucket_start_s(self.buckets)
    }

    /// A per-bucket count as a rate per simulated second.
    pub fn per_second(&self, counts: &[u64]) -> Vec<f64> {
        let w = self.bucket_ms as f64 / 1000.0;
        counts.iter().map(|&c| c as f64 / w).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ApiCall, Attrs, Commit, ContainerEvent, WatchEvent, WatchOpen};

    const MS: Time = 1_000_000;

    fn api(invoked: Time, returned: Time, verb: Verb) -> Entry {
        Entry::Api(Box::new(ApiCall {
            client: "c".into(),
            invoked,
            returned,
            verb,
            path: "/api/v1/pods".into(),
            request_rv: None,
            status: 200,
            rv: None,
        }))
    }

    fn commit(time: Time, revision: u64) -> Entry {
        Entry::Commit(Box::new(Commit {
            time,
            revision,
            key: "/registry/pods/d/p".into(),
            deleted: false,
            attrs: Attrs::default(),
        }))
    }

    fn container(time: Time, uid: &str, running: bool) -> Entry {
        Entry::Container(Box::new(ContainerEvent {
            time,
            node: "n".into(),
            pod: "/registry/pods/d/p".into(),
            uid: uid.into(),
            running,
        }))
    }

    fn fault(time: Time, what: &str) -> Entry {
        Entry::Fault { time, what: what.into() }
    }

    #[test]
    fn timeline_bucket_width_rounds_up_to_at_most_200_buckets() {
        assert_eq!(bucket_width_ms(0), 100);
        assert_eq!(bucket_width_ms(20_000 * MS), 100);
        assert_eq!(bucket_width_ms(20_001 * MS), 250);
        assert_eq!(bucket_width_ms(60_000 * MS), 500);
        assert_eq!(bucket_width_ms(150_000 * MS), 1_000);
        assert_eq!(bucket_width_ms(1_000_000 * MS), 5_000);
        assert_eq!(bucket_width_ms(10_000_000 * MS), 60_000);
    }

    #[test]
    fn timeline_counts_and_percentiles_per_bucket() {
        let mut h = History::default();
        // Bucket 0 (0–100 ms): two creates (10 ms, 30 ms), one get (2 ms), a commit, a pod start.
        h.push(api(0, 10 * MS, Verb::Create));
        h.push(api(5 * MS, 35 * MS, Verb::Create));
        h.push(api(38 * MS, 40 * MS, Verb::Get));
        h.push(commit(41 * MS, 1));
        h.push(container(50 * MS, "u1", true));
        // Bucket 1: a watch answered and an event 7 ms after its commit; the same pod restarted
        // (not a new start) and a second pod; the commit of rev 2.
        h.push(Entry::WatchOpen(Box::new(WatchOpen {
            time: 100 * MS,
            watch: 1,
            client: "c".into(),
            prefix: "/registry/pods/".into(),
            fields: Some(vec![]),
            start_rv: Some(1),
            status: 200,
        })));
        h.push(commit(110 * MS, 2));
        h.push(Entry::WatchEvent(WatchEvent {
            time: 117 * MS,
            watch: 1,
            kind: EventType::Added,
            key: "/registry/pods/d/p".into(),
            rv: 2,
        }));
        // A replay of rev 1 (committed before the watch opened) is not a live event.
        h.push(Entry::WatchEvent(WatchEvent {
            time: 118 * MS,
            watch: 1,
            kind: EventType::Added,
            key: "/registry/pods/d/p".into(),
            rv: 1,
        }));
        h.push(container(150 * MS, "u1", false));
        h.push(container(160 * MS, "u1", true));
        h.push(container(170 * MS, "u2", true));
        // Bucket 3: a list.
        h.push(api(300 * MS, 305 * MS, Verb::List));
        let v = |ms: Time, checker: &'static str| Violation {
            checker,
            time: ms * MS,
            entry: 0,
            message: String::new(),
        };
        let violations = [v(120, "watch-ordered"), v(110, "watch-ordered"), v(20, "pod-bound-once")];
        let t = compute(&h, &violations, 350 * MS);

        assert_eq!(t.bucket_ms, 100);
        assert_eq!(t.buckets, 4);
        assert_eq!(t.requests, vec![3, 1, 0, 1]);
        assert_eq!(t.commits, vec![1, 1, 0, 0]);
        assert_eq!(t.pods_started, vec![1, 1, 0, 0]);
        assert_eq!(t.mutating_p50_ms, vec![Some(10.0), None, None, None]);
        assert_eq!(t.mutating_p99_ms, vec![Some(30.0), None, None, None]);
        assert_eq!(t.read_p50_ms, vec![Some(2.0), None, None, Some(5.0)]);
        assert_eq!(t.watch_p99_ms, vec![None, Some(7.0), None, None]);
        assert_eq!(
            t.violations,
            vec![
                ViolationMark { time_s: 0.02, checker: "pod-bound-once".into(), count: 1 },
                ViolationMark { time_s: 0.11, checker: "watch-ordered".into(), count: 2 },
            ]
        );
        assert_eq!(t.per_second(&t.requests), vec![30.0, 10.0, 0.0, 10.0]);
        assert_eq!(t.span_s(), 0.4);
    }

    #[test]
    fn timeline_pairs_heals_with_injections() {
        let mut h = History::default();
        h.push(fault(1_000 * MS, "cluster up: 3 nodes registered"));
        h.push(fault(2_000 * MS, "store errors (unavailable 0.02) for 6.0s"));
        h.push(fault(3_000 * MS, "crash Store[0] for 2.3s"));
        h.push(fault(4_000 * MS, "forced compaction at revision Ok(7)"));
        h.push(fault(5_345 * MS, "restarted Store[0]"));
        h.push(fault(8_010 * MS, "healed: store errors"));
        // Two overlapping faults that end together: their heals stay unpaired.
        h.push(fault(10_000 * MS, "partition Apiservers -x- Store (both ways) for 1.0s"));
        h.push(fault(10_000 * MS, "partition Kubelets -x- Apiservers (both ways) for 1.0s"));
        h.push(fault(11_000 * MS, "healed: partition Apiservers -x- Store"));
        let t = compute(&h, &[], 12_000 * MS);
        let got: Vec<(f64, Option<f64>, bool)> =
            t.faults.iter().map(|f| (f.start_s, f.end_s, f.healed.is_some())).collect();
        assert_eq!(
            got,
            vec![
                (1.0, None, false),
                (2.0, Some(8.01), true),
                (3.0, Some(5.345), true),
                (4.0, None, false),
                (10.0, Some(11.0), false),
                (10.0, Some(11.0), false),
                (11.0, None, false),
            ]
        );
        assert_eq!(t.faults[2].healed.as_deref(), Some("restarted Store[0]"));
    }

    #[test]
    fn timeline_is_deterministic_and_round_trips() {
        let mut h = History::default();
        h.push(api(0, 1_234_567, Verb::Patch));
        h.push(fault(5 * MS, "crash Apiservers[0] for 1.0s"));
        let a = compute(&h, &[], 2_000 * MS);
        let b = compute(&h, &[], 2_000 * MS);
        let json = serde_json::to_string(&a).expect("serializes");
        assert_eq!(json, serde_json::to_string(&b).expect("serializes"));
        assert_eq!(a.mutating_p50_ms[0], Some(1.234));
        let back: Timeline = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, a);
    }
}
