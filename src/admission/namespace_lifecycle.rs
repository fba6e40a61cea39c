//! NamespaceLifecycle (k/k plugin/pkg/admission/namespace/lifecycle): nothing new in a namespace
//! that does not exist or is being terminated, and the system namespaces cannot be deleted.

use serde_json::Value;

use super::{AdmissionError, Attributes, Operation};
use crate::api::resources;
use crate::registry::Registry;

/// The namespaces that always exist: created at start, never deleted (kube's immortal set).
pub const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// A create in a namespace: it must exist and not be Terminating.
pub async fn admit_create(registry: &Registry, a: &Attributes<'_>) -> Result<(), AdmissionError> {
    let Some(ns) = a.namespace.filter(|_| a.resource.namespaced) else { return Ok(()) };
    // Namespaces themselves and their subresources are cluster-scoped; only content is checked.
    let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
    let phase = |v: &Value| v["status"]["phase"].as_str().unwrap_or("Active").to_owned();
    let key = namespaces.storage_key(None, ns);
    // The cache first (kube's plugin reads an informer); storage when the cache has not seen it
    // yet, so that a namespace created a moment ago is found.
    let found = match registry.cache(namespaces).and_then(|c| c.get(&key)) {
        Some(o) => serde_json::from_slice::<Value>(&o.json()).ok().map(|v| phase(&v)),
        None => registry.stored(namespaces, None, ns).await?.map(|v| phase(&v)),
    };
    match found.as_deref() {
        None => Err(AdmissionError::NamespaceNotFound(ns.into())),
        Some("Terminating") => Err(AdmissionError::forbidden(
            a,
            format!("unable to create new content in namespace {ns} because it is being terminated"),
        )),
        Some(_) => Ok(()),
    }
}

/// A delete of a system namespace is refused.
pub fn admit_delete(a: &Attributes<'_>) -> Result<(), AdmissionError> {
    let is_namespace = a.resource.group.is_empty() && a.resource.plural == "namespaces";
    if a.operation == Operation::Delete && is_namespace && SYSTEM_NAMESPACES.contains(&a.name) {
        return Err(AdmissionError::forbidden(a, "this namespace may not be deleted"));
    }
    Ok(())
}
