//! The request pipeline in-process (real mode, no socket): `ApiServer::handle` over the embedded
//! model store, as the tests drive it — request info, authentication, authorization, in-flight
//! limit, decoding, defaulting, validation, admission, storage and the watch cache — with
//! Deployment-style pod bodies of ~2 KB.
//!
//! Figures: create pod, get pod, list 500 pods (from the watch cache, and from storage), update
//! pod status (PUT …/status, the whole object) and patch pod status (a kubelet's strategic merge
//! patch). Each is the time from the `http::Request` handed in to the response body collected.
//!
//! `cargo bench --bench pipeline`.

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
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use criterion::{BenchmarkId, Criterion, Throughput};
    use http::{Method, Request};
    use http_body_util::BodyExt;
    use kubesim::api::resources;
    use kubesim::server::authn::TokenAuthenticator;
    use kubesim::server::{ApiServer, ApiServerConfig};
    use kubesim::storage::ModelStore;
    use serde_json::{json, Value};
    use tokio::runtime::Runtime;

    /// Pods in the namespace the gets and lists read.
    const LIST_PODS: usize = 500;
    /// Pods in other namespaces, so that the store and the cache are not trivially small.
    const FILL_PODS: usize = 4_500;

    pub fn main() {
        // No plots: drawing them (plotters) takes ~7 s per benchmark on a 2-core machine, more than
        // most measurements; the figures are printed and saved under target/criterion.
        let mut c = Criterion::default().without_plots().configure_from_args();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let api = rt.block_on(Api::start());
        pipeline(&mut c, &rt, &api);
        c.final_summary();
    }

    /// A running pod's status as its kubelet reports it; `n` varies the timestamps so that every
    /// write changes the object.
    fn status(n: u64) -> Value {
        let t = format!("2025-01-15T10:{:02}:{:02}Z", (n / 60) % 60, n % 60);
        json!({
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                {"type": "Ready", "status": "True", "lastTransitionTime": t},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t}
            ],
            "hostIP": "10.0.3.17",
            "podIP": "10.244.3.41",
            "podIPs": [{"ip": "10.244.3.41"}],
            "startTime": t,
            "qosClass": "Burstable",
            "containerStatuses": [{
                "name": "frontend",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "image": "registry.example.com/team/bench-frontend:1.27.3",
                "imageID": "registry.example.com/team/bench-frontend@sha256:3c5e2d1b0a9f8e7d6c5b4a3928171605f4e3d2c1b0a9f8e78a1f0c2e9b7d4f3a",
                "containerID": "containerd://a9f8e7d6c5b4a3928171605f4e3d2c1b0a9f8e78a1f0c2e9b7d4f3a3c5e2d1b0",
                "state": {"running": {"startedAt": t}}
            }]
        })
    }

    /// One API server over the embedded store, driven through `ApiServer::handle`.
    struct Api {
        server: Arc<ApiServer>,
    }

    /// A collected response.
    struct Resp {
        code: u16,
        body: Bytes,
    }

    impl Api {
        async fn start() -> Api {
            let store = ModelStore::default();
            let server =
                ApiServer::new(Arc::new(store), ApiServerConfig::default(), TokenAuthenticator::default())
                    .await;
            server.wait_ready().await.expect("caches ready");
            let api = Api { server };
            // The system namespaces are created in the background, and namespace admission reads
            // the namespaces cache: wait until a namespace made here admits a pod.
            let deadline = Instant::now() + Duration::from_secs(10);
            let namespaces =
                ["bench", "list", "status"].map(String::from).into_iter().chain((0..9).map(fill_ns));
            for ns in namespaces {
                loop {
                    let r = api
                        .send(
                            Method::POST,
                            "/api/v1/namespaces",
                            Some(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
                        )
                        .await;
                    if r.code == 201 || r.code == 409 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "namespace {ns}: {}", r.text());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            for i in 0..LIST_PODS {
                api.create("list", &format!("p{i:05}")).await;
            }
            for i in 0..FILL_PODS {
                api.create(&fill_ns(i % 9), &format!("f{i:05}")).await;
            }
            api.create("status", "running").await;
            api
        }

        fn request(method: Method, uri: &str, content_type: &str, body: Bytes) -> Request<Bytes> {
            let mut b = Request::builder().method(method).uri(uri);
            if !body.is_empty() {
                b = b.header("content-type", content_type);
            }
            b.body(body).expect("a valid request")
        }

        async fn call(&self, req: Request<Bytes>) -> Resp {
            let resp = self.server.handle(req).await;
            let code = resp.status().as_u16();
            let body = resp.into_body().collect().await.expect("infallible").to_bytes();
            Resp { code, body }
        }

        async fn send(&self, method: Method, uri: &str, body: Option<&Value>) -> Resp {
            let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
            self.call(Self::request(method, uri, "application/json", body)).await
        }

        async fn create(&self, ns: &str, name: &str) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let r = self
                    .send(Method::POST, &format!("/api/v1/namespaces/{ns}/pods"), Some(&pod(ns, name)))
                    .await;
                if r.code == 201 {
                    return;
                }
                // A namespace just created may not be in the namespaces cache yet.
                assert!(r.code == 404 && Instant::now() < deadline, "create {ns}/{name}: {}", r.text());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    impl Resp {
        fn text(&self) -> String {
            format!("{} {}", self.code, String::from_utf8_lossy(&self.body))
        }
    }

    fn fill_ns(i: usize) -> String {
        format!("fill-{i}")
    }

    fn pipeline(c: &mut Criterion, rt: &Runtime, api: &Api) {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let sample = Bytes::from(pod("bench", "p0000000").to_string());
        println!("pipeline: pod body {} bytes; {} pods preloaded", sample.len(), LIST_PODS + FILL_PODS + 1);

        let mut group = c.benchmark_group("pipeline");
        group.sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(1));

        // Each sample creates fresh pods, then (untimed) deletes them from storage, so that the
        // store and the cache stay the same size however many samples run.
        let mut round = 0u64;
        group.bench_function("create_pod", |b| {
            b.iter_custom(|iters| {
                round += 1;
                let bodies: Vec<(String, Bytes)> = (0..iters)
                    .map(|n| {
                        let name = format!("c{round:04}-{n:07}");
                        let body = Bytes::from(pod("bench", &name).to_string());
                        (name, body)
                    })
                    .collect();
                rt.block_on(async {
                    let started = Instant::now();
                    for (_, body) in &bodies {
                        let req = Api::request(
                            Method::POST,
                            "/api/v1/namespaces/bench/pods",
                            "application/json",
                            body.clone(),
                        );
                        let r = api.call(req).await;
                        assert_eq!(r.code, 201, "{}", r.text());
                    }
                    let elapsed = started.elapsed();
                    let storage = api.server.registry().storage();
                    for (name, _) in &bodies {
                        storage.delete(&pods.storage_key(Some("bench"), name), None).await.unwrap();
                    }
                    elapsed
                })
            })
        });

        group.bench_function("get_pod", |b| {
            b.iter(|| {
                let req = Api::request(Method::GET, "/api/v1/namespaces/list/pods/p00042", "", Bytes::new());
                let r = rt.block_on(api.call(req));
                assert_eq!(r.code, 200);
                r
            })
        });

        let r = rt.block_on(api.send(Method::GET, "/api/v1/namespaces/list/pods?resourceVersion=0", None));
        let listed: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(LIST_PODS), "{}", r.text());
        println!("pipeline: a list of {LIST_PODS} pods is {} bytes", r.body.len());
        group.throughput(Throughput::Elements(LIST_PODS as u64));
        for (label, uri) in [
            ("from_cache", "/api/v1/namespaces/list/pods?resourceVersion=0"),
            ("from_storage", "/api/v1/namespaces/list/pods?limit=500"),
        ] {
            group.bench_function(BenchmarkId::new(format!("list_{LIST_PODS}_pods"), label), |b| {
                b.iter(|| {
                    let r = rt.block_on(api.call(Api::request(Method::GET, uri, "", Bytes::new())));
                    assert_eq!(r.code, 200);
                    r
                })
            });
        }

        // Status writes to one running pod: each changes the timestamps, so each is a real write.
        group.throughput(Throughput::Elements(1));
        let mut n = 0u64;
        let uri = "/api/v1/namespaces/status/pods/running/status";
        let mut whole = pod("status", "running");
        group.bench_function("update_pod_status", |b| {
            b.iter_custom(|iters| {
                let bodies: Vec<Bytes> = (0..iters)
                    .map(|_| {
                        n += 1;
                        whole["status"] = status(n);
                        Bytes::from(whole.to_string())
                    })
                    .collect();
                rt.block_on(async {
                    let started = Instant::now();
                    for body in bodies {
                        let r = api.call(Api::request(Method::PUT, uri, "application/json", body)).await;
                        assert_eq!(r.code, 200, "{}", r.text());
                    }
                    started.elapsed()
                })
            })
        });
        group.bench_function("patch_pod_status", |b| {
            b.iter_custom(|iters| {
                let bodies: Vec<Bytes> = (0..iters)
                    .map(|_| {
                        n += 1;
                        Bytes::from(json!({"status": status(n)}).to_string())
                    })
                    .collect();
                rt.block_on(async {
                    let started = Instant::now();
                    for body in bodies {
                        let req =
                            Api::request(Method::PATCH, uri, "application/strategic-merge-patch+json", body);
                        let r = api.call(req).await;
                        assert_eq!(r.code, 200, "{}", r.text());
                    }
                    started.elapsed()
                })
            })
        });
        group.finish();

        // The status writes above must be real writes (each a new resourceVersion) and valid.
        let rv = |r: &Resp| -> i64 {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
        };
        let before = rv(&rt.block_on(api.send(Method::GET, "/api/v1/namespaces/status/pods/running", None)));
        whole["status"] = status(n + 1);
        let put = rt.block_on(api.send(Method::PUT, uri, Some(&whole)));
        assert_eq!(put.code, 200, "{}", put.text());
        let patch = json!({"status": status(n + 2)}).to_string();
        let patched = rt.block_on(api.call(Api::request(
            Method::PATCH,
            uri,
            "application/strategic-merge-patch+json",
            Bytes::from(patch),
        )));
        assert_eq!(patched.code, 200, "{}", patched.text());
        assert!(before < rv(&put) && rv(&put) < rv(&patched), "status writes must each write");
    }
}
