//! One in-process API server per HTTP target (`ApiServer::handle`, no socket), and the rules
//! every response must keep whatever the request was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use kubesim::api::resources;
use kubesim::server::authn::TokenAuthenticator;
use kubesim::server::{ApiServer, ApiServerConfig};
use kubesim::storage::{ListOptions, ModelStore, Storage};
use serde_json::Value;

/// How long a finished response's body may take to arrive.
const BODY_DEADLINE: Duration = Duration::from_secs(20);
/// How long a streamed (watch) response is read before it is dropped.
const STREAM_PEEK: Duration = Duration::from_millis(20);

/// How long a read at a future resourceVersion waits for it (see [`Server::start`]).
const REVISION_WAIT: Duration = Duration::from_millis(5);

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    pub api: Arc<ApiServer>,
    pub store: ModelStore,
}

/// A response read back.
pub struct Reply {
    pub code: u16,
    pub json: Value,
    pub streamed: bool,
}

impl Reply {
    /// `code reason` — the outcome signature.
    pub fn signature(&self) -> String {
        format!(
            "{} {}",
            self.code,
            self.json["reason"].as_str().unwrap_or(if self.streamed { "stream" } else { "" })
        )
    }
}

impl Server {
    /// A server over a fresh model store, its system namespaces in place, with the objects in
    /// `seed` (collection path, body) created.
    pub fn start(seed: &[(&str, Value)]) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let store = ModelStore::default();
        let api = rt.block_on(async {
            let mut config = ApiServerConfig::default();
            // A resourceVersion ahead of the store waits this long before its 504: kube waits 3 s,
            // which would make the fuzzer wait instead of run.
            config.registry.cache.revision_wait = REVISION_WAIT;
            let api = ApiServer::new(Arc::new(store.clone()), config, TokenAuthenticator::default()).await;
            tokio::time::timeout(Duration::from_secs(10), api.wait_ready()).await.unwrap().unwrap();
            let namespaces = resources::find("", "v1", "namespaces").unwrap();
            let key = namespaces.storage_key(None, "default");
            let deadline = Instant::now() + Duration::from_secs(10);
            while api.registry().cache(namespaces).is_some_and(|c| c.get(&key).is_none()) {
                assert!(Instant::now() < deadline, "namespace default never appeared");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            api
        });
        let server = Server { rt, api, store };
        for (path, body) in seed {
            let r = server.send(Method::POST, path, "application/json", Bytes::from(body.to_string()));
            assert_eq!(r.code, 201, "seeding {path}: {}", r.json);
        }
        server
    }

    pub fn revision(&self) -> i64 {
        self.rt.block_on(self.store.current_revision()).unwrap()
    }

    /// The keys whose stored value differs between two revisions, with both values (`None`:
    /// absent).
    pub fn changed_between(&self, from: i64, to: i64) -> Vec<(String, Option<Value>, Option<Value>)> {
        let all = |rev| {
            let options = ListOptions { revision: Some(rev), ..ListOptions::default() };
            let list = self.rt.block_on(self.store.list("/", options)).unwrap();
            list.items.into_iter().map(|kv| (kv.key.to_string(), kv.value)).collect::<BTreeMap<_, _>>()
        };
        let (a, b) = (all(from), all(to));
        let json = |v: Option<&Bytes>| v.map(|v| serde_json::from_slice(v).unwrap_or(Value::Null));
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| (k.clone(), json(a.get(k)), json(b.get(k))))
            .collect()
    }

    /// Sends one request; `None` when `uri` is not a URI at all (hyper refuses those before
    /// kubesim sees them).
    pub fn try_send(&self, method: Method, uri: &str, content_type: &str, body: Bytes) -> Option<Reply> {
        let mut b = Request::builder().method(method).uri(uri);
        if !content_type.is_empty() {
            b = b.header("content-type", content_type);
        }
        let req = b.body(body).ok()?;
        Some(self.rt.block_on(async {
            let resp = self.api.handle(req).await;
            let code = resp.status().as_u16();
            let body = resp.into_body();
            if body.size_hint().exact().is_none() {
                // A watch: read what comes at once, then hang up like a client that goes away.
                let mut body = body;
                let _ = tokio::time::timeout(STREAM_PEEK, body.frame()).await;
                return Reply { code, json: Value::Null, streamed: true };
            }
            let bytes = tokio::time::timeout(BODY_DEADLINE, body.collect())
                .await
                .expect("a finished response's body arrives")
                .unwrap()
                .to_bytes();
            let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Reply { code, json, streamed: false }
        }))
    }

    pub fn send(&self, method: Method, uri: &str, content_type: &str, body: Bytes) -> Reply {
        self.try_send(method, uri, content_type, body).expect("a valid URI")
    }

    pub fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, "", Bytes::new())
    }
}

/// The rules for any response: a failure is a `Status` whose `code` is the HTTP code, and the
/// server answers 5xx only where kube-apiserver does (`allow_500`).
pub fn check_reply(r: &Reply, allow_500: bool) -> Result<(), String> {
    if r.streamed {
        return if r.code == 200 { Ok(()) } else { Err(format!("a streamed response with code {}", r.code)) };
    }
    // A resourceVersion ahead of the store waits, then times out, as in kube-apiserver.
    let too_large_rv = r.code == 504 && r.json["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge";
    if r.code >= 500 && !(r.code == 500 && allow_500) && !too_large_rv {
        return Err(format!("server error {}: {}", r.code, r.json));
    }
    if r.code >= 400 {
        let j = &r.json;
        let ok = j["kind"] == "Status"
            && j["apiVersion"] == "v1"
            && j["status"] == "Failure"
            && j["code"] == r.code
            // StatusReasonUnknown ("") is left out.
            && (j["reason"].is_string() || (r.code == 500 && j["reason"].is_null()))
            && j["message"].is_string();
        if !ok {
            return Err(format!("a {} that is not a proper Status: {j}", r.code));
        }
    }
    Ok(())
}
