//! [`EncryptedStore`]: the [`Storage`] decorator that encrypts values on their way to the store and
//! decrypts them on their way back (reads, lists, watch events, conflicts, deletes).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use super::{Encryption, EncryptionError};
use crate::storage::{
    DeleteResponse, KeyValue, ListOptions, ListResponse, Revision, Storage, StorageError, StorageResult,
    WatchItem, WatchOptions, WatchStream,
};

/// A store whose configured resources are encrypted at rest.
pub struct EncryptedStore {
    inner: Arc<dyn Storage>,
    encryption: Arc<Encryption>,
}

impl EncryptedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Storage>, encryption: Arc<Encryption>) -> EncryptedStore {
        EncryptedStore { inner, encryption }
    }
}

/// At the seam an encryption failure is an internal store error (500 at the HTTP edge).
fn internal(e: EncryptionError) -> StorageError {
    StorageError::Internal(e.to_string())
}

fn decrypt_kv(encryption: &Encryption, mut kv: KeyValue) -> StorageResult<KeyValue> {
    if !kv.value.is_empty() {
        kv.value = Bytes::from(encryption.decrypt(&kv.key, &kv.value).map_err(internal)?);
    }
    Ok(kv)
}

impl EncryptedStore {
    fn encrypt(&self, key: &str, value: Bytes) -> StorageResult<Bytes> {
        self.encryption.encrypt(key, &value).map(Bytes::from).map_err(internal)
    }

    /// A conflict carries the stored value: the caller gets it decrypted too.
    fn error(&self, e: StorageError) -> StorageError {
        match e {
            StorageError::Conflict { key, expected, current } => {
                match decrypt_kv(&self.encryption, *current) {
                    Ok(current) => StorageError::Conflict { key, expected, current: Box::new(current) },
                    Err(e) => e,
                }
            }
            other => other,
        }
    }
}

#[async_trait]
impl Storage for EncryptedStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> StorageResult<KeyValue> {
        let kv = self.inner.get(key, revision).await.map_err(|e| self.error(e))?;
        decrypt_kv(&self.encryption, kv)
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> StorageResult<ListResponse> {
        let mut page = self.inner.list(prefix, options).await.map_err(|e| self.error(e))?;
        page.items = page
            .items
            .into_iter()
            .map(|kv| decrypt_kv(&self.encryption, kv))
            .collect::<StorageResult<_>>()?;
        Ok(page)
    }

    async fn create(&self, key: &str, value: Bytes) -> StorageResult<Revision> {
        let value = self.encrypt(key, value)?;
        self.inner.create(key, value).await.map_err(|e| self.error(e))
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> StorageResult<Revision> {
        let value = self.encrypt(key, value)?;
        self.inner.update(key, value, expected_mod_revision).await.map_err(|e| self.error(e))
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> StorageResult<DeleteResponse> {
        let mut d = self.inner.delete(key, expected_mod_revision).await.map_err(|e| self.error(e))?;
        d.prev = decrypt_kv(&self.encryption, d.prev)?;
        Ok(d)
    }

    async fn watch(&self, options: WatchOptions) -> StorageResult<WatchStream> {
        let stream = self.inner.watch(options).await.map_err(|e| self.error(e))?;
        let encryption = self.encryption.clone();
        let decrypted = stream.map(move |item| match item? {
            WatchItem::Event(mut event) => {
                event.kv = decrypt_kv(&encryption, event.kv)?;
                event.prev_kv = event.prev_kv.map(|kv| decrypt_kv(&encryption, kv)).transpose()?;
                Ok(WatchItem::Event(event))
            }
            other => Ok(other),
        });
        Ok(Box::pin(decrypted))
    }

    async fn compact(&self, revision: Revision) -> StorageResult<()> {
        self.inner.compact(revision).await
    }

    async fn current_revision(&self) -> StorageResult<Revision> {
        self.inner.current_revision().await
    }
}
