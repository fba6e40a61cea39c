//! Baselines: what a scenario's pinned seeds measured when someone last said "this is right"
//! (reports/baselines/<scenario>.json, committed). Simulated time makes every figure exact per
//! seed, so a difference is never noise: it is a change in kubesim that either is explained (and
//! the baseline refreshed on purpose with `cargo sim baseline`) or is a regression.
//!
//! Runs are compared metric by metric on the median over seeds; a metric has changed when it
//! moved by more than the scenario's `baseline.tolerance_pct` and by more than
//! [`ABSOLUTE_FLOOR`] in its own unit.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::report::Report;
use crate::scenario::Scenario;

/// Moves smaller than this, in the metric's own unit (ms, pods/s, s), are never a change: a
/// percentage of a tiny figure (a 0.3 ms GET) would otherwise flag harmless shifts.
pub const ABSOLUTE_FLOOR: f64 = 0.5;

/// A committed baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The scenario, resolved, as it was when the baseline was made.
    pub scenario: Scenario,
    /// kubesim's version then.
    pub version: String,
    /// One run per pinned seed.
    pub runs: Vec<BaselineRun>,
}

/// One seed of a baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineRun {
    /// The seed.
    pub seed: u64,
    /// The history digest (equal digests: nothing changed at all).
    pub digest: String,
    /// The run's metrics.
    pub metrics: Metrics,
}

impl Baseline {
    /// A baseline from the reports of the scenario's pinned seeds.
    pub fn from_reports(scenario: &Scenario, reports: &[Report]) -> Baseline {
        Baseline {
            scenario: scenario.clone(),
            version: reports.first().map_or_else(String::new, |r| r.version.clone()),
            runs: reports
                .iter()
                .map(|r| BaselineRun { seed: r.seed, digest: r.digest.clone(), metrics: r.metrics.clone() })
                .collect(),
        }
    }

    /// reports/baselines/<scenario>.json.
    pub fn path(dir: &Path, scenario: &str) -> std::path::PathBuf {
        dir.join(format!("{scenario}.json"))
    }
}

/// Runs to compare: from a baseline file, one report, or a directory of reports.
#[derive(Clone, Debug)]
pub struct Runs {
    /// Where they came from, for the table's header.
    pub source: String,
    /// The scenario (from the baseline or the first report).
    pub scenario: Option<Scenario>,
    /// (seed, digest, metrics), by seed.
    pub runs: Vec<(u64, String, Metrics)>,
}

impl Runs {
    /// Reads a baseline, a report, or every report in a directory.
    pub fn load(path: &Path) -> Result<Runs, String> {
        let source = path.display().to_string();
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| format!("{source}: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            let reports = files.iter().map(|p| Report::read(p)).collect::<Result<Vec<_>, _>>()?;
            if reports.is_empty() {
                return Err(format!("{source}: no reports (*.json) in it"));
            }
            return Ok(Runs::from_reports(source, &reports));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{source}: {e}"))?;
        if let Ok(b) = serde_json::from_str::<Baseline>(&text) {
            let runs = b.runs.into_iter().map(|r| (r.seed, r.digest, r.metrics)).collect();
            return Ok(Runs { source, scenario: Some(b.scenario), runs });
        }
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| format!("{source}: neither a baseline nor a report: {e}"))?;
        Ok(Runs::from_reports(source, std::slice::from_ref(&report)))
    }

    /// Runs from reports already read.
    pub fn from_reports(source: String, reports: &[Report]) -> Runs {
        let mut runs: Vec<_> =
            reports.iter().map(|r| (r.seed, r.digest.clone(), r.metrics.clone())).collect();
        runs.sort_by_key(|r| r.0);
        Runs { source, scenario: reports.first().map(|r| r.scenario.clone()), runs }
    }

    fn seeds(&self) -> Vec<u64> {
        self.runs.iter().map(|r| r.0).collect()
    }
}

/// Which way is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Latencies, durations.
    Lower,
    /// Throughput, pods that made it.
    Higher,
}

