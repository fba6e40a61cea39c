//! The one storage conformance suite, run against the model store and against a real etcd.
//! (The suite itself: src/storage/conformance.rs.)

use std::sync::Arc;

use kubesim::storage::{conformance, ModelStore, ModelStoreConfig};

#[tokio::test]
async fn model_store_conforms() {
    conformance::run(Arc::new(ModelStore::new(ModelStoreConfig::default()))).await;
}

#[cfg(not(madsim))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_store_conforms() {
    use kubesim::storage::{EtcdStore, EtcdStoreConfig};
    use kubesim::testing::EtcdServer;

    let etcd = EtcdServer::start();
    let store = EtcdStore::connect(EtcdStoreConfig::new([etcd.endpoint()]))
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}\n{}", etcd.endpoint(), etcd.log()));
    eprintln!("etcd conformance: real etcd at {} (not skipped)", etcd.endpoint());
    conformance::run(Arc::new(store)).await;
}
