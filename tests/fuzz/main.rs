#![cfg(not(madsim))]
//! Fuzzing of everything a client controls, driven by proptest inside the test suite (#7 point 8):
//! request paths, query parameters, label and field selectors, the JSON body of every kind, and
//! each patch type. Each target replays its corpus (`tests/fuzz/corpus/`) and then runs seeded
//! generated and mutated inputs; see `engine.rs` for the knobs (`cargo xtask fuzz` runs long).
//!
//! The rules every input must keep: no panic; an error is a Kubernetes `Status` whose `code` is
//! the HTTP code; no 5xx (except the 500s kube-apiserver itself gives for some strategic merge
//! patch errors); a refused write writes nothing (the store's revision does not move); an
//! accepted write is what a GET reads back; a selector that parses prints as itself.

mod engine;
mod gen;
mod server;

use bytes::Bytes;
use http::Method;
use kubesim::api::query::{ContinueToken, DeleteQuery, ReadQuery, WriteQuery};
use kubesim::api::request_info;
use kubesim::api::selector::{FieldSelector, LabelSelector};
use proptest::prelude::*;
use proptest::sample::select;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use engine::{fuzz, load_corpus, Outcome};
use server::{check_reply, Server};

/// A short, input-independent shape of an error message: its words up to the first quote or
/// colon (after which messages echo the input), letters only.
fn message_shape(msg: &str) -> String {
    let head = msg.split(['"', '`', '\'', ':']).next().unwrap_or_default();
    let letters: String = head.chars().filter(|c| c.is_ascii_alphabetic() || *c == ' ').collect();
    letters.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------------------------

const LABEL_TOKENS: &[&str] = &[
    "app",
    "tier",
    "x.y/z",
    "a-b",
    "k8s.io/name",
    "=",
    "==",
    "!=",
    " in ",
    " notin ",
    "in",
    "notin",
    "(",
    ")",
    ",",
    "!",
    " ",
    "a",
    "b",
    "1",
    "-",
    "_",
    ".",
    "/",
    ">",
    "<",
    "gt",
    "lt",
    "42",
    "frontend",
    "exists",
];

fn labels_samples() -> Vec<std::collections::BTreeMap<String, String>> {
    let m = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    vec![m(&[]), m(&[("app", "a"), ("tier", "1")]), m(&[("x.y/z", "b"), ("a-b", "42")])]
}

#[test]
fn fuzz_label_selector() {
    let seeds: Vec<String> = load_corpus("label_selector");
    let strategy = prop_oneof![gen::tokens(LABEL_TOKENS, 12), gen::mutated(seeds, LABEL_TOKENS)];
    let samples = labels_samples();
    fuzz("label_selector", 20_000, strategy, |input: &String| -> Outcome {
        match LabelSelector::parse(input) {
            Err(e) => Ok(format!("err {}", message_shape(&e.0))),
            Ok(sel) => {
                let printed = sel.to_string();
                let again = LabelSelector::parse(&printed).map_err(|e| {
                    format!("{input:?} parsed, but its printed form {printed:?} does not: {e}")
                })?;
                if again != sel || again.to_string() != printed {
                    return Err(format!("{input:?} prints as {printed:?}, which parses differently"));
                }
                let matched: Vec<bool> = samples.iter().map(|l| sel.matches(l)).collect();
                Ok(format!("ok {} requirements, matches {matched:?}", sel.requirements().len().min(3)))
            }
        }
    });
}

const FIELD_TOKENS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
    "spec.schedulerName",
    "=",
    "==",
    "!=",
    ",",
    "\\",
    "\\,",
    "\\=",
    "\\\\",
    " ",
    "a",
    "fuzz-node",
    "Running",
    "",
    "x",
    "!",
];

