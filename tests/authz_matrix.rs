//! Authorization matrix (issue #7): an API server with `--authorization-mode=Node,RBAC` and the
//! default policy, asked by each identity — no roles, a namespaced Role, cluster-admin by binding,
//! system:masters, two nodes, anonymous — for every verb on pods, pods/binding, pods/status, nodes,
//! nodes/status, leases and namespaces. Every cell is compared with the expectation: zero
//! unexpected allows, zero unexpected denies. "Allowed" is anything but 401/403 (a 404, 405, 409 or
//! 422 comes after authorization). Mutations use dryRun=All, so the state never changes.
#![cfg(not(madsim))]

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use kubesim::client::ApiClient;
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::{TestApiServer, TestAuth};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Nobody,
    Dev,
    Ops,
    Masters,
    NodeA,
    NodeB,
    Anonymous,
}

const WHO: [Who; 7] = [Who::Nobody, Who::Dev, Who::Ops, Who::Masters, Who::NodeA, Who::NodeB, Who::Anonymous];

impl Who {
    fn token(self) -> Option<&'static str> {
        match self {
            Who::Nobody => Some("t-nobody"),
            Who::Dev => Some("t-dev"),
            Who::Ops => Some("t-ops"),
            Who::Masters => Some(kubesim::testing::TEST_ADMIN_TOKEN),
            Who::NodeA => Some("t-node-a"),
            Who::NodeB => Some("t-node-b"),
            Who::Anonymous => None,
        }
    }
}

const TOKENS: &str = "t-nobody,nobody,10\n\
                      t-dev,dev,11\n\
                      t-ops,ops,12\n\
                      t-node-a,system:node:a,13,\"system:nodes\"\n\
                      t-node-b,system:node:b,14,\"system:nodes\"\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

const OPS: [Op; 7] = [Op::Get, Op::List, Op::Watch, Op::Create, Op::Update, Op::Patch, Op::Delete];

impl Op {
    fn letter(self) -> char {
        match self {
            Op::Get => 'g',
            Op::List => 'l',
            Op::Watch => 'w',
            Op::Create => 'c',
            Op::Update => 'u',
            Op::Patch => 'p',
            Op::Delete => 'd',
        }
    }
}

/// One row: a target and how to ask each verb of it.
struct Row {
    label: &'static str,
    /// Path of the named object (get, update, patch, delete; create for subresources).
    object: Option<String>,
    /// Path of the collection (list, watch; create for top-level resources).
    collection: Option<String>,
    /// Body for a create.
    new: Value,
    /// The object as stored (body of an update).
    current: Value,
    /// The verbs this row asks.
    ops: &'static [Op],
}

fn pod(name: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team"},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}})
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
}

fn lease(name: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": {"holderIdentity": name}})
}

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

/// What each identity may do, by row label and verb.
fn expected(who: Who, row: &str, op: Op) -> bool {
    use Op::*;
    if who == Who::Masters || who == Who::Ops {
        return true;
    }
    match (who, row) {
        (_, "GET /healthz") => true,
        (Who::Anonymous, "GET /api") => false,
        (_, "GET /api") => true,
        (Who::Dev, "pods a" | "pods b") => true,
        (Who::NodeA, "pods a") => matches!(op, Get | Delete),
        (Who::NodeB, "pods b") => matches!(op, Get | Delete),
        (Who::NodeA, "pods nodeName=a") => true,
        (Who::NodeA, "pods/status a") => matches!(op, Update | Patch),
        // Creates name a new object ("c"): the authorizer allows any node to create any Node
        // or Lease (it does not see the body), the NodeRestriction admission plugin refuses
        // names other than the node's own.
        (Who::NodeB, "nodes b") => matches!(op, Get | Update | Patch),
        (Who::NodeA, "nodes b") => false,
        (Who::NodeB, "nodes/status b") => matches!(op, Get | Update | Patch),
        (Who::NodeA, "leases a") => matches!(op, Get | Update | Patch | Delete),
        (Who::NodeB, "leases a") => false,
        _ => false,
    }
}

