//! kube-apiserver defaulting (k8s.io/kubernetes `pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/rbac/v1/defaults.go`, plus what the `DefaultTolerationSeconds`
//! and `Priority` admission plugins add to Pods), applied on the JSON wire
//! form so unknown fields and key order are preserved.
//!
//! Deterministic and idempotent: applying twice gives the same result.
//! Only absent (or null / empty-string where kube checks `== ""`) fields are
//! filled; present values are never changed.

use serde_json::{json, Map, Value};

/// Applies kube's defaults for `kind` to `obj` in place. Unknown kinds and
/// non-object values are left untouched.
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    match kind {
        "Pod" => default_pod(o),
        "Node" => default_node(o),
        "Namespace" => default_namespace(o),
        "Secret" => set_if_empty_str(o, "type", "Opaque"),
        "RoleBinding" | "ClusterRoleBinding" => default_role_binding(o),
        // ConfigMap, Event (core/v1), Lease, Role, ClusterRole, Binding: kube
        // has no defaulting for these.
        _ => {}
    }
}

fn is_unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn set_if_absent(o: &mut Map<String, Value>, k: &str, v: Value) {
    if is_unset(o.get(k)) {
        o.insert(k.to_string(), v);
    }
}

fn set_if_empty_str(o: &mut Map<String, Value>, k: &str, v: &str) {
    match o.get(k) {
        None | Some(Value::Null) => {
            o.insert(k.to_string(), Value::String(v.to_string()));
        }
        Some(Value::String(s)) if s.is_empty() => {
            o.insert(k.to_string(), Value::String(v.to_string()));
        }
        _ => {}
    }
}

/// Returns the object at `k`, creating `{}` when absent/null. `None` if the
/// existing value is not an object (left alone; validation/decoding reports it).
fn obj_at<'a>(o: &'a mut Map<String, Value>, k: &str) -> Option<&'a mut Map<String, Value>> {
    if is_unset(o.get(k)) {
        o.insert(k.to_string(), Value::Object(Map::new()));
    }
    o.get_mut(k).and_then(Value::as_object_mut)
}

/// `imagePullPolicy` default: `Always` for `:latest` or untagged (and
/// undigested) images, else `IfNotPresent`.
pub fn default_image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn default_probe(p: &mut Map<String, Value>) {
    set_if_absent(p, "timeoutSeconds", json!(1));
    set_if_absent(p, "periodSeconds", json!(10));
    set_if_absent(p, "successThreshold", json!(1));
    set_if_absent(p, "failureThreshold", json!(3));
    if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
        set_if_empty_str(h, "path", "/");
        set_if_empty_str(h, "scheme", "HTTP");
    }
    if let Some(g) = p.get_mut("grpc").and_then(Value::as_object_mut) {
        set_if_absent(g, "service", json!(""));
    }
}

fn default_container(c: &mut Map<String, Value>, host_network: bool) {
    set_if_empty_str(c, "terminationMessagePath", "/dev/termination-log");
    set_if_empty_str(c, "terminationMessagePolicy", "File");
    if is_unset(c.get("imagePullPolicy")) || c.get("imagePullPolicy") == Some(&json!("")) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = default_image_pull_policy(image);
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_if_empty_str(p, "protocol", "TCP");
            if host_network {
                if let Some(cp) = p.get("containerPort").cloned() {
                    let hp = p.get("hostPort");
                    if is_unset(hp) || hp == Some(&json!(0)) {
                        p.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(fr) = e
                .get_mut("valueFrom")
                .and_then(Value::as_object_mut)
                .and_then(|vf| vf.get_mut("fieldRef"))
                .and_then(Value::as_object_mut)
            {
                set_if_empty_str(fr, "apiVersion", "v1");
            }
        }
    }
    // Resources: requests default to limits for resources with a limit but no request.
    if let Some(res) = obj_at(c, "resources") {
        let limits = res.get("limits").and_then(Value::as_object).cloned();
        if let Some(limits) = limits.filter(|l| !l.is_empty()) {
            if let Some(req) = obj_at(res, "requests") {
                for (k, v) in limits {
                    if !req.contains_key(&k) {
                        req.insert(k, v);
                    }
                }
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default_probe(p);
        }
    }
}

fn tolerates(tols: &[Value], taint_key: &str) -> bool {
    tols.iter().filter_map(Value::as_object).any(|t| {
        let eff = t.get("effect").and_then(Value::as_str).unwrap_or("");
        if !eff.is_empty() && eff != "NoExecute" {
            return false;
        }
        let key = t.get("key").and_then(Value::as_str).unwrap_or("");
        let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
        if key.is_empty() {
            return op == "Exists";
        }
        key == taint_key
    })
}

fn default_pod(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else {
        return;
    };
    set_if_empty_str(spec, "restartPolicy", "Always");
    set_if_empty_str(spec, "dnsPolicy", "ClusterFirst");
    set_if_empty_str(spec, "schedulerName", "default-scheduler");
    set_if_absent(spec, "terminationGracePeriodSeconds", json!(30));
    set_if_absent(spec, "securityContext", json!({}));
    set_if_absent(spec, "enableServiceLinks", json!(true));
    // Priority admission (no priorityClassName / no default class): 0 and
    // the default preemption policy.
    set_if_absent(spec, "priority", json!(0));
    set_if_empty_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false);
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                default_container(c, host_network);
            }
        }
    }
    // DefaultTolerationSeconds admission.
    if is_unset(spec.get("tolerations")) {
        spec.insert("tolerations".into(), json!([]));
    }
    if let Some(tols) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            if !tolerates(tols, key) {
                tols.push(json!({
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300
                }));
            }
        }
    }
}

