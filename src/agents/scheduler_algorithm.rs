//! Pure scheduling logic of the simulated kube-scheduler: no IO, no clocks, no global RNG.
//!
//! Behaviour follows kube-scheduler's default profile for the plugins that matter to kubesim
//! (facts from kubernetes/kubernetes `pkg/scheduler/framework/plugins/*` and
//! `pkg/scheduler/internal/queue`):
//!
//! * Filter, in plugin order, stopping at the first plugin that fails (as the framework does):
//!   node readiness (the legacy `CheckNodeCondition` predicate, kept because kubesim's nodes may
//!   not carry the `not-ready` taint), `NodeUnschedulable`, `NodeName`, `TaintToleration`,
//!   `NodeAffinity` (`nodeSelector` and required node affinity), `NodeResourcesFit` (which reports every
//!   insufficient resource at once).
//! * Score: `NodeResourcesFit` with the default `LeastAllocated` strategy, cpu and memory weight 1,
//!   on "non-zero" requests (a container that does not request cpu/memory counts as 100m / 200Mi).
//! * Host selection: highest score, ties broken uniformly by reservoir sampling (`selectHost`).
//! * FitError: `0/N nodes are available: <count> <reason>, ....` with the histogram sorted.
//! * Queue: FIFO active queue, per-pod exponential backoff 1 s doubling to 10 s.
//!
//! Determinism: every collection that is iterated is a `BTreeMap`/`Vec`; randomness only comes from
//! the `ChaCha8Rng` the caller passes in; time is a `Duration` offset from a caller-chosen epoch.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `spec.schedulerName` applied by API defaulting when a pod names none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// kube's `framework.MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// `schedutil.DefaultMilliCPURequest`: cpu counted for scoring when a container requests none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// `schedutil.DefaultMemoryRequest`: memory counted for scoring when a container requests none.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;
/// kube's `podInitialBackoffDuration` default.
pub const POD_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// kube's `podMaxBackoffDuration` default.
pub const POD_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Taint key the NodeUnschedulable plugin lets a pod tolerate (`v1.TaintNodeUnschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub const TAINT_EFFECT_NO_SCHEDULE: &str = "NoSchedule";
pub const TAINT_EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const TAINT_EFFECT_NO_EXECUTE: &str = "NoExecute";

// Failure reasons, spelled as kube-scheduler's plugins spell them.
pub const REASON_NOT_READY: &str = "node(s) were not ready";
pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const REASON_NODE_NAME: &str = "node(s) didn't match the requested node name";
pub const REASON_NODE_SELECTOR: &str = "node(s) didn't match Pod's node affinity/selector";
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";
pub const REASON_INSUFFICIENT_CPU: &str = "Insufficient cpu";
pub const REASON_INSUFFICIENT_MEMORY: &str = "Insufficient memory";

/// The reason the TaintToleration filter gives: `node(s) had untolerated taint {key: value}`.
pub fn untolerated_taint_reason(taint: &Taint) -> String {
    format!("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value)
}

// ---------------------------------------------------------------------------------------------
// Taints and tolerations
// ---------------------------------------------------------------------------------------------

/// A node taint (`v1.Taint` without `timeAdded`). A missing value is the empty string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    pub fn new(key: &str, value: &str, effect: &str) -> Self {
        Taint { key: key.to_string(), value: value.to_string(), effect: effect.to_string() }
    }
}

/// A pod toleration (`v1.Toleration` without `tolerationSeconds`, which only the taint manager
/// uses). Missing strings are empty; an empty operator means `Equal`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Toleration {
    pub key: String,
    pub operator: String,
    pub value: String,
    pub effect: String,
}

impl Toleration {
    /// kube's `Toleration.ToleratesTaint`: an empty effect matches every effect, an empty key
    /// matches every key (with `Exists`: tolerate everything), `Equal`/"" compares values,
    /// `Exists` ignores them, any other operator tolerates nothing.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "" | "Equal" => self.value == taint.value,
            "Exists" => true,
            _ => false,
        }
    }
}

fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// kube's `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`: the first
/// NoSchedule/NoExecute taint, in node order, that no toleration tolerates.
pub fn find_untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        (t.effect == TAINT_EFFECT_NO_SCHEDULE || t.effect == TAINT_EFFECT_NO_EXECUTE)
            && !tolerations_tolerate(tolerations, t)
    })
}

// ---------------------------------------------------------------------------------------------
// Node affinity (required part)
// ---------------------------------------------------------------------------------------------

/// One `NodeSelectorRequirement`: key, operator (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`,
/// `Lt`), values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// One `NodeSelectorTerm`: all expressions (on labels) and all fields (only `metadata.name`)
/// must match. A term with neither matches no node, as in kube.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<NodeSelectorRequirement>,
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    fn from_k8s(t: &k8s_openapi::api::core::v1::NodeSelectorTerm) -> Self {
        let conv = |rs: &Option<Vec<k8s_openapi::api::core::v1::NodeSelectorRequirement>>| {
            rs.iter()
                .flatten()
                .map(|r| NodeSelectorRequirement {
                    key: r.key.clone(),
                    operator: r.operator.clone(),
                    values: r.values.clone().unwrap_or_default(),
                })
                .collect()
        };
        NodeSelectorTerm {
            match_expressions: conv(&t.match_expressions),
            match_fields: conv(&t.match_fields),
        }
    }

    /// kube's `nodeSelectorTerm` matching; a malformed requirement makes the term not match.
    pub fn matches(&self, node_name: &str, labels: &BTreeMap<String, String>) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        self.match_expressions.iter().all(|r| label_requirement_matches(r, labels))
            && self.match_fields.iter().all(|r| field_requirement_matches(r, node_name))
    }
}

fn label_requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let v = labels.get(&r.key);
    match r.operator.as_str() {
        "In" => !r.values.is_empty() && v.is_some_and(|v| r.values.contains(v)),
        "NotIn" => !r.values.is_empty() && !v.is_some_and(|v| r.values.contains(v)),
        "Exists" => r.values.is_empty() && v.is_some(),
        "DoesNotExist" => r.values.is_empty() && v.is_none(),
        "Gt" | "Lt" => {
            let [want] = r.values.as_slice() else { return false };
            let (Ok(want), Some(Ok(have))) = (want.parse::<i64>(), v.map(|v| v.parse::<i64>())) else {
                return false;
            };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

fn field_requirement_matches(r: &NodeSelectorRequirement, node_name: &str) -> bool {
    if r.key != "metadata.name" {
        return false;
    }
    match r.operator.as_str() {
        "In" => r.values.len() == 1 && r.values[0] == node_name,
        "NotIn" => r.values.len() == 1 && r.values[0] != node_name,
        _ => false,
    }
}

/// NodeAffinity filter: `nodeSelector` pairs all present, and when required node affinity is
/// set, at least one of its terms matches.
pub fn node_affinity_matches(pod: &PodRequest, node: &NodeInfo) -> bool {
    pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
        && pod
            .required_node_affinity
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)))
}

// ---------------------------------------------------------------------------------------------
// Pod requests
// ---------------------------------------------------------------------------------------------

/// What the scheduler needs to know about a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRequest {
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
    /// `spec.schedulerName`, `default-scheduler` when unset or empty.
    pub scheduler_name: String,
    /// Effective cpu request in millicores: max(sum(containers + sidecars), max(init)) + overhead.
    pub cpu_milli: i64,
    /// Effective memory request in bytes, same formula.
    pub memory_bytes: i64,
    /// Same formula with each missing container cpu request counted as 100m (scoring only).
    pub non_zero_cpu_milli: i64,
    /// Same formula with each missing container memory request counted as 200Mi (scoring only).
    pub non_zero_memory_bytes: i64,
    pub node_selector: BTreeMap<String, String>,
    /// `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`
    /// (ORed); `None` when the pod has no required node affinity.
    pub required_node_affinity: Option<Vec<NodeSelectorTerm>>,
    pub tolerations: Vec<Toleration>,
    /// `spec.nodeName` when set (the pod is bound, or asks for that node).
    pub node_name: Option<String>,
}

/// Per-resource request pair accumulated while walking containers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Res {
    cpu: i64,
    mem: i64,
}

impl Res {
    fn add(self, o: Res) -> Res {
        Res { cpu: self.cpu.saturating_add(o.cpu), mem: self.mem.saturating_add(o.mem) }
    }
    fn max(self, o: Res) -> Res {
        Res { cpu: self.cpu.max(o.cpu), mem: self.mem.max(o.mem) }
    }
}

