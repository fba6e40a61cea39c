//! Agents: plain async code against the API client — the informer they all stand on, and (issue
//! #4) the scheduler, kubelet and node lifecycle controller that run both in the simulation and in
//! `kubesim load` against any API server.

pub mod informer;
pub mod kubelet;
pub mod kubelet_lifecycle;
pub mod leader_election;
pub mod node_lifecycle;
pub mod scheduler;
pub mod scheduler_algorithm;
