//! The simulated world: one madsim host per API server, the store, each scheduler, each kubelet,
//! the node lifecycle controller and the workload driver; faults applied on schedule; everything
//! recorded. [`run`] is a pure function of (scenario, seed).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kubesim::agents::kubelet::{ContainerHook, Kubelet, KubeletOptions};
use kubesim::agents::kubelet_lifecycle::KubeletConfig;
use kubesim::agents::leader_election::LeaderElectionConfig;
use kubesim::agents::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use kubesim::agents::scheduler::{Scheduler, SchedulerConfig};
use kubesim::client::{ApiClient, ClientConfig};
use kubesim::registry::RegistryConfig;
use kubesim::server::authn::TokenAuthenticator;
use kubesim::server::{ApiServer, ApiServerConfig};
use kubesim::storage::remote::{serve_store, RemoteStore, RemoteStoreConfig};
use kubesim::storage::{FaultPlan, Latency, ModelStore, ModelStoreConfig, Storage};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::history::{History, Time};
use crate::recorder::{Recorder, RecordingStore, KEY_PREFIX};
use crate::scenario::{FaultKind, HostClass, Scenario, SchedulerMode};
use crate::workload::{Workload, WorkloadOutcome};

/// Where progress lines go (the command line prints them to stderr).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// The API servers' port.
pub const APISERVER_PORT: u16 = 6443;
/// The store host's port.
pub const STORE_PORT: u16 = 2379;
/// Request timeout of every agent's client: a partition stalls a simulated TCP stream instead of
/// failing it, so every request needs its own deadline.
pub const AGENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The schedulers' request timeout: short enough that a leader which stops hearing answers
/// retries a binding (that may have landed) before its renew deadline (10 s) ends its term.
pub const SCHEDULER_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Kubelets connect at most this many per simulated second per API server (madsim accepts
/// ~1,000 connections per second per listener).
pub const KUBELET_CONNECTS_PER_SECOND: u32 = 500;
/// How long the cluster may take to register every node before the workload starts anyway.
pub const CLUSTER_UP_TIMEOUT: Duration = Duration::from_secs(120);
/// Where the schedulers' leader Lease is stored (kube-system/kube-scheduler).
const SCHEDULER_LEASE_KEY: &str = "/leases/kube-system/kube-scheduler";
/// After everything settled, keep running this long so trailing events land in the history.
pub const SETTLE: Duration = Duration::from_secs(2);
/// How often (simulated) the world makes madsim drop its records of finished tasks.
const TASK_PRUNE_EVERY: Duration = Duration::from_secs(1);

/// What one run produced.
#[derive(Debug)]
pub struct RunResult {
    /// Everything recorded.
    pub history: History,
    /// When the cluster was up (all nodes registered), simulated ns.
    pub cluster_up: Time,
    /// When the last fault healed (cluster_up if there was none).
    pub healed_at: Time,
    /// When the run ended.
    pub end: Time,
    /// What the workload saw.
    pub workload: WorkloadOutcome,
    /// Faults applied, in order: (time, description).
    pub faults_applied: u32,
    /// Messages the simulated network carried.
    pub net_messages: u64,
    /// The run hit checks.max_duration_s before every pod reached its expected phase.
    pub timed_out: bool,
}

/// Runs `scenario` with `seed` on a fresh madsim runtime. Call it once per process: std's hash
/// keys and other process-wide state make a second run in the same process differ (the command
/// line runs every seed in a child process).
pub fn run(scenario: &Scenario, seed: u64, progress: Option<Progress>) -> RunResult {
    run_here(scenario, seed, progress)
}

fn run_here(scenario: &Scenario, seed: u64, progress: Option<Progress>) -> RunResult {
    let mut config = madsim::Config::default();
    let [lo, hi] = scenario.network.latency_ms;
    config.net.send_latency = ms(lo)..ms(hi.max(lo + 0.001));
    config.net.packet_loss_rate = scenario.network.loss;
    let rt = Runtime::with_seed_and_config(seed, config);
    let scenario = scenario.clone();
    rt.block_on(async move { World::build(scenario, seed, progress).await.drive().await })
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0))
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// A kubelet's host address: 10.1.x.y for up to 63,750 kubelets.
fn kubelet_ip(k: u32) -> IpAddr {
    ip(10, 1 + (k / 250 / 250) as u8, ((k / 250) % 250) as u8, (k % 250 + 1) as u8)
}

