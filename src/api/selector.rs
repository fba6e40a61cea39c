//! Kubernetes label and field selectors: parsing and matching, ported from
//! k8s.io/apimachinery `pkg/labels/selector.go` and `pkg/fields/selector.go`.
//!
//! Both parsers reproduce kube-apiserver's grammar, normalisation (requirements sorted, `in`
//! value sets sorted and de-duplicated) and error wording, so that a `labelSelector` or
//! `fieldSelector` query parameter that kube rejects with 400 BadRequest is rejected here with
//! the same message (wrap [`SelectorError`]'s text in a `BadRequest` Status as-is).
//!
//! Pure: no IO, no hashing containers (iteration order never depends on a hasher).

use std::collections::BTreeMap;
use std::fmt;

/// Why a selector did not parse. The string is the message of the 400 `BadRequest` Status,
/// worded as kube-apiserver words it (e.g. `unable to parse requirement: ...`,
/// `invalid selector: ...`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// A label selector operator (`k8s.io/apimachinery/pkg/selection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (integer comparison; kube accepts it in the string grammar)
    GreaterThan,
    /// `key<5`
    LessThan,
}

/// One requirement of a label selector; all requirements of a selector are ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The label key, validated as a qualified name (`[prefix/]name`).
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values: sorted and de-duplicated (kube keeps them in a set); one value for
    /// `=`, `==`, `!=`, `>`, `<`; none for exists / does-not-exist.
    pub values: Vec<String>,
}

impl Requirement {
    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Whether this requirement matches the label set (kube's `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k).map(String::as_str))
    }

