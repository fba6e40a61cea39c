//! kubesim-sim: the deterministic simulation harness. The API server core, the model store and the
//! agents run under madsim on simulated hosts; every request, watch delivery and store commit goes
//! into a [`history::History`]; [`checkers`] judge it.
//!
//! Pure parts (history, checkers) build in both modes so their tests also run in the fast suite;
//! the world itself needs `--cfg madsim`.

pub mod checkers;
pub mod history;
