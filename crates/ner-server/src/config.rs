//! Every setting of the service, declared once: each field of [`ServerConfig`] carries its
//! flag, its environment variable, its default and its help, and the same struct is shown by
//! `GET /info` and described in the OpenAPI document. Secrets are never shown.

use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// Limits and behaviour of the service.
#[derive(Debug, Clone, clap::Args, Serialize, ToSchema)]
pub struct ServerConfig {
    /// Largest request body in bytes (413 beyond).
    #[arg(long, env = "NER_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Longest text in characters (413 beyond).
    #[arg(long, env = "NER_MAX_TEXT_CHARS", default_value_t = defaults::MAX_TEXT_CHARS)]
    pub max_text_chars: usize,
    /// Most texts per batch request.
    #[arg(long, env = "NER_MAX_TEXTS", default_value_t = defaults::MAX_TEXTS)]
    pub max_texts: usize,
    /// Per-request time limit in milliseconds (503 beyond).
    #[arg(long, env = "NER_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// A request body must arrive within this many milliseconds (408 beyond): a client that
    /// trickles its body is cut off.
    #[arg(long, env = "NER_BODY_TIMEOUT_MS", default_value_t = defaults::BODY_TIMEOUT_MS)]
    pub body_timeout_ms: u64,
    /// Request headers must arrive within this many milliseconds; a keep-alive connection
    /// idle this long is closed.
    #[arg(long, env = "NER_HEADER_TIMEOUT_MS", default_value_t = defaults::HEADER_TIMEOUT_MS)]
    pub header_timeout_ms: u64,
    /// Open connections at most; more wait in the listen backlog (raise `ulimit -n` above it).
    #[arg(long, env = "NER_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Requests tagged at once; more are refused with 429.
    #[arg(long, env = "NER_CONCURRENCY_LIMIT", default_value_t = defaults::CONCURRENCY_LIMIT)]
    pub concurrency_limit: usize,
    /// Long texts are cut into pieces of at most this many tokens. Not a flag of its own:
    /// `ner serve` sets it from the inference settings it shares with the other commands.
    #[arg(skip = defaults::MAX_SENTENCE_TOKENS)]
    pub max_sentence_tokens: usize,
    #[command(flatten)]
    #[serde(flatten)]
    pub batch: BatchConfig,
    /// Require `Authorization: Bearer <key>` on /ner.
    #[arg(long, env = "NER_API_KEY", hide_env_values = true)]
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Turn on `POST /admin/models/NAME` (hot reload), which then requires
    /// `Authorization: Bearer <key>`. SIGHUP reloads every model whatever this is.
    #[arg(long, env = "NER_ADMIN_KEY", hide_env_values = true)]
    #[serde(skip)]
    pub admin_key: Option<String>,
    /// Allowed CORS origins (repeat, or comma-separated; `*` for any); none: no CORS headers.
    #[arg(
        long = "cors-allow-origin",
        env = "NER_CORS_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}

/// Every default, declared once: the flags and [`ServerConfig::default`] take them from here.
/// How requests are queued and gathered into batches.
#[derive(Debug, Clone, Copy, clap::Args, serde::Serialize, utoipa::ToSchema)]
pub struct BatchConfig {
    /// Requests waiting for the model besides the batch it runs and the one being gathered;
    /// more are refused with 429 (when this is below --concurrency-limit, which refuses first).
    #[arg(long, env = "NER_QUEUE_SIZE", default_value_t = defaults::QUEUE_SIZE)]
    pub queue_size: usize,
    /// A model batch is closed at this many tokens...
    #[arg(long, env = "NER_MAX_BATCH_TOKENS", default_value_t = defaults::MAX_BATCH_TOKENS)]
    pub max_batch_tokens: usize,
    /// ...or after waiting this many microseconds for more requests.
    #[arg(long, env = "NER_MAX_BATCH_WAIT_US", default_value_t = defaults::MAX_BATCH_WAIT_US)]
    pub max_batch_wait_us: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            queue_size: defaults::QUEUE_SIZE,
            max_batch_tokens: defaults::MAX_BATCH_TOKENS,
            max_batch_wait_us: defaults::MAX_BATCH_WAIT_US,
        }
    }
}

impl BatchConfig {
    pub fn max_batch_wait(&self) -> Duration {
        Duration::from_micros(self.max_batch_wait_us)
    }
}

