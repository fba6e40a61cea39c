//! `ModelStore`: an in-memory MVCC store with etcd's semantics and a seeded fault plan.
//!
//! Runs on plain tokio and under madsim alike (time comes from `tokio::time`, randomness from the
//! configured seed, no threads). With no fault plan it behaves exactly as etcd does for the
//! operations of [`Storage`]; the shared conformance suite checks that against a real etcd.
//!
//! Fault controls (all take effect at once, from any task): [`ModelStore::set_faults`],
//! [`ModelStore::clear_faults`], [`ModelStore::crash`] / [`ModelStore::restart`] (state is durable,
//! watchers end), [`ModelStore::force_compaction`].

mod mvcc;
mod watcher;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::mvcc::Mvcc;
use self::watcher::Watchers;
use super::fault::{Decision, Outcome};
use super::{
    DeleteResponse, FaultPlan, KeyValue, ListOptions, ListResponse, OpKind, Revision, Storage, StorageError,
    StorageResult, WatchItem, WatchOptions, WatchStream,
};

/// Configuration of a [`ModelStore`]. Every limit is named here with its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelStoreConfig {
    /// Seed of the fault RNG. Default 0.
    pub seed: u64,
    /// Revisions of history kept before the store compacts on its own (etcd's auto-compaction,
    /// keeping memory bounded). Default 100,000.
    pub history_revisions_max: usize,
    /// Events queued per watcher before it is ended as too slow. Default 1,000.
    pub watch_queue_max: usize,
    /// How often an idle watch with `progress_notify` gets a progress mark. Default 100 ms: watch
    /// caches wait on these to serve consistent reads of resources nobody is writing.
    pub progress_interval: Duration,
}

impl Default for ModelStoreConfig {
    fn default() -> Self {
        ModelStoreConfig {
            seed: 0,
            history_revisions_max: 100_000,
            watch_queue_max: 1_000,
            progress_interval: Duration::from_millis(100),
        }
    }
}

/// Called with every committed write, in revision order, under the store lock (the simulation's
/// ground-truth commit log). Must be cheap and must not call back into the store.
pub type CommitHook = Arc<dyn Fn(&super::Event) + Send + Sync>;

struct Inner {
    mvcc: Mvcc,
    watchers: Watchers,
    crashed: bool,
    commit_hook: Option<CommitHook>,
}

struct Faults {
    plan: Option<FaultPlan>,
    rng: ChaCha8Rng,
}

struct Shared {
    config: ModelStoreConfig,
    inner: Mutex<Inner>,
    faults: Mutex<Faults>,
    /// Fast path: no lock and no RNG draw while no plan is set.
    faults_on: AtomicBool,
}

/// The in-memory model store. Cheap to clone: clones share one store, so a simulation can keep a
/// control handle while the API server holds it as `Arc<dyn Storage>`.
#[derive(Clone)]
pub struct ModelStore {
    shared: Arc<Shared>,
}

impl Default for ModelStore {
    fn default() -> Self {
        ModelStore::new(ModelStoreConfig::default())
    }
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStore").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

const CRASHED: &str = "store is down (crashed)";

impl ModelStore {
    /// Sets (or clears) the hook that sees every committed write.
    pub fn set_commit_hook(&self, hook: Option<CommitHook>) {
        self.shared.inner.lock().commit_hook = hook;
    }

    /// An empty store at revision 1.
    pub fn new(config: ModelStoreConfig) -> Self {
        let inner = Inner {
            mvcc: Mvcc::default(),
            watchers: Watchers::new(config.watch_queue_max),
            crashed: false,
            commit_hook: None,
        };
        let faults = Faults { plan: None, rng: ChaCha8Rng::seed_from_u64(config.seed) };
        ModelStore {
            shared: Arc::new(Shared {
                config,
                inner: Mutex::new(inner),
                faults: Mutex::new(faults),
                faults_on: AtomicBool::new(false),
            }),
        }
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> &ModelStoreConfig {
        &self.shared.config
    }

    /// Switches the fault plan on (replacing any previous one).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.shared.faults.lock().plan = Some(plan);
        self.shared.faults_on.store(true, Ordering::SeqCst);
    }

    /// Switches faults off.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().plan = None;
        self.shared.faults_on.store(false, Ordering::SeqCst);
    }