#[test]
fn fuzz_field_selector() {
    let seeds: Vec<String> = load_corpus("field_selector");
    let strategy = prop_oneof![gen::tokens(FIELD_TOKENS, 12), gen::mutated(seeds, FIELD_TOKENS)];
    fuzz("field_selector", 20_000, strategy, |input: &String| -> Outcome {
        match FieldSelector::parse(input) {
            Err(e) => Ok(format!("err {}", message_shape(&e.0))),
            Ok(sel) => {
                let printed = sel.to_string();
                let again = FieldSelector::parse(&printed).map_err(|e| {
                    format!("{input:?} parsed, but its printed form {printed:?} does not: {e}")
                })?;
                if again != sel || again.to_string() != printed {
                    return Err(format!("{input:?} prints as {printed:?}, which parses differently"));
                }
                let m = sel.matches(|f| (f == "metadata.name").then(|| "a".to_owned()));
                Ok(format!("ok {} requirements, matches {m}", sel.requirements().len().min(3)))
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------------------------

const QUERY_TOKENS: &[&str] = &[
    "&",
    "=",
    "labelSelector",
    "fieldSelector",
    "resourceVersion",
    "resourceVersionMatch",
    "limit",
    "continue",
    "watch",
    "allowWatchBookmarks",
    "timeoutSeconds",
    "sendInitialEvents",
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "gracePeriodSeconds",
    "propagationPolicy",
    "orphanDependents",
    "pretty",
    "includeObject",
    "All",
    "Strict",
    "Warn",
    "Ignore",
    "NotOlderThan",
    "Exact",
    "0",
    "1",
    "5",
    "500",
    "true",
    "false",
    "app%3Da",
    "metadata.name%3Dfuzz-pod",
    "Orphan",
    "Background",
    "Foreground",
    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhIn0",
];

#[test]
fn fuzz_query() {
    let seeds: Vec<String> = load_corpus("query");
    let strategy = prop_oneof![gen::tokens(QUERY_TOKENS, 16), gen::mutated(seeds, QUERY_TOKENS)];
    let server = Server::start(&[("/api/v1/namespaces/default/pods", pod("fuzz-pod"))]);
    fuzz("query", 1_500, strategy, |q: &String| -> Outcome {
        let mut sig = Vec::new();
        for (what, r) in [
            ("read", ReadQuery::parse(Some(q)).map(|_| ())),
            ("write", WriteQuery::parse(Some(q)).map(|_| ())),
            ("delete", DeleteQuery::parse(Some(q)).map(|_| ())),
        ] {
            if let Err(e) = r {
                // 400 BadRequest, or 422 Invalid for inconsistent ListOptions, as kube answers.
                if e.code() != 400 && e.code() != 422 {
                    return Err(format!("{what} query {q:?} refused with {} (want 400/422): {e}", e.code()));
                }
                sig.push(what.to_owned());
            }
        }
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k == "continue" {
                let _ = ContinueToken::decode(&v);
            }
        }
        for path in
            ["/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/fuzz-pod", "/api/v1/pods"]
        {
            let uri = format!("{path}?{q}");
            let Some(r) = server.try_send(Method::GET, &uri, "", Bytes::new()) else {
                sig.push("not a URI".to_owned());
                break;
            };
            check_reply(&r, false).map_err(|e| format!("GET {uri}: {e}"))?;
            sig.push(if r.code < 300 { "2xx".to_owned() } else { r.signature() });
        }
        Ok(sig.join(" "))
    });
}

// ---------------------------------------------------------------------------------------------
// Request paths
// ---------------------------------------------------------------------------------------------

const PATH_TOKENS: &[&str] = &[
    "/",
    "api",
    "apis",
    "v1",
    "v2",
    "namespaces",
    "default",
    "kube-system",
    "fuzz",
    "pods",
    "nodes",
    "status",
    "binding",
    "eviction",
    "log",
    "finalize",
    "configmaps",
    "secrets",
    "events",
    "leases",
    "coordination.k8s.io",
    "rbac.authorization.k8s.io",
    "roles",
    "clusterroles",
    "healthz",
    "readyz",
    "livez",
    "version",
    "openapi",
    "metrics",
    "fuzz-pod",
    "fuzz-node",
    "%2F",
    "..",
    ".",
    "watch",
    "proxy",
    "apps",
    "deployments",
    "A",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PathInput {
    method: String,
    path: String,
    query: String,
    /// Index into [`path_bodies`].
    body: u8,
}

fn path_bodies() -> Vec<Value> {
    vec![Value::Null, json!({}), pod("fz"), node("fz"), json!([]), json!({"kind": "Status"})]
}

const METHODS: &[&str] =
    &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FUZZ"];

#[test]
fn fuzz_request_path() {
    let seeds: Vec<PathInput> = load_corpus("request_path");
    let paths: Vec<String> = seeds.iter().map(|s| s.path.clone()).collect();
    let n_bodies = path_bodies().len() as u8;
    let strategy = (
        select(METHODS),
        prop_oneof![
            gen::tokens(PATH_TOKENS, 10).prop_map(|p| format!("/{p}")),
            gen::mutated(paths, PATH_TOKENS)
        ],
        prop_oneof![Just(String::new()), gen::tokens(QUERY_TOKENS, 6)],
        0..n_bodies,
    )
        .prop_map(|(m, path, query, body)| PathInput { method: m.to_owned(), path, query, body });
    let server = Server::start(&[
        ("/api/v1/namespaces/default/pods", pod("fuzz-pod")),
        ("/api/v1/nodes", node("fuzz-node")),
    ]);
    let bodies = path_bodies();
    fuzz("request_path", 3_000, strategy, |i: &PathInput| -> Outcome {
        let method =
            Method::from_bytes(i.method.as_bytes()).map_err(|e| format!("bad method in input: {e}"))?;
        let query = (!i.query.is_empty()).then_some(i.query.as_str());
        let parsed = match request_info::parse(&method, &i.path, query) {
            Ok(_) => "parsed".to_owned(),
            Err(e) => format!("parse {}", e.code()),
        };
        let uri = if i.query.is_empty() { i.path.clone() } else { format!("{}?{}", i.path, i.query) };
        let body = &bodies[i.body as usize % bodies.len()];
        let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        let ct = if i.method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
        let Some(r) = server.try_send(method, &uri, ct, body) else {
            return Ok(format!("{parsed}, not a URI"));
        };
        check_reply(&r, false).map_err(|e| format!("{} {uri}: {e}", i.method))?;
        Ok(format!("{parsed}, {} {}", i.method, r.signature()))
    });
}

// ---------------------------------------------------------------------------------------------
// JSON bodies of every kind
// ---------------------------------------------------------------------------------------------

/// Every served resource: (plural, collection path, a valid object named `name`).
fn kinds(name: &str) -> Vec<(&'static str, String, Value)> {
    let ns = "/api/v1/namespaces/default";
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let meta = json!({"name": name, "labels": {"app": "a"}});
    vec![
        (
            "namespaces",
            "/api/v1/namespaces".into(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}),
        ),
        ("pods", format!("{ns}/pods"), pod(name)),
        ("nodes", "/api/v1/nodes".into(), node(name)),
        (
            "configmaps",
            format!("{ns}/configmaps"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b", "c.d": "e"}}),
        ),
        (
            "secrets",
            format!("{ns}/secrets"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
                   "data": {"k": "dmFsdWU="}, "stringData": {"s": "t"}}),
        ),
        (
            "events",
            format!("{ns}/events"),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": meta, "reason": "Started", "message": "m",
                   "type": "Normal", "count": 1,
                   "involvedObject": {"kind": "Pod", "namespace": "default", "name": "fuzz-pod"},
                   "source": {"component": "fuzz"}, "firstTimestamp": "2024-01-01T00:00:00Z"}),
        ),
        (
            "limitranges",
            format!("{ns}/limitranges"),
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": meta,
                   "spec": {"limits": [{"type": "Container", "default": {"cpu": "200m", "memory": "64Mi"},
                                        "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "2"}}]}}),
        ),
        (
            "resourcequotas",
            format!("{ns}/resourcequotas"),
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta,
                   "spec": {"hard": {"pods": "1000", "requests.cpu": "100", "requests.memory": "100Gi"}}}),
        ),
        (
            "leases",
            "/apis/coordination.k8s.io/v1/namespaces/default/leases".into(),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                   "spec": {"holderIdentity": "a", "leaseDurationSeconds": 40,
                            "renewTime": "2024-01-01T00:00:00.000000Z"}}),
        ),
        (
            "roles",
            format!("{rbac}/namespaces/default/roles"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        ),
        (
            "rolebindings",
            format!("{rbac}/namespaces/default/rolebindings"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}),
        ),
        (
            "clusterroles",
            format!("{rbac}/clusterroles"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta,
                   "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
                             {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}),
        ),
        (
            "clusterrolebindings",
            format!("{rbac}/clusterrolebindings"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta,
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"}]}),
        ),
    ]
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "a"}, "annotations": {"x": "y"}, "finalizers": []},
        "spec": {
            "containers": [
                {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                 "ports": [{"containerPort": 80}], "env": [{"name": "E", "value": "v"}]},
                {"name": "d", "image": "busybox"}
            ],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
        }
    })
}

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"app": "a"}},
        "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct BodyInput {
    plural: String,
    /// `create` (POST to the collection) or `update` (PUT to the seeded object `fuzz-obj`).
    verb: String,
    body: String,
}

