//! Router tests with a fake model: every status of the error table, batch order, offsets in
//! every unit, text/plain bodies, auth, readiness, metrics.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use ner_core::offsets::slice;
use ner_server::model::{ModelFactory, WorkerError};
use ner_server::{app, start, ServerConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

mod common;
use common::{fake_factory, short_factory};

/// The router once the model has loaded (or failed to: then `load` is its reason).
async fn router_loaded(
    config: ServerConfig,
    factory: ModelFactory,
) -> (Router, Result<(), String>) {
    let state = start(config, factory).unwrap();
    let load = state.worker().wait_ready(Duration::from_secs(5)).await;
    (app(state), load)
}

async fn router_with(config: ServerConfig, factory: ModelFactory) -> Router {
    let (app, load) = router_loaded(config, factory).await;
    load.unwrap();
    app
}

async fn router(config: ServerConfig) -> Router {
    router_with(config, fake_factory(false, None)).await
}

async fn call(
    app: &Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&bytes).into(),
    ));
    (status, headers, v)
}

fn post(body: impl Into<Body>, ct: &str) -> Request<Body> {
    Request::post("/ner")
        .header(header::CONTENT_TYPE, ct)
        .body(body.into())
        .unwrap()
}

fn json(v: serde_json::Value) -> Request<Body> {
    post(v.to_string(), "application/json")
}

