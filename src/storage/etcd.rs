//! `EtcdStore`: the [`Storage`] seam on a real etcd v3 (etcd-client 0.21; real mode only).
//!
//! Keys live under a configurable prefix (`/registry` by default, as kube-apiserver lays them out).
//! Creates and conditional writes are single transactions comparing `create_revision` /
//! `mod_revision`, exactly as kube-apiserver's etcd3 store does, so the store revision moves by one
//! per successful write and not at all on a failed compare.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, Identity,
    TlsOptions, Txn, TxnOp, TxnOpResponse,
};
use futures::StreamExt;

use super::{
    DeleteResponse, Event, EventKind, KeyValue, ListOptions, ListResponse, Revision, Storage, StorageError,
    StorageResult, WatchItem, WatchOptions, WatchStream,
};

/// The largest etcd response accepted (kube-apiserver accepts up to 2 GiB; objects are at most
/// 1.5 MiB and lists are paged).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// TLS material for talking to etcd (kube-apiserver's --etcd-cafile / --etcd-certfile /
/// --etcd-keyfile).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// PEM CA bundle that signed etcd's serving certificate.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate.
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM client key.
    pub key_file: Option<std::path::PathBuf>,
}

/// How to reach etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdStoreConfig {
    /// Endpoints such as `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Key prefix. Default `/registry`.
    pub prefix: String,
    /// TLS, when the endpoints are https.
    pub tls: Option<EtcdTls>,
    /// Limit on every request; past it a write's outcome is unknown (`Timeout`). Default 10 s.
    pub request_timeout: Duration,
    /// Limit on connecting. Default 5 s.
    pub connect_timeout: Duration,
}

