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
pub fn encode_for_storage(obj: &Value) -> Bytes {
    let Some(map) = obj.as_object() else { return Bytes::from(obj.to_string()) };
    let mut out = Vec::with_capacity(512);
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, key: &str, value: &Value| {
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut *out, key).expect("strings serialize");
        out.push(b':');
        serde_json::to_writer(&mut *out, value).expect("values serialize");
    };
    for key in ["apiVersion", "kind"] {
        if let Some(v) = map.get(key) {
            put(&mut out, key, v);
        }
    }
    let mut metadata = map.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    metadata.remove("resourceVersion");
    put(&mut out, "metadata", &Value::Object(metadata));
    for (k, v) in map {
        if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            put(&mut out, k, v);
        }
    }
    out.push(b'}');
    Bytes::from(out)
}

/// The stored bytes with `metadata.resourceVersion` set to `revision`.
pub fn with_resource_version(stored: &[u8], revision: i64) -> Bytes {
    const NEEDLE: &[u8] = b"\"metadata\":{";
    let Some(at) = stored.windows(NEEDLE.len()).position(|w| w == NEEDLE) else {
        // Not in our storage format (written by someone else): take the slow path.
        return match serde_json::from_slice::<Value>(stored) {
            Ok(mut v) if v.is_object() => {
                set_meta(&mut v, "resourceVersion", Value::String(revision.to_string()));
                Bytes::from(v.to_string())
            }
            _ => Bytes::copy_from_slice(stored),
        };
    };
    let insert_at = at + NEEDLE.len();
    let empty = stored.get(insert_at) == Some(&b'}');
    let field = format!("\"resourceVersion\":\"{revision}\"{}", if empty { "" } else { "," });
    let mut out = Vec::with_capacity(stored.len() + field.len());
    out.extend_from_slice(&stored[..insert_at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(&stored[insert_at..]);
    Bytes::from(out)
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
