//! `--allow-privileged`: without it, no container may ask for `securityContext.privileged`
//! (kube checks this in pod validation against the cluster's capabilities, hence a 422).

use serde_json::Value;

use super::{AdmissionError, Attributes};
use crate::api::validation::FieldError;

/// Refuses a privileged pod unless the cluster allows them.
pub fn check(allowed: bool, a: &Attributes<'_>, pod: &Value) -> Result<(), AdmissionError> {
    if allowed || a.resource.kind != "Pod" {
        return Ok(());
    }
    let mut errors = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = pod["spec"][list].as_array() else { continue };
        for (i, c) in containers.iter().enumerate() {
            if c["securityContext"]["privileged"] == Value::Bool(true) {
                errors.push(FieldError::forbidden(
                    format!("spec.{list}[{i}].securityContext.privileged"),
                    "disallowed by cluster policy",
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(AdmissionError::Invalid {
        kind: a.resource.kind.into(),
        group: a.resource.group.into(),
        name: a.name.into(),
        errors,
    })
}