/// The address clients use for API server `i`.
pub fn apiserver_address(i: u32) -> String {
    apiserver_addr(i).to_string()
}

fn apiserver_addr(i: u32) -> SocketAddr {
    SocketAddr::new(ip(10, 0, 1, (i + 1) as u8), APISERVER_PORT)
}

struct World {
    scenario: Scenario,
    seed: u64,
    recorder: Arc<Recorder>,
    store: ModelStore,
    base_plan: FaultPlan,
    hosts: BTreeMap<HostClass, Vec<NodeHandle>>,
    workload: Arc<Workload>,
    progress: Option<Progress>,
}

/// A client of `apiserver` named `name` in the history.
pub(crate) fn client(recorder: &Arc<Recorder>, name: &str, apiserver: u32) -> ApiClient {
    client_with_timeout(recorder, name, apiserver, AGENT_REQUEST_TIMEOUT)
}

fn client_with_timeout(recorder: &Arc<Recorder>, name: &str, apiserver: u32, timeout: Duration) -> ApiClient {
    let mut c = client_config(recorder, name, apiserver);
    c.request_timeout = timeout;
    ApiClient::new(c)
}

/// A kubelet's client: one request at a time over one pooled connection, beside its watch. The
/// real kubelet multiplexes everything over one HTTP/2 connection and its status manager writes
/// one pod at a time; a pool per kubelet held up to five HTTP/1 connections (~50 KB each, both
/// ends); one request at a time saved scale-5k 0.25 GiB of peak memory.
fn kubelet_client(recorder: &Arc<Recorder>, name: &str, apiserver: u32) -> ApiClient {
    let mut c = client_config(recorder, name, apiserver);
    c.pool_max = 1;
    c.max_in_flight = 1;
    ApiClient::new(c)
}

/// What every simulated client shares: plain HTTP to `apiserver`, recorded under `name`.
fn client_config(recorder: &Arc<Recorder>, name: &str, apiserver: u32) -> ClientConfig {
    let mut c = ClientConfig::plain(apiserver_addr(apiserver).to_string());
    c.request_timeout = AGENT_REQUEST_TIMEOUT;
    c.pool_max = 4;
    c.user_agent = format!("kubesim-sim/{name}");
    c.observer = Some(recorder.tap(name));
    c
}

/// About how many history entries a run records: measured on the scale scenarios, a pod costs
/// ~25 (its requests, store ops, commits and watch deliveries) and a node ~20 in the first minutes.
fn expected_history(scenario: &Scenario) -> usize {
    let pods = scenario.workload.pods as usize;
    let kubelets = scenario.topology.kubelets as usize;
    pods * 26 + kubelets * 24
}

impl World {
    async fn build(scenario: Scenario, seed: u64, progress: Option<Progress>) -> World {
        let handle = Handle::current();
        let recorder = Recorder::with_capacity(expected_history(&scenario));
        let store = ModelStore::new(ModelStoreConfig {
            seed: seed ^ 0x5709_e000,
            history_revisions_max: scenario.store.history_revisions.max(1) as usize,
            ..ModelStoreConfig::default()
        });
        let hook_recorder = recorder.clone();
        store.set_commit_hook(Some(Arc::new(move |e| hook_recorder.commit(e))));
        let [lo, hi] = scenario.store.latency_ms;
        let base_plan = FaultPlan {
            latency_default: Latency::Uniform { min_ms: lo, max_ms: hi },
            ..FaultPlan::default()
        };
        if hi > 0.0 {
            store.set_faults(base_plan.clone());
        }
        let mut hosts: BTreeMap<HostClass, Vec<NodeHandle>> = BTreeMap::new();

        // The store host: its init serves the one ModelStore, which outlives restarts (a disk).
        let store_addr = SocketAddr::new(ip(10, 0, 0, 1), STORE_PORT);
        let served = store.clone();
        let node = handle
            .create_node()
            .name("store")
            .ip(store_addr.ip())
            .init(move || {
                let served: Arc<dyn Storage> = Arc::new(served.clone());
                async move {
                    if let Err(e) = serve_store(served, store_addr).await {
                        tracing::warn!(error = %e, "store host stopped serving");
                    }
                }
            })
            .build();
        hosts.entry(HostClass::Store).or_default().push(node);

        // API servers: each incarnation gets a fresh ApiServer (its watch cache is lost on crash).
        let incarnation = Arc::new(AtomicU32::new(0));
        for i in 0..scenario.topology.apiservers {
            let recorder = recorder.clone();
            let incarnation = incarnation.clone();
            let watch_cache = scenario.topology.watch_cache;
            let compaction = secs(scenario.store.compaction_interval_s);
            let node = handle
                .create_node()
                .name(format!("apiserver-{i}"))
                .ip(apiserver_addr(i).ip())
                .init(move || {
                    let recorder = recorder.clone();
                    let id = incarnation.fetch_add(1, Ordering::Relaxed);
                    async move {
                        let remote: Arc<dyn Storage> =
                            Arc::new(RemoteStore::new(store_addr, RemoteStoreConfig::default()));
                        let storage: Arc<dyn Storage> = Arc::new(RecordingStore::new(remote, id, recorder));
                        let config = ApiServerConfig {
                            registry: RegistryConfig { watch_cache, ..RegistryConfig::default() },
                            ..ApiServerConfig::default()
                        };
                        let server =
                            ApiServer::new(storage.clone(), config, TokenAuthenticator::default()).await;
                        if i == 0 && !compaction.is_zero() {
                            tokio::spawn(compactor(storage, compaction));
                        }
                        let listener = match tokio::net::TcpListener::bind(("0.0.0.0", APISERVER_PORT)).await
                        {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::warn!(error = %e, "API server could not listen");
                                return;
                            }
                        };
                        let _ = kubesim::server::plain_http::serve_plain(server, listener).await;
                    }
                })
                .build();
            hosts.entry(HostClass::Apiservers).or_default().push(node);
        }

