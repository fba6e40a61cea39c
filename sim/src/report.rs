//! The report of a run: reports/<scenario>/<seed>.json and .md. Everything but the `cost` section
//! is a pure function of (scenario, seed): the same seed gives byte-identical JSON apart from
//! `cost`, and `digest` (SHA-256 of the whole history) is what the determinism check compares.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkers::Violation;
use crate::history::{Entry, History, Time};
use crate::metrics::Metrics;
use crate::scenario::Scenario;

/// History entries shown on each side of a violation.
pub const EXCERPT_RADIUS: usize = 6;
/// Violations written out in full (the count is always exact).
pub const VIOLATIONS_SHOWN: usize = 50;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No violation.
    Pass,
    /// A safety checker failed.
    SafetyViolation,
    /// Only liveness failed (some pod never reached its expected phase).
    LivenessFailure,
    /// No violation, but a metric broke the scenario's budget.
    BudgetBreach,
}

/// One budget and how the run did against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetResult {
    /// The metric, as named in the scenario's `[budgets]`.
    pub metric: String,
    /// The run's value.
    pub value: f64,
    /// The budget.
    pub budget: f64,
    /// Over budget (under, for a minimum).
    pub breached: bool,
}

/// One violation with the history around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportedViolation {
    /// The checker (named after its guarantee).
    pub checker: String,
    /// Simulated seconds.
    pub time_s: f64,
    /// What is wrong.
    pub message: String,
    /// Index of the offending history entry.
    pub entry: usize,
    /// Entries around it (index, entry).
    pub excerpt: Vec<(usize, Entry)>,
}

/// What the run cost on this machine: excluded from the digest and from byte-identity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Wall-clock seconds of the simulation (excluding the checkers).
    pub wall_s: f64,
    /// Wall-clock seconds of the checkers and metrics.
    pub check_wall_s: f64,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    /// Peak resident memory of the process, MiB (VmHWM; with several seeds in one process it is
    /// the peak so far).
    pub peak_rss_mib: f64,
    /// History entries recorded.
    pub history_entries: u64,
    /// Messages the simulated network carried.
    pub net_messages: u64,
}

/// A run's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// kubesim's version.
    pub version: String,
    /// The scenario, fully resolved (every default filled in): replay needs nothing else.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// SHA-256 of the history.
    pub digest: String,
    /// How it ended.
    pub verdict: Verdict,
    /// Faults applied.
    pub faults_applied: u32,
    /// The run ended at checks.max_duration_s before every pod settled.
    pub timed_out: bool,
    /// Headline metrics.
    pub metrics: Metrics,
    /// Each budget the scenario sets, judged.
    pub budgets: Vec<BudgetResult>,
    /// Violations found, in full count.
    pub violation_count: usize,
    /// Violations per checker.
    pub violations_by_checker: std::collections::BTreeMap<String, usize>,
    /// The first violations with history excerpts.
    pub violations: Vec<ReportedViolation>,
    /// Commands that re-run exactly this.
    pub replay: Vec<String>,
    /// Cost on this machine (not deterministic; not digested).
    pub cost: Cost,
}

/// SHA-256 of the history, entry by entry.
pub fn digest(history: &History) -> String {
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(256);
    for e in &history.entries {
        buf.clear();
        serde_json::to_writer(&mut buf, e).expect("history entries serialize");
        buf.push(b'\n');
        h.update(&buf);
    }
    hex::encode(h.finalize())
}

fn secs(t: Time) -> f64 {
    (t as f64 / 1e6).round() / 1e3
}

/// The verdict for a set of violations.
pub fn verdict(violations: &[Violation]) -> Verdict {
    if violations.is_empty() {
        Verdict::Pass
    } else if violations.iter().all(|v| v.checker == "liveness-after-healing") {
        Verdict::LivenessFailure
    } else {
        Verdict::SafetyViolation
    }
}

/// Violations with excerpts.
pub fn reported(history: &History, violations: &[Violation]) -> Vec<ReportedViolation> {
    violations
        .iter()
        .take(VIOLATIONS_SHOWN)
        .map(|v| {
            let lo = v.entry.saturating_sub(EXCERPT_RADIUS);
            let hi = (v.entry + EXCERPT_RADIUS + 1).min(history.entries.len());
            ReportedViolation {
                checker: v.checker.to_owned(),
                time_s: secs(v.time),
                message: v.message.clone(),
                entry: v.entry,
                excerpt: (lo..hi).map(|i| (i, history.entries[i].clone())).collect(),
            }
        })
        .collect()
}

/// Peak resident memory of this process in MiB (Linux; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0.0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}

