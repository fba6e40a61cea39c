//! PATCH bodies applied to the current object as kube-apiserver applies them
//! (apiserver `pkg/endpoints/handlers/patch.go`, apimachinery `pkg/util/strategicpatch`).
//!
//! * `application/json-patch+json`: RFC 6902 (via the `json-patch` crate).
//! * `application/merge-patch+json`: RFC 7386.
//! * `application/strategic-merge-patch+json`: strategic merge patch for the built-in kinds,
//!   with per-field strategies taken from the `patchStrategy` / `patchMergeKey` struct tags of
//!   k8s.io/api (see [`FIELDS`]), and the `$patch`, `$retainKeys`, `$setElementOrder/<field>`
//!   and `$deleteFromPrimitiveList/<field>` directives.
//! * `application/apply-patch+yaml` (server-side apply): not supported, answered with 415.
//!
//! Pure: no IO. Error variants say which HTTP status kube answers with (see [`PatchError`]).

use serde_json::{Map, Value};

/// The PATCH content types (`k8s.io/apimachinery/pkg/types/patch.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (and `+cbor`): server-side apply.
    Apply,
}

impl PatchType {
    /// The patch type for a `Content-Type` header value; parameters (`; charset=utf-8`) and
    /// case are ignored. `None` for anything else (kube: 415 UnsupportedMediaType).
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(PatchType::Apply),
            _ => None,
        }
    }

    /// The canonical media type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Most operations kube accepts in one JSON patch (`maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes one JSON patch may copy in all (kube-apiserver's `JSONPatchMaxCopyBytes`, set to
/// its request body limit: json-patch's `AccumulatedCopySizeLimit`).
pub const JSON_PATCH_MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

/// The size of a value as compact JSON, without building the text.
fn json_size(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(json_size).sum::<usize>() + a.len().saturating_sub(1),
        Value::Object(o) => {
            2 + o.iter().map(|(k, v)| k.len() + 3 + json_size(v)).sum::<usize>() + o.len().saturating_sub(1)
        }
    }
}

/// Why a patch was refused. `Display` is the `message` of the Status kube-apiserver answers
/// with; [`PatchError::code`] and [`PatchError::reason`] give its `code` and `reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 400 `BadRequest`: the body is malformed (kube: `errors.NewBadRequest`): not JSON, a
    /// JSON patch that is not a list of objects, a merge patch that is not an object
    /// (`Invalid JSON Patch`), an SMP body that is not an object, or a malformed SMP
    /// directive (`invalid patch format of primitive list` / `... of retainKeys` /
    /// `... of setElementOrder list`).
    #[error("{0}")]
    BadRequest(String),
    /// 422 `Invalid` built by kube with `NewGenericServerResponse(422, ...)`, whose message is
    /// the fixed text below; the detail (kept here for logs) is *not* sent by kube. Raised
    /// when a JSON patch cannot be applied (missing path, failed `test`, unknown `op`, ...)
    /// and for SMP `lists of lists are not supported`.
    #[error("the server rejected our request due to an error in our request")]
    Unprocessable(String),
    /// 422 `Invalid` (kube: `errors.NewInvalid` on field `patch`): the patched document does
    /// not decode as an object, e.g. a merge patch whose body is a JSON array.
    #[error("{0}")]
    Invalid(String),
    /// 413 `RequestEntityTooLarge`: more than [`MAX_JSON_PATCH_OPERATIONS`] operations.
    #[error("Request entity too large: {0}")]
    RequestEntityTooLarge(String),
    /// 415 `UnsupportedMediaType`: server-side apply (`application/apply-patch+yaml`) is not
    /// implemented by kubesim.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500 with an empty reason (kube's `ErrorToAPIStatus` for an error that is not a
    /// Status): the strategic merge patch code's other errors, e.g. a list item without its
    /// merge key (`map: map[image:x] does not contain declared merge key: name`),
    /// `unknown patch type: ...`, `merging lists cannot yet be specified in the patch`,
    /// `list element types are not identical: ...`.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status code kube answers with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable(_) | PatchError::Invalid(_) => 422,
            PatchError::RequestEntityTooLarge(_) => 413,
            PatchError::UnsupportedMediaType(_) => 415,
            PatchError::Internal(_) => 500,
        }
    }

    /// The Status `reason` kube sends ("" for [`PatchError::Internal`]: StatusReasonUnknown).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Unprocessable(_) | PatchError::Invalid(_) => "Invalid",
            PatchError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            PatchError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            PatchError::Internal(_) => "",
        }
    }
}

/// Applies `patch` (the request body) to `original` (the current object, JSON) for an object
/// of Kubernetes kind `kind` (`Pod`, `Node`, ...; only the strategic merge patch uses it).
/// Returns the patched object; validating it (names, types, immutable fields) is the
/// caller's business, as it is the registry's in kube.
pub fn apply_patch(
    patch_type: PatchType,
    kind: &str,
    original: &Value,
    patch: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => apply_json_patch(original, patch),
        PatchType::Merge => apply_merge_patch(original, patch),
        PatchType::StrategicMerge => apply_strategic_merge_patch(kind, original, patch),
        PatchType::Apply => Err(PatchError::UnsupportedMediaType(
            "server-side apply is not supported by this server: the body of the request was in an \
             unknown format - accepted media types include: application/json-patch+json, \
             application/merge-patch+json, application/strategic-merge-patch+json"
                .to_string(),
        )),
    }
}

fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn not_an_object(doc: &Value) -> PatchError {
    // errors.NewInvalid(schema.GroupKind{}, "", {field.Invalid("patch", doc, err)})
    PatchError::Invalid(format!(
        " \"\" is invalid: patch: Invalid value: {}: the patched object is not a JSON object",
        serde_json::to_string(&serde_json::to_string(doc).unwrap_or_default()).unwrap_or_default()
    ))
}

