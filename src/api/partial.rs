//! Partial parsing: only the fields at some dotted paths of a JSON object are built, the rest is
//! scanned and skipped.
//!
//! The watch cache needs a handful of fields (name, namespace, labels, the selectable fields) of
//! every object it holds; building a whole 2 KB pod as a `Value` for them was most of its cost.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Parses `json`, keeping only the values at `paths` (e.g. `metadata.labels`, `spec.nodeName`),
/// whole, under their parents. A path whose parent is not an object is absent from the result.
/// The document must still be valid JSON: the skipped parts are checked, not built.
pub fn parse_paths(json: &[u8], paths: &[&str]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = Wanted(paths.to_vec()).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The paths wanted below one node, relative to it; an empty path means the node itself.
struct Wanted<'p>(Vec<&'p str>);

impl<'p> Wanted<'p> {
    /// The paths wanted below `key`, if any.
    fn below(&self, key: &str) -> Option<Wanted<'p>> {
        let sub: Vec<&'p str> = self
            .0
            .iter()
            .filter_map(|p| {
                let rest = p.strip_prefix(key)?;
                if rest.is_empty() {
                    Some(rest)
                } else {
                    rest.strip_prefix('.')
                }
            })
            .collect();
        (!sub.is_empty()).then_some(Wanted(sub))
    }
}

impl<'de> DeserializeSeed<'de> for Wanted<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.contains(&"") {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            match self.below(&key) {
                Some(wanted) => {
                    let value = map.next_value_seed(wanted)?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // Not an object where paths go on below: nothing wanted is here.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default",
        "labels":{"app":"web","tier":"front"},"annotations":{"a":"b"}},
        "spec":{"nodeName":"n1","containers":[{"name":"c","image":"nginx"}],"hostNetwork":true,
        "restartPolicy":"Always"},"status":{"phase":"Running","podIP":"10.0.0.1"}}"#;

    #[test]
    fn keeps_exactly_the_wanted_paths_whole() {
        let paths = ["metadata.name", "metadata.labels", "spec.nodeName", "spec.hostNetwork", "status.phase"];
        let got = parse_paths(POD.as_bytes(), &paths).unwrap();
        assert_eq!(
            got,
            json!({
                "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
                "spec": {"nodeName": "n1", "hostNetwork": true},
                "status": {"phase": "Running"},
            })
        );
    }

    #[test]
    fn a_wanted_path_is_a_whole_key_not_a_prefix() {
        // "spec.node" must not match "spec.nodeName", nor "meta" match "metadata".
        let got = parse_paths(POD.as_bytes(), &["spec.node", "meta"]).unwrap();
        assert_eq!(got, json!({"spec": {}}));
    }

    #[test]
    fn a_non_object_on_the_way_yields_nothing_below_it() {
        let doc = br#"{"spec":[1,2,{"nodeName":"x"}],"status":"odd","metadata":{"name":"a\u0062"}}"#;
        let got = parse_paths(doc, &["spec.nodeName", "status.phase", "metadata.name"]).unwrap();
        assert_eq!(got, json!({"spec": null, "status": null, "metadata": {"name": "ab"}}));
    }

    #[test]
    fn escaped_keys_match_like_plain_ones() {
        let doc = br#"{"meta\u0064ata":{"na\u006de":"x"}}"#;
        assert_eq!(parse_paths(doc, &["metadata.name"]).unwrap(), json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn skipped_parts_must_still_be_valid_json() {
        assert!(parse_paths(br#"{"spec":{"x":[1,}}"#, &["metadata.name"]).is_err());
        assert!(parse_paths(br#"{"metadata":{}} trailing"#, &["metadata.name"]).is_err());
    }

    #[test]
    fn agrees_with_a_full_parse_on_every_wanted_field() {
        let paths =
            ["metadata.name", "metadata.namespace", "metadata.labels", "status.podIP", "spec.missing"];
        let full: Value = serde_json::from_str(POD).unwrap();
        let part = parse_paths(POD.as_bytes(), &paths).unwrap();
        for p in paths {
            let pointer = format!("/{}", p.replace('.', "/"));
            assert_eq!(part.pointer(&pointer), full.pointer(&pointer), "{p}");
        }
    }
}
