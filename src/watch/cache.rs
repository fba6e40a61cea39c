//! The watch cache of one resource: a reflector keeps an in-memory copy of the resource's keys
//! from a store list + watch; lists at "any" or "not older than" revisions and every watch are
//! served from it; each event is serialized once for all its watchers.
//!
//! Invariants:
//! - The cache's revision only grows (events and store progress marks), and waiters for a revision
//!   are woken through one `tokio::sync::watch`.
//! - Every watcher has a bounded queue (`watcher_queue_max`); one that is full when an event
//!   arrives is closed, never buffered without limit. It resumes from the last version it saw.
//! - A watcher is registered under the same lock that produces its backlog, so it sees every event
//!   after its start revision exactly once, in order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use super::selectable::Selectable;
use crate::api::resources::Resource;
use crate::api::selector::{FieldSelector, LabelSelector};
use crate::api::status::ApiError;
use crate::api::{object, partial};
use crate::storage::{
    Event, EventKind, KeyValue, ListOptions, Storage, StorageError, WatchItem, WatchOptions,
};

/// Limits and periods of a watch cache. Defaults in the doc of each field.
#[derive(Clone, Debug)]
pub struct WatchCacheConfig {
    /// Events kept for watches that resume from a past revision. Default 10,000.
    pub history_max: usize,
    /// Messages queued per watcher before it is closed as too slow. Default 1,000.
    pub watcher_queue_max: usize,
    /// How often watchers that allow bookmarks get one. Default 60 s (kube-apiserver: ~1 min).
    pub bookmark_interval: Duration,
    /// How long a request waits for the cache to reach a revision. Default 3 s (kube-apiserver).
    pub revision_wait: Duration,
    /// Page size of the reflector's list. Default 10,000 (kube-apiserver's cacher).
    pub list_page: usize,
}

impl Default for WatchCacheConfig {
    fn default() -> Self {
        WatchCacheConfig {
            history_max: 10_000,
            watcher_queue_max: 1_000,
            bookmark_interval: Duration::from_secs(60),
            revision_wait: Duration::from_secs(3),
            list_page: 10_000,
        }
    }
}

/// One object as the cache holds it: its JSON (with resourceVersion) and what selectors need.
#[derive(Debug)]
pub struct CachedObject {
    /// Storage key.
    pub key: Arc<str>,
    /// Its mod revision (resourceVersion).
    pub revision: i64,
    /// Stored bytes (no resourceVersion; shared with the store's copy). The JSON clients get is
    /// made from these on use ([`CachedObject::json`]): keeping a second copy with the version
    /// spliced in doubled the cache's memory, and nearly every object is sent only as part of a
    /// watch event, whose line is made once.
    pub stored: Bytes,
    /// Name, namespace, labels and selectable fields.
    selectable: Selectable,
}

/// The fields a field selector may name, per kind (k/k ToSelectableFields).
pub fn selectable_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Node" => &["metadata.name", "spec.unschedulable"],
        "Namespace" => &["metadata.name", "status.phase"],
        "Secret" => &["metadata.name", "metadata.namespace", "type"],
        "Event" => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &["metadata.name", "metadata.namespace"],
    }
}

impl CachedObject {
    /// Builds the cached form of a stored key-value.
    pub fn from_kv(resource: &Resource, kv: &KeyValue) -> Result<CachedObject, serde_json::Error> {
        Self::from_stored(resource, kv.key.clone(), kv.value.clone(), kv.mod_revision)
    }

