//! Auditing through the real HTTPS edge: each policy level writes what it should, every line parses
//! as an audit.k8s.io/v1 Event, the log rotates like kube's, and a stalled writer never blocks
//! requests (events are dropped and counted in /metrics).
#![cfg(not(madsim))]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kubesim::audit::{Auditor, Event, Level, Policy, RotatingFile, Rotation, Stage, AUDIT_QUEUE_MAX};
use kubesim::server::ApiServerConfig;
use kubesim::storage::ModelStore;
use kubesim::testing::TestApiServer;
use serde_json::json;

const MARKER: &str = "/api/v1/namespaces/kube-system";

fn policy(rules: &str) -> Policy {
    Policy::parse(&format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}"))
        .expect("valid policy")
}

/// A server whose audit log is `<dir>/audit.log`, with `rules` first and Metadata for the marker.
async fn server(dir: &Path, rules: &str) -> (TestApiServer, PathBuf) {
    let path = dir.join("audit.log");
    let rules =
        format!("{rules}- level: Metadata\n  resources: [{{group: \"\", resources: [namespaces]}}]\n");
    let out = RotatingFile::open(&path, Rotation::default()).unwrap();
    let auditor = Auditor::new(policy(&rules), Box::new(out), AUDIT_QUEUE_MAX);
    let config = ApiServerConfig { audit: Some(Arc::new(auditor)), ..Default::default() };
    (TestApiServer::start(Arc::new(ModelStore::default()), config).await, path)
}

