//! The scheduler agent, behaving towards the API as kube-scheduler does: informers on non-terminal
//! pods and on nodes, a queue of the unassigned pods that name this scheduler, filter and score
//! ([`scheduler_algorithm`](super::scheduler_algorithm)), `POST pods/<name>/binding`, forget the pod
//! on 409, back off unschedulable pods; optionally only while holding the leader Lease.
//!
//! Plain async code on tokio (madsim's under simulation): no threads, no real clocks, randomness
//! only from the configured seed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::params::PostParams;
use kube_core::{Request, Resource};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch, Semaphore};

use super::informer::{self, InformerConfig, InformerEvent};
use super::leader_election::{self, LeaderElectionConfig};
use super::scheduler_algorithm::{
    NodeInfo, NodeSampler, PodRequest, SchedulingQueue, DEFAULT_SCHEDULER_NAME,
};
use crate::client::{json_body, ApiClient, ApiResponse, ClientError};
use crate::deadline::Deadline;

/// Scheduler settings. Defaults in the doc of each field.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// The `spec.schedulerName` this scheduler owns. Default `default-scheduler`.
    pub name: String,
    /// Leader election; `None` schedules at once (the many-schedulers mode). Default `None`.
    pub leader_election: Option<LeaderElectionConfig>,
    /// Seed of the tie-breaking RNG.
    pub seed: u64,
    /// Bindings in flight at once. Default 16.
    pub bind_concurrency: usize,
}

impl SchedulerConfig {
    /// A scheduler owning pods that name `name`, without leader election.
    pub fn new(name: impl Into<String>, seed: u64) -> Self {
        SchedulerConfig { name: name.into(), leader_election: None, seed, bind_concurrency: 16 }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig::new(DEFAULT_SCHEDULER_NAME, 0)
    }
}

/// Counters a report reads.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Bindings the API accepted.
    pub bound: AtomicU64,
    /// Bindings answered 409 (already bound, being deleted).
    pub conflicts: AtomicU64,
    /// Scheduling attempts that found no node.
    pub unschedulable: AtomicU64,
    /// Bindings that failed otherwise (timeouts, 5xx).
    pub errors: AtomicU64,
}

/// What a finished binding reports back to the loop.
enum BindResult {
    Bound,
    Conflict(String),
    Failed(String),
}

struct State {
    config: SchedulerConfig,
    nodes: BTreeMap<String, NodeInfo>,
    /// Unassigned pods of ours, by key.
    pending: BTreeMap<String, PodRequest>,
    /// Each assigned pod we know of, with its node, by key.
    assigned: BTreeMap<String, (String, PodRequest)>,
    queue: SchedulingQueue,
    rng: ChaCha8Rng,
    sampler: NodeSampler,
    started: tokio::time::Instant,
}

impl State {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn apply_node(&mut self, n: &Node) {
        let name = n.metadata.name.clone().unwrap_or_default();
        match self.nodes.get_mut(&name) {
            Some(info) => info.update_node(n),
            None => {
                let mut info = NodeInfo::from_node(n);
                // Pods the informer saw before their node.
                for (node_name, req) in self.assigned.values() {
                    if *node_name == name {
                        info.add_pod(req);
                    }
                }
                self.nodes.insert(name, info);
            }
        }
    }

    fn delete_node(&mut self, node: &Node) {
        if let Some(name) = &node.metadata.name {
            self.nodes.remove(name);
        }
    }

    fn apply_pod(&mut self, p: &Pod) {
        let req = PodRequest::from_pod(p);
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal = matches!(phase, Some("Succeeded") | Some("Failed"));
        if terminal {
            return self.delete_pod_key(&req.key);
        }
        match req.node_name.clone().filter(|n| !n.is_empty()) {
            Some(node) => {
                self.queue.forget(&req.key);
                self.pending.remove(&req.key);
                // Kept for node accounting only (key and requests): the filters' inputs were
                // most of a scale run's scheduler memory.
                let kept = PodRequest {
                    uid: None,
                    scheduler_name: String::new(),
                    node_selector: BTreeMap::new(),
                    required_node_affinity: None,
                    tolerations: Vec::new(),
                    ..req.clone()
                };
                if let Some((previous, _)) = self.assigned.insert(req.key.clone(), (node.clone(), kept)) {
                    if previous != node {
                        if let Some(info) = self.nodes.get_mut(&previous) {
                            info.remove_pod(&req.key);
                        }
                    }
                }
                if let Some(info) = self.nodes.get_mut(&node) {
                    info.add_pod(&req);
                }
            }
            None if req.scheduler_name == self.config.name && p.metadata.deletion_timestamp.is_none() => {
                self.queue.add(&req.key);
                self.pending.insert(req.key.clone(), req);
            }
            None => {}
        }
    }

