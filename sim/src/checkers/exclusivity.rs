//! `single-kubelet`: a pod (by uid) never runs on two nodes at once: a kubelet starts it only
//! when every other node's kubelet has stopped it (kubernetes#59848's pod-safety invariant).

use std::collections::BTreeMap;

use super::collector::Collector;
use crate::history::{Entry, History};

/// The checker's name.
pub(crate) const NAME: &str = "single-kubelet";

/// Checks the kubelets' container events.
pub(crate) fn check(history: &History, out: &mut Collector) {
    // uid (the pod key when a uid is missing) → nodes running it → the start entry.
    let mut running: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (entry, e) in history.entries.iter().enumerate() {
        let Entry::Container(c) = e else { continue };
        let id = if c.uid.is_empty() { &*c.pod } else { &*c.uid };
        let nodes = running.entry(id).or_default();
        if !c.running {
            nodes.remove(&*c.node);
            continue;
        }
        if let Some((other, at)) = nodes.iter().find(|(n, _)| **n != &*c.node) {
            out.report(c.time, entry, || {
                format!(
                    "pod {} (uid {}) started on {} while still running on {other} (since entry {at})",
                    c.pod, c.uid, c.node
                )
            });
        }
        nodes.entry(&c.node).or_insert(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const K: &str = "/registry/pods/ns/a";

    #[test]
    fn handover_passes_and_overlap_is_reported() {
        let mut e = vec![
            container(1, "n1", K, "u1", true),
            container(2, "n1", K, "u1", true), // a restart on the same node
            container(3, "n1", K, "u1", false),
            container(4, "n2", K, "u1", true),
            container(5, "n1", K, "u2", true), // another incarnation
        ];
        assert_eq!(only(NAME, &history(e.clone())), vec![]);
        e.push(container(6, "n3", K, "u1", true));
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![5]);
        assert!(v[0].message.contains("still running on n2"), "{v:?}");
    }
}
