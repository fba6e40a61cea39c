//! The store on its own simulated host: [`serve_store`] serves any [`Storage`] on a madsim
//! [`Endpoint`], and [`RemoteStore`] is the `Storage` an API server host uses to reach it over the
//! simulated network. Partitions between API servers and the store, store crashes and network
//! latency are then real, not modelled inside the store.
//!
//! Transport: `Endpoint::connect1` / `accept1` channels, which are reliable and ordered and carry
//! values without serialisation. A partition (clog) *delays* their messages (the receiver retries
//! with a backoff of up to 10 s) and never drops them; a killed host resets them. Hence:
//!
//! - every call has an application-level timeout ([`RemoteStoreConfig::timeout`]); a write with no
//!   answer in time is [`StorageError::Timeout`] (it may still commit: its message is only delayed);
//! - a request connection that timed out is retired, so later calls do not queue behind its stalled
//!   messages; the next call connects afresh (refused while the partition lasts: `Unavailable`);
//! - a watch connection carries heartbeats, and the client ends a watch that stays silent for the
//!   timeout, as it ends one whose connection breaks: with an error item, so that the consumer
//!   resumes from the last revision it saw, exactly as after a model store crash;
//! - there is no backpressure, so both ends bound what they keep: [`MAX_IN_FLIGHT_REQUESTS`] per
//!   request connection and a window of [`WATCH_QUEUE_MAX`] unacknowledged items per watch.
//!
//! Error mapping (see [`StorageError`]): connection refused, or a broken connection during a read,
//! is `Unavailable` (nothing was written; retrying is safe). A broken connection during a write is
//! `Timeout` (the request may have reached the store: outcome unknown). A call with no answer within
//! the timeout is `Timeout`, for reads as well: `Timeout` is documented as "no answer in time", which
//! is what happened, whereas `Unavailable` says the store could not take the request, which we do not
//! know; `EtcdStore` maps etcd's timed-out reads the same way, and the API edge answers 504 for it.
//! Watch streams end with `Unavailable` when their connection breaks or stalls, as the model store
//! ends its watchers with `Unavailable` when it crashes.
//!
//! Throughput: madsim delivers the messages of one channel one after another, each at least 1 ms
//! after the previous (every receive sleeps ≥ 1 ms), so one channel carries at most ~1,000
//! messages per simulated second. Calls are therefore spread over [`REQUEST_CONNECTIONS`]
//! connections, and a watch sends every item that is ready as one batch message.
//!
//! Simulation only (`--cfg madsim`).

use std::any::Any;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use madsim::net::{Endpoint, Receiver, Sender};
use parking_lot::Mutex;
use tokio::sync::{oneshot, Semaphore};
use tokio::time::Instant;

use super::{
    DeleteResponse, KeyValue, ListOptions, ListResponse, Revision, Storage, StorageError, StorageResult,
    WatchItem, WatchOptions, WatchStream,
};

/// Default timeout of every call, watch setup and watch silence.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests a store serves at once on one request connection; beyond it a request is answered
/// `Unavailable` at once (nothing done). A [`RemoteStore`] keeps at most this many in flight, so a
/// well-behaved client never meets the limit.
pub const MAX_IN_FLIGHT_REQUESTS: usize = 1_000;

/// Watch items (events, progress marks, heartbeats) a store sends on one watch connection before
/// the client acknowledges them. An event that arrives while the window is full ends the watch with
/// [`StorageError::WatcherTooSlow`], as the model store ends a watcher whose queue is full; a
/// progress mark or heartbeat is skipped instead (the next one supersedes it).
pub const WATCH_QUEUE_MAX: usize = 1_000;

/// The client acknowledges consumed watch items in batches of this many (one message per batch).
pub const WATCH_ACK_EVERY: u64 = 32;

/// Request connections per client: calls are spread over them round-robin (each madsim channel
/// carries at most ~1,000 messages per simulated second).
pub const REQUEST_CONNECTIONS: usize = 16;

/// Watch items sent in one message at most (everything ready, up to this).
pub const WATCH_BATCH_MAX: usize = 512;

/// Shortest heartbeat interval a store accepts on a watch connection.
pub const WATCH_HEARTBEAT_MIN: Duration = Duration::from_millis(50);