        let workload = Arc::new(Workload::new(&scenario, seed, recorder.clone()));
        let t = &scenario.topology;
        let apiservers = t.apiservers;

        // Node lifecycle controller.
        if t.node_lifecycle_controller {
            let recorder = recorder.clone();
            let node = handle
                .create_node()
                .name("controller")
                .ip(ip(10, 0, 3, 1))
                .init(move || {
                    let client = client(&recorder, "controller", 0);
                    let (_keep, shutdown) = watch::channel(false);
                    async move {
                        let _keep = _keep;
                        NodeLifecycleController::new(NodeLifecycleConfig::default())
                            .run(client, shutdown)
                            .await
                    }
                })
                .build();
            hosts.entry(HostClass::Controller).or_default().push(node);
        }

        // Schedulers.
        for j in 0..t.schedulers {
            let recorder = recorder.clone();
            let mode = t.scheduler_mode;
            let replicas = t.schedulers;
            let sched_seed = seed.wrapping_mul(31).wrapping_add(1000 + j as u64);
            let node = handle
                .create_node()
                .name(format!("scheduler-{j}"))
                .ip(ip(10, 0, 2, (j % 250 + 1) as u8))
                .init(move || {
                    let name = format!("scheduler-{j}");
                    let client =
                        client_with_timeout(&recorder, &name, j % apiservers, SCHEDULER_REQUEST_TIMEOUT);
                    let config = match mode {
                        SchedulerMode::PerPodName => SchedulerConfig::new(name.clone(), sched_seed),
                        SchedulerMode::LeaderElected => {
                            let mut c = SchedulerConfig::new("default-scheduler", sched_seed);
                            if replicas > 1 {
                                c.leader_election = Some(LeaderElectionConfig::new(name.clone()));
                            }
                            c
                        }
                    };
                    let (_keep, shutdown) = watch::channel(false);
                    async move {
                        let _keep = _keep;
                        Scheduler::new(config).run(client, shutdown).await
                    }
                })
                .build();
            hosts.entry(HostClass::Schedulers).or_default().push(node);
        }

