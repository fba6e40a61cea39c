//! Scenario files: what a run simulates (topology, workload, network, faults, checks), as data.
//! Documented key by key in scenarios/README.md. Every table rejects unknown keys, and a bad file
//! is reported with the path of the offending key (`faults.schedule[2].kind: unknown variant …`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A whole scenario. Every field has a default, so `name = "x"` alone is a (tiny) scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Name; reports go to reports/<name>/<seed>.json.
    pub name: String,
    /// One line on what it exercises.
    pub description: String,
    /// Seed used when the command line gives none.
    pub seed: u64,
    /// Hosts and agents.
    pub topology: Topology,
    /// Pods created, their sizes and lifetimes.
    pub workload: Workload,
    /// Simulated network.
    pub network: Network,
    /// The model store (its host, latencies, compaction).
    pub store: Store,
    /// Faults: a timed schedule and/or a random mix drawn from the seed.
    pub faults: Faults,
    /// Checkers and deadlines.
    pub checks: Checks,
    /// Limits on the run's metrics, in simulated time.
    pub budgets: Budgets,
    /// Pinned seeds and the tolerance for comparing runs with the committed baseline.
    pub baseline: BaselineSpec,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "default".into(),
            description: String::new(),
            seed: 1,
            topology: Topology::default(),
            workload: Workload::default(),
            network: Network::default(),
            store: Store::default(),
            faults: Faults::default(),
            checks: Checks::default(),
            budgets: Budgets::default(),
            baseline: BaselineSpec::default(),
        }
    }
}

/// How schedulers share the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerMode {
    /// N replicas elect one leader through a Lease; only it schedules.
    LeaderElected,
    /// Each scheduler owns the pods whose spec.schedulerName names it (many concurrent binders).
    PerPodName,
}

/// Hosts and agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    /// API servers, each its own host sharing the store. Clients are spread over them.
    pub apiservers: u32,
    /// Scheduler replicas (each its own host).
    pub schedulers: u32,
    /// How schedulers share the work.
    pub scheduler_mode: SchedulerMode,
    /// Kubelets (fake nodes), each its own host.
    pub kubelets: u32,
    /// Node capacity: cpu (a Kubernetes quantity).
    pub node_cpu: String,
    /// Node capacity: memory.
    pub node_memory: String,
    /// Node capacity: pods.
    pub node_pods: u32,
    /// Run the node lifecycle controller (marks nodes with stale leases NotReady, evicts).
    pub node_lifecycle_controller: bool,
    /// Whether API servers keep a watch cache (kube-apiserver's --watch-cache).
    pub watch_cache: bool,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            apiservers: 1,
            schedulers: 1,
            scheduler_mode: SchedulerMode::LeaderElected,
            kubelets: 10,
            node_cpu: "32".into(),
            node_memory: "64Gi".into(),
            node_pods: 110,
            node_lifecycle_controller: true,
            watch_cache: true,
        }
    }
}

/// Pods created, their sizes and lifetimes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Pods created in all.
    pub pods: u32,
    /// Pods per simulated second; 0 creates as fast as `creators` clients allow (a burst).
    pub create_rate: f64,
    /// Concurrent creating clients.
    pub creators: u32,
    /// When creation starts, simulated seconds after the cluster is up.
    pub start_s: f64,
    /// Container cpu request of each pod.
    pub pod_cpu: String,
    /// Container memory request of each pod.
    pub pod_memory: String,
    /// Container start latency on the kubelet, `[min, max]` ms.
    pub start_latency_ms: [u64; 2],
    /// Pods run to completion after `[min, max]` ms (restartPolicy Never); absent: they run until
    /// deleted.
    pub run_duration_ms: Option<[u64; 2]>,
    /// Fraction of pods deleted once Running (graceful deletion through the kubelet).
    pub delete_fraction: f64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            pods: 100,
            create_rate: 20.0,
            creators: 4,
            start_s: 1.0,
            pod_cpu: "100m".into(),
            pod_memory: "128Mi".into(),
            start_latency_ms: [100, 500],
            run_duration_ms: None,
            delete_fraction: 0.0,
        }
    }
}

/// Simulated network. madsim applies one latency range to every link (API server ↔ store
/// included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Latency of every message, `[min, max]` ms.
    pub latency_ms: [f64; 2],
    /// Probability a message is lost (TCP retransmits: a loss is a delay).
    pub loss: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network { latency_ms: [0.5, 2.0], loss: 0.0 }
    }
}

