//! OpenAPI v3 documents: `GET /openapi/v3` (the index) and `GET /openapi/v3/<api path>?hash=...`
//! (one document per group-version).
//!
//! # What kubectl reads, and why this is enough
//!
//! `kubectl create -f` / `kubectl apply -f` default to `--validate=strict`. kubectl
//! (`pkg/cmd/util/factory_client_access.go Validator`) wraps its client-side schema validation in a
//! `paramVerifyingSchema` (`kubectl/pkg/validation/schema.go`) whose verifier is
//! `NewFallbackQueryParamVerifier(NewQueryParamVerifierV3(...), NewQueryParamVerifier(v2...))`
//! (cli-runtime `pkg/resource/query_param_verifier_v3.go`, `fallback_query_param_verifier.go`):
//!
//! 1. `openapi3.Root.GVSpec(gv)` (client-go `openapi3/root.go`) GETs `/openapi/v3`, parses
//!    `{"paths":{"<api path>":{"serverRelativeURL":"..."}}}` (kube-openapi `handler3.OpenAPIV3Discovery`),
//!    looks up `api/v1` or `apis/<group>/<version>` and GETs its `serverRelativeURL` with
//!    `Accept: application/json` (client-go `openapi/groupversion.go`; a URL starting with `/openapi/v3`
//!    keeps the client's path prefix and its `hash` query is re-added as a parameter).
//! 2. It unmarshals a `spec3.OpenAPI`; `paths` must be present ("Invalid OpenAPI V3 document" otherwise).
//! 3. `supportsQueryParamV3` walks every path item, takes the **PATCH** operation whose
//!    `x-kubernetes-group-version-kind` (a single `{group,version,kind}` object) equals the object's GVK,
//!    and returns true iff that operation's **own** `parameters` list (not the path item's) has one named
//!    `fieldValidation`. Path iteration order is random in Go, so every PATCH carrying a GVK (item and
//!    `/status`) declares `fieldValidation`.
//! 4. Supported → `paramVerifyingSchema.ValidateBytes` returns nil: **no client-side schema validation
//!    at all**, and kubectl sends `?fieldValidation=Strict`; the server must then reject unknown fields.
//!    Unsupported → kubectl validates client-side against the OpenAPI **v2** protobuf. Any other error
//!    (e.g. /openapi/v3 failing) → falls back to v2 for the check.
//!
//! So validation needs no `components.schemas`.
//!
//! Client-side apply (`kubectl/pkg/cmd/apply/patcher.go patchSimple`): if the GVK's PATCH lists
//! `application/strategic-merge-patch+json` in its `requestBody.content`, kubectl calls
//! `buildStrategicMergePatchFromOpenAPIV3`, which needs `components` to be non-null (else it prints
//! "warning: error calculating patch from openapi v3 spec: OpenAPI V3 Components is nil") and searches
//! `components.schemas` for a schema whose `x-kubernetes-group-version-kind` list names the GVK. None
//! is found here (on purpose: `"components":{"schemas":{}}`), so it returns no patch without a warning,
//! tries OpenAPI v2 (fails silently, see below) and computes the strategic merge patch from its
//! compiled-in Go types (`strategicpatch.NewPatchMetaFromStruct`), which carry the correct
//! `patchStrategy`/`patchMergeKey` for every built-in kind served here. Shipping hand-written schemas
//! would risk wrong merge keys for no gain.
//!
//! # `GET /openapi/v2`
//!
//! client-go (`discovery_client.go OpenAPISchema`) requests it only with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and proto-unmarshals the body.
//! kubesim should answer **404 NotFound** with a `Status` body ([`v2_not_found_status`]; 406 would do
//! too, never a JSON 200, which would fail proto decoding with a confusing error). With the v3 documents
//! here kubectl only reaches v2 (a) in `patchSimple`, where an error is ignored silently and the
//! compiled-in types are used, (b) in the fallback verifier when v3 itself failed, and (c) for
//! client-side validation of kinds whose PATCH lacks `fieldValidation` (e.g. `v1 List`, unserved
//! kinds); (b)/(c) then fail with kubectl's "failed to download openapi ... turn validation off with
//! --validate=false", which is also what an unreachable v2 gives against a real server.

