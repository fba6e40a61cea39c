//! Prometheus metrics of the API server: requests and latency histograms by verb, resource and
//! code, in Prometheus' text format for /metrics.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use parking_lot::Mutex;

/// Latency buckets in seconds (kube-apiserver's apiserver_request_duration_seconds, abridged).
const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    rejected_inflight: BTreeMap<&'static str, u64>,
    gauges: BTreeMap<String, f64>,
}

/// The metrics registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        let mut inner = self.inner.lock();
        *inner.requests.entry((verb.to_owned(), resource.to_owned(), code)).or_default() += 1;
        let h = inner.latency.entry((verb.to_owned(), resource.to_owned())).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts a request rejected by the in-flight limits (`readOnly` or `mutating`).
    pub fn rejected(&self, kind: &'static str) {
        *self.inner.lock().rejected_inflight.entry(kind).or_default() += 1;
    }

    /// Sets a gauge (name with labels, e.g. `apiserver_watch_cache_objects{resource="pods"}`).
    pub fn set_gauge(&self, name_and_labels: String, value: f64) {
        self.inner.lock().gauges.insert(name_and_labels, value);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_request_total Counter of apiserver requests by verb, resource and code.\n",
        );
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), n) in &inner.requests {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",resource=\"{resource}\",verb=\"{verb}\"}} {n}"
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency by verb and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, resource), h) in &inner.latency {
            let labels = format!("resource=\"{resource}\",verb=\"{verb}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        out.push_str("# HELP apiserver_dropped_requests_total Requests rejected by the in-flight limits.\n");
        out.push_str("# TYPE apiserver_dropped_requests_total counter\n");
        for (kind, n) in &inner.rejected_inflight {
            let _ = writeln!(out, "apiserver_dropped_requests_total{{request_kind=\"{kind}\"}} {n}");
        }
        for (name, v) in &inner.gauges {
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record("create", "pods", 201, Duration::from_millis(3));
        m.record("create", "pods", 201, Duration::from_millis(300));
        let text = m.render();
        assert!(text.contains("apiserver_request_total{code=\"201\",resource=\"pods\",verb=\"create\"} 2"));
        assert!(text.contains(
            "apiserver_request_duration_seconds_bucket{resource=\"pods\",verb=\"create\",le=\"0.005\"} 1"
        ));
        assert!(
            text.contains("apiserver_request_duration_seconds_count{resource=\"pods\",verb=\"create\"} 2")
        );
    }
}
