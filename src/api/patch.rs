//! TEMPORARY stub until the patch module lands.
use serde_json::Value;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}
impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    BadRequest(String),
}
pub fn apply_patch(t: PatchType, _kind: &str, original: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let mut doc = original.clone();
    match t {
        PatchType::Json => {
            let p: json_patch::Patch =
                serde_json::from_slice(patch).map_err(|e| PatchError::BadRequest(e.to_string()))?;
            json_patch::patch(&mut doc, &p).map_err(|e| PatchError::BadRequest(e.to_string()))?;
        }
        _ => {
            let p: Value =
                serde_json::from_slice(patch).map_err(|e| PatchError::BadRequest(e.to_string()))?;
            json_patch::merge(&mut doc, &p);
        }
    }
    Ok(doc)
}