use serde_json::{json, Map, Value};

use crate::api::resources::{Resource, Subresource, RESOURCES};

/// Content-Type of the index and of every document.
pub const CONTENT_TYPE: &str = "application/json";

/// The HTTP status kubesim returns for `GET /openapi/v2` (see the module docs).
pub const V2_STATUS_CODE: u16 = 404;

/// The `Status` body for `GET /openapi/v2` (404 NotFound).
pub fn v2_not_found_status() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    })
}

/// The api paths that have a document: `api/v1`, `apis/<group>/<version>`, in table order.
pub fn v3_paths() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in RESOURCES {
        let p = api_path(r.group, r.version);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn api_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=<HASH>"},...}}`.
/// The hash is derived from the document's serialized content, so it changes iff the document does.
pub fn v3_index() -> Value {
    let mut paths = Map::new();
    for p in v3_paths() {
        let doc = v3_document(&p).expect("listed path has a document");
        let url = format!("/openapi/v3/{p}?hash={}", document_hash(&doc));
        paths.insert(p, json!({ "serverRelativeURL": url }));
    }
    json!({ "paths": paths })
}

/// A stable content hash of a document: 32 upper-case hex digits (two FNV-1a 64-bit lanes over the
/// serialized JSON). kube-apiserver uses SHA-512; clients treat the value as opaque.
pub fn document_hash(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x6c62_272e_07bb_0142;
    for &b in &bytes {
        h1 ^= u64::from(b);
        h1 = h1.wrapping_mul(0x0000_0100_0000_01b3);
        h2 ^= u64::from(b.rotate_left(3));
        h2 = h2.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h1:016X}{h2:016X}")
}

/// `GET /openapi/v3/<path>` for `path` = `api/v1` or `apis/<group>/<version>` (a leading `/` and an
/// `openapi/v3/` prefix are tolerated; strip the query first). None if that group-version is not served.
pub fn v3_document(path: &str) -> Option<Value> {
    let p = path.trim_start_matches('/');
    let p = p.strip_prefix("openapi/v3/").unwrap_or(p);
    let p = p.trim_end_matches('/');
    let parts: Vec<&str> = p.split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] if !g.is_empty() => (*g, *v),
        _ => return None,
    };
    let served: Vec<&Resource> =
        RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for r in served {
        add_resource_paths(&mut paths, r);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.34.0" },
        "paths": paths,
        "components": {
            // Deliberately empty: see the module docs (kubectl falls back to compiled-in types).
            "schemas": {},
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{ "BearerToken": [] }],
    }))
}

fn url_prefix(r: &Resource) -> String {
    if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    }
}

/// `coordination.k8s.io` → `Coordination`, `rbac.authorization.k8s.io` → `RbacAuthorization`, "" → `Core`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split('.').map(capitalize).collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn tag(r: &Resource) -> String {
    let g = group_camel(r.group);
    let mut c = g.chars();
    let lower: String = match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    };
    format!("{lower}_{}", r.version)
}

fn param(name: &str, location: &str, description: &str, schema: Value, required: bool) -> Value {
    let mut p = Map::new();
    p.insert("name".into(), json!(name));
    p.insert("in".into(), json!(location));
    p.insert("description".into(), json!(description));
    if required {
        p.insert("required".into(), json!(true));
    }
    p.insert("schema".into(), schema);
    Value::Object(p)
}

fn q_string(name: &str, description: &str) -> Value {
    param(name, "query", description, json!({ "type": "string", "uniqueItems": true }), false)
}

fn q_bool(name: &str, description: &str) -> Value {
    param(name, "query", description, json!({ "type": "boolean", "uniqueItems": true }), false)
}

fn q_int(name: &str, description: &str) -> Value {
    param(name, "query", description, json!({ "type": "integer", "uniqueItems": true }), false)
}

fn dry_run() -> Value {
    q_string("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed")
}

fn field_manager() -> Value {
    q_string(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    )
}