fn rows(pod_a: &Value, pod_b: &Value, node_b: &Value, lease_a: &Value, team: &Value) -> Vec<Row> {
    let pods = "/api/v1/namespaces/team/pods";
    let all = &[Op::Get, Op::List, Op::Watch, Op::Create, Op::Update, Op::Patch, Op::Delete][..];
    let named = &[Op::Get, Op::Create, Op::Update, Op::Patch, Op::Delete][..];
    vec![
        Row {
            label: "pods a",
            object: Some(format!("{pods}/pod-a")),
            collection: Some(pods.into()),
            new: pod("new-pod", "a"),
            current: pod_a.clone(),
            ops: all,
        },
        Row {
            label: "pods b",
            object: Some(format!("{pods}/pod-b")),
            collection: None,
            new: Value::Null,
            current: pod_b.clone(),
            ops: &[Op::Get, Op::Update, Op::Patch, Op::Delete],
        },
        Row {
            label: "pods nodeName=a",
            object: None,
            collection: Some("/api/v1/pods?fieldSelector=spec.nodeName%3Da".into()),
            new: Value::Null,
            current: Value::Null,
            ops: &[Op::List, Op::Watch],
        },
        Row {
            label: "pods/binding a",
            object: Some(format!("{pods}/pod-a/binding")),
            collection: None,
            new: json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "pod-a"},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": "b"}}),
            current: pod_a.clone(),
            ops: named,
        },
        Row {
            label: "pods/status a",
            object: Some(format!("{pods}/pod-a/status")),
            collection: None,
            new: pod_a.clone(),
            current: pod_a.clone(),
            ops: named,
        },
        Row {
            label: "nodes b",
            object: Some("/api/v1/nodes/b".into()),
            collection: Some("/api/v1/nodes".into()),
            new: node("c"),
            current: node_b.clone(),
            ops: all,
        },
        Row {
            label: "nodes/status b",
            object: Some("/api/v1/nodes/b/status".into()),
            collection: None,
            new: node_b.clone(),
            current: node_b.clone(),
            ops: named,
        },
        Row {
            label: "leases a",
            object: Some(format!("{LEASES}/a")),
            collection: Some(LEASES.into()),
            new: lease("c"),
            current: lease_a.clone(),
            ops: all,
        },
        Row {
            label: "namespaces team",
            object: Some("/api/v1/namespaces/team".into()),
            collection: Some("/api/v1/namespaces".into()),
            new: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new-ns"}}),
            current: team.clone(),
            ops: all,
        },
        Row {
            label: "GET /api",
            object: Some("/api".into()),
            collection: None,
            new: Value::Null,
            current: Value::Null,
            ops: &[Op::Get],
        },
        Row {
            label: "GET /healthz",
            object: Some("/healthz".into()),
            collection: None,
            new: Value::Null,
            current: Value::Null,
            ops: &[Op::Get],
        },
    ]
}

fn with_query(path: &str, q: &str) -> String {
    if path.contains('?') {
        format!("{path}&{q}")
    } else {
        format!("{path}?{q}")
    }
}

/// Asks one verb; returns the status and the Status message.
async fn ask(client: &ApiClient, row: &Row, op: Op) -> (StatusCode, String) {
    let object = || row.object.clone().expect("a named object");
    let dry = |p: String| with_query(&p, "dryRun=All");
    let body = |v: &Value| Some((bytes::Bytes::from(v.to_string()), "application/json"));
    let r = match op {
        Op::Get => client.get(&object()).await,
        Op::List => client.get(row.collection.as_deref().unwrap()).await,
        Op::Watch => {
            client.get(&with_query(row.collection.as_deref().unwrap(), "watch=1&timeoutSeconds=1")).await
        }
        Op::Create => match (&row.collection, row.label.contains('/')) {
            (Some(c), false) => {
                client.request(Method::POST, &dry(c.split('?').next().unwrap().into()), body(&row.new)).await
            }
            // A subresource is created on the object's path (pods/binding); a binding takes no
            // dryRun, and binding an already-bound pod is a 409, so nothing changes either way.
            _ => client.request(Method::POST, &object(), body(&row.new)).await,
        },
        Op::Update => client.request(Method::PUT, &dry(object()), body(&row.current)).await,
        Op::Patch => {
            let patch = json!({"metadata": {"labels": {"touched": "yes"}}});
            client.patch(&dry(object()), "application/merge-patch+json", &patch).await
        }
        Op::Delete => client.request(Method::DELETE, &dry(object()), None).await,
    };
    let r = r.expect("request sent");
    let message = r.json().ok().and_then(|v| v["message"].as_str().map(str::to_owned)).unwrap_or_default();
    (r.status, message)
}