fn container_requests(c: &Container, non_zero: bool) -> Res {
    let reqs = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let cpu = reqs.and_then(|m| m.get("cpu"));
    let mem = reqs.and_then(|m| m.get("memory"));
    Res {
        cpu: match cpu {
            Some(q) => quantity_milli_value(q),
            None if non_zero => DEFAULT_MILLI_CPU_REQUEST,
            None => 0,
        },
        mem: match mem {
            Some(q) => quantity_value(q),
            None if non_zero => DEFAULT_MEMORY_REQUEST,
            None => 0,
        },
    }
}

/// kube's `resource.PodRequests` (component-helpers) for cpu and memory: regular containers
/// summed; restartable init containers (sidecars, `restartPolicy: Always`) added to that sum and
/// to every later init container; the pod needs the max of the sum and of each init step; then
/// `spec.overhead` is added. With `non_zero`, a container that lacks a cpu/memory request counts
/// the scheduler's defaults (`NonMissingContainerRequests`).
fn pod_requests(pod: &Pod, non_zero: bool) -> Res {
    let Some(spec) = pod.spec.as_ref() else { return Res::default() };
    let mut reqs = Res::default();
    for c in &spec.containers {
        reqs = reqs.add(container_requests(c, non_zero));
    }
    let mut restartable = Res::default();
    let mut init_max = Res::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_zero);
        let step = if c.restart_policy.as_deref() == Some("Always") {
            reqs = reqs.add(r);
            restartable = restartable.add(r);
            restartable
        } else {
            r.add(restartable)
        };
        init_max = init_max.max(step);
    }
    reqs = reqs.max(init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        let o = Res {
            cpu: overhead.get("cpu").map(quantity_milli_value).unwrap_or(0),
            mem: overhead.get("memory").map(quantity_value).unwrap_or(0),
        };
        reqs = reqs.add(o);
    }
    reqs
}

impl PodRequest {
    pub fn from_pod(pod: &Pod) -> Self {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let scheduler_name = spec
            .and_then(|s| s.scheduler_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
        let tolerations = spec
            .and_then(|s| s.tolerations.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| Toleration {
                        key: t.key.clone().unwrap_or_default(),
                        operator: t.operator.clone().unwrap_or_default(),
                        value: t.value.clone().unwrap_or_default(),
                        effect: t.effect.clone().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let req = pod_requests(pod, false);
        let nz = pod_requests(pod, true);
        PodRequest {
            key: format!("{namespace}/{name}"),
            namespace,
            name,
            uid: pod.metadata.uid.clone(),
            scheduler_name,
            cpu_milli: req.cpu,
            memory_bytes: req.mem,
            non_zero_cpu_milli: nz.cpu,
            non_zero_memory_bytes: nz.mem,
            node_selector: spec.and_then(|s| s.node_selector.clone()).unwrap_or_default(),
            required_node_affinity: spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref())
                .map(|sel| sel.node_selector_terms.iter().map(NodeSelectorTerm::from_k8s).collect()),
            tolerations,
            node_name: spec.and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        }
    }

    /// Whether the pod carries a toleration for `taint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        tolerations_tolerate(&self.tolerations, taint)
    }
}

// ---------------------------------------------------------------------------------------------
// Node info
// ---------------------------------------------------------------------------------------------

/// Resources a pod holds on a node, as accounted by [`NodeInfo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PodUsage {
    req: Res,
    non_zero: Res,
    /// Counted on the scheduler's own decision, not yet confirmed by the informer.
    assumed: bool,
}

/// The scheduler's view of one node: what it offers and what the pods on it (confirmed or
/// assumed) request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    /// `status.allocatable.cpu` in millicores (0 when absent, as in kube).
    pub allocatable_cpu_milli: i64,
    /// `status.allocatable.memory` in bytes.
    pub allocatable_memory_bytes: i64,
    /// `status.allocatable.pods`.
    pub allocatable_pods: i64,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    pods: BTreeMap<String, PodUsage>,
    requested: Res,
    non_zero_requested: Res,
}

impl NodeInfo {
    /// A node with no pods on it.
    pub fn from_node(node: &Node) -> Self {
        let mut n = NodeInfo {
            name: String::new(),
            allocatable_cpu_milli: 0,
            allocatable_memory_bytes: 0,
            allocatable_pods: 0,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable: false,
            ready: false,
            pods: BTreeMap::new(),
            requested: Res::default(),
            non_zero_requested: Res::default(),
        };
        n.update_node(node);
        n
    }

    /// Refresh everything that comes from the Node object, keeping the pod accounting.
    pub fn update_node(&mut self, node: &Node) {
        self.name = node.metadata.name.clone().unwrap_or_default();
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| Taint {
                        key: t.key.clone(),
                        value: t.value.clone().unwrap_or_default(),
                        effect: t.effect.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let status = node.status.as_ref();
        let alloc = status.and_then(|s| s.allocatable.as_ref());
        self.allocatable_cpu_milli = alloc.and_then(|a| a.get("cpu")).map(quantity_milli_value).unwrap_or(0);
        self.allocatable_memory_bytes = alloc.and_then(|a| a.get("memory")).map(quantity_value).unwrap_or(0);
        self.allocatable_pods = alloc.and_then(|a| a.get("pods")).map(quantity_value).unwrap_or(0);
        self.ready = status
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            .unwrap_or(false);
    }

    fn insert(&mut self, pod: &PodRequest, assumed: bool) -> bool {
        let usage = PodUsage {
            req: Res { cpu: pod.cpu_milli, mem: pod.memory_bytes },
            non_zero: Res { cpu: pod.non_zero_cpu_milli, mem: pod.non_zero_memory_bytes },
            assumed,
        };
        let old = self.pods.insert(pod.key.clone(), usage);
        if let Some(old) = old {
            self.subtract(old);
        }
        self.requested = self.requested.add(usage.req);
        self.non_zero_requested = self.non_zero_requested.add(usage.non_zero);
        old.is_none()
    }

    fn subtract(&mut self, u: PodUsage) {
        self.requested.cpu = self.requested.cpu.saturating_sub(u.req.cpu);
        self.requested.mem = self.requested.mem.saturating_sub(u.req.mem);
        self.non_zero_requested.cpu = self.non_zero_requested.cpu.saturating_sub(u.non_zero.cpu);
        self.non_zero_requested.mem = self.non_zero_requested.mem.saturating_sub(u.non_zero.mem);
    }

    /// Account a pod the informer reports bound to this node. Idempotent per key: a second call
    /// replaces the first (a changed request is re-accounted), and it confirms an assumed pod.
    /// Returns true when the key was not on the node before.
    pub fn add_pod(&mut self, pod: &PodRequest) -> bool {
        self.insert(pod, false)
    }

    /// Remove a pod by key (deleted, terminal, or moved). Returns whether it was there.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        match self.pods.remove(key) {
            Some(u) => {
                self.subtract(u);
                true
            }
            None => false,
        }
    }

    /// Account a pod the scheduler just decided to put here, before the informer confirms the
    /// binding, so that the next decisions see it. A pod already confirmed on the node stays
    /// confirmed (no-op, returns false).
    pub fn assume(&mut self, pod: &PodRequest) -> bool {
        if matches!(self.pods.get(&pod.key), Some(u) if !u.assumed) {
            return false;
        }
        self.insert(pod, true)
    }

    /// Drop an assumed pod (its binding failed or was abandoned). A pod the informer confirmed
    /// is kept. Returns whether something was removed.
    pub fn forget_assumed(&mut self, key: &str) -> bool {
        if matches!(self.pods.get(key), Some(u) if u.assumed) {
            self.remove_pod(key)
        } else {
            false
        }
    }

    pub fn has_pod(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        matches!(self.pods.get(key), Some(u) if u.assumed)
    }

    /// Keys of the pods on this node (confirmed and assumed), sorted.
    pub fn pod_keys(&self) -> impl Iterator<Item = &str> {
        self.pods.keys().map(String::as_str)
    }

    /// Number of pods counted against `allocatable_pods` (confirmed and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn assumed_count(&self) -> usize {
        self.pods.values().filter(|u| u.assumed).count()
    }

    pub fn requested_cpu_milli(&self) -> i64 {
        self.requested.cpu
    }

    pub fn requested_memory_bytes(&self) -> i64 {
        self.requested.mem
    }

    pub fn non_zero_requested_cpu_milli(&self) -> i64 {
        self.non_zero_requested.cpu
    }

    pub fn non_zero_requested_memory_bytes(&self) -> i64 {
        self.non_zero_requested.mem
    }
}

