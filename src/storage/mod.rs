//! The storage seam: everything the API server keeps lives behind [`Storage`], with etcd's semantics.
//!
//! Two implementations pass one conformance suite ([`conformance`]): [`ModelStore`], an in-memory MVCC
//! store that fails on purpose when told to, and `EtcdStore`, a real etcd v3 (real mode only).
//!
//! The contract, which is etcd's:
//! - One store-wide revision. An empty store is at revision 1; every successful write transaction adds
//!   exactly one; failed and read-only transactions add nothing.
//! - Each key carries `create_revision` (the revision that created this incarnation), `mod_revision`
//!   (the revision of its last write) and `version` (writes since creation, starting at 1).
//! - `compact(r)` discards history below `r`: reads at a revision `< r` and watches starting below `r`
//!   answer [`StorageError::Compacted`].
//! - A watch delivers, in revision order and without gaps, every event at or after its start revision
//!   for the keys under its prefix.

mod error;
mod fault;
mod model;
mod types;

pub mod conformance;

#[cfg(not(madsim))]
mod etcd;
#[cfg(madsim)]
pub mod remote;

pub use error::{StorageError, StorageResult};
pub use fault::{FaultPlan, Latency, OpKind};
pub use model::{CommitHook, ModelStore, ModelStoreConfig};
pub use types::{
    DeleteResponse, Event, EventKind, KeyValue, ListOptions, ListResponse, Revision, WatchItem, WatchOptions,
    WatchStream,
};

#[cfg(not(madsim))]
pub use etcd::{EtcdStore, EtcdStoreConfig, EtcdTls};
#[cfg(madsim)]
pub use remote::{serve_store, RemoteStore, RemoteStoreConfig};

use async_trait::async_trait;
use bytes::Bytes;

/// The store seam. Object-safe: the API server holds an `Arc<dyn Storage>`.
///
/// Keys are strings relative to the store's own prefix (`/pods/default/nginx`); an etcd-backed store
/// prepends its configured prefix (`/registry` by default), as kube-apiserver does.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Reads one key, at the latest revision or at `revision`.
    ///
    /// Errors: `NotFound`, `Compacted` (revision below the compaction point), `FutureRevision`.
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue>;

    /// Reads the keys under `prefix` in key order, at most `options.limit` of them, starting after
    /// `options.continue_after`, at the latest revision or at `options.revision`.
    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse>;

    /// Writes `key` only if it does not exist. Returns the revision of the write.
    ///
    /// Errors: `AlreadyExists`.
    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision>;

    /// Writes `key` only if its `mod_revision` is `expected_mod_revision`. Returns the revision of the
    /// write.
    ///
    /// Errors: `NotFound`; `Conflict` carrying the current value.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> StorageResult<Revision>;

    /// Deletes `key`, only if its `mod_revision` matches when `expected_mod_revision` is given.
    ///
    /// Errors: `NotFound`; `Conflict` carrying the current value.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> StorageResult<DeleteResponse>;

    /// Watches the keys under `options.prefix` from `options.start_revision` (the next revision when
    /// absent). The stream ends with an error item when the watch cannot go on (compacted, store
    /// unavailable, watcher too slow); the consumer resumes from the last revision it saw plus one.
    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream>;

    /// Discards history below `revision`.
    ///
    /// Errors: `Compacted` if already compacted at or past `revision`; `FutureRevision`.
    async fn compact(&self, revision: Revision) -> StorageResult<()>;

    /// The store's current revision (that of its last write, 1 when empty).
    async fn current_revision(&self) -> StorageResult<Revision>;
}
