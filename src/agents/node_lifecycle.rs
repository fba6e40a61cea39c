//! The node lifecycle controller, as kube-controller-manager's: a node whose Lease has not been
//! renewed within the grace period (40 s) is marked NotReady (`Ready=Unknown`,
//! `NodeStatusUnknown`) and tainted `node.kubernetes.io/unreachable` (NoSchedule and NoExecute);
//! its pods are evicted (gracefully deleted) once it has been unreachable for the eviction timeout;
//! when its kubelet is back (Lease renewed, Ready=True), the taints go.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube_core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams};
use kube_core::{Request, Resource};
use tokio::sync::{mpsc, watch};

use super::informer::{self, InformerConfig, InformerEvent};
use super::kubelet_lifecycle::NODE_LEASE_NAMESPACE;
use crate::client::{json_body, ApiClient, ClientError};

/// The taint key of an unreachable node.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// Timings. Defaults are kube-controller-manager's.
#[derive(Clone, Debug)]
pub struct NodeLifecycleConfig {
    /// How often leases are looked at (--node-monitor-period). Default 5 s.
    pub monitor_period: Duration,
    /// A lease older than this marks its node unreachable (--node-monitor-grace-period). Default 40 s.
    pub grace_period: Duration,
    /// Pods of an unreachable node are evicted after this long (the default tolerationSeconds of
    /// the unreachable taint). Default 300 s.
    pub eviction_timeout: Duration,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(40),
            eviction_timeout: Duration::from_secs(300),
        }
    }
}

/// Counters a report reads.
#[derive(Debug, Default)]
pub struct NodeLifecycleStats {
    /// Nodes marked unreachable.
    pub marked_unreachable: AtomicU64,
    /// Nodes whose unreachable taint was removed again.
    pub recovered: AtomicU64,
    /// Pods evicted.
    pub evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct NodeState {
    node: Node,
    renew_unix_micros: Option<i64>,
    unreachable_since: Option<tokio::time::Instant>,
    evicted: bool,
}

fn ready_status(node: &Node) -> Option<&str> {
    let conditions = node.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.status.as_str())
}

fn has_unreachable_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == UNREACHABLE_TAINT))
}

/// The controller.
pub struct NodeLifecycleController {
    config: NodeLifecycleConfig,
    stats: Arc<NodeLifecycleStats>,
}

impl NodeLifecycleController {
    /// A controller with `config`.
    pub fn new(config: NodeLifecycleConfig) -> Self {
        NodeLifecycleController { config, stats: Arc::default() }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<NodeLifecycleStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, client: ApiClient, mut shutdown: watch::Receiver<bool>) {
        let (nodes_tx, mut nodes_rx) = mpsc::channel::<InformerEvent<Node>>(256);
        let (leases_tx, mut leases_rx) = mpsc::channel::<InformerEvent<Lease>>(1024);
        let nodes_task =
            tokio::spawn(informer::run_typed(client.clone(), InformerConfig::of::<Node>(None), nodes_tx));
        let leases_task = tokio::spawn(informer::run_typed(
            client.clone(),
            InformerConfig::of::<Lease>(Some(NODE_LEASE_NAMESPACE)),
            leases_tx,
        ));
        let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
        let mut tick = tokio::time::interval(self.config.monitor_period);
        loop {
            tokio::select! {
                Some(e) = nodes_rx.recv() => match e {
                    InformerEvent::Relisted { items, .. } => {
                        let names: std::collections::BTreeSet<String> = items.iter().filter_map(|n| n.metadata.name.clone()).collect();
                        nodes.retain(|k, _| names.contains(k));
                        for n in items { apply_node(&mut nodes, n); }
                    }
                    InformerEvent::Applied(n) => apply_node(&mut nodes, n),
                    InformerEvent::Deleted(n) => { if let Some(name) = &n.metadata.name { nodes.remove(name); } }
                },
                Some(e) = leases_rx.recv() => match e {
                    InformerEvent::Relisted { items, .. } => for l in items { apply_lease(&mut nodes, &l); },
                    InformerEvent::Applied(l) => apply_lease(&mut nodes, &l),
                    InformerEvent::Deleted(_) => {}
                },
                _ = tick.tick() => self.monitor(&client, &mut nodes).await,
                _ = shutdown.changed() => if *shutdown.borrow() { break },
            }
        }
        nodes_task.abort();
        leases_task.abort();
    }