/// Configuration of a [`RemoteStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteStoreConfig {
    /// How long a call (or a watch setup) waits for its answer, and how long an open watch may stay
    /// silent before it is ended. The store sends watch heartbeats every quarter of it. Default
    /// [`DEFAULT_TIMEOUT`] (5 s).
    pub timeout: Duration,
}

impl Default for RemoteStoreConfig {
    fn default() -> Self {
        RemoteStoreConfig { timeout: DEFAULT_TIMEOUT }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire messages. They travel as `Box<dyn Any>` payloads, never serialised.

/// A storage call.
#[derive(Debug)]
enum Op {
    Get { key: String, revision: Option<Revision> },
    List { prefix: String, options: ListOptions },
    Create { key: String, value: Bytes },
    Update { key: String, value: Bytes, expected: Revision },
    Delete { key: String, expected: Option<Revision> },
    Compact(Revision),
    CurrentRevision,
}

impl Op {
    /// Whether the call changes the store, so that a lost answer leaves its outcome unknown.
    fn is_write(&self) -> bool {
        matches!(self, Op::Create { .. } | Op::Update { .. } | Op::Delete { .. } | Op::Compact(_))
    }
}

/// The answer to an [`Op`], one variant per result type.
#[derive(Debug)]
enum Reply {
    KeyValue(StorageResult<KeyValue>),
    List(StorageResult<ListResponse>),
    Revision(StorageResult<Revision>),
    Delete(StorageResult<DeleteResponse>),
    Unit(StorageResult<()>),
    /// Refused before it was run (too many requests in flight).
    Refused(StorageError),
}

/// API server → store.
#[derive(Debug)]
enum ToStore {
    /// On a request connection.
    Call { id: u64, op: Op },
    /// The first message of a watch connection.
    Watch { options: WatchOptions, heartbeat: Duration },
    /// On a watch connection: this many items have been consumed in all.
    Ack { consumed: u64 },
}

/// Store → API server.
#[derive(Debug)]
enum FromStore {
    Reply {
        id: u64,
        reply: Reply,
    },
    /// The watch is registered: writes after this message are seen by it.
    WatchStarted,
    /// Watch items, in order (never empty).
    WatchItems(Vec<WatchItem>),
    /// The error that ends the watch.
    WatchEnd(StorageError),
    /// The watch is alive but idle.
    Heartbeat,
}

async fn send<T: Any + Send + Sync>(sender: &Sender, message: T) -> io::Result<()> {
    sender.send(Box::new(message)).await
}

/// The next message of type `T`; `None` when the connection is closed (or carries something else,
/// which only a foreign peer would send).
async fn recv<T: Any>(receiver: &mut Receiver) -> Option<T> {
    let payload = receiver.recv().await.ok()?;
    payload.downcast::<T>().ok().map(|message| *message)
}

// ---------------------------------------------------------------------------------------------
// Server.

/// Serves `store` at `addr` until the host goes down: binds an [`Endpoint`] there and serves every
/// connection it accepts, either as a request connection (calls run concurrently, answers carry the
/// call's id) or as a watch connection (one watch, its items, then its end).
///
/// Run it as a madsim node's init task; a restart of the node runs it again. The node must have been
/// killed first (a kill releases the bound address; a bare restart does not).
pub async fn serve_store(store: Arc<dyn Storage>, addr: SocketAddr) -> io::Result<()> {
    let endpoint = Endpoint::bind(addr).await?;
    loop {
        let (sender, receiver, _peer) = endpoint.accept1().await?;
        tokio::spawn(serve_connection(store.clone(), sender, receiver));
    }
}

async fn serve_connection(store: Arc<dyn Storage>, sender: Sender, mut receiver: Receiver) {
    match recv::<ToStore>(&mut receiver).await {
        Some(ToStore::Call { id, op }) => serve_requests(store, sender, receiver, id, op).await,
        Some(ToStore::Watch { options, heartbeat }) => {
            serve_watch(&*store, sender, receiver, options, heartbeat).await
        }
        Some(ToStore::Ack { .. }) | None => {}
    }
}

async fn serve_requests(store: Arc<dyn Storage>, sender: Sender, mut receiver: Receiver, id: u64, op: Op) {
    let sender = Arc::new(sender);
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT_REQUESTS));
    let mut next = Some((id, op));
    loop {
        let (id, op) = match next.take() {
            Some(call) => call,
            None => match recv::<ToStore>(&mut receiver).await {
                Some(ToStore::Call { id, op }) => (id, op),
                // Closed by the client, or not a request connection after all.
                _ => return,
            },
        };
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let refused = StorageError::Unavailable(format!(
                "{MAX_IN_FLIGHT_REQUESTS} requests already in flight on this connection"
            ));
            let _ = send(&sender, FromStore::Reply { id, reply: Reply::Refused(refused) }).await;
            continue;
        };
        let (store, sender) = (store.clone(), sender.clone());
        tokio::spawn(async move {
            let reply = execute(&*store, op).await;
            // The client may be gone; its call then ends on its own timeout.
            let _ = send(&sender, FromStore::Reply { id, reply }).await;
            drop(permit);
        });
    }
}

