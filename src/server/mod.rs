//! The API server core: `http::Request` in, `http::Response` with a streaming body out, sequenced
//! by one function, [`ApiServer::handle`]:
//! request info → authn → authz → in-flight limit → (admission, validation inside the registry)
//! → registry → storage. Transport-agnostic: hyper serves it over TLS in real mode and over
//! madsim's simulated TCP in the simulation.

mod audit;
pub mod authn;
pub mod metrics;
pub mod plain_http;
mod watch_stream;

#[cfg(not(madsim))]
pub mod http_server;
#[cfg(not(madsim))]
pub mod tls;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::api::query::{DeleteQuery, ReadQuery, WriteQuery};
use crate::api::request_info::{self, RequestInfo, ResourceRequest, Verb};
use crate::api::resources::{self, Resource};
use crate::api::status::{success_status, ApiError};
use crate::api::{discovery, openapi, table};
use crate::registry::{list_json, Registry, RegistryConfig};
use crate::storage::Storage;

use crate::auth::{self, Authorizer, Decision};

use self::authn::{Authenticated, ClientCertificate, TokenAuthenticator, UserInfo};
use self::metrics::Metrics;

/// The response body: bytes, streamed for watches.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// Limits and options of the API server core. Defaults are kube-apiserver's.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// Non-mutating requests in flight at once (--max-requests-inflight). Default 400.
    pub max_requests_inflight: usize,
    /// Mutating requests in flight at once (--max-mutating-requests-inflight). Default 200.
    pub max_mutating_requests_inflight: usize,
    /// Largest request body accepted. Default 3 MiB (kube-apiserver's limit).
    pub body_limit_bytes: usize,
    /// Watches end after a random time in [min, 2*min] unless timeoutSeconds says otherwise.
    /// Default 1800 s (--min-request-timeout).
    pub min_request_timeout: Duration,
    /// How long Events live (--event-ttl). Default 1 h.
    pub event_ttl: Duration,
    /// Authorization modes (--authorization-mode), in order: AlwaysAllow, AlwaysDeny, Node, RBAC.
    /// Default AlwaysAllow (kube-apiserver's flag default too; real clusters run `Node,RBAC`).
    /// With RBAC the default roles and bindings are created at start. An unknown mode is left out
    /// (so it never allows anything).
    pub authorization_modes: Vec<String>,
    /// Requests without credentials are `system:anonymous` (--anonymous-auth). Default true; when
    /// false they get 401.
    pub anonymous_auth: bool,
    /// Registry and watch cache options.
    pub registry: RegistryConfig,
    /// The version string /version reports.
    pub git_version: String,
    /// Auditing (--audit-policy-file, --audit-log-*); none: no audit events.
    pub audit: Option<Arc<crate::audit::Auditor>>,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            body_limit_bytes: 3 * 1024 * 1024,
            min_request_timeout: Duration::from_secs(1800),
            event_ttl: Duration::from_secs(3600),
            authorization_modes: vec!["AlwaysAllow".into()],
            anonymous_auth: true,
            registry: RegistryConfig::default(),
            git_version: format!("v1.34.0-kubesim.{}", env!("CARGO_PKG_VERSION")),
            audit: None,
        }
    }
}

/// How often terminating namespaces are looked at (the namespace controller's loop).
pub const NAMESPACE_SYNC_PERIOD: Duration = Duration::from_secs(1);

/// The API server core.
pub struct ApiServer {
    registry: Registry,
    config: ApiServerConfig,
    tokens: TokenAuthenticator,
    authorizer: Authorizer,
    readonly: Semaphore,
    mutating: Semaphore,
    metrics: Metrics,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("config", &self.config).finish_non_exhaustive()
    }
}

fn json_response(code: u16, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn text_response(code: u16, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// The response for an error: a `Status`, except 429 which kube-apiserver answers in plain text.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = if let ApiError::TooManyRequests { .. } = e {
        text_response(429, "Too many requests, please try again later.\n")
    } else {
        json_response(e.code(), Bytes::from(e.to_status().to_string()))
    };
    if let Some(s) = e.retry_after() {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// What the client accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Json,
    Table(table::IncludeObject),
}

fn negotiate(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Output::Json) };
    let mut json_ok = false;
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let params: Vec<(&str, &str)> = params.filter_map(|p| p.split_once('=')).collect();
        let get = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        if !matches!(media, "application/json" | "*/*" | "application/*") {
            continue;
        }
        match get("as") {
            Some("Table")
                if get("g") == Some("meta.k8s.io") && matches!(get("v"), Some("v1") | Some("v1beta1")) =>
            {
                return Ok(Output::Table(table::IncludeObject::parse(get("includeObject"))));
            }
            Some(_) => continue,
            None => json_ok = true,
        }
    }
    if json_ok {
        Ok(Output::Json)
    } else {
        Err(ApiError::NotAcceptable("application/json, application/yaml".into()))
    }
}

