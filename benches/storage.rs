//! Storage benches (real mode): ModelStore create/get/update/list/watch fan-out at 100k keys, and
//! EtcdStore put/get at 1 and 64 concurrent clients against a local etcd, next to a plain
//! etcd-client loop measured in the same run.
//!
//! `cargo bench --bench storage`. Where no etcd binary is found, the etcd group prints one line
//! saying it was skipped (the test suite never skips it).

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod real {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use criterion::{BenchmarkId, Criterion, Throughput};
    use futures::{FutureExt, StreamExt};
    use kubesim::storage::{
        EtcdStore, EtcdStoreConfig, ListOptions, ModelStore, ModelStoreConfig, Storage, WatchOptions,
    };
    use kubesim::testing::{etcd_binary, EtcdServer};

    /// Keys preloaded into the store for the single-thread figures.
    const KEYS: usize = 100_000;
    /// Watchers for the fan-out figure.
    const WATCHERS: usize = 1_000;
    /// A pod-sized value (kube-apiserver stores ~1-2 KiB per pod).
    const VALUE_BYTES: usize = 1_024;

    pub fn main() {
        // No plots: drawing them (plotters) takes ~7 s per benchmark on a 2-core machine, more than
        // most measurements; the figures are printed and saved under target/criterion.
        let mut c = Criterion::default().without_plots().configure_from_args();
        model_store(&mut c);
        watch_fan_out(&mut c);
        etcd(&mut c);
        c.final_summary();
    }

    fn key(i: usize) -> String {
        format!("/pods/ns-{:03}/pod-{i:07}", i % 100)
    }

    fn value() -> Bytes {
        Bytes::from(vec![b'x'; VALUE_BYTES])
    }

    /// Runs a ModelStore operation that never waits (no faults set): no runtime needed.
    fn now<T>(f: impl std::future::Future<Output = T>) -> T {
        f.now_or_never().expect("ModelStore without faults completes at once")
    }

    fn loaded_store() -> (ModelStore, Vec<i64>) {
        let store = ModelStore::new(ModelStoreConfig::default());
        let revisions = (0..KEYS).map(|i| now(store.create(&key(i), value())).unwrap()).collect();
        (store, revisions)
    }

    fn model_store(c: &mut Criterion) {
        let (store, mut revisions) = loaded_store();
        // Keys and the value are made outside the timed loops: the figures are the store's.
        let keys: Vec<String> = (0..KEYS).map(key).collect();
        let value = value();
        let mut group = c.benchmark_group("model_store_100k");
        group.throughput(Throughput::Elements(1));
        let mut i = 0usize;
        group.bench_function("get", |b| {
            b.iter(|| {
                i = (i + 7_919) % KEYS;
                now(store.get(&keys[i], None)).unwrap()
            })
        });
        // Each sample creates fresh keys into the 100k-key store, then (untimed) deletes them, so
        // the store stays at 100k keys however many samples run.
        let mut round = 0usize;
        group.bench_function("create", |b| {
            b.iter_custom(|iters| {
                round += 1;
                let fresh: Vec<String> =
                    (0..iters as usize).map(|n| format!("/pods/new-{round}/{n:08}")).collect();
                let started = Instant::now();
                for k in &fresh {
                    now(store.create(k, value.clone())).unwrap();
                }
                let elapsed = started.elapsed();
                for k in &fresh {
                    now(store.delete(k, None)).unwrap();
                }
                elapsed
            })
        });
        group.bench_function("update", |b| {
            b.iter(|| {
                i = (i + 7_919) % KEYS;
                revisions[i] = now(store.update(&keys[i], value.clone(), revisions[i])).unwrap();
            })
        });
        group.throughput(Throughput::Elements(500));
        group.bench_function("list_500_of_100k", |b| {
            b.iter(|| {
                i = (i + 7_919) % KEYS;
                let options = ListOptions {
                    limit: Some(500),
                    continue_after: Some(keys[i].clone()),
                    ..Default::default()
                };
                now(store.list("/pods/", options)).unwrap()
            })
        });
        group.finish();
    }

    fn watch_fan_out(c: &mut Criterion) {
        let store = ModelStore::new(ModelStoreConfig::default());
        let mut watchers: Vec<_> = (0..WATCHERS)
            .map(|_| {
                now(store.watch(WatchOptions { prefix: "/pods/".into(), ..Default::default() })).unwrap()
            })
            .collect();
        let mut group = c.benchmark_group("model_store_watch");
        group.throughput(Throughput::Elements(WATCHERS as u64));
        let mut n = 0usize;
        group.bench_function(BenchmarkId::new("one_event_to_watchers", WATCHERS), |b| {
            b.iter(|| {
                n += 1;
                now(store.create(&key(n), value())).unwrap();
                for w in &mut watchers {
                    let item = w.next().now_or_never().flatten().expect("delivered at once");
                    assert!(item.is_ok());
                }
            })
        });
        group.finish();
    }

    /// Runs `ops` operations spread over `clients` tasks and returns the elapsed time and the
    /// latency percentiles (p50, p99) in microseconds.
    fn concurrent<F, Fut>(
        rt: &tokio::runtime::Runtime,
        clients: usize,
        ops: usize,
        op: F,
    ) -> (Duration, u64, u64)
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let op = Arc::new(op);
        rt.block_on(async move {
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let op = op.clone();
                    tokio::spawn(async move {
                        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
                        for i in (c..ops).step_by(clients) {
                            let t = Instant::now();
                            op(i).await;
                            h.record(t.elapsed().as_micros() as u64).unwrap();
                        }
                        h
                    })
                })
                .collect();
            let mut all = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            for t in tasks {
                all.add(t.await.unwrap()).unwrap();
            }
            (started.elapsed(), all.value_at_quantile(0.5), all.value_at_quantile(0.99))
        })
    }

    fn etcd(c: &mut Criterion) {
        if etcd_binary().is_none() {
            println!("etcd group skipped: no etcd binary found (apt-get install etcd-server)");
            return;
        }
        // etcd 3.4 copies its not-yet-committed write buffer into every transaction's read view
        // (fixed in 3.5), so conditional writes slow down as the buffer grows; a batch limit keeps
        // it small (100 writes; on tmpfs a commit is cheap). The same etcd serves the raw loops, so
        // the comparison stays like for like.
        // Data on tmpfs: the shared virtual disk's fsync times swing more between runs than the
        // difference measured here.
        let server = EtcdServer::start_in_memory(&["--backend-batch-limit=100"]);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let store = rt
            .block_on(EtcdStore::connect(EtcdStoreConfig::new([server.endpoint()])))
            .expect("connecting to the bench etcd");
        let raw = store.client().clone();
        // Shared as the API server shares it (`Arc<dyn Storage>`): a clone per operation is then
        // a reference count, not a copy of etcd-client's eight service clients.
        let store: Arc<dyn Storage> = Arc::new(store);
        // Preload keys for the gets and updates.
        let revisions: Arc<Vec<std::sync::atomic::AtomicI64>> = Arc::new(
            (0..PRELOAD)
                .map(|i| {
                    std::sync::atomic::AtomicI64::new(rt.block_on(store.create(&key(i), value())).unwrap())
                })
                .collect(),
        );

        let mut group = c.benchmark_group("etcd");
        group.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for clients in [1usize, 64] {
            let ops = if clients == 1 { 500 } else { 4_000 };
            group.throughput(Throughput::Elements(ops as u64));

            compact(&rt, &raw);
            let figures = Arc::new(parking_lot::Mutex::new(Vec::new()));
            let raw_put = raw.clone();
            let f = figures.clone();
            group.bench_function(BenchmarkId::new("raw_etcd_client_put", clients), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let raw = raw_put.clone();
                        let (t, p50, p99) = concurrent(&rt, clients, ops, move |i| raw_put_op(&raw, i));
                        f.lock().push((ops as f64 / t.as_secs_f64(), p50, p99));
                        total += t;
                    }
                    total
                })
            });
            report("raw etcd-client put", clients, &figures.lock());

            // The same put as a transaction with a compare, written against etcd-client directly:
            // what etcd itself charges for a conditional write.
            compact(&rt, &raw);
            let figures = Arc::new(parking_lot::Mutex::new(Vec::new()));
            let raw_txn = raw.clone();
            let f = figures.clone();
            group.bench_function(BenchmarkId::new("raw_etcd_client_txn", clients), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let raw = raw_txn.clone();
                        let (t, p50, p99) = concurrent(&rt, clients, ops, move |i| {
                            let mut kv = raw.kv_client();
                            async move {
                                let k = format!("/registry/rawtxn/{}", i % PRELOAD);
                                let txn = etcd_client::Txn::new()
                                    .when([etcd_client::Compare::version(
                                        k.clone(),
                                        etcd_client::CompareOp::Greater,
                                        -1,
                                    )])
                                    .and_then([etcd_client::TxnOp::put(k, vec![b'x'; VALUE_BYTES], None)]);
                                kv.txn(txn).await.unwrap();
                            }
                        });
                        f.lock().push((ops as f64 / t.as_secs_f64(), p50, p99));
                        total += t;
                    }
                    total
                })
            });
            report("raw etcd-client txn (compare + put)", clients, &figures.lock());

            compact(&rt, &raw);
            let figures = Arc::new(parking_lot::Mutex::new(Vec::new()));
            let f = figures.clone();
            let s = store.clone();
            let revs = revisions.clone();
            group.bench_function(BenchmarkId::new("etcd_store_update", clients), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (s, revs) = (s.clone(), revs.clone());
                        let (t, p50, p99) = concurrent(&rt, clients, ops, move |i| {
                            store_update_op(s.clone(), revs.clone(), i)
                        });
                        f.lock().push((ops as f64 / t.as_secs_f64(), p50, p99));
                        total += t;
                    }
                    total
                })
            });
            report("EtcdStore update (txn with mod_revision compare)", clients, &figures.lock());

            let figures = Arc::new(parking_lot::Mutex::new(Vec::new()));
            let f = figures.clone();
            let s = store.clone();
            group.bench_function(BenchmarkId::new("etcd_store_get", clients), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let s = s.clone();
                        let (t, p50, p99) = concurrent(&rt, clients, ops, move |i| {
                            let s = s.clone();
                            async move {
                                s.get(&key(i % PRELOAD), None).await.unwrap();
                            }
                        });
                        f.lock().push((ops as f64 / t.as_secs_f64(), p50, p99));
                        total += t;
                    }
                    total
                })
            });
            report("EtcdStore get", clients, &figures.lock());
        }
        group.finish();
        interleaved(&rt, &raw, &store, &revisions);
    }

    /// Rounds of the two loops the acceptance compares, alternated (raw put, EtcdStore update,
    /// raw put, ...), so that a slow stretch of this shared machine hits both alike; prints both
    /// medians and their ratio.
    fn interleaved(
        rt: &tokio::runtime::Runtime,
        raw: &etcd_client::Client,
        store: &Arc<dyn Storage>,
        revisions: &Arc<Vec<std::sync::atomic::AtomicI64>>,
    ) {
        const ROUNDS: usize = 21;
        const CLIENTS: usize = 64;
        const OPS: usize = 4_000;
        let (mut puts, mut updates) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            compact(rt, raw);
            let r = raw.clone();
            let (t, _, _) = concurrent(rt, CLIENTS, OPS, move |i| raw_put_op(&r, i));
            puts.push(OPS as f64 / t.as_secs_f64());
            compact(rt, raw);
            let (s, revs) = (store.clone(), revisions.clone());
            let (t, _, _) =
                concurrent(rt, CLIENTS, OPS, move |i| store_update_op(s.clone(), revs.clone(), i));
            updates.push(OPS as f64 / t.as_secs_f64());
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ratios: Vec<f64> = puts.iter().zip(&updates).map(|(p, u)| u / p).collect();
        let (put, update, ratio) = (median(puts), median(updates), median(ratios));
        println!(
            "figure: interleaved, {CLIENTS} clients, {ROUNDS} rounds of {OPS}: raw etcd-client put median \
             {put:.0} ops/s, EtcdStore update median {update:.0} ops/s; EtcdStore/put {:.1}% (median of the \
             per-round ratios), {:.1}% (ratio of the medians)",
            ratio * 100.0,
            update / put * 100.0
        );
    }

    /// Keys preloaded into the bench etcd for the gets and updates.
    const PRELOAD: usize = 4_000;

    /// Operation `i` of the raw loop: a plain etcd-client put.
    fn raw_put_op(raw: &etcd_client::Client, i: usize) -> impl std::future::Future<Output = ()> + Send {
        let mut kv = raw.kv_client();
        async move {
            kv.put(format!("/registry/raw/{}", i % PRELOAD), vec![b'x'; VALUE_BYTES], None).await.unwrap();
        }
    }

    /// Operation `i` of the EtcdStore loop: an update of preloaded key `i % PRELOAD` at the revision
    /// its last update left. Each client owns the keys congruent to it, so updates never conflict.
    async fn store_update_op(s: Arc<dyn Storage>, revs: Arc<Vec<std::sync::atomic::AtomicI64>>, i: usize) {
        let k = i % PRELOAD;
        let expected = revs[k].load(std::sync::atomic::Ordering::SeqCst);
        let r = s.update(&key(k), value(), expected).await.unwrap();
        revs[k].store(r, std::sync::atomic::Ordering::SeqCst);
    }

    /// Compacts away every old revision, so that each measured loop starts from the same store:
    /// without it the loops measured later run against a history grown by the earlier ones.
    fn compact(rt: &tokio::runtime::Runtime, raw: &etcd_client::Client) {
        rt.block_on(async {
            let mut kv = raw.kv_client();
            let revision = kv.get("/", None).await.unwrap().header().unwrap().revision();
            // Nothing written since the last compaction (a filtered run): etcd says so, and that is fine.
            if let Err(e) =
                kv.compact(revision, Some(etcd_client::CompactionOptions::new().with_physical())).await
            {
                assert!(e.to_string().contains("compacted"), "compacting the bench etcd: {e}");
            }
        });
    }

    /// Prints the median throughput and latency of the measured runs.
    fn report(what: &str, clients: usize, runs: &[(f64, u64, u64)]) {
        if runs.is_empty() {
            return;
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ops = median(runs.iter().map(|r| r.0).collect());
        let p50 = median(runs.iter().map(|r| r.1 as f64).collect());
        let p99 = median(runs.iter().map(|r| r.2 as f64).collect());
        println!(
            "figure: {what}, {clients} client(s): {ops:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms (median of {} runs)",
            p50 / 1000.0,
            p99 / 1000.0,
            runs.len()
        );
    }
}
