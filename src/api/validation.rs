//! Per-kind validation of API objects, matching kube-apiserver's field errors.
//!
//! Rules and messages follow k8s.io/kubernetes `pkg/apis/core/validation`,
//! `pkg/apis/rbac/validation`, `pkg/apis/coordination/validation` and
//! k8s.io/apimachinery `pkg/api/validation`, `pkg/util/validation` (+ `field`).
//! All errors are collected (never fail-fast), in a deterministic order: Go
//! iterates maps randomly, here map keys are visited in sorted order.
//!
//! Validation runs on the typed k8s-openapi structs, after defaulting
//! (see `super::defaults`). Fields that defaulting always fills (e.g.
//! `restartPolicy`, port `protocol`) are accepted when absent, but an explicit
//! empty string is reported as `Required`, as kube does.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------

/// `field.ErrorType` (the subset kubesim emits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
}

impl FieldErrorKind {
    /// The `StatusCause.reason` (Go: the ErrorType string).
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
        }
    }

    /// Human text (Go: `ErrorType.String()`).
    pub fn text(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
        }
    }
}

/// One field error (Go: `field.Error`).
///
/// `bad_value` holds the value already rendered the way Go's `ErrorBody`
/// prints it (`"foo"` quoted for strings, `8` for numbers, `%#v` for
/// structs); `None` means the value is not printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    pub field: String,
    pub detail: String,
    pub bad_value: Option<String>,
}

impl FieldError {
    /// `field.Required(path, detail)`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Required, field: field.into(), detail: detail.into(), bad_value: None }
    }
    /// `field.Invalid(path, <string value>, detail)`.
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        Self::invalid_raw(field, go_quote(value), detail)
    }
    /// `field.Invalid` with a pre-rendered bad value (numbers, structs, lists).
    pub fn invalid_raw(
        field: impl Into<String>,
        rendered: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: FieldErrorKind::Invalid,
            field: field.into(),
            detail: detail.into(),
            bad_value: Some(rendered.into()),
        }
    }
    /// `field.NotSupported(path, value, validValues)`.
    pub fn not_supported(field: impl Into<String>, value: &str, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let q: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", q.join(", "))
        };
        Self {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            detail,
            bad_value: Some(go_quote(value)),
        }
    }
    /// `field.Duplicate(path, <string value>)`.
    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        Self::duplicate_raw(field, go_quote(value))
    }
    /// `field.Duplicate` with a pre-rendered bad value.
    pub fn duplicate_raw(field: impl Into<String>, rendered: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorKind::Duplicate,
            field: field.into(),
            detail: String::new(),
            bad_value: Some(rendered.into()),
        }
    }
    /// `field.Forbidden(path, detail)`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Forbidden, field: field.into(), detail: detail.into(), bad_value: None }
    }
    /// `field.TooLong(path, _, maxLength)` (bytes).
    pub fn too_long(field: impl Into<String>, max_bytes: i64) -> Self {
        let detail = if max_bytes >= 0 {
            format!("may not be more than {} {}", max_bytes, if max_bytes == 1 { "byte" } else { "bytes" })
        } else {
            "value is too long".to_string()
        };
        Self { kind: FieldErrorKind::TooLong, field: field.into(), detail, bad_value: None }
    }
    /// `field.TooMany(path, actual, max)`; a negative `actual` omits the value.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {} {}", max, if max == 1 { "item" } else { "items" })
        } else {
            "has too many items".to_string()
        };
        Self {
            kind: FieldErrorKind::TooMany,
            field: field.into(),
            detail,
            bad_value: if actual >= 0 { Some(actual.to_string()) } else { None },
        }
    }

    /// The `StatusCause.reason`, e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the field (Go: `ErrorBody()`; used as `StatusCause.message`).
    pub fn body(&self) -> String {
        let mut s = self.kind.text().to_string();
        match self.kind {
            FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong => {}
            _ => {
                if let Some(v) = &self.bad_value {
                    s.push_str(": ");
                    s.push_str(v);
                }
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The full message as kube prints one error (Go: `Error()`), e.g.
    /// `spec.containers: Required value`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// `Kind.group` as `schema.GroupKind.String()` prints it for the kinds kubesim
/// serves (`Pod`, `Lease.coordination.k8s.io`, `Role.rbac.authorization.k8s.io`).
pub fn qualified_kind(kind: &str) -> String {
    match kind {
        "Lease" => "Lease.coordination.k8s.io".to_string(),
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => {
            format!("{kind}.rbac.authorization.k8s.io")
        }
        _ => kind.to_string(),
    }
}

/// kube's `NewInvalid` message: `Pod "x" is invalid: [err1, err2]` (no brackets
/// for a single error). `kind` is printed as given (pass [`qualified_kind`] for
/// grouped kinds). Identical messages are reported once, like `ToAggregate`.
pub fn invalid_message(kind: &str, name: &str, errors: &[FieldError]) -> String {
    let mut seen = BTreeSet::new();
    let mut msgs = Vec::new();
    for e in errors {
        let m = e.message();
        if seen.insert(m.clone()) {
            msgs.push(m);
        }
    }
    let agg = match msgs.len() {
        0 => String::new(),
        1 => msgs.pop().unwrap_or_default(),
        _ => format!("[{}]", msgs.join(", ")),
    };
    format!("{} {} is invalid: {}", kind, go_quote(name), agg)
}

/// Go `%q` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go `%#v` of a `[]string`.
fn go_string_slice(v: &[String]) -> String {
    let q: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", q.join(", "))
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}
fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

// ---------------------------------------------------------------------------
// String formats (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const QUANTITY_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Total annotation size limit (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// `core.MaxSecretSize`, also used for ConfigMaps (1 MiB).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// `validation.RegexError`.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut m = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            m.push_str(" or ");
        }
        m.push_str(&format!("'{e}', "));
    }
    m.push_str(&format!("regex used for validation is '{fmt}')"));
    m
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `IsDNS1123Label`: list of problems, empty when valid.
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`: list of problems, empty when valid.
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

/// `IsQualifiedName` / `content.IsLabelKey`.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(LABEL_VALUE_ERR, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// `IsConfigMapKey` (ConfigMap and Secret data keys).
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    let ok = !value.is_empty()
        && value.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
    if !ok {
        errs.push(regex_error(CONFIG_MAP_KEY_ERR, CONFIG_MAP_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    if value == "." {
        errs.push("must not be '.'".to_string());
    } else if value == ".." {
        errs.push("must not be '..'".to_string());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// `IsValidPortNum`.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// `IsValidPortName`.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `path.IsValidPathSegmentName` (RBAC object names).
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    for bad in [".", ".."] {
        if name == bad {
            return vec![format!("may not be '{bad}'")];
        }
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn is_valid_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Returns Some(is_v4) for a valid CIDR.
fn parse_cidr(s: &str) -> Option<bool> {
    let (ip, bits) = s.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    if bits.is_empty() || !bits.bytes().all(|c| c.is_ascii_digit()) || bits.len() > 3 {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(ip.is_ipv4())
}

// ---------------------------------------------------------------------------
// Quantities (k8s.io/apimachinery/pkg/api/resource)
// ---------------------------------------------------------------------------

/// Parses a `resource.Quantity` string and returns its value in milli-units,
/// rounded up (like `Quantity.MilliValue()`): `"100m"` → 100, `"1"` → 1000,
/// `"1Ki"` → 1_024_000, `"1e3"` → 1_000_000, `"0.5Gi"` → 536_870_912_000.
///
/// Accepts an optional sign, a decimal number and one suffix: binary
/// (`Ki Mi Gi Ti Pi Ei`), decimal (`n u m "" k M G T P E`) or an exponent
/// (`e3`, `E-2`, `e+6`). Returns `None` for syntax errors or on overflow.
pub fn parse_quantity(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let mut mantissa: i128 = 0;
    let mut frac_digits: u32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            // Leading zeros don't count towards overflow.
            mantissa = mantissa.checked_mul(10)?.checked_add((c - b'0') as i128)?;
            if seen_dot {
                frac_digits += 1;
            }
            digits += 1;
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let suffix = &s[i..];
    // (base-10 exponent, binary power-of-1024)
    let (exp10, exp1024): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        _ => {
            let rest = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
            let (sign, num) = match rest.as_bytes().first() {
                Some(b'+') => (1, &rest[1..]),
                Some(b'-') => (-1, &rest[1..]),
                _ => (1, rest),
            };
            if num.is_empty() || num.len() > 4 || !num.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = num.parse().ok()?;
            (sign * e, 0)
        }
    };
    let mut num = mantissa;
    for _ in 0..exp1024 {
        num = num.checked_mul(1024)?;
    }
    // value = num * 10^(exp10 + 3 - frac_digits) milli-units
    let p = exp10 + 3 - frac_digits as i32;
    let milli = if p >= 0 {
        num.checked_mul(10i128.checked_pow(p as u32)?)?
    } else {
        let d = 10i128.checked_pow((-p) as u32);
        match d {
            Some(d) => (num + d - 1) / d, // round up (num >= 0)
            None => i128::from(num != 0),
        }
    };
    Some(if negative { -milli } else { milli })
}

/// Parses a quantity and returns whole units, rounded up (`Quantity.Value()`):
/// `"100m"` → 1, `"1Gi"` → 1_073_741_824.
pub fn parse_quantity_value(s: &str) -> Option<i128> {
    let m = parse_quantity(s)?;
    Some(if m >= 0 { (m + 999) / 1000 } else { -((-m) / 1000) })
}

// ---------------------------------------------------------------------------
// ObjectMeta
// ---------------------------------------------------------------------------

/// How `metadata.name` is validated for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain` (most kinds).
    Dns1123Subdomain,
    /// `NameIsDNSLabel` (Namespace).
    Dns1123Label,
    /// `path.ValidatePathSegmentName` (RBAC kinds).
    PathSegment,
}

