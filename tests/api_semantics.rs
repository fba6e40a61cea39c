#![cfg(not(madsim))]
//! API semantics, end to end through `ApiServer::handle` (in-process, no socket): the
//! resourceVersion table of GET/LIST/WATCH, continue tokens, selectors, watch bookmarks, watch-list,
//! every error reason kube-apiserver gives, and the pod-specific REST behaviour (binding, status,
//! graceful deletion, generateName, defaulting, deletecollection).
//!
//! Section numbers (§) refer to /work/shared/reference/k8s-api.md.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::BodyExt;
use kubesim::api::resources;
use kubesim::server::authn::TokenAuthenticator;
use kubesim::server::{ApiServer, ApiServerConfig, Body};
use kubesim::storage::{ModelStore, Storage};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const PODS: &str = "/api/v1/namespaces/default/pods";

/// One API server over a model store the test keeps a handle on.
struct Api {
    server: Arc<ApiServer>,
    store: ModelStore,
}

/// A finished (non-streamed) response.
#[derive(Debug)]
struct Resp {
    code: u16,
    headers: HeaderMap,
    body: Bytes,
    json: Value,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn rv(&self) -> i64 {
        rv_of(&self.json)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    fn names(&self) -> Vec<String> {
        names_of(&self.json)
    }

    /// Asserts a `Status` failure body with this code and reason; returns the message.
    #[track_caller]
    fn expect_status(&self, code: u16, reason: &str) -> String {
        assert_eq!(self.code, code, "HTTP code; body: {}", self.text());
        assert_eq!(self.json["kind"], "Status", "body: {}", self.text());
        assert_eq!(self.json["apiVersion"], "v1", "body: {}", self.text());
        assert_eq!(self.json["status"], "Failure", "body: {}", self.text());
        assert_eq!(self.json["code"], code, "body: {}", self.text());
        assert_eq!(self.json["reason"], reason, "body: {}", self.text());
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json"),
            "a Status is JSON; body: {}",
            self.text()
        );
        self.json["message"].as_str().expect("a Status has a message").to_owned()
    }
}

fn rv_of(v: &Value) -> i64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata.resourceVersion in {v}"))
        .parse()
        .unwrap_or_else(|_| panic!("resourceVersion is not an integer in {v}"))
}

fn names_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// URL-encodes a query value.
fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    })
}

fn pod_labelled(name: &str, app: &str) -> Value {
    let mut p = pod(name);
    p["metadata"]["labels"] = json!({ "app": app });
    p
}

/// What reading a watch stream gave.
#[derive(Debug)]
enum Next {
    Event(Value),
    /// The server ended the stream.
    End,
    /// Nothing arrived in time.
    Timeout,
}

/// A streamed watch response.
struct Watch {
    code: u16,
    headers: HeaderMap,
    body: Body,
    buf: Vec<u8>,
    ended: bool,
}

impl Watch {
    /// The next `{"type":…,"object":…}` line, waiting at most `wait`.
    async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let v: Value = serde_json::from_slice(&line[..line.len() - 1]).unwrap_or_else(|e| {
                    panic!("watch line is not JSON ({e}): {:?}", String::from_utf8_lossy(&line))
                });
                return Next::Event(v);
            }
            if self.ended {
                assert!(
                    self.buf.is_empty(),
                    "watch stream ended inside a line (lines must be newline-terminated, §2.4): {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return Next::End;
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Timeout,
                Ok(None) => self.ended = true,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Ok(Some(Err(e))) => match e {},
            }
        }
    }

    /// The next event, which must come within `wait`.
    #[track_caller]
    fn expect_event(&mut self, wait: Duration) -> impl std::future::Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.next(wait).await {
                Next::Event(v) => v,
                other => panic!("expected a watch event within {wait:?} (at {caller}), got {other:?}"),
            }
        }
    }

    /// Every event until the stream ends (must end within `wait`).
    async fn drain_until_end(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Event(v) => out.push(v),
                Next::End => return out,
                Next::Timeout => panic!("watch did not end within {wait:?}; got so far: {out:?}"),
            }
        }
    }

    /// Every event that arrives within `wait` (the stream may stay open).
    async fn collect_for(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Event(v) => out.push(v),
                Next::End | Next::Timeout => return out,
            }
        }
    }
}

fn event_type(e: &Value) -> &str {
    e["type"].as_str().unwrap_or_default()
}

fn event_name(e: &Value) -> &str {
    e["object"]["metadata"]["name"].as_str().unwrap_or_default()
}

impl Api {
    async fn new() -> Api {
        Api::with(ApiServerConfig::default(), TokenAuthenticator::default()).await
    }

    async fn with_config(config: ApiServerConfig) -> Api {
        Api::with(config, TokenAuthenticator::default()).await
    }

    async fn with(config: ApiServerConfig, tokens: TokenAuthenticator) -> Api {
        let store = ModelStore::default();
        let server = ApiServer::new(Arc::new(store.clone()), config, tokens).await;
        tokio::time::timeout(Duration::from_secs(10), server.wait_ready())
            .await
            .expect("caches ready in time")
            .expect("caches ready");
        // The system namespaces are created in the background: wait for `default`, in storage
        // and in the namespaces cache (NamespaceLifecycle admission reads the cache first).
        let namespaces = resources::find("", "v1", "namespaces").unwrap();
        let key = namespaces.storage_key(None, "default");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stored = server.registry().storage().get(&key, None).await.is_ok();
            let cached = server.registry().cache(namespaces).is_none_or(|c| c.get(&key).is_some());
            if stored && cached {
                break;
            }
            assert!(Instant::now() < deadline, "namespace default never appeared");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Api { server, store }
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> http::Response<Body> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if !body.is_empty() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            b = b.header("content-type", "application/json");
        }
        self.server.handle(b.body(body).expect("a valid request")).await
    }

    /// Sends one request and reads the whole reply.
    async fn check(&self, method: Method, uri: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Resp {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.raw(method, uri, body, headers).await
    }

    async fn raw(&self, method: Method, uri: &str, body: Bytes, headers: &[(&str, &str)]) -> Resp {
        let resp = self.send(method, uri, body, headers).await;
        let code = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(Duration::from_secs(15), resp.into_body().collect())
            .await
            .unwrap_or_else(|_| panic!("body of {uri} did not end in time"))
            .unwrap()
            .to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Resp { code, headers, body, json }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.check(Method::GET, uri, None, &[]).await
    }

    async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.check(Method::POST, uri, Some(body), &[]).await
    }

    async fn put(&self, uri: &str, body: &Value) -> Resp {
        self.check(Method::PUT, uri, Some(body), &[]).await
    }

    async fn delete(&self, uri: &str) -> Resp {
        self.check(Method::DELETE, uri, None, &[]).await
    }

    /// Creates a pod in `default`; returns the created object.
    #[track_caller]
    fn create(&self, body: Value) -> impl std::future::Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            let r = self.post(PODS, &body).await;
            assert_eq!(r.code, 201, "create at {caller}: {}", r.text());
            r.json
        }
    }

    /// Opens a watch; the body is left streaming.
    async fn watch(&self, uri: &str) -> Watch {
        self.watch_with(uri, &[]).await
    }

    async fn watch_with(&self, uri: &str, headers: &[(&str, &str)]) -> Watch {
        let resp = self.send(Method::GET, uri, Bytes::new(), headers).await;
        Watch {
            code: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.into_body(),
            buf: Vec::new(),
            ended: false,
        }
    }

    /// Waits until the pods watch cache has seen revision `rv` (a not-older-than LIST waits for
    /// it, §1.3), so that "any"-version reads and watches are deterministic.
    async fn sync_cache(&self, rv: i64) {
        let r = self.get(&format!("{PODS}?resourceVersion={rv}&resourceVersionMatch=NotOlderThan")).await;
        assert_eq!(r.code, 200, "cache sync to {rv}: {}", r.text());
        assert!(r.rv() >= rv);
    }

    fn pods_cache(&self) -> &Arc<kubesim::watch::cache::WatchCache> {
        self.server.registry().cache(resources::find("", "v1", "pods").unwrap()).expect("pods are cached")
    }

    /// Asserts the pod is still stored unchanged (same resourceVersion and uid).
    #[track_caller]
    fn assert_intact<'a>(&'a self, before: &'a Value) -> impl std::future::Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let name = before["metadata"]["name"].as_str().unwrap();
            let now = self.get(&format!("{PODS}/{name}")).await;
            assert_eq!(now.code, 200, "pod {name} lost after a bad request (at {caller}): {}", now.text());
            assert_eq!(now.rv(), rv_of(before), "pod {name} changed by a bad request (at {caller})");
            assert_eq!(now.json["metadata"]["uid"], before["metadata"]["uid"], "at {caller}");
            assert_eq!(now.json["spec"], before["spec"], "at {caller}");
        }
    }
}