/// The parameter kubectl's `--validate=strict` looks for on the PATCH operation.
fn field_validation() -> Value {
    q_string(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
    )
}

fn list_params() -> Vec<Value> {
    vec![
        q_bool("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
        q_string("continue", "The continue option should be set when retrieving more results from the server."),
        q_string("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
        q_string("labelSelector", "A selector to restrict the list of returned objects by their labels."),
        q_int("limit", "limit is a maximum number of responses to return for a list call."),
        q_string("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        q_string("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
        q_bool("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`."),
        q_int("timeoutSeconds", "Timeout for the list/watch call."),
        q_bool("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        q_int("gracePeriodSeconds", "The duration in seconds before the object should be deleted."),
        q_bool("ignoreStoreReadErrorWithClusterBreakingPotential", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error."),
        q_bool("orphanDependents", "Deprecated: please use the PropagationPolicy."),
        q_string("propagationPolicy", "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'."),
    ]
}

fn path_params(namespaced: bool, named: bool) -> Value {
    let mut v = Vec::new();
    if named {
        v.push(param(
            "name",
            "path",
            "name of the object",
            json!({ "type": "string", "uniqueItems": true }),
            true,
        ));
    }
    if namespaced {
        v.push(param(
            "namespace",
            "path",
            "object name and auth scope, such as for teams and projects",
            json!({ "type": "string", "uniqueItems": true }),
            true,
        ));
    }
    v.push(q_string("pretty", "If 'true', then the output is pretty printed."));
    Value::Array(v)
}

fn object_schema() -> Value {
    json!({ "type": "object" })
}

fn body(types: &[&str]) -> Value {
    let mut content = Map::new();
    for t in types {
        content.insert((*t).to_owned(), json!({ "schema": object_schema() }));
    }
    json!({ "content": content, "required": true })
}

const RESPONSE_TYPES: &[&str] =
    &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn responses(codes: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (code, desc) in codes {
        let mut content = Map::new();
        for t in RESPONSE_TYPES {
            content.insert((*t).to_owned(), json!({ "schema": object_schema() }));
        }
        out.insert((*code).to_owned(), json!({ "description": desc, "content": content }));
    }
    out.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

struct OpSpec<'a> {
    action: &'a str,
    description: String,
    kind: &'a str,
    params: Vec<Value>,
    request_body: Option<Value>,
    responses: Value,
}

fn operation(r: &Resource, op_id: String, spec: OpSpec<'_>) -> Value {
    let mut o = Map::new();
    o.insert("tags".into(), json!([tag(r)]));
    o.insert("description".into(), json!(spec.description));
    o.insert("operationId".into(), json!(op_id));
    if !spec.params.is_empty() {
        o.insert("parameters".into(), Value::Array(spec.params));
    }
    if let Some(b) = spec.request_body {
        o.insert("requestBody".into(), b);
    }
    o.insert("responses".into(), spec.responses);
    o.insert("x-kubernetes-action".into(), json!(spec.action));
    o.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({ "group": r.group, "version": r.version, "kind": spec.kind }),
    );
    Value::Object(o)
}

fn op_id(verb: &str, r: &Resource, namespaced_word: bool, suffix: &str) -> String {
    format!(
        "{verb}{}{}{}{}{}",
        group_camel(r.group),
        capitalize(r.version),
        if namespaced_word { "Namespaced" } else { "" },
        r.kind,
        suffix
    )
}

const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const WRITE_TYPES: &[&str] = &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn add_resource_paths(paths: &mut Map<String, Value>, r: &Resource) {
    let prefix = url_prefix(r);
    let has = |v: &str| r.verbs.contains(&v);
    let ns = r.namespaced;
    let collection = if ns {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let item = format!("{collection}/{{name}}");

    // Collection: list, create, deletecollection.
    let mut coll = Map::new();
    coll.insert("parameters".into(), path_params(ns, false));
    if has("list") {
        coll.insert(
            "get".into(),
            operation(
                r,
                op_id("list", r, ns, ""),
                OpSpec {
                    action: "list",
                    description: format!("list or watch objects of kind {}", r.kind),
                    kind: r.kind,
                    params: list_params(),
                    request_body: None,
                    responses: responses(&[("200", "OK")]),
                },
            ),
        );
    }
    if has("create") {
        coll.insert(
            "post".into(),
            operation(
                r,
                op_id("create", r, ns, ""),
                OpSpec {
                    action: "post",
                    description: format!("create a {}", r.kind),
                    kind: r.kind,
                    params: vec![dry_run(), field_manager(), field_validation()],
                    request_body: Some(body(WRITE_TYPES)),
                    responses: responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")]),
                },
            ),
        );
    }
    if has("deletecollection") {
        let mut params = delete_params();
        params.extend(list_params());
        coll.insert(
            "delete".into(),
            operation(
                r,
                op_id("deletecollection", r, ns, ""),
                OpSpec {
                    action: "deletecollection",
                    description: format!("delete collection of {}", r.kind),
                    kind: r.kind,
                    params,
                    request_body: Some(body(&["application/json"])),
                    responses: responses(&[("200", "OK")]),
                },
            ),
        );
    }
    if coll.len() > 1 {
        paths.insert(collection.clone(), Value::Object(coll));
    }

    // All-namespaces list for namespaced resources.
    if ns && has("list") {
        let mut all = Map::new();
        all.insert("parameters".into(), path_params(false, false));
        all.insert(
            "get".into(),
            operation(
                r,
                op_id("list", r, false, "ForAllNamespaces"),
                OpSpec {
                    action: "list",
                    description: format!("list or watch objects of kind {}", r.kind),
                    kind: r.kind,
                    params: list_params(),
                    request_body: None,
                    responses: responses(&[("200", "OK")]),
                },
            ),
        );
        paths.insert(format!("{prefix}/{}", r.plural), Value::Object(all));
    }

    // Item: read, replace, patch, delete.
    let mut it = Map::new();
    it.insert("parameters".into(), path_params(ns, true));
    add_item_ops(&mut it, r, r.verbs, r.kind, "");
    if has("delete") {
        it.insert(
            "delete".into(),
            operation(
                r,
                op_id("delete", r, ns, ""),
                OpSpec {
                    action: "delete",
                    description: format!("delete a {}", r.kind),
                    kind: r.kind,
                    params: delete_params(),
                    request_body: Some(body(&["application/json"])),
                    responses: responses(&[("200", "OK"), ("202", "Accepted")]),
                },
            ),
        );
    }
    if it.len() > 1 {
        paths.insert(item.clone(), Value::Object(it));
    }

    // Subresources.
    for s in r.subresources {
        let mut sp = Map::new();
        sp.insert("parameters".into(), path_params(ns, true));
        add_subresource_ops(&mut sp, r, s);
        if sp.len() > 1 {
            paths.insert(format!("{item}/{}", s.name), Value::Object(sp));
        }
    }
}

/// get/put/patch on an item-like path (the item itself or a subresource).
fn add_item_ops(m: &mut Map<String, Value>, r: &Resource, verbs: &[&str], kind: &str, sub: &str) {
    let ns = r.namespaced;
    let suffix = capitalize(sub);
    let what = if sub.is_empty() {
        format!("the specified {}", r.kind)
    } else {
        format!("{sub} of the specified {}", r.kind)
    };
    if verbs.contains(&"get") {
        m.insert(
            "get".into(),
            operation(
                r,
                op_id("read", r, ns, &suffix),
                OpSpec {
                    action: "get",
                    description: format!("read {what}"),
                    kind,
                    params: vec![],
                    request_body: None,
                    responses: responses(&[("200", "OK")]),
                },
            ),
        );
    }
    if verbs.contains(&"update") {
        m.insert(
            "put".into(),
            operation(
                r,
                op_id("replace", r, ns, &suffix),
                OpSpec {
                    action: "put",
                    description: format!("replace {what}"),
                    kind,
                    params: vec![dry_run(), field_manager(), field_validation()],
                    request_body: Some(body(WRITE_TYPES)),
                    responses: responses(&[("200", "OK"), ("201", "Created")]),
                },
            ),
        );
    }
    if verbs.contains(&"patch") {
        m.insert(
            "patch".into(),
            operation(
                r,
                op_id("patch", r, ns, &suffix),
                OpSpec {
                    action: "patch",
                    description: format!("partially update {what}"),
                    kind,
                    params: vec![
                        dry_run(),
                        field_manager(),
                        field_validation(),
                        q_bool("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."),
                    ],
                    request_body: Some(body(PATCH_TYPES)),
                    responses: responses(&[("200", "OK"), ("201", "Created")]),
                },
            ),
        );
    }
}

fn add_subresource_ops(m: &mut Map<String, Value>, r: &Resource, s: &Subresource) {
    add_item_ops(m, r, s.verbs, s.kind, s.name);
    if s.verbs.contains(&"create") {
        let ns = r.namespaced;
        m.insert(
            "post".into(),
            operation(
                r,
                op_id("create", r, ns, &capitalize(s.name)),
                OpSpec {
                    action: "post",
                    description: format!("create {} of a {}", s.name, r.kind),
                    kind: s.kind,
                    params: vec![dry_run(), field_manager(), field_validation()],
                    request_body: Some(body(WRITE_TYPES)),
                    responses: responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")]),
                },
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What cli-runtime's supportsQueryParamV3 does: first PATCH op with the GVK decides.
    fn supports_field_validation(doc: &Value, group: &str, version: &str, kind: &str) -> Option<bool> {
        for (_, item) in doc["paths"].as_object()? {
            let Some(op) = item.get("patch") else { continue };
            let gvk = &op["x-kubernetes-group-version-kind"];
            if gvk["group"] == group && gvk["version"] == version && gvk["kind"] == kind {
                let params = op["parameters"].as_array()?;
                return Some(params.iter().any(|p| p["name"] == "fieldValidation"));
            }
        }
        None
    }

    #[test]
    fn index_lists_every_group_version() {
        let idx = v3_index();
        let paths = idx["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 3);
        for p in ["api/v1", "apis/coordination.k8s.io/v1", "apis/rbac.authorization.k8s.io/v1"] {
            let url = paths[p]["serverRelativeURL"].as_str().unwrap();
            assert!(url.starts_with(&format!("/openapi/v3/{p}?hash=")), "{url}");
            let hash = url.split("hash=").nth(1).unwrap();
            assert_eq!(hash.len(), 32);
            assert_eq!(hash, document_hash(&v3_document(p).unwrap()));
        }
    }

    #[test]
    fn hash_is_stable_and_content_sensitive() {
        assert_eq!(v3_index(), v3_index());
        let a = v3_document("api/v1").unwrap();
        let b = v3_document("apis/coordination.k8s.io/v1").unwrap();
        assert_ne!(document_hash(&a), document_hash(&b));
        assert_eq!(document_hash(&a), document_hash(&v3_document("/api/v1").unwrap()));
    }

    #[test]
    fn unknown_paths() {
        assert!(v3_document("api/v2").is_none());
        assert!(v3_document("apis/apps/v1").is_none());
        assert!(v3_document("apis").is_none());
        assert!(v3_document("").is_none());
        assert!(v3_document("openapi/v3/api/v1").is_some());
    }

    #[test]
    fn every_kind_supports_field_validation_on_patch() {
        for r in RESOURCES {
            let doc = v3_document(&api_path(r.group, r.version)).unwrap();
            assert_eq!(supports_field_validation(&doc, r.group, r.version, r.kind), Some(true), "{}", r.kind);
        }
        // Every PATCH op with a GVK carries it (Go map order is random).
        for p in v3_paths() {
            let doc = v3_document(&p).unwrap();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (verb, op) in item.as_object().unwrap() {
                    if ["post", "put", "patch"].contains(&verb.as_str()) {
                        let names: Vec<&str> = op["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p["name"].as_str().unwrap())
                            .collect();
                        assert!(names.contains(&"fieldValidation"), "{path} {verb}");
                        assert!(names.contains(&"fieldManager"), "{path} {verb}");
                        assert!(names.contains(&"dryRun"), "{path} {verb}");
                    }
                }
            }
        }
    }

    #[test]
    fn document_shape() {
        let doc = v3_document("api/v1").unwrap();
        assert_eq!(doc["openapi"], "3.0.0");
        assert!(doc["info"]["title"].is_string());
        // components must be non-null for kubectl's v3 patch path, with no GVK-tagged schema.
        assert!(doc["components"]["schemas"].as_object().unwrap().is_empty());
        let paths = doc["paths"].as_object().unwrap();
        let pod_item = &paths["/api/v1/namespaces/{namespace}/pods/{name}"];
        for verb in ["get", "put", "patch", "delete"] {
            let op = &pod_item[verb];
            assert_eq!(
                op["x-kubernetes-group-version-kind"],
                json!({"group": "", "version": "v1", "kind": "Pod"})
            );
            assert!(op["operationId"].is_string());
            assert!(op["responses"]["200"].is_object());
        }
        assert_eq!(pod_item["patch"]["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(pod_item["patch"]["x-kubernetes-action"], "patch");
        let content = pod_item["patch"]["requestBody"]["content"].as_object().unwrap();
        for t in PATCH_TYPES {
            assert!(content.contains_key(*t), "{t}");
        }
        // Path-level parameters carry name/namespace (required) and pretty.
        let pp: Vec<&str> =
            pod_item["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(pp, vec!["name", "namespace", "pretty"]);
        assert_eq!(pod_item["parameters"][0]["in"], "path");
        assert_eq!(pod_item["parameters"][0]["required"], true);
        // The fieldValidation param is a query parameter with a schema.
        let fv = pod_item["patch"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "fieldValidation")
            .unwrap();
        assert_eq!(fv["in"], "query");
        assert_eq!(fv["schema"]["type"], "string");

        let pods = &paths["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(pods["get"]["x-kubernetes-action"], "list");
        assert_eq!(pods["post"]["x-kubernetes-action"], "post");
        assert_eq!(pods["delete"]["x-kubernetes-action"], "deletecollection");
        assert!(paths["/api/v1/pods"]["get"].is_object());
        assert!(paths["/api/v1/pods"].get("post").is_none());
        let binding = &paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"];
        assert_eq!(binding["post"]["x-kubernetes-group-version-kind"]["kind"], "Binding");
        assert!(binding.get("patch").is_none());
        let status = &paths["/api/v1/namespaces/{namespace}/pods/{name}/status"];
        assert_eq!(status["patch"]["x-kubernetes-group-version-kind"]["kind"], "Pod");
        // Cluster-scoped.
        assert!(paths.contains_key("/api/v1/nodes/{name}"));
        assert!(paths.contains_key("/api/v1/nodes/{name}/status"));
        assert!(paths.contains_key("/api/v1/namespaces/{name}"));
        assert!(paths.contains_key("/api/v1/namespaces/{name}/status"));
        // Namespaces have no deletecollection verb.
        assert!(paths["/api/v1/namespaces"].get("delete").is_none());
        // Core document does not contain other groups.
        assert!(!paths.keys().any(|k| k.contains("leases")));
    }

    #[test]
    fn group_document() {
        let doc = v3_document("apis/rbac.authorization.k8s.io/v1").unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let crb = &paths["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}"];
        assert_eq!(crb["patch"]["operationId"], "patchRbacAuthorizationV1ClusterRoleBinding");
        assert_eq!(crb["patch"]["x-kubernetes-group-version-kind"]["group"], "rbac.authorization.k8s.io");
        assert!(paths.contains_key("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}"));
        assert!(paths.contains_key("/apis/rbac.authorization.k8s.io/v1/roles"));
        let lease = v3_document("apis/coordination.k8s.io/v1").unwrap();
        assert_eq!(
            lease["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"]["patch"]
                ["tags"],
            json!(["coordination_v1"])
        );
    }

    #[test]
    fn v2_answer() {
        assert_eq!(V2_STATUS_CODE, 404);
        let s = v2_not_found_status();
        assert_eq!(s["kind"], "Status");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
    }
}
