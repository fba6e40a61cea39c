//! The model store's data: an ordered map of per-key version histories (plus a hash index of each
//! key's latest version, for point reads) and an event log, with etcd's revision rules. Plain
//! data, no IO, no time: the caller holds the lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::storage::{
    DeleteResponse, Event, EventKind, KeyValue, ListOptions, ListResponse, Revision, StorageError,
    StorageResult,
};

/// One version of one key. `value: None` is a tombstone (the key was deleted at `mod_revision`).
#[derive(Clone, Debug)]
struct Version {
    mod_revision: Revision,
    create_revision: Revision,
    version: i64,
    value: Option<Bytes>,
}

/// SipHash with fixed keys: deterministic across processes and runs.
type FixedHasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// Multi-version key-value data with etcd's revision accounting.
#[derive(Debug)]
pub(crate) struct Mvcc {
    /// Revision of the last write; 1 when empty, as in etcd.
    revision: Revision,
    /// Oldest readable revision; 0 until the first compaction.
    compact_revision: Revision,
    /// Versions per key, oldest first. A key whose history is only a compacted tombstone is removed.
    keys: BTreeMap<Arc<str>, Vec<Version>>,
    /// Each key's last version (the same as `keys[k].last()`), hashed: a read of the latest value
    /// is one probe, where the ordered map chases a pointer per key comparison. Never iterated
    /// where order matters, and the hasher has fixed keys (determinism).
    latest: HashMap<Arc<str>, Version, FixedHasher>,
    /// Every event since the compaction point; `log[i]` has revision `log_first + i`.
    log: VecDeque<Event>,
    log_first: Revision,
}

impl Default for Mvcc {
    fn default() -> Self {
        Mvcc {
            revision: 1,
            compact_revision: 0,
            keys: BTreeMap::new(),
            latest: HashMap::default(),
            log: VecDeque::new(),
            log_first: 2,
        }
    }
}

impl Mvcc {
    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn compact_revision(&self) -> Revision {
        self.compact_revision
    }

    /// Number of revisions of history kept.
    pub fn history_len(&self) -> usize {
        self.log.len()
    }

    /// Number of live keys (for tests and reports; O(keys)).
    pub fn live_keys(&self) -> usize {
        self.keys.values().filter(|v| v.last().is_some_and(|v| v.value.is_some())).count()
    }

    /// Resolves an optional read revision, checking it against the readable window.
    fn read_revision(&self, revision: Option<Revision>) -> StorageResult<Revision> {
        match revision {
            None => Ok(self.revision),
            Some(r) if r <= 0 => Ok(self.revision),
            Some(r) if r > self.revision => {
                Err(StorageError::FutureRevision { requested: r, current: self.revision })
            }
            Some(r) if r < self.compact_revision => {
                Err(StorageError::Compacted { compact_revision: self.compact_revision })
            }
            Some(r) => Ok(r),
        }
    }

    fn key_value(key: &Arc<str>, v: &Version) -> Option<KeyValue> {
        v.value.as_ref().map(|value| KeyValue {
            key: key.clone(),
            value: value.clone(),
            create_revision: v.create_revision,
            mod_revision: v.mod_revision,
            version: v.version,
        })
    }

    /// The key's value as of `at`, if it existed then.
    fn value_at(key: &Arc<str>, versions: &[Version], at: Revision) -> Option<KeyValue> {
        let idx = versions.partition_point(|v| v.mod_revision <= at);
        idx.checked_sub(1).and_then(|i| Self::key_value(key, &versions[i]))
    }

