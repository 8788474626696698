//! `POST /ner`: body → typed request → validation → admission → tokenisation → the model's
//! queue → entities built by slicing the original text → JSON.

use crate::error::{ApiError, ErrorBody};
use crate::model::{chain, DecodeOptions, Emissions, Piece, RequestHalf};
use crate::worker::{Forwarded, Incoming, Job, SubmitError, Worker};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ner_core::document::{sentences_of, Document};
use ner_core::offsets::OffsetUnit;
use ner_core::results::{self, ResultError, ResultOptions, TextResult};
use ner_core::Tagged;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// The JSON body of `POST /ner`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NerRequest {
    /// One text.
    pub text: Option<String>,
    /// Several texts, answered in order.
    pub texts: Option<Vec<String>>,
    /// Unit of `start`/`end`: `char` (default), `byte` or `utf16`.
    #[serde(default)]
    pub offsets: OffsetUnit,
    /// Also return the words with their tags and offsets.
    #[serde(default)]
    pub tokens: bool,
    /// Drop entities scoring below this.
    pub min_score: Option<f64>,
    /// Also return the k best labelings of each sentence.
    #[serde(default)]
    pub nbest: usize,
    /// The model to use (`GET /models` lists them); the server's default when absent.
    pub model: Option<String>,
}

fn content_type(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    match essence {
        "application/json" | "" => Ok(false),
        "text/plain" => Ok(true),
        other => Err(ApiError::UnsupportedMediaType(other.to_owned())),
    }
}

/// The typed request. The body was read, within its limit, by [`crate::body::read_body`].
fn parse(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<NerRequest, ApiError> {
    let plain = content_type(headers)?;
    let body = body.map_err(|e| ApiError::MalformedBody(e.body_text()))?;
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::MalformedBody(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })?;
    if plain {
        return Ok(NerRequest {
            text: Some(text.to_owned()),
            texts: None,
            offsets: OffsetUnit::Char,
            tokens: false,
            min_score: None,
            nbest: 0,
            model: None,
        });
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let req: NerRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::InvalidField(if path == "." {
                format!("{inner}")
            } else {
                format!("field `{path}`: {inner}")
            }),
            _ => ApiError::MalformedBody(inner.to_string()),
        }
    })?;
    Ok(req)
}

/// A request, checked: its texts, whether it was one `text`, what to answer and with which
/// model.
struct Checked {
    texts: Vec<String>,
    single: bool,
    options: ResultOptions,
    model: Option<String>,
}

fn validate(req: NerRequest, st: &AppState) -> Result<Checked, ApiError> {
    let mut req = req;
    let (texts, single) = match (req.text.take(), req.texts.take()) {
        (Some(t), None) => (vec![t], true),
        (None, Some(ts)) => {
            if ts.is_empty() {
                return Err(ApiError::InvalidField(
                    "field `texts`: must hold at least one text".into(),
                ));
            }
            if ts.len() > st.config.max_texts {
                return Err(ApiError::InvalidField(format!(
                    "field `texts`: {} texts, more than the limit of {} per request",
                    ts.len(),
                    st.config.max_texts
                )));
            }
            (ts, false)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidField(
                "give either `text` or `texts`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(ApiError::InvalidField(
                "missing field `text` (or `texts` for a batch)".into(),
            ))
        }
    };
    let options = ResultOptions::new(req.tokens, req.nbest, req.min_score, req.offsets)
        .map_err(invalid_option)?;
    for (index, t) in texts.iter().enumerate() {
        let chars = t.chars().count();
        if chars > st.config.max_text_chars {
            return Err(ApiError::TextTooLong {
                index,
                chars,
                limit: st.config.max_text_chars,
            });
        }
    }
    Ok(Checked {
        texts,
        single,
        options,
        model: req.model,
    })
}

/// A bad `nbest` or `min_score`, named as a field of the request.
fn invalid_option(e: ResultError) -> ApiError {
    match e.field() {
        Some(field) => ApiError::InvalidField(format!("field `{field}`: {}", e.reason())),
        None => ApiError::InvalidField(e.to_string()),
    }
}

