//! ResourceQuota (k/k plugin/pkg/admission/resourcequota with the pod evaluator of
//! pkg/quota/v1/evaluator/core): a new pod is refused when it would take a namespace's `pods`,
//! `requests.cpu`/`cpu`, `requests.memory`/`memory`, `limits.cpu` or `limits.memory` past a
//! quota's `spec.hard`; otherwise it is charged to `status.used` with a compare-and-swap write
//! before the pod is stored. Charges in one namespace go one at a time in this process (the
//! per-namespace lock); across API servers the compare-and-swap keeps them apart. Usage is
//! recounted from the stored pods when a pod goes and when a charged create fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::{AdmissionError, Attributes, Charge, Operation};
use crate::api::resources::{self, Resource};
use crate::api::validation::parse_quantity;
use crate::registry::Registry;

/// The quota resources kubesim counts.
const COUNTED: [&str; 7] =
    ["pods", "requests.cpu", "cpu", "requests.memory", "memory", "limits.cpu", "limits.memory"];

/// How many times a charge is retried when another API server charged the same quota meanwhile.
const CHARGE_RETRIES: usize = 16;

/// One lock per namespace, taken around a charge and the store write it pays for.
#[derive(Debug, Default)]
pub struct QuotaLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl QuotaLocks {
    /// Waits for the namespace's lock.
    pub async fn lock(&self, ns: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(ns.to_owned()).or_default().clone();
        lock.lock_owned().await
    }

    /// Charges a new pod to every quota of its namespace, or refuses it.
    pub async fn charge(
        &self,
        registry: &Registry,
        a: &Attributes<'_>,
        pod: &Value,
    ) -> Result<Charge, AdmissionError> {
        let (Some(ns), "Pod", None, Operation::Create) =
            (a.namespace, a.resource.kind, a.subresource, a.operation)
        else {
            return Ok(Charge::default());
        };
        let r = quotas();
        // A live lookup: a quota created a moment ago may not be in the watch cache yet.
        if registry.objects_in_live(r, ns).await?.is_empty() {
            return Ok(Charge::default());
        }
        let guard = self.lock(ns).await;
        let requested = usage(std::slice::from_ref(pod));
        for _ in 0..CHARGE_RETRIES {
            // Fresh from storage: the cache may not have the last charge yet.
            let mut charged = Vec::new();
            for quota in registry.objects_in_storage(r, ns).await? {
                let name = quota["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                let hard = quantities(&quota["spec"]["hard"]);
                let mut used = quantities(&quota["status"]["used"]);
                if hard.keys().any(|k| !used.contains_key(k)) {
                    used = counted(&hard, &usage(&registry.objects_in_storage(pods(), ns).await?));
                }
                constraints(a, &name, &hard, pod)?;
                let mut new_used = used.clone();
                let mut exceeded = Vec::new();
                for (k, limit) in &hard {
                    let Some(req) = requested.get(k.as_str()) else { continue };
                    let total = used.get(k).copied().unwrap_or(0) + req;
                    new_used.insert(k.clone(), total);
                    if total > *limit {
                        exceeded.push(k.clone());
                    }
                }
                if !exceeded.is_empty() {
                    let show = |m: &BTreeMap<String, i128>| {
                        exceeded
                            .iter()
                            .map(|k| format!("{k}={}", format_quantity(k, m.get(k).copied().unwrap_or(0))))
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    let requested: BTreeMap<String, i128> = exceeded
                        .iter()
                        .map(|k| (k.clone(), requested.get(k.as_str()).copied().unwrap_or(0)))
                        .collect();
                    return Err(AdmissionError::forbidden(
                        a,
                        format!(
                            "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                            show(&requested),
                            show(&used),
                            show(&hard)
                        ),
                    ));
                }
                if new_used != used || quota["status"]["hard"] != quota["spec"]["hard"] {
                    charged.push((name, quota, new_used));
                }
            }
            if a.dry_run {
                return Ok(Charge::default());
            }
            let mut raced = false;
            for (name, mut quota, used) in charged {
                set_status(&mut quota, &used);
                if !registry.replace_stored(r, Some(ns), &name, &quota).await? {
                    raced = true;
                    break;
                }
            }
            if !raced {
                return Ok(Charge { guard: Some(guard), namespace: Some(ns.to_owned()) });
            }
            // Another API server charged meanwhile: undo what this try wrote, and try again.
            recalculate(registry, ns).await;
        }
        Err(AdmissionError::Api(crate::api::status::ApiError::Conflict {
            resource: "resourcequotas".into(),
            name: String::new(),
            message: "Operation cannot be fulfilled on resourcequotas: too many concurrent quota updates, please try again".into(),
        }))
    }
}

fn quotas() -> &'static Resource {
    resources::find("", "v1", "resourcequotas").expect("resourcequotas are served")
}

fn pods() -> &'static Resource {
    resources::find("", "v1", "pods").expect("pods are served")
}

/// A quota's status for `used`: hard as in spec, used as given.
fn set_status(quota: &mut Value, used: &BTreeMap<String, i128>) {
    let used: Map<String, Value> =
        used.iter().map(|(k, v)| (k.clone(), json!(format_quantity(k, *v)))).collect();
    // Empty lists are left out (omitempty), as kube's quota controller writes them.
    let mut status = Map::new();
    if let Some(hard) = quota["spec"]["hard"].as_object().filter(|h| !h.is_empty()) {
        status.insert("hard".into(), Value::Object(hard.clone()));
    }
    if !used.is_empty() {
        status.insert("used".into(), Value::Object(used));
    }
    quota["status"] = Value::Object(status);
}