    fn from_stored(
        resource: &Resource,
        key: Arc<str>,
        stored: Bytes,
        revision: i64,
    ) -> Result<CachedObject, serde_json::Error> {
        let selectable = selectable_fields(resource.kind);
        let mut paths = Vec::with_capacity(selectable.len() + 3);
        paths.extend_from_slice(&["metadata.name", "metadata.namespace", "metadata.labels"]);
        paths.extend_from_slice(selectable);
        let mut value = partial::parse_paths(&stored, &paths)?;
        // A Pod's missing spec.hostNetwork reads as "false", as kube's selectable fields give it.
        if resource.kind == "Pod" && value.pointer("/spec/hostNetwork").is_none() {
            if let Some(v) = value.as_object_mut() {
                let spec = v.entry("spec").or_insert_with(|| Value::Object(Default::default()));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("hostNetwork".into(), Value::Bool(false));
                }
            }
        }
        Ok(CachedObject { key, revision, stored, selectable: Selectable::new(&value, selectable) })
    }

    /// metadata.name.
    pub fn name(&self) -> &str {
        self.selectable.name()
    }

    /// metadata.namespace, if namespaced.
    pub fn namespace(&self) -> Option<&str> {
        self.selectable.namespace()
    }

    /// A selectable field (`spec.nodeName`, `status.phase`, ...), if the object has it.
    pub fn field(&self, path: &str) -> Option<&str> {
        self.selectable.field(path)
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.selectable.label(key)
    }

    /// This object's JSON, carrying its resourceVersion.
    pub fn json(&self) -> Bytes {
        self.json_at(self.revision)
    }

    /// This object's JSON with another resourceVersion (a delete event carries the last state at
    /// the delete's revision).
    pub fn json_at(&self, revision: i64) -> Bytes {
        object::with_resource_version(&self.stored, revision)
    }

    /// The watch-stream line `{"type":…,"object":…}\n` for this object at `revision`, with the
    /// version spliced straight into the line (one copy of the object, not two).
    pub fn watch_line(&self, kind: &str, revision: i64) -> Bytes {
        let mut out = Vec::with_capacity(self.stored.len() + 64);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        object::write_with_resource_version(&mut out, &self.stored, revision);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }
}

/// What a watcher or a list wants to see.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: Option<LabelSelector>,
    /// Field selector.
    pub fields: Option<FieldSelector>,
}

impl Filter {
    /// Whether the object passes.
    pub fn matches(&self, o: &CachedObject) -> bool {
        if let Some(ns) = &self.namespace {
            if o.namespace() != Some(ns.as_str()) {
                return false;
            }
        }
        if let Some(l) = &self.labels {
            if !l.matches_with(|k| o.label(k)) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            let lookup = |field: &str| {
                match field {
                    "metadata.name" => Some(o.name()),
                    "metadata.namespace" => o.namespace(),
                    other => o.field(other),
                }
                .map(str::to_owned)
            };
            if !f.matches(lookup) {
                return false;
            }
        }
        true
    }

    /// The node a pod watch is pinned to (`spec.nodeName=<n>`), for the index.
    fn node(&self) -> Option<String> {
        self.fields
            .as_ref()
            .and_then(|f| f.exact("spec.nodeName"))
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    }
}

/// The type of a watch event as a watcher sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// ADDED.
    Added,
    /// MODIFIED.
    Modified,
    /// DELETED.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One change, shared by every watcher that sees it.
#[derive(Debug)]
pub struct CachedEvent {
    /// The store revision of the change.
    pub revision: i64,
    /// The change as the store saw it.
    pub kind: EventType,
    /// The object after the change (for a delete: its last state).
    pub object: Arc<CachedObject>,
    /// The object before the change.
    pub prev: Option<Arc<CachedObject>>,
    /// `{"type":…,"object":…}\n` per event type, made once on first use.
    frames: [OnceLock<Bytes>; 3],
}

impl CachedEvent {
    /// The object a watcher of type `t` receives, and the resourceVersion it carries: the current
    /// state, or for a watcher that sees a delete because the object left its filter, the previous
    /// state at this revision.
    fn object_at(&self, t: EventType) -> (&CachedObject, i64) {
        match (t, self.kind) {
            (EventType::Deleted, EventType::Modified) => match &self.prev {
                Some(p) => (p, self.revision),
                None => (&self.object, self.object.revision),
            },
            (EventType::Deleted, EventType::Deleted) => (&self.object, self.revision),
            _ => (&self.object, self.object.revision),
        }
    }