async fn execute(store: &dyn Storage, op: Op) -> Reply {
    match op {
        Op::Get { key, revision } => Reply::KeyValue(store.get(&key, revision).await),
        Op::List { prefix, options } => Reply::List(store.list(&prefix, options).await),
        Op::Create { key, value } => Reply::Revision(store.create(&key, value).await),
        Op::Update { key, value, expected } => Reply::Revision(store.update(&key, value, expected).await),
        Op::Delete { key, expected } => Reply::Delete(store.delete(&key, expected).await),
        Op::Compact(revision) => Reply::Unit(store.compact(revision).await),
        Op::CurrentRevision => Reply::Revision(store.current_revision().await),
    }
}

async fn serve_watch(
    store: &dyn Storage,
    sender: Sender,
    mut receiver: Receiver,
    options: WatchOptions,
    heartbeat: Duration,
) {
    let heartbeat = heartbeat.max(WATCH_HEARTBEAT_MIN);
    let mut stream = match store.watch(options).await {
        Ok(stream) => stream,
        Err(error) => {
            let _ = send(&sender, FromStore::WatchEnd(error)).await;
            return;
        }
    };
    if send(&sender, FromStore::WatchStarted).await.is_err() {
        return;
    }
    // Items sent and items the client says it consumed: the difference is what sits in the network
    // or in the client's channel, which nothing else bounds.
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut quiet_until = Instant::now() + heartbeat;
    loop {
        let full = sent - acked >= WATCH_QUEUE_MAX as u64;
        // Biased: no draw from tokio's thread-local RNG, and acks (which free the window) first.
        let message = tokio::select! {
            biased;
            ack = recv::<ToStore>(&mut receiver) => match ack {
                Some(ToStore::Ack { consumed }) => {
                    acked = acked.max(consumed.min(sent));
                    continue;
                }
                // The client dropped the watch (or broke the protocol).
                _ => return,
            },
            item = stream.next() => {
                // Everything else that is ready goes in the same message (see the module docs).
                let window_full = |batched: usize| sent + batched as u64 - acked >= WATCH_QUEUE_MAX as u64;
                let mut batch = Vec::new();
                let mut next = Some(item);
                let mut end = None;
                while let Some(item) = next.take() {
                    match item {
                        Some(Ok(WatchItem::Progress(_))) if window_full(batch.len()) => {}
                        Some(Ok(WatchItem::Event(_))) if window_full(batch.len()) => {
                            end = Some(StorageError::WatcherTooSlow { queue_limit: WATCH_QUEUE_MAX });
                            break;
                        }
                        Some(Ok(item)) => batch.push(item),
                        Some(Err(error)) => {
                            end = Some(error);
                            break;
                        }
                        None => {
                            end = Some(StorageError::Unavailable("the store ended the watch".into()));
                            break;
                        }
                    }
                    if batch.len() < WATCH_BATCH_MAX {
                        next = futures::FutureExt::now_or_never(stream.next());
                    }
                }
                if !batch.is_empty() {
                    let n = batch.len() as u64;
                    if send(&sender, FromStore::WatchItems(batch)).await.is_err() {
                        return;
                    }
                    sent += n;
                    quiet_until = Instant::now() + heartbeat;
                }
                if let Some(error) = end {
                    let _ = send(&sender, FromStore::WatchEnd(error)).await;
                    return;
                }
                continue;
            },
            _ = tokio::time::sleep_until(quiet_until) => {
                quiet_until = Instant::now() + heartbeat;
                if full {
                    continue;
                }
                FromStore::Heartbeat
            }
        };
        if send(&sender, message).await.is_err() {
            return;
        }
        sent += 1;
        quiet_until = Instant::now() + heartbeat;
    }
}