impl NameRule {
    fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            NameRule::Dns1123Subdomain | NameRule::Dns1123Label => {
                // maskTrailingDash: a generateName may end in '-'.
                let owned;
                let n = if prefix && name.len() > 1 && name.ends_with('-') {
                    owned = format!("{}a", &name[..name.len() - 1]);
                    owned.as_str()
                } else {
                    name
                };
                if self == NameRule::Dns1123Label {
                    is_dns1123_label(n)
                } else {
                    is_dns1123_subdomain(n)
                }
            }
            NameRule::PathSegment => {
                if prefix {
                    ["/", "%"]
                        .iter()
                        .filter(|bad| name.contains(*bad))
                        .map(|bad| format!("may not contain '{bad}'"))
                        .collect()
                } else {
                    is_valid_path_segment_name(name)
                }
            }
        }
    }
}

/// Scope and name rule of the kinds kubesim validates: `(namespaced, rule)`.
pub fn kind_info(kind: &str) -> Option<(bool, NameRule)> {
    Some(match kind {
        "Pod" | "ConfigMap" | "Secret" | "Event" | "Lease" | "Binding" | "LimitRange" | "ResourceQuota" => {
            (true, NameRule::Dns1123Subdomain)
        }
        "Role" | "RoleBinding" => (true, NameRule::PathSegment),
        "ClusterRole" | "ClusterRoleBinding" => (false, NameRule::PathSegment),
        "Node" => (false, NameRule::Dns1123Subdomain),
        "Namespace" => (false, NameRule::Dns1123Label),
        _ => return None,
    })
}

/// `ValidateLabels` on `path` (keys visited in sorted order).
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, k, m));
        }
        for m in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v, m));
        }
    }
    errs
}

/// `ValidateAnnotations` on `path`: key syntax (case-insensitive) and total size.
pub fn validate_annotations(annotations: &BTreeMap<String, String>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k, m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT as i64));
    }
    errs
}