    /// The JSON of the object a watcher of type `t` receives (see [`CachedEvent::frame`]).
    pub fn object_json(&self, t: EventType) -> Bytes {
        let (object, revision) = self.object_at(t);
        object.json_at(revision)
    }

    /// The watch-stream line for type `t`, serialized once.
    pub fn frame(&self, t: EventType) -> Bytes {
        self.frames[t.index()]
            .get_or_init(|| {
                let (object, revision) = self.object_at(t);
                object.watch_line(t.as_str(), revision)
            })
            .clone()
    }

    /// How a watcher with `filter` sees this event, if at all (kube's cacheWatcher rules).
    pub fn seen_as(&self, filter: &Filter) -> Option<EventType> {
        match self.kind {
            EventType::Added => filter.matches(&self.object).then_some(EventType::Added),
            EventType::Deleted => filter.matches(&self.object).then_some(EventType::Deleted),
            EventType::Modified => {
                let now = filter.matches(&self.object);
                let before = self.prev.as_ref().is_some_and(|p| filter.matches(p));
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }
    }
}

/// A message to one watcher.
#[derive(Clone, Debug)]
pub enum WatchMessage {
    /// An event, and how this watcher sees it.
    Event(Arc<CachedEvent>, EventType),
    /// Everything up to this revision has been sent.
    Bookmark(i64),
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// From the current state, with synthetic ADDED events for every matching object first.
    NowWithInitialState,
    /// Strictly after this revision, no initial events.
    After(i64),
}

/// A registered watch: what to send first, then the live queue.
pub struct Subscription {
    /// Objects to send as ADDED first (initial state), in key order.
    pub initial: Vec<Arc<CachedObject>>,
    /// Events from history to send next.
    pub backlog: Vec<WatchMessage>,
    /// The revision the subscription starts after (the initial state's revision).
    pub revision: i64,
    /// Live messages. Closed when the watcher is dropped as too slow or the cache resets.
    pub live: mpsc::Receiver<WatchMessage>,
    cache: Arc<WatchCache>,
    id: u64,
    /// The reflector of a cache private to this watch, stopped with it.
    private_reflector: Option<tokio::task::JoinHandle<()>>,
}

impl Subscription {
    /// Ties a private cache's reflector to this watch: it stops when the watch ends.
    pub fn own_reflector(&mut self, reflector: tokio::task::JoinHandle<()>) {
        self.private_reflector = Some(reflector);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cache.unregister(self.id);
        if let Some(r) = self.private_reflector.take() {
            r.abort();
        }
    }
}

struct WatcherEntry {
    filter: Filter,
    tx: mpsc::Sender<WatchMessage>,
    node: Option<String>,
    bookmarks: bool,
    last_bookmark: tokio::time::Instant,
}

struct CacheInner {
    ready: bool,
    revision: i64,
    objects: BTreeMap<Arc<str>, Arc<CachedObject>>,
    history: VecDeque<Arc<CachedEvent>>,
    /// Watches may resume from any revision at or after this one.
    history_start: i64,
    watchers: BTreeMap<u64, WatcherEntry>,
    /// When bookmarks are next due to be looked at.
    next_bookmark_check: tokio::time::Instant,
    /// Pod watchers pinned to one node by `spec.nodeName=<n>`.
    node_index: BTreeMap<String, BTreeSet<u64>>,
    /// Watchers not in the node index.
    general: BTreeSet<u64>,
    next_id: u64,
}

/// The watch cache of one resource.
pub struct WatchCache {
    resource: &'static Resource,
    storage: Arc<dyn Storage>,
    config: WatchCacheConfig,
    inner: Mutex<CacheInner>,
    revision_tx: tokio::sync::watch::Sender<i64>,
    /// The revision the first list reads at (a private cache resuming an old watch); latest if None.
    first_list_at: Mutex<Option<i64>>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache").field("resource", &self.resource.plural).finish_non_exhaustive()
    }
}

