//! Generated requests: valid ones (whose answers are checked in detail) and every kind of
//! invalid one: malformed JSON, wrong types at every field, huge and negative numbers, deep
//! nesting, duplicate keys, invalid UTF-8, wrong and missing content types and lengths,
//! chunked and truncated bodies.

use crate::text::text;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

/// What was sent, and what the answer must be.
pub struct Request {
    pub bytes: Vec<u8>,
    /// The texts of a valid request (their entities are checked), and the offset unit.
    pub valid: Option<(Vec<String>, String, bool)>,
    /// The body is cut short of its declared length: the server waits for the rest.
    pub truncated: bool,
}

const UNITS: &[&str] = &["char", "byte", "utf16"];

/// One request of a random kind.
pub fn request(rng: &mut StdRng) -> Request {
    let close = rng.random_bool(0.5);
    let json = "application/json";
    match rng.random_range(0..40) {
        0..=24 => valid(rng, close),
        25..=29 => wrong_or_malformed(rng, close),
        30 => raw(close, json, wrong_types(rng).to_string().into_bytes()),
        31 => raw(close, json, malformed(rng)),
        32 => raw(close, json, invalid_utf8(rng)),
        33 => {
            let ct = random_content_type(rng);
            raw(close, ct, valid_body(rng).0.to_string().into_bytes())
        }
        34 => chunked(rng),
        35 => truncated(rng),
        36 => plain_text(rng, close),
        37 => other_route(rng),
        _ => raw(close, json, deep(rng)),
    }
}

fn wrong_or_malformed(rng: &mut StdRng, close: bool) -> Request {
    let json = "application/json";
    match rng.random_range(0..4) {
        0 => raw(close, json, malformed(rng)),
        1 => chunked(rng),
        2 => plain_text(rng, close),
        _ => raw(close, json, wrong_types(rng).to_string().into_bytes()),
    }
}

fn valid_body(rng: &mut StdRng) -> (Value, Vec<String>, String, bool) {
    let unit = UNITS.choose(rng).copied().unwrap_or("char").to_owned();
    let single = rng.random_bool(0.6);
    let texts: Vec<String> = if single {
        vec![text(rng)]
    } else {
        (0..rng.random_range(0..8)).map(|_| text(rng)).collect()
    };
    let mut body = if single {
        json!({"text": texts[0]})
    } else {
        json!({"texts": texts})
    };
    body["offsets"] = json!(unit);
    if rng.random_bool(0.2) {
        body["tokens"] = json!(true);
    }
    if rng.random_bool(0.2) {
        body["nbest"] = json!(rng.random_range(0..4));
    }
    if rng.random_bool(0.2) {
        body["min_score"] = json!(rng.random::<f64>());
    }
    (body, texts, unit, single)
}

fn valid(rng: &mut StdRng, close: bool) -> Request {
    let (body, texts, unit, single) = valid_body(rng);
    let mut r = raw(close, "application/json", body.to_string().into_bytes());
    r.valid = Some((texts, unit, single));
    r
}

/// A field of the request set to a value of the wrong type or range.
fn wrong_types(rng: &mut StdRng) -> Value {
    let (mut body, ..) = valid_body(rng);
    let field = [
        "text",
        "texts",
        "offsets",
        "tokens",
        "nbest",
        "min_score",
        "extra",
    ]
    .choose(rng)
    .copied()
    .unwrap_or("text");
    let values = [
        json!(null),
        json!(-1),
        json!(1e308),
        json!(-1e308),
        json!(18446744073709551615u64),
        json!("x"),
        json!([1, 2]),
        json!({"a": 1}),
        json!(true),
        json!(0.5),
        json!([null]),
        json!(1_000_000_000),
        json!(""),
        json!("bytes"),
    ];
    body[field] = values.choose(rng).cloned().unwrap_or(Value::Null);
    if rng.random_bool(0.1) {
        body = values.choose(rng).cloned().unwrap_or(Value::Null);
    }
    body
}

fn malformed(rng: &mut StdRng) -> Vec<u8> {
    let (body, ..) = valid_body(rng);
    let s = body.to_string();
    match rng.random_range(0..5) {
        0 => s.as_bytes()[..rng.random_range(0..=s.len())].to_vec(),
        1 => br#"{"text": "a", "text": "b"}"#.to_vec(),
        2 => (0..rng.random_range(0..200))
            .map(|_| rng.random::<u8>())
            .collect(),
        3 => s.replace(':', "").into_bytes(),
        _ => format!("{s}{s}").into_bytes(),
    }
}

fn invalid_utf8(rng: &mut StdRng) -> Vec<u8> {
    let mut b = br#"{"text": "abc "#.to_vec();
    b.extend((0..rng.random_range(1..10)).map(|_| rng.random_range(0x80..=0xff)));
    b.extend_from_slice(br#" \ud800 def"}"#);
    b
}

fn deep(rng: &mut StdRng) -> Vec<u8> {
    let n = rng.random_range(100..100_000);
    let mut b = br#"{"text": "#.to_vec();
    b.extend(std::iter::repeat_n(b'[', n));
    b.extend(std::iter::repeat_n(b']', n));
    b.push(b'}');
    b
}

fn random_content_type(rng: &mut StdRng) -> &'static str {
    [
        "",
        "text/html",
        "application/json; charset=latin1",
        "multipart/form-data",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded",
    ]
    .choose(rng)
    .copied()
    .unwrap_or("")
}

/// A POST to /ner with `body` under `content_type` (none when empty).
pub fn raw(close: bool, content_type: &str, body: Vec<u8>) -> Request {
    let ct = if content_type.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {content_type}\r\n")
    };
    let close = if close { "Connection: close\r\n" } else { "" };
    let mut bytes = format!(
        "POST /ner HTTP/1.1\r\nHost: fuzz\r\n{ct}{close}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend(body);
    Request {
        bytes,
        valid: None,
        truncated: false,
    }
}

fn chunked(rng: &mut StdRng) -> Request {
    let (body, texts, unit, single) = valid_body(rng);
    let body = body.to_string();
    let mut bytes = b"POST /ner HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.as_bytes().chunks(rng.random_range(1..64)) {
        bytes.extend(format!("{:x}\r\n", part.len()).as_bytes());
        bytes.extend(part);
        bytes.extend(b"\r\n");
    }
    bytes.extend(b"0\r\n\r\n");
    Request {
        bytes,
        valid: Some((texts, unit, single)),
        truncated: false,
    }
}

fn truncated(rng: &mut StdRng) -> Request {
    let (body, ..) = valid_body(rng);
    let body = body.to_string();
    let cut = rng.random_range(0..body.len().max(1));
    let mut bytes = format!(
        "POST /ner HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend(&body.as_bytes()[..cut]);
    Request {
        bytes,
        valid: None,
        truncated: true,
    }
}

fn plain_text(rng: &mut StdRng, close: bool) -> Request {
    let t = text(rng);
    let mut r = raw(close, "text/plain", t.clone().into_bytes());
    r.valid = Some((vec![t], "char".into(), true));
    r
}

fn other_route(rng: &mut StdRng) -> Request {
    let line = [
        "GET /ner",
        "PUT /ner",
        "DELETE /health",
        "GET /nope",
        "GET /info",
        "GET /metrics",
        "GET /health",
        "GET /ready",
        "OPTIONS /ner",
        "GET /../../etc/passwd",
    ]
    .choose(rng)
    .copied()
    .unwrap_or("GET /");
    let bytes = format!("{line} HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 0\r\n\r\n").into_bytes();
    Request {
        bytes,
        valid: None,
        truncated: false,
    }
}