// ---------------------------------------------------------------------------------------------
// Client.

/// A [`Storage`] on another simulated host, reached over the simulated network (see the module
/// docs for the protocol and for how failures map to errors).
///
/// Lazy: the local endpoint is bound, and the request connection opened, by the first call, on the
/// host of the task that makes it (so create and use it on the API server's host). One request
/// connection carries all calls and is replaced when it breaks or times out; each watch has its own
/// connection.
pub struct RemoteStore {
    addr: SocketAddr,
    config: RemoteStoreConfig,
    /// Bounds the calls in flight, so that the store never refuses one for being over its limit.
    in_flight: Semaphore,
    next_generation: AtomicU64,
    state: tokio::sync::Mutex<ClientState>,
}

#[derive(Default)]
struct ClientState {
    endpoint: Option<Endpoint>,
    /// [`REQUEST_CONNECTIONS`] slots, each opened on first use and replaced when unusable.
    connections: Vec<Option<Arc<Connection>>>,
    /// The slot the next call uses.
    next_slot: usize,
}

/// One request connection.
struct Connection {
    generation: u64,
    sender: Sender,
    next_id: AtomicU64,
    /// Set after a call on it timed out: its later messages would queue behind a stalled one.
    retired: AtomicBool,
    calls: Arc<Mutex<Calls>>,
}

/// Calls waiting for their answers, by id; the reader task fills them.
#[derive(Default)]
struct Calls {
    waiting: BTreeMap<u64, oneshot::Sender<Reply>>,
    /// The connection closed: no answer will come.
    broken: bool,
}

impl Connection {
    fn usable(&self) -> bool {
        !self.retired.load(Ordering::Relaxed) && !self.sender.is_closed() && !self.calls.lock().broken
    }
}

/// Forgets a call when its caller stops waiting (answer, timeout or cancellation).
struct CallGuard<'a> {
    connection: &'a Connection,
    id: u64,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.connection.calls.lock().waiting.remove(&self.id);
    }
}

