//! The file `--encryption-provider-config` names: kube's `EncryptionConfiguration`
//! (apiserver.config.k8s.io/v1), in YAML or JSON.

use serde::Deserialize;

/// The only apiVersion kube-apiserver reads today.
pub const API_VERSION: &str = "apiserver.config.k8s.io/v1";

/// `EncryptionConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfiguration {
    /// `apiserver.config.k8s.io/v1`.
    pub api_version: String,
    /// `EncryptionConfiguration`.
    pub kind: String,
    /// Resource groups, each with its ordered providers; the first entry naming a resource wins.
    pub resources: Vec<ResourceConfiguration>,
}

/// One `resources[]` entry.
#[derive(Debug, Deserialize)]
pub struct ResourceConfiguration {
    /// `secrets`, `leases.coordination.k8s.io`, `*.` (all core), `*.<group>`, `*.*` (everything).
    pub resources: Vec<String>,
    /// Ordered: the first encrypts, all decrypt.
    pub providers: Vec<ProviderConfiguration>,
}

/// One provider: exactly one of the fields is set.
#[derive(Debug, Default, Deserialize)]
pub struct ProviderConfiguration {
    /// No encryption.
    pub identity: Option<serde::de::IgnoredAny>,
    /// AES-CBC with PKCS#7 padding.
    pub aescbc: Option<KeysConfiguration>,
    /// AES-GCM with a random nonce.
    pub aesgcm: Option<KeysConfiguration>,
    /// XSalsa20-Poly1305.
    pub secretbox: Option<KeysConfiguration>,
    /// Envelope encryption through a KMS plugin (not served: refused at start).
    pub kms: Option<serde::de::IgnoredAny>,
}

/// `keys:` of a key-based provider.
#[derive(Debug, Deserialize)]
pub struct KeysConfiguration {
    /// Ordered: the first encrypts.
    pub keys: Vec<Key>,
}

/// One named key.
#[derive(Debug, Deserialize)]
pub struct Key {
    /// The name written into each value's prefix (`k8s:enc:aescbc:v1:<name>:`).
    pub name: String,
    /// The key bytes, base64 (standard alphabet).
    pub secret: String,
}
