//! `node-capacity`: after every commit, the Running pods bound to each node fit its allocatable
//! cpu, memory and pod count (a dimension of 0 is unknown and skipped; pods on a node with no
//! live Node object are not judged). Reported once per (node, episode of being over).

use std::collections::BTreeMap;

use super::collector::Collector;
use crate::history::{Entry, History};

/// The checker's name.
pub(crate) const NAME: &str = "node-capacity";

const NODES: &str = "/registry/minions/";
const PODS: &str = "/registry/pods/";

#[derive(Default)]
struct Node {
    /// Allocatable (cpu, memory, pods) while a Node object exists.
    allocatable: Option<(u64, u64, u64)>,
    /// What the Running pods bound to it request: (cpu, memory, count); wide so sums of any
    /// recorded values stay exact.
    used: (u128, u128, u128),
    over: bool,
}

impl Node {
    fn excess(&self) -> Option<String> {
        let (cpu, mem, pods) = self.allocatable.map(|(c, m, p)| (c as u128, m as u128, p as u128))?;
        let (ucpu, umem, upods) = self.used;
        let over = (cpu > 0 && ucpu > cpu) || (mem > 0 && umem > mem) || (pods > 0 && upods > pods);
        over.then(|| format!("cpu {ucpu}/{cpu}m, memory {umem}/{mem} bytes, pods {upods}/{pods}"))
    }
}

/// Checks every commit.
pub(crate) fn check(history: &History, out: &mut Collector) {
    let mut nodes: BTreeMap<&str, Node> = BTreeMap::new();
    // Running pods counted against a node: key → (node, cpu, memory).
    let mut running: BTreeMap<&str, (&str, u128, u128)> = BTreeMap::new();
    for (entry, e) in history.entries.iter().enumerate() {
        let Entry::Commit(c) = e else { continue };
        let mut touched: [Option<&str>; 2] = [None, None];
        if let Some(name) = c.key.strip_prefix(NODES) {
            let node = nodes.entry(name).or_default();
            node.allocatable =
                (!c.deleted).then_some((c.attrs.cpu_milli, c.attrs.memory_bytes, c.attrs.pods));
            touched[0] = Some(name);
        } else if c.key.starts_with(PODS) {
            if let Some((name, cpu, mem)) = running.remove(&*c.key) {
                let used = &mut nodes.entry(name).or_default().used;
                *used = (used.0 - cpu, used.1 - mem, used.2 - 1);
                touched[0] = Some(name);
            }
            let a = &c.attrs;
            if !c.deleted && &*a.phase == "Running" && !a.node_name.is_empty() {
                let name = &*a.node_name;
                let (cpu, mem) = (a.cpu_milli as u128, a.memory_bytes as u128);
                running.insert(&c.key, (name, cpu, mem));
                let used = &mut nodes.entry(name).or_default().used;
                *used = (used.0 + cpu, used.1 + mem, used.2 + 1);
                touched[1] = Some(name);
            }
        }
        for name in touched.into_iter().flatten() {
            let Some(node) = nodes.get_mut(name) else { continue };
            let excess = node.excess();
            if let Some(excess) = excess.as_ref().filter(|_| !node.over) {
                out.report(c.time, entry, || {
                    format!(
                        "node {name} over capacity after commit of {} at revision {}: {excess}",
                        c.key, c.revision
                    )
                });
            }
            node.over = excess.is_some();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::NAME;

    const N1: &str = "/registry/minions/n1";

    fn key(name: &str) -> String {
        format!("/registry/pods/ns/{name}")
    }

    fn run(name: &str, rev: u64, node: &str, phase: &str, cpu: u64) -> Entry {
        commit(rev, rev, &key(name), false, pod_req("ns", name, node, phase, cpu, 100))
    }

    fn base() -> Vec<Entry> {
        vec![
            commit(1, 1, N1, false, node("n1", 1000, 0, 3)),
            run("a", 2, "n1", "Running", 600),
            run("b", 3, "n1", "Pending", 600),
            // a finishes before b runs.
            run("a", 4, "n1", "Succeeded", 600),
            run("b", 5, "n1", "Running", 600),
            // Memory is unknown (0): not judged.
            run("c", 6, "n1", "Running", 100),
        ]
    }

    #[test]
    fn fitting_pods_pass() {
        assert_eq!(only(NAME, &history(base())), vec![]);
    }

    #[test]
    fn overcommit_is_reported_once_per_episode() {
        let mut e = base();
        e.push(run("d", 7, "n1", "Running", 600)); // cpu 1300/1000
        e.push(run("e", 8, "n1", "Running", 0)); // still over: not again
        e.push(commit(9, 9, &key("d"), true, pod_req("ns", "d", "n1", "Running", 600, 100)));
        e.push(run("f", 10, "n1", "Running", 0)); // 4 pods > 3: a new episode
        let v = only(NAME, &history(e));
        assert_eq!(entries(&v), vec![6, 9]);
        assert!(v[0].message.contains("cpu 1300/1000m"), "{v:?}");
        assert!(v[1].message.contains("pods 4/3"), "{v:?}");
    }

    #[test]
    fn shrinking_node_is_judged() {
        let mut e = base();
        e.push(commit(7, 7, N1, false, node("n1", 500, 0, 3)));
        assert_eq!(entries(&only(NAME, &history(e))), vec![6]);
    }
}