/// The metrics a comparison watches: (name, value, which way is better). Absent verbs are left out.
pub fn watched(m: &Metrics) -> Vec<(String, f64, Better)> {
    let mut out = vec![
        ("pods_running".to_owned(), f64::from(m.pods_running), Better::Higher),
        ("pods_per_s".to_owned(), m.pods_per_s, Better::Higher),
        ("simulated_s".to_owned(), m.simulated_s, Better::Lower),
        ("pod_startup_p50_ms".to_owned(), m.pod_startup.p50_ms, Better::Lower),
        ("pod_startup_p99_ms".to_owned(), m.pod_startup.p99_ms, Better::Lower),
        ("watch_p50_ms".to_owned(), m.watch_latency.p50_ms, Better::Lower),
        ("watch_p99_ms".to_owned(), m.watch_latency.p99_ms, Better::Lower),
    ];
    for (verb, p) in &m.api_latency {
        out.push((format!("{verb}_p50_ms"), p.p50_ms, Better::Lower));
        out.push((format!("{verb}_p99_ms"), p.p99_ms, Better::Lower));
    }
    out
}

/// How a metric moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Within tolerance.
    Same,
    /// Better beyond tolerance.
    Better,
    /// Worse beyond tolerance: a regression.
    Worse,
    /// Present on one side only.
    Missing,
}

/// One metric of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The metric.
    pub metric: String,
    /// Median over the base runs.
    pub base: Option<f64>,
    /// Median over the new runs.
    pub new: Option<f64>,
    /// How it moved.
    pub change: Change,
}

/// A comparison of two sets of runs.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Metric by metric.
    pub rows: Vec<Row>,
    /// The tolerance used.
    pub tolerance_pct: f64,
    /// Lines about the inputs (different seeds, identical digests, …).
    pub notes: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Compares `new` with `base`, metric by metric, on medians over each side's runs.
pub fn compare(base: &Runs, new: &Runs, tolerance_pct: f64) -> Comparison {
    let collect = |runs: &Runs| {
        let mut by_metric: std::collections::BTreeMap<String, (Vec<f64>, Better)> = Default::default();
        let mut order = Vec::new();
        for (_, _, m) in &runs.runs {
            for (name, value, better) in watched(m) {
                if !by_metric.contains_key(&name) {
                    order.push(name.clone());
                }
                by_metric.entry(name).or_insert_with(|| (Vec::new(), better)).0.push(value);
            }
        }
        (order, by_metric)
    };
    let (mut order, base_m) = collect(base);
    let (new_order, new_m) = collect(new);
    for name in new_order {
        if !base_m.contains_key(&name) {
            order.push(name);
        }
    }
    let mut rows = Vec::new();
    for metric in order {
        let b = base_m.get(&metric);
        let n = new_m.get(&metric);
        let better = b.or(n).map_or(Better::Lower, |x| x.1);
        let bv = b.map(|x| median(x.0.clone()));
        let nv = n.map(|x| median(x.0.clone()));
        let change = match (bv, nv) {
            (Some(b), Some(n)) => {
                let moved = (n - b).abs();
                if moved <= ABSOLUTE_FLOOR || moved <= b.abs() * tolerance_pct / 100.0 {
                    Change::Same
                } else if (n < b) == (better == Better::Lower) {
                    Change::Better
                } else {
                    Change::Worse
                }
            }
            _ => Change::Missing,
        };
        rows.push(Row { metric, base: bv, new: nv, change });
    }
    let mut notes = Vec::new();
    if base.seeds() != new.seeds() {
        notes.push(format!("seeds differ: base {:?}, new {:?}", base.seeds(), new.seeds()));
    } else if base.runs.iter().zip(&new.runs).all(|(a, b)| a.1 == b.1) {
        notes.push("identical history digests: the runs are the same".into());
    }
    if let (Some(a), Some(b)) = (&base.scenario, &new.scenario) {
        if a != b {
            notes.push("the scenario differs from the base's".into());
        }
    }
    Comparison { rows, tolerance_pct, notes }
}

