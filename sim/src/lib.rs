//! kubesim-sim: the deterministic simulation harness. The API server core, the model store and the
//! agents run under madsim on simulated hosts; every request, watch delivery and store commit goes
//! into a [`history::History`]; [`checkers`] judge it; [`metrics`] and [`report`] tell the story.
//!
//! Pipeline (sequenced by `harness::run_seed`): scenario → world (hosts, workload, faults) →
//! recorder (history) → checkers → metrics → report.
//!
//! Pure parts (scenario, history, checkers, metrics, timeline, plot, report) build in both modes
//! so their tests also run in the fast suite; the world needs `--cfg madsim`.

pub mod baseline;
pub mod checkers;
pub mod history;
pub mod metrics;
pub mod plot;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod timeline;

#[cfg(madsim)]
pub mod harness;
#[cfg(madsim)]
pub mod workload;
#[cfg(madsim)]
pub mod world;
