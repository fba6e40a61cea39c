//! Input generators: token grammars, mutations of corpus entries, and random JSON built from the
//! keys and values the API cares about.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// Text that has broken parsers before: empty, whitespace, escapes, control characters,
/// multi-byte characters, huge and negative numbers, separators of every grammar here.
pub const NASTY: &[&str] = &[
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\0",
    "\\",
    "\"",
    "'",
    "%",
    "%00",
    "%zz",
    "%2F",
    "%25",
    "&",
    "=",
    ",",
    ";",
    "(",
    ")",
    "!",
    "/",
    "//",
    ".",
    "..",
    "~",
    "~0",
    "~1",
    "-",
    "_",
    "é",
    "ẞ",
    "🦀",
    "\u{202e}",
    "\u{ffff}",
    "0",
    "-1",
    "1e400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551616",
    "NaN",
    "null",
    "true",
    "[",
    "]",
    "{",
    "}",
    "{}",
    "[]",
    ":",
    "$patch",
    "k8s:enc:aescbc:v1:key1:",
];

/// One edit to a string. Positions are fractions of the length (so they fit any input).
#[derive(Clone, Debug)]
pub enum Edit {
    Insert(u16, &'static str),
    Delete(u16, u16),
    Replace(u16, u16, &'static str),
    /// Insert a piece of another corpus entry.
    Splice(u16, u16, u16),
    Truncate(u16),
    /// Repeat a slice a few times (long tokens, deep nesting).
    Repeat(u16, u16, u8),
}

fn at(s: &str, frac: u16) -> usize {
    let mut i = s.len() * frac as usize / (u16::MAX as usize + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn span(s: &str, a: u16, len: u16) -> (usize, usize) {
    let start = at(s, a);
    let mut end = (start + 1 + len as usize % 16).min(s.len());
    while !s.is_char_boundary(end) {
        end += 1;
    }
    (start, end)
}

impl Edit {
    fn apply(&self, s: &mut String, other: &str) {
        match *self {
            Edit::Insert(p, t) => s.insert_str(at(s, p), t),
            Edit::Delete(p, l) => {
                let (a, b) = span(s, p, l);
                s.replace_range(a..b, "");
            }
            Edit::Replace(p, l, t) => {
                let (a, b) = span(s, p, l);
                s.replace_range(a..b, t);
            }
            Edit::Splice(p, q, l) => {
                let (a, b) = span(other, q, l.saturating_mul(4));
                let piece = other[a..b].to_owned();
                s.insert_str(at(s, p), &piece);
            }
            Edit::Truncate(p) => s.truncate(at(s, p)),
            Edit::Repeat(p, l, n) => {
                let (a, b) = span(s, p, l);
                let piece = s[a..b].repeat(n as usize % 64);
                s.insert_str(b, &piece);
            }
        }
    }
}

pub fn edit(alphabet: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    let tok = || select(alphabet).prop_union(select(NASTY)).boxed();
    prop_oneof![
        (any::<u16>(), tok()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (any::<u16>(), any::<u16>()).prop_map(|(p, l)| Edit::Delete(p, l)),
        (any::<u16>(), any::<u16>(), tok()).prop_map(|(p, l, t)| Edit::Replace(p, l, t)),
        (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(p, q, l)| Edit::Splice(p, q, l)),
        any::<u16>().prop_map(Edit::Truncate),
        (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(p, l, n)| Edit::Repeat(p, l, n)),
    ]
}

/// A corpus entry with one to four edits (another entry feeds the splices).
pub fn mutated(seeds: Vec<String>, alphabet: &'static [&'static str]) -> BoxedStrategy<String> {
    assert!(!seeds.is_empty());
    let n = seeds.len();
    (0..n, 0..n, prop::collection::vec(edit(alphabet), 1..5))
        .prop_map(move |(a, b, edits)| {
            let mut s = seeds[a].clone();
            for e in &edits {
                e.apply(&mut s, &seeds[b]);
            }
            s
        })
        .boxed()
}

/// A string of up to `max` tokens drawn from `vocabulary` and [`NASTY`].
pub fn tokens(vocabulary: &'static [&'static str], max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(prop_oneof![4 => select(vocabulary), 1 => select(NASTY)], 0..max)
        .prop_map(|t| t.concat())
        .boxed()
}

/// Leaves of random JSON: the values validation, quantity parsing and patching trip on.
pub fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        select(&[0i64, 1, -1, 2, 30, 65_536, i64::MAX, i64::MIN][..]).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        select(&[0.5f64, -0.0, 1e308, -1e-308, 3.9][..]).prop_map(Value::from),
        Just(serde_json::from_str::<Value>("18446744073709551615").unwrap()),
        select(VALUES).prop_map(|s| Value::String(s.to_owned())),
        select(NASTY).prop_map(|s| Value::String(s.to_owned())),
        (select(VALUES), 1..300usize).prop_map(|(s, n)| Value::String(s.repeat(n))),
    ]
    .boxed()
}

/// String values with meaning somewhere in the API.
pub const VALUES: &[&str] = &[
    "a",
    "x",
    "c",
    "nginx",
    "default",
    "kube-system",
    "fuzz-pod",
    "fuzz-node",
    "Running",
    "Pending",
    "Succeeded",
    "Failed",
    "True",
    "False",
    "Ready",
    "100m",
    "1",
    "2Gi",
    "1.5",
    "1e3",
    "-1",
    "0.000001",
    "1Ki",
    "10Mi",
    "1E",
    "999999999999999999999",
    "Always",
    "Never",
    "IfNotPresent",
    "ClusterFirst",
    "TCP",
    "UDP",
    "NoSchedule",
    "NoExecute",
    "Exists",
    "Equal",
    "Opaque",
    "kubernetes.io/tls",
    "Container",
    "Pod",
    "Role",
    "ClusterRole",
    "User",
    "Group",
    "ServiceAccount",
    "rbac.authorization.k8s.io",
    "v1",
    "Background",
    "Foreground",
    "Orphan",
    "2024-01-01T00:00:00Z",
    "not-a-time",
    "dmFsdWU=",
    "!!",
    "A",
    "a.b",
    "a/b",
    "-a",
    "a-",
];

/// Object keys with meaning somewhere in the API (plus SMP directives).
pub const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "generateName",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "spec",
    "status",
    "containers",
    "initContainers",
    "image",
    "resources",
    "requests",
    "limits",
    "cpu",
    "memory",
    "pods",
    "ports",
    "containerPort",
    "env",
    "value",
    "nodeName",
    "schedulerName",
    "tolerations",
    "key",
    "operator",
    "effect",
    "securityContext",
    "privileged",
    "phase",
    "conditions",
    "type",
    "hostIP",
    "podIP",
    "capacity",
    "allocatable",
    "taints",
    "unschedulable",
    "data",
    "stringData",
    "binaryData",
    "immutable",
    "rules",
    "verbs",
    "apiGroups",
    "resourceNames",
    "nonResourceURLs",
    "roleRef",
    "subjects",
    "hard",
    "used",
    "default",
    "defaultRequest",
    "max",
    "min",
    "holderIdentity",
    "leaseDurationSeconds",
    "renewTime",
    "involvedObject",
    "reason",
    "message",
    "count",
    "target",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$deleteFromPrimitiveList/finalizers",
    "x",
    "",
];

