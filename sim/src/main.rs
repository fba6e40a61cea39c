//! `cargo sim …`: the simulation harness's command line.
//!
//! - `cargo sim run [SCENARIO] [--seed N] [--check-determinism]`: one seed (default scenario:
//!   scenarios/smoke.toml, built in).
//! - `cargo sim sweep SCENARIO --seeds A..B [--check-determinism]`: seeds A to B-1.
//! - `cargo sim replay REPORT.json`: re-runs exactly what a report describes.
//! - `cargo sim compare BASE NEW`: metric deltas between two sets of runs (baseline files, reports
//!   or directories of reports); fails on a regression beyond the tolerance.
//! - `cargo sim baseline [SCENARIO…] [--check]`: runs each scenario's pinned seeds and writes
//!   reports/baselines/<scenario>.json, or with `--check` compares with it and fails on any change
//!   beyond the tolerance (what the test command runs).
//!
//! Exit codes: 0 pass, 3 safety violation, 4 liveness failure, 5 budget breach, 6 determinism
//! failure, 7 bad scenario file, 8 baseline regression or unexplained change, 1 other errors,
//! 2 usage.

#[cfg(madsim)]
mod cli {
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::Arc;

    use clap::{Parser, Subcommand};
    use kubesim_sim::baseline::{self, Baseline, Runs};
    use kubesim_sim::harness::{
        self, EXIT_BAD_SCENARIO, EXIT_BASELINE, EXIT_DETERMINISM, EXIT_ERROR, EXIT_PASS,
    };
    use kubesim_sim::report::Report;
    use kubesim_sim::scenario::Scenario;
    use kubesim_sim::world::Progress;

    /// The built-in default scenario (scenarios/smoke.toml).
    const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/smoke.toml");

