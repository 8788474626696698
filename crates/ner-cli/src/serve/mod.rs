//! `ner serve`: the HTTP service with a model from a model directory.

mod models;

use crate::backend::{Backend, Options};
use anyhow::{Context, Result};
use ner_server::defaults;
use ner_server::worker::BatchConfig;
use ner_server::ServerConfig;
use ner_tagger::EncoderThreading;
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
    /// Largest request body in bytes.
    #[arg(long, env = "NER_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Longest text in characters (413 beyond).
    #[arg(long, env = "NER_MAX_TEXT_CHARS", default_value_t = defaults::MAX_TEXT_CHARS)]
    max_text_chars: usize,
    /// Most texts per batch request.
    #[arg(long, env = "NER_MAX_TEXTS", default_value_t = defaults::MAX_TEXTS)]
    max_texts: usize,
    /// Per-request time limit in milliseconds.
    #[arg(long, env = "NER_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    request_timeout_ms: u64,
    /// A request body must arrive within this many milliseconds (408 beyond): a client that
    /// trickles its body is cut off.
    #[arg(long, env = "NER_BODY_TIMEOUT_MS", default_value_t = defaults::BODY_TIMEOUT_MS)]
    body_timeout_ms: u64,
    /// Request headers must arrive within this many milliseconds; a keep-alive connection
    /// idle this long is closed.
    #[arg(long, env = "NER_HEADER_TIMEOUT_MS", default_value_t = defaults::HEADER_TIMEOUT_MS)]
    header_timeout_ms: u64,
    /// Open connections at most; more wait in the listen backlog (raise `ulimit -n` above it).
    #[arg(long, env = "NER_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Requests tagged at once; more are refused with 429.
    #[arg(long, env = "NER_CONCURRENCY_LIMIT", default_value_t = defaults::CONCURRENCY_LIMIT)]
    concurrency_limit: usize,
    /// Requests waiting for the model; more are refused with 429.
    #[arg(long, env = "NER_QUEUE_SIZE", default_value_t = defaults::QUEUE_SIZE)]
    queue_size: usize,
    /// A model batch is closed at this many tokens...
    #[arg(long, env = "NER_MAX_BATCH_TOKENS", default_value_t = defaults::MAX_BATCH_TOKENS)]
    max_batch_tokens: usize,
    /// ...or after waiting this many microseconds for more requests.
    #[arg(long, env = "NER_MAX_BATCH_WAIT_US", default_value_t = defaults::MAX_BATCH_WAIT_US)]
    max_batch_wait_us: u64,
    /// Sentences per forward pass inside a batch.
    #[arg(long, env = "NER_MODEL_BATCH_SIZE", default_value_t = 64)]
    model_batch_size: usize,
    /// Long texts are cut into pieces of at most this many tokens.
    #[arg(long, env = "NER_MAX_SENTENCE_TOKENS", default_value_t = defaults::MAX_SENTENCE_TOKENS)]
    max_sentence_tokens: usize,
    /// Require `Authorization: Bearer <key>` on /ner.
    #[arg(long, env = "NER_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Turn on `POST /admin/models/NAME` (hot reload), which then requires
    /// `Authorization: Bearer <key>`. SIGHUP reloads every model whatever this is.
    #[arg(long, env = "NER_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Allowed CORS origins (repeat, or comma-separated; `*` for any).
    #[arg(long, env = "NER_CORS_ALLOW_ORIGIN", value_delimiter = ',')]
    cors_allow_origin: Vec<String>,
    /// libtorch intra-op threads.
    #[arg(long, env = "NER_THREADS")]
    threads: Option<i32>,
    /// How the model uses two or more threads: `directions` (the encoder's two directions on
    /// two threads; best under HTTP load, where libtorch's spinning intra-op threads would take
    /// the cycles the HTTP side needs), `intra-op`, or `auto` (directions for small batches).
    #[arg(long, env = "NER_ENCODER_THREADING", default_value = "directions")]
    encoder_threading: EncoderThreading,
    /// Threads of the HTTP side (parsing, tokenising, building answers); default: one per
    /// core.
    #[arg(long, env = "NER_HTTP_THREADS")]
    http_threads: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, env = "NER_DEVICE", default_value = "cpu")]
    device: String,
    /// What runs the network: native (default; packed weights, no libtorch dispatch) or torch
    /// (libtorch, the reference). CUDA devices always use torch.
    #[arg(long, env = "NER_BACKEND", value_enum, default_value = "native")]
    backend: Backend,
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
    let config = ServerConfig {
        max_body_bytes: args.max_body_bytes,
        max_text_chars: args.max_text_chars,
        max_texts: args.max_texts,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        body_timeout: Duration::from_millis(args.body_timeout_ms),
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        max_connections: args.max_connections,
        concurrency_limit: args.concurrency_limit,
        max_sentence_tokens: args.max_sentence_tokens,
        batch: BatchConfig {
            queue_size: args.queue_size,
            max_batch_tokens: args.max_batch_tokens,
            max_batch_wait: Duration::from_micros(args.max_batch_wait_us),
        },
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        admin_key: args.admin_key.clone().filter(|k| !k.is_empty()),
        cors_origins: args.cors_allow_origin.clone(),
    };
    let opts = Options {
        batch_size: args.model_batch_size,
        threads: args.threads,
        device: args.device.clone(),
        threading: args.encoder_threading,
        backend: args.backend,
    };
    let state = ner_server::start_named(config, models::specs(&models, &opts))
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
    rt.block_on(async move {
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
        tracing::info!(addr = %local, models = %names, startup_ms = started.elapsed().as_millis() as u64, "ready");
        eprintln!("listening on http://{local} (models {names}; ready in {} ms)", started.elapsed().as_millis());
        let joiners: Vec<_> = state.models.all().iter().map(|s| s.worker().joiner()).collect();
        let sighup = tokio::spawn(reload_on_sighup(state.clone()));
        let served = ner_server::serve(listener, state, shutdown_signal(), Duration::from_secs(args.shutdown_grace_s)).await;
        // The SIGHUP task holds the models too: once it is gone, every handle to the queues
        // is, and the model threads end. They free the models before the process exits
        // (libtorch must not be torn down under a running thread).
        sighup.abort();
        let _ = sighup.await;
        let stopping = Instant::now();
        for (joiner, (name, _)) in joiners.into_iter().zip(&models) {
            let done = joiner.wait(Duration::from_secs(10)).await;
            tracing::info!(model = %name, model_thread_stopped = done, "stopped");
        }
        tracing::info!(took_ms = stopping.elapsed().as_millis() as u64, "every model thread has ended");
        served.map_err(Into::into)
    })
}