/// Entities of one text (`text`) or of a batch of texts (`texts`), with offsets into each
/// text and confidences.
///
/// In the order a request travels: parse and validate, admit, encode on this
/// task, queue for the network, decode (on the blocking pool when large), build the answer.
#[utoipa::path(post, path = "/ner",
    request_body(content(
        (NerRequest = "application/json", examples(
            ("one text" = (value = json!({"text": "Angela Merkel visited Paris."}))),
            ("a batch, UTF-16 offsets, tokens" = (value = json!({"texts": ["Bob went to Berlin.", "Nothing here."], "offsets": "utf16", "tokens": true}))),
            ("n-best labelings" = (value = json!({"text": "Bob Smith spoke.", "nbest": 3}))),
        )),
        (String = "text/plain", example = "Angela Merkel visited Paris."),
    )),
    responses(
        (status = 200, description = "`{entities, model}` for `text`; `{results, model}` for `texts`. A `Server-Timing` header gives the time of each stage (encode, queue, network, decode).", body = NerResponse),
        (status = 400, description = "The body is not JSON or not UTF-8", body = ErrorBody),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 404, description = "No model of that name", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body or a text is over its limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor plain text", body = ErrorBody),
        (status = 422, description = "A field is wrong: the message names it", body = ErrorBody),
        (status = 429, description = "At capacity; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 500, body = ErrorBody),
        (status = 503, description = "The model is not loaded, or the request timed out", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub async fn ner(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req = validate(parse(&headers, body)?, &st)?;
    let worker = st.models.get(req.model.as_deref())?.worker();
    let codec = worker
        .codec()
        .filter(|_| worker.is_ready())
        .ok_or(ApiError::NotReady)?
        .clone();
    let Ok(_permit) = st.concurrency.clone().try_acquire_owned() else {
        return Err(ApiError::Overloaded(1));
    };
    let incoming = worker.incoming();
    let info = codec.info();
    let mut timing = Timing::default();
    let docs: Vec<Document> = req
        .texts
        .iter()
        .map(|t| Document::new(t, info.tokenization, st.config.max_sentence_tokens))
        .collect();
    let (sentences, documents) = sentences_of(&docs);
    let tagged = if sentences.is_empty() {
        drop(incoming);
        Vec::new()
    } else {
        let started = Instant::now();
        let piece = codec.encode(&sentences, documents);
        timing.encode = started.elapsed();
        let forwarded = forward(&st, &worker, piece, incoming).await?;
        (timing.queue, timing.network) = (forwarded.queue, forwarded.network);
        let started = Instant::now();
        let nbest = req.options.nbest();
        let tagged = decode(codec.clone(), forwarded.emissions, nbest).await?;
        timing.decode = started.elapsed();
        tagged
    };
    timing.record(&st.metrics);
    let mut results = results::build(&docs, &tagged, &info.tags, &req.options).map_err(|e| {
        tracing::error!(error = %e, "the model's results do not fit the request");
        ApiError::Internal
    })?;
    let model = info.name.clone();
    let mut resp = match req.single {
        true => Json(Single {
            result: results.pop().unwrap_or_default(),
            model,
        })
        .into_response(),
        false => Json(Batch { results, model }).into_response(),
    };
    timing.header(&mut resp);
    Ok(resp)
}

/// The answer to `POST /ner`: one text's result, or a batch's. It describes the answer in the
/// OpenAPI document; the handler serialises `Single` or `Batch` directly.
#[allow(dead_code)]
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum NerResponse {
    Single(Single),
    Batch(Batch),
}

/// The answer to `{"text": ...}`: the text's result and the model's name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Single {
    #[serde(flatten)]
    pub result: TextResult,
    pub model: String,
}

/// The answer to `{"texts": [...]}`: one result per text, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Batch {
    pub results: Vec<TextResult>,
    pub model: String,
}

/// Pieces with more tokens than this decode on the blocking pool rather than on the task.
const DECODE_INLINE_TOKENS: usize = 512;

/// The results of every sentence, decoded from its emissions.
async fn decode(
    codec: Arc<dyn RequestHalf>,
    emissions: Emissions,
    nbest: usize,
) -> Result<Vec<Tagged>, ApiError> {
    let options = DecodeOptions::scored(nbest);
    let rows = emissions.offsets.last().copied().unwrap_or(0);
    if rows <= DECODE_INLINE_TOKENS {
        return Ok(codec.decode(&emissions, options));
    }
    tokio::task::spawn_blocking(move || codec.decode(&emissions, options))
        .await
        .map_err(|_| ApiError::Internal)
}

/// The time of each stage of one request: recorded in `/metrics` and sent as a
/// `Server-Timing` header (milliseconds).
#[derive(Debug, Default)]
struct Timing {
    encode: Duration,
    queue: Duration,
    network: Duration,
    decode: Duration,
}

impl Timing {
    fn stages(&self) -> [(&'static str, Duration); 4] {
        [
            ("encode", self.encode),
            ("queue", self.queue),
            ("network", self.network),
            ("decode", self.decode),
        ]
    }

    fn record(&self, metrics: &crate::metrics::Metrics) {
        for (stage, d) in self.stages() {
            metrics
                .stages
                .with_label_values(&[stage])
                .observe(d.as_secs_f64());
        }
    }

    fn header(&self, resp: &mut Response) {
        let value = self
            .stages()
            .iter()
            .map(|(stage, d)| format!("{stage};dur={:.3}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert("server-timing", v);
        }
    }
}

/// Queues a piece for the network and waits for its emissions.
async fn forward(
    st: &AppState,
    worker: &Worker,
    piece: Piece,
    incoming: Incoming,
) -> Result<Forwarded, ApiError> {
    let (job, rx) = Job::new(piece, incoming);
    match worker.submit(job) {
        Ok(()) => {}
        Err(SubmitError::Full) => return Err(ApiError::Overloaded(1)),
        Err(SubmitError::Stopped) => return Err(ApiError::NotReady),
    }
    st.metrics.queue_depth.set(worker.queue_depth() as i64);
    match tokio::time::timeout(st.config.request_timeout(), rx).await {
        Ok(Ok(Ok(f))) => Ok(f),
        Ok(Ok(Err(e))) => {
            tracing::error!(error = %chain(&e), "model error");
            Err(ApiError::Internal)
        }
        Ok(Err(_)) => Err(ApiError::Internal),
        Err(_) => Err(ApiError::Timeout),
    }
}
