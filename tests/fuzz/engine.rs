//! The fuzzing engine: a proptest runner per target, a corpus kept in the repository, and a
//! one-line report per target.
//!
//! Every run first replays the target's corpus (`tests/fuzz/corpus/<target>.jsonl`, one input per
//! line), then runs generated and corpus-mutated inputs. An input's *outcome* is a short
//! signature (HTTP code + reason, parse ok/err kind); with `KUBESIM_FUZZ_SAVE=1` every input whose
//! outcome was not seen before is appended to the corpus, so the corpus grows towards inputs that
//! behave differently (feedback by behaviour, as no coverage instrumentation is used). A failing
//! input is shrunk by proptest and, when saving, appended too, so it is replayed forever after.
//!
//! Knobs (environment): `KUBESIM_FUZZ_CASES` (generated inputs per target; each target has its
//! own default sized for the test suite), `KUBESIM_FUZZ_SEED` (the runner's seed; default fixed,
//! so the suite is reproducible), `KUBESIM_FUZZ_SAVE=1` (grow the corpus), `KUBESIM_FUZZ_VERBOSE=1`
//! (print the commonest outcomes).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What one input did: `Ok(signature)` or `Err(why it breaks a rule)`.
pub type Outcome = Result<String, String>;

/// Inputs longer than this (serialized) are not written to the corpus, to keep it reviewable.
const CORPUS_ENTRY_MAX_BYTES: usize = 16 * 1024;

pub fn corpus_path(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(format!("{target}.jsonl"))
}

/// The target's corpus. A missing or empty corpus is a loud failure: it is part of the suite.
pub fn load_corpus<I: DeserializeOwned>(target: &str) -> Vec<I> {
    let path = corpus_path(target);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fuzz corpus {} cannot be read: {e}", path.display()));
    let inputs: Vec<I> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: not a corpus entry: {e}", path.display(), n + 1))
        })
        .collect();
    assert!(!inputs.is_empty(), "fuzz corpus {} is empty", path.display());
    inputs
}

fn append_to_corpus<I: Serialize>(target: &str, input: &I) {
    let line = serde_json::to_string(input).expect("corpus entries serialize");
    if line.len() > CORPUS_ENTRY_MAX_BYTES {
        return;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(corpus_path(target))
        .expect("the corpus file exists (it was just read)");
    writeln!(f, "{line}").expect("appending to the corpus");
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// Replays the corpus, then fuzzes `target` with `strategy` for its case count, checking every
/// input with `check`. Panics with the (shrunk) input on the first rule broken.
pub fn fuzz<I, S>(target: &str, default_cases: u32, strategy: S, check: impl Fn(&I) -> Outcome)
where
    I: Serialize + DeserializeOwned + Debug + Clone,
    S: Strategy<Value = I>,
{
    let save = std::env::var("KUBESIM_FUZZ_SAVE").is_ok_and(|v| v == "1");
    let cases = env_u64("KUBESIM_FUZZ_CASES").map_or(default_cases, |c| c as u32);
    let seed = env_u64("KUBESIM_FUZZ_SEED").unwrap_or(0x6b75_6265);
    let started = Instant::now();

    let corpus: Vec<I> = load_corpus(target);
    let mut seen = BTreeMap::new();
    // The slowest input: a slow input is a finding of its own kind (denial of service).
    let slowest = Mutex::new((std::time::Duration::ZERO, String::new()));
    let timed = |input: &I| {
        let t = Instant::now();
        let outcome = check(input);
        let took = t.elapsed();
        let mut s = slowest.lock().unwrap();
        if took > s.0 {
            *s = (took, format!("{input:?}"));
        }
        outcome
    };
    for (n, input) in corpus.iter().enumerate() {
        match timed(input) {
            Ok(sig) => {
                *seen.entry(sig).or_insert(0u64) += 1;
            }
            Err(why) => {
                panic!("fuzz {target}: corpus entry {} breaks a rule: {why}\ninput: {input:?}", n + 1)
            }
        }
    }
    let replayed = corpus.len();

    let seen = Mutex::new(seen);
    let added = Mutex::new(0usize);
    let executions = Mutex::new(0u64);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let result = runner.run(&strategy, |input| {
        *executions.lock().unwrap() += 1;
        let sig = timed(&input).map_err(TestCaseError::fail)?;
        let mut seen = seen.lock().unwrap();
        let count = seen.entry(sig).or_insert(0);
        *count += 1;
        if *count == 1 && save {
            append_to_corpus(target, &input);
            *added.lock().unwrap() += 1;
        }
        Ok(())
    });
    let executions = *executions.lock().unwrap() + replayed as u64;
    let elapsed = started.elapsed();
    let seen = seen.into_inner().unwrap();
    let (slowest_took, slowest_input) = slowest.into_inner().unwrap();
    let outcomes = seen.len();
    if std::env::var("KUBESIM_FUZZ_VERBOSE").is_ok_and(|v| v == "1") {
        let mut by_count: Vec<_> = seen.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1));
        for (sig, n) in by_count.iter().take(40) {
            println!("  {target}: {n:>7} × {sig}");
        }
    }
    let added = *added.lock().unwrap();
    match result {
        Ok(()) => println!(
            "fuzz {target}: {executions} executions ({replayed} corpus, {cases} generated) in {:.2} s \
             ({:.0}/s), {outcomes} distinct outcomes, {added} added to the corpus, 0 findings; \
             slowest input {:.1} ms: {}",
            elapsed.as_secs_f64(),
            executions as f64 / elapsed.as_secs_f64().max(1e-9),
            slowest_took.as_secs_f64() * 1e3,
            slowest_input.chars().take(200).collect::<String>(),
        ),
        Err(TestError::Fail(why, input)) => {
            if save {
                append_to_corpus(target, &input);
            }
            panic!(
                "fuzz {target}: FINDING after {executions} executions: {why}\nminimal input: {input:?}\n\
                 json: {}",
                serde_json::to_string(&input).unwrap_or_default()
            )
        }
        Err(TestError::Abort(why)) => panic!("fuzz {target}: aborted: {why}"),
    }
}