fn query_of(req: &Request<Bytes>) -> Option<&str> {
    req.uri().query()
}

impl ApiServer {
    /// Builds the core over `storage`, creates the system namespaces, and starts the caches.
    pub async fn new(
        storage: Arc<dyn Storage>,
        config: ApiServerConfig,
        tokens: TokenAuthenticator,
    ) -> Arc<Self> {
        let registry = Registry::new(storage, config.registry.clone());
        registry.start();
        let modes = config
            .authorization_modes
            .iter()
            .filter_map(|m| match m.parse::<auth::Mode>() {
                Ok(mode) => Some(mode),
                Err(e) => {
                    tracing::error!(error = %e, "authorization mode left out");
                    None
                }
            })
            .collect();
        let server = Arc::new(ApiServer {
            registry,
            authorizer: Authorizer::new(modes),
            readonly: Semaphore::new(config.max_requests_inflight.max(1)),
            mutating: Semaphore::new(config.max_mutating_requests_inflight.max(1)),
            config,
            tokens,
            metrics: Metrics::default(),
        });
        let bootstrap = server.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            while let Err(e) = bootstrap.registry.bootstrap().await {
                tracing::warn!(error = %e, "creating system namespaces failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            // Only with RBAC on, so that servers without it (the simulation) store nothing more.
            if let Some(index) = bootstrap.authorizer.rbac() {
                while let Err(e) = auth::bootstrap_policy::ensure(&bootstrap.registry).await {
                    tracing::warn!(error = %e, "creating the default RBAC policy failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                index.mark_bootstrapped();
            }
        });
        if let Some(index) = server.authorizer.rbac().cloned() {
            let follower = server.clone();
            tokio::spawn(async move { index.follow(&follower.registry).await });
        }
        let controller = server.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(NAMESPACE_SYNC_PERIOD).await;
                if let Err(e) = controller.registry.finalize_namespaces().await {
                    tracing::debug!(error = %e, "namespace finalization failed; retrying");
                }
            }
        });
        let expiry = server.clone();
        tokio::spawn(async move {
            let period =
                (expiry.config.event_ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
            loop {
                tokio::time::sleep(period).await;
                if let Err(e) = expiry.registry.expire_events(expiry.config.event_ttl).await {
                    tracing::debug!(error = %e, "event expiry failed; retrying");
                }
            }
        });
        server
    }

    /// The registry (for in-process callers and tests).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Waits until the caches (and, with RBAC, the default policy and its index) are loaded.
    pub async fn wait_ready(&self) -> Result<(), ApiError> {
        self.registry.wait_ready().await?;
        if let Some(index) = self.authorizer.rbac() {
            index.wait_synced().await;
        }
        Ok(())
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// THE pipeline: every request goes through here, in this order.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Body> {
        let started = tokio::time::Instant::now();
        let info = match request_info::parse(req.method(), req.uri().path(), query_of(&req)) {
            Ok(info) => info,
            Err(e) => return error_response(&e),
        };
        let (verb, resource) = match &info {
            RequestInfo::Resource(r) => (r.verb.as_str().to_owned(), r.resource.clone()),
            RequestInfo::NonResource { verb, .. } => (verb.to_string(), String::new()),
        };
        let response = match self.authenticate(&req) {
            Err(e) => error_response(&e),
            Ok(user) => {
                // kube's filter order: authn → audit → authz; the event notes the decision.
                let mut audit =
                    self.config.audit.as_ref().and_then(|a| audit::Recording::begin(a, &req, &info, &user));
                let authorized = self.authorize(&user, &info, query_of(&req)).await;
                if let Some(a) = &mut audit {
                    a.decision(authorized.is_ok());
                }
                let response = match authorized {
                    Err(e) => error_response(&e),
                    Ok(()) => match &info {
                        RequestInfo::NonResource { path, .. } => self.non_resource(&req, path).await,
                        RequestInfo::Resource(r) => self.limited(&req, r, &user).await,
                    },
                };
                match audit {
                    Some(a) => a.finish(response).await,
                    None => response,
                }
            }
        };
        if verb != "watch" {
            self.metrics.record(&verb, &resource, response.status().as_u16(), started.elapsed());
        }
        response
    }

