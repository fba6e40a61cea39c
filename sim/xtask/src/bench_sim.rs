//! `cargo xtask bench-sim`: whole-simulation throughput. Builds the release simulation binary
//! (as `cargo sim` does), runs the fixed scenario `scenarios/bench.toml` for a few seeds, one at a
//! time, and prints per seed and as medians: simulated seconds, wall seconds of the simulation,
//! simulated seconds per wall second, pods Running per simulated second, and peak RSS, all read
//! from the report each run writes (its `metrics` and `cost` sections), plus the wall time of the
//! whole process (checkers and report included).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The fixed scenario.
const SCENARIO: &str = "scenarios/bench.toml";

/// Its `name` (reports go to `<report dir>/<name>/<seed>.json`).
const SCENARIO_NAME: &str = "bench";

/// The seeds run, one after the other.
const SEEDS: [u64; 3] = [1, 2, 3];

/// Where the runs' reports go (relative to the workspace root).
const REPORT_DIR: &str = "target/sim-reports";

/// One seed's figures.
struct Row {
    seed: u64,
    verdict: String,
    code: i32,
    simulated_s: f64,
    wall_s: f64,
    speedup: f64,
    pods_per_s: f64,
    pods_running: f64,
    peak_rss_mib: f64,
    process_wall_s: f64,
}

pub fn bench_sim() -> Result<(), String> {
    // The workspace root (this crate is sim/xtask), so that relative paths hold wherever cargo
    // was started.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::set_current_dir(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    eprintln!("xtask: building the simulation binary (release, --cfg madsim, target/sim)");
    let binary = crate::build_sim(None)?;
    let mut rows = Vec::new();
    for seed in SEEDS {
        eprintln!("xtask: {SCENARIO} seed {seed}");
        let started = Instant::now();
        let status = Command::new(&binary)
            .args(["--quiet", "--report-dir", REPORT_DIR, "run", SCENARIO, "--seed", &seed.to_string()])
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        let process_wall_s = started.elapsed().as_secs_f64();
        let path = PathBuf::from(REPORT_DIR).join(SCENARIO_NAME).join(format!("{seed}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let number = |section: &str, key: &str| {
            report
                .get(section)
                .and_then(|s| s.get(key))
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| format!("{}: no number at {section}.{key}", path.display()))
        };
        rows.push(Row {
            seed,
            verdict: report.get("verdict").and_then(serde_json::Value::as_str).unwrap_or("?").to_owned(),
            code: status.code().unwrap_or(-1),
            simulated_s: number("metrics", "simulated_s")?,
            wall_s: number("cost", "wall_s")?,
            speedup: number("cost", "speedup")?,
            pods_per_s: number("metrics", "pods_per_s")?,
            pods_running: number("metrics", "pods_running")?,
            peak_rss_mib: number("cost", "peak_rss_mib")?,
            process_wall_s,
        });
    }
    println!();
    println!("bench-sim: {SCENARIO} (reports in {REPORT_DIR}/{SCENARIO_NAME}/)");
    println!(
        "{:>6} {:>8} {:>12} {:>8} {:>13} {:>12} {:>13} {:>14} {:>14}",
        "seed",
        "verdict",
        "simulated s",
        "wall s",
        "sim s/wall s",
        "pods/s (sim)",
        "pods Running",
        "peak RSS MiB",
        "process wall s"
    );
    for r in &rows {
        println!(
            "{:>6} {:>8} {:>12.1} {:>8.1} {:>13.2} {:>12.1} {:>13} {:>14.1} {:>14.1}",
            r.seed,
            r.verdict,
            r.simulated_s,
            r.wall_s,
            r.speedup,
            r.pods_per_s,
            r.pods_running,
            r.peak_rss_mib,
            r.process_wall_s
        );
    }
    let median = |f: fn(&Row) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{:>6} {:>8} {:>12.1} {:>8.1} {:>13.2} {:>12.1} {:>13} {:>14.1} {:>14.1}",
        "median",
        "",
        median(|r| r.simulated_s),
        median(|r| r.wall_s),
        median(|r| r.speedup),
        median(|r| r.pods_per_s),
        median(|r| r.pods_running),
        median(|r| r.peak_rss_mib),
        median(|r| r.process_wall_s)
    );
    println!("(wall s: the simulation itself; process wall s: with the checkers and the report)");
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.code != 0)
        .map(|r| format!("seed {} ({}, exit {})", r.seed, r.verdict, r.code))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{SCENARIO} did not pass for {}: its figures are not comparable", failed.join(", ")))
    }
}
