//! The Node authorizer (kube's `plugin/pkg/auth/authorizer/node`, with AuthorizeNodeWithSelectors):
//! what a kubelet (`system:node:<name>` in `system:nodes`) may do to its own Node, its Lease, the
//! pods bound to it, and events. kube leaves "only its own" for writes to the NodeRestriction
//! admission plugin; kubesim has none, so those checks are made here, with that plugin's texts.
//! Anything else: no opinion, so that RBAC may still allow it.

use super::user::NODE_PREFIX;
use super::Decision;
use crate::api::request_info::{ResourceRequest, Verb};
use crate::api::selector::FieldSelector;

/// The namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The pod whose binding the decision needs (namespace, name), looked up by the caller.
pub fn pod_needed(r: &ResourceRequest) -> Option<(&str, &str)> {
    if !r.group.is_empty() || r.resource != "pods" {
        return None;
    }
    let needed = matches!(
        (r.verb, r.subresource.as_deref()),
        (Verb::Get | Verb::Delete, None) | (Verb::Update | Verb::Patch, Some("status"))
    );
    match (needed, r.namespace.as_deref(), r.name.as_deref()) {
        (true, Some(ns), Some(name)) => Some((ns, name)),
        _ => None,
    }
}

/// The decision for node `node` on `r`. `fields` is the request's field selector;
/// `pod_node` the spec.nodeName of the pod named by [`pod_needed`] (None: no such pod, or unbound).
pub fn authorize(
    node: &str,
    r: &ResourceRequest,
    fields: Option<&FieldSelector>,
    pod_node: Option<&str>,
) -> Decision {
    if node.is_empty() {
        return Decision::NoOpinion(format!("unknown node for user \"{NODE_PREFIX}\""));
    }
    match (r.group.as_str(), r.resource.as_str()) {
        ("", "nodes") => node_object(node, r, fields),
        ("", "pods") => pod(node, r, fields, pod_node),
        ("coordination.k8s.io", "leases") => lease(node, r),
        ("", "events") | ("events.k8s.io", "events") => match r.verb {
            Verb::Create | Verb::Update | Verb::Patch => Decision::Allow,
            _ => Decision::NoOpinion(String::new()),
        },
        _ => Decision::NoOpinion(String::new()),
    }
}

fn node_object(node: &str, r: &ResourceRequest, fields: Option<&FieldSelector>) -> Decision {
    // A list or watch of one node names it with metadata.name (kubelets watch their own Node so).
    let name = r.name.as_deref().or_else(|| fields.and_then(|f| f.exact("metadata.name")));
    let modify = || match name {
        Some(n) if n == node => Decision::Allow,
        Some(n) => Decision::NoOpinion(format!("node \"{node}\" is not allowed to modify node \"{n}\"")),
        None => Decision::NoOpinion(String::new()),
    };
    match (r.subresource.as_deref(), r.verb) {
        (None, Verb::Create) => Decision::Allow,
        (None | Some("status"), Verb::Update | Verb::Patch) => modify(),
        (None | Some("status"), Verb::Get | Verb::List | Verb::Watch) => match name {
            Some(n) if n == node => Decision::Allow,
            None => {
                Decision::NoOpinion(format!("node '{node}' cannot read all nodes, only its own Node object"))
            }
            Some(n) => {
                Decision::NoOpinion(format!("node '{node}' cannot read '{n}', only its own Node object"))
            }
        },
        _ => Decision::NoOpinion(String::new()),
    }
}

fn no_relationship(node: &str) -> Decision {
    Decision::NoOpinion(format!("no relationship found between node '{node}' and this object"))
}

fn pod(node: &str, r: &ResourceRequest, fields: Option<&FieldSelector>, pod_node: Option<&str>) -> Decision {
    let bound = pod_node == Some(node);
    match (r.subresource.as_deref(), r.verb) {
        (None, Verb::Get) if bound => Decision::Allow,
        (None, Verb::Get) => no_relationship(node),
        (None, Verb::List | Verb::Watch) => {
            if fields.and_then(|f| f.exact("spec.nodeName")) == Some(node) {
                Decision::Allow
            } else {
                Decision::NoOpinion("can only list/watch pods with spec.nodeName field selector".into())
            }
        }
        (None, Verb::Delete) if bound => Decision::Allow,
        (None, Verb::Delete) => Decision::NoOpinion(format!(
            "node \"{node}\" can only delete pods with spec.nodeName set to itself"
        )),
        (Some("status"), Verb::Update | Verb::Patch) if bound => Decision::Allow,
        (Some("status"), Verb::Update | Verb::Patch) => Decision::NoOpinion(format!(
            "node \"{node}\" can only update pod status for pods with spec.nodeName set to itself"
        )),
        _ => Decision::NoOpinion(String::new()),
    }
}