/// The model store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// Latency of each store operation, `[min, max]` ms (the store's own service time).
    pub latency_ms: [f64; 2],
    /// How often the API server compacts the store (kube-apiserver: 5 min), seconds.
    pub compaction_interval_s: f64,
    /// Revisions of history the store keeps on its own before compacting.
    pub history_revisions: u32,
}

impl Default for Store {
    fn default() -> Self {
        Store { latency_ms: [0.2, 1.0], compaction_interval_s: 30.0, history_revisions: 100_000 }
    }
}

/// A class of hosts, as fault targets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostClass {
    /// Every API server.
    Apiservers,
    /// The store host.
    Store,
    /// Every kubelet.
    Kubelets,
    /// Every scheduler.
    Schedulers,
    /// The node lifecycle controller.
    Controller,
    /// The workload drivers (pod creators and the startup observer).
    Workload,
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultKind {
    /// Cut the links between two host classes (messages are held until it heals).
    Partition {
        /// One side.
        from: HostClass,
        /// The other side.
        to: HostClass,
        /// Only `from` → `to` is cut.
        #[serde(default)]
        one_way: bool,
        /// Only the host with this index in `from` (e.g. one API server of three).
        #[serde(default)]
        index: Option<u32>,
        /// Only the scheduler that holds the leader Lease when the fault starts (`from` or `to`
        /// must be `schedulers`).
        #[serde(default)]
        leader: bool,
    },
    /// Clog a rolling subset of hosts of a class: `fraction` of them at a time, changing every
    /// `period_s`.
    Clog {
        /// Whose hosts.
        class: HostClass,
        /// Fraction clogged at once.
        fraction: f64,
        /// How often the set rolls.
        period_s: f64,
    },
    /// Kill hosts of a class and restart them when the fault heals (an API server loses its watch
    /// cache; the store keeps its data, as a disk would, and ends all watches).
    Crash {
        /// Whose hosts.
        class: HostClass,
        /// Only the host with this index (default: a seeded pick of one).
        #[serde(default)]
        index: Option<u32>,
        /// How many hosts (ignored with `index`). Default 1.
        #[serde(default = "one")]
        count: u32,
        /// The scheduler that holds the leader Lease when the fault starts (`class` must be
        /// `schedulers`).
        #[serde(default)]
        leader: bool,
    },
    /// Store errors while the fault lasts.
    StoreErrors {
        /// Probability an operation fails Unavailable (nothing written).
        #[serde(default)]
        unavailable: f64,
        /// Probability an operation times out before committing.
        #[serde(default)]
        timeout_before_commit: f64,
        /// Probability a write commits and then times out (indeterminate outcome).
        #[serde(default)]
        timeout_after_commit: f64,
        /// Probability a store watch breaks before a delivery.
        #[serde(default)]
        watch_break: f64,
        /// Extra per-operation latency `[min, max]` ms.
        #[serde(default)]
        latency_ms: Option<[f64; 2]>,
    },
    /// Compact the store to its current revision (watchers behind it get 410 and relist).
    Compaction,
    /// Clients that open watches on all pods and never read them.
    SlowWatchers {
        /// How many.
        count: u32,
    },
}

fn one() -> u32 {
    1
}

impl<'de> Deserialize<'de> for ScheduledFault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let mut seconds = |key: &'static str| -> Result<Option<f64>, D::Error> {
            match table.remove(key) {
                None => Ok(None),
                Some(v) => {
                    v.as_f64().map(Some).ok_or_else(|| D::Error::custom(format!("{key}: expected a number")))
                }
            }
        };
        let at_s = seconds("at_s")?.ok_or_else(|| D::Error::missing_field("at_s"))?;
        let duration_s = seconds("duration_s")?.unwrap_or(0.0);
        let fault = FaultKind::deserialize(serde_json::Value::Object(table)).map_err(D::Error::custom)?;
        Ok(ScheduledFault { at_s, duration_s, fault })
    }
}

/// A fault at a time, for a duration. Written flat (`at_s`, `duration_s`, `kind` and the kind's
/// fields in one table); deserialized by hand because serde cannot reject unknown keys through
/// `flatten`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScheduledFault {
    /// Simulated seconds after the cluster is up.
    pub at_s: f64,
    /// How long it lasts (0 for instantaneous faults like compaction).
    pub duration_s: f64,
    /// What it does.
    #[serde(flatten)]
    pub fault: FaultKind,
}

