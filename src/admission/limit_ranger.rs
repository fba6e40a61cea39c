//! LimitRanger (k/k plugin/pkg/admission/limitranger), for `type: Container` limits: a new pod's
//! containers get the namespace's LimitRange defaults where they name no limit or request, and
//! are refused when outside min/max.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{AdmissionError, Attributes, Operation};
use crate::api::validation::parse_quantity;
use crate::api::{object, resources};
use crate::registry::Registry;

/// The annotation kube leaves on a pod it defaulted.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Whether the write is one this plugin acts on: a new pod.
pub fn applies(a: &Attributes<'_>) -> bool {
    a.resource.kind == "Pod" && a.subresource.is_none() && a.operation == Operation::Create
}

/// The `type: Container` items of the namespace's LimitRanges, with kube's LimitRange defaulting
/// applied (default ← max, defaultRequest ← default, then ← min).
pub async fn ranges(registry: &Registry, a: &Attributes<'_>) -> Result<Vec<Value>, AdmissionError> {
    let Some(ns) = a.namespace else { return Ok(Vec::new()) };
    let r = resources::find("", "v1", "limitranges").expect("limitranges are served");
    let mut items = Vec::new();
    // A live lookup: a LimitRange created a moment ago may not be in the watch cache yet.
    for range in registry.objects_in_live(r, ns).await? {
        for item in range["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"] == "Container" {
                items.push(defaulted(item));
            }
        }
    }
    Ok(items)
}

fn defaulted(item: &Value) -> Value {
    let mut item = item.clone();
    let get = |item: &Value, k: &str| item[k].as_object().cloned().unwrap_or_default();
    let mut default = get(&item, "default");
    let mut request = get(&item, "defaultRequest");
    for (k, v) in get(&item, "max") {
        default.entry(k).or_insert(v);
    }
    for (k, v) in default.iter().chain(get(&item, "min").iter()) {
        request.entry(k.clone()).or_insert(v.clone());
    }
    item["default"] = Value::Object(default);
    item["defaultRequest"] = Value::Object(request);
    item
}

const CONTAINER_LISTS: [(&str, &str); 2] =
    [("initContainers", "init container"), ("containers", "container")];

/// Fills missing container limits and requests from the defaults; returns whether it did.
pub fn default_pod(ranges: &[Value], pod: &mut Value) -> bool {
    let mut notes = Vec::new();
    for (list, label) in CONTAINER_LISTS {
        // get_mut, not IndexMut: indexing would insert a null list.
        let Some(containers) =
            pod.get_mut("spec").and_then(|s| s.get_mut(list)).and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in containers {
            let name = c["name"].as_str().unwrap_or_default().to_owned();
            let (mut set_requests, mut set_limits) = (BTreeSet::new(), BTreeSet::new());
            for item in ranges {
                fill(c, "limits", &item["default"], &mut set_limits);
                fill(c, "requests", &item["defaultRequest"], &mut set_requests);
            }
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {label} {name}", join(&set_requests)));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {label} {name}", join(&set_limits)));
            }
        }
    }
    if notes.is_empty() {
        return false;
    }
    let meta = object::meta_mut(pod);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(map) = annotations.as_object_mut() {
        map.insert(ANNOTATION.into(), json!(format!("LimitRanger plugin set: {}", notes.join("; "))));
    }
    true
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn fill(container: &mut Value, field: &str, defaults: &Value, set: &mut BTreeSet<String>) {
    let Some(defaults) = defaults.as_object().filter(|d| !d.is_empty()) else { return };
    let resources = container
        .as_object_mut()
        .expect("a container is an object")
        .entry("resources")
        .or_insert_with(|| json!({}));
    if !resources.is_object() {
        *resources = json!({});
    }
    let list = resources.as_object_mut().expect("object").entry(field).or_insert_with(|| json!({}));
    if !list.is_object() {
        *list = json!({});
    }
    let list: &mut Map<String, Value> = list.as_object_mut().expect("object");
    for (k, v) in defaults {
        if !list.contains_key(k) {
            list.insert(k.clone(), v.clone());
            set.insert(k.clone());
        }
    }
}