    /// The fault plan in force, if any.
    pub fn faults(&self) -> Option<FaultPlan> {
        self.shared.faults.lock().plan.clone()
    }

    /// Crashes the store: every watcher ends with `Unavailable`, every operation fails with
    /// `Unavailable` until [`restart`](Self::restart). Committed data is durable and survives.
    pub fn crash(&self) {
        let mut inner = self.shared.inner.lock();
        inner.crashed = true;
        inner.watchers.end_all(StorageError::Unavailable(CRASHED.into()));
    }

    /// Brings a crashed store back with the state it had.
    pub fn restart(&self) {
        self.shared.inner.lock().crashed = false;
    }

    /// Whether the store is down.
    pub fn is_crashed(&self) -> bool {
        self.shared.inner.lock().crashed
    }

    /// Compacts away all but the last `keep` revisions of history now. Returns the new compaction
    /// point, or `None` if there was nothing to compact.
    pub fn force_compaction(&self, keep: i64) -> Option<Revision> {
        let mut inner = self.shared.inner.lock();
        let target = inner.mvcc.revision() - keep.max(0);
        (target > inner.mvcc.compact_revision()).then(|| {
            inner.mvcc.compact(target).expect("target is inside the history window");
            target
        })
    }

    /// The current revision, without going through faults.
    pub fn revision(&self) -> Revision {
        self.shared.inner.lock().mvcc.revision()
    }

    /// The compaction point (0 before the first compaction).
    pub fn compact_revision(&self) -> Revision {
        self.shared.inner.lock().mvcc.compact_revision()
    }

    /// Live watchers.
    pub fn watcher_count(&self) -> usize {
        self.shared.inner.lock().watchers.len()
    }

    /// Live keys (O(keys); for tests and reports).
    pub fn key_count(&self) -> usize {
        self.shared.inner.lock().mvcc.live_keys()
    }

    /// Revisions of history currently kept.
    pub fn history_len(&self) -> usize {
        self.shared.inner.lock().mvcc.history_len()
    }

    fn decide(&self, op: OpKind) -> Option<(Decision, Duration, i64)> {
        if !self.shared.faults_on.load(Ordering::Relaxed) {
            return None;
        }
        let mut faults = self.shared.faults.lock();
        let Faults { plan, rng } = &mut *faults;
        let plan = plan.as_ref()?;
        Some((plan.decide(op, rng), plan.timeout(), plan.forced_compaction_keep))
    }

    /// Runs `f` under the store lock, unless the store is down; then compacts if history is over
    /// its bound.
    fn apply<T>(&self, f: impl FnOnce(&mut Inner) -> StorageResult<T>) -> StorageResult<T> {
        let mut inner = self.shared.inner.lock();
        if inner.crashed {
            return Err(StorageError::Unavailable(CRASHED.into()));
        }
        let result = f(&mut inner);
        let max = self.shared.config.history_revisions_max.max(1);
        // Compact in chunks of max/8 so that the cost is amortised over many writes.
        if inner.mvcc.history_len() > max + max / 8 {
            let target = inner.mvcc.revision() + 1 - max as i64;
            inner.mvcc.compact(target).expect("target is inside the history window");
        }
        result
    }

    /// One operation through the fault plan: latency, then its fate, then the work.
    async fn run<T>(&self, op: OpKind, f: impl FnOnce(&mut Inner) -> StorageResult<T>) -> StorageResult<T> {
        let Some((decision, timeout, keep)) = self.decide(op) else {
            return self.apply(f);
        };
        if !decision.latency.is_zero() {
            tokio::time::sleep(decision.latency).await;
        }
        match decision.outcome {
            Outcome::Proceed => {}
            Outcome::Unavailable => {
                return Err(StorageError::Unavailable("injected: store unavailable".into()));
            }
            Outcome::TimeoutBeforeCommit => {
                tokio::time::sleep(timeout).await;
                return Err(StorageError::Timeout("injected: timed out before commit".into()));
            }
            Outcome::TimeoutAfterCommit => {
                let _committed = self.apply(f);
                tokio::time::sleep(timeout).await;
                return Err(StorageError::Timeout("injected: timed out after commit".into()));
            }
        }
        let result = self.apply(f);
        if decision.force_compaction {
            self.force_compaction(keep);
        }
        result
    }

