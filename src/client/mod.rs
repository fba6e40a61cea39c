//! An API client over hyper's `client::conn` with a small connection pool of our own (hyper-util's
//! legacy client, HttpConnector, TokioExecutor and TokioTimer do not run under madsim). TLS with
//! rustls in real mode; plain HTTP in the simulation. Every request has a timeout; watches stream
//! newline-delimited events.

mod flush;
#[cfg(not(madsim))]
mod kubeconfig;
mod metrics;

pub use flush::NoEmptyFlush;
#[cfg(not(madsim))]
pub use kubeconfig::Kubeconfig;
pub use metrics::{ClientMetrics, VerbLatency};
pub use observer::ClientObserver;

mod observer;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;

/// Why a request failed before an HTTP answer came back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Could not connect (refused, TLS failure).
    #[error("connecting to {address}: {message}")]
    Connect {
        /// host:port.
        address: String,
        /// Why.
        message: String,
    },
    /// No complete answer within the request timeout; a write may or may not have happened.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The connection broke mid-request.
    #[error("transport error: {0}")]
    Transport(String),
    /// A request that could not be built.
    #[error("bad request: {0}")]
    Invalid(String),
}

/// How to reach an API server. Defaults in the doc of each field.
#[derive(Clone)]
pub struct ClientConfig {
    /// `host:port` to connect to.
    pub address: String,
    /// Server name for TLS and the Host header (default: the host part of `address`).
    pub server_name: String,
    /// TLS (real mode); `None` is plain HTTP (the simulation).
    #[cfg(not(madsim))]
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Bearer token.
    pub token: Option<String>,
    /// Limit on every non-watch request, connect included. Default 30 s.
    pub request_timeout: Duration,
    /// Idle connections kept for reuse. Default 16.
    pub pool_max: usize,
    /// User-Agent header.
    pub user_agent: String,
    /// Where request latencies are recorded, if anywhere (watches are not recorded).
    pub metrics: Option<Arc<ClientMetrics>>,
    /// Sees every exchange and every watch line (the simulation's recording layer).
    pub observer: Option<Arc<dyn ClientObserver>>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig").field("address", &self.address).finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Plain HTTP to `address` with default limits.
    pub fn plain(address: impl Into<String>) -> Self {
        let address = address.into();
        let server_name =
            address.rsplit_once(':').map(|(h, _)| h.to_owned()).unwrap_or_else(|| address.clone());
        ClientConfig {
            address,
            server_name,
            #[cfg(not(madsim))]
            tls: None,
            token: None,
            request_timeout: Duration::from_secs(30),
            pool_max: 16,
            user_agent: format!("kubesim/{}", env!("CARGO_PKG_VERSION")),
            metrics: None,
            observer: None,
        }
    }
}

/// A response: status and full body.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Body.
    pub body: Bytes,
}

impl ApiResponse {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// The client. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct ApiClient {
    config: Arc<ClientConfig>,
    idle: Arc<Mutex<Vec<Sender>>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("config", &self.config).finish_non_exhaustive()
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

impl ApiClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Self {
        ApiClient { config: Arc::new(config), idle: Arc::new(Mutex::new(Vec::new())) }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let address = self.config.address.clone();
        let connect_error = |e: &dyn std::fmt::Display| ClientError::Connect {
            address: address.clone(),
            message: e.to_string(),
        };
        let tcp =
            tokio::net::TcpStream::connect(&self.config.address).await.map_err(|e| connect_error(&e))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = self.wrap(tcp).await.map_err(|e| connect_error(&e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(NoEmptyFlush::new(io)))
            .await
            .map_err(|e| connect_error(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    #[cfg(not(madsim))]
    async fn wrap(&self, tcp: tokio::net::TcpStream) -> Result<Box<dyn Io>, String> {
        match &self.config.tls {
            None => Ok(Box::new(tcp)),
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.config.server_name.clone())
                    .map_err(|e| format!("server name {:?}: {e}", self.config.server_name))?;
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                Ok(Box::new(stream))
            }
        }
    }

    #[cfg(madsim)]
    async fn wrap(&self, tcp: tokio::net::TcpStream) -> Result<Box<dyn Io>, String> {
        Ok(Box::new(tcp))
    }

    async fn sender(&self) -> Result<Sender, ClientError> {
        loop {
            let candidate = self.idle.lock().pop();
            match candidate {
                Some(mut s) => {
                    if s.ready().await.is_ok() {
                        return Ok(s);
                    }
                }
                None => return self.connect().await,
            }
        }
    }

    fn give_back(&self, sender: Sender) {
        if sender.is_ready() {
            let mut idle = self.idle.lock();
            if idle.len() < self.config.pool_max {
                idle.push(sender);
            }
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut req = Request::builder().method(method).uri(path);
        let headers = req.headers_mut().expect("builder has headers");
        headers.insert(
            header::HOST,
            HeaderValue::from_str(&self.config.server_name)
                .map_err(|e| ClientError::Invalid(e.to_string()))?,
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&self.config.user_agent)
                .map_err(|e| ClientError::Invalid(e.to_string()))?,
        );
        if let Some(token) = &self.config.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| ClientError::Invalid(e.to_string()))?;
            headers.insert(header::AUTHORIZATION, value);
        }
        let body = match body {
            Some((bytes, content_type)) => {
                let ct =
                    HeaderValue::from_str(content_type).map_err(|e| ClientError::Invalid(e.to_string()))?;
                headers.insert(header::CONTENT_TYPE, ct);
                bytes
            }
            None => Bytes::new(),
        };
        req.body(Full::new(body)).map_err(|e| ClientError::Invalid(e.to_string()))
    }

