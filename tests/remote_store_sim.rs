//! Under madsim: the model store on its own simulated host, reached by a `RemoteStore` from an API
//! server host over the simulated network. The shared conformance suite, partitions, store host
//! kills and determinism.
#![cfg(madsim)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use kubesim::storage::remote::{DEFAULT_TIMEOUT, WATCH_QUEUE_MAX};
use kubesim::storage::{
    conformance, serve_store, EventKind, FaultPlan, Latency, ModelStore, ModelStoreConfig, RemoteStore,
    RemoteStoreConfig, Revision, Storage, StorageError, WatchItem, WatchOptions, WatchStream,
};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::task::NodeId;
use tokio::time::Instant;

const STORE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const API_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const STORE_PORT: u16 = 2379;

fn store_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(STORE_IP), STORE_PORT)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The store host (serving `store`, which survives restarts as a disk would) and one API server
/// host. Call inside a runtime.
struct World {
    store: ModelStore,
    store_node: NodeId,
    api: NodeHandle,
}

impl World {
    fn new(store: ModelStore) -> World {
        let handle = Handle::current();
        let served = store.clone();
        let store_node = handle
            .create_node()
            .name("store")
            .ip(IpAddr::V4(STORE_IP))
            .init(move || {
                let store: Arc<dyn Storage> = Arc::new(served.clone());
                async move { serve_store(store, store_addr()).await.expect("serve_store") }
            })
            .build()
            .id();
        let api = handle.create_node().name("apiserver").ip(IpAddr::V4(API_IP)).build();
        World { store, store_node, api }
    }

    fn api_node(&self) -> NodeId {
        self.api.id()
    }
}