    async fn monitor(&self, client: &ApiClient, nodes: &mut BTreeMap<String, NodeState>) {
        let now_micros = jiff::Timestamp::now().as_microsecond();
        let grace = self.config.grace_period.as_micros() as i64;
        for (name, state) in nodes.iter_mut() {
            let fresh = state.renew_unix_micros.is_some_and(|r| now_micros - r <= grace);
            if !fresh && state.renew_unix_micros.is_some() {
                if state.unreachable_since.is_none() {
                    if mark_unreachable(client, name).await {
                        self.stats.marked_unreachable.fetch_add(1, Ordering::Relaxed);
                        state.unreachable_since = Some(tokio::time::Instant::now());
                        state.evicted = false;
                    }
                } else if !state.evicted
                    && state.unreachable_since.is_some_and(|t| t.elapsed() >= self.config.eviction_timeout)
                {
                    let n = evict_pods(client, name).await;
                    self.stats.evicted.fetch_add(n, Ordering::Relaxed);
                    state.evicted = true;
                }
            } else if fresh && ready_status(&state.node) == Some("True") && has_unreachable_taint(&state.node)
            {
                if remove_taints(client, name).await {
                    self.stats.recovered.fetch_add(1, Ordering::Relaxed);
                    state.unreachable_since = None;
                }
            } else if fresh {
                state.unreachable_since = None;
            }
        }
    }
}

fn apply_node(nodes: &mut BTreeMap<String, NodeState>, node: Node) {
    if let Some(name) = node.metadata.name.clone() {
        nodes.entry(name).or_default().node = node;
    }
}

fn apply_lease(nodes: &mut BTreeMap<String, NodeState>, lease: &Lease) {
    let Some(name) = lease.metadata.name.as_deref() else { return };
    let renew = lease.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0.as_microsecond());
    if let Some(state) = nodes.get_mut(name) {
        state.renew_unix_micros = renew;
    } else {
        nodes.insert(name.to_owned(), NodeState { renew_unix_micros: renew, ..Default::default() });
    }
}

fn nodes() -> Request {
    Request::new(Node::url_path(&(), None))
}

/// Ready=Unknown and the unreachable taints, as the controller writes them.
async fn mark_unreachable(client: &ApiClient, node: &str) -> bool {
    let now = Time(jiff::Timestamp::now());
    let ready_unknown = Node {
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusUnknown".into()),
                message: Some("Kubelet stopped posting node status.".into()),
                last_transition_time: Some(now.clone()),
                last_heartbeat_time: Some(now.clone()),
            }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    };
    // A strategic merge patch: conditions merge by type, the other conditions stay.
    let ok_status = match nodes().patch_subresource(
        "status",
        node,
        &PatchParams::default(),
        &Patch::Strategic(&ready_unknown),
    ) {
        Ok(req) => client.send(req).await.is_ok_and(|r| r.status == 200),
        Err(_) => false,
    };
    let ok_taint = update_taints(client, node, |taints| {
        for effect in ["NoSchedule", "NoExecute"] {
            taints.push(Taint {
                key: UNREACHABLE_TAINT.into(),
                effect: effect.into(),
                time_added: Some(now.clone()),
                value: None,
            });
        }
    })
    .await;
    ok_status && ok_taint
}

async fn remove_taints(client: &ApiClient, node: &str) -> bool {
    update_taints(client, node, |_| {}).await
}

/// Reads the node, drops its unreachable taints, lets `add` add some, and writes it back (a PUT
/// at the version read: a concurrent writer makes it fail, and the next period tries again).
async fn update_taints(client: &ApiClient, node: &str, add: impl FnOnce(&mut Vec<Taint>)) -> bool {
    let attempt = async {
        let current = client.send(nodes().get(node, &GetParams::default())?).await?;
        let mut current: Node =
            current.decode().map_err(|e| ClientError::Transport(format!("decoding node {node}: {e}")))?;
        let spec = current.spec.get_or_insert_with(Default::default);
        let mut taints: Vec<Taint> = spec
            .taints
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key != UNREACHABLE_TAINT)
            .collect();
        add(&mut taints);
        spec.taints = (!taints.is_empty()).then_some(taints);
        client.send(nodes().replace(node, &PostParams::default(), json_body(&current)?)?).await
    };
    attempt.await.is_ok_and(|r| r.status == 200)
}

/// Gracefully deletes every pod bound to `node`; returns how many deletes were accepted.
async fn evict_pods(client: &ApiClient, node: &str) -> u64 {
    let list = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let Ok(req) = Request::new(Pod::url_path(&(), None)).list(&list) else { return 0 };
    let Ok(resp) = client.send(req).await else { return 0 };
    let Ok(pods) = resp.decode::<k8s_openapi::List<Pod>>() else { return 0 };
    let mut n = 0;
    for pod in &pods.items {
        let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else { continue };
        let Ok(req) = Request::new(Pod::url_path(&(), Some(ns))).delete(name, &DeleteParams::default())
        else {
            continue;
        };
        if client.send(req).await.is_ok_and(|r| r.status == 200) {
            n += 1;
        }
    }
    n
}