// ---------------------------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------------------------

/// Why one node cannot take the pod: the reasons of the first failing filter plugin (only
/// NodeResourcesFit reports more than one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unschedulable {
    pub reasons: Vec<String>,
}

impl Unschedulable {
    fn one(reason: impl Into<String>) -> Self {
        Unschedulable { reasons: vec![reason.into()] }
    }
}

impl fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reasons.join(", "))
    }
}

impl std::error::Error for Unschedulable {}

/// Run the filter plugins in kube's order and stop at the first one that fails.
pub fn filter(pod: &PodRequest, node: &NodeInfo) -> Result<(), Unschedulable> {
    // Legacy CheckNodeCondition.
    if !node.ready {
        return Err(Unschedulable::one(REASON_NOT_READY));
    }
    // NodeUnschedulable: passes if the pod tolerates the unschedulable:NoSchedule taint.
    if node.unschedulable
        && !pod.tolerates(&Taint::new(TAINT_NODE_UNSCHEDULABLE, "", TAINT_EFFECT_NO_SCHEDULE))
    {
        return Err(Unschedulable::one(REASON_UNSCHEDULABLE));
    }
    // NodeName.
    if let Some(want) = pod.node_name.as_deref() {
        if want != node.name {
            return Err(Unschedulable::one(REASON_NODE_NAME));
        }
    }
    // TaintToleration.
    if let Some(t) = find_untolerated_taint(&node.taints, &pod.tolerations) {
        return Err(Unschedulable::one(untolerated_taint_reason(t)));
    }
    // NodeAffinity: nodeSelector and required node affinity.
    if !node_affinity_matches(pod, node) {
        return Err(Unschedulable::one(REASON_NODE_SELECTOR));
    }
    // NodeResourcesFit: all insufficient resources are reported.
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable_pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    if pod.cpu_milli > 0 && pod.cpu_milli > node.allocatable_cpu_milli.saturating_sub(node.requested.cpu) {
        reasons.push(REASON_INSUFFICIENT_CPU.to_string());
    }
    if pod.memory_bytes > 0
        && pod.memory_bytes > node.allocatable_memory_bytes.saturating_sub(node.requested.mem)
    {
        reasons.push(REASON_INSUFFICIENT_MEMORY.to_string());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Unschedulable { reasons })
    }
}

// ---------------------------------------------------------------------------------------------
// Score
// ---------------------------------------------------------------------------------------------

/// kube's `leastRequestedScore`: `(capacity - requested) * 100 / capacity`, 0 when the capacity
/// is 0 or exceeded (integer division).
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    ((capacity as i128 - requested as i128) * MAX_NODE_SCORE as i128 / capacity as i128) as i64
}

/// NodeResourcesFit score with the LeastAllocated strategy, cpu and memory weight 1:
/// `(cpuScore*1 + memScore*1) / 2` where each uses the node's non-zero requested amount plus the
/// pod's non-zero request. Range 0..=100.
pub fn score(pod: &PodRequest, node: &NodeInfo) -> i64 {
    let cpu = least_requested_score(
        node.non_zero_requested.cpu.saturating_add(pod.non_zero_cpu_milli),
        node.allocatable_cpu_milli,
    );
    let mem = least_requested_score(
        node.non_zero_requested.mem.saturating_add(pod.non_zero_memory_bytes),
        node.allocatable_memory_bytes,
    );
    (cpu + mem) / 2
}

// ---------------------------------------------------------------------------------------------
// Host selection
// ---------------------------------------------------------------------------------------------

/// No node can take the pod: how many nodes were looked at and how many failed for each reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FitError {
    pub pod_key: String,
    pub num_all_nodes: usize,
    /// reason → number of nodes that reported it.
    pub reasons: BTreeMap<String, usize>,
}

impl FitError {
    /// `"<count> <reason>"` strings sorted as kube sorts them (`sort.Strings`).
    pub fn sorted_reasons(&self) -> Vec<String> {
        let mut v: Vec<String> = self.reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
        v.sort();
        v
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            // kube's ErrNoNodesAvailable.
            return f.write_str("no nodes available to schedule pods");
        }
        write!(f, "0/{} nodes are available: {}.", self.num_all_nodes, self.sorted_reasons().join(", "))
    }
}

impl std::error::Error for FitError {}

/// Filter every node, score the feasible ones, and pick the best; ties are broken uniformly at
/// random by reservoir sampling over the nodes in the order given (kube's `selectHost`).
/// Consumes randomness only for ties (one draw per node that ties the running maximum).
pub fn select_node<'a>(
    pod: &PodRequest,
    nodes: impl Iterator<Item = &'a NodeInfo>,
    rng: &mut ChaCha8Rng,
) -> Result<String, FitError> {
    select_among(pod, nodes, usize::MAX, rng).0
}

/// kube-scheduler's floor on feasible nodes to find before it stops filtering.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// kube-scheduler's floor on the adaptive percentage of nodes to score.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;
/// kube-scheduler's starting point for the adaptive percentage (50% minus 1% per 125 nodes).
pub const BASE_PERCENTAGE_OF_NODES_TO_SCORE: usize = 50;

/// How many feasible nodes kube-scheduler looks for before it stops filtering
/// (`numFeasibleNodesToFind` with percentageOfNodesToScore unset): every node below 100 nodes,
/// 50% − nodes/125 (at least 5%) of them above, and never fewer than 100.
pub fn feasible_nodes_to_find(num_all: usize) -> usize {
    if num_all < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all;
    }
    let percentage = BASE_PERCENTAGE_OF_NODES_TO_SCORE
        .saturating_sub(num_all / 125)
        .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    (num_all * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Picks nodes as kube-scheduler does at scale: filtering starts where the previous pod's search
/// stopped (`nextStartNodeIndex`) and stops once [`feasible_nodes_to_find`] nodes fit, so a
/// 5,000-node cluster filters ~500 nodes per pod, not 5,000, and pods spread over all nodes.
#[derive(Clone, Debug, Default)]
pub struct NodeSampler {
    next_start: usize,
}

impl NodeSampler {
    /// Selects a node for `pod` among `nodes` (in a stable order).
    pub fn select<'a, I>(
        &mut self,
        pod: &PodRequest,
        nodes: I,
        rng: &mut ChaCha8Rng,
    ) -> Result<String, FitError>
    where
        I: ExactSizeIterator<Item = &'a NodeInfo> + Clone,
    {
        let n = nodes.len();
        if n == 0 {
            return select_node(pod, nodes, rng);
        }
        let start = self.next_start % n;
        let rotated = nodes.clone().skip(start).chain(nodes.take(start));
        let (picked, processed) = select_among(pod, rotated, feasible_nodes_to_find(n), rng);
        self.next_start = (start + processed) % n;
        picked
    }
}

