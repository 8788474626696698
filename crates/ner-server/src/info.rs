//! The read-only routes: liveness, readiness, the served models, the default model's facts,
//! metrics, the OpenAPI document and the demo page. Every answer is a typed struct.

use crate::config::ServerConfig;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::worker::Health;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::path::PathBuf;
use utoipa::ToSchema;

const DEMO: &str = include_str!("demo.html");

/// `{"status": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready` (every model loaded).
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Every model is loaded and its thread runs.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, body = Status),
    (status = 503, description = "A model is loading, or failed to load (the message says why)", body = ErrorBody),
))]
pub async fn ready(State(st): State<AppState>) -> Result<Json<Status>, ApiError> {
    let health = st.models.all().iter().map(|s| s.worker().health());
    match health.into_iter().find(|h| *h != Health::Ready) {
        None => Ok(Json(Status { status: "ready" })),
        Some(Health::Failed(why)) => Err(ApiError::LoadFailed(why)),
        Some(_) => Err(ApiError::NotReady),
    }
}

/// The default model and the server's limits.
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    /// The default model's name.
    pub model: String,
    /// Every model's name, the default first.
    pub models: Vec<String>,
    pub labels: Vec<String>,
    /// The tag scheme (`bio`, `bioes`, ...).
    #[schema(value_type = String)]
    pub scheme: ner_core::TagScheme,
    /// `word` or `char`.
    #[schema(value_type = String)]
    pub tokenization: ner_core::tokenize::Mode,
    /// The model's configuration, as stored with it.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Its evaluation, as stored with it.
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    /// The server's version.
    pub version: &'static str,
    pub limits: ServerConfig,
}

/// The default model's labels, scheme and evaluation, and the server's limits.
#[utoipa::path(get, path = "/info", responses(
    (status = 200, body = Info),
    (status = 503, body = ErrorBody),
))]
pub async fn info(State(st): State<AppState>) -> Result<Json<Info>, ApiError> {
    let worker = st.worker();
    let info = worker.info().ok_or(ApiError::NotReady)?;
    Ok(Json(Info {
        model: info.name.clone(),
        models: st.models.names(),
        labels: info.tags.labels().names().to_vec(),
        scheme: info.tags.scheme(),
        tokenization: info.tokenization,
        config: info.config.clone(),
        metrics: info.metrics.clone(),
        version: env!("CARGO_PKG_VERSION"),
        limits: (*st.config).clone(),
    }))
}

/// One served model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    /// The name requests use.
    pub name: String,
    /// Used when a request names no model.
    pub default: bool,
    pub ready: bool,
    /// A content hash of the weights (changes when the model does).
    pub version: Option<String>,
    pub labels: Option<Vec<String>>,
    #[schema(value_type = Option<String>)]
    pub tokenization: Option<ner_core::tokenize::Mode>,
    /// When it started serving (seconds since 1970).
    pub loaded_unix: u64,
    /// The directory it was loaded from.
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
}

/// `GET /models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelEntry>,
}

/// Every model with its labels, tokenisation, state and start time.
#[utoipa::path(get, path = "/models", responses((status = 200, body = ModelList)))]
pub async fn models(State(st): State<AppState>) -> Json<ModelList> {
    let models = st
        .models
        .all()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let current = s.current();
            let info = current.worker.info();
            ModelEntry {
                name: s.name(),
                default: i == 0,
                ready: current.worker.is_ready(),
                version: info.map(|i| i.version.clone()),
                labels: info.map(|i| i.tags.labels().names().to_vec()),
                tokenization: info.map(|i| i.tokenization),
                loaded_unix: unix_seconds(current.loaded),
                path: current.dir,
            }
        })
        .collect();
    Json(ModelList { models })
}

pub(crate) fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    let depth: usize = st
        .models
        .all()
        .iter()
        .map(|s| s.worker().queue_depth())
        .sum();
    st.metrics.queue_depth.set(depth as i64);
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (content_type, st.metrics.render()).into_response()
}

/// The demo page: a text box and its entities.
#[utoipa::path(get, path = "/", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn demo() -> Html<&'static str> {
    Html(DEMO)
}