    pub fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        let at = self.read_revision(revision)?;
        if at == self.revision {
            let found = self.latest.get_key_value(key).and_then(|(k, v)| Self::key_value(k, v));
            return found.ok_or_else(|| StorageError::NotFound { key: key.to_owned() });
        }
        let found = match self.keys.get_key_value(key) {
            Some((k, versions)) => Self::value_at(k, versions, at),
            None => None,
        };
        found.ok_or_else(|| StorageError::NotFound { key: key.to_owned() })
    }

    pub fn list(&self, prefix: &str, options: &ListOptions) -> StorageResult<ListResponse> {
        let at = self.read_revision(options.revision)?;
        let limit = options.limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let start = match options.continue_after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let latest = at == self.revision;
        let mut items = Vec::new();
        let mut count = 0i64;
        for (k, versions) in self.keys.range::<str, _>((start, Bound::Unbounded)) {
            if !k.starts_with(prefix) {
                break;
            }
            if items.len() < limit {
                let kv = if latest {
                    versions.last().and_then(|v| Self::key_value(k, v))
                } else {
                    Self::value_at(k, versions, at)
                };
                if let Some(kv) = kv {
                    items.push(kv);
                    count += 1;
                }
            } else if !options.count {
                // Past the page and no count asked for: one more live key is all `more` needs.
                let alive = if latest {
                    versions.last().is_some_and(|v| v.value.is_some())
                } else {
                    let idx = versions.partition_point(|v| v.mod_revision <= at);
                    idx > 0 && versions[idx - 1].value.is_some()
                };
                if alive {
                    count += 1;
                    break;
                }
            } else {
                // Past the page: only count what is alive at `at`.
                let alive = if latest {
                    versions.last().is_some_and(|v| v.value.is_some())
                } else {
                    let idx = versions.partition_point(|v| v.mod_revision <= at);
                    idx > 0 && versions[idx - 1].value.is_some()
                };
                count += i64::from(alive);
            }
        }
        let more = count > items.len() as i64;
        Ok(ListResponse { items, revision: at, more, count: options.count.then_some(count) })
    }

    /// Commits one write to `key` at the next revision (`value: None` deletes) and returns its
    /// event, with the previous value. `check` sees the live value first and may refuse the write,
    /// in which case nothing changes. One map lookup for an existing key.
    fn write(
        &mut self,
        key: &str,
        value: Option<Bytes>,
        check: impl FnOnce(Option<&KeyValue>) -> StorageResult<()>,
    ) -> StorageResult<Event> {
        let revision = self.revision + 1;
        let found = self.keys.range_mut::<str, _>((Bound::Included(key), Bound::Included(key))).next();
        let event = match found {
            Some((k, versions)) => {
                let prev_kv = versions.last().and_then(|v| Self::key_value(k, v));
                check(prev_kv.as_ref())?;
                let version = Self::next_version(value, prev_kv.as_ref(), revision);
                let event = Self::event(k.clone(), &version, prev_kv);
                self.latest.insert(k.clone(), version.clone());
                versions.push(version);
                event
            }
            None => {
                check(None)?;
                let k: Arc<str> = Arc::from(key);
                let version = Self::next_version(value, None, revision);
                let event = Self::event(k.clone(), &version, None);
                self.latest.insert(k.clone(), version.clone());
                self.keys.insert(k, vec![version]);
                event
            }
        };
        self.revision = revision;
        debug_assert_eq!(self.log_first + self.log.len() as i64, revision);
        self.log.push_back(event.clone());
        Ok(event)
    }

    fn next_version(value: Option<Bytes>, prev: Option<&KeyValue>, revision: Revision) -> Version {
        match (value, prev) {
            (Some(value), Some(prev)) => Version {
                mod_revision: revision,
                create_revision: prev.create_revision,
                version: prev.version + 1,
                value: Some(value),
            },
            (Some(value), None) => {
                Version { mod_revision: revision, create_revision: revision, version: 1, value: Some(value) }
            }
            (None, _) => Version { mod_revision: revision, create_revision: 0, version: 0, value: None },
        }
    }

    fn event(key: Arc<str>, version: &Version, prev_kv: Option<KeyValue>) -> Event {
        let kind = if version.value.is_some() { EventKind::Put } else { EventKind::Delete };
        let kv = KeyValue {
            key,
            value: version.value.clone().unwrap_or_default(),
            create_revision: version.create_revision,
            mod_revision: version.mod_revision,
            version: version.version,
        };
        Event { kind, kv, prev_kv }
    }

    pub fn create(&mut self, key: &str, value: Bytes) -> StorageResult<Event> {
        self.write(key, Some(value), |current| match current {
            Some(_) => Err(StorageError::AlreadyExists { key: key.to_owned() }),
            None => Ok(()),
        })
    }

    pub fn update(&mut self, key: &str, value: Bytes, expected: Revision) -> StorageResult<Event> {
        // The canary build ignores the mod-revision precondition on purpose: the harness must
        // catch the lost updates.
        let expected = Some(expected).filter(|_| !cfg!(feature = "canary-ignore-rv-precondition"));
        self.write(key, Some(value), |current| Self::precondition(key, current, expected))
    }

    pub fn delete(
        &mut self,
        key: &str,
        expected: Option<Revision>,
    ) -> StorageResult<(Event, DeleteResponse)> {
        let event = self.write(key, None, |current| Self::precondition(key, current, expected))?;
        let prev = event.prev_kv.clone().expect("a delete only commits over a live key");
        let response = DeleteResponse { prev, revision: event.revision() };
        Ok((event, response))
    }

    /// The key must exist and, when `expected` is given, carry that mod_revision.
    fn precondition(key: &str, current: Option<&KeyValue>, expected: Option<Revision>) -> StorageResult<()> {
        let current = current.ok_or_else(|| StorageError::NotFound { key: key.to_owned() })?;
        match expected {
            Some(expected) if current.mod_revision != expected => Err(StorageError::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(current.clone()),
            }),
            _ => Ok(()),
        }
    }

    /// Discards history below `revision`, in O(events discarded).
    pub fn compact(&mut self, revision: Revision) -> StorageResult<()> {
        if revision > self.revision {
            return Err(StorageError::FutureRevision { requested: revision, current: self.revision });
        }
        if revision <= self.compact_revision {
            return Err(StorageError::Compacted { compact_revision: self.compact_revision });
        }
        let mut touched = BTreeSet::new();
        while self.log_first < revision {
            let Some(event) = self.log.pop_front() else {
                break;
            };
            touched.insert(event.kv.key);
            self.log_first += 1;
        }
        self.log_first = self.log_first.max(revision);
        for key in touched {
            let Some(versions) = self.keys.get_mut(&key) else {
                continue;
            };
            // Keep the last version at or below the compaction point (what a read there sees) and
            // everything after it; a tombstone there reads as absent, so it goes too.
            let anchor = versions.partition_point(|v| v.mod_revision <= revision);
            let mut drop = anchor.saturating_sub(1);
            if anchor > 0 && versions[anchor - 1].value.is_none() {
                drop = anchor;
            }
            versions.drain(..drop);
            if versions.is_empty() {
                self.keys.remove(&key);
                self.latest.remove(&key);
            }
        }
        self.compact_revision = revision;
        Ok(())
    }

    /// Events with revision in `[from, ..]` whose key starts with `prefix`, at most `max` of them,
    /// and the revision to continue from. `Err(Compacted)` if `from` is below the log.
    pub fn events_from(
        &self,
        from: Revision,
        prefix: &str,
        max: usize,
    ) -> StorageResult<(Vec<Event>, Revision)> {
        if from < self.compact_revision {
            return Err(StorageError::Compacted { compact_revision: self.compact_revision });
        }
        let mut next = from.max(self.log_first);
        let mut out = Vec::new();
        while next <= self.revision && out.len() < max {
            let event = &self.log[(next - self.log_first) as usize];
            if event.kv.key.starts_with(prefix) {
                out.push(event.clone());
            }
            next += 1;
        }
        Ok((out, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn revisions_follow_etcd() {
        let mut m = Mvcc::default();
        assert_eq!(m.revision(), 1);
        assert_eq!(m.create("/a", b("1")).unwrap().revision(), 2);
        assert!(matches!(m.create("/a", b("x")), Err(StorageError::AlreadyExists { .. })));
        assert_eq!(m.revision(), 2, "a failed transaction does not bump the revision");
        let e = m.update("/a", b("2"), 2).unwrap();
        assert_eq!((e.kv.create_revision, e.kv.mod_revision, e.kv.version), (2, 3, 2));
        assert_eq!(e.prev_kv.unwrap().value, b("1"));
        let (_, del) = m.delete("/a", Some(3)).unwrap();
        assert_eq!(del.revision, 4);
        let e = m.create("/a", b("3")).unwrap();
        assert_eq!((e.kv.create_revision, e.kv.version), (5, 1), "a new incarnation");
        assert_eq!(m.get("/a", Some(3)).unwrap().value, b("2"));
        assert!(matches!(m.get("/a", Some(4)), Err(StorageError::NotFound { .. })));
    }

    #[test]
    fn compaction_keeps_what_reads_at_or_after_it_see() {
        let mut m = Mvcc::default();
        m.create("/a", b("1")).unwrap(); // 2
        m.create("/b", b("1")).unwrap(); // 3
        m.update("/a", b("2"), 2).unwrap(); // 4
        m.delete("/b", None).unwrap(); // 5
        m.create("/c", b("1")).unwrap(); // 6
        m.compact(5).unwrap();
        assert_eq!(m.get("/a", Some(5)).unwrap().value, b("2"));
        assert!(matches!(m.get("/a", Some(4)), Err(StorageError::Compacted { compact_revision: 5 })));
        assert!(!m.keys.contains_key("/b"), "a compacted tombstone is forgotten");
        assert!(!m.latest.contains_key("/b"), "in the latest-version index too");
        assert_eq!(m.keys["/a"].len(), 1);
        assert_eq!(m.list("/", &ListOptions::default()).unwrap().items.len(), 2);
        let (events, next) = m.events_from(5, "/", 10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(next, 7);
        assert!(matches!(m.events_from(4, "/", 10), Err(StorageError::Compacted { .. })));
    }
}
