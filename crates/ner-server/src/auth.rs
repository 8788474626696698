//! Bearer keys, checked in one place: the layer in front of `/ner` (the API key, when one is
//! set) and in front of the admin routes (the admin key; without one they are off).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// Whether `Authorization: Bearer <key>` carries `key` (compared in constant time).
fn bearer_matches(headers: &HeaderMap, key: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(given.as_bytes().ct_eq(key.as_bytes()))
}

/// In front of `/ner`: the API key, when the server has one.
pub async fn api_key(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.config.api_key() {
        Some(key) if !bearer_matches(req.headers(), key) => ApiError::Unauthorized.into_response(),
        _ => next.run(req).await,
    }
}

/// In front of the admin routes: off without an admin key, else the key.
pub async fn admin_key(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.config.admin_key() {
        None => ApiError::AdminDisabled.into_response(),
        Some(key) if !bearer_matches(req.headers(), key) => ApiError::Unauthorized.into_response(),
        Some(_) => next.run(req).await,
    }
}
