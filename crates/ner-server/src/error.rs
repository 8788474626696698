//! Every error the API returns, and the one table that maps error types to status codes.
//! Bodies are always `{"error": {"type": "...", "message": "..."}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The body is not valid JSON (or not UTF-8).
    MalformedBody(String),
    /// Valid JSON of the wrong shape: unknown field, wrong type, bad value. Names the field.
    InvalidField(String),
    /// The body is larger than the configured limit.
    BodyTooLarge(usize),
    /// A text is longer than the configured limit.
    TextTooLong {
        index: usize,
        chars: usize,
        limit: usize,
    },
    UnsupportedMediaType(String),
    MethodNotAllowed,
    NotFound,
    /// A model could not replace the one serving (the old one still serves).
    ReloadRefused(String),
    /// The admin API is off (no admin key configured).
    AdminDisabled,
    /// A request named a model the server does not hold.
    UnknownModel {
        name: String,
        known: Vec<String>,
    },
    Unauthorized,
    /// The queue is full; retry after this many seconds.
    Overloaded(u64),
    NotReady,
    /// The model could not be loaded; why.
    LoadFailed(String),
    Timeout,
    /// The body did not arrive within this many seconds.
    BodyTimeout(u64),
    /// Something broke inside; details go to the log, not to the client.
    Internal,
}

impl ApiError {
    /// The single place where error types meet status codes.
    pub fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            ApiError::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::TextTooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "text_too_long"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::UnknownModel { .. } => (StatusCode::NOT_FOUND, "unknown_model"),
            ApiError::ReloadRefused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "reload_refused"),
            ApiError::AdminDisabled => (StatusCode::FORBIDDEN, "admin_disabled"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Overloaded(_) => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            ApiError::NotReady | ApiError::LoadFailed(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
            }
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::MalformedBody(m) => format!("the body is not valid JSON: {m}"),
            ApiError::InvalidField(m) => m.clone(),
            ApiError::BodyTooLarge(limit) => format!("the body is larger than the limit of {limit} bytes; split the texts over several requests"),
            ApiError::TextTooLong { index, chars, limit } => format!("text {index} has {chars} characters, more than the limit of {limit}; split it"),
            ApiError::UnsupportedMediaType(m) => format!("unsupported content type {m:?}: send application/json or text/plain"),
            ApiError::MethodNotAllowed => "method not allowed for this route".into(),
            ApiError::NotFound => "no such route; see /openapi.json".into(),
            ApiError::ReloadRefused(why) => format!("{why}; the model that was serving still serves"),
            ApiError::AdminDisabled => "the admin API is off: start the server with --admin-key (NER_ADMIN_KEY)".into(),
            ApiError::UnknownModel { name, known } => format!("no model named {name:?}; this server has {} (GET /models lists them)", known.join(", ")),
            ApiError::Unauthorized => "missing or wrong API key: send `Authorization: Bearer <key>`".into(),
            ApiError::Overloaded(s) => format!("the server is at capacity; retry in {s} s"),
            ApiError::NotReady => "the model is not loaded (yet); retry shortly".into(),
            ApiError::LoadFailed(why) => format!("the model failed to load: {why}"),
            ApiError::Timeout => "the request took longer than the server's time limit".into(),
            ApiError::BodyTimeout(s) => format!("the request body did not arrive within {s} s; send it at once (the limit is --body-timeout-ms)"),
            ApiError::Internal => "internal error; the server log has details".into(),
        }
    }
}

/// The body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `invalid_field`, `overloaded`, ...
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: &'static str,
    /// For people: what went wrong, where, and what to do.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, ty) = self.status_and_type();
        let body = ErrorBody {
            error: ErrorDetail {
                kind: ty,
                message: self.message(),
            },
        };
        let mut resp = (status, Json(body)).into_response();
        let retry = match &self {
            ApiError::Overloaded(s) => Some(*s),
            ApiError::NotReady | ApiError::Timeout => Some(1),
            _ => None,
        };
        if let Some(v) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
