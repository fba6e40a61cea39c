//! Project automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask test`: the README's test command and what `.ci/run` calls. Installs what the
//!   tests need (etcd, protoc) when missing, checks formatting and lints in both builds, runs the
//!   real-mode suite and the simulation suite, and ends with one summary line per suite.
//! - `cargo xtask lint`: formatting and clippy (`-D warnings`) in both builds.
//! - `cargo xtask deps`: only the installs.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The flags that turn a build into a simulation build; the same as the `sim` aliases.
const SIM_CONFIG: [&str; 4] =
    ["--config", "build.rustflags=['--cfg','madsim']", "--config", "build.target-dir='target/sim'"];

/// Debian packages the tests need, by the binary each provides.
const TOOLS: [(&str, &str); 2] = [("etcd", "etcd-server"), ("protoc", "protobuf-compiler")];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("lint") => ensure_tools().and_then(|()| lint()),
        Some("deps") => ensure_tools(),
        _ => {
            eprintln!("usage: cargo xtask <test | lint | deps>");
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

/// A cargo command with RUSTFLAGS removed: an environment RUSTFLAGS overrides the sim alias's
/// build.rustflags and would silently give a non-simulation build that runs no simulation test.
fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
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

fn lint() -> Result<(), String> {
    run(&mut cargo(&["fmt", "--all", "--check"]))?;
    run(&mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let mut sim = vec!["clippy", "-p", "kubesim", "-p", "kubesim-sim", "--all-targets"];
    sim.extend(SIM_CONFIG);
    sim.extend(["--", "-D", "warnings"]);
    run(&mut cargo(&sim))
}

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