/// Hands answers to their callers until the connection closes, then fails the remaining calls
/// (dropping their senders wakes them).
async fn read_replies(mut receiver: Receiver, calls: Arc<Mutex<Calls>>) {
    while let Some(FromStore::Reply { id, reply }) = recv::<FromStore>(&mut receiver).await {
        if let Some(waiting) = calls.lock().waiting.remove(&id) {
            let _ = waiting.send(reply);
        }
    }
    let mut calls = calls.lock();
    calls.broken = true;
    calls.waiting.clear();
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("addr", &self.addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// A client of the store served (by [`serve_store`]) at `addr`. Connects on first use.
    pub fn new(addr: SocketAddr, config: RemoteStoreConfig) -> Self {
        RemoteStore {
            addr,
            config,
            in_flight: Semaphore::new(MAX_IN_FLIGHT_REQUESTS),
            next_generation: AtomicU64::new(0),
            state: tokio::sync::Mutex::new(ClientState::default()),
        }
    }

    /// The store's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration in force.
    pub fn config(&self) -> &RemoteStoreConfig {
        &self.config
    }

    fn refused(&self, error: io::Error) -> StorageError {
        StorageError::Unavailable(format!("cannot reach the store at {}: {error}", self.addr))
    }

    /// The local endpoint, bound on first use.
    async fn endpoint(&self, state: &mut ClientState) -> StorageResult<Endpoint> {
        if let Some(endpoint) = &state.endpoint {
            return Ok(endpoint.clone());
        }
        let endpoint = Endpoint::bind("0.0.0.0:0").await.map_err(|e| self.refused(e))?;
        state.endpoint = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// The current request connection, opened if there is none usable.
    async fn connection(&self) -> StorageResult<Arc<Connection>> {
        let mut state = self.state.lock().await;
        if state.connections.is_empty() {
            state.connections = vec![None; REQUEST_CONNECTIONS];
        }
        let slot = state.next_slot;
        state.next_slot = (slot + 1) % REQUEST_CONNECTIONS;
        if let Some(connection) = state.connections[slot].as_ref().filter(|c| c.usable()) {
            return Ok(connection.clone());
        }
        // Dropping the old one closes it once its last waiting call is done.
        state.connections[slot] = None;
        let endpoint = self.endpoint(&mut state).await?;
        let (sender, receiver) = endpoint.connect1(self.addr).await.map_err(|e| self.refused(e))?;
        let connection = Arc::new(Connection {
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
            sender,
            next_id: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            calls: Arc::default(),
        });
        tokio::spawn(read_replies(receiver, connection.calls.clone()));
        state.connections[slot] = Some(connection.clone());
        Ok(connection)
    }

    /// Sends `op` and waits for its answer, within the timeout.
    async fn call(&self, op: Op) -> StorageResult<Reply> {
        let timeout = self.config.timeout;
        let deadline = Instant::now() + timeout;
        let remaining = || deadline.saturating_duration_since(Instant::now());
        let write = op.is_write();
        let Ok(Ok(_permit)) = crate::deadline::timeout(timeout, self.in_flight.acquire()).await else {
            return Err(StorageError::Unavailable(format!(
                "{MAX_IN_FLIGHT_REQUESTS} store requests in flight for {timeout:?}; not sent"
            )));
        };
        let connection = match crate::deadline::timeout(remaining(), self.connection()).await {
            Ok(connection) => connection?,
            Err(_) => {
                return Err(StorageError::Unavailable(format!(
                    "no connection to the store at {} within {timeout:?}; not sent",
                    self.addr
                )))
            }
        };
        let id = connection.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer_tx, answer_rx) = oneshot::channel();
        connection.calls.lock().waiting.insert(id, answer_tx);
        let _guard = CallGuard { connection: &connection, id };
        // `usable()` was checked without an await since, so this can only fail if the store went
        // away in between; the message was then not queued.
        if let Err(e) = send(&connection.sender, ToStore::Call { id, op }).await {
            return Err(self.refused(e));
        }
        match crate::deadline::timeout(remaining(), answer_rx).await {
            Ok(Ok(Reply::Refused(error))) => Err(error),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) if write => Err(StorageError::Timeout(format!(
                "the connection to the store at {} broke before the answer; the write may have committed",
                self.addr
            ))),
            Ok(Err(_)) => Err(StorageError::Unavailable(format!(
                "the connection to the store at {} broke before the answer",
                self.addr
            ))),
            Err(_) => {
                // Later calls must not queue behind this one on a stalled connection.
                connection.retired.store(true, Ordering::Relaxed);
                tracing::debug!(
                    generation = connection.generation,
                    "store connection retired after a timeout"
                );
                Err(StorageError::Timeout(format!(
                    "no answer from the store at {} within {timeout:?}",
                    self.addr
                )))
            }
        }
    }
}

impl RemoteStore {
    /// Opens a watch connection and waits until the store has registered the watch, so that a
    /// write made after this returns is seen by it.
    async fn start_watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        let timeout = self.config.timeout;
        let endpoint = self.endpoint(&mut *self.state.lock().await).await?;
        let (sender, mut receiver) = endpoint.connect1(self.addr).await.map_err(|e| self.refused(e))?;
        // Heartbeats well inside the silence limit, so that only a real stall ends the watch.
        let heartbeat = timeout / 4;
        send(&sender, ToStore::Watch { options, heartbeat }).await.map_err(|e| self.refused(e))?;
        match recv::<FromStore>(&mut receiver).await {
            None => Err(StorageError::Unavailable(format!(
                "the store at {} closed the watch connection",
                self.addr
            ))),
            Some(FromStore::WatchEnd(error)) => Err(error),
            Some(FromStore::WatchStarted) => {
                let watch = RemoteWatch {
                    addr: self.addr,
                    sender,
                    receiver,
                    silence_limit: timeout,
                    pending: std::collections::VecDeque::new(),
                    consumed: 0,
                    acked: 0,
                    done: false,
                };
                Ok(Box::pin(futures::stream::unfold(watch, |mut watch| async move {
                    let item = watch.next().await?;
                    Some((item, watch))
                })))
            }
            Some(other) => Err(StorageError::Internal(format!(
                "unexpected first message on a watch connection: {other:?}"
            ))),
        }
    }
}