fn apply_json_patch(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| PatchError::BadRequest(e.to_string()))?;
    let items = match raw {
        Value::Null => Vec::new(), // a nil patch: no operations (as evanphx/json-patch)
        Value::Array(items) => items,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                go_json_kind(&other)
            )))
        }
    };
    if let Some(bad) = items.iter().find(|i| !i.is_object() && !i.is_null()) {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            go_json_kind(bad)
        )));
    }
    if items.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::RequestEntityTooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            items.len()
        )));
    }
    // kube decodes operations lazily, so a malformed operation fails at apply time (422).
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        let op: json_patch::PatchOperation =
            serde_json::from_value(item).map_err(|e| PatchError::Unprocessable(e.to_string()))?;
        ops.push(op);
    }
    // Applied to a copy that is dropped on error, so json-patch's undo is not needed (and its
    // undo panics on some sequences, e.g. a move to the root followed by a failing remove: found
    // by the fuzz suite). Copies are budgeted as kube budgets them, or a few doubling copies
    // would exhaust memory.
    let mut doc = original.clone();
    let mut copied = 0usize;
    for op in &ops {
        if let json_patch::PatchOperation::Copy(c) = op {
            copied += doc.pointer(c.from.as_str()).map_or(0, json_size);
            if copied > JSON_PATCH_MAX_COPY_BYTES {
                return Err(PatchError::Unprocessable(format!(
                    "Unable to copy, would exceed limit of {JSON_PATCH_MAX_COPY_BYTES} bytes"
                )));
            }
        }
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(op))
            .map_err(|e| PatchError::Unprocessable(e.to_string()))?;
    }
    if !doc.is_object() {
        return Err(not_an_object(&doc));
    }
    Ok(doc)
}

fn apply_merge_patch(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let bad = || PatchError::BadRequest("Invalid JSON Patch".to_string());
    let p: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    match p {
        Value::Object(_) => {
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &p);
            Ok(doc)
        }
        Value::Array(_) => {
            // evanphx/json-patch turns the document into the (null-pruned) array, which
            // then fails to decode as an object.
            Err(not_an_object(&prune_nulls(p)))
        }
        _ => Err(bad()),
    }
}

/// evanphx/json-patch `pruneAryNulls` / `pruneDocNulls`.
fn prune_nulls(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().filter(|x| !x.is_null()).map(prune_nulls).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k, prune_nulls(x))).collect(),
        ),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch
// ---------------------------------------------------------------------------------------------

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: &str = "invalid patch format of setElementOrder list";

/// Patch metadata of one struct field: `(type, json field, patchStrategy, patchMergeKey,
/// type of the field (of its elements for lists))`, transcribed from the `patchStrategy` /
/// `patchMergeKey` tags of k8s.io/api (core/v1, apps/v1, batch/v1) and apimachinery meta/v1.
/// A field not listed has no strategy: maps merge recursively, lists are replaced.
/// Root types are kind names; `metadata` of every kind is `ObjectMeta` (see [`lookup`]).
///
/// Deliberately absent (no tag in k8s.io/api, so replaced as a whole): `Node.spec.taints`,
/// `Pod.status.containerStatuses` / `initContainerStatuses` / `ephemeralContainerStatuses`,
/// `Pod.spec.tolerations`, `Pod.spec.readinessGates`, `Container.envFrom`,
/// `Container.resizePolicy`, `Namespace.spec.finalizers`, RBAC `rules` / `subjects`,
/// `Node.status.images` / `volumesAttached` / `volumesInUse`.
pub const FIELDS: &[(&str, &str, &str, &str, &str)] = &[
    // meta/v1 ObjectMeta
    ("ObjectMeta", "finalizers", "merge", "", ""),
    ("ObjectMeta", "ownerReferences", "merge", "uid", ""),
    // core/v1 Pod
    ("Pod", "spec", "", "", "PodSpec"),
    ("Pod", "status", "", "", "PodStatus"),
    ("PodSpec", "volumes", "merge,retainKeys", "name", ""),
    ("PodSpec", "initContainers", "merge", "name", "Container"),
    ("PodSpec", "containers", "merge", "name", "Container"),
    ("PodSpec", "ephemeralContainers", "merge", "name", "Container"),
    ("PodSpec", "imagePullSecrets", "merge", "name", ""),
    ("PodSpec", "hostAliases", "merge", "ip", ""),
    ("PodSpec", "topologySpreadConstraints", "merge", "topologyKey", ""),
    ("PodSpec", "schedulingGates", "merge", "name", ""),
    ("PodSpec", "resourceClaims", "merge,retainKeys", "name", ""),
    // Container and EphemeralContainerCommon carry the same tags.
    ("Container", "ports", "merge", "containerPort", ""),
    ("Container", "env", "merge", "name", ""),
    ("Container", "volumeMounts", "merge", "mountPath", ""),
    ("Container", "volumeDevices", "merge", "devicePath", ""),
    ("PodStatus", "conditions", "merge", "type", ""),
    ("PodStatus", "podIPs", "merge", "ip", ""),
    ("PodStatus", "hostIPs", "merge", "ip", ""),
    ("PodStatus", "resourceClaimStatuses", "merge,retainKeys", "name", ""),
    ("PodTemplateSpec", "metadata", "", "", "ObjectMeta"),
    ("PodTemplateSpec", "spec", "", "", "PodSpec"),
    ("PodTemplate", "template", "", "", "PodTemplateSpec"),
    // core/v1 Node
    ("Node", "spec", "", "", "NodeSpec"),
    ("Node", "status", "", "", "NodeStatus"),
    ("NodeSpec", "podCIDRs", "merge", "", ""),
    ("NodeStatus", "conditions", "merge", "type", ""),
    ("NodeStatus", "addresses", "merge", "type", ""),
    // core/v1 Namespace
    ("Namespace", "status", "", "", "NamespaceStatus"),
    ("NamespaceStatus", "conditions", "merge", "type", ""),
    // core/v1 Service
    ("Service", "spec", "", "", "ServiceSpec"),
    ("Service", "status", "", "", "ConditionedStatus"),
    ("ServiceSpec", "ports", "merge", "port", ""),
    // core/v1 ReplicationController, apps/v1 workloads, batch/v1 Job: the pod template
    // and `status.conditions` (merge by type).
    ("ReplicationController", "spec", "", "", "TemplatedSpec"),
    ("ReplicationController", "status", "", "", "ConditionedStatus"),
    ("Deployment", "spec", "", "", "TemplatedSpec"),
    ("Deployment", "status", "", "", "ConditionedStatus"),
    ("ReplicaSet", "spec", "", "", "TemplatedSpec"),
    ("ReplicaSet", "status", "", "", "ConditionedStatus"),
    ("StatefulSet", "spec", "", "", "TemplatedSpec"),
    ("StatefulSet", "status", "", "", "ConditionedStatus"),
    ("DaemonSet", "spec", "", "", "TemplatedSpec"),
    ("DaemonSet", "status", "", "", "ConditionedStatus"),
    ("Job", "spec", "", "", "TemplatedSpec"),
    ("Job", "status", "", "", "ConditionedStatus"),
    ("TemplatedSpec", "template", "", "", "PodTemplateSpec"),
    ("ConditionedStatus", "conditions", "merge", "type", ""),
];