fn small_history_config(pods_history: usize) -> ApiServerConfig {
    let mut config = ApiServerConfig::default();
    config.registry.cache_sizes.insert("pods".into(), pods_history);
    config
}

// ---------------------------------------------------------------------------------------------
// §1.3 resourceVersion table: GET
// ---------------------------------------------------------------------------------------------

/// GET, RV unset: the most recent state, a quorum read from storage (no cache lag allowed).
#[tokio::test]
async fn get_rv_unset_is_the_most_recent_state() {
    let api = Api::new().await;
    let created = api.create(pod_labelled("p", "a")).await;
    let mut changed = created.clone();
    changed["metadata"]["labels"]["app"] = json!("b");
    let updated = api.put(&format!("{PODS}/p"), &changed).await;
    assert_eq!(updated.code, 200, "{}", updated.text());
    assert!(updated.rv() > rv_of(&created));
    // Immediately, without giving the cache any time.
    let got = api.get(&format!("{PODS}/p")).await;
    assert_eq!(got.code, 200);
    assert_eq!(got.rv(), updated.rv());
    assert_eq!(got.json["metadata"]["labels"]["app"], "b");
    assert_eq!(got.json["kind"], "Pod");
    assert_eq!(got.json["apiVersion"], "v1");
}

/// GET, RV="0": any state, from the watch cache.
#[tokio::test]
async fn get_rv_0_is_served_from_the_cache() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    api.sync_cache(rv_of(&created)).await;
    let got = api.get(&format!("{PODS}/p?resourceVersion=0")).await;
    assert_eq!(got.code, 200, "{}", got.text());
    assert_eq!(got.rv(), rv_of(&created));
    assert_eq!(got.json["metadata"]["uid"], created["metadata"]["uid"]);
    // A missing object is still a 404 from the cache.
    let missing = api.get(&format!("{PODS}/nope?resourceVersion=0")).await;
    let message = missing.expect_status(404, "NotFound");
    assert_eq!(message, "pods \"nope\" not found");
}

/// GET, RV=N: not older than N (so an older N still gives the current object).
#[tokio::test]
async fn get_rv_n_is_not_older_than_n() {
    let api = Api::new().await;
    let created = api.create(pod_labelled("p", "a")).await;
    let mut changed = created.clone();
    changed["metadata"]["labels"]["app"] = json!("b");
    let updated = api.put(&format!("{PODS}/p"), &changed).await;
    assert_eq!(updated.code, 200, "{}", updated.text());
    // N = the update's RV: the cache waits until it has it, so the answer is the update.
    let at = api.get(&format!("{PODS}/p?resourceVersion={}", updated.rv())).await;
    assert_eq!(at.code, 200, "{}", at.text());
    assert_eq!(at.rv(), updated.rv());
    assert_eq!(at.json["metadata"]["labels"]["app"], "b");
    // N = the create's RV: not older than it, i.e. not the exact old version.
    let older = api.get(&format!("{PODS}/p?resourceVersion={}", rv_of(&created))).await;
    assert_eq!(older.code, 200);
    assert!(older.rv() >= rv_of(&created));
    assert_eq!(older.rv(), updated.rv(), "a GET at RV=N is 'not older than', never 'exact'");
}

/// GET with an RV far in the future: the cache waits (~3 s), then 504 Timeout with Retry-After
/// and the ResourceVersionTooLarge cause (§1.3, §2.5).
#[tokio::test]
async fn get_rv_too_large_is_504_timeout_with_retry_after() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let future = api.store.revision() + 1000;
    let started = Instant::now();
    let r = api.get(&format!("{PODS}/p?resourceVersion={future}")).await;
    let waited = started.elapsed();
    let message = r.expect_status(504, "Timeout");
    assert!(
        message.starts_with(&format!("Too large resource version: {future}, current: ")),
        "message: {message}"
    );
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.json["details"]["causes"][0]["reason"], "ResourceVersionTooLarge", "{}", r.text());
    assert_eq!(r.json["details"]["retryAfterSeconds"], 1);
    assert!(waited >= Duration::from_millis(2500), "the cache waits ~3 s first, waited {waited:?}");
    api.assert_intact(&created).await;
}

// ---------------------------------------------------------------------------------------------
// §1.3: LIST
// ---------------------------------------------------------------------------------------------

/// LIST, RV unset: a consistent read of the most recent state.
#[tokio::test]
async fn list_rv_unset_is_the_most_recent_state() {
    let api = Api::new().await;
    let mut last = 0;
    for n in ["a", "b", "c"] {
        last = rv_of(&api.create(pod(n)).await);
    }
    let list = api.get(PODS).await;
    assert_eq!(list.code, 200, "{}", list.text());
    assert_eq!(list.json["kind"], "PodList");
    assert_eq!(list.json["apiVersion"], "v1");
    assert_eq!(list.names(), ["a", "b", "c"]);
    assert!(list.rv() >= last);
    assert_eq!(list.rv(), api.store.revision(), "a list's RV is the store revision (§1.2)");
    assert!(list.json["metadata"].get("continue").is_none(), "{}", list.text());
}

/// LIST, RV="0": any state, from the cache (no error, no waiting).
#[tokio::test]
async fn list_rv_0_is_served_from_the_cache() {
    let api = Api::new().await;
    let last = rv_of(&api.create(pod("a")).await);
    api.sync_cache(last).await;
    let list = api.get(&format!("{PODS}?resourceVersion=0")).await;
    assert_eq!(list.code, 200, "{}", list.text());
    assert_eq!(list.names(), ["a"]);
    assert!(list.rv() >= last && list.rv() <= api.store.revision());
    // With a limit too (kube serves RV=0 lists from the cache).
    let limited = api.get(&format!("{PODS}?resourceVersion=0&limit=500")).await;
    assert_eq!(limited.code, 200, "{}", limited.text());
    assert_eq!(limited.names(), ["a"]);
}

/// LIST, RV=N, no limit: not older than N.
#[tokio::test]
async fn list_rv_n_without_limit_is_not_older_than_n() {
    let api = Api::new().await;
    let rv1 = rv_of(&api.create(pod("a")).await);
    let rv2 = rv_of(&api.create(pod("b")).await);
    let list = api.get(&format!("{PODS}?resourceVersion={rv2}")).await;
    assert_eq!(list.code, 200, "{}", list.text());
    assert!(list.rv() >= rv2);
    assert_eq!(list.names(), ["a", "b"]);
    // An older N is served at a newer state, not exactly at N.
    let older = api.get(&format!("{PODS}?resourceVersion={rv1}")).await;
    assert_eq!(older.code, 200);
    assert!(older.rv() >= rv2, "not older than: the cache is already past {rv2}");
    assert_eq!(older.names(), ["a", "b"]);
}

/// LIST, RV=N with limit: legacy Exact (the state at exactly N).
#[tokio::test]
async fn list_rv_n_with_limit_is_exact() {
    let api = Api::new().await;
    let rv1 = rv_of(&api.create(pod("a")).await);
    api.create(pod("b")).await;
    let list = api.get(&format!("{PODS}?resourceVersion={rv1}&limit=10")).await;
    assert_eq!(list.code, 200, "{}", list.text());
    assert_eq!(list.rv(), rv1, "{}", list.text());
    assert_eq!(list.names(), ["a"], "the state at exactly {rv1}");
}

/// resourceVersionMatch=NotOlderThan without resourceVersion: 422 Invalid (§1.3 validation).
#[tokio::test]
async fn list_not_older_than_with_rv_unset_is_invalid() {
    let api = Api::new().await;
    let r = api.get(&format!("{PODS}?resourceVersionMatch=NotOlderThan")).await;
    let message = r.expect_status(422, "Invalid");
    assert_eq!(
        message,
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    assert_eq!(r.json["details"]["kind"], "ListOptions");
    assert_eq!(r.json["details"]["group"], "meta.k8s.io");
    let causes = r.json["details"]["causes"].as_array().expect("causes");
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0]["reason"], "FieldValueForbidden");
    assert_eq!(causes[0]["field"], "resourceVersionMatch");
}

/// resourceVersionMatch=NotOlderThan, RV="0": any.
#[tokio::test]
async fn list_not_older_than_rv_0_is_any() {
    let api = Api::new().await;
    let last = rv_of(&api.create(pod("a")).await);
    api.sync_cache(last).await;
    let list = api.get(&format!("{PODS}?resourceVersion=0&resourceVersionMatch=NotOlderThan")).await;
    assert_eq!(list.code, 200, "{}", list.text());
    assert_eq!(list.names(), ["a"]);
}