/// Waits until the store host answers (it binds its endpoint shortly after it starts).
async fn wait_ready(remote: &RemoteStore) -> Revision {
    for _ in 0..1_000 {
        if let Ok(revision) = remote.current_revision().await {
            return revision;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store host never answered");
}

async fn next_item(stream: &mut WatchStream, wait: Duration) -> Option<Result<WatchItem, StorageError>> {
    tokio::time::timeout(wait, stream.next()).await.expect("no watch item in time")
}

fn runtime(seed: u64) -> Runtime {
    Runtime::with_seed_and_config(seed, madsim::Config::default())
}

#[test]
fn conformance_suite_passes_over_the_simulated_network() {
    for seed in [1u64, 2, 3] {
        let wall = std::time::Instant::now();
        let simulated = runtime(seed).block_on(async {
            let world = World::new(ModelStore::new(ModelStoreConfig::default()));
            world
                .api
                .spawn(async {
                    let remote = RemoteStore::new(store_addr(), RemoteStoreConfig::default());
                    wait_ready(&remote).await;
                    let start = Instant::now();
                    conformance::run(Arc::new(remote)).await;
                    start.elapsed()
                })
                .await
                .expect("api host task")
        });
        eprintln!(
            "seed {seed}: conformance over the network took {simulated:?} simulated, {:?} wall",
            wall.elapsed()
        );
    }
}

#[test]
fn partition_times_out_writes_then_heals() {
    runtime(7).block_on(async {
        let world = World::new(ModelStore::default());
        let (api, store_node) = (world.api_node(), world.store_node);
        let store = world.store.clone();
        world
            .api
            .spawn(async move {
                let timeout = Duration::from_secs(2);
                let remote = RemoteStore::new(store_addr(), RemoteStoreConfig { timeout });
                wait_ready(&remote).await;
                remote.create("/p/before", b("1")).await.expect("create before the partition");
                // Open every pooled request connection, so the write below goes out on one.
                for _ in 0..kubesim::storage::remote::REQUEST_CONNECTIONS {
                    remote.get("/p/before", None).await.expect("read before the partition");
                }
                let mut watch = remote
                    .watch(WatchOptions { prefix: "/p/".into(), ..Default::default() })
                    .await
                    .expect("watch before the partition");

                let net = NetSim::current();
                net.clog_link(api, store_node);
                net.clog_link(store_node, api);

                // The write's message is delayed, not lost: no answer in time, outcome unknown.
                let start = Instant::now();
                let stalled = remote.create("/p/stalled", b("2")).await;
                let took = start.elapsed();
                assert!(
                    matches!(stalled, Err(StorageError::Timeout(_))),
                    "write in a partition: {stalled:?}"
                );
                assert!(
                    took >= timeout && took < timeout + Duration::from_millis(50),
                    "timed out after {took:?}"
                );

                // The timed-out connection is retired; a new one is refused while the partition lasts.
                let start = Instant::now();
                let read = remote.get("/p/before", None).await;
                assert!(
                    matches!(read, Err(StorageError::Unavailable(_) | StorageError::Timeout(_))),
                    "read in a partition: {read:?}"
                );
                assert!(start.elapsed() <= timeout + Duration::from_millis(50));

                // The open watch goes silent and is ended with an error within the silence limit.
                let start = Instant::now();
                match next_item(&mut watch, timeout * 3).await {
                    Some(Err(StorageError::Unavailable(_))) => {}
                    other => panic!("a watch across a partition must end with Unavailable: {other:?}"),
                }
                assert!(start.elapsed() <= timeout + Duration::from_millis(50), "{:?}", start.elapsed());
                assert!(watch.next().await.is_none(), "nothing after the error item");

                tokio::time::sleep(Duration::from_secs(1)).await;
                net.unclog_link(api, store_node);
                net.unclog_link(store_node, api);

                let healed =
                    remote.create("/p/after", b("3")).await.expect("a write after the partition heals");
                let kv = remote.get("/p/after", None).await.expect("read after heal");
                assert_eq!(kv.mod_revision, healed);

                // The timed-out write was delayed, not dropped: it commits once its message gets through.
                let mut committed = false;
                for _ in 0..40 {
                    if store.key_count() == 3 {
                        committed = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                assert!(
                    committed,
                    "the timed-out write reached the store after the heal (Timeout = unknown)"
                );
                remote.get("/p/stalled", None).await.expect("the stalled write committed");
            })
            .await
            .expect("api host task");
    });
}

#[test]
fn store_host_kill_ends_watches_and_resume_has_no_gap() {
    runtime(11).block_on(async {
        let world = World::new(ModelStore::default());
        let store_node = world.store_node;
        let store = world.store.clone();
        // Slow watch deliveries on the store host, so that committed events are still unsent there
        // when it dies: the resumed watch must bring them from the durable log.
        store.set_faults(FaultPlan { watch_delay: Latency::Fixed { ms: 30.0 }, ..FaultPlan::default() });
        let handle = Handle::current();
        world
            .api
            .spawn(async move {
                let remote = RemoteStore::new(store_addr(), RemoteStoreConfig::default());
                let start_revision = wait_ready(&remote).await + 1;
                let mut watch = remote
                    .watch(WatchOptions {
                        prefix: "/k/".into(),
                        start_revision: Some(start_revision),
                        prev_kv: true,
                        progress_notify: true,
                    })
                    .await
                    .expect("watch");
                let mut written = Vec::new();
                for i in 0..10 {
                    written.push(remote.create(&format!("/k/{i:02}"), b("v")).await.expect("create"));
                }
                // Read a few events only: the rest are in flight or queued when the host dies.
                let mut seen: Vec<Revision> = Vec::new();
                while seen.len() < 3 {
                    match next_item(&mut watch, Duration::from_secs(10)).await {
                        Some(Ok(WatchItem::Event(e))) => seen.push(e.revision()),
                        Some(Ok(WatchItem::Progress(_))) => {}
                        other => panic!("before the kill: {other:?}"),
                    }
                }

                // The store crashes (its watchers end, its data is durable) and its host dies.
                store.crash();
                handle.kill(store_node);

                let ended = loop {
                    match next_item(&mut watch, DEFAULT_TIMEOUT * 2).await {
                        Some(Ok(WatchItem::Event(e))) => seen.push(e.revision()),
                        Some(Ok(WatchItem::Progress(_))) => {}
                        Some(Err(error)) => break error,
                        None => panic!("a watch must end with an error item, not silently"),
                    }
                };
                assert!(matches!(ended, StorageError::Unavailable(_)), "watch end: {ended}");
                assert!(watch.next().await.is_none());
                assert!(seen.len() < written.len(), "the host died with events unsent: {seen:?}");
                let last = *seen.last().unwrap();

                let read = remote.get("/k/00", None).await;
                assert!(
                    matches!(read, Err(StorageError::Unavailable(_) | StorageError::Timeout(_))),
                    "read with the store host down: {read:?}"
                );
                let write = remote.create("/k/lost", b("x")).await;
                assert!(
                    matches!(write, Err(StorageError::Unavailable(_) | StorageError::Timeout(_))),
                    "write with the store host down: {write:?}"
                );
                let watch_down =
                    remote.watch(WatchOptions { prefix: "/k/".into(), ..Default::default() }).await;
                assert!(matches!(watch_down, Err(StorageError::Unavailable(_))), "watch with the host down");

                tokio::time::sleep(Duration::from_secs(1)).await;
                store.restart();
                handle.restart(store_node);
                wait_ready(&remote).await;
                for i in 10..15 {
                    written.push(
                        remote.create(&format!("/k/{i:02}"), b("v")).await.expect("create after restart"),
                    );
                }

                // Resume from the revision after the last one seen: every write arrives, in order, once.
                let mut resumed = remote
                    .watch(WatchOptions {
                        prefix: "/k/".into(),
                        start_revision: Some(last + 1),
                        prev_kv: true,
                        progress_notify: true,
                    })
                    .await
                    .expect("resume");
                while seen.last() != written.last() {
                    match next_item(&mut resumed, Duration::from_secs(10)).await {
                        Some(Ok(WatchItem::Event(e))) => {
                            assert_eq!(e.kind, EventKind::Put);
                            seen.push(e.revision());
                        }
                        Some(Ok(WatchItem::Progress(_))) => {}
                        other => panic!("after the restart: {other:?}"),
                    }
                }
                assert_eq!(seen, written, "no gap, no duplicate across the store host's death");
            })
            .await
            .expect("api host task");
    });
}

/// A workload with concurrent clients, a watcher, a partition and a store host restart; returns
/// the history of results with their simulated times.
fn scenario(seed: u64) -> Vec<String> {
    runtime(seed).block_on(async move {
        let world = World::new(ModelStore::default());
        let (api, store_node) = (world.api_node(), world.store_node);
        let store = world.store.clone();
        let history = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let start = Instant::now();
        let log = {
            let history = history.clone();
            move |line: String| history.lock().push(format!("{:>9} {line}", start.elapsed().as_micros()))
        };
        let remote =
            Arc::new(RemoteStore::new(store_addr(), RemoteStoreConfig { timeout: Duration::from_secs(1) }));
        let api_host = world.api.clone();
        let mut tasks = Vec::new();
        for client in 0..4u64 {
            let (remote, log) = (remote.clone(), log.clone());
            tasks.push(api_host.spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                for n in 0..40u64 {
                    let key = format!("/d/{}", (client * 7 + n) % 9);
                    let line = match n % 4 {
                        0 => format!("create {key} -> {:?}", remote.create(&key, b("v")).await),
                        1 => format!(
                            "get {key} -> {:?}",
                            remote.get(&key, None).await.map(|kv| kv.mod_revision)
                        ),
                        2 => format!(
                            "delete {key} -> {:?}",
                            remote.delete(&key, None).await.map(|d| d.revision)
                        ),
                        _ => format!("rev -> {:?}", remote.current_revision().await),
                    };
                    log(format!("c{client} {line}"));
                    tokio::time::sleep(Duration::from_millis(20 + 10 * client)).await;
                }
            }));
        }
        let watcher = {
            let (remote, log) = (remote.clone(), log.clone());
            api_host.spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let mut next: Option<Revision> = None;
                let until = Instant::now() + Duration::from_secs(8);
                while Instant::now() < until {
                    let options =
                        WatchOptions { prefix: "/d/".into(), start_revision: next, ..Default::default() };
                    let mut stream = match remote.watch(options).await {
                        Ok(stream) => stream,
                        Err(e) => {
                            log(format!("w watch -> {e:?}"));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    while let Ok(Some(item)) =
                        tokio::time::timeout(until - Instant::now(), stream.next()).await
                    {
                        match item {
                            Ok(WatchItem::Event(e)) => {
                                next = Some(e.revision() + 1);
                                log(format!("w {:?} {} @{}", e.kind, e.kv.key, e.revision()));
                            }
                            Ok(WatchItem::Progress(r)) => log(format!("w progress {r}")),
                            Err(e) => {
                                log(format!("w ended {e:?}"));
                                break;
                            }
                        }
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let net = NetSim::current();
        net.clog_link(api, store_node);
        net.clog_link(store_node, api);
        log("partition".into());
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        net.unclog_link(api, store_node);
        net.unclog_link(store_node, api);
        log("heal".into());
        tokio::time::sleep(Duration::from_millis(800)).await;
        store.crash();
        Handle::current().kill(store_node);
        log("store host killed".into());
        tokio::time::sleep(Duration::from_millis(700)).await;
        store.restart();
        Handle::current().restart(store_node);
        log("store host restarted".into());
        for task in tasks {
            task.await.expect("client");
        }
        watcher.await.expect("watcher");
        let lines = history.lock().clone();
        lines
    })
}

#[test]
fn same_seed_same_history() {
    let first = scenario(5);
    let second = scenario(5);
    for needle in ["Timeout", "Unavailable", "w Put", "w ended", "Ok("] {
        assert!(
            first.iter().any(|l| l.contains(needle)),
            "no {needle:?} in the history:\n{}",
            first.join("\n")
        );
    }
    assert_eq!(first, second, "seed 5 is not deterministic");
    let other = scenario(6);
    assert_ne!(first, other, "different seeds must give different histories");
    eprintln!("{} history lines; e.g.\n{}", first.len(), first[..first.len().min(12)].join("\n"));
}

#[test]
fn a_watcher_that_never_reads_is_ended_as_too_slow() {
    runtime(3).block_on(async {
        let world = World::new(ModelStore::new(ModelStoreConfig {
            // The store's own queue is larger, so that the remote window is the bound that bites.
            watch_queue_max: WATCH_QUEUE_MAX * 4,
            ..Default::default()
        }));
        world
            .api
            .spawn(async {
                let remote = RemoteStore::new(store_addr(), RemoteStoreConfig::default());
                wait_ready(&remote).await;
                let mut watch =
                    remote.watch(WatchOptions { prefix: "/s/".into(), ..Default::default() }).await.unwrap();
                // More events than the window, written while the watcher reads nothing.
                for i in 0..WATCH_QUEUE_MAX + 50 {
                    remote.create(&format!("/s/{i:05}"), b("v")).await.unwrap();
                }
                let mut events = 0;
                let error = loop {
                    match next_item(&mut watch, Duration::from_secs(10)).await {
                        Some(Ok(WatchItem::Event(_))) => events += 1,
                        Some(Ok(WatchItem::Progress(_))) => {}
                        Some(Err(e)) => break e,
                        None => panic!("ended without an error"),
                    }
                };
                assert_eq!(error, StorageError::WatcherTooSlow { queue_limit: WATCH_QUEUE_MAX });
                assert!(events <= WATCH_QUEUE_MAX, "at most the window was queued: {events}");
            })
            .await
            .unwrap();
    });
}
