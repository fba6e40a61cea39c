//! The store's commit log (ground truth for watches), indexed by revision, with each commit's
//! previous version of the same key (the "old object" a watch filter also looks at).

use std::collections::BTreeMap;

use crate::history::{Commit, Entry, History};

/// One commit and where it sits in the history.
pub(crate) struct Logged<'h> {
    /// Index into `history.entries`.
    pub entry: usize,
    /// The commit.
    pub commit: &'h Commit,
    /// Position (in [`CommitLog::commits`]) of the key's previous commit when that one left the
    /// key alive; `None` after a delete or for the key's first commit.
    pub prev: Option<usize>,
}

/// All commits, in revision order (stable, so a broken log with repeated revisions keeps entry
/// order among them).
#[derive(Default)]
pub(crate) struct CommitLog<'h> {
    /// Sorted by revision.
    pub commits: Vec<Logged<'h>>,
}

impl<'h> CommitLog<'h> {
    /// Indexes the history's commits.
    pub(crate) fn new(history: &'h History) -> Self {
        let mut commits: Vec<Logged<'h>> = history
            .entries
            .iter()
            .enumerate()
            .filter_map(|(entry, e)| match e {
                Entry::Commit(commit) => Some(Logged { entry, commit, prev: None }),
                _ => None,
            })
            .collect();
        commits.sort_by_key(|l| l.commit.revision);
        let mut last: BTreeMap<&str, usize> = BTreeMap::new();
        for (pos, l) in commits.iter_mut().enumerate() {
            let key = &*l.commit.key;
            l.prev = last.get(key).copied();
            if l.commit.deleted {
                last.remove(key);
            } else {
                last.insert(key, pos);
            }
        }
        CommitLog { commits }
    }

    /// The position of the (first) commit at `revision`.
    pub(crate) fn at(&self, revision: u64) -> Option<usize> {
        let pos = self.commits.partition_point(|l| l.commit.revision < revision);
        (pos < self.commits.len() && self.commits[pos].commit.revision == revision).then_some(pos)
    }

    /// The commit at `revision`.
    pub(crate) fn commit_at(&self, revision: u64) -> Option<&Logged<'h>> {
        self.at(revision).map(|p| &self.commits[p])
    }

    /// The previous live version of the commit at `pos`.
    pub(crate) fn prev_of(&self, pos: usize) -> Option<&'h Commit> {
        self.commits[pos].prev.map(|p| self.commits[p].commit)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn finds_commits_and_previous_versions() {
        let k = "/registry/pods/ns/a";
        let h = history(vec![
            commit(1, 3, k, false, pod("ns", "a", "", "")),
            commit(2, 5, k, false, pod("ns", "a", "n1", "")),
            commit(3, 6, k, true, pod("ns", "a", "n1", "")),
            commit(4, 9, k, false, pod("ns", "a", "", "")),
        ]);
        let log = CommitLog::new(&h);
        assert_eq!(log.at(5), Some(1));
        assert_eq!(log.at(4), None);
        assert_eq!(log.at(10), None);
        assert!(log.prev_of(0).is_none());
        assert_eq!(log.prev_of(1).map(|c| c.revision), Some(3));
        assert_eq!(log.prev_of(2).map(|c| c.revision), Some(5));
        assert!(log.prev_of(3).is_none(), "a re-create has no old version");
        assert_eq!(log.commit_at(9).map(|l| l.entry), Some(3));
    }
}
