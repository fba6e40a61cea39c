//! An informer: list, then watch from the list's version with bookmarks, resuming from the last
//! version seen after every break, and relisting on 410 — client-go's reflector, over
//! [`ApiClient`]. Events go to a bounded channel; the informer stops when the receiver is dropped.
//!
//! Every read has a deadline: a partition stalls a simulated TCP stream instead of breaking it, so
//! a watch that says nothing (not even a bookmark) for `idle_timeout` is abandoned and resumed.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::client::{ApiClient, ClientError};

/// What an informer reports.
#[derive(Clone, Debug, PartialEq)]
pub enum InformerEvent {
    /// A full list (first, and after every relist): the consumer replaces its state.
    Relisted {
        /// Every object.
        items: Vec<Value>,
        /// The list's resourceVersion.
        resource_version: String,
    },
    /// An object was added or changed.
    Applied(Value),
    /// An object was deleted (its last state).
    Deleted(Value),
}

/// What to watch and how patiently. Defaults in the doc of each field.
#[derive(Clone, Debug)]
pub struct InformerConfig {
    /// Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/kube-node-lease/...`.
    pub path: String,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `timeoutSeconds` of each watch request. Default 300 (client-go uses 300–600).
    pub watch_timeout_seconds: u64,
    /// A watch silent for this long is abandoned and resumed. Default 90 s (bookmarks come every
    /// minute).
    pub idle_timeout: Duration,
    /// Wait before retrying after a failure (doubling up to 8×). Default 500 ms.
    pub retry_backoff: Duration,
}

impl InformerConfig {
    /// An informer of `path` with default timings.
    pub fn new(path: impl Into<String>) -> Self {
        InformerConfig {
            path: path.into(),
            field_selector: None,
            label_selector: None,
            watch_timeout_seconds: 300,
            idle_timeout: Duration::from_secs(90),
            retry_backoff: Duration::from_millis(500),
        }
    }

    fn query(&self, extra: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(f) = &self.field_selector {
            q.append_pair("fieldSelector", f);
        }
        if let Some(l) = &self.label_selector {
            q.append_pair("labelSelector", l);
        }
        let q = q.finish();
        match (q.is_empty(), extra.is_empty()) {
            (true, _) => format!("{}?{extra}", self.path),
            (false, true) => format!("{}?{q}", self.path),
            (false, false) => format!("{}?{q}&{extra}", self.path),
        }
    }
}

/// Why a watch ended.
enum WatchEnd {
    /// Resume from the last version.
    Resume,
    /// The version is too old: relist.
    Gone,
    /// The consumer went away.
    Closed,
}

fn resource_version(obj: &Value) -> Option<String> {
    obj["metadata"]["resourceVersion"].as_str().map(str::to_owned)
}

/// Runs the informer until `tx` is closed.
pub async fn run(client: ApiClient, config: InformerConfig, tx: mpsc::Sender<InformerEvent>) {
    let mut backoff = config.retry_backoff;
    'relist: loop {
        let (items, mut rv) = match list(&client, &config).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(path = %config.path, error = %e, "informer list failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(config.retry_backoff * 8);
                continue;
            }
        };
        if tx.send(InformerEvent::Relisted { items, resource_version: rv.clone() }).await.is_err() {
            return;
        }
        backoff = config.retry_backoff;
        loop {
            match watch(&client, &config, &mut rv, &tx).await {
                Ok(WatchEnd::Resume) => backoff = config.retry_backoff,
                Ok(WatchEnd::Gone) => continue 'relist,
                Ok(WatchEnd::Closed) => return,
                Err(e) => {
                    tracing::debug!(path = %config.path, error = %e, "informer watch failed; resuming");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(config.retry_backoff * 8);
                }
            }
            if tx.is_closed() {
                return;
            }
        }
    }
}

async fn list(client: &ApiClient, config: &InformerConfig) -> Result<(Vec<Value>, String), String> {
    // resourceVersion=0: served from the watch cache, whole (as client-go's first list).
    let resp = client.get(&config.query("resourceVersion=0")).await.map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("list {}: {} {}", config.path, resp.status, String::from_utf8_lossy(&resp.body)));
    }
    let mut v = resp.json().map_err(|e| e.to_string())?;
    let rv = resource_version(&v).unwrap_or_default();
    let items = match v.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    Ok((items, rv))
}

async fn watch(
    client: &ApiClient,
    config: &InformerConfig,
    rv: &mut String,
    tx: &mpsc::Sender<InformerEvent>,
) -> Result<WatchEnd, ClientError> {
    let extra = format!(
        "watch=true&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
        config.watch_timeout_seconds, rv
    );
    let mut lines = client.watch(&config.query(&extra)).await?;
    if lines.status == 410 {
        return Ok(WatchEnd::Gone);
    }
    if lines.status != 200 {
        return Err(ClientError::Transport(format!("watch answered {}", lines.status)));
    }
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(config.idle_timeout, lines.next_line()) => read,
            () = tx.closed() => return Ok(WatchEnd::Closed),
        };
        let line = match read {
            Err(_) => return Ok(WatchEnd::Resume),
            Ok(None) => return Ok(WatchEnd::Resume),
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(line))) => line,
        };
        if line.is_empty() {
            continue;
        }
        let mut event: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => return Err(ClientError::Transport(format!("undecodable watch event: {e}"))),
        };
        let object = event.get_mut("object").map(Value::take).unwrap_or(Value::Null);
        let out = match event["type"].as_str() {
            Some("ADDED") | Some("MODIFIED") => InformerEvent::Applied(object),
            Some("DELETED") => InformerEvent::Deleted(object),
            Some("BOOKMARK") => {
                if let Some(v) = resource_version(&object) {
                    *rv = v;
                }
                continue;
            }
            Some("ERROR") => {
                return match object["code"].as_i64() {
                    Some(410) => Ok(WatchEnd::Gone),
                    _ => Err(ClientError::Transport(format!("watch error: {}", object["message"]))),
                };
            }
            other => return Err(ClientError::Transport(format!("unknown watch event type {other:?}"))),
        };
        if let InformerEvent::Applied(o) | InformerEvent::Deleted(o) = &out {
            if let Some(v) = resource_version(o) {
                *rv = v;
            }
        }
        if tx.send(out).await.is_err() {
            return Ok(WatchEnd::Closed);
        }
    }
}