/// kube's "must specify" constraint: with a compute resource in the quota, every container must
/// say how much of it it requests (or limits).
fn constraints(
    a: &Attributes<'_>,
    quota: &str,
    hard: &BTreeMap<String, i128>,
    pod: &Value,
) -> Result<(), AdmissionError> {
    let mut missing = std::collections::BTreeSet::new();
    for list in ["initContainers", "containers"] {
        for c in pod["spec"][list].as_array().into_iter().flatten() {
            for k in hard.keys() {
                let (field, res) = match k.as_str() {
                    "requests.cpu" | "cpu" => ("requests", "cpu"),
                    "requests.memory" | "memory" => ("requests", "memory"),
                    "limits.cpu" => ("limits", "cpu"),
                    "limits.memory" => ("limits", "memory"),
                    _ => continue,
                };
                if c["resources"][field].get(res).is_none() {
                    missing.insert(k.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(AdmissionError::forbidden(
        a,
        format!("failed quota: {quota}: must specify {}", missing.into_iter().collect::<Vec<_>>().join(",")),
    ))
}

/// The usage of `pods` (milli-units), terminal pods left out as kube's evaluator does.
fn usage(pods: &[Value]) -> BTreeMap<&'static str, i128> {
    let mut total: BTreeMap<&'static str, i128> = BTreeMap::new();
    for pod in pods {
        if matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
            continue;
        }
        *total.entry("pods").or_default() += 1000;
        for (field, res, keys) in [
            ("requests", "cpu", &["requests.cpu", "cpu"][..]),
            ("requests", "memory", &["requests.memory", "memory"][..]),
            ("limits", "cpu", &["limits.cpu"][..]),
            ("limits", "memory", &["limits.memory"][..]),
        ] {
            let of = |c: &Value| c["resources"][field][res].as_str().and_then(parse_quantity).unwrap_or(0);
            let sum: i128 = pod["spec"]["containers"].as_array().into_iter().flatten().map(of).sum();
            // Init containers run one at a time before the others: the pod needs the larger.
            let init =
                pod["spec"]["initContainers"].as_array().into_iter().flatten().map(of).max().unwrap_or(0);
            for k in keys {
                *total.entry(k).or_default() += sum.max(init);
            }
        }
    }
    total
}

/// The usage of the resources a quota limits.
fn counted(hard: &BTreeMap<String, i128>, usage: &BTreeMap<&'static str, i128>) -> BTreeMap<String, i128> {
    hard.keys().map(|k| (k.clone(), usage.get(k.as_str()).copied().unwrap_or(0))).collect()
}

/// A ResourceList as milli-units, counted resources only.
fn quantities(list: &Value) -> BTreeMap<String, i128> {
    list.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| COUNTED.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.clone(), parse_quantity(v.as_str()?)?)))
        .collect()
}

/// A milli-unit amount as a quantity string: cpu in cores or millicores, memory with a binary
/// suffix when exact, counts as plain integers.
pub fn format_quantity(resource: &str, milli: i128) -> String {
    if resource.ends_with("cpu") {
        return if milli % 1000 == 0 { (milli / 1000).to_string() } else { format!("{milli}m") };
    }
    if milli % 1000 != 0 {
        return format!("{milli}m");
    }
    let units = milli / 1000;
    if resource.ends_with("memory") && units != 0 {
        for (suffix, size) in [("Ti", 1i128 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if units % size == 0 {
                return format!("{}{suffix}", units / size);
            }
        }
    }
    units.to_string()
}

/// Whether the namespace has a quota (a live lookup; true when it cannot tell).
pub async fn any_in(registry: &Registry, ns: &str) -> bool {
    registry.objects_in_live(quotas(), ns).await.map_or(true, |q| !q.is_empty())
}

/// Recounts the namespace's usage from the stored pods into every quota's status. Failures are
/// logged: the next recount repairs them.
pub async fn recalculate(registry: &Registry, ns: &str) {
    let result: Result<(), crate::api::status::ApiError> = async {
        let list = registry.objects_in_storage(quotas(), ns).await?;
        if list.is_empty() {
            return Ok(());
        }
        let usage = usage(&registry.objects_in_storage(pods(), ns).await?);
        for mut quota in list {
            let name = quota["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let used = counted(&quantities(&quota["spec"]["hard"]), &usage);
            set_status(&mut quota, &used);
            // A conflict means someone wrote a newer count: that one stands.
            registry.replace_stored(quotas(), Some(ns), &name, &quota).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(namespace = ns, error = %e, "recounting quota usage failed");
    }
}

/// Fills a new quota's status from the namespace's pods.
pub async fn init_status(registry: &Registry, ns: &str, quota: &mut Value) {
    let pods = match registry.objects_in_storage(pods(), ns).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(namespace = ns, error = %e, "counting pods for a new quota failed");
            Vec::new()
        }
    };
    let used = counted(&quantities(&quota["spec"]["hard"]), &usage(&pods));
    set_status(quota, &used);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_formatting() {
        let pod = json!({"spec": {"containers": [
            {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "2"}}}]}});
        let done = json!({"spec": {"containers": []}, "status": {"phase": "Succeeded"}});
        let u = usage(&[pod, done]);
        assert_eq!(u["pods"], 1000);
        assert_eq!(format_quantity("requests.cpu", u["requests.cpu"]), "2");
        assert_eq!(format_quantity("memory", u["memory"]), "64Mi");
        assert_eq!(format_quantity("limits.memory", u["limits.memory"]), "1Gi");
        assert_eq!(format_quantity("cpu", 1250), "1250m");
        assert_eq!(format_quantity("pods", 3000), "3");
        assert_eq!(format_quantity("memory", 1_000_000), "1000");
    }
}
