//! The HTTPS edge (real mode): accepts TCP, terminates TLS with rustls, serves HTTP/1.1 with
//! hyper, collects each body up to the limit, and hands the request to [`ApiServer::handle`].

use std::sync::Arc;

use bytes::Bytes;

use super::ApiServer;

pub use super::plain_http::HEADER_READ_TIMEOUT;
use super::plain_http::{accept, serve_connection};

/// Serves `server` on `listener` with TLS until the task is dropped.
pub async fn serve_tls(
    server: Arc<ApiServer>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = accept(&listener).await;
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            // The handshake verified any client certificate against --client-ca-file; its
            // identity rides along with every request of this connection.
            let identity = crate::auth::x509::peer_identity(stream.get_ref().1.peer_certificates());
            serve_connection(server, stream, peer, identity).await;
        });
    }
}

/// Convenience for tests: the bytes of a request body.
pub fn bytes_of(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}