/// A random mix of faults drawn from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaults {
    /// How many faults to draw.
    pub count: u32,
    /// The window they fall in, simulated seconds after the cluster is up.
    pub window_s: [f64; 2],
    /// Duration of each, `[min, max]` seconds.
    pub duration_s: [f64; 2],
    /// The faults to draw from (uniformly).
    pub pool: Vec<FaultKind>,
}

impl Default for RandomFaults {
    fn default() -> Self {
        RandomFaults { count: 0, window_s: [5.0, 30.0], duration_s: [1.0, 10.0], pool: Vec::new() }
    }
}

/// Faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Faults at fixed times.
    pub schedule: Vec<ScheduledFault>,
    /// Faults drawn from the seed.
    pub random: RandomFaults,
}

/// Checks and deadlines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// Checkers to run (names as in the checkers module); empty: all.
    pub enabled: Vec<String>,
    /// After the last fault heals, every pod must reach its expected phase within this many
    /// simulated seconds.
    pub liveness_deadline_s: f64,
    /// The run ends at the latest this many simulated seconds after the cluster is up.
    pub max_duration_s: f64,
}

impl Default for Checks {
    fn default() -> Self {
        Checks { enabled: Vec::new(), liveness_deadline_s: 60.0, max_duration_s: 600.0 }
    }
}

/// Limits on a run's metrics (simulated time, so a breach is exact and replayable). Each is
/// optional; a run over any of them ends with the budget exit code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budgets {
    /// Pod startup (created → Running seen) p99, ms.
    pub pod_startup_p99_ms: Option<f64>,
    /// Mutating API requests p99, ms.
    pub mutating_p99_ms: Option<f64>,
    /// Mutating API requests p50, ms (the typical write: moves with the store's service time).
    pub mutating_p50_ms: Option<f64>,
    /// Single-object reads (GET) p99, ms.
    pub get_p99_ms: Option<f64>,
    /// Watch latency (commit → delivery) p99, ms.
    pub watch_p99_ms: Option<f64>,
    /// Pods Running per simulated second, at least.
    pub min_pods_per_s: Option<f64>,
}

impl Budgets {
    /// (metric, value, budget, breached) for each budget set, given the run's metrics.
    pub fn judge(&self, m: &crate::metrics::Metrics) -> Vec<(&'static str, f64, f64, bool)> {
        let api = |verb: &str| m.api_latency.get(verb).map_or(0.0, |p| p.p99_ms);
        let mut out = Vec::new();
        let mut at_most = |name, value: f64, budget: Option<f64>| {
            if let Some(b) = budget {
                out.push((name, value, b, value > b));
            }
        };
        at_most("pod_startup_p99_ms", m.pod_startup.p99_ms, self.pod_startup_p99_ms);
        at_most("mutating_p99_ms", api("mutating"), self.mutating_p99_ms);
        let p50 = m.api_latency.get("mutating").map_or(0.0, |p| p.p50_ms);
        at_most("mutating_p50_ms", p50, self.mutating_p50_ms);
        at_most("get_p99_ms", api("get"), self.get_p99_ms);
        at_most("watch_p99_ms", m.watch_latency.p99_ms, self.watch_p99_ms);
        if let Some(b) = self.min_pods_per_s {
            out.push(("min_pods_per_s", m.pods_per_s, b, m.pods_per_s < b));
        }
        out
    }
}

/// How runs of this scenario are compared with reports/baselines/<name>.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineSpec {
    /// The seeds a baseline is made of (and the test command re-runs).
    pub seeds: Vec<u64>,
    /// A metric that moves by more than this percentage (and by more than a small absolute floor)
    /// is a change; in the worse direction, a regression.
    pub tolerance_pct: f64,
}

