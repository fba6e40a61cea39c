//! Overload figures for the `kubesim apiserver` binary (real mode, loopback HTTPS, embedded store):
//!
//! 1. A flood, on a real etcd (requests wait on the store, so they pile up in flight as in a real
//!    cluster; on the in-memory store a request rarely waits at all): far more concurrent LISTs
//!    (`resourceVersion=""`, a quorum read from etcd) and creates than `--max-requests-inflight` /
//!    `--max-mutating-requests-inflight` allow. Reports how many got 429, how long the flood
//!    took, and how /healthz answered meanwhile.
//! 2. Watches: 10,000 open watches, 100 of which are never read, while pods are created. Reports
//!    the server's RSS over time: the stalled watchers are cut off once their bounded queue fills
//!    (`watcher_queue_max`), so memory does not grow with what they fail to read.
//!
//! `cargo bench --bench overload`. Figures are printed as `figure:` lines.

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod real {
    use std::collections::BTreeMap;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use kubesim::client::{ApiClient, ClientConfig, Kubeconfig};
    use serde_json::{json, Value};

    /// The server's limits for the flood.
    const MAX_READONLY: usize = 50;
    const MAX_MUTATING: usize = 25;
    /// Concurrent requests of each kind in the flood.
    const FLOOD_LISTS: usize = 600;
    const FLOOD_CREATES: usize = 600;
    /// Pods present before the flood (so a LIST takes a while).
    const PRELOAD: usize = 2_000;
    /// Watches opened, and how many of them are never read.
    const WATCHES: usize = 10_000;
    const STALLED: usize = 100;
    /// Pods created while the watches are open, each with this much padding (bytes).
    const WATCHED_PODS: usize = 3_000;
    const PADDING: usize = 2_048;

    struct Server {
        child: Child,
        _dir: tempfile::TempDir,
        kubeconfig: Kubeconfig,
        _etcd: Option<kubesim::testing::EtcdServer>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn rss_mib(pid: u32) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn start(etcd: Option<kubesim::testing::EtcdServer>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "bench,bench,1,\"system:masters\"\n").unwrap();
        let certs = dir.path().join("certs");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
            .arg("apiserver")
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--cert-dir={}", certs.display()))
            .arg(format!("--token-auth-file={}", tokens.display()))
            .arg(format!("--max-requests-inflight={MAX_READONLY}"))
            .arg(format!("--max-mutating-requests-inflight={MAX_MUTATING}"))
            .args(etcd.iter().map(|e| format!("--etcd-servers={}", e.endpoint())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting kubesim apiserver");
        let ca = certs.join("ca.crt");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ca.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let kubeconfig = Kubeconfig {
            server: format!("https://127.0.0.1:{port}"),
            ca_pem: Some(std::fs::read(&ca).expect("the API server writes its CA")),
            token: Some("bench".into()),
            ..Default::default()
        };
        Server { child, _dir: dir, kubeconfig, _etcd: etcd }
    }

    fn client(s: &Server, in_flight: usize) -> ApiClient {
        let mut config: ClientConfig = s.kubeconfig.client_config().unwrap();
        config.pool_max = in_flight;
        config.max_in_flight = in_flight;
        config.request_timeout = Duration::from_secs(60);
        ApiClient::new(config)
    }

    fn pod(name: &str, padding: usize) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "annotations": {"padding": "x".repeat(padding)}},
               "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}})
    }

    async fn ready(c: &ApiClient) {
        for _ in 0..300 {
            if c.get("/api/v1/namespaces/default").await.is_ok_and(|r| r.status == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the API server did not become ready");
    }

    async fn namespace(c: &ApiClient, name: &str) {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let r = c.post_json("/api/v1/namespaces", &ns).await.unwrap();
        assert!(r.status == 201 || r.status == 409, "namespace {name}: {}", r.status);
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list") {
            return; // `cargo bench -- --list`: nothing criterion-shaped here.
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        // A missing etcd is a loud failure here, as in the tests (`cargo xtask deps` installs it).
        let flooded = start(Some(kubesim::testing::EtcdServer::start()));
        rt.block_on(flood(&flooded, flooded.child.id()));
        drop(flooded);
        let watched = start(None);
        rt.block_on(watches(&watched, watched.child.id()));
    }

    async fn flood(s: &Server, pid: u32) {
        let c = client(s, 2_000);
        ready(&c).await;
        namespace(&c, "flood").await;
        for chunk in (0..PRELOAD).collect::<Vec<_>>().chunks(MAX_MUTATING / 2) {
            let creates =
                chunk.iter().map(|i| {
                    let c = c.clone();
                    async move {
                        c.post_json("/api/v1/namespaces/flood/pods", &pod(&format!("pre-{i}"), 256)).await
                    }
                });
            for r in futures::future::join_all(creates).await {
                assert_eq!(r.unwrap().status, 201);
            }
        }
        let codes: Arc<parking_lot::Mutex<BTreeMap<(bool, u16), u64>>> = Default::default();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..FLOOD_LISTS.max(FLOOD_CREATES) {
            for mutating in [false, true] {
                if (mutating && i >= FLOOD_CREATES) || (!mutating && i >= FLOOD_LISTS) {
                    continue;
                }
                let (c, codes) = (c.clone(), codes.clone());
                tasks.push(tokio::spawn(async move {
                    let r = if mutating {
                        c.post_json("/api/v1/namespaces/flood/pods", &pod(&format!("flood-{i}"), 256)).await
                    } else {
                        c.get("/api/v1/namespaces/flood/pods?resourceVersion=").await
                    };
                    let code = r.map_or(0, |r| r.status.as_u16());
                    *codes.lock().entry((mutating, code)).or_default() += 1;
                }));
            }
        }
        // While the flood is on: is the server still answering?
        let health = client(s, 4);
        let mut health_ms = Vec::new();
        let mut peak = 0.0f64;
        while tasks.iter().any(|t| !t.is_finished()) {
            let t = Instant::now();
            let ok = health.get("/healthz").await.is_ok_and(|r| r.status == 200);
            health_ms.push(if ok { t.elapsed().as_secs_f64() * 1e3 } else { f64::INFINITY });
            peak = peak.max(rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = started.elapsed().as_secs_f64();
        health_ms.sort_by(f64::total_cmp);
        let pct =
            |q: f64| health_ms.get(((health_ms.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
        let codes = codes.lock();
        let count = |m: bool, code: u16| codes.get(&(m, code)).copied().unwrap_or(0);
        println!(
            "figure: flood of {FLOOD_LISTS} LISTs ({PRELOAD} pods) + {FLOOD_CREATES} creates at once, \
             --max-requests-inflight={MAX_READONLY} --max-mutating-requests-inflight={MAX_MUTATING}: \
             LIST 200 {} / 429 {}; create 201 {} / 429 {}; other {:?}; {took:.2} s; /healthz during the \
             flood p50 {:.1} ms, max {:.1} ms ({} probes); server peak RSS {peak:.0} MiB",
            count(false, 200),
            count(false, 429),
            count(true, 201),
            count(true, 429),
            codes.iter().filter(|((_, c), _)| ![200, 201, 429].contains(c)).collect::<Vec<_>>(),
            pct(0.5),
            pct(1.0),
            health_ms.len(),
        );
    }

    async fn watches(s: &Server, pid: u32) {
        let c = client(s, 512);
        namespace(&c, "watched").await;
        let list = c.get("/api/v1/namespaces/watched/pods").await.unwrap().json().unwrap();
        let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_owned();
        let before = rss_mib(pid);
        let opened = Instant::now();
        let path = format!("/api/v1/namespaces/watched/pods?watch=true&resourceVersion={rv}");
        let received = Arc::new(AtomicU64::new(0));
        let mut stalled = Vec::new();
        let mut readers = Vec::new();
        for i in 0..WATCHES {
            let w = c.watch(&path).await.expect("opening a watch");
            assert_eq!(w.status, 200);
            if i % (WATCHES / STALLED) == 0 {
                stalled.push(w); // never read
                continue;
            }
            let received = received.clone();
            readers.push(tokio::spawn(async move {
                let mut w = w;
                let mut n = 0u64;
                while let Some(Ok(_)) = w.next_line().await {
                    n += 1;
                    received.fetch_add(1, Ordering::Relaxed);
                    if n == WATCHED_PODS as u64 {
                        break;
                    }
                }
            }));
        }
        let open_s = opened.elapsed().as_secs_f64();
        let with_watches = rss_mib(pid);
        let mut peak = with_watches;
        let created = Instant::now();
        for chunk in (0..WATCHED_PODS).collect::<Vec<_>>().chunks(100) {
            let creates = chunk.iter().map(|i| {
                let c = c.clone();
                async move {
                    c.post_json("/api/v1/namespaces/watched/pods", &pod(&format!("w-{i}"), PADDING)).await
                }
            });
            for r in futures::future::join_all(creates).await {
                assert_eq!(r.unwrap().status, 201);
            }
            peak = peak.max(rss_mib(pid));
        }
        let expected = (WATCHES - STALLED) as u64 * WATCHED_PODS as u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            peak = peak.max(rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let delivered_s = created.elapsed().as_secs_f64();
        let after = rss_mib(pid);
        // What the stalled watches got before the server cut them off (read now, briefly).
        let mut cut = 0;
        let mut stalled_events = 0u64;
        for mut w in stalled {
            let mut n = 0u64;
            loop {
                match tokio::time::timeout(Duration::from_millis(200), w.next_line()).await {
                    Ok(Some(Ok(_))) => n += 1,
                    Ok(_) => {
                        cut += 1;
                        break;
                    }
                    Err(_) => break, // still open, nothing more buffered
                }
            }
            stalled_events += n;
        }
        for r in readers {
            r.abort();
        }
        println!(
            "figure: {WATCHES} watches ({STALLED} never read) opened in {open_s:.1} s; {WATCHED_PODS} pods of \
             ~{} KB created; {} of {expected} events delivered to the readers in {delivered_s:.1} s; server RSS \
             {before:.0} MiB before the watches, {with_watches:.0} MiB with them open, peak {peak:.0} MiB, \
             {after:.0} MiB after; stalled watches cut off by the server: {cut}/{STALLED} (they had \
             buffered {} events on average)",
            PADDING / 1024 + 1,
            received.load(Ordering::Relaxed),
            stalled_events / STALLED as u64,
        );
    }
}