fn validate_finalizers(finalizers: &[String], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        for m in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, f, m));
        }
        if !f.contains('/') && !matches!(f.as_str(), "kubernetes" | "orphan" | "foregroundDeletion") {
            errs.push(FieldError::invalid(
                path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid_raw(
            path,
            go_string_slice(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// `ValidateObjectMeta` for a kind (scope and name rule from [`kind_info`];
/// unknown kinds are treated as namespaced DNS-subdomain names).
///
/// A non-empty `generateName` with an empty `name` is accepted (kube
/// generates the name before validating); the prefix itself is checked.
pub fn validate_object_meta(kind: &str, meta: &ObjectMeta) -> Vec<FieldError> {
    let (namespaced, rule) = kind_info(kind).unwrap_or((true, NameRule::Dns1123Subdomain));
    validate_object_meta_with(meta, namespaced, rule, "metadata")
}

/// `ValidateObjectMeta` with explicit scope, name rule and field path.
pub fn validate_object_meta_with(
    meta: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta.name.as_deref().unwrap_or("");
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for m in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(child(path, "generateName"), generate_name, m));
        }
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push(FieldError::required(child(path, "name"), "name or generateName is required"));
        }
    } else {
        for m in rule.check(name, false) {
            errs.push(FieldError::invalid(child(path, "name"), name, m));
        }
    }
    errs.extend(validate_meta_common(meta, namespaced, path));
    errs
}

fn validate_meta_common(meta: &ObjectMeta, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(child(path, "namespace"), ""));
        } else {
            for m in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(child(path, "namespace"), ns, m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(child(path, "namespace"), "not allowed on this type"));
    }
    if let Some(g) = meta.generation {
        if g < 0 {
            errs.push(FieldError::invalid_raw(
                child(path, "generation"),
                g.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(l) = &meta.labels {
        errs.extend(validate_labels(l, &child(path, "labels")));
    }
    if let Some(a) = &meta.annotations {
        errs.extend(validate_annotations(a, &child(path, "annotations")));
    }
    if let Some(refs) = &meta.owner_references {
        let p = child(path, "ownerReferences");
        let mut first_controller: Option<String> = None;
        for r in refs {
            let (_, version) = match r.api_version.rsplit_once('/') {
                Some((g, v)) => (g, v),
                None => ("", r.api_version.as_str()),
            };
            if version.is_empty() {
                errs.push(FieldError::invalid(
                    child(&p, "apiVersion"),
                    &r.api_version,
                    "version must not be empty",
                ));
            }
            if r.kind.is_empty() {
                errs.push(FieldError::invalid(child(&p, "kind"), &r.kind, "must not be empty"));
            }
            if r.name.is_empty() {
                errs.push(FieldError::invalid(child(&p, "name"), &r.name, "must not be empty"));
            }
            if r.uid.is_empty() {
                errs.push(FieldError::invalid(child(&p, "uid"), &r.uid, "must not be empty"));
            }
            if r.controller == Some(true) {
                let cur = format!("{}/{}", r.kind, r.name);
                match &first_controller {
                    Some(first) => errs.push(FieldError::invalid_raw(
                        p.clone(),
                        "[]v1.OwnerReference{...}",
                        format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"),
                    )),
                    None => first_controller = Some(cur),
                }
            }
        }
    }
    if let Some(f) = &meta.finalizers {
        errs.extend(validate_finalizers(f, &child(path, "finalizers")));
    }
    errs
}

/// `ValidateObjectMetaUpdate`, minus the resourceVersion/uid/name/namespace/
/// timestamp immutability checks (done by the storage layer): label and
/// annotation syntax, finalizers, and no new finalizers while deleting.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f: BTreeSet<&String> = old.finalizers.iter().flatten().collect();
        let extra: BTreeSet<&String> =
            new.finalizers.iter().flatten().filter(|f| !old_f.contains(f)).collect();
        if !extra.is_empty() {
            let v: Vec<String> = extra.into_iter().cloned().collect();
            errs.push(FieldError::forbidden(
                child(path, "finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&v)
                ),
            ));
        }
    }
    if let (Some(n), Some(o)) = (new.generation, old.generation) {
        if n < o {
            errs.push(FieldError::invalid_raw(
                child(path, "generation"),
                n.to_string(),
                "must not be decremented",
            ));
        }
    }
    if let Some(l) = &new.labels {
        errs.extend(validate_labels(l, &child(path, "labels")));
    }
    if let Some(a) = &new.annotations {
        errs.extend(validate_annotations(a, &child(path, "annotations")));
    }
    if let Some(f) = &new.finalizers {
        errs.extend(validate_finalizers(f, &child(path, "finalizers")));
    }
    errs
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

fn decode<T: serde::de::DeserializeOwned>(kind: &str, obj: &Value) -> Result<T, FieldError> {
    // Straight from the borrowed tree when it decodes as it is (its apiVersion and kind, if any,
    // are the type's own): cloning a whole pod per validation was a visible share of a scale run.
    if let Ok(typed) = T::deserialize(obj) {
        return Ok(typed);
    }
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    serde_json::from_value(v).map_err(|e| FieldError {
        kind: FieldErrorKind::Invalid,
        field: String::new(),
        detail: format!("unable to decode {kind}: {e}"),
        bad_value: None,
    })
}

/// What a status update validates. Its spec is the stored one, untouched, so it is not decoded
/// (a pod's spec is most of a status write's decoding otherwise).
#[derive(serde::Deserialize)]
#[serde(bound = "S: serde::de::DeserializeOwned")]
struct MetaAndStatus<S> {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    status: Option<S>,
}

macro_rules! decode_or_return {
    ($kind:expr, $obj:expr, $t:ty) => {
        match decode::<$t>($kind, $obj) {
            Ok(v) => v,
            Err(e) => return vec![e],
        }
    };
}

/// Validation on create. Unknown kinds get ObjectMeta validation only.
/// A body that does not decode into the kind's type yields a single
/// `Invalid` error with an empty field (callers should map that to 400).
pub fn validate_create(kind: &str, obj: &Value) -> Vec<FieldError> {
    match kind {
        "Pod" => {
            let p = decode_or_return!(kind, obj, core::Pod);
            validate_pod(&p)
        }
        "Node" => {
            let n = decode_or_return!(kind, obj, core::Node);
            let mut e = validate_object_meta(kind, &n.metadata);
            e.extend(validate_node_body(&n));
            e
        }
        "Namespace" => {
            let n = decode_or_return!(kind, obj, core::Namespace);
            let mut e = validate_object_meta(kind, &n.metadata);
            e.extend(validate_namespace_body(&n));
            e
        }
        "ConfigMap" => {
            let c = decode_or_return!(kind, obj, core::ConfigMap);
            let mut e = validate_object_meta(kind, &c.metadata);
            e.extend(validate_config_map_body(&c));
            e
        }
        "Secret" => {
            let s = decode_or_return!(kind, obj, core::Secret);
            let mut e = validate_object_meta(kind, &s.metadata);
            e.extend(validate_secret_body(&s));
            e
        }
        "Event" => {
            let ev = decode_or_return!(kind, obj, core::Event);
            let mut e = validate_object_meta(kind, &ev.metadata);
            e.extend(validate_event_body(&ev));
            e
        }
        "Lease" => {
            let l = decode_or_return!(kind, obj, coordination::Lease);
            let mut e = validate_object_meta(kind, &l.metadata);
            e.extend(validate_lease_body(&l));
            e
        }
        "Role" => {
            let r = decode_or_return!(kind, obj, rbac::Role);
            let mut e = validate_object_meta(kind, &r.metadata);
            e.extend(validate_rules(r.rules.as_deref().unwrap_or(&[]), true));
            e
        }
        "ClusterRole" => {
            let r = decode_or_return!(kind, obj, rbac::ClusterRole);
            let mut e = validate_object_meta(kind, &r.metadata);
            e.extend(validate_cluster_role_body(&r));
            e
        }
        "RoleBinding" => {
            let r = decode_or_return!(kind, obj, rbac::RoleBinding);
            let mut e = validate_object_meta(kind, &r.metadata);
            e.extend(validate_binding_ref(&r.role_ref, r.subjects.as_deref().unwrap_or(&[]), true));
            e
        }
        "ClusterRoleBinding" => {
            let r = decode_or_return!(kind, obj, rbac::ClusterRoleBinding);
            let mut e = validate_object_meta(kind, &r.metadata);
            e.extend(validate_binding_ref(&r.role_ref, r.subjects.as_deref().unwrap_or(&[]), false));
            e
        }
        "Binding" => {
            let b = decode_or_return!(kind, obj, core::Binding);
            validate_pod_binding(&b)
        }
        _ => {
            let m: ObjectMeta = match obj.get("metadata") {
                Some(m) => match serde_json::from_value(m.clone()) {
                    Ok(m) => m,
                    Err(e) => {
                        return vec![FieldError {
                            kind: FieldErrorKind::Invalid,
                            field: String::new(),
                            detail: format!("unable to decode {kind}: {e}"),
                            bad_value: None,
                        }]
                    }
                },
                None => ObjectMeta::default(),
            };
            validate_object_meta(kind, &m)
        }
    }
}

fn meta_of(obj: &Value) -> ObjectMeta {
    obj.get("metadata").and_then(|m| serde_json::from_value(m.clone()).ok()).unwrap_or_default()
}

/// Validation on update (PUT/PATCH of the main resource).
pub fn validate_update(kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    match kind {
        "Pod" => {
            let n = decode_or_return!(kind, new, core::Pod);
            let o = decode_or_return!(kind, old, core::Pod);
            validate_pod_update(&n, &o)
        }
        "Node" => {
            let n = decode_or_return!(kind, new, core::Node);
            let o = decode_or_return!(kind, old, core::Node);
            validate_node_update(&n, &o)
        }
        "Namespace" => {
            let n = decode_or_return!(kind, new, core::Namespace);
            let o = decode_or_return!(kind, old, core::Namespace);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_namespace_body(&n));
            e
        }
        "ConfigMap" => {
            let n = decode_or_return!(kind, new, core::ConfigMap);
            let o = decode_or_return!(kind, old, core::ConfigMap);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            if o.immutable == Some(true) {
                if n.immutable != Some(true) {
                    e.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
                }
                if n.data != o.data {
                    e.push(FieldError::forbidden("data", "field is immutable when `immutable` is set"));
                }
                if n.binary_data != o.binary_data {
                    e.push(FieldError::forbidden("binaryData", "field is immutable when `immutable` is set"));
                }
            }
            e.extend(validate_config_map_body(&n));
            e
        }
        "Secret" => {
            let n = decode_or_return!(kind, new, core::Secret);
            let o = decode_or_return!(kind, old, core::Secret);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            let nt = n.type_.as_deref().unwrap_or("");
            let ot = o.type_.as_deref().unwrap_or("");
            if nt != ot {
                e.push(FieldError::invalid("type", nt, "field is immutable"));
            }
            if o.immutable == Some(true) {
                if n.immutable != Some(true) {
                    e.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
                }
                if n.data != o.data {
                    e.push(FieldError::forbidden("data", "field is immutable when `immutable` is set"));
                }
            }
            e.extend(validate_secret_body(&n));
            e
        }
        "Event" => {
            let n = decode_or_return!(kind, new, core::Event);
            let o = decode_or_return!(kind, old, core::Event);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_event_body(&n));
            e
        }
        "Lease" => {
            let n = decode_or_return!(kind, new, coordination::Lease);
            let o = decode_or_return!(kind, old, coordination::Lease);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_lease_body(&n));
            e
        }
        "Role" => {
            let n = decode_or_return!(kind, new, rbac::Role);
            let o = decode_or_return!(kind, old, rbac::Role);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_rules(n.rules.as_deref().unwrap_or(&[]), true));
            e
        }
        "ClusterRole" => {
            let n = decode_or_return!(kind, new, rbac::ClusterRole);
            let o = decode_or_return!(kind, old, rbac::ClusterRole);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_cluster_role_body(&n));
            e
        }
        "RoleBinding" => {
            let n = decode_or_return!(kind, new, rbac::RoleBinding);
            let o = decode_or_return!(kind, old, rbac::RoleBinding);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_binding_ref(&n.role_ref, n.subjects.as_deref().unwrap_or(&[]), true));
            if n.role_ref != o.role_ref {
                e.push(role_ref_changed(&n.role_ref));
            }
            e
        }
        "ClusterRoleBinding" => {
            let n = decode_or_return!(kind, new, rbac::ClusterRoleBinding);
            let o = decode_or_return!(kind, old, rbac::ClusterRoleBinding);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_binding_ref(&n.role_ref, n.subjects.as_deref().unwrap_or(&[]), false));
            if n.role_ref != o.role_ref {
                e.push(role_ref_changed(&n.role_ref));
            }
            e
        }
        "Binding" => validate_create(kind, new),
        _ => validate_object_meta_update(&meta_of(new), &meta_of(old), "metadata"),
    }
}

/// Validation of a `/status` update: spec is ignored (the status strategy
/// keeps the old spec); metadata label/annotation syntax and status fields
/// are checked.
pub fn validate_status_update(kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    match kind {
        "Pod" => {
            let n = decode_or_return!(kind, new, MetaAndStatus<core::PodStatus>);
            let o = decode_or_return!(kind, old, MetaAndStatus<core::PodStatus>);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            e.extend(validate_pod_status(n.status.as_ref()));
            e
        }
        "Node" => validate_update(kind, new, old),
        "Namespace" => {
            let n = decode_or_return!(kind, new, MetaAndStatus<core::NamespaceStatus>);
            let o = decode_or_return!(kind, old, MetaAndStatus<core::NamespaceStatus>);
            let mut e = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
            let phase = n.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
            if n.metadata.deletion_timestamp.is_none() {
                if phase != "Active" {
                    e.push(FieldError::invalid(
                        "status.Phase",
                        phase,
                        "may only be 'Active' if `deletionTimestamp` is empty",
                    ));
                }
            } else if phase != "Terminating" {
                e.push(FieldError::invalid(
                    "status.Phase",
                    phase,
                    "may only be 'Terminating' if `deletionTimestamp` is not empty",
                ));
            }
            e
        }
        _ => validate_object_meta_update(&meta_of(new), &meta_of(old), "metadata"),
    }
}

// ---------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Validates a resource quantity value at `path` (parseable, non-negative,
/// integral for extended resources). Returns the milli value when parseable.
fn validate_quantity(resource: &str, q: &Quantity, path: &str, errs: &mut Vec<FieldError>) -> Option<i128> {
    let Some(v) = parse_quantity(&q.0) else {
        errs.push(FieldError::invalid(path, &q.0, QUANTITY_ERR));
        return None;
    };
    if v < 0 {
        errs.push(FieldError::invalid(path, &q.0, "must be greater than or equal to 0"));
    }
    if !is_native_resource(resource) && v % 1000 != 0 {
        errs.push(FieldError::invalid(path, &q.0, "must be an integer"));
    }
    Some(v)
}

fn validate_resource_name(name: &str, path: &str, errs: &mut Vec<FieldError>) {
    for m in is_qualified_name(name) {
        errs.push(FieldError::invalid(path, name, m));
    }
}