impl Default for BaselineSpec {
    fn default() -> Self {
        BaselineSpec { seeds: vec![1, 2, 3], tolerance_pct: 10.0 }
    }
}

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or a key that does not belong.
    #[error("{file}: {path}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The key path, e.g. `faults.schedule[0].kind`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Parsed, but inconsistent.
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The key path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ScenarioError::Parse {
            file: file.into(),
            path: "(document)".into(),
            message: e.message().to_string(),
        })?;
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Parse { file: file.into(), path, message: e.into_inner().message().to_string() }
        })?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        let bad = |path: &str, message: String| {
            Err(ScenarioError::Invalid { file: file.into(), path: path.into(), message })
        };
        let t = &self.topology;
        if t.apiservers == 0 {
            return bad("topology.apiservers", "at least one API server is needed".into());
        }
        if t.kubelets == 0 {
            return bad("topology.kubelets", "at least one kubelet is needed".into());
        }
        if t.schedulers == 0 {
            return bad("topology.schedulers", "at least one scheduler is needed".into());
        }
        for (path, q) in [
            ("topology.node_cpu", &t.node_cpu),
            ("topology.node_memory", &t.node_memory),
            ("workload.pod_cpu", &self.workload.pod_cpu),
            ("workload.pod_memory", &self.workload.pod_memory),
        ] {
            if kubesim::api::validation::parse_quantity(q).is_none() {
                return bad(path, format!("{q:?} is not a Kubernetes quantity"));
            }
        }
        let w = &self.workload;
        if w.creators == 0 {
            return bad("workload.creators", "at least one creator is needed".into());
        }
        if !(w.create_rate >= 0.0 && w.create_rate.is_finite()) {
            return bad("workload.create_rate", "must be ≥ 0 (0 = as fast as possible)".into());
        }
        if !(0.0..=1.0).contains(&w.delete_fraction) {
            return bad("workload.delete_fraction", "must be in [0, 1]".into());
        }
        for (path, r) in [
            ("workload.start_latency_ms", Some(w.start_latency_ms)),
            ("workload.run_duration_ms", w.run_duration_ms),
        ] {
            if let Some([a, b]) = r {
                if a > b {
                    return bad(path, format!("[{a}, {b}]: min is above max"));
                }
            }
        }
        for (path, [a, b]) in [
            ("network.latency_ms", self.network.latency_ms),
            ("store.latency_ms", self.store.latency_ms),
            ("faults.random.window_s", self.faults.random.window_s),
            ("faults.random.duration_s", self.faults.random.duration_s),
        ] {
            if !(a >= 0.0 && a <= b && b.is_finite()) {
                return bad(path, format!("[{a}, {b}]: need 0 ≤ min ≤ max"));
            }
        }
        if !(0.0..1.0).contains(&self.network.loss) {
            return bad("network.loss", "must be in [0, 1)".into());
        }
        if self.faults.random.count > 0 && self.faults.random.pool.is_empty() {
            return bad("faults.random.pool", "random faults need a pool to draw from".into());
        }
        for (i, f) in self.faults.schedule.iter().enumerate() {
            if !(f.at_s >= 0.0 && f.duration_s >= 0.0) {
                return bad(&format!("faults.schedule[{i}]"), "at_s and duration_s must be ≥ 0".into());
            }
            self.validate_fault(&f.fault, &format!("faults.schedule[{i}]"), file)?;
        }
        for (i, f) in self.faults.random.pool.iter().enumerate() {
            self.validate_fault(f, &format!("faults.random.pool[{i}]"), file)?;
        }
        for name in &self.checks.enabled {
            if !crate::checkers::CHECKERS.contains(&name.as_str()) {
                return bad(
                    "checks.enabled",
                    format!("unknown checker {name:?}; known: {}", crate::checkers::CHECKERS.join(", ")),
                );
            }
        }
        let b = &self.budgets;
        for (name, v) in [
            ("pod_startup_p99_ms", b.pod_startup_p99_ms),
            ("mutating_p99_ms", b.mutating_p99_ms),
            ("mutating_p50_ms", b.mutating_p50_ms),
            ("get_p99_ms", b.get_p99_ms),
            ("watch_p99_ms", b.watch_p99_ms),
            ("min_pods_per_s", b.min_pods_per_s),
        ] {
            if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return bad(&format!("budgets.{name}"), "must be a positive number".into());
            }
        }
        let tolerance = self.baseline.tolerance_pct;
        if !(tolerance >= 0.0 && tolerance.is_finite()) {
            return bad("baseline.tolerance_pct", "must be a percentage ≥ 0".into());
        }
        if self.baseline.seeds.is_empty() {
            return bad("baseline.seeds", "at least one seed is needed".into());
        }
        if self.checks.max_duration_s <= 0.0 || self.checks.liveness_deadline_s <= 0.0 {
            return bad("checks", "max_duration_s and liveness_deadline_s must be > 0".into());
        }
        Ok(())
    }

    fn validate_fault(&self, fault: &FaultKind, path: &str, file: &str) -> Result<(), ScenarioError> {
        let bad =
            |message: String| Err(ScenarioError::Invalid { file: file.into(), path: path.into(), message });
        let count_of = |class: &HostClass| match class {
            HostClass::Apiservers => self.topology.apiservers,
            HostClass::Store | HostClass::Controller | HostClass::Workload => 1,
            HostClass::Kubelets => self.topology.kubelets,
            HostClass::Schedulers => self.topology.schedulers,
        };
        match fault {
            FaultKind::Partition { from, to, index, leader, .. } => {
                let schedulers = *from == HostClass::Schedulers || *to == HostClass::Schedulers;
                if *leader && (!schedulers || index.is_some()) {
                    return bad("leader = true needs schedulers on one side and no index".into());
                }
                if from == to {
                    return bad(format!("a partition needs two different host classes, got {from:?} twice"));
                }
                if let Some(i) = index {
                    if *i >= count_of(from) {
                        return bad(format!("index {i} but there are {} {from:?}", count_of(from)));
                    }
                }
            }
            FaultKind::Clog { fraction, period_s, .. } => {
                if !(0.0..=1.0).contains(fraction) || *period_s <= 0.0 {
                    return bad("fraction must be in [0, 1] and period_s > 0".into());
                }
            }
            FaultKind::Crash { class, index, count, leader } => {
                if *leader && (*class != HostClass::Schedulers || index.is_some()) {
                    return bad("leader = true needs class = \"schedulers\" and no index".into());
                }
                if matches!(class, HostClass::Workload) {
                    return bad("the workload drivers cannot crash (they hold the run's bookkeeping)".into());
                }
                if let Some(i) = index {
                    if *i >= count_of(class) {
                        return bad(format!("index {i} but there are {} {class:?}", count_of(class)));
                    }
                } else if *count == 0 || *count > count_of(class) {
                    return bad(format!("count {count} but there are {} {class:?}", count_of(class)));
                }
            }
            FaultKind::StoreErrors {
                unavailable,
                timeout_before_commit,
                timeout_after_commit,
                watch_break,
                ..
            } => {
                for p in [unavailable, timeout_before_commit, timeout_after_commit, watch_break] {
                    if !(0.0..=1.0).contains(p) {
                        return bad(format!("probability {p} outside [0, 1]"));
                    }
                }
            }
            FaultKind::Compaction | FaultKind::SlowWatchers { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_rejected_naming_its_path() {
        let err = Scenario::parse("name = \"x\"\n[topology]\nkubelet = 3\n", "x.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("topology"), "{text}");
        assert!(text.contains("kubelet"), "{text}");
        let err = Scenario::parse(
            "[[faults.schedule]]\nat_s = 1\nkind = \"partition\"\nfrom = \"store\"\nto = \"kubelets\"\nbogus = 1\n",
            "y.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("faults.schedule[0]"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn inconsistent_values_are_rejected_naming_their_path() {
        let err = Scenario::parse("[topology]\napiservers = 0\n", "z.toml").unwrap_err().to_string();
        assert!(err.contains("topology.apiservers"), "{err}");
        let err = Scenario::parse("[workload]\npod_cpu = \"lots\"\n", "z.toml").unwrap_err().to_string();
        assert!(err.contains("workload.pod_cpu"), "{err}");
        let err = Scenario::parse(
            "[topology]\napiservers = 3\n[[faults.schedule]]\nat_s = 1\nkind = \"crash\"\nclass = \"apiservers\"\nindex = 3\n",
            "z.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("faults.schedule[0]"), "{err}");
    }

    #[test]
    fn defaults_fill_what_a_file_leaves_out() {
        let s = Scenario::parse("name = \"tiny\"\n[workload]\npods = 5\n", "t.toml").unwrap();
        assert_eq!(s.name, "tiny");
        assert_eq!(s.workload.pods, 5);
        assert_eq!(s.topology, Topology::default());
    }

    #[test]
    fn budgets_judge_maxima_and_minima() {
        let s =
            Scenario::parse("[budgets]\npod_startup_p99_ms = 100\nmin_pods_per_s = 10\n", "b.toml").unwrap();
        let mut m = crate::metrics::Metrics::default();
        m.pod_startup.p99_ms = 150.0;
        m.pods_per_s = 12.0;
        let judged = s.budgets.judge(&m);
        assert_eq!(
            judged,
            vec![("pod_startup_p99_ms", 150.0, 100.0, true), ("min_pods_per_s", 12.0, 10.0, false)]
        );
        let err = Scenario::parse("[budgets]\nwatch_p99_ms = -1\n", "b.toml").unwrap_err().to_string();
        assert!(err.contains("budgets.watch_p99_ms"), "{err}");
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n > 0, "no scenario files in {}", dir.display());
    }
}