/// The type context while walking the document.
#[derive(Clone, Copy, Debug)]
enum Ty<'a> {
    /// The object itself, of this kind.
    Root(&'a str),
    /// A struct type named in [`FIELDS`].
    Named(&'static str),
    /// Anything else (maps such as labels, structs without tagged fields).
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct FieldMeta {
    merge: bool,
    merge_key: &'static str,
    child: Ty<'static>,
}

/// `forkedjson.LookupPatchMetadata` over [`FIELDS`].
fn lookup(ty: Ty<'_>, field: &str) -> FieldMeta {
    let name = match ty {
        Ty::Root(_) if field == "metadata" => {
            return FieldMeta { merge: false, merge_key: "", child: Ty::Named("ObjectMeta") }
        }
        Ty::Root(k) => k,
        Ty::Named(n) => n,
        Ty::Unknown => "",
    };
    for &(t, f, strategy, key, child) in FIELDS {
        if t == name && f == field {
            // extractRetainKeysPatchStrategy: "merge,retainKeys" -> merge (retainKeys only
            // matters when generating patches; `$retainKeys` is honoured wherever sent).
            let merge = strategy.split(',').any(|s| s == MERGE_DIRECTIVE);
            let child = if child.is_empty() { Ty::Unknown } else { Ty::Named(child) };
            return FieldMeta { merge, merge_key: key, child };
        }
    }
    FieldMeta { merge: false, merge_key: "", child: Ty::Unknown }
}

fn apply_strategic_merge_patch(kind: &str, original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let p: Value = serde_json::from_slice(body).map_err(|e| PatchError::BadRequest(e.to_string()))?;
    let patch = match p {
        Value::Null => return Ok(original.clone()), // unmarshals to a nil map: no change
        Value::Object(m) => m,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_json_kind(&other)
            )))
        }
    };
    let Value::Object(orig) = original else {
        return Err(PatchError::BadRequest(ERR_BAD_JSON_DOC.to_string()));
    };
    merge_map(orig.clone(), patch, Ty::Root(kind)).map(Value::Object)
}

/// Go's `reflect.TypeOf(v)` of a decoded JSON value, as `ErrBadArgType` prints it.
fn go_type_name(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Null) => "<nil>",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(n)) if n.is_f64() => "float64",
        Some(Value::Number(_)) => "int64",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "[]interface {}",
        Some(Value::Object(_)) => "map[string]interface {}",
    }
}

fn err_bad_arg_type(expected: &str, actual: Option<&Value>) -> PatchError {
    PatchError::Internal(format!("expected a {expected}, but received a {}", go_type_name(actual)))
}

fn err_no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Internal(format!("map: {} does not contain declared merge key: {key}", go_fmt_map(m)))
}

/// Go's `%v` of a decoded JSON value (for error messages).
fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => go_fmt_map(m),
    }
}

fn go_fmt_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let items: Vec<String> = keys.iter().map(|k| format!("{k}:{}", go_fmt(&m[k.as_str()]))).collect();
    format!("map[{}]", items.join(" "))
}

/// A patch value adopted as-is (a new field, a replaced list or map): kube stores it raw and
/// its typed decoding then drops `null` members and unknown `$…` directive keys; do that here
/// since this server keeps objects as JSON.
fn adopt(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
                .map(|(k, v)| (k, adopt(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(adopt).collect()),
        other => other,
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// `mergeMap` with `MergeParallelList: true, IgnoreUnmatchedNulls: true` (server side).
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty<'_>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                match adopt(Value::Object(patch)) {
                    Value::Object(m) => Ok(m),
                    _ => Ok(Map::new()),
                }
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(PatchError::Internal(format!(
                "unknown patch type: {} in map: {}",
                go_fmt(directive),
                go_fmt_map(&patch)
            ))),
        };
    }

    apply_retain_keys_directive(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, ty)?;

    // Regular keys first, then the parallel deletion lists (Go iterates a map: any order).
    let (deletions, regular): (Vec<_>, Vec<_>) =
        patch.into_iter().partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX));
    for (k, patch_v) in regular.into_iter().chain(deletions) {
        let (k, is_delete_list) = if k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (extract_key(&k, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?, true)
        } else {
            (k, false)
        };
        if patch_v.is_null() {
            original.remove(&k);
            continue;
        }
        let Some(orig_v) = original.remove(&k) else {
            // kube would store a deletion list as the field's value here (a quirk); deleting
            // from a missing list is a no-op instead.
            if !is_delete_list {
                original.insert(k, adopt(patch_v));
            }
            continue;
        };
        let meta = lookup(ty, &k);
        let merged = match (orig_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, meta.child)?),
            (Value::Array(o), Value::Array(p)) => {
                Value::Array(merge_slice_handler(o, p, meta, is_delete_list)?)
            }
            (_, p) => adopt(p),
        };
        original.insert(k, merged);
    }
    Ok(original)
}