    /// One request, with the configured timeout. `body` is `(bytes, content type)`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<ApiResponse, ClientError> {
        let req = self.build(method.clone(), path, body)?;
        let timeout = self.config.request_timeout;
        let started = tokio::time::Instant::now();
        let sent_at = std::time::Instant::now();
        let exchange = async {
            let mut sender = self.sender().await?;
            let resp = sender.send_request(req).await.map_err(|e| ClientError::Transport(e.to_string()))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?
                .to_bytes();
            self.give_back(sender);
            Ok(ApiResponse { status, body })
        };
        let result =
            tokio::time::timeout(timeout, exchange).await.map_err(|_| ClientError::Timeout(timeout))?;
        if let Some(m) = &self.config.metrics {
            m.record(&method, path, started.elapsed());
        }
        if let Some(o) = &self.config.observer {
            o.exchange(&method, path, &result, sent_at);
        }
        result
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Result<ApiResponse, ClientError> {
        self.request(Method::GET, path, None).await
    }

    /// POST of a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, ClientError> {
        self.request(Method::POST, path, Some((Bytes::from(body.to_string()), "application/json"))).await
    }

    /// PUT of a JSON body.
    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, ClientError> {
        self.request(Method::PUT, path, Some((Bytes::from(body.to_string()), "application/json"))).await
    }

    /// PATCH with a content type (merge, strategic merge, JSON patch).
    pub async fn patch(
        &self,
        path: &str,
        content_type: &str,
        body: &serde_json::Value,
    ) -> Result<ApiResponse, ClientError> {
        self.request(Method::PATCH, path, Some((Bytes::from(body.to_string()), content_type))).await
    }

    /// DELETE with an optional DeleteOptions body.
    pub async fn delete(
        &self,
        path: &str,
        options: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, ClientError> {
        let body = options.map(|o| (Bytes::from(o.to_string()), "application/json"));
        self.request(Method::DELETE, path, body).await
    }

    /// Opens a watch (`path` carries `watch=true`). The connection is the watch's own. Headers
    /// must arrive within the request timeout; after that the stream is read with no timeout —
    /// the caller bounds it (`timeoutSeconds`, its own idle timeout).
    pub async fn watch(&self, path: &str) -> Result<WatchLines, ClientError> {
        let req = self.build(Method::GET, path, None)?;
        let timeout = self.config.request_timeout;
        let open = async {
            let mut sender = self.connect().await?;
            sender.send_request(req).await.map_err(|e| ClientError::Transport(e.to_string()))
        };
        let opened = tokio::time::timeout(timeout, open).await.map_err(|_| ClientError::Timeout(timeout));
        let resp = match opened.and_then(|r| r) {
            Ok(resp) => resp,
            Err(e) => {
                if let Some(o) = &self.config.observer {
                    o.watch_failed(path, &e);
                }
                return Err(e);
            }
        };
        let status = resp.status();
        let observed = self.config.observer.as_ref().map(|o| (o.clone(), o.watch_opened(path, status)));
        Ok(WatchLines { status, body: resp.into_body(), buffer: BytesMut::new(), done: false, observed })
    }
}

/// A watch response read line by line.
pub struct WatchLines {
    /// HTTP status of the watch.
    pub status: StatusCode,
    body: hyper::body::Incoming,
    buffer: BytesMut,
    done: bool,
    /// The observer and the id it gave this watch.
    observed: Option<(Arc<dyn ClientObserver>, u64)>,
}

impl Drop for WatchLines {
    fn drop(&mut self) {
        if let Some((o, id)) = &self.observed {
            o.watch_closed(*id);
        }
    }
}

impl WatchLines {
    /// The next line (one event), `None` at the end of the stream.
    pub async fn next_line(&mut self) -> Option<Result<Bytes, ClientError>> {
        let next = self.read_line().await;
        if let (Some((o, id)), Some(Ok(line))) = (&self.observed, &next) {
            if !line.is_empty() {
                o.watch_line(*id, line);
            }
        }
        next
    }

    async fn read_line(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            if let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
                let line = self.buffer.split_to(pos + 1).freeze();
                return Some(Ok(line.slice(..line.len() - 1)));
            }
            if self.done {
                if self.buffer.is_empty() {
                    return None;
                }
                return Some(Ok(self.buffer.split().freeze()));
            }
            match self.body.frame().await {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ClientError::Transport(e.to_string())));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
