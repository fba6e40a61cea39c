//! Admission control (kube-apiserver's `--enable-admission-plugins` / `--disable-admission-plugins`):
//! the plugins that see a write after authorization, with the object, the old object and the
//! user, and may change (mutating phase) or refuse (validating phase) it.
//!
//! The registry calls the chain at kube's points: [`Admission::mutate_create`] before the create
//! strategy and validation, [`Admission::validate_create`] after validation and right before the
//! store write (its [`Charge`] is held across that write), [`Admission::validate_update`] and
//! [`Admission::validate_delete`] inside the read-modify-write loops, and [`Admission::released`]
//! after a pod has gone. One file per plugin: [`namespace_lifecycle`], [`limit_ranger`],
//! [`node_restriction`], [`resource_quota`]; [`privileged`] is the `--allow-privileged` policy,
//! which kube applies in validation (422, not 403).

pub mod limit_ranger;
pub mod namespace_lifecycle;
pub mod node_restriction;
pub mod privileged;
pub mod resource_quota;

use serde_json::Value;

use crate::api::resources::Resource;
use crate::api::status::{qualified, ApiError, Cause};
use crate::api::validation::{self, FieldError};
use crate::auth::user::UserInfo;
use crate::registry::Registry;

/// One admission plugin kubesim has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plugin {
    /// No content in missing or terminating namespaces; system namespaces cannot be deleted.
    NamespaceLifecycle,
    /// LimitRange defaults and min/max per container.
    LimitRanger,
    /// Kubelets change only their own Node, Lease and pods.
    NodeRestriction,
    /// ResourceQuota: pods and compute requests per namespace.
    ResourceQuota,
}

/// kube-apiserver's plugin order (pkg/kubeapiserver/options/plugins.go `AllOrderedPlugins`):
/// plugins run in this order whatever order the flags name them in.
const ORDER: [Plugin; 4] =
    [Plugin::NamespaceLifecycle, Plugin::LimitRanger, Plugin::NodeRestriction, Plugin::ResourceQuota];

/// The plugins on without flags: kube's default-on set, as far as kubesim has them, plus
/// NodeRestriction (off in kube's defaults, but every real cluster enables it).
pub const DEFAULT_PLUGINS: [Plugin; 4] = ORDER;

impl Plugin {
    /// The plugin's flag name.
    pub fn name(self) -> &'static str {
        match self {
            Plugin::NamespaceLifecycle => "NamespaceLifecycle",
            Plugin::LimitRanger => "LimitRanger",
            Plugin::NodeRestriction => "NodeRestriction",
            Plugin::ResourceQuota => "ResourceQuota",
        }
    }
}

/// A bad admission flag (a startup error, as in kube-apiserver).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// Not a plugin kubesim has.
    #[error("{0:?} is not a supported admission plugin (NamespaceLifecycle, LimitRanger, NodeRestriction, ResourceQuota)")]
    Unknown(String),
    /// Named in both flags.
    #[error("{0} is both enabled and disabled")]
    Both(String),
}

impl std::str::FromStr for Plugin {
    type Err = PluginError;

    fn from_str(s: &str) -> Result<Plugin, PluginError> {
        ORDER.into_iter().find(|p| p.name() == s.trim()).ok_or_else(|| PluginError::Unknown(s.trim().into()))
    }
}

/// Admission options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// The plugins on, in kube's order.
    pub plugins: Vec<Plugin>,
    /// Whether pods may ask for privileged containers (--allow-privileged). Default false.
    pub allow_privileged: bool,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig { plugins: DEFAULT_PLUGINS.to_vec(), allow_privileged: false }
    }
}

