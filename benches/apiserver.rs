//! API server benches (real mode, loopback HTTPS): create, get, list (500 of 10,000 pods, from the
//! watch cache and from storage), watch delivery latency, and a load figure — pods created per
//! second by 8 and 64 concurrent clients with create and watch-delivery percentiles — on the
//! embedded store and, where an etcd binary exists, on a local etcd.
//!
//! `cargo bench --bench apiserver`. Figures are printed as `figure:` lines.

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod real {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkId, Criterion, Throughput};
    use kubesim::client::{ApiClient, ClientConfig, Kubeconfig};
    use kubesim::server::authn::TokenAuthenticator;
    use kubesim::server::{http_server, tls, ApiServer, ApiServerConfig};
    use kubesim::storage::{EtcdStore, EtcdStoreConfig, ModelStore, Storage};
    use kubesim::testing::{etcd_binary, EtcdServer};
    use parking_lot::Mutex;
    use serde_json::{json, Value};

    /// Pods preloaded for the list figures.
    const LIST_PODS: usize = 10_000;

    pub fn main() {
        // No plots: drawing them (plotters) takes ~7 s per benchmark on a 2-core machine, more than
        // most measurements; the figures are printed and saved under target/criterion.
        let mut c = Criterion::default().without_plots().configure_from_args();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let embedded = rt.block_on(Harness::start(Arc::new(ModelStore::default())));
        request_benches(&mut c, &rt, &embedded);
        load(&rt, &embedded, "embedded store");
        drop(embedded);
        if etcd_binary().is_none() {
            println!("etcd load skipped: no etcd binary found (apt-get install etcd-server)");
        } else {
            let etcd = EtcdServer::start_with(None, &["--backend-batch-limit=1000"]);
            let store = rt.block_on(EtcdStore::connect(EtcdStoreConfig::new([etcd.endpoint()]))).unwrap();
            let h = rt.block_on(Harness::start(Arc::new(store)));
            load(&rt, &h, "etcd");
        }
        c.final_summary();
    }

    struct Harness {
        client: ApiClient,
        _dir: tempfile::TempDir,
        _server: tokio::task::JoinHandle<std::io::Result<()>>,
    }

    fn pod(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
               "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}})
    }

    impl Harness {
        async fn start(storage: Arc<dyn Storage>) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let cert = tls::self_signed(dir.path()).unwrap();
            let tls_config = tls::server_config(&cert).unwrap();
            let tokens = TokenAuthenticator::parse("bench,bench,1,\"system:masters\"\n").unwrap();
            let server = ApiServer::new(storage, ApiServerConfig::default(), tokens).await;
            server.wait_ready().await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let handle = tokio::spawn(http_server::serve_tls(server, listener, tls_config));
            let kc = Kubeconfig {
                server: format!("https://127.0.0.1:{port}"),
                ca_pem: Some(std::fs::read(cert.ca_file.unwrap()).unwrap()),
                token: Some("bench".into()),
                ..Default::default()
            };
            let mut config: ClientConfig = kc.client_config().unwrap();
            config.pool_max = 128;
            let client = ApiClient::new(config);
            // The system namespaces are created in the background: wait for them.
            for _ in 0..100 {
                if client.get("/api/v1/namespaces/default").await.is_ok_and(|r| r.status == 200) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Harness { client, _dir: dir, _server: handle }
        }

        async fn namespace(&self, name: &str) {
            let r = self
                .client
                .post_json(
                    "/api/v1/namespaces",
                    &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
                )
                .await
                .unwrap();
            assert!(r.status == 201 || r.status == 409, "namespace {name}: {}", r.status);
        }

        async fn create(&self, ns: &str, name: &str) {
            let r = self
                .client
                .post_json(&format!("/api/v1/namespaces/{ns}/pods"), &pod(ns, name))
                .await
                .unwrap();
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        }
    }

    fn request_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, h: &Harness) {
        rt.block_on(async {
            h.namespace("bench").await;
            h.namespace("list").await;
            h.namespace("list2k").await;
            // 10,000 pods: 500 in `list`, 2,000 in `list2k`, the rest spread over 15 namespaces.
            for i in 0..500 {
                h.create("list", &format!("p{i:05}")).await;
            }
            for i in 0..2_000 {
                h.create("list2k", &format!("p{i:05}")).await;
            }
            for n in 0..15 {
                h.namespace(&format!("fill{n}")).await;
            }
            let mut tasks = Vec::new();
            for n in 0..15usize {
                let client = h.client.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..(LIST_PODS - 2_500) / 15 {
                        let ns = format!("fill{n}");
                        client
                            .post_json(
                                &format!("/api/v1/namespaces/{ns}/pods"),
                                &pod(&ns, &format!("p{i:05}")),
                            )
                            .await
                            .unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let mut group = c.benchmark_group("apiserver_https");
        group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(1));
        let mut n = 0u64;
        group.bench_function("create_pod", |b| {
            b.iter(|| {
                n += 1;
                rt.block_on(h.create("bench", &format!("c{n:08}")));
            })
        });
        group.bench_function("get_pod", |b| {
            b.iter(|| rt.block_on(h.client.get("/api/v1/namespaces/list/pods/p00042")).unwrap())
        });
        group.throughput(Throughput::Elements(500));
        group.bench_function(BenchmarkId::new("list_from_cache", "500_of_10000"), |b| {
            b.iter(|| {
                let r = rt.block_on(h.client.get("/api/v1/namespaces/list/pods?resourceVersion=0")).unwrap();
                assert!(r.body.len() > 500 * 200);
            })
        });
        group.bench_function(BenchmarkId::new("list_from_storage", "500_of_10000"), |b| {
            b.iter(|| rt.block_on(h.client.get("/api/v1/namespaces/list/pods?limit=500")).unwrap())
        });
        group.throughput(Throughput::Elements(2_000));
        group.bench_function(BenchmarkId::new("list_from_cache", "2000"), |b| {
            b.iter(|| rt.block_on(h.client.get("/api/v1/namespaces/list2k/pods?resourceVersion=0")).unwrap())
        });
        group.finish();

        let mut latencies = Vec::new();
        for _ in 0..15 {
            let t = Instant::now();
            let r = rt.block_on(h.client.get("/api/v1/namespaces/list2k/pods?resourceVersion=0")).unwrap();
            latencies.push(t.elapsed());
            assert_eq!(r.json().unwrap()["items"].as_array().unwrap().len(), 2_000);
        }
        latencies.sort();
        println!(
            "figure: list of 2,000 pods from the watch cache over HTTPS: median {:.2} ms (15 runs)",
            latencies[7].as_secs_f64() * 1e3
        );

        // Watch delivery latency, idle server: create → event received.
        let mut idle = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        rt.block_on(async {
            h.namespace("watch").await;
            let mut w =
                h.client.watch("/api/v1/namespaces/watch/pods?watch=true&resourceVersion=0").await.unwrap();
            for i in 0..200 {
                let t = Instant::now();
                h.create("watch", &format!("w{i:05}")).await;
                let line = w.next_line().await.unwrap().unwrap();
                idle.record(t.elapsed().as_micros() as u64).unwrap();
                assert!(line.starts_with(b"{\"type\":\"ADDED\""));
            }
        });
        println!(
            "figure: idle create+watch delivery (create sent -> event received), embedded store: p50 {:.2} ms, p99 {:.2} ms",
            idle.value_at_quantile(0.5) as f64 / 1e3,
            idle.value_at_quantile(0.99) as f64 / 1e3
        );
    }

    /// Creates pods from `clients` concurrent clients for a fixed count while one watcher records
    /// when each pod's ADDED event arrives.
    fn load(rt: &tokio::runtime::Runtime, h: &Harness, store: &str) {
        for clients in [8usize, 64] {
            let total = if clients == 8 { 4_000 } else { 12_000 };
            let ns = format!("load-{clients}");
            rt.block_on(h.namespace(&ns));
            let sent: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
            let acked: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
            let received: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
            let (create, watch, elapsed) = rt.block_on(async {
                let mut w = h
                    .client
                    .watch(&format!("/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion=0"))
                    .await
                    .unwrap();
                let sent_w = sent.clone();
                let received_w = received.clone();
                let watcher = tokio::spawn(async move {
                    let mut hist = hdrhistogram::Histogram::<u64>::new(3).unwrap();
                    while hist.len() < total as u64 {
                        let Some(Ok(line)) = w.next_line().await else { break };
                        let received = Instant::now();
                        let v: Value = serde_json::from_slice(&line).unwrap();
                        let name = v["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                        if let Some(t) = sent_w.lock().get(&name) {
                            hist.record(received.duration_since(*t).as_micros() as u64).unwrap();
                        }
                        received_w.lock().insert(name, received);
                    }
                    hist
                });
                let started = Instant::now();
                let tasks: Vec<_> = (0..clients)
                    .map(|c| {
                        let client = h.client.clone();
                        let (ns, sent, acked) = (ns.clone(), sent.clone(), acked.clone());
                        tokio::spawn(async move {
                            let mut hist = hdrhistogram::Histogram::<u64>::new(3).unwrap();
                            for i in (c..total).step_by(clients) {
                                let name = format!("p{i:06}");
                                let t = Instant::now();
                                sent.lock().insert(name.clone(), t);
                                let r = client
                                    .post_json(&format!("/api/v1/namespaces/{ns}/pods"), &pod(&ns, &name))
                                    .await
                                    .unwrap();
                                assert_eq!(r.status, 201);
                                acked.lock().insert(name, Instant::now());
                                hist.record(t.elapsed().as_micros() as u64).unwrap();
                            }
                            hist
                        })
                    })
                    .collect();
                let mut create = hdrhistogram::Histogram::<u64>::new(3).unwrap();
                for t in tasks {
                    create.add(t.await.unwrap()).unwrap();
                }
                let elapsed = started.elapsed();
                let watch = tokio::time::timeout(Duration::from_secs(60), watcher).await.unwrap().unwrap();
                (create, watch, elapsed)
            });
            // Commit happens between the create being sent and its answer: the watch delivery
            // latency lies between (answer -> event, 0 when the event came first) and
            // (sent -> event). Both bounds are reported.
            let mut after_ack = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            let (acked, received) = (acked.lock(), received.lock());
            for (name, got) in received.iter() {
                if let Some(ack) = acked.get(name) {
                    after_ack.record(got.saturating_duration_since(*ack).as_micros() as u64).unwrap();
                }
            }
            let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
            println!(
                "figure: {store}, {clients} clients: {:.0} pod creates/s over HTTPS; create p50 {:.2} ms p99 {:.2} ms; \
                 watch delivery (create answered -> event) p50 {:.2} ms p99 {:.2} ms; (create sent -> event) p50 {:.2} ms \
                 p99 {:.2} ms ({total} creates)",
                total as f64 / elapsed.as_secs_f64(),
                ms(&create, 0.5),
                ms(&create, 0.99),
                ms(&after_ack, 0.5),
                ms(&after_ack, 0.99),
                ms(&watch, 0.5),
                ms(&watch, 0.99),
            );
        }
    }
}
