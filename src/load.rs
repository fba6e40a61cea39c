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

use k8s_openapi::api::core::v1::{Container, Namespace, Node, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::params::{DeleteParams, ListParams, PostParams};
use kube_core::{Request, Resource};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::agents::informer::{self, InformerConfig, InformerEvent};
use crate::agents::kubelet::{Kubelet, KubeletOptions};
use crate::agents::kubelet_lifecycle::KubeletConfig;
use crate::agents::leader_election::LeaderElectionConfig;
use crate::agents::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use crate::agents::scheduler::{Scheduler, SchedulerConfig};
use crate::agents::scheduler_algorithm::DEFAULT_SCHEDULER_NAME;
use crate::client::{json_body, ApiClient, ClientError, VerbLatency};

/// How the schedulers of a run share the work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerMode {
    /// Replicas of `default-scheduler`; with more than one, a Lease elects the one that schedules
    /// (kube-scheduler's high-availability setup).
    #[default]
    LeaderElected,
    /// Schedulers `kubesim-scheduler-0..N`, each binding the pods whose `spec.schedulerName` names
    /// it, all at once: many concurrent binders. The pod generator spreads the pods over them.
    PerPodName,
}

impl SchedulerMode {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerMode::LeaderElected => "leader-elected",
            SchedulerMode::PerPodName => "per-pod-name",
        }
    }

    /// The `spec.schedulerName` each of `n` schedulers owns.
    pub fn scheduler_names(self, n: usize) -> Vec<String> {
        match self {
            SchedulerMode::LeaderElected => vec![DEFAULT_SCHEDULER_NAME.to_owned(); n.max(1)],
            SchedulerMode::PerPodName => (0..n.max(1)).map(|i| format!("kubesim-scheduler-{i}")).collect(),
        }
    }
}

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
    /// Schedulers. Leader-elected mode: replicas of which one schedules (1 = no election);
    /// per-pod-name mode: that many schedulers scheduling at once. Default 1.
    pub schedulers: usize,
    /// How the schedulers share the work. Default leader-elected.
    pub scheduler_mode: SchedulerMode,
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
            scheduler_mode: SchedulerMode::LeaderElected,
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
    /// How the schedulers shared the work (`leader-elected` or `per-pod-name`).
    pub scheduler_mode: String,
    /// Schedulers run.
    pub schedulers: usize,
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

