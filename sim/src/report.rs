//! The report of a run: reports/<scenario>/<seed>.json and .md, plus a self-contained
//! `<seed>.html` (inline CSS and SVG, no network, no script) and the charts as
//! `<seed>-{latency,throughput,watch}.svg` for the Markdown. Everything but the `cost` section
//! is a pure function of (scenario, seed): the same seed gives byte-identical JSON apart from
//! `cost`, and `digest` (SHA-256 of the whole history) is what the determinism check compares.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkers::Violation;
use crate::history::{Entry, History, Time};
use crate::metrics::{Metrics, Percentiles};
use crate::plot::Charts;
use crate::scenario::Scenario;
use crate::timeline::Timeline;

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
    /// Wall-clock seconds of the checkers, metrics and timeline.
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
    /// The run over simulated time, per bucket (what the charts draw); deterministic like the
    /// metrics. Absent from reports written before it existed.
    #[serde(default)]
    pub timeline: Timeline,
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

    /// Writes JSON, Markdown, HTML and the SVG charts; returns the JSON path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let (json, md) = Report::paths(dir, &self.scenario.name, self.seed);
        std::fs::create_dir_all(json.parent().expect("report path has a parent"))?;
        let mut f = std::fs::File::create(&json)?;
        serde_json::to_writer_pretty(&mut f, self)?;
        f.write_all(b"\n")?;
        std::fs::write(&md, self.markdown())?;
        let charts = crate::plot::charts(&self.timeline).map_err(std::io::Error::other)?;
        for (name, _, svg) in charts.named() {
            std::fs::write(md.with_file_name(chart_file(self.seed, name)), svg)?;
        }
        std::fs::write(md.with_extension("html"), self.html(&charts))?;
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

    /// The verdict in capitals, as the reports print it.
    fn verdict_text(&self) -> &'static str {
        match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::SafetyViolation => "SAFETY VIOLATION",
            Verdict::LivenessFailure => "LIVENESS FAILURE",
            Verdict::BudgetBreach => "BUDGET BREACH",
        }
    }

    /// The topology line shared by the Markdown and the HTML.
    fn topology_text(&self) -> String {
        format!(
            "{} API servers, {} schedulers ({:?}), {} kubelets; {} faults applied{}",
            self.scenario.topology.apiservers,
            self.scenario.topology.schedulers,
            self.scenario.topology.scheduler_mode,
            self.scenario.topology.kubelets,
            self.faults_applied,
            if self.timed_out { "; TIMED OUT before every pod settled" } else { "" }
        )
    }

    /// (metric, value) rows of the throughput table.
    fn throughput_rows(&self) -> Vec<(&'static str, String)> {
        let m = &self.metrics;
        vec![
            ("simulated seconds", format!("{} (workload {})", m.simulated_s, m.workload_s)),
            (
                "pods created / running / completed / deleted",
                format!(
                    "{} / {} / {} / {}",
                    m.pods_created, m.pods_running, m.pods_completed, m.pods_deleted
                ),
            ),
            ("pods Running per simulated second", m.pods_per_s.to_string()),
            ("API requests per simulated second", m.requests_per_s.to_string()),
            ("store commits", m.commits.to_string()),
            ("watch events delivered", m.watch_events.to_string()),
        ]
    }

    /// (what, percentiles) rows of the latency table.
    fn latency_rows(&self) -> Vec<(String, &Percentiles)> {
        let m = &self.metrics;
        let mut rows = vec![
            ("pod startup (created → Running seen)".to_owned(), &m.pod_startup),
            ("watch (commit → delivery)".to_owned(), &m.watch_latency),
        ];
        rows.extend(m.api_latency.iter().map(|(verb, p)| (format!("API {verb}"), p)));
        rows
    }

    /// A fault's interval for the fault lists: `2.001 – 8.001 s` or `9.0 s`.
    fn fault_when(start_s: f64, end_s: Option<f64>) -> String {
        match end_s {
            Some(e) => format!("{start_s} – {e} s"),
            None => format!("{start_s} s"),
        }
    }

    /// The Markdown rendering; the charts are the SVG files [`Report::write`] puts next to it.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s += &format!("# {} seed {} — {}\n\n", self.scenario.name, self.seed, self.verdict_text());
        if !self.scenario.description.is_empty() {
            s += &format!("{}\n\n", self.scenario.description);
        }
        s += &format!("- version {}, digest `{}`\n", self.version, self.digest);
        s += &format!("- {}\n", self.topology_text());
        s += &format!("- replay: `{}`\n\n", self.replay.join("` or `"));
        s += "## Throughput\n\n| metric | value |\n|---|---|\n";
        for (k, v) in self.throughput_rows() {
            s += &format!("| {k} | {v} |\n");
        }
        s += "\n## Latency (simulated ms)\n\n| what | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n";
        for (name, p) in self.latency_rows() {
            s += &format!(
                "| {name} | {} | {} | {} | {} | {} | {} |\n",
                p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
            );
        }
        if !self.budgets.is_empty() {
            s += "\n## Budgets\n\n| metric | value | budget | |\n|---|---|---|---|\n";
            for b in &self.budgets {
                let mark = if b.breached { "BREACHED" } else { "ok" };
                s += &format!("| {} | {} | {} | {mark} |\n", b.metric, b.value, b.budget);
            }
        }
        s += &format!(
            "\n## Over time\n\nPer {} ms of simulated time; faults shaded and numbered as listed below, \
             violations as red lines.\n\n",
            self.timeline.bucket_ms
        );
        for (name, title) in crate::plot::CHART_NAMES {
            s += &format!("![{title}]({})\n\n", chart_file(self.seed, name));
        }
        s += "## Faults\n\n";
        if self.timeline.faults.is_empty() {
            s += "None.\n";
        }
        for (i, f) in self.timeline.faults.iter().enumerate() {
            s += &format!("{}. {}: {}", i + 1, Report::fault_when(f.start_s, f.end_s), f.what);
            if let Some(h) = &f.healed {
                s += &format!(" ({h})");
            }
            s += "\n";
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

    /// The HTML rendering: one self-contained page (inline CSS, the charts as inline SVG, no
    /// script, nothing fetched) that opens from a file anywhere.
    pub fn html(&self, charts: &Charts) -> String {
        let m = &self.metrics;
        let verdict = self.verdict_text();
        let title = format!("{} seed {} — {verdict}", self.scenario.name, self.seed);
        let mut s = String::with_capacity(64 * 1024 + charts.latency.len() * 3);
        s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
        s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
        s += &format!("<title>{}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n", esc(&title));
        let class = match self.verdict {
            Verdict::Pass => "pass",
            Verdict::BudgetBreach => "budget",
            _ => "fail",
        };
        s += &format!(
            "<h1>{} <span class=\"dim\">seed {}</span> <span class=\"verdict {class}\">{verdict}</span></h1>\n",
            esc(&self.scenario.name),
            self.seed
        );
        if !self.scenario.description.is_empty() {
            s += &format!("<p>{}</p>\n", esc(&self.scenario.description));
        }
        s += "<ul class=\"meta\">\n";
        s += &format!(
            "<li>version {}, digest <code>{}</code></li>\n<li>{}</li>\n",
            esc(&self.version),
            esc(&self.digest),
            esc(&self.topology_text())
        );
        for r in &self.replay {
            s += &format!("<li>replay: <code>{}</code></li>\n", esc(r));
        }
        s += "</ul>\n";

        // Headline figures first, then the full tables.
        let mut cards = vec![
            ("pods Running / s".to_owned(), m.pods_per_s.to_string()),
            ("pod startup p99".to_owned(), format!("{} ms", m.pod_startup.p99_ms)),
        ];
        // Only verbs the run made: a run without GETs has no GET latency, not a zero one.
        for verb in ["mutating", "get", "list"] {
            if let Some(p) = m.api_latency.get(verb).filter(|p| p.count > 0) {
                cards.push((format!("{verb} p99"), format!("{} ms", p.p99_ms)));
            }
        }
        cards.push(("watch p99".to_owned(), format!("{} ms", m.watch_latency.p99_ms)));
        cards.push(("violations".to_owned(), self.violation_count.to_string()));
        s += "<div class=\"cards\">\n";
        for (k, v) in cards {
            s += &format!(
                "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>\n",
                esc(&v),
                esc(&k)
            );
        }
        s += "</div>\n<h2 id=\"throughput\">Throughput</h2>\n<table>\n<tr><th>metric</th><th>value</th></tr>\n";
        for (k, v) in self.throughput_rows() {
            s += &format!("<tr><td>{}</td><td class=\"n\">{}</td></tr>\n", esc(k), esc(&v));
        }
        s += "</table>\n<h2 id=\"latency\">Latency <span class=\"dim\">(simulated ms)</span></h2>\n<table>\n";
        s += "<tr><th>what</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n";
        for (name, p) in self.latency_rows() {
            s += &format!("<tr><td>{}</td>", esc(&name));
            for v in [p.count as f64, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms] {
                s += &format!("<td class=\"n\">{v}</td>");
            }
            s += "</tr>\n";
        }
        s += "</table>\n";
        if !self.budgets.is_empty() {
            s += "<h2 id=\"budgets\">Budgets</h2>\n<table>\n<tr><th>metric</th><th>value</th><th>budget</th><th></th></tr>\n";
            for b in &self.budgets {
                let (cls, mark) = if b.breached { ("bad", "BREACHED") } else { ("ok", "ok") };
                s += &format!(
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{cls}\">{mark}</td></tr>\n",
                    esc(&b.metric),
                    b.value,
                    b.budget
                );
            }
            s += "</table>\n";
        }

        s += &format!(
            "<h2 id=\"over-time\">Over time</h2>\n<p class=\"dim\">Per {} ms of simulated time. Shaded: faults, numbered as \
             listed below; red lines: violations; gaps: nothing completed in that interval.</p>\n",
            self.timeline.bucket_ms
        );
        for (_, title, svg) in charts.named() {
            s += &format!("<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n", esc(title));
        }

        s += "<h2 id=\"faults\">Faults</h2>\n";
        if self.timeline.faults.is_empty() {
            s += "<p>None.</p>\n";
        } else {
            s += "<table>\n<tr><th>#</th><th>simulated s</th><th>what</th><th>healed by</th></tr>\n";
            for (i, f) in self.timeline.faults.iter().enumerate() {
                s += &format!(
                    "<tr><td class=\"n\">{}</td><td class=\"nw\">{}</td><td>{}</td><td class=\"nw\">{}</td></tr>\n",
                    i + 1,
                    esc(&Report::fault_when(f.start_s, f.end_s)),
                    esc(&f.what),
                    esc(f.healed.as_deref().unwrap_or(""))
                );
            }
            s += "</table>\n";
        }

        s += "<h2 id=\"violations\">Violations</h2>\n";
        if self.violation_count == 0 {
            s += "<p>None.</p>\n";
        } else {
            s += &format!("<p class=\"bad\">{} in all:", self.violation_count);
            for (c, n) in &self.violations_by_checker {
                s += &format!(" {} {n};", esc(c));
            }
            s += "</p>\n";
            if self.violations.len() < self.violation_count {
                s += &format!(
                    "<p class=\"dim\">The first {} with the history around them:</p>\n",
                    self.violations.len()
                );
            }
            for v in &self.violations {
                s += &format!(
                    "<details open>\n<summary><b>{}</b> at {} s (entry {})</summary>\n<p>{}</p>\n<pre>",
                    esc(&v.checker),
                    v.time_s,
                    v.entry,
                    esc(&v.message)
                );
                for (i, e) in &v.excerpt {
                    let line = format!("{i:>8} {}", serde_json::to_string(e).unwrap_or_default());
                    if *i == v.entry {
                        s += &format!("<mark>{}</mark>\n", esc(&line));
                    } else {
                        s += &format!("{}\n", esc(&line));
                    }
                }
                s += "</pre>\n</details>\n";
            }
        }
        let c = &self.cost;
        s += &format!(
            "<h2 id=\"cost\">Cost on this machine</h2>\n<p class=\"dim\">wall {} s (+{} s checking), {}× real time, peak RSS {} MiB, \
             {} history entries, {} network messages</p>\n</body>\n</html>\n",
            c.wall_s, c.check_wall_s, c.speedup, c.peak_rss_mib, c.history_entries, c.net_messages
        );
        s
    }
}

