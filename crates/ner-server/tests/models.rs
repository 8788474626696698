//! Several models in one server, with fake models: requests go to the model they name (the
//! first by default), an unknown name is a 404 that lists the names, and `/models` lists them.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use ner_server::model::{ModelFactory, WorkerError};
use ner_server::{app, start_named, ModelSpec, ServerConfig};
use std::time::Duration;
use tower::ServiceExt;

mod common;
use common::fake_factory;

fn spec(name: &str, factory: ModelFactory) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        dir: None,
        factory,
    }
}

fn fake(fail: bool) -> ModelFactory {
    fake_factory(fail, None)
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
        vec![spec("good", fake(false)), spec("broken", fake(true))],
    )
    .unwrap();
    for s in state.models.all() {
        s.worker().wait_ready(Duration::from_secs(5)).await.unwrap();
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

/// A loader of fake models: a directory named `broken` fails to load.
fn loader() -> ner_server::Loader {
    std::sync::Arc::new(|dir: &std::path::Path| -> ModelFactory {
        if dir.ends_with("broken") {
            Box::new(|| Err(WorkerError::load("no weights here")))
        } else {
            fake(false)
        }
    })
}

async fn reloadable(admin_key: Option<&str>) -> axum::Router {
    let config = ServerConfig {
        admin_key: admin_key.map(str::to_owned),
        ..ServerConfig::default()
    };
    let state = start_named(config, vec![spec("m", fake(false))])
        .unwrap()
        .with_loader(loader());
    state
        .worker()
        .wait_ready(Duration::from_secs(5))
        .await
        .unwrap();
    app(state)
}

fn reload(name: &str, path: &str, key: Option<&str>) -> Request<Body> {
    let mut r = Request::post(format!("/admin/models/{name}"));
    if let Some(k) = key {
        r = r.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    r.body(Body::from(serde_json::json!({ "path": path }).to_string()))
        .unwrap()
}

#[tokio::test]
async fn reload_needs_the_admin_key_and_a_model_that_loads() {
    let off = reloadable(None).await;
    let (status, v) = call(&off, reload("m", "good", Some("k"))).await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_disabled"))
    );

    let app = reloadable(Some("k")).await;
    assert_eq!(
        call(&app, reload("m", "good", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, reload("m", "good", Some("wrong"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, reload("x", "good", Some("k"))).await.0,
        StatusCode::NOT_FOUND
    );
    // A directory that fails to load is refused with the reason; the old model still answers.
    let (status, v) = call(&app, reload("m", "/models/broken", Some("k"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no weights here"),
        "{v}"
    );
    let text = serde_json::json!({"text": "Ada Lovelace wrote"});
    assert_eq!(call(&app, ner(text.clone())).await.0, StatusCode::OK);
    // A good one takes over.
    let (status, v) = call(&app, reload("m", "/models/good", Some("k"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["version"].as_str()),
        (Some("m"), Some("fake-1"))
    );
    let (_, list) = call(&app, Request::get("/models").body(Body::empty()).unwrap()).await;
    assert_eq!(list["models"][0]["path"], "/models/good");
    assert_eq!(call(&app, ner(text)).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_reloads_under_32_concurrent_clients_lose_nothing() {
    let app = reloadable(Some("k")).await;
    let clients: Vec<_> = (0..32)
        .map(|c| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut answered = 0;
                for i in 0..40 {
                    // Each request names itself, so an answer to another request would show.
                    let me = format!("Client{c}x{i}");
                    let (status, v) = call(
                        &app,
                        ner(serde_json::json!({"text": format!("{me} wrote")})),
                    )
                    .await;
                    assert_eq!(status, StatusCode::OK, "{v}");
                    assert_eq!(v["entities"][0]["text"], me.as_str());
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    for _ in 0..20 {
        let (status, v) = call(&app, reload("m", "/models/good", Some("k"))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let mut total = 0;
    for c in clients {
        total += c.await.unwrap();
    }
    assert_eq!(total, 32 * 40);
}
