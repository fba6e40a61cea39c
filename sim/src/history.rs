//! The history of one run: everything the checkers judge and the report digests. Entries are
//! appended in the order they happen, each stamped with simulated time (nanoseconds since the
//! run started), so the history is a pure function of (scenario, seed).
//!
//! Entries are compact on purpose (no object bodies): a scale run records millions of them.

use serde::{Deserialize, Serialize};

/// Simulated nanoseconds since the start of the run.
pub type Time = u64;

/// One run's record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    /// In order of occurrence; times never decrease.
    pub entries: Vec<Entry>,
}

impl History {
    /// Appends one entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }
}

/// A string the history holds many times over (a key, a client, a path, a node): interned by the
/// recorder, so the millions of entries of a scale run share one copy of each.
pub type Name = std::sync::Arc<str>;

/// One recorded happening. The large variants are boxed: a scale run holds millions of entries,
/// most of them store ops and watch events, and the enum is as big as its biggest variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// An operation an API server made on the store, as its store client saw it.
    Store(StoreOp),
    /// A write the store committed (the store's own log: ground truth for watches).
    Commit(Box<Commit>),
    /// A request an agent or driver made to an API server, and its outcome.
    Api(Box<ApiCall>),
    /// A client's watch was answered.
    WatchOpen(Box<WatchOpen>),
    /// One event arrived on a client's watch.
    WatchEvent(WatchEvent),
    /// A client's watch ended.
    WatchClose {
        /// When.
        time: Time,
        /// The stream.
        watch: u64,
    },
    /// A kubelet started or stopped a pod's containers.
    Container(Box<ContainerEvent>),
    /// What the workload expects of a pod once faults have healed.
    Expect(Expectation),
    /// A fault was injected or healed.
    Fault {
        /// When.
        time: Time,
        /// What happened, e.g. `partition apiserver-0 -x- store (both ways)`.
        what: String,
    },
}

impl Entry {
    /// When the entry happened (for a store op: when it returned).
    pub fn time(&self) -> Time {
        match self {
            Entry::Store(op) => op.returned,
            Entry::Commit(c) => c.time,
            Entry::Api(c) => c.returned,
            Entry::WatchOpen(w) => w.time,
            Entry::WatchEvent(e) => e.time,
            Entry::WatchClose { time, .. } => *time,
            Entry::Container(c) => c.time,
            Entry::Expect(e) => e.time,
            Entry::Fault { time, .. } => *time,
        }
    }
}

/// A storage operation on one key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreOp {
    /// Which store client (one per API server incarnation).
    pub client: u32,
    /// When it was sent.
    pub invoked: Time,
    /// When its outcome was known (or the client gave up).
    pub returned: Time,
    /// The storage key, e.g. `/registry/pods/default/p-1`.
    pub key: Name,
    /// What it was.
    pub kind: StoreOpKind,
    /// How it ended.
    pub outcome: StoreOutcome,
}

/// The kind of a [`StoreOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreOpKind {
    /// Read of the latest value.
    Get,
    /// Create if absent.
    Create,
    /// Update if the key's mod revision equals `expected`.
    Update {
        /// The precondition.
        expected: u64,
    },
    /// Delete, optionally if the mod revision equals `expected`.
    Delete {
        /// The precondition, if any.
        expected: Option<u64>,
    },
}

/// The outcome of a [`StoreOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreOutcome {
    /// A write committed at `revision`; a read saw the version written at `revision`.
    Ok {
        /// For writes the new revision; for reads the key's mod revision.
        revision: u64,
    },
    /// A read found no key.
    NotFound,
    /// Refused without writing (AlreadyExists, Conflict, NotFound on a write, Unavailable, timeout
    /// before commit).
    Failed,
    /// The outcome is unknown: the write may or may not have committed.
    Unknown,
}

