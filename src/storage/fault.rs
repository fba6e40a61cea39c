//! The model store's fault plan: what goes wrong, how often and how slowly, every decision drawn
//! from one seeded RNG so that a simulation run is a pure function of its seed.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The kinds of storage operation, for per-kind latency and for recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// `get`.
    Get,
    /// `list`.
    List,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// Opening a `watch`.
    Watch,
    /// `compact`.
    Compact,
    /// `current_revision`.
    CurrentRevision,
}

impl OpKind {
    /// Whether the operation writes (and so can time out after committing).
    pub fn is_write(self) -> bool {
        matches!(self, OpKind::Create | OpKind::Update | OpKind::Delete | OpKind::Compact)
    }
}

/// A latency distribution, in milliseconds of (simulated or real) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// No added latency.
    #[default]
    None,
    /// Always this long.
    Fixed {
        /// Milliseconds.
        ms: f64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: f64,
        /// Upper bound, milliseconds.
        max_ms: f64,
    },
    /// Exponential with the given mean, cut at `max_ms` (a long tail with a bound).
    Exponential {
        /// Mean, milliseconds.
        mean_ms: f64,
        /// Cut-off, milliseconds.
        max_ms: f64,
    },
}

impl Latency {
    /// Draws one latency. Always draws exactly one number so that the RNG sequence does not depend
    /// on which distribution is configured.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        let u: f64 = rng.random();
        let ms = match *self {
            Latency::None => 0.0,
            Latency::Fixed { ms } => ms,
            Latency::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms).max(0.0) * u,
            Latency::Exponential { mean_ms, max_ms } => (-mean_ms * (1.0 - u).ln()).min(max_ms),
        };
        duration_ms(ms)
    }

    /// Whether this distribution can add any latency at all.
    pub fn is_none(&self) -> bool {
        match *self {
            Latency::None => true,
            Latency::Fixed { ms } => ms <= 0.0,
            Latency::Uniform { max_ms, .. } | Latency::Exponential { max_ms, .. } => max_ms <= 0.0,
        }
    }
}

fn duration_ms(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
}

/// What goes wrong in a [`ModelStore`](super::ModelStore), switched on and off at run time with
/// `set_faults` / `clear_faults`. Defaults: nothing goes wrong.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Probability that an operation fails at once with `Unavailable` (nothing written).
    pub unavailable_probability: f64,
    /// Probability that an operation waits `timeout_ms` and fails with `Timeout` without writing.
    pub timeout_before_commit_probability: f64,
    /// Probability that a write commits, then waits `timeout_ms` and fails with `Timeout`: the
    /// indeterminate case a client cannot tell from the one before.
    pub timeout_after_commit_probability: f64,
    /// How long a timed-out operation takes to answer, milliseconds. Default 0.
    pub timeout_ms: f64,
    /// Latency for every operation kind not named in `latency`.
    pub latency_default: Latency,
    /// Latency per operation kind.
    pub latency: BTreeMap<OpKind, Latency>,
    /// Delay before each watch delivery.
    pub watch_delay: Latency,
    /// Probability that a watch stream breaks (ends with `Unavailable`) before a delivery.
    pub watch_break_probability: f64,
    /// Probability, per write, that the store compacts away all but `forced_compaction_keep`
    /// revisions of history.
    pub forced_compaction_probability: f64,
    /// Revisions kept by a forced compaction. Default 0: compact up to the current revision.
    pub forced_compaction_keep: i64,
}

/// What the plan decided for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub latency: Duration,
    pub outcome: Outcome,
    pub force_compaction: bool,
}

/// The fate of one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Proceed,
    Unavailable,
    TimeoutBeforeCommit,
    TimeoutAfterCommit,
}

impl FaultPlan {
    /// Draws the fate of one operation. Draws a fixed count of numbers (latency, outcome,
    /// compaction) whatever the plan says, so that changing one probability does not shift
    /// every later draw.
    pub(crate) fn decide(&self, op: OpKind, rng: &mut ChaCha8Rng) -> Decision {
        let latency = self.latency.get(&op).unwrap_or(&self.latency_default).sample(rng);
        let roll: f64 = rng.random();
        let compaction_roll: f64 = rng.random();
        let p_unavailable = self.unavailable_probability;
        let p_before = p_unavailable + self.timeout_before_commit_probability;
        let p_after = p_before + self.timeout_after_commit_probability;
        let outcome = if roll < p_unavailable {
            Outcome::Unavailable
        } else if roll < p_before {
            Outcome::TimeoutBeforeCommit
        } else if roll < p_after && op.is_write() {
            Outcome::TimeoutAfterCommit
        } else if roll < p_after {
            // A read cannot commit: its late timeout is the same as an early one.
            Outcome::TimeoutBeforeCommit
        } else {
            Outcome::Proceed
        };
        let force_compaction =
            op.is_write() && op != OpKind::Compact && compaction_roll < self.forced_compaction_probability;
        Decision { latency, outcome, force_compaction }
    }

    /// How long a timed-out operation takes.
    pub(crate) fn timeout(&self) -> Duration {
        duration_ms(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn decisions_follow_the_probabilities() {
        let plan = FaultPlan {
            unavailable_probability: 0.1,
            timeout_before_commit_probability: 0.1,
            timeout_after_commit_probability: 0.1,
            latency_default: Latency::Uniform { min_ms: 1.0, max_ms: 3.0 },
            ..FaultPlan::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = BTreeMap::new();
        for _ in 0..10_000 {
            let d = plan.decide(OpKind::Update, &mut rng);
            assert!(d.latency >= Duration::from_millis(1) && d.latency <= Duration::from_millis(3));
            *counts.entry(format!("{:?}", d.outcome)).or_insert(0u32) += 1;
        }
        for outcome in ["Unavailable", "TimeoutBeforeCommit", "TimeoutAfterCommit"] {
            let n = counts[outcome];
            assert!((800..1200).contains(&n), "{outcome}: {n} of 10000");
        }
        // Reads never commit, so they never get the indeterminate outcome.
        let read = plan.decide(OpKind::Get, &mut ChaCha8Rng::seed_from_u64(1));
        assert_ne!(read.outcome, Outcome::TimeoutAfterCommit);
    }

    #[test]
    fn exponential_latency_is_capped() {
        let lat = Latency::Exponential { mean_ms: 50.0, max_ms: 80.0 };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let max = (0..10_000).map(|_| lat.sample(&mut rng)).max().unwrap();
        assert_eq!(max, Duration::from_millis(80));
    }

    #[test]
    fn plan_parses_from_toml_like_json_and_rejects_unknown_keys() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"unavailable_probability":0.5,"latency":{"get":{"kind":"fixed","ms":2.0}}}"#,
        )
        .unwrap();
        assert_eq!(plan.latency[&OpKind::Get], Latency::Fixed { ms: 2.0 });
        let err = serde_json::from_str::<FaultPlan>(r#"{"unavailable_probabilty":0.5}"#);
        assert!(err.unwrap_err().to_string().contains("unknown field"));
    }
}