    /// Delay and break decisions for one watch delivery.
    fn delivery_fault(&self) -> Option<(Duration, bool)> {
        if !self.shared.faults_on.load(Ordering::Relaxed) {
            return None;
        }
        let mut faults = self.shared.faults.lock();
        let Faults { plan, rng } = &mut *faults;
        let plan = plan.as_ref()?;
        let delay = plan.watch_delay.sample(rng);
        let roll: f64 = rng.random();
        Some((delay, roll < plan.watch_break_probability))
    }
}

fn write<T>(
    inner: &mut Inner,
    op: impl FnOnce(&mut Mvcc) -> StorageResult<(super::Event, T)>,
) -> StorageResult<T> {
    let (event, out) = op(&mut inner.mvcc)?;
    if let Some(hook) = &inner.commit_hook {
        hook(&event);
    }
    inner.watchers.fan_out(&event);
    Ok(out)
}

#[async_trait]
impl Storage for ModelStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        self.run(OpKind::Get, |inner| inner.mvcc.get(key, revision)).await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse> {
        self.run(OpKind::List, |inner| inner.mvcc.list(prefix, &options)).await
    }

    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision> {
        self.run(OpKind::Create, |inner| {
            write(inner, |m| m.create(key, value).map(|e| (e.clone(), e.revision())))
        })
        .await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> StorageResult<Revision> {
        self.run(OpKind::Update, |inner| {
            write(inner, |m| m.update(key, value, expected).map(|e| (e.clone(), e.revision())))
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> StorageResult<DeleteResponse> {
        self.run(OpKind::Delete, |inner| write(inner, |m| m.delete(key, expected))).await
    }

    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        let id = self
            .run(OpKind::Watch, |inner| {
                let next = inner.mvcc.revision() + 1;
                let start = options.start_revision.filter(|&r| r > 0).unwrap_or(next);
                let compact = inner.mvcc.compact_revision();
                if start < compact {
                    return Err(StorageError::Compacted { compact_revision: compact });
                }
                Ok(inner.watchers.register(options.prefix.clone(), start))
            })
            .await?;
        let state = WatchState {
            store: self.clone(),
            id,
            prev_kv: options.prev_kv,
            progress: options.progress_notify.then_some(self.shared.config.progress_interval),
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        })))
    }

    async fn compact(&self, revision: Revision) -> StorageResult<()> {
        self.run(OpKind::Compact, |inner| inner.mvcc.compact(revision)).await
    }

    async fn current_revision(&self) -> StorageResult<Revision> {
        self.run(OpKind::CurrentRevision, |inner| Ok(inner.mvcc.revision())).await
    }
}

/// One open watch; unregisters itself when dropped.
struct WatchState {
    store: ModelStore,
    id: u64,
    prev_kv: bool,
    progress: Option<Duration>,
    done: bool,
}

impl Drop for WatchState {
    fn drop(&mut self) {
        self.store.shared.inner.lock().watchers.remove(self.id);
    }
}

impl WatchState {
    fn poll_event(&self, cx: &mut std::task::Context<'_>) -> Poll<Option<StorageResult<super::Event>>> {
        let mut inner = self.store.shared.inner.lock();
        let Inner { mvcc, watchers, .. } = &mut *inner;
        watchers.poll_next(self.id, mvcc, cx)
    }

    async fn next(&mut self) -> Option<StorageResult<WatchItem>> {
        if self.done {
            return None;
        }
        let next = loop {
            let Some(interval) = self.progress else {
                break std::future::poll_fn(|cx| self.poll_event(cx)).await;
            };
            tokio::select! {
                biased;
                next = std::future::poll_fn(|cx| self.poll_event(cx)) => break next,
                _ = tokio::time::sleep(interval) => {
                    let inner = self.store.shared.inner.lock();
                    if let Some(revision) = inner.watchers.progress(self.id, &inner.mvcc) {
                        return Some(Ok(WatchItem::Progress(revision)));
                    }
                }
            }
        };
        let mut event = match next {
            None => {
                self.done = true;
                return None;
            }
            Some(Err(error)) => {
                self.done = true;
                return Some(Err(error));
            }
            Some(Ok(event)) => event,
        };
        if let Some((delay, broken)) = self.store.delivery_fault() {
            if broken {
                self.done = true;
                return Some(Err(StorageError::Unavailable("injected: watch stream broken".into())));
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        if !self.prev_kv {
            event.prev_kv = None;
        }
        Some(Ok(WatchItem::Event(event)))
    }
}
