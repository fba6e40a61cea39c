//! Which storage prefix (resource lineage) an API collection path reads, so lists and watches of
//! one resource compare. Assumed layout (kube-apiserver's, root `/registry`):
//!
//! * `/api/v1/<plural>` → `/registry/<segment>/`
//! * `/api/v1/namespaces/<ns>/<plural>` → `/registry/<segment>/<ns>/`
//! * `/apis/<group>/<version>/<plural>` and `/apis/<group>/<version>/namespaces/<ns>/<plural>`
//!   likewise,
//!
//! where `<segment>` is the resource's storage segment from kubesim's resource table (`minions`
//! for nodes) and the plural itself for resources it does not know. E.g. `/api/v1/pods` →
//! `/registry/pods/`, `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases` →
//! `/registry/leases/kube-node-lease/`.

use kubesim::api::resources;

/// The storage root of every key.
const ROOT: &str = "/registry";

/// The storage prefix a collection path lists, or `None` when the path is not a collection.
pub(crate) fn storage_prefix(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, plural) = match rest {
        [plural] => (None, *plural),
        ["namespaces", ns, plural] => (Some(*ns), *plural),
        _ => return None,
    };
    if plural.is_empty() || namespace.is_some_and(str::is_empty) {
        return None;
    }
    let segment = resources::find(group, version, plural).map_or(plural, |r| r.storage_segment);
    Some(match namespace {
        Some(ns) => format!("{ROOT}/{segment}/{ns}/"),
        None => format!("{ROOT}/{segment}/"),
    })
}

#[cfg(test)]
mod tests {
    use super::storage_prefix;

    #[test]
    fn maps_collection_paths_to_storage_prefixes() {
        let cases = [
            ("/api/v1/pods", Some("/registry/pods/")),
            ("/api/v1/namespaces/default/pods", Some("/registry/pods/default/")),
            ("/api/v1/nodes", Some("/registry/minions/")),
            ("/api/v1/namespaces", Some("/registry/namespaces/")),
            (
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                Some("/registry/leases/kube-node-lease/"),
            ),
            ("/apis/example.com/v1/widgets", Some("/registry/widgets/")),
            ("/api/v1/namespaces/default/pods/p-1", None),
            ("/healthz", None),
        ];
        for (path, want) in cases {
            assert_eq!(storage_prefix(path).as_deref(), want, "{path}");
        }
    }
}
