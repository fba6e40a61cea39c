//! RBAC (https://kubernetes.io/docs/reference/access-authn-authz/rbac/): Roles, ClusterRoles and
//! their bindings compiled into a [`Policy`], and the rule matcher of kube's
//! `plugin/pkg/auth/authorizer/rbac` (allow-only: no rule ever denies).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};

use super::user::UserInfo;
use crate::api::request_info::{RequestInfo, ResourceRequest};

/// The RBAC objects, keyed by (namespace, name) or name.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Roles by (namespace, name).
    pub roles: BTreeMap<(String, String), Role>,
    /// ClusterRoles by name.
    pub cluster_roles: BTreeMap<String, ClusterRole>,
    /// RoleBindings by (namespace, name).
    pub role_bindings: BTreeMap<(String, String), RoleBinding>,
    /// ClusterRoleBindings by name.
    pub cluster_role_bindings: BTreeMap<String, ClusterRoleBinding>,
}

/// One binding with its role's rules resolved.
#[derive(Debug)]
struct Grant {
    subjects: Vec<Subject>,
    /// The binding's namespace ("" for a ClusterRoleBinding): a ServiceAccount subject without a
    /// namespace means one in this namespace.
    namespace: String,
    rules: Arc<[PolicyRule]>,
}

/// Bindings resolved against their roles, ready to answer requests without parsing anything.
#[derive(Debug, Default)]
pub struct Policy {
    cluster: Vec<Grant>,
    namespaced: HashMap<String, Vec<Grant>>,
}

impl Policy {
    /// Resolves every binding's roleRef. A binding to a missing role grants nothing (kube's
    /// authorizer then only logs an error).
    pub fn compile(o: &Objects) -> Policy {
        let cluster_rules: HashMap<&str, Arc<[PolicyRule]>> = o
            .cluster_roles
            .iter()
            .map(|(name, r)| (name.as_str(), Arc::from(r.rules.clone().unwrap_or_default())))
            .collect();
        let mut policy = Policy::default();
        for b in o.cluster_role_bindings.values() {
            if b.role_ref.kind != "ClusterRole" {
                continue;
            }
            if let Some(rules) = cluster_rules.get(b.role_ref.name.as_str()) {
                policy.cluster.push(Grant {
                    subjects: b.subjects.clone().unwrap_or_default(),
                    namespace: String::new(),
                    rules: rules.clone(),
                });
            }
        }
        for ((ns, _), b) in &o.role_bindings {
            let rules = match b.role_ref.kind.as_str() {
                "ClusterRole" => cluster_rules.get(b.role_ref.name.as_str()).cloned(),
                "Role" => o
                    .roles
                    .get(&(ns.clone(), b.role_ref.name.clone()))
                    .map(|r| Arc::from(r.rules.clone().unwrap_or_default())),
                _ => None,
            };
            if let Some(rules) = rules {
                policy.namespaced.entry(ns.clone()).or_default().push(Grant {
                    subjects: b.subjects.clone().unwrap_or_default(),
                    namespace: ns.clone(),
                    rules,
                });
            }
        }
        policy
    }

    /// Whether some binding that applies to `user` has a rule that allows the request:
    /// ClusterRoleBindings always, RoleBindings of the request's namespace for namespaced requests.
    pub fn allows(&self, user: &UserInfo, info: &RequestInfo) -> bool {
        let namespace = match info {
            RequestInfo::Resource(r) => super::namespace_of(r),
            RequestInfo::NonResource { .. } => None,
        };
        let local = namespace.and_then(|ns| self.namespaced.get(ns)).map(Vec::as_slice).unwrap_or_default();
        self.cluster.iter().chain(local).any(|g| {
            g.subjects.iter().any(|s| applies_to(s, user, &g.namespace))
                && g.rules.iter().any(|rule| rule_allows(rule, info))
        })
    }
}

/// Whether a subject names the user (kube's appliesToUser).
pub fn applies_to(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{}", subject.name)
        }
        _ => false,
    }
}

/// Whether one rule allows the request (kube's RuleAllows).
pub fn rule_allows(rule: &PolicyRule, info: &RequestInfo) -> bool {
    match info {
        RequestInfo::Resource(r) => resource_rule_allows(rule, r),
        RequestInfo::NonResource { verb, path } => {
            has(&rule.verbs, verb) && non_resource_url_matches(rule.non_resource_urls.as_deref(), path)
        }
    }
}