/// Every event written once the marker request's ResponseComplete is there (the writer is in order).
async fn events_until_marker(s: &TestApiServer, path: &Path) -> Vec<Event> {
    assert_eq!(s.client().get(MARKER).await.unwrap().status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let events: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an audit Event: {e}: {l}")))
            .collect();
        if events.iter().any(|e| e.request_uri == MARKER && e.stage == Stage::ResponseComplete) {
            for e in &events {
                assert_eq!((e.kind.as_str(), e.api_version.as_str()), ("Event", "audit.k8s.io/v1"));
                assert!(e.stage_timestamp.ends_with('Z') && e.stage_timestamp.contains('.'));
                assert_eq!(e.stage_timestamp.split('.').nth(1).map(str::len), Some(7), "microseconds");
            }
            return events;
        }
        assert!(Instant::now() < deadline, "marker event not written; log:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn configmap_events(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| e.object_ref.as_ref().and_then(|o| o.resource.as_deref()) == Some("configmaps"))
        .collect()
}

async fn create_configmap(s: &TestApiServer) {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let r = s.client().post_json("/api/v1/namespaces/default/configmaps", &cm).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.describe());
}

const CONFIGMAPS: &str = "resources: [{group: \"\", resources: [configmaps]}]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_none_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = server(dir.path(), &format!("- level: None\n  {CONFIGMAPS}\n")).await;
    create_configmap(&s).await;
    let events = events_until_marker(&s, &path).await;
    assert!(configmap_events(&events).is_empty(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_metadata_has_no_request_object() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = server(dir.path(), &format!("- level: Metadata\n  {CONFIGMAPS}\n")).await;
    create_configmap(&s).await;
    let events = events_until_marker(&s, &path).await;
    let cm = configmap_events(&events);
    let stages: Vec<Stage> = cm.iter().map(|e| e.stage).collect();
    assert_eq!(stages, [Stage::RequestReceived, Stage::ResponseComplete]);
    let done = cm[1];
    assert_eq!(done.audit_id, cm[0].audit_id);
    assert_eq!(done.level, Level::Metadata);
    assert_eq!(done.verb, "create");
    assert_eq!(done.user.username, "admin");
    assert!(done.user.groups.contains(&"system:masters".to_owned()));
    assert_eq!(done.source_ips, ["127.0.0.1"]);
    let object_ref = done.object_ref.as_ref().unwrap();
    assert_eq!(object_ref.namespace.as_deref(), Some("default"));
    assert_eq!(object_ref.api_version.as_deref(), Some("v1"));
    assert_eq!(done.response_status.as_ref().unwrap().code, 201);
    assert!(done.request_object.is_none() && done.response_object.is_none());
    assert_eq!(done.annotations.get("authorization.k8s.io/decision").map(String::as_str), Some("allow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_request_has_request_object() {
    let dir = tempfile::tempdir().unwrap();
    let rules = format!("- level: Request\n  {CONFIGMAPS}\n  omitStages: [RequestReceived]\n");
    let (s, path) = server(dir.path(), &rules).await;
    create_configmap(&s).await;
    let events = events_until_marker(&s, &path).await;
    let cm = configmap_events(&events);
    assert_eq!(cm.len(), 1, "RequestReceived is omitted: {cm:?}");
    assert_eq!(cm[0].level, Level::Request);
    assert_eq!(cm[0].request_object.as_ref().unwrap()["data"]["k"], "v");
    assert!(cm[0].response_object.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_request_response_has_both() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = server(dir.path(), &format!("- level: RequestResponse\n  {CONFIGMAPS}\n")).await;
    create_configmap(&s).await;
    let missing = s.client().get("/api/v1/namespaces/default/configmaps/missing").await.unwrap();
    assert_eq!(missing.status, 404);
    let events = events_until_marker(&s, &path).await;
    let done: Vec<&Event> =
        configmap_events(&events).into_iter().filter(|e| e.stage == Stage::ResponseComplete).collect();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].request_object.as_ref().unwrap()["data"]["k"], "v");
    assert_eq!(done[0].response_object.as_ref().unwrap()["metadata"]["name"], "c");
    let status = done[1].response_status.as_ref().unwrap();
    assert_eq!(
        (status.code, status.reason.as_deref(), status.status.as_deref()),
        (404, Some("NotFound"), Some("Failure"))
    );
    assert!(status.message.as_deref().unwrap().contains("missing"));
}

#[test]
fn log_rotates_like_lumberjack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let rotation = Rotation { max_size_bytes: 250, max_backups: 2, max_age: Duration::ZERO };
    let mut file = RotatingFile::open(&path, rotation).unwrap();
    let line = [b'x'; 99].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
    for _ in 0..10 {
        file.write_all(&line).unwrap();
    }
    file.flush().unwrap();
    let backups = file.backups().unwrap();
    assert_eq!(backups.len(), 2, "only max_backups are kept: {backups:?}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in names.iter().filter(|n| *n != "audit.log") {
        // audit-2006-01-02T15-04-05.000.log
        let stamp = name.strip_prefix("audit-").and_then(|n| n.strip_suffix(".log")).unwrap();
        assert_eq!(stamp.len(), 23, "{name}");
        assert!(stamp.as_bytes()[10] == b'T' && stamp.as_bytes()[19] == b'.', "{name}");
    }
    // 10 lines of 100 bytes in files of at most 250 bytes: the current one holds the last 2 lines.
    assert_eq!(std::fs::read(&path).unwrap().len(), 200);
    for b in &backups {
        assert_eq!(std::fs::read(b).unwrap().len(), 200);
    }
}

/// A writer that blocks until its sender is dropped.
struct Stalled(std::sync::mpsc::Receiver<()>);

impl Write for Stalled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.recv();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_and_counts_without_blocking() {
    let (release, stalled) = std::sync::mpsc::channel::<()>();
    let auditor = Arc::new(Auditor::new(policy("- level: Metadata\n"), Box::new(Stalled(stalled)), 1));
    let config = ApiServerConfig { audit: Some(auditor.clone()), ..Default::default() };
    let s = TestApiServer::start(Arc::new(ModelStore::default()), config).await;
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(s.client().get(MARKER).await.unwrap().status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "requests were blocked by the audit writer");
    let dropped = auditor.dropped_total();
    // The writer holds one event and the queue one more: everything else was dropped.
    assert!(dropped >= 36, "dropped {dropped}");
    let metrics = s.client().get("/metrics").await.unwrap();
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let line = text.lines().find(|l| l.starts_with("apiserver_audit_event_dropped_total")).expect("metric");
    let value: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
    assert!(value >= dropped as f64, "{line}");
    assert!(text.contains("apiserver_audit_event_total"));
    drop(release);
}