/// `extractKey`: `$setElementOrder/containers` -> `containers`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(PatchError::BadRequest(
            if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX {
                ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST
            } else {
                ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST
            }
            .to_string(),
        )),
    }
}

/// `applyRetainKeysDirective`: clear the original's fields missing from `$retainKeys`.
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let bad = || PatchError::BadRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS.to_string());
    let Value::Array(list) = retain else {
        return Err(bad());
    };
    let retained = |k: &str| list.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(bad());
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: merge each list that has a `$setElementOrder/<field>` and order
/// the result: `$setElementOrder` first, then the live order for server-only items.
fn merge_patch_into_original(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty<'_>,
) -> Result<(), PatchError> {
    let keys: Vec<String> =
        patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX)).cloned().collect();
    for key in keys {
        let Some(order_v) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(set_order) = order_v else {
            return Err(err_bad_arg_type("[]interface {}", Some(&order_v)));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", Some(other))),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", Some(other))),
        };
        let meta = lookup(ty, &field);
        validate_patch_with_set_order_list(patch_list.as_deref().unwrap_or(&[]), &set_order, meta.merge_key)?;
        let merged = match (&original_list, patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => match adopt(Value::Array(p)) {
                Value::Array(a) => a,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => merge_slice_handler(o.clone(), p, meta, false)?,
            (None, None) => continue,
        };
        let (patch_items, server_only) = if meta.merge_key.is_empty() {
            partition_primitives(merged, &set_order)
        } else {
            partition_maps(merged, &set_order, meta.merge_key)?
        };
        let original_list = original_list.unwrap_or_default();
        let kind = slice_element_kind(&[
            &original_list,
            patch.get(&field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]),
        ])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &set_order,
            &original_list,
            meta.merge_key,
            kind,
        )?;
        original.insert(field.clone(), Value::Array(both));
        patch.remove(&field);
    }
    Ok(())
}

fn contains_directive_marker(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

/// `validatePatchWithSetOrderList`: the patch list must follow `$setElementOrder`'s order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    set_order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if set_order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut nd = Vec::new();
        for v in patch_list {
            let Some(m) = v.as_object() else {
                return Err(err_bad_arg_type("map[string]interface {}", Some(v)));
            };
            if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
                nd.push(v);
            }
        }
        nd
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < set_order.len() {
        if contains_directive_marker(non_delete[pi]) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[pi], &set_order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= set_order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_fmt(&Value::Array(patch_list.to_vec())),
            go_fmt(&Value::Array(set_order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left.as_object().ok_or_else(|| err_bad_arg_type("map[string]interface {}", Some(left)))?;
    let r = right.as_object().ok_or_else(|| err_bad_arg_type("map[string]interface {}", Some(right)))?;
    let lv = l.get(merge_key).ok_or_else(|| err_no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| err_no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

/// `mergeSliceHandler`: merge-strategy lists merge, others are replaced by the patch.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if meta.merge {
        merge_slice(original, patch, meta.child, meta.merge_key, is_delete_list)
    } else {
        Ok(patch.into_iter().map(adopt).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Map,
    Slice,
    Scalar(u8),
}

fn value_kind(v: &Value) -> Kind {
    match v {
        Value::Object(_) => Kind::Map,
        Value::Array(_) => Kind::Slice,
        Value::Null => Kind::Scalar(0),
        Value::Bool(_) => Kind::Scalar(1),
        Value::Number(n) if n.is_f64() => Kind::Scalar(2),
        Value::Number(_) => Kind::Scalar(3),
        Value::String(_) => Kind::Scalar(4),
    }
}

/// `sliceElementType`: all elements of the given lists share one type, which is not a list.
fn slice_element_kind(slices: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut prev: Option<Kind> = None;
    for s in slices {
        for v in s.iter() {
            let k = value_kind(v);
            match prev {
                None => {
                    if k == Kind::Slice {
                        return Err(PatchError::Unprocessable(ERR_NO_LIST_OF_LISTS.to_string()));
                    }
                    prev = Some(k);
                }
                Some(p) if p != k => {
                    let all: Vec<Value> = slices.iter().map(|s| Value::Array(s.to_vec())).collect();
                    return Err(PatchError::Internal(format!(
                        "list element types are not identical: {}",
                        go_fmt(&Value::Array(all))
                    )));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or_else(|| PatchError::Internal("no elements in any of the given slices".to_string()))
}

/// `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem_ty: Ty<'static>,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;
    let (server_order, patch, merged) = if kind != Kind::Map {
        if is_delete_list {
            return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            // Every keyless merge list in FIELDS is a []string.
            return Err(PatchError::Internal(
                "cannot merge lists without merge key for type string".to_string(),
            ));
        }
        let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
        let merged = merge_slice_without_special_elements(original.clone(), &patch, merge_key, elem_ty)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    normalize_element_order(patch_items, server_only, &patch, &server_order, merge_key, kind)
}

/// `mergeSliceWithSpecialElements`: apply `$patch: delete` / `replace` items.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut without_special = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type("map[string]interface {}", Some(&v)));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            without_special.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(err_no_merge_key(m, merge_key));
                };
                let mut kept = Vec::with_capacity(original.len());
                for (i, item) in original.into_iter().enumerate() {
                    let Some(im) = item.as_object() else {
                        return Err(PatchError::Internal(format!("value for key {i} is not a map.")));
                    };
                    if im.get(merge_key) != Some(key_value) {
                        kept.push(item);
                    }
                }
                original = kept;
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ))
            }
            _ => {
                return Err(PatchError::Internal(format!(
                    "unknown patch type: {} in map: {}",
                    go_fmt(directive),
                    go_fmt_map(m)
                )))
            }
        }
    }
    if replace {
        let adopted = without_special.into_iter().map(adopt).collect();
        return Ok((adopted, Vec::new()));
    }
    Ok((original, without_special))
}

/// `findMapInSliceBasedOnKeyValue`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let Some(m) = v.as_object() else {
            return Err(PatchError::Internal(format!("value for key {i} is not a map.")));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `mergeSliceWithoutSpecialElements`: merge items with equal merge keys, append the rest.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem_ty: Ty<'static>,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type("map[string]interface {}", Some(v)));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        match find_by_key(&original, merge_key, key_value)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    unreachable!("find_by_key only matches maps")
                };
                original[i] = Value::Object(merge_map(o, m.clone(), elem_ty)?);
            }
            None => original.push(adopt(v.clone())),
        }
    }
    Ok(original)
}