/// resourceVersionMatch=NotOlderThan, RV=N: at least N (even with a limit).
#[tokio::test]
async fn list_not_older_than_rv_n_is_at_least_n() {
    let api = Api::new().await;
    let rv1 = rv_of(&api.create(pod("a")).await);
    let rv2 = rv_of(&api.create(pod("b")).await);
    for extra in ["", "&limit=1"] {
        let list =
            api.get(&format!("{PODS}?resourceVersion={rv1}&resourceVersionMatch=NotOlderThan{extra}")).await;
        assert_eq!(list.code, 200, "{}", list.text());
        assert!(list.rv() >= rv1);
    }
    let list = api.get(&format!("{PODS}?resourceVersion={rv2}&resourceVersionMatch=NotOlderThan")).await;
    assert_eq!(list.code, 200);
    assert!(list.rv() >= rv2);
    assert_eq!(list.names(), ["a", "b"]);
}

/// resourceVersionMatch=Exact without resourceVersion: 422.
#[tokio::test]
async fn list_exact_with_rv_unset_is_invalid() {
    let api = Api::new().await;
    let r = api.get(&format!("{PODS}?resourceVersionMatch=Exact")).await;
    let message = r.expect_status(422, "Invalid");
    assert!(
        message.contains("resourceVersionMatch is forbidden unless resourceVersion is provided"),
        "{message}"
    );
    assert_eq!(r.json["details"]["causes"][0]["field"], "resourceVersionMatch");
}

/// resourceVersionMatch=Exact with RV="0": forbidden, 422.
#[tokio::test]
async fn list_exact_with_rv_0_is_forbidden() {
    let api = Api::new().await;
    let r = api.get(&format!("{PODS}?resourceVersion=0&resourceVersionMatch=Exact")).await;
    let message = r.expect_status(422, "Invalid");
    assert!(
        message.ends_with("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""),
        "{message}"
    );
    assert_eq!(r.json["details"]["causes"][0]["reason"], "FieldValueForbidden");
}

/// resourceVersionMatch=Exact, RV=N: exactly N (without a limit too).
#[tokio::test]
async fn list_exact_rv_n_is_the_state_at_n() {
    let api = Api::new().await;
    let rv1 = rv_of(&api.create(pod("a")).await);
    let rv2 = rv_of(&api.create(pod("b")).await);
    api.delete(&format!("{PODS}/a")).await;
    let at1 = api.get(&format!("{PODS}?resourceVersion={rv1}&resourceVersionMatch=Exact")).await;
    assert_eq!(at1.code, 200, "{}", at1.text());
    assert_eq!(at1.rv(), rv1);
    assert_eq!(at1.names(), ["a"]);
    let at2 = api.get(&format!("{PODS}?resourceVersion={rv2}&resourceVersionMatch=Exact")).await;
    assert_eq!(at2.rv(), rv2);
    assert_eq!(at2.names(), ["a", "b"]);
    // Items carry their own (mod) revisions.
    assert_eq!(rv_of(&at2.json["items"][0]), rv1);
    assert_eq!(rv_of(&at2.json["items"][1]), rv2);
}

/// resourceVersionMatch=Exact at a compacted RV: 410 Expired (§1.3).
#[tokio::test]
async fn list_exact_after_compaction_is_410_expired() {
    let api = Api::new().await;
    let created = api.create(pod("a")).await;
    let rv1 = rv_of(&created);
    api.create(pod("b")).await;
    api.create(pod("c")).await;
    assert!(api.store.force_compaction(0).is_some(), "compaction happened");
    let r = api.get(&format!("{PODS}?resourceVersion={rv1}&resourceVersionMatch=Exact")).await;
    let message = r.expect_status(410, "Expired");
    assert_eq!(message, "The resourceVersion for the provided list is too old.");
    // Legacy exact (RV=N + limit) too.
    let r = api.get(&format!("{PODS}?resourceVersion={rv1}&limit=1")).await;
    r.expect_status(410, "Expired");
    api.assert_intact(&created).await;
}

/// LIST with a too-large RV (served from the cache, which waits): 504 Timeout + Retry-After.
#[tokio::test]
async fn list_rv_too_large_is_504_timeout() {
    let api = Api::new().await;
    let future = api.store.revision() + 1000;
    let r = api.get(&format!("{PODS}?resourceVersion={future}")).await;
    let message = r.expect_status(504, "Timeout");
    assert!(message.starts_with(&format!("Too large resource version: {future}")), "{message}");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.json["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    // The exact (storage) path gives the same answer.
    let r = api.get(&format!("{PODS}?resourceVersion={future}&resourceVersionMatch=Exact")).await;
    r.expect_status(504, "Timeout");
    assert!(r.header("retry-after").is_some());
}

/// continue + resourceVersionMatch: 422; continue + RV other than ""/"0": 400 (§1.3).
#[tokio::test]
async fn list_forbidden_combinations_with_continue() {
    let api = Api::new().await;
    for n in ["a", "b", "c"] {
        api.create(pod(n)).await;
    }
    let first = api.get(&format!("{PODS}?limit=1")).await;
    let token = first.json["metadata"]["continue"].as_str().expect("a continue token").to_owned();
    let rv = first.rv();
    let r = api
        .get(&format!(
            "{PODS}?limit=1&continue={}&resourceVersion={rv}&resourceVersionMatch=NotOlderThan",
            enc(&token)
        ))
        .await;
    let message = r.expect_status(422, "Invalid");
    assert!(message.contains("resourceVersionMatch is forbidden when continue is provided"), "{message}");
    let r = api.get(&format!("{PODS}?limit=1&continue={}&resourceVersion={rv}", enc(&token))).await;
    let message = r.expect_status(400, "BadRequest");
    assert_eq!(message, "specifying resource version is not allowed when using continue");
    // RV="0" with continue is allowed.
    let r = api.get(&format!("{PODS}?limit=1&continue={}&resourceVersion=0", enc(&token))).await;
    assert_eq!(r.code, 200, "{}", r.text());
    // sendInitialEvents on a list: 422.
    let r = api.get(&format!("{PODS}?sendInitialEvents=true")).await;
    let message = r.expect_status(422, "Invalid");
    assert!(message.contains("sendInitialEvents is forbidden for list"), "{message}");
    // A malformed RV: 400.
    let r = api.get(&format!("{PODS}?resourceVersion=abc")).await;
    r.expect_status(400, "BadRequest");
}

// ---------------------------------------------------------------------------------------------
// §1.3 / §1.6 / §2.4: WATCH
// ---------------------------------------------------------------------------------------------

/// WATCH, RV unset: synthetic ADDED for every existing object first, then live events.
#[tokio::test]
async fn watch_rv_unset_sends_synthetic_added_first() {
    let api = Api::new().await;
    api.create(pod("a")).await;
    let last = rv_of(&api.create(pod("b")).await);
    api.sync_cache(last).await;
    let mut w = api.watch(&format!("{PODS}?watch=true")).await;
    assert_eq!(w.code, 200);
    assert_eq!(w.headers.get("content-type").unwrap(), "application/json");
    let wait = Duration::from_secs(5);
    let e1 = w.expect_event(wait).await;
    let e2 = w.expect_event(wait).await;
    assert_eq!((event_type(&e1), event_name(&e1)), ("ADDED", "a"));
    assert_eq!((event_type(&e2), event_name(&e2)), ("ADDED", "b"));
    assert_eq!(e1["object"]["kind"], "Pod");
    let created = api.create(pod("c")).await;
    let e3 = w.expect_event(wait).await;
    assert_eq!((event_type(&e3), event_name(&e3)), ("ADDED", "c"));
    assert_eq!(rv_of(&e3["object"]), rv_of(&created));
    let del = api.delete(&format!("{PODS}/a")).await;
    assert_eq!(del.code, 200, "{}", del.text());
    let e4 = w.expect_event(wait).await;
    assert_eq!((event_type(&e4), event_name(&e4)), ("DELETED", "a"));
    assert!(rv_of(&e4["object"]) > rv_of(&created), "DELETED carries the last state at a new RV (§2.4)");
}

/// WATCH, RV="0": starts at any state, synthetic ADDED first.
#[tokio::test]
async fn watch_rv_0_sends_synthetic_added_first() {
    let api = Api::new().await;
    let last = rv_of(&api.create(pod("a")).await);
    api.sync_cache(last).await;
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion=0")).await;
    assert_eq!(w.code, 200);
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "a"));
    api.create(pod("b")).await;
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "b"));
}

