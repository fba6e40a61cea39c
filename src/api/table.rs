//! Server-side `Table` output (`meta.k8s.io/v1`) for `kubectl get`.
//!
//! kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`
//! (kubectl `pkg/cmd/get/get.go`), for lists and for watches (`kubectl get -w`: every watch event's
//! object is a Table holding one row). Columns and cells follow kube-apiserver's printers
//! (k/k `pkg/printers/internalversion/printers.go`), which the server always runs with `Wide: true`:
//! every column, priority-1 ones included, gets a cell and kubectl hides priority-1 columns unless
//! `-o wide`. Kinds without a printer (Role, ClusterRole) get the default convertor's columns
//! `Name` + `Created At` (apiserver `pkg/registry/rest/table.go`). Ages are
//! `duration.HumanDuration` (apimachinery `pkg/util/duration`), `<unknown>` when the timestamp is unset.

use serde_json::{json, Map, Value};

use crate::api::resources::Resource;

/// `includeObject` query parameter (`metav1.IncludeObjectPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// `None`: rows carry no object.
    None,
    /// `Metadata` (default): rows carry a `PartialObjectMetadata`.
    Metadata,
    /// `Object`: rows carry the full object (kubectl asks for it with `--sort-by`).
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` parameter; absent or unrecognised → `Metadata` (the default).
    pub fn parse(s: Option<&str>) -> IncludeObject {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The Table media type kubectl asks for first.
pub const TABLE_MEDIA_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether an Accept header asks for a `meta.k8s.io/v1` Table: the first clause (in quality order)
/// that names JSON (`application/json`, `application/*`, `*/*`) decides; `as=Table;g=meta.k8s.io;v=v1`
/// selects a Table, a clause without `as`/`g`/`v` selects the plain object, other conversions
/// (e.g. the v1beta1 Table, not served here) are skipped.
pub fn wants_table(accept: &str) -> bool {
    // (quality, names JSON, parameters)
    type Clause = (f64, bool, Vec<(String, String)>);
    let mut clauses: Vec<Clause> = Vec::new();
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let mt = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let json_like = matches!(mt.as_str(), "application/json" | "application/*" | "*/*");
        let mut q = 1.0;
        let mut params = Vec::new();
        for p in pieces {
            if let Some((k, v)) = p.split_once('=') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                if k == "q" {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
        }
        clauses.push((q, json_like, params));
    }
    clauses.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    for (q, json_like, params) in clauses {
        if q <= 0.0 || !json_like {
            continue;
        }
        let get = |k: &str| params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.as_str());
        let (g, v, a) = (get("g"), get("v"), get("as"));
        if g.is_none() && v.is_none() && a.is_none() {
            return false;
        }
        if a == Some("Table") && g == Some("meta.k8s.io") && v == Some("v1") {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Time helpers
// ---------------------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00Z`, fractional seconds and `±hh:mm` offsets
/// allowed) into Unix seconds (fraction dropped). None if malformed.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, se) =
        (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1, i + 3)?;
            let om = num(i + 4, i + 6)?;
            let o = oh * 3600 + om * 60;
            if *c == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Formats Unix seconds as RFC 3339 UTC (`2024-05-01T10:00:00Z`), as Go's `time.RFC3339` does.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// apimachinery `duration.HumanDuration` for a duration in whole seconds: "5s", "119s", "3m2s",
