//! The router: every route with its layers (body limit and authentication before `/ner`, the
//! admin key before `/admin`), our JSON errors for unknown routes and methods, CORS, and the
//! request id, metrics and log line of every request.

use crate::error::ApiError;
use crate::state::AppState;
use crate::{admin, api, auth, body, info};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// Every route the server answers; the OpenAPI document lists the same ones.
pub const ROUTES: [&str; 9] = [
    "/",
    "/ner",
    "/health",
    "/ready",
    "/info",
    "/models",
    "/admin/models/{name}",
    "/metrics",
    "/openapi.json",
];

/// A route that answers other methods with our 405.
fn route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}

/// The router of `state`.
pub fn app(state: AppState) -> Router {
    let ner = Router::new()
        .route("/ner", route(post(api::ner)))
        // read_body enforces the limit (and answers 413 the way clients read it).
        .layer(DefaultBodyLimit::disable())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            body::read_body,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::api_key));
    let admin = Router::new()
        .route("/admin/models/{name}", route(post(admin::reload)))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::admin_key,
        ));
    let mut router = Router::new()
        .merge(ner)
        .merge(admin)
        .route("/", route(get(info::demo)))
        .route("/health", route(get(info::health)))
        .route("/ready", route(get(info::ready)))
        .route("/info", route(get(info::info)))
        .route("/models", route(get(info::models)))
        .route("/metrics", route(get(info::metrics)))
        .route("/openapi.json", route(get(crate::openapi::openapi)))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    if let Some(cors) = cors_layer(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
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
    let labels = [route.as_str(), &status.to_string()];
    st.metrics.requests.with_label_values(&labels).inc();
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
