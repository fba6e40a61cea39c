//! Objects as JSON: metadata access on `serde_json::Value`, the storage encoding, and the
//! resourceVersion splice.
//!
//! Invariant: stored bytes never carry `metadata.resourceVersion` (it is the store's mod revision,
//! known only after the write), and they start `{"apiVersion":…,"kind":…,"metadata":{`, so the
//! first `"metadata":{` is the object's own and the version can be spliced in without re-parsing.

use bytes::Bytes;
use serde_json::{Map, Value};

/// `metadata` of an object, if it is an object.
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata`, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let map = obj.as_object_mut().expect("objects are JSON objects");
    let m = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("just made an object")
}

/// A string field of metadata.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `metadata.name`.
pub fn name(obj: &Value) -> Option<&str> {
    meta_str(obj, "name")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace")
}

/// `metadata.labels` as a sorted map.
pub fn labels(obj: &Value) -> std::collections::BTreeMap<String, String> {
    meta(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// Sets a metadata field.
pub fn set_meta(obj: &mut Value, field: &str, value: Value) {
    meta_mut(obj).insert(field.to_owned(), value);
}

/// Serializes an object for storage: apiVersion, kind and metadata first, resourceVersion removed.
///
/// The result is allocated at its exact size. Serializing grows a buffer by doubling, and a store
/// keeps hundreds of thousands of these: a 2.2 KB pod left in its 4 KB buffer nearly doubled the
/// store's memory (and allocators keep a block in place when it shrinks by less than half).
pub fn encode_for_storage(obj: &Value) -> Bytes {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut out = scratch.borrow_mut();
        out.clear();
        write_for_storage(&mut out, obj);
        let bytes = Bytes::copy_from_slice(&out);
        // One oversized object must not pin its buffer for the rest of the run.
        if out.capacity() > 1 << 20 {
            *out = Vec::new();
        }
        bytes
    })
}

fn write_for_storage(out: &mut Vec<u8>, obj: &Value) {
    // Writing JSON into a Vec cannot fail.
    let Some(map) = obj.as_object() else {
        let _ = serde_json::to_writer(&mut *out, obj);
        return;
    };
    let entry = |out: &mut Vec<u8>, first: &mut bool, key: &str, value: &Value| {
        if !std::mem::take(first) {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, value);
    };
    let mut first = true;
    out.push(b'{');
    for key in ["apiVersion", "kind"] {
        if let Some(v) = map.get(key) {
            entry(out, &mut first, key, v);
        }
    }
    if !std::mem::take(&mut first) {
        out.push(b',');
    }
    out.extend_from_slice(b"\"metadata\":{");
    let mut first_meta = true;
    if let Some(metadata) = map.get("metadata").and_then(Value::as_object) {
        for (k, v) in metadata.iter().filter(|(k, _)| k.as_str() != "resourceVersion") {
            entry(out, &mut first_meta, k, v);
        }
    }
    out.push(b'}');
    for (k, v) in map.iter().filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")) {
        entry(out, &mut first, k, v);
    }
    out.push(b'}');
}

/// The stored bytes with `metadata.resourceVersion` set to `revision`.
pub fn with_resource_version(stored: &[u8], revision: i64) -> Bytes {
    let mut out = Vec::new();
    write_with_resource_version(&mut out, stored, revision);
    Bytes::from(out)
}

/// Appends the stored bytes to `out` with `metadata.resourceVersion` set to `revision`.
pub fn write_with_resource_version(out: &mut Vec<u8>, stored: &[u8], revision: i64) {
    use std::io::Write as _;
    const NEEDLE: &[u8] = b"\"metadata\":{";
    let Some(at) = stored.windows(NEEDLE.len()).position(|w| w == NEEDLE) else {
        // Not in our storage format (written by someone else): take the slow path.
        match serde_json::from_slice::<Value>(stored) {
            Ok(mut v) if v.is_object() => {
                set_meta(&mut v, "resourceVersion", Value::String(revision.to_string()));
                // Writing a Value into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &v);
            }
            _ => out.extend_from_slice(stored),
        }
        return;
    };
    let insert_at = at + NEEDLE.len();
    let empty = stored.get(insert_at) == Some(&b'}');
    out.reserve(stored.len() + 40);
    out.extend_from_slice(&stored[..insert_at]);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "\"resourceVersion\":\"{revision}\"{}", if empty { "" } else { "," });
    out.extend_from_slice(&stored[insert_at..]);
}

/// Parses stored bytes into an object carrying its resourceVersion.
pub fn decode_stored(stored: &[u8], revision: i64) -> Result<Value, serde_json::Error> {
    let mut v: Value = serde_json::from_slice(stored)?;
    if v.is_object() {
        set_meta(&mut v, "resourceVersion", Value::String(revision.to_string()));
    }
    Ok(v)
}

/// Now, as an RFC 3339 timestamp with seconds precision (metav1.Time).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_string()
}

/// Seconds since the epoch of an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Now, in seconds since the epoch.
pub fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_splice_gives_what_a_parse_and_set_would() {
        let obj = json!({"spec": {"metadata": {"x": 1}}, "kind": "Pod", "apiVersion": "v1",
                          "metadata": {"name": "p", "resourceVersion": "9"}});
        let stored = encode_for_storage(&obj);
        assert!(!String::from_utf8_lossy(&stored).contains("resourceVersion"));
        let spliced: Value = serde_json::from_slice(&with_resource_version(&stored, 42)).unwrap();
        assert_eq!(spliced["metadata"]["resourceVersion"], "42");
        assert_eq!(spliced["metadata"]["name"], "p");
        assert_eq!(spliced["spec"]["metadata"]["x"], 1);
        let empty = encode_for_storage(&json!({"apiVersion": "v1", "kind": "X"}));
        let spliced: Value = serde_json::from_slice(&with_resource_version(&empty, 7)).unwrap();
        assert_eq!(spliced["metadata"], json!({"resourceVersion": "7"}));
        assert_eq!(decode_stored(&stored, 5).unwrap()["metadata"]["resourceVersion"], "5");
    }
}
