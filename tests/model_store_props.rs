//! Model-based test: random operation sequences against ModelStore and against a trivially correct
//! reference (a full snapshot of the key space at every revision), comparing every result, value
//! and revision, and every watch stream: Ordered, Unique, Atomic, Reliable (no gaps) and Resumable
//! from any revision not compacted. proptest shrinks a failure to a minimal sequence.
#![cfg(not(madsim))]

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::executor::block_on;
use futures::{FutureExt, StreamExt};
use kubesim::storage::{
    EventKind, KeyValue, ListOptions, ModelStore, ModelStoreConfig, Revision, Storage, StorageError,
    WatchItem, WatchOptions, WatchStream,
};
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

const KEYS: [&str; 7] = ["/p/a", "/p/b", "/p/c", "/p/d", "/q/a", "/q/b", "/pq"];
const PREFIXES: [&str; 4] = ["/p/", "/q/", "/p", "/"];

/// A key at one revision, as the reference sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RefKv {
    value: String,
    create_revision: Revision,
    mod_revision: Revision,
    version: i64,
}

/// How a conditional write picks its expected revision.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Current,
    Stale,
}

#[derive(Clone, Debug)]
enum Transition {
    Create(usize),
    Update(usize, Expect),
    Delete(usize, Option<Expect>),
    Get(usize, i64),
    List { prefix: usize, limit: usize, after: Option<usize>, back: i64 },
    Compact(i64),
    Watch { prefix: usize, back: i64 },
}

/// An expected list page: items, more, and the total count from the start position.
type Page = (Vec<(String, RefKv)>, bool, i64);

/// What an operation resolved to against the reference, and what it must answer.
#[derive(Clone, Debug)]
enum Step {
    Create { key: String, value: String, expect: Result<Revision, StorageError> },
    Update { key: String, value: String, expected: Revision, expect: Result<Revision, StorageError> },
    Delete { key: String, expected: Option<Revision>, expect: Result<Revision, StorageError> },
    Get { key: String, at: Option<Revision>, expect: Result<RefKv, StorageError> },
    List { prefix: String, options: ListOptions, expect: Result<Page, StorageError> },
    Compact { at: Revision, expect: Result<(), StorageError> },
    Watch { prefix: String, start: Revision, expect_ok: bool },
}

#[derive(Clone, Debug)]
struct Reference {
    /// `snapshots[r - 1]` is the key space at revision `r`.
    snapshots: Vec<BTreeMap<String, RefKv>>,
    compact_revision: Revision,
    writes: u64,
    step: Option<Step>,
}

impl Reference {
    fn revision(&self) -> Revision {
        self.snapshots.len() as Revision
    }

    fn latest(&self) -> &BTreeMap<String, RefKv> {
        self.snapshots.last().expect("revision 1 always exists")
    }

    fn read_at(&self, back: i64) -> Option<Revision> {
        // back < 0 reads the latest; otherwise `back` revisions ago (possibly compacted or < 1).
        (back >= 0).then(|| self.revision() - back)
    }

    fn check_read(&self, at: Option<Revision>) -> Result<Revision, StorageError> {
        match at {
            None => Ok(self.revision()),
            Some(r) if r <= 0 => Ok(self.revision()),
            Some(r) if r < self.compact_revision => {
                Err(StorageError::Compacted { compact_revision: self.compact_revision })
            }
            Some(r) => Ok(r),
        }
    }

    fn commit(&mut self, key: &str, value: Option<String>) -> Revision {
        let revision = self.revision() + 1;
        let mut next = self.latest().clone();
        match value {
            Some(value) => {
                let (create_revision, version) = match next.get(key) {
                    Some(prev) => (prev.create_revision, prev.version + 1),
                    None => (revision, 1),
                };
                next.insert(key.into(), RefKv { value, create_revision, mod_revision: revision, version });
            }
            None => {
                next.remove(key);
            }
        }
        self.snapshots.push(next);
        revision
    }

    fn conflict(&self, key: &str, expected: Revision) -> StorageError {
        let kv = &self.latest()[key];
        StorageError::Conflict { key: key.into(), expected, current: Box::new(to_kv(key, kv)) }
    }
}

fn to_kv(key: &str, kv: &RefKv) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Bytes::from(kv.value.clone()),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
    }
}

fn not_found(key: &str) -> StorageError {
    StorageError::NotFound { key: key.into() }
}

struct ReferenceMachine;