impl Report {
    /// Where the report of (scenario, seed) goes under `dir`.
    pub fn paths(dir: &Path, scenario: &str, seed: u64) -> (PathBuf, PathBuf) {
        let base = dir.join(scenario);
        (base.join(format!("{seed}.json")), base.join(format!("{seed}.md")))
    }

    /// Writes JSON and Markdown; returns the JSON path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let (json, md) = Report::paths(dir, &self.scenario.name, self.seed);
        std::fs::create_dir_all(json.parent().expect("report path has a parent"))?;
        let mut f = std::fs::File::create(&json)?;
        serde_json::to_writer_pretty(&mut f, self)?;
        f.write_all(b"\n")?;
        std::fs::write(&md, self.markdown())?;
        Ok(json)
    }

    /// Reads a report back (for replay).
    pub fn read(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not a kubesim-sim report: {e}", path.display()))
    }

    /// The report with the cost section cleared (what must be byte-identical across runs).
    pub fn deterministic_json(&self) -> String {
        let mut r = self.clone();
        r.cost = Cost::default();
        serde_json::to_string(&r).expect("reports serialize")
    }

    /// The Markdown rendering.
    pub fn markdown(&self) -> String {
        let m = &self.metrics;
        let mut s = String::new();
        let verdict = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::SafetyViolation => "SAFETY VIOLATION",
            Verdict::LivenessFailure => "LIVENESS FAILURE",
            Verdict::BudgetBreach => "BUDGET BREACH",
        };
        s += &format!("# {} seed {} — {verdict}\n\n", self.scenario.name, self.seed);
        if !self.scenario.description.is_empty() {
            s += &format!("{}\n\n", self.scenario.description);
        }
        s += &format!("- version {}, digest `{}`\n", self.version, self.digest);
        s += &format!(
            "- {} API servers, {} schedulers ({:?}), {} kubelets; {} faults applied{}\n",
            self.scenario.topology.apiservers,
            self.scenario.topology.schedulers,
            self.scenario.topology.scheduler_mode,
            self.scenario.topology.kubelets,
            self.faults_applied,
            if self.timed_out { "; TIMED OUT before every pod settled" } else { "" }
        );
        s += &format!("- replay: `{}`\n\n", self.replay.join("` or `"));
        s += "## Throughput\n\n| metric | value |\n|---|---|\n";
        s += &format!("| simulated seconds | {} (workload {}) |\n", m.simulated_s, m.workload_s);
        s += &format!(
            "| pods created / running / completed / deleted | {} / {} / {} / {} |\n",
            m.pods_created, m.pods_running, m.pods_completed, m.pods_deleted
        );
        s += &format!("| pods Running per simulated second | {} |\n", m.pods_per_s);
        s += &format!("| API requests per simulated second | {} |\n", m.requests_per_s);
        s += &format!(
            "| store commits | {} |\n| watch events delivered | {} |\n\n",
            m.commits, m.watch_events
        );
        s += "## Latency (simulated ms)\n\n| what | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n";
        let row = |name: &str, p: &crate::metrics::Percentiles| {
            format!(
                "| {name} | {} | {} | {} | {} | {} | {} |\n",
                p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
            )
        };
        s += &row("pod startup (created → Running seen)", &m.pod_startup);
        s += &row("watch (commit → delivery)", &m.watch_latency);
        for (verb, p) in &m.api_latency {
            s += &row(&format!("API {verb}"), p);
        }
        if !self.budgets.is_empty() {
            s += "\n## Budgets\n\n| metric | value | budget | |\n|---|---|---|---|\n";
            for b in &self.budgets {
                let mark = if b.breached { "BREACHED" } else { "ok" };
                s += &format!("| {} | {} | {} | {mark} |\n", b.metric, b.value, b.budget);
            }
        }
        s += "\n## Violations\n\n";
        if self.violation_count == 0 {
            s += "None.\n";
        } else {
            s += &format!("{} in all:", self.violation_count);
            for (c, n) in &self.violations_by_checker {
                s += &format!(" {c} {n};");
            }
            s += "\n\n";
            for v in &self.violations {
                s += &format!("### {} at {} s\n\n{}\n\n```\n", v.checker, v.time_s, v.message);
                for (i, e) in &v.excerpt {
                    let mark = if *i == v.entry { ">>" } else { "  " };
                    s += &format!("{mark} {i:>8} {}\n", serde_json::to_string(e).unwrap_or_default());
                }
                s += "```\n\n";
            }
        }
        let c = &self.cost;
        s += &format!(
            "\n## Cost on this machine\n\nwall {} s (+{} s checking), {}× real time, peak RSS {} MiB, {} history entries, {} network messages\n",
            c.wall_s, c.check_wall_s, c.speedup, c.peak_rss_mib, c.history_entries, c.net_messages
        );
        s
    }
}