fn validate_container_resources(r: Option<&core::ResourceRequirements>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(r) = r else { return errs };
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let check_name = |name: &str, p: &str, errs: &mut Vec<FieldError>| {
        let before = errs.len();
        validate_resource_name(name, p, errs);
        if errs.len() == before {
            if !name.contains('/') {
                if !is_standard_container_resource(name) {
                    errs.push(FieldError::invalid(p, name, "must be a standard resource for containers"));
                }
            } else if !is_native_resource(name) && name.starts_with("requests.") {
                errs.push(FieldError::invalid(p, name, "doesn't follow extended resource name standard"));
            }
        }
    };
    let mut limit_vals = BTreeMap::new();
    for (k, q) in limits {
        let p = key(&lim_path, k);
        check_name(k, &p, &mut errs);
        if let Some(v) = validate_quantity(k, q, &p, &mut errs) {
            limit_vals.insert(k.clone(), v);
        }
    }
    for (k, q) in requests {
        let p = key(&req_path, k);
        check_name(k, &p, &mut errs);
        let Some(v) = validate_quantity(k, q, &p, &mut errs) else {
            continue;
        };
        if let Some(&l) = limit_vals.get(k) {
            let overcommit = is_native_resource(k) && !k.starts_with("hugepages-");
            if v != l && !overcommit {
                errs.push(FieldError::invalid(&req_path, &q.0, format!("must be equal to {k} limit")));
            } else if v > l {
                errs.push(FieldError::invalid(
                    &req_path,
                    &q.0,
                    format!("must be less than or equal to {k} limit"),
                ));
            }
        }
    }
    errs
}

fn validate_ports(ports: &[core::ContainerPort], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let ip = index(path, i);
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(child(&ip, "name"), name, m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&ip, "name"), name));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldError::required(child(&ip, "containerPort"), ""));
        } else {
            for m in is_valid_port_num(p.container_port as i64) {
                errs.push(FieldError::invalid_raw(
                    child(&ip, "containerPort"),
                    p.container_port.to_string(),
                    m,
                ));
            }
        }
        if let Some(hp) = p.host_port.filter(|&h| h != 0) {
            for m in is_valid_port_num(hp as i64) {
                errs.push(FieldError::invalid_raw(child(&ip, "hostPort"), hp.to_string(), m));
            }
        }
        match p.protocol.as_deref() {
            None | Some("TCP") | Some("UDP") | Some("SCTP") => {}
            Some("") => errs.push(FieldError::required(child(&ip, "protocol"), "")),
            Some(other) => {
                errs.push(FieldError::not_supported(child(&ip, "protocol"), other, &["SCTP", "TCP", "UDP"]))
            }
        }
    }
    errs
}