impl ReferenceStateMachine for ReferenceMachine {
    type State = Reference;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(Reference { snapshots: vec![BTreeMap::new()], compact_revision: 0, writes: 0, step: None })
            .boxed()
    }

    fn transitions(_state: &Reference) -> BoxedStrategy<Transition> {
        let key = 0..KEYS.len();
        let expect = prop_oneof![3 => Just(Expect::Current), 1 => Just(Expect::Stale)];
        prop_oneof![
            4 => key.clone().prop_map(Transition::Create),
            4 => (key.clone(), expect.clone()).prop_map(|(k, e)| Transition::Update(k, e)),
            2 => (key.clone(), proptest::option::of(expect)).prop_map(|(k, e)| Transition::Delete(k, e)),
            2 => (key.clone(), -1i64..6).prop_map(|(k, b)| Transition::Get(k, b)),
            2 => (0..PREFIXES.len(), 0usize..4, proptest::option::of(key), -1i64..6)
                .prop_map(|(prefix, limit, after, back)| Transition::List { prefix, limit, after, back }),
            1 => (0i64..8).prop_map(Transition::Compact),
            1 => (0..PREFIXES.len(), -1i64..10).prop_map(|(prefix, back)| Transition::Watch { prefix, back }),
        ]
        .boxed()
    }

    fn apply(mut state: Reference, transition: &Transition) -> Reference {
        let step = match *transition {
            Transition::Create(k) => {
                let key = KEYS[k].to_string();
                state.writes += 1;
                let value = format!("v{}", state.writes);
                let expect = if state.latest().contains_key(&key) {
                    Err(StorageError::AlreadyExists { key: key.clone() })
                } else {
                    Ok(state.commit(&key, Some(value.clone())))
                };
                Step::Create { key, value, expect }
            }
            Transition::Update(k, e) => {
                let key = KEYS[k].to_string();
                state.writes += 1;
                let value = format!("v{}", state.writes);
                let current = state.latest().get(&key).map(|kv| kv.mod_revision);
                let expected = match (e, current) {
                    (Expect::Current, Some(r)) => r,
                    (_, Some(r)) => r - 1,
                    (_, None) => state.revision(),
                };
                let expect = match current {
                    None => Err(not_found(&key)),
                    Some(r) if r != expected => Err(state.conflict(&key, expected)),
                    Some(_) => Ok(state.commit(&key, Some(value.clone()))),
                };
                Step::Update { key, value, expected, expect }
            }
            Transition::Delete(k, e) => {
                let key = KEYS[k].to_string();
                let current = state.latest().get(&key).map(|kv| kv.mod_revision);
                let expected = e.map(|e| match (e, current) {
                    (Expect::Current, Some(r)) => r,
                    (_, Some(r)) => r - 1,
                    (_, None) => 1,
                });
                let expect = match (current, expected) {
                    (None, _) => Err(not_found(&key)),
                    (Some(r), Some(x)) if r != x => Err(state.conflict(&key, x)),
                    _ => Ok(state.commit(&key, None)),
                };
                Step::Delete { key, expected, expect }
            }
            Transition::Get(k, back) => {
                let key = KEYS[k].to_string();
                let at = state.read_at(back);
                let expect = state.check_read(at).and_then(|r| {
                    state.snapshots[(r - 1) as usize].get(&key).cloned().ok_or_else(|| not_found(&key))
                });
                Step::Get { key, at, expect }
            }
            Transition::List { prefix, limit, after, back } => {
                let prefix = PREFIXES[prefix].to_string();
                let options = ListOptions {
                    limit: (limit > 0).then_some(limit),
                    continue_after: after.map(|k| KEYS[k].to_string()),
                    revision: state.read_at(back),
                    count: limit % 2 == 1,
                };
                let expect = state.check_read(options.revision).map(|r| {
                    let all: Vec<(String, RefKv)> = state.snapshots[(r - 1) as usize]
                        .iter()
                        .filter(|(k, _)| k.starts_with(&prefix))
                        .filter(|(k, _)| options.continue_after.as_ref().is_none_or(|a| *k > a))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let n = options.limit.unwrap_or(usize::MAX);
                    let more = all.len() > n;
                    let total = all.len() as i64;
                    (all.into_iter().take(n).collect(), more, total)
                });
                Step::List { prefix, options, expect }
            }
            Transition::Compact(back) => {
                let at = state.revision() - back;
                let expect = if at <= state.compact_revision {
                    Err(StorageError::Compacted { compact_revision: state.compact_revision })
                } else {
                    state.compact_revision = at;
                    Ok(())
                };
                Step::Compact { at, expect }
            }
            Transition::Watch { prefix, back } => {
                let start = if back < 0 { state.revision() + 1 } else { (state.revision() - back).max(1) };
                Step::Watch {
                    prefix: PREFIXES[prefix].to_string(),
                    start,
                    expect_ok: start >= state.compact_revision,
                }
            }
        };
        state.step = Some(step);
        state
    }
}

/// An open watch and the revision it must deliver next (at the earliest).
struct OpenWatch {
    stream: WatchStream,
    prefix: String,
    next: Revision,
}

struct System {
    store: ModelStore,
    watches: Vec<OpenWatch>,
}

/// The events the reference implies between two snapshots (one write per revision).
fn reference_event(
    state: &Reference,
    revision: Revision,
) -> (EventKind, String, Option<RefKv>, Option<RefKv>) {
    let before = &state.snapshots[(revision - 2) as usize];
    let after = &state.snapshots[(revision - 1) as usize];
    for key in before.keys().chain(after.keys()) {
        let (b, a) = (before.get(key), after.get(key));
        if b != a {
            let kind = if a.is_some() { EventKind::Put } else { EventKind::Delete };
            return (kind, key.clone(), a.cloned(), b.cloned());
        }
    }
    unreachable!("revision {revision} changed nothing")
}

