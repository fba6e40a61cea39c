//! ModelStore behaviour beyond the shared conformance suite: bounded watchers, bounded history,
//! crash/restart and the fault plan. Runs in both builds (plain tokio and madsim).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use kubesim::storage::{
    FaultPlan, Latency, ModelStore, ModelStoreConfig, OpKind, Storage, StorageError, WatchItem, WatchOptions,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn store(config: ModelStoreConfig) -> ModelStore {
    ModelStore::new(config)
}

async fn next(stream: &mut kubesim::storage::WatchStream) -> Option<Result<WatchItem, StorageError>> {
    tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("watch item in time")
}

#[tokio::test]
async fn a_slow_watcher_is_ended_after_its_queue_and_memory_stays_bounded() {
    let s = store(ModelStoreConfig { watch_queue_max: 10, ..Default::default() });
    let mut slow = s.watch(WatchOptions { prefix: "/p/".into(), ..Default::default() }).await.unwrap();
    // Bring the watcher in sync before the burst.
    s.create("/p/first", b("0")).await.unwrap();
    assert!(matches!(next(&mut slow).await, Some(Ok(WatchItem::Event(_)))));
    for i in 0..100 {
        s.create(&format!("/p/{i:03}"), b("x")).await.unwrap();
    }
    let mut delivered = 0;
    let end = loop {
        match next(&mut slow).await {
            Some(Ok(WatchItem::Event(_))) => delivered += 1,
            Some(Ok(WatchItem::Progress(_))) => {}
            Some(Err(e)) => break e,
            None => panic!("stream ended without saying why"),
        }
    };
    assert_eq!(delivered, 10, "exactly the queued events, then the end");
    assert_eq!(end, StorageError::WatcherTooSlow { queue_limit: 10 });
    assert!(next(&mut slow).await.is_none(), "nothing after the error");
    drop(slow);
    assert_eq!(s.watcher_count(), 0, "a dropped watch unregisters");
}

#[tokio::test]
async fn a_watch_from_far_behind_catches_up_through_a_small_queue() {
    let s = store(ModelStoreConfig { watch_queue_max: 4, ..Default::default() });
    let start = s.revision() + 1;
    for i in 0..50 {
        s.create(&format!("/p/{i:03}"), b("x")).await.unwrap();
    }
    let mut w = s
        .watch(WatchOptions { prefix: "/p/".into(), start_revision: Some(start), ..Default::default() })
        .await
        .unwrap();
    for expected in start..start + 50 {
        match next(&mut w).await {
            Some(Ok(WatchItem::Event(e))) => assert_eq!(e.revision(), expected),
            other => panic!("catch-up from the log is not bounded by the queue: {other:?}"),
        }
    }
}

#[tokio::test]
async fn history_is_bounded_by_automatic_compaction() {
    let s = store(ModelStoreConfig { history_revisions_max: 100, ..Default::default() });
    s.create("/k", b("0")).await.unwrap();
    for _ in 0..1_000 {
        let kv = s.get("/k", None).await.unwrap();
        s.update("/k", b("x"), kv.mod_revision).await.unwrap();
    }
    assert!(s.history_len() <= 100 + 100 / 8, "history {} over its bound", s.history_len());
    assert!(s.compact_revision() > 800);
    let old = s.get("/k", Some(10)).await;
    assert!(matches!(old, Err(StorageError::Compacted { .. })), "{old:?}");
}

#[tokio::test]
async fn a_crash_ends_watchers_and_keeps_committed_state() {
    let s = store(ModelStoreConfig::default());
    let rev = s.create("/k", b("v")).await.unwrap();
    let mut w = s.watch(WatchOptions { prefix: "/".into(), ..Default::default() }).await.unwrap();
    s.crash();
    assert!(matches!(next(&mut w).await, Some(Err(StorageError::Unavailable(_)))));
    assert!(matches!(s.get("/k", None).await, Err(StorageError::Unavailable(_))));
    assert!(matches!(s.create("/j", b("v")).await, Err(StorageError::Unavailable(_))));
    s.restart();
    assert_eq!(s.get("/k", None).await.unwrap().mod_revision, rev, "durable across the crash");
    assert_eq!(s.current_revision().await.unwrap(), rev, "nothing written while down");
}