impl Comparison {
    /// Metrics worse beyond tolerance.
    pub fn regressions(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.change == Change::Worse).collect()
    }

    /// Metrics that moved beyond tolerance either way, or appeared or vanished.
    pub fn changes(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.change != Change::Same).collect()
    }

    /// An aligned table: metric, base, new, delta, verdict.
    pub fn table(&self) -> String {
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        let mut out = format!(
            "{:<24} {:>12} {:>12} {:>9}  (tolerance {}%, floor {ABSOLUTE_FLOOR})\n",
            "metric", "base", "new", "delta", self.tolerance_pct
        );
        for r in &self.rows {
            let delta = match (r.base, r.new) {
                (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n - b) / b.abs() * 100.0),
                (Some(b), Some(n)) => format!("{:+.3}", n - b),
                _ => "-".into(),
            };
            let verdict = match r.change {
                Change::Same => "",
                Change::Better => "better",
                Change::Worse => "REGRESSION",
                Change::Missing => "missing on one side",
            };
            out.push_str(&format!(
                "{:<24} {:>12} {:>12} {:>9}  {verdict}\n",
                r.metric,
                fmt(r.base),
                fmt(r.new),
                delta
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Percentiles;

    fn runs(values: &[(u64, f64, f64)]) -> Runs {
        let runs = values
            .iter()
            .map(|&(seed, p99, pods_per_s)| {
                let mut m = Metrics { pods_per_s, pods_running: 100, ..Metrics::default() };
                m.api_latency.insert("mutating".into(), Percentiles { p99_ms: p99, ..Default::default() });
                (seed, format!("d{seed}-{p99}"), m)
            })
            .collect();
        Runs { source: "test".into(), scenario: None, runs }
    }

    fn row<'a>(c: &'a Comparison, metric: &str) -> &'a Row {
        c.rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn a_slower_write_beyond_tolerance_is_a_regression() {
        let base = runs(&[(1, 20.0, 50.0), (2, 22.0, 50.0), (3, 40.0, 50.0)]);
        let new = runs(&[(1, 25.0, 50.0), (2, 26.0, 50.0), (3, 30.0, 50.0)]);
        let c = compare(&base, &new, 10.0);
        let r = row(&c, "mutating_p99_ms");
        assert_eq!((r.base, r.new), (Some(22.0), Some(26.0)), "medians over seeds");
        assert_eq!(r.change, Change::Worse);
        assert_eq!(c.regressions().len(), 1);
        assert!(c.table().contains("REGRESSION"), "{}", c.table());
    }

    #[test]
    fn within_tolerance_or_under_the_floor_is_the_same() {
        let base = runs(&[(1, 20.0, 50.0)]);
        let c = compare(&base, &runs(&[(1, 21.9, 50.0)]), 10.0);
        assert!(c.changes().is_empty(), "{}", c.table());
        // 50% of a tiny figure is under the absolute floor.
        let c = compare(&runs(&[(1, 0.4, 50.0)]), &runs(&[(1, 0.6, 50.0)]), 10.0);
        assert!(c.changes().is_empty(), "{}", c.table());
    }

    #[test]
    fn direction_depends_on_the_metric() {
        let base = runs(&[(1, 20.0, 50.0)]);
        let c = compare(&base, &runs(&[(1, 10.0, 40.0)]), 10.0);
        assert_eq!(row(&c, "mutating_p99_ms").change, Change::Better);
        assert_eq!(row(&c, "pods_per_s").change, Change::Worse, "less throughput is worse");
        assert_eq!(c.changes().len(), 2);
    }

    #[test]
    fn a_metric_on_one_side_only_is_a_change_and_seeds_are_noted() {
        let base = runs(&[(1, 20.0, 50.0)]);
        let mut new = runs(&[(2, 20.0, 50.0)]);
        new.runs[0].2.api_latency.insert("get".into(), Percentiles::default());
        let c = compare(&base, &new, 10.0);
        assert_eq!(row(&c, "get_p99_ms").change, Change::Missing);
        assert!(c.notes.iter().any(|n| n.contains("seeds differ")), "{:?}", c.notes);
    }

    #[test]
    fn a_baseline_file_round_trips_through_load() {
        let dir = std::env::temp_dir().join(format!("kubesim-baseline-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let b = Baseline {
            scenario: Scenario::default(),
            version: "0".into(),
            runs: vec![BaselineRun { seed: 7, digest: "abc".into(), metrics: Metrics::default() }],
        };
        let path = Baseline::path(&dir, "x");
        std::fs::write(&path, serde_json::to_string_pretty(&b).unwrap()).unwrap();
        let r = Runs::load(&path).unwrap();
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.runs[0].0, 7);
        assert_eq!(r.scenario, Some(Scenario::default()));
        std::fs::write(&path, "{}").unwrap();
        assert!(Runs::load(&path).unwrap_err().contains("neither a baseline nor a report"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
