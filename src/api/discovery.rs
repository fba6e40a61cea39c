//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/<group>`, `/api/v1`,
//! `/apis/<group>/<version>` and the aggregated (`apidiscovery.k8s.io/v2`) form of `/api` and `/apis`.
//!
//! Everything here is a pure function of the static table in [`crate::api::resources`].
//!
//! How clients use these (client-go `discovery/discovery_client.go`):
//! - `GET /api` and `GET /apis` are sent with
//!   `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`
//!   (optionally preceded by the same type with `;profile=nopeer`). The client decides how to parse the
//!   body **only from the response Content-Type** (`ContentTypeIsGVK`: base `application/json` with
//!   params `g`, `v`, `as` in any order), so an aggregated body must be sent with
//!   [`AGGREGATED_CONTENT_TYPE`] and a legacy body with plain `application/json`.
//! - With aggregated discovery there is no per-group-version round trip; with legacy discovery the
//!   client fetches `/api/v1` and `/apis/<g>/<v>` ([`api_resource_list`]).
//! - `/api` answering 404 is tolerated, `/apis` must succeed.

use serde_json::{json, Map, Value};

use crate::api::resources::{groups, Resource, RESOURCES};

/// The Content-Type an aggregated discovery response must carry (client-go `discovery.AcceptV2`).
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The Content-Type of every legacy discovery document.
pub const LEGACY_CONTENT_TYPE: &str = "application/json";

/// The group, version and kind of the aggregated discovery document.
const AGG_GROUP: &str = "apidiscovery.k8s.io";
const AGG_VERSION: &str = "v2";
const AGG_KIND: &str = "APIGroupDiscoveryList";

/// Default Kubernetes version reported when `git_version` does not parse.
const DEFAULT_MAJOR: &str = "1";
const DEFAULT_MINOR: &str = "34";

/// `GET /version` (apimachinery `pkg/version.Info`). `git_version` is e.g. `v1.34.0-kubesim`; major and
/// minor are derived from it (falling back to 1.34) because kubectl prints a version-skew warning when
/// the server minor is more than one away from its own.
pub fn version_info(git_version: &str) -> Value {
    let (major, minor) = parse_major_minor(git_version)
        .unwrap_or_else(|| (DEFAULT_MAJOR.to_owned(), DEFAULT_MINOR.to_owned()));
    let git_version =
        if git_version.is_empty() { format!("v{major}.{minor}.0-kubesim") } else { git_version.to_owned() };
    json!({
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "rustc",
        "platform": platform(),
    })
}

fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{os}/{arch}")
}

/// `v1.34.0-kubesim` → ("1", "34"). Returns None unless both parts are numeric.
fn parse_major_minor(git_version: &str) -> Option<(String, String)> {
    let s = git_version.strip_prefix('v').unwrap_or(git_version);
    let mut parts = s.split(['.', '-', '+']);
    let major = parts.next()?;
    let minor = parts.next()?;
    if major.is_empty() || minor.is_empty() {
        return None;
    }
    if !major.bytes().all(|b| b.is_ascii_digit()) || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((major.to_owned(), minor.to_owned()))
}

/// `GET /api` (legacy, kind `APIVersions`). `serverAddressByClientCIDRs` is required by the type (no
/// omitempty); without a known address it is an empty list, which clients accept.
pub fn api_versions() -> Value {
    api_versions_with_address(None)
}

/// `GET /api` naming the address clients should use (kube-apiserver lists
/// `{"clientCIDR":"0.0.0.0/0","serverAddress":"<ip>:<port>"}`).
pub fn api_versions_with_address(server_address: Option<&str>) -> Value {
    let cidrs = match server_address {
        Some(addr) => json!([{ "clientCIDR": "0.0.0.0/0", "serverAddress": addr }]),
        None => json!([]),
    };
    json!({
        "kind": "APIVersions",
        "versions": core_versions(),
        "serverAddressByClientCIDRs": cidrs,
    })
}

/// The versions served by the core group, in table order, without duplicates.
fn core_versions() -> Vec<&'static str> {
    versions_of("")
}

/// Served versions of a group, in table order (the first is the preferred one).
fn versions_of(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out
}

fn api_group_value(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": preferred,
    })
}

/// `GET /apis` (legacy, kind `APIGroupList`): every non-core group.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(api_group_value).collect();
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups,
    })
}

/// `GET /apis/<group>` (kind `APIGroup`); None if the group is not served.
pub fn api_group(group: &str) -> Option<Value> {
    if group.is_empty() || !RESOURCES.iter().any(|r| r.group == group) {
        return None;
    }
    let mut v = api_group_value(group);
    let obj = v.as_object_mut().expect("object");
    obj.insert("kind".into(), json!("APIGroup"));
    obj.insert("apiVersion".into(), json!("v1"));
    Some(v)
}

