//! Values that cross the storage seam: key-values, list pages, watch events and their options.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use super::StorageResult;

/// A store-wide revision, as etcd counts them (signed 64-bit, starting at 1).
pub type Revision = i64;

/// One key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, relative to the store prefix.
    pub key: Arc<str>,
    /// The stored bytes (empty on a delete event's tombstone).
    pub value: Bytes,
    /// Revision that created this incarnation of the key.
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a tombstone: the delete's revision).
    pub mod_revision: Revision,
    /// Number of writes since creation, starting at 1 (0 on a tombstone).
    pub version: i64,
}

/// Options of [`Storage::list`](super::Storage::list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items; `None` or `Some(0)` means no limit.
    pub limit: Option<usize>,
    /// Start strictly after this key (a continue token's position).
    pub continue_after: Option<String>,
    /// Read at this revision instead of the latest.
    pub revision: Option<Revision>,
    /// Also count the keys from the start position on (costs a walk of the whole range).
    pub count: bool,
}

/// A page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResponse {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the store revision for a latest read).
    pub revision: Revision,
    /// Whether keys remain after the last item.
    pub more: bool,
    /// When asked for (or always, from etcd): the keys in the range from the start position on,
    /// the returned ones included (etcd's `RangeResponse.count`); `count - items.len()` remain.
    pub count: Option<i64>,
}

/// What [`Storage::delete`](super::Storage::delete) returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteResponse {
    /// The value as it was just before the delete.
    pub prev: KeyValue,
    /// The revision of the delete.
    pub revision: Revision,
}

/// Options of [`Storage::watch`](super::Storage::watch).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Watch every key that starts with this prefix (an exact key is a prefix of itself).
    pub prefix: String,
    /// First revision to deliver; `None` watches from the next write.
    pub start_revision: Option<Revision>,
    /// Attach the previous value to each event.
    pub prev_kv: bool,
    /// Send [`WatchItem::Progress`] marks while the watch is idle.
    pub progress_notify: bool,
}

/// The kind of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change to one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after the change; for a delete, a tombstone whose `mod_revision` is the delete's.
    pub kv: KeyValue,
    /// The value before the change, when asked for with `prev_kv` and the key existed.
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    /// The revision this event happened at.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// One item of a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// A change.
    Event(Event),
    /// Every event up to and including this revision has been delivered.
    Progress(Revision),
}

/// A watch: items until the consumer drops it or an error ends it.
pub type WatchStream = Pin<Box<dyn Stream<Item = StorageResult<WatchItem>> + Send>>;