/// Drains what each watch has ready and checks it against the reference's history.
fn check_watches(system: &mut System, state: &Reference) {
    system.watches.retain_mut(|w| loop {
        let Some(item) = w.stream.next().now_or_never() else {
            return true;
        };
        let event = match item {
            Some(Ok(WatchItem::Event(e))) => e,
            Some(Ok(WatchItem::Progress(_))) => continue,
            Some(Err(StorageError::Compacted { compact_revision })) => {
                assert!(
                    w.next < compact_revision,
                    "Resumable: compacted at {compact_revision} while at {}",
                    w.next
                );
                return false;
            }
            other => panic!("unexpected watch item {other:?}"),
        };
        // Reliable: every matching revision between `next` and this event must have been skipped
        // only because it did not match the prefix.
        for r in w.next.max(2)..event.revision() {
            let (_, key, _, _) = reference_event(state, r);
            assert!(!key.starts_with(&w.prefix), "Reliable: watch on {} missed {key} at {r}", w.prefix);
        }
        assert!(event.revision() >= w.next, "Ordered/Unique: {} before {}", event.revision(), w.next);
        let (kind, key, after, before) = reference_event(state, event.revision());
        assert_eq!(event.kind, kind);
        assert_eq!(&*event.kv.key, key.as_str());
        assert!(key.starts_with(&w.prefix));
        match after {
            Some(a) => assert_eq!(event.kv, to_kv(&key, &a)),
            None => assert!(event.kv.value.is_empty() && event.kv.mod_revision == event.revision()),
        }
        assert_eq!(event.prev_kv, before.map(|b| to_kv(&key, &b)), "prev_kv at {}", event.revision());
        w.next = event.revision() + 1;
    });
}

struct ModelStoreTest;

impl StateMachineTest for ModelStoreTest {
    type SystemUnderTest = System;
    type Reference = ReferenceMachine;

    fn init_test(_: &Reference) -> System {
        // Large bounds: automatic compaction and slow-watcher ends are tested in tests/model_store.rs.
        let store = ModelStore::new(ModelStoreConfig { watch_queue_max: 10_000, ..Default::default() });
        System { store, watches: Vec::new() }
    }

    fn apply(mut system: System, state: &Reference, _: Transition) -> System {
        let store = &system.store;
        match state.step.clone().expect("the reference resolved the step") {
            Step::Create { key, value, expect } => {
                assert_eq!(block_on(store.create(&key, value.into())), expect);
            }
            Step::Update { key, value, expected, expect } => {
                assert_eq!(block_on(store.update(&key, value.into(), expected)), expect);
            }
            Step::Delete { key, expected, expect } => {
                let got = block_on(store.delete(&key, expected)).map(|d| d.revision);
                assert_eq!(got, expect);
            }
            Step::Get { key, at, expect } => {
                let got = block_on(store.get(&key, at));
                assert_eq!(got, expect.map(|kv| to_kv(&key, &kv)));
            }
            Step::List { prefix, options, expect } => {
                let got = block_on(store.list(&prefix, options.clone()));
                match (got, expect) {
                    (Ok(page), Ok((items, more, total))) => {
                        let want_count = options.count.then_some(total);
                        assert_eq!(page.count, want_count, "count for {prefix} {options:?}");
                        let want: Vec<KeyValue> = items.iter().map(|(k, v)| to_kv(k, v)).collect();
                        assert_eq!(page.items, want, "list {prefix} {options:?}");
                        assert_eq!(page.more, more, "more for {prefix} {options:?}");
                        let at = options.revision.filter(|&r| r > 0).unwrap_or(state.revision());
                        assert_eq!(page.revision, at);
                    }
                    (got, want) => assert_eq!(got.map(|_| ()), want.map(|_| ())),
                }
            }
            Step::Compact { at, expect } => assert_eq!(block_on(store.compact(at)), expect),
            Step::Watch { prefix, start, expect_ok } => {
                let options = WatchOptions {
                    prefix: prefix.clone(),
                    start_revision: Some(start),
                    prev_kv: true,
                    progress_notify: false,
                };
                match block_on(store.watch(options)) {
                    Ok(stream) => {
                        assert!(expect_ok, "watch from compacted {start} must fail");
                        system.watches.push(OpenWatch { stream, prefix, next: start });
                    }
                    Err(e) => {
                        assert!(!expect_ok, "watch from {start} failed: {e}");
                        assert!(matches!(e, StorageError::Compacted { .. }));
                    }
                }
            }
        }
        assert_eq!(block_on(store.current_revision()), Ok(state.revision()), "store revision");
        check_watches(&mut system, state);
        system
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn model_store_matches_the_reference(sequential 1..80 => ModelStoreTest);
}
