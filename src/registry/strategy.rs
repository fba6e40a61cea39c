//! Per-kind rules of the registry (kube-apiserver's REST strategies): what create and update may
//! set, which kinds have a status subresource, graceful deletion, typed decoding.

use k8s_openapi::api::{coordination, core, rbac};
use serde_json::{json, Value};

use crate::api::status::{ApiError, Cause};

/// Whether the kind has a status subresource (its main resource cannot change status, its status
/// subresource cannot change anything else).
pub fn has_status(kind: &str) -> bool {
    matches!(kind, "Pod" | "Node" | "Namespace" | "ResourceQuota")
}

/// Prepares a new object (kube PrepareForCreate).
pub fn prepare_for_create(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => {
            let qos = qos_class(obj);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        "Namespace" => {
            obj["status"] = json!({"phase": "Active"});
            let spec = obj.as_object_mut().expect("object").entry("spec").or_insert_with(|| json!({}));
            if spec.get("finalizers").is_none() {
                spec["finalizers"] = json!(["kubernetes"]);
            }
        }
        _ => {}
    }
}

/// Write-only wire fields folded in, as kube's v1 → internal conversion does: a Secret's
/// `stringData` is merged into `data` (base64), its values winning, and never stored.
pub fn convert_wire_only_fields(kind: &str, obj: &mut Value) {
    if kind != "Secret" {
        return;
    }
    use base64::Engine as _;
    let Some(map) = obj.as_object_mut() else { return };
    let Some(Value::Object(string_data)) = map.remove("stringData") else { return };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    for (k, v) in string_data {
        let text = v.as_str().unwrap_or_default();
        data[k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// The pod's QoS class (k/k pkg/apis/core/helper/qos).
pub fn qos_class(pod: &Value) -> &'static str {
    let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let requests = c["resources"]["requests"].as_object();
        let limits = c["resources"]["limits"].as_object();
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Whether an update changed the spec (bumps metadata.generation).
pub fn spec_changed(new: &Value, old: &Value) -> bool {
    new.get("spec") != old.get("spec")
}

/// Something to do with a kind's typed wire struct (Rust has no generic closures).
trait WithType {
    type Out;
    fn call<T: serde::de::DeserializeOwned + serde::Serialize>(self) -> Self::Out;
}

/// Runs `f` with `kind`'s k8s-openapi type; `None` for a kind without one.
fn with_type<F: WithType>(kind: &str, f: F) -> Option<F::Out> {
    Some(match kind {
        "Pod" => f.call::<core::v1::Pod>(),
        "Node" => f.call::<core::v1::Node>(),
        "Namespace" => f.call::<core::v1::Namespace>(),
        "ConfigMap" => f.call::<core::v1::ConfigMap>(),
        "Secret" => f.call::<core::v1::Secret>(),
        "Event" => f.call::<core::v1::Event>(),
        "Binding" => f.call::<core::v1::Binding>(),
        "Lease" => f.call::<coordination::v1::Lease>(),
        "LimitRange" => f.call::<core::v1::LimitRange>(),
        "ResourceQuota" => f.call::<core::v1::ResourceQuota>(),
        "Role" => f.call::<rbac::v1::Role>(),
        "RoleBinding" => f.call::<rbac::v1::RoleBinding>(),
        "ClusterRole" => f.call::<rbac::v1::ClusterRole>(),
        "ClusterRoleBinding" => f.call::<rbac::v1::ClusterRoleBinding>(),
        _ => return None,
    })
}

/// Decodes a body as the kind's typed wire struct and back: the canonical object, with unknown
/// fields dropped, and the paths of the fields that were dropped.
pub fn canonicalize(kind: &str, api_version: &str, body: &Value) -> Result<(Value, Vec<String>), ApiError> {
    struct Round<'a>(&'a Value);
    impl WithType for Round<'_> {
        type Out = Result<Value, String>;
        fn call<T: serde::de::DeserializeOwned + serde::Serialize>(self) -> Self::Out {
            // Straight from the borrowed tree: `from_value` would need a clone of the whole body.
            let typed = T::deserialize(self.0).map_err(|e| e.to_string())?;
            serde_json::to_value(&typed).map_err(|e| e.to_string())
        }
    }
    let canonical = with_type(kind, Round(body)).unwrap_or_else(|| Ok(body.clone())).map_err(|e| {
        ApiError::BadRequest(format!(
            "{kind} in version \"{api_version}\" cannot be handled as a {kind}: {e}"
        ))
    })?;
    let mut unknown = Vec::new();
    unknown_fields(body, &canonical, &mut String::new(), &mut unknown);
    Ok((canonical, unknown))
}

/// The canonical object straight from a body's bytes, without the intermediate tree, when that
/// is all there is to it: a kind with a typed struct, a body that decodes as one, and no field the
/// struct ignores. `None` sends the body down [`canonicalize`], which gives errors and unknown
/// fields their exact form. A typed decode that succeeds has also checked `apiVersion` and `kind`
/// (k8s-openapi refuses others), so the result is what the general path would give.
pub fn canonicalize_bytes(kind: &str, body: &[u8]) -> Option<Value> {
    struct Direct<'a>(&'a [u8]);
    impl WithType for Direct<'_> {
        type Out = Option<Value>;
        fn call<T: serde::de::DeserializeOwned + serde::Serialize>(self) -> Self::Out {
            let mut ignored = false;
            let mut de = serde_json::Deserializer::from_slice(self.0);
            let typed: T = serde_ignored::deserialize(&mut de, |_| ignored = true).ok()?;
            de.end().ok()?;
            if ignored {
                return None;
            }
            serde_json::to_value(&typed).ok()
        }
    }
    with_type(kind, Direct(body)).flatten()
}

