//! The node lifecycle controller, as kube-controller-manager's: a node whose Lease has not been
//! renewed within the grace period (40 s) is marked NotReady (`Ready=Unknown`,
//! `NodeStatusUnknown`) and tainted `node.kubernetes.io/unreachable` (NoSchedule and NoExecute);
//! its pods are evicted (gracefully deleted) once it has been unreachable for the eviction timeout;
//! when its kubelet is back (Lease renewed, Ready=True), the taints go.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::informer::{self, InformerConfig, InformerEvent};
use crate::client::ApiClient;

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
    node: Value,
    renew_unix_micros: Option<i64>,
    unreachable_since: Option<tokio::time::Instant>,
    evicted: bool,
}

fn ready_status(node: &Value) -> Option<&str> {
    node["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?["status"].as_str()
}

fn has_unreachable_taint(node: &Value) -> bool {
    node["spec"]["taints"].as_array().is_some_and(|t| t.iter().any(|t| t["key"] == UNREACHABLE_TAINT))
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
        let (nodes_tx, mut nodes_rx) = mpsc::channel(256);
        let (leases_tx, mut leases_rx) = mpsc::channel(1024);
        let nodes_task =
            tokio::spawn(informer::run(client.clone(), InformerConfig::new("/api/v1/nodes"), nodes_tx));
        let leases_task = tokio::spawn(informer::run(
            client.clone(),
            InformerConfig::new("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"),
            leases_tx,
        ));
        let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
        let mut tick = tokio::time::interval(self.config.monitor_period);
        loop {
            tokio::select! {
                Some(e) = nodes_rx.recv() => match e {
                    InformerEvent::Relisted { items, .. } => {
                        let names: Vec<String> = items.iter().filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned)).collect();
                        nodes.retain(|k, _| names.contains(k));
                        for n in items { apply_node(&mut nodes, n); }
                    }
                    InformerEvent::Applied(n) => apply_node(&mut nodes, n),
                    InformerEvent::Deleted(n) => { if let Some(name) = n["metadata"]["name"].as_str() { nodes.remove(name); } }
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

fn apply_node(nodes: &mut BTreeMap<String, NodeState>, node: Value) {
    if let Some(name) = node["metadata"]["name"].as_str().map(str::to_owned) {
        nodes.entry(name).or_default().node = node;
    }
}

fn apply_lease(nodes: &mut BTreeMap<String, NodeState>, lease: &Value) {
    let Some(name) = lease["metadata"]["name"].as_str() else { return };
    let renew = lease["spec"]["renewTime"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if let Some(state) = nodes.get_mut(name) {
        state.renew_unix_micros = renew.map(|t| t.as_microsecond());
    } else {
        nodes.insert(
            name.to_owned(),
            NodeState { renew_unix_micros: renew.map(|t| t.as_microsecond()), ..Default::default() },
        );
    }
}

/// Ready=Unknown and the unreachable taints, as the controller writes them.
async fn mark_unreachable(client: &ApiClient, node: &str) -> bool {
    let now =
        jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_string();
    let status = json!({"status": {"conditions": [{
        "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.", "lastTransitionTime": now, "lastHeartbeatTime": now}]}});
    let path = format!("/api/v1/nodes/{node}");
    let ok_status = client
        .patch(&format!("{path}/status"), "application/strategic-merge-patch+json", &status)
        .await
        .is_ok_and(|r| r.status == 200);
    let Ok(current) = client.get(&path).await else { return false };
    let Ok(mut current) = current.json() else { return false };
    let taints = current["spec"]["taints"].as_array().cloned().unwrap_or_default();
    let mut taints: Vec<Value> = taints.into_iter().filter(|t| t["key"] != UNREACHABLE_TAINT).collect();
    for effect in ["NoSchedule", "NoExecute"] {
        taints.push(json!({"key": UNREACHABLE_TAINT, "effect": effect, "timeAdded": now}));
    }
    current["spec"]["taints"] = Value::Array(taints);
    let ok_taint = client.put_json(&path, &current).await.is_ok_and(|r| r.status == 200);
    ok_status && ok_taint
}

async fn remove_taints(client: &ApiClient, node: &str) -> bool {
    let path = format!("/api/v1/nodes/{node}");
    let Ok(current) = client.get(&path).await else { return false };
    let Ok(mut current) = current.json() else { return false };
    let taints: Vec<Value> = current["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["key"] != UNREACHABLE_TAINT)
        .collect();
    current["spec"]["taints"] = Value::Array(taints);
    client.put_json(&path, &current).await.is_ok_and(|r| r.status == 200)
}

/// Gracefully deletes every pod bound to `node`; returns how many deletes were accepted.
async fn evict_pods(client: &ApiClient, node: &str) -> u64 {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("fieldSelector", &format!("spec.nodeName={node}"))
        .finish();
    let Ok(resp) = client.get(&format!("/api/v1/pods?{query}")).await else { return 0 };
    let Ok(list) = resp.json() else { return 0 };
    let mut n = 0;
    for pod in list["items"].as_array().into_iter().flatten() {
        let (Some(ns), Some(name)) =
            (pod["metadata"]["namespace"].as_str(), pod["metadata"]["name"].as_str())
        else {
            continue;
        };
        if client
            .delete(&format!("/api/v1/namespaces/{ns}/pods/{name}"), None)
            .await
            .is_ok_and(|r| r.status == 200)
        {
            n += 1;
        }
    }
    n
}
