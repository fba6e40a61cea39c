//! The pure core of the simulated kubelet (in the spirit of KWOK's fake nodes): what a kubelet
//! registers, what it decides for each pod bound to it, and the statuses it writes.
//!
//! No IO, no clocks, no global RNG: timestamps are passed in (RFC 3339 strings; [`rfc3339_from_unix`]
//! and [`micro_time_from_unix_micros`] turn unix times into them), every draw comes from the
//! [`PodTracker`]'s own ChaCha8 generator, and every map is a `BTreeMap`. The async driver (watch pods
//! with `spec.nodeName=<node>`, run timers, PATCH statuses, renew the Lease) lives elsewhere and calls in.
//!
//! Kubernetes behaviour followed (kubernetes/kubernetes `pkg/kubelet`):
//! * admission (`lifecycle/predicate.go`): the first failing check wins, in the kubelet's order:
//!   the pod's `kubernetes.io/os` label and `spec.os` (`PodOSSelectorNodeLabelDoesNotMatch`,
//!   `PodOSNotSupported`), then resources in the scheduler's order pods, cpu, memory,
//!   ephemeral-storage (`OutOfpods`, `OutOfcpu`, `OutOfmemory`, `OutOfephemeral-storage`, message
//!   `Node didn't have enough resource: cpu, requested: 500, used: 3800, capacity: 4000`), then
//!   `NodeAffinity`, `NodePorts` and `NoExecute` taints (`TaintToleration`) with
//!   `Predicate <name> failed: <desc>`. The other pods counted are the admitted, non-terminal ones
//!   (terminating pods still count until their containers stopped). Capacity is the allocatable.
//! * a rejected pod gets phase `Failed`, the reason, and `Pod was rejected: <message>`
//!   ([`rejected_status`]).
//! * statuses (`status/generate.go`, `kubelet_pods.go`): conditions PodReadyToStartContainers,
//!   Initialized, Ready, ContainersReady (+ the scheduler's PodScheduled kept), a condition's
//!   lastTransitionTime kept while its status does not change, startTime set once, qosClass kept
//!   (computed when absent), hostIP(s)/podIP(s).
//! * graceful deletion (`pkg/registry/core/pod/strategy.go`): a bound pod with a deletionTimestamp
//!   is stopped, then the kubelet finishes with DELETE `gracePeriodSeconds=0` and a UID precondition.
//! * Node and Lease as a kubelet registers and renews them (KEP-589: 40 s lease in kube-node-lease).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

/// The kubelet version a simulated node reports.
pub const KUBELET_VERSION: &str = "v1.34.0-kubesim";
/// The container runtime a simulated node reports (container IDs use the same scheme).
pub const CONTAINER_RUNTIME_VERSION: &str = "kubesim://0.1";
/// Namespace of the node heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The kubelet's default lease duration (`nodeLeaseDurationSeconds`).
pub const NODE_LEASE_DURATION_SECONDS: i64 = 40;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// A node taint (`spec.taints[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTaint {
    pub key: String,
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// One simulated kubelet: its node and how its fake containers behave.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeletConfig {
    pub node_name: String,
    /// Quantities as the API writes them: cpu `"4"` / `"3500m"`, memory `"16Gi"`, pods `"110"`.
    pub capacity_cpu: String,
    pub capacity_memory: String,
    pub capacity_pods: String,
    pub capacity_ephemeral_storage: String,
    /// Allocatable; each `None` defaults to the capacity.
    pub allocatable_cpu: Option<String>,
    pub allocatable_memory: Option<String>,
    pub allocatable_pods: Option<String>,
    pub allocatable_ephemeral_storage: Option<String>,
    /// Extra labels (the standard hostname/os/arch labels are always added).
    pub labels: BTreeMap<String, String>,
    /// `node.kubernetes.io/instance-type` (and the beta label), when set.
    pub instance_type: Option<String>,
    pub taints: Vec<NodeTaint>,
    /// `status.addresses` InternalIP and the pods' hostIP.
    pub node_ip: String,
    /// IPv4 CIDR pod IPs are drawn from (`spec.podCIDR`).
    pub pod_cidr: String,
    /// Container start latency, uniform in `[min, max]` milliseconds.
    pub start_latency_ms: (u64, u64),
    /// How long the containers of run-to-completion pods (restartPolicy Never/OnFailure) run,
    /// uniform in `[min, max]` ms; `None`: they run until deleted.
    pub run_duration_ms: Option<(u64, u64)>,
    /// Probability that a completing pod with restartPolicy Never fails (exit code 1).
    pub failure_probability: f64,
    /// Delay between seeing a deletionTimestamp and the containers being stopped, `[min, max]` ms.
    pub stop_delay_ms: (u64, u64),
    pub kubelet_version: String,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            node_name: "node-0".to_string(),
            capacity_cpu: "4".to_string(),
            capacity_memory: "16Gi".to_string(),
            capacity_pods: "110".to_string(),
            capacity_ephemeral_storage: "100Gi".to_string(),
            allocatable_cpu: None,
            allocatable_memory: None,
            allocatable_pods: None,
            allocatable_ephemeral_storage: None,
            labels: BTreeMap::new(),
            instance_type: None,
            taints: Vec::new(),
            node_ip: "10.0.0.1".to_string(),
            pod_cidr: "10.244.0.0/24".to_string(),
            start_latency_ms: (500, 1500),
            run_duration_ms: None,
            failure_probability: 0.0,
            stop_delay_ms: (50, 150),
            kubelet_version: KUBELET_VERSION.to_string(),
        }
    }
}

impl KubeletConfig {
    pub fn allocatable_cpu(&self) -> &str {
        self.allocatable_cpu.as_deref().unwrap_or(&self.capacity_cpu)
    }
    pub fn allocatable_memory(&self) -> &str {
        self.allocatable_memory.as_deref().unwrap_or(&self.capacity_memory)
    }
    pub fn allocatable_pods(&self) -> &str {
        self.allocatable_pods.as_deref().unwrap_or(&self.capacity_pods)
    }
    pub fn allocatable_ephemeral_storage(&self) -> &str {
        self.allocatable_ephemeral_storage.as_deref().unwrap_or(&self.capacity_ephemeral_storage)
    }

    /// Every quantity parses, the CIDR is an IPv4 CIDR, the ranges are ordered.
    pub fn validate(&self) -> Result<(), String> {
        let quantities = [
            ("capacity cpu", self.capacity_cpu.as_str()),
            ("capacity memory", self.capacity_memory.as_str()),
            ("capacity pods", self.capacity_pods.as_str()),
            ("capacity ephemeral-storage", self.capacity_ephemeral_storage.as_str()),
            ("allocatable cpu", self.allocatable_cpu()),
            ("allocatable memory", self.allocatable_memory()),
            ("allocatable pods", self.allocatable_pods()),
            ("allocatable ephemeral-storage", self.allocatable_ephemeral_storage()),
        ];
        for (what, q) in quantities {
            if Quantity::parse(q).is_none() {
                return Err(format!("{what}: invalid quantity {q:?}"));
            }
        }
        if parse_cidr(&self.pod_cidr).is_none() {
            return Err(format!("pod CIDR: invalid IPv4 CIDR {:?}", self.pod_cidr));
        }
        let ranges = [("start latency", Some(self.start_latency_ms)), ("run duration", self.run_duration_ms)];
        for (what, r) in ranges {
            if let Some((lo, hi)) = r {
                if lo > hi {
                    return Err(format!("{what}: min {lo} > max {hi}"));
                }
            }
        }
        if self.stop_delay_ms.0 > self.stop_delay_ms.1 {
            return Err("stop delay: min > max".to_string());
        }
        if !(0.0..=1.0).contains(&self.failure_probability) {
            return Err(format!("failure probability {} not in [0, 1]", self.failure_probability));
        }
        Ok(())
    }
}

/// The node's labels: the configured ones plus those a kubelet always sets.
pub fn node_labels(cfg: &KubeletConfig) -> BTreeMap<String, String> {
    let mut labels = cfg.labels.clone();
    for (k, v) in [
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", cfg.node_name.as_str()),
        ("kubernetes.io/os", "linux"),
    ] {
        labels.insert(k.to_string(), v.to_string());
    }
    if let Some(it) = &cfg.instance_type {
        labels.insert("node.kubernetes.io/instance-type".to_string(), it.clone());
        labels.insert("beta.kubernetes.io/instance-type".to_string(), it.clone());
    }
    labels
}

// ---------------------------------------------------------------------------------------------
// Node and Lease
// ---------------------------------------------------------------------------------------------

/// `metav1.Time` of an RFC 3339 text (the Unix epoch if it does not parse: callers pass times
/// made by [`rfc3339_from_unix`] or `jiff`).
fn time(t: &str) -> Time {
    Time(t.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

/// `metav1.MicroTime` of an RFC 3339 text (written with exactly 6 fractional digits).
fn micro_time(t: &str) -> MicroTime {
    MicroTime(t.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

/// The kubelet's four node conditions, all heartbeating at `now`; `lastTransitionTime = now` on
/// all of them (`all_transition`, at registration) or on Ready only (`ready_transition`).
fn node_conditions(
    ready: bool,
    now: &str,
    all_transition: bool,
    ready_transition: bool,
) -> Vec<NodeCondition> {
    let (ready_status, ready_reason, ready_message) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        ("False", "KubeletNotReady", "container runtime is down")
    };
    let rows = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", ready_status, ready_reason, ready_message),
    ];
    let now = time(now);
    rows.iter()
        .map(|(ty, status, reason, message)| NodeCondition {
            type_: (*ty).to_string(),
            status: (*status).to_string(),
            reason: Some((*reason).to_string()),
            message: Some((*message).to_string()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: (all_transition || (ready_transition && *ty == "Ready"))
                .then(|| now.clone()),
        })
        .collect()
}

fn resource_list(cpu: &str, memory: &str, pods: &str, ephemeral: &str) -> BTreeMap<String, ApiQuantity> {
    [
        ("cpu", cpu),
        ("ephemeral-storage", ephemeral),
        ("hugepages-1Gi", "0"),
        ("hugepages-2Mi", "0"),
        ("memory", memory),
        ("pods", pods),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string())))
    .collect()
}

/// The Node a kubelet registers (POST /api/v1/nodes), conditions stamped `now_rfc3339`.
pub fn node_object(cfg: &KubeletConfig, now_rfc3339: &str) -> Node {
    let name = &cfg.node_name;
    let taints: Vec<Taint> = cfg
        .taints
        .iter()
        .map(|t| Taint {
            key: t.key.clone(),
            effect: t.effect.clone(),
            value: t.value.clone(),
            time_added: None,
        })
        .collect();
    let id = hex_digest(&[name.as_bytes()], 32);
    let annotations = [
        ("node.alpha.kubernetes.io/ttl", "0"),
        ("volumes.kubernetes.io/controller-managed-attach-detach", "true"),
    ];
    Node {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(node_labels(cfg)),
            annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(cfg.pod_cidr.clone()),
            pod_cidrs: Some(vec![cfg.pod_cidr.clone()]),
            taints: (!taints.is_empty()).then_some(taints),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(resource_list(
                &cfg.capacity_cpu,
                &cfg.capacity_memory,
                &cfg.capacity_pods,
                &cfg.capacity_ephemeral_storage,
            )),
            allocatable: Some(resource_list(
                cfg.allocatable_cpu(),
                cfg.allocatable_memory(),
                cfg.allocatable_pods(),
                cfg.allocatable_ephemeral_storage(),
            )),
            conditions: Some(node_conditions(true, now_rfc3339, true, false)),
            addresses: Some(vec![
                NodeAddress { type_: "InternalIP".into(), address: cfg.node_ip.clone() },
                NodeAddress { type_: "Hostname".into(), address: name.clone() },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
            }),
            node_info: Some(NodeSystemInfo {
                machine_id: id.clone(),
                system_uuid: format!(
                    "{}-{}-{}-{}-{}",
                    &id[0..8],
                    &id[8..12],
                    &id[12..16],
                    &id[16..20],
                    &id[20..32]
                ),
                boot_id: hex_digest(&[name.as_bytes(), b"boot"], 32),
                kernel_version: "6.1.0-kubesim".into(),
                os_image: "kubesim".into(),
                container_runtime_version: CONTAINER_RUNTIME_VERSION.into(),
                kubelet_version: cfg.kubelet_version.clone(),
                kube_proxy_version: String::new(),
                operating_system: "linux".into(),
                architecture: "amd64".into(),
                swap: None,
            }),
            ..NodeStatus::default()
        }),
    }
}

