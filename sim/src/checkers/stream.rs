//! Client watch streams reassembled from the history: each answered (status 200) WatchOpen with
//! its events in arrival order, and where its initial state ends.
//!
//! A stream opened without a start revision (`start_rv` None) first gets synthetic ADDED events
//! for the current state, whose rvs are the objects' own: unordered and older than the stream's
//! start. Nothing on the wire marks their end, so the initial part is taken to be the leading
//! ADDED events with an rv at most the highest commit revision recorded before the WatchOpen
//! entry (the state was taken from a watch cache, which is never ahead of the store, before the
//! answer). It ends at the first other object event (DELETED/MODIFIED, or an ADDED with a newer
//! rv), which is therefore a real event. Genuine ADDED events committed before the answer may be
//! swallowed by the initial part; that costs checking power, never soundness.

use std::collections::BTreeMap;

use super::field_filter;
use crate::history::{Entry, EventType, FieldTerm, History, WatchEvent, WatchOpen};

/// One answered watch stream.
pub(crate) struct Stream<'h> {
    /// Index of the WatchOpen entry.
    pub open_entry: usize,
    /// The WatchOpen.
    pub open: &'h WatchOpen,
    /// The field terms, when the checkers can evaluate them.
    pub terms: Option<&'h [FieldTerm]>,
    /// Entry indices of its WatchEvents, in arrival order.
    pub events: Vec<usize>,
    /// Index into `events` of the first object event after the initial part (`events.len()` when
    /// there is none); 0 for streams with a start revision.
    pub initial: usize,
    /// The highest commit revision recorded before the stream was answered: a stream without a
    /// start revision took its initial state at or below it.
    pub rev_at_open: u64,
}

/// All answered streams, in the order they were opened.
#[derive(Default)]
pub(crate) struct Streams<'h> {
    /// The streams.
    pub streams: Vec<Stream<'h>>,
}

/// Whether an event carries an object (bookmarks and errors do not).
pub(crate) fn is_object(kind: EventType) -> bool {
    matches!(kind, EventType::Added | EventType::Modified | EventType::Deleted)
}

/// The WatchEvent at `entry` (which must be one).
pub(crate) fn event(history: &History, entry: usize) -> &WatchEvent {
    match &history.entries[entry] {
        Entry::WatchEvent(e) => e,
        other => unreachable!("entry {entry} is not a watch event: {other:?}"),
    }
}

impl<'h> Streams<'h> {
    /// Reassembles the streams of `history`.
    pub(crate) fn new(history: &'h History) -> Self {
        let mut streams: Vec<Stream<'h>> = Vec::new();
        let mut by_id: BTreeMap<u64, usize> = BTreeMap::new();
        let mut store_revision = 0u64;
        for (i, entry) in history.entries.iter().enumerate() {
            match entry {
                Entry::Commit(c) => store_revision = store_revision.max(c.revision),
                Entry::WatchOpen(w) if w.status == 200 && !by_id.contains_key(&w.watch) => {
                    by_id.insert(w.watch, streams.len());
                    let terms = w.fields.as_deref().filter(|t| field_filter::evaluable(t));
                    let rev_at_open = store_revision;
                    streams.push(Stream {
                        open_entry: i,
                        open: w,
                        terms,
                        events: Vec::new(),
                        initial: 0,
                        rev_at_open,
                    });
                }
                Entry::WatchEvent(e) => {
                    if let Some(&s) = by_id.get(&e.watch) {
                        streams[s].events.push(i);
                    }
                }
                _ => {}
            }
        }
        for s in &mut streams {
            s.initial = if s.open.start_rv.is_some() {
                0
            } else {
                s.events
                    .iter()
                    .position(|&i| {
                        let e = event(history, i);
                        is_object(e.kind) && (e.kind != EventType::Added || e.rv > s.rev_at_open)
                    })
                    .unwrap_or(s.events.len())
            };
        }
        Streams { streams }
    }
}

impl Stream<'_> {
    /// The object events after the initial part, as (position in `events`, entry, event).
    pub(crate) fn live_objects<'a>(
        &'a self,
        history: &'a History,
    ) -> impl Iterator<Item = (usize, usize, &'a WatchEvent)> + 'a {
        self.events
            .iter()
            .enumerate()
            .skip(self.initial)
            .map(move |(p, &i)| (p, i, event(history, i)))
            .filter(|(_, _, e)| is_object(e.kind))
    }

    /// A short description for messages.
    pub(crate) fn describe(&self) -> String {
        let w = self.open;
        let fields = match &w.fields {
            None => "unevaluable".to_owned(),
            Some(t) => t
                .iter()
                .map(|t| format!("{}{}{}", t.field, if t.equals { "=" } else { "!=" }, t.value))
                .collect::<Vec<_>>()
                .join(","),
        };
        let start = w.start_rv.map_or("none".to_owned(), |n| n.to_string());
        format!(
            "watch {} of {} on {} [{}] from rv {} (opened at entry {})",
            w.watch, w.client, w.prefix, fields, start, self.open_entry
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::Streams;

    #[test]
    fn initial_part_ends_at_first_real_event() {
        let p = "/registry/pods/ns/";
        let h = history(vec![
            commit(1, 4, "/registry/pods/ns/a", false, pod("ns", "a", "", "")),
            commit(2, 7, "/registry/pods/ns/b", false, pod("ns", "b", "", "")),
            open(3, 1, "c", "/registry/pods/", None, None),
            open(3, 2, "c", "/registry/pods/", None, Some(7)),
            event(4, 1, EventType::Added, &format!("{p}b"), 7),
            event(4, 1, EventType::Added, &format!("{p}a"), 4),
            event(5, 1, EventType::Bookmark, "", 7),
            event(6, 1, EventType::Added, &format!("{p}c"), 8),
            event(6, 1, EventType::Modified, &format!("{p}c"), 9),
            event(7, 9, EventType::Modified, &format!("{p}c"), 9),
        ]);
        let s = Streams::new(&h);
        assert_eq!(s.streams.len(), 2);
        assert_eq!(s.streams[0].events.len(), 5);
        assert_eq!(s.streams[0].initial, 3, "the ADDED at rv 8 is newer than the store at open");
        assert_eq!(s.streams[0].live_objects(&h).map(|(_, _, e)| e.rv).collect::<Vec<_>>(), vec![8, 9]);
        assert_eq!(s.streams[1].initial, 0);
        assert!(s.streams[0].describe().contains("watch 1 of c on /registry/pods/"));
    }

    #[test]
    fn unanswered_streams_are_skipped() {
        let mut o = open(1, 1, "c", "/registry/pods/", None, None);
        if let Entry::WatchOpen(w) = &mut o {
            w.status = 410;
        }
        let h = history(vec![o, event(2, 1, EventType::Added, "/registry/pods/ns/a", 1)]);
        assert!(Streams::new(&h).streams.is_empty());
    }
}
