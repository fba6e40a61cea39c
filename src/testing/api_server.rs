//! An in-process `ApiServer` on a loopback HTTPS port, with a client for it: what agent tests and
//! benches run against.

use std::sync::Arc;
use std::time::Duration;

use crate::client::{ApiClient, Kubeconfig};
use crate::server::authn::TokenAuthenticator;
use crate::server::{http_server, tls, ApiServer, ApiServerConfig};
use crate::storage::Storage;

/// The admin token the test server accepts (user `admin` in `system:masters`).
pub const TEST_ADMIN_TOKEN: &str = "kubesim-test-admin";

/// Authentication options of a test server beyond the admin token.
#[derive(Clone, Debug, Default)]
pub struct TestAuth {
    /// More token-file lines (`token,user,uid,"group1,group2"`).
    pub token_lines: String,
    /// A CA bundle to verify client certificates against (--client-ca-file).
    pub client_ca_file: Option<std::path::PathBuf>,
}

/// A running in-process API server.
pub struct TestApiServer {
    /// The core (for in-process calls and inspection).
    pub server: Arc<ApiServer>,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// PEM of the CA that signed the serving certificate.
    pub ca_pem: Vec<u8>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestApiServer {
    /// Starts a server over `storage` and waits until it serves the default namespace.
    pub async fn start(storage: Arc<dyn Storage>, config: ApiServerConfig) -> TestApiServer {
        Self::start_with_auth(storage, config, &TestAuth::default()).await
    }

    /// Starts a server with more tokens and, optionally, client certificates.
    pub async fn start_with_auth(
        storage: Arc<dyn Storage>,
        config: ApiServerConfig,
        auth: &TestAuth,
    ) -> TestApiServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = tls::self_signed(dir.path()).expect("self-signed certificate");
        let tls_config =
            tls::server_config_with_client_ca(&cert, auth.client_ca_file.as_deref()).expect("rustls config");
        let tokens = TokenAuthenticator::parse(&format!(
            "{TEST_ADMIN_TOKEN},admin,1,\"system:masters\"\n{}",
            auth.token_lines
        ))
        .expect("token file");
        let server = ApiServer::new(storage, config, tokens).await;
        server.wait_ready().await.expect("caches ready");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let task = tokio::spawn(http_server::serve_tls(server.clone(), listener, tls_config));
        let ca_pem = std::fs::read(cert.ca_file.expect("a generated CA")).expect("CA file");
        let s = TestApiServer { server, url: format!("https://127.0.0.1:{port}"), ca_pem, _dir: dir, task };
        let client = s.client();
        for _ in 0..200 {
            if client.get("/api/v1/namespaces/default").await.is_ok_and(|r| r.status == 200) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("test API server did not create the default namespace");
    }

    /// A client authenticated as admin.
    pub fn client(&self) -> ApiClient {
        self.client_with_token(Some(TEST_ADMIN_TOKEN))
    }

    /// A client with another (or no) token.
    pub fn client_with_token(&self, token: Option<&str>) -> ApiClient {
        let kubeconfig = Kubeconfig {
            server: self.url.clone(),
            ca_pem: Some(self.ca_pem.clone()),
            token: token.map(str::to_owned),
            ..Default::default()
        };
        let mut config = kubeconfig.client_config().expect("client config");
        config.pool_max = 128;
        ApiClient::new(config)
    }
}
