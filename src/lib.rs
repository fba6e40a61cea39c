//! kubesim: a Kubernetes-compatible API server core that runs for real (tokio, hyper, rustls, etcd)
//! and under the deterministic simulator madsim (`--cfg madsim`).
//!
//! Modules in data-flow order: [`server`] (the pipeline and the HTTP edge) → [`api`] (request
//! info, parameters, wire shapes) → [`registry`] (REST semantics) → [`watch`] (watch cache) →
//! [`storage`] (the seam to etcd or the fault-injecting model store).

pub mod server;

pub mod auth;

pub mod admission;

pub mod client;

pub mod agents;

pub mod api;
pub mod deadline;
pub mod registry;
pub mod watch;

pub mod storage;

pub mod encryption;

pub mod audit;

#[cfg(not(madsim))]
pub mod load;

#[cfg(not(madsim))]
pub mod testing;
