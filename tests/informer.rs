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
