//! Watch fan-out through the API server's watch cache (real mode, in-process, no socket): one
//! pod create delivered to N open watches, N = 100, 1,000 and 10,000. The figure is the time from
//! the write to the last watcher having received the event.
//!
//! - `watch_fan_out/cache/N`: the pod written straight to the embedded store; the reflector
//!   decodes it into the pods cache, which fans it out to N cache subscriptions (the bench task
//!   receives from all N).
//! - `watch_fan_out/apiserver/N`: the pod created through `ApiServer::handle`; N watch responses
//!   from `ApiServer::handle` (`?watch=true`), each read by a task of its own as hyper would, until
//!   the last has yielded the event's line.
//!
//! Throughput is events delivered per second (N per write). Each sample's pods are deleted again
//! (untimed), so the cache stays the same size. `cargo bench --bench watch`.

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod shared;

#[cfg(not(madsim))]
mod real {
    use crate::shared::pod;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use criterion::measurement::WallTime;
    use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
    use http::{Method, Request};
    use http_body_util::BodyExt;
    use kubesim::api::{object, resources};
    use kubesim::server::authn::TokenAuthenticator;
    use kubesim::server::{ApiServer, ApiServerConfig};
    use kubesim::storage::ModelStore;
    use kubesim::watch::cache::{EventType, Filter, WatchMessage, WatchStart};
    use serde_json::{json, Value};
    use tokio::runtime::Runtime;

    /// Open watches per figure.
    const WATCHERS: [usize; 3] = [100, 1_000, 10_000];

    pub fn main() {
        // No plots: drawing them (plotters) takes ~7 s per benchmark on a 2-core machine, more than
        // most measurements; the figures are printed and saved under target/criterion.
        let mut c = Criterion::default().without_plots().configure_from_args();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = rt.block_on(start());
        let mut group = c.benchmark_group("watch_fan_out");
        group.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        for n in WATCHERS {
            cache_fan_out(&mut group, &rt, &server, n);
        }
        for n in WATCHERS {
            apiserver_fan_out(&mut group, &rt, &server, n);
        }
        group.finish();
        c.final_summary();
    }

    fn request(method: Method, uri: &str, body: Bytes) -> Request<Bytes> {
        let mut b = Request::builder().method(method).uri(uri);
        if !body.is_empty() {
            b = b.header("content-type", "application/json");
        }
        b.body(body).expect("a valid request")
    }

    /// Sends one request and collects the whole reply (not for watches).
    async fn call(server: &ApiServer, req: Request<Bytes>) -> (u16, Bytes) {
        let resp = server.handle(req).await;
        let code = resp.status().as_u16();
        (code, resp.into_body().collect().await.expect("infallible").to_bytes())
    }

    const CACHE_NS: &str = "fanout-cache";
    const API_NS: &str = "fanout-api";

