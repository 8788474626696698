//! Hot reload: `POST /admin/models/NAME` with `{"path": DIR}` (or no body: reload from where
//! the model came from), when an admin key is set; and [`reload_all`], which the binary runs on
//! SIGHUP. See [`crate::models::Models::reload`] for what a reload guarantees.

use crate::error::ApiError;
use crate::models::{Current, ReloadContext};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The longest a new model may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadRequest {
    /// The model directory to load (default: the one the model was loaded from).
    path: Option<PathBuf>,
}

pub async fn reload(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(key) = &st.config.admin_key else {
        return Err(ApiError::AdminDisabled);
    };
    if !crate::bearer_matches(&headers, key) {
        return Err(ApiError::Unauthorized);
    }
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
pub async fn reload_all(st: &AppState) -> Vec<(String, Result<serde_json::Value, String>)> {
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

fn describe(name: &str, c: &Current) -> serde_json::Value {
    let loaded = c
        .loaded
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::json!({
        "name": name,
        "version": c.worker.info().map(|i| i.version.clone()),
        "path": c.dir,
        "loaded_unix": loaded,
    })
}