fn partition_primitives(merged: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    merged.into_iter().partition(|v| by.contains(v))
}

fn partition_maps(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for v in merged {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type("map[string]interface {}", Some(&v)));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        if find_by_key(by, merge_key, key_value)?.is_some() {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

/// `index`: position of `v` in `list`, by merge key for maps (a missing key compares equal
/// to a missing key, as Go's nil == nil).
fn index_of(list: &[Value], v: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    if kind == Kind::Map {
        let get = |x: &Value| x.as_object().and_then(|m| m.get(merge_key)).cloned();
        let want = get(v);
        list.iter().position(|x| get(x) == want)
    } else {
        list.iter().position(|x| x == v)
    }
}

/// `normalizeSliceOrder`: sort by position in `order` (stable); `$patch: delete` items last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let mut to_sort = to_sort;
    let mut to_delete = Vec::new();
    if kind == Kind::Map {
        for v in to_sort.iter().chain(order.iter()) {
            let Some(m) = v.as_object() else {
                return Err(err_bad_arg_type("map[string]interface {}", Some(v)));
            };
            if !m.contains_key(merge_key) {
                return Err(err_no_merge_key(m, merge_key));
            }
        }
        let (keep, del): (Vec<_>, Vec<_>) = to_sort
            .into_iter()
            .partition(|v| v.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE));
        to_sort = keep;
        to_delete = del;
    }
    to_sort.sort_by_key(|v| index_of(order, v, merge_key, kind).unwrap_or(usize::MAX));
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// `normalizeElementOrder` + `mergeSortedSlice`: patch items in patch order, server-only
/// items in live order, interleaved by their live positions.
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key, kind);
                let ri = index_of(server_order, r, merge_key, kind);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(kind: &str, original: Value, patch: Value) -> Result<Value, PatchError> {
        apply_patch(PatchType::StrategicMerge, kind, &original, patch.to_string().as_bytes())
    }

    fn check_smp(kind: &str, original: Value, patch: Value, expected: Value) {
        let got = smp(kind, original, patch.clone()).unwrap_or_else(|e| panic!("{patch}: {e:?}"));
        assert_eq!(got, expected, "patch {patch}");
    }

    fn check_err(pt: PatchType, kind: &str, original: Value, body: &str, code: u16, msg: &str) {
        let err = apply_patch(pt, kind, &original, body.as_bytes()).expect_err(body);
        assert_eq!(err.code(), code, "{body}: {err:?}");
        assert!(err.to_string().contains(msg), "{body}: {err} does not contain {msg}");
    }

    /// Found by the fuzz suite: json-patch's own undo panicked on this sequence.
    #[test]
    fn json_patch_move_to_root_then_failing_remove_is_a_422_not_a_panic() {
        let body = r#"[{"op":"move","from":"/metadata","path":""},{"op":"remove","path":""}]"#;
        let err = apply_patch(PatchType::Json, "Pod", &pod(), body.as_bytes()).expect_err(body);
        assert_eq!(err.code(), 422, "{err:?}");
    }

    /// Doubling copies would take memory without bound: kube budgets the bytes copied.
    #[test]
    fn json_patch_copies_are_budgeted() {
        let mut ops =
            vec![json!({"op": "add", "path": "/metadata/annotations", "value": {"a": "x".repeat(1000)}})];
        for i in 0..40 {
            ops.push(json!({"op": "copy", "from": "/metadata/annotations", "path": format!("/metadata/annotations/c{i}")}));
        }
        let body = Value::Array(ops).to_string();
        let err = apply_patch(PatchType::Json, "Pod", &pod(), body.as_bytes()).expect_err("over the budget");
        assert_eq!(err.code(), 422, "{err:?}");
        assert!(format!("{err:?}").contains("Unable to copy, would exceed limit"), "{err:?}");
        // A few copies stay well within it.
        let body =
            json!([{"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"}]).to_string();
        let patched = apply_patch(PatchType::Json, "Pod", &pod(), body.as_bytes()).unwrap();
        assert_eq!(patched["spec"]["containers"].as_array().unwrap().len(), 3);
        assert_eq!(json_size(&pod()), pod().to_string().len());
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web", "namespace": "default",
                "labels": {"app": "web", "tier": "front"},
                "finalizers": ["a.io/x", "b.io/y"],
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u1"}
                ]
            },
            "spec": {
                "nodeSelector": {"disk": "ssd", "zone": "a"},
                "tolerations": [{"key": "k1", "operator": "Exists"}],
                "containers": [
                    {"name": "app", "image": "nginx:1.25",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                    {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}
                ],
                "volumes": [{"name": "data", "emptyDir": {}}]
            },
            "status": {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False"}
                ],
                "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0},
                    {"name": "sidecar", "ready": false, "restartCount": 0}
                ]
            }
        })
    }

    fn with(mut v: Value, ptr: &str, new: Value) -> Value {
        *v.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = new;
        v
    }

    #[test]
    fn content_types() {
        let ct = PatchType::from_content_type;
        assert_eq!(ct("application/json-patch+json"), Some(PatchType::Json));
        assert_eq!(ct("application/merge-patch+json; charset=utf-8"), Some(PatchType::Merge));
        assert_eq!(ct(" Application/Strategic-Merge-Patch+JSON "), Some(PatchType::StrategicMerge));
        assert_eq!(ct("application/apply-patch+yaml"), Some(PatchType::Apply));
        assert_eq!(ct("application/json"), None);
        assert_eq!(ct(""), None);
        for t in [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge, PatchType::Apply] {
            assert_eq!(ct(t.content_type()), Some(t));
        }
    }

    #[test]
    fn json_patch() {
        let got = apply_patch(
            PatchType::Json,
            "Pod",
            &pod(),
            br#"[{"op":"test","path":"/metadata/labels/app","value":"web"},
                 {"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.26"},
                 {"op":"add","path":"/metadata/labels/new","value":"x"},
                 {"op":"remove","path":"/metadata/labels/tier"},
                 {"op":"add","path":"/metadata/finalizers/-","value":"c.io/z"}]"#,
        )
        .unwrap();
        let mut want = with(pod(), "/spec/containers/0/image", json!("nginx:1.26"));
        want = with(want, "/metadata/labels", json!({"app": "web", "new": "x"}));
        want = with(want, "/metadata/finalizers", json!(["a.io/x", "b.io/y", "c.io/z"]));
        assert_eq!(got, want);
        // `null` body: no operations.
        assert_eq!(apply_patch(PatchType::Json, "Pod", &pod(), b"null").unwrap(), pod());
    }

    #[test]
    fn json_patch_errors() {
        let j = PatchType::Json;
        check_err(j, "Pod", pod(), "not json", 400, "expected");
        check_err(
            j,
            "Pod",
            pod(),
            r#"{"op":"add"}"#,
            400,
            "cannot unmarshal object into Go value of type jsonpatch.Patch",
        );
        check_err(
            j,
            "Pod",
            pod(),
            "[1]",
            400,
            "cannot unmarshal number into Go value of type jsonpatch.Operation",
        );
        let generic = "the server rejected our request due to an error in our request";
        check_err(
            j,
            "Pod",
            pod(),
            r#"[{"op":"test","path":"/metadata/name","value":"other"}]"#,
            422,
            generic,
        );
        check_err(j, "Pod", pod(), r#"[{"op":"remove","path":"/metadata/nope"}]"#, 422, generic);
        check_err(j, "Pod", pod(), r#"[{"op":"replace","path":"/spec/nope/x","value":1}]"#, 422, generic);
        check_err(j, "Pod", pod(), r#"[{"op":"frobnicate","path":"/a"}]"#, 422, generic);
        check_err(
            j,
            "Pod",
            pod(),
            r#"[{"op":"replace","path":"","value":[]}]"#,
            422,
            "is invalid: patch: Invalid value",
        );
        let err =
            apply_patch(j, "Pod", &pod(), br#"[{"op":"test","path":"/metadata/name","value":"other"}]"#)
                .unwrap_err();
        assert_eq!(err.reason(), "Invalid");
        assert!(matches!(&err, PatchError::Unprocessable(d) if !d.is_empty()));
        let many = format!("[{}]", vec![r#"{"op":"test","path":"/kind","value":"Pod"}"#; 10_001].join(","));
        check_err(
            j,
            "Pod",
            pod(),
            &many,
            413,
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
        );
        let ok = format!("[{}]", vec![r#"{"op":"test","path":"/kind","value":"Pod"}"#; 10_000].join(","));
        assert!(apply_patch(j, "Pod", &pod(), ok.as_bytes()).is_ok());
    }

    #[test]
    fn merge_patch() {
        let got = apply_patch(
            PatchType::Merge,
            "Pod",
            &pod(),
            br#"{"metadata":{"labels":{"tier":null,"new":"x"},"annotations":{"a":"b","gone":null}},
                 "spec":{"containers":[{"name":"app","image":"nginx:1.26"}]}}"#,
        )
        .unwrap();
        let mut want = with(pod(), "/metadata/labels", json!({"app": "web", "new": "x"}));
        want["metadata"]["annotations"] = json!({"a": "b"});
        // RFC 7386: lists are replaced whole.
        want = with(want, "/spec/containers", json!([{"name": "app", "image": "nginx:1.26"}]));
        assert_eq!(got, want);

        let m = PatchType::Merge;
        check_err(m, "Pod", pod(), "{", 400, "Invalid JSON Patch");
        check_err(m, "Pod", pod(), "null", 400, "Invalid JSON Patch");
        check_err(m, "Pod", pod(), "\"x\"", 400, "Invalid JSON Patch");
        check_err(m, "Pod", pod(), "[1,null]", 422, "is invalid: patch: Invalid value: \"[1]\"");
    }

    #[test]
    fn apply_is_unsupported() {
        let err = apply_patch(PatchType::Apply, "Pod", &pod(), b"kind: Pod").unwrap_err();
        assert_eq!(err.code(), 415);
        assert_eq!(err.reason(), "UnsupportedMediaType");
        assert!(err.to_string().contains("server-side apply is not supported"));
    }

    #[test]
    fn smp_container_image_by_name() {
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}),
            with(pod(), "/spec/containers/1/image", json!("busybox:1.36")),
        );
    }

    #[test]
    fn smp_maps_nulls_and_new_fields() {
        let mut want = with(pod(), "/metadata/labels", json!({"app": "web", "new": "x"}));
        want["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        want["spec"]["priority"] = json!(5);
        want["spec"]["affinity"] = json!({"nodeAffinity": {}});
        check_smp(
            "Pod",
            pod(),
            json!({
                "metadata": {"labels": {"tier": null, "new": "x", "absent": null}},
                "spec": {
                    "nodeSelector": {"zone": null},
                    "priority": 5,
                    "activeDeadlineSeconds": null,
                    // new subtree: nulls dropped as typed decoding would
                    "affinity": {"nodeAffinity": {"x": null}}
                }
            }),
            want,
        );
        // null patch body: no change.
        check_smp("Pod", pod(), Value::Null, pod());
    }

    #[test]
    fn smp_lists_without_strategy_are_replaced() {
        let want = with(pod(), "/spec/tolerations", json!([{"key": "k2", "operator": "Exists"}]));
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}),
            want,
        );
        // containerStatuses has no patchMergeKey in k8s.io/api: replaced whole.
        let want = with(pod(), "/status/containerStatuses", json!([{"name": "app", "ready": true}]));
        check_smp(
            "Pod",
            pod(),
            json!({"status": {"containerStatuses": [{"name": "app", "ready": true}]}}),
            want,
        );
        // container args: plain list, replaced.
        let want = with(pod(), "/spec/containers/1/args", json!(["sleep", "2d"]));
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "2d"]}]}}),
            want,
        );
    }

    #[test]
    fn smp_status_conditions_merge_by_type() {
        let want = with(
            pod(),
            "/status/conditions",
            json!([
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True", "reason": "ok"},
                {"type": "Initialized", "status": "True"}
            ]),
        );
        check_smp(
            "Pod",
            pod(),
            json!({"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "ok"},
                {"type": "Initialized", "status": "True"}
            ]}}),
            want,
        );
    }

    #[test]
    fn smp_kubectl_apply_shaped() {
        // What `kubectl apply` sends after editing a manifest: new last-applied annotation,
        // label removal, image change, env reorder + change, a container removed, and
        // $setElementOrder lists.
        let last_applied = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}"#;
        let patch = json!({
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": format!("{last_applied}\n")},
                "labels": {"tier": null}
            },
            "spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [
                    {
                        "$setElementOrder/env": [{"name": "B"}, {"name": "C"}, {"name": "A"}],
                        "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}],
                        "image": "nginx:1.26",
                        "name": "app"
                    },
                    {"$patch": "delete", "name": "sidecar"}
                ]
            }
        });
        let mut want = pod();
        want["metadata"]["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": format!("{last_applied}\n")
        });
        want["metadata"]["labels"] = json!({"app": "web"});
        want["spec"]["containers"] = json!([
            {"name": "app", "image": "nginx:1.26",
             "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}, {"name": "A", "value": "1"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}]}
        ]);
        check_smp("Pod", pod(), patch, want);
    }

    #[test]
    fn smp_set_element_order_reorders_and_adds() {
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "new"}, {"name": "app"}],
            "containers": [{"name": "new", "image": "redis"}]
        }});
        let got = smp("Pod", pod(), patch).unwrap();
        let names: Vec<&str> = got["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["sidecar", "new", "app"]);
        // Without $setElementOrder, new items go before the live ones (as in kube: the
        // kubectl patch docs show the added container "patch-demo-ctr-2" first).
        let got =
            smp("Pod", pod(), json!({"spec": {"containers": [{"name": "new", "image": "redis"}]}})).unwrap();
        let names: Vec<&str> = got["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["new", "app", "sidecar"]);
        // Patch order wins over live order for items in the patch (kube's mergeSortedSlice).
        let got = smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [
                {"name": "new", "image": "redis"}, {"name": "app", "image": "nginx:2"}
            ]}}),
        )
        .unwrap();
        let names: Vec<&str> = got["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["new", "app", "sidecar"]);
    }

    #[test]
    fn smp_primitive_merge_list_finalizers() {
        let want = with(pod(), "/metadata/finalizers", json!(["a.io/x", "b.io/y", "c.io/z"]));
        check_smp("Pod", pod(), json!({"metadata": {"finalizers": ["b.io/y", "c.io/z"]}}), want);
        // kubectl's deletion form.
        let want = with(pod(), "/metadata/finalizers", json!(["b.io/y"]));
        check_smp(
            "Pod",
            pod(),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["b.io/y"],
                "$deleteFromPrimitiveList/finalizers": ["a.io/x"]
            }}),
            want,
        );
        // Deleting from a missing list is a no-op.
        let mut no_fin = pod();
        no_fin["metadata"].as_object_mut().unwrap().remove("finalizers");
        check_smp(
            "Pod",
            no_fin.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
            no_fin,
        );
        // null removes the list.
        let mut want = pod();
        want["metadata"].as_object_mut().unwrap().remove("finalizers");
        check_smp("Pod", pod(), json!({"metadata": {"finalizers": null}}), want);
    }

    #[test]
    fn smp_owner_references_by_uid() {
        let want = with(
            pod(),
            "/metadata/ownerReferences",
            json!([
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u1", "controller": true},
                {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u2"}
            ]),
        );
        check_smp(
            "Pod",
            pod(),
            json!({"metadata": {"ownerReferences": [
                {"uid": "u1", "controller": true},
                {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u2"}
            ]}}),
            want,
        );
    }

    #[test]
    fn smp_directives() {
        // $patch: replace on a map.
        let want = with(pod(), "/spec/nodeSelector", json!({"gpu": "yes"}));
        check_smp("Pod", pod(), json!({"spec": {"nodeSelector": {"$patch": "replace", "gpu": "yes"}}}), want);
        // $patch: delete on a map leaves it empty.
        let want = with(pod(), "/spec/nodeSelector", json!({}));
        check_smp("Pod", pod(), json!({"spec": {"nodeSelector": {"$patch": "delete"}}}), want);
        // $patch: replace in a merge list.
        let want = with(pod(), "/spec/containers", json!([{"name": "only", "image": "x"}]));
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}),
            want,
        );
        // $patch: delete of an env var by name.
        let want = with(pod(), "/spec/containers/0/env", json!([{"name": "B", "value": "2"}]));
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}}),
            want,
        );
        // $retainKeys on a volume: switch emptyDir -> hostPath.
        let want = with(pod(), "/spec/volumes/0", json!({"name": "data", "hostPath": {"path": "/d"}}));
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"volumes": [
                {"name": "data", "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/d"}}
            ]}}),
            want,
        );
        // ports merge by containerPort.
        let want = with(
            pod(),
            "/spec/containers/0/ports",
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}]),
        );
        check_smp(
            "Pod",
            pod(),
            json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443}
            ]}]}}),
            want,
        );
    }

    fn node() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {
                "podCIDRs": ["10.0.0.0/24"],
                "taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}]
            },
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "lastHeartbeatTime": "t0"},
                    {"type": "MemoryPressure", "status": "False"}
                ],
                "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}, {"type": "Hostname", "address": "n1"}],
                "images": [{"names": ["a"]}]
            }
        })
    }

    #[test]
    fn smp_node() {
        // Taints have no patch strategy in k8s.io/api: the list is replaced
        // (this is what `kubectl taint` relies on, sending the full list).
        let want = with(node(), "/spec/taints", json!([{"key": "c", "effect": "NoSchedule"}]));
        check_smp("Node", node(), json!({"spec": {"taints": [{"key": "c", "effect": "NoSchedule"}]}}), want);
        let want = with(node(), "/spec/taints", json!([]));
        check_smp("Node", node(), json!({"spec": {"taints": []}}), want);
        // Kubelet status heartbeat: conditions and addresses merge by type, podCIDRs merge.
        let mut want = with(
            node(),
            "/status/conditions",
            json!([
                {"type": "Ready", "status": "True", "lastHeartbeatTime": "t1"},
                {"type": "MemoryPressure", "status": "False"}
            ]),
        );
        want = with(want, "/status/addresses/0/address", json!("10.1.1.2"));
        // New items of a merge list go before the live ones unless ordered otherwise
        // (kube's mergeSortedSlice; cf. the kubectl patch docs' "patch-demo-ctr-2" example).
        want = with(want, "/spec/podCIDRs", json!(["fd00::/64", "10.0.0.0/24"]));
        check_smp(
            "Node",
            node(),
            json!({
                "spec": {"podCIDRs": ["fd00::/64"]},
                "status": {
                    "$setElementOrder/conditions": [{"type": "Ready"}, {"type": "MemoryPressure"}],
                    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t1"}],
                    "addresses": [{"type": "InternalIP", "address": "10.1.1.2"}]
                }
            }),
            want,
        );
    }

    #[test]
    fn smp_other_kinds() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        check_smp(
            "ConfigMap",
            cm.clone(),
            json!({"data": {"a": null, "c": "3"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "2", "c": "3"}}),
        );
        let role = json!({"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]});
        check_smp(
            "Role",
            role,
            json!({"rules": [{"verbs": ["list"]}]}),
            json!({"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["list"]}]}),
        );
        let dep = json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}});
        let got = smp(
            "Deployment",
            dep,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}])
        );
    }

    #[test]
    fn smp_errors() {
        let s = PatchType::StrategicMerge;
        check_err(s, "Pod", pod(), "{", 400, "EOF");
        check_err(
            s,
            "Pod",
            pod(),
            "[]",
            400,
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"volumes":[{"name":"data","$retainKeys":"name"}]}}"#,
            400,
            "invalid patch format of retainKeys",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"volumes":[{"name":"data","$retainKeys":["name"],"hostPath":{}}]}}"#,
            400,
            "invalid patch format of retainKeys",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"metadata":{"$setElementOrderfinalizers":["a"]}}"#,
            400,
            "invalid patch format of setElementOrder list",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"metadata":{"$deleteFromPrimitiveListx":["a"]}}"#,
            400,
            "invalid patch format of primitive list",
        );
        let empty_fin = with(pod(), "/metadata/finalizers", json!([]));
        check_err(
            s,
            "Pod",
            empty_fin,
            r#"{"metadata":{"finalizers":[["a"]]}}"#,
            422,
            "the server rejected our request due to an error in our request",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"containers":[{"image":"x"}]}}"#,
            500,
            "map: map[image:x] does not contain declared merge key: name",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"containers":[{"$patch":"merge"}]}}"#,
            500,
            "merging lists cannot yet be specified in the patch",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"nodeSelector":{"$patch":"merge"}}}"#,
            500,
            "unknown patch type: merge in map: map[$patch:merge]",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"metadata":{"finalizers":[1]}}"#,
            500,
            "list element types are not identical",
        );
        check_err(
            s,
            "Pod",
            pod(),
            r#"{"spec":{"$setElementOrder/containers":[{"name":"app"}],"containers":[{"name":"sidecar","image":"q"}]}}"#,
            500,
            "doesn't match $setElementOrder list",
        );
        let err = smp("Pod", pod(), json!({"spec": {"containers": [{"image": "x"}]}})).unwrap_err();
        assert_eq!(err.reason(), "");
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = proptest::sample::select(vec![
            "metadata",
            "spec",
            "status",
            "containers",
            "env",
            "name",
            "image",
            "finalizers",
            "labels",
            "conditions",
            "type",
            "volumes",
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/finalizers",
            "$setElementOrder/env",
            "$deleteFromPrimitiveList/finalizers",
            "$deleteFromPrimitiveList/env",
            "x",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..3).prop_map(|n| json!(n)),
            proptest::sample::select(vec!["app", "sidecar", "a.io/x", "delete", "replace", "merge", "B"])
                .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn smp_never_panics(patch in arb_json()) {
            let body = patch.to_string();
            for kind in ["Pod", "Node", "ConfigMap"] {
                let _ = apply_patch(PatchType::StrategicMerge, kind, &pod(), body.as_bytes());
                let _ = apply_patch(PatchType::Merge, kind, &pod(), body.as_bytes());
                let _ = apply_patch(PatchType::Json, kind, &pod(), body.as_bytes());
            }
            let wrapped = json!({"spec": {"containers": [patch.clone()]}, "metadata": patch});
            let _ = apply_patch(PatchType::StrategicMerge, "Pod", &pod(), wrapped.to_string().as_bytes());
        }
    }
}
