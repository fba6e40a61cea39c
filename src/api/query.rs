//! Query parameters of reads, writes and deletes, validated the way kube-apiserver validates
//! ListOptions (apimachinery pkg/apis/meta/internalversion/validation), and continue tokens.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::status::{ApiError, Cause};

/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// At least the given revision.
    NotOlderThan,
    /// Exactly the given revision.
    Exact,
}

/// A parsed `resourceVersion` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersion {
    /// Absent or empty: the most recent state.
    Unset,
    /// "0": any state (from the cache).
    Any,
    /// A revision.
    At(i64),
}

/// Parameters of GET, LIST and WATCH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadQuery {
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `limit`.
    pub limit: Option<i64>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `watch`.
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
}

/// `fieldValidation` of writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Unknown fields are dropped silently.
    Ignore,
    /// Unknown fields are dropped with a warning (the default).
    #[default]
    Warn,
    /// Unknown or duplicate fields fail the request with 400.
    Strict,
}

/// Parameters of POST, PUT and PATCH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteQuery {
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `force` (server-side apply).
    pub force: bool,
}

/// Parameters of DELETE given in the query (a DeleteOptions body may add to them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteQuery {
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" | "True" | "TRUE" | "t" | "T" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "f" | "F" | "" => Ok(false),
        _ => Err(ApiError::BadRequest(format!("invalid value {v:?} for {name}: not a boolean"))),
    }
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse().map_err(|_| ApiError::BadRequest(format!("invalid value {v:?} for {name}: not an integer")))
}

fn list_options_invalid(field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        kind: "ListOptions".into(),
        group: "meta.k8s.io".into(),
        name: String::new(),
        message: format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {message}"),
        causes: vec![Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {message}"),
            field: field.into(),
        }],
    }
}

impl ReadQuery {
    /// Parses and validates the query of a read.
    pub fn parse(query: Option<&str>) -> Result<ReadQuery, ApiError> {
        let mut q = ReadQuery::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "resourceVersion" => q.resource_version = Some(v).filter(|v| !v.is_empty()),
                "resourceVersionMatch" => {
                    q.resource_version_match = match v.as_str() {
                        "" => None,
                        "NotOlderThan" => Some(ResourceVersionMatch::NotOlderThan),
                        "Exact" => Some(ResourceVersionMatch::Exact),
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "invalid resourceVersionMatch {other:?}: must be NotOlderThan or Exact"
                            )));
                        }
                    }
                }
                "limit" => q.limit = Some(parse_int::<i64>("limit", &v)?).filter(|&l| l > 0),
                "continue" => q.continue_token = Some(v).filter(|v| !v.is_empty()),
                "labelSelector" => q.label_selector = Some(v).filter(|v| !v.is_empty()),
                "fieldSelector" => q.field_selector = Some(v).filter(|v| !v.is_empty()),
                "watch" => q.watch = parse_bool("watch", &v)?,
                "allowWatchBookmarks" => q.allow_watch_bookmarks = parse_bool("allowWatchBookmarks", &v)?,
                "sendInitialEvents" => q.send_initial_events = Some(parse_bool("sendInitialEvents", &v)?),
                "timeoutSeconds" => q.timeout_seconds = Some(parse_int("timeoutSeconds", &v)?),
                _ => {}
            }
        }
        q.validate()?;
        Ok(q)
    }

    fn validate(&self) -> Result<(), ApiError> {
        if let Some(m) = self.resource_version_match {
            // A watch-list may leave resourceVersion unset: a consistent snapshot (client-go's
            // reflector sends exactly this first).
            if self.resource_version.is_none() && !self.watch {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if self.continue_token.is_some() {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if m == ResourceVersionMatch::Exact && self.resource_version.as_deref() == Some("0") {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            if self.watch && self.send_initial_events.is_none() {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
        }
        if let Some(send) = self.send_initial_events {
            if !self.watch {
                return Err(list_options_invalid(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list",
                ));
            }
            if send && self.resource_version_match != Some(ResourceVersionMatch::NotOlderThan) {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
        }
        if self.continue_token.is_some() && !matches!(self.resource_version.as_deref(), None | Some("0")) {
            return Err(ApiError::BadRequest(
                "specifying resource version is not allowed when using continue".into(),
            ));
        }
        self.resource_version()?;
        Ok(())
    }

    /// The parsed `resourceVersion`.
    pub fn resource_version(&self) -> Result<ResourceVersion, ApiError> {
        match self.resource_version.as_deref() {
            None => Ok(ResourceVersion::Unset),
            Some("0") => Ok(ResourceVersion::Any),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(ResourceVersion::At(n)),
                _ => Err(ApiError::BadRequest(format!("invalid resource version {v:?}"))),
            },
        }
    }
}

impl WriteQuery {
    /// Parses the query of a write.
    pub fn parse(query: Option<&str>) -> Result<WriteQuery, ApiError> {
        let mut q = WriteQuery::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "fieldValidation" => {
                    q.field_validation = match v.as_str() {
                        "Strict" => FieldValidation::Strict,
                        "Warn" | "" => FieldValidation::Warn,
                        "Ignore" => FieldValidation::Ignore,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
                            )));
                        }
                    }
                }
                "fieldManager" => q.field_manager = Some(v),
                "dryRun" => q.dry_run = dry_run(&v)?,
                "force" => q.force = parse_bool("force", &v)?,
                _ => {}
            }
        }
        Ok(q)
    }
}