/// WATCH, RV=N: only events strictly after N, no initial ADDED.
#[tokio::test]
async fn watch_rv_n_sends_only_events_after_n() {
    let api = Api::new().await;
    let a = api.create(pod_labelled("a", "x")).await;
    let b = api.create(pod("b")).await;
    let mut changed = a.clone();
    changed["metadata"]["labels"]["app"] = json!("y");
    let modified = api.put(&format!("{PODS}/a"), &changed).await;
    assert_eq!(modified.code, 200, "{}", modified.text());
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion={}", rv_of(&a))).await;
    assert_eq!(w.code, 200);
    let wait = Duration::from_secs(5);
    let e1 = w.expect_event(wait).await;
    assert_eq!((event_type(&e1), event_name(&e1)), ("ADDED", "b"), "first event after N is b's creation");
    assert_eq!(rv_of(&e1["object"]), rv_of(&b));
    let e2 = w.expect_event(wait).await;
    assert_eq!((event_type(&e2), event_name(&e2)), ("MODIFIED", "a"));
    assert_eq!(e2["object"]["metadata"]["labels"]["app"], "y");
    assert_eq!(rv_of(&e2["object"]), modified.rv());
    // Nothing else (no synthetic ADDED for a).
    match w.next(Duration::from_millis(500)).await {
        Next::Timeout => {}
        other => panic!("unexpected {other:?}"),
    }
    let c = api.create(pod("c")).await;
    let e3 = w.expect_event(wait).await;
    assert_eq!((event_type(&e3), event_name(&e3)), ("ADDED", "c"));
    assert_eq!(rv_of(&e3["object"]), rv_of(&c));
}

/// WATCH from an RV older than the cache's history: HTTP 200 and one ERROR event whose object is
/// a Status 410 Expired, then the stream ends (§1.6).
#[tokio::test]
async fn watch_from_too_old_rv_is_one_error_event_410() {
    let api = Api::with_config(small_history_config(2)).await;
    let first = rv_of(&api.create(pod("p0")).await);
    let mut last = first;
    for i in 1..6 {
        last = rv_of(&api.create(pod(&format!("p{i}"))).await);
    }
    api.sync_cache(last).await;
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion={first}")).await;
    assert_eq!(w.code, 200, "a too-old watch is still HTTP 200");
    let events = w.drain_until_end(Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1, "exactly one event: {events:?}");
    let e = &events[0];
    assert_eq!(event_type(e), "ERROR");
    let status = &e["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    let message = status["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("too old resource version: {first} (")), "{message}");
    // A recent RV is still fine.
    let mut ok = api.watch(&format!("{PODS}?watch=true&resourceVersion={last}")).await;
    assert_eq!(ok.code, 200);
    assert!(matches!(ok.next(Duration::from_millis(300)).await, Next::Timeout));
}

/// timeoutSeconds ends the watch (cleanly, at a line boundary).
#[tokio::test]
async fn watch_timeout_seconds_is_honoured() {
    let api = Api::new().await;
    let started = Instant::now();
    let mut w = api.watch(&format!("{PODS}?watch=true&timeoutSeconds=1")).await;
    assert_eq!(w.code, 200);
    let events = w.drain_until_end(Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(events.is_empty(), "{events:?}");
    assert!(took >= Duration::from_millis(900), "ended too early: {took:?}");
    assert!(took < Duration::from_secs(4), "ended too late: {took:?}");
}

/// Bookmarks only with allowWatchBookmarks: an object of the watched kind carrying only
/// metadata.resourceVersion (§1.6).
#[tokio::test]
async fn watch_bookmarks_only_when_allowed() {
    let mut config = ApiServerConfig::default();
    config.registry.cache.bookmark_interval = Duration::from_millis(200);
    let api = Api::with_config(config).await;
    let created = api.create(pod("a")).await;
    let rv = rv_of(&created);
    api.sync_cache(rv).await;
    let mut with =
        api.watch(&format!("{PODS}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true")).await;
    let mut without = api.watch(&format!("{PODS}?watch=true&resourceVersion={rv}")).await;
    assert_eq!((with.code, without.code), (200, 200));
    let e = with.expect_event(Duration::from_secs(5)).await;
    assert_eq!(event_type(&e), "BOOKMARK", "{e}");
    assert_eq!(e["object"]["kind"], "Pod");
    assert_eq!(e["object"]["apiVersion"], "v1");
    assert!(rv_of(&e["object"]) >= rv, "{e}");
    assert!(e["object"].get("spec").is_none(), "a bookmark carries only metadata.resourceVersion: {e}");
    // A bookmark's RV never exceeds the next event's (Bookmarkable).
    let next = api.create(pod("b")).await;
    let mut saw_b = false;
    let mut last_bookmark = rv_of(&e["object"]);
    for e in with.collect_for(Duration::from_secs(2)).await {
        match event_type(&e) {
            "BOOKMARK" => last_bookmark = rv_of(&e["object"]),
            "ADDED" => {
                assert!(last_bookmark < rv_of(&next), "bookmark {last_bookmark} ran ahead of an event");
                saw_b = true;
            }
            other => panic!("unexpected {other}: {e}"),
        }
    }
    assert!(saw_b);
    // Without allowWatchBookmarks: the live event, never a bookmark.
    let events = without.collect_for(Duration::from_secs(2)).await;
    assert_eq!(events.iter().map(|e| event_type(e).to_owned()).collect::<Vec<_>>(), ["ADDED"], "{events:?}");
}

/// Watch-list (KEP-3157, §1.6): ADDED for every object, then a BOOKMARK annotated
/// `k8s.io/initial-events-end: "true"` at the snapshot RV, then live events.
#[tokio::test]
async fn watch_list_sends_initial_events_then_end_bookmark() {
    let api = Api::new().await;
    let mut last = 0;
    for n in ["a", "b", "c"] {
        last = rv_of(&api.create(pod(n)).await);
    }
    api.sync_cache(last).await;
    let mut w = api
        .watch(&format!(
            "{PODS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0&allowWatchBookmarks=true"
        ))
        .await;
    assert_eq!(w.code, 200);
    let wait = Duration::from_secs(5);
    let mut added = Vec::new();
    let bookmark = loop {
        let e = w.expect_event(wait).await;
        match event_type(&e) {
            "ADDED" => added.push(event_name(&e).to_owned()),
            "BOOKMARK" => break e,
            other => panic!("unexpected {other}: {e}"),
        }
    };
    assert_eq!(added, ["a", "b", "c"]);
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
        "{bookmark}"
    );
    let snapshot = rv_of(&bookmark["object"]);
    assert!(snapshot >= last, "the bookmark carries the snapshot RV");
    let d = api.create(pod("d")).await;
    let e = loop {
        let e = w.expect_event(wait).await;
        if event_type(&e) != "BOOKMARK" {
            break e;
        }
    };
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "d"));
    assert!(rv_of(&d) > snapshot);
}