        // Kubelets, their connects spread over time (madsim's accept rate is bounded).
        let per_second = (KUBELET_CONNECTS_PER_SECOND * apiservers).max(1);
        for k in 0..t.kubelets {
            let recorder = recorder.clone();
            let w = &scenario.workload;
            let config = KubeletConfig {
                node_name: format!("node-{k}"),
                capacity_cpu: t.node_cpu.clone(),
                capacity_memory: t.node_memory.clone(),
                capacity_pods: t.node_pods.to_string(),
                node_ip: kubelet_ip(k).to_string(),
                pod_cidr: format!("10.{}.{}.0/24", 128 + k / 65536, (k / 256) % 256),
                start_latency_ms: (w.start_latency_ms[0], w.start_latency_ms[1]),
                run_duration_ms: w.run_duration_ms.map(|[a, b]| (a, b)),
                failure_probability: 0.0,
                ..KubeletConfig::default()
            };
            let delay = Duration::from_secs_f64(k as f64 / per_second as f64);
            let kseed = seed.wrapping_mul(0x9e37_79b9).wrapping_add(k as u64);
            let node = handle
                .create_node()
                .name(format!("kubelet-{k}"))
                .ip(kubelet_ip(k))
                .init(move || {
                    let name = format!("kubelet-{k}");
                    let client = kubelet_client(&recorder, &name, k % apiservers);
                    let tap = recorder.clone();
                    let hook: ContainerHook = Arc::new(move |node, pod, uid, running| {
                        tap.container(node, &format!("{KEY_PREFIX}/pods/{pod}"), uid, running)
                    });
                    let options = KubeletOptions {
                        seed: kseed,
                        container_hook: Some(hook),
                        ..KubeletOptions::default()
                    };
                    let kubelet = Kubelet::new(config.clone(), options);
                    let (_keep, shutdown) = watch::channel(false);
                    async move {
                        let _keep = _keep;
                        tokio::time::sleep(delay).await;
                        kubelet.run(client, shutdown).await
                    }
                })
                .build();
            hosts.entry(HostClass::Kubelets).or_default().push(node);
        }

        // The workload driver: creators, the observer, deletes.
        let driver = workload.clone();
        let node = handle
            .create_node()
            .name("workload")
            .ip(ip(10, 0, 4, 1))
            .init(move || {
                let driver = driver.clone();
                async move { driver.run(apiservers).await }
            })
            .build();
        hosts.entry(HostClass::Workload).or_default().push(node);

