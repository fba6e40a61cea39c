//! The API layer's error enum and its one translation into a Kubernetes `Status` (the HTTP edge).
//!
//! Every variant is a reason kube-apiserver gives, with its code and message shape
//! (apimachinery pkg/api/errors).

use serde_json::{json, Value};

/// One cause inside a `Status` (a field error of a 422, a strict-decoding error, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueUnknown`, ...
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

/// Why a request failed, as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 NotFound: `pods "x" not found`.
    #[error("{}", not_found_message(.resource, .name))]
    NotFound {
        /// Group-qualified resource, e.g. `pods` or `leases.coordination.k8s.io`.
        resource: String,
        /// Object name.
        name: String,
    },
    /// 404 for a path that names no resource.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// 409 AlreadyExists.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Group-qualified resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// 409 Conflict with a full message (stale resourceVersion, binding conflicts, ...).
    #[error("{message}")]
    Conflict {
        /// Group-qualified resource.
        resource: String,
        /// Object name.
        name: String,
        /// The message.
        message: String,
    },
    /// 422 Invalid, carrying every field error.
    #[error("{message}")]
    Invalid {
        /// Kind, e.g. `Pod`.
        kind: String,
        /// Group of the kind.
        group: String,
        /// Object name.
        name: String,
        /// Aggregate message.
        message: String,
        /// The field errors.
        causes: Vec<Cause>,
    },
    /// 400 BadRequest.
    #[error("{0}")]
    BadRequest(String),
    /// 400 BadRequest with causes (strict decoding errors).
    #[error("{message}")]
    BadRequestCauses {
        /// Message.
        message: String,
        /// Causes.
        causes: Vec<Cause>,
    },
    /// 401 Unauthorized.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403 Forbidden with kube-apiserver's message.
    #[error("{message}")]
    Forbidden {
        /// Group-qualified resource.
        resource: String,
        /// Object name (may be empty).
        name: String,
        /// Message.
        message: String,
    },
    /// 405 MethodNotAllowed.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// 406 NotAcceptable.
    #[error("only the following media types are accepted: {0}")]
    NotAcceptable(String),
    /// 415 UnsupportedMediaType.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413 RequestEntityTooLarge.
    #[error("Request entity too large: limit is {limit_bytes}")]
    TooLarge {
        /// The limit.
        limit_bytes: usize,
    },
    /// 410 Expired (Gone).
    #[error("{0}")]
    Expired(String),
    /// 410 Expired for a list continue token, carrying a token that resumes at the latest version.
    #[error("{message}")]
    ExpiredContinue {
        /// Message.
        message: String,
        /// The inconsistent continue token for `Status.metadata.continue`.
        continue_token: String,
    },
    /// 429 TooManyRequests.
    #[error("Too many requests, please try again later.")]
    TooManyRequests {
        /// Seconds for Retry-After.
        retry_after_seconds: u32,
    },
    /// 504 Timeout (too large resource version, storage timeout).
    #[error("{message}")]
    Timeout {
        /// Message.
        message: String,
        /// Seconds for Retry-After.
        retry_after_seconds: u32,
        /// `ResourceVersionTooLarge` cause, when that is why.
        too_large_resource_version: bool,
    },
    /// 503 ServiceUnavailable (storage unavailable).
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 500 InternalError.
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// 500 with no reason and the bare message: what kube-apiserver's `ErrorToAPIStatus` makes
    /// of an error that is not a Status (e.g. the strategic merge patch code's own errors).
    #[error("{0}")]
    Unknown(String),
}

fn not_found_message(resource: &str, name: &str) -> String {
    if name.is_empty() {
        format!("{resource} not found")
    } else {
        format!("{resource} \"{name}\" not found")
    }
}

/// `pods` or `leases.coordination.k8s.io`, as kube qualifies resources in messages.
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

