//! `ner serve`: the HTTP service with a model from a model directory.

mod models;

use crate::backend::InferenceArgs;
use anyhow::{Context, Result};
use ner_server::{defaults, ServerConfig};
use ner_tagger::EncoderThreading;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A model to serve: DIR, or NAME=DIR to serve it under NAME (default: the model's own
    /// name). Repeat for several models (each on its own model thread); the first is the
    /// default, and requests choose another with `"model": NAME`. NER_MODELS takes a
    /// comma-separated list, NER_MODEL one directory. Default: models/en-conll03.
    #[arg(
        long,
        env = "NER_MODELS",
        value_delimiter = ',',
        value_name = "[NAME=]DIR"
    )]
    model: Vec<String>,
    /// Address to listen on (0.0.0.0: every interface).
    #[arg(long, env = "NER_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port; `PORT` is honoured too).
    #[arg(long, env = "NER_PORT")]
    port: Option<u16>,
    /// The service's limits and keys.
    #[command(flatten)]
    server: ServerConfig,
    /// How each model runs (shared with predict, eval and bench).
    #[command(flatten)]
    inference: InferenceArgs,
    /// Threads of the HTTP side (parsing, tokenising, building answers); default: one per
    /// core.
    #[arg(long, env = "NER_HTTP_THREADS")]
    http_threads: Option<usize>,
    /// Seconds to let in-flight requests finish after SIGTERM or SIGINT.
    #[arg(long, env = "NER_SHUTDOWN_GRACE_S", default_value_t = defaults::SHUTDOWN_GRACE_S)]
    shutdown_grace_s: u64,
}

/// SIGHUP reloads every model from its directory (one at a time; a model that fails to load
/// keeps the old one serving).
async fn reload_on_sighup(state: ner_server::AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading every model");
            for (name, result) in ner_server::admin::reload_all(&state).await {
                if let Err(why) = result {
                    tracing::error!(model = %name, error = %why, "reload failed; the old model still serves");
                }
            }
        }
    }
    #[cfg(not(unix))]
    drop(state);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let models = models::model_dirs(&args.model);
    let port = match args.port {
        Some(p) => p,
        None => std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(8080),
    };
    let opts = args
        .inference
        .clone()
        .threading_or(EncoderThreading::Directions);
    let server = ServerConfig {
        max_sentence_tokens: opts.max_sentence_tokens,
        ..args.server.clone()
    };
    let state = ner_server::start_named(server, models::specs(&models, &opts))
        .context("cannot start the model threads")?
        .with_loader(models::loader(opts));
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.http_threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args, port, models, state, started))
}

/// Listens, waits for every model, serves until a signal, then joins the model threads.
async fn serve(
    args: Args,
    port: u16,
    models: Vec<(String, PathBuf)>,
    state: ner_server::AppState,
    started: Instant,
) -> Result<()> {
    let addr = format!("{}:{}", args.host, port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // The models load on their own threads while the socket already answers /health.
    for ((_, dir), served) in models.iter().zip(state.models.all()) {
        if let Err(why) = served.worker().wait_ready(Duration::from_secs(300)).await {
            anyhow::bail!("the model in {} could not be loaded: {why}", dir.display());
        }
    }
    let names = state.models.names().join(", ");
    let ready_ms = started.elapsed().as_millis() as u64;
    tracing::info!(addr = %local, models = %names, startup_ms = ready_ms, "ready");
    eprintln!("listening on http://{local} (models {names}; ready in {ready_ms} ms)");
    let joiners: Vec<_> = state
        .models
        .all()
        .iter()
        .map(|s| s.worker().joiner())
        .collect();
    let sighup = tokio::spawn(reload_on_sighup(state.clone()));
    let grace = Duration::from_secs(args.shutdown_grace_s);
    let served = ner_server::serve(listener, state, shutdown_signal(), grace).await;
    // The SIGHUP task holds the models too: once it is gone, every handle to the queues is,
    // and the model threads end. They free the models before the process exits (libtorch must
    // not be torn down under a running thread).
    sighup.abort();
    let _ = sighup.await;
    join_model_threads(joiners, &models).await;
    served.map_err(Into::into)
}

async fn join_model_threads(
    joiners: Vec<ner_server::worker::Joiner>,
    models: &[(String, PathBuf)],
) {
    let stopping = Instant::now();
    for (joiner, (name, _)) in joiners.into_iter().zip(models) {
        let done = joiner.wait(Duration::from_secs(10)).await;
        tracing::info!(model = %name, model_thread_stopped = done, "stopped");
    }
    let took_ms = stopping.elapsed().as_millis() as u64;
    tracing::info!(took_ms, "every model thread has ended");
}
