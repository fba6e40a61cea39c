//! The registry: REST semantics (get, list, create, update, patch, delete, binding, watch) on top
//! of [`Storage`] and the watch caches. Sans-IO with respect to HTTP: it takes parsed requests and
//! returns JSON bytes or an [`ApiError`].

mod namespace_controller;
pub mod strategy;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::admission::{Admission, AdmissionConfig, Attributes, Operation};
use crate::api::object;
use crate::api::query::{
    ContinueToken, DeleteQuery, FieldValidation, ReadQuery, ResourceVersion, ResourceVersionMatch, WriteQuery,
};
use crate::api::resources::{self, Resource};
use crate::api::selector::{FieldSelector, LabelSelector};
use crate::api::status::{qualified, success_status, ApiError, Cause};
use crate::api::{defaults, patch, validation};
use crate::auth::user::{UserInfo, MASTERS};
use crate::storage::{KeyValue, ListOptions, Storage, StorageError};
use crate::watch::cache::{CachedObject, Filter, Subscription, WatchCache, WatchCacheConfig, WatchStart};

/// Limits and switches of the registry.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Serve reads and watches from watch caches (--watch-cache). Default true.
    pub watch_cache: bool,
    /// Watch cache limits.
    pub cache: WatchCacheConfig,
    /// Retries of an unconditional update that races another writer. Default 16.
    pub update_retries_max: usize,
    /// Per-resource watch-cache history sizes (--watch-cache-sizes `pods#1000`), overriding
    /// `cache.history_max`.
    pub cache_sizes: BTreeMap<String, usize>,
    /// Encryption at rest (--encryption-provider-config): when set, the store is wrapped so that
    /// the configured resources are stored encrypted and everything above it sees plaintext.
    pub encryption: Option<Arc<crate::encryption::Encryption>>,
    /// Admission plugins (--enable-admission-plugins, --disable-admission-plugins,
    /// --allow-privileged).
    pub admission: AdmissionConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            watch_cache: true,
            cache: WatchCacheConfig::default(),
            update_retries_max: 16,
            cache_sizes: BTreeMap::new(),
            encryption: None,
            admission: AdmissionConfig::default(),
        }
    }
}

/// A list, ready to be written as `<Kind>List` or as a Table.
#[derive(Debug)]
pub struct ListResult {
    /// Items, each with its resourceVersion.
    pub items: Vec<Bytes>,
    /// The list's resourceVersion.
    pub revision: i64,
    /// Continue token, if more items remain.
    pub continue_token: Option<String>,
    /// Items left after this page (only without selectors).
    pub remaining: Option<i64>,
}

/// Where a watch starts and what it sends first.
pub struct WatchSetup {
    /// The cache subscription.
    pub subscription: Subscription,
    /// Send the initial-events-end bookmark after the initial state (watch-list).
    pub initial_events_end: bool,
}

/// The registry of every served resource.
pub struct Registry {
    storage: Arc<dyn Storage>,
    live_lookups: LiveLookups,
    caches: BTreeMap<(&'static str, &'static str), Arc<WatchCache>>,
    admission: Admission,
    config: RegistryConfig,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("config", &self.config).finish_non_exhaustive()
    }
}

/// How long a live lookup that found nothing is believed (kube's admission `liveTTL`).
pub const LIVE_LOOKUP_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// (resource, namespace) pairs remembered as empty at most; expired ones go first.
const LIVE_LOOKUPS_MAX: usize = 10_000;