/// The object a successful write answered with is what a GET now reads.
fn check_written(server: &Server, collection: &str, reply: &server::Reply) -> Result<(), String> {
    let name = reply.json["metadata"]["name"].as_str().ok_or("a written object without a name")?;
    let rv = &reply.json["metadata"]["resourceVersion"];
    let cluster_scoped = !collection.contains("/namespaces/") || collection == "/api/v1/namespaces";
    let path = if cluster_scoped {
        format!("{collection}/{name}")
    } else {
        let ns =
            reply.json["metadata"]["namespace"].as_str().ok_or("a namespaced object without a namespace")?;
        let (prefix, plural) = collection.rsplit_once('/').unwrap();
        let prefix = prefix.rsplit_once("/namespaces/").unwrap().0;
        format!("{prefix}/namespaces/{ns}/{plural}/{name}")
    };
    let read = server.get(&path);
    if read.code != 200 || &read.json["metadata"]["resourceVersion"] != rv {
        return Err(format!("wrote {path} at {rv}, but GET answers {}: {}", read.code, read.json));
    }
    Ok(())
}

/// Sends a write; checks the reply, that a refused write changed nothing in the store and that an
/// accepted one reads back.
fn write(server: &Server, method: Method, uri: &str, ct: &str, body: &str, allow_500: bool) -> Outcome {
    let before = server.revision();
    let Some(r) = server.try_send(method.clone(), uri, ct, Bytes::from(body.to_owned())) else {
        return Ok("not a URI".into());
    };
    check_reply(&r, allow_500).map_err(|e| format!("{method} {uri}: {e}"))?;
    if r.code >= 300 {
        let after = server.revision();
        let changed: Vec<String> =
            if after == before { Vec::new() } else { server.changed_between(before, after) }
                .into_iter()
                .filter(|(key, a, b)| !quota_status_refreshed(key, a, b))
                .map(|(key, a, b)| format!("{key}: {a:?} -> {b:?}"))
                .collect();
        if !changed.is_empty() {
            return Err(format!("{method} {uri} was refused ({}) but changed {changed:?}", r.code));
        }
    } else {
        let collection = uri.split('?').next().unwrap();
        let collection = if method == Method::POST { collection.to_owned() } else { parent(collection) };
        check_written(server, &collection, &r).map_err(|e| format!("{method} {uri}: {e}"))?;
    }
    if r.code >= 500 {
        return Ok(format!(
            "{} {}",
            r.signature(),
            message_shape(r.json["message"].as_str().unwrap_or_default())
        ));
    }
    Ok(r.signature())
}