fn dry_run(v: &str) -> Result<bool, ApiError> {
    match v {
        "All" => Ok(true),
        "" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "unsupported dryRun value {other:?}: only \"All\" is supported"
        ))),
    }
}

impl DeleteQuery {
    /// Parses the query of a delete.
    pub fn parse(query: Option<&str>) -> Result<DeleteQuery, ApiError> {
        let mut q = DeleteQuery::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "gracePeriodSeconds" => q.grace_period_seconds = Some(parse_int("gracePeriodSeconds", &v)?),
                "propagationPolicy" => q.propagation_policy = Some(v),
                "dryRun" => q.dry_run = dry_run(&v)?,
                _ => {}
            }
        }
        Ok(q)
    }
}

/// The content of a continue token (apiserver pkg/storage/continue.go).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Always `meta.k8s.io/v1`.
    pub v: String,
    /// The revision every page of the list is read at.
    pub rv: i64,
    /// The key to start at, relative to the collection prefix (the last key plus "\0").
    pub start: String,
}

impl ContinueToken {
    /// A token that resumes after `last_key` (relative to the collection prefix).
    pub fn after(rv: i64, last_key_relative: &str) -> ContinueToken {
        ContinueToken { v: "meta.k8s.io/v1".into(), rv, start: format!("{last_key_relative}\u{0}") }
    }

    /// The encoded token.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a token serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes and checks a token.
    pub fn decode(token: &str) -> Result<ContinueToken, ApiError> {
        let bad = |why: &str| ApiError::BadRequest(format!("continue key is not valid: {why}"));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
        let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
        if t.v != "meta.k8s.io/v1" {
            return Err(bad("server does not recognize this encoded key"));
        }
        if t.start.is_empty() || t.start.split('/').any(|s| s == ".." || s == ".") {
            return Err(bad("path traversal attempt detected"));
        }
        Ok(t)
    }

    /// The key a list resumes strictly after, relative to the collection prefix.
    pub fn resume_after(&self) -> &str {
        self.start.strip_suffix('\u{0}').unwrap_or(&self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(query: &str) -> String {
        match ReadQuery::parse(Some(query)) {
            Err(e) => format!("{} {}", e.code(), e),
            Ok(q) => format!("ok {q:?}"),
        }
    }

    #[test]
    fn list_options_are_validated_as_kube_does() {
        assert!(invalid("resourceVersionMatch=Exact").starts_with("422"));
        assert!(invalid("resourceVersion=0&resourceVersionMatch=Exact").starts_with("422"));
        assert!(invalid("resourceVersion=5&continue=abc").starts_with("400"));
        assert!(invalid("sendInitialEvents=true").starts_with("422"));
        assert!(invalid("watch=true&sendInitialEvents=true").starts_with("422"));
        assert!(invalid("watch=true&resourceVersion=5&resourceVersionMatch=NotOlderThan").starts_with("422"));
        assert!(invalid("resourceVersion=abc").starts_with("400"));
        assert!(invalid("limit=x").starts_with("400"));
        let ok = ReadQuery::parse(Some(
            "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=&allowWatchBookmarks=true",
        ));
        assert!(ok.is_ok(), "a watch-list may leave resourceVersion unset: {ok:?}");
        let ok = ReadQuery::parse(Some(
            "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0&allowWatchBookmarks=true",
        ))
        .unwrap();
        assert_eq!(ok.resource_version().unwrap(), ResourceVersion::Any);
        assert!(ok.watch && ok.allow_watch_bookmarks);
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_traversal() {
        let t = ContinueToken::after(42, "default/pod-7");
        let back = ContinueToken::decode(&t.encode()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.resume_after(), "default/pod-7");
        let evil = ContinueToken { v: "meta.k8s.io/v1".into(), rv: 1, start: "../secrets\u{0}".into() };
        assert!(ContinueToken::decode(&evil.encode()).is_err());
        assert!(ContinueToken::decode("!!!").is_err());
    }
}
