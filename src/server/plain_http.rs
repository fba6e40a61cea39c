//! The plain-HTTP edge, in both worlds: the simulation serves [`ApiServer::handle`] over madsim's
//! simulated TCP with it. hyper needs a `Timer` for its header-read timeout; hyper-util's
//! `TokioTimer` calls real tokio and panics under madsim, so [`RtTimer`] sleeps on `tokio::time`
//! (madsim's clock in the simulation).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::rt::{Sleep, Timer};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::authn::ClientCertificate;
use super::{error_response, ApiServer, Body};
use crate::api::status::ApiError;
use crate::client::NoEmptyFlush;
use crate::deadline::Deadline;

/// Wait after a failed accept (e.g. out of file descriptors) before accepting again.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What one connection may buffer (request headers in, response bytes out) before hyper stops
/// polling the handler's body: with hyper's ~400 KB default, 10,000 watch connections whose
/// clients read slowly held ~4 GB. Watch streams wait instead (and their bounded queues cut off
/// the ones that never read).
pub const CONNECTION_BUFFER_MAX: usize = 64 * 1024;

/// A hyper timer on `tokio::time`, which is madsim's simulated clock under `--cfg madsim`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RtTimer;

/// hyper polls its header-read timer on every read of a connection: a [`Deadline`] keeps that to
/// one simulator timer.
struct RtSleep(Deadline);

impl Future for RtSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Sleep for RtSleep {}

impl Timer for RtTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(RtSleep(Deadline::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

/// Collects the body up to the configured limit and runs the pipeline.
pub(crate) async fn serve_request(
    server: Arc<ApiServer>,
    req: http::Request<Incoming>,
) -> http::Response<Body> {
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

/// The next connection. A failed accept (out of file descriptors and the like) is logged and
/// retried after [`ACCEPT_RETRY`]: the server never stops serving.
pub(crate) async fn accept(listener: &tokio::net::TcpListener) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                return (tcp, peer);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying in {ACCEPT_RETRY:?}");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Serves HTTP/1.1 on one connection (plain or TLS) until it ends. `identity` is what the
/// connection's client certificate says (TLS only); each request carries it as an extension.
pub(crate) async fn serve_connection<I>(
    server: Arc<ApiServer>,
    io: I,
    peer: SocketAddr,
    identity: Option<ClientCertificate>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut req: http::Request<Incoming>| {
        let server = server.clone();
        if let Some(identity) = &identity {
            req.extensions_mut().insert(identity.clone());
        }
        req.extensions_mut().insert(crate::audit::SourceIp(peer.ip()));
        async move { Ok::<_, std::convert::Infallible>(serve_request(server, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(RtTimer)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(CONNECTION_BUFFER_MAX)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Serves `server` over plain HTTP/1.1 on `listener` until the task is dropped. Each connection
/// gets the flush shim (madsim sends a message on every flush, even an empty one).
pub async fn serve_plain(server: Arc<ApiServer>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = accept(&listener).await;
        tokio::spawn(serve_connection(server.clone(), NoEmptyFlush::new(tcp), peer, None));
    }
}
