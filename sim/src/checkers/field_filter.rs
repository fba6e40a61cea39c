//! Evaluating a watch's field selector on recorded [`Attrs`], the way kube's watch cache does
//! (all terms must hold; an unset field reads as "").

use crate::history::{Attrs, Commit, FieldTerm};

/// The selectable fields, in the order the match index prefers them (most selective first).
pub(crate) const FIELDS: [&str; 4] = ["metadata.name", "spec.nodeName", "metadata.namespace", "status.phase"];

/// The value of field number `field` (an index into [`FIELDS`]).
pub(crate) fn value(attrs: &Attrs, field: usize) -> &str {
    match field {
        0 => &attrs.name,
        1 => &attrs.node_name,
        2 => &attrs.namespace,
        _ => &attrs.phase,
    }
}

/// The index into [`FIELDS`] of a field name.
pub(crate) fn field_index(name: &str) -> Option<usize> {
    FIELDS.iter().position(|f| *f == name)
}

/// Whether every term names a field the checkers can evaluate.
pub(crate) fn evaluable(terms: &[FieldTerm]) -> bool {
    terms.iter().all(|t| field_index(&t.field).is_some())
}

/// Whether `attrs` satisfies every term (terms must be [`evaluable`]).
pub(crate) fn matches(terms: &[FieldTerm], attrs: &Attrs) -> bool {
    terms.iter().all(|t| field_index(&t.field).is_some_and(|f| (value(attrs, f) == t.value) == t.equals))
}

/// Whether a watch with `prefix` and `terms` sees `commit`, given the key's previous live version:
/// kube sends an event when the old or the new version matches (DELETED when it stops matching,
/// ADDED when it starts); for a delete the commit carries the deleted object, which is what kube
/// filters on.
pub(crate) fn sees(prefix: &str, terms: &[FieldTerm], commit: &Commit, prev: Option<&Commit>) -> bool {
    if !commit.key.starts_with(prefix) {
        return false;
    }
    if commit.deleted {
        return matches(terms, &commit.attrs);
    }
    matches(terms, &commit.attrs) || prev.is_some_and(|p| matches(terms, &p.attrs))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn terms_and_old_or_new_version() {
        let on_n1 = vec![term("spec.nodeName", true, "n1")];
        let running_elsewhere =
            vec![term("status.phase", true, "Running"), term("spec.nodeName", false, "n1")];
        let a = pod("ns", "a", "n1", "Running");
        assert!(matches(&on_n1, &a));
        assert!(!matches(&running_elsewhere, &a));
        assert!(matches(&running_elsewhere, &pod("ns", "a", "n2", "Running")));
        assert!(evaluable(&on_n1));
        assert!(!evaluable(&[term("spec.schedulerName", true, "x")]));

        let key = "/registry/pods/ns/a";
        let Entry::Commit(before) = commit(1, 1, key, false, pod("ns", "a", "n1", "Running")) else {
            unreachable!()
        };
        let Entry::Commit(moved) = commit(2, 2, key, false, pod("ns", "a", "n2", "Running")) else {
            unreachable!()
        };
        // Stops matching: still seen (as DELETED).
        assert!(sees("/registry/pods/", &on_n1, &moved, Some(&before)));
        assert!(!sees("/registry/pods/", &on_n1, &moved, None));
        assert!(!sees("/registry/pods/other/", &on_n1, &before, None));
    }
}