impl EtcdStoreConfig {
    /// Plain-text endpoints, default prefix and timeouts.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdStoreConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: "/registry".into(),
            tls: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Storage`] on a real etcd.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    prefix: Arc<str>,
    request_timeout: Duration,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn read_file(path: &std::path::Path) -> StorageResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| StorageError::Internal(format!("reading {}: {e}", path.display())))
}

/// The first key after every key that starts with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl EtcdStore {
    /// Connects to etcd. Fails with `Unavailable` when no endpoint answers in time.
    pub async fn connect(config: EtcdStoreConfig) -> StorageResult<Self> {
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.connect_timeout)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        if let Some(tls) = &config.tls {
            let mut tls_options = TlsOptions::new();
            if let Some(ca) = &tls.ca_file {
                tls_options = tls_options.ca_certificate(Certificate::from_pem(read_file(ca)?));
            }
            match (&tls.cert_file, &tls.key_file) {
                (Some(cert), Some(key)) => {
                    tls_options = tls_options.identity(Identity::from_pem(read_file(cert)?, read_file(key)?));
                }
                (None, None) => {}
                _ => {
                    return Err(StorageError::Internal(
                        "etcd client certificate and key must be given together".into(),
                    ));
                }
            }
            options = options.with_tls(tls_options);
        }
        let connect = Client::connect(&config.endpoints, Some(options));
        let client = tokio::time::timeout(config.connect_timeout, connect)
            .await
            .map_err(|_| {
                StorageError::Unavailable(format!("connecting to etcd {:?} timed out", config.endpoints))
            })?
            .map_err(|e| StorageError::Unavailable(format!("connecting to etcd: {e}")))?;
        let store = EtcdStore {
            client,
            prefix: Arc::from(config.prefix.trim_end_matches('/')),
            request_timeout: config.request_timeout,
        };
        // Fail now, not on the first request, when etcd is not there.
        store.current_revision().await?;
        Ok(store)
    }

    /// The underlying etcd client (for tools and tests that need raw access).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A KV client that accepts responses up to [`MAX_RESPONSE_BYTES`] (etcd-client's default is
    /// 4 MiB, less than one page of big objects).
    fn kv(&self) -> etcd_client::KvClient {
        self.client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(key.as_bytes());
        k
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> StorageResult<KeyValue> {
        let key = kv.key_str().map_err(|e| StorageError::Internal(format!("non-UTF-8 key: {e}")))?;
        let key = key
            .strip_prefix(&*self.prefix)
            .ok_or_else(|| StorageError::Internal(format!("key {key:?} outside prefix {:?}", self.prefix)))?;
        Ok(KeyValue {
            key: Arc::from(key),
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
        })
    }

    /// Runs one request under the request timeout.
    async fn call<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> StorageResult<T> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Err(_) => {
                Err(StorageError::Timeout(format!("no answer from etcd within {:?}", self.request_timeout)))
            }
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.map_error(e).await),
        }
    }

    async fn map_error(&self, error: etcd_client::Error) -> StorageError {
        let etcd_client::Error::GRpcStatus(status) = &error else {
            return match error {
                etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
                    StorageError::Unavailable(error.to_string())
                }
                other => StorageError::Internal(other.to_string()),
            };
        };
        let message = status.message();
        if message.contains("required revision has been compacted") {
            return StorageError::Compacted { compact_revision: self.probe_compact_revision().await };
        }
        if message.contains("required revision is a future revision") {
            let current = Box::pin(self.current_revision()).await.unwrap_or(0);
            return StorageError::FutureRevision { requested: 0, current };
        }
        if message.contains("timed out") || status.code() == tonic::Code::DeadlineExceeded {
            return StorageError::Timeout(message.to_owned());
        }
        if status.code() == tonic::Code::Unavailable {
            return StorageError::Unavailable(message.to_owned());
        }
        StorageError::Internal(format!("{:?}: {message}", status.code()))
    }

    /// etcd reports "compacted" without the compaction point; a watch from revision 1 is
    /// cancelled with it.
    async fn probe_compact_revision(&self) -> Revision {
        let probe = async {
            let options = etcd_client::WatchOptions::new().with_start_revision(1);
            let mut stream = self
                .client
                .watch_client()
                .watch(self.full_key("\0compact-probe"), Some(options))
                .await
                .ok()?;
            while let Some(Ok(response)) = stream.next().await {
                if response.canceled() {
                    return Some(response.compact_revision());
                }
            }
            None
        };
        tokio::time::timeout(self.request_timeout, probe).await.ok().flatten().unwrap_or(0)
    }

    /// Fills in `requested` on a FutureRevision error.
    fn with_requested(error: StorageError, requested: Option<Revision>) -> StorageError {
        match error {
            StorageError::FutureRevision { current, .. } => {
                StorageError::FutureRevision { requested: requested.unwrap_or(0), current }
            }
            other => other,
        }
    }

    /// The current value of `key` from a failed transaction's else-branch `get`.
    fn else_get(&self, response: &etcd_client::TxnResponse) -> StorageResult<Option<KeyValue>> {
        match response.op_responses().first() {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| self.key_value(kv)).transpose(),
            _ => Err(StorageError::Internal("transaction else-branch returned no get".into())),
        }
    }

    fn conflict_or_not_found(
        &self,
        key: &str,
        expected: Revision,
        response: &etcd_client::TxnResponse,
    ) -> StorageError {
        match self.else_get(response) {
            Ok(Some(current)) => {
                StorageError::Conflict { key: key.to_owned(), expected, current: Box::new(current) }
            }
            Ok(None) => StorageError::NotFound { key: key.to_owned() },
            Err(e) => e,
        }
    }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> StorageResult<Revision> {
    header.map(|h| h.revision()).ok_or_else(|| StorageError::Internal("etcd response without header".into()))
}

#[async_trait]
impl Storage for EtcdStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        let mut options = GetOptions::new();
        if let Some(r) = revision.filter(|&r| r > 0) {
            options = options.with_revision(r);
        }
        let mut kv = self.kv();
        let response = self
            .call(kv.get(self.full_key(key), Some(options)))
            .await
            .map_err(|e| Self::with_requested(e, revision))?;
        match response.kvs().first() {
            Some(found) => self.key_value(found),
            None => Err(StorageError::NotFound { key: key.to_owned() }),
        }
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse> {
        let full_prefix = self.full_key(prefix);
        let start = match options.continue_after.as_deref() {
            Some(after) if after >= prefix => {
                let mut k = self.full_key(after);
                k.push(0);
                k
            }
            _ => full_prefix.clone(),
        };
        let mut get = GetOptions::new().with_range(prefix_end(&full_prefix));
        if let Some(limit) = options.limit.filter(|&l| l > 0) {
            get = get.with_limit(limit as i64);
        }
        let at = options.revision.filter(|&r| r > 0);
        if let Some(r) = at {
            get = get.with_revision(r);
        }
        let mut kv = self.kv();
        let response = self.call(kv.get(start, Some(get))).await.map_err(|e| Self::with_requested(e, at))?;
        let items = response.kvs().iter().map(|kv| self.key_value(kv)).collect::<StorageResult<_>>()?;
        let revision = match at {
            Some(r) => r,
            None => header_revision(response.header())?,
        };
        Ok(ListResponse { items, revision, more: response.more(), count: Some(response.count()) })
    }

    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision> {
        let k = self.full_key(key);
        let txn = Txn::new()
            .when([Compare::create_revision(k.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(k, Vec::from(value), None)]);
        let mut kv = self.kv();
        let response = self.call(kv.txn(txn)).await?;
        if !response.succeeded() {
            return Err(StorageError::AlreadyExists { key: key.to_owned() });
        }
        header_revision(response.header())
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> StorageResult<Revision> {
        let k = self.full_key(key);
        // A missing key has mod_revision 0, so one compare proves both existence and freshness,
        // as in kube-apiserver's OptimisticPut. No real key has mod_revision 0.
        if expected <= 0 {
            let current = self.get(key, None).await?;
            return Err(StorageError::Conflict { key: key.to_owned(), expected, current: Box::new(current) });
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(k.clone(), CompareOp::Equal, expected)])
            .and_then([TxnOp::put(k.clone(), Vec::from(value), None)])
            .or_else([TxnOp::get(k, None)]);
        let mut kv = self.kv();
        let response = self.call(kv.txn(txn)).await?;
        if !response.succeeded() {
            return Err(self.conflict_or_not_found(key, expected, &response));
        }
        header_revision(response.header())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> StorageResult<DeleteResponse> {
        let k = self.full_key(key);
        let compares = match expected {
            Some(expected) => vec![Compare::mod_revision(k.clone(), CompareOp::Equal, expected)],
            None => vec![Compare::version(k.clone(), CompareOp::Greater, 0)],
        };
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(k.clone(), Some(DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(k, None)]);
        let mut kv = self.kv();
        let response = self.call(kv.txn(txn)).await?;
        if !response.succeeded() {
            return Err(self.conflict_or_not_found(key, expected.unwrap_or(0), &response));
        }
        let revision = header_revision(response.header())?;
        let prev = match response.op_responses().first() {
            Some(TxnOpResponse::Delete(d)) => d.prev_kvs().first().map(|kv| self.key_value(kv)),
            _ => None,
        };
        let prev = prev.ok_or_else(|| StorageError::Internal("delete without prev_kv".into()))??;
        Ok(DeleteResponse { prev, revision })
    }

    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        let full_prefix = self.full_key(&options.prefix);
        let mut watch = etcd_client::WatchOptions::new().with_range(prefix_end(&full_prefix));
        if let Some(r) = options.start_revision.filter(|&r| r > 0) {
            watch = watch.with_start_revision(r);
        }
        if options.prev_kv {
            watch = watch.with_prev_key();
        }
        if options.progress_notify {
            watch = watch.with_progress_notify();
        }
        let mut client = self.client.watch_client().max_decoding_message_size(MAX_RESPONSE_BYTES);
        let stream = self.call(client.watch(full_prefix, Some(watch))).await?;
        let state = EtcdWatch { store: self.clone(), stream, pending: VecDeque::new(), done: false };
        Ok(Box::pin(futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        })))
    }

    async fn compact(&self, revision: Revision) -> StorageResult<()> {
        let mut kv = self.kv();
        self.call(kv.compact(revision, None))
            .await
            .map(|_| ())
            .map_err(|e| Self::with_requested(e, Some(revision)))
    }

    async fn current_revision(&self) -> StorageResult<Revision> {
        let mut kv = self.kv();
        let options = GetOptions::new().with_count_only();
        let response = self.call(kv.get(self.full_key("\0revision"), Some(options))).await?;
        header_revision(response.header())
    }
}

/// One etcd watch, flattened into items. Holds etcd-client's stream (and with it the request
/// sender, whose drop would end the watch).
struct EtcdWatch {
    store: EtcdStore,
    stream: etcd_client::WatchStream,
    pending: VecDeque<WatchItem>,
    done: bool,
}

impl EtcdWatch {
    async fn next(&mut self) -> Option<StorageResult<WatchItem>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            let response = match self.stream.next().await {
                None => {
                    self.done = true;
                    return Some(Err(StorageError::Unavailable("etcd closed the watch".into())));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(self.store.map_error(e).await));
                }
                Some(Ok(response)) => response,
            };
            if response.canceled() {
                self.done = true;
                let compact_revision = response.compact_revision();
                return Some(Err(if compact_revision > 0 {
                    StorageError::Compacted { compact_revision }
                } else {
                    StorageError::Unavailable(format!(
                        "etcd cancelled the watch: {}",
                        response.cancel_reason()
                    ))
                }));
            }
            if response.created() && response.events().is_empty() {
                continue;
            }
            if response.events().is_empty() {
                match header_revision(response.header()) {
                    Ok(r) => return Some(Ok(WatchItem::Progress(r))),
                    Err(e) => return Some(Err(e)),
                }
            }
            for event in response.events() {
                match self.event(event) {
                    Ok(e) => self.pending.push_back(WatchItem::Event(e)),
                    Err(e) => {
                        self.done = true;
                        self.pending.clear();
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    fn event(&self, event: &etcd_client::Event) -> StorageResult<Event> {
        let kv = event.kv().ok_or_else(|| StorageError::Internal("watch event without kv".into()))?;
        let kind = match event.event_type() {
            EventType::Put => EventKind::Put,
            EventType::Delete => EventKind::Delete,
        };
        Ok(Event {
            kind,
            kv: self.store.key_value(kv)?,
            prev_kv: event.prev_kv().map(|kv| self.store.key_value(kv)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