fn validate_container(c: &core::Container, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name_path = child(path, "name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        for m in is_dns1123_label(&c.name) {
            errs.push(FieldError::invalid(&name_path, &c.name, m));
        }
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(child(path, "image"), ""));
    }
    match c.termination_message_policy.as_deref() {
        None | Some("File") | Some("FallbackToLogsOnError") => {}
        Some("") => errs.push(FieldError::required(child(path, "terminationMessagePolicy"), "")),
        Some(o) => errs.push(FieldError::not_supported(
            child(path, "terminationMessagePolicy"),
            o,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_ports(c.ports.as_deref().unwrap_or(&[]), &child(path, "ports")));
    for (i, e) in c.env.iter().flatten().enumerate() {
        let ep = index(&child(path, "env"), i);
        if e.name.is_empty() {
            errs.push(FieldError::required(child(&ep, "name"), ""));
        } else if e.name.chars().any(|ch| !(' '..='~').contains(&ch) || ch == '=') {
            errs.push(FieldError::invalid(
                child(&ep, "name"),
                &e.name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    match c.image_pull_policy.as_deref() {
        None | Some("Always") | Some("IfNotPresent") | Some("Never") => {}
        Some("") => errs.push(FieldError::required(child(path, "imagePullPolicy"), "")),
        Some(o) => errs.push(FieldError::not_supported(
            child(path, "imagePullPolicy"),
            o,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    errs.extend(validate_container_resources(c.resources.as_ref(), &child(path, "resources")));
    errs
}

fn validate_taint_effect(effect: &str, allow_empty: bool, path: &str) -> Vec<FieldError> {
    if effect.is_empty() {
        return if allow_empty { Vec::new() } else { vec![FieldError::required(path, "")] };
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Vec::new(),
        _ => vec![FieldError::not_supported(path, effect, &["NoSchedule", "PreferNoSchedule", "NoExecute"])],
    }
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[core::Toleration], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let ip = index(path, i);
        let k = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let val = t.value.as_deref().unwrap_or("");
        let eff = t.effect.as_deref().unwrap_or("");
        if !k.is_empty() {
            for m in is_qualified_name(k) {
                errs.push(FieldError::invalid(child(&ip, "key"), k, m));
            }
        }
        if k.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                child(&ip, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && eff != "NoExecute" {
            errs.push(FieldError::invalid(
                child(&ip, "effect"),
                eff,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "" | "Equal" => {
                let msgs = is_valid_label_value(val);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(child(&ip, "operator"), val, msgs.join(";")));
                }
            }
            "Exists" => {
                if !val.is_empty() {
                    errs.push(FieldError::invalid_raw(
                        child(&ip, "operator"),
                        render_toleration(t),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            // Lt/Gt (numeric comparison) are accepted by newer API servers
            // behind a feature gate; kube 1.34 rejects them.
            _ => errs.push(FieldError::not_supported(child(&ip, "operator"), op, &["Equal", "Exists"])),
        }
        errs.extend(validate_taint_effect(eff, true, &child(&ip, "effect")));
    }
    errs
}

fn render_toleration(t: &core::Toleration) -> String {
    format!(
        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{}}}",
        go_quote(t.key.as_deref().unwrap_or("")),
        go_quote(t.operator.as_deref().unwrap_or("")),
        go_quote(t.value.as_deref().unwrap_or("")),
        go_quote(t.effect.as_deref().unwrap_or("")),
        match t.toleration_seconds {
            Some(s) => format!("&{s}"),
            None => "(*int64)(nil)".to_string(),
        }
    )
}

fn validate_pod_spec(spec: &core::PodSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    // volumes: names required, DNS labels, unique.
    let mut vol_names = BTreeSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let np = child(&index(&child(path, "volumes"), i), "name");
        if v.name.is_empty() {
            errs.push(FieldError::required(&np, ""));
        } else {
            for m in is_dns1123_label(&v.name) {
                errs.push(FieldError::invalid(&np, &v.name, m));
            }
            if !vol_names.insert(v.name.clone()) {
                errs.push(FieldError::duplicate(&np, &v.name));
            }
        }
    }
    // init containers: names unique across init and regular containers.
    let regular: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let mut init_names = BTreeSet::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let ip = index(&child(path, "initContainers"), i);
        errs.extend(validate_container(c, &ip));
        if !c.name.is_empty() && (regular.contains(c.name.as_str()) || !init_names.insert(c.name.clone())) {
            errs.push(FieldError::duplicate(child(&ip, "name"), &c.name));
        }
    }
    let cpath = child(path, "containers");
    if spec.containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let ip = index(&cpath, i);
        errs.extend(validate_container(c, &ip));
        if !names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(child(&ip, "name"), &c.name));
        }
    }
    match spec.restart_policy.as_deref() {
        None | Some("Always") | Some("OnFailure") | Some("Never") => {}
        Some("") => errs.push(FieldError::required(child(path, "restartPolicy"), "")),
        Some(o) => errs.push(FieldError::not_supported(
            child(path, "restartPolicy"),
            o,
            &["Always", "OnFailure", "Never"],
        )),
    }
    match spec.dns_policy.as_deref() {
        None | Some("ClusterFirst") | Some("ClusterFirstWithHostNet") | Some("Default") => {}
        Some("None") => {
            if spec.dns_config.is_none() {
                errs.push(FieldError::required(
                    child(path, "dnsConfig"),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
            }
        }
        Some("") => errs.push(FieldError::required(child(path, "dnsPolicy"), "")),
        Some(o) => errs.push(FieldError::not_supported(
            child(path, "dnsPolicy"),
            o,
            &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        )),
    }
    if let Some(ns) = &spec.node_selector {
        errs.extend(validate_labels(ns, &child(path, "nodeSelector")));
    }
    if let Some(sa) = spec.service_account_name.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_subdomain(sa) {
            errs.push(FieldError::invalid(child(path, "serviceAccountName"), sa, m));
        }
    }
    if let Some(n) = spec.node_name.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_subdomain(n) {
            errs.push(FieldError::invalid(child(path, "nodeName"), n, m));
        }
    }
    if let Some(a) = spec.active_deadline_seconds {
        if !(1..=i32::MAX as i64).contains(&a) {
            errs.push(FieldError::invalid_raw(
                child(path, "activeDeadlineSeconds"),
                a.to_string(),
                format!("must be between 1 and {}, inclusive", i32::MAX),
            ));
        }
    }
    if let Some(h) = spec.hostname.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_label(h) {
            errs.push(FieldError::invalid(child(path, "hostname"), h, m));
        }
    }
    if let Some(s) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_label(s) {
            errs.push(FieldError::invalid(child(path, "subdomain"), s, m));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        &child(path, "tolerations"),
    ));
    if let Some(pc) = spec.priority_class_name.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_subdomain(pc) {
            errs.push(FieldError::invalid(child(path, "priorityClassName"), pc, m));
        }
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        if pp != "PreemptLowerPriority" && pp != "Never" {
            errs.push(FieldError::not_supported(
                child(path, "preemptionPolicy"),
                pp,
                &["PreemptLowerPriority", "Never"],
            ));
        }
    }
    if let Some(t) = spec.termination_grace_period_seconds {
        if t < 0 {
            errs.push(FieldError::invalid_raw(
                child(path, "terminationGracePeriodSeconds"),
                t.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let gp = index(&child(path, "schedulingGates"), i);
        for m in is_qualified_name(&g.name) {
            errs.push(FieldError::invalid(child(&gp, "name"), &g.name, m));
        }
        if !gates.insert(g.name.clone()) {
            errs.push(FieldError::duplicate(gp, &g.name));
        }
    }
    errs
}

fn validate_pod_status(status: Option<&core::PodStatus>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(s) = status else { return errs };
    if let Some(n) = s.nominated_node_name.as_deref().filter(|s| !s.is_empty()) {
        for m in is_dns1123_subdomain(n) {
            errs.push(FieldError::invalid("status.nominatedNodeName", n, m));
        }
    }
    const IP_ERR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    if let Some(ips) = &s.pod_ips {
        let mut seen = BTreeSet::new();
        for (i, ip) in ips.iter().enumerate() {
            let p = index("status.podIPs", i);
            if !is_valid_ip(&ip.ip) {
                errs.push(FieldError::invalid(&p, &ip.ip, IP_ERR));
            } else if !seen.insert(ip.ip.clone()) {
                errs.push(FieldError::duplicate(&p, &ip.ip));
            }
        }
    }
    if let Some(ips) = &s.host_ips {
        for (i, ip) in ips.iter().enumerate() {
            if !is_valid_ip(&ip.ip) {
                errs.push(FieldError::invalid(index("status.hostIPs", i), &ip.ip, IP_ERR));
            }
        }
    }
    errs
}

fn validate_pod(p: &core::Pod) -> Vec<FieldError> {
    let mut errs = validate_object_meta("Pod", &p.metadata);
    match &p.spec {
        Some(spec) => errs.extend(validate_pod_spec(spec, "spec")),
        None => errs.push(FieldError::required("spec.containers", "")),
    }
    errs
}

/// The "allowed fields" part of kube's forbidden-update message.
pub const POD_UPDATE_FORBIDDEN_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_pod_update(new: &core::Pod, old: &core::Pod) -> Vec<FieldError> {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, "metadata");
    errs.extend(validate_pod(new));
    let default_spec = core::PodSpec::default();
    let ns = new.spec.as_ref().unwrap_or(&default_spec);
    let os = old.spec.as_ref().unwrap_or(&default_spec);

    for (field, nc, oc) in [
        ("spec.containers", &ns.containers, &os.containers),
        (
            "spec.initContainers",
            ns.init_containers.as_ref().unwrap_or(&Vec::new()),
            os.init_containers.as_ref().unwrap_or(&Vec::new()),
        ),
    ] {
        if nc.len() != oc.len() {
            errs.push(FieldError::forbidden(field, "pod updates may not add or remove containers"));
            return errs;
        }
        for (i, c) in nc.iter().enumerate() {
            let img = c.image.as_deref().unwrap_or("");
            if img.trim() != img {
                errs.push(FieldError::invalid(
                    child(&index(field, i), "image"),
                    img,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }

    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (Some(n), old_ads) => {
            if n < 0 || n > i32::MAX as i64 {
                errs.push(FieldError::invalid_raw(
                    "spec.activeDeadlineSeconds",
                    n.to_string(),
                    format!("must be between 0 and {}, inclusive", i32::MAX),
                ));
                return errs;
            }
            if let Some(o) = old_ads {
                if o < n {
                    errs.push(FieldError::invalid_raw(
                        "spec.activeDeadlineSeconds",
                        n.to_string(),
                        "must be less than or equal to previous value",
                    ));
                    return errs;
                }
            }
        }
        (None, Some(_)) => errs.push(FieldError::invalid_raw(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }

    // Tolerations: only additions (tolerationSeconds of existing ones may change).
    let new_tol = ns.tolerations.as_deref().unwrap_or(&[]);
    for o in os.tolerations.iter().flatten() {
        let found = new_tol.iter().any(|n| {
            let mut oc = o.clone();
            oc.toleration_seconds = n.toleration_seconds;
            &oc == n
        });
        if !found {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }

    // Scheduling gates: may only be removed.
    let old_gates: BTreeSet<&str> = os.scheduling_gates.iter().flatten().map(|g| g.name.as_str()).collect();
    if ns.scheduling_gates.iter().flatten().any(|g| !old_gates.contains(g.name.as_str())) {
        errs.push(FieldError::forbidden(
            "spec.schedulingGates",
            "only deletion is allowed, but found new scheduling gate",
        ));
    }

    // Everything else is immutable: munge the allowed fields and compare.
    let mut munged = ns.clone();
    for (m, o) in munged.containers.iter_mut().zip(os.containers.iter()) {
        m.image = o.image.clone();
    }
    if let (Some(mi), Some(oi)) = (munged.init_containers.as_mut(), os.init_containers.as_ref()) {
        for (m, o) in mi.iter_mut().zip(oi.iter()) {
            m.image = o.image.clone();
        }
    }
    munged.active_deadline_seconds = os.active_deadline_seconds;
    munged.tolerations = os.tolerations.clone();
    munged.scheduling_gates = os.scheduling_gates.clone();
    if let (Some(o), Some(1)) = (os.termination_grace_period_seconds, ns.termination_grace_period_seconds) {
        if o < 0 {
            munged.termination_grace_period_seconds = Some(o);
        }
    }
    let a = serde_json::to_value(&munged).unwrap_or(Value::Null);
    let b = serde_json::to_value(os).unwrap_or(Value::Null);
    if a != b {
        let mut changed = Vec::new();
        if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if a.get(k) != b.get(k) {
                    changed.push(format!("spec.{k}"));
                }
            }
        }
        errs.push(FieldError::forbidden(
            "spec",
            format!("{}\n  changed: {}", POD_UPDATE_FORBIDDEN_MSG, changed.join(", ")),
        ));
    }
    errs
}

fn validate_pod_binding(b: &core::Binding) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let k = b.target.kind.as_deref().unwrap_or("");
    if !k.is_empty() && k != "Node" {
        errs.push(FieldError::not_supported("target.kind", k, &["Node", "<empty>"]));
    }
    if b.target.name.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required("target.name", ""));
    }
    errs
}

// ---------------------------------------------------------------------------
// Node, Namespace
// ---------------------------------------------------------------------------

fn node_pod_cidrs(n: &core::Node) -> Vec<String> {
    let Some(spec) = &n.spec else {
        return Vec::new();
    };
    match &spec.pod_cidrs {
        Some(v) if !v.is_empty() => v.clone(),
        _ => spec.pod_cidr.iter().filter(|s| !s.is_empty()).cloned().collect(),
    }
}

fn render_taint(t: &core::Taint) -> String {
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
        go_quote(&t.key),
        go_quote(t.value.as_deref().unwrap_or("")),
        go_quote(&t.effect)
    )
}

fn validate_node_body(n: &core::Node) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(spec) = &n.spec {
        let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
        for (i, t) in spec.taints.iter().flatten().enumerate() {
            let ip = index("spec.taints", i);
            for m in is_qualified_name(&t.key) {
                errs.push(FieldError::invalid(child(&ip, "key"), &t.key, m));
            }
            let v = t.value.as_deref().unwrap_or("");
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(child(&ip, "value"), v, msgs.join(";")));
            }
            errs.extend(validate_taint_effect(&t.effect, false, &child(&ip, "effect")));
            if !unique.insert((t.effect.clone(), t.key.clone())) {
                let mut e = FieldError::duplicate_raw(&ip, render_taint(t));
                e.detail = "taints must be unique by key and effect pair".to_string();
                errs.push(e);
            }
        }
    }
    let cidrs = node_pod_cidrs(n);
    let mut fams = Vec::new();
    for (i, c) in cidrs.iter().enumerate() {
        match parse_cidr(c) {
            Some(v4) => fams.push(v4),
            None => errs.push(FieldError::invalid(
                index("spec.podCIDRs", i),
                c,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            )),
        }
    }
    if cidrs.len() > 1 && fams.len() == cidrs.len() {
        let dual = cidrs.len() == 2 && fams[0] != fams[1];
        if !dual {
            errs.push(FieldError::invalid_raw(
                "spec.podCIDRs",
                go_string_slice(&cidrs),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
    if let Some(status) = &n.status {
        for (field, list) in [("capacity", &status.capacity), ("allocatable", &status.allocatable)] {
            for (k, q) in list.iter().flatten() {
                let p = format!("status.{field}.{k}");
                validate_resource_name(k, &p, &mut errs);
                validate_quantity(k, q, &p, &mut errs);
            }
        }
    }
    errs
}

fn validate_node_update(n: &core::Node, o: &core::Node) -> Vec<FieldError> {
    let mut errs = validate_object_meta_update(&n.metadata, &o.metadata, "metadata");
    errs.extend(validate_node_body(n));
    let old_cidrs = node_pod_cidrs(o);
    let new_cidrs = node_pod_cidrs(n);
    if !old_cidrs.is_empty() {
        const MSG: &str = "node updates may not change podCIDR except from \"\" to valid";
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(FieldError::forbidden("spec.podCIDRs", MSG));
        } else {
            for (a, b) in old_cidrs.iter().zip(new_cidrs.iter()) {
                if a != b {
                    errs.push(FieldError::forbidden("spec.podCIDRs", MSG));
                }
            }
        }
    }
    let old_pid = o.spec.as_ref().and_then(|s| s.provider_id.as_deref()).unwrap_or("");
    let new_pid = n.spec.as_ref().and_then(|s| s.provider_id.as_deref()).unwrap_or("");
    if !old_pid.is_empty() && old_pid != new_pid {
        errs.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errs
}

fn validate_namespace_body(n: &core::Namespace) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in n.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        for m in is_qualified_name(f) {
            errs.push(FieldError::invalid("spec.finalizers", f, m));
        }
        if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

// ---------------------------------------------------------------------------
// ConfigMap, Secret
// ---------------------------------------------------------------------------

fn validate_config_map_body(c: &core::ConfigMap) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in c.data.iter().flatten() {
        let p = key("data", k);
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(&p, k, m));
        }
        if c.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(&p, k, "duplicate of key present in binaryData"));
        }
        total += v.len();
    }
    for (k, v) in c.binary_data.iter().flatten() {
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(key("binaryData", k), k, m));
        }
        total += v.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("", MAX_SECRET_SIZE as i64));
    }
    errs
}

