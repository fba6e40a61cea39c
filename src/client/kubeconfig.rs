//! Kubeconfig loading (real mode): the current context's server, CA, bearer token and client
//! certificate, turned into a [`ClientConfig`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::ClientConfig;

/// The parts of a kubeconfig the client uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kubeconfig {
    /// `https://host:port`.
    pub server: String,
    /// CA bundle (PEM), from certificate-authority or certificate-authority-data.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip server certificate verification (insecure-skip-tls-verify). Not supported: refused.
    pub insecure: bool,
    /// Bearer token (token or tokenFile).
    pub token: Option<String>,
    /// Client certificate and key (PEM).
    pub client_cert_pem: Option<(Vec<u8>, Vec<u8>)>,
}

fn data_or_file(
    entry: &Value,
    data_key: &str,
    file_key: &str,
    base: &Path,
) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine;
    if let Some(d) = entry.get(data_key).and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map(Some)
            .map_err(|e| format!("{data_key}: {e}"));
    }
    if let Some(f) = entry.get(file_key).and_then(Value::as_str) {
        let path = if Path::new(f).is_absolute() { PathBuf::from(f) } else { base.join(f) };
        return std::fs::read(&path).map(Some).map_err(|e| format!("reading {}: {e}", path.display()));
    }
    Ok(None)
}

fn named<'a>(list: &'a Value, name: &str, inner: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e["name"] == name).and_then(|e| e.get(inner))
}

impl Kubeconfig {
    /// Loads a kubeconfig file (YAML), resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<Kubeconfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses kubeconfig YAML.
    pub fn parse(text: &str, base: &Path) -> Result<Kubeconfig, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("kubeconfig: {e}"))?;
        let context_name = doc["current-context"].as_str().ok_or("kubeconfig has no current-context")?;
        let context =
            named(&doc["contexts"], context_name, "context").ok_or(format!("no context {context_name:?}"))?;
        let cluster_name = context["cluster"].as_str().ok_or("context has no cluster")?;
        let cluster =
            named(&doc["clusters"], cluster_name, "cluster").ok_or(format!("no cluster {cluster_name:?}"))?;
        let user = context["user"]
            .as_str()
            .and_then(|u| named(&doc["users"], u, "user"))
            .cloned()
            .unwrap_or(Value::Null);
        let server =
            cluster["server"].as_str().ok_or("cluster has no server")?.trim_end_matches('/').to_owned();
        let token = match user.get("token").and_then(Value::as_str) {
            Some(t) => Some(t.to_owned()),
            None => match user.get("tokenFile").and_then(Value::as_str) {
                Some(f) => Some(
                    std::fs::read_to_string(base.join(f))
                        .map_err(|e| format!("tokenFile: {e}"))?
                        .trim()
                        .to_owned(),
                ),
                None => None,
            },
        };
        let cert = data_or_file(&user, "client-certificate-data", "client-certificate", base)?;
        let key = data_or_file(&user, "client-key-data", "client-key", base)?;
        Ok(Kubeconfig {
            server,
            ca_pem: data_or_file(cluster, "certificate-authority-data", "certificate-authority", base)?,
            insecure: cluster["insecure-skip-tls-verify"].as_bool().unwrap_or(false),
            token,
            client_cert_pem: cert.zip(key),
        })
    }

    /// The client configuration: rustls trusting the kubeconfig's CA (or the system's roots when
    /// none is given is not supported: a CA is required), with the client certificate if any.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let rest = self.server.strip_prefix("https://").ok_or("only https:// servers are supported")?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let address = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:443") };
        let mut config = ClientConfig::plain(address);
        config.server_name = config.server_name.trim_start_matches('[').trim_end_matches(']').to_owned();
        config.token = self.token.clone();
        if self.insecure {
            return Err("insecure-skip-tls-verify is not supported: give certificate-authority".into());
        }
        let ca = self.ca_pem.as_ref().ok_or("kubeconfig cluster has no certificate-authority")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(cert.map_err(|e| format!("CA: {e}"))?).map_err(|e| format!("CA: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let mut tls = match &self.client_cert_pem {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut cert.as_slice()).collect();
                let key = rustls_pemfile::private_key(&mut key.as_slice())
                    .map_err(|e| format!("client key: {e}"))?
                    .ok_or("no client key")?;
                builder
                    .with_client_auth_cert(certs.map_err(|e| format!("client cert: {e}"))?, key)
                    .map_err(|e| e.to_string())?
            }
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.tls = Some(Arc::new(tls));
        Ok(config)
    }
}
