//! The recording layer: taps on every client ([`ClientTap`], a [`ClientObserver`]), on every store
//! client ([`RecordingStore`]) and on the store's commit log, all appending to one [`History`] with
//! simulated timestamps. Keys are written as etcd would hold them (`/registry/pods/ns/name`).
//!
//! Recording must not perturb the run: it never awaits, never draws randomness, and only reads the
//! clock.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, StatusCode};
use kubesim::api::request_info::{self, RequestInfo};
use kubesim::api::resources;
use kubesim::client::{ApiResponse, ClientError, ClientObserver};
use kubesim::storage::{
    DeleteResponse, Event, EventKind, KeyValue, ListOptions, ListResponse, Revision, Storage, StorageError,
    StorageResult, WatchOptions, WatchStream,
};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::history::{
    ApiCall, Attrs, Commit, ContainerEvent, Entry, EventType, Expectation, ExpectedPhase, FieldTerm, History,
    Name, StoreOp, StoreOpKind, StoreOutcome, Time, Verb, WatchEvent, WatchOpen,
};

/// The etcd prefix keys are recorded under (the registry's keys are relative to it).
pub const KEY_PREFIX: &str = "/registry";

/// The run's recorder. One per run; shared by every tap.
pub struct Recorder {
    start: Instant,
    history: Mutex<History>,
    next_watch: AtomicU64,
    /// Open client watches: id → storage prefix of the watched collection (to name event keys).
    watches: Mutex<BTreeMap<u64, String>>,
    /// Every [`Name`] handed out, to hand out the same one again. A fixed hasher: the default one
    /// seeds itself from the (simulated) random source and would change every run's draws.
    names: Mutex<HashSet<Name, BuildHasherDefault<DefaultHasher>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder whose time 0 is now.
    pub fn new() -> Arc<Self> {
        Self::with_capacity(0)
    }

    /// A recorder with room for `entries` up front: a scale run's history is hundreds of
    /// megabytes, and growing it by doubling copies it and briefly holds it twice. Room reserved
    /// but never written costs address space only.
    pub fn with_capacity(entries: usize) -> Arc<Self> {
        Arc::new(Recorder {
            start: Instant::now(),
            history: Mutex::new(History { entries: Vec::with_capacity(entries) }),
            next_watch: AtomicU64::new(1),
            watches: Mutex::new(BTreeMap::new()),
            names: Mutex::new(HashSet::default()),
        })
    }

    /// The shared copy of `s`.
    pub fn name(&self, s: &str) -> Name {
        let mut names = self.names.lock();
        if let Some(n) = names.get(s) {
            return n.clone();
        }
        let n: Name = s.into();
        names.insert(n.clone());
        n
    }

    /// Simulated nanoseconds since the run started.
    pub fn now(&self) -> Time {
        self.at(Instant::now())
    }

    fn at(&self, t: Instant) -> Time {
        t.saturating_duration_since(self.start).as_nanos() as Time
    }

    /// Appends an entry.
    pub fn push(&self, entry: Entry) {
        self.history.lock().push(entry);
    }

