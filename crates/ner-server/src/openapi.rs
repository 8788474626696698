//! The OpenAPI document, generated from the handlers' annotations and the types they read and
//! answer with, so that it cannot drift from the router ([`crate::router::ROUTES`]; a test
//! checks that both list the same routes).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ner — BiLSTM-CRF named-entity recognition",
        description = "Entity spans with offsets into the original text. Every error is {\"error\": {\"type\", \"message\"}}.",
    ),
    paths(
        crate::api::ner,
        crate::admin::reload,
        crate::info::health,
        crate::info::ready,
        crate::info::info,
        crate::info::models,
        crate::info::metrics,
        openapi,
        crate::info::demo,
    ),
    modifiers(&Bearer),
)]
struct ApiDoc;

/// The `bearer` scheme that `/ner` (with an API key) and the admin routes use.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme =
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", scheme);
    }
}

/// The document as JSON, with the server's version.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_json().unwrap_or_default()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi() -> Response {
    let doc = document();
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}
