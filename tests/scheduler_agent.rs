//! The scheduler agent against an in-process API server: filter (taints, capacity), binding,
//! backoff for what does not fit, and leader election among replicas.
#![cfg(not(madsim))]

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube_core::params::PostParams;
use kube_core::{Request, Resource};
use kubesim::agents::kubelet_lifecycle::{node_object, KubeletConfig, NodeTaint};
use kubesim::agents::leader_election::LeaderElectionConfig;
use kubesim::agents::scheduler::{Scheduler, SchedulerConfig};
use kubesim::client::{json_body, ApiClient};
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::{json, Value};
use tokio::sync::watch;

async fn add_node(c: &ApiClient, name: &str, tainted: bool) {
    let mut cfg = KubeletConfig { node_name: name.into(), capacity_cpu: "4".into(), ..Default::default() };
    if tainted {
        cfg.taints.push(NodeTaint {
            key: "node.kubernetes.io/unreachable".into(),
            value: None,
            effect: "NoSchedule".into(),
        });
    }
    let node = node_object(&cfg, "2026-01-01T00:00:00Z");
    let create =
        Request::new(Node::url_path(&(), None)).create(&PostParams::default(), json_body(&node).unwrap());
    let r = c.send(create.unwrap()).await.unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

async fn add_pod(c: &ApiClient, name: &str, scheduler: &str) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedulerName": scheduler, "containers": [{"name": "c", "image": "x",
                 "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}]}});
    assert_eq!(c.post_json("/api/v1/namespaces/default/pods", &pod).await.unwrap().status, 201);
}

async fn bound(c: &ApiClient) -> BTreeMap<String, String> {
    let list: Value = c.get("/api/v1/namespaces/default/pods").await.unwrap().json().unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            Some((p["metadata"]["name"].as_str()?.to_owned(), p["spec"]["nodeName"].as_str()?.to_owned()))
        })
        .collect()
}

async fn wait_bound(c: &ApiClient, n: usize) -> BTreeMap<String, String> {
    for _ in 0..200 {
        let b = bound(c).await;
        if b.len() >= n {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {} pods bound, wanted {n}", bound(c).await.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_what_fits_respecting_taints_and_capacity() {
    let s = TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await;
    let c = s.client();
    for i in 0..4 {
        add_node(&c, &format!("n{i}"), false).await;
    }
    add_node(&c, "tainted", true).await;
    for i in 0..40 {
        add_pod(&c, &format!("p{i:02}"), "default-scheduler").await;
    }
    add_pod(&c, "other", "someone-else").await;
    let (stop, shutdown) = watch::channel(false);
    let scheduler = Scheduler::new(SchedulerConfig::new("default-scheduler", 7));
    let stats = scheduler.stats();
    let task = tokio::spawn(scheduler.run(c.clone(), shutdown));
    // 4 nodes × 4 cpu / 500m = 32 pods fit; 8 stay pending.
    let b = wait_bound(&c, 32).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b2 = bound(&c).await;
    assert_eq!(b2, b, "nothing more binds once the nodes are full");
    assert_eq!(b.len(), 32);
    assert!(!b.values().any(|n| n == "tainted"), "a NoSchedule taint keeps pods off");
    assert!(!b.contains_key("other"), "pods of another scheduler are left alone");
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for n in b.values() {
        *per_node.entry(n).or_default() += 1;
    }
    assert!(per_node.values().all(|&n| n == 8), "least-allocated spreads to capacity: {per_node:?}");
    assert_eq!(stats.bound.load(Ordering::Relaxed), 32);
    assert!(stats.unschedulable.load(Ordering::Relaxed) >= 8, "the rest was tried and backed off");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_schedules_and_a_replica_takes_over() {
    let s = TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await;
    let c = s.client();
    add_node(&c, "n0", false).await;
    let election = |id: &str| {
        let mut le = LeaderElectionConfig::new(id);
        le.lease_duration = Duration::from_secs(2);
        le.renew_deadline = Duration::from_millis(1500);
        le.retry_period = Duration::from_millis(200);
        le
    };
    let mut tasks = Vec::new();
    let mut stops = Vec::new();
    let mut all_stats = Vec::new();
    for id in ["a", "b"] {
        let mut cfg = SchedulerConfig::new("default-scheduler", 1);
        cfg.leader_election = Some(election(id));
        let sched = Scheduler::new(cfg);
        all_stats.push(sched.stats());
        let (stop, shutdown) = watch::channel(false);
        tasks.push(tokio::spawn(sched.run(c.clone(), shutdown)));
        stops.push(stop);
    }
    for i in 0..4 {
        add_pod(&c, &format!("p{i}"), "default-scheduler").await;
    }
    wait_bound(&c, 4).await;
    let lease: Value = c
        .get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")
        .await
        .unwrap()
        .json()
        .unwrap();
    let leader = lease["spec"]["holderIdentity"].as_str().unwrap().to_owned();
    let leader_index = if leader == "a" { 0 } else { 1 };
    assert_eq!(all_stats[1 - leader_index].bound.load(Ordering::Relaxed), 0, "only the leader binds");
    // The leader stops; after its lease expires the other takes over and schedules new pods.
    stops[leader_index].send(true).unwrap();
    for i in 4..8 {
        add_pod(&c, &format!("p{i}"), "default-scheduler").await;
    }
    wait_bound(&c, 8).await;
    let lease: Value = c
        .get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_ne!(lease["spec"]["holderIdentity"].as_str().unwrap(), leader, "the replica holds the lease now");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert!(all_stats[1 - leader_index].bound.load(Ordering::Relaxed) >= 4);
    stops[1 - leader_index].send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t).await.unwrap().unwrap();
    }
}

/// The many-schedulers mode: each scheduler binds exactly the pods that name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_schedulers_each_bind_the_pods_that_name_them() {
    let s = TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await;
    let c = s.client();
    for i in 0..2 {
        add_node(&c, &format!("n{i}"), false).await;
    }
    let (stop, shutdown) = watch::channel(false);
    let mut stats = Vec::new();
    let mut tasks = Vec::new();
    for (i, name) in ["sched-a", "sched-b", "sched-c"].into_iter().enumerate() {
        let scheduler = Scheduler::new(SchedulerConfig::new(name, i as u64));
        stats.push(scheduler.stats());
        tasks.push(tokio::spawn(scheduler.run(c.clone(), shutdown.clone())));
    }
    for i in 0..12 {
        let owner = ["sched-a", "sched-b", "sched-c"][i % 3];
        add_pod(&c, &format!("p{i:02}"), owner).await;
    }
    add_pod(&c, "orphan", "nobody").await;
    wait_bound(&c, 12).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = bound(&c).await;
    assert_eq!(b.len(), 12);
    assert!(!b.contains_key("orphan"), "a pod naming no running scheduler stays pending");
    for s in &stats {
        assert_eq!(s.bound.load(Ordering::Relaxed), 4, "each scheduler binds its own four");
        assert_eq!(s.conflicts.load(Ordering::Relaxed), 0, "no scheduler touches another's pods");
    }
    stop.send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t).await.unwrap().unwrap();
    }
}