/// The pod the generator creates, for the scheduler named `scheduler`.
fn pod_object(o: &LoadOptions, name: &str, scheduler: &str) -> Pod {
    let requests =
        [("cpu", &o.pod_cpu), ("memory", &o.pod_memory)].map(|(k, v)| (k.to_owned(), Quantity(v.clone())));
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(o.namespace.clone()),
            labels: Some([("app".to_owned(), "kubesim-load".to_owned())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("registry.k8s.io/pause:3.9".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(requests.into()),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            // The default scheduler is named by omission, as most workloads do.
            scheduler_name: (scheduler != DEFAULT_SCHEDULER_NAME).then(|| scheduler.to_owned()),
            termination_grace_period_seconds: Some(5),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// Just the names of a list's items: what counting needs, without decoding whole objects.
#[derive(Deserialize)]
struct Names {
    #[serde(default)]
    items: Option<Vec<Named>>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    metadata: NameOnly,
}

#[derive(Default, Deserialize)]
struct NameOnly {
    #[serde(default)]
    name: Option<String>,
}

/// The names in the collection at `path`, listed at resourceVersion=0 (from the cache).
async fn names(client: &ApiClient, path: &str) -> Result<Vec<String>, String> {
    let req = Request::new(path).list(&ListParams::default().match_any()).map_err(|e| e.to_string())?;
    let r = client.send(req).await.map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("listing {path}: {}", r.describe()));
    }
    let list: Names = r.decode().map_err(|e| e.to_string())?;
    Ok(list.items.unwrap_or_default().into_iter().filter_map(|i| i.metadata.name).collect())
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
    let scheduler_names = o.scheduler_mode.scheduler_names(o.schedulers);
    let mut report = LoadReport {
        server: client.config().address.clone(),
        nodes: o.nodes,
        pods: o.pods,
        scheduler_mode: o.scheduler_mode.as_str().to_owned(),
        schedulers: scheduler_names.len(),
        ..Default::default()
    };
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(o.namespace.clone()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    let create_ns = Request::new(Namespace::url_path(&(), None))
        .create(&PostParams::default(), json_body(&ns).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let r = client.send(create_ns).await.map_err(|e| e.to_string())?;
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
    for (i, name) in scheduler_names.iter().enumerate() {
        let mut cfg = SchedulerConfig::new(name.clone(), o.seed.wrapping_add(1000 + i as u64));
        if o.scheduler_mode == SchedulerMode::LeaderElected && scheduler_names.len() > 1 {
            cfg.leader_election = Some(LeaderElectionConfig::new(format!("kubesim-load-{i}")));
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
    let node_path = Node::url_path(&(), None);
    loop {
        let n = names(&client, &node_path)
            .await
            .map(|names| names.iter().filter(|n| n.starts_with(&o.node_prefix)).count())
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
    let (events_tx, mut events) = mpsc::channel::<InformerEvent<Pod>>(4096);
    let watch_task = tokio::spawn(informer::run_typed(
        client.clone(),
        InformerConfig::of::<Pod>(Some(&o.namespace)),
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
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                let Some(name) = p.metadata.name else { continue };
                aa.lock().entry(name.clone()).or_insert(now);
                if running && ra.lock().insert(name, now).is_none() {
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
    let pods = Request::new(Pod::url_path(&(), Some(&o.namespace)));
    for c in 0..o.concurrency.max(1) {
        let (client, o2, sent, created, hist, interrupted, pods, scheduler_names) = (
            client.clone(),
            o.clone(),
            sent.clone(),
            created.clone(),
            create_hist.clone(),
            interrupted.clone(),
            pods.clone(),
            scheduler_names.clone(),
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
                // Pod i goes to scheduler i mod N (all the same name in leader-elected mode).
                let pod = pod_object(&o2, &name, &scheduler_names[i % scheduler_names.len()]);
                let create = || -> Result<_, ClientError> {
                    Ok(pods.create(&PostParams::default(), json_body(&pod)?)?)
                };
                loop {
                    let sent = match create() {
                        Ok(req) => client.send(req).await,
                        Err(e) => Err(e),
                    };
                    match sent {
                        Ok(r) if r.status == 201 || r.status == 409 => break,
                        Ok(r) if r.status == 429 || r.status.is_server_error() => {
                            tokio::time::sleep(Duration::from_millis(200)).await
                        }
                        Ok(r) => {
                            tracing::warn!(pod = %name, status = %r.status, "create refused");
                            break;
                        }
                        Err(e @ ClientError::Invalid(_)) => {
                            tracing::warn!(pod = %name, error = %e, "create could not be built");
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
    let collection = Pod::url_path(&(), Some(&o.namespace));
    let deadline = Instant::now() + o.timeout.min(Duration::from_secs(600));
    let mut left = usize::MAX;
    let mut next_delete = Instant::now();
    while !interrupted.load(Ordering::Relaxed) && Instant::now() < deadline {
        // A deletecollection of tens of thousands of pods outlives the client's request timeout,
        // and the server stops when the client goes: send it again until nothing is left (deleting
        // a pod that is already terminating changes nothing).
        if Instant::now() >= next_delete {
            if let Ok(req) =
                Request::new(&collection).delete_collection(&DeleteParams::default(), &ListParams::default())
            {
                let _ = client.send(req).await;
            }
            next_delete = Instant::now() + Duration::from_secs(10);
        }
        left = names(&client, &collection).await.map_or(usize::MAX, |n| n.len());
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

/// Every item of a collection, in pages of 500 (as kubectl lists).
async fn list_all<K>(client: &ApiClient, path: &str) -> Result<Vec<K>, String>
where
    K: k8s_openapi::ListableResource + serde::de::DeserializeOwned,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let params = ListParams { limit: Some(500), continue_token: token.take(), ..ListParams::default() };
        let req = Request::new(path).list(&params).map_err(|e| e.to_string())?;
        let r = client.send(req).await.map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("listing {path}: {}", r.describe()));
        }
        let page: k8s_openapi::List<K> = r.decode().map_err(|e| format!("listing {path}: {e}"))?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => token = Some(c),
            _ => return Ok(items),
        }
    }
}

/// From the API: every pod bound once to a node of ours and Running there, and no node's pods
/// requesting more than its allocatable.
async fn check_outcome(client: &ApiClient, o: &LoadOptions, created: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    let pods = match list_all::<Pod>(client, &Pod::url_path(&(), Some(&o.namespace))).await {
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
    let nodes = list_all::<Node>(client, &Node::url_path(&(), None)).await.unwrap_or_default();
    let ips: BTreeMap<String, String> = nodes
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.clone()?;
            let addresses = n.status.as_ref()?.addresses.as_ref()?;
            let ip = addresses.iter().find(|a| a.type_ == "InternalIP")?.address.clone();
            Some((name, ip))
        })
        .collect();
    let node_of = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
    let unbound = pods.iter().filter(|p| node_of(p).is_none()).count();
    checks.push(Check {
        name: "every pod bound".into(),
        ok: unbound == 0,
        detail: format!("{unbound} of {} unbound", pods.len()),
    });
    let elsewhere = pods
        .iter()
        .filter(|p| {
            let status = p.status.as_ref();
            let node = node_of(p).unwrap_or_default();
            status.and_then(|s| s.phase.as_deref()) == Some("Running")
                && ips.get(&node).map(String::as_str) != status.and_then(|s| s.host_ip.as_deref())
        })
        .count();
    checks.push(Check {
        name: "every Running pod runs on its bound node".into(),
        ok: elsewhere == 0,
        detail: format!("{elsewhere} pods report a hostIP other than their node's"),
    });
    let cpu = crate::api::validation::parse_quantity(&o.pod_cpu).unwrap_or(0);
    let node_cpu = crate::api::validation::parse_quantity(&o.node_cpu).unwrap_or(0);
    let mut per_node: BTreeMap<String, i128> = BTreeMap::new();
    for p in &pods {
        if let Some(n) = node_of(p) {
            *per_node.entry(n).or_default() += cpu;
        }
    }
    let over = per_node.values().filter(|&&c| c > node_cpu).count();
    checks.push(Check {
        name: "no node over its cpu capacity".into(),
        ok: over == 0,
        detail: format!("{over} nodes over"),
    });
    if o.scheduler_mode == SchedulerMode::PerPodName {
        // Every scheduler got its share: the pods spread over all of them.
        let names = o.scheduler_mode.scheduler_names(o.schedulers);
        let mut per_scheduler: BTreeMap<&str, usize> = names.iter().map(|n| (n.as_str(), 0)).collect();
        for p in &pods {
            let name =
                p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(DEFAULT_SCHEDULER_NAME);
            if let Some(n) = per_scheduler.get_mut(name) {
                *n += 1;
            }
        }
        let idle = per_scheduler.values().filter(|&&n| n == 0).count();
        checks.push(Check {
            name: "pods spread over every scheduler".into(),
            ok: idle == 0 || pods.len() < names.len(),
            detail: format!("{} schedulers, {idle} named by no pod", names.len()),
        });
    }
    checks
}

/// The report as Markdown.
pub fn markdown(r: &LoadReport) -> String {
    let mut s = format!(
        "# kubesim load report\n\nServer: `{}` · {} nodes · {} pods · {} scheduler{} ({}){}\n\n| figure | value |\n|---|---|\n",
        r.server,
        r.nodes,
        r.pods,
        r.schedulers,
        if r.schedulers == 1 { "" } else { "s" },
        r.scheduler_mode,
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
