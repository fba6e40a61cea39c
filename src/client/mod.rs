//! An API client over hyper's `client::conn` with a small connection pool of our own (hyper-util's
//! legacy client, HttpConnector, TokioExecutor and TokioTimer do not run under madsim). TLS with
//! rustls in real mode; plain HTTP in the simulation. Every request has a timeout; watches stream
//! newline-delimited events.
//!
//! Requests are built with kube-core's [`kube_core::Request`] (paths from the resource types'
//! [`kube_core::Resource::url_path`], query parameters from `kube_core::params`) and sent with
//! [`ApiClient::send`] or opened as watches with [`ApiClient::watch_request`]; the client adds its
//! own headers (Host, Authorization, User-Agent, Accept) and the timeout. The raw-path helpers
//! ([`ApiClient::get`], [`ApiClient::post_json`], …) remain for tests, benches and probes.

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
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
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

impl From<kube_core::request::Error> for ClientError {
    fn from(e: kube_core::request::Error) -> Self {
        ClientError::Invalid(e.to_string())
    }
}

/// A JSON request body for kube-core's builders (`create`, `replace`, …).
pub fn json_body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(value).map_err(|e| ClientError::Invalid(format!("encoding the body: {e}")))
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
    /// Non-watch requests in flight at once, beyond which requests wait (the wait counts against
    /// their timeout). Bounds the connections (and file descriptors) one client opens. Default 256.
    pub max_in_flight: usize,
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
            max_in_flight: 256,
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

    /// The body decoded as `T` (a k8s-openapi type, a list, a `Status`).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Status and the start of the body, for logs and error messages.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(300).collect();
        format!("{} {body}", self.status.as_u16())
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// The headers the client puts on every request, built once.
struct FixedHeaders {
    host: HeaderValue,
    user_agent: HeaderValue,
    authorization: Option<HeaderValue>,
}

impl FixedHeaders {
    fn new(config: &ClientConfig) -> Result<FixedHeaders, String> {
        let value = |what: &str, v: &str| HeaderValue::from_str(v).map_err(|e| format!("{what}: {e}"));
        Ok(FixedHeaders {
            host: value("server name", &config.server_name)?,
            user_agent: value("user agent", &config.user_agent)?,
            authorization: match &config.token {
                Some(token) => {
                    let mut v = value("token", &format!("Bearer {token}"))?;
                    v.set_sensitive(true);
                    Some(v)
                }
                None => None,
            },
        })
    }
}

