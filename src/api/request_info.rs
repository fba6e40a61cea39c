//! Request info: what a request asks for (verb, group/version/resource, namespace, name,
//! subresource), read off its method, path and query the way kube-apiserver's RequestInfoFactory
//! does. The first stage of the pipeline; no IO.

use super::status::ApiError;

/// The Kubernetes verb of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The lower-case name used by authorization, audit and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }

    /// Whether the verb writes (for --max-mutating-requests-inflight).
    pub fn is_mutating(self) -> bool {
        !matches!(self, Verb::Get | Verb::List | Verb::Watch)
    }
}

/// A request for an API resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The verb.
    pub verb: Verb,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`status`, `binding`), if any.
    pub subresource: Option<String>,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
}

/// What a request is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestInfo {
    /// An API resource (or one of its subresources).
    Resource(ResourceRequest),
    /// Any other path (discovery, health, metrics, OpenAPI), with the HTTP method's verb name.
    NonResource {
        /// Lower-case verb (`get`, `post`, ...).
        verb: &'static str,
        /// The path.
        path: String,
    },
}

/// Subresources of namespaces that keep the namespace as the resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Whether the query asks for a watch (`watch=true` or `watch=1`).
pub fn is_watch(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    })
}

/// Parses method + path + query.
pub fn parse(method: &http::Method, path: &str, query: Option<&str>) -> Result<RequestInfo, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Ok(non_resource(method, path)),
    };
    let mut parts = rest;
    let mut namespace = None;
    if parts[0] == "namespaces" && parts.len() > 1 {
        namespace = Some(parts[1].to_owned());
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts = &parts[2..];
        }
    }
    let (resource, name, subresource) = match parts {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => return Err(ApiError::NoRoute),
    };
    if resource == "namespaces" && name.is_some() {
        // /api/v1/namespaces/<name>: the namespace object is cluster-scoped.
        namespace = None;
    }
    let watch = is_watch(query);
    let verb = match (method, name.is_some()) {
        (&http::Method::GET, _) if watch => Verb::Watch,
        (&http::Method::GET, true) | (&http::Method::HEAD, true) => Verb::Get,
        (&http::Method::GET, false) | (&http::Method::HEAD, false) => Verb::List,
        (&http::Method::POST, _) => Verb::Create,
        (&http::Method::PUT, _) => Verb::Update,
        (&http::Method::PATCH, _) => Verb::Patch,
        (&http::Method::DELETE, true) => Verb::Delete,
        (&http::Method::DELETE, false) => Verb::DeleteCollection,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(RequestInfo::Resource(ResourceRequest {
        verb,
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.map(str::to_owned),
        namespace,
        name: name.map(str::to_owned),
    }))
}

fn non_resource(method: &http::Method, path: &str) -> RequestInfo {
    let verb = match *method {
        http::Method::GET | http::Method::HEAD => "get",
        http::Method::POST => "post",
        http::Method::PUT => "put",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "options",
    };
    RequestInfo::NonResource { verb, path: path.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn check(method: Method, path: &str, query: Option<&str>, expect: &str) {
        let got = match parse(&method, path, query) {
            Ok(RequestInfo::Resource(r)) => format!(
                "{} {}/{} {} ns={} name={} sub={}",
                r.verb.as_str(),
                r.group,
                r.version,
                r.resource,
                r.namespace.as_deref().unwrap_or("-"),
                r.name.as_deref().unwrap_or("-"),
                r.subresource.as_deref().unwrap_or("-"),
            ),
            Ok(RequestInfo::NonResource { verb, path }) => format!("nonresource {verb} {path}"),
            Err(e) => format!("error {}", e.code()),
        };
        assert_eq!(got, expect, "{method} {path}");
    }

    #[test]
    fn paths_parse_as_kube_apiserver_does() {
        check(Method::GET, "/api/v1/namespaces/default/pods", None, "list /v1 pods ns=default name=- sub=-");
        check(Method::GET, "/api/v1/pods", Some("watch=true"), "watch /v1 pods ns=- name=- sub=-");
        check(Method::GET, "/api/v1/namespaces/default/pods/p", None, "get /v1 pods ns=default name=p sub=-");
        check(
            Method::POST,
            "/api/v1/namespaces/d/pods/p/binding",
            None,
            "create /v1 pods ns=d name=p sub=binding",
        );
        check(Method::PUT, "/api/v1/nodes/n1/status", None, "update /v1 nodes ns=- name=n1 sub=status");
        check(
            Method::GET,
            "/api/v1/namespaces/kube-system",
            None,
            "get /v1 namespaces ns=- name=kube-system sub=-",
        );
        check(
            Method::PUT,
            "/api/v1/namespaces/x/status",
            None,
            "update /v1 namespaces ns=- name=x sub=status",
        );
        check(Method::GET, "/api/v1/namespaces", None, "list /v1 namespaces ns=- name=- sub=-");
        check(
            Method::PATCH,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
            None,
            "patch coordination.k8s.io/v1 leases ns=kube-node-lease name=n1 sub=-",
        );
        check(
            Method::DELETE,
            "/api/v1/namespaces/d/pods",
            None,
            "deletecollection /v1 pods ns=d name=- sub=-",
        );
        check(Method::GET, "/api", None, "nonresource get /api");
        check(
            Method::GET,
            "/apis/coordination.k8s.io/v1",
            None,
            "nonresource get /apis/coordination.k8s.io/v1",
        );
        check(Method::GET, "/version", None, "nonresource get /version");
        check(Method::GET, "/api/v1/namespaces/d/pods/p/status/extra", None, "error 404");
        check(Method::OPTIONS, "/api/v1/pods", None, "error 405");
    }
}
