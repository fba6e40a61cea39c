//! Request latency per verb, recorded by the client (hdrhistogram, microseconds): what a load
//! report's API latency table comes from.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::api::request_info::{self, RequestInfo};

/// Latency histograms by Kubernetes verb (`create`, `get`, `list`, `update`, `patch`, ...).
#[derive(Default)]
pub struct ClientMetrics {
    by_verb: Mutex<BTreeMap<String, hdrhistogram::Histogram<u64>>>,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetrics").finish_non_exhaustive()
    }
}

/// Percentiles of one verb, in milliseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VerbLatency {
    /// The verb.
    pub verb: String,
    /// Requests recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl ClientMetrics {
    /// Records one request (subresources are named `verb resource/sub`, e.g. `create pods/binding`).
    pub fn record(&self, method: &http::Method, path_and_query: &str, elapsed: Duration) {
        let (path, query) =
            path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let verb = match request_info::parse(method, path, query) {
            Ok(RequestInfo::Resource(r)) => match &r.subresource {
                Some(sub) => format!("{} {sub}", r.verb.as_str()),
                None => r.verb.as_str().to_owned(),
            },
            _ => method.as_str().to_lowercase(),
        };
        let mut by_verb = self.by_verb.lock();
        let h = by_verb
            .entry(verb)
            .or_insert_with(|| hdrhistogram::Histogram::new(3).expect("3 significant digits"));
        let _ = h.record(elapsed.as_micros().max(1) as u64);
    }

    /// The percentiles of every verb seen, sorted by verb.
    pub fn summary(&self) -> Vec<VerbLatency> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.by_verb
            .lock()
            .iter()
            .map(|(verb, h)| VerbLatency {
                verb: verb.clone(),
                count: h.len(),
                p50_ms: ms(h.value_at_quantile(0.5)),
                p90_ms: ms(h.value_at_quantile(0.9)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect()
    }
}
