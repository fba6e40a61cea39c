//! `kubesim load`: fake nodes (kubelet agents), the scheduler and the node lifecycle controller
//! against any Kubernetes API server; creates pods at a rate or as fast as the clients allow, waits
//! until all run, checks the outcome from the API, deletes them, and reports (JSON + Markdown).
//!
//! Real mode only (progress bar, Ctrl-C, files).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::agents::informer::{self, InformerConfig, InformerEvent};
use crate::agents::kubelet::{Kubelet, KubeletOptions};
use crate::agents::kubelet_lifecycle::KubeletConfig;
use crate::agents::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use crate::agents::scheduler::{Scheduler, SchedulerConfig};
use crate::client::{ApiClient, VerbLatency};

/// What a load run does. Defaults in the doc of each field.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Fake nodes (kubelet agents). Default 100.
    pub nodes: usize,
    /// Pods to create. Default 1,000.
    pub pods: usize,
    /// Concurrent pod-creating clients. Default 32.
    pub concurrency: usize,
    /// Pods per second in total; 0 = as fast as the clients go. Default 0.
    pub rate: f64,
    /// Namespace the pods go to (created if missing). Default `kubesim-load`.
    pub namespace: String,
    /// Node capacity. Defaults 32 cpu, 256Gi, 110 pods.
    pub node_cpu: String,
    /// Node memory.
    pub node_memory: String,
    /// Node pod capacity.
    pub node_pods: String,
    /// Pod requests. Defaults 100m cpu, 128Mi.
    pub pod_cpu: String,
    /// Pod memory request.
    pub pod_memory: String,
    /// Container start latency range, ms. Default 100..500.
    pub start_latency_ms: (u64, u64),
    /// Scheduler replicas with leader election (1 = no election). Default 1.
    pub schedulers: usize,
    /// Seed for everything random. Default 1.
    pub seed: u64,
    /// Give up waiting for Running (and for deletion) after this long. Default 30 min.
    pub timeout: Duration,
    /// Where the report goes. Default `reports/load`.
    pub report_dir: PathBuf,
    /// Node name prefix. Default `kubesim-node-`.
    pub node_prefix: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            nodes: 100,
            pods: 1_000,
            concurrency: 32,
            rate: 0.0,
            namespace: "kubesim-load".into(),
            node_cpu: "32".into(),
            node_memory: "256Gi".into(),
            node_pods: "110".into(),
            pod_cpu: "100m".into(),
            pod_memory: "128Mi".into(),
            start_latency_ms: (100, 500),
            schedulers: 1,
            seed: 1,
            timeout: Duration::from_secs(1800),
            report_dir: PathBuf::from("reports/load"),
            node_prefix: "kubesim-node-".into(),
        }
    }
}

/// Percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th.
    pub p90_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// Max.
    pub max_ms: f64,
}

fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// What a run found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// The API server.
    pub server: String,
    /// Nodes and pods asked for.
    pub nodes: usize,
    /// Pods asked for.
    pub pods: usize,
    /// Pods created.
    pub created: u64,
    /// Pods seen Running.
    pub running: u64,
    /// Whether the run was interrupted (Ctrl-C or timeout).
    pub interrupted: bool,
    /// Seconds from the first create to the last pod Running.
    pub seconds_to_all_running: f64,
    /// Pods created per second.
    pub create_throughput: f64,
    /// Pods Running per second, end to end.
    pub running_throughput: f64,
    /// Creation → Running seen through a watch.
    pub pod_startup: Percentiles,
    /// Create request latency.
    pub create_latency: Percentiles,
    /// Create answered → ADDED event received (a lower bound of commit → delivery).
    pub watch_latency: Percentiles,
    /// API latency per verb, from every agent's client.
    pub api_latency: Vec<VerbLatency>,
    /// Bindings accepted / refused (409).
    pub bindings: u64,
    /// Binding conflicts.
    pub binding_conflicts: u64,
    /// Checks made from the API at the end, and what they found.
    pub checks: Vec<Check>,
    /// Seconds to delete every pod.
    pub seconds_to_delete: f64,
}