/// The (resource, namespace) pairs a live lookup found empty, until when.
#[derive(Debug, Default)]
struct LiveLookups(parking_lot::Mutex<BTreeMap<(&'static str, String), tokio::time::Instant>>);

impl LiveLookups {
    fn believed_none(&self, r: &Resource, ns: &str) -> bool {
        let now = tokio::time::Instant::now();
        self.0.lock().get(&(r.plural, ns.to_owned())).is_some_and(|until| *until > now)
    }

    fn found_none(&self, r: &Resource, ns: &str) {
        let now = tokio::time::Instant::now();
        let mut map = self.0.lock();
        if map.len() >= LIVE_LOOKUPS_MAX {
            map.retain(|_, until| *until > now);
        }
        if map.len() < LIVE_LOOKUPS_MAX {
            map.insert((r.plural, ns.to_owned()), now + LIVE_LOOKUP_TTL);
        }
    }

    fn forget(&self, r: &Resource, ns: &str) {
        let mut map = self.0.lock();
        if !map.is_empty() {
            map.remove(&(r.plural, ns.to_owned()));
        }
    }
}

fn storage_error(r: &Resource, name: &str, e: StorageError) -> ApiError {
    let resource = qualified(r.plural, r.group);
    match e {
        StorageError::NotFound { .. } => ApiError::NotFound { resource, name: name.to_owned() },
        StorageError::AlreadyExists { .. } => ApiError::AlreadyExists { resource, name: name.to_owned() },
        StorageError::Conflict { .. } => ApiError::stale(&resource, name),
        StorageError::Compacted { .. } => {
            ApiError::Expired("The resourceVersion for the provided list is too old.".into())
        }
        StorageError::FutureRevision { requested, current } => ApiError::Timeout {
            message: format!("Too large resource version: {requested}, current: {current}"),
            retry_after_seconds: 1,
            too_large_resource_version: true,
        },
        StorageError::Timeout(m) => ApiError::Timeout {
            message: format!("storage request timed out: {m}"),
            retry_after_seconds: 1,
            too_large_resource_version: false,
        },
        StorageError::Unavailable(m) => ApiError::ServiceUnavailable(format!("storage unavailable: {m}")),
        other => ApiError::Internal(other.to_string()),
    }
}

/// 410 for a continue token past compaction, with an inconsistent token (rv -1) that resumes at
/// the latest version (apiserver pkg/storage/continue.go).
fn expired_continue(q: &ReadQuery) -> ApiError {
    let resume = q
        .continue_token
        .as_deref()
        .and_then(|t| ContinueToken::decode(t).ok())
        .map(|t| ContinueToken { rv: -1, ..t }.encode());
    ApiError::ExpiredContinue {
        message: "The provided continue parameter is too old to display a consistent list result. You can start \
                  a new list without the continue parameter, or use the continue token in this response to \
                  retrieve the remainder of the results. Continuing with the provided token results in an \
                  inconsistent list - objects that were created, modified, or deleted between the time the first \
                  chunk was returned and now may show up in the list."
            .into(),
        continue_token: resume.unwrap_or_default(),
    }
}

/// Parses the label and field selectors of a read into a filter.
pub fn filter_for(r: &Resource, namespace: Option<&str>, q: &ReadQuery) -> Result<Filter, ApiError> {
    let labels = q
        .label_selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let fields = q
        .field_selector
        .as_deref()
        .map(FieldSelector::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.0))?;
    if let Some(f) = &fields {
        let allowed = crate::watch::cache::selectable_fields(r.kind);
        for req in f.requirements() {
            if !allowed.contains(&req.field.as_str()) {
                return Err(ApiError::BadRequest(format!("field label not supported: {}", req.field)));
            }
        }
    }
    Ok(Filter { namespace: namespace.filter(|_| r.namespaced).map(str::to_owned), labels, fields })
}

/// The list object: `{"kind":…List,"apiVersion":…,"metadata":{…},"items":[…]}` from item bytes.
pub fn list_json(r: &Resource, list: &ListResult) -> Bytes {
    let mut meta = serde_json::Map::new();
    meta.insert("resourceVersion".into(), json!(list.revision.to_string()));
    if let Some(c) = &list.continue_token {
        meta.insert("continue".into(), json!(c));
    }
    if let Some(n) = list.remaining {
        meta.insert("remainingItemCount".into(), json!(n));
    }
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
        r.list_kind,
        r.api_version(),
        Value::Object(meta)
    );
    let size = head.len() + list.items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head.as_bytes());
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Concurrent deletes of one deletecollection (kube-apiserver's --delete-collection-workers).
pub const DELETE_COLLECTION_WORKERS: usize = 16;

/// The largest page read from storage at once (kube-apiserver's cacher lists etcd in pages too).
pub const STORAGE_PAGE: usize = 1_000;

/// Characters kube uses for generated name suffixes.
const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_name(prefix: &str) -> String {
    let suffix: String =
        (0..5).map(|_| NAME_CHARS[rand::random_range(0..NAME_CHARS.len())] as char).collect();
    format!("{prefix}{suffix}")
}

impl Registry {
    /// A registry over `storage`; with the watch cache on, call [`start`](Self::start).
    pub fn new(storage: Arc<dyn Storage>, config: RegistryConfig) -> Self {
        // The one place values are transformed for storage: caches and reads above it see plaintext.
        let storage: Arc<dyn Storage> = match &config.encryption {
            Some(e) => Arc::new(crate::encryption::EncryptedStore::new(storage, e.clone())),
            None => storage,
        };
        let caches = if config.watch_cache {
            resources::RESOURCES
                .iter()
                .map(|r| {
                    let mut cache = config.cache.clone();
                    if let Some(&size) = config.cache_sizes.get(r.plural) {
                        cache.history_max = size;
                    }
                    ((r.group, r.plural), WatchCache::new(r, storage.clone(), cache))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        Registry {
            storage,
            live_lookups: LiveLookups::default(),
            caches,
            admission: Admission::new(config.admission.clone()),
            config,
        }
    }

    /// Starts the caches' reflectors.
    pub fn start(&self) {
        for cache in self.caches.values() {
            cache.start();
        }
    }

    /// Waits until every cache has loaded.
    pub async fn wait_ready(&self) -> Result<(), ApiError> {
        for cache in self.caches.values() {
            cache.wait_for(0).await?;
        }
        Ok(())
    }

    /// The store.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The cache of a resource, when caching is on.
    pub fn cache(&self, r: &Resource) -> Option<&Arc<WatchCache>> {
        self.caches.get(&(r.group, r.plural))
    }

    /// One object as stored now (with its resourceVersion), or None.
    pub async fn stored(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        match self.read_stored(r, &r.storage_key(ns, name), name).await {
            Ok((v, _)) => Ok(Some(v)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every object of a namespace, from the cache when there is one (for admission lookups).
    pub async fn objects_in(&self, r: &Resource, ns: &str) -> Result<Vec<Value>, ApiError> {
        let Some(cache) = self.cache(r) else { return self.objects_in_storage(r, ns).await };
        let filter = Filter { namespace: Some(ns.to_owned()), ..Filter::default() };
        let (objects, _) = cache.list(&filter);
        objects
            .iter()
            .map(|o| serde_json::from_slice(&o.json()).map_err(|e| ApiError::Internal(e.to_string())))
            .collect()
    }

    /// Every object of a namespace for admission: from the watch cache, but when the cache has
    /// none, from storage (kube's admission "live lookup": an object created a moment ago may not
    /// be cached yet), and a "none" from storage is believed for [`LIVE_LOOKUP_TTL`] unless this
    /// server creates one meanwhile.
    pub async fn objects_in_live(&self, r: &Resource, ns: &str) -> Result<Vec<Value>, ApiError> {
        let cached = self.objects_in(r, ns).await?;
        if !cached.is_empty() || self.live_lookups.believed_none(r, ns) {
            return Ok(cached);
        }
        let stored = self.objects_in_storage(r, ns).await?;
        if stored.is_empty() {
            self.live_lookups.found_none(r, ns);
        }
        Ok(stored)
    }

    /// Every object of a namespace, read from storage now (each with its resourceVersion).
    pub async fn objects_in_storage(&self, r: &Resource, ns: &str) -> Result<Vec<Value>, ApiError> {
        let list = self
            .list_from_storage(r, Some(ns), &ReadQuery::default(), &Filter::default(), ResourceVersion::Unset)
            .await?;
        list.items
            .iter()
            .map(|i| serde_json::from_slice(i).map_err(|e| ApiError::Internal(e.to_string())))
            .collect()
    }

    /// Writes `obj` over the stored object if it is still at `obj`'s resourceVersion (for
    /// controllers inside the server: quota status). Returns false on a conflict.
    pub async fn replace_stored(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        obj: &Value,
    ) -> Result<bool, ApiError> {
        let revision = object::meta_str(obj, "resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        let key = r.storage_key(ns, name);
        match self.storage.update(&key, object::encode_for_storage(obj), revision).await {
            Ok(_) => Ok(true),
            Err(StorageError::Conflict { .. } | StorageError::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage_error(r, name, e)),
        }
    }

    /// The identity of the server's own writes (kube's loopback client, `system:apiserver`).
    pub fn system_user() -> UserInfo {
        UserInfo::authenticated("system:apiserver", "", vec![MASTERS.into()])
    }

    /// The stored object, decoded with its resourceVersion, and the key-value it came from.
    async fn read_stored(&self, r: &Resource, key: &str, name: &str) -> Result<(Value, KeyValue), ApiError> {
        let kv = self.storage.get(key, None).await.map_err(|e| storage_error(r, name, e))?;
        let obj = object::decode_stored(&kv.value, kv.mod_revision)
            .map_err(|e| ApiError::Internal(format!("stored object undecodable: {e}")))?;
        Ok((obj, kv))
    }

    /// GET of one object.
    pub async fn get(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        q: &ReadQuery,
    ) -> Result<Bytes, ApiError> {
        let key = r.storage_key(ns, name);
        let not_found =
            || ApiError::NotFound { resource: qualified(r.plural, r.group), name: name.to_owned() };
        let min = match q.resource_version()? {
            ResourceVersion::Unset => None,
            ResourceVersion::Any => Some(0),
            ResourceVersion::At(n) => Some(n),
        };
        match (min, self.cache(r)) {
            (Some(min), Some(cache)) => {
                cache.wait_for(min).await?;
                cache.get(&key).map(|o| o.json()).ok_or_else(not_found)
            }
            _ => {
                let kv = self.storage.get(&key, None).await.map_err(|e| storage_error(r, name, e))?;
                serde_json::from_slice::<serde::de::IgnoredAny>(&kv.value)
                    .map_err(|e| ApiError::Internal(format!("stored object undecodable: {e}")))?;
                Ok(object::with_resource_version(&kv.value, kv.mod_revision))
            }
        }
    }

    /// LIST.
    pub async fn list(&self, r: &Resource, ns: Option<&str>, q: &ReadQuery) -> Result<ListResult, ApiError> {
        let filter = filter_for(r, ns, q)?;
        let rv = q.resource_version()?;
        let cache = self.cache(r);
        // kube-apiserver: RV="0" and NotOlderThan reads come from the cache (limit ignored); an
        // unset RV is a consistent read, a limited RV=N read is exact, both from storage.
        let from_cache = match (rv, q.resource_version_match, q.limit, &q.continue_token) {
            (_, _, _, Some(_)) => None,
            (ResourceVersion::Any, _, _, _) => Some(0),
            (ResourceVersion::At(n), Some(ResourceVersionMatch::NotOlderThan), _, _) => Some(n),
            (ResourceVersion::At(n), None, None, _) => Some(n),
            _ => None,
        };
        if let (Some(min), Some(cache)) = (from_cache, cache) {
            cache.wait_for(min).await?;
            let (objects, revision) = cache.list(&filter);
            return Ok(ListResult {
                items: objects.iter().map(|o| o.json()).collect(),
                revision,
                continue_token: None,
                remaining: None,
            });
        }
        self.list_from_storage(r, ns, q, &filter, rv).await
    }

    async fn list_from_storage(
        &self,
        r: &Resource,
        ns: Option<&str>,
        q: &ReadQuery,
        filter: &Filter,
        rv: ResourceVersion,
    ) -> Result<ListResult, ApiError> {
        let prefix = match ns {
            Some(ns) if r.namespaced => r.namespace_prefix(ns),
            _ => r.storage_prefix(),
        };
        let collection = r.storage_prefix();
        let mut options = ListOptions::default();
        if let Some(token) = &q.continue_token {
            let t = ContinueToken::decode(token)?;
            options.revision = Some(t.rv).filter(|&rv| rv > 0);
            options.continue_after = Some(format!("{collection}{}", t.resume_after()));
        } else if let ResourceVersion::At(n) = rv {
            options.revision = Some(n);
        }
        let limit = q.limit.map(|l| l as usize);
        let selecting = filter.labels.is_some() || filter.fields.is_some();
        let mut items = Vec::new();
        let mut last_key: Option<String> = None;
        let mut revision;
        let mut more;
        let mut remaining = None;
        // remainingItemCount only without selectors (k8s-api.md §1.4).
        options.count = limit.is_some() && !selecting;
        loop {
            // Storage is read in pages of at most STORAGE_PAGE, so that no single store response
            // (an etcd range) grows with the collection.
            options.limit = Some(match limit {
                Some(l) if selecting => (l - items.len()).clamp(64, STORAGE_PAGE),
                Some(l) => (l - items.len()).clamp(1, STORAGE_PAGE),
                None => STORAGE_PAGE,
            });
            let page = self.storage.list(&prefix, options.clone()).await.map_err(|e| match e {
                StorageError::Compacted { .. } if q.continue_token.is_some() => expired_continue(q),
                other => storage_error(r, "", other),
            })?;
            if let (Some(count), false) = (page.count, selecting) {
                remaining = Some(count - page.items.len() as i64);
            }
            revision = page.revision;
            more = page.more;
            options.revision = Some(page.revision);
            let mut stopped_early = false;
            for kv in &page.items {
                if limit.is_some_and(|l| items.len() >= l) {
                    stopped_early = true;
                    break;
                }
                last_key = Some(kv.key.to_string());
                let o = CachedObject::from_kv(r, kv)
                    .map_err(|e| ApiError::Internal(format!("stored object undecodable: {e}")))?;
                if filter.matches(&o) {
                    items.push(o.json());
                }
            }
            if stopped_early {
                more = true;
                break;
            }
            if !page.more || limit.is_some_and(|l| items.len() >= l) {
                break;
            }
            options.continue_after = last_key.clone();
        }
        let continue_token = match (more, &last_key) {
            (true, Some(k)) => Some(
                ContinueToken::after(revision, k.strip_prefix(collection.as_str()).unwrap_or(k)).encode(),
            ),
            _ => None,
        };
        let remaining = remaining.filter(|&n| n > 0 && continue_token.is_some());
        Ok(ListResult { items, revision, continue_token, remaining })
    }

    /// Decodes a write body: JSON, the right kind, the canonical typed form; strict decoding when
    /// asked for.
    fn decode_body(&self, r: &Resource, kind: &str, body: &[u8], wq: &WriteQuery) -> Result<Value, ApiError> {
        let api_version = if kind == r.kind { r.api_version() } else { "v1".into() };
        let mut canonical = match strategy::canonicalize_bytes(kind, body) {
            Some(canonical) => canonical,
            None => Self::decode_body_tree(kind, &api_version, body, wq)?,
        };
        canonical["apiVersion"] = json!(api_version);
        canonical["kind"] = json!(kind);
        strategy::convert_wire_only_fields(kind, &mut canonical);
        Ok(canonical)
    }

    /// [`Registry::decode_body`] through a parsed tree: every body a typed decode refuses, or
    /// with fields it ignores, comes here for the exact error or the unknown fields' paths.
    fn decode_body_tree(
        kind: &str,
        api_version: &str,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Value, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("the object provided is unrecognized (must be of type {kind}): {e}"))
        })?;
        if !value.is_object() {
            return Err(ApiError::BadRequest(format!(
                "the object provided is unrecognized (must be of type {kind})"
            )));
        }
        if let Some(k) = value.get("kind").and_then(Value::as_str) {
            if k != kind {
                return Err(ApiError::BadRequest(format!(
                    "the kind in the data ({k}) does not match the expected kind ({kind})"
                )));
            }
        }
        if let Some(v) = value.get("apiVersion").and_then(Value::as_str) {
            if v != api_version {
                return Err(ApiError::BadRequest(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )));
            }
        }
        let (canonical, unknown) = strategy::canonicalize(kind, api_version, &value)?;
        if !unknown.is_empty() && wq.field_validation == FieldValidation::Strict {
            return Err(strategy::strict_error(&unknown));
        }
        Ok(canonical)
    }

    fn invalid(r: &Resource, name: &str, errors: &[validation::FieldError]) -> ApiError {
        ApiError::Invalid {
            kind: r.kind.into(),
            group: r.group.into(),
            name: name.into(),
            message: validation::invalid_message(&validation::qualified_kind(r.kind), name, errors),
            causes: errors
                .iter()
                .map(|e| Cause { reason: e.reason().into(), message: e.body(), field: e.field.clone() })
                .collect(),
        }
    }

    /// POST of a new object by the server itself.
    pub async fn create(
        &self,
        r: &Resource,
        ns: Option<&str>,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        self.create_as(&Self::system_user(), r, ns, body, wq).await
    }

    /// POST of a new object by `user`. Returns 201 and the object.
    pub async fn create_as(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        let mut obj = self.decode_body(r, r.kind, body, wq)?;
        let ns = if r.namespaced { ns } else { None };
        if r.namespaced {
            match (object::namespace(&obj), ns) {
                (Some(body_ns), Some(ns)) if body_ns != ns => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request"
                            .into(),
                    ));
                }
                (_, Some(ns)) => object::set_meta(&mut obj, "namespace", json!(ns)),
                (_, None) => return Err(ApiError::NoRoute),
            }
        } else if let Some(m) = object::meta(&obj) {
            if m.contains_key("namespace") {
                object::meta_mut(&mut obj).remove("namespace");
            }
        }
        if object::name(&obj).is_none() {
            if let Some(prefix) = object::meta_str(&obj, "generateName").map(str::to_owned) {
                object::set_meta(&mut obj, "name", json!(generated_name(&prefix)));
            }
        }
        {
            let m = object::meta_mut(&mut obj);
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.insert("uid".into(), json!(uuid::Uuid::from_u128(rand::random()).to_string()));
            m.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
            m.insert("generation".into(), json!(1));
        }
        strategy::prepare_for_create(r.kind, &mut obj);
        defaults::apply_defaults(r.kind, &mut obj);
        let name = object::name(&obj).unwrap_or_default().to_owned();
        let attributes = Attributes {
            operation: Operation::Create,
            resource: r,
            subresource: None,
            namespace: ns,
            name: &name,
            user,
            dry_run: wq.dry_run,
        };
        if self.admission.mutate_create(self, &attributes, &mut obj).await? && r.kind == "Pod" {
            // Defaulted resources change the QoS class the strategy computed.
            obj["status"]["qosClass"] = json!(strategy::qos_class(&obj));
        }
        let errors = validation::validate_create(r.kind, &obj);
        if !errors.is_empty() {
            return Err(Self::invalid(r, &name, &errors));
        }
        let charge = self.admission.validate_create(self, &attributes, &obj).await?;
        self.admission.init_quota_status(self, &attributes, &mut obj).await;
        let key = r.storage_key(ns, &name);
        let stored = object::encode_for_storage(&obj);
        if wq.dry_run {
            return Ok(object::with_resource_version(&stored, 0));
        }
        let result = self.storage.create(&key, stored.clone()).await;
        self.admission.settle(self, charge, result.is_ok()).await;
        if result.is_ok() {
            if let Some(ns) = ns {
                self.live_lookups.forget(r, ns);
            }
        }
        let revision = result.map_err(|e| storage_error(r, &name, e))?;
        Ok(object::with_resource_version(&stored, revision))
    }

    /// The read-modify-write loop of every update (kube's GuaranteedUpdate): `change` gets the
    /// current object and returns the new one, or an error. Retries on a concurrent write unless
    /// the caller pinned a resourceVersion.
    #[allow(clippy::too_many_arguments)]
    async fn guaranteed_update(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        wq: &WriteQuery,
        mut change: impl FnMut(&Value) -> Result<Option<Value>, ApiError>,
    ) -> Result<Bytes, ApiError> {
        let key = r.storage_key(ns, name);
        let resource = qualified(r.plural, r.group);
        for _ in 0..self.config.update_retries_max {
            let (current, kv) = self.read_stored(r, &key, name).await?;
            let revision = kv.mod_revision;
            let Some(mut new) = change(&current)? else {
                return Ok(object::with_resource_version(&kv.value, revision));
            };
            if let Some(pinned) = object::meta_str(&new, "resourceVersion") {
                if pinned != revision.to_string() {
                    return Err(ApiError::stale(&resource, name));
                }
            }
            // Immutable metadata comes from the stored object.
            for field in ["uid", "creationTimestamp", "name", "namespace", "deletionTimestamp"] {
                match object::meta(&current).and_then(|m| m.get(field)).cloned() {
                    Some(v) => object::set_meta(&mut new, field, v),
                    None => {
                        object::meta_mut(&mut new).remove(field);
                    }
                }
            }
            if let Some(g) = object::meta(&current).and_then(|m| m.get("generation")).cloned() {
                object::set_meta(&mut new, "generation", g);
            }
            if strategy::spec_changed(&new, &current) {
                let g = object::meta(&current)
                    .and_then(|m| m.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                object::set_meta(&mut new, "generation", json!(g + 1));
            }
            // kube's GuaranteedUpdate: a write that would store the same bytes is no write.
            let stored = object::encode_for_storage(&new);
            if stored == kv.value {
                return Ok(object::with_resource_version(&stored, revision));
            }
            let attributes = Attributes {
                operation: Operation::Update,
                resource: r,
                subresource,
                namespace: ns,
                name,
                user,
                dry_run: wq.dry_run,
            };
            self.admission.validate_update(&attributes, &new, &current)?;
            if wq.dry_run {
                return Ok(object::with_resource_version(&stored, revision));
            }
            // A terminating object whose last finalizer went and whose grace is over goes now; a
            // namespace also waits for its spec.finalizers (the namespace controller's).
            let finalized = object::meta(&new).is_some_and(|m| {
                m.contains_key("deletionTimestamp")
                    && m.get("finalizers").and_then(Value::as_array).is_none_or(|f| f.is_empty())
                    && m.get("deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) == 0
            }) && (r.kind != "Namespace"
                || new["spec"]["finalizers"].as_array().is_none_or(|f| f.is_empty()));
            if finalized {
                return match self.storage.delete(&key, Some(revision)).await {
                    Ok(d) => {
                        self.admission.released(self, r, ns).await;
                        Ok(object::with_resource_version(&stored, d.revision))
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => Err(storage_error(r, name, e)),
                };
            }
            match self.storage.update(&key, stored.clone(), revision).await {
                Ok(rev) => return Ok(object::with_resource_version(&stored, rev)),
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_error(r, name, e)),
            }
        }
        Err(ApiError::stale(&resource, name))
    }

    /// Applies an already-decoded new version of the object (PUT body or patched object).
    fn updated(
        r: &Resource,
        subresource: Option<&str>,
        name: &str,
        mut new: Value,
        current: &Value,
    ) -> Result<Value, ApiError> {
        if object::name(&new).is_some_and(|n| n != name) {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                object::name(&new).unwrap_or_default()
            )));
        }
        object::set_meta(&mut new, "name", json!(name));
        match subresource {
            Some("status") => {
                // Only status (and labels/annotations) change through the status subresource.
                let mut merged = current.clone();
                merged["status"] =
                    new.as_object_mut().and_then(|o| o.remove("status")).unwrap_or(Value::Null);
                for field in ["labels", "annotations", "resourceVersion"] {
                    match object::meta(&new).and_then(|m| m.get(field)).cloned() {
                        Some(v) => object::set_meta(&mut merged, field, v),
                        None => {
                            object::meta_mut(&mut merged).remove(field);
                        }
                    }
                }
                let errors = validation::validate_status_update(r.kind, &merged, current);
                if !errors.is_empty() {
                    return Err(Self::invalid(r, name, &errors));
                }
                Ok(merged)
            }
            None => {
                if strategy::has_status(r.kind) {
                    new["status"] = current.get("status").cloned().unwrap_or(Value::Null);
                    if new["status"].is_null() {
                        new.as_object_mut().expect("object").remove("status");
                    }
                }
                defaults::apply_defaults(r.kind, &mut new);
                let errors = validation::validate_update(r.kind, &new, current);
                if !errors.is_empty() {
                    return Err(Self::invalid(r, name, &errors));
                }
                Ok(new)
            }
            Some(other) => Err(ApiError::NotFound {
                resource: format!("{}/{other}", qualified(r.plural, r.group)),
                name: name.into(),
            }),
        }
    }

    /// PUT by the server itself.
    pub async fn update(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        self.update_as(&Self::system_user(), r, ns, name, subresource, body, wq).await
    }

    /// PUT by `user`.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_as(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        let mut decoded = Some(self.decode_body(r, r.kind, body, wq)?);
        if r.namespaced {
            if let (Some(body_ns), Some(ns)) = (decoded.as_ref().and_then(object::namespace), ns) {
                if body_ns != ns {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request"
                            .into(),
                    ));
                }
            }
        }
        self.guaranteed_update(user, r, ns, name, subresource, wq, |current| {
            // A retry (rare) decodes the body again rather than every attempt cloning the object.
            let new = match decoded.take() {
                Some(new) => new,
                None => self.decode_body(r, r.kind, body, wq)?,
            };
            Self::updated(r, subresource, name, new, current).map(Some)
        })
        .await
    }

    /// PATCH by the server itself.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        content_type: &str,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        self.patch_as(&Self::system_user(), r, ns, name, subresource, content_type, body, wq).await
    }

    /// PATCH by `user`.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_as(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        content_type: &str,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        let patch_type = patch::PatchType::from_content_type(content_type).ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, \
                 application/strategic-merge-patch+json (got {content_type:?})"
            ))
        })?;
        self.guaranteed_update(user, r, ns, name, subresource, wq, |current| {
            let patched = patch::apply_patch(patch_type, r.kind, current, body).map_err(ApiError::from)?;
            let bytes = serde_json::to_vec(&patched).map_err(|e| ApiError::Internal(e.to_string()))?;
            let new = self.decode_body(r, r.kind, &bytes, wq)?;
            Self::updated(r, subresource, name, new, current).map(Some)
        })
        .await
    }

    /// POST pods/<name>/binding by the server itself.
    pub async fn bind(&self, ns: &str, name: &str, body: &[u8], wq: &WriteQuery) -> Result<Bytes, ApiError> {
        self.bind_as(&Self::system_user(), ns, name, body, wq).await
    }

    /// POST pods/<name>/binding (k/k BindingREST) by `user`: 201 with a success Status.
    pub async fn bind_as(
        &self,
        user: &UserInfo,
        ns: &str,
        name: &str,
        body: &[u8],
        wq: &WriteQuery,
    ) -> Result<Bytes, ApiError> {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let binding = self.decode_body(pods, "Binding", body, wq)?;
        if object::name(&binding).is_some_and(|n| n != name) {
            return Err(ApiError::BadRequest(format!(
                "name in URL ({name}) does not match name in body ({})",
                object::name(&binding).unwrap_or_default()
            )));
        }
        let node = binding["target"]["name"].as_str().unwrap_or_default().to_owned();
        if node.is_empty() {
            return Err(Self::invalid(pods, name, &[validation::FieldError::required("target.name", "")]));
        }
        let want_uid = object::meta_str(&binding, "uid").map(str::to_owned);
        let conflict =
            |message: String| ApiError::Conflict { resource: "pods".into(), name: name.into(), message };
        self.guaranteed_update(user, pods, Some(ns), name, Some("binding"), wq, |pod| {
            if let Some(uid) = &want_uid {
                if object::meta_str(pod, "uid") != Some(uid.as_str()) {
                    return Err(conflict(format!(
                        "Operation cannot be fulfilled on pods/binding \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object::meta_str(pod, "uid").unwrap_or_default()
                    )));
                }
            }
            if object::meta_str(pod, "deletionTimestamp").is_some() {
                return Err(conflict(format!(
                    "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            // The canary build skips this check on purpose: the harness must catch the rebind.
            let bound = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty());
            if let Some(bound) = bound.filter(|_| !cfg!(feature = "canary-double-bind")) {
                return Err(conflict(format!(
                    "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{bound}\""
                )));
            }
            if pod["spec"]["schedulingGates"].as_array().is_some_and(|g| !g.is_empty()) {
                return Err(conflict(format!(
                    "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} has non-empty .spec.schedulingGates"
                )));
            }
            let mut pod = pod.clone();
            pod["spec"]["nodeName"] = json!(node);
            let now = object::now_rfc3339();
            let status = pod.as_object_mut().expect("object").entry("status").or_insert_with(|| json!({}));
            let conditions = status.as_object_mut().expect("object").entry("conditions").or_insert_with(|| json!([]));
            if let Some(list) = conditions.as_array_mut() {
                list.retain(|c| c["type"] != "PodScheduled");
                list.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
            }
            if let Some(s) = pod["status"].as_object_mut() {
                s.remove("nominatedNodeName");
            }
            Ok(Some(pod))
        })
        .await?;
        Ok(Bytes::from(success_status(201, None).to_string()))
    }

    /// DELETE of one object by the server itself.
    pub async fn delete(
        &self,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        dq: &DeleteQuery,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.delete_as(&Self::system_user(), r, ns, name, dq, body).await
    }

    /// DELETE of one object by `user`. Returns the deleted object, or the terminating one
    /// (graceful).
    pub async fn delete_as(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        name: &str,
        dq: &DeleteQuery,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("invalid DeleteOptions: {e}")))?
        };
        let grace = dq.grace_period_seconds.or_else(|| options["gracePeriodSeconds"].as_i64());
        let pre_uid = options["preconditions"]["uid"].as_str().map(str::to_owned);
        let pre_rv = options["preconditions"]["resourceVersion"].as_str().map(str::to_owned);
        let dry_run =
            dq.dry_run || options["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All"));
        let key = r.storage_key(ns, name);
        let resource = qualified(r.plural, r.group);
        for _ in 0..self.config.update_retries_max {
            let (current, kv) = self.read_stored(r, &key, name).await?;
            let revision = kv.mod_revision;
            if let Some(uid) = &pre_uid {
                if object::meta_str(&current, "uid") != Some(uid.as_str()) {
                    return Err(ApiError::Conflict {
                        resource: resource.clone(),
                        name: name.into(),
                        message: format!(
                            "Operation cannot be fulfilled on {resource} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            object::meta_str(&current, "uid").unwrap_or_default()
                        ),
                    });
                }
            }
            if let Some(rv) = &pre_rv {
                if *rv != revision.to_string() {
                    return Err(ApiError::Conflict {
                        resource: resource.clone(),
                        name: name.into(),
                        message: format!(
                            "Operation cannot be fulfilled on {resource} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
                        ),
                    });
                }
            }
            let attributes = Attributes {
                operation: Operation::Delete,
                resource: r,
                subresource: None,
                namespace: ns,
                name,
                user,
                dry_run,
            };
            self.admission.validate_delete(&attributes, &current)?;
            let has_finalizers = object::meta(&current)
                .and_then(|m| m.get("finalizers"))
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
            let grace_seconds = match r.kind {
                "Pod" => strategy::pod_grace_seconds(&current, grace),
                _ => 0,
            };
            let terminating = r.kind == "Namespace" || has_finalizers || grace_seconds > 0;
            if dry_run {
                return Ok(object::with_resource_version(&object::encode_for_storage(&current), revision));
            }
            if terminating {
                let mut marked = current.clone();
                let already = object::meta_str(&current, "deletionTimestamp").is_some();
                let previous_grace = object::meta(&current)
                    .and_then(|m| m.get("deletionGracePeriodSeconds"))
                    .and_then(Value::as_i64);
                if already && previous_grace.is_some_and(|p| p <= grace_seconds) {
                    return Ok(object::with_resource_version(
                        &object::encode_for_storage(&current),
                        revision,
                    ));
                }
                let deadline = jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(grace_seconds))
                    .unwrap_or(jiff::Timestamp::MAX)
                    .round(jiff::Unit::Second)
                    .unwrap_or(jiff::Timestamp::MAX);
                if !already || previous_grace.is_some_and(|p| p > grace_seconds) {
                    object::set_meta(&mut marked, "deletionTimestamp", json!(deadline.to_string()));
                }
                object::set_meta(&mut marked, "deletionGracePeriodSeconds", json!(grace_seconds));
                if r.kind == "Namespace" {
                    marked["status"]["phase"] = json!("Terminating");
                }
                let stored = object::encode_for_storage(&marked);
                match self.storage.update(&key, stored.clone(), revision).await {
                    Ok(rev) => return Ok(object::with_resource_version(&stored, rev)),
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => return Err(storage_error(r, name, e)),
                }
            }
            match self.storage.delete(&key, Some(revision)).await {
                Ok(d) => {
                    self.admission.released(self, r, ns).await;
                    return Ok(object::with_resource_version(&d.prev.value, d.revision));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_error(r, name, e)),
            }
        }
        Err(ApiError::stale(&resource, name))
    }

    /// DELETE of a collection by the server itself.
    pub async fn delete_collection(
        &self,
        r: &Resource,
        ns: Option<&str>,
        q: &ReadQuery,
        dq: &DeleteQuery,
        body: &[u8],
    ) -> Result<ListResult, ApiError> {
        self.delete_collection_as(&Self::system_user(), r, ns, q, dq, body).await
    }

    /// DELETE of a collection by `user`: every matching object, each as a single delete would.
    #[allow(clippy::too_many_arguments)]
    pub async fn delete_collection_as(
        &self,
        user: &UserInfo,
        r: &Resource,
        ns: Option<&str>,
        q: &ReadQuery,
        dq: &DeleteQuery,
        body: &[u8],
    ) -> Result<ListResult, ApiError> {
        let mut all = ReadQuery { limit: None, continue_token: None, ..q.clone() };
        all.resource_version = None;
        let list = self.list(r, ns, &all).await?;
        // kube-apiserver deletes a collection with 16 workers (DeleteCollectionWorkers).
        let mut targets = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let v: Value = serde_json::from_slice(item).map_err(|e| ApiError::Internal(e.to_string()))?;
            targets.push((
                object::namespace(&v).map(str::to_owned),
                object::name(&v).unwrap_or_default().to_owned(),
            ));
        }
        let mut deleted = Vec::new();
        for chunk in targets.chunks(DELETE_COLLECTION_WORKERS) {
            let mut batch = Vec::with_capacity(chunk.len());
            for (namespace, name) in chunk {
                batch.push(self.delete_as(user, r, namespace.as_deref(), name, dq, body));
            }
            for result in futures::future::join_all(batch).await {
                match result {
                    Ok(obj) => deleted.push(obj),
                    Err(ApiError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(ListResult { items: deleted, revision: list.revision, continue_token: None, remaining: None })
    }

    /// WATCH: registers with the resource's cache.
    pub async fn watch(&self, r: &Resource, ns: Option<&str>, q: &ReadQuery) -> Result<WatchSetup, ApiError> {
        let filter = filter_for(r, ns, q)?;
        let rv = q.resource_version()?;
        // Without the shared cache (--watch-cache=false) a watch gets a cache of its own, fed by
        // its own list (at the requested version) and watch of storage, as kube-apiserver then
        // watches etcd per request; it stops with the watch.
        let private = match self.cache(r) {
            Some(_) => None,
            None => {
                let served = resources::find(r.group, r.version, r.plural).ok_or(ApiError::NoRoute)?;
                let private = WatchCache::new(served, self.storage.clone(), self.config.cache.clone());
                if let ResourceVersion::At(n) = rv {
                    private.list_first_at(n);
                }
                let reflector = private.start();
                Some((private, reflector))
            }
        };
        let cache = match (&private, self.cache(r)) {
            (Some((p, _)), _) => p,
            (None, Some(c)) => c,
            (None, None) => unreachable!("a private cache is made when there is no shared one"),
        };
        let initial_events =
            q.send_initial_events.unwrap_or(matches!(rv, ResourceVersion::Unset | ResourceVersion::Any));
        let start = match (rv, initial_events) {
            (ResourceVersion::At(n), false) => {
                cache.wait_for(n).await?;
                WatchStart::After(n)
            }
            (ResourceVersion::At(n), true) => {
                cache.wait_for(n).await?;
                WatchStart::NowWithInitialState
            }
            (rv, true) => {
                // RV unset: a consistent snapshot, at least the store's current revision.
                let min = match rv {
                    ResourceVersion::Unset => {
                        self.storage.current_revision().await.map_err(|e| storage_error(r, "", e))?
                    }
                    _ => 0,
                };
                cache.wait_for(min).await?;
                WatchStart::NowWithInitialState
            }
            (_, false) => {
                cache.wait_for(0).await?;
                WatchStart::After(cache.revision())
            }
        };
        let mut subscription = match cache.watch(filter, start, q.allow_watch_bookmarks) {
            Ok(s) => s,
            Err(e) => {
                if let Some((_, reflector)) = private {
                    reflector.abort();
                }
                return Err(e);
            }
        };
        if let Some((_, reflector)) = private {
            subscription.own_reflector(reflector);
        }
        Ok(WatchSetup { subscription, initial_events_end: q.send_initial_events == Some(true) })
    }

    /// Creates the namespaces kube-apiserver keeps: default, kube-system, kube-public,
    /// kube-node-lease (already-existing ones are left alone).
    pub async fn bootstrap(&self) -> Result<(), ApiError> {
        let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
        for ns in crate::admission::namespace_lifecycle::SYSTEM_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).to_string();
            match self.create(namespaces, None, body.as_bytes(), &WriteQuery::default()).await {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes Events older than `ttl` (kube-apiserver's --event-ttl, done there with etcd
    /// leases). An Event's age runs from its lastTimestamp, else its creationTimestamp. Returns how
    /// many were removed.
    pub async fn expire_events(&self, ttl: std::time::Duration) -> Result<usize, ApiError> {
        let events = resources::find("", "v1", "events").expect("events are served");
        let list = self
            .list_from_storage(
                events,
                None,
                &ReadQuery::default(),
                &Filter::default(),
                ResourceVersion::Unset,
            )
            .await?;
        let cutoff = object::now_unix() - ttl.as_secs() as i64;
        let mut removed = 0;
        for item in &list.items {
            let v: Value = serde_json::from_slice(item).map_err(|e| ApiError::Internal(e.to_string()))?;
            let stamp = v["lastTimestamp"]
                .as_str()
                .or_else(|| object::meta_str(&v, "creationTimestamp"))
                .and_then(object::parse_time);
            if stamp.is_some_and(|t| t < cutoff) {
                let key = events.storage_key(object::namespace(&v), object::name(&v).unwrap_or_default());
                let revision = object::meta_str(&v, "resourceVersion").and_then(|r| r.parse().ok());
                match self.storage.delete(&key, revision).await {
                    Ok(_) => removed += 1,
                    Err(StorageError::NotFound { .. } | StorageError::Conflict { .. }) => {}
                    Err(e) => return Err(storage_error(events, "", e)),
                }
            }
        }
        Ok(removed)
    }

    /// Name check helper for handlers: a verb on one object needs its name.
    pub fn require_name(name: Option<&str>) -> Result<&str, ApiError> {
        name.ok_or(ApiError::MethodNotAllowed)
    }
}

impl From<patch::PatchError> for ApiError {
    /// kube-apiserver's answers to a patch that cannot be applied (handlers/patch.go).
    fn from(e: patch::PatchError) -> Self {
        use patch::PatchError as P;
        match e {
            P::BadRequest(m) => ApiError::BadRequest(m),
            P::Unprocessable(_) | P::Invalid(_) => ApiError::Invalid {
                kind: String::new(),
                group: String::new(),
                name: String::new(),
                message: "the server rejected our request due to an error in our request".into(),
                causes: Vec::new(),
            },
            P::RequestEntityTooLarge(_) => ApiError::TooLarge { limit_bytes: 10_000 },
            P::UnsupportedMediaType(m) => ApiError::UnsupportedMediaType(m),
            P::Internal(m) => ApiError::Unknown(m),
        }
    }
}