/// Watch-list as client-go's reflector first sends it: `resourceVersion` unset (k8s-api.md §1.6
/// `[&resourceVersion=]`; apimachinery validateWatchOptions allows resourceVersionMatch without
/// resourceVersion for watches). It is a consistent read: the initial events are the newest state.
#[tokio::test]
async fn watch_list_with_rv_unset_is_accepted() {
    let api = Api::new().await;
    let created = api.create(pod("a")).await;
    let mut w = api
        .watch(&format!(
            "{PODS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        ))
        .await;
    assert_eq!(w.code, 200, "client-go's watch-list request is rejected");
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "a"), "{e}");
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!(event_type(&e), "BOOKMARK");
    assert_eq!(e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert!(rv_of(&e["object"]) >= rv_of(&created), "a consistent snapshot includes the last write");
}

/// Watch option validation (§1.3): resourceVersionMatch on a watch needs sendInitialEvents;
/// sendInitialEvents needs NotOlderThan.
#[tokio::test]
async fn watch_option_combinations_are_validated() {
    let api = Api::new().await;
    let r = api.get(&format!("{PODS}?watch=true&resourceVersion=5&resourceVersionMatch=NotOlderThan")).await;
    let message = r.expect_status(422, "Invalid");
    assert!(
        message.contains("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
    );
    let r = api.get(&format!("{PODS}?watch=true&sendInitialEvents=true&resourceVersion=0")).await;
    let message = r.expect_status(422, "Invalid");
    assert!(message.contains("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
}

/// A watcher that never reads is closed once its (tiny) queue is full, not buffered without limit.
#[tokio::test]
async fn slow_watcher_is_closed_not_buffered() {
    let mut config = ApiServerConfig::default();
    config.registry.cache.watcher_queue_max = 2;
    let api = Api::with_config(config).await;
    let start = api.store.revision();
    api.sync_cache(start).await;
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion={start}")).await;
    assert_eq!(w.code, 200);
    assert_eq!(api.pods_cache().watcher_count(), 1);
    let mut last = 0;
    for i in 0..20 {
        last = rv_of(&api.create(pod(&format!("p{i:02}"))).await);
    }
    api.sync_cache(last).await;
    assert_eq!(api.pods_cache().watcher_count(), 0, "the slow watcher was dropped by the cache");
    let events = w.drain_until_end(Duration::from_secs(5)).await;
    assert!(
        !events.is_empty() && events.len() <= 3,
        "only the queued events, then the end: {} events",
        events.len()
    );
    for e in &events {
        assert_eq!(event_type(e), "ADDED");
    }
}

/// Watches honour selectors: a `spec.nodeName` watch sees only its node's pods, and a pod
/// leaving a label selector is seen as DELETED.
#[tokio::test]
async fn watch_with_selectors() {
    let api = Api::new().await;
    let start = api.store.revision();
    api.sync_cache(start).await;
    let mut node1 = api
        .watch(&format!(
            "/api/v1/pods?watch=true&resourceVersion={start}&fieldSelector={}",
            enc("spec.nodeName=n1")
        ))
        .await;
    let mut app_a =
        api.watch(&format!("{PODS}?watch=true&resourceVersion={start}&labelSelector={}", enc("app=a"))).await;
    let mut on_n1 = pod_labelled("on-n1", "a");
    on_n1["spec"]["nodeName"] = json!("n1");
    let mut on_n2 = pod_labelled("on-n2", "b");
    on_n2["spec"]["nodeName"] = json!("n2");
    let created = api.create(on_n1).await;
    api.create(on_n2).await;
    let mut relabel = created.clone();
    relabel["metadata"]["labels"]["app"] = json!("z");
    assert_eq!(api.put(&format!("{PODS}/on-n1"), &relabel).await.code, 200);
    let seen: Vec<(String, String)> = node1
        .collect_for(Duration::from_secs(1))
        .await
        .iter()
        .map(|e| (event_type(e).to_owned(), event_name(e).to_owned()))
        .collect();
    assert_eq!(seen, [("ADDED".into(), "on-n1".into()), ("MODIFIED".into(), "on-n1".into())]);
    let seen: Vec<(String, String)> = app_a
        .collect_for(Duration::from_secs(1))
        .await
        .iter()
        .map(|e| (event_type(e).to_owned(), event_name(e).to_owned()))
        .collect();
    assert_eq!(seen, [("ADDED".into(), "on-n1".into()), ("DELETED".into(), "on-n1".into())]);
}

// ---------------------------------------------------------------------------------------------
// §1.4 Pagination
// ---------------------------------------------------------------------------------------------

/// Every page of a paginated list is read at the first page's RV (a consistent snapshot), and
/// only an empty continue means done.
#[tokio::test]
async fn continue_pages_share_the_first_pages_rv() {
    let api = Api::new().await;
    for i in 0..5 {
        api.create(pod(&format!("p{i}"))).await;
    }
    let first = api.get(&format!("{PODS}?limit=2")).await;
    assert_eq!(first.code, 200, "{}", first.text());
    assert_eq!(first.names(), ["p0", "p1"]);
    let snapshot = first.rv();
    // Writes after the first page are invisible to the rest of the list.
    api.create(pod("p5")).await;
    assert_eq!(api.delete(&format!("{PODS}/p3")).await.code, 200);
    let mut names = first.names();
    let mut token = first.json["metadata"]["continue"].as_str().expect("continue").to_owned();
    let mut pages = 1;
    loop {
        let page = api.get(&format!("{PODS}?limit=2&continue={}", enc(&token))).await;
        assert_eq!(page.code, 200, "{}", page.text());
        assert_eq!(page.rv(), snapshot, "every page is at the first page's RV");
        names.extend(page.names());
        pages += 1;
        match page.json["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    // A malformed token is a 400.
    let r = api.get(&format!("{PODS}?limit=2&continue=!!!")).await;
    r.expect_status(400, "BadRequest");
}

/// `metadata.remainingItemCount` on a limited list without selectors (§1.4).
#[tokio::test]
async fn limited_list_reports_remaining_item_count() {
    let api = Api::new().await;
    for i in 0..5 {
        api.create(pod(&format!("p{i}"))).await;
    }
    let first = api.get(&format!("{PODS}?limit=2")).await;
    assert_eq!(first.code, 200);
    assert_eq!(first.json["metadata"]["remainingItemCount"], 3, "{}", first.text());
}

/// A continue token whose RV has been compacted: 410 Expired (§1.4).
#[tokio::test]
async fn continue_after_compaction_is_410_expired() {
    let api = Api::new().await;
    for i in 0..4 {
        api.create(pod(&format!("p{i}"))).await;
    }
    let first = api.get(&format!("{PODS}?limit=2")).await;
    let token = first.json["metadata"]["continue"].as_str().expect("continue").to_owned();
    api.create(pod("later")).await;
    assert!(api.store.force_compaction(0).is_some());
    let r = api.get(&format!("{PODS}?limit=2&continue={}", enc(&token))).await;
    let message = r.expect_status(410, "Expired");
    assert!(message.starts_with("The provided continue parameter is too old"), "{message}");
    // Nothing was lost.
    assert_eq!(api.get(PODS).await.names(), ["later", "p0", "p1", "p2", "p3"]);
}

/// The 410 for an expired continue token carries an inconsistent continue token (rv -1) in
/// `Status.metadata.continue` that resumes the list at the latest RV (§1.4).
#[tokio::test]
async fn expired_continue_carries_an_inconsistent_continue_token() {
    let api = Api::new().await;
    for i in 0..4 {
        api.create(pod(&format!("p{i}"))).await;
    }
    let first = api.get(&format!("{PODS}?limit=2")).await;
    let token = first.json["metadata"]["continue"].as_str().expect("continue").to_owned();
    api.create(pod("later")).await;
    assert!(api.store.force_compaction(0).is_some());
    let r = api.get(&format!("{PODS}?limit=2&continue={}", enc(&token))).await;
    r.expect_status(410, "Expired");
    let resume = r.json["metadata"]["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata.continue: {}", r.text()));
    let page = api.get(&format!("{PODS}?limit=10&continue={}", enc(resume))).await;
    assert_eq!(page.code, 200, "{}", page.text());
    assert_eq!(page.names(), ["p2", "p3"], "resumes after the last key of the expired page");
}

// ---------------------------------------------------------------------------------------------
// §1.5 Selectors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn label_selectors_filter_lists() {
    let api = Api::new().await;
    api.create(pod_labelled("a1", "a")).await;
    api.create(pod_labelled("a2", "a")).await;
    api.create(pod_labelled("b1", "b")).await;
    let last = rv_of(&api.create(pod("none")).await);
    let cases: &[(&str, &[&str])] = &[
        ("app=a", &["a1", "a2"]),
        ("app==b", &["b1"]),
        ("app!=a", &["b1", "none"]),
        ("app in (a,b)", &["a1", "a2", "b1"]),
        ("app notin (a)", &["b1", "none"]),
        ("app", &["a1", "a2", "b1"]),
        ("!app", &["none"]),
    ];
    for (selector, want) in cases {
        // From storage (RV unset) and from the cache (RV=N).
        for rv in [String::new(), format!("&resourceVersion={last}")] {
            let r = api.get(&format!("{PODS}?labelSelector={}{rv}", enc(selector))).await;
            assert_eq!(r.code, 200, "{selector}: {}", r.text());
            assert_eq!(r.names(), *want, "labelSelector {selector} {rv}");
        }
    }
    let r = api.get(&format!("{PODS}?labelSelector={}", enc("app in (a"))).await;
    r.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn field_selectors_filter_lists() {
    let api = Api::new().await;
    let ns = api
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
        )
        .await;
    assert_eq!(ns.code, 201, "{}", ns.text());
    let mut bound = pod("bound");
    bound["spec"]["nodeName"] = json!("n1");
    api.create(bound).await;
    let running = api.create(pod("running")).await;
    api.create(pod("pending")).await;
    let other = api.post("/api/v1/namespaces/other/pods", &pod("elsewhere")).await;
    assert_eq!(other.code, 201, "{}", other.text());
    let mut status = running.clone();
    status["status"]["phase"] = json!("Running");
    let r = api.put(&format!("{PODS}/running/status"), &status).await;
    assert_eq!(r.code, 200, "{}", r.text());
    let last = r.rv();
    let cases: &[(&str, &str, &[&str])] = &[
        (PODS, "metadata.name=running", &["running"]),
        (PODS, "metadata.name!=running", &["bound", "pending"]),
        ("/api/v1/pods", "metadata.namespace=other", &["elsewhere"]),
        ("/api/v1/pods", "metadata.namespace==default,metadata.name=bound", &["bound"]),
        (PODS, "spec.nodeName=n1", &["bound"]),
        (PODS, "spec.nodeName=", &["pending", "running"]),
        (PODS, "spec.nodeName!=", &["bound"]),
        (PODS, "status.phase=Running", &["running"]),
        (PODS, "status.phase!=Running", &["bound", "pending"]),
        (
            "/api/v1/pods",
            "status.phase!=Succeeded,status.phase!=Failed,spec.nodeName=",
            &["pending", "running", "elsewhere"],
        ),
    ];
    for (path, selector, want) in cases {
        for rv in [String::new(), format!("&resourceVersion={last}")] {
            let r = api.get(&format!("{path}?fieldSelector={}{rv}", enc(selector))).await;
            assert_eq!(r.code, 200, "{selector}: {}", r.text());
            assert_eq!(r.names(), *want, "fieldSelector {selector} on {path} {rv}");
        }
    }
    // An unsupported field: 400 (§1.5).
    let r = api.get(&format!("{PODS}?fieldSelector={}", enc("spec.foo=bar"))).await;
    let message = r.expect_status(400, "BadRequest");
    assert!(message.contains("spec.foo"), "{message}");
    let r = api.get(&format!("{PODS}?watch=true&fieldSelector={}", enc("metadata.labels=x"))).await;
    r.expect_status(400, "BadRequest");
}

// ---------------------------------------------------------------------------------------------
// §2.5 Status errors: one test per reason
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn error_not_found() {
    let api = Api::new().await;
    let r = api.get(&format!("{PODS}/ghost")).await;
    let message = r.expect_status(404, "NotFound");
    assert_eq!(message, "pods \"ghost\" not found");
    assert_eq!(r.json["details"], json!({"name": "ghost", "group": "", "kind": "pods"}));
    let r = api.delete(&format!("{PODS}/ghost")).await;
    r.expect_status(404, "NotFound");
    let r = api.put(&format!("{PODS}/ghost"), &pod("ghost")).await;
    r.expect_status(404, "NotFound");
    // A namespace that does not exist (NamespaceLifecycle).
    let r = api.post("/api/v1/namespaces/nowhere/pods", &pod("p")).await;
    let message = r.expect_status(404, "NotFound");
    assert_eq!(message, "namespaces \"nowhere\" not found");
    // A path that names no resource.
    let r = api.get("/api/v1/namespaces/default/widgets").await;
    r.expect_status(404, "NotFound");
}

#[tokio::test]
async fn error_already_exists() {
    let api = Api::new().await;
    let created = api.create(pod("dup")).await;
    let r = api.post(PODS, &pod("dup")).await;
    let message = r.expect_status(409, "AlreadyExists");
    assert_eq!(message, "pods \"dup\" already exists");
    assert_eq!(r.json["details"]["name"], "dup");
    assert_eq!(r.json["details"]["kind"], "pods");
    api.assert_intact(&created).await;
}

/// A PUT with a stale resourceVersion: 409 Conflict with kube's OptimisticLockErrorMsg (§1.2).
#[tokio::test]
async fn error_conflict_on_stale_resource_version() {
    let api = Api::new().await;
    let created = api.create(pod_labelled("p", "a")).await;
    let mut first = created.clone();
    first["metadata"]["labels"]["app"] = json!("b");
    let updated = api.put(&format!("{PODS}/p"), &first).await;
    assert_eq!(updated.code, 200);
    let mut stale = created.clone();
    stale["metadata"]["labels"]["app"] = json!("c");
    let r = api.put(&format!("{PODS}/p"), &stale).await;
    let message = r.expect_status(409, "Conflict");
    assert_eq!(
        message,
        "Operation cannot be fulfilled on pods \"p\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(r.json["details"]["name"], "p");
    assert_eq!(r.json["details"]["kind"], "pods");
    api.assert_intact(&updated.json).await;
    // A delete precondition on a stale RV: 409 too.
    let r = api
        .check(
            Method::DELETE,
            &format!("{PODS}/p"),
            Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": rv_of(&created).to_string()}})),
            &[],
        )
        .await;
    r.expect_status(409, "Conflict");
    api.assert_intact(&updated.json).await;
}

/// 422 Invalid lists every field error at once in details.causes.
#[tokio::test]
async fn error_invalid_lists_every_field_error() {
    let api = Api::new().await;
    let before = api.store.key_count();
    let body = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "Bad_Name", "labels": {"ok": "not a valid value!"}},
        "spec": {"containers": [{"name": "", "image": ""}, {"name": "c2", "image": "nginx", "ports": [{"containerPort": 70000}]}]}
    });
    let r = api.post(PODS, &body).await;
    let message = r.expect_status(422, "Invalid");
    assert!(message.starts_with("Pod \"Bad_Name\" is invalid: ["), "{message}");
    assert_eq!(r.json["details"]["kind"], "Pod");
    assert_eq!(r.json["details"]["name"], "Bad_Name");
    assert_eq!(r.json["details"]["group"], "");
    let causes = r.json["details"]["causes"].as_array().expect("causes");
    let fields: BTreeSet<&str> = causes.iter().map(|c| c["field"].as_str().unwrap()).collect();
    for want in [
        "metadata.name",
        "metadata.labels",
        "spec.containers[0].name",
        "spec.containers[0].image",
        "spec.containers[1].ports[0].containerPort",
    ] {
        assert!(fields.contains(want), "no cause for {want}: {causes:?}");
    }
    for c in causes {
        assert!(c["reason"].as_str().unwrap().starts_with("Field"), "{c}");
        assert!(!c["message"].as_str().unwrap().is_empty(), "{c}");
        assert!(message.contains(c["field"].as_str().unwrap()), "the message names every field: {message}");
    }
    let required = causes.iter().find(|c| c["field"] == "spec.containers[0].image").unwrap();
    assert_eq!(required["reason"], "FieldValueRequired");
    assert_eq!(api.store.key_count(), before, "nothing was stored");
    assert_eq!(api.get(&format!("{PODS}/Bad_Name")).await.code, 404);
}

#[tokio::test]
async fn error_bad_request_malformed_json() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let before = api.store.key_count();
    let r =
        api.raw(Method::POST, PODS, Bytes::from_static(b"{\"apiVersion\": \"v1\", \"kind\": "), &[]).await;
    let message = r.expect_status(400, "BadRequest");
    assert!(!message.is_empty());
    let r = api.raw(Method::PUT, &format!("{PODS}/p"), Bytes::from_static(b"not json"), &[]).await;
    r.expect_status(400, "BadRequest");
    assert_eq!(api.store.key_count(), before);
    api.assert_intact(&created).await;
}

#[tokio::test]
async fn error_bad_request_kind_mismatch() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let before = api.store.key_count();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p2"}, "data": {"a": "b"}});
    let r = api.post(PODS, &cm).await;
    let message = r.expect_status(400, "BadRequest");
    assert!(message.contains("ConfigMap"), "{message}");
    let mut wrong = created.clone();
    wrong["kind"] = json!("Node");
    let r = api.put(&format!("{PODS}/p"), &wrong).await;
    r.expect_status(400, "BadRequest");
    // Name in URL vs body.
    let mut renamed = created.clone();
    renamed["metadata"]["name"] = json!("other");
    let r = api.put(&format!("{PODS}/p"), &renamed).await;
    r.expect_status(400, "BadRequest");
    // Namespace in URL vs body.
    let mut moved = pod("q");
    moved["metadata"]["namespace"] = json!("kube-system");
    let r = api.post(PODS, &moved).await;
    r.expect_status(400, "BadRequest");
    // Strict field validation.
    let mut unknown = pod("s");
    unknown["spec"]["bogus"] = json!(1);
    let r = api.post(&format!("{PODS}?fieldValidation=Strict"), &unknown).await;
    let message = r.expect_status(400, "BadRequest");
    assert!(message.contains("unknown field"), "{message}");
    assert_eq!(api.store.key_count(), before);
    api.assert_intact(&created).await;
}

