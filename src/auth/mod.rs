//! Authorization (--authorization-mode): an ordered chain of authorizers, each saying allow, deny
//! or no opinion; the first decision wins and all no-opinion is a denial (kube's union
//! authorizer). `system:masters` is allowed ahead of the chain, as kube-apiserver does.
//!
//! Modes: AlwaysAllow, AlwaysDeny, Node ([`node`]), RBAC ([`rbac`], fed by [`rbac_index`], with
//! the default roles of [`bootstrap_policy`]). Identities are [`user::UserInfo`]; client
//! certificates are read by [`x509`] (real mode).

pub mod bootstrap_policy;
pub mod node;
pub mod rbac;
pub mod rbac_index;
pub mod user;
#[cfg(not(madsim))]
pub mod x509;

use std::sync::Arc;

use crate::api::request_info::{RequestInfo, ResourceRequest};
use crate::api::selector::FieldSelector;

use self::rbac_index::RbacIndex;
use self::user::{UserInfo, MASTERS};

/// What one authorizer says; the reason explains a denial (kube's `(Decision, reason)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: no further authorizer is asked.
    Allow,
    /// Denied: no further authorizer is asked.
    Deny(String),
    /// Up to the next authorizer; the reason (may be empty) ends up in the 403 message.
    NoOpinion(String),
}

/// One --authorization-mode entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Allows everything.
    AlwaysAllow,
    /// Denies everything.
    AlwaysDeny,
    /// The Node authorizer: kubelets' access to their own objects.
    Node,
    /// Role-based access control.
    Rbac,
}

/// A bad --authorization-mode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Not one of the modes kubesim has.
    #[error("authorization mode {0:?} is not supported (AlwaysAllow, AlwaysDeny, Node, RBAC)")]
    Unknown(String),
}

impl std::str::FromStr for Mode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Mode, ModeError> {
        match s.trim() {
            "AlwaysAllow" => Ok(Mode::AlwaysAllow),
            "AlwaysDeny" => Ok(Mode::AlwaysDeny),
            "Node" => Ok(Mode::Node),
            "RBAC" => Ok(Mode::Rbac),
            other => Err(ModeError::Unknown(other.to_owned())),
        }
    }
}

/// Parses a list of modes.
pub fn parse_modes(modes: &[String]) -> Result<Vec<Mode>, ModeError> {
    modes.iter().filter(|m| !m.trim().is_empty()).map(|m| m.parse()).collect()
}

/// What an authorizer sees of a request.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// Who.
    pub user: &'a UserInfo,
    /// What.
    pub info: &'a RequestInfo,
    /// The field selector of a list or watch (the Node authorizer reads spec.nodeName from it).
    pub fields: Option<&'a FieldSelector>,
    /// For a node's request on one pod ([`Authorizer::pod_needed`]): the node the pod is bound
    /// to; None when there is no such pod or it is unbound.
    pub pod_node: Option<&'a str>,
}

/// The namespace a resource request is authorized in. A namespace object is in itself
/// (kube's RequestInfo sets the namespace of `/api/v1/namespaces/<name>` to `<name>`).
pub fn namespace_of(r: &ResourceRequest) -> Option<&str> {
    if r.group.is_empty() && r.resource == "namespaces" {
        r.name.as_deref().or(r.namespace.as_deref())
    } else {
        r.namespace.as_deref()
    }
}

/// The field selector of a query, if it parses (one that does not is refused later with 400).
pub fn field_selector(query: Option<&str>) -> Option<FieldSelector> {
    let q = query?;
    let (_, v) = form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "fieldSelector")?;
    FieldSelector::parse(&v).ok()
}

/// The authorizer chain of --authorization-mode.
#[derive(Debug)]
pub struct Authorizer {
    modes: Vec<Mode>,
    rbac: Option<Arc<RbacIndex>>,
}

impl Authorizer {
    /// A chain of `modes`; with RBAC, an empty index that [`RbacIndex::follow`] fills.
    pub fn new(modes: Vec<Mode>) -> Authorizer {
        let rbac = modes.contains(&Mode::Rbac).then(|| Arc::new(RbacIndex::default()));
        Authorizer { modes, rbac }
    }

    /// The RBAC index, when RBAC is a mode.
    pub fn rbac(&self) -> Option<&Arc<RbacIndex>> {
        self.rbac.as_ref()
    }

    /// The pod whose binding must be looked up before [`authorize`](Self::authorize): only for
    /// a node's requests on one pod, under the Node mode.
    pub fn pod_needed<'a>(&self, user: &UserInfo, info: &'a RequestInfo) -> Option<(&'a str, &'a str)> {
        let RequestInfo::Resource(r) = info else { return None };
        if !self.modes.contains(&Mode::Node) || user.node_name().is_none() {
            return None;
        }
        node::pod_needed(r)
    }

    /// The chain's decision: [`Decision::Allow`] or [`Decision::Deny`] with the reasons given.
    pub fn authorize(&self, a: &Attributes<'_>) -> Decision {
        if a.user.in_group(MASTERS) {
            return Decision::Allow;
        }
        let mut reasons = Vec::new();
        for mode in &self.modes {
            let decision = match mode {
                Mode::AlwaysAllow => Decision::Allow,
                Mode::AlwaysDeny => Decision::Deny("Everything is forbidden.".into()),
                Mode::Node => match (a.user.node_name(), a.info) {
                    (Some(node), RequestInfo::Resource(r)) => node::authorize(node, r, a.fields, a.pod_node),
                    _ => Decision::NoOpinion(String::new()),
                },
                Mode::Rbac => match &self.rbac {
                    Some(index) if index.policy().allows(a.user, a.info) => Decision::Allow,
                    _ => Decision::NoOpinion(String::new()),
                },
            };
            match decision {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason);
                    }
                }
                decided => return decided,
            }
        }
        Decision::Deny(reasons.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn first_decision_wins_and_masters_pass_first() {
        let info = crate::api::request_info::parse(&Method::GET, "/api/v1/nodes/b", None).unwrap();
        let node = UserInfo::authenticated("system:node:a", "", vec![user::NODES.into()]);
        let a = Attributes { user: &node, info: &info, fields: None, pod_node: None };
        let chain = |modes: &[&str]| {
            Authorizer::new(parse_modes(&modes.iter().map(|m| m.to_string()).collect::<Vec<_>>()).unwrap())
        };
        assert_eq!(chain(&["AlwaysAllow", "AlwaysDeny"]).authorize(&a), Decision::Allow);
        assert_eq!(
            chain(&["AlwaysDeny", "AlwaysAllow"]).authorize(&a),
            Decision::Deny("Everything is forbidden.".into())
        );
        // Node has no opinion (with a reason), RBAC has none either: denied with Node's reason.
        assert_eq!(
            chain(&["Node", "RBAC"]).authorize(&a),
            Decision::Deny("node 'a' cannot read 'b', only its own Node object".into())
        );
        assert_eq!(chain(&["Node", "AlwaysAllow"]).authorize(&a), Decision::Allow);
        let admin = UserInfo::authenticated("root", "", vec![MASTERS.into()]);
        let a = Attributes { user: &admin, ..a };
        assert_eq!(chain(&["AlwaysDeny"]).authorize(&a), Decision::Allow);
        assert_eq!(parse_modes(&["Webhook".into()]), Err(ModeError::Unknown("Webhook".into())));
    }
}
