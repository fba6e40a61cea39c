//! The simulated kubelet agent: the IO loop that drives [`PodTracker`] against an API server, as a
//! kubelet does (in the spirit of KWOK's fake nodes).
//!
//! One task per kubelet, whatever it is doing:
//! * it registers its Node (POST `/api/v1/nodes`; on 409 it reads the Node's uid and PATCHes its
//!   status), renews its Lease in `kube-node-lease` every `lease_renew_interval` and reports
//!   NodeStatus every `node_status_interval` or when readiness changes;
//! * it watches its pods with an [`informer`] (`fieldSelector=spec.nodeName=<node>`, all
//!   namespaces) and feeds every event to the tracker;
//! * it carries out the tracker's [`Action`]s: timers in one delay queue (a `BTreeMap` ordered by
//!   `(deadline, sequence)`, slept on with `sleep_until`), requests as futures polled by the same
//!   task (`FuturesUnordered`), so thousands of kubelets cost one task each.
//!
//! Status writes are a PUT of `pods/{name}/status` with the tracker's latest object (optimistic
//! concurrency on its resourceVersion); on 409 the pod is read again, the status rebuilt from the
//! fresh object and the PUT tried once more. At most one write per pod is in flight; a newer
//! write replaces a queued or failed one (the latest status is the one that matters). Every
//! request has the client's timeout; failures are logged and retried after a jittered backoff.
//!
//! Determinism: only `tokio::time`, the task's own select loop and seeded ChaCha8 generators;
//! timestamps come from `jiff::Timestamp::now()` (virtual under madsim).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::params::{DeleteParams, GetParams, Patch, PatchParams, PostParams, Preconditions};
use kube_core::{Request, Resource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::agents::informer::{self, InformerConfig, InformerEvent};
use crate::agents::kubelet_lifecycle::{
    completed_status, lease_object, lease_renew_patch, micro_time_from_unix_micros, node_object,
    node_status_patch, pod_key, rejected_status, rfc3339_from_unix, running_status, Action, KubeletConfig,
    PodTracker, NODE_LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE,
};
use crate::client::{json_body, ApiClient, ApiResponse};
use crate::deadline::Deadline;

/// Told when a pod's containers start (`true`) or stop or exit (`false`), with the node name, the
/// pod's `namespace/name` and uid: how the simulation checks that no pod runs on two nodes at once.
pub type ContainerHook = Arc<dyn Fn(&str, &str, &str, bool) + Send + Sync>;

/// Timings and seed of a kubelet agent. Defaults in the doc of each field.
#[derive(Clone)]
pub struct KubeletOptions {
    /// Seeds the tracker's latencies and the agent's retry jitter. Default 0.
    pub seed: u64,
    /// Lease renewal period. Default 10 s (the kubelet's `nodeLeaseDurationSeconds / 4`).
    pub lease_renew_interval: Duration,
    /// `spec.leaseDurationSeconds`. Default 40.
    pub lease_duration_seconds: i64,
    /// NodeStatus heartbeat period (also sent at once when readiness changes). Default 60 s.
    pub node_status_interval: Duration,
    /// Wait before retrying a failed request: uniform in `[b, 2b]`. Default 1 s.
    pub retry_backoff: Duration,
    /// The pod informer's retry backoff. Default 500 ms.
    pub informer_retry_backoff: Duration,
    /// The pod informer's idle timeout (a silent watch is resumed). Default 90 s.
    pub informer_idle_timeout: Duration,
    /// Sees containers start and stop. Default none.
    pub container_hook: Option<ContainerHook>,
}

impl std::fmt::Debug for KubeletOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletOptions")
            .field("seed", &self.seed)
            .field("lease_renew_interval", &self.lease_renew_interval)
            .field("node_status_interval", &self.node_status_interval)
            .field("container_hook", &self.container_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for KubeletOptions {
    fn default() -> Self {
        KubeletOptions {
            seed: 0,
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: NODE_LEASE_DURATION_SECONDS,
            node_status_interval: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(1),
            informer_retry_backoff: Duration::from_millis(500),
            informer_idle_timeout: Duration::from_secs(90),
            container_hook: None,
        }
    }
}

/// Live counters of one kubelet, shared with whoever reports on it (cheap relaxed atomics).
#[derive(Debug, Default)]
pub struct KubeletStats {
    registered: AtomicBool,
    pods_started: AtomicU64,
    pods_rejected: AtomicU64,
    pods_completed: AtomicU64,
    pods_failed: AtomicU64,
    pods_deleted: AtomicU64,
    status_writes: AtomicU64,
    status_conflicts: AtomicU64,
    lease_renewals: AtomicU64,
    node_status_updates: AtomicU64,
    request_errors: AtomicU64,
}

/// A snapshot of [`KubeletStats`]; adds up across kubelets with `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KubeletCounters {
    /// Kubelets whose Node is registered.
    pub registered: u64,
    /// Pods whose containers started (a Running status was queued).
    pub pods_started: u64,
    /// Pods refused by admission (a Failed status was queued).
    pub pods_rejected: u64,
    /// Pods whose containers ran to completion (Succeeded or Failed queued).
    pub pods_completed: u64,
    /// Of `pods_completed`, those that failed (exit code 1).
    pub pods_failed: u64,
    /// Graceful deletions finished (the final DELETE answered 200).
    pub pods_deleted: u64,
    /// Pod status writes the API server accepted.
    pub status_writes: u64,
    /// 409 answers to pod status writes.
    pub status_conflicts: u64,
    /// Lease creations and renewals accepted.
    pub lease_renewals: u64,
    /// Node registrations and NodeStatus patches accepted.
    pub node_status_updates: u64,
    /// Requests that failed (transport, timeout, unexpected status) and were retried or dropped.
    pub request_errors: u64,
}

impl std::ops::AddAssign for KubeletCounters {
    fn add_assign(&mut self, o: KubeletCounters) {
        self.registered += o.registered;
        self.pods_started += o.pods_started;
        self.pods_rejected += o.pods_rejected;
        self.pods_completed += o.pods_completed;
        self.pods_failed += o.pods_failed;
        self.pods_deleted += o.pods_deleted;
        self.status_writes += o.status_writes;
        self.status_conflicts += o.status_conflicts;
        self.lease_renewals += o.lease_renewals;
        self.node_status_updates += o.node_status_updates;
        self.request_errors += o.request_errors;
    }
}

impl KubeletStats {
    /// The current values.
    pub fn snapshot(&self) -> KubeletCounters {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        KubeletCounters {
            registered: u64::from(self.registered.load(Ordering::Relaxed)),
            pods_started: g(&self.pods_started),
            pods_rejected: g(&self.pods_rejected),
            pods_completed: g(&self.pods_completed),
            pods_failed: g(&self.pods_failed),
            pods_deleted: g(&self.pods_deleted),
            status_writes: g(&self.status_writes),
            status_conflicts: g(&self.status_conflicts),
            lease_renewals: g(&self.lease_renewals),
            node_status_updates: g(&self.node_status_updates),
            request_errors: g(&self.request_errors),
        }
    }

    fn bump(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

/// One simulated kubelet. Build it, keep [`stats`](Self::stats), then [`run`](Self::run) it.
#[derive(Debug)]
pub struct Kubelet {
    config: KubeletConfig,
    options: KubeletOptions,
    stats: Arc<KubeletStats>,
    ready: Option<watch::Receiver<bool>>,
}

impl Kubelet {
    /// A kubelet for `config` (see [`KubeletConfig::validate`]: unparseable quantities count as 0).
    pub fn new(config: KubeletConfig, options: KubeletOptions) -> Self {
        Kubelet { config, options, stats: Arc::new(KubeletStats::default()), ready: None }
    }

    /// The node's readiness comes from `ready` (e.g. a simulated container runtime outage sends
    /// `false`): each change is reported at once. Without it the node is always Ready.
    pub fn with_readiness(mut self, ready: watch::Receiver<bool>) -> Self {
        self.ready = Some(ready);
        self
    }

    /// The kubelet's counters (shared; read them while it runs).
    pub fn stats(&self) -> Arc<KubeletStats> {
        self.stats.clone()
    }

    /// The node this kubelet runs.
    pub fn node_name(&self) -> &str {
        &self.config.node_name
    }

    /// Runs until `shutdown` holds `true` (or its sender is dropped). Never panics on API errors:
    /// they are logged and retried.
    pub async fn run(self, client: ApiClient, mut shutdown: watch::Receiver<bool>) {
        if *shutdown.borrow_and_update() {
            return;
        }
        let Kubelet { config, options, stats, ready } = self;
        let mut ready_rx = ready;
        let ready_now = ready_rx.as_mut().is_none_or(|r| *r.borrow_and_update());
        let mut agent = Agent::new(client, config, options, stats, ready_now);
        let (mut informer_task, mut events) = agent.spawn_informer();
        agent.schedule(Instant::now(), Job::Register);
        // One timer kept across iterations (see `crate::deadline`): a sleep made per iteration
        // left a simulator timer behind on every event.
        let mut next_job = Deadline::after(Duration::ZERO);
        loop {
            let sleep = next_job.wait_until(agent.queue.first_key_value().map(|(k, _)| k.0));
            let ready_changed = async {
                match ready_rx.as_mut() {
                    Some(r) => r.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow_and_update() {
                        break;
                    }
                }
                changed = ready_changed => {
                    match changed {
                        true => {
                            let r = *ready_rx.as_mut().expect("readiness receiver").borrow_and_update();
                            agent.set_ready(r);
                        }
                        // The readiness sender is gone: the last value stays.
                        false => ready_rx = None,
                    }
                }
                Some(done) = agent.io.next(), if !agent.io.is_empty() => agent.on_done(done),
                event = events.recv() => match event {
                    Some(e) => agent.on_event(e),
                    None => {
                        tracing::warn!(node = %agent.config.node_name, "pod informer ended; restarting it");
                        (informer_task, events) = agent.spawn_informer();
                    }
                },
                () = sleep => agent.fire_due(),
            }
        }
        informer_task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/// A timer in the delay queue.
#[derive(Debug, Clone)]
enum Job {
    Register,
    Lease,
    NodeStatus,
    Started(String),
    Completed(String),
    Stopped(String),
    RetryWrite(String),
    RetryDelete { key: String, uid: String },
}

impl Job {
    fn pod_key(&self) -> Option<&str> {
        match self {
            Job::Started(k) | Job::Completed(k) | Job::Stopped(k) | Job::RetryWrite(k) => Some(k),
            Job::RetryDelete { key, .. } => Some(key),
            Job::Register | Job::Lease | Job::NodeStatus => None,
        }
    }
}

type TimerId = (Instant, u64);

/// The status a write puts on a pod; built from the object it is written over.
#[derive(Debug, Clone)]
enum StatusWrite {
    Running { pod_ip: String },
    Completed { succeeded: bool },
    Rejected { reason: String, message: String },
}

impl StatusWrite {
    fn status(&self, pod: &Value, node_ip: &str, now: &str) -> Value {
        match self {
            StatusWrite::Running { pod_ip } => running_status(pod, node_ip, pod_ip, now),
            StatusWrite::Completed { succeeded } => completed_status(pod, *succeeded, now),
            StatusWrite::Rejected { reason, message } => rejected_status(pod, reason, message, now),
        }
    }
}

/// One pod's status writes: one in flight, the latest waiting.
#[derive(Debug)]
struct WriteSlot {
    id: u64,
    inflight: bool,
    /// A failed write waits for its retry timer.
    waiting: bool,
    next: Option<StatusWrite>,
}

#[derive(Debug)]
enum WriteOutcome {
    /// Accepted; the stored object.
    Written(Value),
    /// The pod (or this incarnation of it) is gone.
    Gone,
    /// Refused for good (e.g. 422).
    Refused(String),
    /// Try again later.
    Retry(String),
}

#[derive(Debug)]
enum DeleteOutcome {
    Deleted,
    /// 404, or 409 on the UID precondition: the pod we meant is gone.
    Gone,
    Retry(String),
}

#[derive(Debug)]
enum NodeStatusOutcome {
    Ok,
    /// The Node was deleted: register again.
    NotFound,
    Retry(String),
}

/// What a finished request reports to the loop.
#[derive(Debug)]
enum Done {
    Registered(Result<Registration, String>),
    Lease(Result<(), String>),
    NodeStatus { ready: bool, outcome: NodeStatusOutcome },
    PodWrite { key: String, slot: u64, write: StatusWrite, conflicts: u64, outcome: WriteOutcome },
    Delete { key: String, uid: String, outcome: DeleteOutcome },
}

#[derive(Debug)]
struct Registration {
    uid: String,
    /// The Ready status the API now holds for the node.
    reported_ready: bool,
}

type Io = Pin<Box<dyn Future<Output = Done> + Send>>;

struct Agent {
    client: ApiClient,
    config: KubeletConfig,
    options: KubeletOptions,
    stats: Arc<KubeletStats>,
    tracker: PodTracker,
    rng: ChaCha8Rng,
    queue: BTreeMap<TimerId, Job>,
    seq: u64,
    pod_timers: BTreeMap<String, Vec<TimerId>>,
    io: FuturesUnordered<Io>,
    writes: BTreeMap<String, WriteSlot>,
    // Node and Lease.
    ready: bool,
    node_uid: Option<String>,
    register_inflight: bool,
    reported_ready: Option<bool>,
    node_status_timer: Option<TimerId>,
    node_status_inflight: bool,
    node_status_again: bool,
    lease_timer: Option<TimerId>,
    lease_inflight: bool,
    lease_created: bool,
}

fn now_time() -> String {
    rfc3339_from_unix(jiff::Timestamp::now().as_second())
}

fn now_micro_time() -> String {
    micro_time_from_unix_micros(jiff::Timestamp::now().as_microsecond())
}

/// The pods collection of `pod`'s namespace, and its name (the tracker keeps pods as JSON).
fn pod_request(pod: &Value) -> (Request, String) {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    (Request::new(Pod::url_path(&(), Some(ns))), name.to_string())
}

fn nodes() -> Request {
    Request::new(Node::url_path(&(), None))
}

fn node_leases() -> Request {
    Request::new(Lease::url_path(&(), Some(NODE_LEASE_NAMESPACE)))
}

fn uid_of(obj: &Value) -> &str {
    obj["metadata"]["uid"].as_str().unwrap_or("")
}

fn rv_of(obj: &Value) -> Option<u64> {
    obj["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok())
}

fn describe(r: &ApiResponse) -> String {
    r.describe()
}

fn retryable(status: u16) -> bool {
    status == 409 || status == 429 || status >= 500
}

impl Agent {
    fn new(
        client: ApiClient,
        config: KubeletConfig,
        options: KubeletOptions,
        stats: Arc<KubeletStats>,
        ready: bool,
    ) -> Agent {
        let tracker = PodTracker::new(&config, options.seed);
        let rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x6b75_6265_6c65_7421);
        Agent {
            client,
            config,
            options,
            stats,
            tracker,
            rng,
            queue: BTreeMap::new(),
            seq: 0,
            pod_timers: BTreeMap::new(),
            io: FuturesUnordered::new(),
            writes: BTreeMap::new(),
            ready,
            node_uid: None,
            register_inflight: false,
            reported_ready: None,
            node_status_timer: None,
            node_status_inflight: false,
            node_status_again: false,
            lease_timer: None,
            lease_inflight: false,
            lease_created: false,
        }
    }

    fn spawn_informer(&self) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<InformerEvent>) {
        let mut cfg = InformerConfig::of::<Pod>(None);
        cfg.field_selector = Some(format!("spec.nodeName={}", self.config.node_name));
        cfg.retry_backoff = self.options.informer_retry_backoff;
        cfg.idle_timeout = self.options.informer_idle_timeout;
        let (tx, rx) = mpsc::channel(256);
        (tokio::spawn(informer::run(self.client.clone(), cfg, tx)), rx)
    }

    // ---- the delay queue

    fn schedule(&mut self, at: Instant, job: Job) -> TimerId {
        self.seq += 1;
        let id = (at, self.seq);
        if let Some(key) = job.pod_key() {
            self.pod_timers.entry(key.to_string()).or_default().push(id);
        }
        self.queue.insert(id, job);
        id
    }

    fn schedule_in(&mut self, after: Duration, job: Job) -> TimerId {
        self.schedule(Instant::now() + after, job)
    }

    fn backoff(&mut self) -> Duration {
        let b = self.options.retry_backoff;
        let ms = b.as_millis() as u64;
        b + Duration::from_millis(if ms == 0 { 0 } else { self.rng.random_range(0..=ms) })
    }

    fn cancel_pod_timers(&mut self, key: &str) {
        for id in self.pod_timers.remove(key).unwrap_or_default() {
            self.queue.remove(&id);
        }
    }

    fn fire_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (id, job) = entry.remove_entry();
            if let Some(key) = job.pod_key() {
                if let Some(ids) = self.pod_timers.get_mut(key) {
                    ids.retain(|i| *i != id);
                    if ids.is_empty() {
                        self.pod_timers.remove(key);
                    }
                }
            }
            self.run_job(id, job);
        }
    }

    fn run_job(&mut self, id: TimerId, job: Job) {
        match job {
            Job::Register => self.launch_register(),
            Job::Lease => {
                if self.lease_timer == Some(id) {
                    self.lease_timer = None;
                }
                self.launch_lease();
            }
            Job::NodeStatus => {
                if self.node_status_timer == Some(id) {
                    self.node_status_timer = None;
                }
                self.launch_node_status();
            }
            Job::Started(key) => {
                let actions = self.tracker.started(&key);
                self.apply(actions);
            }
            Job::Completed(key) => {
                let actions = self.tracker.completed(&key);
                self.apply(actions);
            }
            Job::Stopped(key) => {
                self.containers(&key, false);
                let actions = self.tracker.stopped(&key);
                self.apply(actions);
            }
            Job::RetryWrite(key) => {
                if let Some(slot) = self.writes.get_mut(&key) {
                    slot.waiting = false;
                }
                self.launch_write(&key);
            }
            Job::RetryDelete { key, uid } => self.launch_delete(key, uid),
        }
    }

    // ---- pods

    fn on_event(&mut self, event: InformerEvent) {
        match event {
            InformerEvent::Applied(pod) => {
                let actions = self.tracker.observe(&pod);
                self.apply(actions);
            }
            InformerEvent::Deleted(pod) => {
                let actions = self.tracker.observe_deleted(&pod);
                self.apply(actions);
            }
            InformerEvent::Relisted { items, .. } => {
                let mut listed = BTreeSet::new();
                for pod in &items {
                    listed.insert(pod_key(pod));
                    let actions = self.tracker.observe(pod);
                    self.apply(actions);
                }
                let gone: Vec<String> =
                    self.tracker.keys().filter(|k| !listed.contains(*k)).map(str::to_string).collect();
                for key in gone {
                    let actions = self.tracker.forgotten(&key);
                    self.apply(actions);
                }
            }
        }
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Reject { key, reason, message } => {
                    KubeletStats::bump(&self.stats.pods_rejected);
                    tracing::debug!(node = %self.config.node_name, pod = %key, %reason, "pod rejected");
                    self.enqueue_write(key, StatusWrite::Rejected { reason, message });
                }
                Action::Start { key, after_ms } => {
                    self.schedule_in(Duration::from_millis(after_ms), Job::Started(key));
                }
                Action::SetRunning { key } => {
                    KubeletStats::bump(&self.stats.pods_started);
                    self.containers(&key, true);
                    let pod_ip = self.tracker.pod_ip(&key).unwrap_or_else(|| {
                        tracing::warn!(node = %self.config.node_name, pod = %key, "pod CIDR exhausted; using the node IP");
                        self.config.node_ip.clone()
                    });
                    self.enqueue_write(key, StatusWrite::Running { pod_ip });
                }
                Action::Complete { key, after_ms, .. } => {
                    self.schedule_in(Duration::from_millis(after_ms), Job::Completed(key));
                }
                Action::SetCompleted { key, succeeded } => {
                    KubeletStats::bump(&self.stats.pods_completed);
                    self.containers(&key, false);
                    if !succeeded {
                        KubeletStats::bump(&self.stats.pods_failed);
                    }
                    self.enqueue_write(key, StatusWrite::Completed { succeeded });
                }
                Action::Stop { key, after_ms } => {
                    self.schedule_in(Duration::from_millis(after_ms), Job::Stopped(key));
                }
                Action::DeleteNow { key, uid } => self.launch_delete(key, uid),
                Action::Forget { key } => {
                    self.containers(&key, false);
                    self.cancel_pod_timers(&key);
                    self.writes.remove(&key);
                }
            }
        }
    }

    /// Tells the container hook, if any.
    fn containers(&self, key: &str, running: bool) {
        if let Some(hook) = &self.options.container_hook {
            let uid = self.tracker.uid(key).unwrap_or_default();
            hook(&self.config.node_name, key, uid, running);
        }
    }

    fn enqueue_write(&mut self, key: String, write: StatusWrite) {
        self.seq += 1;
        let id = self.seq;
        let slot = self.writes.entry(key.clone()).or_insert(WriteSlot {
            id,
            inflight: false,
            waiting: false,
            next: None,
        });
        slot.next = Some(write);
        if !slot.inflight && !slot.waiting {
            self.launch_write(&key);
        }
    }

    fn launch_write(&mut self, key: &str) {
        let Some(slot) = self.writes.get_mut(key) else { return };
        if slot.inflight || slot.waiting {
            return;
        }
        let Some(write) = slot.next.take() else {
            self.writes.remove(key);
            return;
        };
        let Some(pod) = self.tracker.pod(key) else {
            self.writes.remove(key);
            return;
        };
        slot.inflight = true;
        let slot_id = slot.id;
        let client = self.client.clone();
        let node_ip = self.config.node_ip.clone();
        let key = key.to_string();
        self.io.push(Box::pin(async move {
            let (conflicts, outcome) = write_status(&client, pod, &write, &node_ip).await;
            Done::PodWrite { key, slot: slot_id, write, conflicts, outcome }
        }));
    }

    fn on_write_done(
        &mut self,
        key: String,
        slot_id: u64,
        write: StatusWrite,
        conflicts: u64,
        outcome: WriteOutcome,
    ) {
        self.stats.status_conflicts.fetch_add(conflicts, Ordering::Relaxed);
        let node = &self.config.node_name;
        let Some(slot) = self.writes.get_mut(&key).filter(|s| s.id == slot_id) else {
            // The pod was forgotten while the write was in flight.
            return;
        };
        slot.inflight = false;
        let mut observe = None;
        match outcome {
            WriteOutcome::Written(obj) => {
                KubeletStats::bump(&self.stats.status_writes);
                observe = Some(obj);
            }
            WriteOutcome::Gone => tracing::debug!(%node, pod = %key, "status write: pod gone"),
            WriteOutcome::Refused(e) => {
                KubeletStats::bump(&self.stats.request_errors);
                tracing::warn!(%node, pod = %key, error = %e, "status write refused");
            }
            WriteOutcome::Retry(e) => {
                KubeletStats::bump(&self.stats.request_errors);
                tracing::debug!(%node, pod = %key, error = %e, "status write failed; retrying");
                if slot.next.is_none() {
                    slot.next = Some(write);
                    slot.waiting = true;
                    let after = self.backoff();
                    self.schedule_in(after, Job::RetryWrite(key.clone()));
                }
            }
        }
        self.launch_write(&key);
        // Our own write is the newest version we know of (unless the watch already brought a newer).
        if let Some(obj) = observe {
            let newer = match (self.tracker.resource_version(&key), rv_of(&obj)) {
                (Some(old), Some(new)) => new > old,
                _ => true,
            };
            if newer && self.tracker.uid(&key) == Some(uid_of(&obj)) {
                let actions = self.tracker.observe(&obj);
                self.apply(actions);
            }
        }
    }

    fn launch_delete(&mut self, key: String, uid: String) {
        let Some(pod) = self.tracker.pod(&key) else { return };
        if uid_of(&pod) != uid {
            return;
        }
        let (pods, name) = pod_request(&pod);
        let client = self.client.clone();
        self.io.push(Box::pin(async move {
            // As the kubelet: grace 0, and only this incarnation of the pod (uid precondition).
            let options = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
                ..DeleteParams::default()
            };
            let sent = match pods.delete(&name, &options) {
                Ok(req) => client.send(req).await,
                Err(e) => Err(e.into()),
            };
            let outcome = match sent {
                Ok(r) if r.status == 200 || r.status == 202 => DeleteOutcome::Deleted,
                Ok(r) if r.status == 404 || r.status == 409 => DeleteOutcome::Gone,
                Ok(r) => DeleteOutcome::Retry(describe(&r)),
                Err(e) => DeleteOutcome::Retry(e.to_string()),
            };
            Done::Delete { key, uid, outcome }
        }));
    }

    fn on_delete_done(&mut self, key: String, uid: String, outcome: DeleteOutcome) {
        let ours = self.tracker.uid(&key) == Some(uid.as_str());
        match outcome {
            // The DELETED watch event forgets the pod.
            DeleteOutcome::Deleted => KubeletStats::bump(&self.stats.pods_deleted),
            DeleteOutcome::Gone => {
                if ours {
                    let actions = self.tracker.forgotten(&key);
                    self.apply(actions);
                }
            }
            DeleteOutcome::Retry(e) => {
                KubeletStats::bump(&self.stats.request_errors);
                tracing::debug!(node = %self.config.node_name, pod = %key, error = %e, "pod delete failed; retrying");
                if ours {
                    let after = self.backoff();
                    self.schedule_in(after, Job::RetryDelete { key, uid });
                }
            }
        }
    }

    // ---- Node and Lease

    fn launch_register(&mut self) {
        if self.register_inflight || self.node_uid.is_some() {
            return;
        }
        self.register_inflight = true;
        let client = self.client.clone();
        let config = self.config.clone();
        let ready = self.ready;
        self.io.push(Box::pin(async move { Done::Registered(register(&client, &config, ready).await) }));
    }

    fn launch_lease(&mut self) {
        if self.lease_inflight {
            return;
        }
        let Some(uid) = self.node_uid.clone() else { return };
        self.lease_inflight = true;
        let client = self.client.clone();
        let node = self.config.node_name.clone();
        let created = self.lease_created;
        let duration = self.options.lease_duration_seconds;
        self.io.push(Box::pin(async move {
            Done::Lease(renew_lease(&client, &node, &uid, created, duration).await)
        }));
    }

    fn launch_node_status(&mut self) {
        if self.node_uid.is_none() {
            return;
        }
        if self.node_status_inflight {
            self.node_status_again = true;
            return;
        }
        self.node_status_inflight = true;
        self.node_status_again = false;
        let ready = self.ready;
        let changed = self.reported_ready != Some(ready);
        let now = now_time();
        let body = node_status_patch(&self.config, ready, &now, changed);
        let req = nodes().patch_subresource(
            "status",
            &self.config.node_name,
            &PatchParams::default(),
            &Patch::Strategic(&body),
        );
        let client = self.client.clone();
        self.io.push(Box::pin(async move {
            let sent = match req {
                Ok(req) => client.send(req).await,
                Err(e) => Err(e.into()),
            };
            let outcome = match sent {
                Ok(r) if r.status == 200 => NodeStatusOutcome::Ok,
                Ok(r) if r.status == 404 => NodeStatusOutcome::NotFound,
                Ok(r) => NodeStatusOutcome::Retry(describe(&r)),
                Err(e) => NodeStatusOutcome::Retry(e.to_string()),
            };
            Done::NodeStatus { ready, outcome }
        }));
    }

    /// (Re)arms the NodeStatus timer `after` from now.
    fn arm_node_status(&mut self, after: Duration) {
        if let Some(id) = self.node_status_timer.take() {
            self.queue.remove(&id);
        }
        self.node_status_timer = Some(self.schedule_in(after, Job::NodeStatus));
    }

    fn arm_lease(&mut self, after: Duration) {
        if let Some(id) = self.lease_timer.take() {
            self.queue.remove(&id);
        }
        self.lease_timer = Some(self.schedule_in(after, Job::Lease));
    }

    fn set_ready(&mut self, ready: bool) {
        if ready == self.ready {
            return;
        }
        self.ready = ready;
        tracing::info!(node = %self.config.node_name, ready, "node readiness changed");
        if self.node_uid.is_some() {
            self.arm_node_status(Duration::ZERO);
        }
    }

    fn on_done(&mut self, done: Done) {
        let node = self.config.node_name.clone();
        match done {
            Done::Registered(Ok(reg)) => {
                self.register_inflight = false;
                tracing::debug!(%node, uid = %reg.uid, "node registered");
                self.stats.registered.store(true, Ordering::Relaxed);
                KubeletStats::bump(&self.stats.node_status_updates);
                self.node_uid = Some(reg.uid);
                self.reported_ready = Some(reg.reported_ready);
                self.lease_created = false;
                self.arm_lease(Duration::ZERO);
                let next = if reg.reported_ready == self.ready {
                    self.options.node_status_interval
                } else {
                    Duration::ZERO
                };
                self.arm_node_status(next);
            }
            Done::Registered(Err(e)) => {
                self.register_inflight = false;
                KubeletStats::bump(&self.stats.request_errors);
                tracing::warn!(%node, error = %e, "node registration failed; retrying");
                let after = self.backoff();
                self.schedule_in(after, Job::Register);
            }
            Done::Lease(r) => {
                self.lease_inflight = false;
                match r {
                    Ok(()) => {
                        self.lease_created = true;
                        KubeletStats::bump(&self.stats.lease_renewals);
                        self.arm_lease(self.options.lease_renew_interval);
                    }
                    Err(e) => {
                        KubeletStats::bump(&self.stats.request_errors);
                        tracing::debug!(%node, error = %e, "lease renewal failed; retrying");
                        let after = self.backoff().min(self.options.lease_renew_interval);
                        self.arm_lease(after);
                    }
                }
            }
            Done::NodeStatus { ready, outcome } => {
                self.node_status_inflight = false;
                match outcome {
                    NodeStatusOutcome::Ok => {
                        KubeletStats::bump(&self.stats.node_status_updates);
                        self.reported_ready = Some(ready);
                        if self.node_status_again || ready != self.ready {
                            self.arm_node_status(Duration::ZERO);
                        } else {
                            self.arm_node_status(self.options.node_status_interval);
                        }
                    }
                    NodeStatusOutcome::NotFound => {
                        tracing::warn!(%node, "node object gone; registering again");
                        self.stats.registered.store(false, Ordering::Relaxed);
                        self.node_uid = None;
                        self.reported_ready = None;
                        if let Some(id) = self.node_status_timer.take() {
                            self.queue.remove(&id);
                        }
                        self.schedule(Instant::now(), Job::Register);
                    }
                    NodeStatusOutcome::Retry(e) => {
                        KubeletStats::bump(&self.stats.request_errors);
                        tracing::debug!(%node, error = %e, "node status update failed; retrying");
                        let after = self.backoff();
                        self.arm_node_status(after);
                    }
                }
            }
            Done::PodWrite { key, slot, write, conflicts, outcome } => {
                self.on_write_done(key, slot, write, conflicts, outcome)
            }
            Done::Delete { key, uid, outcome } => self.on_delete_done(key, uid, outcome),
        }
    }
}

