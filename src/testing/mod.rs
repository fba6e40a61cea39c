//! Test support for real mode: real peers (etcd) started and stopped by tests and benches.

mod etcd_server;

pub use etcd_server::{etcd_binary, EtcdServer, EtcdServerTls, INSTALL_HINT, PROGRESS_NOTIFY_INTERVAL};
