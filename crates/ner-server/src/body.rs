//! Reading request bodies before the handlers: oversized bodies are answered 413 in a way every
//! client reads, and slow bodies are cut off.
//!
//! Many clients (Python's `http.client`, and so `requests`) write the whole body before they
//! read the answer: a server that answers 413 and closes at once makes them fail with a broken
//! pipe instead. So an oversized body is read and discarded up to a bound ([`DRAIN_FACTOR`]
//! times the limit, and at least [`DRAIN_MIN`] bytes, within the body time limit) before the 413
//! goes out, as servers with lingering close do; a client that announced
//! `Expect: 100-continue` gets its answer without sending anything.

use crate::error::ApiError;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::time::Instant;

/// An oversized body is drained up to this many times the limit ...
pub const DRAIN_FACTOR: usize = 4;
/// ... or this many bytes, whichever is more.
pub const DRAIN_MIN: usize = 64 << 20;

/// Why a body was not read.
enum Refused {
    TooLarge,
    Slow,
    Broken(String),
}

/// The middleware: the request goes on with its body in memory, or gets 413, 408 or 400.
pub async fn read_body(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limit = st.config.max_body_bytes;
    let deadline = Instant::now() + st.config.body_timeout();
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let result = if declared.is_some_and(|n| n > limit as u64) {
        Err((Refused::TooLarge, Some(body)))
    } else {
        collect(body, limit, deadline).await
    };
    match result {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err((why, rest)) => {
            let expects_continue = parts
                .headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            if let (Refused::TooLarge, Some(rest), false) = (&why, rest, expects_continue) {
                drain(rest, (DRAIN_FACTOR * limit).max(DRAIN_MIN), deadline).await;
            }
            refuse(why, limit, st.config.body_timeout())
        }
    }
}

/// The whole body, if it is at most `limit` bytes and arrives before `deadline`; otherwise why
/// not, with what is left of the body when it can still be drained. A body that arrives in
/// one frame (most do) is passed on as that frame, without a copy.
async fn collect(
    mut body: Body,
    limit: usize,
    deadline: Instant,
) -> Result<Bytes, (Refused, Option<Body>)> {
    let mut whole = Whole::default();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err((Refused::Slow, None)),
            Ok(None) => return Ok(whole.bytes()),
            Ok(Some(Err(e))) => return Err((Refused::Broken(e.to_string()), None)),
            Ok(Some(Ok(f))) => f,
        };
        if let Ok(data) = frame.into_data() {
            if whole.len + data.len() > limit {
                return Err((Refused::TooLarge, Some(body)));
            }
            whole.push(data);
        }
    }
}

/// A body's frames so far: the first as it came, the rest copied after it.
#[derive(Default)]
struct Whole {
    first: Bytes,
    more: Option<BytesMut>,
    len: usize,
}

impl Whole {
    fn push(&mut self, data: Bytes) {
        self.len += data.len();
        match (&mut self.more, self.first.is_empty()) {
            (Some(more), _) => more.extend_from_slice(&data),
            (None, true) => self.first = data,
            (None, false) => {
                let mut more = BytesMut::with_capacity(self.len);
                more.extend_from_slice(&self.first);
                more.extend_from_slice(&data);
                self.more = Some(more);
            }
        }
    }

    fn bytes(self) -> Bytes {
        self.more.map_or(self.first, BytesMut::freeze)
    }
}

/// Reads and discards up to `bound` bytes of `body`, until `deadline` at the latest.
async fn drain(mut body: Body, bound: usize, deadline: Instant) {
    let mut seen = 0;
    while seen < bound {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => seen += f.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}

fn refuse(why: Refused, limit: usize, timeout: Duration) -> Response {
    let error = match why {
        Refused::TooLarge => ApiError::BodyTooLarge(limit),
        Refused::Slow => ApiError::BodyTimeout(timeout.as_secs().max(1)),
        Refused::Broken(e) => ApiError::MalformedBody(format!("the body could not be read: {e}")),
    };
    let mut resp = error.into_response();
    // What is left of the body is not read: this connection cannot carry another request.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_is_passed_on_as_it_came_and_several_are_joined_in_order() {
        let frame = Bytes::from_static(b"{\"text\": \"Paris\"}");
        let mut whole = Whole::default();
        whole.push(frame.clone());
        let one = whole.bytes();
        assert_eq!(one.as_ptr(), frame.as_ptr(), "a single frame is not copied");
        let parts = ["{\"te", "", "xt\": ", "\"Paris\"}"];
        let mut whole = Whole::default();
        for p in parts {
            whole.push(Bytes::from_static(p.as_bytes()));
        }
        assert_eq!(whole.len, parts.concat().len());
        assert_eq!(whole.bytes(), parts.concat().as_bytes());
    }
}