fn mismatched(reply: Reply) -> StorageError {
    StorageError::Internal(format!("the store answered with a reply of the wrong kind: {reply:?}"))
}

#[async_trait]
impl Storage for RemoteStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        match self.call(Op::Get { key: key.to_owned(), revision }).await? {
            Reply::KeyValue(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse> {
        match self.call(Op::List { prefix: prefix.to_owned(), options }).await? {
            Reply::List(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision> {
        match self.call(Op::Create { key: key.to_owned(), value }).await? {
            Reply::Revision(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> StorageResult<Revision> {
        match self.call(Op::Update { key: key.to_owned(), value, expected }).await? {
            Reply::Revision(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> StorageResult<DeleteResponse> {
        match self.call(Op::Delete { key: key.to_owned(), expected }).await? {
            Reply::Delete(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        let timeout = self.config.timeout;
        match crate::deadline::timeout(timeout, self.start_watch(options)).await {
            Ok(started) => started,
            Err(_) => Err(StorageError::Timeout(format!(
                "the store at {} did not start the watch within {timeout:?}",
                self.addr
            ))),
        }
    }

    async fn compact(&self, revision: Revision) -> StorageResult<()> {
        match self.call(Op::Compact(revision)).await? {
            Reply::Unit(result) => result,
            other => Err(mismatched(other)),
        }
    }

    async fn current_revision(&self) -> StorageResult<Revision> {
        match self.call(Op::CurrentRevision).await? {
            Reply::Revision(result) => result,
            other => Err(mismatched(other)),
        }
    }
}

/// The client end of one watch connection. Dropping it closes the connection, which ends the
/// watch on the store.
struct RemoteWatch {
    addr: SocketAddr,
    sender: Sender,
    receiver: Receiver,
    silence_limit: Duration,
    /// Items of the last batch not handed out yet.
    pending: std::collections::VecDeque<WatchItem>,
    /// Items handed out plus heartbeats received, and the count last acknowledged.
    consumed: u64,
    acked: u64,
    done: bool,
}

impl RemoteWatch {
    fn end(&mut self, error: StorageError) -> Option<StorageResult<WatchItem>> {
        self.done = true;
        Some(Err(error))
    }

    /// Counts one consumed item and acknowledges every [`WATCH_ACK_EVERY`].
    async fn consumed_one(&mut self) {
        self.consumed += 1;
        if self.consumed - self.acked >= WATCH_ACK_EVERY {
            self.acked = self.consumed;
            // A failed ack means the connection is gone; the next receive reports it.
            let _ = send(&self.sender, ToStore::Ack { consumed: self.consumed }).await;
        }
    }

    async fn next(&mut self) -> Option<StorageResult<WatchItem>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                self.consumed_one().await;
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            let message =
                match crate::deadline::timeout(self.silence_limit, recv::<FromStore>(&mut self.receiver))
                    .await
                {
                    Err(_) => {
                        return self.end(StorageError::Unavailable(format!(
                            "no message from the store at {} within {:?}; the watch is presumed stalled",
                            self.addr, self.silence_limit
                        )))
                    }
                    Ok(None) => {
                        return self.end(StorageError::Unavailable(format!(
                            "the watch connection to the store at {} broke",
                            self.addr
                        )))
                    }
                    Ok(Some(message)) => message,
                };
            match message {
                FromStore::Heartbeat => self.consumed_one().await,
                FromStore::WatchItems(items) => self.pending.extend(items),
                FromStore::WatchEnd(error) => return self.end(error),
                other => {
                    return self.end(StorageError::Internal(format!(
                        "unexpected message on a watch connection: {other:?}"
                    )))
                }
            }
        }
    }
}
