//! The HTTPS edge (real mode): accepts TCP, terminates TLS with rustls, serves HTTP/1.1 with
//! hyper, collects each body up to the limit, and hands the request to [`ApiServer::handle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::{error_response, ApiServer, Body};
use crate::api::status::ApiError;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

async fn serve_request(server: Arc<ApiServer>, req: http::Request<Incoming>) -> http::Response<Body> {
    let limit = server.config.body_limit_bytes;
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return error_response(&ApiError::TooLarge { limit_bytes: limit });
        }
        Err(e) => return error_response(&ApiError::BadRequest(format!("reading the request body: {e}"))),
    };
    server.handle(http::Request::from_parts(parts, bytes)).await
}

/// Serves `server` on `listener` with TLS until the task is dropped.
pub async fn serve_tls(
    server: Arc<ApiServer>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = listener.accept().await?;
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
                .timer(hyper_util::rt::TokioTimer::new())
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