fn strs(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|s| Value::String((*s).to_owned())).collect())
}

/// `GET /api/v1` (group "") or `GET /apis/<group>/<version>` (kind `APIResourceList`); None if not served.
///
/// Each subresource is its own entry (`pods/status`, `pods/binding`) with an empty `singularName`, the
/// parent's `namespaced`, the subresource's kind and verbs, as kube-apiserver lists them.
/// `storageVersionHash` is optional and left out (only the storage-version migrator reads it).
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Resource> =
        RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in &served {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(r.plural));
        entry.insert("singularName".into(), json!(r.singular));
        entry.insert("namespaced".into(), json!(r.namespaced));
        entry.insert("kind".into(), json!(r.kind));
        entry.insert("verbs".into(), strs(r.verbs));
        if !r.short_names.is_empty() {
            entry.insert("shortNames".into(), strs(r.short_names));
        }
        if !r.categories.is_empty() {
            entry.insert("categories".into(), strs(r.categories));
        }
        resources.push(Value::Object(entry));
        for s in r.subresources {
            resources.push(json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": strs(s.verbs),
            }));
        }
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// One `APIResourceDiscovery` (k8s.io/api `apidiscovery/v2`).
fn resource_discovery(r: &Resource) -> Value {
    let mut entry = Map::new();
    entry.insert("resource".into(), json!(r.plural));
    entry.insert("responseKind".into(), json!({ "group": r.group, "version": r.version, "kind": r.kind }));
    entry.insert("scope".into(), json!(if r.namespaced { "Namespaced" } else { "Cluster" }));
    entry.insert("singularResource".into(), json!(r.singular));
    entry.insert("verbs".into(), strs(r.verbs));
    if !r.short_names.is_empty() {
        entry.insert("shortNames".into(), strs(r.short_names));
    }
    if !r.categories.is_empty() {
        entry.insert("categories".into(), strs(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                // The subresource kinds served here (Pod, Node, Namespace, Binding) all live in the
                // parent's group/version.
                json!({
                    "subresource": s.name,
                    "responseKind": { "group": r.group, "version": r.version, "kind": s.kind },
                    "verbs": strs(s.verbs),
                })
            })
            .collect();
        entry.insert("subresources".into(), Value::Array(subs));
    }
    Value::Object(entry)
}

/// One `APIGroupDiscovery` for `group` ("" = core, whose metadata carries no name).
fn group_discovery(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|v| {
            let resources: Vec<Value> = RESOURCES
                .iter()
                .filter(|r| r.group == group && r.version == v)
                .map(resource_discovery)
                .collect();
            json!({ "version": v, "resources": resources, "freshness": "Current" })
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({ "creationTimestamp": null })
    } else {
        json!({ "name": group, "creationTimestamp": null })
    };
    json!({ "metadata": metadata, "versions": versions })
}

fn group_discovery_list(items: Vec<Value>) -> Value {
    json!({
        "kind": AGG_KIND,
        "apiVersion": format!("{AGG_GROUP}/{AGG_VERSION}"),
        "metadata": {},
        "items": items,
    })
}

/// Aggregated `GET /api`: an `APIGroupDiscoveryList` holding the core group only.
/// Send with Content-Type [`AGGREGATED_CONTENT_TYPE`].
pub fn aggregated_core() -> Value {
    group_discovery_list(vec![group_discovery("")])
}

/// Aggregated `GET /apis`: an `APIGroupDiscoveryList` holding every non-core group.
/// Send with Content-Type [`AGGREGATED_CONTENT_TYPE`].
pub fn aggregated_groups() -> Value {
    group_discovery_list(groups().into_iter().map(group_discovery).collect())
}

/// One media range of an Accept header (goautoneg `Accept`).
#[derive(Debug, Clone)]
struct Clause {
    typ: String,
    sub: String,
    q: f64,
    params: Vec<(String, String)>,
}

fn parse_accept(header: &str) -> Vec<Clause> {
    let mut out = Vec::new();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let mt = pieces.next().unwrap_or("").trim();
        if mt.is_empty() {
            continue;
        }
        let (typ, sub) = match mt.split_once('/') {
            Some((t, s)) => (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase()),
            None if mt == "*" => ("*".to_owned(), "*".to_owned()),
            None => continue,
        };
        let mut q = 1.0;
        let mut params = Vec::new();
        for p in pieces {
            let Some((k, v)) = p.split_once('=') else { continue };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_owned();
            if k == "q" {
                q = v.parse::<f64>().unwrap_or(0.0);
            } else {
                params.push((k, v));
            }
        }
        out.push(Clause { typ, sub, q, params });
    }
    // Stable sort: higher q first, then concrete types before wildcards (goautoneg ordering).
    out.sort_by(|a, b| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| (a.typ == "*").cmp(&(b.typ == "*")))
            .then_with(|| (a.sub == "*").cmp(&(b.sub == "*")))
    });
    out
}

