//! Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
//! acquire when the lease is free or expired, renew every retry period, give up leadership when a
//! renewal has not succeeded within the renew deadline. Optimistic concurrency on the Lease's
//! resourceVersion decides races.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::client::ApiClient;

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

fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// One attempt to acquire or renew. Returns whether we hold the lease afterwards.
async fn try_acquire_or_renew(client: &ApiClient, c: &LeaderElectionConfig) -> Result<bool, String> {
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}", c.namespace, c.name);
    let now = jiff::Timestamp::now();
    let resp = client.get(&path).await.map_err(|e| e.to_string())?;
    let lease_seconds = c.lease_duration.as_secs().max(1) as i64;
    if resp.status == 404 {
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": c.name, "namespace": c.namespace},
            "spec": {"holderIdentity": c.identity, "leaseDurationSeconds": lease_seconds,
                     "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0}
        });
        let created = client
            .post_json(&format!("/apis/coordination.k8s.io/v1/namespaces/{}/leases", c.namespace), &lease)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(created.status == 201);
    }
    if resp.status != 200 {
        return Err(format!("reading the lease: {}", resp.status));
    }
    let mut lease: Value = resp.json().map_err(|e| e.to_string())?;
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or("").to_owned();
    let renewed = lease["spec"]["renewTime"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let duration = lease["spec"]["leaseDurationSeconds"].as_i64().unwrap_or(lease_seconds);
    let expired = renewed.is_none_or(|r| r.as_second() + duration < now.as_second());
    if holder != c.identity && !holder.is_empty() && !expired {
        return Ok(false);
    }
    let spec = &mut lease["spec"];
    if holder != c.identity {
        spec["acquireTime"] = json!(micro_time(now));
        spec["leaseTransitions"] = json!(spec["leaseTransitions"].as_i64().unwrap_or(0) + 1);
    }
    spec["holderIdentity"] = json!(c.identity);
    spec["leaseDurationSeconds"] = json!(lease_seconds);
    spec["renewTime"] = json!(micro_time(now));
    // The resourceVersion we read makes this a compare-and-swap: a concurrent candidate gets 409.
    let updated = client.put_json(&path, &lease).await.map_err(|e| e.to_string())?;
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