/// The paths of `original`'s fields that `canonical` lacks. One path buffer serves the whole walk:
/// a pod has hundreds of fields and almost never an unknown one, so paths are grown and cut back
/// rather than formatted per field.
fn unknown_fields(original: &Value, canonical: &Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match (original, canonical) {
        (Value::Object(o), Value::Object(c)) => {
            for (k, v) in o {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match c.get(k) {
                    Some(cv) => unknown_fields(v, cv, path, out),
                    // k8s-openapi omits empty optional values; only a non-empty one was unknown.
                    None if !is_empty_value(v) => out.push(path.clone()),
                    None => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(o), Value::Array(c)) => {
            use std::fmt::Write as _;
            for (i, (ov, cv)) in o.iter().zip(c).enumerate() {
                if matches!(ov, Value::Object(_) | Value::Array(_)) {
                    let _ = write!(path, "[{i}]");
                    unknown_fields(ov, cv, path, out);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty_value),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The strict-decoding error kube-apiserver gives for unknown fields.
pub fn strict_error(unknown: &[String]) -> ApiError {
    let causes: Vec<Cause> = unknown
        .iter()
        .map(|f| Cause {
            reason: "FieldValueUnknown".into(),
            message: format!("unknown field \"{f}\""),
            field: f.clone(),
        })
        .collect();
    let list = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect::<Vec<_>>().join(", ");
    ApiError::BadRequestCauses { message: format!("strict decoding error: {list}"), causes }
}

/// The grace period a pod delete gets (k/k CheckGracefulDelete): the request's, else the pod's
/// terminationGracePeriodSeconds (default 30); 0 when the pod is unscheduled or finished.
pub fn pod_grace_seconds(pod: &Value, requested: Option<i64>) -> i64 {
    let bound = pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    let phase = pod["status"]["phase"].as_str().unwrap_or("");
    if !bound || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    requested.unwrap_or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_found_and_empty_ones_ignored() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "bogus": 1},
                          "data": {"a": "b"}, "extra": {"x": 1}, "binaryData": {}});
        let (canonical, unknown) = canonicalize("ConfigMap", "v1", &body).unwrap();
        assert_eq!(unknown, vec!["extra".to_string(), "metadata.bogus".to_string()]);
        assert_eq!(canonical["data"]["a"], "b");
        assert!(canonical.get("extra").is_none());
        let err = canonicalize("Pod", "v1", &json!({"spec": {"containers": "nope"}})).unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn qos_and_grace() {
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&pod), "Guaranteed");
        assert_eq!(qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})), "BestEffort");
        let bound = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 10}, "status": {"phase": "Running"}});
        assert_eq!(pod_grace_seconds(&bound, None), 10);
        assert_eq!(pod_grace_seconds(&bound, Some(0)), 0);
        assert_eq!(pod_grace_seconds(&json!({"spec": {}}), Some(30)), 0, "unscheduled pods go at once");
    }

    #[test]
    fn bytes_give_the_tree_path_s_object_or_step_aside() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"x": "y"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                "ports": [{"containerPort": 80}]}], "tolerations": [{"key": "k", "operator": "Exists"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let bare_binding = json!({"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l"}, "spec": {"holderIdentity": "h", "leaseDurationSeconds": 40}});
        for (kind, api_version, body) in [
            ("Pod", "v1", &pod),
            ("Binding", "v1", &bare_binding),
            ("Lease", "coordination.k8s.io/v1", &lease),
        ] {
            let bytes = serde_json::to_vec(body).unwrap();
            let fast = canonicalize_bytes(kind, &bytes).unwrap_or_else(|| panic!("{kind} stepped aside"));
            let (tree, unknown) = canonicalize(kind, api_version, body).unwrap();
            assert!(unknown.is_empty());
            assert_eq!(fast, tree, "{kind}");
        }
        // What the tree path must answer: unknown fields (even empty ones, which it forgives),
        // another kind or version, a wrong type, not an object, not JSON, trailing bytes.
        for (kind, body) in [
            ("Pod", r#"{"kind":"Pod","spec":{"bogus":1}}"#),
            ("Pod", r#"{"kind":"Pod","extra":{}}"#),
            ("Pod", r#"{"kind":"Node"}"#),
            ("Pod", r#"{"apiVersion":"v2","kind":"Pod"}"#),
            ("Binding", r#"{"kind":"Pod","metadata":{"name":"p"}}"#),
            ("Pod", r#"{"spec":{"containers":"nope"}}"#),
            ("Pod", r#"[]"#),
            ("Pod", r#"{"kind":"Pod""#),
            ("Pod", r#"{"kind":"Pod"} {}"#),
            ("Widget", r#"{"kind":"Widget"}"#),
        ] {
            assert_eq!(canonicalize_bytes(kind, body.as_bytes()), None, "{body}");
        }
    }
}
