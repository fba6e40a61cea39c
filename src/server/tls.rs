//! Serving certificates (real mode): given files, or — as kube-apiserver does when given none — a
//! self-signed CA and a serving certificate for localhost/127.0.0.1, made with rcgen and written to
//! --cert-dir.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the serving certificate came from.
#[derive(Clone, Debug)]
pub struct ServingCert {
    /// PEM certificate chain file.
    pub cert_file: PathBuf,
    /// PEM key file.
    pub key_file: PathBuf,
    /// PEM of the CA that signed it, when we made it (clients trust this).
    pub ca_file: Option<PathBuf>,
}

/// Makes (or reuses) a self-signed CA and a serving certificate for localhost and 127.0.0.1 under
/// `dir`: `ca.crt`, `apiserver.crt` (serving cert followed by the CA), `apiserver.key`.
pub fn self_signed(dir: &Path) -> Result<ServingCert, String> {
    let cert_file = dir.join("apiserver.crt");
    let key_file = dir.join("apiserver.key");
    let ca_file = dir.join("ca.crt");
    if cert_file.exists() && key_file.exists() && ca_file.exists() {
        return Ok(ServingCert { cert_file, key_file, ca_file: Some(ca_file) });
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let ca_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "localhost-ca@kubesim");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| e.to_string())?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(|e| e.to_string())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost@kubesim");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;

    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(&ca_file, ca_cert.pem())?;
    write(&cert_file, format!("{}{}", cert.pem(), ca_cert.pem()))?;
    write(&key_file, key.serialize_pem())?;
    Ok(ServingCert { cert_file, key_file, ca_file: Some(ca_file) })
}

/// A rustls server config for the certificate (HTTP/1.1 via ALPN), without client certificates.
pub fn server_config(cert: &ServingCert) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_with_client_ca(cert, None)
}

/// A rustls server config for the certificate that, given a CA bundle (--client-ca-file), also
/// asks for client certificates and verifies them against it. The certificate stays optional, as
/// in kube-apiserver, so token and anonymous requests still work; one from another CA fails the
/// handshake.
pub fn server_config_with_client_ca(
    cert: &ServingCert,
    client_ca_file: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = read_certs(&cert.cert_file)?;
    let key = read_key(&cert.key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in read_certs(path)? {
                roots.add(ca).map_err(|e| format!("client CA {}: {e}", path.display()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| format!("client CA {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| format!("serving certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut data.as_slice()).collect();
    let certs = certs.map_err(|e| format!("parsing {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// Reads the private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| format!("parsing {}: {e}", path.display()))?
        .ok_or_else(|| format!("no private key in {}", path.display()))
}