/// The heartbeat body for a strategic merge PATCH of `nodes/{name}/status` (conditions merge by
/// `type`): every condition with `lastHeartbeatTime = now`. `ready_changed`: Ready flipped since the
/// last report, so its `lastTransitionTime` becomes `now` (otherwise the stored one is kept).
pub fn node_status_patch(_cfg: &KubeletConfig, ready: bool, now_rfc3339: &str, ready_changed: bool) -> Node {
    Node {
        status: Some(NodeStatus {
            conditions: Some(node_conditions(ready, now_rfc3339, false, ready_changed)),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

/// The node's Lease (coordination.k8s.io/v1, kube-node-lease), renewed at `now` (any RFC 3339 time;
/// written as a MicroTime with 6 fractional digits). With the Node's uid, owned by the Node as the
/// kubelet does it.
pub fn lease_object(node: &str, node_uid: Option<&str>, now_rfc3339: &str, duration_seconds: i64) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node.to_string()),
            namespace: Some(NODE_LEASE_NAMESPACE.to_string()),
            owner_references: node_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.to_string(),
                    uid: uid.to_string(),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.to_string()),
            lease_duration_seconds: Some(i32::try_from(duration_seconds).unwrap_or(i32::MAX)),
            renew_time: Some(micro_time(now_rfc3339)),
            ..LeaseSpec::default()
        }),
    }
}

/// The body of a Lease renewal (merge or strategic merge PATCH): only `spec.renewTime`.
pub fn lease_renew_patch(now_rfc3339: &str) -> Lease {
    Lease {
        spec: Some(LeaseSpec { renew_time: Some(micro_time(now_rfc3339)), ..LeaseSpec::default() }),
        ..Lease::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Time formatting (pure)
// ---------------------------------------------------------------------------------------------

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn format_unix(secs: i64, micros: Option<u32>) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    match micros {
        Some(us) => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{us:06}Z"),
        None => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
    }
}

/// `metav1.Time` text for a unix time in seconds: `2024-01-01T00:00:00Z`.
pub fn rfc3339_from_unix(secs: i64) -> String {
    format_unix(secs, None)
}

/// `metav1.MicroTime` text for a unix time in microseconds: `2024-01-01T00:00:00.000000Z`.
pub fn micro_time_from_unix_micros(micros: i64) -> String {
    format_unix(micros.div_euclid(1_000_000), Some(micros.rem_euclid(1_000_000) as u32))
}

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// A parsed Kubernetes quantity: `digits * 10^exp10 * 2^exp2` (exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
}

impl Quantity {
    /// `<sign><digits>[.<digits>]<suffix>`, suffix one of: none, `n u m k M G T P E`, `Ki Mi Gi Ti
    /// Pi Ei`, or a decimal exponent `e<int>` / `E<int>` (apimachinery `resource.ParseQuantity`).
    fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(num_end);
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return None;
        }
        let mut mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        if neg {
            mantissa = -mantissa;
        }
        let mut exp10 = -(frac_part.len() as i32);
        let mut exp2 = 0;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            _ => {
                let e = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
                    return None;
                }
                exp10 += e.parse::<i32>().ok()?;
            }
        }
        Some(Quantity { mantissa, exp10, exp2 })
    }

    /// The value in units of `10^-scale`, rounded up (toward +inf) as `Quantity.ScaledValue` does.
    fn scaled_ceil(&self, scale: i32) -> Option<i128> {
        let n = self.mantissa.checked_mul(1i128.checked_shl(self.exp2)?)?;
        let e = self.exp10 + scale;
        if e >= 0 {
            n.checked_mul(10i128.checked_pow(e as u32)?)
        } else if -e > 38 {
            Some(if n > 0 { 1 } else { 0 })
        } else {
            let d = 10i128.pow((-e) as u32);
            let q = n.div_euclid(d);
            Some(if n.rem_euclid(d) != 0 { q + 1 } else { q })
        }
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// CPU in millicores (`"500m"` → 500, `"2"` → 2000, `"0.1"` → 100), rounded up.
fn parse_cpu_milli(s: &str) -> Option<i64> {
    Quantity::parse(s)?.scaled_ceil(3).map(clamp_i64)
}

/// Bytes or counts (`"1Gi"` → 1073741824, `"1k"` → 1000, `"110"` → 110), rounded up.
fn parse_int_quantity(s: &str) -> Option<i64> {
    Quantity::parse(s)?.scaled_ceil(0).map(clamp_i64)
}

// ---------------------------------------------------------------------------------------------
// Pod helpers
// ---------------------------------------------------------------------------------------------

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(c) => cur = c,
            None => return &[],
        }
    }
    cur.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// `namespace/name` of a pod (namespace defaults to `default`).
pub fn pod_key(pod: &Value) -> String {
    let ns = str_at(pod, &["metadata", "namespace"]).unwrap_or("default");
    let name = str_at(pod, &["metadata", "name"]).unwrap_or("");
    format!("{ns}/{name}")
}

fn pod_uid(pod: &Value) -> String {
    str_at(pod, &["metadata", "uid"]).unwrap_or("").to_string()
}

fn pod_phase(pod: &Value) -> &str {
    str_at(pod, &["status", "phase"]).unwrap_or("")
}

fn is_terminal_phase(phase: &str) -> bool {
    phase == "Succeeded" || phase == "Failed"
}

fn restart_policy(pod: &Value) -> &str {
    str_at(pod, &["spec", "restartPolicy"]).unwrap_or("Always")
}

/// A pod's resource request as the scheduler and the kubelet's admission count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Resources {
    milli_cpu: i64,
    memory: i64,
    ephemeral_storage: i64,
}

impl Resources {
    fn add(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(o.ephemeral_storage);
    }
    fn sub(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(o.milli_cpu);
        self.memory = self.memory.saturating_sub(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(o.ephemeral_storage);
    }
    fn max(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
    }
}

/// A container's requests; a resource with only a limit is requested at the limit (the API's
/// defaulting does the same); unparseable quantities count as zero.
fn container_requests(c: &Value) -> Resources {
    let get = |name: &str, parse: fn(&str) -> Option<i64>| -> i64 {
        let q =
            str_at(c, &["resources", "requests", name]).or_else(|| str_at(c, &["resources", "limits", name]));
        q.and_then(parse).unwrap_or(0)
    };
    Resources {
        milli_cpu: get("cpu", parse_cpu_milli),
        memory: get("memory", parse_int_quantity),
        ephemeral_storage: get("ephemeral-storage", parse_int_quantity),
    }
}

/// max(sum(containers) + sidecars, each init container + the sidecars started before it) + overhead.
fn pod_requests(pod: &Value) -> Resources {
    let mut total = Resources::default();
    for c in arr_at(pod, &["spec", "containers"]) {
        total.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in arr_at(pod, &["spec", "initContainers"]) {
        let r = container_requests(c);
        if str_at(c, &["restartPolicy"]) == Some("Always") {
            sidecars.add(&r);
            init_max.max(&sidecars);
        } else {
            let mut with = r;
            with.add(&sidecars);
            init_max.max(&with);
        }
    }
    total.add(&sidecars);
    total.max(&init_max);
    if let Some(overhead) = pod.pointer("/spec/overhead") {
        let wrapped = json!({"resources": {"requests": overhead}});
        total.add(&container_requests(&wrapped));
    }
    total
}

/// `(protocol, hostIP, hostPort)` for every container port with a hostPort.
fn host_ports(pod: &Value) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in arr_at(pod, &["spec", list]) {
            for p in arr_at(c, &["ports"]) {
                let port = p.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
                if port <= 0 {
                    continue;
                }
                let proto = str_at(p, &["protocol"]).unwrap_or("TCP").to_string();
                let ip = str_at(p, &["hostIP"]).filter(|s| !s.is_empty()).unwrap_or("0.0.0.0").to_string();
                out.push((proto, ip, port));
            }
        }
    }
    out
}

fn ports_conflict(a: &(String, String, i64), b: &(String, String, i64)) -> bool {
    a.0 == b.0 && a.2 == b.2 && (a.1 == b.1 || a.1 == "0.0.0.0" || b.1 == "0.0.0.0")
}

