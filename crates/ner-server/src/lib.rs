//! The HTTP service. It talks to the model through the [`model::NerModel`] trait and never links
//! libtorch, so its router tests run with a fake model.
//!
//! A `POST /ner` request flows: body limit → typed JSON ([`api`], our error format on every
//! rejection, [`error`]) → validation → admission (a semaphore, then the bounded queue; full →
//! 429) → tokenisation into words with offsets → the queue → the model's own thread takes a
//! batch ([`worker`]) → spans built by slicing the original text → JSON.

pub mod admin;
pub mod api;
pub mod body;
pub mod conn;
pub mod error;
pub mod metrics;
pub mod model;
pub mod models;
pub mod worker;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::models::{Models, Served};
use crate::worker::{BatchConfig, Health, Worker};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use models::Loader;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Limits and behaviour of the service.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub max_body_bytes: usize,
    /// The longest text accepted, in characters (413 beyond).
    pub max_text_chars: usize,
    /// The most texts in one batch request.
    pub max_texts: usize,
    pub request_timeout: Duration,
    /// A request body must arrive within this time (408 beyond).
    pub body_timeout: Duration,
    /// Request headers must arrive within this time; keep-alive connections idle this long
    /// are closed.
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Requests tagged at once; more get 429.
    pub concurrency_limit: usize,
    /// Long texts are cut into sentence pieces of at most this many tokens.
    pub max_sentence_tokens: usize,
    pub batch: BatchConfig,
    /// When set, `/ner` requires `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// When set, `POST /admin/models/NAME` reloads models, with `Authorization: Bearer <key>`.
    pub admin_key: Option<String>,
    /// Origins allowed by CORS (`*` for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
}

/// Every default limit of the service, declared once; the CLI takes its flags' defaults from
/// here.
pub mod defaults {
    pub const MAX_BODY_BYTES: usize = 2 << 20;
    pub const MAX_TEXT_CHARS: usize = 200_000;
    pub const MAX_TEXTS: usize = 256;
    pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
    pub const BODY_TIMEOUT_MS: u64 = 30_000;
    pub const HEADER_TIMEOUT_MS: u64 = 30_000;
    pub const MAX_CONNECTIONS: usize = 4096;
    pub const CONCURRENCY_LIMIT: usize = 512;
    pub const MAX_SENTENCE_TOKENS: usize = 128;
    pub const QUEUE_SIZE: usize = 1024;
    pub const MAX_BATCH_TOKENS: usize = 4096;
    pub const MAX_BATCH_WAIT_US: u64 = 1000;
    pub const SHUTDOWN_GRACE_S: u64 = 20;
}

impl Default for ServerConfig {
    fn default() -> Self {
        use defaults::*;
        ServerConfig {
            max_body_bytes: MAX_BODY_BYTES,
            max_text_chars: MAX_TEXT_CHARS,
            max_texts: MAX_TEXTS,
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS),
            body_timeout: Duration::from_millis(BODY_TIMEOUT_MS),
            header_timeout: Duration::from_millis(HEADER_TIMEOUT_MS),
            max_connections: MAX_CONNECTIONS,
            concurrency_limit: CONCURRENCY_LIMIT,
            max_sentence_tokens: MAX_SENTENCE_TOKENS,
            batch: BatchConfig {
                queue_size: QUEUE_SIZE,
                max_batch_tokens: MAX_BATCH_TOKENS,
                max_batch_wait: Duration::from_micros(MAX_BATCH_WAIT_US),
            },
            api_key: None,
            admin_key: None,
            cors_origins: Vec::new(),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub models: Models,
    pub metrics: Metrics,
    pub concurrency: Arc<Semaphore>,
    request_ids: Arc<AtomicU64>,
    pub loader: Option<models::Loader>,
}

impl AppState {
    pub fn new(config: ServerConfig, models: Models, metrics: Metrics) -> Self {
        AppState {
            concurrency: Arc::new(Semaphore::new(config.concurrency_limit.max(1))),
            config: Arc::new(config),
            models,
            metrics,
            request_ids: Arc::new(AtomicU64::new(1)),
            loader: None,
        }
    }

    /// The default model's worker.
    pub fn worker(&self) -> Worker {
        self.models.default_model().worker()
    }

