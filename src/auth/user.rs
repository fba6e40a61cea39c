//! Who made a request, as authentication found it, and the identities authorization treats
//! specially (nodes, service accounts, `system:masters`).

/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The anonymous user.
pub const ANONYMOUS: &str = "system:anonymous";
/// The group allowed everything, ahead of any authorizer (as in kube-apiserver).
pub const MASTERS: &str = "system:masters";
/// The group of kubelets.
pub const NODES: &str = "system:nodes";
/// The user-name prefix of kubelets.
pub const NODE_PREFIX: &str = "system:node:";

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Groups, including `system:authenticated` or `system:unauthenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> UserInfo {
        UserInfo { name: ANONYMOUS.into(), uid: String::new(), groups: vec![UNAUTHENTICATED.into()] }
    }

    /// An authenticated user: `groups` plus `system:authenticated` (kube's AuthenticatedGroupAdder,
    /// which adds it once).
    pub fn authenticated(
        name: impl Into<String>,
        uid: impl Into<String>,
        mut groups: Vec<String>,
    ) -> UserInfo {
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo { name: name.into(), uid: uid.into(), groups }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node name of a kubelet identity: user `system:node:<name>` in group `system:nodes`
    /// (kube's nodeidentifier). `Some("")` is a node whose name is missing.
    pub fn node_name(&self) -> Option<&str> {
        let name = self.name.strip_prefix(NODE_PREFIX)?;
        self.in_group(NODES).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_identity_needs_both_name_and_group() {
        let node = UserInfo::authenticated("system:node:a", "", vec![NODES.into()]);
        assert_eq!(node.node_name(), Some("a"));
        assert_eq!(node.groups, [NODES, AUTHENTICATED]);
        let impostor = UserInfo::authenticated("system:node:a", "", vec![]);
        assert_eq!(impostor.node_name(), None);
        let twice = UserInfo::authenticated("u", "", vec![AUTHENTICATED.into()]);
        assert_eq!(twice.groups, [AUTHENTICATED]);
    }
}