fn validate_secret_body(s: &core::Secret) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = BTreeMap::new();
    let data = s.data.as_ref().unwrap_or(&empty);
    let mut total = 0usize;
    for (k, v) in data {
        for m in is_config_map_key(k) {
            errs.push(FieldError::invalid(key("data", k), k, m));
        }
        total += v.0.len();
    }
    // stringData is merged into data by the v1 conversion before validation.
    for (k, v) in s.string_data.iter().flatten() {
        if !data.contains_key(k) {
            for m in is_config_map_key(k) {
                errs.push(FieldError::invalid(key("data", k), k, m));
            }
        }
        total += v.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", MAX_SECRET_SIZE as i64));
    }
    let has = |k: &str| data.contains_key(k) || s.string_data.as_ref().is_some_and(|d| d.contains_key(k));
    let get = |k: &str| -> Option<Vec<u8>> {
        s.string_data
            .as_ref()
            .and_then(|d| d.get(k).map(|v| v.as_bytes().to_vec()))
            .or_else(|| data.get(k).map(|v| v.0.clone()))
    };
    match s.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let ann = s.metadata.annotations.as_ref();
            if ann.and_then(|a| a.get("kubernetes.io/service-account.name")).is_none_or(|v| v.is_empty()) {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => match get(".dockercfg") {
            None => errs.push(FieldError::required("data[.dockercfg]", "")),
            Some(b) => {
                if let Err(e) = serde_json::from_slice::<Value>(&b) {
                    errs.push(FieldError::invalid(
                        "data[.dockercfg]",
                        "<secret contents redacted>",
                        e.to_string(),
                    ));
                }
            }
        },
        "kubernetes.io/dockerconfigjson" => match get(".dockerconfigjson") {
            None => errs.push(FieldError::required("data[.dockerconfigjson]", "")),
            Some(b) => {
                if let Err(e) = serde_json::from_slice::<Value>(&b) {
                    errs.push(FieldError::invalid(
                        "data[.dockerconfigjson]",
                        "<secret contents redacted>",
                        e.to_string(),
                    ));
                }
            }
        },
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            if !has("tls.key") {
                errs.push(FieldError::required("data[tls.key]", ""));
            }
            if !has("tls.crt") {
                errs.push(FieldError::required("data[tls.crt]", ""));
            }
        }
        _ => {}
    }
    errs
}

// ---------------------------------------------------------------------------
// Event, Lease
// ---------------------------------------------------------------------------

fn validate_event_body(ev: &core::Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = ev.metadata.namespace.as_deref().unwrap_or("");
    let ins = ev.involved_object.namespace.as_deref().unwrap_or("");
    let mismatch = || FieldError::invalid("involvedObject.namespace", ins, "does not match event.namespace");
    if ev.event_time.is_none() {
        if ins.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != ins {
            errs.push(mismatch());
        }
    } else {
        if ins.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let rc = ev.reporting_component.as_deref().unwrap_or("");
        if rc.is_empty() {
            errs.push(FieldError::required("reportingComponent", ""));
        }
        for m in is_qualified_name(rc) {
            errs.push(FieldError::invalid("reportingComponent", rc, m));
        }
        let ri = ev.reporting_instance.as_deref().unwrap_or("");
        if ri.is_empty() {
            errs.push(FieldError::required("reportingInstance", ""));
        }
        if ri.len() > 128 {
            errs.push(FieldError::invalid("reportingInstance", "", "can have at most 128 characters"));
        }
        let action = ev.action.as_deref().unwrap_or("");
        if action.is_empty() {
            errs.push(FieldError::required("action", ""));
        }
        if action.len() > 128 {
            errs.push(FieldError::invalid("action", "", "can have at most 128 characters"));
        }
        let reason = ev.reason.as_deref().unwrap_or("");
        if reason.is_empty() {
            errs.push(FieldError::required("reason", ""));
        }
        if reason.len() > 128 {
            errs.push(FieldError::invalid("reason", "", "can have at most 128 characters"));
        }
        if ev.message.as_deref().unwrap_or("").len() > 1024 {
            errs.push(FieldError::invalid("message", "", "can have at most 1024 characters"));
        }
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(FieldError::invalid("namespace", ns, m));
    }
    errs
}

