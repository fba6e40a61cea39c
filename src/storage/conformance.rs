//! ONE conformance suite for every [`Storage`]: the same body runs against `ModelStore` and against
//! `EtcdStore` on a real etcd (tests/storage_conformance.rs), so that the model store is held to
//! etcd's behaviour and not to our reading of it.
//!
//! The suite works under its own key prefix and with revisions relative to the store's revision at
//! start, so it runs on any store; it compacts, so give it a store no one else needs history from.
//! For progress marks, the store must send them within [`PROGRESS_WAIT`] of a watch going idle.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::{EventKind, ListOptions, Revision, Storage, StorageError, WatchItem, WatchOptions, WatchStream};

/// How long to wait for a watch item before failing.
pub const ITEM_WAIT: Duration = Duration::from_secs(10);
/// How long an idle watch may take to send a progress mark.
pub const PROGRESS_WAIT: Duration = Duration::from_secs(10);

const P: &str = "/conformance/";

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn k(name: &str) -> String {
    format!("{P}{name}")
}

async fn next_item(stream: &mut WatchStream) -> Result<WatchItem, StorageError> {
    match tokio::time::timeout(ITEM_WAIT, stream.next()).await {
        Err(_) => panic!("no watch item within {ITEM_WAIT:?}"),
        Ok(None) => panic!("watch stream ended unexpectedly"),
        Ok(Some(item)) => item,
    }
}

/// Next event, skipping progress marks.
async fn next_event(stream: &mut WatchStream) -> super::Event {
    loop {
        match next_item(stream).await {
            Ok(WatchItem::Event(e)) => return e,
            Ok(WatchItem::Progress(_)) => continue,
            Err(e) => panic!("watch failed: {e}"),
        }
    }
}

/// Runs the whole suite. Panics, naming the broken rule, on the first deviation.
pub async fn run(store: Arc<dyn Storage>) {
    let r0 = store.current_revision().await.expect("current_revision");
    let history = writes_and_reads(&*store, r0).await;
    lists(&*store, r0).await;
    deletes(&*store).await;
    watches(&*store, &history).await;
    progress_marks(&*store).await;
    future_revisions(&*store).await;
    compaction(&*store).await;
}

/// Revisions of the first writes, for the watch checks.
struct History {
    a_created: Revision,
    a_updated: Revision,
}

async fn writes_and_reads(store: &dyn Storage, r0: Revision) -> History {
    let a = k("a");
    let created = store.create(&a, b("1")).await.expect("create");
    assert_eq!(created, r0 + 1, "a write bumps the store revision by exactly one");
    let kv = store.get(&a, None).await.expect("get");
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (created, created, 1));
    assert_eq!(&*kv.key, a.as_str());
    assert_eq!(kv.value, b("1"));

    let again = store.create(&a, b("x")).await;
    assert!(matches!(again, Err(StorageError::AlreadyExists { .. })), "create existing: {again:?}");
    let missing = store.get(&k("missing"), None).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })), "get missing: {missing:?}");
    assert_eq!(
        store.current_revision().await.unwrap(),
        created,
        "failed and read-only transactions do not bump the revision"
    );

    let updated = store.update(&a, b("2"), created).await.expect("update");
    assert_eq!(updated, created + 1);
    let kv = store.get(&a, None).await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (created, updated, 2));

    match store.update(&a, b("3"), created).await {
        Err(StorageError::Conflict { current, expected, .. }) => {
            assert_eq!(expected, created);
            assert_eq!(current.mod_revision, updated, "conflict carries the current value");
            assert_eq!(current.value, b("2"));
        }
        other => panic!("stale update must conflict: {other:?}"),
    }
    let missing = store.update(&k("missing"), b("x"), 0).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })), "update missing: {missing:?}");
    let missing = store.update(&k("missing"), b("x"), updated).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })), "update missing: {missing:?}");
    assert_eq!(store.current_revision().await.unwrap(), updated);

    let old = store.get(&a, Some(created)).await.expect("get at an old revision");
    assert_eq!((old.value, old.mod_revision, old.version), (b("1"), created, 1));
    let before = store.get(&a, Some(r0)).await;
    assert!(matches!(before, Err(StorageError::NotFound { .. })), "before creation: {before:?}");
    History { a_created: created, a_updated: updated }
}