/// One end-of-run check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

fn pod_object(o: &LoadOptions, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": o.namespace, "labels": {"app": "kubesim-load"}},
           "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                    "resources": {"requests": {"cpu": o.pod_cpu, "memory": o.pod_memory}}}],
                    "terminationGracePeriodSeconds": 5}})
}

/// When each pod's create was sent and answered, by name.
type SendTimes = BTreeMap<String, (Instant, Option<Instant>)>;

/// Runs the load. `interrupted` turns true on Ctrl-C; the report is still written.
pub async fn run(
    client: ApiClient,
    options: LoadOptions,
    interrupted: Arc<AtomicBool>,
) -> Result<LoadReport, String> {
    let o = options;
    let metrics = client.config().metrics.clone().unwrap_or_default();
    let mut report = LoadReport {
        server: client.config().address.clone(),
        nodes: o.nodes,
        pods: o.pods,
        ..Default::default()
    };
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.namespace}});
    let r = client.post_json("/api/v1/namespaces", &ns).await.map_err(|e| e.to_string())?;
    if r.status != 201 && r.status != 409 {
        return Err(format!(
            "creating namespace {}: {} {}",
            o.namespace,
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    let (stop, shutdown) = watch::channel(false);
    let mut tasks = Vec::new();
    for i in 0..o.nodes {
        let cfg = KubeletConfig {
            node_name: format!("{}{i}", o.node_prefix),
            capacity_cpu: o.node_cpu.clone(),
            capacity_memory: o.node_memory.clone(),
            capacity_pods: o.node_pods.clone(),
            node_ip: format!("10.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256),
            pod_cidr: format!("10.{}.{}.0/24", 128 + i / 65536, i % 256),
            start_latency_ms: o.start_latency_ms,
            ..Default::default()
        };
        let k =
            Kubelet::new(cfg, KubeletOptions { seed: o.seed.wrapping_add(i as u64), ..Default::default() });
        tasks.push(tokio::spawn(k.run(client.clone(), shutdown.clone())));
    }
    let mut scheduler_stats = Vec::new();
    for i in 0..o.schedulers.max(1) {
        let mut cfg = SchedulerConfig::new("default-scheduler", o.seed.wrapping_add(1000 + i as u64));
        if o.schedulers > 1 {
            cfg.leader_election =
                Some(crate::agents::leader_election::LeaderElectionConfig::new(format!("kubesim-load-{i}")));
        }
        let s = Scheduler::new(cfg);
        scheduler_stats.push(s.stats());
        tasks.push(tokio::spawn(s.run(client.clone(), shutdown.clone())));
    }
    tasks.push(tokio::spawn(
        NodeLifecycleController::new(NodeLifecycleConfig::default()).run(client.clone(), shutdown.clone()),
    ));

    // Wait for the nodes to register.
    let deadline = Instant::now() + Duration::from_secs(120 + o.nodes as u64 / 10);
    loop {
        let n = client
            .get("/api/v1/nodes?resourceVersion=0")
            .await
            .ok()
            .and_then(|r| r.json().ok())
            .map(|v| {
                v["items"].as_array().map_or(0, |i| {
                    i.iter()
                        .filter(|n| {
                            n["metadata"]["name"].as_str().is_some_and(|n| n.starts_with(&o.node_prefix))
                        })
                        .count()
                })
            })
            .unwrap_or(0);
        if n >= o.nodes || interrupted.load(Ordering::Relaxed) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {n} of {} nodes registered", o.nodes));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A watch on the namespace records when each pod is first seen and first seen Running.
    let sent: Arc<Mutex<SendTimes>> = Arc::default();
    let running_at: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let added_at: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let (events_tx, mut events) = mpsc::channel(4096);
    let watch_task = tokio::spawn(informer::run(
        client.clone(),
        InformerConfig::new(format!("/api/v1/namespaces/{}/pods", o.namespace)),
        events_tx,
    ));
    let running_count = Arc::new(AtomicU64::new(0));
    let (ra, aa, rc) = (running_at.clone(), added_at.clone(), running_count.clone());
    let observer = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            let now = Instant::now();
            let objects = match e {
                InformerEvent::Relisted { items, .. } => items,
                InformerEvent::Applied(p) => vec![p],
                InformerEvent::Deleted(_) => continue,
            };
            for p in objects {
                let Some(name) = p["metadata"]["name"].as_str().map(str::to_owned) else { continue };
                aa.lock().entry(name.clone()).or_insert(now);
                if p["status"]["phase"] == "Running" && ra.lock().insert(name, now).is_none() {
                    rc.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    let bar = indicatif::ProgressBar::new(o.pods as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} running · {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let created = Arc::new(AtomicU64::new(0));
    let create_hist = Arc::new(Mutex::new(hdrhistogram::Histogram::<u64>::new(3).expect("histogram")));
    let started = Instant::now();
    let mut creators = Vec::new();
    let per_client_interval =
        (o.rate > 0.0).then(|| Duration::from_secs_f64(o.concurrency.max(1) as f64 / o.rate));
    for c in 0..o.concurrency.max(1) {
        let (client, o2, sent, created, hist, interrupted) = (
            client.clone(),
            o.clone(),
            sent.clone(),
            created.clone(),
            create_hist.clone(),
            interrupted.clone(),
        );
        creators.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            for i in (c..o2.pods).step_by(o2.concurrency.max(1)) {
                if interrupted.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(every) = per_client_interval {
                    tokio::time::sleep_until(next).await;
                    next += every;
                }
                let name = format!("load-{i:07}");
                let t = Instant::now();
                sent.lock().insert(name.clone(), (t, None));
                let path = format!("/api/v1/namespaces/{}/pods", o2.namespace);
                loop {
                    match client.post_json(&path, &pod_object(&o2, &name)).await {
                        Ok(r) if r.status == 201 || r.status == 409 => break,
                        Ok(r) if r.status == 429 || r.status.is_server_error() => {
                            tokio::time::sleep(Duration::from_millis(200)).await
                        }
                        Ok(r) => {
                            tracing::warn!(pod = %name, status = %r.status, "create refused");
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(pod = %name, error = %e, "create failed; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                let done = Instant::now();
                if let Some(entry) = sent.lock().get_mut(&name) {
                    entry.1 = Some(done);
                }
                let _ = hist.lock().record(done.duration_since(t).as_micros() as u64);
                created.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let deadline = Instant::now() + o.timeout;
    loop {
        let running = running_count.load(Ordering::Relaxed);
        bar.set_position(running);
        bar.set_message(format!("{} created", created.load(Ordering::Relaxed)));
        if running >= o.pods as u64 {
            break;
        }
        if interrupted.load(Ordering::Relaxed) || Instant::now() > deadline {
            report.interrupted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_running = started.elapsed();
    for c in creators {
        c.abort();
    }
    bar.finish();

    report.created = created.load(Ordering::Relaxed);
    report.running = running_count.load(Ordering::Relaxed);
    report.seconds_to_all_running = all_running.as_secs_f64();
    report.create_throughput = report.created as f64 / all_running.as_secs_f64().max(1e-9);
    report.running_throughput = report.running as f64 / all_running.as_secs_f64().max(1e-9);
    report.create_latency = percentiles(&create_hist.lock());
    let mut startup = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    let mut watch_hist = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    {
        let (sent, running_at, added_at) = (sent.lock(), running_at.lock(), added_at.lock());
        for (name, (t, acked)) in sent.iter() {
            if let Some(r) = running_at.get(name) {
                let _ = startup.record(r.saturating_duration_since(*t).as_micros().max(1) as u64);
            }
            if let (Some(a), Some(ack)) = (added_at.get(name), acked) {
                let _ = watch_hist.record(a.saturating_duration_since(*ack).as_micros() as u64);
            }
        }
    }
    report.pod_startup = percentiles(&startup);
    report.watch_latency = percentiles(&watch_hist);
    report.bindings = scheduler_stats.iter().map(|s| s.bound.load(Ordering::Relaxed)).sum();
    report.binding_conflicts = scheduler_stats.iter().map(|s| s.conflicts.load(Ordering::Relaxed)).sum();
    report.checks = check_outcome(&client, &o, report.created).await;

    // Delete the pods and wait until they are gone (the kubelets finish graceful deletion).
    let delete_started = Instant::now();
    let collection = format!("/api/v1/namespaces/{}/pods", o.namespace);
    let deadline = Instant::now() + o.timeout.min(Duration::from_secs(600));
    let mut left = usize::MAX;
    let mut next_delete = Instant::now();
    while !interrupted.load(Ordering::Relaxed) && Instant::now() < deadline {
        // A deletecollection of tens of thousands of pods outlives the client's request timeout,
        // and the server stops when the client goes: send it again until nothing is left (deleting
        // a pod that is already terminating changes nothing).
        if Instant::now() >= next_delete {
            let _ = client.delete(&collection, None).await;
            next_delete = Instant::now() + Duration::from_secs(10);
        }
        left = client
            .get(&format!("/api/v1/namespaces/{}/pods?resourceVersion=0", o.namespace))
            .await
            .ok()
            .and_then(|r| r.json().ok())
            .map(|v| v["items"].as_array().map_or(0, Vec::len))
            .unwrap_or(usize::MAX);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.seconds_to_delete = delete_started.elapsed().as_secs_f64();
    report.checks.push(Check {
        name: "every pod deleted".into(),
        ok: left == 0,
        detail: if left == usize::MAX { "could not list".into() } else { format!("{left} left") },
    });
    let _ = stop.send(true);
    watch_task.abort();
    observer.abort();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    report.api_latency = metrics.summary();
    Ok(report)
}

/// From the API: every pod bound once to a node of ours and Running there, and no node's pods
/// requesting more than its allocatable.
/// Every item of a collection, in pages of 500 (as kubectl lists).
async fn list_all(client: &ApiClient, path: &str) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let mut url = format!("{path}?limit=500");
        if !token.is_empty() {
            url += &format!(
                "&continue={}",
                form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            );
        }
        let r = client.get(&url).await.map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("{url}: {} {}", r.status, String::from_utf8_lossy(&r.body)));
        }
        let mut v: Value = r.json().map_err(|e| e.to_string())?;
        if let Some(Value::Array(page)) = v.get_mut("items").map(Value::take) {
            items.extend(page);
        }
        match v["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => token = c.to_owned(),
            _ => return Ok(items),
        }
    }
}

async fn check_outcome(client: &ApiClient, o: &LoadOptions, created: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    let pods = match list_all(client, &format!("/api/v1/namespaces/{}/pods", o.namespace)).await {
        Ok(p) => p,
        Err(e) => {
            checks.push(Check { name: "pods could be listed".into(), ok: false, detail: e });
            return checks;
        }
    };
    checks.push(Check {
        name: "every created pod is there".into(),
        ok: pods.len() as u64 >= created,
        detail: format!("{} listed, {created} created", pods.len()),
    });
    let nodes = client
        .get("/api/v1/nodes")
        .await
        .ok()
        .and_then(|r| r.json().ok())
        .and_then(|v: Value| v["items"].as_array().cloned())
        .unwrap_or_default();
    let ips: BTreeMap<String, String> = nodes
        .iter()
        .filter_map(|n| {
            let name = n["metadata"]["name"].as_str()?.to_owned();
            let ip = n["status"]["addresses"].as_array()?.iter().find(|a| a["type"] == "InternalIP")?
                ["address"]
                .as_str()?
                .to_owned();
            Some((name, ip))
        })
        .collect();
    let unbound = pods.iter().filter(|p| p["spec"]["nodeName"].as_str().is_none_or(str::is_empty)).count();
    checks.push(Check {
        name: "every pod bound".into(),
        ok: unbound == 0,
        detail: format!("{unbound} of {} unbound", pods.len()),
    });
    let elsewhere = pods
        .iter()
        .filter(|p| {
            let node = p["spec"]["nodeName"].as_str().unwrap_or("");
            p["status"]["phase"] == "Running"
                && ips.get(node).map(String::as_str) != p["status"]["hostIP"].as_str()
        })
        .count();
    checks.push(Check {
        name: "every Running pod runs on its bound node".into(),
        ok: elsewhere == 0,
        detail: format!("{elsewhere} pods report a hostIP other than their node's"),
    });
    let cpu = crate::api::validation::parse_quantity(&o.pod_cpu).unwrap_or(0);
    let node_cpu = crate::api::validation::parse_quantity(&o.node_cpu).unwrap_or(0);
    let mut per_node: BTreeMap<&str, i128> = BTreeMap::new();
    for p in &pods {
        if let Some(n) = p["spec"]["nodeName"].as_str() {
            *per_node.entry(n).or_default() += cpu;
        }
    }
    let over = per_node.values().filter(|&&c| c > node_cpu).count();
    checks.push(Check {
        name: "no node over its cpu capacity".into(),
        ok: over == 0,
        detail: format!("{over} nodes over"),
    });
    checks
}

/// The report as Markdown.
pub fn markdown(r: &LoadReport) -> String {
    let mut s = format!(
        "# kubesim load report\n\nServer: `{}` · {} nodes · {} pods{}\n\n| figure | value |\n|---|---|\n",
        r.server,
        r.nodes,
        r.pods,
        if r.interrupted { " · **interrupted**" } else { "" }
    );
    s += &format!("| pods created / Running | {} / {} |\n", r.created, r.running);
    s += &format!("| time to all Running | {:.1} s |\n", r.seconds_to_all_running);
    s += &format!(
        "| end-to-end throughput | {:.0} pods/s Running, {:.0} created/s |\n",
        r.running_throughput, r.create_throughput
    );
    s += &format!(
        "| pod startup (created → Running via watch) | p50 {:.0} ms, p99 {:.0} ms |\n",
        r.pod_startup.p50_ms, r.pod_startup.p99_ms
    );
    s += &format!(
        "| create latency | p50 {:.1} ms, p99 {:.1} ms |\n",
        r.create_latency.p50_ms, r.create_latency.p99_ms
    );
    s += &format!(
        "| watch latency (create answered → ADDED) | p50 {:.1} ms, p99 {:.1} ms |\n",
        r.watch_latency.p50_ms, r.watch_latency.p99_ms
    );
    s += &format!("| bindings (conflicts) | {} ({}) |\n", r.bindings, r.binding_conflicts);
    s += &format!("| time to delete all | {:.1} s |\n\n## API latency by verb\n\n| verb | count | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n", r.seconds_to_delete);
    for v in &r.api_latency {
        s += &format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            v.verb, v.count, v.p50_ms, v.p90_ms, v.p99_ms, v.max_ms
        );
    }
    s += "\n## Checks\n\n";
    for c in &r.checks {
        s += &format!("- {} {}: {}\n", if c.ok { "✅" } else { "❌" }, c.name, c.detail);
    }
    s
}

/// Writes `report.json` and `report.md` under `dir`.
pub fn write(r: &LoadReport, dir: &std::path::Path) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let json_path = dir.join("report.json");
    let md_path = dir.join("report.md");
    std::fs::write(&json_path, serde_json::to_string_pretty(r).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    std::fs::write(&md_path, markdown(r)).map_err(|e| e.to_string())?;
    Ok((json_path, md_path))
}