fn default_node(o: &mut Map<String, Value>) {
    // SetDefaults_NodeStatus: allocatable defaults to capacity.
    let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    let alloc_empty = match status.get("allocatable") {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    };
    if alloc_empty {
        if let Some(cap) =
            status.get("capacity").and_then(Value::as_object).filter(|c| !c.is_empty()).cloned()
        {
            status.insert("allocatable".into(), Value::Object(cap));
        }
    }
}

fn default_namespace(o: &mut Map<String, Value>) {
    // SetDefaults_Namespace: the immutable `kubernetes.io/metadata.name` label.
    let name = o
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|n| !n.is_empty());
    if let Some(name) = name {
        if let Some(labels) = obj_at(o, "metadata").and_then(|m| obj_at(m, "labels")) {
            labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
        }
    }
    // Namespace strategy PrepareForCreate: the `kubernetes` finalizer.
    if let Some(spec) = obj_at(o, "spec") {
        if is_unset(spec.get("finalizers")) {
            spec.insert("finalizers".into(), json!([]));
        }
        if let Some(f) = spec.get_mut("finalizers").and_then(Value::as_array_mut) {
            if !f.iter().any(|v| v == "kubernetes") {
                f.push(json!("kubernetes"));
            }
        }
    }
    // SetDefaults_NamespaceStatus.
    if let Some(status) = obj_at(o, "status") {
        set_if_empty_str(status, "phase", "Active");
    }
}

fn default_role_binding(o: &mut Map<String, Value>) {
    if let Some(r) = obj_at(o, "roleRef") {
        set_if_empty_str(r, "apiGroup", "rbac.authorization.k8s.io");
    }
    if let Some(subjects) = o.get_mut("subjects").and_then(Value::as_array_mut) {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            if matches!(kind, "User" | "Group") {
                set_if_empty_str(s, "apiGroup", "rbac.authorization.k8s.io");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies defaults and compares; also checks idempotence.
    fn check(kind: &str, input: Value, expected: Value) {
        let mut v = input;
        apply_defaults(kind, &mut v);
        assert_eq!(v, expected);
        let mut again = v.clone();
        apply_defaults(kind, &mut again);
        assert_eq!(again, v, "defaults must be idempotent");
    }

    #[test]
    fn pod_defaults() {
        check(
            "Pod",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
                {"name": "b", "image": "nginx:1.25", "resources": {"limits": {"cpu": "1"}}},
                {"name": "c", "image": "reg:5000/x:latest", "imagePullPolicy": "Never"}]}}),
            json!({"metadata": {"name": "p"}, "spec": {
            "containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "imagePullPolicy": "Always", "resources": {}},
                {"name": "b", "image": "nginx:1.25", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "imagePullPolicy": "IfNotPresent"},
                {"name": "c", "image": "reg:5000/x:latest", "imagePullPolicy": "Never",
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}}
            ],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30, "securityContext": {}, "enableServiceLinks": true,
            "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]}}),
        );
    }

    #[test]
    fn pod_keeps_explicit_values_and_tolerations() {
        check(
            "Pod",
            json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "priority": 5, "containers": [],
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]}}),
            json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "priority": 5, "containers": [],
            "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]}}),
        );
        // a tolerate-everything toleration suppresses both
        let mut v = json!({"spec": {"containers": [], "tolerations": [{"operator": "Exists"}]}});
        apply_defaults("Pod", &mut v);
        assert_eq!(v["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn image_pull_policy() {
        assert_eq!(default_image_pull_policy("nginx"), "Always");
        assert_eq!(default_image_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_image_pull_policy("nginx:1"), "IfNotPresent");
        assert_eq!(default_image_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(default_image_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn other_kinds() {
        check(
            "Secret",
            json!({"metadata": {"name": "s"}}),
            json!({"metadata": {"name": "s"}, "type": "Opaque"}),
        );
        check("Secret", json!({"type": "kubernetes.io/tls"}), json!({"type": "kubernetes.io/tls"}));
        check(
            "Namespace",
            json!({"metadata": {"name": "ns"}}),
            json!({"metadata": {"name": "ns", "labels": {"kubernetes.io/metadata.name": "ns"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        );
        check(
            "Node",
            json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}}),
            json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}}),
        );
        check(
            "ClusterRoleBinding",
            json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s", "namespace": "d"}]}),
            json!({"roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
                   "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "s", "namespace": "d"}]}),
        );
        for k in ["ConfigMap", "Lease", "Event", "Role", "Binding", "Unknown"] {
            check(k, json!({"metadata": {"name": "x"}}), json!({"metadata": {"name": "x"}}));
        }
    }
}