async fn lists(store: &dyn Storage, r0: Revision) {
    for name in ["b", "c", "d", "e"] {
        store.create(&k(name), b(name)).await.expect("create");
    }
    // Not under the prefix "/conformance/", though it shares "/conformance".
    store.create("/conformancex", b("outside")).await.expect("create outside");
    let now = store.current_revision().await.unwrap();

    let all = store.list(P, ListOptions::default()).await.expect("list");
    let keys: Vec<&str> = all.items.iter().map(|kv| &*kv.key).collect();
    assert_eq!(keys, [k("a"), k("b"), k("c"), k("d"), k("e")], "list is in key order, prefix only");
    assert_eq!((all.revision, all.more), (now, false), "a latest list reads at the store revision");

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(
                P,
                ListOptions {
                    limit: Some(2),
                    continue_after: after.clone(),
                    revision: Some(now),
                    count: true,
                },
            )
            .await
            .expect("page");
        assert_eq!(page.revision, now, "every page reads at the requested revision");
        assert_eq!(page.count, Some(5 - seen.len() as i64), "count: keys from the start position on");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|kv| kv.key.to_string()));
        pages += 1;
        if !page.more {
            break;
        }
        after = page.items.last().map(|kv| kv.key.to_string());
    }
    assert_eq!(pages, 3, "5 keys in pages of 2");
    assert_eq!(seen, keys);

    let exact = store.list(P, ListOptions { limit: Some(5), ..Default::default() }).await.unwrap();
    assert!(!exact.more, "more is false when the limit is met exactly");

    let old = store
        .list(P, ListOptions { revision: Some(r0 + 2), ..Default::default() })
        .await
        .expect("list at an old revision");
    assert_eq!(old.items.len(), 1, "only /a existed then");
    assert_eq!(old.items[0].value, b("2"));
    assert_eq!(old.revision, r0 + 2);

    let one = store.list(&k("c"), ListOptions::default()).await.unwrap();
    assert_eq!(one.items.len(), 1, "an exact key is a prefix of itself");
}

async fn deletes(store: &dyn Storage) {
    let d = k("d");
    let kv = store.get(&d, None).await.unwrap();
    let before = store.current_revision().await.unwrap();
    match store.delete(&d, Some(kv.mod_revision - 1)).await {
        Err(StorageError::Conflict { current, .. }) => {
            assert_eq!(current.mod_revision, kv.mod_revision)
        }
        other => panic!("delete with a stale revision must conflict: {other:?}"),
    }
    assert_eq!(store.current_revision().await.unwrap(), before);
    let deleted = store.delete(&d, Some(kv.mod_revision)).await.expect("delete");
    assert_eq!(deleted.revision, before + 1);
    assert_eq!(deleted.prev, kv, "delete returns the value it removed");
    let gone = store.get(&d, None).await;
    assert!(matches!(gone, Err(StorageError::NotFound { .. })), "deleted: {gone:?}");
    let again = store.delete(&d, None).await;
    assert!(matches!(again, Err(StorageError::NotFound { .. })), "delete missing: {again:?}");
    assert_eq!(store.current_revision().await.unwrap(), before + 1);
    let still = store.get(&d, Some(before)).await.expect("the old version is still readable");
    assert_eq!(still.value, b("d"));

    let recreated = store.create(&d, b("d2")).await.unwrap();
    let kv = store.get(&d, None).await.unwrap();
    assert_eq!((kv.create_revision, kv.version), (recreated, 1), "a new incarnation");
    let e = store.delete(&k("e"), None).await.expect("unconditional delete");
    assert_eq!(e.prev.value, b("e"));
}

