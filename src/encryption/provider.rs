//! One encryption key of one provider, with kube-apiserver's exact stored layout, so that values
//! written by either server read back in the other:
//! - every encrypted value starts `k8s:enc:<provider>:v1:<key name>:`;
//! - aescbc: IV (16 bytes) then AES-CBC ciphertext with PKCS#7 padding;
//! - aesgcm: nonce (12 bytes) then ciphertext and tag; the authenticated data is the etcd key;
//! - secretbox: nonce (24 bytes) then the NaCl box (tag, ciphertext);
//! - identity: the value as is, no prefix.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use rand::RngCore;

use super::config::Key;
use super::EncryptionError;

/// What every encrypted value starts with.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

const CBC_IV_LEN: usize = 16;
const GCM_NONCE_LEN: usize = 12;
const SECRETBOX_NONCE_LEN: usize = 24;
const SECRETBOX_KEY_LEN: usize = 32;

type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// The provider kinds kube-apiserver serves (kms aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Stored as is.
    Identity,
    /// AES-CBC, PKCS#7.
    AesCbc,
    /// AES-GCM.
    AesGcm,
    /// XSalsa20-Poly1305.
    Secretbox,
}

impl ProviderKind {
    /// The name in the config and in the prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Identity => "identity",
            ProviderKind::AesCbc => "aescbc",
            ProviderKind::AesGcm => "aesgcm",
            ProviderKind::Secretbox => "secretbox",
        }
    }
}

