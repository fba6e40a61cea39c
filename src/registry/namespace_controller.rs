//! The namespace controller, run inside the API server (kube runs it in the controller manager):
//! a deleted namespace is Terminating (deletionTimestamp, status.phase) until everything in it is
//! gone; then its `kubernetes` finalizer is removed and, with no other finalizer left, it goes.
//! It works from storage on each pass, so a restarted server picks up where another left off.

use serde_json::{json, Value};

use super::{Filter, Registry};
use crate::api::object;
use crate::api::query::{DeleteQuery, ReadQuery, ResourceVersion, WriteQuery};
use crate::api::resources::{self, Resource};
use crate::api::status::ApiError;
use crate::storage::StorageError;

/// The finalizer the namespace controller owns (spec.finalizers).
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

fn namespaces() -> &'static Resource {
    resources::find("", "v1", "namespaces").expect("namespaces are served")
}

impl Registry {
    /// One pass of the namespace controller: every terminating namespace has its content
    /// deleted, and is finalized once nothing is left. Returns how many namespaces went.
    pub async fn finalize_namespaces(&self) -> Result<usize, ApiError> {
        let list = self
            .list_from_storage(
                namespaces(),
                None,
                &ReadQuery::default(),
                &Filter::default(),
                ResourceVersion::Unset,
            )
            .await?;
        let mut removed = 0;
        let mut failure = None;
        for item in &list.items {
            let ns: Value = serde_json::from_slice(item).map_err(|e| ApiError::Internal(e.to_string()))?;
            let terminating = object::meta_str(&ns, "deletionTimestamp").is_some()
                || ns["status"]["phase"] == "Terminating";
            if !terminating {
                continue;
            }
            // One namespace failing must not hold up the others.
            match self.finalize_namespace(&ns).await {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Deletes a terminating namespace's content; removes the namespace when none is left.
    async fn finalize_namespace(&self, ns: &Value) -> Result<bool, ApiError> {
        let name = object::name(ns).unwrap_or_default().to_owned();
        if self.delete_content(&name).await? > 0 {
            // Objects with finalizers (or not yet gone) are waited for on the next pass.
            return Ok(false);
        }
        let change = |current: &Value| -> Result<Option<Value>, ApiError> {
            let Some(list) = current["spec"]["finalizers"].as_array() else { return Ok(None) };
            if !list.iter().any(|f| f == NAMESPACE_FINALIZER) {
                return Ok(None);
            }
            let rest: Vec<Value> = list.iter().filter(|f| *f != NAMESPACE_FINALIZER).cloned().collect();
            let mut current = current.clone();
            current["spec"]["finalizers"] = json!(rest);
            Ok(Some(current))
        };
        let user = Self::system_user();
        match self
            .guaranteed_update(&user, namespaces(), None, &name, None, &WriteQuery::default(), change)
            .await
        {
            Ok(_) => {}
            Err(ApiError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e),
        }
        // Without the finalizer (and no other one) the namespace goes: the update above removed
        // it when it took the finalizer away; one that never had it is removed here.
        let Some(current) = self.stored(namespaces(), None, &name).await? else { return Ok(true) };
        let pending = |v: &Value| v.as_array().is_some_and(|f| !f.is_empty());
        if pending(&current["spec"]["finalizers"]) || pending(&current["metadata"]["finalizers"]) {
            return Ok(false);
        }
        let revision = object::meta_str(&current, "resourceVersion").and_then(|r| r.parse().ok());
        match self.storage.delete(&namespaces().storage_key(None, &name), revision).await {
            Ok(_) | Err(StorageError::NotFound { .. }) => Ok(true),
            Err(StorageError::Conflict { .. }) => Ok(false),
            Err(e) => Err(super::storage_error(namespaces(), &name, e)),
        }
    }

    /// Deletes every object of every served namespaced resource in `ns` at once (grace 0);
    /// returns how many are still there afterwards.
    async fn delete_content(&self, ns: &str) -> Result<usize, ApiError> {
        let dq = DeleteQuery { grace_period_seconds: Some(0), ..Default::default() };
        let mut left = 0;
        for r in resources::RESOURCES.iter().filter(|r| r.namespaced) {
            let objects = self.objects_in_storage(r, ns).await?;
            if objects.is_empty() {
                continue;
            }
            for obj in &objects {
                let name = object::name(obj).unwrap_or_default();
                match self.delete(r, Some(ns), name, &dq, b"").await {
                    Ok(_) | Err(ApiError::NotFound { .. }) => {}
                    Err(e) => tracing::debug!(namespace = ns, name, error = %e, "deleting namespace content"),
                }
            }
            left += self.objects_in_storage(r, ns).await?.len();
        }
        Ok(left)
    }
}
