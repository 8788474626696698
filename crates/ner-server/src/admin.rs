//! Hot reload: `POST /admin/models/NAME` with `{"path": DIR}` (or no body: reload from where
//! the model came from), when an admin key is set; and [`reload_all`], which the binary runs on
//! SIGHUP. See [`crate::models::Models::reload`] for what a reload guarantees.

use crate::error::{ApiError, ErrorBody};
use crate::info::unix_seconds;
use crate::models::{Current, ReloadContext};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use utoipa::ToSchema;

/// The longest a new model may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// The body of `POST /admin/models/{name}` (or none).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// The model directory to load (default: the one the model was loaded from).
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
}

/// The model that serves a name after a reload.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reloaded {
    pub name: String,
    /// A content hash of the new weights.
    pub version: Option<String>,
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
    /// When it started serving (seconds since 1970).
    pub loaded_unix: u64,
}

/// Loads a model directory on fresh threads and, once it answers a smoke sentence, lets it
/// serve `name`; requests already running finish on the old one. Needs the admin key.
#[utoipa::path(post, path = "/admin/models/{name}",
    params(("name" = String, Path, description = "The served model's name (GET /models)")),
    request_body(content = Option<ReloadRequest>, content_type = "application/json"),
    responses(
        (status = 200, body = Reloaded),
        (status = 401, description = "The admin key is missing or wrong", body = ErrorBody),
        (status = 403, description = "The admin API is off (no --admin-key)", body = ErrorBody),
        (status = 404, description = "No model of that name", body = ErrorBody),
        (status = 422, description = "The new model was refused; the old one still serves", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn reload(
    State(st): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Reloaded>, ApiError> {
    let req: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::InvalidField(format!("the body must be {{\"path\": \"DIR\"}}: {e}"))
        })?
    };
    let current = reload_one(&st, &name, req.path).await?;
    Ok(Json(describe(&name, &current)))
}

async fn reload_one(st: &AppState, name: &str, dir: Option<PathBuf>) -> Result<Current, ApiError> {
    let loader = st.loader.as_ref().ok_or_else(|| {
        ApiError::ReloadRefused("this server cannot load models from directories".into())
    })?;
    let cx = ReloadContext {
        loader,
        batch: st.config.batch,
        metrics: st.metrics.clone(),
        load_timeout: LOAD_TIMEOUT,
    };
    let started = std::time::Instant::now();
    let result = st.models.reload(name, dir, cx).await;
    match &result {
        Ok(c) => {
            tracing::info!(model = name, version = %c.worker.info().map_or("", |i| i.version.as_str()), took_ms = started.elapsed().as_millis() as u64, "model reloaded")
        }
        Err(e) => tracing::warn!(model = name, error = %e.message(), "reload refused"),
    }
    result
}

/// Reloads every model from its directory (SIGHUP); one line per model in the log, and the
/// results.
pub async fn reload_all(st: &AppState) -> Vec<(String, Result<Reloaded, String>)> {
    let mut out = Vec::new();
    for name in st.models.names() {
        let r = reload_one(st, &name, None).await;
        out.push((
            name.clone(),
            r.map(|c| describe(&name, &c)).map_err(|e| e.message()),
        ));
    }
    out
}

fn describe(name: &str, c: &Current) -> Reloaded {
    Reloaded {
        name: name.to_owned(),
        version: c.worker.info().map(|i| i.version.clone()),
        path: c.dir.clone(),
        loaded_unix: unix_seconds(c.loaded),
    }
}
