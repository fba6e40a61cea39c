//! The workload driver: creates pods at the scenario's rate (or as a burst), watches them through
//! an informer to measure pod startup (created → Running seen through a watch), deletes the chosen
//! fraction once Running, and tells the world when every pod reached what is expected of it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kubesim::agents::informer::{self, InformerConfig, InformerEvent, InformerObject};
use kubesim::client::ApiClient;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use crate::history::{ExpectedPhase, Time};
pub use crate::metrics::WorkloadOutcome;
use crate::recorder::{Recorder, KEY_PREFIX};
use crate::scenario::{Scenario, SchedulerMode};

/// The namespace the workload's pods live in.
pub const NAMESPACE: &str = "default";
/// Informer channel depth.
const EVENTS_QUEUE: usize = 4096;
/// Wait between retries of a failed create or delete.
const RETRY: Duration = Duration::from_millis(500);

#[derive(Clone, Debug, Default)]
struct Track {
    /// When the first create attempt was sent.
    created_at: Option<Time>,
    /// When the observer first saw it Running.
    running_seen_at: Option<Time>,
    /// Phase last seen; empty while unseen.
    phase: String,
    /// Seen in the store (through the informer) and not deleted since.
    exists: bool,
    /// Seen at least once: a create that timed out did commit, so it must not be retried (a retry
    /// after the pod was deleted would create a second pod of the same name).
    seen: bool,
    /// What it should end as.
    expect: Option<ExpectedPhase>,
    /// Chosen for deletion once Running.
    delete: bool,
    delete_requested: bool,
    /// A delete is queued or being sent.
    deleting: bool,
}