async fn created(client: &ApiClient, path: &str, body: Value) -> Value {
    let r = client.post_json(path, &body).await.unwrap();
    assert_eq!(r.status, 201, "creating at {path}: {}", r.describe());
    r.json().unwrap()
}

async fn server() -> TestApiServer {
    let config =
        ApiServerConfig { authorization_modes: vec!["Node".into(), "RBAC".into()], ..Default::default() };
    let auth = TestAuth { token_lines: TOKENS.into(), ..Default::default() };
    TestApiServer::start_with_auth(Arc::new(ModelStore::default()), config, &auth).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_and_rbac_authorization_matrix() {
    let s = server().await;
    let admin = s.client();
    let team = created(
        &admin,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await;
    let pod_a = created(&admin, "/api/v1/namespaces/team/pods", pod("pod-a", "a")).await;
    let pod_b = created(&admin, "/api/v1/namespaces/team/pods", pod("pod-b", "b")).await;
    created(&admin, "/api/v1/nodes", node("a")).await;
    let node_b = created(&admin, "/api/v1/nodes", node("b")).await;
    let lease_a = created(&admin, LEASES, lease("a")).await;
    created(&admin, LEASES, lease("b")).await;
    created(
        &admin,
        &format!("{RBAC}/namespaces/team/roles"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "pod-editor", "namespace": "team"},
               "rules": [{"apiGroups": [""], "resources": ["pods"],
                          "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]}),
    )
    .await;
    created(
        &admin,
        &format!("{RBAC}/namespaces/team/rolebindings"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "dev-pods", "namespace": "team"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-editor"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev"}]}),
    )
    .await;
    created(
        &admin,
        &format!("{RBAC}/clusterrolebindings"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "ops-admin"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ops"}]}),
    )
    .await;
    // The default policy is there, and the new bindings reach the index (it follows a watch).
    let roles = admin.get(&format!("{RBAC}/clusterroles")).await.unwrap().json().unwrap();
    let names: Vec<&str> =
        roles["items"].as_array().unwrap().iter().filter_map(|r| r["metadata"]["name"].as_str()).collect();
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:node",
        "system:kube-scheduler",
        "system:discovery",
        "system:public-info-viewer",
    ] {
        assert!(names.contains(&role), "default ClusterRole {role} missing: {names:?}");
    }
    let dev = s.client_with_token(Who::Dev.token());
    let ops = s.client_with_token(Who::Ops.token());
    let mut synced = false;
    for _ in 0..200 {
        let d = dev.get("/api/v1/namespaces/team/pods").await.unwrap().status;
        let o = ops.get("/api/v1/nodes").await.unwrap().status;
        if d == 200 && o == 200 {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(synced, "the RBAC index never saw the new bindings");

    let rows = rows(&pod_a, &pod_b, &node_b, &lease_a, &team);
    let mut asks = Vec::new();
    for row in &rows {
        for who in WHO {
            let client = s.client_with_token(who.token());
            for &op in row.ops {
                let client = client.clone();
                asks.push(async move { (row.label, who, op, ask(&client, row, op).await) });
            }
        }
    }
    let results = futures::future::join_all(asks).await;

    let mut failures = Vec::new();
    let mut table = format!("{:<18}", "");
    for who in WHO {
        table.push_str(&format!("{:<10}", format!("{who:?}")));
    }
    table.push('\n');
    for row in &rows {
        table.push_str(&format!("{:<18}", row.label));
        for who in WHO {
            let mut cell = String::new();
            for op in OPS {
                let Some((_, _, _, (status, message))) =
                    results.iter().find(|(l, w, o, _)| *l == row.label && *w == who && *o == op)
                else {
                    cell.push(' ');
                    continue;
                };
                let allowed = !matches!(status.as_u16(), 401 | 403);
                cell.push(if allowed { op.letter() } else { '-' });
                if allowed != expected(who, row.label, op) {
                    failures.push(format!(
                        "{who:?} {op:?} {}: {} (expected {}): {status} {message}",
                        row.label,
                        if allowed { "ALLOWED" } else { "DENIED" },
                        if allowed { "denied" } else { "allowed" }
                    ));
                }
                // Every identity here has credentials or is anonymous: a denial is 403, never 401.
                if *status == 401 {
                    failures.push(format!("{who:?} {op:?} {}: 401 {message}", row.label));
                }
            }
            table.push_str(&format!("{cell:<10}"));
        }
        table.push('\n');
    }
    println!("allowed verbs (g l w c u p d; - denied):\n{table}");
    assert!(
        failures.is_empty(),
        "{} unexpected decisions:\n{}\n{table}",
        failures.len(),
        failures.join("\n")
    );

    // The denials read as kube-apiserver's.
    let message = |who: Who, row: &str, op: Op| {
        results
            .iter()
            .find(|(l, w, o, _)| *l == row && *w == who && *o == op)
            .map(|r| r.3 .1.clone())
            .unwrap()
    };
    assert_eq!(
        message(Who::NodeA, "pods b", Op::Get),
        "pods \"pod-b\" is forbidden: User \"system:node:a\" cannot get resource \"pods\" in API group \"\" in the \
         namespace \"team\": no relationship found between node 'a' and this object"
    );
    assert_eq!(
        message(Who::NodeA, "nodes/status b", Op::Update),
        "nodes \"b\" is forbidden: User \"system:node:a\" cannot update resource \"nodes/status\" in API group \"\" \
         at the cluster scope: node \"a\" is not allowed to modify node \"b\""
    );
    assert!(message(Who::NodeA, "pods a", Op::List)
        .ends_with(": can only list/watch pods with spec.nodeName field selector"));
    assert_eq!(
        message(Who::Dev, "namespaces team", Op::Get),
        "namespaces \"team\" is forbidden: User \"dev\" cannot get resource \"namespaces\" in API group \"\" in the \
         namespace \"team\""
    );
    assert_eq!(
        message(Who::Anonymous, "GET /api", Op::Get),
        "forbidden: User \"system:anonymous\" cannot get path \"/api\""
    );

    // Revoking the binding takes dev's access away (the index follows deletes too).
    let r = admin.delete(&format!("{RBAC}/namespaces/team/rolebindings/dev-pods"), None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.describe());
    let mut revoked = false;
    for _ in 0..200 {
        if dev.get("/api/v1/namespaces/team/pods").await.unwrap().status == 403 {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(revoked, "dev kept access after its RoleBinding was deleted");
}

#[tokio::test]
async fn bad_tokens_are_401_and_anonymous_can_be_turned_off() {
    let s = server().await;
    let bad = s.client_with_token(Some("no-such-token"));
    let r = bad.get("/healthz").await.unwrap();
    assert_eq!(r.status, 401, "a bad token is never anonymous: {}", r.describe());
    assert_eq!(r.json().unwrap()["reason"], "Unauthorized");
    let anonymous = s.client_with_token(None);
    assert_eq!(anonymous.get("/healthz").await.unwrap().status, 200);

    let config = ApiServerConfig { anonymous_auth: false, ..Default::default() };
    let s = TestApiServer::start(Arc::new(ModelStore::default()), config).await;
    let r = s.client_with_token(None).get("/api/v1/namespaces").await.unwrap();
    assert_eq!(r.status, 401, "{}", r.describe());
    assert_eq!(s.client().get("/api/v1/namespaces").await.unwrap().status, 200);
}
