//! `pod-bound-once`: a pod is bound at most once and never moved to another node.
//!
//! * From API calls: two successful (2xx) POSTs to `/api/v1/namespaces/<ns>/pods/<name>/binding`
//!   are a double binding unless a commit deleted the pod's key at some time within the span of
//!   the two requests (the pod could then have been re-created). Consecutive successes, in
//!   answer order, are compared.
//! * From commits: a pod's `spec.nodeName`, once set, never changes to another non-empty value
//!   while the key lives (a delete or a new uid starts over).

use std::collections::BTreeMap;

use super::collector::Collector;
use crate::history::{ApiCall, Entry, History, Time, Verb};

/// The checker's name.
pub(crate) const NAME: &str = "pod-bound-once";

/// The storage key of the pod a binding subresource path names.
fn bound_pod(path: &str) -> Option<String> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>().as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "binding"] => {
            Some(format!("/registry/pods/{ns}/{name}"))
        }
        _ => None,
    }
}

/// Checks the history's bindings and pod commits.
pub(crate) fn check(history: &History, out: &mut Collector) {
    let mut deletes: BTreeMap<&str, Vec<Time>> = BTreeMap::new();
    let mut bindings: BTreeMap<String, Vec<(usize, &ApiCall)>> = BTreeMap::new();
    // Per live pod key: (uid, node it was first bound to, the commit that bound it).
    let mut bound: BTreeMap<&str, (&str, &str, usize)> = BTreeMap::new();
    for (entry, e) in history.entries.iter().enumerate() {
        match e {
            Entry::Api(c) if c.verb == Verb::Create && (200..300).contains(&c.status) => {
                if let Some(pod) = bound_pod(&c.path) {
                    bindings.entry(pod).or_default().push((entry, c));
                }
            }
            Entry::Commit(c) if c.key.starts_with("/registry/pods/") => {
                let key = &*c.key;
                if c.deleted {
                    deletes.entry(key).or_default().push(c.time);
                    bound.remove(key);
                    continue;
                }
                if bound.get(key).is_some_and(|&(uid, _, _)| uid != &*c.attrs.uid) {
                    bound.remove(key);
                }
                let node = &*c.attrs.node_name;
                if node.is_empty() {
                    continue;
                }
                match bound.get(key) {
                    None => {
                        bound.insert(key, (&c.attrs.uid, node, entry));
                    }
                    Some(&(uid, first, at)) if first != node => {
                        out.report(c.time, entry, || {
                            format!(
                                "pod {key} (uid {uid}) moved from node {first} (bound at entry {at}) to \
                                 {node} at revision {}",
                                c.revision
                            )
                        });
                        bound.insert(key, (uid, node, entry));
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    for (pod, calls) in &bindings {
        let deleted = deletes.get(pod.as_str()).map_or(&[][..], |d| d.as_slice());
        for pair in calls.windows(2) {
            let ((e1, a), (e2, b)) = (pair[0], pair[1]);
            let (lo, hi) = (a.invoked.min(b.invoked), a.returned.max(b.returned));
            let first_after = deleted.partition_point(|&t| t < lo);
            if deleted.get(first_after).is_none_or(|&t| t > hi) {
                out.report(b.returned, e2, || {
                    format!(
                        "pod {pod} bound twice: {} by {} (status {}) after entry {e1} by {} (status {}), \
                         with no delete between",
                        b.path, b.client, b.status, a.client, a.status
                    )
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const K: &str = "/registry/pods/ns/a";
    const BIND: &str = "/api/v1/namespaces/ns/pods/a/binding";

    fn base() -> Vec<Entry> {
        vec![
            commit(1, 1, K, false, pod("ns", "a", "", "Pending")),
            api("scheduler-0", 2, 4, Verb::Create, BIND, 201, Some(2)),
            commit(3, 2, K, false, pod("ns", "a", "n1", "Pending")),
            // A second scheduler loses the race.
            api("scheduler-1", 2, 5, Verb::Create, BIND, 409, None),
            commit(6, 3, K, false, pod("ns", "a", "n1", "Running")),
            commit(7, 4, K, true, pod("ns", "a", "n1", "Running")),
            // Re-created (same name, new uid) and bound elsewhere.
            commit(8, 5, K, false, pod("ns", "a", "", "Pending")),
            api("scheduler-1", 9, 10, Verb::Create, BIND, 201, Some(6)),
            commit(9, 6, K, false, pod("ns", "a", "n2", "Pending")),
        ]
    }

    #[test]
    fn one_binding_per_incarnation_passes() {
        assert_eq!(only(NAME, &history(base())), vec![]);
    }

    #[test]
    fn second_successful_binding_is_reported() {
        let mut e = base();
        e.push(api("scheduler-0", 11, 12, Verb::Create, BIND, 201, Some(7)));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![9]);
        assert!(v[0].message.contains("bound twice"), "{v:?}");
    }

    #[test]
    fn rebinding_in_the_store_is_reported() {
        let mut e = base();
        e.push(commit(11, 7, K, false, pod("ns", "a", "n3", "Pending")));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![9]);
        assert!(v[0].message.contains("moved from node n2"), "{v:?}");
    }
}