/// A refused create may still write a ResourceQuota: kube-apiserver charges quota before the
/// store write, and kubesim gives a refused write's charge back by recounting, which also
/// brings a stale `status.hard` up to date with `spec.hard` (kube's quota controller does the same
/// on its own). Anything else about the quota must be as it was.
fn quota_status_refreshed(key: &str, before: &Option<Value>, after: &Option<Value>) -> bool {
    let (Some(a), Some(b)) = (before, after) else { return false };
    if !key.starts_with("/resourcequotas/") || a["spec"] != b["spec"] {
        return false;
    }
    let (mut a, mut b) = (a.clone(), b.clone());
    let stale = a["status"]["hard"] != b["status"]["hard"];
    for v in [&mut a, &mut b] {
        v["metadata"]["generation"] = Value::Null;
        if stale {
            v["status"] = Value::Null;
        }
    }
    a == b
}

/// `/a/b/name[/sub]` → `/a/b` for an object path (subresource dropped).
fn parent(object_path: &str) -> String {
    let mut p = object_path.to_owned();
    for sub in ["/status", "/binding"] {
        if let Some(s) = p.strip_suffix(sub) {
            p = s.to_owned();
        }
    }
    p.rsplit_once('/').unwrap().0.to_owned()
}

#[test]
fn fuzz_body() {
    let seeds: Vec<BodyInput> = load_corpus("body");
    let bases = kinds("fz");
    let plurals: Vec<&'static str> = bases.iter().map(|b| b.0).collect();
    // New objects (`fz`) to create, then the seeded ones (`fuzz-obj`) to update.
    let docs: Vec<Value> =
        bases.iter().map(|b| b.2.clone()).chain(kinds("fuzz-obj").into_iter().map(|b| b.2)).collect();
    let texts: Vec<String> = seeds.iter().map(|s| s.body.clone()).collect();
    let p2 = plurals.clone();
    let strategy = prop_oneof![
        4 => gen::edited_json(docs).prop_map(move |(i, body)| {
            let verb = if i < p2.len() { "create" } else { "update" };
            BodyInput { plural: p2[i % p2.len()].to_owned(), verb: verb.to_owned(), body }
        }),
        2 => (select(plurals), select(&["create", "update"][..]), gen::mutated(texts, gen::KEYS))
            .prop_map(|(p, verb, body)| BodyInput { plural: p.to_owned(), verb: verb.to_owned(), body }),
    ];
    let seeded = kinds("fuzz-obj");
    let server =
        Server::start(&seeded.iter().map(|(_, path, doc)| (path.as_str(), doc.clone())).collect::<Vec<_>>());
    fuzz("body", 2_000, strategy, |i: &BodyInput| -> Outcome {
        let (_, collection, _) = seeded
            .iter()
            .find(|k| k.0 == i.plural)
            .ok_or_else(|| format!("unknown plural {} in input", i.plural))?;
        let (method, uri) = match i.verb.as_str() {
            "create" => (Method::POST, collection.clone()),
            _ => (Method::PUT, format!("{collection}/fuzz-obj")),
        };
        let sig = write(&server, method, &uri, "application/json", &i.body, false)?;
        Ok(format!("{} {} {sig}", i.plural, i.verb))
    });
}