/// The fields of a stored object the checkers look at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attrs {
    /// metadata.namespace (empty for cluster-scoped).
    pub namespace: Name,
    /// metadata.name.
    pub name: Name,
    /// metadata.uid.
    pub uid: Name,
    /// Pods: spec.nodeName (empty when unbound).
    pub node_name: Name,
    /// Pods: status.phase (empty when unset).
    pub phase: Name,
    /// Pods: summed container cpu requests in millicores; nodes: allocatable cpu.
    pub cpu_milli: u64,
    /// Pods: summed container memory requests in bytes; nodes: allocatable memory.
    pub memory_bytes: u64,
    /// Nodes: allocatable pods.
    pub pods: u64,
    /// metadata.deletionTimestamp is set.
    pub terminating: bool,
}

/// A write the store committed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    /// When.
    pub time: Time,
    /// The store revision of the write.
    pub revision: u64,
    /// The storage key, e.g. `/registry/pods/default/p-1` or `/registry/minions/node-1`.
    pub key: Name,
    /// The key was deleted (attrs are then those of the deleted object).
    pub deleted: bool,
    /// The object's fields.
    pub attrs: Attrs,
}

/// Kubernetes verbs the recorder distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
    /// Opening a watch.
    Watch,
}

/// One API request and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    /// The client (agent) that made it, e.g. `kubelet-12`, `scheduler-0`, `workload`.
    pub client: Name,
    /// When it was sent.
    pub invoked: Time,
    /// When it was answered or given up.
    pub returned: Time,
    /// The verb.
    pub verb: Verb,
    /// The path without the query, e.g. `/api/v1/namespaces/default/pods/p-1/binding`.
    pub path: Name,
    /// The request's resourceVersion parameter, if any.
    pub request_rv: Option<String>,
    /// HTTP status; 0 when no answer came (timeout, broken connection).
    pub status: u16,
    /// The resourceVersion in the answer (object or list metadata), if any.
    pub rv: Option<u64>,
}

/// A client's watch stream, as answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchOpen {
    /// When.
    pub time: Time,
    /// The stream's id (unique within the run).
    pub watch: u64,
    /// The client that opened it.
    pub client: Name,
    /// The storage key prefix the watch covers, e.g. `/registry/pods/` or `/registry/pods/ns/`.
    pub prefix: Name,
    /// Field selector terms the watch filters on (`spec.nodeName`, `status.phase`,
    /// `metadata.name`, `metadata.namespace`); `None` when it filters on something the checkers
    /// cannot evaluate (e.g. a label selector).
    pub fields: Option<Vec<FieldTerm>>,
    /// The resourceVersion it started from: `Some(n)` with n > 0 means "events after n";
    /// `None` means unset or "0" (starts with synthetic ADDED events for the current state).
    pub start_rv: Option<u64>,
    /// HTTP status of the answer.
    pub status: u16,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldTerm {
    /// `spec.nodeName`, `status.phase`, `metadata.name` or `metadata.namespace`.
    pub field: String,
    /// `=` (also `==`) is true; `!=` is false.
    pub equals: bool,
    /// The value.
    pub value: String,
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// ADDED.
    Added,
    /// MODIFIED.
    Modified,
    /// DELETED.
    Deleted,
    /// BOOKMARK.
    Bookmark,
    /// ERROR (e.g. 410 Expired).
    Error,
}

/// One event delivered on a client's watch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// When it arrived.
    pub time: Time,
    /// The stream.
    pub watch: u64,
    /// Its type.
    pub kind: EventType,
    /// The storage key of the object (empty for bookmarks and errors).
    pub key: Name,
    /// The object's resourceVersion (for errors: the Status code).
    pub rv: u64,
}

/// A kubelet starting or stopping a pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerEvent {
    /// When.
    pub time: Time,
    /// The node whose kubelet did it.
    pub node: Name,
    /// The pod's storage key.
    pub pod: Name,
    /// The pod's uid.
    pub uid: Name,
    /// Started (true) or stopped (false).
    pub running: bool,
}

/// The phase a pod should reach after healing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedPhase {
    /// Running (a pod that never completes).
    Running,
    /// Completed: Succeeded or Failed.
    Completed,
    /// Gone from the store.
    Deleted,
}

/// What the workload expects of one pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// When the expectation was set (a later one for the same pod replaces it).
    pub time: Time,
    /// The pod's storage key.
    pub pod: Name,
    /// The phase.
    pub phase: ExpectedPhase,
}
