//! Encryption at rest (`--encryption-provider-config`), as kube-apiserver does it: per resource an
//! ordered list of providers; the first encrypts every write, all are tried on reads, so a key is
//! rotated by putting a new one first while the old one still reads.
//!
//! It runs at one place, [`EncryptedStore`], a [`Storage`](crate::storage::Storage) decorator
//! between the registry and the store: the watch cache, lists and reads see plaintext, the store
//! (etcd) only ciphertext.

mod config;
mod provider;
mod store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use config::{EncryptionConfiguration, API_VERSION};
pub use provider::{Provider, ProviderKind, ENCRYPTED_PREFIX};
pub use store::EncryptedStore;

use crate::api::resources::RESOURCES;

/// Why encryption could not be set up, or a value could not be transformed. A storage error at the
/// seam (hence 500 InternalError at the HTTP edge).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    /// The configuration file is wrong.
    #[error("encryption provider configuration: {0}")]
    Config(String),
    /// Encrypting failed (a bug or a bad key).
    #[error("encrypting with {provider} failed: {reason}")]
    Encrypt {
        /// `aescbc:key1`.
        provider: String,
        /// The cipher's complaint.
        reason: String,
    },
    /// No configured provider could read a stored value.
    #[error("unable to decrypt the value of {key}: {reason}")]
    Decrypt {
        /// The storage key.
        key: String,
        /// Which provider (and key name) was tried, or which prefix nothing matches.
        reason: String,
    },
}

/// The etcd key prefix kube-apiserver uses; aesgcm authenticates the full etcd key.
pub const DEFAULT_KEY_PREFIX: &str = "/registry";

/// A parsed `EncryptionConfiguration`: providers by storage segment (`secrets`, `minions`).
pub struct Encryption {
    by_segment: BTreeMap<String, Arc<[Provider]>>,
    wildcard: Option<Arc<[Provider]>>,
    key_prefix: String,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Labels only (Provider's Debug never shows key bytes).
        f.debug_struct("Encryption")
            .field("resources", &self.by_segment)
            .field("wildcard", &self.wildcard)
            .finish_non_exhaustive()
    }
}

impl Encryption {
    /// Reads and parses the file `--encryption-provider-config` names.
    pub fn from_file(path: &Path) -> Result<Encryption, EncryptionError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EncryptionError::Config(format!("reading {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses an `EncryptionConfiguration` (YAML or JSON).
    pub fn parse(text: &str) -> Result<Encryption, EncryptionError> {
        let config: EncryptionConfiguration =
            serde_yaml::from_str(text).map_err(|e| EncryptionError::Config(e.to_string()))?;
        if config.api_version != API_VERSION || config.kind != "EncryptionConfiguration" {
            return Err(EncryptionError::Config(format!(
                "expected apiVersion {API_VERSION}, kind EncryptionConfiguration; got {} {}",
                config.api_version, config.kind
            )));
        }
        let mut by_segment = BTreeMap::new();
        let mut wildcard = None;
        for entry in &config.resources {
            if entry.providers.is_empty() {
                return Err(EncryptionError::Config("a resources entry has no providers".into()));
            }
            let mut providers = Vec::new();
            for p in &entry.providers {
                providers.extend(providers_of(p)?);
            }
            let providers: Arc<[Provider]> = providers.into();
            for name in &entry.resources {
                // `secrets` is core; `leases.coordination.k8s.io`; `*.` all core; `*.*` all.
                let (plural, group) = name.split_once('.').unwrap_or((name.as_str(), ""));
                if name == "*.*" {
                    wildcard.get_or_insert_with(|| providers.clone());
                    continue;
                }
                let segments: Vec<String> = if plural == "*" {
                    RESOURCES.iter().filter(|r| r.group == group).map(|r| r.storage_segment.into()).collect()
                } else {
                    let served = RESOURCES.iter().find(|r| r.group == group && r.plural == plural);
                    vec![served.map_or(plural, |r| r.storage_segment).to_owned()]
                };
                for s in segments {
                    // The first entry naming a resource wins, as in kube.
                    by_segment.entry(s).or_insert_with(|| providers.clone());
                }
            }
        }
        Ok(Encryption { by_segment, wildcard, key_prefix: DEFAULT_KEY_PREFIX.into() })
    }

    /// Sets the etcd prefix (--etcd-prefix) that aesgcm's authenticated data starts with.
    pub fn with_key_prefix(mut self, prefix: &str) -> Encryption {
        self.key_prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The providers of the resource a storage key (`/secrets/ns/name`) belongs to; none: stored as is.
    fn providers(&self, key: &str) -> Option<&[Provider]> {
        let segment = key.trim_start_matches('/').split('/').next().unwrap_or("");
        self.by_segment.get(segment).or(self.wildcard.as_ref()).map(|p| &p[..])
    }

    fn authenticated_data(&self, key: &str) -> Vec<u8> {
        format!("{}{key}", self.key_prefix).into_bytes()
    }

    /// The stored form of a value written to `key`.
    pub fn encrypt(&self, key: &str, plain: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        match self.providers(key).and_then(<[Provider]>::first) {
            Some(first) => first.encrypt(plain, &self.authenticated_data(key)),
            None => Ok(plain.to_vec()),
        }
    }

    /// The plaintext of a value read from `key`: from the provider whose prefix it carries.
    pub fn decrypt(&self, key: &str, stored: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        let Some(providers) = self.providers(key) else { return Ok(stored.to_vec()) };
        let failed = |reason: String| EncryptionError::Decrypt { key: key.to_owned(), reason };
        match providers.iter().find(|p| p.wrote(stored)) {
            Some(p) => p
                .decrypt(stored, &self.authenticated_data(key))
                .map_err(|e| failed(format!("provider {}: {e}", p.label()))),
            None if stored.starts_with(ENCRYPTED_PREFIX) => {
                // Name the provider and key the value needs: `k8s:enc:aescbc:v1:key1`.
                let head = stored.iter().take(128).copied().collect::<Vec<u8>>();
                let head = String::from_utf8_lossy(&head);
                let wanted: Vec<&str> = head.splitn(6, ':').take(5).collect();
                Err(failed(format!("no configured provider has the key of {:?}", wanted.join(":"))))
            }
            None => {
                Err(failed("the value is not encrypted and the identity provider is not configured".into()))
            }
        }
    }
}

fn providers_of(p: &config::ProviderConfiguration) -> Result<Vec<Provider>, EncryptionError> {
    let set = [
        p.identity.is_some(),
        p.aescbc.is_some(),
        p.aesgcm.is_some(),
        p.secretbox.is_some(),
        p.kms.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(EncryptionError::Config(
            "each provider must set exactly one of identity, aescbc, aesgcm, secretbox, kms".into(),
        ));
    }
    if p.kms.is_some() {
        return Err(EncryptionError::Config("the kms provider is not supported".into()));
    }
    if p.identity.is_some() {
        return Ok(vec![Provider::identity()]);
    }
    let (kind, keys) = match (&p.aescbc, &p.aesgcm, &p.secretbox) {
        (Some(k), _, _) => (ProviderKind::AesCbc, k),
        (_, Some(k), _) => (ProviderKind::AesGcm, k),
        (_, _, Some(k)) => (ProviderKind::Secretbox, k),
        _ => return Err(EncryptionError::Config("a provider sets nothing".into())),
    };
    if keys.keys.is_empty() {
        return Err(EncryptionError::Config(format!("{} has no keys", kind.as_str())));
    }
    keys.keys.iter().map(|k| Provider::keyed(kind, k)).collect()
}

#[cfg(test)]
mod tests;
