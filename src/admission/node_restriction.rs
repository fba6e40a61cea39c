//! NodeRestriction (k/k plugin/pkg/admission/noderestriction): a kubelet (`system:node:<name>` in
//! `system:nodes`) changes only its own Node (not its taints, not restricted labels), its own
//! Lease in kube-node-lease, mirror pods bound to it and the status of pods bound to it. The Node
//! authorizer ([`crate::auth::node`]) already refuses most of this with the same texts; this
//! plugin holds whatever the authorizers allow (AlwaysAllow, a generous RBAC) and sees the
//! bodies the authorizer cannot (the name of a new Node or Lease).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{AdmissionError, Attributes, Operation};
use crate::api::object;
use crate::auth::node::NODE_LEASE_NAMESPACE;

/// The annotation that marks a mirror pod (the only pods a kubelet may create).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Admits a node's write: `new` is the object written (create, update), `old` the stored one
/// (update, delete). Anyone who is not a node passes.
pub fn admit(a: &Attributes<'_>, new: Option<&Value>, old: Option<&Value>) -> Result<(), AdmissionError> {
    let Some(node) = a.user.node_name() else { return Ok(()) };
    if node.is_empty() {
        return Err(AdmissionError::forbidden(
            a,
            format!("could not determine node from user \"{}\"", a.user.name),
        ));
    }
    match (a.resource.group, a.resource.plural) {
        ("", "pods") => pod(node, a, new, old),
        ("", "nodes") => node_object(node, a, new, old),
        ("coordination.k8s.io", "leases") => lease(node, a),
        _ => Ok(()),
    }
}

fn node_name(pod: Option<&Value>) -> &str {
    pod.and_then(|p| p["spec"]["nodeName"].as_str()).unwrap_or_default()
}

fn pod(
    node: &str,
    a: &Attributes<'_>,
    new: Option<&Value>,
    old: Option<&Value>,
) -> Result<(), AdmissionError> {
    let forbidden = |reason: String| Err(AdmissionError::forbidden(a, reason));
    match (a.subresource, a.operation) {
        (None, Operation::Create) => {
            let mirror = new
                .and_then(object::meta)
                .and_then(|m| m.get("annotations"))
                .is_some_and(|ann| ann.get(MIRROR_POD_ANNOTATION).is_some());
            if !mirror {
                return forbidden(format!(
                    "pod does not have \"{MIRROR_POD_ANNOTATION}\" annotation, node \"{node}\" can only create mirror pods"
                ));
            }
            if node_name(new) != node {
                return forbidden(format!(
                    "node \"{node}\" can only create pods with spec.nodeName set to itself"
                ));
            }
            Ok(())
        }
        (None, Operation::Delete) if node_name(old) != node => {
            forbidden(format!("node \"{node}\" can only delete pods with spec.nodeName set to itself"))
        }
        (None, Operation::Delete) => Ok(()),
        (None, op) => forbidden(format!(
            "unexpected operation \"{}\", node \"{node}\" can only create and delete mirror pods",
            op.as_str()
        )),
        (Some("status"), Operation::Update) if node_name(old) != node => forbidden(format!(
            "node \"{node}\" can only update pod status for pods with spec.nodeName set to itself"
        )),
        (Some("status"), Operation::Update) => Ok(()),
        (Some("status"), op) => forbidden(format!("unexpected operation \"{}\"", op.as_str())),
        (Some(sub), _) => forbidden(format!(
            "unexpected pod subresource \"{sub}\", only 'status' and 'eviction' are allowed"
        )),
    }
}

fn node_object(
    node: &str,
    a: &Attributes<'_>,
    new: Option<&Value>,
    old: Option<&Value>,
) -> Result<(), AdmissionError> {
    let forbidden = |reason: String| Err(AdmissionError::forbidden(a, reason));
    if a.name != node {
        return forbidden(format!("node \"{node}\" is not allowed to modify node \"{}\"", a.name));
    }
    let labels = |v: Option<&Value>| v.map(object::labels).unwrap_or_default();
    match (a.operation, a.subresource) {
        (Operation::Create, _) => {
            let bad = forbidden_labels(labels(new).keys());
            if !bad.is_empty() {
                return forbidden(format!(
                    "node \"{node}\" is not allowed to set the following labels: {}",
                    bad.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        (Operation::Update, None) => {
            // Its own taints would let a node steer workloads to itself.
            let taints =
                |v: Option<&Value>| v.and_then(|o| o["spec"].get("taints")).filter(|t| !t.is_null()).cloned();
            if taints(new) != taints(old) {
                return forbidden(format!("node \"{node}\" is not allowed to modify taints"));
            }
            let (new, old) = (labels(new), labels(old));
            let modified = new
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(old.keys().filter(|k| !new.contains_key(*k)));
            let bad = forbidden_labels(modified);
            if !bad.is_empty() {
                return forbidden(format!(
                    "is not allowed to modify labels: {}",
                    bad.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn lease(node: &str, a: &Attributes<'_>) -> Result<(), AdmissionError> {
    if a.namespace != Some(NODE_LEASE_NAMESPACE) {
        return Err(AdmissionError::forbidden(
            a,
            format!("can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"),
        ));
    }
    if a.name != node {
        return Err(AdmissionError::forbidden(
            a,
            "can only access node lease with the same name as the requesting node",
        ));
    }
    Ok(())
}

/// Labels a kubelet may not set (kube's getForbiddenLabels): the node-restriction.kubernetes.io
/// namespace, and kubernetes.io / k8s.io labels other than the kubelet's own.
fn forbidden_labels<'a>(labels: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    labels.filter(|l| forbidden_label(l)).cloned().collect()
}

fn forbidden_label(label: &str) -> bool {
    let Some((ns, _)) = label.split_once('/') else { return false };
    let under = |domain: &str| ns == domain || ns.ends_with(&format!(".{domain}"));
    if under("node-restriction.kubernetes.io") {
        return true;
    }
    let kubernetes = under("kubernetes.io") || under("k8s.io");
    kubernetes && !kubelet_label(label, ns)
}

/// kube's IsKubeletLabel.
fn kubelet_label(label: &str, ns: &str) -> bool {
    const LABELS: [&str; 11] = [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    ];
    LABELS.contains(&label)
        || ["kubelet.kubernetes.io", "node.kubernetes.io"]
            .iter()
            .any(|d| ns == *d || ns.ends_with(&format!(".{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_labels_pass_and_others_under_kubernetes_io_do_not() {
        assert!(!forbidden_label("kubernetes.io/hostname"));
        assert!(!forbidden_label("node.kubernetes.io/exclude-from-external-load-balancers"));
        assert!(!forbidden_label("example.com/x"));
        assert!(!forbidden_label("plain"));
        assert!(forbidden_label("node-restriction.kubernetes.io/x"));
        assert!(forbidden_label("node-role.kubernetes.io/control-plane"));
        assert!(forbidden_label("x.k8s.io/y"));
    }
}