fn label_requirement_matches(labels: &BTreeMap<String, String>, expr: &Value) -> bool {
    let key = str_at(expr, &["key"]).unwrap_or("");
    let values: Vec<&str> = arr_at(expr, &["values"]).iter().filter_map(Value::as_str).collect();
    let got = labels.get(key);
    match str_at(expr, &["operator"]).unwrap_or("") {
        "In" => got.is_some_and(|v| values.contains(&v.as_str())),
        "NotIn" => !got.is_some_and(|v| values.contains(&v.as_str())),
        "Exists" => got.is_some(),
        "DoesNotExist" => got.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (got.and_then(|v| v.parse::<i64>().ok()), values.as_slice()) else {
                return false;
            };
            let Ok(bound) = bound.parse::<i64>() else { return false };
            if op == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// nodeSelector and required node affinity against the node's labels and name.
fn node_affinity_matches(pod: &Value, labels: &BTreeMap<String, String>, node_name: &str) -> bool {
    if let Some(sel) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object) {
        for (k, v) in sel {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    let Some(terms) = pod
        .pointer(
            "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
        )
        .and_then(Value::as_array)
    else {
        return true;
    };
    let fields = BTreeMap::from([("metadata.name".to_string(), node_name.to_string())]);
    terms.iter().any(|term| {
        let exprs = arr_at(term, &["matchExpressions"]);
        let field_exprs = arr_at(term, &["matchFields"]);
        if exprs.is_empty() && field_exprs.is_empty() {
            return false;
        }
        exprs.iter().all(|e| label_requirement_matches(labels, e))
            && field_exprs.iter().all(|e| label_requirement_matches(&fields, e))
    })
}

fn toleration_tolerates(tol: &Value, taint: &NodeTaint) -> bool {
    let effect = str_at(tol, &["effect"]).unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = str_at(tol, &["key"]).unwrap_or("");
    let op = str_at(tol, &["operator"]).unwrap_or("Equal");
    if key.is_empty() {
        return op == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match op {
        "Exists" => true,
        "Equal" => str_at(tol, &["value"]).unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// QoS class as `v1qos.GetPodQOS` computes it (cpu and memory only).
fn compute_qos(pod: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for list in ["initContainers", "containers"] {
        for c in arr_at(pod, &["spec", list]) {
            for res in ["cpu", "memory"] {
                let req = str_at(c, &["resources", "requests", res]);
                let lim = str_at(c, &["resources", "limits", res]);
                let nonzero = |q: Option<&str>| q.and_then(Quantity::parse).is_some_and(|q| q.mantissa != 0);
                if nonzero(req) || nonzero(lim) {
                    any = true;
                }
                match (req, lim) {
                    (_, None) => guaranteed = false,
                    (Some(r), Some(l))
                        if Quantity::parse(r).and_then(|q| q.scaled_ceil(9))
                            != Quantity::parse(l).and_then(|q| q.scaled_ceil(9)) =>
                    {
                        guaranteed = false
                    }
                    _ => {}
                }
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

// ---------------------------------------------------------------------------------------------
// Admission
// ---------------------------------------------------------------------------------------------

/// Why the kubelet refused a pod: `reason` as the kubelet writes it into `status.reason`, `message`
/// as admission produced it (the status gets `Pod was rejected: ` in front, see [`rejected_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub message: String,
}

fn insufficient(resource: &str, requested: i64, used: i64, capacity: i64) -> Rejection {
    let reason = match resource {
        "cpu" => "OutOfcpu".to_string(),
        "memory" => "OutOfmemory".to_string(),
        "ephemeral-storage" => "OutOfephemeral-storage".to_string(),
        "pods" => "OutOfpods".to_string(),
        other => format!("OutOf{other}"),
    };
    Rejection {
        reason,
        message: format!(
            "Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
        ),
    }
}

fn predicate_failure(name: &str, desc: &str) -> Rejection {
    Rejection { reason: name.to_string(), message: format!("Predicate {name} failed: {desc}") }
}

// ---------------------------------------------------------------------------------------------
// The tracker
// ---------------------------------------------------------------------------------------------

/// What the driver must do for a pod. Timed actions (`Start`, `Complete`, `Stop`) mean: wait
/// `after_ms`, then call the follow-up (`started`, `completed`, `stopped`) and do what it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Admission failed: write [`rejected_status`] (phase Failed, this reason).
    Reject { key: String, reason: String, message: String },
    /// Admitted: the containers start after `after_ms`; then call [`PodTracker::started`].
    Start { key: String, after_ms: u64 },
    /// Write [`running_status`] (pod IP from [`PodTracker::pod_ip`]).
    SetRunning { key: String },
    /// The containers exit after `after_ms`; then call [`PodTracker::completed`].
    Complete { key: String, succeeded: bool, after_ms: u64 },
    /// Write [`completed_status`] with this outcome.
    SetCompleted { key: String, succeeded: bool },
    /// Graceful deletion seen: the containers stop after `after_ms`; then call [`PodTracker::stopped`].
    Stop { key: String, after_ms: u64 },
    /// DELETE the pod with `gracePeriodSeconds=0` and `preconditions.uid = uid`; on 404 or 409 call
    /// [`PodTracker::forgotten`] (a DELETED watch event does it through [`PodTracker::observe_deleted`]).
    DeleteNow { key: String, uid: String },
    /// The pod is no longer this kubelet's: drop its timers and state.
    Forget { key: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodState {
    /// Admitted, containers starting.
    Starting,
    /// Containers running (`completion` set when a Complete timer runs).
    Running,
    /// Rejected, completed, or seen terminal: holds no resources.
    Terminal,
    /// deletionTimestamp seen, containers stopping; holds resources if it held them before.
    Stopping,
    /// Containers stopped, DeleteNow issued.
    Deleting,
}

#[derive(Debug, Clone)]
struct TrackedPod {
    uid: String,
    state: PodState,
    /// Counted in the node's usage (admitted and not terminal/stopped).
    holds_resources: bool,
    requests: Resources,
    ports: Vec<(String, String, i64)>,
    ip_index: Option<u32>,
    completion: Option<bool>,
    /// The latest object, serialized: a parsed `Value` of a 2 KB pod costs ~14 KB, and a kubelet
    /// needs the whole object only for its few status writes (5,000 nodes × 30 pods add up).
    pod: CompactPod,
}

/// A pod object kept as the JSON bytes of the parts its status writes use (see [`KeptPod`]),
/// plus the fields read on every event.
#[derive(Debug, Clone)]
struct CompactPod {
    json: Box<[u8]>,
    resource_version: Option<u64>,
    restart_policy: Box<str>,
}

/// What a kubelet keeps of a pod between events: the metadata, the containers, the status. Its
/// status writes build the new status from these and send them to `pods/{name}/status`, which
/// takes only the status, labels and annotations from the body (as kube's status strategy does);
/// admission has already read the rest from the event. Tolerations, security context and the
/// other defaulted spec fields were about a third of every kept pod and of every status body.
#[derive(serde::Serialize)]
struct KeptPod<'a> {
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    api_version: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    spec: KeptSpec<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a Value>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct KeptSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    node_name: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_policy: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_containers: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    containers: Option<&'a Value>,
}

impl<'a> KeptPod<'a> {
    fn of(pod: &'a Value) -> Self {
        let spec = pod.get("spec");
        let field = |name: &str| spec.and_then(|s| s.get(name));
        KeptPod {
            api_version: pod.get("apiVersion"),
            kind: pod.get("kind"),
            metadata: pod.get("metadata"),
            spec: KeptSpec {
                node_name: field("nodeName"),
                restart_policy: field("restartPolicy"),
                init_containers: field("initContainers"),
                containers: field("containers"),
            },
            status: pod.get("status"),
        }
    }
}

impl CompactPod {
    fn new(pod: &Value) -> CompactPod {
        CompactPod {
            // References to a Value always serialize. Copied out at its exact size: shrinking the
            // doubled serialization buffer in place would keep the whole block.
            json: Box::from(serde_json::to_vec(&KeptPod::of(pod)).unwrap_or_default().as_slice()),
            resource_version: str_at(pod, &["metadata", "resourceVersion"]).and_then(|v| v.parse().ok()),
            restart_policy: restart_policy(pod).into(),
        }
    }

    fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// The kubelet's view of the pods bound to its node. Feed it every pod event
/// ([`observe`](Self::observe), [`observe_deleted`](Self::observe_deleted)) and the timer follow-ups.
#[derive(Debug, Clone)]
pub struct PodTracker {
    node_name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<NodeTaint>,
    allocatable: Resources,
    allocatable_pods: i64,
    cidr: String,
    start_latency_ms: (u64, u64),
    run_duration_ms: Option<(u64, u64)>,
    failure_probability: f64,
    stop_delay_ms: (u64, u64),
    rng: ChaCha8Rng,
    pods: BTreeMap<String, TrackedPod>,
    used: Resources,
    used_pods: i64,
    used_ips: BTreeSet<u32>,
}

impl PodTracker {
    /// Unparseable quantities count as zero (see [`KubeletConfig::validate`]).
    pub fn new(cfg: &KubeletConfig, seed: u64) -> PodTracker {
        PodTracker {
            node_name: cfg.node_name.clone(),
            labels: node_labels(cfg),
            taints: cfg.taints.clone(),
            allocatable: Resources {
                milli_cpu: parse_cpu_milli(cfg.allocatable_cpu()).unwrap_or(0),
                memory: parse_int_quantity(cfg.allocatable_memory()).unwrap_or(0),
                ephemeral_storage: parse_int_quantity(cfg.allocatable_ephemeral_storage()).unwrap_or(0),
            },
            allocatable_pods: parse_int_quantity(cfg.allocatable_pods()).unwrap_or(0),
            cidr: cfg.pod_cidr.clone(),
            start_latency_ms: cfg.start_latency_ms,
            run_duration_ms: cfg.run_duration_ms,
            failure_probability: if cfg.failure_probability.is_nan() {
                0.0
            } else {
                cfg.failure_probability.clamp(0.0, 1.0)
            },
            stop_delay_ms: cfg.stop_delay_ms,
            rng: ChaCha8Rng::seed_from_u64(seed),
            pods: BTreeMap::new(),
            used: Resources::default(),
            used_pods: 0,
            used_ips: BTreeSet::new(),
        }
    }

    fn draw(&mut self, (lo, hi): (u64, u64)) -> u64 {
        if lo >= hi {
            lo
        } else {
            self.rng.random_range(lo..=hi)
        }
    }

    /// Admission of `pod` against the pods admitted so far (the kubelet's `canAdmitPod`).
    pub fn admit(&self, pod: &Value) -> Result<(), Rejection> {
        if let Some(os) = str_at(pod, &["metadata", "labels", "kubernetes.io/os"]) {
            if os != "linux" {
                return Err(Rejection {
                    reason: "PodOSSelectorNodeLabelDoesNotMatch".to_string(),
                    message: "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label"
                        .to_string(),
                });
            }
        }
        if let Some(os) = str_at(pod, &["spec", "os", "name"]) {
            if os != "linux" {
                return Err(Rejection {
                    reason: "PodOSNotSupported".to_string(),
                    message: "Failed to admit pod as the OS field doesn't match node OS".to_string(),
                });
            }
        }
        if self.used_pods + 1 > self.allocatable_pods {
            return Err(insufficient("pods", 1, self.used_pods, self.allocatable_pods));
        }
        let req = pod_requests(pod);
        let checks = [
            ("cpu", req.milli_cpu, self.used.milli_cpu, self.allocatable.milli_cpu),
            ("memory", req.memory, self.used.memory, self.allocatable.memory),
            (
                "ephemeral-storage",
                req.ephemeral_storage,
                self.used.ephemeral_storage,
                self.allocatable.ephemeral_storage,
            ),
        ];
        for (name, requested, used, capacity) in checks {
            if requested > 0 && requested > capacity - used {
                return Err(insufficient(name, requested, used, capacity));
            }
        }
        if !node_affinity_matches(pod, &self.labels, &self.node_name) {
            return Err(predicate_failure(
                "NodeAffinity",
                "node(s) didn't match Pod's node affinity/selector",
            ));
        }
        let ports = host_ports(pod);
        let taken = self.pods.values().filter(|p| p.holds_resources).flat_map(|p| p.ports.iter());
        let mut seen: Vec<&(String, String, i64)> = taken.collect();
        for p in &ports {
            if seen.iter().any(|q| ports_conflict(p, q)) {
                return Err(predicate_failure(
                    "NodePorts",
                    "node(s) didn't have free ports for the requested pod ports",
                ));
            }
            seen.push(p);
        }
        let tolerations = arr_at(pod, &["spec", "tolerations"]);
        let untolerated = self
            .taints
            .iter()
            .filter(|t| t.effect == "NoExecute")
            .any(|t| !tolerations.iter().any(|tol| toleration_tolerates(tol, t)));
        if untolerated {
            return Err(predicate_failure("TaintToleration", "node(s) had untolerated taint(s)"));
        }
        Ok(())
    }

    fn release(&mut self, key: &str) {
        let Some(p) = self.pods.get_mut(key) else { return };
        if p.holds_resources {
            p.holds_resources = false;
            self.used.sub(&p.requests);
            self.used_pods -= 1;
        }
        if let Some(i) = p.ip_index.take() {
            self.used_ips.remove(&i);
        }
    }

    fn remove(&mut self, key: &str) -> Vec<Action> {
        if !self.pods.contains_key(key) {
            return Vec::new();
        }
        self.release(key);
        self.pods.remove(key);
        vec![Action::Forget { key: key.to_string() }]
    }

    fn begin_stop(&mut self, key: &str) -> Vec<Action> {
        let after_ms = self.draw(self.stop_delay_ms);
        if let Some(p) = self.pods.get_mut(key) {
            p.state = PodState::Stopping;
        }
        vec![Action::Stop { key: key.to_string(), after_ms }]
    }

    /// The latest version of a pod whose `spec.nodeName` is (or was) this node, from a watch
    /// ADDED/MODIFIED event or a list.
    pub fn observe(&mut self, pod: &Value) -> Vec<Action> {
        let key = pod_key(pod);
        let uid = pod_uid(pod);
        let mut actions = Vec::new();
        if self.pods.get(&key).is_some_and(|p| p.uid != uid) {
            // Same name, new object: the old one is gone.
            actions.extend(self.remove(&key));
        }
        if str_at(pod, &["spec", "nodeName"]) != Some(self.node_name.as_str()) {
            actions.extend(self.remove(&key));
            return actions;
        }
        let deleting = pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
        let phase = pod_phase(pod);
        let Some(tracked) = self.pods.get_mut(&key) else {
            if deleting {
                self.pods.insert(key.clone(), self.untracked(uid, PodState::Stopping, pod));
                actions.extend(self.begin_stop(&key));
            } else if is_terminal_phase(phase) {
                self.pods.insert(key, self.untracked(uid, PodState::Terminal, pod));
            } else {
                match self.admit(pod) {
                    Err(r) => {
                        self.pods.insert(key.clone(), self.untracked(uid, PodState::Terminal, pod));
                        actions.push(Action::Reject { key, reason: r.reason, message: r.message });
                    }
                    Ok(()) => {
                        let requests = pod_requests(pod);
                        self.used.add(&requests);
                        self.used_pods += 1;
                        let ip_index = (0u32..).find(|i| !self.used_ips.contains(i));
                        if let Some(i) = ip_index {
                            self.used_ips.insert(i);
                        }
                        let entry = TrackedPod {
                            uid,
                            state: PodState::Starting,
                            holds_resources: true,
                            requests,
                            ports: host_ports(pod),
                            ip_index,
                            completion: None,
                            pod: CompactPod::new(pod),
                        };
                        self.pods.insert(key.clone(), entry);
                        let after_ms = self.draw(self.start_latency_ms);
                        actions.push(Action::Start { key, after_ms });
                    }
                }
            }
            return actions;
        };
        tracked.pod = CompactPod::new(pod);
        match tracked.state {
            PodState::Stopping | PodState::Deleting => {}
            _ if deleting => actions.extend(self.begin_stop(&key)),
            PodState::Starting | PodState::Running if is_terminal_phase(phase) => {
                // Someone else (eviction, a previous incarnation of this kubelet) ended it.
                if let Some(p) = self.pods.get_mut(&key) {
                    p.state = PodState::Terminal;
                }
                self.release(&key);
            }
            _ => {}
        }
        actions
    }

    fn untracked(&self, uid: String, state: PodState, pod: &Value) -> TrackedPod {
        TrackedPod {
            uid,
            state,
            holds_resources: false,
            requests: Resources::default(),
            ports: Vec::new(),
            ip_index: None,
            completion: None,
            pod: CompactPod::new(pod),
        }
    }

    /// A DELETED watch event: the pod is gone.
    pub fn observe_deleted(&mut self, pod: &Value) -> Vec<Action> {
        let key = pod_key(pod);
        let uid = pod_uid(pod);
        if self.pods.get(&key).is_some_and(|p| p.uid == uid || uid.is_empty()) {
            self.remove(&key)
        } else {
            Vec::new()
        }
    }

    /// The start timer fired: the containers run now.
    pub fn started(&mut self, key: &str) -> Vec<Action> {
        let Some(p) = self.pods.get(key) else { return Vec::new() };
        if p.state != PodState::Starting {
            return Vec::new();
        }
        let policy = p.pod.restart_policy.to_string();
        let mut actions = vec![Action::SetRunning { key: key.to_string() }];
        let mut completion = None;
        if let (Some(range), true) = (self.run_duration_ms, policy == "Never" || policy == "OnFailure") {
            let after_ms = self.draw(range);
            let fails = self.rng.random_bool(self.failure_probability);
            // OnFailure would restart a failed container; it ends up succeeding.
            let succeeded = !(fails && policy == "Never");
            completion = Some(succeeded);
            actions.push(Action::Complete { key: key.to_string(), succeeded, after_ms });
        }
        if let Some(p) = self.pods.get_mut(key) {
            p.state = PodState::Running;
            p.completion = completion;
        }
        actions
    }

    /// The run timer fired: the containers exited; the pod is terminal and frees its resources.
    pub fn completed(&mut self, key: &str) -> Vec<Action> {
        let Some(p) = self.pods.get_mut(key) else { return Vec::new() };
        let (PodState::Running, Some(succeeded)) = (p.state, p.completion) else { return Vec::new() };
        p.state = PodState::Terminal;
        self.release(key);
        vec![Action::SetCompleted { key: key.to_string(), succeeded }]
    }

    /// The stop timer fired: the containers stopped; finish the graceful deletion.
    pub fn stopped(&mut self, key: &str) -> Vec<Action> {
        let Some(p) = self.pods.get_mut(key) else { return Vec::new() };
        if p.state != PodState::Stopping {
            return Vec::new();
        }
        p.state = PodState::Deleting;
        let uid = p.uid.clone();
        self.release(key);
        vec![Action::DeleteNow { key: key.to_string(), uid }]
    }

    /// The pod is gone from the API (DeleteNow answered, 404, or a UID precondition 409).
    pub fn forgotten(&mut self, key: &str) -> Vec<Action> {
        self.remove(key)
    }

    /// What the tracker keeps of the latest pod object seen for `key`: its metadata, containers,
    /// restart policy, node and status (decoded on each call: the tracker keeps it compact).
    pub fn pod(&self, key: &str) -> Option<Value> {
        self.pods.get(key).map(|p| p.pod.value())
    }

    /// The resourceVersion of the latest pod object seen for `key`.
    pub fn resource_version(&self, key: &str) -> Option<u64> {
        self.pods.get(key).and_then(|p| p.pod.resource_version)
    }

    /// The pod IP the tracker gave an admitted pod (released when it stops or completes).
    pub fn pod_ip(&self, key: &str) -> Option<String> {
        pod_ip(&self.cidr, self.pods.get(key)?.ip_index?)
    }

    /// The tracked pod's uid.
    pub fn uid(&self, key: &str) -> Option<&str> {
        self.pods.get(key).map(|p| p.uid.as_str())
    }

    /// `true` while the pod is admitted and its containers neither stopped nor exited.
    pub fn is_active(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.holds_resources)
    }

    /// Tracked keys (any state), in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.pods.keys().map(String::as_str)
    }

    /// Requests of the admitted, non-terminal pods: (millicores, memory bytes, pod count).
    pub fn used(&self) -> (i64, i64, i64) {
        (self.used.milli_cpu, self.used.memory, self.used_pods)
    }
}

// ---------------------------------------------------------------------------------------------
// Pod IPs
// ---------------------------------------------------------------------------------------------

fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (ip, len) = cidr.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let octets: Vec<u32> =
        ip.split('.').map(|o| o.parse::<u8>().map(u32::from)).collect::<Result<_, _>>().ok()?;
    let [a, b, c, d] = octets[..] else { return None };
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((((a << 24) | (b << 16) | (c << 8) | d) & mask, len))
}

/// The `index`-th pod address of an IPv4 CIDR: index 0 is network+2 (network+1 is the bridge
/// gateway), the broadcast address is never given. `None` when out of range or not IPv4.
pub fn pod_ip(cidr: &str, index: u32) -> Option<String> {
    let (net, len) = parse_cidr(cidr)?;
    let size: u64 = 1u64 << (32 - len);
    let host = u64::from(index) + 2;
    if host >= size.saturating_sub(1) {
        return None;
    }
    let ip = net + host as u32;
    Some(format!("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255))
}

// ---------------------------------------------------------------------------------------------
// Pod statuses
// ---------------------------------------------------------------------------------------------

/// 64-bit FNV-1a, stretched to `len` hex digits (fake digests and IDs, deterministic).
fn hex_digest(parts: &[&[u8]], len: usize) -> String {
    let mut out = String::new();
    let mut round: u64 = 0;
    while out.len() < len {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ round;
        for p in parts {
            for b in p.iter().chain([0u8].iter()) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        out.push_str(&format!("{h:016x}"));
        round += 1;
    }
    out.truncate(len);
    out
}

/// `nginx` → `docker.io/library/nginx:latest`, as a runtime reports `image`.
fn normalize_image(image: &str) -> String {
    let (name, has_tag) = match image.split_once('@') {
        Some(_) => (image.to_string(), true),
        None => {
            let last = image.rsplit('/').next().unwrap_or(image);
            (image.to_string(), last.contains(':'))
        }
    };
    let first = name.split('/').next().unwrap_or("");
    let mut full = if !name.contains('/') {
        format!("docker.io/library/{name}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name
    } else {
        format!("docker.io/{name}")
    };
    if !has_tag {
        full.push_str(":latest");
    }
    full
}

fn image_id(image: &str) -> String {
    let full = normalize_image(image);
    let repo = match full.split_once('@') {
        Some((r, _)) => r.to_string(),
        None => match full.rfind(':') {
            Some(i) if !full[i..].contains('/') => full[..i].to_string(),
            _ => full.clone(),
        },
    };
    format!("{repo}@sha256:{}", hex_digest(&[full.as_bytes()], 64))
}

fn container_id(pod: &Value, container: &str) -> String {
    let uid = pod_uid(pod);
    format!("kubesim://{}", hex_digest(&[uid.as_bytes(), container.as_bytes()], 64))
}

fn existing_condition<'a>(pod: &'a Value, ty: &str) -> Option<&'a Value> {
    arr_at(pod, &["status", "conditions"]).iter().find(|c| str_at(c, &["type"]) == Some(ty))
}

/// A condition; `lastTransitionTime` kept from the pod's current one when the status is unchanged.
fn condition(pod: &Value, ty: &str, status: &str, reason: Option<&str>, now: &str) -> Value {
    let transition = existing_condition(pod, ty)
        .filter(|c| str_at(c, &["status"]) == Some(status))
        .and_then(|c| str_at(c, &["lastTransitionTime"]))
        .unwrap_or(now);
    let mut c = Map::new();
    if let Some(g) = pod.pointer("/metadata/generation").filter(|g| g.is_i64()) {
        c.insert("observedGeneration".to_string(), g.clone());
    }
    c.insert("type".to_string(), json!(ty));
    c.insert("status".to_string(), json!(status));
    c.insert("lastProbeTime".to_string(), Value::Null);
    c.insert("lastTransitionTime".to_string(), json!(transition));
    if let Some(r) = reason {
        c.insert("reason".to_string(), json!(r));
    }
    Value::Object(c)
}

const KUBELET_CONDITIONS: [&str; 4] =
    ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"];

/// The kubelet's four conditions, then PodScheduled (kept, or True now), then any other condition.
fn conditions(pod: &Value, own: Vec<Value>, now: &str) -> Value {
    let mut out = own;
    out.push(
        existing_condition(pod, "PodScheduled")
            .cloned()
            .unwrap_or_else(|| condition(pod, "PodScheduled", "True", None, now)),
    );
    for c in arr_at(pod, &["status", "conditions"]) {
        let ty = str_at(c, &["type"]).unwrap_or("");
        if ty != "PodScheduled" && !KUBELET_CONDITIONS.contains(&ty) {
            out.push(c.clone());
        }
    }
    Value::Array(out)
}

/// Fields every status keeps or sets: startTime (set once), qosClass, observedGeneration.
fn base_status(pod: &Value, phase: &str, now: &str) -> Map<String, Value> {
    let mut s = Map::new();
    if let Some(g) = pod.pointer("/metadata/generation").filter(|g| g.is_i64()) {
        s.insert("observedGeneration".to_string(), g.clone());
    }
    s.insert("phase".to_string(), json!(phase));
    let start = str_at(pod, &["status", "startTime"]).unwrap_or(now);
    s.insert("startTime".to_string(), json!(start));
    let qos = str_at(pod, &["status", "qosClass"])
        .map(str::to_string)
        .unwrap_or_else(|| compute_qos(pod).to_string());
    s.insert("qosClass".to_string(), json!(qos));
    s
}

fn set_ips(s: &mut Map<String, Value>, host_ip: &str, pod_ip: &str) {
    s.insert("hostIP".to_string(), json!(host_ip));
    s.insert("hostIPs".to_string(), json!([{"ip": host_ip}]));
    s.insert("podIP".to_string(), json!(pod_ip));
    s.insert("podIPs".to_string(), json!([{"ip": pod_ip}]));
}

fn keep_ips(s: &mut Map<String, Value>, pod: &Value) {
    for f in ["hostIP", "hostIPs", "podIP", "podIPs"] {
        if let Some(v) = pod.pointer(&format!("/status/{f}")) {
            s.insert(f.to_string(), v.clone());
        }
    }
}

fn container_status(pod: &Value, c: &Value, state: Value, ready: bool, started: bool) -> Value {
    let name = str_at(c, &["name"]).unwrap_or("");
    let image = str_at(c, &["image"]).unwrap_or("");
    json!({
        "name": name,
        "state": state,
        "lastState": {},
        "ready": ready,
        "restartCount": 0,
        "image": normalize_image(image),
        "imageID": image_id(image),
        "containerID": container_id(pod, name),
        "started": started,
    })
}

fn previous_started_at(pod: &Value, list: &str, name: &str) -> Option<String> {
    let s = arr_at(pod, &["status", list]).iter().find(|s| str_at(s, &["name"]) == Some(name))?;
    str_at(s, &["state", "running", "startedAt"])
        .or_else(|| str_at(s, &["state", "terminated", "startedAt"]))
        .map(str::to_string)
}

/// The status a kubelet writes once every container runs (PUT `pods/{name}/status` with it as
/// `.status`, or PATCH `{"status": ...}`): phase Running, all conditions True, containers running
/// and ready; plain init containers terminated/Completed, sidecars running.
pub fn running_status(pod: &Value, node_ip: &str, pod_ip: &str, now_rfc3339: &str) -> Value {
    let now = now_rfc3339;
    let mut s = base_status(pod, "Running", now);
    let own = KUBELET_CONDITIONS.iter().map(|ty| condition(pod, ty, "True", None, now)).collect();
    s.insert("conditions".to_string(), conditions(pod, own, now));
    set_ips(&mut s, node_ip, pod_ip);
    let inits: Vec<Value> = arr_at(pod, &["spec", "initContainers"])
        .iter()
        .map(|c| {
            let name = str_at(c, &["name"]).unwrap_or("");
            let started_at =
                previous_started_at(pod, "initContainerStatuses", name).unwrap_or(now.to_string());
            if str_at(c, &["restartPolicy"]) == Some("Always") {
                container_status(pod, c, json!({"running": {"startedAt": started_at}}), true, true)
            } else {
                let state = json!({"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": started_at, "finishedAt": now,
                    "containerID": container_id(pod, name),
                }});
                container_status(pod, c, state, true, false)
            }
        })
        .collect();
    if !inits.is_empty() {
        s.insert("initContainerStatuses".to_string(), Value::Array(inits));
    }
    let containers: Vec<Value> = arr_at(pod, &["spec", "containers"])
        .iter()
        .map(|c| {
            let name = str_at(c, &["name"]).unwrap_or("");
            let started_at = previous_started_at(pod, "containerStatuses", name).unwrap_or(now.to_string());
            container_status(pod, c, json!({"running": {"startedAt": started_at}}), true, true)
        })
        .collect();
    s.insert("containerStatuses".to_string(), Value::Array(containers));
    Value::Object(s)
}

/// phase Failed with `reason` and `message` verbatim; conditions, IPs and container statuses kept.
pub fn failed_status(pod: &Value, reason: &str, message: &str, now_rfc3339: &str) -> Value {
    let mut s = base_status(pod, "Failed", now_rfc3339);
    s.insert("reason".to_string(), json!(reason));
    s.insert("message".to_string(), json!(message));
    if let Some(c) = pod.pointer("/status/conditions") {
        s.insert("conditions".to_string(), c.clone());
    }
    keep_ips(&mut s, pod);
    for f in ["initContainerStatuses", "containerStatuses"] {
        if let Some(v) = pod.pointer(&format!("/status/{f}")) {
            s.insert(f.to_string(), v.clone());
        }
    }
    Value::Object(s)
}

/// The status of a pod the kubelet refused ([`Action::Reject`]): `Pod was rejected: <message>`.
pub fn rejected_status(pod: &Value, reason: &str, admission_message: &str, now_rfc3339: &str) -> Value {
    failed_status(pod, reason, &format!("Pod was rejected: {admission_message}"), now_rfc3339)
}

/// The status once every container exited: phase Succeeded (exit 0, `Completed`) or Failed (exit
/// 1, `Error`); Ready/ContainersReady False with reason PodCompleted / PodFailed.
pub fn completed_status(pod: &Value, succeeded: bool, now_rfc3339: &str) -> Value {
    let now = now_rfc3339;
    let (phase, cond_reason, exit_code, reason) = if succeeded {
        ("Succeeded", "PodCompleted", 0, "Completed")
    } else {
        ("Failed", "PodFailed", 1, "Error")
    };
    let mut s = base_status(pod, phase, now);
    let own = vec![
        condition(pod, "PodReadyToStartContainers", "False", None, now),
        condition(pod, "Initialized", "True", Some(cond_reason), now),
        condition(pod, "Ready", "False", Some(cond_reason), now),
        condition(pod, "ContainersReady", "False", Some(cond_reason), now),
    ];
    s.insert("conditions".to_string(), conditions(pod, own, now));
    keep_ips(&mut s, pod);
    let terminated = |list: &str, c: &Value, code: i64, why: &str| {
        let name = str_at(c, &["name"]).unwrap_or("");
        let started_at = previous_started_at(pod, list, name).unwrap_or(now.to_string());
        let state = json!({"terminated": {
            "exitCode": code, "reason": why, "startedAt": started_at, "finishedAt": now,
            "containerID": container_id(pod, name),
        }});
        container_status(pod, c, state, false, false)
    };
    let inits: Vec<Value> = arr_at(pod, &["spec", "initContainers"])
        .iter()
        .map(|c| terminated("initContainerStatuses", c, 0, "Completed"))
        .collect();
    if !inits.is_empty() {
        s.insert("initContainerStatuses".to_string(), Value::Array(inits));
    }
    let containers: Vec<Value> = arr_at(pod, &["spec", "containers"])
        .iter()
        .map(|c| terminated("containerStatuses", c, exit_code, reason))
        .collect();
    s.insert("containerStatuses".to_string(), Value::Array(containers));
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2024-01-01T00:00:00Z";
    const T1: &str = "2024-01-01T00:00:05Z";

    fn cfg() -> KubeletConfig {
        KubeletConfig { node_name: "n1".to_string(), ..KubeletConfig::default() }
    }

    fn pod_on(name: &str, node: &str, cpu: &str, memory: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "generation": 1},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
            },
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": T0}
            ]},
        })
    }

    fn key(name: &str) -> String {
        format!("default/{name}")
    }

    /// Observes `pod` and compares the actions with `expected`.
    fn check(t: &mut PodTracker, pod: &Value, expected: Vec<Action>) {
        assert_eq!(t.observe(pod), expected, "observing {}", pod_key(pod));
    }

    fn start_of(actions: &[Action]) -> Option<u64> {
        match actions {
            [Action::Start { after_ms, .. }] => Some(*after_ms),
            _ => None,
        }
    }

    // ---- quantities

    #[test]
    fn quantities() {
        let cpu = [
            ("500m", 500),
            ("2", 2000),
            ("0.1", 100),
            ("1.5", 1500),
            ("100u", 1),
            ("1e3", 1_000_000),
            ("2k", 2_000_000),
            ("+3", 3000),
            ("0", 0),
            (".5", 500),
            ("5.", 5000),
        ];
        for (q, want) in cpu {
            assert_eq!(parse_cpu_milli(q), Some(want), "cpu {q}");
        }
        let ints = [
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("129M", 129_000_000),
            ("123Mi", 128_974_848),
            ("1Ki", 1024),
            ("1k", 1000),
            ("1Gi", 1 << 30),
            ("16Gi", 16 << 30),
            ("1.5Gi", 3 << 29),
            ("1G", 1_000_000_000),
            ("1T", 1_000_000_000_000),
            ("1Ti", 1 << 40),
            ("1P", 1_000_000_000_000_000),
            ("1Pi", 1 << 50),
            ("1E", 1_000_000_000_000_000_000),
            ("1Ei", 1 << 60),
            ("1E2", 100),
            ("1e-2", 1),
            ("110", 110),
            ("100m", 1),
            ("-1", -1),
            ("-1.5", -1),
        ];
        for (q, want) in ints {
            assert_eq!(parse_int_quantity(q), Some(want), "int {q}");
        }
        for bad in ["", "abc", "1.2.3", "1Qi", "1e", "Gi", "1 Gi", "1ee2", "-", "1e+", "1e99999"] {
            assert_eq!(Quantity::parse(bad), None, "{bad:?} must not parse");
        }
        // Saturates instead of overflowing.
        assert_eq!(parse_int_quantity("100Ei"), Some(i64::MAX));
    }

    // ---- admission

    #[test]
    fn admission_accepts_until_cpu_runs_out() {
        let mut t = PodTracker::new(&cfg(), 1);
        let mut used = 0;
        for i in 0..7 {
            let p = pod_on(&format!("p{i}"), "n1", "500m", "1Gi");
            assert!(start_of(&t.observe(&p)).is_some(), "p{i} admitted");
            used += 500;
        }
        assert_eq!(t.used(), (3500, 7 << 30, 7));
        let big = pod_on("big", "n1", "600m", "1Gi");
        check(
            &mut t,
            &big,
            vec![Action::Reject {
                key: key("big"),
                reason: "OutOfcpu".to_string(),
                message: format!(
                    "Node didn't have enough resource: cpu, requested: 600, used: {used}, capacity: 4000"
                ),
            }],
        );
        // A rejection is remembered: seeing the pod again before the Failed status lands does nothing.
        check(&mut t, &big, vec![]);
        assert_eq!(t.used(), (3500, 7 << 30, 7));
        assert!(!t.is_active(&key("big")));
        // 500m still fits.
        assert!(start_of(&t.observe(&pod_on("fits", "n1", "500m", "0"))).is_some());
    }

    #[test]
    fn admission_reason_and_message_per_resource() {
        let c = KubeletConfig {
            capacity_cpu: "4".to_string(),
            allocatable_cpu: Some("3800m".to_string()),
            capacity_memory: "2Gi".to_string(),
            capacity_pods: "2".to_string(),
            ..cfg()
        };
        let mut t = PodTracker::new(&c, 7);
        let mem = pod_on("mem", "n1", "100m", "3Gi");
        check(
            &mut t,
            &mem,
            vec![Action::Reject {
                key: key("mem"),
                reason: "OutOfmemory".to_string(),
                message: "Node didn't have enough resource: memory, requested: 3221225472, used: 0, capacity: 2147483648"
                    .to_string(),
            }],
        );
        let cpu = pod_on("cpu", "n1", "3900m", "0");
        check(
            &mut t,
            &cpu,
            vec![Action::Reject {
                key: key("cpu"),
                reason: "OutOfcpu".to_string(),
                message: "Node didn't have enough resource: cpu, requested: 3900, used: 0, capacity: 3800"
                    .to_string(),
            }],
        );
        assert!(start_of(&t.observe(&pod_on("a", "n1", "0", "0"))).is_some());
        assert!(start_of(&t.observe(&pod_on("b", "n1", "0", "0"))).is_some());
        // pods is checked first, even when cpu is also short.
        check(
            &mut t,
            &pod_on("c", "n1", "3900m", "0"),
            vec![Action::Reject {
                key: key("c"),
                reason: "OutOfpods".to_string(),
                message: "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"
                    .to_string(),
            }],
        );
    }

    #[test]
    fn admission_requests_init_sidecars_overhead_and_limits() {
        let p = json!({"spec": {
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2"}}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "i2", "resources": {"requests": {"cpu": "1"}}},
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "200m"}}},
                {"name": "b", "resources": {"limits": {"cpu": "300m", "memory": "1Mi"}}},
            ],
            "overhead": {"cpu": "10m"},
        }});
        // max(200+300+100, 2000, 1000+100) + 10
        assert_eq!(pod_requests(&p), Resources { milli_cpu: 2010, memory: 1 << 20, ephemeral_storage: 0 });
    }

    #[test]
    fn admission_predicates() {
        let c = KubeletConfig {
            labels: BTreeMap::from([("zone".to_string(), "a".to_string())]),
            taints: vec![NodeTaint {
                key: "dedicated".to_string(),
                value: Some("x".to_string()),
                effect: "NoExecute".to_string(),
            }],
            ..cfg()
        };
        let mut t = PodTracker::new(&c, 1);
        let tol = json!([{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoExecute"}]);
        let mut p = pod_on("sel", "n1", "0", "0");
        p["spec"]["nodeSelector"] = json!({"zone": "b"});
        p["spec"]["tolerations"] = tol.clone();
        let r = t.admit(&p).unwrap_err();
        assert_eq!(r.reason, "NodeAffinity");
        assert_eq!(
            r.message,
            "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
        );
        p["spec"]["nodeSelector"] = json!({"zone": "a", "kubernetes.io/hostname": "n1"});
        assert_eq!(t.admit(&p), Ok(()));
        p["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
        ]}}});
        assert_eq!(t.admit(&p), Ok(()));
        p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][1]["matchFields"][0]["operator"] = json!("NotIn");
        assert_eq!(t.admit(&p).unwrap_err().reason, "NodeAffinity");

        let mut untolerated = pod_on("taint", "n1", "0", "0");
        let r = t.admit(&untolerated).unwrap_err();
        assert_eq!(r.reason, "TaintToleration");
        assert_eq!(r.message, "Predicate TaintToleration failed: node(s) had untolerated taint(s)");
        untolerated["spec"]["tolerations"] = json!([{"operator": "Exists"}]);
        assert_eq!(t.admit(&untolerated), Ok(()));

        let mut hp = pod_on("hp1", "n1", "0", "0");
        hp["spec"]["tolerations"] = tol.clone();
        hp["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        assert!(start_of(&t.observe(&hp)).is_some());
        let mut hp2 = hp.clone();
        hp2["metadata"]["name"] = json!("hp2");
        hp2["metadata"]["uid"] = json!("uid-hp2");
        hp2["spec"]["containers"][0]["ports"][0]["hostIP"] = json!("10.0.0.1");
        let r = t.admit(&hp2).unwrap_err();
        assert_eq!(r.reason, "NodePorts");
        assert_eq!(
            r.message,
            "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
        );
        hp2["spec"]["containers"][0]["ports"][0]["protocol"] = json!("UDP");
        assert_eq!(t.admit(&hp2), Ok(()));

        let mut win = pod_on("win", "n1", "0", "0");
        win["spec"]["os"] = json!({"name": "windows"});
        assert_eq!(t.admit(&win).unwrap_err().reason, "PodOSNotSupported");
        let mut winl = pod_on("winl", "n1", "0", "0");
        winl["metadata"]["labels"] = json!({"kubernetes.io/os": "windows"});
        assert_eq!(t.admit(&winl).unwrap_err().reason, "PodOSSelectorNodeLabelDoesNotMatch");
    }

    // ---- lifecycle

    #[test]
    fn full_lifecycle_of_a_job_pod() {
        let c = KubeletConfig { run_duration_ms: Some((1000, 2000)), start_latency_ms: (100, 200), ..cfg() };
        let mut t = PodTracker::new(&c, 42);
        let mut p = pod_on("job", "n1", "1", "1Gi");
        p["spec"]["restartPolicy"] = json!("Never");
        let k = key("job");
        let acts = t.observe(&p);
        let after = start_of(&acts).expect("Start");
        assert!((100..=200).contains(&after));
        assert_eq!(t.used(), (1000, 1 << 30, 1));
        assert_eq!(t.pod_ip(&k).as_deref(), Some("10.244.0.2"));
        // An update while starting changes nothing.
        check(&mut t, &p, vec![]);

        let acts = t.started(&k);
        let [Action::SetRunning { key: k1 }, Action::Complete { key: k2, succeeded: true, after_ms }] =
            acts.as_slice()
        else {
            panic!("unexpected {acts:?}")
        };
        assert_eq!((k1, k2), (&k, &k));
        assert!((1000..=2000).contains(after_ms));
        assert_eq!(t.started(&k), vec![], "started twice");

        let running = running_status(&p, "10.0.0.1", &t.pod_ip(&k).unwrap(), T1);
        p["status"] = running;
        check(&mut t, &p, vec![]);
        assert!(t.is_active(&k));

        assert_eq!(t.completed(&k), vec![Action::SetCompleted { key: k.clone(), succeeded: true }]);
        assert_eq!(t.used(), (0, 0, 0), "terminal pods free their resources");
        assert_eq!(t.pod_ip(&k), None);
        assert_eq!(t.completed(&k), vec![]);
        p["status"] = completed_status(&p, true, T1);
        check(&mut t, &p, vec![]);

        // The apiserver deletes terminal pods at once: a DELETED event.
        assert_eq!(t.observe_deleted(&p), vec![Action::Forget { key: k.clone() }]);
        assert_eq!(t.keys().count(), 0);
    }

    #[test]
    fn graceful_deletion_ends_with_delete_now_and_uid() {
        let mut t = PodTracker::new(&cfg(), 3);
        let mut p = pod_on("web", "n1", "1", "0");
        let k = key("web");
        assert!(start_of(&t.observe(&p)).is_some());
        assert_eq!(
            t.started(&k),
            vec![Action::SetRunning { key: k.clone() }],
            "restartPolicy Always: no Complete"
        );
        p["metadata"]["deletionTimestamp"] = json!(T1);
        p["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        let acts = t.observe(&p);
        let [Action::Stop { key: sk, after_ms }] = acts.as_slice() else { panic!("{acts:?}") };
        assert_eq!(sk, &k);
        assert!((50..=150).contains(after_ms));
        assert_eq!(t.used().0, 1000, "a terminating pod holds its resources until stopped");
        check(&mut t, &p, vec![]);
        assert_eq!(t.stopped(&k), vec![Action::DeleteNow { key: k.clone(), uid: "uid-web".to_string() }]);
        assert_eq!(t.used(), (0, 0, 0));
        assert_eq!(t.stopped(&k), vec![]);
        assert_eq!(t.forgotten(&k), vec![Action::Forget { key: k.clone() }]);
        assert_eq!(t.forgotten(&k), vec![]);

        // Deleted while still starting: the start timer then does nothing.
        let mut q = pod_on("q", "n1", "1", "0");
        assert!(start_of(&t.observe(&q)).is_some());
        q["metadata"]["deletionTimestamp"] = json!(T1);
        assert!(matches!(t.observe(&q).as_slice(), [Action::Stop { .. }]));
        assert_eq!(t.started(&key("q")), vec![]);
        assert_eq!(t.stopped(&key("q")), vec![Action::DeleteNow { key: key("q"), uid: "uid-q".to_string() }]);
        // The DELETED event of another incarnation (uid differs) is ignored.
        let mut other = q.clone();
        other["metadata"]["uid"] = json!("someone-else");
        assert_eq!(t.observe_deleted(&other), vec![]);
        assert_eq!(t.observe_deleted(&q), vec![Action::Forget { key: key("q") }]);

        // A pod first seen already terminating is stopped and deleted too.
        let mut r = pod_on("r", "n1", "1", "0");
        r["metadata"]["deletionTimestamp"] = json!(T1);
        assert!(matches!(t.observe(&r).as_slice(), [Action::Stop { .. }]));
        assert_eq!(t.used(), (0, 0, 0));
        assert_eq!(t.stopped(&key("r")), vec![Action::DeleteNow { key: key("r"), uid: "uid-r".to_string() }]);
    }

    #[test]
    fn pods_moved_away_are_forgotten() {
        let mut t = PodTracker::new(&cfg(), 5);
        let mut p = pod_on("m", "n1", "2", "1Gi");
        let k = key("m");
        assert!(start_of(&t.observe(&p)).is_some());
        assert_eq!(t.used(), (2000, 1 << 30, 1));
        p["spec"]["nodeName"] = json!("n2");
        check(&mut t, &p, vec![Action::Forget { key: k.clone() }]);
        assert_eq!(t.used(), (0, 0, 0));
        assert_eq!(t.started(&k), vec![]);
        // Someone else's pod is no concern.
        check(&mut t, &p, vec![]);
        p["spec"]["nodeName"] = json!("");
        check(&mut t, &p, vec![]);

        // Recreated under the same name (new uid): the old one is forgotten, the new one admitted.
        let old = pod_on("same", "n1", "1", "0");
        assert!(start_of(&t.observe(&old)).is_some());
        let mut new = old.clone();
        new["metadata"]["uid"] = json!("uid-same-2");
        let acts = t.observe(&new);
        assert!(matches!(acts.as_slice(), [Action::Forget { .. }, Action::Start { .. }]), "{acts:?}");
        assert_eq!(t.used(), (1000, 0, 1));
    }

    #[test]
    fn terminal_pods_free_resources() {
        let c = KubeletConfig { capacity_cpu: "2".to_string(), ..cfg() };
        let mut t = PodTracker::new(&c, 9);
        let mut a = pod_on("a", "n1", "2", "0");
        assert!(start_of(&t.observe(&a)).is_some());
        assert_eq!(
            t.observe(&pod_on("b", "n1", "1", "0"))[0],
            Action::Reject {
                key: key("b"),
                reason: "OutOfcpu".to_string(),
                message: "Node didn't have enough resource: cpu, requested: 1000, used: 2000, capacity: 2000"
                    .to_string(),
            }
        );
        // Evicted / failed by someone else: terminal in the API frees the node.
        a["status"]["phase"] = json!("Failed");
        check(&mut t, &a, vec![]);
        assert_eq!(t.used(), (0, 0, 0));
        assert_eq!(t.started(&key("a")), vec![]);
        assert!(start_of(&t.observe(&pod_on("c", "n1", "2", "0"))).is_some());
        // Terminal pods first seen terminal are not admitted and take nothing.
        let mut done = pod_on("done", "n1", "2", "0");
        done["status"]["phase"] = json!("Succeeded");
        check(&mut t, &done, vec![]);
        assert_eq!(t.used(), (2000, 0, 1));
    }

    #[test]
    fn failures_follow_the_probability_and_restart_policy() {
        let c = KubeletConfig { run_duration_ms: Some((10, 10)), failure_probability: 1.0, ..cfg() };
        let mut t = PodTracker::new(&c, 1);
        for (name, policy, want) in [("never", "Never", false), ("onfailure", "OnFailure", true)] {
            let mut p = pod_on(name, "n1", "0", "0");
            p["spec"]["restartPolicy"] = json!(policy);
            t.observe(&p);
            let acts = t.started(&key(name));
            assert_eq!(acts[1], Action::Complete { key: key(name), succeeded: want, after_ms: 10 });
            assert_eq!(
                t.completed(&key(name)),
                vec![Action::SetCompleted { key: key(name), succeeded: want }]
            );
        }
    }

    #[test]
    fn same_seed_same_latencies() {
        let c = KubeletConfig { run_duration_ms: Some((0, 100_000)), failure_probability: 0.5, ..cfg() };
        let run = |seed: u64| {
            let mut t = PodTracker::new(&c, seed);
            let mut out = Vec::new();
            for i in 0..20 {
                let mut p = pod_on(&format!("p{i}"), "n1", "0", "0");
                p["spec"]["restartPolicy"] = json!("Never");
                out.extend(t.observe(&p));
                out.extend(t.started(&key(&format!("p{i}"))));
            }
            out
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
        let lat: BTreeSet<u64> = run(11).iter().filter_map(|a| start_of(std::slice::from_ref(a))).collect();
        assert!(lat.len() > 5 && lat.iter().all(|l| (500..=1500).contains(l)), "{lat:?}");
    }

    #[test]
    fn pod_ips() {
        assert_eq!(pod_ip("10.244.1.0/24", 0).as_deref(), Some("10.244.1.2"));
        assert_eq!(pod_ip("10.244.1.0/24", 252).as_deref(), Some("10.244.1.254"));
        assert_eq!(pod_ip("10.244.1.0/24", 253), None, "broadcast");
        assert_eq!(pod_ip("10.244.0.0/16", 300).as_deref(), Some("10.244.1.46"));
        assert_eq!(pod_ip("10.244.1.7/24", 0).as_deref(), Some("10.244.1.2"), "host bits masked");
        assert_eq!(pod_ip("fd00::/64", 0), None);
        assert_eq!(pod_ip("10.0.0.0/33", 0), None);
        // The tracker reuses freed addresses, lowest first.
        let mut t = PodTracker::new(&cfg(), 1);
        for n in ["a", "b", "c"] {
            t.observe(&pod_on(n, "n1", "0", "0"));
        }
        let mut b = pod_on("b", "n1", "0", "0");
        b["spec"]["nodeName"] = json!("elsewhere");
        t.observe(&b);
        t.observe(&pod_on("d", "n1", "0", "0"));
        assert_eq!(t.pod_ip(&key("d")).as_deref(), Some("10.244.0.3"));
        assert_eq!(t.pod_ip(&key("c")).as_deref(), Some("10.244.0.4"));
    }

    // ---- shapes

    /// Removes nulls, which the typed round trip drops.
    fn strip_nulls(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip_nulls(v))).collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
            other => other.clone(),
        }
    }

    /// Every field survives a round trip through the k8s-openapi type: no misspelt field names.
    fn check_typed<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) {
        let typed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v:#}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), strip_nulls(v));
    }

    fn status_of(pod: &Value, status: Value) -> Value {
        let mut p = pod.clone();
        p["status"] = status;
        p
    }

    #[test]
    fn the_kept_pod_has_what_status_writes_use_and_nothing_else() {
        let mut t = PodTracker::new(&cfg(), 1);
        let mut p = pod_on("web", "n1", "250m", "64Mi");
        p["metadata"]["labels"] = json!({"app": "web"});
        p["metadata"]["resourceVersion"] = json!("7");
        p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox:1.36"}]);
        p["spec"]["restartPolicy"] = json!("OnFailure");
        p["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        p["spec"]["dnsPolicy"] = json!("ClusterFirst");
        t.observe(&p);
        let kept = t.pod(&key("web")).expect("tracked");
        assert_eq!(kept["metadata"], p["metadata"]);
        assert_eq!(kept["status"], p["status"]);
        assert_eq!((&kept["apiVersion"], &kept["kind"]), (&p["apiVersion"], &p["kind"]));
        for f in ["nodeName", "restartPolicy", "initContainers", "containers"] {
            assert_eq!(kept["spec"][f], p["spec"][f], "spec.{f}");
        }
        assert!(kept["spec"].get("tolerations").is_none() && kept["spec"].get("dnsPolicy").is_none());
        // The statuses built from it equal those built from the whole pod.
        assert_eq!(
            running_status(&kept, "10.0.0.1", "10.244.0.2", T1),
            running_status(&p, "10.0.0.1", "10.244.0.2", T1)
        );
        assert_eq!(completed_status(&kept, false, T1), completed_status(&p, false, T1));
    }

    #[test]
    fn running_status_shape() {
        let mut p = pod_on("web", "n1", "250m", "64Mi");
        p["spec"]["initContainers"] = json!([
            {"name": "init", "image": "busybox:1.36"},
            {"name": "side", "image": "registry.k8s.io/pause:3.9", "restartPolicy": "Always"},
        ]);
        let s = running_status(&p, "10.0.0.1", "10.244.0.2", T1);
        check_typed::<k8s_openapi::api::core::v1::Pod>(&status_of(&p, s.clone()));
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["observedGeneration"], 1);
        assert_eq!(s["startTime"], T1);
        assert_eq!(s["qosClass"], "Burstable");
        assert_eq!(s["hostIP"], "10.0.0.1");
        assert_eq!(s["hostIPs"], json!([{"ip": "10.0.0.1"}]));
        assert_eq!(s["podIP"], "10.244.0.2");
        assert_eq!(s["podIPs"], json!([{"ip": "10.244.0.2"}]));
        let types: Vec<(&str, &str)> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("PodReadyToStartContainers", "True"),
                ("Initialized", "True"),
                ("Ready", "True"),
                ("ContainersReady", "True"),
                ("PodScheduled", "True")
            ]
        );
        assert_eq!(s["conditions"][4]["lastTransitionTime"], T0, "PodScheduled kept");
        assert_eq!(s["conditions"][2]["lastTransitionTime"], T1);
        let cs = &s["containerStatuses"][0];
        assert_eq!(cs["name"], "c");
        assert_eq!(cs["state"], json!({"running": {"startedAt": T1}}));
        assert_eq!(cs["lastState"], json!({}));
        assert_eq!(
            (cs["ready"].clone(), cs["started"].clone(), cs["restartCount"].clone()),
            (json!(true), json!(true), json!(0))
        );
        assert_eq!(cs["image"], "docker.io/library/nginx:latest");
        assert!(cs["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"));
        assert_eq!(cs["imageID"].as_str().unwrap().len(), "docker.io/library/nginx@sha256:".len() + 64);
        assert!(cs["containerID"].as_str().unwrap().starts_with("kubesim://"));
        let ics = s["initContainerStatuses"].as_array().unwrap();
        assert_eq!(ics[0]["state"]["terminated"]["reason"], "Completed");
        assert_eq!(ics[0]["image"], "docker.io/library/busybox:1.36");
        assert_eq!(ics[1]["state"]["running"]["startedAt"], T1);
        assert_eq!(ics[1]["image"], "registry.k8s.io/pause:3.9");

        // Writing it again later keeps the transition and start times; qosClass is kept.
        let mut p2 = status_of(&p, s);
        p2["status"]["qosClass"] = json!("Guaranteed");
        let s2 = running_status(&p2, "10.0.0.1", "10.244.0.2", "2024-01-01T00:01:00Z");
        assert_eq!(s2["conditions"][2]["lastTransitionTime"], T1);
        assert_eq!(s2["startTime"], T1);
        assert_eq!(s2["containerStatuses"][0]["state"]["running"]["startedAt"], T1);
        assert_eq!(s2["qosClass"], "Guaranteed");
    }

    #[test]
    fn completed_and_failed_status_shapes() {
        let p = pod_on("job", "n1", "0", "0");
        let running = status_of(&p, running_status(&p, "10.0.0.1", "10.244.0.9", T0));
        for (succeeded, phase, code, reason, cond_reason) in
            [(true, "Succeeded", 0, "Completed", "PodCompleted"), (false, "Failed", 1, "Error", "PodFailed")]
        {
            let s = completed_status(&running, succeeded, T1);
            check_typed::<k8s_openapi::api::core::v1::Pod>(&status_of(&p, s.clone()));
            assert_eq!(s["phase"], phase);
            assert_eq!(s["qosClass"], "BestEffort");
            assert_eq!(s["podIP"], "10.244.0.9", "IPs kept");
            let term = &s["containerStatuses"][0]["state"]["terminated"];
            assert_eq!(term["exitCode"], code);
            assert_eq!(term["reason"], reason);
            assert_eq!(term["startedAt"], T0);
            assert_eq!(term["finishedAt"], T1);
            assert_eq!(term["containerID"], s["containerStatuses"][0]["containerID"]);
            assert_eq!(s["containerStatuses"][0]["ready"], false);
            assert_eq!(s["containerStatuses"][0]["started"], false);
            let ready = s["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
            assert_eq!(
                (ready["status"].as_str(), ready["reason"].as_str()),
                (Some("False"), Some(cond_reason))
            );
            assert_eq!(ready["lastTransitionTime"], T1);
            assert_eq!(s["conditions"][0]["type"], "PodReadyToStartContainers");
            assert_eq!(s["conditions"][0]["status"], "False");
        }

        let s = rejected_status(
            &p,
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 500, used: 3800, capacity: 4000",
            T1,
        );
        check_typed::<k8s_openapi::api::core::v1::Pod>(&status_of(&p, s.clone()));
        assert_eq!(
            s,
            json!({
                "observedGeneration": 1,
                "phase": "Failed",
                "reason": "OutOfcpu",
                "message": "Pod was rejected: Node didn't have enough resource: cpu, requested: 500, used: 3800, capacity: 4000",
                "startTime": T1,
                "qosClass": "BestEffort",
                "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": T0}],
            })
        );
        assert_eq!(failed_status(&p, "X", "y", T1)["message"], "y");
    }

    #[test]
    fn qos_classes() {
        let with = |res: Value| json!({"spec": {"containers": [{"name": "c", "resources": res}]}});
        assert_eq!(compute_qos(&with(json!({}))), "BestEffort");
        assert_eq!(compute_qos(&with(json!({"requests": {"cpu": "1"}}))), "Burstable");
        assert_eq!(compute_qos(&with(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))), "Guaranteed");
        assert_eq!(
            compute_qos(&with(
                json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            compute_qos(&with(
                json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Burstable"
        );
    }

    #[test]
    fn node_shape() {
        let c = KubeletConfig {
            instance_type: Some("m5.large".to_string()),
            allocatable_memory: Some("15Gi".to_string()),
            labels: BTreeMap::from([("topology.kubernetes.io/zone".to_string(), "z1".to_string())]),
            taints: vec![NodeTaint { key: "k".to_string(), value: None, effect: "NoSchedule".to_string() }],
            ..cfg()
        };
        assert_eq!(c.validate(), Ok(()));
        let n = serde_json::to_value(node_object(&c, T0)).unwrap();
        check_typed::<k8s_openapi::api::core::v1::Node>(&n);
        let labels = &n["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels["node.kubernetes.io/instance-type"], "m5.large");
        assert_eq!(labels["topology.kubernetes.io/zone"], "z1");
        assert_eq!(n["spec"]["podCIDR"], "10.244.0.0/24");
        assert_eq!(n["spec"]["taints"], json!([{"key": "k", "effect": "NoSchedule"}]));
        assert_eq!(n["status"]["capacity"]["memory"], "16Gi");
        assert_eq!(n["status"]["allocatable"]["memory"], "15Gi");
        assert_eq!(n["status"]["allocatable"]["cpu"], "4");
        assert_eq!(n["status"]["allocatable"]["pods"], "110");
        assert_eq!(
            n["status"]["addresses"],
            json!([{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}])
        );
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], "v1.34.0-kubesim");
        assert_eq!(n["status"]["nodeInfo"]["containerRuntimeVersion"], "kubesim://0.1");
        let conds = n["status"]["conditions"].as_array().unwrap();
        let summary: Vec<(&str, &str, &str)> = conds
            .iter()
            .map(|c| {
                (c["type"].as_str().unwrap(), c["status"].as_str().unwrap(), c["reason"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID"),
                ("Ready", "True", "KubeletReady")
            ]
        );
        assert_eq!(conds[3]["message"], "kubelet is posting ready status");
        assert!(conds.iter().all(|c| c["lastHeartbeatTime"] == T0 && c["lastTransitionTime"] == T0));
        // A node without instance type has no instance-type label.
        assert!(!node_object(&cfg(), T0)
            .metadata
            .labels
            .unwrap()
            .contains_key("node.kubernetes.io/instance-type"));

        let hb = serde_json::to_value(node_status_patch(&c, true, T1, false)).unwrap();
        let conds = hb["status"]["conditions"].as_array().unwrap();
        assert_eq!(conds.len(), 4);
        assert!(conds.iter().all(|c| c["lastHeartbeatTime"] == T1 && c.get("lastTransitionTime").is_none()));
        let down = serde_json::to_value(node_status_patch(&c, false, T1, true)).unwrap();
        assert_eq!(down["status"]["conditions"][3]["status"], "False");
        assert_eq!(down["status"]["conditions"][3]["reason"], "KubeletNotReady");
        assert_eq!(down["status"]["conditions"][3]["lastTransitionTime"], T1);
        assert!(down["status"]["conditions"][0].get("lastTransitionTime").is_none());
    }

    #[test]
    fn lease_shape() {
        let l =
            serde_json::to_value(lease_object("n1", Some("node-uid"), "2024-01-01T00:00:00Z", 40)).unwrap();
        check_typed::<k8s_openapi::api::coordination::v1::Lease>(&l);
        assert_eq!(
            l,
            json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": "n1", "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-uid"}],
                },
                "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2024-01-01T00:00:00.000000Z"},
            })
        );
        let l = serde_json::to_value(lease_object(
            "n1",
            None,
            "2024-01-01T00:00:00.123456789Z",
            NODE_LEASE_DURATION_SECONDS,
        ))
        .unwrap();
        assert!(l["metadata"].get("ownerReferences").is_none());
        assert_eq!(l["spec"]["renewTime"], "2024-01-01T00:00:00.123456Z");
        assert_eq!(
            serde_json::to_value(lease_renew_patch("2024-01-01T00:00:01.5Z")).unwrap(),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {},
                   "spec": {"renewTime": "2024-01-01T00:00:01.500000Z"}})
        );
    }

    #[test]
    fn time_formatting() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339_from_unix(-1), "1969-12-31T23:59:59Z");
        assert_eq!(micro_time_from_unix_micros(1_704_067_200_000_042), "2024-01-01T00:00:00.000042Z");
    }

    #[test]
    fn config_validation() {
        assert_eq!(KubeletConfig::default().validate(), Ok(()));
        let bad = KubeletConfig { capacity_cpu: "four".to_string(), ..cfg() };
        assert_eq!(bad.validate(), Err("capacity cpu: invalid quantity \"four\"".to_string()));
        let bad = KubeletConfig { pod_cidr: "10.0.0.0".to_string(), ..cfg() };
        assert!(bad.validate().is_err());
        let bad = KubeletConfig { start_latency_ms: (10, 5), ..cfg() };
        assert!(bad.validate().is_err());
    }
}
