//! Scheduler, kubelets and the node lifecycle controller together against one API server: every
//! pod is created, bound once, run on its bound node within capacity, then deleted gracefully.
#![cfg(not(madsim))]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kubesim::agents::kubelet::{Kubelet, KubeletOptions};
use kubesim::agents::kubelet_lifecycle::KubeletConfig;
use kubesim::agents::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use kubesim::agents::scheduler::{Scheduler, SchedulerConfig};
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::{json, Value};
use tokio::sync::watch;

const NODES: usize = 8;
const PODS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_scheduled_run_within_capacity_and_deleted() {
    let s = TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await;
    let c = s.client();
    let (stop, shutdown) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut kubelet_stats = Vec::new();
    for i in 0..NODES {
        let cfg = KubeletConfig {
            node_name: format!("node-{i}"),
            capacity_cpu: "4".into(),
            node_ip: format!("10.0.0.{}", i + 1),
            pod_cidr: format!("10.244.{i}.0/24"),
            start_latency_ms: (20, 80),
            stop_delay_ms: (10, 30),
            ..Default::default()
        };
        let k = Kubelet::new(cfg, KubeletOptions { seed: i as u64, ..Default::default() });
        kubelet_stats.push(k.stats());
        tasks.push(tokio::spawn(k.run(c.clone(), shutdown.clone())));
    }
    let scheduler = Scheduler::new(SchedulerConfig::new("default-scheduler", 42));
    let sched_stats = scheduler.stats();
    tasks.push(tokio::spawn(scheduler.run(c.clone(), shutdown.clone())));
    let nlc = NodeLifecycleController::new(NodeLifecycleConfig::default());
    let nlc_stats = nlc.stats();
    tasks.push(tokio::spawn(nlc.run(c.clone(), shutdown.clone())));

    for i in 0..PODS {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{i:03}"), "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "500m", "memory": "100Mi"}}}]}});
        assert_eq!(c.post_json("/api/v1/namespaces/default/pods", &pod).await.unwrap().status, 201);
    }
    let mut pods = Vec::new();
    for _ in 0..300 {
        let list: Value = c.get("/api/v1/namespaces/default/pods").await.unwrap().json().unwrap();
        pods = list["items"].as_array().unwrap().clone();
        if pods.iter().filter(|p| p["status"]["phase"] == "Running").count() == PODS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = pods.iter().filter(|p| p["status"]["phase"] == "Running").count();
    assert_eq!(running, PODS, "every pod reaches Running");
    let mut cpu_per_node: BTreeMap<String, i64> = BTreeMap::new();
    for p in &pods {
        let node = p["spec"]["nodeName"].as_str().unwrap().to_owned();
        assert!(node.starts_with("node-"));
        let ready = p["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "Running pods are Ready");
        assert!(p["status"]["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.244.")));
        *cpu_per_node.entry(node).or_default() += 500;
    }
    assert!(cpu_per_node.values().all(|&m| m <= 4000), "no node over capacity: {cpu_per_node:?}");
    assert_eq!(
        sched_stats.bound.load(std::sync::atomic::Ordering::Relaxed),
        PODS as u64,
        "each pod bound once"
    );
    let started: u64 = kubelet_stats.iter().map(|k| k.snapshot().pods_started).sum();
    assert_eq!(started, PODS as u64, "each pod started by exactly one kubelet");

    // Graceful deletion: the kubelets finish it.
    let r = c.delete("/api/v1/namespaces/default/pods", None).await.unwrap();
    assert_eq!(r.status, 200);
    let mut left = usize::MAX;
    for _ in 0..300 {
        let list: Value = c.get("/api/v1/namespaces/default/pods").await.unwrap().json().unwrap();
        left = list["items"].as_array().unwrap().len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "kubelets finished every graceful deletion");
    assert_eq!(
        nlc_stats.marked_unreachable.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "heartbeats kept every node reachable"
    );
    stop.send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(10), t).await.unwrap().unwrap();
    }
}
