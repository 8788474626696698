//! Several models in one server, with fake models: requests go to the model they name (the
//! first by default), an unknown name is a 404 that lists the names, and `/models` lists them.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use ner_server::model::{ModelFactory, NerModel};
use ner_server::{app, start_named, ServerConfig};
use std::time::Duration;
use tower::ServiceExt;

mod common;
use common::Fake;

fn fake(fail: bool) -> ModelFactory {
    Box::new(move || Ok(Box::new(Fake { fail, gate: None }) as Box<dyn NerModel>))
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn ner(body: serde_json::Value) -> Request<Body> {
    Request::post("/ner")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn requests_go_to_the_model_they_name() {
    // "good" answers; "broken" fails every batch (a 500), so the status shows who answered.
    let state = start_named(
        ServerConfig::default(),
        vec![("good".into(), fake(false)), ("broken".into(), fake(true))],
    )
    .unwrap();
    for s in state.models.all() {
        s.worker.wait_ready(Duration::from_secs(5)).await.unwrap();
    }
    let app = app(state);
    let text = serde_json::json!({"text": "Ada Lovelace wrote"});
    let (status, v) = call(&app, ner(text.clone())).await;
    assert_eq!(status, StatusCode::OK, "the default is the first: {v}");
    assert_eq!(v["entities"][0]["text"], "Ada Lovelace");
    let named = |m: &str| {
        let mut b = text.clone();
        b["model"] = m.into();
        ner(b)
    };
    assert_eq!(call(&app, named("good")).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, named("broken")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (status, v) = call(&app, named("nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["type"], "unknown_model");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"nope\"") && message.contains("good, broken"),
        "{message}"
    );

    let (status, v) = call(&app, Request::get("/models").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let list = v["models"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["good", "broken"]);
    assert_eq!(list[0]["default"], true);
    assert_eq!(list[1]["default"], false);
    assert_eq!(list[0]["labels"], serde_json::json!(["PER"]));
    let (_, info) = call(&app, Request::get("/info").body(Body::empty()).unwrap()).await;
    assert_eq!(info["models"], serde_json::json!(["good", "broken"]));
}