    /// kube's union of authenticators: a verified client certificate, else a bearer token (a
    /// bad one is 401, never anonymous), else anonymous when --anonymous-auth allows it.
    fn authenticate(&self, req: &Request<Bytes>) -> Result<UserInfo, ApiError> {
        let cert = req.extensions().get::<ClientCertificate>();
        if let Some(ClientCertificate(Ok(user))) = cert {
            return Ok(user.clone());
        }
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match self.tokens.authenticate(header) {
            Authenticated::User(u) => Ok(u),
            Authenticated::Rejected => Err(ApiError::Unauthorized),
            // A certificate that names no user is a failed credential, like a bad token.
            Authenticated::Anonymous if cert.is_some() => Err(ApiError::Unauthorized),
            Authenticated::Anonymous if self.config.anonymous_auth => Ok(UserInfo::anonymous()),
            Authenticated::Anonymous => Err(ApiError::Unauthorized),
        }
    }

    /// The spec.nodeName of a pod, for the Node authorizer: from the watch cache (kube's node
    /// authorizer also reads an informer-fed graph), from storage without one.
    async fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let pods = resources::find("", "v1", "pods")?;
        let key = pods.storage_key(Some(namespace), name);
        let node = match self.registry.cache(pods) {
            Some(cache) => cache.get(&key)?.field("spec.nodeName").map(str::to_owned),
            None => {
                let kv = self.registry.storage().get(&key, None).await.ok()?;
                let pod = crate::api::object::decode_stored(&kv.value, kv.mod_revision).ok()?;
                pod["spec"]["nodeName"].as_str().map(str::to_owned)
            }
        };
        node.filter(|n| !n.is_empty())
    }

    async fn authorize(
        &self,
        user: &UserInfo,
        info: &RequestInfo,
        query: Option<&str>,
    ) -> Result<(), ApiError> {
        let pod_node = match self.authorizer.pod_needed(user, info) {
            Some((ns, name)) => self.pod_node(ns, name).await,
            None => None,
        };
        let fields = match info {
            RequestInfo::Resource(r) if matches!(r.verb, Verb::List | Verb::Watch) => {
                auth::field_selector(query)
            }
            _ => None,
        };
        let attributes =
            auth::Attributes { user, info, fields: fields.as_ref(), pod_node: pod_node.as_deref() };
        let reason = match self.authorizer.authorize(&attributes) {
            Decision::Allow => return Ok(()),
            Decision::Deny(reason) | Decision::NoOpinion(reason) => reason,
        };
        Err(forbidden(user, info, &reason))
    }
}

/// 403 in kube-apiserver's shape (responsewriters/errors.go): `pods "x" is forbidden: User "u"
/// cannot get resource "pods" in API group "" in the namespace "ns": <reason>`.
fn forbidden(user: &UserInfo, info: &RequestInfo, reason: &str) -> ApiError {
    let suffix = if reason.is_empty() { String::new() } else { format!(": {reason}") };
    let user = &user.name;
    let r = match info {
        RequestInfo::Resource(r) => r,
        RequestInfo::NonResource { verb, path } => {
            return ApiError::Forbidden {
                resource: String::new(),
                name: String::new(),
                message: format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"{suffix}"),
            };
        }
    };
    let full = match &r.subresource {
        Some(sub) => format!("{}/{sub}", r.resource),
        None => r.resource.clone(),
    };
    let qualified_resource = crate::api::status::qualified(&r.resource, &r.group);
    let subject = match &r.name {
        Some(n) => format!("{qualified_resource} \"{n}\""),
        None => qualified_resource.clone(),
    };
    let scope = match auth::namespace_of(r) {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    ApiError::Forbidden {
        resource: qualified_resource,
        name: r.name.clone().unwrap_or_default(),
        message: format!(
            "{subject} is forbidden: User \"{user}\" cannot {} resource \"{full}\" in API group \"{}\" {scope}{suffix}",
            r.verb.as_str(),
            r.group
        ),
    }
}

impl ApiServer {
    /// The in-flight limits: watches are not counted (long-running), as in kube-apiserver.
    async fn limited(&self, req: &Request<Bytes>, r: &ResourceRequest, user: &UserInfo) -> Response<Body> {
        if r.verb == Verb::Watch {
            return self.resource(req, r, user).await;
        }
        let (semaphore, kind) =
            if r.verb.is_mutating() { (&self.mutating, "mutating") } else { (&self.readonly, "readOnly") };
        let Ok(_permit) = semaphore.try_acquire() else {
            self.metrics.rejected(kind);
            return error_response(&ApiError::TooManyRequests { retry_after_seconds: 1 });
        };
        self.resource(req, r, user).await
    }