fn validate_lease_body(l: &coordination::Lease) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(spec) = &l.spec else { return errs };
    if let Some(d) = spec.lease_duration_seconds {
        if d <= 0 {
            errs.push(FieldError::invalid_raw(
                "spec.leaseDurationSeconds",
                d.to_string(),
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = spec.lease_transitions {
        if t < 0 {
            errs.push(FieldError::invalid_raw(
                "spec.leaseTransitions",
                t.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(s) = spec.strategy.as_deref() {
        if s != "OldestEmulationVersion" {
            errs.push(FieldError::not_supported("spec.strategy", s, &["OldestEmulationVersion"]));
        }
    }
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if spec.preferred_holder.as_deref().is_some_and(|p| !p.is_empty()) && holder.is_empty() {
        errs.push(FieldError::forbidden(
            "spec.preferredHolder",
            "preferredHolder can only be set when holderIdentity is set",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------
// RBAC
// ---------------------------------------------------------------------------

fn validate_rules(rules: &[rbac::PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let p = index("rules", i);
        if r.verbs.is_empty() {
            errs.push(FieldError::required(child(&p, "verbs"), "verbs must contain at least one value"));
        }
        let urls = r.non_resource_urls.as_deref().unwrap_or(&[]);
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid_raw(
                    child(&p, "nonResourceURLs"),
                    go_string_slice(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let any = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
            if any(&r.api_groups) || any(&r.resources) || any(&r.resource_names) {
                errs.push(FieldError::invalid_raw(
                    child(&p, "nonResourceURLs"),
                    go_string_slice(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if r.api_groups.as_ref().is_none_or(|v| v.is_empty()) {
            errs.push(FieldError::required(
                child(&p, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if r.resources.as_ref().is_none_or(|v| v.is_empty()) {
            errs.push(FieldError::required(
                child(&p, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errs
}

fn validate_cluster_role_body(r: &rbac::ClusterRole) -> Vec<FieldError> {
    let mut errs = validate_rules(r.rules.as_deref().unwrap_or(&[]), false);
    if let Some(agg) = &r.aggregation_rule {
        if agg.cluster_role_selectors.as_ref().is_none_or(|v| v.is_empty()) {
            errs.push(FieldError::required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
    }
    errs
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_binding_ref(
    role_ref: &rbac::RoleRef,
    subjects: &[rbac::Subject],
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if role_ref.api_group != RBAC_GROUP {
        errs.push(FieldError::not_supported("roleRef.apiGroup", &role_ref.api_group, &[RBAC_GROUP]));
    }
    if namespaced {
        if role_ref.kind != "Role" && role_ref.kind != "ClusterRole" {
            errs.push(FieldError::not_supported("roleRef.kind", &role_ref.kind, &["Role", "ClusterRole"]));
        }
    } else if role_ref.kind != "ClusterRole" {
        errs.push(FieldError::not_supported("roleRef.kind", &role_ref.kind, &["ClusterRole"]));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for m in is_valid_path_segment_name(&role_ref.name) {
            errs.push(FieldError::invalid("roleRef.name", &role_ref.name, m));
        }
    }
    for (i, s) in subjects.iter().enumerate() {
        let p = index("subjects", i);
        if s.name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        }
        let api_group = s.api_group.as_deref().unwrap_or("");
        match s.kind.as_str() {
            "ServiceAccount" => {
                if !s.name.is_empty() {
                    for m in is_dns1123_subdomain(&s.name) {
                        errs.push(FieldError::invalid(child(&p, "name"), &s.name, m));
                    }
                }
                if !api_group.is_empty() {
                    errs.push(FieldError::not_supported(child(&p, "apiGroup"), api_group, &[""]));
                }
                if !namespaced && s.namespace.as_deref().unwrap_or("").is_empty() {
                    errs.push(FieldError::required(child(&p, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if api_group != RBAC_GROUP {
                    errs.push(FieldError::not_supported(child(&p, "apiGroup"), api_group, &[RBAC_GROUP]));
                }
            }
            other => {
                errs.push(FieldError::not_supported(
                    child(&p, "kind"),
                    other,
                    &["ServiceAccount", "User", "Group"],
                ));
            }
        }
    }
    errs
}

fn role_ref_changed(r: &rbac::RoleRef) -> FieldError {
    FieldError::invalid_raw(
        "roleRef",
        format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            go_quote(&r.api_group),
            go_quote(&r.kind),
            go_quote(&r.name)
        ),
        "cannot change roleRef",
    )
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Runs `validate_create` and compares the full messages, in order.
    fn check(kind: &str, input: Value, expected: &[&str]) {
        let got: Vec<String> = validate_create(kind, &input).iter().map(FieldError::message).collect();
        assert_eq!(got, expected, "input: {input}");
    }

    fn check_update(kind: &str, new: Value, old: Value, expected: &[&str]) {
        let got: Vec<String> = validate_update(kind, &new, &old).iter().map(FieldError::message).collect();
        assert_eq!(got, expected);
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    #[test]
    fn quantity_parsing() {
        let cases: &[(&str, Option<i128>)] = &[
            ("0", Some(0)),
            ("1", Some(1000)),
            ("100m", Some(100)),
            ("1.5", Some(1500)),
            ("0.1", Some(100)),
            (".5", Some(500)),
            ("1k", Some(1_000_000)),
            ("1M", Some(1_000_000_000)),
            ("1G", Some(1_000_000_000_000)),
            ("1T", Some(1_000_000_000_000_000)),
            ("1P", Some(1_000_000_000_000_000_000)),
            ("1E", Some(1_000_000_000_000_000_000_000)),
            ("1Ki", Some(1_024_000)),
            ("1Mi", Some(1_048_576_000)),
            ("1Gi", Some(1_073_741_824_000)),
            ("0.5Gi", Some(536_870_912_000)),
            ("1Ti", Some(1_099_511_627_776_000)),
            ("1Pi", Some(1_125_899_906_842_624_000)),
            ("1Ei", Some(1_152_921_504_606_846_976_000)),
            ("1e3", Some(1_000_000)),
            ("1E3", Some(1_000_000)),
            ("1e-3", Some(1)),
            ("1e+3", Some(1_000_000)),
            ("500u", Some(1)),   // rounds up
            ("1n", Some(1)),     // rounds up
            ("0.0001", Some(1)), // rounds up
            ("-1", Some(-1000)),
            ("+2", Some(2000)),
            ("-100m", Some(-100)),
            ("", None),
            ("m", None),
            ("1 ", None),
            (" 1", None),
            ("1x", None),
            ("1KiB", None),
            ("1.2.3", None),
            ("1e", Some(1_000_000_000_000_000_000_000)).into_none_if_e(),
            ("abc", None),
            ("1mi", None),
            ("--1", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_quantity(s), *want, "parse_quantity({s:?})");
        }
        assert_eq!(parse_quantity_value("100m"), Some(1));
        assert_eq!(parse_quantity_value("1Gi"), Some(1_073_741_824));
        assert_eq!(parse_quantity_value("2"), Some(2));
        assert_eq!(parse_quantity("99999999999999999999999999999999999E"), None);
        // overflow
    }

    trait IntoNone {
        fn into_none_if_e(self) -> (&'static str, Option<i128>);
    }
    impl IntoNone for (&'static str, Option<i128>) {
        // "1e" is not a valid suffix ("e" alone is neither exponent nor SI).
        fn into_none_if_e(self) -> (&'static str, Option<i128>) {
            (self.0, None)
        }
    }

    #[test]
    fn reasons_and_bodies_for_every_kind() {
        let cases = [
            (FieldError::required("spec.containers", ""), "FieldValueRequired", "spec.containers: Required value"),
            (FieldError::invalid("metadata.name", "x", "bad"), "FieldValueInvalid", "metadata.name: Invalid value: \"x\": bad"),
            (
                FieldError::not_supported("spec.restartPolicy", "Sometimes", &["Always", "OnFailure", "Never"]),
                "FieldValueNotSupported",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ),
            (FieldError::duplicate("spec.containers[1].name", "a"), "FieldValueDuplicate", "spec.containers[1].name: Duplicate value: \"a\""),
            (FieldError::forbidden("metadata.namespace", "not allowed on this type"), "FieldValueForbidden", "metadata.namespace: Forbidden: not allowed on this type"),
            (FieldError::too_long("metadata.annotations", 262144), "FieldValueTooLong", "metadata.annotations: Too long: may not be more than 262144 bytes"),
            (FieldError::too_many("spec.items", 5, 3), "FieldValueTooMany", "spec.items: Too many: 5: must have at most 3 items"),
        ];
        for (e, reason, msg) in cases {
            assert_eq!(e.reason(), reason);
            assert_eq!(e.message(), msg);
        }
        assert_eq!(FieldError::too_many("x", -1, 1).message(), "x: Too many: must have at most 1 item");
        assert_eq!(FieldError::required("a", "why").body(), "Required value: why");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }

    #[test]
    fn invalid_message_aggregates() {
        let one = [FieldError::required("spec.containers", "")];
        assert_eq!(
            invalid_message("Pod", "x", &one),
            "Pod \"x\" is invalid: spec.containers: Required value"
        );
        let two = [
            FieldError::required("spec.containers", ""),
            FieldError::required("spec.containers", ""), // deduplicated
            FieldError::forbidden("spec", "nope"),
        ];
        assert_eq!(
            invalid_message("Pod", "x", &two),
            "Pod \"x\" is invalid: [spec.containers: Required value, spec: Forbidden: nope]"
        );
        assert_eq!(qualified_kind("Lease"), "Lease.coordination.k8s.io");
        assert_eq!(qualified_kind("ClusterRole"), "ClusterRole.rbac.authorization.k8s.io");
        assert_eq!(qualified_kind("Pod"), "Pod");
    }

    #[test]
    fn pod_name_message_exact() {
        let p = json!({"metadata": {"name": "Foo_", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        check("Pod", p, &[&format!("metadata.name: Invalid value: \"Foo_\": {SUBDOMAIN_MSG}")]);
    }

    #[test]
    fn pod_valid_and_missing_containers() {
        check("Pod", pod(json!({"containers": [{"name": "c", "image": "nginx"}]})), &[]);
        check("Pod", pod(json!({})), &["spec.containers: Required value"]);
        check(
            "Pod",
            json!({"metadata": {"name": "p", "namespace": "default"}}),
            &["spec.containers: Required value"],
        );
    }

    #[test]
    fn pod_many_errors_together() {
        let p = json!({
            "metadata": {"namespace": "default", "labels": {"bad key!": "v"}},
            "spec": {
                "restartPolicy": "Sometimes",
                "dnsPolicy": "Bogus",
                "nodeName": "Node_1",
                "containers": [
                    {"name": "C", "ports": [{"containerPort": 70000, "protocol": "HTTP"}, {"containerPort": 0}]},
                    {"name": "c2", "image": "i", "resources": {"requests": {"cpu": "2", "memory": "1x"}, "limits": {"cpu": "1"}}},
                    {"name": "c2", "image": "i"}
                ]
            }
        });
        check(
            "Pod",
            p,
            &[
                "metadata.name: Required value: name or generateName is required",
                "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                &format!("spec.containers[0].name: Invalid value: \"C\": {LABEL_MSG}"),
                "spec.containers[0].image: Required value",
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[1].containerPort: Required value",
                "spec.containers[1].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit",
                "spec.containers[1].resources.requests[memory]: Invalid value: \"1x\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                "spec.containers[2].name: Duplicate value: \"c2\"",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"",
                &format!("spec.nodeName: Invalid value: \"Node_1\": {SUBDOMAIN_MSG}"),
            ],
        );
    }

    #[test]
    fn pod_resources_and_tolerations() {
        check(
            "Pod",
            pod(json!({"containers": [{"name": "c", "image": "i", "resources": {
                "limits": {"cpu": "-1", "gpu": "1", "example.com/foo": "1500m"},
                "requests": {"cpu": "500m", "memory": "1Gi"}}}],
                "tolerations": [{"key": "k", "operator": "Bad"}, {"operator": "Equal", "value": "x"}, {"key": "a", "tolerationSeconds": 5, "effect": "NoSchedule"}]})),
            &[
                "spec.containers[0].resources.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.containers[0].resources.limits[example.com/foo]: Invalid value: \"1500m\": must be an integer",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                "spec.containers[0].resources.requests: Invalid value: \"500m\": must be less than or equal to cpu limit",
                "spec.tolerations[0].operator: Unsupported value: \"Bad\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[1].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ],
        );
    }

    #[test]
    fn pod_update_rules() {
        let old = pod(
            json!({"containers": [{"name": "c", "image": "a"}], "tolerations": [{"key": "k", "operator": "Exists"}]}),
        );
        // image, activeDeadlineSeconds and toleration additions are allowed
        let ok = pod(json!({"containers": [{"name": "c", "image": "b"}], "activeDeadlineSeconds": 10,
            "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]}));
        check_update("Pod", ok, old.clone(), &[]);
        // changing anything else is forbidden
        let bad = pod(
            json!({"containers": [{"name": "c", "image": "a"}], "nodeName": "n1", "tolerations": [{"key": "k", "operator": "Exists"}]}),
        );
        let errs = validate_update("Pod", &bad, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, FieldErrorKind::Forbidden);
        assert_eq!(errs[0].field, "spec");
        assert!(errs[0].message().starts_with(&format!("spec: Forbidden: {POD_UPDATE_FORBIDDEN_MSG}")));
        assert!(errs[0].detail.contains("spec.nodeName"));
        // removing a toleration, adding a container
        let bad2 = pod(json!({"containers": [{"name": "c", "image": "a"}, {"name": "d", "image": "a"}]}));
        check_update(
            "Pod",
            bad2,
            old.clone(),
            &["spec.containers: Forbidden: pod updates may not add or remove containers"],
        );
        let bad3 = pod(json!({"containers": [{"name": "c", "image": "a"}]}));
        let msgs: Vec<String> = validate_update("Pod", &bad3, &old).iter().map(FieldError::message).collect();
        assert_eq!(msgs[0], "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds");
        // activeDeadlineSeconds may only decrease
        let old_ads = pod(json!({"containers": [{"name": "c", "image": "a"}], "activeDeadlineSeconds": 5}));
        let up = pod(json!({"containers": [{"name": "c", "image": "a"}], "activeDeadlineSeconds": 6}));
        check_update(
            "Pod",
            up,
            old_ads,
            &["spec.activeDeadlineSeconds: Invalid value: 6: must be less than or equal to previous value"],
        );
    }

    #[test]
    fn pod_status_update_ignores_spec() {
        let old = pod(json!({"containers": [{"name": "c", "image": "a"}]}));
        let mut new = pod(json!({"containers": []}));
        new["status"] = json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "nope"}]});
        let msgs: Vec<String> =
            validate_status_update("Pod", &new, &old).iter().map(FieldError::message).collect();
        assert_eq!(msgs, ["status.podIPs[1]: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]);
    }

    #[test]
    fn object_meta_rules() {
        // namespace forbidden on cluster-scoped, required on namespaced
        check(
            "Node",
            json!({"metadata": {"name": "n", "namespace": "x"}}),
            &["metadata.namespace: Forbidden: not allowed on this type"],
        );
        check("ConfigMap", json!({"metadata": {"name": "c"}}), &["metadata.namespace: Required value"]);
        // namespaces use DNS labels
        check(
            "Namespace",
            json!({"metadata": {"name": "a.b"}}),
            &["metadata.name: Invalid value: \"a.b\": must not contain dots"],
        );
        // generateName with trailing dash is fine; name generated later
        check(
            "Pod",
            json!({"metadata": {"generateName": "web-", "namespace": "d"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            &[],
        );
        check(
            "Pod",
            json!({"metadata": {"generateName": "Web-", "namespace": "d"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            &[&format!("metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_MSG}")],
        );
        // label values and annotation size
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        check(
            "ConfigMap",
            json!({"metadata": {"name": "c", "namespace": "d", "labels": {"a": "-bad"}, "annotations": {"k": big}}}),
            &[
                "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ],
        );
        // name too long
        let long = "a".repeat(254);
        let errs = validate_create("ConfigMap", &json!({"metadata": {"name": long, "namespace": "d"}}));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].detail, "must be no more than 253 characters");
    }

    #[test]
    fn node_rules() {
        check(
            "Node",
            json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/33", "taints": [
                {"key": "k", "effect": "Sometimes"}, {"key": "d", "value": "v", "effect": "NoSchedule"}, {"key": "d", "effect": "NoSchedule"}, {"key": "e"}]},
                "status": {"capacity": {"cpu": "4", "memory": "lots"}}}),
            &[
                "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.taints[2]: Duplicate value: core.Taint{Key:\"d\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:<nil>}: taints must be unique by key and effect pair",
                "spec.taints[3].effect: Required value",
                "spec.podCIDRs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "status.capacity.memory: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ],
        );
        check_update(
            "Node",
            json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.1.0/24"}}),
            json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}}),
            &["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"],
        );
        check_update(
            "Node",
            json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.1.0/24"}}),
            json!({"metadata": {"name": "n1"}}),
            &[],
        );
    }

    #[test]
    fn config_map_and_secret() {
        check(
            "ConfigMap",
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x", "..x": "y", "ok": "z"}, "binaryData": {"ok": "AAAA"}}),
            &[
                "data[..x]: Invalid value: \"..x\": must not start with '..'",
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[ok]: Invalid value: \"ok\": duplicate of key present in binaryData",
            ],
        );
        let big = "x".repeat(MAX_SECRET_SIZE + 1);
        check(
            "ConfigMap",
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": big}}),
            &[": Too long: may not be more than 1048576 bytes"],
        );
        check(
            "Secret",
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "AAAA", "bad/key": "AAAA"}}),
            &[
                "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[tls.key]: Required value",
            ],
        );
        check_update(
            "Secret",
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Other"}),
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"}),
            &["type: Invalid value: \"Other\": field is immutable"],
        );
        check_update(
            "ConfigMap",
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "2"}}),
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": true}),
            &[
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ],
        );
    }

    #[test]
    fn lease_event_binding() {
        check(
            "Lease",
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                   "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 0}}),
            &["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
        );
        check(
            "Lease",
            json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}),
            &[],
        );
        check(
            "Event",
            json!({"metadata": {"name": "e.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other", "name": "p"}}),
            &["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"],
        );
        check(
            "Event",
            json!({"metadata": {"name": "e.1", "namespace": "default"}, "involvedObject": {"kind": "Node", "name": "n"}}),
            &[],
        );
        check(
            "Binding",
            json!({"metadata": {"name": "p"}, "target": {"kind": "Pod"}}),
            &[
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
                "target.name: Required value",
            ],
        );
        check("Binding", json!({"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}), &[]);
    }

    #[test]
    fn rbac_rules() {
        check(
            "Role",
            json!({"metadata": {"name": "system:r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/x"]}]}),
            &[
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: []string{\"/x\"}: namespaced rules cannot apply to non-resource URLs",
            ],
        );
        check(
            "ClusterRole",
            json!({"metadata": {"name": "a/b"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}),
            &["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
        );
        let rb = |role: &str| {
            json!({"metadata": {"name": "rb", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                   "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}]})
        };
        check("RoleBinding", rb("r"), &[]);
        check_update(
            "RoleBinding",
            rb("r2"),
            rb("r"),
            &["roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"r2\"}: cannot change roleRef"],
        );
        check(
            "ClusterRoleBinding",
            json!({"metadata": {"name": "crb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "x"}]}),
            &[
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "subjects[0].namespace: Required value",
                "subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            ],
        );
    }

    #[test]
    fn namespace_status_and_finalizers() {
        check(
            "Namespace",
            json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["custom"]}}),
            &["spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"],
        );
        let old = json!({"metadata": {"name": "ns"}, "status": {"phase": "Active"}});
        let new = json!({"metadata": {"name": "ns"}, "status": {"phase": "Terminating"}});
        let msgs: Vec<String> =
            validate_status_update("Namespace", &new, &old).iter().map(FieldError::message).collect();
        assert_eq!(msgs, ["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]);
    }

    #[test]
    fn decode_failure_is_reported() {
        let errs = validate_create(
            "Pod",
            &json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": "nope"}}),
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0].field.is_empty());
        assert!(errs[0].detail.starts_with("unable to decode Pod"));
    }
}
