//! The storage layer's error enum. It becomes a Kubernetes `Status` only at the HTTP edge.

use super::{KeyValue, Revision};

/// Result of a storage operation.
pub type StorageResult<T, E = StorageError> = std::result::Result<T, E>;

/// Why a storage operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The key does not exist (at the revision read).
    #[error("key {key:?} not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// A create found the key already there.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key asked for.
        key: String,
    },
    /// A conditional write found another `mod_revision`; `current` is what is stored now.
    #[error("key {key:?} was modified: expected mod_revision {expected}, found {}", current.mod_revision)]
    Conflict {
        /// The key asked for.
        key: String,
        /// The `mod_revision` the caller expected.
        expected: Revision,
        /// The value stored now.
        current: Box<KeyValue>,
    },
    /// The revision asked for has been compacted away.
    #[error("required revision has been compacted (compacted at {compact_revision})")]
    Compacted {
        /// The store's compaction point: the oldest revision still readable.
        compact_revision: Revision,
    },
    /// The revision asked for is newer than the store's.
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store revision when asked.
        current: Revision,
    },
    /// The store could not take the request; nothing was written. Retrying is safe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// No answer in time: a write may or may not have committed.
    #[error("store request timed out, outcome unknown: {0}")]
    Timeout(String),
    /// A watcher fell behind its bounded queue and was ended; resume from the last revision seen.
    #[error("watcher fell behind (queue of {queue_limit} events full) and was closed")]
    WatcherTooSlow {
        /// The queue bound that was hit.
        queue_limit: usize,
    },
    /// Anything else (malformed response, bug in the store).
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StorageError {
    /// Whether the failed operation certainly did not write anything.
    pub fn is_definite(&self) -> bool {
        !matches!(self, StorageError::Timeout(_) | StorageError::Internal(_))
    }
}