/// PUT `pods/{name}/status`; on 409 reads the pod again and retries once on the fresh object.
/// Returns the number of conflicts met and the outcome.
async fn write_status(
    client: &ApiClient,
    pod: Value,
    write: &StatusWrite,
    node_ip: &str,
) -> (u64, WriteOutcome) {
    let (pods, name) = pod_request(&pod);
    let uid = uid_of(&pod).to_string();
    let mut pod = pod;
    let mut conflicts = 0;
    for attempt in 0..2 {
        // The pod stays JSON on this hot path: the tracker works on what the watch delivered,
        // and the status is rebuilt over it without a round trip through the typed Pod.
        let status = write.status(&pod, node_ip, &now_time());
        // A conflict replaces `pod` with a fresh read; every other outcome returns.
        let mut body = std::mem::take(&mut pod);
        body["status"] = status;
        let sent = match json_body(&body) {
            Ok(bytes) => match pods.replace_subresource("status", &name, &PostParams::default(), bytes) {
                Ok(req) => client.send(req).await,
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return (conflicts, WriteOutcome::Retry(e.to_string())),
        };
        match resp.status.as_u16() {
            200 | 201 => return (conflicts, WriteOutcome::Written(resp.json().unwrap_or(Value::Null))),
            404 => return (conflicts, WriteOutcome::Gone),
            409 => {
                conflicts += 1;
                if attempt == 1 {
                    return (conflicts, WriteOutcome::Retry(describe(&resp)));
                }
                let read = match pods.get(&name, &GetParams::default()) {
                    Ok(req) => client.send(req).await,
                    Err(e) => Err(e.into()),
                };
                let fresh = match read {
                    Ok(r) if r.status == 200 => match r.json() {
                        Ok(v) => v,
                        Err(e) => return (conflicts, WriteOutcome::Retry(e.to_string())),
                    },
                    Ok(r) if r.status == 404 => return (conflicts, WriteOutcome::Gone),
                    Ok(r) => return (conflicts, WriteOutcome::Retry(describe(&r))),
                    Err(e) => return (conflicts, WriteOutcome::Retry(e.to_string())),
                };
                if uid_of(&fresh) != uid {
                    return (conflicts, WriteOutcome::Gone);
                }
                pod = fresh;
            }
            s if retryable(s) => return (conflicts, WriteOutcome::Retry(describe(&resp))),
            _ => return (conflicts, WriteOutcome::Refused(describe(&resp))),
        }
    }
    (conflicts, WriteOutcome::Retry("conflict".into()))
}

/// POST the Node; on 409 read it and PATCH its status (Ready as `ready`).
async fn register(client: &ApiClient, config: &KubeletConfig, ready: bool) -> Result<Registration, String> {
    let node = &config.node_name;
    let create = nodes()
        .create(&PostParams::default(), json_body(&node_object(config, &now_time())).described()?)
        .described()?;
    let resp = client.send(create).await.described()?;
    match resp.status.as_u16() {
        201 | 200 => {
            let created: Node = resp.decode().map_err(|e| e.to_string())?;
            let uid = created.metadata.uid.unwrap_or_default();
            if uid.is_empty() {
                return Err("created Node has no uid".into());
            }
            Ok(Registration { uid, reported_ready: true })
        }
        409 => {
            let r = client.send(nodes().get(node, &GetParams::default()).described()?).await.described()?;
            if r.status != 200 {
                return Err(format!("GET node after 409: {}", describe(&r)));
            }
            let existing: Node = r.decode().map_err(|e| e.to_string())?;
            let uid = existing.metadata.uid.clone().unwrap_or_default();
            let was_ready = existing
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True");
            let body = node_status_patch(config, ready, &now_time(), was_ready != ready);
            let patch = nodes()
                .patch_subresource("status", node, &PatchParams::default(), &Patch::Strategic(&body))
                .described()?;
            let r = client.send(patch).await.described()?;
            if r.status != 200 {
                return Err(format!("PATCH node status after 409: {}", describe(&r)));
            }
            Ok(Registration { uid, reported_ready: ready })
        }
        _ => Err(format!("POST node: {}", describe(&resp))),
    }
}

/// Creates the Lease (first time, or after a 404) or renews it with a merge PATCH of renewTime. A
/// 409 on create takes the existing Lease over: holder, duration, renewTime and owner patched.
async fn renew_lease(
    client: &ApiClient,
    node: &str,
    node_uid: &str,
    created: bool,
    duration: i64,
) -> Result<(), String> {
    let leases = node_leases();
    let now = now_micro_time();
    if created {
        let patch = leases
            .patch(node, &PatchParams::default(), &Patch::Merge(&lease_renew_patch(&now)))
            .described()?;
        let r = client.send(patch).await.described()?;
        match r.status.as_u16() {
            200 => return Ok(()),
            404 => {}
            _ => return Err(format!("PATCH lease: {}", describe(&r))),
        }
    }
    let lease = lease_object(node, Some(node_uid), &now, duration);
    let create = leases.create(&PostParams::default(), json_body(&lease).described()?).described()?;
    let r = client.send(create).await.described()?;
    match r.status.as_u16() {
        200 | 201 => return Ok(()),
        409 => {}
        _ => return Err(format!("POST lease: {}", describe(&r))),
    }
    // Exists already (a previous incarnation): take it over.
    let takeover = Lease {
        metadata: ObjectMeta { owner_references: lease.metadata.owner_references, ..ObjectMeta::default() },
        spec: lease.spec,
    };
    let patch = leases.patch(node, &PatchParams::default(), &Patch::Merge(&takeover)).described()?;
    let r = client.send(patch).await.described()?;
    if r.status == 200 {
        Ok(())
    } else {
        Err(format!("PATCH existing lease: {}", describe(&r)))
    }
}

/// Errors of any kind as the message the loop logs.
trait Described<T> {
    fn described(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Described<T> for Result<T, E> {
    fn described(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}
