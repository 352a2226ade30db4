//! Redis output: opportunity events and spread snapshots as Redis Streams entries and pub/sub messages,
//! and [`Tail`] to read them back as JSON lines.
//!
//! * `XADD perpspread:opportunities MAXLEN ~ N * <fields>` for every [`OpportunityEvent`];
//! * `XADD perpspread:spreads:<pair> MAXLEN ~ N * <fields>` for every sampled [`SpreadSnapshot`];
//! * `PUBLISH` of the JSON line on a channel of the same name, for fire-and-forget subscribers.
//!
//! Stream fields are the JSON line's keys with string values (see [`crate::fields`]), so
//! `redis-cli XREAD BLOCK 0 STREAMS perpspread:opportunities $` shows the same names as `monitor --json`.
//!
//! [`RedisPublisher`] never blocks its caller: [`RedisPublisher::publish_event`] encodes the entry and
//! `try_send`s it to a background task. The task writes in pipelined batches; when Redis is unreachable
//! it keeps at most [`RedisConfig::buffer`] entries (dropping the oldest, counted in
//! [`RedisStats::dropped`]), reconnects with capped exponential backoff and jitter, and delivers what it
//! kept once Redis is back. Delivery is at least once: a batch interrupted by a disconnect is re-sent.
//!
//! [`publish`] holds the writer, [`tail`] the reader.

mod publish;
mod tail;

pub use publish::{RedisConfig, RedisPublisher, RedisStats};
pub use tail::{Tail, TailEntry, TailStart};

use crate::fields::FieldsError;

/// Errors of the Redis output.
#[derive(Debug, thiserror::Error)]
pub enum RedisSinkError {
    #[error("invalid Redis URL {url:?}: {source}")]
    Url { url: String, source: ::redis::RedisError },
    #[error("redis: {}", describe(.0))]
    Redis(#[from] ::redis::RedisError),
    #[error("redis: {0}")]
    Timeout(String),
    #[error("unexpected Redis reply: {0}")]
    Protocol(String),
    #[error(transparent)]
    Fields(#[from] FieldsError),
}

impl RedisSinkError {
    /// Whether trying again may succeed (Redis unreachable, restarting, loading or failing over), as the
    /// client classifies it, rather than a refusal that would come again (a wrong type at the key, a start
    /// ID the stream cannot take).
    pub fn is_retryable(&self) -> bool {
        match self {
            RedisSinkError::Redis(error) => !matches!(error.retry_method(), ::redis::RetryMethod::NoRetry),
            RedisSinkError::Timeout(_) => true,
            _ => false,
        }
    }

    /// Whether Redis could not be reached at all (nothing answered), as opposed to answering with an error.
    pub fn is_unreachable(&self) -> bool {
        match self {
            RedisSinkError::Redis(error) => nothing_answered(error),
            RedisSinkError::Timeout(_) => true,
            _ => false,
        }
    }
}

/// A Redis error in words: its category and the server's or library's detail (no debug names).
fn describe(error: &::redis::RedisError) -> String {
    // Errors the client does not classify are named by their server code (`WRONGTYPE`).
    let category = match (error.category(), error.code()) {
        ("extension error", Some(code)) => code,
        (category, _) => category,
    };
    match error.detail() {
        _ if error.is_io_error() => error.to_string(),
        Some(detail) => format!("{category}: {detail}"),
        None => category.to_owned(),
    }
}

/// The connection failed, was refused, dropped or timed out: no answer came.
fn nothing_answered(error: &::redis::RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout()
}

/// The publisher's connection must be rebuilt (no answer, or a state the client cannot recover from).
fn is_connection_error(error: &::redis::RedisError) -> bool {
    nothing_answered(error) || error.is_unrecoverable_error()
}