/// The client. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct ApiClient {
    config: Arc<ClientConfig>,
    headers: Arc<Result<FixedHeaders, String>>,
    idle: Arc<Mutex<Vec<Sender>>>,
    in_flight: Arc<tokio::sync::Semaphore>,
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
        let headers = Arc::new(FixedHeaders::new(&config));
        let in_flight = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
        ApiClient { config: Arc::new(config), headers, idle: Arc::new(Mutex::new(Vec::new())), in_flight }
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

    /// Adds the client's headers to a built request and turns it into what hyper sends. Returns
    /// the method and the path with its query: what metrics and the observer are given.
    fn prepare(
        &self,
        request: Request<Bytes>,
    ) -> Result<(Method, String, Request<Full<Bytes>>), ClientError> {
        let fixed = self.headers.as_ref().as_ref().map_err(|e| ClientError::Invalid(e.clone()))?;
        let (mut parts, body) = request.into_parts();
        // kube-core leaves a bare `?` when no parameter is set: drop it, so that the wire and the
        // observer see the same path as for a hand-built request.
        let path = match parts.uri.path_and_query() {
            Some(pq) if pq.query() == Some("") => {
                let path = pq.path().to_owned();
                parts.uri = Uri::try_from(path.as_str()).map_err(|e| ClientError::Invalid(e.to_string()))?;
                path
            }
            Some(pq) => pq.as_str().to_owned(),
            None => return Err(ClientError::Invalid(format!("no path in {}", parts.uri))),
        };
        let headers = &mut parts.headers;
        headers.insert(header::HOST, fixed.host.clone());
        headers.insert(header::USER_AGENT, fixed.user_agent.clone());
        if let Some(auth) = &fixed.authorization {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }
        if !headers.contains_key(header::ACCEPT) {
            headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        }
        let method = parts.method.clone();
        Ok((method, path, Request::from_parts(parts, Full::new(body))))
    }

    /// Sends a request built with [`kube_core::Request`] (or any `http::Request` whose URI is a
    /// path), with the client's headers and timeout. The answer is whatever the server said: a
    /// non-2xx status is an `Ok` with that status.
    pub async fn send(&self, request: Request<Vec<u8>>) -> Result<ApiResponse, ClientError> {
        let (method, path, req) = self.prepare(request.map(Bytes::from))?;
        self.exchange(method, path, req).await
    }

    async fn exchange(
        &self,
        method: Method,
        path: String,
        req: Request<Full<Bytes>>,
    ) -> Result<ApiResponse, ClientError> {
        let timeout = self.config.request_timeout;
        let started = tokio::time::Instant::now();
        let sent_at = std::time::Instant::now();
        let exchange = async {
            let _permit =
                self.in_flight.acquire().await.map_err(|e| ClientError::Transport(e.to_string()))?;
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
        let result = crate::deadline::timeout(timeout, exchange).await;
        // A timed-out request has no latency to record; the observer still hears of it (a write
        // that timed out may or may not have happened, which a history must know).
        if let (Ok(_), Some(m)) = (&result, &self.config.metrics) {
            m.record(&method, &path, started.elapsed());
        }
        let result = result.map_err(|_| ClientError::Timeout(timeout)).and_then(|r| r);
        if let Some(o) = &self.config.observer {
            o.exchange(&method, &path, &result, sent_at);
        }
        result
    }

    /// A request by raw path (tests, benches, probes; agents use [`send`](Self::send)). `body` is
    /// `(bytes, content type)`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<ApiResponse, ClientError> {
        let req = raw_request(method, path, body)?;
        let (method, path, req) = self.prepare(req)?;
        self.exchange(method, path, req).await
    }

    /// GET by raw path.
    pub async fn get(&self, path: &str) -> Result<ApiResponse, ClientError> {
        self.request(Method::GET, path, None).await
    }

    /// POST of a JSON body by raw path.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, ClientError> {
        self.request(Method::POST, path, Some((Bytes::from(body.to_string()), "application/json"))).await
    }

    /// PUT of a JSON body by raw path.
    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, ClientError> {
        self.request(Method::PUT, path, Some((Bytes::from(body.to_string()), "application/json"))).await
    }

    /// PATCH by raw path with a content type (merge, strategic merge, JSON patch).
    pub async fn patch(
        &self,
        path: &str,
        content_type: &str,
        body: &serde_json::Value,
    ) -> Result<ApiResponse, ClientError> {
        self.request(Method::PATCH, path, Some((Bytes::from(body.to_string()), content_type))).await
    }

    /// DELETE by raw path with an optional DeleteOptions body.
    pub async fn delete(
        &self,
        path: &str,
        options: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, ClientError> {
        let body = options.map(|o| (Bytes::from(o.to_string()), "application/json"));
        self.request(Method::DELETE, path, body).await
    }

    /// Opens a watch built with [`kube_core::Request::watch`]. The connection is the watch's own.
    /// Headers must arrive within the request timeout; after that the stream is read with no
    /// timeout — the caller bounds it (`timeoutSeconds`, its own idle timeout).
    pub async fn watch_request(&self, request: Request<Vec<u8>>) -> Result<WatchLines, ClientError> {
        let (_, path, req) = self.prepare(request.map(Bytes::from))?;
        self.open_watch(path, req).await
    }

    /// Opens a watch by raw path (`path` carries `watch=true`); see [`watch_request`](Self::watch_request).
    pub async fn watch(&self, path: &str) -> Result<WatchLines, ClientError> {
        let (_, path, req) = self.prepare(raw_request(Method::GET, path, None)?)?;
        self.open_watch(path, req).await
    }

    async fn open_watch(&self, path: String, req: Request<Full<Bytes>>) -> Result<WatchLines, ClientError> {
        let timeout = self.config.request_timeout;
        let open = async {
            let mut sender = self.connect().await?;
            sender.send_request(req).await.map_err(|e| ClientError::Transport(e.to_string()))
        };
        let opened = crate::deadline::timeout(timeout, open).await.map_err(|_| ClientError::Timeout(timeout));
        let resp = match opened.and_then(|r| r) {
            Ok(resp) => resp,
            Err(e) => {
                if let Some(o) = &self.config.observer {
                    o.watch_failed(&path, &e);
                }
                return Err(e);
            }
        };
        let status = resp.status();
        let observed = self.config.observer.as_ref().map(|o| (o.clone(), o.watch_opened(&path, status)));
        Ok(WatchLines { status, body: resp.into_body(), buffer: BytesMut::new(), done: false, observed })
    }
}

/// A request by raw path, as kube-core would build it.
fn raw_request(
    method: Method,
    path: &str,
    body: Option<(Bytes, &str)>,
) -> Result<Request<Bytes>, ClientError> {
    let mut req = Request::builder().method(method).uri(path);
    let body = match body {
        Some((bytes, content_type)) => {
            req = req.header(header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Bytes::new(),
    };
    req.body(body).map_err(|e| ClientError::Invalid(e.to_string()))
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