fn split_qualified(qualified: &str) -> (&str, &str) {
    qualified.split_once('.').unwrap_or((qualified, ""))
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) | ApiError::BadRequestCauses { .. } => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::TooLarge { .. } => 413,
            ApiError::Expired(_) | ApiError::ExpiredContinue { .. } => 410,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Timeout { .. } => 504,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::Internal(_) | ApiError::Unknown(_) => 500,
        }
    }

    /// The `reason` field.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) | ApiError::BadRequestCauses { .. } => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::TooLarge { .. } => "RequestEntityTooLarge",
            ApiError::Expired(_) | ApiError::ExpiredContinue { .. } => "Expired",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
            ApiError::Unknown(_) => "",
        }
    }

    /// Seconds for a Retry-After header, when the error asks for a retry.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::TooManyRequests { retry_after_seconds }
            | ApiError::Timeout { retry_after_seconds, .. } => Some(*retry_after_seconds),
            _ => None,
        }
    }

    /// The conflict kube-apiserver answers to an update with a stale resourceVersion.
    pub fn stale(resource: &str, name: &str) -> ApiError {
        ApiError::Conflict {
            resource: resource.to_owned(),
            name: name.to_owned(),
            message: format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let mut set_target = |qualified_resource: &str, name: &str| {
            let (kind, group) = split_qualified(qualified_resource);
            if !name.is_empty() {
                details.insert("name".into(), json!(name));
            }
            details.insert("group".into(), json!(group));
            details.insert("kind".into(), json!(kind));
        };
        match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name, .. }
            | ApiError::Forbidden { resource, name, .. } => set_target(resource, name),
            ApiError::Invalid { kind, group, name, causes, .. } => {
                details.insert("name".into(), json!(name));
                details.insert("group".into(), json!(group));
                details.insert("kind".into(), json!(kind));
                details.insert("causes".into(), causes_json(causes));
            }
            ApiError::BadRequestCauses { causes, .. } => {
                details.insert("causes".into(), causes_json(causes));
            }
            ApiError::Timeout { retry_after_seconds, too_large_resource_version, .. } => {
                details.insert("retryAfterSeconds".into(), json!(retry_after_seconds));
                if *too_large_resource_version {
                    details.insert(
                        "causes".into(),
                        json!([{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]),
                    );
                }
            }
            ApiError::TooManyRequests { retry_after_seconds } => {
                details.insert("retryAfterSeconds".into(), json!(retry_after_seconds));
            }
            _ => {}
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if self.reason().is_empty() {
            // StatusReasonUnknown is the empty string, left out by `omitempty`.
            status.as_object_mut().unwrap().remove("reason");
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        if let ApiError::ExpiredContinue { continue_token, .. } = self {
            status["metadata"] = json!({"continue": continue_token});
        }
        status
    }
}

fn causes_json(causes: &[Cause]) -> Value {
    Value::Array(
        causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect(),
    )
}

/// A `Status` of success (binding, some deletes).
pub fn success_status(code: u16, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": code,
    });
    if let Some(d) = details {
        status["details"] = d;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: ApiError, code: u16, reason: &str, message: &str) {
        let status = error.to_status();
        assert_eq!(status["code"], code);
        assert_eq!(status["reason"], reason);
        assert_eq!(status["message"], message);
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["status"], "Failure");
    }

    #[test]
    fn statuses_match_kube_apiserver() {
        check(
            ApiError::NotFound { resource: "pods".into(), name: "x".into() },
            404,
            "NotFound",
            "pods \"x\" not found",
        );
        check(
            ApiError::AlreadyExists { resource: "leases.coordination.k8s.io".into(), name: "n".into() },
            409,
            "AlreadyExists",
            "leases.coordination.k8s.io \"n\" already exists",
        );
        check(
            ApiError::stale("pods", "x"),
            409,
            "Conflict",
            "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your \
             changes to the latest version and try again",
        );
        check(
            ApiError::TooLarge { limit_bytes: 3_145_728 },
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        );
        let status =
            ApiError::AlreadyExists { resource: "leases.coordination.k8s.io".into(), name: "n".into() }
                .to_status();
        assert_eq!(status["details"]["group"], "coordination.k8s.io");
        assert_eq!(status["details"]["kind"], "leases");
    }
}