        World { scenario, seed, recorder, store, base_plan, hosts, workload, progress }
    }

    fn nodes(&self, class: &HostClass) -> &[NodeHandle] {
        self.hosts.get(class).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The faults of the run: the schedule plus the random mix, as (start, duration, fault), in
    /// start order.
    fn plan_faults(&self) -> Vec<(f64, f64, FaultKind)> {
        let mut out: Vec<(f64, f64, FaultKind)> =
            self.scenario.faults.schedule.iter().map(|f| (f.at_s, f.duration_s, f.fault.clone())).collect();
        let r = &self.scenario.faults.random;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xfa17_5eed);
        for _ in 0..r.count {
            let at = rng.random_range(r.window_s[0]..=r.window_s[1]);
            let duration = rng.random_range(r.duration_s[0]..=r.duration_s[1]);
            let fault = r.pool[rng.random_range(0..r.pool.len())].clone();
            out.push((at, duration, fault));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    async fn drive(self) -> RunResult {
        let start = tokio::time::Instant::now();
        // Cluster up: every node registered (or the timeout).
        let up_deadline = start + CLUSTER_UP_TIMEOUT + secs(self.scenario.topology.kubelets as f64 / 500.0);
        while tokio::time::Instant::now() < up_deadline && !self.workload.nodes_registered() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let cluster_up = self.recorder.now();
        self.recorder.fault(format!("cluster up: {} nodes registered", self.workload.registered_nodes()));
        self.workload.start();
        let up = tokio::time::Instant::now();

        // Faults: each in its own task, applied at its time and healed after its duration.
        let faults = self.plan_faults();
        let last_heal = faults.iter().map(|(at, d, _)| at + d).fold(0.0, f64::max);
        let world = Arc::new(self);
        let mut rng = ChaCha8Rng::seed_from_u64(world.seed ^ 0xc0ff_ee00);
        let applied = Arc::new(AtomicU32::new(0));
        let mut fault_tasks = Vec::new();
        for (at, duration, fault) in faults {
            let world = world.clone();
            let fseed: u64 = rng.random();
            let applied = applied.clone();
            fault_tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(up + secs(at)).await;
                applied.fetch_add(1, Ordering::Relaxed);
                world.inject(fault, secs(duration), fseed).await;
            }));
        }
        let healed = up + secs(last_heal);
        let max_end = up + secs(world.scenario.checks.max_duration_s);
        let deadline = healed + secs(world.scenario.checks.liveness_deadline_s);
        let mut last_progress = tokio::time::Instant::now();
        let mut last_prune = last_progress;
        let timed_out = loop {
            let now = tokio::time::Instant::now();
            if now.duration_since(last_prune) >= TASK_PRUNE_EVERY {
                last_prune = now;
                // madsim keeps a weak reference to every task a host ever spawned, and so the
                // task's bookkeeping, until someone counts the tasks: a scale run spawns a task per
                // store call and per binding, which kept ~150 B each for the whole run.
                let _ = Handle::current().metrics().num_tasks();
            }
            if now >= healed && world.workload.settled() {
                break false;
            }
            if now >= max_end || now >= deadline + SETTLE {
                break !world.workload.settled();
            }
            if let Some(p) = &world.progress {
                if now.duration_since(last_progress) >= Duration::from_secs(5) {
                    last_progress = now;
                    p(&format!(
                        "t={:>6.1}s {} | history {}",
                        now.duration_since(start).as_secs_f64(),
                        world.workload.progress_line(),
                        world.recorder.len()
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        tokio::time::sleep(SETTLE).await;
        let end = world.recorder.now();
        let healed_at = cluster_up + secs(last_heal).as_nanos() as Time;
        let result = RunResult {
            history: world.recorder.take(),
            cluster_up,
            healed_at,
            end,
            workload: world.workload.outcome(),
            faults_applied: applied.load(Ordering::Relaxed),
            net_messages: NetSim::current().stat().msg_count,
            timed_out,
        };
        world.tear_down(&fault_tasks).await;
        result
    }

    /// Drops the simulated cluster. madsim never drops the tasks of a runtime that is dropped with
    /// tasks still pending, so without this every host's state (the store, the caches, the
    /// kubelets, their connections) stayed allocated through the checks, on top of what the
    /// checkers build: the run's peak memory was both at once.
    async fn tear_down(&self, fault_tasks: &[tokio::task::JoinHandle<()>]) {
        for task in fault_tasks {
            task.abort();
        }
        let handle = Handle::current();
        for host in self.hosts.values().flatten() {
            handle.kill(host.id());
        }
        // A killed host's tasks are dropped when the executor next runs them.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// The index of the scheduler holding the leader Lease, read from the store itself (no
    /// network); `None` (the fault then hits every scheduler) if nobody holds it.
    async fn scheduler_leader(&self) -> Option<u32> {
        let kv = self.store.get(SCHEDULER_LEASE_KEY, None).await.ok()?;
        let lease: serde_json::Value = serde_json::from_slice(&kv.value).ok()?;
        let holder = lease["spec"]["holderIdentity"].as_str()?;
        holder.strip_prefix("scheduler-")?.parse().ok()
    }

    /// Applies one fault, waits `duration`, heals it.
    async fn inject(&self, fault: FaultKind, duration: Duration, seed: u64) {
        let net = NetSim::current();
        let handle = Handle::current();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = duration.as_secs_f64();
        match fault {
            FaultKind::Partition { from, to, one_way, index, leader } => {
                // `leader` picks the scheduler holding the Lease, on whichever side schedulers are.
                let leader = if leader { self.scheduler_leader().await } else { None };
                let side = |class: &HostClass, pick: Option<u32>| -> Vec<_> {
                    match pick {
                        Some(i) => {
                            self.nodes(class).get(i as usize).map(|n| vec![n.id()]).unwrap_or_default()
                        }
                        None => self.nodes(class).iter().map(NodeHandle::id).collect(),
                    }
                };
                let pick_from = if from == HostClass::Schedulers { index.or(leader) } else { index };
                let pick_to = if to == HostClass::Schedulers { leader } else { None };
                let a = side(&from, pick_from);
                let b = side(&to, pick_to);
                let label = |class: &HostClass, pick: Option<u32>| match pick {
                    Some(i) => format!("{class:?}[{i}]"),
                    None => format!("{class:?}"),
                };
                let (from_label, to_label) = (label(&from, pick_from), label(&to, pick_to));
                let how = if one_way { "one way" } else { "both ways" };
                self.recorder.fault(format!("partition {from_label} -x- {to_label} ({how}) for {d:.1}s"));
                let set = |clog: bool| {
                    for &x in &a {
                        for &y in &b {
                            if clog {
                                net.clog_link(x, y);
                                if !one_way {
                                    net.clog_link(y, x);
                                }
                            } else {
                                net.unclog_link(x, y);
                                net.unclog_link(y, x);
                            }
                        }
                    }
                };
                set(true);
                tokio::time::sleep(duration).await;
                set(false);
                self.recorder.fault(format!("healed: partition {from_label} -x- {to_label}"));
            }
            FaultKind::Clog { class, fraction, period_s } => {
                let nodes: Vec<_> = self.nodes(&class).iter().map(NodeHandle::id).collect();
                let k = ((nodes.len() as f64 * fraction).round() as usize).min(nodes.len());
                self.recorder.fault(format!("rolling clog of {k} {class:?} every {period_s}s for {d:.1}s"));
                let end = tokio::time::Instant::now() + duration;
                let mut clogged: Vec<_> = Vec::new();
                while tokio::time::Instant::now() < end {
                    for id in clogged.drain(..) {
                        net.unclog_node(id);
                    }
                    let mut pool = nodes.clone();
                    for _ in 0..k {
                        let id = pool.swap_remove(rng.random_range(0..pool.len()));
                        net.clog_node(id);
                        clogged.push(id);
                    }
                    let left = end.saturating_duration_since(tokio::time::Instant::now());
                    tokio::time::sleep(secs(period_s).min(left)).await;
                }
                for id in clogged {
                    net.unclog_node(id);
                }
                self.recorder.fault(format!("healed: rolling clog of {class:?}"));
            }
            FaultKind::Crash { class, mut index, count, leader } => {
                if leader {
                    index = self.scheduler_leader().await;
                }
                let nodes = self.nodes(&class);
                let picked: Vec<usize> = match index {
                    Some(i) => vec![i as usize],
                    None => {
                        let mut pool: Vec<usize> = (0..nodes.len()).collect();
                        (0..count.min(nodes.len() as u32))
                            .map(|_| pool.swap_remove(rng.random_range(0..pool.len())))
                            .collect()
                    }
                };
                let names: Vec<String> = picked.iter().map(|i| format!("{class:?}[{i}]")).collect();
                self.recorder.fault(format!("crash {} for {d:.1}s", names.join(", ")));
                if class == HostClass::Store {
                    self.store.crash();
                }
                for &i in &picked {
                    handle.kill(nodes[i].id());
                }
                tokio::time::sleep(duration).await;
                if class == HostClass::Store {
                    self.store.restart();
                }
                for &i in &picked {
                    handle.restart(nodes[i].id());
                }
                self.recorder.fault(format!("restarted {}", names.join(", ")));
            }
            FaultKind::StoreErrors {
                unavailable,
                timeout_before_commit,
                timeout_after_commit,
                watch_break,
                latency_ms,
            } => {
                let mut plan = self.base_plan.clone();
                plan.unavailable_probability = unavailable;
                plan.timeout_before_commit_probability = timeout_before_commit;
                plan.timeout_after_commit_probability = timeout_after_commit;
                plan.watch_break_probability = watch_break;
                plan.timeout_ms = 1000.0;
                if let Some([lo, hi]) = latency_ms {
                    plan.latency_default = Latency::Uniform { min_ms: lo, max_ms: hi };
                }
                self.recorder.fault(format!(
                    "store errors (unavailable {unavailable}, timeout before {timeout_before_commit}, \
                     after commit {timeout_after_commit}, watch break {watch_break}) for {d:.1}s"
                ));
                self.store.set_faults(plan);
                tokio::time::sleep(duration).await;
                self.store.set_faults(self.base_plan.clone());
                self.recorder.fault("healed: store errors".into());
            }
            FaultKind::Compaction => {
                let at = self.store.force_compaction(0);
                self.recorder.fault(format!("forced compaction at revision {at:?}"));
            }
            FaultKind::SlowWatchers { count } => {
                self.recorder.fault(format!("{count} slow watchers for {d:.1}s"));
                let stop = Arc::new(AtomicBool::new(false));
                let node = &self.nodes(&HostClass::Workload)[0];
                let mut tasks = Vec::new();
                for i in 0..count {
                    let c = client(
                        &self.recorder,
                        &format!("slow-watcher-{i}"),
                        i % self.scenario.topology.apiservers,
                    );
                    let stop = stop.clone();
                    tasks.push(node.spawn(async move {
                        // Opens the watch and never reads it; the server must bound what it queues.
                        let held = c.watch("/api/v1/pods?watch=true").await;
                        while !stop.load(Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        drop(held);
                    }));
                }
                tokio::time::sleep(duration).await;
                stop.store(true, Ordering::Relaxed);
                for t in tasks {
                    let _ = t.await;
                }
                self.recorder.fault("healed: slow watchers gone".into());
            }
        }
    }
}

/// kube-apiserver's compactor: every interval, compact to the revision seen one interval ago.
async fn compactor(storage: Arc<dyn Storage>, interval: Duration) {
    let mut previous = None;
    loop {
        tokio::time::sleep(interval).await;
        if let Some(rev) = previous {
            let _ = storage.compact(rev).await;
        }
        previous = storage.current_revision().await.ok();
    }
}