async fn always_deny_api() -> Api {
    let tokens = TokenAuthenticator::parse("t1,alice,1\n").unwrap();
    let config = ApiServerConfig { authorization_modes: vec!["AlwaysDeny".into()], ..Default::default() };
    Api::with(config, tokens).await
}

const ALICE: [(&str, &str); 1] = [("authorization", "Bearer t1")];

/// AlwaysDeny: 403 Forbidden with kube's message shape (§2.5), nothing stored.
#[tokio::test]
async fn error_forbidden_with_always_deny() {
    let api = always_deny_api().await;
    let r = api.check(Method::GET, PODS, None, &ALICE).await;
    let message = r.expect_status(403, "Forbidden");
    assert!(
        message.starts_with(
            "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{message}"
    );
    assert_eq!(r.json["details"]["kind"], "pods");
    assert_eq!(r.json["details"]["group"], "");
    let before = api.store.key_count();
    let r = api.check(Method::POST, PODS, Some(&pod("p")), &ALICE).await;
    let message = r.expect_status(403, "Forbidden");
    assert!(message.contains("cannot create resource \"pods\""), "{message}");
    // Anonymous requests too.
    let r = api.get(PODS).await;
    let message = r.expect_status(403, "Forbidden");
    assert!(message.contains("User \"system:anonymous\""), "{message}");
    assert_eq!(api.store.key_count(), before, "nothing was stored");
}

/// kube-apiserver's exact Forbidden messages (apiserver responsewriters.Forbidden +
/// apierrors.NewForbidden): the object's name is quoted after the resource, and the
/// authorizer's reason follows (AlwaysDeny's is "Everything is forbidden.").
#[tokio::test]
async fn error_forbidden_message_is_kubes_exactly() {
    let api = always_deny_api().await;
    let r = api.check(Method::GET, "/api/v1/nodes/n1", None, &ALICE).await;
    let message = r.expect_status(403, "Forbidden");
    assert_eq!(r.json["details"]["name"], "n1");
    assert_eq!(
        message,
        "nodes \"n1\" is forbidden: User \"alice\" cannot get resource \"nodes\" in API group \"\" at the cluster scope: Everything is forbidden."
    );
    let r = api.check(Method::GET, PODS, None, &ALICE).await;
    let message = r.expect_status(403, "Forbidden");
    assert_eq!(
        message,
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\": Everything is forbidden."
    );
}

/// A bearer token the token file does not know: 401 "Unauthorized" (§4).
#[tokio::test]
async fn error_unauthorized_with_a_bad_token() {
    let tokens = TokenAuthenticator::parse("# tokens\nt1,alice,1,\"dev,ops\"\n").unwrap();
    let api = Api::with(ApiServerConfig::default(), tokens).await;
    let ok = api.check(Method::GET, PODS, None, &[("authorization", "Bearer t1")]).await;
    assert_eq!(ok.code, 200, "{}", ok.text());
    let before = api.store.key_count();
    let r = api.check(Method::POST, PODS, Some(&pod("p")), &[("authorization", "Bearer nope")]).await;
    let message = r.expect_status(401, "Unauthorized");
    assert_eq!(message, "Unauthorized");
    assert_eq!(api.store.key_count(), before);
}

#[tokio::test]
async fn error_method_not_allowed() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    // PUT on a collection.
    let r = api.put(PODS, &pod("p")).await;
    let message = r.expect_status(405, "MethodNotAllowed");
    assert_eq!(message, "the server does not allow this method on the requested resource");
    // POST to pods/status.
    let r = api.post(&format!("{PODS}/p/status"), &created).await;
    r.expect_status(405, "MethodNotAllowed");
    api.assert_intact(&created).await;
}

