//! The model store's watchers: a bounded queue each, fed by fan-out once a watcher is in sync and
//! from the event log while it catches up (etcd's synced / unsynced split).
//!
//! Invariant: a watcher's queue never holds more than `queue_max` events. A synced watcher whose
//! queue is full when an event arrives is ended with `WatcherTooSlow` after its queued events, so
//! memory stays bounded whatever the consumer does.

use std::collections::{BTreeMap, VecDeque};
use std::task::{Context, Poll, Waker};

use super::mvcc::Mvcc;
use crate::storage::{Event, Revision, StorageError, StorageResult};

#[derive(Debug)]
struct Watcher {
    prefix: String,
    queue: VecDeque<Event>,
    /// Next revision to read from the log while catching up.
    next_revision: Revision,
    /// Caught up: new events arrive by fan-out.
    synced: bool,
    /// Why the watcher ends, delivered after its queued events.
    ended: Option<StorageError>,
    /// The end has been delivered; the stream yields nothing more.
    finished: bool,
    waker: Option<Waker>,
}

impl Watcher {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// All watchers of one store.
#[derive(Debug)]
pub(crate) struct Watchers {
    map: BTreeMap<u64, Watcher>,
    next_id: u64,
    queue_max: usize,
}

impl Watchers {
    pub fn new(queue_max: usize) -> Self {
        Watchers { map: BTreeMap::new(), next_id: 0, queue_max: queue_max.max(1) }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Registers a watcher that starts at `start` (inclusive).
    pub fn register(&mut self, prefix: String, start: Revision) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.map.insert(
            id,
            Watcher {
                prefix,
                queue: VecDeque::new(),
                next_revision: start,
                synced: false,
                ended: None,
                finished: false,
                waker: None,
            },
        );
        id
    }

    pub fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }

    /// Hands a just-committed event to every synced watcher whose prefix matches.
    pub fn fan_out(&mut self, event: &Event) {
        let queue_max = self.queue_max;
        for w in self.map.values_mut() {
            if !w.synced || w.ended.is_some() || w.finished {
                continue;
            }
            w.next_revision = event.revision() + 1;
            if !event.kv.key.starts_with(w.prefix.as_str()) {
                continue;
            }
            if w.queue.len() >= queue_max {
                w.ended = Some(StorageError::WatcherTooSlow { queue_limit: queue_max });
            } else {
                w.queue.push_back(event.clone());
            }
            w.wake();
        }
    }

    /// Ends every watcher with `error` (after what is already queued).
    pub fn end_all(&mut self, error: StorageError) {
        for w in self.map.values_mut() {
            if w.ended.is_none() && !w.finished {
                w.ended = Some(error.clone());
                w.wake();
            }
        }
    }

    /// The next event for watcher `id`, catching up from the log when it is behind.
    pub fn poll_next(
        &mut self,
        id: u64,
        mvcc: &Mvcc,
        cx: &mut Context<'_>,
    ) -> Poll<Option<StorageResult<Event>>> {
        let queue_max = self.queue_max;
        let Some(w) = self.map.get_mut(&id) else {
            return Poll::Ready(None);
        };
        loop {
            if let Some(event) = w.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(error) = w.ended.take() {
                w.finished = true;
                return Poll::Ready(Some(Err(error)));
            }
            if w.finished {
                return Poll::Ready(None);
            }
            if w.synced {
                break;
            }
            match mvcc.events_from(w.next_revision, &w.prefix, queue_max) {
                Err(error) => w.ended = Some(error),
                Ok((events, next)) => {
                    w.queue.extend(events);
                    w.next_revision = next;
                    w.synced = next > mvcc.revision();
                }
            }
        }
        w.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The revision up to which watcher `id` has been told everything, if it is idle and in sync.
    pub fn progress(&self, id: u64, mvcc: &Mvcc) -> Option<Revision> {
        let w = self.map.get(&id)?;
        (w.synced && w.queue.is_empty() && w.ended.is_none() && !w.finished).then(|| mvcc.revision())
    }
}
