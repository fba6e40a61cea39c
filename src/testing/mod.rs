//! Test support for real mode: real peers (etcd) and in-process API servers, started and stopped
//! by tests and benches.

mod api_server;
mod apiserver_process;
mod etcd_server;

pub use api_server::{TestApiServer, TestAuth, TEST_ADMIN_TOKEN};
pub use apiserver_process::{spawn_serving, APISERVER_START_TIMEOUT};
pub use etcd_server::{etcd_binary, EtcdServer, EtcdServerTls, INSTALL_HINT, PROGRESS_NOTIFY_INTERVAL};
