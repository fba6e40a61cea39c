//! Which commits a watch stream should see, found without scanning the whole commit log per
//! stream: thousands of kubelet streams each select a handful of commits out of millions.
//!
//! A stream with an equality term is served from the list of commits whose new or old version
//! has that value (the most selective field wins); any other stream from the list of commits
//! under its key prefix. Candidates are then filtered exactly with [`field_filter::sees`].

use std::collections::BTreeMap;

use super::commit_log::CommitLog;
use super::field_filter::{self, FIELDS};
use super::stream::{Stream, Streams};

/// Commit positions (in [`CommitLog::commits`], so in revision order) per requested value/prefix.
#[derive(Default)]
pub(crate) struct MatchIndex {
    by_field: [BTreeMap<String, Vec<usize>>; FIELDS.len()],
    by_prefix: BTreeMap<String, Vec<usize>>,
}

/// Where a stream's candidates come from.
enum Source<'a> {
    Field(usize, &'a str),
    Prefix(&'a str),
}

fn source<'a>(stream: &'a Stream<'_>) -> Option<Source<'a>> {
    let terms = stream.terms?;
    let best = terms
        .iter()
        .filter(|t| t.equals)
        .filter_map(|t| field_filter::field_index(&t.field).map(|f| (f, t.value.as_str())))
        .min_by_key(|&(f, _)| f);
    Some(match best {
        Some((f, v)) => Source::Field(f, v),
        None => Source::Prefix(&stream.open.prefix),
    })
}

impl MatchIndex {
    /// Indexes the commits the evaluable streams could see.
    pub(crate) fn new(log: &CommitLog<'_>, streams: &Streams<'_>) -> Self {
        let mut index = MatchIndex::default();
        for s in &streams.streams {
            match source(s) {
                Some(Source::Field(f, v)) => {
                    index.by_field[f].entry(v.to_owned()).or_default();
                }
                Some(Source::Prefix(p)) => {
                    index.by_prefix.entry(p.to_owned()).or_default();
                }
                None => {}
            }
        }
        // Prefixes that do not end at a '/' cannot be found by walking a key's segments.
        let odd: Vec<String> = index.by_prefix.keys().filter(|p| !p.ends_with('/')).cloned().collect();
        for (pos, l) in log.commits.iter().enumerate() {
            let attrs = &l.commit.attrs;
            let prev = log.prev_of(pos).map(|c| &c.attrs);
            for (f, lists) in index.by_field.iter_mut().enumerate() {
                if lists.is_empty() {
                    continue;
                }
                let new = field_filter::value(attrs, f);
                if let Some(list) = lists.get_mut(new) {
                    list.push(pos);
                }
                if let Some(old) = prev.map(|p| field_filter::value(p, f)).filter(|old| *old != new) {
                    if let Some(list) = lists.get_mut(old) {
                        list.push(pos);
                    }
                }
            }
            if index.by_prefix.is_empty() {
                continue;
            }
            let key = &*l.commit.key;
            for (i, _) in key.match_indices('/') {
                if let Some(list) = index.by_prefix.get_mut(&key[..=i]) {
                    list.push(pos);
                }
            }
            for p in odd.iter().filter(|p| key.starts_with(p.as_str())) {
                if let Some(list) = index.by_prefix.get_mut(p) {
                    list.push(pos);
                }
            }
        }
        index
    }

    /// Positions of the commits with revision in `lo..=hi` that `stream` should see, in revision
    /// order; empty for a stream whose filter cannot be evaluated.
    pub(crate) fn seen<'a>(
        &'a self,
        log: &'a CommitLog<'_>,
        stream: &'a Stream<'_>,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = usize> + 'a {
        let list: &[usize] = match source(stream) {
            Some(Source::Field(f, v)) => self.by_field[f].get(v).map_or(&[], |l| l.as_slice()),
            Some(Source::Prefix(p)) => self.by_prefix.get(p).map_or(&[], |l| l.as_slice()),
            None => &[],
        };
        let rev = |p: &usize| log.commits[*p].commit.revision;
        let start = list.partition_point(|p| rev(p) < lo);
        let end = list.partition_point(|p| rev(p) <= hi).max(start);
        let terms = stream.terms.unwrap_or(&[]);
        list[start..end].iter().copied().filter(move |&p| {
            field_filter::sees(&stream.open.prefix, terms, log.commits[p].commit, log.prev_of(p))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn finds_commits_by_value_and_by_prefix() {
        let a = "/registry/pods/ns/a";
        let b = "/registry/pods/other/b";
        let h = history(vec![
            commit(1, 1, a, false, pod("ns", "a", "", "Pending")),
            commit(2, 2, b, false, pod("other", "b", "n1", "Pending")),
            commit(3, 3, a, false, pod("ns", "a", "n1", "Pending")),
            commit(4, 4, a, false, pod("ns", "a", "n2", "Pending")),
            commit(5, 5, "/registry/minions/n1", false, node("n1", 1000, 1000, 10)),
            open(6, 1, "k", "/registry/pods/", Some(vec![term("spec.nodeName", true, "n1")]), Some(0)),
            open(6, 2, "s", "/registry/pods/ns/", Some(vec![term("status.phase", false, "Done")]), Some(0)),
            open(6, 3, "s", "/registry/pods/ns/a", Some(vec![]), Some(0)),
            open(6, 4, "s", "/registry/pods/", None, Some(0)),
        ]);
        let log = CommitLog::new(&h);
        let streams = Streams::new(&h);
        let index = MatchIndex::new(&log, &streams);
        let revs = |s: usize, lo, hi| {
            index.seen(&log, &streams.streams[s], lo, hi).map(|p| log.commits[p].commit.revision).collect()
        };
        let r: Vec<u64> = revs(0, 0, 10);
        assert_eq!(r, vec![2, 3, 4], "rev 4 moves a away from n1: still seen");
        let r: Vec<u64> = revs(0, 3, 3);
        assert_eq!(r, vec![3]);
        let r: Vec<u64> = revs(1, 0, 10);
        assert_eq!(r, vec![1, 3, 4]);
        let r: Vec<u64> = revs(2, 2, 10);
        assert_eq!(r, vec![3, 4]);
        let r: Vec<u64> = revs(3, 0, 10);
        assert!(r.is_empty(), "unevaluable filter");
    }
}