impl AdmissionConfig {
    /// The plugins from kube-apiserver's flags: the defaults, plus `enable`, minus `disable`
    /// (comma lists already split); an unknown name or one in both lists is an error.
    pub fn from_flags(enable: &[String], disable: &[String]) -> Result<Vec<Plugin>, PluginError> {
        let parse = |names: &[String]| -> Result<Vec<Plugin>, PluginError> {
            names.iter().filter(|n| !n.trim().is_empty()).map(|n| n.parse()).collect()
        };
        let (enable, disable) = (parse(enable)?, parse(disable)?);
        if let Some(p) = enable.iter().find(|p| disable.contains(p)) {
            return Err(PluginError::Both(p.name().into()));
        }
        Ok(ORDER
            .into_iter()
            .filter(|p| (DEFAULT_PLUGINS.contains(p) || enable.contains(p)) && !disable.contains(p))
            .collect())
    }
}

/// What kind of write is admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// POST (also a subresource's, like pods/binding).
    Create,
    /// PUT or PATCH.
    Update,
    /// DELETE.
    Delete,
}

impl Operation {
    /// kube's name for it (`admission.Operation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// What a plugin sees of a write besides the objects.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// The operation.
    pub operation: Operation,
    /// The resource written.
    pub resource: &'a Resource,
    /// `status`, `binding`, or None for the resource itself.
    pub subresource: Option<&'a str>,
    /// The namespace of a namespaced resource.
    pub namespace: Option<&'a str>,
    /// The object's name.
    pub name: &'a str,
    /// Who writes.
    pub user: &'a UserInfo,
    /// A dry run: check, change nothing elsewhere (quota is not charged).
    pub dry_run: bool,
}