/// The file name of one chart next to the Markdown: `<seed>-<name>.svg`.
pub fn chart_file(seed: u64, name: &str) -> String {
    format!("{seed}-{name}.svg")
}

/// Text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

/// The page's whole style sheet: system fonts only, nothing fetched.
const HTML_STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222;
  max-width: 1000px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 32px;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.dim { color: #777; font-weight: normal; }
.verdict { font-size: 15px; padding: 3px 10px; border-radius: 4px; color: #fff; vertical-align: middle; }
.verdict.pass { background: #2ca02c; } .verdict.fail { background: #d62728; }
.verdict.budget { background: #e08a00; }
.meta { color: #555; padding-left: 20px; }
code { font-size: 13px; background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 18px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card .v { font-size: 20px; font-weight: 600; } .card .k { color: #666; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f6f6f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.nw { white-space: nowrap; }
.ok { color: #2ca02c; } .bad { color: #d62728; font-weight: 600; }
figure { margin: 16px 0; } figure svg { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: 13px; text-align: center; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; } mark { background: #ffd6d6; }
details { margin: 10px 0; } summary { cursor: pointer; }
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::Violation;
    use crate::history::{ApiCall, Verb};
    use crate::timeline;

    const MS: Time = 1_000_000;

    /// A small report with a fault and a violation, built the way the harness builds one.
    fn report() -> Report {
        let mut h = History::default();
        for i in 0..40u64 {
            h.push(Entry::Api(Box::new(ApiCall {
                client: "workload".into(),
                invoked: i * 50 * MS,
                returned: i * 50 * MS + (3 + i % 7) * MS,
                verb: if i % 2 == 0 { Verb::Create } else { Verb::Get },
                path: "/api/v1/namespaces/default/pods/p-<1>".into(),
                request_rv: None,
                status: 201,
                rv: Some(i),
            })));
            if i == 10 {
                h.push(Entry::Fault { time: 500 * MS, what: "crash Store[0] for 0.5s".into() });
            }
            if i == 20 {
                h.push(Entry::Fault { time: 1_000 * MS, what: "restarted Store[0]".into() });
            }
        }
        let violations = vec![Violation {
            checker: "watch-ordered",
            time: 1_200 * MS,
            entry: 25,
            message: "went back".into(),
        }];
        let mut metrics = Metrics { pods_per_s: 12.345, ..Metrics::default() };
        metrics
            .api_latency
            .insert("mutating".into(), Percentiles { count: 20, p99_ms: 9.876, ..Percentiles::default() });
        Report {
            version: "0.0.0".into(),
            scenario: Scenario { name: "unit".into(), ..Scenario::default() },
            seed: 7,
            digest: digest(&h),
            verdict: verdict(&violations),
            faults_applied: 1,
            timed_out: false,
            metrics,
            budgets: vec![BudgetResult {
                metric: "mutating_p99_ms".into(),
                value: 9.876,
                budget: 50.0,
                breached: false,
            }],
            violation_count: 1,
            violations_by_checker: [("watch-ordered".to_owned(), 1)].into_iter().collect(),
            violations: reported(&h, &violations),
            replay: vec!["cargo sim replay reports/unit/7.json".into()],
            timeline: timeline::compute(&h, &violations, 2_000 * MS),
            cost: Cost::default(),
        }
    }

    #[test]
    fn report_html_is_self_contained() {
        let r = report();
        let charts = crate::plot::charts(&r.timeline).expect("draws");
        let html = r.html(&charts);
        assert!(html.starts_with("<!DOCTYPE html>"));
        // The only URL allowed is the SVG namespace (an identifier, never fetched).
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for scheme in ["http://", "https://", "//cdn", "<script", "<link", "src=", "url("] {
            assert!(!without_ns.contains(scheme), "HTML references {scheme}");
        }
        assert_eq!(html.matches("<svg ").count(), 3, "three inline charts");
        assert_eq!(html.matches("</svg>").count(), 3);
        for s in [&charts.latency, &charts.throughput, &charts.watch] {
            assert!(html.contains(s.as_str()));
        }
        // Headline numbers, budgets, the violation with its excerpt, the fault list.
        for needle in [
            "12.345",
            "9.876 ms",
            "mutating_p99_ms",
            "SAFETY VIOLATION",
            "watch-ordered",
            "went back",
            "<mark>",
            "crash Store[0] for 0.5s",
            "restarted Store[0]",
            "0.5 – 1 s",
        ] {
            assert!(html.contains(needle), "HTML lacks {needle}");
        }
        // Text from the history is escaped.
        assert!(html.contains("p-&lt;1&gt;") && !html.contains("p-<1>"));
    }

    #[test]
    fn report_markdown_links_the_charts_and_lists_faults() {
        let md = report().markdown();
        for link in ["](7-latency.svg)", "](7-throughput.svg)", "](7-watch.svg)"] {
            assert!(md.contains(link), "Markdown lacks {link}");
        }
        assert!(md.contains("1. 0.5 – 1 s: crash Store[0] for 0.5s (restarted Store[0])"));
    }

    #[test]
    fn report_write_puts_every_file_next_to_the_json() {
        let dir = std::env::temp_dir().join(format!("kubesim-report-test-{}", std::process::id()));
        let r = report();
        let json = r.write(&dir).expect("writes");
        let base = dir.join("unit");
        for f in ["7.json", "7.md", "7.html", "7-latency.svg", "7-throughput.svg", "7-watch.svg"] {
            let text = std::fs::read_to_string(base.join(f)).unwrap_or_default();
            assert!(!text.is_empty(), "{f} missing or empty");
        }
        // The timeline travels in the JSON (replay and the determinism check see it).
        let back = Report::read(&json).expect("reads back");
        assert_eq!(back.timeline, r.timeline);
        assert!(r.deterministic_json().contains("\"timeline\""));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn report_without_timeline_still_reads() {
        let mut v: serde_json::Value = serde_json::from_str(&report().deterministic_json()).expect("json");
        v.as_object_mut().expect("object").remove("timeline");
        let r: Report = serde_json::from_value(v).expect("older reports parse");
        assert_eq!(r.timeline, Timeline::default());
    }
}
