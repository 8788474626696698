#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
//! The HTTP service. It talks to the model through its two halves ([`model::RequestHalf`] on the
//! request side, [`model::NetworkHalf`] on the model thread), so its router tests run with fakes.
//!
//! A `POST /ner` request flows: body limit ([`body`]) → authentication ([`auth`]) → typed JSON
//! ([`api`], our error format on every rejection, [`error`]) → validation → admission (a
//! semaphore, then the bounded queue; full → 429) → tokenisation and encoding on the request's
//! task → the queue → the model's thread runs the network over a batch ([`worker`]) → decoding
//! back on the request's side → entities built by slicing the original text → JSON.

pub mod admin;
pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod body;
pub mod config;
pub(crate) mod conn;
pub(crate) mod error;
pub(crate) mod info;
pub(crate) mod metrics;
pub mod model;
pub(crate) mod models;
pub(crate) mod openapi;
pub mod router;
pub(crate) mod state;
pub mod worker;

pub use config::{defaults, ServerConfig};
pub use models::Loader;
pub use router::app;
pub use state::{start, start_named, AppState, ModelSpec};
use std::time::Duration;

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
/// (for at most `grace`), and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let limits = conn::ConnectionLimits {
        header_timeout: state.config.header_timeout(),
        max_connections: state.config.max_connections,
    };
    conn::serve(listener, app(state), limits, shutdown, grace).await
}
