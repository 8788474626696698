//! Reading an answer off the socket and checking it: never a 5xx, a JSON error body on every
//! 4xx, and on a 200 to a valid request, entity offsets that slice each text, in the
//! requested unit, to exactly the entity's text.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One HTTP/1.1 response (Content-Length or chunked body).
pub fn read(r: &mut impl Read) -> Result<Response> {
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).context("no status line")?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("bad status line")?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).context("bad chunk size")?;
            let mut part = vec![0; n + 2];
            r.read_exact(&mut part)?;
            body.extend_from_slice(&part[..n]);
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Response { status, body })
}

/// Checks `resp`; `valid` as in [`crate::request::Request`].
pub fn check(resp: &Response, valid: Option<&(Vec<String>, String, bool)>) -> Result<()> {
    if resp.status >= 500 {
        bail!(
            "status {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    if resp.status >= 400 {
        let v: Value = serde_json::from_slice(&resp.body).context("a 4xx without a JSON body")?;
        if !v["error"]["type"].is_string() || !v["error"]["message"].is_string() {
            bail!("a {} whose body is not an error: {v}", resp.status);
        }
        return Ok(());
    }
    let Some((texts, unit, single)) = valid else {
        return Ok(());
    };
    if resp.status != 200 {
        bail!("status {} to a valid request", resp.status);
    }
    let v: Value = serde_json::from_slice(&resp.body).context("a 200 without JSON")?;
    let results: Vec<&Value> = if *single {
        vec![&v]
    } else {
        v["results"]
            .as_array()
            .context("no results")?
            .iter()
            .collect()
    };
    if results.len() != texts.len() {
        bail!("{} results for {} texts", results.len(), texts.len());
    }
    for (text, r) in texts.iter().zip(results) {
        for e in r["entities"].as_array().context("no entities")? {
            let (start, end) = (
                e["start"].as_u64().unwrap_or(u64::MAX),
                e["end"].as_u64().unwrap_or(0),
            );
            let got = slice(text, unit, start as usize, end as usize);
            if got.as_deref() != e["text"].as_str() || start >= end {
                bail!("entity {e} does not slice {text:?} in {unit} units (slice: {got:?})");
            }
        }
    }
    Ok(())
}

/// `text[start..end]` counted in `unit` (char, byte or utf16), if those are boundaries.
fn slice(text: &str, unit: &str, start: usize, end: usize) -> Option<String> {
    match unit {
        "byte" => text.get(start..end).map(str::to_owned),
        "utf16" => {
            let units: Vec<u16> = text.encode_utf16().collect();
            String::from_utf16(units.get(start..end)?).ok()
        }
        _ => {
            let chars: Vec<char> = text.chars().collect();
            Some(chars.get(start..end)?.iter().collect())
        }
    }
}