/// How specifically a clause names `application/json`: 2 exact, 1 `application/*`, 0 `*/*`, -1 not.
fn json_specificity(c: &Clause) -> i32 {
    match (c.typ.as_str(), c.sub.as_str()) {
        ("application", "json") => 2,
        ("application", "*") => 1,
        ("*", "*") => 0,
        _ => -1,
    }
}

/// Whether a discovery request's Accept header selects the aggregated document, decided as
/// kube-apiserver does (apiserver `endpoints/discovery/aggregated/wrapper.go` +
/// `handlers/negotiation`): clauses are taken in quality order; the first clause that this server can
/// serve as JSON wins. A clause with `g`/`v`/`as` is servable only if they name
/// `apidiscovery.k8s.io/v2 APIGroupDiscoveryList` (other conversions are skipped); one without them
/// selects the legacy document. Clauses with `q=0` are skipped, and `application/json` rejected by
/// its most specific clause having `q=0` is never chosen. Only JSON is served here, so protobuf/yaml
/// clauses are skipped. Unknown parameters (`profile=nopeer`, `charset`) are ignored. An empty header
/// means legacy.
pub fn wants_aggregated(accept: &str) -> bool {
    let clauses = parse_accept(accept);
    // Rejection: the most specific clause naming JSON has q <= 0.
    let mut best = -1;
    let mut rejected = false;
    for c in &clauses {
        let s = json_specificity(c);
        if s > best {
            best = s;
            rejected = c.q <= 0.0;
        }
    }
    if rejected {
        return false;
    }
    for c in &clauses {
        if c.q <= 0.0 || json_specificity(c) < 0 {
            continue;
        }
        let get = |k: &str| c.params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.as_str());
        let (g, v, a) = (get("g"), get("v"), get("as"));
        if g.is_none() && v.is_none() && a.is_none() {
            return false;
        }
        if g == Some(AGG_GROUP) && v == Some(AGG_VERSION) && a == Some(AGG_KIND) {
            return true;
        }
        // Any other conversion (e.g. the removed v2beta1, or as=Table) is not allowed for discovery.
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_GO_ACCEPT: &str =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn version_shape() {
        let v = version_info("v1.34.0-kubesim");
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "34");
        assert_eq!(v["gitVersion"], "v1.34.0-kubesim");
        for k in ["gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"] {
            assert!(v[k].is_string(), "{k}");
        }
        assert!(v["platform"].as_str().unwrap().contains('/'));
        let d = version_info("garbage");
        assert_eq!(d["minor"], "34");
        assert_eq!(d["gitVersion"], "garbage");
        assert_eq!(version_info("v1.31.2")["minor"], "31");
    }

    #[test]
    fn api_versions_shape() {
        let v = api_versions();
        assert_eq!(v["kind"], "APIVersions");
        assert_eq!(v["versions"], json!(["v1"]));
        assert!(v["serverAddressByClientCIDRs"].is_array());
        let v = api_versions_with_address(Some("10.0.0.1:6443"));
        assert_eq!(v["serverAddressByClientCIDRs"][0]["clientCIDR"], "0.0.0.0/0");
        assert_eq!(v["serverAddressByClientCIDRs"][0]["serverAddress"], "10.0.0.1:6443");
    }

    #[test]
    fn group_list_shape() {
        let v = api_group_list();
        assert_eq!(v["kind"], "APIGroupList");
        assert_eq!(v["apiVersion"], "v1");
        let groups = v["groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["coordination.k8s.io", "rbac.authorization.k8s.io"]);
        assert_eq!(groups[0]["versions"][0]["groupVersion"], "coordination.k8s.io/v1");
        assert_eq!(groups[0]["versions"][0]["version"], "v1");
        assert_eq!(groups[0]["preferredVersion"]["groupVersion"], "coordination.k8s.io/v1");
    }

    #[test]
    fn single_group() {
        let g = api_group("rbac.authorization.k8s.io").unwrap();
        assert_eq!(g["kind"], "APIGroup");
        assert_eq!(g["apiVersion"], "v1");
        assert_eq!(g["name"], "rbac.authorization.k8s.io");
        assert_eq!(g["preferredVersion"]["version"], "v1");
        assert!(api_group("apps").is_none());
        assert!(api_group("").is_none());
    }

    #[test]
    fn resource_list_core() {
        let l = api_resource_list("", "v1").unwrap();
        assert_eq!(l["kind"], "APIResourceList");
        assert_eq!(l["apiVersion"], "v1");
        assert_eq!(l["groupVersion"], "v1");
        let rs = l["resources"].as_array().unwrap();
        let pods = rs.iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["kind"], "Pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(pods["verbs"].as_array().unwrap().contains(&json!("watch")));
        let binding = rs.iter().find(|r| r["name"] == "pods/binding").unwrap();
        assert_eq!(binding["kind"], "Binding");
        assert_eq!(binding["verbs"], json!(["create"]));
        assert_eq!(binding["namespaced"], true);
        let status = rs.iter().find(|r| r["name"] == "pods/status").unwrap();
        assert_eq!(status["kind"], "Pod");
        assert_eq!(status["verbs"], json!(["get", "patch", "update"]));
        let nodes = rs.iter().find(|r| r["name"] == "nodes").unwrap();
        assert_eq!(nodes["namespaced"], false);
        assert_eq!(nodes["shortNames"], json!(["no"]));
        assert!(rs.iter().any(|r| r["name"] == "nodes/status"));
        // No leases in core.
        assert!(!rs.iter().any(|r| r["name"] == "leases"));
    }

    #[test]
    fn resource_list_group() {
        let l = api_resource_list("coordination.k8s.io", "v1").unwrap();
        assert_eq!(l["groupVersion"], "coordination.k8s.io/v1");
        assert_eq!(l["resources"][0]["name"], "leases");
        assert_eq!(l["resources"][0]["kind"], "Lease");
        assert!(l["resources"][0].get("shortNames").is_none());
        assert!(api_resource_list("coordination.k8s.io", "v2").is_none());
        assert!(api_resource_list("apps", "v1").is_none());
    }

    #[test]
    fn aggregated_core_shape() {
        let d = aggregated_core();
        assert_eq!(d["kind"], "APIGroupDiscoveryList");
        assert_eq!(d["apiVersion"], "apidiscovery.k8s.io/v2");
        let items = d["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v = &items[0]["versions"][0];
        assert_eq!(v["version"], "v1");
        assert_eq!(v["freshness"], "Current");
        let pods = v["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pods").unwrap();
        assert_eq!(pods["responseKind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["singularResource"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let subs = pods["subresources"].as_array().unwrap();
        let binding = subs.iter().find(|s| s["subresource"] == "binding").unwrap();
        assert_eq!(binding["responseKind"]["kind"], "Binding");
        assert_eq!(binding["verbs"], json!(["create"]));
        let nodes = v["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "nodes").unwrap();
        assert_eq!(nodes["scope"], "Cluster");
    }

    #[test]
    fn aggregated_groups_shape() {
        let d = aggregated_groups();
        assert_eq!(d["kind"], "APIGroupDiscoveryList");
        let items = d["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["metadata"]["name"], "coordination.k8s.io");
        let rbac = &items[1];
        assert_eq!(rbac["metadata"]["name"], "rbac.authorization.k8s.io");
        let res = rbac["versions"][0]["resources"].as_array().unwrap();
        assert_eq!(res.len(), 4);
        let crb = res.iter().find(|r| r["resource"] == "clusterrolebindings").unwrap();
        assert_eq!(crb["responseKind"]["group"], "rbac.authorization.k8s.io");
        assert_eq!(crb["scope"], "Cluster");
        assert!(crb.get("subresources").is_none());
    }

    #[test]
    fn content_type_constant() {
        assert_eq!(
            AGGREGATED_CONTENT_TYPE,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_aggregated(CLIENT_GO_ACCEPT));
        // nopeer profile variant first (client-go NoPeerDiscovery).
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        // Parameter order and spaces do not matter.
        assert!(wants_aggregated("application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io"));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(""));
        assert!(!wants_aggregated("*/*"));
        // Removed beta type is not served: falls to the next clause (legacy).
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        // Quality ordering: legacy preferred.
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json"
        ));
        assert!(wants_aggregated(
            "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ));
        // q=0 clause is skipped.
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0"
        ));
        // Protobuf aggregated is not served by this JSON-only server; falls back.
        assert!(!wants_aggregated(
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        // Wildcard subtype with conversion params.
        assert!(wants_aggregated("application/*;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
        // Table conversion is not a discovery type.
        assert!(!wants_aggregated("application/json;as=Table;v=v1;g=meta.k8s.io"));
    }
}