    fn delete_pod_key(&mut self, key: &str) {
        self.queue.forget(key);
        self.pending.remove(key);
        if let Some((node, _)) = self.assigned.remove(key) {
            if let Some(info) = self.nodes.get_mut(&node) {
                info.remove_pod(key);
            }
        }
        for info in self.nodes.values_mut() {
            info.forget_assumed(key);
        }
    }

    fn delete_pod(&mut self, pod: &Pod) {
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        );
        self.delete_pod_key(&key);
    }

    fn relist_pods(&mut self, items: &[Pod]) {
        self.pending.clear();
        self.assigned.clear();
        self.queue = SchedulingQueue::new();
        for info in self.nodes.values_mut() {
            let keys: Vec<String> = info.pod_keys().map(str::to_owned).collect();
            for k in keys {
                info.remove_pod(&k);
            }
        }
        for item in items {
            self.apply_pod(item);
        }
    }

    fn relist_nodes(&mut self, items: &[Node]) {
        let names: std::collections::BTreeSet<&str> =
            items.iter().filter_map(|n| n.metadata.name.as_deref()).collect();
        self.nodes.retain(|name, _| names.contains(name.as_str()));
        for item in items {
            self.apply_node(item);
        }
    }
}

/// The scheduler agent.
pub struct Scheduler {
    config: SchedulerConfig,
    stats: Arc<SchedulerStats>,
}