pub mod defaults {
    pub const MAX_BODY_BYTES: usize = 2 << 20;
    pub const MAX_TEXT_CHARS: usize = 200_000;
    pub const MAX_TEXTS: usize = 256;
    pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
    pub const BODY_TIMEOUT_MS: u64 = 30_000;
    pub const HEADER_TIMEOUT_MS: u64 = 30_000;
    pub const MAX_CONNECTIONS: usize = 4096;
    pub const CONCURRENCY_LIMIT: usize = 512;
    pub const MAX_SENTENCE_TOKENS: usize = ner_core::document::DEFAULT_MAX_SENTENCE_TOKENS;
    pub const QUEUE_SIZE: usize = 1024;
    pub const MAX_BATCH_TOKENS: usize = 4096;
    pub const MAX_BATCH_WAIT_US: u64 = 1000;
    pub const SHUTDOWN_GRACE_S: u64 = 20;
}

impl Default for ServerConfig {
    fn default() -> Self {
        use defaults::*;
        ServerConfig {
            max_body_bytes: MAX_BODY_BYTES,
            max_text_chars: MAX_TEXT_CHARS,
            max_texts: MAX_TEXTS,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            body_timeout_ms: BODY_TIMEOUT_MS,
            header_timeout_ms: HEADER_TIMEOUT_MS,
            max_connections: MAX_CONNECTIONS,
            concurrency_limit: CONCURRENCY_LIMIT,
            max_sentence_tokens: MAX_SENTENCE_TOKENS,
            batch: BatchConfig::default(),
            api_key: None,
            admin_key: None,
            cors_origins: Vec::new(),
        }
    }
}

impl ServerConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// The key `/ner` requires, if any (an empty one is none).
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref().filter(|k| !k.is_empty())
    }

    /// The key the admin API requires; none: the admin API is off.
    pub fn admin_key(&self) -> Option<&str> {
        self.admin_key.as_deref().filter(|k| !k.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: ServerConfig,
    }

    #[test]
    fn the_flags_defaults_are_the_configs() {
        let parsed = Cli::try_parse_from(["ner"]).unwrap().config;
        let shown = |c: &ServerConfig| serde_json::to_value(c).unwrap();
        assert_eq!(shown(&parsed), shown(&ServerConfig::default()));
        assert_eq!(shown(&parsed)["request_timeout_ms"], 30_000);
        assert!(shown(&parsed).get("api_key").is_none());
        let set = Cli::try_parse_from([
            "ner",
            "--request-timeout-ms",
            "250",
            "--max-batch-wait-us",
            "7",
        ]);
        let set = set.unwrap().config;
        assert_eq!(set.request_timeout(), Duration::from_millis(250));
        assert_eq!(set.batch.max_batch_wait(), Duration::from_micros(7));
    }

    /// The status each limit's refusal is sent with, from the error table.
    fn refusal(flag: &str) -> Option<u16> {
        use crate::error::ApiError;
        let error = match flag {
            "max_body_bytes" => ApiError::BodyTooLarge(0),
            "max_text_chars" => ApiError::TextTooLong {
                index: 0,
                chars: 0,
                limit: 0,
            },
            "request_timeout_ms" => ApiError::Timeout,
            "body_timeout_ms" => ApiError::BodyTimeout(0),
            "concurrency_limit" | "queue_size" => ApiError::Overloaded(1),
            _ => return None,
        };
        Some(error.status_and_type().0.as_u16())
    }

    #[test]
    fn help_texts_name_the_codes_the_server_sends() {
        use clap::CommandFactory;
        let command = Cli::command();
        let mut named = 0;
        for arg in command.get_arguments() {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let codes: Vec<u16> = help
                .split(|c: char| !c.is_ascii_digit())
                .filter(|w| w.len() == 3)
                .filter_map(|w| w.parse().ok())
                .filter(|c| (400..600).contains(c))
                .collect();
            let id = arg.get_id().as_str();
            for code in &codes {
                assert_eq!(Some(*code), refusal(id), "--{id}: {help}");
                named += 1;
            }
            if let Some(code) = refusal(id) {
                assert!(
                    codes.contains(&code),
                    "--{id} does not say it answers {code}: {help}"
                );
            }
        }
        assert_eq!(named, 6);
    }
}