/// Random JSON up to `depth` levels, keys from [`KEYS`].
pub fn json_value(depth: u32) -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(depth, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((select(KEYS), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            ]
        })
        .boxed()
}

/// One structural change to a JSON document.
#[derive(Clone, Debug)]
pub enum JsonEdit {
    /// Replace the `n`-th node (pre-order, modulo the node count) with a value.
    Set(u32, Value),
    /// Remove the `n`-th node from its parent.
    Remove(u32),
    /// Add a key to the `n`-th node if it is an object (append if an array).
    Add(u32, &'static str, Value),
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        (any::<u32>(), json_value(2)).prop_map(|(n, v)| JsonEdit::Set(n, v)),
        any::<u32>().prop_map(JsonEdit::Remove),
        (any::<u32>(), select(KEYS), json_value(2)).prop_map(|(n, k, v)| JsonEdit::Add(n, k, v)),
    ]
}

fn count(v: &Value) -> u32 {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`-th node's parent and its key/index; `None` for the root.
fn visit(v: &mut Value, n: &mut u32, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| visit(c, n, f)),
        Value::Object(o) => o.values_mut().any(|c| visit(c, n, f)),
        _ => false,
    }
}

fn remove_nth(v: &mut Value, n: &mut u32) -> bool {
    match v {
        Value::Array(a) => {
            for i in 0..a.len() {
                if *n == 0 {
                    a.remove(i);
                    return true;
                }
                *n -= 1;
                if remove_nth(&mut a[i], n) {
                    return true;
                }
            }
            false
        }
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                if *n == 0 {
                    o.remove(&k);
                    return true;
                }
                *n -= 1;
                if remove_nth(o.get_mut(&k).unwrap(), n) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

impl JsonEdit {
    pub fn apply(&self, doc: &mut Value) {
        let total = count(doc);
        match self {
            JsonEdit::Set(n, value) => {
                let mut n = n % total;
                visit(doc, &mut n, &mut |node| *node = value.clone());
            }
            JsonEdit::Remove(n) => {
                let mut n = n % total;
                remove_nth(doc, &mut n);
            }
            JsonEdit::Add(n, key, value) => {
                let mut n = n % total;
                visit(doc, &mut n, &mut |node| match node {
                    Value::Object(o) => {
                        o.insert((*key).to_owned(), value.clone());
                    }
                    Value::Array(a) => a.push(value.clone()),
                    _ => {}
                });
            }
        }
    }
}

/// A valid document with one to four structural edits, serialized.
pub fn edited_json(bases: Vec<Value>) -> BoxedStrategy<(usize, String)> {
    let n = bases.len();
    (0..n, prop::collection::vec(json_edit(), 1..5))
        .prop_map(move |(i, edits)| {
            let mut doc = bases[i].clone();
            for e in &edits {
                e.apply(&mut doc);
            }
            (i, doc.to_string())
        })
        .boxed()
}