/// Why admission refused a write; turned into an [`ApiError`] at the registry's edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// 403: `<resource> "<name>" is forbidden: <reason>` (admission.NewForbidden).
    #[error("{resource} \"{name}\" is forbidden: {reason}")]
    Forbidden {
        /// Group-qualified resource.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        reason: String,
    },
    /// 404 for the namespace a create names.
    #[error("namespaces \"{0}\" not found")]
    NamespaceNotFound(String),
    /// 422 from a cluster policy that kube applies in validation (`--allow-privileged`).
    #[error("{kind} \"{name}\" is invalid")]
    Invalid {
        /// Kind.
        kind: String,
        /// Group.
        group: String,
        /// Object name.
        name: String,
        /// Field errors.
        errors: Vec<FieldError>,
    },
    /// A lookup or quota write failed in the layers below.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl AdmissionError {
    /// A 403 for the attributes' resource and name.
    pub fn forbidden(a: &Attributes<'_>, reason: impl Into<String>) -> AdmissionError {
        AdmissionError::Forbidden {
            resource: qualified(a.resource.plural, a.resource.group),
            name: a.name.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> ApiError {
        match e {
            AdmissionError::Forbidden { resource, name, reason } => {
                let message = if name.is_empty() {
                    format!("{resource} is forbidden: {reason}")
                } else {
                    format!("{resource} \"{name}\" is forbidden: {reason}")
                };
                ApiError::Forbidden { resource, name, message }
            }
            AdmissionError::NamespaceNotFound(ns) => {
                ApiError::NotFound { resource: "namespaces".into(), name: ns }
            }
            AdmissionError::Invalid { kind, group, name, errors } => ApiError::Invalid {
                message: validation::invalid_message(&validation::qualified_kind(&kind), &name, &errors),
                causes: errors
                    .iter()
                    .map(|e| Cause { reason: e.reason().into(), message: e.body(), field: e.field.clone() })
                    .collect(),
                kind,
                group,
                name,
            },
            AdmissionError::Api(e) => e,
        }
    }
}

/// A quota charge in progress: held by the registry until the object is stored (or refused), so
/// that charges in one namespace go one at a time in this process.
#[derive(Debug, Default)]
#[must_use = "hold the charge across the store write"]
pub struct Charge {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    namespace: Option<String>,
}

impl Charge {
    /// Whether a quota was charged (the charge must be undone if the write fails).
    pub fn charged(&self) -> bool {
        self.guard.is_some()
    }
}

/// The admission chain of one API server.
#[derive(Debug, Default)]
pub struct Admission {
    config: AdmissionConfig,
    quota: resource_quota::QuotaLocks,
}

impl Admission {
    /// A chain of `config.plugins`.
    pub fn new(config: AdmissionConfig) -> Admission {
        Admission { config, quota: Default::default() }
    }

    fn on(&self, p: Plugin) -> bool {
        self.config.plugins.contains(&p)
    }

    /// The mutating phase of a create: LimitRange defaults. Returns whether `obj` changed.
    pub async fn mutate_create(
        &self,
        registry: &Registry,
        a: &Attributes<'_>,
        obj: &mut Value,
    ) -> Result<bool, AdmissionError> {
        if self.on(Plugin::LimitRanger) && limit_ranger::applies(a) {
            let ranges = limit_ranger::ranges(registry, a).await?;
            return Ok(limit_ranger::default_pod(&ranges, obj));
        }
        Ok(false)
    }

    /// The validating phase of a create, last before the store write; the returned charge must be
    /// held across that write and [`Admission::settle`]d after it.
    pub async fn validate_create(
        &self,
        registry: &Registry,
        a: &Attributes<'_>,
        obj: &Value,
    ) -> Result<Charge, AdmissionError> {
        privileged::check(self.config.allow_privileged, a, obj)?;
        if self.on(Plugin::NamespaceLifecycle) {
            namespace_lifecycle::admit_create(registry, a).await?;
        }
        if self.on(Plugin::LimitRanger) && limit_ranger::applies(a) {
            let ranges = limit_ranger::ranges(registry, a).await?;
            limit_ranger::validate_pod(a, &ranges, obj)?;
        }
        if self.on(Plugin::NodeRestriction) {
            node_restriction::admit(a, Some(obj), None)?;
        }
        if self.on(Plugin::ResourceQuota) {
            return self.quota.charge(registry, a, obj).await;
        }
        Ok(Charge::default())
    }

    /// After the store write of a create: a failed write gives its quota charge back.
    pub async fn settle(&self, registry: &Registry, charge: Charge, stored: bool) {
        if charge.charged() && !stored {
            if let Some(ns) = &charge.namespace {
                resource_quota::recalculate(registry, ns).await;
            }
        }
        drop(charge);
    }

    /// The validating phase of an update (PUT, PATCH, status, binding), on each try of the
    /// read-modify-write loop.
    pub fn validate_update(
        &self,
        a: &Attributes<'_>,
        new: &Value,
        old: &Value,
    ) -> Result<(), AdmissionError> {
        if a.subresource.is_none() {
            privileged::check(self.config.allow_privileged, a, new)?;
        }
        if self.on(Plugin::NodeRestriction) {
            node_restriction::admit(a, Some(new), Some(old))?;
        }
        Ok(())
    }

    /// The validating phase of a delete, with the object as stored.
    pub fn validate_delete(&self, a: &Attributes<'_>, current: &Value) -> Result<(), AdmissionError> {
        if self.on(Plugin::NamespaceLifecycle) {
            namespace_lifecycle::admit_delete(a)?;
        }
        if self.on(Plugin::NodeRestriction) {
            node_restriction::admit(a, None, Some(current))?;
        }
        Ok(())
    }

    /// After an object has left storage: a pod's quota usage is given back (kube's quota
    /// controller replenishes on pod deletion).
    pub async fn released(&self, registry: &Registry, r: &Resource, ns: Option<&str>) {
        if let (true, "Pod", Some(ns)) = (self.on(Plugin::ResourceQuota), r.kind, ns) {
            // Most namespaces have no quota: the cache says so without a storage read.
            if resource_quota::any_in(registry, ns).await {
                let _serial = self.quota.lock(ns).await;
                resource_quota::recalculate(registry, ns).await;
            }
        }
    }

    /// The mutating phase for a new ResourceQuota: its status (hard, used) filled in.
    pub async fn init_quota_status(&self, registry: &Registry, a: &Attributes<'_>, obj: &mut Value) {
        if self.on(Plugin::ResourceQuota) && a.resource.kind == "ResourceQuota" {
            if let Some(ns) = a.namespace {
                resource_quota::init_status(registry, ns, obj).await;
            }
        }
    }
}