impl Scheduler {
    /// A scheduler with `config`.
    pub fn new(config: SchedulerConfig) -> Self {
        Scheduler { config, stats: Arc::default() }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<SchedulerStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` turns true. With leader election, schedules only while leading.
    pub async fn run(self, client: ApiClient, mut shutdown: watch::Receiver<bool>) {
        let (leading_tx, mut leading) = watch::channel(self.config.leader_election.is_none());
        if let Some(le) = self.config.leader_election.clone() {
            tokio::spawn(leader_election::run(client.clone(), le, leading_tx, shutdown.clone()));
        }
        loop {
            while !*leading.borrow() {
                tokio::select! {
                    r = leading.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            if *shutdown.borrow() {
                return;
            }
            // Lead: informers and the scheduling loop, until leadership or the process ends.
            self.lead(&client, &mut leading, &mut shutdown).await;
            if *shutdown.borrow() {
                return;
            }
        }
    }

    async fn lead(
        &self,
        client: &ApiClient,
        leading: &mut watch::Receiver<bool>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        // Typed informers: each watch line decodes straight into a Pod or Node.
        let (pods_tx, mut pods) = mpsc::channel::<InformerEvent<Pod>>(1024);
        let (nodes_tx, mut nodes) = mpsc::channel::<InformerEvent<Node>>(256);
        let mut pod_informer = InformerConfig::of::<Pod>(None);
        pod_informer.field_selector = Some("status.phase!=Succeeded,status.phase!=Failed".into());
        let pod_task = tokio::spawn(informer::run_typed(client.clone(), pod_informer, pods_tx));
        let node_task =
            tokio::spawn(informer::run_typed(client.clone(), InformerConfig::of::<Node>(None), nodes_tx));
        let (done_tx, mut done) = mpsc::channel::<BindResult>(1024);
        let binds = Arc::new(Semaphore::new(self.config.bind_concurrency.max(1)));
        let mut state = State {
            config: self.config.clone(),
            nodes: BTreeMap::new(),
            pending: BTreeMap::new(),
            assigned: BTreeMap::new(),
            queue: SchedulingQueue::new(),
            rng: ChaCha8Rng::seed_from_u64(self.config.seed),
            sampler: NodeSampler::default(),
            started: tokio::time::Instant::now(),
        };
        let mut nodes_synced = false;
        let mut backoff_timer = Deadline::after(Duration::ZERO);
        loop {
            // Schedule everything ready now (once the node list has arrived).
            while nodes_synced && binds.available_permits() > 0 {
                let now = state.now();
                let Some(key) = state.queue.pop(now) else { break };
                let Some(req) = state.pending.get(&key).cloned() else {
                    state.queue.forget(&key);
                    continue;
                };
                match state.sampler.select(&req, state.nodes.values(), &mut state.rng) {
                    Ok(node) => {
                        if let Some(info) = state.nodes.get_mut(&node) {
                            info.assume(&req);
                        }
                        let permit = binds.clone().acquire_owned().await.expect("semaphore open");
                        let (client, done_tx) = (client.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let result = bind(&client, &req, &node).await;
                            let _ = done_tx.send(result).await;
                            drop(permit);
                        });
                    }
                    Err(fit) => {
                        self.stats.unschedulable.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(pod = %key, "{fit}");
                        state.queue.backoff(&key, now);
                    }
                }
            }
            let wake = match state.queue.next_ready_at() {
                Some(at) if nodes_synced => {
                    Some(tokio::time::Instant::now() + at.saturating_sub(state.now()))
                }
                _ => None,
            };
            // Kept across iterations (see `crate::deadline`): a sleep made per event left a
            // simulator timer behind on every one.
            let backoff_over = backoff_timer.wait_until(wake);
            tokio::select! {
                Some(e) = pods.recv() => match e {
                    InformerEvent::Relisted { items, .. } => state.relist_pods(&items),
                    InformerEvent::Applied(p) => state.apply_pod(&p),
                    InformerEvent::Deleted(p) => state.delete_pod(&p),
                },
                Some(e) = nodes.recv() => {
                    match e {
                        InformerEvent::Relisted { items, .. } => state.relist_nodes(&items),
                        InformerEvent::Applied(n) => state.apply_node(&n),
                        InformerEvent::Deleted(n) => state.delete_node(&n),
                    }
                    nodes_synced = true;
                }
                Some(r) = done.recv() => match r {
                    BindResult::Bound => { self.stats.bound.fetch_add(1, Ordering::Relaxed); }
                    BindResult::Conflict(key) => {
                        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                        for info in state.nodes.values_mut() {
                            info.forget_assumed(&key);
                        }
                        state.queue.forget(&key);
                    }
                    BindResult::Failed(key) => {
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        for info in state.nodes.values_mut() {
                            info.forget_assumed(&key);
                        }
                        let now = state.now();
                        state.queue.backoff(&key, now);
                    }
                },
                () = backoff_over => {}
                _ = leading.changed() => if !*leading.borrow() { break },
                _ = shutdown.changed() => if *shutdown.borrow() { break },
            }
        }
        pod_task.abort();
        node_task.abort();
    }
}

/// The Binding kube-scheduler posts: the pod (its uid a precondition) to `node`.
fn binding(pod: &PodRequest, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: pod.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_owned()),
            ..ObjectReference::default()
        },
    }
}

/// POST pods/<name>/binding.
async fn post_binding(client: &ApiClient, pod: &PodRequest, node: &str) -> Result<ApiResponse, ClientError> {
    let req = Request::new(Pod::url_path(&(), Some(&pod.namespace))).create_subresource(
        "binding",
        &pod.name,
        &PostParams::default(),
        json_body(&binding(pod, node))?,
    )?;
    client.send(req).await
}

/// Binds and classifies the answer.
async fn bind(client: &ApiClient, pod: &PodRequest, node: &str) -> BindResult {
    match post_binding(client, pod, node).await {
        Ok(r) if r.status == 201 => BindResult::Bound,
        Ok(r) if r.status == 409 || r.status == 404 => BindResult::Conflict(pod.key.clone()),
        Ok(r) => {
            tracing::debug!(pod = %pod.key, status = %r.status, "binding failed");
            BindResult::Failed(pod.key.clone())
        }
        Err(e) => {
            tracing::debug!(pod = %pod.key, error = %e, "binding failed");
            BindResult::Failed(pod.key.clone())
        }
    }
}