#[tokio::test]
async fn entities_with_offsets_in_every_unit() {
    let app = router(ServerConfig::default()).await;
    let text = "Ünïcödé 👩‍👩‍👧 says Angela Merkel met 中 Peter in Paris.";
    for unit in ["char", "byte", "utf16"] {
        let (s, _, v) = call(
            &app,
            json(serde_json::json!({"text": text, "offsets": unit, "tokens": true})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ents = v["entities"].as_array().unwrap();
        let names: Vec<_> = ents.iter().map(|e| e["text"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ünïcödé", "Angela Merkel", "Peter", "Paris"]);
        let u: ner_core::offsets::OffsetUnit =
            serde_json::from_value(serde_json::json!(unit)).unwrap();
        for e in ents.iter().chain(v["tokens"].as_array().unwrap()) {
            let (a, b) = (
                e["start"].as_u64().unwrap() as usize,
                e["end"].as_u64().unwrap() as usize,
            );
            assert_eq!(slice(text, a, b, u), e["text"].as_str(), "{unit}: {e}");
        }
        assert_eq!(v["model"], "fake");
    }
}

#[tokio::test]
async fn batches_keep_their_order_and_plain_text_works() {
    let app = router(ServerConfig::default()).await;
    let texts: Vec<String> = (0..30)
        .map(|i| format!("number {i} is Name{i} here"))
        .collect();
    let (s, _, v) = call(&app, json(serde_json::json!({"texts": texts, "nbest": 2}))).await;
    assert_eq!(s, StatusCode::OK);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 30);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["entities"][0]["text"], format!("Name{i}"));
        let labelings = r["nbest"][0]["labelings"].as_array().unwrap();
        let probs: Vec<f64> = labelings
            .iter()
            .map(|l| l["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(probs, [0.5, 0.25]);
        assert_eq!(
            labelings[0]["tags"],
            serde_json::json!(["O", "O", "O", "B-PER", "O"])
        );
        assert_eq!(labelings[1]["tags"][0], "B-PER");
    }
    let (s, _, v) = call(&app, post("Hello Bob", "text/plain; charset=utf-8")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["entities"][0]["text"], "Hello Bob");
    let (s, _, v) = call(
        &app,
        json(serde_json::json!({"text": "", "min_score": 0.95})),
    )
    .await;
    assert_eq!(
        (s, v["entities"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
}

#[tokio::test]
async fn every_client_error_has_its_status_and_our_format() {
    let cfg = ServerConfig {
        max_body_bytes: 1000,
        max_text_chars: 50,
        max_texts: 3,
        ..Default::default()
    };
    let app = router(cfg).await;
    let cases: Vec<(Request<Body>, StatusCode, &str, &str)> = vec![
        (
            post("{\"text\": ", "application/json"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "JSON",
        ),
        (
            post(vec![b'"', 0xff, b'"'], "application/json"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "UTF-8",
        ),
        (
            json(serde_json::json!({"txt": "a"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "txt",
        ),
        (
            json(serde_json::json!({"text": 5})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`text`",
        ),
        (
            json(serde_json::json!({"texts": ["a", 1]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "texts[1]",
        ),
        (
            json(serde_json::json!({"text": "a", "offsets": "words"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "offsets",
        ),
        (
            json(serde_json::json!({"text": "a", "nbest": 100})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "nbest",
        ),
        (
            json(serde_json::json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "text",
        ),
        (
            json(serde_json::json!({"texts": ["a", "b", "c", "d"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "limit",
        ),
        (
            json(serde_json::json!({"text": "x".repeat(2000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "1000",
        ),
        (
            json(serde_json::json!({"text": "x ".repeat(40)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "text_too_long",
            "80",
        ),
        (
            post("text=a", "application/x-www-form-urlencoded"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "application/json",
        ),
        (
            Request::get("/ner").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "",
        ),
        (
            Request::post("/health").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "",
        ),
        (
            Request::get("/nope").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
            "",
        ),
    ];
    for (req, status, ty, needle) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, _, v) = call(&app, req).await;
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(v["error"]["type"], ty, "{what}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{what}: {v}"
        );
    }
}

#[tokio::test]
async fn api_key_guards_ner_only() {
    let app = router(ServerConfig {
        api_key: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let (s, _, v) = call(&app, json(serde_json::json!({"text": "Hi Bob"}))).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let req = Request::post("/ner")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(Body::from("{\"text\":\"a\"}"))
        .unwrap();
    assert_eq!(call(&app, req).await.0, StatusCode::UNAUTHORIZED);
    let req = Request::post("/ner")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::from("{\"text\":\"a\"}"))
        .unwrap();
    assert_eq!(call(&app, req).await.0, StatusCode::OK);
    for path in ["/health", "/ready"] {
        assert_eq!(
            call(&app, Request::get(path).body(Body::empty()).unwrap())
                .await
                .0,
            StatusCode::OK
        );
    }
}

// A full queue: the first request holds the model (the gate), the second fills the batch
// being gathered (one token at most), the third waits in a queue of one, the fourth is refused.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_full_queue_gets_429() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let mut config = ServerConfig::default();
    config.batch.queue_size = 1;
    config.batch.max_batch_tokens = 1;
    let app = router_with(config, fake_factory(false, Some(gate.clone()))).await;
    let send = |text: &'static str| {
        let app = app.clone();
        tokio::spawn(async move { call(&app, json(serde_json::json!({ "text": text }))).await })
    };
    let first = send("Hi Bob");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = send("Hi Ann");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = send("Hi Joe");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, h, v) = call(&app, json(serde_json::json!({"text": "Hi Eve"}))).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("overloaded")),
        "{v}"
    );
    assert!(h.contains_key(header::RETRY_AFTER));
    drop(held);
    for r in [first, second, third] {
        let (s, _, v) = r.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

// The lock is the gate that keeps the fake model busy while the second request arrives.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn overload_gets_429_with_retry_after() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = gate.clone();
    let app = router_with(
        ServerConfig {
            concurrency_limit: 1,
            ..Default::default()
        },
        fake_factory(false, Some(g)),
    )
    .await;
    let first = tokio::spawn({
        let app = app.clone();
        async move { call(&app, json(serde_json::json!({"text": "Hi Bob"}))).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, h, v) = call(&app, json(serde_json::json!({"text": "Hi Ann"}))).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("overloaded"))
    );
    assert!(h.contains_key(header::RETRY_AFTER));
    drop(held);
    let (s, _, v) = first.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Results that do not match the sentences (ner_core::results::ResultError::WrongCount, the
/// error `ner predict` and the Python module stop with too) are a 500, never a short answer.
#[tokio::test]
async fn a_model_that_miscounts_its_results_is_a_500() {
    let app = router_with(ServerConfig::default(), short_factory()).await;
    for body in [
        serde_json::json!({"text": "Hi Bob. Hi Ann."}),
        serde_json::json!({"texts": ["Hi Bob.", "Hi Ann."]}),
    ] {
        let (s, _, v) = call(&app, json(body)).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
        assert_eq!(v["error"]["type"], "internal", "{v}");
    }
}

#[tokio::test]
async fn model_failures_are_500_without_internals_and_503_when_not_loaded() {
    let app = router_with(ServerConfig::default(), fake_factory(true, None)).await;
    let (s, _, v) = call(&app, json(serde_json::json!({"text": "Hi Bob"}))).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!v.to_string().contains("secret"), "{v}");
    let (app, load) = router_loaded(
        ServerConfig::default(),
        Box::new(|| Err(WorkerError::load("no such model"))),
    )
    .await;
    assert!(load.unwrap_err().contains("no such model"));
    let (s, _, v) = call(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no such model"));
    let (s, h, v) = call(&app, json(serde_json::json!({"text": "Hi"}))).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    assert!(h.contains_key(header::RETRY_AFTER));
    assert_eq!(
        call(&app, Request::get("/health").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn info_metrics_and_openapi() {
    let app = router(ServerConfig::default()).await;
    call(&app, json(serde_json::json!({"text": "Hi Bob"}))).await;
    let (s, _, v) = call(&app, Request::get("/info").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (s, v["model"].as_str(), v["labels"][0].as_str()),
        (StatusCode::OK, Some("fake"), Some("PER"))
    );
    let (s, _, v) = call(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = v.as_str().unwrap().to_owned();
    assert_eq!(s, StatusCode::OK);
    for m in [
        "ner_requests_total{route=\"/ner\",status=\"200\"} 1",
        "ner_request_duration_seconds",
        "ner_queue_depth",
        "ner_batch_tokens",
        "ner_tokens_total{model=\"fake\"} 2",
        "ner_memo_lookups_total{model=\"fake\",result=\"hit\"} 2",
        "ner_memo_lookups_total{model=\"fake\",result=\"miss\"} 0",
    ] {
        assert!(text.contains(m), "missing {m} in\n{text}");
    }
}

/// The OpenAPI document lists exactly the routes the router serves, and each example request
/// it documents gets the status it documents (200).
#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let app = router(ServerConfig::default()).await;
    let (s, _, spec) = call(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{spec}"
    );
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut documented: Vec<String> = spec["paths"].as_object().unwrap().keys().cloned().collect();
    documented.sort_unstable();
    let mut served = ner_server::router::ROUTES.to_vec();
    served.sort_unstable();
    assert_eq!(documented, served);
    for route in served {
        let (method, _) = spec["paths"][route]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let path = route.replace("{name}", "fake");
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&path);
        let (s, _, _) = call(&app, req.body(Body::empty()).unwrap()).await;
        assert_ne!(s, StatusCode::NOT_FOUND, "{method} {route}");
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {route}");
    }
    let content = &spec["paths"]["/ner"]["post"]["requestBody"]["content"];
    let examples = content["application/json"]["examples"].as_object().unwrap();
    assert!(examples.len() >= 3, "{content}");
    for (name, example) in examples {
        let (s, _, v) = call(&app, json(example["value"].clone())).await;
        assert_eq!(s, StatusCode::OK, "example {name:?}: {v}");
        assert!(v["model"].is_string(), "{v}");
    }
    let plain = content["text/plain"]["example"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _, v) = call(&app, post(plain, "text/plain")).await;
    assert_eq!(
        (s, v["entities"][0]["text"].as_str()),
        (StatusCode::OK, Some("Angela Merkel"))
    );
}
