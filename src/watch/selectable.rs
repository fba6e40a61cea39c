//! What selectors read of a cached object (name, namespace, labels, selectable fields), packed
//! into one string. A scale run caches 150,000 pods; held as two maps and a dozen strings, these
//! cost ~1.4 KB a pod, more than the pod's stored JSON.

use serde_json::Value;

/// One object's selectable values, back to back in `text`.
///
/// `ends[i]` is where value `i` ends: 0 is the name, 1 the namespace, then one per field of the
/// kind's selectable list (in its order), then a key and a value per label, sorted by key.
#[derive(Debug)]
pub struct Selectable {
    text: Box<str>,
    ends: Box<[u32]>,
    /// The kind's selectable fields, whose values follow the namespace.
    fields: &'static [&'static str],
    /// Bit `i` set: field `i` is present (an absent field differs from an empty one).
    present: u32,
    has_namespace: bool,
}

impl Selectable {
    /// Packs `value`'s name, namespace and labels and the `fields` present in it (at most 32).
    pub fn new(value: &Value, fields: &'static [&'static str]) -> Selectable {
        debug_assert!(fields.len() <= 32, "a kind with more than 32 selectable fields");
        let mut text = String::new();
        let mut ends = Vec::with_capacity(2 + fields.len());
        let mut push = |s: &str, text: &mut String| {
            text.push_str(s);
            ends.push(text.len() as u32);
        };
        let meta = value.get("metadata");
        let meta_str = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        push(meta_str("name").unwrap_or_default(), &mut text);
        let namespace = meta_str("namespace");
        push(namespace.unwrap_or_default(), &mut text);
        let mut present = 0;
        for (i, field) in fields.iter().take(32).enumerate() {
            let v = field_value(value, field);
            if v.is_some() {
                present |= 1 << i;
            }
            push(v.as_deref().unwrap_or_default(), &mut text);
        }
        let mut labels: Vec<(&str, &str)> = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|l| l.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))).collect())
            .unwrap_or_default();
        labels.sort_unstable();
        for (k, v) in labels {
            push(k, &mut text);
            push(v, &mut text);
        }
        Selectable {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            fields,
            present,
            has_namespace: namespace.is_some(),
        }
    }

    fn at(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// metadata.name ("" when unset).
    pub fn name(&self) -> &str {
        self.at(0)
    }

    /// metadata.namespace, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.has_namespace.then(|| self.at(1))
    }

    /// A selectable field's value (`spec.nodeName`), if the object has it.
    pub fn field(&self, path: &str) -> Option<&str> {
        let i = self.fields.iter().take(32).position(|f| *f == path)?;
        (self.present & (1 << i) != 0).then(|| self.at(2 + i))
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        let first = 2 + self.fields.len().min(32);
        let count = (self.ends.len() - first) / 2;
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.at(first + 2 * mid).cmp(key) {
                std::cmp::Ordering::Equal => return Some(self.at(first + 2 * mid + 1)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }
}

/// The scalar at a dotted path, as kube's field selectors compare it (a string).
fn field_value(obj: &Value, path: &str) -> Option<String> {
    let mut v = obj;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[&str] = &["spec.nodeName", "spec.hostNetwork", "status.phase", "spec.priority"];

    #[test]
    fn every_value_reads_back_as_it_was_in_the_object() {
        let pod = json!({
            "metadata": {"name": "p-1", "namespace": "team-a",
                         "labels": {"tier": "web", "app": "shop", "empty": "", "zz": "last"}},
            "spec": {"nodeName": "node-7", "hostNetwork": true, "priority": 100},
            "status": {"phase": ""}
        });
        let s = Selectable::new(&pod, FIELDS);
        assert_eq!(s.name(), "p-1");
        assert_eq!(s.namespace(), Some("team-a"));
        assert_eq!(s.field("spec.nodeName"), Some("node-7"));
        assert_eq!(s.field("spec.hostNetwork"), Some("true"));
        assert_eq!(s.field("spec.priority"), Some("100"));
        // Present but empty is not absent.
        assert_eq!(s.field("status.phase"), Some(""));
        assert_eq!(s.field("metadata.uid"), None);
        for (k, v) in [("app", "shop"), ("tier", "web"), ("empty", ""), ("zz", "last")] {
            assert_eq!(s.label(k), Some(v), "label {k}");
        }
        assert_eq!(s.label("missing"), None);
        assert_eq!(s.label("a"), None);
    }

    #[test]
    fn absent_values_read_as_absent() {
        let node = json!({"metadata": {"name": "node-1"}});
        let s = Selectable::new(&node, FIELDS);
        assert_eq!(s.name(), "node-1");
        assert_eq!(s.namespace(), None);
        for f in FIELDS {
            assert_eq!(s.field(f), None, "{f}");
        }
        assert_eq!(s.label("app"), None);
        let bare = Selectable::new(&json!({}), &[]);
        assert_eq!((bare.name(), bare.namespace(), bare.label("x")), ("", None, None));
    }

    #[test]
    fn it_is_a_fraction_of_the_maps_it_replaces() {
        let pod = json!({
            "metadata": {"name": "pod-000001", "namespace": "default", "labels": {"app": "kubesim-sim"}},
            "spec": {"nodeName": "node-1234", "hostNetwork": false, "priority": 0},
            "status": {"phase": "Running"}
        });
        let s = Selectable::new(&pod, FIELDS);
        let heap = s.text.len() + s.ends.len() * 4;
        assert!(heap < 128, "{heap} bytes on the heap");
    }
}