    /// [`Requirement::matches`] with labels read through `label` (a packed label set).
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        let got = label(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                got.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => got.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = got.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                let Ok(want) = self.values[0].parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector (`labelSelector=` query parameter). The empty selector matches
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the string form, exactly as `labels.Parse` does:
    ///
    /// ```text
    /// <selector-syntax>         ::= <requirement> | <requirement> "," <selector-syntax>
    /// <requirement>             ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ]
    /// <set-based-restriction>   ::= "" | <inclusion-exclusion> <value-set>
    /// <inclusion-exclusion>     ::= "in" | "notin"
    /// <value-set>               ::= "(" <values> ")"
    /// <values>                  ::= VALUE | VALUE "," <values>
    /// <exact-match-restriction> ::= ["="|"=="|"!="|">"|"<"] VALUE
    /// ```
    ///
    /// Whitespace (space, tab, CR, LF) separates tokens. Requirements are sorted by key
    /// (stable), values of `in`/`notin` are sorted and de-duplicated.
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let mut p = Parser { items: scan(s.as_bytes()), position: 0 };
        let mut reqs = p.parse().map_err(SelectorError)?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements: reqs })
    }

    /// Whether every requirement matches the labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// [`LabelSelector::matches`] with labels read through `label`.
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str> + Copy) -> bool {
        self.requirements.iter().all(|r| r.matches_with(label))
    }

    /// True when the selector has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// kube's `RequiresExactMatch`: the single value the first requirement on `key` demands
    /// (`=`, `==`, or `in` with one value), if any.
    pub fn exact(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match r.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In if r.values.len() == 1 => {
                Some(&r.values[0])
            }
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

// --- lexer (a byte-for-byte port of kube's Lexer, NUL byte handling included) ---------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn string_to_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    /// Returns 0 at the end of the input (and, as in kube, for a NUL byte).
    fn read(&mut self) -> u8 {
        if self.pos < self.s.len() {
            let b = self.s[self.pos];
            self.pos += 1;
            b
        } else {
            0
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn literal(buf: &[u8]) -> String {
        // Token boundaries are ASCII bytes, so slices of valid UTF-8 stay valid.
        String::from_utf8_lossy(buf).into_owned()
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end;
        loop {
            end = self.pos;
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
        }
        let buf = &self.s[start..end];
        match string_to_token(buf) {
            Some(t) => (t, Self::literal(buf)),
            None => (Token::Identifier, Self::literal(buf)),
        }
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer: Vec<u8> = Vec::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) {
                buffer.push(ch);
                if let Some(t) = string_to_token(&buffer) {
                    last = Some((t, Self::literal(&buffer)));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some(item) => item,
            None => (Token::Error, format!("error expected: keyword found '{}'", Self::literal(&buffer))),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            (Token::EndOfString, String::new())
        } else if is_special_symbol(ch) {
            self.unread();
            self.scan_special_symbol()
        } else {
            self.unread();
            self.scan_id_or_keyword()
        }
    }
}

fn scan(s: &[u8]) -> Vec<(Token, String)> {
    let mut l = Lexer { s, pos: 0 };
    let mut items = Vec::new();
    loop {
        let (t, lit) = l.lex();
        items.push((t, lit));
        if t == Token::EndOfString {
            return items;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn at(&self, i: usize) -> (Token, String) {
        // The last item is always EndOfString; never read past it.
        let i = i.min(self.items.len() - 1);
        self.items[i].clone()
    }

    fn lookahead(&self, ctx: Ctx) -> (Token, String) {
        let (mut t, lit) = self.at(self.position);
        if ctx == Ctx::Values && matches!(t, Token::In | Token::NotIn) {
            t = Token::Identifier;
        }
        (t, lit)
    }

    fn consume(&mut self, ctx: Ctx) -> (Token, String) {
        let r = self.lookahead(ctx);
        self.position += 1;
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r =
                        self.parse_requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Token::EndOfString => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!("found '{l2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(reqs),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(e) = validate_label_key(&lit) {
            return Err(e);
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if (t == Token::EndOfString || t == Token::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Token::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Token::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Token::Comma {
                        self.consume(Ctx::Values);
                        s.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Token::EndOfString || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Token::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

/// kube's `NewRequirement` (values become a sorted set; errors aggregated).
fn new_requirement(key: String, op: Operator, mut values: Vec<String>) -> Result<Requirement, String> {
    values.sort();
    values.dedup();
    // (The key was validated by the parser already, as in kube.)
    let mut errs: Vec<String> = Vec::new();
    if matches!(op, Operator::GreaterThan | Operator::LessThan) {
        for (i, v) in values.iter().enumerate() {
            if v.parse::<i64>().is_err() {
                errs.push(format!(
                    "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    go_quote(v)
                ));
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let e = is_valid_label_value(v);
        if !e.is_empty() {
            errs.push(format!("values[{i}][{key}]: Invalid value: {}: {}", go_quote(v), e.join("; ")));
        }
    }
    if !errs.is_empty() {
        return Err(aggregate(errs));
    }
    Ok(Requirement { key, operator: op, values })
}

/// `utilerrors.NewAggregate(...).Error()`: one message as-is, several de-duplicated in brackets.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// `validateLabelKey(k, nil)`: a `field.Invalid` with a nil path, hence kube's `<nil>: ` prefix.
fn validate_label_key(k: &str) -> Option<String> {
    let errs = is_qualified_name(k);
    if errs.is_empty() {
        None
    } else {
        Some(format!("<nil>: Invalid value: {}: {}", go_quote(k), errs.join("; ")))
    }
}

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    let mut s = msg.to_string();
    s.push_str(" (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(re);
    s.push_str("')");
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn is_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
fn is_dns1123_subdomain_fmt(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            let an = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            !b.is_empty() && an(&b[0]) && an(&b[b.len() - 1]) && b.iter().all(|c| an(c) || *c == b'-')
        })
}

/// `content.IsLabelKey` (a.k.a. `validation.IsQualifiedName`).
fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errs.push(format!("prefix part {}", max_len_error(253)));
                }
                if !is_dns1123_subdomain_fmt(prefix) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(DNS1123_SUBDOMAIN_ERR_MSG, DNS1123_SUBDOMAIN_FMT, &["example.com"])
                    ));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !is_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// `content.IsLabelValue`.
fn is_valid_label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !v.is_empty() && !is_label_key_name(v) {
        errs.push(regex_error(LABEL_VALUE_ERR_MSG, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// Go's `%q` for a string (strconv.Quote), close enough for error messages.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// A field selector operator. `=` and `==` are the same requirement (kube's `hasTerm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldOp {
    /// `field=value` or `field==value`
    Eq,
    /// `field!=value`
    NotEq,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path as written (`spec.nodeName`); not validated here: which fields a
    /// resource supports is the caller's business (kube: `field label not supported: x`).
    pub field: String,
    /// The operator.
    pub op: FieldOp,
    /// The value, unescaped.
    pub value: String,
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FieldOp::Eq => "=",
            FieldOp::NotEq => "!=",
        };
        write!(f, "{}{}{}", self.field, op, escape_field_value(&self.value))
    }
}

/// A parsed field selector (`fieldSelector=` query parameter). The empty selector matches
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the string form as `fields.ParseSelector` does: terms separated by unescaped
    /// commas, each `field=value`, `field==value` or `field!=value` (the first operator found
    /// splits the term); values may escape `\`, `,` and `=` with a backslash. Empty terms are
    /// skipped; no whitespace trimming (as kube).
    pub fn parse(s: &str) -> Result<FieldSelector, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut reqs = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError(format!("invalid selector: '{s}'; can't understand '{part}'")));
            };
            let value = unescape_field_value(rhs).map_err(SelectorError)?;
            reqs.push(FieldRequirement { field: lhs.to_string(), op, value });
        }
        // Canonical order (the displayed term): kube sorts the raw terms; sorting the
        // normalised ones keeps Display -> parse a fixpoint.
        reqs.sort_by_cached_key(|r| r.to_string());
        Ok(FieldSelector { requirements: reqs })
    }

    /// Whether every requirement holds; `field` returns the object's value for a field path,
    /// `None` when the field is absent, which compares as the empty string (kube's
    /// `fields.Set.Get`).
    pub fn matches(&self, field: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = field(&r.field).unwrap_or_default();
            match r.op {
                FieldOp::Eq => v == r.value,
                FieldOp::NotEq => v != r.value,
            }
        })
    }

    /// The requirements in canonical order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// kube's `RequiresExactMatch`: the value of the first `=` requirement on `field`
    /// (used to pick an index such as `spec.nodeName`).
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.requirements.iter().find(|r| r.op == FieldOp::Eq && r.field == field).map(|r| r.value.as_str())
    }

    /// True when the selector has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// `fields.EscapeValue`.
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            '=' => out.push_str("\\="),
            c => out.push(c),
        }
    }
    out
}

