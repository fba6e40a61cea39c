//! kubesim: a Kubernetes-compatible API server core that runs for real (tokio, hyper, rustls, etcd)
//! and under the deterministic simulator madsim (`--cfg madsim`).
//!
//! Modules are declared in data-flow order: everything stands on [`storage`], the seam to etcd or to
//! the fault-injecting in-memory model store.

pub mod storage;

#[cfg(not(madsim))]
pub mod testing;
