//! The informer against a real (in-process, HTTPS) API server: list, watch, resume, relist on 410.
#![cfg(not(madsim))]

use std::sync::Arc;
use std::time::Duration;

use kubesim::agents::informer::{self, InformerConfig, InformerEvent};
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::json;
use tokio::sync::mpsc;

fn pod(name: &str, node: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}})
}

async fn next(rx: &mut mpsc::Receiver<InformerEvent>) -> InformerEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an informer event").expect("open")
}

fn name(e: &InformerEvent) -> String {
    match e {
        InformerEvent::Applied(o) | InformerEvent::Deleted(o) => {
            o["metadata"]["name"].as_str().unwrap().into()
        }
        InformerEvent::Relisted { items, .. } => format!("relist:{}", items.len()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_then_watches_with_a_field_selector_and_stops_with_its_consumer() {
    let mut config = ApiServerConfig::default();
    config.registry.cache_sizes.insert("pods".into(), 4);
    let s = TestApiServer::start(Arc::new(ModelStore::default()), config).await;
    let c = s.client();
    for (n, node) in [("a", "n1"), ("b", "n2")] {
        assert_eq!(c.post_json("/api/v1/namespaces/default/pods", &pod(n, node)).await.unwrap().status, 201);
    }
    let (tx, mut rx) = mpsc::channel(16);
    let mut cfg = InformerConfig::new("/api/v1/pods");
    cfg.field_selector = Some("spec.nodeName=n1".into());
    let task = tokio::spawn(informer::run(c.clone(), cfg, tx));
    assert_eq!(name(&next(&mut rx).await), "relist:1", "the initial list sees only n1's pod");

    c.post_json("/api/v1/namespaces/default/pods", &pod("c", "n1")).await.unwrap();
    c.post_json("/api/v1/namespaces/default/pods", &pod("d", "n2")).await.unwrap();
    let e = next(&mut rx).await;
    assert!(matches!(e, InformerEvent::Applied(_)) && name(&e) == "c", "{e:?}");
    c.delete("/api/v1/namespaces/default/pods/c", Some(&json!({"gracePeriodSeconds": 0}))).await.unwrap();
    let e = next(&mut rx).await;
    assert!(matches!(e, InformerEvent::Deleted(_)) && name(&e) == "c", "{e:?}");

    drop(rx);
    task.await.unwrap();
}

/// Against a scripted server: the first list, then a watch that answers ERROR 410, then a second
/// list — the informer must relist (client-go's reflector on "too old resource version").
#[tokio::test]
async fn an_error_410_in_the_watch_makes_the_informer_relist() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use kubesim::client::{ApiClient, ClientConfig};

    let lists = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let served = lists.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let lists = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let lists = lists.clone();
                    async move {
                        let watch = req.uri().query().unwrap_or("").contains("watch=true");
                        let body = if watch {
                            "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version: 5 (9)\"}}\n".to_string()
                        } else {
                            let n = lists.fetch_add(1, Ordering::SeqCst) + 1;
                            let items: Vec<_> = (0..n).map(|i| json!({"metadata": {"name": format!("p{i}"), "resourceVersion": "5"}})).collect();
                            json!({"kind": "PodList", "metadata": {"resourceVersion": "5"}, "items": items})
                                .to_string()
                        };
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    let mut cfg = InformerConfig::new("/api/v1/pods");
    cfg.retry_backoff = Duration::from_millis(10);
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(informer::run(ApiClient::new(ClientConfig::plain(address)), cfg, tx));
    assert_eq!(name(&next(&mut rx).await), "relist:1");
    assert_eq!(name(&next(&mut rx).await), "relist:2", "the 410 made it list again");
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the informer stops with its consumer")
        .unwrap();
    assert!(lists.load(Ordering::SeqCst) >= 2);
}

/// The reflector's choice of resourceVersion for each list, against a scripted server: the first
/// list at 0; after a watch 410, at the last version synced (events and bookmarks count); when
/// that list is refused as expired, with none (a consistent read); after a watch that failed or
/// timed out, at the last version synced again; a watch that simply ends resumes without a list.
#[tokio::test]
async fn relists_at_the_last_synced_version_and_afresh_only_when_it_is_gone() {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use bytes::Bytes;
    use http_body_util::combinators::BoxBody;
    use http_body_util::{BodyExt, Full, StreamBody};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use kubesim::client::{ApiClient, ClientConfig};

    type Body = BoxBody<Bytes, std::convert::Infallible>;
    fn full(status: u16, body: String) -> hyper::Response<Body> {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)).boxed());
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r
    }
    fn pod(name: &str, rv: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "resourceVersion": rv}})
    }
    fn list(rv: &str, names: &[&str]) -> String {
        let items: Vec<_> = names.iter().map(|n| pod(n, rv)).collect();
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items})
            .to_string()
    }
    fn line(kind: &str, object: serde_json::Value) -> String {
        format!("{}\n", json!({"type": kind, "object": object}))
    }

    // Every request as (list or watch, its resourceVersion parameter or "<unset>").
    let seen: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let query: BTreeMap<String, String> =
                            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                                .into_owned()
                                .collect();
                        let watch = query.get("watch").is_some_and(|w| w == "true");
                        let rv = query.get("resourceVersion").cloned().unwrap_or_else(|| "<unset>".into());
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push((if watch { "watch" } else { "list" }, rv));
                            log.iter().filter(|(k, _)| *k == if watch { "watch" } else { "list" }).count()
                        };
                        let response = match (watch, n) {
                            (false, 1) => full(200, list("5", &["p0"])),
                            (true, 1) => full(
                                200,
                                line("ADDED", pod("p1", "7"))
                                    + &line("BOOKMARK", json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "8"}}))
                                    + &line("ERROR", json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old resource version: 8 (11)"})),
                            ),
                            (false, 2) => full(
                                410,
                                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired", "message": "The resourceVersion for the provided list is too old."}).to_string(),
                            ),
                            (false, 3) => full(200, list("12", &["p0", "p1"])),
                            (true, 2) => full(500, json!({"kind": "Status", "code": 500, "message": "boom"}).to_string()),
                            (false, _) => full(200, list("12", &["p0", "p1"])),
                            (true, 3) => {
                                // Headers later than the client's request timeout.
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                full(200, String::new())
                            }
                            // A stream that ends cleanly after one event.
                            (true, 4) => full(200, line("ADDED", pod("p2", "13"))),
                            // Then a watch that stays open and silent.
                            (true, _) => hyper::Response::new(BodyExt::boxed(StreamBody::new(futures::stream::pending::<
                                Result<hyper::body::Frame<Bytes>, std::convert::Infallible>,
                            >()))),
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });

    let mut config = ClientConfig::plain(address);
    config.request_timeout = Duration::from_millis(300);
    let mut cfg = InformerConfig::new("/api/v1/pods");
    cfg.retry_backoff = Duration::from_millis(10);
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(informer::run(ApiClient::new(config), cfg, tx));
    let mut events = Vec::new();
    while events.last().map(String::as_str) != Some("p2") {
        events.push(name(&next(&mut rx).await));
    }
    assert_eq!(events, ["relist:1", "p1", "relist:2", "relist:2", "relist:2", "p2"]);
    // Let the last watch open.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the informer stops").unwrap();
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<(&str, String)> = [
        ("list", "0"),       // first list: from the cache
        ("watch", "5"),      // ADDED 7, BOOKMARK 8, then ERROR 410
        ("list", "8"),       // not older than what we saw — refused: 410 Expired
        ("list", "<unset>"), // a consistent read
        ("watch", "12"),     // answered 500
        ("list", "12"),      // relist at the last synced version
        ("watch", "12"),     // times out before its headers
        ("list", "12"),      // relist at the last synced version
        ("watch", "12"),     // ADDED 13, then the stream ends
        ("watch", "13"),     // resumed without a list
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    assert_eq!(seen, expected);
}