#[tokio::test]
async fn faults_switch_on_and_off_at_run_time() {
    let s = store(ModelStoreConfig { seed: 9, ..Default::default() });
    s.set_faults(FaultPlan { unavailable_probability: 1.0, ..Default::default() });
    assert!(matches!(s.create("/a", b("1")).await, Err(StorageError::Unavailable(_))));
    assert_eq!(s.revision(), 1, "Unavailable writes nothing");

    s.set_faults(FaultPlan {
        timeout_before_commit_probability: 1.0,
        timeout_ms: 50.0,
        ..Default::default()
    });
    assert!(matches!(s.create("/a", b("1")).await, Err(StorageError::Timeout(_))));
    assert_eq!(s.revision(), 1, "a timeout before commit writes nothing");

    s.set_faults(FaultPlan { timeout_after_commit_probability: 1.0, timeout_ms: 50.0, ..Default::default() });
    let started = tokio::time::Instant::now();
    assert!(matches!(s.create("/a", b("1")).await, Err(StorageError::Timeout(_))));
    assert!(started.elapsed() >= Duration::from_millis(50), "a timeout takes its time");
    assert_eq!(s.revision(), 2, "the indeterminate case: the write committed");

    s.clear_faults();
    assert_eq!(s.get("/a", None).await.unwrap().value, b("1"));
}

#[tokio::test]
async fn latency_is_added_per_operation_kind() {
    let s = store(ModelStoreConfig::default());
    let mut plan = FaultPlan::default();
    plan.latency.insert(OpKind::Create, Latency::Fixed { ms: 30.0 });
    s.set_faults(plan);
    let t = tokio::time::Instant::now();
    s.create("/a", b("1")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    let t = tokio::time::Instant::now();
    s.get("/a", None).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(30), "other kinds are not slowed");
}

#[tokio::test]
async fn broken_and_delayed_watch_streams() {
    let s = store(ModelStoreConfig::default());
    s.set_faults(FaultPlan { watch_break_probability: 1.0, ..Default::default() });
    let mut w = s.watch(WatchOptions { prefix: "/".into(), ..Default::default() }).await.unwrap();
    s.create("/a", b("1")).await.unwrap();
    assert!(matches!(next(&mut w).await, Some(Err(StorageError::Unavailable(_)))));
    assert!(next(&mut w).await.is_none());

    s.set_faults(FaultPlan { watch_delay: Latency::Fixed { ms: 40.0 }, ..Default::default() });
    let mut w = s.watch(WatchOptions { prefix: "/".into(), ..Default::default() }).await.unwrap();
    let t = tokio::time::Instant::now();
    s.create("/b", b("1")).await.unwrap();
    assert!(matches!(next(&mut w).await, Some(Ok(WatchItem::Event(_)))));
    assert!(t.elapsed() >= Duration::from_millis(40), "delivery is delayed");
}

#[tokio::test]
async fn forced_compaction_cuts_history() {
    let s = store(ModelStoreConfig::default());
    for i in 0..10 {
        s.create(&format!("/{i}"), b("x")).await.unwrap();
    }
    assert_eq!(s.force_compaction(3), Some(8));
    assert!(matches!(s.get("/0", Some(7)).await, Err(StorageError::Compacted { compact_revision: 8 })));
    s.set_faults(FaultPlan { forced_compaction_probability: 1.0, ..Default::default() });
    s.create("/z", b("x")).await.unwrap();
    assert_eq!(s.compact_revision(), s.revision(), "a forced compaction keeps nothing by default");
}