fn unescape_field_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(format!("invalid field selector: invalid escape sequence: \\{c}")),
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. its code point as a number.
            ',' | '=' => {
                return Err(format!("invalid field selector: unescapedRune character in value: {}", c as u32))
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (lit, op) in [("!=", FieldOp::NotEq), ("==", FieldOp::Eq), ("=", FieldOp::Eq)] {
            if rest.starts_with(lit) {
                return Some((&term[..i], op, &term[i + lit.len()..]));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// `expected`: Ok(canonical display) or Err(exact error message).
    fn check(input: &str, expected: Result<&str, &str>) {
        let got = LabelSelector::parse(input);
        match (&got, expected) {
            (Ok(sel), Ok(want)) => {
                assert_eq!(sel.to_string(), want, "display of {input:?}");
                let again = LabelSelector::parse(&sel.to_string()).expect("re-parse");
                assert_eq!(&again, sel, "round trip of {input:?}");
            }
            (Err(e), Err(want)) => assert_eq!(e.0, want, "error for {input:?}"),
            _ => panic!("{input:?}: got {got:?}, want {expected:?}"),
        }
    }

    fn check_field(input: &str, expected: Result<&str, &str>) {
        let got = FieldSelector::parse(input);
        match (&got, expected) {
            (Ok(sel), Ok(want)) => {
                assert_eq!(sel.to_string(), want, "display of {input:?}");
                let again = FieldSelector::parse(&sel.to_string()).expect("re-parse");
                assert_eq!(&again, sel, "round trip of {input:?}");
            }
            (Err(e), Err(want)) => assert_eq!(e.0, want, "error for {input:?}"),
            _ => panic!("{input:?}: got {got:?}, want {expected:?}"),
        }
    }

    #[test]
    fn label_grammar_ok() {
        check("", Ok(""));
        check("   ", Ok(""));
        check("x=a", Ok("x=a"));
        check("x==a", Ok("x==a"));
        check("x!=a", Ok("x!=a"));
        check("x=", Ok("x="));
        check("x=,y=b", Ok("x=,y=b"));
        check("x", Ok("x"));
        check("!x", Ok("!x"));
        check(" ! x ", Ok("!x"));
        check("x in (b,a,a)", Ok("x in (a,b)"));
        check("x notin (a)", Ok("x notin (a)"));
        check("x in ()", Ok("x in ()"));
        check("x in (,a)", Ok("x in (,a)"));
        check("x in (a,)", Ok("x in (,a)"));
        check("x in (a,,b)", Ok("x in (,a,b)"));
        check("x>1", Ok("x>1"));
        check("x<10", Ok("x<10"));
        check("z=c, y , x in (a)", Ok("x in (a),y,z=c"));
        check("\tx\n=\r\na ", Ok("x=a"));
        check("in in (in,notin)", Ok("in in (in,notin)"));
        check("notin=in", Ok("notin=in"));
        check("example.com/app-name=my_value.1", Ok("example.com/app-name=my_value.1"));
        check("x in(a),y notin(b)", Ok("x in (a),y notin (b)"));
        check("\0x=y", Ok(""));
        check(
            "a\0b=c",
            Err("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        );
    }

    #[test]
    fn label_grammar_errors() {
        check("x y", Err("unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"));
        check("x=a,", Err("found '', expected: identifier after ','"));
        check(",x", Err("found ',', expected: !, identifier, or 'end of string'"));
        check("x=a b", Err("found 'b', expected: ',' or 'end of string'"));
        check("!x=a", Err("found '=', expected: ',' or 'end of string'"));
        check("!", Err("unable to parse requirement: found '', expected: identifier"));
        check("x in a", Err("unable to parse requirement: found 'a' expected: '('"));
        check("x in (a", Err("unable to parse requirement: found '', expected: ',' or ')'"));
        check("x in (=", Err("unable to parse requirement: found '=', expected: ',', ')' or identifier"));
        check("x in (a=", Err("unable to parse requirement: found '=', expected: ',' or ')'"));
        check("x in (,=", Err("unable to parse requirement: found '=', expected: ',', or identifier"));
        check("x==(", Err("unable to parse requirement: found '(', expected: identifier"));
        check("x=!", Err("unable to parse requirement: found '!', expected: identifier"));
        check(
            "-x=a",
            Err("unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        );
        check(
            "/x",
            Err("unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty"),
        );
        check(
            "Ex.com/x",
            Err("unable to parse requirement: <nil>: Invalid value: \"Ex.com/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        );
        check(
            "a/b/c",
            Err("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
        );
        check(
            "a/",
            Err("unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        );
        let long = "a".repeat(64);
        check(
            &format!("{long}=x"),
            Err(&format!("unable to parse requirement: <nil>: Invalid value: \"{long}\": name part must be no more than 63 bytes")),
        );
        check(
            &format!("x={long}"),
            Err(&format!("unable to parse requirement: values[0][x]: Invalid value: \"{long}\": must be no more than 63 bytes")),
        );
        check(
            "x=-a",
            Err("unable to parse requirement: values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
        );
        check(
            "x in (-b,-a)",
            Err("unable to parse requirement: [values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), values[1][x]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]"),
        );
        check(
            "x>a",
            Err("unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
        );
        check("x=a\"b", Err("unable to parse requirement: values[0][x]: Invalid value: \"a\\\"b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
    }

    #[test]
    fn label_matching() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "7")]);
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web"));
        assert!(!m("app=db"));
        assert!(m("app!=db"));
        assert!(m("missing!=x"));
        assert!(!m("app!=web"));
        assert!(m("app in (db,web)"));
        assert!(!m("missing in (x)"));
        assert!(m("missing notin (x)"));
        assert!(!m("app notin (web)"));
        assert!(m("app"));
        assert!(!m("missing"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("n>6"));
        assert!(!m("n>7"));
        assert!(m("n<8"));
        assert!(!m("app>1"));
        assert!(!m("missing<1"));
        assert!(m("app=web,tier in (front)"));
        assert!(!m("app=web,tier=back"));
        // `x=` requires the label x to exist with an empty value.
        assert!(!m("x="));
        assert!(LabelSelector::parse("x=").unwrap().matches(&labels(&[("x", "")])));
        let sel = LabelSelector::parse("a in (b),c=d,e==f,g!=h").unwrap();
        assert_eq!(sel.exact("a"), Some("b"));
        assert_eq!(sel.exact("c"), Some("d"));
        assert_eq!(sel.exact("e"), Some("f"));
        assert_eq!(sel.exact("g"), None);
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(!sel.is_empty());
        assert_eq!(sel.requirements().len(), 4);
    }

    #[test]
    fn field_grammar() {
        check_field("", Ok(""));
        check_field(",,", Ok(""));
        check_field("spec.nodeName=n1", Ok("spec.nodeName=n1"));
        check_field("spec.nodeName==n1", Ok("spec.nodeName=n1"));
        check_field("status.phase!=Running,spec.nodeName=", Ok("spec.nodeName=,status.phase!=Running"));
        check_field("metadata.name=a\\,b\\=c\\\\d", Ok("metadata.name=a\\,b\\=c\\\\d"));
        check_field("a\\,b=c", Ok("a\\,b=c"));
        check_field(" a = b ", Ok(" a = b "));
        check_field("=x", Ok("=x"));
        check_field("a!b=c", Ok("a!b=c"));
        check_field("foo", Err("invalid selector: 'foo'; can't understand 'foo'"));
        check_field("a=b,foo", Err("invalid selector: 'a=b,foo'; can't understand 'foo'"));
        check_field("a=b=c", Err("invalid field selector: unescapedRune character in value: 61"));
        check_field("a==b=c", Err("invalid field selector: unescapedRune character in value: 61"));
        check_field("a=b\\x", Err("invalid field selector: invalid escape sequence: \\x"));
        check_field("a=b\\", Err("invalid field selector: invalid escape sequence: \\"));
    }

    #[test]
    fn field_matching() {
        let obj = |f: &str| match f {
            "spec.nodeName" => Some("n1".to_string()),
            "metadata.name" => Some("a,b".to_string()),
            _ => None,
        };
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(obj);
        assert!(m(""));
        assert!(m("spec.nodeName=n1"));
        assert!(!m("spec.nodeName!=n1"));
        assert!(m("spec.nodeName!=n2"));
        assert!(m("status.phase="), "missing field compares as empty string");
        assert!(!m("status.phase!="));
        assert!(m("metadata.name=a\\,b,spec.nodeName==n1"));
        let sel = FieldSelector::parse("status.phase!=x,spec.nodeName=n1").unwrap();
        assert_eq!(sel.exact("spec.nodeName"), Some("n1"));
        assert_eq!(sel.exact("status.phase"), None);
        assert_eq!(sel.requirements().len(), 2);
        assert_eq!(sel.requirements()[0].field, "spec.nodeName");
        assert_eq!(sel.requirements()[0].op, FieldOp::Eq);
        assert_eq!(sel.requirements()[0].value, "n1");
        assert!(FieldSelector::parse("").unwrap().is_empty());
    }

    fn selectorish() -> impl Strategy<Value = String> {
        // Biased towards the selector alphabet so that many inputs parse.
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(vec![
                    "a", "b", "x", "in", "notin", "=", "==", "!=", "!", ",", "(", ")", " ", "\\",
                    "example.com/", "-", "1", ">", "<", ".", "_", "\t", "é", "\0",
                ]).prop_map(|s| s.to_string()),
                1 => any::<String>(),
            ],
            0..12,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn label_never_panics_and_round_trips(s in selectorish()) {
            if let Ok(sel) = LabelSelector::parse(&s) {
                let shown = sel.to_string();
                let again = LabelSelector::parse(&shown);
                prop_assert_eq!(again.as_ref(), Ok(&sel), "{:?} -> {:?}", s, shown);
            }
        }

        #[test]
        fn label_arbitrary_never_panics(s in any::<String>()) {
            let _ = LabelSelector::parse(&s);
        }

        #[test]
        fn field_never_panics_and_round_trips(s in selectorish()) {
            if let Ok(sel) = FieldSelector::parse(&s) {
                let shown = sel.to_string();
                let again = FieldSelector::parse(&shown);
                prop_assert_eq!(again.as_ref(), Ok(&sel), "{:?} -> {:?}", s, shown);
            }
        }

        #[test]
        fn field_arbitrary_never_panics(s in any::<String>()) {
            let _ = FieldSelector::parse(&s);
        }
    }
}
