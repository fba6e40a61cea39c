//! The kubelet agent against a real (in-process, HTTPS) API server on the model store: node
//! registration, Lease renewal, NodeStatus heartbeats, and pods bound to it run, get rejected,
//! complete and finish their graceful deletion.
#![cfg(not(madsim))]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kubesim::agents::kubelet::{Kubelet, KubeletCounters, KubeletOptions, KubeletStats};
use kubesim::agents::kubelet_lifecycle::KubeletConfig;
use kubesim::client::ApiClient;
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

async fn server() -> TestApiServer {
    TestApiServer::start(Arc::new(ModelStore::default()), ApiServerConfig::default()).await
}

fn fast_config(node: &str) -> KubeletConfig {
    KubeletConfig {
        node_name: node.to_string(),
        start_latency_ms: (20, 60),
        stop_delay_ms: (10, 30),
        ..KubeletConfig::default()
    }
}

fn fast_options(seed: u64) -> KubeletOptions {
    KubeletOptions {
        seed,
        lease_renew_interval: Duration::from_millis(200),
        node_status_interval: Duration::from_millis(400),
        retry_backoff: Duration::from_millis(50),
        informer_retry_backoff: Duration::from_millis(50),
        ..KubeletOptions::default()
    }
}

/// A running kubelet: stop it with [`Running::stop`].
struct Running {
    stats: Arc<KubeletStats>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    fn counters(&self) -> KubeletCounters {
        self.stats.snapshot()
    }

    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the kubelet stops on its shutdown signal")
            .unwrap();
    }
}

fn start(kubelet: Kubelet, client: ApiClient) -> Running {
    let stats = kubelet.stats();
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(kubelet.run(client, rx));
    Running { stats, shutdown, task }
}

/// Polls `f` every 25 ms until it returns `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn get(c: &ApiClient, path: &str) -> Option<Value> {
    let r = c.get(path).await.unwrap();
    (r.status == 200).then(|| r.json().unwrap())
}

fn pod(name: &str, node: Option<&str>, cpu: &str) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]},
    });
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

async fn create_pod(c: &ApiClient, p: &Value) -> Value {
    let r = c.post_json("/api/v1/namespaces/default/pods", p).await.unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json().unwrap()
}

fn pod_path(name: &str) -> String {
    format!("/api/v1/namespaces/default/pods/{name}")
}

async fn wait_phase(c: &ApiClient, name: &str, phase: &str) -> Value {
    let path = pod_path(name);
    eventually(5, &format!("pod {name} in phase {phase}"), || async {
        get(c, &path).await.filter(|p| p["status"]["phase"] == phase)
    })
    .await
}

