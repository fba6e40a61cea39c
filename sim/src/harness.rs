//! One seed from start to verdict: run the world, check the history, compute the metrics, build
//! the report. The one function that sequences the simulation pipeline is [`run_seed`].

use std::time::Instant;

use crate::checkers::{self, CheckContext};
use crate::report::{self, Cost, Report};
use crate::scenario::Scenario;
use crate::world::Progress;

/// Exit code: every seed passed.
pub const EXIT_PASS: u8 = 0;
/// Exit code: an I/O or internal error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: a safety checker failed.
pub const EXIT_SAFETY: u8 = 3;
/// Exit code: liveness failed (and nothing else).
pub const EXIT_LIVENESS: u8 = 4;
/// Exit code: a latency or throughput budget was breached (issue #6).
pub const EXIT_BUDGET: u8 = 5;
/// Exit code: the same seed gave two different results.
pub const EXIT_DETERMINISM: u8 = 6;
/// Exit code: the scenario file is bad (unreadable, unknown key, inconsistent value).
pub const EXIT_BAD_SCENARIO: u8 = 7;
/// Exit code: a metric moved beyond the scenario's tolerance against its committed baseline.
pub const EXIT_BASELINE: u8 = 8;

/// Runs one seed of `scenario` and returns its report (not yet written).
pub fn run_seed(scenario: &Scenario, seed: u64, report_path: &str, progress: Option<Progress>) -> Report {
    let wall = Instant::now();
    let result = crate::world::run(scenario, seed, progress);
    let wall_s = wall.elapsed().as_secs_f64();
    if let Some(path) = std::env::var_os("KUBESIM_SIM_HISTORY") {
        // Debugging aid: the whole history as JSON lines.
        let mut out = String::new();
        for e in &result.history.entries {
            out += &serde_json::to_string(e).unwrap_or_default();
            out.push('\n');
        }
        static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut path = std::path::PathBuf::from(path);
        if n > 0 {
            path.set_extension(format!("{n}.jsonl"));
        }
        let _ = std::fs::write(path, out);
    }
    let check_start = Instant::now();
    let ctx = CheckContext {
        healed_at: result.healed_at,
        liveness_deadline: (scenario.checks.liveness_deadline_s * 1e9) as u64,
        end: result.end,
    };
    let enabled = (!scenario.checks.enabled.is_empty()).then_some(scenario.checks.enabled.as_slice());
    // The checkers, the metrics and the digest are pure functions of the finished history (no
    // simulated code runs any more), so the last two run beside the first on a second core.
    let (violations, (metrics, digest)) = std::thread::scope(|s| {
        let side = s.spawn(|| {
            let metrics =
                crate::metrics::compute(&result.history, &result.workload, result.cluster_up, result.end);
            (metrics, report::digest(&result.history))
        });
        let violations = checkers::check(&result.history, &ctx, enabled);
        (violations, side.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let timeline = crate::timeline::compute(&result.history, &violations, result.end);
    let mut by_checker = std::collections::BTreeMap::new();
    for v in &violations {
        *by_checker.entry(v.checker.to_owned()).or_insert(0usize) += 1;
    }
    let check_wall_s = check_start.elapsed().as_secs_f64();
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let budgets: Vec<report::BudgetResult> = scenario
        .budgets
        .judge(&metrics)
        .into_iter()
        .map(|(metric, value, budget, breached)| report::BudgetResult {
            metric: metric.to_owned(),
            value,
            budget,
            breached,
        })
        .collect();
    let mut verdict = report::verdict(&violations);
    if verdict == report::Verdict::Pass && budgets.iter().any(|b| b.breached) {
        verdict = report::Verdict::BudgetBreach;
    }
    Report {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: scenario.clone(),
        seed,
        digest,
        verdict,
        faults_applied: result.faults_applied,
        timed_out: result.timed_out,
        metrics: metrics.clone(),
        budgets,
        violation_count: violations.len(),
        violations_by_checker: by_checker,
        violations: report::reported(&result.history, &violations),
        replay: vec![format!("cargo sim replay {report_path}")],
        timeline,
        cost: Cost {
            wall_s: round(wall_s),
            check_wall_s: round(check_wall_s),
            speedup: if wall_s > 0.0 { round(metrics.simulated_s / wall_s) } else { 0.0 },
            peak_rss_mib: report::peak_rss_mib(),
            history_entries: result.history.entries.len() as u64,
            net_messages: result.net_messages,
        },
    }
}

/// The exit code a report stands for.
pub fn exit_code(report: &Report) -> u8 {
    match report.verdict {
        report::Verdict::Pass => EXIT_PASS,
        report::Verdict::SafetyViolation => EXIT_SAFETY,
        report::Verdict::LivenessFailure => EXIT_LIVENESS,
        report::Verdict::BudgetBreach => EXIT_BUDGET,
    }
}
