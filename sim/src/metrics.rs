//! Metrics of a run, all in simulated time and all derived from the history and the workload's
//! observations (so they are as deterministic as the history): API latency per verb, pod startup
//! latency, watch latency (store commit → delivery to a client), throughput.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::history::{Entry, EventType, History, Time, Verb};

/// What the workload saw, for metrics.
#[derive(Clone, Debug, Default)]
pub struct WorkloadOutcome {
    /// Pods whose create was acknowledged.
    pub created: u32,
    /// Pods seen Running at least once.
    pub running_seen: u32,
    /// Pods seen Succeeded or Failed.
    pub completed_seen: u32,
    /// Pods deleted (gone from the informer after a delete).
    pub deleted_seen: u32,
    /// Startup latencies (first create sent → Running seen), nanoseconds, in pod order.
    pub startup_ns: Vec<u64>,
    /// First create sent.
    pub first_create: Option<Time>,
    /// Last pod first seen Running.
    pub last_running: Option<Time>,
}

/// Percentiles of one latency, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// A latency histogram in microseconds (1 µs .. 1 h, 3 significant digits).
struct Latency(Histogram<u64>);

impl Latency {
    fn new() -> Self {
        Latency(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
    }

    fn record_ns(&mut self, ns: u64) {
        self.0.saturating_record((ns / 1000).max(1));
    }

    fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        let ms = |v: u64| (v as f64 / 1000.0 * 1000.0).round() / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Headline figures of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Simulated seconds from start to end of the run.
    pub simulated_s: f64,
    /// Simulated seconds from the cluster being up to the end.
    pub workload_s: f64,
    /// Pods created (acknowledged).
    pub pods_created: u32,
    /// Pods seen Running at least once.
    pub pods_running: u32,
    /// Pods seen completed.
    pub pods_completed: u32,
    /// Pods deleted.
    pub pods_deleted: u32,
    /// Pods first seen Running per simulated second, from the first create to the last pod Running.
    pub pods_per_s: f64,
    /// First create sent → Running seen through a watch.
    pub pod_startup: Percentiles,
    /// Request latency by verb (`get`, `list`, `create`, …) and for all mutating requests.
    pub api_latency: BTreeMap<String, Percentiles>,
    /// Requests by HTTP status (0 = no answer).
    pub api_status: BTreeMap<u16, u64>,
    /// Store commit → event delivered to a client's watch (live events only, not replays).
    pub watch_latency: Percentiles,
    /// Requests per simulated second, all verbs.
    pub requests_per_s: f64,
    /// Store commits (write transactions).
    pub commits: u64,
    /// Watch events delivered to clients.
    pub watch_events: u64,
}

fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Create => "create",
        Verb::Update => "update",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
        Verb::DeleteCollection => "deletecollection",
        Verb::Watch => "watch",
    }
}

/// Computes the metrics of a run.
pub fn compute(history: &History, workload: &WorkloadOutcome, cluster_up: Time, end: Time) -> Metrics {
    let mut by_verb: BTreeMap<&'static str, Latency> = BTreeMap::new();
    let mut mutating = Latency::new();
    let mut status: BTreeMap<u16, u64> = BTreeMap::new();
    let mut commit_time: Vec<Time> = Vec::new(); // indexed by revision
    let mut watch_opened: BTreeMap<u64, Time> = BTreeMap::new();
    let mut watch = Latency::new();
    let mut requests = 0u64;
    let mut commits = 0u64;
    let mut watch_events = 0u64;
    for e in &history.entries {
        match e {
            Entry::Api(c) => {
                requests += 1;
                *status.entry(c.status).or_default() += 1;
                if c.verb == Verb::Watch {
                    continue;
                }
                let ns = c.returned.saturating_sub(c.invoked);
                by_verb.entry(verb_name(c.verb)).or_insert_with(Latency::new).record_ns(ns);
                if !matches!(c.verb, Verb::Get | Verb::List) {
                    mutating.record_ns(ns);
                }
            }
            Entry::Commit(c) => {
                commits += 1;
                let r = c.revision as usize;
                if commit_time.len() <= r {
                    commit_time.resize(r + 1, Time::MAX);
                }
                commit_time[r] = c.time;
            }
            Entry::WatchOpen(w) => {
                requests += 1;
                *status.entry(w.status).or_default() += 1;
                watch_opened.insert(w.watch, w.time);
            }
            Entry::WatchEvent(ev) => {
                if matches!(ev.kind, EventType::Bookmark | EventType::Error) {
                    continue;
                }
                watch_events += 1;
                let opened = watch_opened.get(&ev.watch).copied().unwrap_or(0);
                if let Some(&t) = commit_time.get(ev.rv as usize) {
                    // Live events only: a replay of history committed before the watch opened
                    // measures the resume, not the watch path.
                    if t != Time::MAX && t >= opened && ev.time >= t {
                        watch.record_ns(ev.time - t);
                    }
                }
            }
            Entry::WatchClose { watch, .. } => {
                watch_opened.remove(watch);
            }
            _ => {}
        }
    }
    let mut startup = Latency::new();
    for &ns in &workload.startup_ns {
        startup.record_ns(ns);
    }
    let mut api_latency: BTreeMap<String, Percentiles> =
        by_verb.iter().map(|(k, v)| ((*k).to_owned(), v.percentiles())).collect();
    api_latency.insert("mutating".into(), mutating.percentiles());
    let secs = |ns: u64| ns as f64 / 1e9;
    let pods_per_s = match (workload.first_create, workload.last_running) {
        (Some(a), Some(b)) if b > a => workload.running_seen as f64 / secs(b - a),
        _ => 0.0,
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    Metrics {
        simulated_s: round(secs(end)),
        workload_s: round(secs(end.saturating_sub(cluster_up))),
        pods_created: workload.created,
        pods_running: workload.running_seen,
        pods_completed: workload.completed_seen,
        pods_deleted: workload.deleted_seen,
        pods_per_s: round(pods_per_s),
        pod_startup: startup.percentiles(),
        api_latency,
        api_status: status,
        watch_latency: watch.percentiles(),
        requests_per_s: if end > 0 { round(requests as f64 / secs(end)) } else { 0.0 },
        commits,
        watch_events,
    }
}