fn condition<'a>(obj: &'a Value, ty: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .unwrap_or_else(|| panic!("no {ty} condition in {obj:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_its_node_and_renews_lease_and_heartbeats() {
    let s = server().await;
    let c = s.client();
    let (ready_tx, ready_rx) = watch::channel(true);
    let mut cfg = fast_config("n1");
    cfg.labels.insert("topology.kubernetes.io/zone".into(), "z1".into());
    let k = start(Kubelet::new(cfg, fast_options(1)).with_readiness(ready_rx), c.clone());

    let node = eventually(5, "node n1", || get(&c, "/api/v1/nodes/n1")).await;
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
    assert_eq!(node["metadata"]["labels"]["topology.kubernetes.io/zone"], "z1");
    assert_eq!(node["status"]["allocatable"]["cpu"], "4");
    assert_eq!(condition(&node, "Ready")["status"], "True");
    let node_uid = node["metadata"]["uid"].as_str().unwrap().to_string();

    let lease_path = format!("{LEASES}/n1");
    let lease = eventually(5, "lease n1", || get(&c, &lease_path)).await;
    assert_eq!(lease["spec"]["holderIdentity"], "n1");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], node_uid.as_str());
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
    let first_renew = lease["spec"]["renewTime"].as_str().unwrap().to_string();
    assert!(first_renew.ends_with('Z') && first_renew.contains('.'), "MicroTime: {first_renew}");

    // Renewals every 200 ms: renewTime moves on.
    eventually(3, "a lease renewal", || async {
        get(&c, &lease_path).await.filter(|l| l["spec"]["renewTime"].as_str().unwrap() > first_renew.as_str())
    })
    .await;
    // Heartbeats every 400 ms (second precision): lastHeartbeatTime moves on, the transition stays.
    let hb0 = condition(&node, "Ready")["lastHeartbeatTime"].as_str().unwrap().to_string();
    let tr0 = condition(&node, "Ready")["lastTransitionTime"].as_str().unwrap().to_string();
    let node = eventually(5, "a node heartbeat", || async {
        get(&c, "/api/v1/nodes/n1")
            .await
            .filter(|n| condition(n, "Ready")["lastHeartbeatTime"].as_str().unwrap() > hb0.as_str())
    })
    .await;
    assert_eq!(condition(&node, "Ready")["lastTransitionTime"], tr0.as_str());
    assert_eq!(node["status"]["conditions"].as_array().unwrap().len(), 4, "conditions merged by type");

    // Readiness change: reported at once (well before the next periodic heartbeat would matter).
    ready_tx.send(false).unwrap();
    let node = eventually(2, "Ready=False", || async {
        get(&c, "/api/v1/nodes/n1").await.filter(|n| condition(n, "Ready")["status"] == "False")
    })
    .await;
    assert_eq!(condition(&node, "Ready")["reason"], "KubeletNotReady");
    assert_eq!(condition(&node, "MemoryPressure")["status"], "False");
    ready_tx.send(true).unwrap();
    eventually(2, "Ready=True again", || async {
        get(&c, "/api/v1/nodes/n1").await.filter(|n| condition(n, "Ready")["status"] == "True")
    })
    .await;

    let counters = k.counters();
    assert_eq!(counters.registered, 1);
    assert!(counters.lease_renewals >= 2, "{counters:?}");
    assert!(counters.node_status_updates >= 3, "{counters:?}");

    // After shutdown nothing renews the lease any more.
    k.stop().await;
    let stopped = get(&c, &lease_path).await.unwrap()["spec"]["renewTime"].clone();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&c, &lease_path).await.unwrap()["spec"]["renewTime"], stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_over_an_existing_node_and_lease() {
    let s = server().await;
    let c = s.client();
    // A Node left NotReady and a Lease held by someone else, as after a kubelet restart.
    let mut stale =
        kubesim::agents::kubelet_lifecycle::node_object(&fast_config("n1"), "2024-01-01T00:00:00Z");
    stale.status.as_mut().unwrap().conditions.as_mut().unwrap()[3].status = "Unknown".into();
    let r = c.post_json("/api/v1/nodes", &serde_json::to_value(&stale).unwrap()).await.unwrap();
    assert_eq!(r.status, 201);
    let uid = r.json().unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    let mut lease = kubesim::agents::kubelet_lifecycle::lease_object("n1", None, "2024-01-01T00:00:00Z", 15);
    lease.spec.as_mut().unwrap().holder_identity = Some("someone-else".into());
    assert_eq!(c.post_json(LEASES, &serde_json::to_value(&lease).unwrap()).await.unwrap().status, 201);

    let k = start(Kubelet::new(fast_config("n1"), fast_options(2)), c.clone());
    let node = eventually(5, "Ready=True", || async {
        get(&c, "/api/v1/nodes/n1").await.filter(|n| condition(n, "Ready")["status"] == "True")
    })
    .await;
    assert_eq!(node["metadata"]["uid"], uid.as_str(), "the same Node");
    assert_ne!(condition(&node, "Ready")["lastTransitionTime"], "2024-01-01T00:00:00Z", "Ready transitioned");
    let lease = eventually(5, "the lease taken over", || async {
        get(&c, &format!("{LEASES}/n1")).await.filter(|l| l["spec"]["holderIdentity"] == "n1")
    })
    .await;
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
    assert!(lease["spec"]["renewTime"].as_str().unwrap() > "2024-01-01T00:00:00.000000Z");
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_pods_run_and_oversized_pods_are_rejected() {
    let s = server().await;
    let c = s.client();
    let k = start(Kubelet::new(fast_config("n1"), fast_options(3)), c.clone());
    eventually(5, "node n1", || get(&c, "/api/v1/nodes/n1")).await;

    // Created bound.
    let created = create_pod(&c, &pod("web", Some("n1"), "500m")).await;
    let p = wait_phase(&c, "web", "Running").await;
    assert_eq!(p["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(condition(&p, "Ready")["status"], "True");
    assert_eq!(condition(&p, "ContainersReady")["status"], "True");
    assert_eq!(p["status"]["hostIP"], "10.0.0.1");
    assert_eq!(p["status"]["podIP"], "10.244.0.2");
    assert_eq!(p["status"]["qosClass"], "Burstable");
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
    assert!(p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].is_string());

    // Created unbound, then bound by a scheduler's binding.
    create_pod(&c, &pod("late", None, "1")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let unbound = get(&c, &pod_path("late")).await.unwrap();
    assert!(unbound["status"]["phase"] != "Running", "not ours until bound: {unbound:#}");
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "late"},
                         "target": {"kind": "Node", "name": "n1"}});
    let r = c.post_json(&format!("{}/binding", pod_path("late")), &binding).await.unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let p = wait_phase(&c, "late", "Running").await;
    assert_eq!(p["status"]["podIP"], "10.244.0.3");
    assert_eq!(condition(&p, "PodScheduled")["status"], "True");

    // 4 cpus, 1.5 in use: 3 more do not fit.
    create_pod(&c, &pod("huge", Some("n1"), "3")).await;
    let p = wait_phase(&c, "huge", "Failed").await;
    assert_eq!(p["status"]["reason"], "OutOfcpu");
    assert_eq!(
        p["status"]["message"],
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 1500, capacity: 4000"
    );
    // A pod for another node is not touched.
    create_pod(&c, &pod("other", Some("n2"), "100m")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(get(&c, &pod_path("other")).await.unwrap()["status"]["phase"] != "Running");

    let counters = k.counters();
    assert_eq!((counters.pods_started, counters.pods_rejected), (2, 1), "{counters:?}");
    assert!(counters.status_writes >= 3, "{counters:?}");
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_deletion_ends_with_the_pod_gone() {
    let s = server().await;
    let c = s.client();
    let k = start(Kubelet::new(fast_config("n1"), fast_options(4)), c.clone());
    create_pod(&c, &pod("web", Some("n1"), "100m")).await;
    wait_phase(&c, "web", "Running").await;

    // No grace given: the pod's 30 s default; only the kubelet's final DELETE removes it early.
    let r = c.delete(&pod_path("web"), None).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json().unwrap()["metadata"]["deletionTimestamp"].is_string(), "graceful: marked only");
    eventually(5, "pod web gone", || async { get(&c, &pod_path("web")).await.is_none().then_some(()) }).await;
    eventually(2, "the delete counted", || async { (k.counters().pods_deleted == 1).then_some(()) }).await;

    // Its resources are free again: a pod using the whole node fits.
    create_pod(&c, &pod("all", Some("n1"), "4")).await;
    wait_phase(&c, "all", "Running").await;
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_while_the_kubelet_is_down_is_finished_after_restart() {
    let s = server().await;
    let c = s.client();
    let k = start(Kubelet::new(fast_config("n1"), fast_options(5)), c.clone());
    create_pod(&c, &pod("web", Some("n1"), "100m")).await;
    let running = wait_phase(&c, "web", "Running").await;
    k.stop().await;

    assert_eq!(c.delete(&pod_path("web"), None).await.unwrap().status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let terminating =
        get(&c, &pod_path("web")).await.expect("nobody finishes the deletion while the kubelet is down");
    assert!(terminating["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(terminating["status"]["startTime"], running["status"]["startTime"]);

    let k = start(Kubelet::new(fast_config("n1"), fast_options(6)), c.clone());
    eventually(5, "pod web gone", || async { get(&c, &pod_path("web")).await.is_none().then_some(()) }).await;
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_to_completion_pods_succeed_or_fail() {
    let s = server().await;
    let c = s.client();
    let ok = KubeletConfig { run_duration_ms: Some((100, 200)), ..fast_config("n1") };
    let bad = KubeletConfig {
        run_duration_ms: Some((100, 200)),
        failure_probability: 1.0,
        node_ip: "10.0.0.2".into(),
        pod_cidr: "10.244.1.0/24".into(),
        ..fast_config("n2")
    };
    let k1 = start(Kubelet::new(ok, fast_options(7)), c.clone());
    let k2 = start(Kubelet::new(bad, fast_options(8)), c.clone());

    let mut job = pod("job", Some("n1"), "100m");
    job["spec"]["restartPolicy"] = json!("Never");
    create_pod(&c, &job).await;
    let mut failing = pod("failing", Some("n2"), "100m");
    failing["spec"]["restartPolicy"] = json!("Never");
    create_pod(&c, &failing).await;
    // restartPolicy Always: runs until deleted, even with a run duration configured.
    create_pod(&c, &pod("server", Some("n1"), "100m")).await;

    let p = wait_phase(&c, "job", "Succeeded").await;
    let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!((term["exitCode"].clone(), term["reason"].clone()), (json!(0), json!("Completed")));
    assert_eq!(condition(&p, "Ready")["reason"], "PodCompleted");
    assert_eq!(p["status"]["podIP"], "10.244.0.2", "IPs kept from the Running status");

    let p = wait_phase(&c, "failing", "Failed").await;
    let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!((term["exitCode"].clone(), term["reason"].clone()), (json!(1), json!("Error")));
    assert_eq!(p["status"]["hostIP"], "10.0.0.2");

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(&c, &pod_path("server")).await.unwrap()["status"]["phase"], "Running");

    let (c1, c2) = (k1.counters(), k2.counters());
    assert_eq!((c1.pods_started, c1.pods_completed, c1.pods_failed), (2, 1, 0), "{c1:?}");
    assert_eq!((c2.pods_started, c2.pods_completed, c2.pods_failed), (1, 1, 1), "{c2:?}");
    let mut total = c1;
    total += c2;
    assert_eq!(total.pods_started, 3);

    // A completed pod is deleted at once (terminal: no grace) and the kubelet lets it go.
    assert_eq!(c.delete(&pod_path("job"), None).await.unwrap().status, 200);
    assert!(get(&c, &pod_path("job")).await.is_none());
    k1.stop().await;
    k2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelet_that_cannot_reach_the_server_keeps_retrying_and_stops_on_signal() {
    // Nothing listens on the address: every request fails; no panic, errors counted, clean stop.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut config = kubesim::client::ClientConfig::plain(address);
    config.request_timeout = Duration::from_millis(200);
    let k = start(Kubelet::new(fast_config("n1"), fast_options(9)), ApiClient::new(config));
    eventually(5, "failed registrations counted", || async {
        (k.counters().request_errors >= 3).then_some(())
    })
    .await;
    assert_eq!(k.counters().registered, 0);
    k.stop().await;
}