impl WatchCache {
    /// A cache for `resource`; call [`start`](Self::start) to fill it.
    pub fn new(
        resource: &'static Resource,
        storage: Arc<dyn Storage>,
        config: WatchCacheConfig,
    ) -> Arc<Self> {
        let (revision_tx, _) = tokio::sync::watch::channel(0);
        Arc::new(WatchCache {
            resource,
            storage,
            config,
            inner: Mutex::new(CacheInner {
                ready: false,
                revision: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                history_start: 0,
                watchers: BTreeMap::new(),
                next_bookmark_check: tokio::time::Instant::now(),
                node_index: BTreeMap::new(),
                general: BTreeSet::new(),
                next_id: 0,
            }),
            revision_tx,
            first_list_at: Mutex::new(None),
        })
    }

    /// Makes the first list read at `revision` (so that watches from it can be served), for a
    /// cache private to one watch. Call before [`start`](Self::start).
    pub fn list_first_at(&self, revision: i64) {
        *self.first_list_at.lock() = Some(revision);
    }

    /// Spawns the reflector that keeps the cache current.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move { cache.reflect().await })
    }

    /// The resource this cache holds.
    pub fn resource(&self) -> &'static Resource {
        self.resource
    }

    /// The cache's revision.
    pub fn revision(&self) -> i64 {
        self.inner.lock().revision
    }

    /// Number of objects held.
    pub fn len(&self) -> usize {
        self.inner.lock().objects.len()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live watchers.
    pub fn watcher_count(&self) -> usize {
        self.inner.lock().watchers.len()
    }

    /// One object by storage key.
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.inner.lock().objects.get(key).cloned()
    }

    /// Waits until the cache is ready and at least at `revision` (0: just ready).
    pub async fn wait_for(&self, revision: i64) -> Result<(), ApiError> {
        let mut rx = self.revision_tx.subscribe();
        let ready = |inner: &CacheInner| inner.ready && inner.revision >= revision;
        if ready(&self.inner.lock()) {
            return Ok(());
        }
        let wait = async {
            loop {
                if ready(&self.inner.lock()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        if tokio::time::timeout(self.config.revision_wait, wait).await.is_ok() && ready(&self.inner.lock()) {
            return Ok(());
        }
        let inner = self.inner.lock();
        if !inner.ready {
            return Err(ApiError::TooManyRequests { retry_after_seconds: 1 });
        }
        Err(ApiError::Timeout {
            message: format!("Too large resource version: {revision}, current: {}", inner.revision),
            retry_after_seconds: 1,
            too_large_resource_version: true,
        })
    }

    /// The matching objects at the cache's revision, in key order, and that revision.
    pub fn list(&self, filter: &Filter) -> (Vec<Arc<CachedObject>>, i64) {
        let inner = self.inner.lock();
        let range: Box<dyn Iterator<Item = &Arc<CachedObject>>> = match &filter.namespace {
            Some(ns) if self.resource.namespaced => {
                let prefix = self.resource.namespace_prefix(ns);
                Box::new(
                    inner
                        .objects
                        .range::<str, _>((
                            std::ops::Bound::Included(prefix.as_str()),
                            std::ops::Bound::Unbounded,
                        ))
                        .take_while(move |(k, _)| k.starts_with(prefix.as_str()))
                        .map(|(_, v)| v),
                )
            }
            _ => Box::new(inner.objects.values()),
        };
        let items = range.filter(|o| filter.matches(o)).cloned().collect();
        (items, inner.revision)
    }

    /// Registers a watcher.
    pub fn watch(
        self: &Arc<Self>,
        filter: Filter,
        start: WatchStart,
        bookmarks: bool,
    ) -> Result<Subscription, ApiError> {
        let (tx, live) = mpsc::channel(self.config.watcher_queue_max.max(1));
        let mut inner = self.inner.lock();
        let (initial, backlog, revision) = match start {
            WatchStart::NowWithInitialState => {
                let initial = inner.objects.values().filter(|o| filter.matches(o)).cloned().collect();
                (initial, Vec::new(), inner.revision)
            }
            WatchStart::After(after) => {
                if after < inner.history_start {
                    return Err(ApiError::Expired(format!(
                        "too old resource version: {after} ({})",
                        inner.history_start
                    )));
                }
                let backlog = inner
                    .history
                    .iter()
                    .filter(|e| e.revision > after)
                    .filter_map(|e| e.seen_as(&filter).map(|t| WatchMessage::Event(e.clone(), t)))
                    .collect();
                (Vec::new(), backlog, after.max(inner.revision))
            }
        };
        let id = inner.next_id;
        inner.next_id += 1;
        let node = if self.resource.kind == "Pod" { filter.node() } else { None };
        match &node {
            Some(n) => {
                inner.node_index.entry(n.clone()).or_default().insert(id);
            }
            None => {
                inner.general.insert(id);
            }
        }
        inner.watchers.insert(
            id,
            WatcherEntry { filter, tx, node, bookmarks, last_bookmark: tokio::time::Instant::now() },
        );
        Ok(Subscription {
            initial,
            backlog,
            revision,
            live,
            cache: self.clone(),
            id,
            private_reflector: None,
        })
    }

    fn unregister(&self, id: u64) {
        let mut inner = self.inner.lock();
        Self::remove_watcher(&mut inner, id);
    }

    fn remove_watcher(inner: &mut CacheInner, id: u64) {
        if let Some(w) = inner.watchers.remove(&id) {
            match w.node {
                Some(n) => {
                    if let Some(set) = inner.node_index.get_mut(&n) {
                        set.remove(&id);
                        if set.is_empty() {
                            inner.node_index.remove(&n);
                        }
                    }
                }
                None => {
                    inner.general.remove(&id);
                }
            }
        }
    }

    /// List + watch the store forever, relisting when the watch falls out of the store's window.
    async fn reflect(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let revision = match self.relist().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(resource = self.resource.plural, error = %e, "watch cache list failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            let mut next = revision + 1;
            loop {
                match self.follow(next).await {
                    Ok(()) => {}
                    Err(StorageError::Compacted { .. }) => break,
                    Err(e) => {
                        tracing::debug!(resource = self.resource.plural, error = %e, "watch cache watch ended");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                next = self.revision() + 1;
            }
        }
    }

    async fn relist(&self) -> Result<i64, StorageError> {
        let prefix = self.resource.storage_prefix();
        let mut objects = BTreeMap::new();
        let mut options = ListOptions {
            limit: Some(self.config.list_page),
            revision: self.first_list_at.lock().take(),
            ..Default::default()
        };
        let revision = loop {
            let page = self.storage.list(&prefix, options.clone()).await?;
            for kv in &page.items {
                match CachedObject::from_kv(self.resource, kv) {
                    Ok(o) => {
                        objects.insert(kv.key.clone(), Arc::new(o));
                    }
                    Err(e) => tracing::warn!(key = %kv.key, error = %e, "undecodable object skipped"),
                }
            }
            options.revision = Some(page.revision);
            if !page.more {
                break page.revision;
            }
            options.continue_after = page.items.last().map(|kv| kv.key.to_string());
        };
        let mut inner = self.inner.lock();
        // Watchers of the old state cannot be continued across a relist: close them all; they
        // resume from their last version and get 410 if it is gone.
        inner.watchers.clear();
        inner.node_index.clear();
        inner.general.clear();
        inner.objects = objects;
        inner.history.clear();
        inner.history_start = revision;
        inner.revision = inner.revision.max(revision);
        inner.ready = true;
        let r = inner.revision;
        drop(inner);
        self.revision_tx.send_replace(r);
        Ok(revision)
    }

    async fn follow(&self, from: i64) -> Result<(), StorageError> {
        let options = WatchOptions {
            prefix: self.resource.storage_prefix(),
            start_revision: Some(from),
            prev_kv: true,
            progress_notify: true,
        };
        let mut stream = self.storage.watch(options).await?;
        while let Some(item) = stream.next().await {
            match item? {
                WatchItem::Event(event) => self.apply(event),
                WatchItem::Progress(revision) => self.progress(revision),
            }
        }
        Err(StorageError::Unavailable("store watch ended".into()))
    }

    fn progress(&self, revision: i64) {
        let mut inner = self.inner.lock();
        if revision > inner.revision {
            inner.revision = revision;
        }
        self.send_bookmarks(&mut inner);
        let r = inner.revision;
        drop(inner);
        self.revision_tx.send_replace(r);
    }

    fn apply(&self, event: Event) {
        let revision = event.revision();
        let mut inner = self.inner.lock();
        if revision <= inner.revision
            && inner.objects.get(&event.kv.key).is_some_and(|o| o.revision >= revision)
        {
            return; // already applied (a resumed watch may repeat its first revision)
        }
        let prev = inner.objects.get(&event.kv.key).cloned();
        let cached = match event.kind {
            EventKind::Put => match CachedObject::from_kv(self.resource, &event.kv) {
                Ok(o) => {
                    let o = Arc::new(o);
                    inner.objects.insert(event.kv.key.clone(), o.clone());
                    let kind = if prev.is_some() { EventType::Modified } else { EventType::Added };
                    Some((kind, o))
                }
                Err(e) => {
                    tracing::warn!(key = %event.kv.key, error = %e, "undecodable object skipped");
                    None
                }
            },
            EventKind::Delete => {
                inner.objects.remove(&event.kv.key);
                prev.clone().map(|p| (EventType::Deleted, p))
            }
        };
        inner.revision = inner.revision.max(revision);
        if let Some((kind, object)) = cached {
            let e = Arc::new(CachedEvent {
                revision,
                kind,
                object,
                prev: if kind == EventType::Modified { prev } else { None },
                frames: Default::default(),
            });
            inner.history.push_back(e.clone());
            while inner.history.len() > self.config.history_max {
                if let Some(old) = inner.history.pop_front() {
                    inner.history_start = old.revision;
                }
            }
            self.fan_out(&mut inner, &e);
        }
        // Under a steady stream of events the store sends no progress marks: look at bookmarks
        // here too, at most once a second.
        let now = tokio::time::Instant::now();
        if now >= inner.next_bookmark_check {
            inner.next_bookmark_check = now + Duration::from_secs(1);
            self.send_bookmarks(&mut inner);
        }
        let r = inner.revision;
        drop(inner);
        self.revision_tx.send_replace(r);
    }

    fn fan_out(&self, inner: &mut CacheInner, event: &Arc<CachedEvent>) {
        let mut targets: Vec<u64> = inner.general.iter().copied().collect();
        for node in
            [event.object.field("spec.nodeName"), event.prev.as_ref().and_then(|p| p.field("spec.nodeName"))]
                .into_iter()
                .flatten()
        {
            if let Some(ids) = inner.node_index.get(node) {
                targets.extend(ids.iter().copied());
            }
        }
        targets.sort_unstable();
        targets.dedup();
        let mut slow = Vec::new();
        for id in targets {
            // The canary build drops one event in 50 on purpose: the harness must catch the gap.
            if cfg!(feature = "canary-watch-gap") && event.revision % 50 == 7 {
                continue;
            }
            let Some(w) = inner.watchers.get(&id) else { continue };
            let Some(t) = event.seen_as(&w.filter) else { continue };
            if w.tx.try_send(WatchMessage::Event(event.clone(), t)).is_err() {
                slow.push(id);
            }
        }
        for id in slow {
            Self::remove_watcher(inner, id);
        }
    }

    fn send_bookmarks(&self, inner: &mut CacheInner) {
        let now = tokio::time::Instant::now();
        let revision = inner.revision;
        let mut slow = Vec::new();
        for (id, w) in inner.watchers.iter_mut() {
            if w.bookmarks && now.duration_since(w.last_bookmark) >= self.config.bookmark_interval {
                w.last_bookmark = now;
                if w.tx.try_send(WatchMessage::Bookmark(revision)).is_err() {
                    slow.push(*id);
                }
            }
        }
        for id in slow {
            Self::remove_watcher(inner, id);
        }
    }
}