    /// An API server over the embedded store, with the two namespaces admitting pods.
    async fn start() -> Arc<ApiServer> {
        let server = ApiServer::new(
            Arc::new(ModelStore::default()),
            ApiServerConfig::default(),
            TokenAuthenticator::default(),
        )
        .await;
        server.wait_ready().await.expect("caches ready");
        let deadline = Instant::now() + Duration::from_secs(10);
        for ns in [CACHE_NS, API_NS] {
            loop {
                let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                let (code, text) =
                    call(&server, request(Method::POST, "/api/v1/namespaces", Bytes::from(body.to_string())))
                        .await;
                if code == 201 || code == 409 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "namespace {ns}: {code} {}",
                    String::from_utf8_lossy(&text)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Namespace admission reads the namespaces cache: wait until it admits a pod.
            loop {
                let uri = format!("/api/v1/namespaces/{ns}/pods");
                let body = Bytes::from(pod(ns, "probe").to_string());
                let (code, text) = call(&server, request(Method::POST, &uri, body)).await;
                if code == 201 {
                    break;
                }
                assert!(Instant::now() < deadline, "pod in {ns}: {code} {}", String::from_utf8_lossy(&text));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let uri = format!("/api/v1/namespaces/{ns}/pods/probe");
            let (code, _) = call(&server, request(Method::DELETE, &uri, Bytes::new())).await;
            assert_eq!(code, 200);
        }
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let own = server.registry().cache(pods).expect("pods are cached").watcher_count();
        SERVER_WATCHERS.set(own).expect("one server");
        server
    }

    /// Watchers of the pods cache that the server holds itself (none today).
    static SERVER_WATCHERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

    /// Waits until the pods cache has seen every write so far and has `watchers` watchers besides
    /// the server's own.
    async fn settle(server: &ApiServer, watchers: usize) {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let cache = server.registry().cache(pods).expect("pods are cached");
        let current = server.registry().storage().current_revision().await.unwrap();
        cache.wait_for(current).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let watchers = watchers + SERVER_WATCHERS.get().copied().unwrap_or(0);
        while cache.watcher_count() != watchers {
            assert!(Instant::now() < deadline, "{} watchers, expected {watchers}", cache.watcher_count());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The pod written straight to storage to the last of `n` cache subscriptions receiving it.
    fn cache_fan_out(
        group: &mut BenchmarkGroup<'_, WallTime>,
        rt: &Runtime,
        server: &Arc<ApiServer>,
        n: usize,
    ) {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let cache = server.registry().cache(pods).expect("pods are cached").clone();
        let storage = server.registry().storage().clone();
        // The stored form of a pod as the registry writes it (defaulted, with uid and timestamp).
        let template: Value = {
            let uri = format!("/api/v1/namespaces/{CACHE_NS}/pods");
            let (code, body) = rt.block_on(call(
                server,
                request(Method::POST, &uri, Bytes::from(pod(CACHE_NS, "t").to_string())),
            ));
            assert_eq!(code, 201);
            rt.block_on(storage.delete(&pods.storage_key(Some(CACHE_NS), "t"), None)).unwrap();
            serde_json::from_slice(&body).unwrap()
        };
        rt.block_on(settle(server, 0));
        let filter = Filter { namespace: Some(CACHE_NS.into()), ..Default::default() };
        let mut subs: Vec<_> = (0..n)
            .map(|_| cache.watch(filter.clone(), WatchStart::After(cache.revision()), false).unwrap())
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        let mut round = 0u64;
        group.bench_function(BenchmarkId::new("cache", n), |b| {
            b.iter_custom(|iters| {
                round += 1;
                let writes: Vec<(String, Bytes)> = (0..iters)
                    .map(|i| {
                        let name = format!("c{n}-{round}-{i}");
                        let mut v = template.clone();
                        object::set_meta(&mut v, "name", json!(name));
                        (pods.storage_key(Some(CACHE_NS), &name), object::encode_for_storage(&v))
                    })
                    .collect();
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for (key, value) in writes {
                        let started = Instant::now();
                        let revision = storage.create(&key, value).await.unwrap();
                        for s in subs.iter_mut() {
                            match s.live.recv().await {
                                Some(WatchMessage::Event(e, EventType::Added)) => {
                                    assert_eq!(e.revision, revision)
                                }
                                other => panic!("expected ADDED at {revision}, got {other:?}"),
                            }
                        }
                        total += started.elapsed();
                        // Untimed: the delete, and its event drained from every subscription.
                        storage.delete(&key, None).await.unwrap();
                        for s in subs.iter_mut() {
                            match s.live.recv().await {
                                Some(WatchMessage::Event(_, EventType::Deleted)) => {}
                                other => panic!("expected DELETED, got {other:?}"),
                            }
                        }
                    }
                    total
                })
            })
        });
        drop(subs);
    }

    /// Lines seen by all watch tasks in the current phase; `done` fires once when they reach `want`.
    struct Delivered {
        seen: AtomicUsize,
        want: AtomicUsize,
        done: tokio::sync::Notify,
    }

    /// The pod created through `ApiServer::handle` to the last of `n` watch responses yielding it.
    fn apiserver_fan_out(
        group: &mut BenchmarkGroup<'_, WallTime>,
        rt: &Runtime,
        server: &Arc<ApiServer>,
        n: usize,
    ) {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let storage = server.registry().storage().clone();
        rt.block_on(settle(server, 0));
        let delivered = Arc::new(Delivered {
            seen: AtomicUsize::new(0),
            want: AtomicUsize::new(n),
            done: Default::default(),
        });
        let tasks: Vec<_> = rt.block_on(async {
            let mut tasks = Vec::with_capacity(n);
            for _ in 0..n {
                let uri = format!("/api/v1/namespaces/{API_NS}/pods?watch=true&resourceVersion=0");
                let resp = server.handle(request(Method::GET, &uri, Bytes::new())).await;
                assert_eq!(resp.status().as_u16(), 200);
                let delivered = delivered.clone();
                tasks.push(tokio::spawn(async move {
                    let mut body = resp.into_body();
                    while let Some(Ok(frame)) = body.frame().await {
                        let Ok(data) = frame.into_data() else { continue };
                        let lines = data.iter().filter(|&&b| b == b'\n').count();
                        if lines == 0 {
                            continue;
                        }
                        let before = delivered.seen.fetch_add(lines, Ordering::SeqCst);
                        let want = delivered.want.load(Ordering::SeqCst);
                        if before < want && before + lines >= want {
                            delivered.done.notify_one();
                        }
                    }
                }));
            }
            tasks
        });
        rt.block_on(settle(server, n));
        group.throughput(Throughput::Elements(n as u64));
        let mut round = 0u64;
        group.bench_function(BenchmarkId::new("apiserver", n), |b| {
            b.iter_custom(|iters| {
                round += 1;
                let creates: Vec<(String, Bytes)> = (0..iters)
                    .map(|i| {
                        let name = format!("a{n}-{round}-{i}");
                        let body = Bytes::from(pod(API_NS, &name).to_string());
                        (name, body)
                    })
                    .collect();
                let uri = format!("/api/v1/namespaces/{API_NS}/pods");
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for (name, body) in creates {
                        delivered.seen.store(0, Ordering::SeqCst);
                        let started = Instant::now();
                        let (code, text) = call(server, request(Method::POST, &uri, body)).await;
                        assert_eq!(code, 201, "{}", String::from_utf8_lossy(&text));
                        delivered.done.notified().await;
                        total += started.elapsed();
                        // Untimed: the delete, and its event read by every watch.
                        delivered.seen.store(0, Ordering::SeqCst);
                        storage.delete(&pods.storage_key(Some(API_NS), &name), None).await.unwrap();
                        delivered.done.notified().await;
                    }
                    total
                })
            })
        });
        for t in tasks {
            t.abort();
        }
        rt.block_on(settle(server, 0));
    }
}
