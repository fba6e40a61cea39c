//! Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
//! acquire when the lease is free or expired, renew every retry period, give up leadership when a
//! renewal has not succeeded within the renew deadline. Optimistic concurrency on the Lease's
//! resourceVersion decides races.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube_core::params::{GetParams, PostParams};
use kube_core::{Request, Resource};
use tokio::sync::watch;

use crate::client::{json_body, ApiClient};

/// Timings and identity. Defaults are kube-scheduler's.
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// Lease namespace. Default `kube-system`.
    pub namespace: String,
    /// Lease name. Default `kube-scheduler`.
    pub name: String,
    /// This candidate's identity (holderIdentity).
    pub identity: String,
    /// How long a lease is valid after its renewTime. Default 15 s.
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long steps down. Default 10 s.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew. Default 2 s.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// kube-scheduler's defaults for `identity`.
    pub fn new(identity: impl Into<String>) -> Self {
        LeaderElectionConfig {
            namespace: "kube-system".into(),
            name: "kube-scheduler".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// One attempt to acquire or renew. Returns whether we hold the lease afterwards.
async fn try_acquire_or_renew(client: &ApiClient, c: &LeaderElectionConfig) -> Result<bool, String> {
    let leases = Request::new(Lease::url_path(&(), Some(&c.namespace)));
    let now = jiff::Timestamp::now();
    let get = leases.get(&c.name, &GetParams::default()).map_err(|e| e.to_string())?;
    let resp = client.send(get).await.map_err(|e| e.to_string())?;
    let lease_seconds = i32::try_from(c.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
    if resp.status == 404 {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(c.name.clone()),
                namespace: Some(c.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(c.identity.clone()),
                lease_duration_seconds: Some(lease_seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        let create = leases.create(&PostParams::default(), json_body(&lease).map_err(|e| e.to_string())?);
        let created = client.send(create.map_err(|e| e.to_string())?).await.map_err(|e| e.to_string())?;
        return Ok(created.status == 201);
    }
    if resp.status != 200 {
        return Err(format!("reading the lease: {}", resp.status));
    }
    let mut lease: Lease = resp.decode().map_err(|e| e.to_string())?;
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(lease_seconds));
    let expired = spec.renew_time.as_ref().is_none_or(|r| r.0.as_second() + duration < now.as_second());
    if holder != c.identity && !holder.is_empty() && !expired {
        return Ok(false);
    }
    if holder != c.identity {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.holder_identity = Some(c.identity.clone());
    spec.lease_duration_seconds = Some(lease_seconds);
    spec.renew_time = Some(MicroTime(now));
    // The resourceVersion we read makes this a compare-and-swap: a concurrent candidate gets 409.
    let body = json_body(&lease).map_err(|e| e.to_string())?;
    let replace = leases.replace(&c.name, &PostParams::default(), body).map_err(|e| e.to_string())?;
    let updated = client.send(replace).await.map_err(|e| e.to_string())?;
    Ok(updated.status == 200)
}

/// Runs the election until `shutdown` fires, publishing whether we lead on `leading`.
pub async fn run(
    client: ApiClient,
    config: LeaderElectionConfig,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_renewal: Option<tokio::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            let _ = leading.send(false);
            return;
        }
        match try_acquire_or_renew(&client, &config).await {
            Ok(true) => {
                last_renewal = Some(tokio::time::Instant::now());
                leading.send_if_modified(|l| !std::mem::replace(l, true));
            }
            Ok(false) => {
                last_renewal = None;
                leading.send_if_modified(|l| std::mem::replace(l, false));
            }
            Err(e) => tracing::debug!(identity = %config.identity, error = %e, "lease renewal failed"),
        }
        if last_renewal.is_some_and(|t| t.elapsed() > config.renew_deadline) {
            last_renewal = None;
            leading.send_if_modified(|l| std::mem::replace(l, false));
        }
        tokio::select! {
            () = tokio::time::sleep(config.retry_period) => {}
            _ = shutdown.changed() => {}
        }
    }
}
