//! The HTTPS edge (real mode): accepts TCP, terminates TLS with rustls, serves HTTP/1.1 with
//! hyper, collects each body up to the limit, and hands the request to [`ApiServer::handle`].

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::ApiServer;

pub use super::plain_http::HEADER_READ_TIMEOUT;
use super::plain_http::{serve_request, RtTimer, ACCEPT_RETRY};

/// Serves `server` on `listener` with TLS until the task is dropped.
pub async fn serve_tls(
    server: Arc<ApiServer>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait and go on; never stop serving.
                tracing::warn!(error = %e, "accept failed; retrying in {ACCEPT_RETRY:?}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
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
            let service = service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, std::convert::Infallible>(serve_request(server, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(RtTimer)
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Convenience for tests: the bytes of a request body.
pub fn bytes_of(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}
