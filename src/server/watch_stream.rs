//! The body of a watch response: newline-terminated `{"type":…,"object":…}` JSON lines — initial
//! state, history backlog, then live events and bookmarks — until the deadline or until the cache
//! closes the watcher (too slow, or relisted).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::Body;
use crate::api::resources::Resource;
use crate::api::status::ApiError;
use crate::api::table::{self, IncludeObject};
use crate::deadline::Deadline;
use crate::registry::WatchSetup;
use crate::watch::cache::{CachedObject, EventType, WatchMessage};

/// A watch chunk grows by the events already waiting up to this size. Each chunk is a copy per
/// watcher, so with 10,000 watchers this times the watcher count is what bursts can cost.
pub const WATCH_CHUNK_MAX_BYTES: usize = 64 * 1024;

fn frame(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn bookmark(r: &Resource, revision: i64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": metadata});
    frame("BOOKMARK", object.to_string().as_bytes())
}

fn table_frame(r: &Resource, kind: &str, object: &[u8], include: IncludeObject) -> Bytes {
    let Ok(v) = serde_json::from_slice::<Value>(object) else { return frame(kind, object) };
    let meta = json!({"resourceVersion": v["metadata"]["resourceVersion"]});
    let t = table::to_table(r, &[v], meta, include, crate::api::object::now_unix());
    frame(kind, t.to_string().as_bytes())
}

struct State {
    r: &'static Resource,
    setup: WatchSetup,
    initial: std::vec::IntoIter<Arc<CachedObject>>,
    backlog: std::vec::IntoIter<WatchMessage>,
    end_bookmark_pending: bool,
    bookmarks: bool,
    /// The end of the watch (its timeout); one timer for the stream's whole life.
    deadline: Deadline,
    /// Ended early (the live channel closed while a chunk was being gathered).
    ended: bool,
    table: Option<IncludeObject>,
}

impl State {
    fn render(&self, message: WatchMessage) -> Option<Bytes> {
        match message {
            WatchMessage::Event(e, t) => Some(match self.table {
                None => e.frame(t),
                Some(include) => table_frame(self.r, t.as_str(), &e.object_json(t), include),
            }),
            WatchMessage::Bookmark(revision) => self.bookmarks.then(|| bookmark(self.r, revision, false)),
        }
    }

    /// The next line if one is ready now: `Some(None)` when the stream is over. Never waits,
    /// and never polls the deadline (a timer polled with a throwaway waker is a timer wasted).
    fn ready(&mut self) -> Option<Option<Bytes>> {
        if self.ended {
            return Some(None);
        }
        if let Some(o) = self.initial.next() {
            return Some(Some(match self.table {
                None => o.watch_line(EventType::Added.as_str(), o.revision),
                Some(include) => table_frame(self.r, "ADDED", &o.json(), include),
            }));
        }
        if self.end_bookmark_pending {
            self.end_bookmark_pending = false;
            return Some(Some(bookmark(self.r, self.setup.subscription.revision, true)));
        }
        while let Some(m) = self.backlog.next() {
            if let Some(b) = self.render(m) {
                return Some(Some(b));
            }
        }
        if self.deadline.is_due() {
            return Some(None);
        }
        loop {
            match self.setup.subscription.live.try_recv() {
                Ok(m) => {
                    if let Some(b) = self.render(m) {
                        return Some(Some(b));
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(None),
            }
        }
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(line) = self.ready() {
                return line;
            }
            let message = tokio::select! {
                m = self.setup.subscription.live.recv() => m?,
                () = &mut self.deadline => return None,
            };
            if let Some(b) = self.render(message) {
                return Some(b);
            }
        }
    }
}

/// The streaming response of a watch.
pub fn response(
    r: &'static Resource,
    mut setup: WatchSetup,
    timeout: Duration,
    bookmarks: bool,
    table: Option<IncludeObject>,
) -> Response<Body> {
    let initial = std::mem::take(&mut setup.subscription.initial).into_iter();
    let backlog = std::mem::take(&mut setup.subscription.backlog).into_iter();
    let state = State {
        r,
        end_bookmark_pending: setup.initial_events_end,
        setup,
        initial,
        backlog,
        bookmarks,
        deadline: Deadline::after(timeout),
        ended: false,
        table,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        let first = s.next().await?;
        // Whatever else is ready goes out in the same chunk: one write instead of many (and under
        // madsim one message; each simulated TCP stream carries at most ~1,000 per second).
        // The lines are gathered first and copied once into a chunk of the exact size: growing
        // the chunk by doubling reallocated (and touched fresh memory) several times per chunk.
        let mut size = first.len();
        let mut more = Vec::new();
        while size < WATCH_CHUNK_MAX_BYTES {
            match s.ready() {
                Some(Some(line)) => {
                    size += line.len();
                    more.push(line);
                }
                Some(None) => {
                    s.ended = true; // the next poll ends the body
                    break;
                }
                None => break,
            }
        }
        let b = if more.is_empty() {
            first
        } else {
            let mut chunk = Vec::with_capacity(size);
            chunk.extend_from_slice(&first);
            for line in &more {
                chunk.extend_from_slice(line);
            }
            Bytes::from(chunk)
        };
        Some((Ok::<_, Infallible>(Frame::data(b)), s))
    });
    let mut resp = Response::new(BodyExt::boxed_unsync(StreamBody::new(StreamExt::boxed(stream))));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    resp
}

/// A watch that only reports an error: 200 with one ERROR event carrying the Status.
pub fn error_only(e: &ApiError) -> Response<Body> {
    let body = frame("ERROR", e.to_status().to_string().as_bytes());
    let mut resp = Response::new(http_body_util::Full::new(body).boxed_unsync());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
