//! Authentication: static bearer tokens (--token-auth-file, kube-apiserver's CSV format), the
//! client-certificate identity handed over by the TLS edge, and anonymous requests.

use std::collections::BTreeMap;

pub use crate::auth::user::UserInfo;

/// What the TLS edge learned from a client certificate verified against --client-ca-file; it
/// travels to [`ApiServer::handle`](super::ApiServer::handle) as a request extension. Absent when
/// the client sent none (and always on the plain-HTTP edge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate(pub Result<UserInfo, CertError>);

/// Why a verified client certificate names no user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// kube requires a CommonName.
    #[error("the client certificate has no common name")]
    EmptyCommonName,
    /// Not parsable as X.509.
    #[error("the client certificate cannot be parsed: {0}")]
    Unparsable(String),
}

/// The result of authenticating a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticated {
    /// A known user.
    User(UserInfo),
    /// Credentials were presented and are not valid: 401.
    Rejected,
    /// No credentials.
    Anonymous,
}

/// Tokens from a token file.
#[derive(Clone, Debug, Default)]
pub struct TokenAuthenticator {
    tokens: BTreeMap<String, UserInfo>,
}

impl TokenAuthenticator {
    /// Parses kube-apiserver's token file: `token,user,uid[,"group1,group2"]` per line; blank lines
    /// and lines starting with `#` are skipped.
    pub fn parse(text: &str) -> Result<TokenAuthenticator, String> {
        let mut tokens = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 {
                return Err(format!(
                    "token file line {}: expected at least 3 columns, got {}",
                    n + 1,
                    fields.len()
                ));
            }
            if fields[0].is_empty() {
                return Err(format!("token file line {}: empty token", n + 1));
            }
            let groups: Vec<String> = fields
                .get(3)
                .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            // A later line with the same token replaces an earlier one, as in kube.
            tokens.insert(fields[0].clone(), UserInfo::authenticated(&fields[1], &fields[2], groups));
        }
        Ok(TokenAuthenticator { tokens })
    }

    /// Authenticates an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Authenticated {
        let Some(header) = authorization else { return Authenticated::Anonymous };
        // Only bearer tokens are ours to judge; other schemes fall through to anonymous, as with
        // kube-apiserver's bearer-token authenticator.
        let Some((scheme, token)) = header.trim_start().split_once(' ') else {
            return Authenticated::Anonymous;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Authenticated::Anonymous;
        }
        let token = token.trim();
        if token.is_empty() {
            return Authenticated::Rejected;
        }
        match self.tokens.get(token) {
            Some(user) => Authenticated::User(user.clone()),
            None => Authenticated::Rejected,
        }
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out.into_iter().map(|f| f.trim().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_as_kube_apiserver_reads_it() {
        let auth = TokenAuthenticator::parse("# comment\nt1,alice,1,\"dev,ops\"\nt2,bob,2\n").unwrap();
        match auth.authenticate(Some("Bearer t1")) {
            Authenticated::User(u) => {
                assert_eq!(u.name, "alice");
                assert_eq!(u.groups, ["dev", "ops", "system:authenticated"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(auth.authenticate(Some("Bearer nope")), Authenticated::Rejected);
        assert_eq!(auth.authenticate(None), Authenticated::Anonymous);
        assert_eq!(
            auth.authenticate(Some("bearer t2")),
            Authenticated::User(UserInfo::authenticated("bob", "2", vec![]))
        );
        assert_eq!(auth.authenticate(Some("Basic YTpi")), Authenticated::Anonymous);
        assert!(TokenAuthenticator::parse("only,two\n").is_err());
        // The node identity of kube's docs, with the extra columns kube ignores.
        let nodes = TokenAuthenticator::parse("tn,system:node:a,n1,\"system:nodes\",extra\n").unwrap();
        match nodes.authenticate(Some("Bearer tn")) {
            Authenticated::User(u) => assert_eq!(u.node_name(), Some("a")),
            other => panic!("{other:?}"),
        }
    }
}