async fn watches(store: &dyn Storage, history: &History) {
    let mut from_start = store
        .watch(WatchOptions {
            prefix: P.into(),
            start_revision: Some(history.a_created),
            prev_kv: true,
            progress_notify: false,
        })
        .await
        .expect("watch from an old revision");
    let now = store.current_revision().await.unwrap();
    let mut last = history.a_created - 1;
    let mut events = Vec::new();
    while last < now {
        let e = next_event(&mut from_start).await;
        assert!(e.revision() > last, "Ordered and Unique: {} after {last}", e.revision());
        last = e.revision();
        events.push(e);
    }
    assert_eq!(last, now, "Reliable: the replay reaches the current revision");
    assert_eq!(events[0].kind, EventKind::Put);
    assert_eq!(events[0].revision(), history.a_created);
    assert!(events[0].prev_kv.is_none(), "a create has no previous value");
    assert_eq!(events[1].revision(), history.a_updated);
    assert_eq!(events[1].prev_kv.as_ref().map(|kv| kv.value.clone()), Some(b("1")));
    let delete = events.iter().find(|e| e.kind == EventKind::Delete).expect("a delete event");
    assert_eq!(&*delete.kv.key, k("d").as_str());
    assert!(delete.kv.value.is_empty(), "a tombstone carries no value");
    assert_eq!(delete.prev_kv.as_ref().map(|kv| kv.value.clone()), Some(b("d")));
    assert!(events.iter().all(|e| e.kv.key.starts_with(P)), "only keys under the watched prefix");

    let mut live =
        store.watch(WatchOptions { prefix: P.into(), ..Default::default() }).await.expect("watch from now");
    let mut exact =
        store.watch(WatchOptions { prefix: k("z"), ..Default::default() }).await.expect("watch one key");
    store.create(&k("y"), b("y")).await.unwrap();
    let z = store.create(&k("z"), b("z")).await.unwrap();
    let e = next_event(&mut from_start).await;
    assert_eq!(e.revision(), z - 1, "an old watch goes on live after catching up");
    let e = next_event(&mut live).await;
    assert_eq!((&*e.kv.key, e.revision()), (k("y").as_str(), z - 1), "a watch from now sees the next write");
    assert!(e.prev_kv.is_none(), "prev_kv only when asked for");
    let e = next_event(&mut exact).await;
    assert_eq!((&*e.kv.key, e.revision()), (k("z").as_str(), z), "a key watch skips other keys");
}

async fn progress_marks(store: &dyn Storage) {
    let mut idle = store
        .watch(WatchOptions { prefix: k("idle/"), progress_notify: true, ..Default::default() })
        .await
        .expect("watch with progress");
    let now = store.current_revision().await.unwrap();
    let mark = tokio::time::timeout(PROGRESS_WAIT, idle.next()).await;
    match mark {
        Ok(Some(Ok(WatchItem::Progress(r)))) => assert!(r >= now, "progress {r} below {now}"),
        other => panic!("an idle watch with progress_notify gets a progress mark: {other:?}"),
    }
}

async fn future_revisions(store: &dyn Storage) {
    let now = store.current_revision().await.unwrap();
    let get = store.get(&k("a"), Some(now + 10)).await;
    assert!(matches!(get, Err(StorageError::FutureRevision { .. })), "future get: {get:?}");
    let list = store.list(P, ListOptions { revision: Some(now + 10), ..Default::default() }).await;
    assert!(matches!(list, Err(StorageError::FutureRevision { .. })), "future list: {list:?}");
    let compact = store.compact(now + 10).await;
    assert!(matches!(compact, Err(StorageError::FutureRevision { .. })), "future compact: {compact:?}");
}

async fn compaction(store: &dyn Storage) {
    let a = store.get(&k("a"), None).await.unwrap();
    let at = store.update(&k("a"), b("before-compaction"), a.mod_revision).await.unwrap();
    let after = store.update(&k("a"), b("after-compaction"), at).await.unwrap();
    store.compact(at).await.expect("compact");

    let below = store.get(&k("a"), Some(at - 1)).await;
    assert_eq!(below, Err(StorageError::Compacted { compact_revision: at }), "read below compaction");
    let list = store.list(P, ListOptions { revision: Some(at - 1), ..Default::default() }).await;
    assert!(matches!(list, Err(StorageError::Compacted { compact_revision }) if compact_revision == at));
    let kept = store.get(&k("a"), Some(at)).await.expect("the compaction point stays readable");
    assert_eq!(kept.value, b("before-compaction"));
    let gone = store.get(&k("d"), Some(at)).await;
    assert!(gone.is_ok(), "a key alive at the compaction point stays readable there: {gone:?}");

    let again = store.compact(at).await;
    assert!(matches!(again, Err(StorageError::Compacted { .. })), "compact twice: {again:?}");

    // A watch starting below the compaction point fails, either at once or as its first item.
    match store
        .watch(WatchOptions { prefix: P.into(), start_revision: Some(at - 1), ..Default::default() })
        .await
    {
        Err(e) => assert_eq!(e, StorageError::Compacted { compact_revision: at }),
        Ok(mut stream) => match next_item(&mut stream).await {
            Err(e) => assert_eq!(e, StorageError::Compacted { compact_revision: at }),
            Ok(item) => panic!("watch below the compaction point delivered {item:?}"),
        },
    }
    // Resumable: from any revision not compacted.
    let mut resumed = store
        .watch(WatchOptions { prefix: k("a"), start_revision: Some(after), ..Default::default() })
        .await
        .expect("watch at the window's edge");
    let e = next_event(&mut resumed).await;
    assert_eq!((e.revision(), e.kv.value.clone()), (after, b("after-compaction")));
}
