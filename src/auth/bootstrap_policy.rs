//! The default ClusterRoles and ClusterRoleBindings kube-apiserver creates when it starts
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`), trimmed to what kubesim serves
//! plus the common workload kinds. admin, edit and view are written out flat: kube builds them by
//! aggregation, which kubesim's RBAC does not do.

use serde_json::{json, Value};

use crate::api::query::WriteQuery;
use crate::api::resources;
use crate::api::status::ApiError;
use crate::registry::Registry;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn named_rule(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "resourceNames": names, "verbs": verbs})
}

fn urls(urls: &[&str], verbs: &[&str]) -> Value {
    json!({"nonResourceURLs": urls, "verbs": verbs})
}

fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name),
        "rules": rules,
    })
}

fn binding(role: &str, subjects: Vec<(&str, &str)>) -> Value {
    let subjects: Vec<Value> = subjects
        .into_iter()
        .map(|(kind, name)| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}))
        .collect();
    let mut b = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(role),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
    });
    if !subjects.is_empty() {
        b["subjects"] = Value::Array(subjects);
    }
    b
}

fn view_rules() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "pods",
                "pods/log",
                "pods/status",
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "replicationcontrollers/status",
                "serviceaccounts",
                "services",
                "services/status",
                "bindings",
                "events",
                "limitranges",
                "resourcequotas",
                "resourcequotas/status",
                "namespaces/status",
            ],
            READ,
        ),
        rule(&[""], &["namespaces"], READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            READ,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
        rule(&["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
        rule(&["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
        rule(&["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"], READ),
    ]
}

fn edit_rules() -> Vec<Value> {
    let mut rules = vec![
        rule(
            &[""],
            &["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
            READ,
        ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(&[""], &["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            WRITE,
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            WRITE,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
        rule(&["batch"], &["cronjobs", "jobs"], WRITE),
        rule(&["policy"], &["poddisruptionbudgets"], WRITE),
        rule(&["networking.k8s.io"], &["ingresses", "networkpolicies"], WRITE),
        rule(&["discovery.k8s.io"], &["endpointslices"], WRITE),
    ];
    rules.extend(view_rules());
    rules
}

fn admin_rules() -> Vec<Value> {
    let mut rules = vec![
        rule(&["authorization.k8s.io"], &["localsubjectaccessreviews"], &["create"]),
        rule(&["rbac.authorization.k8s.io"], &["rolebindings", "roles"], &[READ, WRITE].concat()),
    ];
    rules.extend(edit_rules());
    rules
}

/// kube's NodeRules: what a kubelet needs (the Node authorizer grants the same, narrowed to its
/// own objects; kube binds this role to nobody by default).
fn node_rules() -> Vec<Value> {
    vec![
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule(&["authorization.k8s.io"], &["localsubjectaccessreviews", "subjectaccessreviews"], &["create"]),
        rule(&[""], &["services"], READ),
        rule(&[""], &["nodes"], &["create", "get", "list", "watch"]),
        rule(&[""], &["nodes/status"], &["patch", "update"]),
        rule(&[""], &["nodes"], &["patch", "update"]),
        rule(&["", "events.k8s.io"], &["events"], &["create", "patch", "update"]),
        rule(&[""], &["pods"], READ),
        rule(&[""], &["pods"], &["create", "delete"]),
        rule(&[""], &["pods/status"], &["patch", "update"]),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(&[""], &["secrets", "configmaps"], READ),
        rule(&[""], &["persistentvolumeclaims", "persistentvolumes"], &["get"]),
        rule(&[""], &["endpoints"], &["get"]),
        rule(&["certificates.k8s.io"], &["certificatesigningrequests"], &["create", "get", "list", "watch"]),
        rule(&["coordination.k8s.io"], &["leases"], &["get", "create", "update", "patch", "delete"]),
        rule(&["storage.k8s.io"], &["volumeattachments"], &["get"]),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(&["storage.k8s.io"], &["csidrivers"], READ),
        rule(&["storage.k8s.io"], &["csinodes"], &["create", "delete", "get", "patch", "update"]),
        rule(&["node.k8s.io"], &["runtimeclasses"], READ),
    ]
}

fn scheduler_rules() -> Vec<Value> {
    vec![
        rule(&["", "events.k8s.io"], &["events"], &["create", "patch", "update"]),
        rule(&["coordination.k8s.io"], &["leases"], &["create"]),
        named_rule(&["coordination.k8s.io"], &["leases"], &["kube-scheduler"], &["get", "update"]),
        rule(&[""], &["endpoints"], &["create"]),
        named_rule(&[""], &["endpoints"], &["kube-scheduler"], &["get", "update"]),
        rule(&[""], &["nodes"], READ),
        rule(&[""], &["pods"], &["delete", "get", "list", "watch"]),
        rule(&[""], &["bindings", "pods/binding"], &["create"]),
        rule(&[""], &["pods/status"], &["patch", "update"]),
        rule(&[""], &["replicationcontrollers", "services"], READ),
        rule(&["apps", "extensions"], &["replicasets"], READ),
        rule(&["apps"], &["statefulsets"], READ),
        rule(&["policy"], &["poddisruptionbudgets"], READ),
        rule(&[""], &["persistentvolumeclaims", "persistentvolumes"], READ),
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
        rule(&["storage.k8s.io"], &["csinodes"], READ),
        rule(&[""], &["namespaces"], READ),
        rule(&["storage.k8s.io"], &["csidrivers", "csistoragecapacities"], READ),
    ]
}

const PUBLIC_INFO: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
    let discovery =
        [&["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"][..], PUBLIC_INFO].concat();
    vec![
        cluster_role("cluster-admin", vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])]),
        cluster_role("admin", admin_rules()),
        cluster_role("edit", edit_rules()),
        cluster_role("view", view_rules()),
        cluster_role("system:discovery", vec![urls(&discovery, &["get"])]),
        cluster_role("system:public-info-viewer", vec![urls(PUBLIC_INFO, &["get"])]),
        cluster_role("system:node", node_rules()),
        cluster_role("system:kube-scheduler", scheduler_rules()),
    ]
}

/// The default ClusterRoleBindings (system:node's has no subject, as in kube since 1.8: nodes are
/// authorized by the Node authorizer).
pub fn cluster_role_bindings() -> Vec<Value> {
    vec![
        binding("cluster-admin", vec![("Group", "system:masters")]),
        binding("system:discovery", vec![("Group", "system:authenticated")]),
        binding(
            "system:public-info-viewer",
            vec![("Group", "system:authenticated"), ("Group", "system:unauthenticated")],
        ),
        binding("system:kube-scheduler", vec![("User", "system:kube-scheduler")]),
        binding("system:node", vec![]),
    ]
}

/// Creates every default role and binding that is absent; existing ones are left as they are.
pub async fn ensure(registry: &Registry) -> Result<(), ApiError> {
    let group = "rbac.authorization.k8s.io";
    let roles = resources::find(group, "v1", "clusterroles").expect("clusterroles are served");
    let bindings =
        resources::find(group, "v1", "clusterrolebindings").expect("clusterrolebindings are served");
    let objects = cluster_roles().into_iter().map(|o| (roles, o));
    for (r, obj) in objects.chain(cluster_role_bindings().into_iter().map(|o| (bindings, o))) {
        match registry.create(r, None, obj.to_string().as_bytes(), &WriteQuery::default()).await {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

    #[test]
    fn defaults_decode_as_rbac_objects() {
        for r in cluster_roles() {
            let role: ClusterRole = serde_json::from_value(r).unwrap();
            assert!(!role.rules.unwrap_or_default().is_empty());
        }
        for b in cluster_role_bindings() {
            let _: ClusterRoleBinding = serde_json::from_value(b).unwrap();
        }
    }
}