fn resource_rule_allows(rule: &PolicyRule, r: &ResourceRequest) -> bool {
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    let names = rule.resource_names.as_deref().unwrap_or_default();
    has(&rule.verbs, r.verb.as_str())
        && (groups.iter().any(|g| g == "*" || *g == r.group))
        && resource_matches(
            rule.resources.as_deref().unwrap_or_default(),
            &r.resource,
            r.subresource.as_deref(),
        )
        && (names.is_empty() || r.name.as_deref().is_some_and(|n| names.iter().any(|x| x == n)))
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|v| v == "*" || v == item)
}

/// `resources` entries: `*`, `pods`, `pods/status`, and `*/status` for a subresource of anything.
fn resource_matches(rule_resources: &[String], resource: &str, subresource: Option<&str>) -> bool {
    let combined = match subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_owned(),
    };
    rule_resources.iter().any(|rr| {
        rr == "*"
            || *rr == combined
            || subresource.is_some_and(|sub| rr.strip_prefix("*/").is_some_and(|s| s == sub))
    })
}

/// `nonResourceURLs` entries: `*`, an exact path, or a prefix ending in `*`.
fn non_resource_url_matches(urls: Option<&[String]>, path: &str) -> bool {
    urls.unwrap_or_default()
        .iter()
        .any(|u| u == "*" || u == path || u.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request_info::parse;
    use http::Method;
    use k8s_openapi::api::rbac::v1::RoleRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        PolicyRule {
            api_groups: Some(v(groups)),
            resources: Some(v(resources)),
            verbs: v(verbs),
            resource_names: (!names.is_empty()).then(|| v(names)),
            non_resource_urls: None,
        }
    }

    fn req(method: Method, path: &str) -> RequestInfo {
        let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
        parse(&method, path, query).unwrap()
    }

    #[test]
    fn verbs_groups_resources_subresources_and_names() {
        let pods = rule(&[""], &["pods"], &["get", "list"], &[]);
        assert!(rule_allows(&pods, &req(Method::GET, "/api/v1/namespaces/a/pods/x")));
        assert!(rule_allows(&pods, &req(Method::GET, "/api/v1/namespaces/a/pods")));
        assert!(!rule_allows(&pods, &req(Method::GET, "/api/v1/namespaces/a/pods?watch=true")));
        assert!(!rule_allows(&pods, &req(Method::DELETE, "/api/v1/namespaces/a/pods/x")));
        // `pods` does not cover its subresources.
        assert!(!rule_allows(&pods, &req(Method::GET, "/api/v1/namespaces/a/pods/x/status")));
        // Another group.
        assert!(!rule_allows(&pods, &req(Method::GET, "/apis/coordination.k8s.io/v1/namespaces/a/leases/x")));

        let status = rule(&[""], &["pods/status"], &["update"], &[]);
        assert!(rule_allows(&status, &req(Method::PUT, "/api/v1/namespaces/a/pods/x/status")));
        assert!(!rule_allows(&status, &req(Method::PUT, "/api/v1/namespaces/a/pods/x")));
        let any_status = rule(&[""], &["*/status"], &["update"], &[]);
        assert!(rule_allows(&any_status, &req(Method::PUT, "/api/v1/nodes/n/status")));
        assert!(!rule_allows(&any_status, &req(Method::POST, "/api/v1/namespaces/a/pods/x/binding")));

        let named = rule(&["coordination.k8s.io"], &["leases"], &["get", "update"], &["kube-scheduler"]);
        assert!(rule_allows(
            &named,
            &req(Method::GET, "/apis/coordination.k8s.io/v1/namespaces/k/leases/kube-scheduler")
        ));
        assert!(!rule_allows(
            &named,
            &req(Method::GET, "/apis/coordination.k8s.io/v1/namespaces/k/leases/other")
        ));
        // resourceNames never match a list (no name).
        assert!(!rule_allows(&named, &req(Method::GET, "/apis/coordination.k8s.io/v1/namespaces/k/leases")));

        let all = rule(&["*"], &["*"], &["*"], &[]);
        assert!(rule_allows(&all, &req(Method::POST, "/api/v1/namespaces/a/pods/x/binding")));
        assert!(rule_allows(&all, &req(Method::DELETE, "/apis/rbac.authorization.k8s.io/v1/clusterroles")));
        // Resource rules never allow a non-resource URL.
        assert!(!rule_allows(&all, &req(Method::GET, "/healthz")));
    }

    #[test]
    fn non_resource_urls_with_trailing_star() {
        let r = PolicyRule {
            non_resource_urls: Some(vec!["/healthz".into(), "/apis/*".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        };
        assert!(rule_allows(&r, &req(Method::GET, "/healthz")));
        assert!(rule_allows(&r, &req(Method::GET, "/apis/apps")));
        assert!(!rule_allows(&r, &req(Method::GET, "/api")));
        assert!(!rule_allows(&r, &req(Method::GET, "/healthzx")));
        let star = PolicyRule {
            non_resource_urls: Some(vec!["*".into()]),
            verbs: vec!["*".into()],
            ..Default::default()
        };
        assert!(rule_allows(&star, &req(Method::GET, "/metrics")));
    }

    fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
        Subject { kind: kind.into(), name: name.into(), namespace: ns.map(str::to_owned), api_group: None }
    }

    #[test]
    fn subjects_users_groups_and_service_accounts() {
        let alice = UserInfo::authenticated("alice", "", vec!["dev".into()]);
        assert!(applies_to(&subject("User", "alice", None), &alice, ""));
        assert!(!applies_to(&subject("User", "bob", None), &alice, ""));
        assert!(applies_to(&subject("Group", "dev", None), &alice, ""));
        assert!(applies_to(&subject("Group", "system:authenticated", None), &alice, ""));
        let sa = UserInfo::authenticated("system:serviceaccount:team:builder", "", vec![]);
        assert!(applies_to(&subject("ServiceAccount", "builder", Some("team")), &sa, ""));
        // Without a namespace: the binding's.
        assert!(applies_to(&subject("ServiceAccount", "builder", None), &sa, "team"));
        assert!(!applies_to(&subject("ServiceAccount", "builder", None), &sa, "other"));
        assert!(!applies_to(&subject("ServiceAccount", "builder", None), &sa, ""));
    }

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: ns.map(str::to_owned), ..Default::default() }
    }

    #[test]
    fn role_bindings_grant_only_in_their_namespace() {
        let mut o = Objects::default();
        o.roles.insert(
            ("team".into(), "pod-reader".into()),
            Role {
                metadata: meta(Some("team"), "pod-reader"),
                rules: Some(vec![rule(&[""], &["pods"], &["get"], &[])]),
            },
        );
        o.cluster_roles.insert(
            "node-reader".into(),
            ClusterRole {
                metadata: meta(None, "node-reader"),
                rules: Some(vec![rule(&[""], &["nodes", "pods"], &["list"], &[])]),
                aggregation_rule: None,
            },
        );
        let binding = |ns: &str, name: &str, kind: &str, role: &str, user: &str| RoleBinding {
            metadata: meta(Some(ns), name),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: kind.into(),
                name: role.into(),
            },
            subjects: Some(vec![subject("User", user, None)]),
        };
        o.role_bindings
            .insert(("team".into(), "a".into()), binding("team", "a", "Role", "pod-reader", "alice"));
        o.role_bindings
            .insert(("team".into(), "b".into()), binding("team", "b", "ClusterRole", "node-reader", "bob"));
        o.role_bindings.insert(("team".into(), "c".into()), binding("team", "c", "Role", "missing", "carol"));
        o.cluster_role_bindings.insert(
            "d".into(),
            ClusterRoleBinding {
                metadata: meta(None, "d"),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "node-reader".into(),
                },
                subjects: Some(vec![subject("Group", "readers", None)]),
            },
        );
        let p = Policy::compile(&o);
        let alice = UserInfo::authenticated("alice", "", vec![]);
        let bob = UserInfo::authenticated("bob", "", vec![]);
        let carol = UserInfo::authenticated("carol", "", vec![]);
        let dave = UserInfo::authenticated("dave", "", vec!["readers".into()]);
        assert!(p.allows(&alice, &req(Method::GET, "/api/v1/namespaces/team/pods/x")));
        assert!(!p.allows(&alice, &req(Method::GET, "/api/v1/namespaces/other/pods/x")));
        assert!(!p.allows(&alice, &req(Method::GET, "/api/v1/pods")));
        // A ClusterRole through a RoleBinding: only in that namespace, never cluster-scoped.
        assert!(p.allows(&bob, &req(Method::GET, "/api/v1/namespaces/team/pods")));
        assert!(!p.allows(&bob, &req(Method::GET, "/api/v1/nodes")));
        assert!(!p.allows(&bob, &req(Method::GET, "/api/v1/pods")));
        assert!(!p.allows(&carol, &req(Method::GET, "/api/v1/namespaces/team/pods/x")));
        assert!(p.allows(&dave, &req(Method::GET, "/api/v1/nodes")));
        assert!(p.allows(&dave, &req(Method::GET, "/api/v1/pods")));
        assert!(!p.allows(&dave, &req(Method::GET, "/api/v1/nodes/x")));
    }
}
