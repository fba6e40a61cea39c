//! The client's one hook for seeing what it does: the simulation's recording layer implements it
//! to build a history of every request, response and watch delivery (issue #5). Real mode leaves
//! it unset.

use std::time::Instant;

use http::{Method, StatusCode};

use super::{ApiResponse, ClientError};

/// Sees every exchange a client makes. Called inline on the client's task: keep it cheap.
pub trait ClientObserver: Send + Sync {
    /// A non-watch request finished (answered, failed or timed out); `started` is when it was sent.
    fn exchange(
        &self,
        method: &Method,
        path: &str,
        outcome: &Result<ApiResponse, ClientError>,
        started: Instant,
    );

    /// A watch was answered with `status`; returns an id naming the stream in later calls.
    fn watch_opened(&self, path: &str, status: StatusCode) -> u64;

    /// A watch could not be opened.
    fn watch_failed(&self, path: &str, error: &ClientError);

    /// One non-empty line (one event) arrived on watch `id`.
    fn watch_line(&self, id: u64, line: &[u8]);

    /// Watch `id` was dropped by the reader (ended, broken, or abandoned).
    fn watch_closed(&self, id: u64);
}
