//! The audit policy (`--audit-policy-file`, audit.k8s.io/v1 `Policy`): the first rule that matches
//! a request sets its level and omitted stages; no matching rule means level None.

use serde::Deserialize;

use super::event::{Level, Stage};

/// The policy file's document.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// `audit.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Policy`.
    #[serde(default)]
    pub kind: String,
    /// In order; the first match wins.
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// Stages never written, for every rule.
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
}

/// One rule: every set field must match.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// The level of matching requests.
    pub level: Level,
    /// User names; empty matches all.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups (any of the user's); empty matches all.
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// Verbs; empty matches all.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Resources; when set, non-resource requests do not match.
    #[serde(default)]
    pub resources: Vec<GroupResources>,
    /// Namespaces (`""` is cluster-scoped); when set, non-resource requests do not match.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Paths, exact or with a trailing `*`; when set, resource requests do not match.
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    /// Stages not written for this rule's requests.
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
}

/// Resources of one API group.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupResources {
    /// API group; "" is core.
    #[serde(default)]
    pub group: String,
    /// `pods`, `pods/status`, `*`, `*/status`; empty matches all of the group.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names; empty matches all.
    #[serde(default)]
    pub resource_names: Vec<String>,
}

/// What a request is, for matching.
#[derive(Clone, Copy, Debug)]
pub struct RequestAttributes<'a> {
    /// User name.
    pub user: &'a str,
    /// The user's groups.
    pub groups: &'a [String],
    /// Kubernetes verb.
    pub verb: &'a str,
    /// For resource requests: (group, resource, subresource, namespace, name).
    pub resource: Option<ResourceAttributes<'a>>,
    /// For non-resource requests: the path.
    pub path: &'a str,
}

/// The resource part of [`RequestAttributes`].
#[derive(Clone, Copy, Debug)]
pub struct ResourceAttributes<'a> {
    /// API group.
    pub group: &'a str,
    /// Resource.
    pub resource: &'a str,
    /// Subresource.
    pub subresource: Option<&'a str>,
    /// Namespace, absent for cluster-scoped.
    pub namespace: Option<&'a str>,
    /// Name, absent for collections.
    pub name: Option<&'a str>,
}

impl Policy {
    /// Parses a policy file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Policy, String> {
        let policy: Policy = serde_yaml::from_str(text).map_err(|e| format!("audit policy: {e}"))?;
        if policy.kind != "Policy" || !policy.api_version.starts_with("audit.k8s.io/") {
            return Err(format!(
                "audit policy: expected apiVersion audit.k8s.io/v1, kind Policy; got {:?} {:?}",
                policy.api_version, policy.kind
            ));
        }
        Ok(policy)
    }

    /// The level and omitted stages of a request.
    pub fn evaluate(&self, a: &RequestAttributes<'_>) -> (Level, Vec<Stage>) {
        match self.rules.iter().find(|r| r.matches(a)) {
            Some(rule) => {
                let mut omit = self.omit_stages.clone();
                omit.extend(rule.omit_stages.iter().copied());
                (rule.level, omit)
            }
            None => (Level::None, Vec::new()),
        }
    }
}

impl PolicyRule {
    fn matches(&self, a: &RequestAttributes<'_>) -> bool {
        if !self.users.is_empty() && !self.users.iter().any(|u| u == a.user) {
            return false;
        }
        if !self.user_groups.is_empty() && !self.user_groups.iter().any(|g| a.groups.contains(g)) {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.iter().any(|v| v == a.verb) {
            return false;
        }
        match &a.resource {
            Some(r) => {
                if !self.non_resource_urls.is_empty() {
                    return false;
                }
                if !self.namespaces.is_empty()
                    && !self.namespaces.iter().any(|n| n == r.namespace.unwrap_or(""))
                {
                    return false;
                }
                self.resources.is_empty() || self.resources.iter().any(|g| g.matches(r))
            }
            None => {
                if !self.resources.is_empty() || !self.namespaces.is_empty() {
                    return false;
                }
                self.non_resource_urls.is_empty()
                    || self.non_resource_urls.iter().any(|u| match u.strip_suffix('*') {
                        Some(prefix) => a.path.starts_with(prefix),
                        None => u == a.path,
                    })
            }
        }
    }
}

impl GroupResources {
    fn matches(&self, r: &ResourceAttributes<'_>) -> bool {
        if self.group != r.group {
            return false;
        }
        let full = match r.subresource {
            Some(sub) => format!("{}/{sub}", r.resource),
            None => r.resource.to_owned(),
        };
        let resource_ok = self.resources.is_empty()
            || self.resources.iter().any(|p| {
                p == &full
                    || p == "*"
                    || r.subresource.is_some_and(|sub| p.strip_prefix("*/") == Some(sub))
                    || p.strip_suffix("/*") == Some(r.resource)
            });
        resource_ok
            && (self.resource_names.is_empty()
                || r.name.is_some_and(|n| self.resource_names.iter().any(|x| x == n)))
    }
}