/// Min and max per container; every violation is reported, kube's aggregate message.
pub fn validate_pod(a: &Attributes<'_>, ranges: &[Value], pod: &Value) -> Result<(), AdmissionError> {
    let mut errors: Vec<String> = Vec::new();
    for item in ranges {
        for (list, _) in CONTAINER_LISTS {
            for c in pod["spec"][list].as_array().into_iter().flatten() {
                let requests = &c["resources"]["requests"];
                let limits = &c["resources"]["limits"];
                for (k, min) in item["min"].as_object().into_iter().flatten() {
                    errors.extend(min_constraint(k, min, &requests[k], &limits[k]));
                }
                for (k, max) in item["max"].as_object().into_iter().flatten() {
                    errors.extend(max_constraint(k, max, &requests[k], &limits[k]));
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    match errors.len() {
        0 => Ok(()),
        1 => Err(AdmissionError::forbidden(a, errors.remove(0))),
        _ => Err(AdmissionError::forbidden(a, format!("[{}]", errors.join(", ")))),
    }
}

fn quantity(v: &Value) -> Option<(i128, &str)> {
    let s = v.as_str()?;
    Some((parse_quantity(s)?, s))
}

fn min_constraint(resource: &str, enforced: &Value, request: &Value, limit: &Value) -> Option<String> {
    let (min, shown) = quantity(enforced)?;
    let Some((req, req_shown)) = quantity(request) else {
        return Some(format!("minimum {resource} usage per Container is {shown}.  No request is specified"));
    };
    if req < min {
        return Some(format!(
            "minimum {resource} usage per Container is {shown}, but request is {req_shown}"
        ));
    }
    match quantity(limit) {
        Some((lim, lim_shown)) if lim < min => {
            Some(format!("minimum {resource} usage per Container is {shown}, but limit is {lim_shown}"))
        }
        _ => None,
    }
}

fn max_constraint(resource: &str, enforced: &Value, request: &Value, limit: &Value) -> Option<String> {
    let (max, shown) = quantity(enforced)?;
    let Some((lim, lim_shown)) = quantity(limit) else {
        return Some(format!("maximum {resource} usage per Container is {shown}.  No limit is specified"));
    };
    if lim > max {
        return Some(format!("maximum {resource} usage per Container is {shown}, but limit is {lim_shown}"));
    }
    match quantity(request) {
        Some((req, req_shown)) if req > max => {
            Some(format!("maximum {resource} usage per Container is {shown}, but request is {req_shown}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let item = defaulted(
            &json!({"type": "Container", "max": {"cpu": "2"}, "defaultRequest": {"memory": "64Mi"}}),
        );
        assert_eq!(item["default"], json!({"cpu": "2"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "2", "memory": "64Mi"}));
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}});
        assert!(default_pod(&[item], &mut pod));
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "2"}, "requests": {"cpu": "100m", "memory": "64Mi"}})
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: memory request for container a; cpu limit for container a"
        );
    }

    #[test]
    fn min_and_max_texts() {
        assert_eq!(
            max_constraint("cpu", &json!("2"), &json!("1"), &json!("4")).unwrap(),
            "maximum cpu usage per Container is 2, but limit is 4"
        );
        assert_eq!(
            max_constraint("cpu", &json!("2"), &Value::Null, &Value::Null).unwrap(),
            "maximum cpu usage per Container is 2.  No limit is specified"
        );
        assert_eq!(
            min_constraint("memory", &json!("1Mi"), &json!("1Ki"), &Value::Null).unwrap(),
            "minimum memory usage per Container is 1Mi, but request is 1Ki"
        );
        assert!(min_constraint("cpu", &json!("100m"), &json!("0.5"), &json!("1")).is_none());
    }
}
