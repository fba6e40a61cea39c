//! Auditing (`--audit-policy-file`, `--audit-log-*`): one audit.k8s.io/v1 `Event` JSON line per
//! request stage the policy asks for.
//!
//! Events leave the request path through a bounded queue ([`AUDIT_QUEUE_MAX`]) to one writer
//! thread (file writes block, so not on the async runtime). A full queue never blocks a request:
//! the event is dropped and counted (`apiserver_audit_event_dropped_total` in /metrics).
//! Real mode only in practice: the simulation configures no auditor.

mod event;
mod policy;
mod rotating_file;

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

pub use event::{
    micro_time_now, Event, Level, ObjectReference, ResponseStatus, Stage, UserInfo, API_VERSION, KIND,
};
pub use policy::{GroupResources, Policy, PolicyRule, RequestAttributes, ResourceAttributes};
pub use rotating_file::{RotatingFile, Rotation, DEFAULT_MAX_SIZE_BYTES, MEGABYTE};

/// Events waiting for the writer at most (kube's buffered backend default, --audit-log-batch-buffer-size).
pub const AUDIT_QUEUE_MAX: usize = 10_000;

/// The annotation carrying the authorization decision.
pub const DECISION_ANNOTATION: &str = "authorization.k8s.io/decision";

/// The client's address, put in the request's extensions by the HTTP edge (for `sourceIPs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// Why auditing could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The policy file is wrong.
    #[error("{0}")]
    Policy(String),
    /// The log could not be opened.
    #[error("audit log {path}: {source}")]
    Log {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The policy and the queue to the writer.
pub struct Auditor {
    policy: Policy,
    queue: SyncSender<Event>,
    queued: AtomicU64,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").field("rules", &self.policy.rules.len()).finish_non_exhaustive()
    }
}

impl Auditor {
    /// Starts the writer thread over `out`, with a queue of `queue_max` events.
    pub fn new(policy: Policy, mut out: Box<dyn Write + Send>, queue_max: usize) -> Auditor {
        let (queue, events) = sync_channel::<Event>(queue_max);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = dropped.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                for event in events {
                    let mut line = match serde_json::to_vec(&event) {
                        Ok(l) => l,
                        Err(_) => continue,
                    };
                    line.push(b'\n');
                    if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                        lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .expect("spawning the audit writer thread");
        Auditor { policy, queue, queued: AtomicU64::new(0), dropped }
    }

    /// From kube-apiserver's flags: `path` is a file or `-` (stdout).
    pub fn from_flags(
        policy_file: &std::path::Path,
        path: &str,
        rotation: Rotation,
    ) -> Result<Auditor, AuditError> {
        let text = std::fs::read_to_string(policy_file)
            .map_err(|e| AuditError::Policy(format!("reading {}: {e}", policy_file.display())))?;
        let policy = Policy::parse(&text).map_err(AuditError::Policy)?;
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                RotatingFile::open(std::path::Path::new(path), rotation)
                    .map_err(|source| AuditError::Log { path: path.into(), source })?,
            )
        };
        Ok(Auditor::new(policy, out, AUDIT_QUEUE_MAX))
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Queues an event, never waiting: a full queue drops it.
    pub fn emit(&self, event: Event) {
        match self.queue.try_send(event) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events handed to the writer.
    pub fn event_total(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Events dropped (queue full, or the write failed).
    pub fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