/// Filters nodes in order until `enough` fit, scores those; returns the pick and how many nodes
/// were filtered.
fn select_among<'a>(
    pod: &PodRequest,
    nodes: impl Iterator<Item = &'a NodeInfo>,
    enough: usize,
    rng: &mut ChaCha8Rng,
) -> (Result<String, FitError>, usize) {
    let mut num_all = 0usize;
    let mut feasible = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(i64, &'a str)> = None;
    let mut ties = 0u64;
    for node in nodes {
        if feasible >= enough {
            break;
        }
        num_all += 1;
        match filter(pod, node) {
            Err(u) => {
                for r in u.reasons {
                    *reasons.entry(r).or_insert(0) += 1;
                }
            }
            Ok(()) => {
                feasible += 1;
                let s = score(pod, node);
                match best {
                    Some((max, _)) if s < max => {}
                    Some((max, _)) if s == max => {
                        ties += 1;
                        if rng.random_range(0..ties) == 0 {
                            best = Some((s, node.name.as_str()));
                        }
                    }
                    _ => {
                        best = Some((s, node.name.as_str()));
                        ties = 1;
                    }
                }
            }
        }
    }
    let picked = match best {
        Some((_, name)) => Ok(name.to_string()),
        None => Err(FitError { pod_key: pod.key.clone(), num_all_nodes: num_all, reasons }),
    };
    (picked, num_all)
}

// ---------------------------------------------------------------------------------------------
// Scheduling queue
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QState {
    Active(u64),
    Backoff(Duration, u64),
    InFlight,
}

/// kube's `calculateBackoffDuration`: `initial * 2^(attempts-1)`, capped at `max`.
pub fn backoff_duration(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let mut d = initial;
    for _ in 1..attempts {
        if d > max.saturating_sub(d) {
            return max;
        }
        d += d;
    }
    d.min(max)
}

/// Active queue (FIFO by arrival) plus backoff queue (by ready time). Each key is in at most one
/// place: active, backoff, or in flight (popped, attempt not yet finished). Times are offsets
/// from an arbitrary epoch chosen by the caller.
#[derive(Clone, Debug)]
pub struct SchedulingQueue {
    initial_backoff: Duration,
    max_backoff: Duration,
    seq: u64,
    states: BTreeMap<String, QState>,
    active: BTreeMap<u64, String>,
    backoff: BTreeMap<(Duration, u64), String>,
    attempts: BTreeMap<String, u32>,
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl SchedulingQueue {
    /// Backoff 1 s doubling to 10 s, as kube-scheduler's defaults.
    pub fn new() -> Self {
        Self::with_backoff(POD_INITIAL_BACKOFF, POD_MAX_BACKOFF)
    }

    pub fn with_backoff(initial: Duration, max: Duration) -> Self {
        SchedulingQueue {
            initial_backoff: initial,
            max_backoff: max,
            seq: 0,
            states: BTreeMap::new(),
            active: BTreeMap::new(),
            backoff: BTreeMap::new(),
            attempts: BTreeMap::new(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn detach(&mut self, key: &str) -> Option<QState> {
        let st = self.states.remove(key)?;
        match st {
            QState::Active(s) => {
                self.active.remove(&s);
            }
            QState::Backoff(at, s) => {
                self.backoff.remove(&(at, s));
            }
            QState::InFlight => {}
        }
        Some(st)
    }

    /// Enqueue a pod at the back of the active queue. No-op (false) when the key is already
    /// queued, backing off, or in flight.
    pub fn add(&mut self, key: &str) -> bool {
        if self.states.contains_key(key) {
            return false;
        }
        let s = self.next_seq();
        self.states.insert(key.to_string(), QState::Active(s));
        self.active.insert(s, key.to_string());
        true
    }

    /// Move every pod whose backoff has expired at `now` to the back of the active queue, in
    /// order of expiry.
    pub fn flush_backoff(&mut self, now: Duration) {
        while let Some(entry) = self.backoff.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            let s = self.next_seq();
            self.states.insert(key.clone(), QState::Active(s));
            self.active.insert(s, key);
        }
    }

    /// Next pod to schedule at `now`, if any; it becomes in flight and its attempt count grows.
    pub fn pop(&mut self, now: Duration) -> Option<String> {
        self.flush_backoff(now);
        let (_, key) = self.active.pop_first()?;
        self.states.insert(key.clone(), QState::InFlight);
        *self.attempts.entry(key.clone()).or_insert(0) += 1;
        Some(key)
    }

    /// The attempt on `key` failed: put it in the backoff queue until
    /// `now + backoff_duration(attempts)`. Ignored (false) for a key the queue does not hold
    /// (never added, or forgotten meanwhile), so a removed pod never comes back this way.
    pub fn backoff(&mut self, key: &str, now: Duration) -> bool {
        if self.detach(key).is_none() {
            return false;
        }
        let attempts = self.attempts.get(key).copied().unwrap_or(0).max(1);
        let at = now.saturating_add(backoff_duration(attempts, self.initial_backoff, self.max_backoff));
        let s = self.next_seq();
        self.states.insert(key.to_string(), QState::Backoff(at, s));
        self.backoff.insert((at, s), key.to_string());
        true
    }

    /// Drop the pod from every queue and reset its attempts (scheduled, deleted, or no longer
    /// ours). Returns whether the queue held it.
    pub fn forget(&mut self, key: &str) -> bool {
        let held = self.detach(key).is_some();
        let had_attempts = self.attempts.remove(key).is_some();
        held || had_attempts
    }

    /// Earliest time at which `pop` can return a pod: `Duration::ZERO` when the active queue is
    /// not empty, the first backoff expiry otherwise, `None` when nothing is waiting.
    pub fn next_ready_at(&self) -> Option<Duration> {
        if !self.active.is_empty() {
            return Some(Duration::ZERO);
        }
        self.backoff.keys().next().map(|(at, _)| *at)
    }

    /// Backoff expiry of `key`, if it is backing off.
    pub fn backoff_until(&self, key: &str) -> Option<Duration> {
        match self.states.get(key) {
            Some(QState::Backoff(at, _)) => Some(*at),
            _ => None,
        }
    }

    pub fn attempts(&self, key: &str) -> u32 {
        self.attempts.get(key).copied().unwrap_or(0)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.states.contains_key(key)
    }

    pub fn is_in_flight(&self, key: &str) -> bool {
        matches!(self.states.get(key), Some(QState::InFlight))
    }

    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    pub fn backoff_len(&self) -> usize {
        self.backoff.len()
    }

    pub fn in_flight_len(&self) -> usize {
        self.states.len() - self.active.len() - self.backoff.len()
    }

    /// Pods held in any state.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Quantities (private copy of a Kubernetes quantity parser)
// ---------------------------------------------------------------------------------------------

/// Parse a Kubernetes quantity into milli-units, rounding up (away from zero) like kube's
/// `MilliValue`. Accepts an optional sign, a decimal number, and one suffix: decimal SI
/// (`m k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent (`e3`, `E-2`).
/// Saturates on overflow; `None` on malformed input.
fn parse_quantity_milli(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(num_end);
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return None;
    }
    // Drop leading zeros and trailing fractional zeros so long inputs rarely overflow.
    let frac_part = frac_part.trim_end_matches('0');
    let digits = format!("{}{}", int_part.trim_start_matches('0'), frac_part);
    let mut dec_exp: i64 = -(frac_part.len() as i64);
    let mut bin_shift: u32 = 0;
    match suffix {
        "" => {}
        "m" => dec_exp -= 3,
        "k" => dec_exp += 3,
        "M" => dec_exp += 6,
        "G" => dec_exp += 9,
        "T" => dec_exp += 12,
        "P" => dec_exp += 15,
        "E" => dec_exp += 18,
        "Ki" => bin_shift = 10,
        "Mi" => bin_shift = 20,
        "Gi" => bin_shift = 30,
        "Ti" => bin_shift = 40,
        "Pi" => bin_shift = 50,
        "Ei" => bin_shift = 60,
        _ if suffix.starts_with(['e', 'E']) => {
            let e: i64 = suffix[1..].parse().ok()?;
            if suffix[1..].starts_with('+') {
                return None;
            }
            dec_exp = dec_exp.checked_add(e)?;
        }
        _ => return None,
    }
    dec_exp += 3; // milli-units
    let sat = |neg: bool| Some(if neg { i128::MIN + 1 } else { i128::MAX });
    let mut mant: i128 = 0;
    for c in digits.bytes() {
        mant = match mant.checked_mul(10).and_then(|m| m.checked_add((c - b'0') as i128)) {
            Some(m) => m,
            None => return sat(neg),
        };
    }
    if mant == 0 {
        return Some(0);
    }
    mant = match mant.checked_mul(1i128 << bin_shift) {
        Some(m) => m,
        None => return sat(neg),
    };
    let mag = if dec_exp >= 0 {
        let p = match u32::try_from(dec_exp).ok().and_then(|e| 10i128.checked_pow(e)) {
            Some(p) => p,
            None => return sat(neg),
        };
        match mant.checked_mul(p) {
            Some(v) => v,
            None => return sat(neg),
        }
    } else {
        match u32::try_from(-dec_exp).ok().and_then(|e| 10i128.checked_pow(e)) {
            Some(p) => (mant + p - 1) / p, // ceil
            None => 1,                     // smaller than one milli-unit, rounds up to one
        }
    };
    Some(if neg { -mag } else { mag })
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `Quantity.MilliValue()`; malformed quantities count as 0 (the API server rejects them).
fn quantity_milli_value(q: &Quantity) -> i64 {
    clamp_i64(parse_quantity_milli(&q.0).unwrap_or(0))
}

/// `Quantity.Value()`: whole units, rounded up.
fn quantity_value(q: &Quantity) -> i64 {
    let m = parse_quantity_milli(&q.0).unwrap_or(0);
    let v = if m >= 0 { (m + 999) / 1000 } else { -((-m + 999) / 1000) };
    clamp_i64(v)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    const GI: i64 = 1024 * 1024 * 1024;
    const MI: i64 = 1024 * 1024;

    fn node_json(name: &str, cpu: &str, mem: &str, pods: &str) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "allocatable": {"cpu": cpu, "memory": mem, "pods": pods},
                "capacity": {"cpu": cpu, "memory": mem, "pods": pods},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        })
    }

    fn node_from(v: serde_json::Value) -> NodeInfo {
        NodeInfo::from_node(&serde_json::from_value::<Node>(v).unwrap())
    }

    fn node(name: &str, cpu: &str, mem: &str, pods: &str) -> NodeInfo {
        node_from(node_json(name, cpu, mem, pods))
    }

    fn pod_from(v: serde_json::Value) -> PodRequest {
        PodRequest::from_pod(&serde_json::from_value::<Pod>(v).unwrap())
    }

    /// A pod with one container per (cpu, memory) pair; `None` leaves that request out.
    fn pod(name: &str, containers: &[(Option<&str>, Option<&str>)]) -> PodRequest {
        pod_from(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": containers_json(containers)}
        }))
    }

    fn containers_json(cs: &[(Option<&str>, Option<&str>)]) -> serde_json::Value {
        let v: Vec<serde_json::Value> = cs
            .iter()
            .enumerate()
            .map(|(i, (cpu, mem))| {
                let mut req = serde_json::Map::new();
                if let Some(c) = cpu {
                    req.insert("cpu".into(), json!(c));
                }
                if let Some(m) = mem {
                    req.insert("memory".into(), json!(m));
                }
                json!({"name": format!("c{i}"), "image": "x", "resources": {"requests": req}})
            })
            .collect();
        json!(v)
    }

    /// Check-style helper: `filter` must pass (empty `want`) or fail with exactly `want`.
    #[track_caller]
    fn check(pod: &PodRequest, node: &NodeInfo, want: &[&str]) {
        let got = filter(pod, node);
        if want.is_empty() {
            assert_eq!(got, Ok(()), "pod {} on node {}", pod.key, node.name);
        } else {
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(got, Err(Unschedulable { reasons: want }), "pod {} on node {}", pod.key, node.name);
        }
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    // ---- quantities ----

    #[test]
    fn quantity_parser() {
        let cases: &[(&str, Option<i128>)] = &[
            ("0", Some(0)),
            ("1", Some(1000)),
            ("100m", Some(100)),
            ("0.5", Some(500)),
            ("1.5", Some(1500)),
            (".5", Some(500)),
            ("2.", Some(2000)),
            ("1k", Some(1_000_000)),
            ("1M", Some(1_000_000_000)),
            ("1G", Some(1_000_000_000_000)),
            ("1T", Some(1_000_000_000_000_000)),
            ("1P", Some(1_000_000_000_000_000_000)),
            ("1E", Some(1_000_000_000_000_000_000_000)),
            ("1Ki", Some(1024 * 1000)),
            ("1Mi", Some((1i128 << 20) * 1000)),
            ("1Gi", Some((1i128 << 30) * 1000)),
            ("1Ti", Some((1i128 << 40) * 1000)),
            ("1Pi", Some((1i128 << 50) * 1000)),
            ("1Ei", Some((1i128 << 60) * 1000)),
            ("1.5Gi", Some((3i128 << 29) * 1000)),
            ("1e3", Some(1_000_000)),
            ("1E3", Some(1_000_000)),
            ("5e-3", Some(5)),
            ("1e-4", Some(1)), // rounds up to one milli
            ("0.0001", Some(1)),
            ("-100m", Some(-100)),
            ("+2", Some(2000)),
            ("  3  ", Some(3000)),
            ("", None),
            ("abc", None),
            ("1Kb", None),
            ("1.2.3", None),
            ("m", None),
            ("1e", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_quantity_milli(s), *want, "quantity {s:?}");
        }
        // Saturation instead of overflow.
        assert_eq!(parse_quantity_milli("1e100"), Some(i128::MAX));
        assert_eq!(quantity_milli_value(&Quantity("1e100".into())), i64::MAX);
    }

    #[test]
    fn quantity_value_rounds_up() {
        assert_eq!(quantity_value(&Quantity("1500m".into())), 2);
        assert_eq!(quantity_value(&Quantity("1Gi".into())), GI);
        assert_eq!(quantity_value(&Quantity("0.5".into())), 1);
        assert_eq!(quantity_value(&Quantity("110".into())), 110);
        assert_eq!(quantity_milli_value(&Quantity("0.1".into())), 100);
        assert_eq!(quantity_milli_value(&Quantity("2".into())), 2000);
        assert_eq!(quantity_value(&Quantity("bogus".into())), 0);
    }

    // ---- pod requests ----

    #[test]
    fn requests_sum_of_containers() {
        let p = pod("a", &[(Some("100m"), Some("100Mi")), (Some("200m"), Some("50Mi"))]);
        assert_eq!(p.key, "default/a");
        assert_eq!(p.scheduler_name, DEFAULT_SCHEDULER_NAME);
        assert_eq!(p.cpu_milli, 300);
        assert_eq!(p.memory_bytes, 150 * MI);
        assert_eq!(p.non_zero_cpu_milli, 300);
        assert_eq!(p.non_zero_memory_bytes, 150 * MI);
    }

    #[test]
    fn requests_non_zero_defaults_per_container() {
        let p = pod("a", &[(None, None), (Some("50m"), None), (None, Some("1Gi"))]);
        assert_eq!((p.cpu_milli, p.memory_bytes), (50, GI));
        // Each container missing a request counts the default: 100m+50m+100m, 200Mi+200Mi+1Gi.
        assert_eq!(p.non_zero_cpu_milli, 250);
        assert_eq!(p.non_zero_memory_bytes, 400 * MI + GI);
        // An explicit zero is not "missing".
        let z = pod("z", &[(Some("0"), Some("0"))]);
        assert_eq!((z.non_zero_cpu_milli, z.non_zero_memory_bytes), (0, 0));
    }

    #[test]
    fn requests_init_containers_max() {
        // max(sum(containers), max(init)) per resource, plus overhead.
        let p = pod_from(json!({
            "metadata": {"name": "i", "namespace": "ns"},
            "spec": {
                "containers": containers_json(&[(Some("100m"), Some("100Mi")), (Some("100m"), Some("100Mi"))]),
                "initContainers": containers_json(&[(Some("500m"), Some("50Mi")), (Some("300m"), Some("150Mi"))]),
                "overhead": {"cpu": "10m", "memory": "1Mi"},
                "schedulerName": "my-scheduler",
                "nodeName": "n9"
            }
        }));
        assert_eq!(p.key, "ns/i");
        assert_eq!(p.scheduler_name, "my-scheduler");
        assert_eq!(p.node_name.as_deref(), Some("n9"));
        assert_eq!(p.cpu_milli, 500 + 10); // init 500m beats 200m
        assert_eq!(p.memory_bytes, 200 * MI + MI); // containers 200Mi beat init 150Mi
    }

    #[test]
    fn requests_sidecar_init_containers() {
        // A restartable init container (sidecar) adds to the sum and to later init steps.
        let mut inits = containers_json(&[(Some("200m"), Some("10Mi")), (Some("300m"), Some("10Mi"))]);
        inits[0]["restartPolicy"] = json!("Always");
        let p = pod_from(json!({
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"containers": containers_json(&[(Some("100m"), Some("100Mi"))]), "initContainers": inits}
        }));
        // sum = 100 + 200 (sidecar) = 300; init step 2 = 300 + 200 = 500 → 500.
        assert_eq!(p.cpu_milli, 500);
        // memory: sum = 110Mi; init steps: 10Mi, 20Mi → 110Mi.
        assert_eq!(p.memory_bytes, 110 * MI);
    }

    #[test]
    fn requests_tolerations_and_selector() {
        let p = pod_from(json!({
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {
                "containers": [{"name": "c", "image": "x"}],
                "nodeSelector": {"zone": "a"},
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
            }
        }));
        assert_eq!(p.node_selector.get("zone").map(String::as_str), Some("a"));
        assert_eq!(
            p.tolerations,
            vec![Toleration {
                key: "k".into(),
                operator: "Exists".into(),
                value: "".into(),
                effect: "NoSchedule".into()
            }]
        );
        assert_eq!(p.node_name, None);
        assert_eq!((p.cpu_milli, p.memory_bytes), (0, 0));
    }

    // ---- node info ----

    #[test]
    fn node_info_from_node() {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["spec"] = json!({"unschedulable": true, "taints": [
            {"key": "a", "value": "b", "effect": "NoSchedule"}, {"key": "c", "effect": "NoExecute"}]});
        let n = node_from(v);
        assert_eq!(n.name, "n1");
        assert_eq!(n.allocatable_cpu_milli, 4000);
        assert_eq!(n.allocatable_memory_bytes, 8 * GI);
        assert_eq!(n.allocatable_pods, 110);
        assert!(n.unschedulable);
        assert!(n.ready);
        assert_eq!(n.taints, vec![Taint::new("a", "b", "NoSchedule"), Taint::new("c", "", "NoExecute")]);
        assert_eq!(n.labels.get("kubernetes.io/hostname").map(String::as_str), Some("n1"));

        let mut v = node_json("n2", "1", "1Gi", "10");
        v["status"]["conditions"] = json!([{"type": "Ready", "status": "Unknown"}]);
        assert!(!node_from(v).ready);
        let mut v = node_json("n3", "1", "1Gi", "10");
        v["status"].as_object_mut().unwrap().remove("conditions");
        assert!(!node_from(v).ready);
    }

    #[test]
    fn node_info_add_remove_idempotent() {
        let mut n = node("n1", "4", "8Gi", "110");
        let a = pod("a", &[(Some("1"), Some("1Gi"))]);
        let b = pod("b", &[(None, None)]);
        assert!(n.add_pod(&a));
        assert!(!n.add_pod(&a));
        assert!(n.add_pod(&b));
        assert_eq!(n.pod_count(), 2);
        assert_eq!((n.requested_cpu_milli(), n.requested_memory_bytes()), (1000, GI));
        assert_eq!(n.non_zero_requested_cpu_milli(), 1100);
        assert_eq!(n.non_zero_requested_memory_bytes(), GI + 200 * MI);
        // Re-adding with a changed request re-accounts.
        let a2 = pod("a", &[(Some("2"), Some("1Gi"))]);
        n.add_pod(&a2);
        assert_eq!(n.requested_cpu_milli(), 2000);
        assert!(n.remove_pod("default/a"));
        assert!(!n.remove_pod("default/a"));
        assert_eq!((n.requested_cpu_milli(), n.requested_memory_bytes()), (0, 0));
        assert_eq!(n.pod_keys().collect::<Vec<_>>(), vec!["default/b"]);
        // update_node keeps the pods.
        n.update_node(&serde_json::from_value(node_json("n1", "8", "8Gi", "110")).unwrap());
        assert_eq!(n.allocatable_cpu_milli, 8000);
        assert_eq!(n.pod_count(), 1);
    }

    #[test]
    fn node_info_assume_and_forget() {
        let mut n = node("n1", "2", "4Gi", "110");
        let a = pod("a", &[(Some("1500m"), Some("1Gi"))]);
        let b = pod("b", &[(Some("1"), Some("1Gi"))]);
        assert!(n.assume(&a));
        assert!(n.is_assumed("default/a"));
        assert_eq!(n.assumed_count(), 1);
        // The assumed pod counts: b no longer fits.
        check(&b, &n, &[REASON_INSUFFICIENT_CPU]);
        // Forget undoes it.
        assert!(n.forget_assumed("default/a"));
        assert!(!n.forget_assumed("default/a"));
        check(&b, &n, &[]);
        assert_eq!(n.requested_cpu_milli(), 0);
        // Assume then informer confirms: counted once, no longer assumed, forget is a no-op.
        n.assume(&a);
        n.add_pod(&a);
        assert!(!n.is_assumed("default/a"));
        assert_eq!(n.requested_cpu_milli(), 1500);
        assert!(!n.forget_assumed("default/a"));
        assert_eq!(n.pod_count(), 1);
        // Assume of a confirmed pod does not downgrade it.
        assert!(!n.assume(&a));
        assert!(!n.is_assumed("default/a"));
    }

    // ---- filter, one test per reason ----

    #[test]
    fn filter_passes() {
        check(&pod("a", &[(Some("1"), Some("1Gi"))]), &node("n1", "4", "8Gi", "110"), &[]);
        // Exactly fitting is fine.
        check(&pod("a", &[(Some("4"), Some("8Gi"))]), &node("n1", "4", "8Gi", "110"), &[]);
    }

    #[test]
    fn filter_not_ready() {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        check(&pod("a", &[]), &node_from(v), &[REASON_NOT_READY]);
    }

    #[test]
    fn filter_unschedulable() {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["spec"] = json!({"unschedulable": true});
        let n = node_from(v);
        check(&pod("a", &[]), &n, &[REASON_UNSCHEDULABLE]);
        let tolerant = pod_from(json!({
            "metadata": {"name": "t", "namespace": "default"},
            "spec": {"containers": [], "tolerations": [
                {"key": TAINT_NODE_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"}]}
        }));
        check(&tolerant, &n, &[]);
    }

    #[test]
    fn filter_node_name() {
        let mut p = pod("a", &[]);
        p.node_name = Some("n2".into());
        check(&p, &node("n1", "4", "8Gi", "110"), &[REASON_NODE_NAME]);
        check(&p, &node("n2", "4", "8Gi", "110"), &[]);
    }

    fn tainted(taints: serde_json::Value) -> NodeInfo {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["spec"] = json!({ "taints": taints });
        node_from(v)
    }

    fn with_tolerations(tols: serde_json::Value) -> PodRequest {
        pod_from(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [], "tolerations": tols}
        }))
    }

    #[test]
    fn filter_taints() {
        let unreachable = tainted(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]));
        check(
            &pod("a", &[]),
            &unreachable,
            &["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"],
        );
        let kv = tainted(json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]));
        check(&pod("a", &[]), &kv, &["node(s) had untolerated taint {dedicated: gpu}"]);
        // PreferNoSchedule never blocks.
        check(&pod("a", &[]), &tainted(json!([{"key": "soft", "effect": "PreferNoSchedule"}])), &[]);
        // Equal with matching value, empty effect matches all effects.
        check(
            &with_tolerations(json!([{"key": "dedicated", "operator": "Equal", "value": "gpu"}])),
            &kv,
            &[],
        );
        // Default operator is Equal.
        check(
            &with_tolerations(json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])),
            &kv,
            &[],
        );
        // Wrong value, wrong effect.
        check(
            &with_tolerations(json!([{"key": "dedicated", "operator": "Equal", "value": "cpu"}])),
            &kv,
            &["node(s) had untolerated taint {dedicated: gpu}"],
        );
        check(
            &with_tolerations(json!([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])),
            &kv,
            &["node(s) had untolerated taint {dedicated: gpu}"],
        );
        // Exists on the key ignores the value.
        check(&with_tolerations(json!([{"key": "dedicated", "operator": "Exists"}])), &kv, &[]);
        // Empty key with Exists tolerates everything.
        let both = tainted(json!([
            {"key": "a", "value": "1", "effect": "NoSchedule"},
            {"key": "b", "value": "2", "effect": "NoExecute"}]));
        check(&with_tolerations(json!([{"operator": "Exists"}])), &both, &[]);
        // The first untolerated taint in node order is reported.
        check(&pod("a", &[]), &both, &["node(s) had untolerated taint {a: 1}"]);
        check(
            &with_tolerations(json!([{"key": "a", "operator": "Exists"}])),
            &both,
            &["node(s) had untolerated taint {b: 2}"],
        );
        // Unknown operator tolerates nothing.
        check(
            &with_tolerations(json!([{"key": "a", "operator": "Lt", "value": "5"}])),
            &both,
            &["node(s) had untolerated taint {a: 1}"],
        );
    }

    #[test]
    fn filter_node_selector() {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["metadata"]["labels"] = json!({"zone": "a", "disk": "ssd"});
        let n = node_from(v);
        let mut p = pod("a", &[]);
        p.node_selector = BTreeMap::from([("zone".to_string(), "a".to_string())]);
        check(&p, &n, &[]);
        p.node_selector.insert("disk".into(), "hdd".into());
        check(&p, &n, &[REASON_NODE_SELECTOR]);
        p.node_selector = BTreeMap::from([("gpu".to_string(), "".to_string())]);
        check(&p, &n, &[REASON_NODE_SELECTOR]);
    }

    #[test]
    fn filter_required_node_affinity() {
        let mut v = node_json("n1", "4", "8Gi", "110");
        v["metadata"]["labels"] = json!({"zone": "a", "cores": "16"});
        let n = node_from(v);
        let with_affinity = |terms: serde_json::Value| {
            pod_from(json!({
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [], "affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}
            }))
        };
        let pass = |terms| check(&with_affinity(terms), &n, &[]);
        let fail = |terms| check(&with_affinity(terms), &n, &[REASON_NODE_SELECTOR]);
        pass(json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]));
        fail(json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]));
        pass(json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]}]));
        pass(json!([{"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["x"]}]}]));
        pass(json!([{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]));
        fail(json!([{"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}]));
        pass(json!([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}]));
        fail(json!([{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["8"]}]}]));
        fail(json!([{"matchExpressions": [{"key": "zone", "operator": "Gt", "values": ["8"]}]}]));
        // Expressions in a term are ANDed, terms are ORed, an empty term matches nothing.
        fail(json!([{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]},
            {"key": "cores", "operator": "Lt", "values": ["8"]}]}]));
        pass(json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]));
        fail(json!([{}]));
        fail(json!([]));
        // matchFields on metadata.name (what DaemonSet pods use).
        pass(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]));
        fail(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]));
        // nodeSelector must match too.
        let mut p = with_affinity(json!([{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]));
        p.node_selector.insert("zone".into(), "b".into());
        check(&p, &n, &[REASON_NODE_SELECTOR]);
    }

    #[test]
    fn filter_resources() {
        let n = node("n1", "2", "4Gi", "110");
        check(&pod("a", &[(Some("2001m"), None)]), &n, &[REASON_INSUFFICIENT_CPU]);
        check(&pod("a", &[(None, Some("5Gi"))]), &n, &[REASON_INSUFFICIENT_MEMORY]);
        check(
            &pod("a", &[(Some("3"), Some("5Gi"))]),
            &n,
            &[REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY],
        );
        // Existing pods reduce what is left.
        let mut n = node("n1", "2", "4Gi", "2");
        n.add_pod(&pod("x", &[(Some("1500m"), Some("3Gi"))]));
        check(&pod("a", &[(Some("500m"), Some("1Gi"))]), &n, &[]);
        check(&pod("a", &[(Some("501m"), Some("1Gi"))]), &n, &[REASON_INSUFFICIENT_CPU]);
        // Too many pods, reported with the others.
        n.add_pod(&pod("y", &[]));
        check(&pod("a", &[]), &n, &[REASON_TOO_MANY_PODS]);
        check(
            &pod("a", &[(Some("1"), Some("2Gi"))]),
            &n,
            &[REASON_TOO_MANY_PODS, REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY],
        );
        // A node without allocatable takes nothing.
        let mut v = node_json("bare", "1", "1Gi", "1");
        v["status"].as_object_mut().unwrap().remove("allocatable");
        check(&pod("a", &[]), &node_from(v), &[REASON_TOO_MANY_PODS]);
    }

    #[test]
    fn filter_order_first_failing_plugin_wins() {
        let mut v = node_json("n1", "1", "1Gi", "0");
        v["spec"] = json!({"unschedulable": true, "taints": [{"key": "a", "effect": "NoSchedule"}]});
        let n = node_from(v);
        check(&pod("a", &[(Some("5"), None)]), &n, &[REASON_UNSCHEDULABLE]);
        let mut v = node_json("n1", "1", "1Gi", "0");
        v["spec"] = json!({"taints": [{"key": "a", "effect": "NoSchedule"}]});
        let mut p = pod("a", &[(Some("5"), None)]);
        p.node_selector.insert("x".into(), "y".into());
        check(&p, &node_from(v), &["node(s) had untolerated taint {a: }"]);
    }

    // ---- score ----

    #[test]
    fn score_least_allocated_known_values() {
        // kube's least_allocated_test "nothing scheduled, resources requested, differently sized
        // nodes": cpu 3000m + memory 5000 bytes requested; node1 4000m/10000, node2 6000m/10000.
        // node1: cpu (4000-3000)*100/4000 = 25, mem (10000-5000)*100/10000 = 50 → 37.
        // node2: cpu (6000-3000)*100/6000 = 50, mem 50 → 50.
        let p = pod("a", &[(Some("1000m"), Some("2000")), (Some("2000m"), Some("3000"))]);
        assert_eq!(score(&p, &node("n1", "4000m", "10000", "110")), 37);
        assert_eq!(score(&p, &node("n2", "6000m", "10000", "110")), 50);
        // Empty node, best-effort pod: non-zero defaults 100m / 200Mi on a 4-core, 8Gi node.
        // cpu (4000-100)*100/4000 = 97, mem (8192Mi-200Mi)*100/8192Mi = 97 → 97.
        assert_eq!(score(&pod("b", &[(None, None)]), &node("n3", "4", "8Gi", "110")), 97);
        // Requested over capacity scores 0 for that resource; zero capacity scores 0.
        let mut n = node("n4", "1", "1Gi", "110");
        n.add_pod(&pod("x", &[(Some("900m"), Some("512Mi"))]));
        // cpu: 900+200 > 1000 → 0; mem: (1024-512-256)*100/1024 = 25 → 12.
        assert_eq!(score(&pod("c", &[(Some("200m"), Some("256Mi"))]), &n), 12);
        assert_eq!(score(&pod("c", &[]), &node("z", "0", "0", "110")), 0);
        assert_eq!(least_requested_score(0, 1000), 100);
        assert_eq!(least_requested_score(1, 3), 66);
        assert_eq!(least_requested_score(4, 3), 0);
        assert_eq!(least_requested_score(0, 0), 0);
    }

    #[test]
    fn score_counts_non_zero_of_existing_pods() {
        let mut n = node("n1", "1", "1000Mi", "110");
        n.add_pod(&pod("x", &[(None, None)])); // counts 100m / 200Mi
                                               // cpu (1000-200)*100/1000 = 80, mem (1000-400)*100/1000 = 60 → 70.
        assert_eq!(score(&pod("a", &[(None, None)]), &n), 70);
    }

    // ---- select_node ----

    #[test]
    fn feasible_nodes_to_find_follows_kube_scheduler() {
        // Values of kube-scheduler's numFeasibleNodesToFind with percentageOfNodesToScore unset.
        assert_eq!(feasible_nodes_to_find(0), 0);
        assert_eq!(feasible_nodes_to_find(99), 99, "small clusters: every node");
        assert_eq!(feasible_nodes_to_find(100), 100);
        assert_eq!(feasible_nodes_to_find(1000), 420, "50% - 1000/125 = 42%");
        assert_eq!(feasible_nodes_to_find(5000), 500, "50% - 40 = 10%");
        assert_eq!(feasible_nodes_to_find(15000), 750, "floored at 5%");
        assert_eq!(feasible_nodes_to_find(150), 100, "never fewer than 100");
    }

    #[test]
    fn sampler_stops_at_enough_feasible_nodes_and_rotates_its_start() {
        let nodes: Vec<NodeInfo> = (0..1000).map(|i| node(&format!("n{i:04}"), "4", "8Gi", "110")).collect();
        let p = pod("a", &[(Some("1"), Some("1Gi"))]);
        let mut sampler = NodeSampler::default();
        let mut r = rng(1);
        let first = sampler.select(&p, nodes.iter(), &mut r).unwrap();
        assert!(first.as_str() < "n0420", "the first search covers n0000..n0419 only: {first}");
        assert_eq!(sampler.next_start, 420);
        let second = sampler.select(&p, nodes.iter(), &mut r).unwrap();
        assert!(("n0420".."n0840").contains(&second.as_str()), "{second}");
        // The third search wraps around the end of the list.
        sampler.select(&p, nodes.iter(), &mut r).unwrap();
        assert_eq!(sampler.next_start, (840 + 420) % 1000);
        // Infeasible everywhere: every node is filtered and the error counts them all.
        let huge = pod("huge", &[(Some("64"), None)]);
        let err = sampler.select(&huge, nodes.iter(), &mut r).unwrap_err();
        assert_eq!(err.num_all_nodes, 1000);
    }

    #[test]
    fn select_prefers_highest_score() {
        let nodes = [node("small", "2", "4Gi", "110"), node("big", "8", "16Gi", "110")];
        let p = pod("a", &[(Some("1"), Some("1Gi"))]);
        for seed in 0..20 {
            assert_eq!(select_node(&p, nodes.iter(), &mut rng(seed)).unwrap(), "big");
        }
    }

    #[test]
    fn select_ties_deterministic_per_seed_and_uniform() {
        let nodes: Vec<NodeInfo> = (0..5).map(|i| node(&format!("n{i}"), "4", "8Gi", "110")).collect();
        let p = pod("a", &[(Some("1"), Some("1Gi"))]);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for seed in 0..1000 {
            let a = select_node(&p, nodes.iter(), &mut rng(seed)).unwrap();
            let b = select_node(&p, nodes.iter(), &mut rng(seed)).unwrap();
            assert_eq!(a, b, "same seed, same choice");
            *counts.entry(a).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 5, "different seeds pick different nodes: {counts:?}");
        for (n, c) in &counts {
            assert!((130..=270).contains(c), "{n} chosen {c}/1000 times: not uniform ({counts:?})");
        }
        // The same rng carries on deterministically across calls.
        let mut r1 = rng(7);
        let mut r2 = rng(7);
        let s1: Vec<String> = (0..10).map(|_| select_node(&p, nodes.iter(), &mut r1).unwrap()).collect();
        let s2: Vec<String> = (0..10).map(|_| select_node(&p, nodes.iter(), &mut r2).unwrap()).collect();
        assert_eq!(s1, s2);
    }

    #[test]
    fn select_uses_assumed_pods() {
        // Two identical nodes; after assuming onto one, the other scores higher.
        let mut nodes = [node("n0", "4", "8Gi", "110"), node("n1", "4", "8Gi", "110")];
        let p1 = pod("a", &[(Some("2"), Some("2Gi"))]);
        let first = select_node(&p1, nodes.iter(), &mut rng(1)).unwrap();
        nodes.iter_mut().find(|n| n.name == first).unwrap().assume(&p1);
        let p2 = pod("b", &[(Some("2"), Some("2Gi"))]);
        let second = select_node(&p2, nodes.iter(), &mut rng(1)).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn fit_error_format() {
        let mut nodes = Vec::new();
        for i in 0..2 {
            nodes.push(node(&format!("small{i}"), "100m", "8Gi", "110"));
        }
        for i in 0..3 {
            let mut v = node_json(&format!("gone{i}"), "4", "8Gi", "110");
            v["spec"] = json!({"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]});
            nodes.push(node_from(v));
        }
        let p = pod("a", &[(Some("1"), Some("1Gi"))]);
        let err = select_node(&p, nodes.iter(), &mut rng(0)).unwrap_err();
        assert_eq!(err.num_all_nodes, 5);
        assert_eq!(err.pod_key, "default/a");
        assert_eq!(
            err.to_string(),
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."
        );
        // Multiple reasons from one node each count; sorting is on the whole "count reason" string.
        let n = node("tiny", "100m", "100Mi", "110");
        let big = pod("b", &[(Some("1"), Some("1Gi"))]);
        let mut v = node_json("cordoned", "4", "8Gi", "110");
        v["spec"] = json!({"unschedulable": true});
        let nodes = [n.clone(), n, node_from(v)];
        let err = select_node(&big, nodes.iter(), &mut rng(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu, 2 Insufficient memory."
        );
        // No nodes at all.
        let err = select_node(&big, std::iter::empty(), &mut rng(0)).unwrap_err();
        assert_eq!(err.to_string(), "no nodes available to schedule pods");
    }

    // ---- queue ----

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backoff_durations() {
        let d = |a| backoff_duration(a, POD_INITIAL_BACKOFF, POD_MAX_BACKOFF);
        assert_eq!(d(0), secs(1));
        assert_eq!(d(1), secs(1));
        assert_eq!(d(2), secs(2));
        assert_eq!(d(3), secs(4));
        assert_eq!(d(4), secs(8));
        assert_eq!(d(5), secs(10));
        assert_eq!(d(100), secs(10));
    }

    #[test]
    fn queue_fifo_and_dedup() {
        let mut q = SchedulingQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.next_ready_at(), None);
        assert!(q.add("ns/a"));
        assert!(q.add("ns/b"));
        assert!(!q.add("ns/a"));
        assert!(q.add("ns/c"));
        assert_eq!(q.len(), 3);
        assert_eq!(q.next_ready_at(), Some(Duration::ZERO));
        assert_eq!(q.pop(secs(0)).as_deref(), Some("ns/a"));
        // In flight: add is a no-op.
        assert!(q.is_in_flight("ns/a"));
        assert!(!q.add("ns/a"));
        assert_eq!(q.pop(secs(0)).as_deref(), Some("ns/b"));
        assert_eq!(q.pop(secs(0)).as_deref(), Some("ns/c"));
        assert_eq!(q.pop(secs(0)), None);
        assert_eq!(q.in_flight_len(), 3);
        assert_eq!(q.next_ready_at(), None);
        assert!(q.forget("ns/a"));
        assert!(q.add("ns/a"));
        assert_eq!(q.pop(secs(0)).as_deref(), Some("ns/a"));
    }

    #[test]
    fn queue_backoff_exponential() {
        let mut q = SchedulingQueue::new();
        q.add("ns/a");
        let mut now = secs(100);
        let expect = [1, 2, 4, 8, 10, 10];
        for (i, want) in expect.iter().enumerate() {
            assert_eq!(q.pop(now).as_deref(), Some("ns/a"));
            assert_eq!(q.attempts("ns/a"), i as u32 + 1);
            assert!(q.backoff("ns/a", now));
            let ready = now + secs(*want);
            assert_eq!(q.backoff_until("ns/a"), Some(ready));
            assert_eq!(q.next_ready_at(), Some(ready));
            assert_eq!(q.pop(ready - Duration::from_millis(1)), None, "attempt {i}");
            now = ready;
        }
        // forget resets the attempts.
        assert!(q.forget("ns/a"));
        assert_eq!(q.attempts("ns/a"), 0);
        assert!(q.add("ns/a"));
        assert_eq!(q.pop(now).as_deref(), Some("ns/a"));
        q.backoff("ns/a", now);
        assert_eq!(q.backoff_until("ns/a"), Some(now + secs(1)));
    }

    #[test]
    fn queue_backoff_order_and_mix() {
        let mut q = SchedulingQueue::new();
        for k in ["a", "b", "c"] {
            q.add(k);
        }
        let t0 = secs(10);
        assert_eq!(q.pop(t0).as_deref(), Some("a"));
        assert_eq!(q.pop(t0).as_deref(), Some("b"));
        q.backoff("b", t0); // ready at 11
        q.backoff("a", t0 + Duration::from_millis(500)); // ready at 11.5
        assert_eq!(q.active_len(), 1);
        assert_eq!(q.backoff_len(), 2);
        assert_eq!(q.next_ready_at(), Some(Duration::ZERO));
        // c was waiting first; then the backoff queue drains in expiry order.
        assert_eq!(q.pop(secs(12)).as_deref(), Some("c"));
        assert_eq!(q.pop(secs(12)).as_deref(), Some("b"));
        assert_eq!(q.pop(secs(12)).as_deref(), Some("a"));
        // An add while backing off is a no-op; the pod still waits.
        q.backoff("a", secs(12));
        assert!(!q.add("a"));
        assert_eq!(q.pop(secs(12)), None);
        // Second attempt: 2 s.
        assert_eq!(q.pop(secs(13)), None);
        assert_eq!(q.pop(secs(14)).as_deref(), Some("a"));
    }

    #[test]
    fn queue_forgotten_never_returns() {
        let mut q = SchedulingQueue::new();
        q.add("a");
        q.add("b");
        // Forget while active.
        assert!(q.forget("a"));
        assert_eq!(q.pop(secs(0)).as_deref(), Some("b"));
        // Forget while in flight: a later backoff for it is ignored.
        assert!(q.forget("b"));
        assert!(!q.backoff("b", secs(0)));
        // Forget while backing off.
        q.add("c");
        q.pop(secs(0));
        q.backoff("c", secs(0));
        assert!(q.forget("c"));
        assert!(!q.forget("c"));
        for t in 0..100 {
            assert_eq!(q.pop(secs(t)), None);
        }
        assert!(q.is_empty());
        assert_eq!(q.next_ready_at(), None);
        // Backoff of a key never added is ignored.
        assert!(!q.backoff("zzz", secs(0)));
        assert!(q.is_empty());
    }

    #[test]
    fn queue_custom_backoff() {
        let ms = Duration::from_millis;
        let mut q = SchedulingQueue::with_backoff(ms(100), ms(250));
        q.add("a");
        let mut now = Duration::ZERO;
        for want in [100, 200, 250, 250] {
            assert_eq!(q.pop(now).as_deref(), Some("a"));
            q.backoff("a", now);
            assert_eq!(q.backoff_until("a"), Some(now + ms(want)));
            now += ms(want);
        }
    }
}
