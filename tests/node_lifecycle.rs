//! The node lifecycle controller against an in-process API server: a silent node is marked
//! unreachable and tainted, its pods are evicted, and the taint goes when the kubelet is back.
#![cfg(not(madsim))]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube_core::params::{Patch, PatchParams, PostParams};
use kube_core::{Request, Resource};
use kubesim::agents::kubelet_lifecycle::{lease_object, node_object, node_status_patch, KubeletConfig};
use kubesim::agents::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController, UNREACHABLE_TAINT};
use kubesim::client::{json_body, ApiClient};
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::{json, Value};
use tokio::sync::watch;

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string()
}

fn now_micro() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

async fn node(c: &ApiClient) -> Value {
    c.get("/api/v1/nodes/n1").await.unwrap().json().unwrap()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_nodes_are_marked_tainted_evicted_and_recover() {
    let s = TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await;
    let c = s.client();
    let cfg = KubeletConfig { node_name: "n1".into(), ..Default::default() };
    let nodes = Request::new(Node::url_path(&(), None));
    let create = nodes.create(&PostParams::default(), json_body(&node_object(&cfg, &now())).unwrap());
    assert_eq!(c.send(create.unwrap()).await.unwrap().status, 201);
    let leases = Lease::url_path(&(), Some("kube-node-lease"));
    let lease = json_body(&lease_object("n1", None, &now_micro(), 40)).unwrap();
    assert_eq!(
        c.send(Request::new(&leases).create(&PostParams::default(), lease).unwrap()).await.unwrap().status,
        201
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                     "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}});
    assert_eq!(c.post_json("/api/v1/namespaces/default/pods", &pod).await.unwrap().status, 201);

    let config = NodeLifecycleConfig {
        monitor_period: Duration::from_millis(200),
        grace_period: Duration::from_secs(1),
        eviction_timeout: Duration::from_secs(1),
    };
    let controller = NodeLifecycleController::new(config);
    let stats = controller.stats();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(controller.run(c.clone(), shutdown));

    wait_for("Ready=Unknown and the unreachable taint", async || {
        let n = node(&c).await;
        let ready =
            n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").cloned();
        let tainted =
            n["spec"]["taints"].as_array().is_some_and(|t| t.iter().any(|t| t["key"] == UNREACHABLE_TAINT));
        ready.is_some_and(|r| r["status"] == "Unknown" && r["reason"] == "NodeStatusUnknown") && tainted
    })
    .await;
    wait_for("the pod evicted (graceful deletion)", async || {
        let p: Value = c.get("/api/v1/namespaces/default/pods/p").await.unwrap().json().unwrap();
        p["metadata"]["deletionTimestamp"].is_string()
    })
    .await;
    assert_eq!(stats.evicted.load(std::sync::atomic::Ordering::Relaxed), 1);

    // The kubelet comes back: renews its lease and reports Ready.
    let mut lease: Value = c.get(&format!("{leases}/n1")).await.unwrap().json().unwrap();
    lease["spec"]["renewTime"] = json!(now_micro());
    assert_eq!(c.put_json(&format!("{leases}/n1"), &lease).await.unwrap().status, 200);
    let patch = node_status_patch(&cfg, true, &now(), true);
    let patch = nodes.patch_subresource("status", "n1", &PatchParams::default(), &Patch::Strategic(&patch));
    let r = c.send(patch.unwrap()).await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    wait_for("the taint removed", async || {
        let n = node(&c).await;
        !n["spec"]["taints"].as_array().is_some_and(|t| t.iter().any(|t| t["key"] == UNREACHABLE_TAINT))
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}