/// What the observer reads of a pod or node. Its informers decode only these fields: building
/// every pod as a `Value` was most of what observing cost.
#[derive(Debug, Default, Deserialize)]
struct Summary {
    #[serde(default)]
    metadata: SummaryMeta,
    #[serde(default)]
    status: Option<SummaryStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryMeta {
    name: Option<String>,
    resource_version: Option<String>,
    deletion_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SummaryStatus {
    phase: Option<String>,
}

impl InformerObject for Summary {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
}

impl Summary {
    fn name(&self) -> Option<&str> {
        self.metadata.name.as_deref()
    }

    fn phase(&self) -> &str {
        self.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    pods: BTreeMap<String, Track>,
    nodes: u32,
    created: u32,
    /// The pod the last [`Workload::settled`] found unsettled: looked at first next time, so the
    /// world's poll does not walk 150,000 settled pods every 100 ms while the last ones start.
    unsettled_hint: Option<String>,
}

impl Track {
    fn settled(&self) -> bool {
        match self.expect {
            None => false,
            Some(ExpectedPhase::Running) => self.exists && self.phase == "Running",
            Some(ExpectedPhase::Completed) => {
                self.exists && (self.phase == "Succeeded" || self.phase == "Failed")
            }
            Some(ExpectedPhase::Deleted) => !self.exists,
        }
    }
}

/// The workload driver, shared by the world (which starts it and polls it) and its host.
pub struct Workload {
    scenario: Scenario,
    seed: u64,
    recorder: Arc<Recorder>,
    state: Mutex<State>,
    started: AtomicBool,
    start: Notify,
    running_tasks: AtomicU32,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload").finish_non_exhaustive()
    }
}

fn pod_name(i: u32) -> String {
    format!("pod-{i:06}")
}

fn pod_key(name: &str) -> String {
    format!("{KEY_PREFIX}/pods/{NAMESPACE}/{name}")
}

impl Workload {
    /// A driver for `scenario`.
    pub fn new(scenario: &Scenario, seed: u64, recorder: Arc<Recorder>) -> Self {
        Workload {
            scenario: scenario.clone(),
            seed,
            recorder,
            state: Mutex::new(State::default()),
            started: AtomicBool::new(false),
            start: Notify::new(),
            running_tasks: AtomicU32::new(0),
        }
    }

    /// Whether every kubelet's Node is registered.
    pub fn nodes_registered(&self) -> bool {
        self.state.lock().nodes >= self.scenario.topology.kubelets
    }

    /// Nodes registered so far.
    pub fn registered_nodes(&self) -> u32 {
        self.state.lock().nodes
    }

    /// Starts creating pods.
    pub fn start(&self) {
        self.started.store(true, Ordering::Relaxed);
        self.start.notify_waiters();
    }

    /// Every pod was created and is in its expected phase (as the observer sees it).
    pub fn settled(&self) -> bool {
        let mut s = self.state.lock();
        if s.created < self.scenario.workload.pods {
            return false;
        }
        if let Some(t) = s.unsettled_hint.as_ref().and_then(|k| s.pods.get(k)) {
            if !t.settled() {
                return false;
            }
        }
        let unsettled = s.pods.iter().find(|(_, t)| !t.settled()).map(|(k, _)| k.clone());
        let settled = unsettled.is_none();
        s.unsettled_hint = unsettled;
        settled
    }

    /// One line for the progress display.
    pub fn progress_line(&self) -> String {
        let s = self.state.lock();
        let running = s.pods.values().filter(|t| t.exists && t.phase == "Running").count();
        let bound_or_more = s.pods.values().filter(|t| t.running_seen_at.is_some()).count();
        format!(
            "nodes {}/{} | pods created {}/{} running now {} ever {}",
            s.nodes,
            self.scenario.topology.kubelets,
            s.created,
            self.scenario.workload.pods,
            running,
            bound_or_more
        )
    }

    /// What was seen.
    pub fn outcome(&self) -> WorkloadOutcome {
        let s = self.state.lock();
        let mut o = WorkloadOutcome { created: s.created, ..WorkloadOutcome::default() };
        for t in s.pods.values() {
            if let (Some(c), Some(r)) = (t.created_at, t.running_seen_at) {
                o.running_seen += 1;
                o.startup_ns.push(r.saturating_sub(c));
                o.last_running = o.last_running.max(Some(r));
            }
            if t.phase == "Succeeded" || t.phase == "Failed" {
                o.completed_seen += 1;
            }
            if t.delete_requested && !t.exists {
                o.deleted_seen += 1;
            }
            if let Some(c) = t.created_at {
                o.first_create = Some(o.first_create.map_or(c, |f: Time| f.min(c)));
            }
        }
        o
    }

    /// The driver's host body: observers first, then (once started) creators.
    pub async fn run(self: Arc<Self>, apiservers: u32) {
        if self.running_tasks.fetch_add(1, Ordering::Relaxed) > 0 {
            // The workload host is never crashed (scenarios refuse it); a second init would
            // create every pod twice.
            return;
        }
        let (delete_tx, delete_rx) = mpsc::unbounded_channel::<String>();
        let nodes_client = self.client("workload-nodes", 0);
        tokio::spawn(self.clone().observe_nodes(nodes_client));
        let pods_client = self.client("workload-observer", 0);
        tokio::spawn(self.clone().observe_pods(pods_client, delete_tx));
        tokio::spawn(self.clone().delete_loop(self.client("workload-deleter", 0), delete_rx));
        while !self.started.load(Ordering::Relaxed) {
            let notified = self.start.notified();
            if self.started.load(Ordering::Relaxed) {
                break;
            }
            notified.await;
        }
        let w = &self.scenario.workload;
        tokio::time::sleep(Duration::from_secs_f64(w.start_s)).await;
        let begin = tokio::time::Instant::now();
        let next = Arc::new(AtomicU32::new(0));
        let mut creators = Vec::new();
        for c in 0..w.creators {
            let client = self.client(&format!("workload-creator-{c}"), c % apiservers);
            creators.push(tokio::spawn(self.clone().create_loop(client, next.clone(), begin)));
        }
        for c in creators {
            let _ = c.await;
        }
        // madsim ends a host, and kills all its tasks, when its init future returns.
        std::future::pending::<()>().await
    }

    fn client(&self, name: &str, apiserver: u32) -> ApiClient {
        crate::world::client(&self.recorder, name, apiserver)
    }

    fn pod_object(&self, i: u32, name: &str) -> Value {
        let w = &self.scenario.workload;
        let t = &self.scenario.topology;
        let scheduler = match t.scheduler_mode {
            SchedulerMode::LeaderElected => "default-scheduler".to_owned(),
            SchedulerMode::PerPodName => format!("scheduler-{}", i % t.schedulers.max(1)),
        };
        let restart = if w.run_duration_ms.is_some() { "Never" } else { "Always" };
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "kubesim-sim"}},
               "spec": {"schedulerName": scheduler, "restartPolicy": restart,
                        "terminationGracePeriodSeconds": 5,
                        "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": w.pod_cpu, "memory": w.pod_memory}}}]}})
    }

    async fn create_loop(
        self: Arc<Self>,
        client: ApiClient,
        next: Arc<AtomicU32>,
        begin: tokio::time::Instant,
    ) {
        let w = self.scenario.workload.clone();
        let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= w.pods {
                return;
            }
            if w.create_rate > 0.0 {
                tokio::time::sleep_until(begin + Duration::from_secs_f64(i as f64 / w.create_rate)).await;
            }
            let name = pod_name(i);
            let body = self.pod_object(i, &name);
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ (0xde1e_7e00 + i as u64));
            let delete = rng.random::<f64>() < w.delete_fraction;
            let expect =
                if w.run_duration_ms.is_some() { ExpectedPhase::Completed } else { ExpectedPhase::Running };
            // The expectation is set when the create is sent: a timed-out create may still commit,
            // and the pod may be Running (even deleted) before a retry learns it exists.
            self.recorder.expect(&pod_key(&name), expect);
            {
                let mut s = self.state.lock();
                let t = s.pods.entry(name.clone()).or_default();
                t.created_at = Some(self.recorder.now());
                t.delete = delete;
                t.expect = Some(expect);
            }
            // 409 after a retry: an earlier attempt did commit (its answer was lost).
            loop {
                match client.post_json(&path, &body).await {
                    Ok(r) if r.status == 201 || r.status == 409 => break,
                    Ok(_) | Err(_) => tokio::time::sleep(RETRY).await,
                }
                if self.state.lock().pods.get(&name).is_some_and(|t| t.seen) {
                    break;
                }
            }
            self.state.lock().created += 1;
        }
    }

    async fn observe_nodes(self: Arc<Self>, client: ApiClient) {
        let (tx, mut rx) = mpsc::channel(EVENTS_QUEUE);
        tokio::spawn(informer::run_typed::<Summary>(client, InformerConfig::new("/api/v1/nodes"), tx));
        let mut names = std::collections::BTreeSet::new();
        while let Some(e) = rx.recv().await {
            match e {
                InformerEvent::Relisted { items, .. } => {
                    names = items.iter().filter_map(|o| o.name().map(str::to_owned)).collect();
                }
                InformerEvent::Applied(o) => {
                    if let Some(n) = o.name() {
                        names.insert(n.to_owned());
                    }
                }
                InformerEvent::Deleted(o) => {
                    if let Some(n) = o.name() {
                        names.remove(n);
                    }
                }
            }
            self.state.lock().nodes = names.len() as u32;
        }
    }

    async fn observe_pods(self: Arc<Self>, client: ApiClient, deletes: mpsc::UnboundedSender<String>) {
        let (tx, mut rx) = mpsc::channel(EVENTS_QUEUE);
        let mut config = InformerConfig::new(format!("/api/v1/namespaces/{NAMESPACE}/pods"));
        config.idle_timeout = Duration::from_secs(30);
        tokio::spawn(informer::run_typed::<Summary>(client, config, tx));
        while let Some(e) = rx.recv().await {
            let now = self.recorder.now();
            let mut s = self.state.lock();
            match e {
                InformerEvent::Relisted { items, .. } => {
                    let present: std::collections::BTreeSet<String> =
                        items.iter().filter_map(|o| o.name().map(str::to_owned)).collect();
                    for (name, t) in s.pods.iter_mut() {
                        if !present.contains(name) {
                            t.exists = false;
                        }
                    }
                    for o in &items {
                        Self::seen(&mut s, o, now, &deletes);
                    }
                }
                InformerEvent::Applied(o) => Self::seen(&mut s, &o, now, &deletes),
                InformerEvent::Deleted(o) => {
                    if let Some(t) = o.name().and_then(|n| s.pods.get_mut(n)) {
                        t.exists = false;
                    }
                }
            }
        }
    }

    fn seen(s: &mut State, o: &Summary, now: Time, deletes: &mpsc::UnboundedSender<String>) {
        let Some(name) = o.name() else { return };
        let t = s.pods.entry(name.to_owned()).or_default();
        t.exists = true;
        t.seen = true;
        t.phase = o.phase().to_owned();
        if t.phase == "Running" && t.running_seen_at.is_none() {
            t.running_seen_at = Some(now);
        }
        if t.phase == "Running" && t.delete && !t.delete_requested {
            t.delete_requested = true;
            t.deleting = true;
            let _ = deletes.send(name.to_owned());
        }
        // Reconcile as a controller would: a delayed create (sent before a timeout, delivered
        // after the pod was deleted) brings back a pod that should be gone.
        let terminating = o.metadata.deletion_timestamp.is_some();
        if t.expect == Some(ExpectedPhase::Deleted) && !t.deleting && !terminating {
            t.deleting = true;
            let _ = deletes.send(name.to_owned());
        }
    }

    async fn delete_loop(self: Arc<Self>, client: ApiClient, mut names: mpsc::UnboundedReceiver<String>) {
        while let Some(name) = names.recv().await {
            // The expectation changes when the delete is sent: a timed-out delete may still commit.
            self.recorder.expect(&pod_key(&name), ExpectedPhase::Deleted);
            if let Some(t) = self.state.lock().pods.get_mut(&name) {
                t.expect = Some(ExpectedPhase::Deleted);
            }
            let path = format!("/api/v1/namespaces/{NAMESPACE}/pods/{name}");
            loop {
                match client.delete(&path, None).await {
                    Ok(r) if r.status == 200 || r.status == 202 || r.status == 404 => break,
                    _ => tokio::time::sleep(RETRY).await,
                }
            }
            if let Some(t) = self.state.lock().pods.get_mut(&name) {
                t.deleting = false;
            }
        }
    }
}