    /// Takes the history out (at the end of the run).
    pub fn take(&self) -> History {
        std::mem::take(&mut *self.history.lock())
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.history.lock().entries.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Notes a fault.
    pub fn fault(&self, what: String) {
        self.push(Entry::Fault { time: self.now(), what });
    }

    /// Notes what the workload expects of a pod (`pod` is its registry key).
    pub fn expect(&self, pod: &str, phase: ExpectedPhase) {
        self.push(Entry::Expect(Expectation { time: self.now(), pod: self.name(pod), phase }));
    }

    /// Notes a kubelet starting or stopping a pod.
    pub fn container(&self, node: &str, pod: &str, uid: &str, running: bool) {
        self.push(Entry::Container(Box::new(ContainerEvent {
            time: self.now(),
            node: self.name(node),
            pod: self.name(pod),
            uid: self.name(uid),
            running,
        })));
    }

    /// Records a commit of the model store (call from its commit hook).
    pub fn commit(&self, event: &Event) {
        let deleted = event.kind == EventKind::Delete;
        let source = if deleted { event.prev_kv.as_ref().map(|kv| &kv.value) } else { Some(&event.kv.value) };
        let attrs = source.map(|v| self.attrs_of(&event.kv.key, v)).unwrap_or_default();
        self.push(Entry::Commit(Box::new(Commit {
            time: self.now(),
            revision: event.kv.mod_revision as u64,
            key: self.name(&format!("{KEY_PREFIX}{}", event.kv.key)),
            deleted,
            attrs,
        })));
    }

    /// A tap for one client, named `client` in the history.
    pub fn tap(self: &Arc<Self>, client: impl Into<String>) -> Arc<ClientTap> {
        let client: String = client.into();
        Arc::new(ClientTap { client: self.name(&client), recorder: self.clone() })
    }
}

/// Pod and node fields the checkers read, decoded leniently (anything missing is left empty).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Obj {
    metadata: ObjMeta,
    spec: ObjSpec,
    status: ObjStatus,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ObjMeta {
    name: String,
    namespace: String,
    uid: String,
    deletion_timestamp: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ObjSpec {
    node_name: String,
    containers: Vec<ObjContainer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjContainer {
    resources: ObjResources,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjResources {
    requests: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjStatus {
    phase: String,
    allocatable: BTreeMap<String, String>,
}

fn milli(q: Option<&String>) -> u64 {
    q.and_then(|q| kubesim::api::validation::parse_quantity(q)).map_or(0, |m| m.max(0) as u64)
}

impl Recorder {
    /// The checkers' view of a stored object.
    fn attrs_of(&self, key: &str, value: &[u8]) -> Attrs {
        // Only pods and nodes carry fields the checkers use; other kinds keep namespace/name.
        let Ok(o) = serde_json::from_slice::<Obj>(value) else { return Attrs::default() };
        let mut a = Attrs {
            namespace: self.name(&o.metadata.namespace),
            name: self.name(&o.metadata.name),
            uid: self.name(&o.metadata.uid),
            node_name: self.name(&o.spec.node_name),
            phase: self.name(&o.status.phase),
            terminating: o.metadata.deletion_timestamp.is_some(),
            ..Attrs::default()
        };
        if key.starts_with("/pods/") {
            for c in &o.spec.containers {
                a.cpu_milli += milli(c.resources.requests.get("cpu"));
                a.memory_bytes += milli(c.resources.requests.get("memory")) / 1000;
            }
        } else if key.starts_with("/minions/") {
            a.cpu_milli = milli(o.status.allocatable.get("cpu"));
            a.memory_bytes = milli(o.status.allocatable.get("memory")) / 1000;
            a.pods = milli(o.status.allocatable.get("pods")) / 1000;
        }
        a
    }
}

/// What a request path names: its verb, the etcd prefix of its collection, and for single-object
/// requests the object's etcd key.
struct Target {
    verb: Verb,
    prefix: String,
}

fn target(method: &Method, path: &str, query: Option<&str>) -> Option<Target> {
    let RequestInfo::Resource(r) = request_info::parse(method, path, query).ok()? else { return None };
    let resource = resources::find(&r.group, &r.version, &r.resource)?;
    let prefix = match &r.namespace {
        Some(ns) if resource.namespaced => resource.namespace_prefix(ns),
        _ => resource.storage_prefix(),
    };
    let verb = match r.verb {
        request_info::Verb::Get => Verb::Get,
        request_info::Verb::List => Verb::List,
        request_info::Verb::Watch => Verb::Watch,
        request_info::Verb::Create => Verb::Create,
        request_info::Verb::Update => Verb::Update,
        request_info::Verb::Patch => Verb::Patch,
        request_info::Verb::Delete => Verb::Delete,
        request_info::Verb::DeleteCollection => Verb::DeleteCollection,
    };
    Some(Target { verb, prefix: format!("{KEY_PREFIX}{prefix}") })
}

/// A request path split into path and query.
fn split_query(path: &str) -> (&str, Option<&str>) {
    match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    }
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    let q = query?;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Field selector terms the checkers can evaluate; `None` if the watch filters on anything else.
fn field_terms(query: Option<&str>) -> Option<Vec<FieldTerm>> {
    if param(query, "labelSelector").is_some_and(|l| !l.is_empty()) {
        return None;
    }
    let Some(fields) = param(query, "fieldSelector") else { return Some(Vec::new()) };
    let mut terms = Vec::new();
    for term in fields.split(',').filter(|t| !t.is_empty()) {
        let (field, equals, value) = if let Some((f, v)) = term.split_once("!=") {
            (f, false, v)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, true, v)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, true, v)
        } else {
            return None;
        };
        if !matches!(field, "spec.nodeName" | "status.phase" | "metadata.name" | "metadata.namespace") {
            return None;
        }
        terms.push(FieldTerm { field: field.to_owned(), equals, value: value.to_owned() });
    }
    Some(terms)
}

/// The resourceVersion of an answer (an object's or a list's), without decoding the whole body.
#[derive(Deserialize)]
struct RvOnly {
    #[serde(default)]
    metadata: RvMeta,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RvMeta {
    resource_version: String,
}

/// One watch line: its type and the object's name, namespace, resourceVersion (or an error code).
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: LineObject,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LineObject {
    metadata: LineMeta,
    code: u64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LineMeta {
    name: String,
    namespace: String,
    resource_version: String,
}

/// One client's tap, naming it in the history.
pub struct ClientTap {
    client: Name,
    recorder: Arc<Recorder>,
}

impl ClientObserver for ClientTap {
    fn exchange(
        &self,
        method: &Method,
        path: &str,
        outcome: &Result<ApiResponse, ClientError>,
        started: Instant,
    ) {
        let returned = self.recorder.now();
        let (path, query) = split_query(path);
        let Some(t) = target(method, path, query) else { return };
        let (status, rv) = match outcome {
            Ok(ApiResponse { status, body }) => {
                let rv = serde_json::from_slice::<RvOnly>(body)
                    .ok()
                    .and_then(|r| r.metadata.resource_version.parse::<u64>().ok());
                (status.as_u16(), rv)
            }
            Err(_) => (0, None),
        };
        self.recorder.push(Entry::Api(Box::new(ApiCall {
            client: self.client.clone(),
            invoked: self.recorder.at(started),
            returned,
            verb: t.verb,
            path: self.recorder.name(path),
            request_rv: param(query, "resourceVersion"),
            status,
            rv,
        })));
    }

    fn watch_opened(&self, path: &str, status: StatusCode) -> u64 {
        let id = self.recorder.next_watch.fetch_add(1, Ordering::Relaxed);
        let (p, query) = split_query(path);
        let prefix = target(&Method::GET, p, query).map(|t| t.prefix).unwrap_or_default();
        let start_rv = param(query, "resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|&v| v > 0);
        self.recorder.watches.lock().insert(id, prefix.clone());
        self.recorder.push(Entry::WatchOpen(Box::new(WatchOpen {
            time: self.recorder.now(),
            watch: id,
            client: self.client.clone(),
            prefix: self.recorder.name(&prefix),
            fields: field_terms(query),
            start_rv,
            status: status.as_u16(),
        })));
        id
    }

    fn watch_failed(&self, path: &str, _error: &ClientError) {
        let now = self.recorder.now();
        let (p, query) = split_query(path);
        self.recorder.push(Entry::Api(Box::new(ApiCall {
            client: self.client.clone(),
            invoked: now,
            returned: now,
            verb: Verb::Watch,
            path: self.recorder.name(p),
            request_rv: param(query, "resourceVersion"),
            status: 0,
            rv: None,
        })));
    }

    fn watch_line(&self, id: u64, line: &[u8]) {
        let Ok(l) = serde_json::from_slice::<Line>(line) else { return };
        let kind = match l.kind.as_str() {
            "ADDED" => EventType::Added,
            "MODIFIED" => EventType::Modified,
            "DELETED" => EventType::Deleted,
            "BOOKMARK" => EventType::Bookmark,
            _ => EventType::Error,
        };
        let (key, rv) = match kind {
            EventType::Error => (Name::default(), l.object.code),
            EventType::Bookmark => (Name::default(), l.object.metadata.resource_version.parse().unwrap_or(0)),
            _ => {
                let prefix = self.recorder.watches.lock().get(&id).cloned().unwrap_or_default();
                let m = &l.object.metadata;
                let key = object_key(&prefix, &m.namespace, &m.name);
                (self.recorder.name(&key), m.resource_version.parse().unwrap_or(0))
            }
        };
        self.recorder.push(Entry::WatchEvent(WatchEvent {
            time: self.recorder.now(),
            watch: id,
            kind,
            key,
            rv,
        }));
    }

    fn watch_closed(&self, id: u64) {
        self.recorder.watches.lock().remove(&id);
        self.recorder.push(Entry::WatchClose { time: self.recorder.now(), watch: id });
    }
}

/// The etcd key of an object seen on a watch of `prefix` (`/registry/pods/` or
/// `/registry/pods/ns/`).
fn object_key(prefix: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        return format!("{prefix}{name}");
    }
    let ns_part = format!("{namespace}/");
    if prefix.ends_with(&format!("/{ns_part}")) {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{ns_part}{name}")
    }
}

/// A [`Storage`] that records every single-key operation its API server makes (for the store
/// linearizability checker) and passes everything through.
pub struct RecordingStore {
    inner: Arc<dyn Storage>,
    client: u32,
    recorder: Arc<Recorder>,
}

impl RecordingStore {
    /// Wraps `inner`; `client` names this store client (an API server incarnation).
    pub fn new(inner: Arc<dyn Storage>, client: u32, recorder: Arc<Recorder>) -> Self {
        RecordingStore { inner, client, recorder }
    }

    fn record(&self, invoked: Time, key: &str, kind: StoreOpKind, outcome: StoreOutcome) {
        self.recorder.push(Entry::Store(StoreOp {
            client: self.client,
            invoked,
            returned: self.recorder.now(),
            key: self.recorder.name(&format!("{KEY_PREFIX}{key}")),
            kind,
            outcome,
        }));
    }
}

/// A write in flight: if its task is dropped before the answer (its API server host was killed),
/// it is recorded with an unknown outcome, since the store may still commit it.
struct InFlight<'a> {
    store: &'a RecordingStore,
    invoked: Time,
    key: &'a str,
    kind: StoreOpKind,
    done: bool,
}

impl<'a> InFlight<'a> {
    fn new(store: &'a RecordingStore, key: &'a str, kind: StoreOpKind) -> Self {
        InFlight { store, invoked: store.recorder.now(), key, kind, done: false }
    }

    fn finish(mut self, outcome: StoreOutcome) {
        self.done = true;
        self.store.record(self.invoked, self.key, self.kind, outcome);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.store.record(self.invoked, self.key, self.kind, StoreOutcome::Unknown);
        }
    }
}

fn write_outcome<T>(r: &StorageResult<T>, revision: impl Fn(&T) -> Revision) -> StoreOutcome {
    match r {
        Ok(v) => StoreOutcome::Ok { revision: revision(v) as u64 },
        Err(StorageError::Timeout(_)) => StoreOutcome::Unknown,
        Err(_) => StoreOutcome::Failed,
    }
}

#[async_trait]
impl Storage for RecordingStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        let invoked = self.recorder.now();
        let r = self.inner.get(key, revision).await;
        if revision.is_none() {
            let outcome = match &r {
                Ok(kv) => StoreOutcome::Ok { revision: kv.mod_revision as u64 },
                Err(StorageError::NotFound { .. }) => StoreOutcome::NotFound,
                Err(_) => StoreOutcome::Failed,
            };
            self.record(invoked, key, StoreOpKind::Get, outcome);
        }
        r
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse> {
        self.inner.list(prefix, options).await
    }

    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision> {
        let op = InFlight::new(self, key, StoreOpKind::Create);
        let r = self.inner.create(key, value).await;
        op.finish(write_outcome(&r, |rev| *rev));
        r
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> StorageResult<Revision> {
        let op = InFlight::new(self, key, StoreOpKind::Update { expected: expected as u64 });
        let r = self.inner.update(key, value, expected).await;
        op.finish(write_outcome(&r, |rev| *rev));
        r
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> StorageResult<DeleteResponse> {
        let op = InFlight::new(self, key, StoreOpKind::Delete { expected: expected.map(|e| e as u64) });
        let r = self.inner.delete(key, expected).await;
        op.finish(write_outcome(&r, |d| d.revision));
        r
    }

    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        self.inner.watch(options).await
    }

    async fn compact(&self, revision: Revision) -> StorageResult<()> {
        self.inner.compact(revision).await
    }

    async fn current_revision(&self) -> StorageResult<Revision> {
        self.inner.current_revision().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_read_pod_and_node_fields() {
        let pod = br#"{"metadata":{"name":"p","namespace":"ns","uid":"u1","deletionTimestamp":"x"},
            "spec":{"nodeName":"n1","containers":[{"resources":{"requests":{"cpu":"250m","memory":"1Ki"}}},
            {"resources":{"requests":{"cpu":"1"}}}]},"status":{"phase":"Running"}}"#;
        let a = Recorder::new().attrs_of("/pods/ns/p", pod);
        assert_eq!((&*a.name, &*a.namespace, &*a.uid), ("p", "ns", "u1"));
        assert_eq!((&*a.node_name, &*a.phase), ("n1", "Running"));
        assert_eq!((a.cpu_milli, a.memory_bytes, a.terminating), (1250, 1024, true));
        let node =
            br#"{"metadata":{"name":"n1"},"status":{"allocatable":{"cpu":"4","memory":"2Gi","pods":"110"}}}"#;
        let a = Recorder::new().attrs_of("/minions/n1", node);
        assert_eq!((a.cpu_milli, a.memory_bytes, a.pods), (4000, 2 << 30, 110));
    }

    #[test]
    fn watch_paths_map_to_prefixes_and_filters() {
        let t = target(&Method::GET, "/api/v1/pods", Some("watch=true")).unwrap();
        assert_eq!((t.verb, &*t.prefix), (Verb::Watch, "/registry/pods/"));
        let t = target(&Method::GET, "/api/v1/nodes", None).unwrap();
        assert_eq!((t.verb, &*t.prefix), (Verb::List, "/registry/minions/"));
        let t = target(&Method::POST, "/api/v1/namespaces/d/pods/p/binding", None).unwrap();
        assert_eq!((t.verb, &*t.prefix), (Verb::Create, "/registry/pods/d/"));
        let f = field_terms(Some("fieldSelector=spec.nodeName%3Dn1%2Cstatus.phase%21%3DFailed")).unwrap();
        assert_eq!(f.len(), 2);
        assert!(f[0].equals && f[0].value == "n1" && !f[1].equals);
        assert_eq!(field_terms(Some("labelSelector=a%3Db")), None);
        assert_eq!(object_key("/registry/pods/", "d", "p"), "/registry/pods/d/p");
        assert_eq!(object_key("/registry/pods/d/", "d", "p"), "/registry/pods/d/p");
        assert_eq!(object_key("/registry/minions/", "", "n"), "/registry/minions/n");
    }
}