fn lease(node: &str, r: &ResourceRequest) -> Decision {
    if !matches!(r.verb, Verb::Get | Verb::Create | Verb::Update | Verb::Patch | Verb::Delete) {
        return Decision::NoOpinion("can only get, create, update, patch, or delete a node lease".into());
    }
    if r.namespace.as_deref() != Some(NODE_LEASE_NAMESPACE) {
        return Decision::NoOpinion(format!(
            "can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"
        ));
    }
    // The name of a create is in the body, which the authorizer does not see (kube checks it in
    // NodeRestriction).
    if r.verb != Verb::Create && r.name.as_deref() != Some(node) {
        return Decision::NoOpinion(
            "can only access node lease with the same name as the requesting node".into(),
        );
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request_info::{parse, RequestInfo};
    use http::Method;

    fn decide(method: Method, path_and_query: &str, pod_node: Option<&str>) -> Decision {
        let (path, query) =
            path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let RequestInfo::Resource(r) = parse(&method, path, query).unwrap() else { panic!("not a resource") };
        let fields = query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "fieldSelector")
                .map(|(_, v)| FieldSelector::parse(&v).unwrap())
        });
        authorize("a", &r, fields.as_ref(), pod_node)
    }

    fn allowed(d: &Decision) -> bool {
        matches!(d, Decision::Allow)
    }

    #[test]
    fn own_node_and_status_only() {
        assert!(allowed(&decide(Method::GET, "/api/v1/nodes/a", None)));
        assert!(allowed(&decide(Method::PUT, "/api/v1/nodes/a/status", None)));
        assert!(allowed(&decide(Method::PATCH, "/api/v1/nodes/a", None)));
        assert!(allowed(&decide(Method::POST, "/api/v1/nodes", None)));
        assert!(allowed(&decide(
            Method::GET,
            "/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Da",
            None
        )));
        assert_eq!(
            decide(Method::PUT, "/api/v1/nodes/b/status", None),
            Decision::NoOpinion("node \"a\" is not allowed to modify node \"b\"".into())
        );
        assert_eq!(
            decide(Method::GET, "/api/v1/nodes/b", None),
            Decision::NoOpinion("node 'a' cannot read 'b', only its own Node object".into())
        );
        assert_eq!(
            decide(Method::GET, "/api/v1/nodes", None),
            Decision::NoOpinion("node 'a' cannot read all nodes, only its own Node object".into())
        );
        assert_eq!(decide(Method::DELETE, "/api/v1/nodes/a", None), Decision::NoOpinion(String::new()));
    }

    #[test]
    fn pods_bound_to_the_node() {
        assert!(allowed(&decide(Method::GET, "/api/v1/namespaces/x/pods/p", Some("a"))));
        assert_eq!(
            decide(Method::GET, "/api/v1/namespaces/x/pods/p", Some("b")),
            Decision::NoOpinion("no relationship found between node 'a' and this object".into())
        );
        assert!(!allowed(&decide(Method::GET, "/api/v1/namespaces/x/pods/p", None)));
        assert!(allowed(&decide(Method::GET, "/api/v1/pods?fieldSelector=spec.nodeName%3Da", None)));
        assert!(allowed(&decide(Method::GET, "/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Da", None)));
        assert_eq!(
            decide(Method::GET, "/api/v1/pods?fieldSelector=spec.nodeName%3Db", None),
            Decision::NoOpinion("can only list/watch pods with spec.nodeName field selector".into())
        );
        assert!(!allowed(&decide(Method::GET, "/api/v1/namespaces/x/pods", None)));
        assert!(allowed(&decide(Method::PUT, "/api/v1/namespaces/x/pods/p/status", Some("a"))));
        assert!(!allowed(&decide(Method::PATCH, "/api/v1/namespaces/x/pods/p/status", Some("b"))));
        assert!(allowed(&decide(Method::DELETE, "/api/v1/namespaces/x/pods/p", Some("a"))));
        assert!(!allowed(&decide(Method::DELETE, "/api/v1/namespaces/x/pods/p", Some("b"))));
        // Spec updates, creates and bindings are not a kubelet's.
        assert!(!allowed(&decide(Method::PUT, "/api/v1/namespaces/x/pods/p", Some("a"))));
        assert!(!allowed(&decide(Method::POST, "/api/v1/namespaces/x/pods", None)));
        assert!(!allowed(&decide(Method::POST, "/api/v1/namespaces/x/pods/p/binding", Some("a"))));
    }

    #[test]
    fn own_lease_in_the_node_lease_namespace() {
        let lease =
            |ns: &str, name: &str| format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}");
        assert!(allowed(&decide(Method::GET, &lease("kube-node-lease", "a"), None)));
        assert!(allowed(&decide(Method::PUT, &lease("kube-node-lease", "a"), None)));
        assert!(allowed(&decide(Method::DELETE, &lease("kube-node-lease", "a"), None)));
        assert!(allowed(&decide(
            Method::POST,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            None
        )));
        assert_eq!(
            decide(Method::PUT, &lease("kube-node-lease", "b"), None),
            Decision::NoOpinion(
                "can only access node lease with the same name as the requesting node".into()
            )
        );
        assert_eq!(
            decide(Method::GET, &lease("default", "a"), None),
            Decision::NoOpinion("can only access leases in the \"kube-node-lease\" system namespace".into())
        );
        assert_eq!(
            decide(Method::GET, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", None),
            Decision::NoOpinion("can only get, create, update, patch, or delete a node lease".into())
        );
    }

    #[test]
    fn events_and_everything_else() {
        assert!(allowed(&decide(Method::POST, "/api/v1/namespaces/x/events", None)));
        assert_eq!(
            decide(Method::GET, "/api/v1/namespaces/x/events", None),
            Decision::NoOpinion(String::new())
        );
        assert_eq!(decide(Method::GET, "/api/v1/namespaces", None), Decision::NoOpinion(String::new()));
    }
}
