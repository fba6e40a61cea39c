//! Client-certificate identities (--client-ca-file), as kube's x509 authenticator reads them:
//! user = the Subject's CommonName, groups = its Organization values. The chain itself is verified
//! by rustls during the handshake; this only reads the verified end-entity certificate.

use rustls::pki_types::CertificateDer;

use super::user::UserInfo;
use crate::server::authn::{CertError, ClientCertificate};

/// The user a (verified) DER certificate names.
pub fn user_of(der: &[u8]) -> Result<UserInfo, CertError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| CertError::Unparsable(e.to_string()))?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or_default();
    if name.is_empty() {
        return Err(CertError::EmptyCommonName);
    }
    let groups = subject.iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect();
    Ok(UserInfo::authenticated(name, "", groups))
}

/// The identity of a TLS connection's peer: none when it sent no certificate.
pub fn peer_identity(certs: Option<&[CertificateDer<'_>]>) -> Option<ClientCertificate> {
    let leaf = certs?.first()?;
    Some(ClientCertificate(user_of(leaf.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: Option<&str>, org: Option<&str>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        }
        if let Some(o) = org {
            params.distinguished_name.push(rcgen::DnType::OrganizationName, o);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_is_the_user_and_organizations_the_groups() {
        let user = user_of(&cert(Some("system:node:a"), Some("system:nodes"))).unwrap();
        assert_eq!(user.name, "system:node:a");
        assert_eq!(user.groups, ["system:nodes", "system:authenticated"]);
        assert_eq!(user.node_name(), Some("a"));
        let plain = user_of(&cert(Some("jane"), None)).unwrap();
        assert_eq!(plain.groups, ["system:authenticated"]);
        assert_eq!(user_of(&cert(None, Some("x"))), Err(CertError::EmptyCommonName));
        assert!(matches!(user_of(b"not a certificate"), Err(CertError::Unparsable(_))));
    }
}