// ---------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------

const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/json",
    "text/plain",
];

/// Patch targets: the seeded objects and their status subresources.
const PATCH_TARGETS: &[&str] = &[
    "/api/v1/namespaces/default/pods/fuzz-obj",
    "/api/v1/namespaces/default/pods/fuzz-obj/status",
    "/api/v1/nodes/fuzz-obj",
    "/api/v1/nodes/fuzz-obj/status",
    "/api/v1/namespaces/default/configmaps/fuzz-obj",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases/fuzz-obj",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/fuzz-obj",
    "/api/v1/namespaces/default/resourcequotas/fuzz-obj/status",
];

const POINTERS: &[&str] = &[
    "",
    "/",
    "/metadata",
    "/metadata/name",
    "/metadata/labels",
    "/metadata/labels/app",
    "/metadata/labels/new",
    "/metadata/annotations/x",
    "/metadata/resourceVersion",
    "/metadata/uid",
    "/metadata/finalizers/-",
    "/metadata/finalizers/0",
    "/spec",
    "/spec/containers",
    "/spec/containers/0",
    "/spec/containers/-",
    "/spec/containers/0/image",
    "/spec/containers/1",
    "/spec/containers/99",
    "/spec/containers/-1",
    "/spec/nodeName",
    "/status",
    "/status/phase",
    "/status/conditions/0",
    "/data/a",
    "/data",
    "/kind",
    "/apiVersion",
    "/spec/taints/0/effect",
    "/rules/0/verbs/-",
    "/metadata/labels/a~1b",
    "/~0",
    "/a/b/c",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PatchInput {
    content_type: String,
    target: String,
    body: String,
}

fn json_patch() -> BoxedStrategy<String> {
    let op = (
        select(&["add", "remove", "replace", "move", "copy", "test", "bogus"][..]),
        select(POINTERS),
        prop::option::of(gen::json_value(2)),
        prop::option::of(select(POINTERS)),
    )
        .prop_map(|(op, path, value, from)| {
            let mut o = json!({"op": op, "path": path});
            if let Some(v) = value {
                o["value"] = v;
            }
            if let Some(f) = from {
                o["from"] = json!(f);
            }
            o
        });
    prop::collection::vec(op, 0..6).prop_map(|ops| Value::Array(ops).to_string()).boxed()
}

#[test]
fn fuzz_patch() {
    let seeds: Vec<PatchInput> = load_corpus("patch");
    let texts: Vec<String> = seeds.iter().map(|s| s.body.clone()).collect();
    let seeded = kinds("fuzz-obj");
    let partials: Vec<Value> = seeded.iter().map(|k| k.2.clone()).collect();
    let strategy = prop_oneof![
        (Just(PATCH_TYPES[0]), select(PATCH_TARGETS), json_patch()),
        (select(&PATCH_TYPES[1..3]), select(PATCH_TARGETS), gen::json_value(4).prop_map(|v| v.to_string())),
        (select(&PATCH_TYPES[1..3]), select(PATCH_TARGETS), gen::edited_json(partials).prop_map(|(_, b)| b)),
        (select(PATCH_TYPES), select(PATCH_TARGETS), gen::mutated(texts, gen::KEYS)),
    ]
    .prop_map(|(ct, target, body)| PatchInput {
        content_type: ct.to_owned(),
        target: target.to_owned(),
        body,
    });
    let server =
        Server::start(&seeded.iter().map(|(_, path, doc)| (path.as_str(), doc.clone())).collect::<Vec<_>>());
    fuzz("patch", 3_000, strategy, |i: &PatchInput| -> Outcome {
        // kube-apiserver itself answers 500 for some strategic-merge-patch errors.
        let smp = i.content_type.contains("strategic");
        let sig = write(&server, Method::PATCH, &i.target, &i.content_type, &i.body, smp)?;
        Ok(format!("{} {sig}", i.content_type))
    });
}