/// "15m", "4h", "4h30m", "30h", "2d3h", "45d", "3y20d", "10y"; "0s" for -1..0, "<invalid>" below.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_owned();
    }
    if secs < 0 {
        return "0s".to_owned();
    }
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// printers' `translateTimestampSince`: "<unknown>" for an unset/unparsable timestamp.
fn since(ts: Option<&Value>, now: i64) -> String {
    match ts.and_then(Value::as_str).and_then(parse_rfc3339) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
        if cur.is_null() {
            return None;
        }
    }
    Some(cur)
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".to_owned()
    } else {
        x.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(name: &str, typ: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({ "name": name, "type": typ, "format": format, "description": description, "priority": priority })
}

fn name_col() -> Value {
    col("Name", "string", "name", NAME_DESC, 0)
}

fn age_col() -> Value {
    col("Age", "string", "", AGE_DESC, 0)
}

/// The column definitions kube-apiserver uses for `resource`'s kind.
pub fn column_definitions(resource: &Resource) -> Value {
    let cols = match resource.kind {
        "Pod" => vec![
            name_col(),
            col("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0),
            col("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
            col("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
            age_col(),
            col("IP", "string", "", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
            col("Node", "string", "", "NodeName indicates in which node this pod is scheduled.", 1),
            col("Nominated Node", "string", "", "nominatedNodeName is set only when this pod preempts other pods on the node.", 1),
            col("Readiness Gates", "string", "", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
        ],
        "Node" => vec![
            name_col(),
            col("Status", "string", "", "The status of the node", 0),
            col("Roles", "string", "", "The roles of the node", 0),
            age_col(),
            col("Version", "string", "", "Kubelet Version reported by the node.", 0),
            col("Internal-IP", "string", "", "List of addresses reachable to the node.", 1),
            col("External-IP", "string", "", "List of addresses reachable to the node.", 1),
            col("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
            col("Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
            col("Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
        ],
        "Namespace" => vec![name_col(), col("Status", "string", "", "The status of the namespace", 0), age_col()],
        "Secret" => vec![
            name_col(),
            col("Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0),
            col("Data", "string", "", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.", 0),
            age_col(),
        ],
        "ConfigMap" => vec![
            name_col(),
            col("Data", "string", "", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.", 0),
            age_col(),
        ],
        "Event" => vec![
            col("Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0),
            col("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0),
            col("Reason", "string", "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
            col("Object", "string", "", "The object that this event is about.", 0),
            col("Subobject", "string", "", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.", 1),
            col("Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1),
            col("Message", "string", "", "A human-readable description of the status of this operation.", 0),
            col("First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
            col("Count", "string", "", "The number of times this event has occurred.", 1),
            col("Name", "string", "name", NAME_DESC, 1),
        ],
        "Lease" => vec![
            name_col(),
            col("Holder", "string", "", "holderIdentity contains the identity of the holder of a current lease.", 0),
            age_col(),
        ],
        "RoleBinding" | "ClusterRoleBinding" => {
            let what = if resource.kind == "RoleBinding" { "roleBinding" } else { "clusterRoleBinding" };
            vec![
                name_col(),
                col("Role", "string", "", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.", 0),
                age_col(),
                col("Users", "string", "", &format!("Users in the {what}"), 1),
                col("Groups", "string", "", &format!("Groups in the {what}"), 1),
                col("ServiceAccounts", "string", "", &format!("ServiceAccounts in the {what}"), 1),
            ]
        }
        // Default table convertor (Role, ClusterRole and anything without a printer).
        _ => vec![
            name_col(),
            col("Created At", "date", "", AGE_DESC, 0),
        ],
    };
    Value::Array(cols)
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// The cells (and row conditions) of one object.
fn cells(resource: &Resource, obj: &Value, now: i64) -> (Vec<Value>, Option<Value>) {
    let name = s(obj, &["metadata", "name"]).to_owned();
    let age = since(at(obj, &["metadata", "creationTimestamp"]), now);
    match resource.kind {
        "Pod" => pod_cells(obj, now),
        "Node" => (node_cells(obj, now), None),
        "Namespace" => (vec![json!(name), json!(s(obj, &["status", "phase"])), json!(age)], None),
        "Secret" => {
            let count = at(obj, &["data"]).and_then(Value::as_object).map_or(0, Map::len);
            (vec![json!(name), json!(s(obj, &["type"])), json!(count), json!(age)], None)
        }
        "ConfigMap" => {
            let count = |k: &str| at(obj, &[k]).and_then(Value::as_object).map_or(0, Map::len);
            (vec![json!(name), json!(count("data") + count("binaryData")), json!(age)], None)
        }
        "Event" => (event_cells(obj, now), None),
        "Lease" => (vec![json!(name), json!(s(obj, &["spec", "holderIdentity"])), json!(age)], None),
        "RoleBinding" | "ClusterRoleBinding" => {
            let role_ref = format!("{}/{}", s(obj, &["roleRef", "kind"]), s(obj, &["roleRef", "name"]));
            let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
            for subj in arr(obj, &["subjects"]) {
                let n = s(subj, &["name"]);
                match s(subj, &["kind"]) {
                    "ServiceAccount" => sas.push(format!("{}/{}", s(subj, &["namespace"]), n)),
                    "User" => users.push(n.to_owned()),
                    "Group" => groups.push(n.to_owned()),
                    _ => {}
                }
            }
            (
                vec![
                    json!(name),
                    json!(role_ref),
                    json!(age),
                    json!(users.join(", ")),
                    json!(groups.join(", ")),
                    json!(sas.join(", ")),
                ],
                None,
            )
        }
        _ => {
            let created = at(obj, &["metadata", "creationTimestamp"])
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
                .map(format_rfc3339)
                // Go formats the zero time.
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned());
            (vec![json!(name), json!(created)], None)
        }
    }
}

/// Whether a container spec in `initContainers` is a sidecar (`restartPolicy: Always`).
fn is_restartable_init(pod: &Value, name: &str) -> bool {
    arr(pod, &["spec", "initContainers"])
        .iter()
        .any(|c| s(c, &["name"]) == name && s(c, &["restartPolicy"]) == "Always")
}

fn has_condition(pod: &Value, typ: &str) -> bool {
    arr(pod, &["status", "conditions"]).iter().any(|c| s(c, &["type"]) == typ && s(c, &["status"]) == "True")
}

/// The Pod printer (`printPod`): Name, Ready, Status, Restarts, Age, IP, Node, Nominated Node,
/// Readiness Gates; row condition `Completed` for Succeeded/Failed pods.
fn pod_cells(pod: &Value, now: i64) -> (Vec<Value>, Option<Value>) {
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut total = arr(pod, &["spec", "containers"]).len() as i64;
    let mut ready: i64 = 0;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let phase = s(pod, &["status", "phase"]);
    let mut reason = phase.to_owned();
    let status_reason = s(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_owned();
    }
    for c in arr(pod, &["status", "conditions"]) {
        if s(c, &["type"]) == "PodScheduled" && s(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_owned();
        }
    }
    let conditions = match phase {
        "Succeeded" => Some(
            json!([{ "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully." }]),
        ),
        "Failed" => Some(
            json!([{ "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed." }]),
        ),
        _ => None,
    };
    let init_specs = arr(pod, &["spec", "initContainers"]);
    total += init_specs.iter().filter(|c| s(c, &["restartPolicy"]) == "Always").count() as i64;

    let finished = |c: &Value| {
        at(c, &["lastState", "terminated", "finishedAt"]).and_then(Value::as_str).and_then(parse_rfc3339)
    };
    let later = |cur: Option<i64>, t: Option<i64>| match (cur, t) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (None, b) => b,
        (a, None) => a,
    };

    let mut initializing = false;
    let n_init = init_specs.len();
    for (i, c) in arr(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
        let cname = s(c, &["name"]);
        restarts += int(c, &["restartCount"]);
        if at(c, &["lastState", "terminated"]).is_some() {
            last_restart = later(last_restart, finished(c));
        }
        let sidecar = is_restartable_init(pod, cname);
        if sidecar {
            sidecar_restarts += int(c, &["restartCount"]);
            if at(c, &["lastState", "terminated"]).is_some() {
                last_sidecar_restart = later(last_sidecar_restart, finished(c));
            }
        }
        let terminated = at(c, &["state", "terminated"]);
        let waiting_reason = s(c, &["state", "waiting", "reason"]);
        if terminated.is_some() && int(c, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if sidecar && at(c, &["started"]).and_then(Value::as_bool) == Some(true) {
            if at(c, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let tr = s(t, &["reason"]);
            reason = if tr.is_empty() {
                let sig = int(t, &["signal"]);
                if sig != 0 {
                    format!("Init:Signal:{sig}")
                } else {
                    format!("Init:ExitCode:{}", int(t, &["exitCode"]))
                }
            } else {
                format!("Init:{tr}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{n_init}");
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in arr(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(c, &["restartCount"]);
            if at(c, &["lastState", "terminated"]).is_some() {
                last_restart = later(last_restart, finished(c));
            }
            let waiting_reason = s(c, &["state", "waiting", "reason"]);
            let terminated = at(c, &["state", "terminated"]);
            let term_reason = terminated.map(|t| s(t, &["reason"])).unwrap_or("");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if terminated.is_some() && !term_reason.is_empty() {
                reason = term_reason.to_owned();
            } else if let Some(t) = terminated {
                let sig = int(t, &["signal"]);
                reason = if sig != 0 {
                    format!("Signal:{sig}")
                } else {
                    format!("ExitCode:{}", int(t, &["exitCode"]))
                };
            } else if at(c, &["ready"]).and_then(Value::as_bool) == Some(true)
                && at(c, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_condition(pod, "Ready") { "Running".to_owned() } else { "NotReady".to_owned() };
        }
    }

    let deleting = at(pod, &["metadata", "deletionTimestamp"]).is_some();
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };

    let mut ip = arr(pod, &["status", "podIPs"]).first().map(|p| s(p, &["ip"])).unwrap_or("").to_owned();
    if ip.is_empty() {
        ip = s(pod, &["status", "podIP"]).to_owned();
    }
    let gates = arr(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conds = arr(pod, &["status", "conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = s(g, &["conditionType"]);
                conds.iter().find(|c| s(c, &["type"]) == t).is_some_and(|c| s(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    let cells = vec![
        json!(s(pod, &["metadata", "name"])),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_str),
        json!(since(at(pod, &["metadata", "creationTimestamp"]), now)),
        json!(or_none(&ip)),
        json!(or_none(s(pod, &["spec", "nodeName"]))),
        json!(or_none(s(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ];
    (cells, conditions)
}

/// The Node printer (`printNode`).
fn node_cells(node: &Value, now: i64) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    // Last condition of a type wins, as with the printer's map.
    if let Some(c) = arr(node, &["status", "conditions"]).iter().rev().find(|c| s(c, &["type"]) == "Ready") {
        status.push(if s(c, &["status"]) == "True" { "Ready".to_owned() } else { "NotReady".to_owned() });
    }
    if status.is_empty() {
        status.push("Unknown".to_owned());
    }
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".to_owned());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = at(node, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            let role = if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                r.to_owned()
            } else if k == "kubernetes.io/role" {
                v.as_str().unwrap_or("").to_owned()
            } else {
                continue;
            };
            if !role.is_empty() && !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
    roles.sort();
    let addr = |typ: &str| {
        arr(node, &["status", "addresses"])
            .iter()
            .find(|a| s(a, &["type"]) == typ)
            .map(|a| s(a, &["address"]).to_owned())
            .unwrap_or_else(|| "<none>".to_owned())
    };
    let info = |k: &str| {
        let v = s(node, &["status", "nodeInfo", k]);
        if v.is_empty() {
            "<unknown>".to_owned()
        } else {
            v.to_owned()
        }
    };
    vec![
        json!(s(node, &["metadata", "name"])),
        json!(status.join(",")),
        json!(if roles.is_empty() { "<none>".to_owned() } else { roles.join(",") }),
        json!(since(at(node, &["metadata", "creationTimestamp"]), now)),
        json!(s(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// The Event printer (`printEvent`, wide).
fn event_cells(ev: &Value, now: i64) -> Vec<Value> {
    let first = match at(ev, &["firstTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => since(at(ev, &["eventTime"]), now),
    };
    let mut last = match at(ev, &["lastTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int(ev, &["count"]);
    if at(ev, &["series"]).is_some() {
        last = since(at(ev, &["series", "lastObservedTime"]), now);
        count = int(ev, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = s(ev, &["involvedObject", "kind"]).to_lowercase();
    let obj_name = s(ev, &["involvedObject", "name"]);
    let target = if obj_name.is_empty() { kind } else { format!("{kind}/{obj_name}") };
    let first_non_empty = |a: &str, b: &str| if a.is_empty() { b.to_owned() } else { a.to_owned() };
    let component = first_non_empty(s(ev, &["source", "component"]), s(ev, &["reportingComponent"]));
    let instance = first_non_empty(s(ev, &["source", "host"]), s(ev, &["reportingInstance"]));
    let source = if component.is_empty() {
        String::new()
    } else if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(s(ev, &["type"])),
        json!(s(ev, &["reason"])),
        json!(target),
        json!(s(ev, &["involvedObject", "fieldPath"])),
        json!(source),
        json!(s(ev, &["message"]).trim()),
        json!(first),
        json!(count),
        json!(s(ev, &["metadata", "name"])),
    ]
}

/// The object a row carries for `include`.
fn row_object(resource: &Resource, obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => {
            let mut o = obj.clone();
            if let Some(m) = o.as_object_mut() {
                m.entry("apiVersion").or_insert_with(|| json!(resource.api_version()));
                m.entry("kind").or_insert_with(|| json!(resource.kind));
            }
            o
        }
    }
}

/// One `TableRow` for `obj`.
pub fn table_row(resource: &Resource, obj: &Value, include: IncludeObject, now_unix_secs: i64) -> Value {
    let (cells, conditions) = cells(resource, obj, now_unix_secs);
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells));
    if let Some(c) = conditions {
        row.insert("conditions".into(), c);
    }
    row.insert("object".into(), row_object(resource, obj, include));
    Value::Object(row)
}

fn table(resource: &Resource, rows: Vec<Value>, metadata: Value) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions(resource),
        "rows": rows,
    })
}

/// A `Table` for a list response. `list_metadata` is the list's `metadata` (its `resourceVersion`,
/// `continue` and `remainingItemCount` are carried over; empty `continue` is dropped).
pub fn to_table(
    resource: &Resource,
    objects: &[Value],
    list_metadata: Value,
    include: IncludeObject,
    now_unix_secs: i64,
) -> Value {
    let mut md = Map::new();
    for k in ["resourceVersion", "continue", "remainingItemCount"] {
        if let Some(v) = list_metadata.get(k) {
            if v.is_null() || v.as_str() == Some("") {
                continue;
            }
            md.insert(k.to_owned(), v.clone());
        }
    }
    let rows = objects.iter().map(|o| table_row(resource, o, include, now_unix_secs)).collect();
    table(resource, rows, Value::Object(md))
}

/// The object of one watch event when the watch was asked for as a Table (`kubectl get -w`): a
/// `Table` with the column definitions and a single row for `object` (the object's state in the
/// event; for DELETED its last state). `metadata.resourceVersion` is the object's. Wrap it as
/// `{"type": <event type>, "object": <this>}`.
pub fn to_table_row_event(
    resource: &Resource,
    object: &Value,
    include: IncludeObject,
    now_unix_secs: i64,
) -> Value {
    let rv = s(object, &["metadata", "resourceVersion"]);
    let md = if rv.is_empty() { json!({}) } else { json!({ "resourceVersion": rv }) };
    table(resource, vec![table_row(resource, object, include, now_unix_secs)], md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{find, RESOURCES};

    fn res(group: &str, plural: &str) -> &'static Resource {
        find(group, "v1", plural).unwrap()
    }

    const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn ts(secs_ago: i64) -> String {
        format_rfc3339(NOW - secs_ago)
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (4 * 3600, "4h"),
            (4 * 3600 + 30 * 60, "4h30m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (3 * 365 * 86400 + 20 * 86400, "3y20d"),
            (10 * 365 * 86400, "10y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(*secs), *want, "{secs}");
        }
    }

    #[test]
    fn rfc3339_roundtrip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123456Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2023-11-15T00:13:20+02:00"), Some(NOW));
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00Z"), Some(951_825_600));
        assert_eq!(format_rfc3339(NOW), "2023-11-14T22:13:20Z");
        assert_eq!(format_rfc3339(951_825_600), "2000-02-29T12:00:00Z");
        assert!(parse_rfc3339("not a time").is_none());
        assert!(parse_rfc3339("2023-13-14T22:13:20Z").is_none());
        assert!(parse_rfc3339("2023-11-14T22:13:20").is_none());
    }

    #[test]
    fn include_object_parse() {
        assert_eq!(IncludeObject::parse(None), IncludeObject::Metadata);
        assert_eq!(IncludeObject::parse(Some("None")), IncludeObject::None);
        assert_eq!(IncludeObject::parse(Some("Object")), IncludeObject::Object);
        assert_eq!(IncludeObject::parse(Some("Metadata")), IncludeObject::Metadata);
        assert_eq!(IncludeObject::parse(Some("bogus")), IncludeObject::Metadata);
    }

    #[test]
    fn accept_table() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
        assert!(!wants_table(""));
        assert!(!wants_table("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
    }

    fn running_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(300), "resourceVersion": "42",
                          "managedFields": []},
            "spec": {"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": ts(200)}}},
                    {"name": "b", "ready": true, "restartCount": 2, "state": {"running": {"startedAt": ts(100)}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(120)}}}
                ]
            }
        })
    }

    fn pod_cells_of(p: &Value) -> Vec<Value> {
        let r = res("", "pods");
        table_row(r, p, IncludeObject::None, NOW)["cells"].as_array().unwrap().clone()
    }

    #[test]
    fn pod_running() {
        let c = pod_cells_of(&running_pod());
        assert_eq!(c[0], "web");
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "2 (2m ago)");
        assert_eq!(c[4], "5m");
        assert_eq!(c[5], "10.0.0.5");
        assert_eq!(c[6], "node-1");
        assert_eq!(c[7], "<none>");
        assert_eq!(c[8], "<none>");
        assert_eq!(c.len(), column_definitions(res("", "pods")).as_array().unwrap().len());
    }

    #[test]
    fn pod_pending_unscheduled() {
        let p = json!({
            "metadata": {"name": "p", "creationTimestamp": ts(5)},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"}
        });
        let c = pod_cells_of(&p);
        assert_eq!(c[1], "0/1");
        assert_eq!(c[2], "Pending");
        assert_eq!(c[3], "0");
        assert_eq!(c[4], "5s");
        assert_eq!(c[5], "<none>");
        assert_eq!(c[6], "<none>");
    }

    #[test]
    fn pod_container_creating_and_waiting_reasons() {
        let mut p = json!({
            "metadata": {"name": "p", "creationTimestamp": ts(5)},
            "spec": {"nodeName": "n", "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}
        });
        assert_eq!(pod_cells_of(&p)[2], "ContainerCreating");
        p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        p["status"]["containerStatuses"][0]["restartCount"] = json!(3);
        assert_eq!(pod_cells_of(&p)[2], "CrashLoopBackOff");
        assert_eq!(pod_cells_of(&p)[3], "3");
        p["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 137}});
        assert_eq!(pod_cells_of(&p)[2], "ExitCode:137");
        p["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 0, "signal": 9}});
        assert_eq!(pod_cells_of(&p)[2], "Signal:9");
        p["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        assert_eq!(pod_cells_of(&p)[2], "Completed");
    }

    #[test]
    fn pod_terminating_and_terminal() {
        let mut p = running_pod();
        p["metadata"]["deletionTimestamp"] = json!(ts(1));
        assert_eq!(pod_cells_of(&p)[2], "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_cells_of(&p)[2], "Unknown");

        let done = json!({
            "metadata": {"name": "job", "creationTimestamp": ts(60), "deletionTimestamp": ts(1)},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}
        });
        let row = table_row(res("", "pods"), &done, IncludeObject::None, NOW);
        assert_eq!(row["cells"][2], "Completed"); // terminal phase: not Terminating
        assert_eq!(row["cells"][1], "0/1");
        assert_eq!(row["conditions"][0]["type"], "Completed");
        assert_eq!(row["conditions"][0]["reason"], "Succeeded");
        assert_eq!(row["conditions"][0]["status"], "True");
    }

    #[test]
    fn pod_completed_with_running_sibling() {
        let p = json!({
            "metadata": {"name": "p", "creationTimestamp": ts(5)},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
              "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}},
                {"name": "b", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
              ]}
        });
        assert_eq!(pod_cells_of(&p)[2], "NotReady");
    }

    #[test]
    fn pod_init_and_gates() {
        let mut p = json!({
            "metadata": {"name": "p", "creationTimestamp": ts(5)},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}],
                     "readinessGates": [{"conditionType": "example.com/gate"}]},
            "status": {"phase": "Pending",
              "conditions": [{"type": "example.com/gate", "status": "True"}],
              "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
              ],
              "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}
        });
        let c = pod_cells_of(&p);
        assert_eq!(c[2], "Init:1/2");
        assert_eq!(c[8], "1/1");
        p["status"]["initContainerStatuses"][1]["state"] = json!({"waiting": {"reason": "ImagePullBackOff"}});
        assert_eq!(pod_cells_of(&p)[2], "Init:ImagePullBackOff");
        p["status"]["initContainerStatuses"][1]["state"] = json!({"terminated": {"exitCode": 2}});
        assert_eq!(pod_cells_of(&p)[2], "Init:ExitCode:2");
        // Scheduling gates.
        let gated = json!({
            "metadata": {"name": "g"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}
        });
        let c = pod_cells_of(&gated);
        assert_eq!(c[2], "SchedulingGated");
        assert_eq!(c[4], "<unknown>");
    }

    #[test]
    fn pod_sidecar_counts() {
        let p = json!({
            "metadata": {"name": "p", "creationTimestamp": ts(5)},
            "spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
              "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
              "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
              "containerStatuses": [{"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        });
        let c = pod_cells_of(&p);
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "1");
    }

    #[test]
    fn node_row() {
        let r = res("", "nodes");
        let mut n = json!({
            "metadata": {"name": "node-1", "creationTimestamp": ts(2 * 86400 + 3 * 3600),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker", "x": "y"}},
            "spec": {},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.1.0.1"}, {"type": "Hostname", "address": "node-1"}],
                "nodeInfo": {"kubeletVersion": "v1.34.0", "osImage": "Ubuntu", "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7"}
            }
        });
        let c = table_row(r, &n, IncludeObject::None, NOW)["cells"].clone();
        assert_eq!(
            c,
            json!([
                "node-1",
                "Ready",
                "control-plane,worker",
                "2d3h",
                "v1.34.0",
                "10.1.0.1",
                "<none>",
                "Ubuntu",
                "6.1",
                "containerd://1.7"
            ])
        );
        n["spec"]["unschedulable"] = json!(true);
        n["status"]["conditions"][1]["status"] = json!("Unknown");
        let c = table_row(r, &n, IncludeObject::None, NOW)["cells"].clone();
        assert_eq!(c[1], "NotReady,SchedulingDisabled");
        n["status"]["conditions"] = json!([]);
        n["metadata"]["labels"] = json!({});
        n["status"]["nodeInfo"] = json!({});
        let c = table_row(r, &n, IncludeObject::None, NOW)["cells"].clone();
        assert_eq!(c[1], "Unknown,SchedulingDisabled");
        assert_eq!(c[2], "<none>");
        assert_eq!(c[4], "");
        assert_eq!(c[7], "<unknown>");
        let cols = column_definitions(r);
        assert_eq!(cols[5]["name"], "Internal-IP");
        assert_eq!(cols[5]["priority"], 1);
    }

    #[test]
    fn simple_kinds() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ts(10)}, "status": {"phase": "Active"}});
        assert_eq!(
            table_row(res("", "namespaces"), &ns, IncludeObject::None, NOW)["cells"],
            json!(["default", "Active", "10s"])
        );
        let cm = json!({"metadata": {"name": "c", "creationTimestamp": ts(3600 * 30)}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!(
            table_row(res("", "configmaps"), &cm, IncludeObject::None, NOW)["cells"],
            json!(["c", 3, "30h"])
        );
        let lease = json!({"metadata": {"name": "node-1", "creationTimestamp": ts(40)}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(
            table_row(res("coordination.k8s.io", "leases"), &lease, IncludeObject::None, NOW)["cells"],
            json!(["node-1", "node-1", "40s"])
        );
        let rb = json!({"metadata": {"name": "rb", "creationTimestamp": ts(60)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "name": "sa", "namespace": "kube-system"}, {"kind": "User", "name": "bob"}]});
        assert_eq!(
            table_row(res("rbac.authorization.k8s.io", "rolebindings"), &rb, IncludeObject::None, NOW)
                ["cells"],
            json!(["rb", "ClusterRole/view", "60s", "alice, bob", "devs", "kube-system/sa"])
        );
        let role = json!({"metadata": {"name": "r", "creationTimestamp": "2023-11-14T22:00:00Z"}});
        let rr = res("rbac.authorization.k8s.io", "roles");
        assert_eq!(
            table_row(rr, &role, IncludeObject::None, NOW)["cells"],
            json!(["r", "2023-11-14T22:00:00Z"])
        );
        let cols = column_definitions(rr);
        assert_eq!(cols[1]["name"], "Created At");
        assert_eq!(cols[1]["type"], "date");
        assert_eq!(
            column_definitions(res("rbac.authorization.k8s.io", "clusterroles"))[1]["name"],
            "Created At"
        );
    }

    #[test]
    fn event_row() {
        let r = res("", "events");
        let ev = json!({
            "metadata": {"name": "web.17a", "creationTimestamp": ts(100)},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{a}"},
            "reason": "Scheduled", "type": "Normal", "message": "Successfully assigned default/web to node-1\n",
            "source": {"component": "default-scheduler"},
            "firstTimestamp": ts(100), "lastTimestamp": ts(30), "count": 2
        });
        let c = table_row(r, &ev, IncludeObject::None, NOW)["cells"].clone();
        assert_eq!(
            c,
            json!([
                "30s",
                "Normal",
                "Scheduled",
                "pod/web",
                "spec.containers{a}",
                "default-scheduler",
                "Successfully assigned default/web to node-1",
                "100s",
                2,
                "web.17a"
            ])
        );
        // New-style event: eventTime only, series.
        let ev2 = json!({
            "metadata": {"name": "e2"}, "involvedObject": {"kind": "Node"}, "reason": "R", "type": "Warning",
            "message": "m", "eventTime": "2023-11-14T22:13:10.000000Z", "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "series": {"count": 5, "lastObservedTime": "2023-11-14T22:13:18.500000Z"}
        });
        let c = table_row(r, &ev2, IncludeObject::None, NOW)["cells"].clone();
        assert_eq!(c[0], "2s");
        assert_eq!(c[3], "node");
        assert_eq!(c[5], "kubelet, node-1");
        assert_eq!(c[7], "10s");
        assert_eq!(c[8], 5);
        let cols = column_definitions(r);
        let names: Vec<&str> = cols.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            vec![
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
    }

    #[test]
    fn list_table_shape() {
        let r = res("", "pods");
        let t = to_table(
            r,
            &[running_pod()],
            json!({"resourceVersion": "99", "continue": "abc", "remainingItemCount": 3}),
            IncludeObject::Metadata,
            NOW,
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"]["resourceVersion"], "99");
        assert_eq!(t["metadata"]["continue"], "abc");
        assert_eq!(t["metadata"]["remainingItemCount"], 3);
        let cols = t["columnDefinitions"].as_array().unwrap();
        for c in cols {
            for k in ["name", "type", "format", "description", "priority"] {
                assert!(c.get(k).is_some(), "{k}");
            }
        }
        let names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            vec![
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(cols[0]["format"], "name");
        let row = &t["rows"][0];
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(row["object"]["metadata"]["name"], "web");
        assert!(row["object"].get("spec").is_none());

        let t = to_table(r, &[], json!({"resourceVersion": "5", "continue": ""}), IncludeObject::None, NOW);
        assert!(t["metadata"].get("continue").is_none());
        assert_eq!(t["rows"], json!([]));

        let mut bare = running_pod();
        bare.as_object_mut().unwrap().remove("kind");
        let t = to_table(r, &[bare], json!({}), IncludeObject::Object, NOW);
        assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
        assert_eq!(t["rows"][0]["object"]["apiVersion"], "v1");
        assert_eq!(t["rows"][0]["object"]["spec"]["nodeName"], "node-1");
        let t = to_table(r, &[running_pod()], json!({}), IncludeObject::None, NOW);
        assert!(t["rows"][0]["object"].is_null());
    }

    #[test]
    fn watch_event_table() {
        let r = res("", "pods");
        let t = to_table_row_event(r, &running_pod(), IncludeObject::Metadata, NOW);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["metadata"]["resourceVersion"], "42");
        assert_eq!(t["rows"].as_array().unwrap().len(), 1);
        assert_eq!(t["rows"][0]["cells"][0], "web");
        assert!(t["columnDefinitions"].as_array().unwrap().len() == 9);
    }

    #[test]
    fn every_resource_has_matching_cell_count() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": ts(1)}});
        for r in RESOURCES {
            let cols = column_definitions(r).as_array().unwrap().len();
            let cells = table_row(r, &obj, IncludeObject::None, NOW)["cells"].as_array().unwrap().len();
            assert_eq!(cols, cells, "{}", r.kind);
        }
    }
}