/// One provider key: identity, or a named key of aescbc, aesgcm or secretbox.
pub struct Provider {
    kind: ProviderKind,
    name: String,
    prefix: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key bytes.
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

fn random<const N: usize>() -> [u8; N] {
    // ThreadRng is a CSPRNG seeded from the OS; under madsim the OS source is the seeded one.
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

impl Provider {
    /// The identity provider.
    pub fn identity() -> Provider {
        Provider { kind: ProviderKind::Identity, name: String::new(), prefix: Vec::new(), key: Vec::new() }
    }

    /// A key of a key-based provider; checks the base64 and the key length.
    pub fn keyed(kind: ProviderKind, key: &Key) -> Result<Provider, EncryptionError> {
        let what = format!("{} key {:?}", kind.as_str(), key.name);
        if key.name.is_empty() || key.name.contains(':') {
            return Err(EncryptionError::Config(format!("{what}: the name must be non-empty, without ':'")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.secret.trim())
            .map_err(|e| EncryptionError::Config(format!("{what}: secret is not valid base64: {e}")))?;
        let ok = match kind {
            ProviderKind::AesCbc | ProviderKind::AesGcm => matches!(bytes.len(), 16 | 24 | 32),
            ProviderKind::Secretbox => bytes.len() == SECRETBOX_KEY_LEN,
            ProviderKind::Identity => false,
        };
        if !ok {
            let want = if kind == ProviderKind::Secretbox { "32" } else { "16, 24 or 32" };
            return Err(EncryptionError::Config(format!(
                "{what}: the key is {} bytes; it must be {want}",
                bytes.len()
            )));
        }
        let prefix = format!("k8s:enc:{}:v1:{}:", kind.as_str(), key.name).into_bytes();
        Ok(Provider { kind, name: key.name.clone(), prefix, key: bytes })
    }

    /// `aescbc:key1` (or `identity`), for messages.
    pub fn label(&self) -> String {
        match self.kind {
            ProviderKind::Identity => "identity".into(),
            kind => format!("{}:{}", kind.as_str(), self.name),
        }
    }

    /// Whether this provider wrote `stored`: its prefix, or for identity no encryption prefix.
    pub fn wrote(&self, stored: &[u8]) -> bool {
        match self.kind {
            ProviderKind::Identity => !stored.starts_with(ENCRYPTED_PREFIX),
            _ => stored.starts_with(&self.prefix),
        }
    }

    /// The stored form of `plain`. `authenticated_data` is the full etcd key (aesgcm binds to it).
    pub fn encrypt(&self, plain: &[u8], authenticated_data: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        let failed = |e: String| EncryptionError::Encrypt { provider: self.label(), reason: e };
        let mut out = self.prefix.clone();
        match self.kind {
            ProviderKind::Identity => out.extend_from_slice(plain),
            ProviderKind::AesCbc => {
                let iv: [u8; CBC_IV_LEN] = random();
                let ct = match self.key.len() {
                    16 => cbc_encrypt::<aes::Aes128>(&self.key, &iv, plain),
                    24 => cbc_encrypt::<aes::Aes192>(&self.key, &iv, plain),
                    _ => cbc_encrypt::<aes::Aes256>(&self.key, &iv, plain),
                }
                .map_err(failed)?;
                out.extend_from_slice(&iv);
                out.extend_from_slice(&ct);
            }
            ProviderKind::AesGcm => {
                let nonce: [u8; GCM_NONCE_LEN] = random();
                let payload = Payload { msg: plain, aad: authenticated_data };
                let ct = match self.key.len() {
                    16 => aead_encrypt::<aes_gcm::Aes128Gcm>(&self.key, &nonce, payload),
                    24 => aead_encrypt::<Aes192Gcm>(&self.key, &nonce, payload),
                    _ => aead_encrypt::<aes_gcm::Aes256Gcm>(&self.key, &nonce, payload),
                }
                .map_err(failed)?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&ct);
            }
            ProviderKind::Secretbox => {
                let nonce: [u8; SECRETBOX_NONCE_LEN] = random();
                let payload = Payload { msg: plain, aad: b"" };
                let ct = aead_encrypt::<crypto_secretbox::XSalsa20Poly1305>(&self.key, &nonce, payload)
                    .map_err(failed)?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&ct);
            }
        }
        Ok(out)
    }

    /// The plaintext of a value this provider [`wrote`](Self::wrote).
    pub fn decrypt(&self, stored: &[u8], authenticated_data: &[u8]) -> Result<Vec<u8>, String> {
        let body = stored.get(self.prefix.len()..).ok_or("value shorter than its prefix")?;
        match self.kind {
            ProviderKind::Identity => Ok(body.to_vec()),
            ProviderKind::AesCbc => {
                if body.len() < CBC_IV_LEN {
                    return Err("the data is shorter than an IV".into());
                }
                let (iv, ct) = body.split_at(CBC_IV_LEN);
                match self.key.len() {
                    16 => cbc_decrypt::<aes::Aes128>(&self.key, iv, ct),
                    24 => cbc_decrypt::<aes::Aes192>(&self.key, iv, ct),
                    _ => cbc_decrypt::<aes::Aes256>(&self.key, iv, ct),
                }
            }
            ProviderKind::AesGcm => {
                if body.len() < GCM_NONCE_LEN {
                    return Err("the data is shorter than a nonce".into());
                }
                let (nonce, ct) = body.split_at(GCM_NONCE_LEN);
                let payload = Payload { msg: ct, aad: authenticated_data };
                match self.key.len() {
                    16 => aead_decrypt::<aes_gcm::Aes128Gcm>(&self.key, nonce, payload),
                    24 => aead_decrypt::<Aes192Gcm>(&self.key, nonce, payload),
                    _ => aead_decrypt::<aes_gcm::Aes256Gcm>(&self.key, nonce, payload),
                }
            }
            ProviderKind::Secretbox => {
                if body.len() < SECRETBOX_NONCE_LEN {
                    return Err("the data is shorter than a nonce".into());
                }
                let (nonce, ct) = body.split_at(SECRETBOX_NONCE_LEN);
                let payload = Payload { msg: ct, aad: b"" };
                aead_decrypt::<crypto_secretbox::XSalsa20Poly1305>(&self.key, nonce, payload)
            }
        }
    }
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8], plain: &[u8]) -> Result<Vec<u8>, String>
where
    C: aes::cipher::BlockEncryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(|e| e.to_string())?;
    Ok(enc.encrypt_padded_vec_mut::<Pkcs7>(plain))
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], ct: &[u8]) -> Result<Vec<u8>, String>
where
    C: aes::cipher::BlockDecryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|e| e.to_string())?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(ct).map_err(|_| "invalid padding (wrong key?)".into())
}

fn aead_encrypt<A: KeyInit + Aead>(
    key: &[u8],
    nonce: &[u8],
    payload: Payload<'_, '_>,
) -> Result<Vec<u8>, String> {
    let cipher = A::new_from_slice(key).map_err(|e| e.to_string())?;
    cipher
        .encrypt(aes_gcm::aead::generic_array::GenericArray::from_slice(nonce), payload)
        .map_err(|e| e.to_string())
}

fn aead_decrypt<A: KeyInit + Aead>(
    key: &[u8],
    nonce: &[u8],
    payload: Payload<'_, '_>,
) -> Result<Vec<u8>, String> {
    let cipher = A::new_from_slice(key).map_err(|e| e.to_string())?;
    cipher
        .decrypt(aes_gcm::aead::generic_array::GenericArray::from_slice(nonce), payload)
        .map_err(|_| "authentication failed (wrong key or corrupt data)".into())
}