/// kube-apiserver serves POST only on the collection path: POST on an item path is 405 (the
/// route has GET/PUT/PATCH/DELETE only), it does not create anything.
#[tokio::test]
async fn error_method_not_allowed_for_post_on_an_item() {
    let api = Api::new().await;
    let before = api.store.key_count();
    let r = api.post(&format!("{PODS}/x"), &pod("y")).await;
    r.expect_status(405, "MethodNotAllowed");
    assert_eq!(api.store.key_count(), before, "nothing was stored");
    assert_eq!(api.get(&format!("{PODS}/y")).await.code, 404);
}

#[tokio::test]
async fn error_not_acceptable_for_protobuf_only() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let r = api
        .check(Method::GET, &format!("{PODS}/p"), None, &[("accept", "application/vnd.kubernetes.protobuf")])
        .await;
    let message = r.expect_status(406, "NotAcceptable");
    assert!(message.starts_with("only the following media types are accepted: "), "{message}");
    assert!(message.contains("application/json"), "{message}");
    // A list of choices including JSON is fine.
    let r = api
        .check(
            Method::GET,
            &format!("{PODS}/p"),
            None,
            &[("accept", "application/vnd.kubernetes.protobuf, application/json")],
        )
        .await;
    assert_eq!(r.code, 200);
    api.assert_intact(&created).await;
}

/// A strategic merge patch error that kube's SMP code does not turn into a Status (a list item
/// without its merge key) is a 500 with no reason and the bare message, as `ErrorToAPIStatus`
/// makes it; nothing is written. (Found by the fuzz suite: kubesim said `InternalError`.)
#[tokio::test]
async fn error_500_without_a_reason_for_a_strategic_merge_patch_without_its_merge_key() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let r = api
        .raw(
            Method::PATCH,
            &format!("{PODS}/p"),
            Bytes::from_static(b"{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}"),
            &[("content-type", "application/strategic-merge-patch+json")],
        )
        .await;
    assert_eq!(r.code, 500, "{}", r.text());
    assert_eq!(r.json["kind"], "Status");
    assert_eq!(r.json["status"], "Failure");
    assert_eq!(r.json["code"], 500);
    assert!(r.json.get("reason").is_none(), "StatusReasonUnknown is left out: {}", r.text());
    assert_eq!(r.json["message"], "map: map[image:x] does not contain declared merge key: name");
    api.assert_intact(&created).await;
}

#[tokio::test]
async fn error_unsupported_media_type_for_an_unknown_patch_type() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let r = api
        .raw(
            Method::PATCH,
            &format!("{PODS}/p"),
            Bytes::from_static(b"{\"metadata\":{\"labels\":{\"x\":\"y\"}}}"),
            &[("content-type", "application/xml")],
        )
        .await;
    let message = r.expect_status(415, "UnsupportedMediaType");
    assert!(
        message
            .starts_with("the body of the request was in an unknown format - accepted media types include:"),
        "{message}"
    );
    api.assert_intact(&created).await;
    // The same body as a merge patch works.
    let ok = api
        .raw(
            Method::PATCH,
            &format!("{PODS}/p"),
            Bytes::from_static(b"{\"metadata\":{\"labels\":{\"x\":\"y\"}}}"),
            &[("content-type", "application/merge-patch+json")],
        )
        .await;
    assert_eq!(ok.code, 200, "{}", ok.text());
    assert_eq!(ok.json["metadata"]["labels"]["x"], "y");
}

#[tokio::test]
async fn error_request_entity_too_large() {
    let config = ApiServerConfig { body_limit_bytes: 2048, ..Default::default() };
    let api = Api::with_config(config).await;
    let created = api.create(pod("p")).await;
    let mut big = pod("big");
    big["metadata"]["annotations"] = json!({"blob": "x".repeat(4096)});
    let r = api.post(PODS, &big).await;
    let message = r.expect_status(413, "RequestEntityTooLarge");
    assert_eq!(message, "Request entity too large: limit is 2048");
    let mut big_update = created.clone();
    big_update["metadata"]["annotations"] = json!({"blob": "x".repeat(4096)});
    let r = api.put(&format!("{PODS}/p"), &big_update).await;
    r.expect_status(413, "RequestEntityTooLarge");
    assert_eq!(api.get(&format!("{PODS}/big")).await.code, 404);
    api.assert_intact(&created).await;
}

/// Over --max-requests-inflight: 429 in plain text with Retry-After (§2.5, §4).
#[tokio::test]
async fn error_too_many_requests_when_inflight_is_full() {
    let config = ApiServerConfig { max_requests_inflight: 1, ..Default::default() };
    let api = Api::with_config(config).await;
    let created = api.create(pod("p")).await;
    let future = api.store.revision() + 1000;
    let slow_uri = format!("{PODS}/p?resourceVersion={future}");
    let slow = api.get(&slow_uri);
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        api.get(&format!("{PODS}/p")).await
    };
    let (slow, r) = tokio::join!(slow, second);
    assert_eq!(r.code, 429, "{}", r.text());
    assert_eq!(r.text(), "Too many requests, please try again later.\n");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"), "{:?}", r.headers);
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    slow.expect_status(504, "Timeout");
    // Watches are long-running and exempt; writes have their own budget.
    let mut w = api.watch(&format!("{PODS}?watch=true&timeoutSeconds=5")).await;
    assert_eq!(w.code, 200);
    let _ = w.next(Duration::from_millis(10)).await;
    let after = api.get(&format!("{PODS}/p")).await;
    assert_eq!(after.code, 200, "the permit came back");
    api.assert_intact(&created).await;
}

/// 410 Expired (list at a compacted RV), as its own reason test.
#[tokio::test]
async fn error_expired() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    api.create(pod("q")).await;
    api.store.force_compaction(0).expect("compacted");
    let r = api.get(&format!("{PODS}?resourceVersion={}&resourceVersionMatch=Exact", rv_of(&created))).await;
    r.expect_status(410, "Expired");
    assert!(r.header("retry-after").is_none());
    api.assert_intact(&created).await;
}

/// 504 Timeout from the store: a write that times out is reported as a Timeout with Retry-After.
#[tokio::test]
async fn error_timeout_from_storage() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    api.store.set_faults(kubesim::storage::FaultPlan {
        timeout_before_commit_probability: 1.0,
        timeout_ms: 10.0,
        ..Default::default()
    });
    let r = api.get(&format!("{PODS}/p")).await;
    api.store.clear_faults();
    r.expect_status(504, "Timeout");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    api.assert_intact(&created).await;
}

/// A stored object that cannot be decoded (corruption in etcd): writes to it are 500
/// InternalError.
#[tokio::test]
async fn error_internal_for_an_undecodable_stored_object() {
    let api = Api::new().await;
    let key = resources::find("", "v1", "pods").unwrap().storage_key(Some("default"), "corrupt");
    api.store.create(&key, Bytes::from_static(b"\x00garbage")).await.unwrap();
    let r = api.put(&format!("{PODS}/corrupt"), &pod("corrupt")).await;
    let message = r.expect_status(500, "InternalError");
    assert!(message.starts_with("Internal error occurred: "), "{message}");
    let r = api.delete(&format!("{PODS}/corrupt")).await;
    r.expect_status(500, "InternalError");
    assert!(api.store.get(&key, None).await.is_ok(), "nothing deleted");
}

