//! The live RBAC policy: Roles, ClusterRoles and their bindings followed through watches on the
//! API server's registry (its watch caches), recompiled into a [`Policy`] on every change, so a
//! request is authorized from memory, never with a store read.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;

use super::rbac::{Objects, Policy};
use crate::api::query::ReadQuery;
use crate::api::resources::{self, Resource};
use crate::registry::Registry;
use crate::watch::cache::{CachedObject, EventType, WatchMessage};

const GROUP: &str = "rbac.authorization.k8s.io";

/// The four kinds followed, in the order of their bit in the synced mask.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

const KINDS: [Kind; 4] = [Kind::Role, Kind::ClusterRole, Kind::RoleBinding, Kind::ClusterRoleBinding];
/// The bit set once the default policy exists (kube's readyz waits for its
/// poststarthook/rbac/bootstrap-roles too).
const BOOTSTRAPPED: u8 = 1 << 4;
const ALL_SYNCED: u8 = 0b1111 | BOOTSTRAPPED;

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::Role => "roles",
            Kind::ClusterRole => "clusterroles",
            Kind::RoleBinding => "rolebindings",
            Kind::ClusterRoleBinding => "clusterrolebindings",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The policy in force, and the objects it was compiled from.
#[derive(Debug)]
pub struct RbacIndex {
    objects: Mutex<Objects>,
    policy: RwLock<Arc<Policy>>,
    synced: tokio::sync::watch::Sender<u8>,
}

impl Default for RbacIndex {
    fn default() -> Self {
        RbacIndex {
            objects: Mutex::default(),
            policy: RwLock::default(),
            synced: tokio::sync::watch::Sender::new(0),
        }
    }
}

fn parse<T: DeserializeOwned>(o: &CachedObject) -> Option<T> {
    match serde_json::from_slice(&o.json()) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(key = %o.key, error = %e, "RBAC object undecodable; ignored");
            None
        }
    }
}

impl RbacIndex {
    /// The policy now in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().clone()
    }

    /// Replaces every object (tests, and callers with a policy of their own).
    pub fn replace(&self, objects: Objects) {
        let policy = Arc::new(Policy::compile(&objects));
        *self.objects.lock() = objects;
        *self.policy.write() = policy;
    }

    /// Records that the default roles and bindings exist in the store.
    pub fn mark_bootstrapped(&self) {
        self.synced.send_modify(|m| *m |= BOOTSTRAPPED);
    }

    /// Waits until the default policy exists and each of the four kinds has been listed once.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|m| *m == ALL_SYNCED).await;
    }

    /// Follows the four kinds in `registry` forever (re-watching, with a full relist, whenever a
    /// watch ends).
    pub async fn follow(&self, registry: &Registry) {
        futures::future::join_all(KINDS.map(|k| self.follow_kind(registry, k))).await;
    }

    async fn follow_kind(&self, registry: &Registry, kind: Kind) {
        let resource: &Resource = resources::find(GROUP, "v1", kind.plural()).expect("RBAC kinds are served");
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut setup = match registry.watch(resource, None, &ReadQuery::default()).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(resource = kind.plural(), error = %e, "RBAC watch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            let sub = &mut setup.subscription;
            self.update(|o| {
                clear(o, kind);
                for obj in &sub.initial {
                    put(o, kind, obj);
                }
                for m in &sub.backlog {
                    apply(o, kind, m);
                }
            });
            self.synced.send_modify(|m| *m |= kind.bit());
            while let Some(first) = sub.live.recv().await {
                // Apply what has queued up at once: one recompile per burst.
                let mut batch = vec![first];
                while let Ok(m) = sub.live.try_recv() {
                    batch.push(m);
                }
                self.update(|o| batch.iter().for_each(|m| apply(o, kind, m)));
            }
            tracing::debug!(resource = kind.plural(), "RBAC watch closed; re-watching");
        }
    }

    fn update(&self, change: impl FnOnce(&mut Objects)) {
        let mut objects = self.objects.lock();
        change(&mut objects);
        let policy = Arc::new(Policy::compile(&objects));
        *self.policy.write() = policy;
    }
}

fn clear(o: &mut Objects, kind: Kind) {
    match kind {
        Kind::Role => o.roles.clear(),
        Kind::ClusterRole => o.cluster_roles.clear(),
        Kind::RoleBinding => o.role_bindings.clear(),
        Kind::ClusterRoleBinding => o.cluster_role_bindings.clear(),
    }
}

fn key(obj: &CachedObject) -> (String, String) {
    (obj.namespace().unwrap_or_default().to_owned(), obj.name().to_owned())
}

fn put(o: &mut Objects, kind: Kind, obj: &CachedObject) {
    match kind {
        Kind::Role => {
            if let Some(v) = parse(obj) {
                o.roles.insert(key(obj), v);
            }
        }
        Kind::ClusterRole => {
            if let Some(v) = parse(obj) {
                o.cluster_roles.insert(obj.name().to_owned(), v);
            }
        }
        Kind::RoleBinding => {
            if let Some(v) = parse(obj) {
                o.role_bindings.insert(key(obj), v);
            }
        }
        Kind::ClusterRoleBinding => {
            if let Some(v) = parse(obj) {
                o.cluster_role_bindings.insert(obj.name().to_owned(), v);
            }
        }
    }
}

fn remove(o: &mut Objects, kind: Kind, obj: &CachedObject) {
    match kind {
        Kind::Role => drop(o.roles.remove(&key(obj))),
        Kind::ClusterRole => drop(o.cluster_roles.remove(obj.name())),
        Kind::RoleBinding => drop(o.role_bindings.remove(&key(obj))),
        Kind::ClusterRoleBinding => drop(o.cluster_role_bindings.remove(obj.name())),
    }
}

fn apply(o: &mut Objects, kind: Kind, m: &WatchMessage) {
    match m {
        WatchMessage::Event(e, EventType::Deleted) => remove(o, kind, &e.object),
        WatchMessage::Event(e, _) => put(o, kind, &e.object),
        WatchMessage::Bookmark(_) => {}
    }
}