    /// Lets `POST /admin/models/NAME` and SIGHUP load models from directories.
    pub fn with_loader(mut self, loader: models::Loader) -> Self {
        self.loader = Some(loader);
        self
    }
}

/// Starts the model thread and returns the state the router needs.
pub fn start(config: ServerConfig, factory: model::ModelFactory) -> std::io::Result<AppState> {
    let spec = ModelSpec {
        name: String::new(),
        dir: None,
        factory,
    };
    start_named(config, vec![spec])
}

/// A model to serve: its name (empty: the model's own), where it comes from, and how to load
/// it.
pub struct ModelSpec {
    pub name: String,
    pub dir: Option<std::path::PathBuf>,
    pub factory: model::ModelFactory,
}

/// Starts a model thread for each model; the first is the default. `models` must not be
/// empty.
pub fn start_named(config: ServerConfig, models: Vec<ModelSpec>) -> std::io::Result<AppState> {
    let metrics = Metrics::new();
    let mut served = Vec::with_capacity(models.len());
    for m in models {
        let worker = Worker::spawn(m.factory, config.batch, metrics.clone())?;
        served.push(Served::new(m.name, worker, m.dir));
    }
    if served.is_empty() {
        return Err(std::io::Error::other("no model to serve"));
    }
    Ok(AppState::new(config, Models::new(served), metrics))
}

const OPENAPI: &str = include_str!("openapi.json");
const DEMO: &str = include_str!("demo.html");

/// The router: every route, our JSON errors for unknown routes and methods, CORS, metrics and
/// one log line per request.
pub fn app(state: AppState) -> Router {
    let ner_routes = Router::new()
        .route("/ner", post(api::ner).fallback(method_not_allowed))
        // read_body enforces the limit (and answers 413 the way clients read it).
        .layer(DefaultBodyLimit::disable())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            body::read_body,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    let mut router = Router::new()
        .merge(ner_routes)
        .route("/", get(demo).fallback(method_not_allowed))
        .route("/health", get(health).fallback(method_not_allowed))
        .route("/ready", get(ready).fallback(method_not_allowed))
        .route("/info", get(info).fallback(method_not_allowed))
        .route("/models", get(models_list).fallback(method_not_allowed))
        .route(
            "/admin/models/{name}",
            post(admin::reload).fallback(method_not_allowed),
        )
        .route("/metrics", get(metrics_text).fallback(method_not_allowed))
        .route("/openapi.json", get(openapi).fallback(method_not_allowed))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    if let Some(cors) = cors_layer(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    if origins.iter().any(|o| o == "*") {
        return Some(base.allow_origin(Any));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(base.allow_origin(AllowOrigin::list(list)))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn demo() -> Html<&'static str> {
    Html(DEMO)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn ready(State(st): State<AppState>) -> Response {
    let health = st
        .models
        .all()
        .iter()
        .map(|s| s.worker().health())
        .find(|h| *h != Health::Ready)
        .unwrap_or(Health::Ready);
    if health == Health::Ready {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        let message = match health {
            Health::Failed(e) => format!("the model failed to load: {e}"),
            _ => ApiError::NotReady.message(),
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": {"type": "not_ready", "message": message}})),
        )
            .into_response()
    }
}

async fn info(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let worker = st.worker();
    let info = worker.info().ok_or(ApiError::NotReady)?;
    let c = &st.config;
    Ok(Json(serde_json::json!({
        "model": info.name,
        "models": st.models.names(),
        "labels": info.tags.labels().names(),
        "scheme": info.tags.scheme(),
        "tokenization": info.tokenization,
        "config": info.config,
        "metrics": info.metrics,
        "version": env!("CARGO_PKG_VERSION"),
        "limits": {
            "max_body_bytes": c.max_body_bytes, "max_text_chars": c.max_text_chars,
            "max_texts": c.max_texts, "request_timeout_ms": c.request_timeout.as_millis() as u64,
            "max_batch_tokens": c.batch.max_batch_tokens, "queue_size": c.batch.queue_size,
        },
    })))
}

/// `GET /models`: every model with its labels, tokenisation, state and start time.
async fn models_list(State(st): State<AppState>) -> Json<serde_json::Value> {
    let list: Vec<serde_json::Value> = st
        .models
        .all()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let current = s.current();
            let info = current.worker.info();
            let loaded = current
                .loaded
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            serde_json::json!({
                "name": s.name(),
                "default": i == 0,
                "ready": current.worker.is_ready(),
                "version": info.map(|i| i.version.clone()),
                "labels": info.map(|i| i.tags.labels().names().to_vec()),
                "tokenization": info.map(|i| i.tokenization),
                "loaded_unix": loaded,
                "path": current.dir,
            })
        })
        .collect();
    Json(serde_json::json!({"models": list}))
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    let depth: usize = st
        .models
        .all()
        .iter()
        .map(|s| s.worker().queue_depth())
        .sum();
    st.metrics.queue_depth.set(depth as i64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Compares in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_key(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = &st.config.api_key {
        if !bearer_matches(req.headers(), key) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

/// Whether `Authorization: Bearer <key>` carries `key` (compared in constant time).
pub(crate) fn bearer_matches(headers: &axum::http::HeaderMap, key: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq(given.as_bytes(), key.as_bytes())
}

/// Request id, metrics and one log line per request.
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map_or_else(
            || format!("{:016x}", st.request_ids.fetch_add(1, Ordering::Relaxed)),
            str::to_owned,
        );
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    st.metrics
        .requests
        .with_label_values(&[route.as_str(), &status.to_string()])
        .inc();
    st.metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(secs);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    tracing::info!(request_id = %id, method = %method, route = %route, status, duration_ms = secs * 1e3, "request");
    resp
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
/// (for at most `grace`), and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let limits = conn::ConnectionLimits {
        header_timeout: state.config.header_timeout,
        max_connections: state.config.max_connections,
    };
    conn::serve(listener, app(state), limits, shutdown, grace).await
}