    async fn resource(&self, req: &Request<Bytes>, r: &ResourceRequest, user: &UserInfo) -> Response<Body> {
        match self.resource_inner(req, r, user).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        }
    }

    async fn resource_inner(
        &self,
        req: &Request<Bytes>,
        rr: &ResourceRequest,
        user: &UserInfo,
    ) -> Result<Response<Body>, ApiError> {
        let r = resources::find(&rr.group, &rr.version, &rr.resource).ok_or(ApiError::NoRoute)?;
        if let Some(sub) = &rr.subresource {
            if r.subresource(sub).is_none() {
                return Err(ApiError::NotFound {
                    resource: format!("{}/{sub}", r.plural),
                    name: rr.name.clone().unwrap_or_default(),
                });
            }
        }
        let ns = rr.namespace.as_deref();
        if r.namespaced && ns.is_none() && !matches!(rr.verb, Verb::List | Verb::Watch) {
            return Err(ApiError::NoRoute);
        }
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let output = negotiate(accept)?;
        let query = query_of(req);
        if req.body().len() > self.config.body_limit_bytes {
            return Err(ApiError::TooLarge { limit_bytes: self.config.body_limit_bytes });
        }
        let converted;
        let body: &Bytes = match rr.verb {
            Verb::Create | Verb::Update => {
                let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
                converted = request_body(ct, req.body())?;
                &converted
            }
            _ => req.body(),
        };
        let name = || Registry::require_name(rr.name.as_deref());
        match (rr.verb, rr.subresource.as_deref()) {
            (Verb::Get, _) => {
                let q = ReadQuery::parse(query)?;
                let obj = self.registry.get(r, ns, name()?, &q).await?;
                self.object_output(r, output, obj, 200)
            }
            (Verb::List, _) => {
                let q = ReadQuery::parse(query)?;
                let list = self.registry.list(r, ns, &q).await?;
                match output {
                    Output::Json => Ok(json_response(200, list_json(r, &list))),
                    Output::Table(include) => {
                        let objects = parse_all(&list.items)?;
                        let mut meta = serde_json::Map::new();
                        meta.insert("resourceVersion".into(), Value::String(list.revision.to_string()));
                        if let Some(c) = &list.continue_token {
                            meta.insert("continue".into(), Value::String(c.clone()));
                        }
                        let t = table::to_table(
                            r,
                            &objects,
                            Value::Object(meta),
                            include,
                            crate::api::object::now_unix(),
                        );
                        Ok(json_response(200, Bytes::from(t.to_string())))
                    }
                }
            }
            (Verb::Watch, _) => {
                let q = ReadQuery::parse(query)?;
                let setup = match self.registry.watch(r, ns, &q).await {
                    Ok(s) => s,
                    // kube-apiserver answers a watch from a compacted version with 200 and one
                    // ERROR event (k8s-api.md §1.6).
                    Err(e @ ApiError::Expired(_)) => return Ok(watch_stream::error_only(&e)),
                    Err(e) => return Err(e),
                };
                let timeout = match q.timeout_seconds {
                    Some(s) => Duration::from_secs(s),
                    None => {
                        let min = self.config.min_request_timeout.as_secs_f64();
                        Duration::from_secs_f64(min * (1.0 + rand::random::<f64>()))
                    }
                };
                let table = match output {
                    Output::Table(include) => Some(include),
                    Output::Json => None,
                };
                Ok(watch_stream::response(r, setup, timeout, q.allow_watch_bookmarks, table))
            }
            (Verb::Create, Some("binding")) => {
                let wq = WriteQuery::parse(query)?;
                let status = self.registry.bind_as(user, ns.unwrap_or_default(), name()?, body, &wq).await?;
                Ok(json_response(201, status))
            }
            (Verb::Create, None) if rr.name.is_none() => {
                let wq = WriteQuery::parse(query)?;
                let obj = self.registry.create_as(user, r, ns, body, &wq).await?;
                self.object_output(r, output, obj, 201)
            }
            (Verb::Update, sub) => {
                let wq = WriteQuery::parse(query)?;
                let obj = self.registry.update_as(user, r, ns, name()?, sub, body, &wq).await?;
                self.object_output(r, output, obj, 200)
            }
            (Verb::Patch, sub) => {
                let wq = WriteQuery::parse(query)?;
                let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
                let obj = self.registry.patch_as(user, r, ns, name()?, sub, ct, body, &wq).await?;
                self.object_output(r, output, obj, 200)
            }
            (Verb::Delete, None) => {
                let dq = DeleteQuery::parse(query)?;
                let obj = self.registry.delete_as(user, r, ns, name()?, &dq, body).await?;
                self.object_output(r, output, obj, 200)
            }
            (Verb::DeleteCollection, None) => {
                let q = ReadQuery::parse(query)?;
                let dq = DeleteQuery::parse(query)?;
                let list = self.registry.delete_collection_as(user, r, ns, &q, &dq, body).await?;
                Ok(json_response(200, list_json(r, &list)))
            }
            _ => Err(ApiError::MethodNotAllowed),
        }
    }

    fn object_output(
        &self,
        r: &Resource,
        output: Output,
        obj: Bytes,
        code: u16,
    ) -> Result<Response<Body>, ApiError> {
        match output {
            Output::Json => Ok(json_response(code, obj)),
            Output::Table(include) => {
                let v: Value = serde_json::from_slice(&obj).map_err(|e| ApiError::Internal(e.to_string()))?;
                let meta = serde_json::json!({"resourceVersion": v["metadata"]["resourceVersion"]});
                let t = table::to_table(r, &[v], meta, include, crate::api::object::now_unix());
                Ok(json_response(code, Bytes::from(t.to_string())))
            }
        }
    }

    async fn non_resource(&self, req: &Request<Bytes>, path: &str) -> Response<Body> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return error_response(&ApiError::MethodNotAllowed);
        }
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let json = |v: Value| json_response(200, Bytes::from(v.to_string()));
        let trimmed = path.trim_end_matches('/');
        match trimmed {
            "/healthz" | "/livez" => text_response(200, "ok"),
            "/readyz" => match tokio::time::timeout(Duration::from_millis(50), self.registry.wait_ready())
                .await
            {
                Ok(Ok(())) => text_response(200, "ok"),
                _ => text_response(503, "[-]informer-sync failed: caches not synced\nreadyz check failed\n"),
            },
            "/metrics" => {
                for r in resources::RESOURCES {
                    if let Some(c) = self.registry.cache(r) {
                        self.metrics.set_gauge(
                            format!("apiserver_watch_cache_objects{{resource=\"{}\"}}", r.plural),
                            c.len() as f64,
                        );
                        self.metrics.set_gauge(
                            format!("apiserver_registered_watchers{{resource=\"{}\"}}", r.plural),
                            c.watcher_count() as f64,
                        );
                    }
                }
                if let Some(a) = &self.config.audit {
                    self.metrics.set_gauge("apiserver_audit_event_total".into(), a.event_total() as f64);
                    self.metrics
                        .set_gauge("apiserver_audit_event_dropped_total".into(), a.dropped_total() as f64);
                }
                let mut resp = json_response(200, Bytes::from(self.metrics.render()));
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
                resp
            }
            "/version" => json(discovery::version_info(&self.config.git_version)),
            "/api" if discovery::wants_aggregated(accept) => aggregated(discovery::aggregated_core()),
            "/api" => json(discovery::api_versions()),
            "/apis" if discovery::wants_aggregated(accept) => aggregated(discovery::aggregated_groups()),
            "/apis" => json(discovery::api_group_list()),
            "/openapi/v3" => json(openapi::v3_index()),
            _ => {
                let segments: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
                let found = match segments.as_slice() {
                    ["api", version] => discovery::api_resource_list("", version),
                    ["apis", group] => discovery::api_group(group),
                    ["apis", group, version] => discovery::api_resource_list(group, version),
                    ["openapi", "v3", rest @ ..] => openapi::v3_document(&rest.join("/")),
                    _ => None,
                };
                match found {
                    Some(v) => json(v),
                    None => error_response(&ApiError::NoRoute),
                }
            }
        }
    }
}

/// A create or update body as JSON: JSON as is, YAML converted; any other media type (protobuf,
/// CBOR) is refused with 415 (kube-apiserver's message), so that clients know to send JSON.
fn request_body(content_type: Option<&str>, body: &Bytes) -> Result<Bytes, ApiError> {
    let media = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" | "*/*" => Ok(body.clone()),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let v: Value = serde_yaml::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?;
            Ok(Bytes::from(v.to_string()))
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, \
             application/yaml (got {other})"
        ))),
    }
}

fn aggregated(v: Value) -> Response<Body> {
    let mut r = json_response(200, Bytes::from(v.to_string()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE));
    r
}

fn parse_all(items: &[Bytes]) -> Result<Vec<Value>, ApiError> {
    items.iter().map(|i| serde_json::from_slice(i).map_err(|e| ApiError::Internal(e.to_string()))).collect()
}

/// A success Status body (for callers that answer one).
pub fn success(code: u16) -> Bytes {
    Bytes::from(success_status(code, None).to_string())
}