/// GET of an undecodable stored object must not answer 200 with non-JSON bytes: kube-apiserver
/// fails the decode and answers 500 InternalError.
#[tokio::test]
async fn error_internal_when_getting_an_undecodable_stored_object() {
    let api = Api::new().await;
    let key = resources::find("", "v1", "pods").unwrap().storage_key(Some("default"), "corrupt");
    api.store.create(&key, Bytes::from_static(b"\x00garbage")).await.unwrap();
    let r = api.get(&format!("{PODS}/corrupt")).await;
    r.expect_status(500, "InternalError");
}

// ---------------------------------------------------------------------------------------------
// §3 Pods
// ---------------------------------------------------------------------------------------------

fn binding(pod: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}})
}

/// Binding: 201 + Status Success; spec.nodeName and PodScheduled set; a second binding is 409
/// "already assigned" (§3.3).
#[tokio::test]
async fn pod_binding_then_second_binding_conflicts() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let r = api.post(&format!("{PODS}/p/binding"), &binding("p", "n1")).await;
    assert_eq!(r.code, 201, "{}", r.text());
    assert_eq!(r.json["kind"], "Status");
    assert_eq!(r.json["status"], "Success");
    assert_eq!(r.json["code"], 201);
    let bound = api.get(&format!("{PODS}/p")).await;
    assert_eq!(bound.json["spec"]["nodeName"], "n1");
    assert!(bound.rv() > rv_of(&created));
    let conditions = bound.json["status"]["conditions"].as_array().expect("conditions");
    assert!(
        conditions.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "True"),
        "{conditions:?}"
    );
    let r = api.post(&format!("{PODS}/p/binding"), &binding("p", "n2")).await;
    let message = r.expect_status(409, "Conflict");
    assert!(message.contains("is already assigned to node \"n1\""), "{message}");
    api.assert_intact(&bound.json).await;
    // Name mismatch: 400; missing pod: 404.
    let r = api.post(&format!("{PODS}/p/binding"), &binding("other", "n2")).await;
    r.expect_status(400, "BadRequest");
    let r = api.post(&format!("{PODS}/ghost/binding"), &binding("ghost", "n1")).await;
    r.expect_status(404, "NotFound");
}

/// PUT pods/status changes status only; spec changes in the body are ignored (§3.4).
#[tokio::test]
async fn pod_status_update_does_not_change_spec() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    let mut body = created.clone();
    body["spec"]["containers"][0]["image"] = json!("changed:1");
    body["status"]["phase"] = json!("Running");
    body["status"]["podIP"] = json!("10.0.0.7");
    let r = api.put(&format!("{PODS}/p/status"), &body).await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(r.json["status"]["phase"], "Running");
    assert_eq!(r.json["spec"]["containers"][0]["image"], "nginx");
    let got = api.get(&format!("{PODS}/p")).await;
    assert_eq!(got.json["spec"], created["spec"]);
    assert_eq!(got.json["status"]["phase"], "Running");
    assert_eq!(got.json["status"]["podIP"], "10.0.0.7");
    assert_eq!(got.json["metadata"]["generation"], created["metadata"]["generation"]);
    // And a main-resource PUT does not change status.
    let mut main = got.json.clone();
    main["status"]["phase"] = json!("Failed");
    main["metadata"]["labels"] = json!({"x": "y"});
    let r = api.put(&format!("{PODS}/p"), &main).await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(r.json["status"]["phase"], "Running");
    assert_eq!(r.json["metadata"]["labels"]["x"], "y");
}

/// Deleting a bound pod is graceful: deletionTimestamp set, object still there; a delete with
/// gracePeriodSeconds=0 then removes it (§3.6).
#[tokio::test]
async fn pod_graceful_deletion_of_a_bound_pod() {
    let api = Api::new().await;
    api.create(pod("p")).await;
    assert_eq!(api.post(&format!("{PODS}/p/binding"), &binding("p", "n1")).await.code, 201);
    let start = api.store.revision();
    api.sync_cache(start).await;
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion={start}")).await;
    let r = api.delete(&format!("{PODS}/p")).await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(r.json["kind"], "Pod");
    assert!(r.json["metadata"]["deletionTimestamp"].is_string(), "{}", r.text());
    assert_eq!(r.json["metadata"]["deletionGracePeriodSeconds"], 30);
    let still = api.get(&format!("{PODS}/p")).await;
    assert_eq!(still.code, 200, "the pod is still there while terminating");
    assert!(still.json["metadata"]["deletionTimestamp"].is_string());
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!(event_type(&e), "MODIFIED", "a graceful delete is a MODIFIED event: {e}");
    // A binding is refused while terminating; a second graceful delete keeps the pod.
    let r = api.post(&format!("{PODS}/p/binding"), &binding("p", "n2")).await;
    let message = r.expect_status(409, "Conflict");
    assert!(message.contains("is being deleted, cannot be assigned to a host"), "{message}");
    let again = api.delete(&format!("{PODS}/p")).await;
    assert_eq!(again.code, 200);
    assert_eq!(api.get(&format!("{PODS}/p")).await.code, 200);
    // The kubelet's final delete.
    let r = api.delete(&format!("{PODS}/p?gracePeriodSeconds=0")).await;
    assert_eq!(r.code, 200, "{}", r.text());
    let gone = api.get(&format!("{PODS}/p")).await;
    gone.expect_status(404, "NotFound");
    let events = w.collect_for(Duration::from_secs(1)).await;
    assert_eq!(events.last().map(event_type), Some("DELETED"), "{events:?}");
    // An unbound pod goes at once.
    api.create(pod("unbound")).await;
    assert_eq!(api.delete(&format!("{PODS}/unbound")).await.code, 200);
    assert_eq!(api.get(&format!("{PODS}/unbound")).await.code, 404);
}

#[tokio::test]
async fn pod_generate_name() {
    let api = Api::new().await;
    let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let a = api.post(PODS, &body).await;
    let b = api.post(PODS, &body).await;
    assert_eq!((a.code, b.code), (201, 201), "{} {}", a.text(), b.text());
    let (na, nb) =
        (a.json["metadata"]["name"].as_str().unwrap(), b.json["metadata"]["name"].as_str().unwrap());
    assert!(na.starts_with("web-") && na.len() == "web-".len() + 5, "{na}");
    assert!(nb.starts_with("web-") && nb.len() == "web-".len() + 5, "{nb}");
    assert_ne!(na, nb);
    assert_eq!(a.json["metadata"]["generateName"], "web-");
    assert_eq!(api.get(&format!("{PODS}/{na}")).await.code, 200);
}

#[tokio::test]
async fn pod_defaulting() {
    let api = Api::new().await;
    let created = api.create(pod("p")).await;
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(created["spec"]["restartPolicy"], "Always");
    assert_eq!(created["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(created["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(created["spec"]["terminationGracePeriodSeconds"], 30);
    assert_eq!(created["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(created["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());
    // What was answered is what is stored.
    let got = api.get(&format!("{PODS}/p")).await;
    assert_eq!(got.json, created);
}

#[tokio::test]
async fn pod_deletecollection_with_label_selector() {
    let api = Api::new().await;
    for n in ["x1", "x2", "x3"] {
        api.create(pod_labelled(n, "x")).await;
    }
    api.create(pod_labelled("y1", "y")).await;
    let r = api.delete(&format!("{PODS}?labelSelector={}", enc("app=x"))).await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(r.json["kind"], "PodList");
    assert_eq!(r.names(), ["x1", "x2", "x3"]);
    assert_eq!(api.get(PODS).await.names(), ["y1"]);
}

/// --watch-cache=false: gets and lists come from storage, and a watch gets its own list + watch
/// of storage, from any version storage still has (not just what a shared cache remembers).
#[tokio::test]
async fn without_the_watch_cache_watches_are_served_from_storage() {
    let mut config = ApiServerConfig::default();
    config.registry.watch_cache = false;
    let api = Api::with_config(config).await;
    let a = api.create(pod("a")).await;
    let rv = rv_of(&a);
    api.create(pod("b")).await;
    let mut w = api.watch(&format!("{PODS}?watch=true&resourceVersion={rv}")).await;
    assert_eq!(w.code, 200);
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "b"), "events after {rv} only: {e}");
    api.create(pod("c")).await;
    let e = w.expect_event(Duration::from_secs(5)).await;
    assert_eq!((event_type(&e), event_name(&e)), ("ADDED", "c"));
    let mut all = api.watch(&format!("{PODS}?watch=true")).await;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(event_name(&all.expect_event(Duration::from_secs(5)).await).to_owned());
    }
    assert_eq!(names, ["a", "b", "c"], "RV unset: the current state as ADDED first");
}
