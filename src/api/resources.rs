//! The resources this API server serves: one static table that discovery, OpenAPI, request
//! routing, storage keys and Table output all read. Adding a kind starts here.

/// A subresource of a resource (`pods/status`, `pods/binding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// `status`, `binding`.
    pub name: &'static str,
    /// The kind the subresource takes and returns (`Pod` for status, `Binding` for binding).
    pub kind: &'static str,
    /// The verbs it accepts, as discovery lists them.
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group; "" is the core (legacy) group served under /api.
    pub group: &'static str,
    /// The one served version.
    pub version: &'static str,
    /// Plural, lower case: the path segment (`pods`).
    pub plural: &'static str,
    /// Singular, lower case (`pod`).
    pub singular: &'static str,
    /// Kind (`Pod`).
    pub kind: &'static str,
    /// List kind (`PodList`).
    pub list_kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names (`po`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Verbs on the resource itself.
    pub verbs: &'static [&'static str],
    /// Subresources.
    pub subresources: &'static [Subresource],
    /// Storage key segment under the etcd prefix, as kube-apiserver lays it out (`minions` for
    /// nodes is kube-apiserver's legacy name).
    pub storage_segment: &'static str,
}

const ALL_VERBS: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

impl Resource {
    /// `v1` or `group/version`, as in `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage prefix of the whole collection, relative to the store prefix:
    /// `/pods/` (all namespaces) — keys are `/pods/<ns>/<name>` or `/nodes/<name>`.
    pub fn storage_prefix(&self) -> String {
        format!("/{}/", self.storage_segment)
    }

    /// The storage prefix of one namespace's objects: `/pods/<ns>/`.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("/{}/{}/", self.storage_segment, namespace)
    }

    /// The storage key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/{}/{}/{}", self.storage_segment, ns, name),
            _ => format!("/{}/{}", self.storage_segment, name),
        }
    }

    /// A named subresource, if served.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// Every served resource, in discovery order.
pub static RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        list_kind: "NamespaceList",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        verbs: &["create", "delete", "get", "list", "patch", "update", "watch"],
        subresources: &[Subresource { name: "status", kind: "Namespace", verbs: STATUS_VERBS }],
        storage_segment: "namespaces",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        list_kind: "PodList",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &[
            Subresource { name: "status", kind: "Pod", verbs: STATUS_VERBS },
            Subresource { name: "binding", kind: "Binding", verbs: &["create"] },
        ],
        storage_segment: "pods",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        list_kind: "NodeList",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[Subresource { name: "status", kind: "Node", verbs: STATUS_VERBS }],
        storage_segment: "minions",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        list_kind: "ConfigMapList",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "configmaps",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        list_kind: "SecretList",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "secrets",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        list_kind: "EventList",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "events",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "limitranges",
        singular: "limitrange",
        kind: "LimitRange",
        list_kind: "LimitRangeList",
        namespaced: true,
        short_names: &["limits"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "limitranges",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        list_kind: "ResourceQuotaList",
        namespaced: true,
        short_names: &["quota"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[Subresource { name: "status", kind: "ResourceQuota", verbs: STATUS_VERBS }],
        storage_segment: "resourcequotas",
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        list_kind: "LeaseList",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "leases",
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        singular: "role",
        kind: "Role",
        list_kind: "RoleList",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "roles",
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        list_kind: "RoleBindingList",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "rolebindings",
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        list_kind: "ClusterRoleList",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "clusterroles",
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        list_kind: "ClusterRoleBindingList",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        storage_segment: "clusterrolebindings",
    },
];

/// Looks a resource up by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by group and kind.
pub fn find_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.kind == kind)
}

/// The served groups other than core, in discovery order, without duplicates.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}
