//! Authentication: static bearer tokens (--token-auth-file, kube-apiserver's CSV format) and
//! anonymous requests. Client certificates and the rest arrive with issue #7.

use std::collections::BTreeMap;

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Groups, including `system:authenticated` or `system:unauthenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
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
            let mut groups: Vec<String> = fields
                .get(3)
                .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            groups.push("system:authenticated".into());
            tokens.insert(
                fields[0].clone(),
                UserInfo { name: fields[1].clone(), uid: fields[2].clone(), groups },
            );
        }
        Ok(TokenAuthenticator { tokens })
    }

    /// Authenticates an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Authenticated {
        let Some(header) = authorization else { return Authenticated::Anonymous };
        // Only bearer tokens are ours to judge; other schemes fall through to anonymous, as with
        // kube-apiserver's bearer-token authenticator.
        let Some(token) = header.strip_prefix("Bearer ") else { return Authenticated::Anonymous };
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
        assert!(TokenAuthenticator::parse("only,two\n").is_err());
    }
}
