//! Builders for the hand-written histories the checkers' tests feed them.

pub(crate) use crate::history::{
    ApiCall, Attrs, Commit, ContainerEvent, Entry, EventType, Expectation, ExpectedPhase, FieldTerm, History,
    StoreOp, StoreOpKind, StoreOutcome, Time, Verb, WatchEvent, WatchOpen,
};

use super::{check, CheckContext, Violation};

/// A history of `entries` (which the test gives in time order).
pub(crate) fn history(entries: Vec<Entry>) -> History {
    History { entries }
}

/// Faults healed at 1 000, expectations due 1 000 later, the run ends at 10 000.
pub(crate) fn ctx() -> CheckContext {
    CheckContext { healed_at: 1_000, liveness_deadline: 1_000, end: 10_000 }
}

/// Runs only the checker `name`.
pub(crate) fn only(name: &str, h: &History) -> Vec<Violation> {
    let v = check(h, &ctx(), Some(&[name.to_owned()]));
    assert!(v.iter().all(|v| v.checker == name), "{v:?}");
    v
}

/// The entries the violations point at.
pub(crate) fn entries(v: &[Violation]) -> Vec<usize> {
    v.iter().map(|v| v.entry).collect()
}

/// A pod's attrs (uid `uid-<name>`).
pub(crate) fn pod(ns: &str, name: &str, node: &str, phase: &str) -> Attrs {
    Attrs {
        namespace: ns.into(),
        name: name.into(),
        uid: format!("uid-{name}").into(),
        node_name: node.into(),
        phase: phase.into(),
        ..Attrs::default()
    }
}

/// A pod's attrs with resource requests.
pub(crate) fn pod_req(ns: &str, name: &str, node: &str, phase: &str, cpu: u64, mem: u64) -> Attrs {
    Attrs { cpu_milli: cpu, memory_bytes: mem, ..pod(ns, name, node, phase) }
}

/// A node's attrs with its allocatable resources.
pub(crate) fn node(name: &str, cpu: u64, mem: u64, pods: u64) -> Attrs {
    Attrs { name: name.into(), cpu_milli: cpu, memory_bytes: mem, pods, ..Attrs::default() }
}

/// One field-selector term.
pub(crate) fn term(field: &str, equals: bool, value: &str) -> FieldTerm {
    FieldTerm { field: field.into(), equals, value: value.into() }
}

/// A store commit.
pub(crate) fn commit(time: Time, revision: u64, key: &str, deleted: bool, attrs: Attrs) -> Entry {
    Entry::Commit(Box::new(Commit { time, revision, key: key.into(), deleted, attrs }))
}

/// A store operation by store client 0.
pub(crate) fn store(
    invoked: Time,
    returned: Time,
    key: &str,
    kind: StoreOpKind,
    outcome: StoreOutcome,
) -> Entry {
    Entry::Store(StoreOp { client: 0, invoked, returned, key: key.into(), kind, outcome })
}

/// The outcome of a write committed (or a read that saw) `revision`.
pub(crate) fn ok(revision: u64) -> StoreOutcome {
    StoreOutcome::Ok { revision }
}

/// An answered watch.
pub(crate) fn open(
    time: Time,
    watch: u64,
    client: &str,
    prefix: &str,
    fields: Option<Vec<FieldTerm>>,
    start_rv: Option<u64>,
) -> Entry {
    Entry::WatchOpen(Box::new(WatchOpen {
        time,
        watch,
        client: client.into(),
        prefix: prefix.into(),
        fields,
        start_rv,
        status: 200,
    }))
}

/// One watch event.
pub(crate) fn event(time: Time, watch: u64, kind: EventType, key: &str, rv: u64) -> Entry {
    Entry::WatchEvent(WatchEvent { time, watch, kind, key: key.into(), rv })
}

/// A watch's end.
pub(crate) fn close(time: Time, watch: u64) -> Entry {
    Entry::WatchClose { time, watch }
}

/// An API call.
pub(crate) fn api(
    client: &str,
    invoked: Time,
    returned: Time,
    verb: Verb,
    path: &str,
    status: u16,
    rv: Option<u64>,
) -> Entry {
    Entry::Api(Box::new(ApiCall {
        client: client.into(),
        invoked,
        returned,
        verb,
        path: path.into(),
        request_rv: None,
        status,
        rv,
    }))
}

/// A kubelet starting or stopping a pod.
pub(crate) fn container(time: Time, node: &str, pod: &str, uid: &str, running: bool) -> Entry {
    Entry::Container(Box::new(ContainerEvent {
        time,
        node: node.into(),
        pod: pod.into(),
        uid: uid.into(),
        running,
    }))
}

/// An expectation.
pub(crate) fn expect(time: Time, pod: &str, phase: ExpectedPhase) -> Entry {
    Entry::Expect(Expectation { time, pod: pod.into(), phase })
}