    #[derive(Parser)]
    #[command(name = "kubesim-sim", about = "Deterministic simulation of kubesim: scenario + seed → report")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
        /// Where reports go (reports/<scenario>/<seed>.json and .md).
        #[arg(long, global = true, default_value_os_t = default_report_dir())]
        report_dir: PathBuf,
        /// No progress lines.
        #[arg(long, short, global = true)]
        quiet: bool,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Runs one seed of a scenario.
        Run {
            /// Scenario file (default: the built-in smoke scenario).
            scenario: Option<PathBuf>,
            /// Seed (default: the scenario's).
            #[arg(long)]
            seed: Option<u64>,
            /// Runs the seed twice and fails (exit 6) unless both reports are identical.
            #[arg(long)]
            check_determinism: bool,
        },
        /// Runs a range of seeds.
        Sweep {
            /// Scenario file.
            scenario: PathBuf,
            /// Seeds `A..B` (B excluded) or `A..=B`.
            #[arg(long)]
            seeds: String,
            /// Runs every seed twice and compares.
            #[arg(long)]
            check_determinism: bool,
            /// Stops at the first seed that does not pass.
            #[arg(long)]
            stop_on_failure: bool,
        },
        /// Re-runs what a report describes (its resolved scenario and seed) and compares digests.
        Replay {
            /// A report written by `run` or `sweep`.
            report: PathBuf,
        },
        /// Compares two sets of runs metric by metric (medians over seeds) and fails (exit 8) on a
        /// regression beyond the tolerance.
        Compare {
            /// A baseline file, a report, or a directory of reports.
            base: PathBuf,
            /// The same kinds.
            new: PathBuf,
            /// Tolerance in percent (default: the new runs' scenario's `baseline.tolerance_pct`).
            #[arg(long)]
            tolerance: Option<f64>,
            /// Also fail on improvements beyond the tolerance (an unexplained change).
            #[arg(long)]
            strict: bool,
        },
        /// Runs each scenario's pinned seeds (`baseline.seeds`) and writes its baseline; with
        /// `--check`, compares with the committed one instead and fails on any change beyond the
        /// tolerance. No scenario: every scenarios/*.toml that sets budgets.
        Baseline {
            /// Scenario files.
            scenarios: Vec<PathBuf>,
            /// Compare with the committed baselines instead of writing them.
            #[arg(long)]
            check: bool,
            /// Where baselines live.
            #[arg(long, default_value_os_t = default_report_dir().join("baselines"))]
            baselines: PathBuf,
        },
        /// Internal: runs one seed in this process and writes the report JSON to `out`. Every seed
        /// runs in a process of its own: std and other crates keep process-wide state (hash keys,
        /// one-time initialisations) that would make a second run in the same process differ.
        #[command(hide = true)]
        ExecSeed {
            /// The resolved scenario, as JSON.
            scenario_json: PathBuf,
            /// The seed.
            seed: u64,
            /// Where the report goes.
            out: PathBuf,
            /// The report path shown in replay commands.
            shown: String,
        },
    }

    fn default_report_dir() -> PathBuf {
        let sim = Path::new(env!("CARGO_MANIFEST_DIR"));
        sim.parent().unwrap_or(sim).join("reports")
    }

    fn load(path: Option<&Path>) -> Result<Scenario, ExitCode> {
        let parsed = match path {
            Some(p) => Scenario::load(p),
            None => Scenario::parse(DEFAULT_SCENARIO, "scenarios/smoke.toml (built in)"),
        };
        parsed.map_err(|e| {
            eprintln!("kubesim-sim: bad scenario: {e}");
            ExitCode::from(EXIT_BAD_SCENARIO)
        })
    }

    fn parse_seeds(s: &str) -> Result<std::ops::Range<u64>, String> {
        let bad = || format!("--seeds {s:?}: expected A..B or A..=B");
        if let Some((a, b)) = s.split_once("..=") {
            let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            return Ok(a..b + 1);
        }
        let (a, b) = s.split_once("..").ok_or_else(bad)?;
        Ok(a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?)
    }

    /// Runs one seed in a child process (this binary's hidden `exec-seed`) and reads its report.
    fn in_child(scenario: &Scenario, seed: u64, shown: &str, quiet: bool) -> Result<Report, String> {
        let dir = std::env::temp_dir().join(format!("kubesim-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let scenario_path = dir.join(format!("{}-{seed}.scenario.json", scenario.name));
        let out = dir.join(format!("{}-{seed}.report.json", scenario.name));
        let json = serde_json::to_string(scenario).map_err(|e| e.to_string())?;
        std::fs::write(&scenario_path, json).map_err(|e| format!("{}: {e}", scenario_path.display()))?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = std::process::Command::new(exe);
        if quiet {
            cmd.arg("--quiet");
        }
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // The simulation's heap only grows until the run ends: handing pages back to the OS
            // and zeroing them again cost ~8% of a large run.
            cmd.env("MIMALLOC_PURGE_DELAY", "-1");
        }
        if std::env::var_os("MIMALLOC_GENERIC_COLLECT").is_none() {
            // mimalloc visits every page of the heap each 10,000 slow-path allocations by default:
            // at 3 GiB that was ~4% of scale-5k's time (184 s against 191 s), for no memory back.
            cmd.env("MIMALLOC_GENERIC_COLLECT", "1000000");
        }
        cmd.arg("exec-seed").arg(&scenario_path).arg(seed.to_string()).arg(&out).arg(shown);
        let status = cmd.status().map_err(|e| format!("starting the seed's process: {e}"))?;
        let report = Report::read(&out);
        let _ = std::fs::remove_dir_all(&dir);
        if !status.success() {
            return Err(format!("seed {seed}: the simulation process failed ({status})"));
        }
        report
    }

    /// Runs one seed (twice with `check`), writes its report, prints a summary; returns the code.
    fn one(scenario: &Scenario, seed: u64, check: bool, dir: &Path, quiet: bool) -> u8 {
        one_report(scenario, seed, check, dir, quiet).0
    }

    /// [`one`], also handing back the report when there is one.
    fn one_report(
        scenario: &Scenario,
        seed: u64,
        check: bool,
        dir: &Path,
        quiet: bool,
    ) -> (u8, Option<Report>) {
        let (json_path, _) = Report::paths(dir, &scenario.name, seed);
        let shown = json_path.strip_prefix(std::env::current_dir().unwrap_or_default()).unwrap_or(&json_path);
        let shown = shown.display().to_string();
        let report = match in_child(scenario, seed, &shown, quiet) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("kubesim-sim: {e}");
                return (EXIT_ERROR, None);
            }
        };
        let mut code = harness::exit_code(&report);
        if check {
            let again = match in_child(scenario, seed, &shown, quiet) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("kubesim-sim: {e}");
                    return (EXIT_ERROR, None);
                }
            };
            if again.deterministic_json() != report.deterministic_json() {
                eprintln!(
                    "[{} seed {seed}] DETERMINISM FAILURE: digests {} vs {}",
                    scenario.name, report.digest, again.digest
                );
                code = EXIT_DETERMINISM;
            } else if !quiet {
                eprintln!(
                    "[{} seed {seed}] determinism check passed (digest {})",
                    scenario.name, report.digest
                );
            }
        }
        if let Err(e) = report.write(dir) {
            eprintln!("kubesim-sim: writing the report to {}: {e}", dir.display());
            return (EXIT_ERROR, None);
        }
        let m = &report.metrics;
        println!(
            "{} seed {seed}: {:?} | {} violations | pods {}/{} running, {:.1} pods/s | startup p99 {} ms | \
             watch p99 {} ms | mutating p99 {} ms | {:.1} sim s in {:.1} wall s | digest {} | report {shown}",
            scenario.name,
            report.verdict,
            report.violation_count,
            m.pods_running,
            m.pods_created,
            m.pods_per_s,
            m.pod_startup.p99_ms,
            m.watch_latency.p99_ms,
            m.api_latency.get("mutating").map_or(0.0, |p| p.p99_ms),
            m.simulated_s,
            report.cost.wall_s,
            &report.digest[..16],
        );
        for b in report.budgets.iter().filter(|b| b.breached) {
            println!(
                "  budget breach: {} = {} (budget {}) at seed {seed}; replay: {}",
                b.metric,
                b.value,
                b.budget,
                report.replay.join(" | ")
            );
        }
        for v in report.violations.iter().take(5) {
            println!("  {} at {} s: {}", v.checker, v.time_s, v.message);
        }
        if code != EXIT_PASS {
            println!("  replay: {}", report.replay.join(" | "));
        }
        (code, Some(report))
    }

    /// `compare BASE NEW`.
    fn compare(base: &Path, new: &Path, tolerance: Option<f64>, strict: bool) -> u8 {
        let (b, n) = match (Runs::load(base), Runs::load(new)) {
            (Ok(b), Ok(n)) => (b, n),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("kubesim-sim: {e}");
                return EXIT_ERROR;
            }
        };
        let tolerance = tolerance
            .or_else(|| n.scenario.as_ref().or(b.scenario.as_ref()).map(|s| s.baseline.tolerance_pct))
            .unwrap_or(Scenario::default().baseline.tolerance_pct);
        let c = baseline::compare(&b, &n, tolerance);
        println!("{} → {}", b.source, n.source);
        print!("{}", c.table());
        let failing = if strict { c.changes() } else { c.regressions() };
        if failing.is_empty() {
            EXIT_PASS
        } else {
            let names: Vec<&str> = failing.iter().map(|r| r.metric.as_str()).collect();
            println!(
                "{} beyond {tolerance}%: {}",
                if strict { "changed" } else { "regressed" },
                names.join(", ")
            );
            EXIT_BASELINE
        }
    }

    /// Every scenarios/*.toml that sets a budget.
    fn budgeted_scenarios() -> Result<Vec<PathBuf>, String> {
        let dir = default_report_dir().parent().map(|p| p.join("scenarios")).unwrap_or_default();
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|x| x == "toml") {
                let s = Scenario::load(&path).map_err(|e| e.to_string())?;
                if s.budgets != Default::default() {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// `baseline [SCENARIO…] [--check]`.
    fn baseline(scenarios: Vec<PathBuf>, check: bool, dir: &Path, reports: &Path, quiet: bool) -> u8 {
        let scenarios = if scenarios.is_empty() {
            match budgeted_scenarios() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kubesim-sim: {e}");
                    return EXIT_BAD_SCENARIO;
                }
            }
        } else {
            scenarios
        };
        let mut worst = EXIT_PASS;
        for path in scenarios {
            let s = match load(Some(&path)) {
                Ok(s) => s,
                Err(_) => return EXIT_BAD_SCENARIO,
            };
            let mut runs = Vec::new();
            let mut code = EXIT_PASS;
            for &seed in &s.baseline.seeds {
                let (c, report) = one_report(&s, seed, false, reports, quiet);
                if rank(c) > rank(code) {
                    code = c;
                }
                runs.extend(report);
            }
            let file = Baseline::path(dir, &s.name);
            if check {
                let base = match Runs::load(&file) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!(
                            "kubesim-sim: no baseline for {} ({e}); make one with `cargo sim baseline {}`",
                            s.name,
                            path.display()
                        );
                        if rank(EXIT_ERROR) > rank(worst) {
                            worst = EXIT_ERROR;
                        }
                        continue;
                    }
                };
                let new = Runs::from_reports(format!("{} seeds {:?}", s.name, s.baseline.seeds), &runs);
                let c = baseline::compare(&base, &new, s.baseline.tolerance_pct);
                println!("baseline {} → this build:", file.display());
                print!("{}", c.table());
                let changed = c.changes();
                if !changed.is_empty() && code == EXIT_PASS {
                    let names: Vec<String> = changed
                        .iter()
                        .map(|r| {
                            let v = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| x.to_string());
                            format!("{} {} → {}", r.metric, v(r.base), v(r.new))
                        })
                        .collect();
                    println!(
                        "baseline {}: unexplained change beyond {}%: {}. If intended, refresh it with \
                         `cargo sim baseline {}` and commit the file.",
                        s.name,
                        s.baseline.tolerance_pct,
                        names.join("; "),
                        path.display()
                    );
                    code = EXIT_BASELINE;
                }
            } else if code == EXIT_PASS {
                let b = Baseline::from_reports(&s, &runs);
                let old = Runs::load(&file).ok();
                let written = std::fs::create_dir_all(dir).and_then(|()| {
                    std::fs::write(&file, serde_json::to_string_pretty(&b).unwrap_or_default() + "\n")
                });
                if let Err(e) = written {
                    eprintln!("kubesim-sim: writing {}: {e}", file.display());
                    return EXIT_ERROR;
                }
                if let Some(old) = old {
                    let new = Runs::from_reports(file.display().to_string(), &runs);
                    print!("{}", baseline::compare(&old, &new, s.baseline.tolerance_pct).table());
                }
                println!("baseline {}: wrote {} ({} seeds)", s.name, file.display(), runs.len());
            } else {
                println!("baseline {}: not written: a pinned seed did not pass (exit {code})", s.name);
            }
            if rank(code) > rank(worst) {
                worst = code;
            }
        }
        worst
    }

    fn rank(code: u8) -> u8 {
        match code {
            EXIT_PASS => 0,
            EXIT_DETERMINISM => 6,
            harness::EXIT_SAFETY => 5,
            harness::EXIT_LIVENESS => 4,
            harness::EXIT_BUDGET => 3,
            EXIT_BASELINE => 2,
            _ => 1,
        }
    }

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        let code = match cli.command {
            Command::Run { scenario, seed, check_determinism } => {
                let s = match load(scenario.as_deref()) {
                    Ok(s) => s,
                    Err(c) => return c,
                };
                let seed = seed.unwrap_or(s.seed);
                one(&s, seed, check_determinism, &cli.report_dir, cli.quiet)
            }
            Command::Sweep { scenario, seeds, check_determinism, stop_on_failure } => {
                let s = match load(Some(&scenario)) {
                    Ok(s) => s,
                    Err(c) => return c,
                };
                let range = match parse_seeds(&seeds) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("kubesim-sim: {e}");
                        return ExitCode::from(2);
                    }
                };
                let mut worst = EXIT_PASS;
                let (mut passed, mut failed) = (0, 0);
                for seed in range {
                    let c = one(&s, seed, check_determinism, &cli.report_dir, true);
                    if c == EXIT_PASS {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                    // Determinism outranks safety, which outranks liveness.
                    if rank(c) > rank(worst) {
                        worst = c;
                    }
                    if c != EXIT_PASS && stop_on_failure {
                        println!("sweep {}: stopped at the first failing seed, {seed}", s.name);
                        break;
                    }
                }
                println!("sweep {}: {passed} passed, {failed} failed", s.name);
                worst
            }
            Command::ExecSeed { scenario_json, seed, out, shown } => {
                let scenario: Scenario = match std::fs::read_to_string(&scenario_json)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("kubesim-sim: {}: {e}", scenario_json.display());
                        return ExitCode::from(EXIT_ERROR);
                    }
                };
                let progress: Option<Progress> = if cli.quiet {
                    None
                } else {
                    let name = scenario.name.clone();
                    Some(Arc::new(move |line: &str| eprintln!("[{name} seed {seed}] {line}")))
                };
                let report = harness::run_seed(&scenario, seed, &shown, progress);
                let written = serde_json::to_string(&report)
                    .map_err(|e| e.to_string())
                    .and_then(|j| std::fs::write(&out, j).map_err(|e| e.to_string()));
                match written {
                    Ok(()) => EXIT_PASS,
                    Err(e) => {
                        eprintln!("kubesim-sim: writing {}: {e}", out.display());
                        EXIT_ERROR
                    }
                }
            }
            Command::Compare { base, new, tolerance, strict } => compare(&base, &new, tolerance, strict),
            Command::Baseline { scenarios, check, baselines } => {
                baseline(scenarios, check, &baselines, &cli.report_dir, cli.quiet)
            }
            Command::Replay { report } => {
                let r = match Report::read(&report) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("kubesim-sim: {e}");
                        return ExitCode::from(EXIT_BAD_SCENARIO);
                    }
                };
                let dir = std::env::temp_dir().join("kubesim-replay");
                let code = one(&r.scenario, r.seed, false, &dir, cli.quiet);
                let (again, _) = Report::paths(&dir, &r.scenario.name, r.seed);
                match Report::read(&again) {
                    Ok(new) if new.digest == r.digest => {
                        println!("replay reproduced the report exactly (digest {})", r.digest)
                    }
                    Ok(new) => println!(
                        "replay differs from the report: digest {} vs {} (a different build of kubesim?)",
                        new.digest, r.digest
                    ),
                    Err(e) => eprintln!("kubesim-sim: {e}"),
                }
                code
            }
        };
        ExitCode::from(code)
    }
}

/// Not glibc's malloc: see sim/Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(madsim)]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(madsim))]
fn main() {
    eprintln!(
        "kubesim-sim must be built with --cfg madsim: run it as `cargo sim …` \
         (an environment RUSTFLAGS overrides the alias; unset it)"
    );
    std::process::exit(2);
}
