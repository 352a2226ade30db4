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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, Value};
use perpspread_core::engine::OpportunityEvent;
use perpspread_net::redact_url;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::fields::{self, FieldsError};
use crate::snapshot::SpreadSnapshot;

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

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Key and channel prefix (`perpspread`).
    pub prefix: String,
    /// Approximate length cap of the opportunities stream (`XADD … MAXLEN ~ N`).
    pub opportunities_maxlen: usize,
    /// Approximate length cap of each `spreads:<pair>` stream.
    pub spreads_maxlen: usize,
    /// Entries kept while Redis is unreachable; beyond this the oldest are dropped (and counted).
    pub buffer: usize,
    /// Capacity of the queue between callers and the writer task; a full queue drops (and counts).
    pub queue: usize,
    /// Entries per pipelined round trip.
    pub batch: usize,
    /// Also `PUBLISH` every entry's JSON line.
    pub pubsub: bool,
    /// Reconnect backoff: first delay and cap (each delay is jittered to 50–100 %).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Connect and response timeout.
    pub timeout: Duration,
    /// How long [`RedisPublisher::shutdown`] keeps trying to deliver what is buffered.
    pub shutdown_timeout: Duration,
}

impl RedisConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "perpspread".to_owned(),
            opportunities_maxlen: 100_000,
            spreads_maxlen: 10_000,
            buffer: 10_000,
            queue: 4_096,
            batch: 256,
            pubsub: true,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(3),
        }
    }

    /// `perpspread:opportunities`.
    pub fn opportunities_key(&self) -> String {
        format!("{}:opportunities", self.prefix)
    }

    /// `perpspread:spreads:<pair>`.
    pub fn spreads_key(&self, pair: &str) -> String {
        format!("{}:spreads:{pair}", self.prefix)
    }
}

/// Counters of a publisher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RedisStats {
    /// Entries written (`XADD` acknowledged).
    pub published: u64,
    /// Entries dropped: queue full, or buffer full while Redis was unreachable.
    pub dropped: u64,
    /// Successful reconnections after a lost or failed connection.
    pub reconnects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Entries accepted but not yet written.
    pub buffered: u64,
    /// Whether the writer is connected right now.
    pub connected: bool,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
    connect_failures: AtomicU64,
    /// Entries in the writer's buffer (the queue is added on read).
    buffered: AtomicU64,
    connected: AtomicBool,
}

/// One stream entry to write.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    maxlen: usize,
    fields: Vec<(String, String)>,
    json: String,
}

/// The non-blocking Redis writer; see the [module docs](self).
#[derive(Debug)]
pub struct RedisPublisher {
    tx: Option<mpsc::Sender<Entry>>,
    counters: Arc<Counters>,
    task: Option<tokio::task::JoinHandle<()>>,
    config: Arc<RedisConfig>,
}

impl RedisPublisher {
    /// Validates the URL and starts the writer task (must be called inside a Tokio runtime). It does not
    /// wait for Redis: an unreachable server only delays delivery.
    pub fn spawn(config: RedisConfig) -> Result<RedisPublisher, RedisSinkError> {
        let client = Client::open(config.url.as_str())
            .map_err(|source| RedisSinkError::Url { url: redact_url(&config.url).into_owned(), source })?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let config = Arc::new(config);
        let writer = Writer {
            client,
            config: config.clone(),
            counters: counters.clone(),
            rx,
            buffer: VecDeque::new(),
            conn: None,
            ever_connected: false,
            attempt: 0,
        };
        let task = tokio::spawn(writer.run());
        Ok(RedisPublisher { tx: Some(tx), counters, task: Some(task), config })
    }

    /// Checks once that the server answers `PING` (for a clear error at startup; later outages are handled
    /// by the publisher without stopping anything).
    pub async fn check_reachable(url: &str, timeout: Duration) -> Result<(), RedisSinkError> {
        let client =
            Client::open(url).map_err(|source| RedisSinkError::Url { url: redact_url(url).into_owned(), source })?;
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
        let ping = async {
            let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
            ::redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(timeout + Duration::from_millis(500), ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(RedisSinkError::Redis(error)),
            Err(_) => Err(RedisSinkError::Timeout(format!("no answer from {} within {timeout:?}", redact_url(url)))),
        }
    }

    /// Queues an opportunity event for `perpspread:opportunities`. Never blocks; returns false (and counts a
    /// drop) when the queue is full or the publisher is shut down.
    pub fn publish_event(&self, event: &OpportunityEvent) -> bool {
        let key = self.config.opportunities_key();
        self.publish(key, self.config.opportunities_maxlen, event)
    }

    /// Queues a spread snapshot for `perpspread:spreads:<pair>`. Never blocks.
    pub fn publish_snapshot(&self, snapshot: &SpreadSnapshot) -> bool {
        let key = self.config.spreads_key(&snapshot.pair);
        self.publish(key, self.config.spreads_maxlen, snapshot)
    }

    fn publish<T: Serialize>(&self, key: String, maxlen: usize, value: &T) -> bool {
        let encoded = match fields::encode(value) {
            Ok(encoded) => encoded,
            Err(error) => {
                tracing::warn!("redis: entry not encodable: {error}");
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        let entry = Entry { key, maxlen, fields: encoded.fields, json: encoded.json };
        let sent = self.tx.as_ref().is_some_and(|tx| tx.try_send(entry).is_ok());
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Current counters.
    pub fn stats(&self) -> RedisStats {
        let queued = self.tx.as_ref().map_or(0, |tx| tx.max_capacity() - tx.capacity()) as u64;
        RedisStats {
            published: self.counters.published.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            reconnects: self.counters.reconnects.load(Ordering::Relaxed),
            connect_failures: self.counters.connect_failures.load(Ordering::Relaxed),
            buffered: self.counters.buffered.load(Ordering::Relaxed) + queued,
            connected: self.counters.connected.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting entries, delivers what is buffered (for at most `shutdown_timeout`) and returns the
    /// final counters; whatever could not be delivered is counted as dropped.
    pub async fn shutdown(mut self) -> RedisStats {
        self.tx = None;
        if let Some(task) = self.task.take() {
            let limit = self.config.shutdown_timeout + self.config.timeout + Duration::from_secs(1);
            if tokio::time::timeout(limit, task).await.is_err() {
                tracing::warn!("redis: writer did not stop in time");
            }
        }
        self.stats()
    }
}

impl Drop for RedisPublisher {
    fn drop(&mut self) {
        // Dropping the sender lets the task flush and stop on its own.
        self.tx = None;
    }
}

/// The background writer.
struct Writer {
    client: Client,
    config: Arc<RedisConfig>,
    counters: Arc<Counters>,
    rx: mpsc::Receiver<Entry>,
    buffer: VecDeque<Entry>,
    conn: Option<MultiplexedConnection>,
    ever_connected: bool,
    attempt: u32,
}

impl Writer {
    async fn run(mut self) {
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            if closing.is_none() {
                self.drain_queue();
            }
            if let Some(deadline) = closing {
                if self.buffer.is_empty() || tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            if self.conn.is_none() && !self.connect().await {
                let delay = self.backoff();
                let until = tokio::time::Instant::now() + delay;
                let until = closing.map_or(until, |deadline| until.min(deadline));
                self.wait_draining(until, &mut closing).await;
                continue;
            }
            if self.buffer.is_empty() {
                match self.rx.recv().await {
                    Some(entry) => self.push(entry),
                    None => closing = Some(tokio::time::Instant::now() + self.config.shutdown_timeout),
                }
                continue;
            }
            self.write_batch().await;
        }
        let left = self.buffer.len() as u64;
        if left > 0 {
            tracing::warn!(left, "redis: undelivered entries dropped at shutdown");
            self.counters.dropped.fetch_add(left, Ordering::Relaxed);
            self.buffer.clear();
        }
        self.counters.buffered.store(0, Ordering::Relaxed);
        self.counters.connected.store(false, Ordering::Relaxed);
    }

    fn drain_queue(&mut self) {
        while let Ok(entry) = self.rx.try_recv() {
            self.push(entry);
        }
    }

    fn push(&mut self, entry: Entry) {
        if self.buffer.len() >= self.config.buffer.max(1) {
            self.buffer.pop_front();
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.buffer.push_back(entry);
        self.counters.buffered.store(self.buffer.len() as u64, Ordering::Relaxed);
    }

    /// Sleeps until `until` while still accepting entries into the bounded buffer.
    async fn wait_draining(&mut self, until: tokio::time::Instant, closing: &mut Option<tokio::time::Instant>) {
        loop {
            if closing.is_some() {
                tokio::time::sleep_until(until).await;
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                entry = self.rx.recv() => match entry {
                    Some(entry) => self.push(entry),
                    None => {
                        *closing = Some(tokio::time::Instant::now() + self.config.shutdown_timeout);
                        return;
                    }
                },
            }
        }
    }

    async fn connect(&mut self) -> bool {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(self.config.timeout));
        let attempt = tokio::time::timeout(
            self.config.timeout + Duration::from_millis(500),
            self.client.get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        match attempt {
            Ok(Ok(conn)) => {
                if self.ever_connected {
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(buffered = self.buffer.len(), "redis: reconnected");
                } else {
                    tracing::info!("redis: connected");
                }
                self.ever_connected = true;
                self.attempt = 0;
                self.conn = Some(conn);
                self.counters.connected.store(true, Ordering::Relaxed);
                true
            }
            Ok(Err(error)) => self.connect_failed(error.to_string()),
            Err(_) => self.connect_failed("connect timed out".to_owned()),
        }
    }

    fn connect_failed(&mut self, error: String) -> bool {
        self.counters.connect_failures.fetch_add(1, Ordering::Relaxed);
        self.counters.connected.store(false, Ordering::Relaxed);
        if self.attempt == 0 {
            tracing::warn!("redis: cannot connect ({error}); buffering up to {} entries", self.config.buffer);
        } else {
            tracing::debug!(attempt = self.attempt, "redis: connect failed: {error}");
        }
        self.attempt = self.attempt.saturating_add(1);
        false
    }

    /// Capped exponential backoff with jitter (50–100 % of the nominal delay): the shared one.
    fn backoff(&self) -> Duration {
        perpspread_net::backoff::Backoff { base: self.config.backoff_base, cap: self.config.backoff_cap }
            .delay(self.attempt)
    }

    async fn write_batch(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let count = self.buffer.len().min(self.config.batch.max(1));
        let mut pipe = ::redis::pipe();
        for entry in self.buffer.iter().take(count) {
            let cmd = pipe.cmd("XADD").arg(&entry.key).arg("MAXLEN").arg("~").arg(entry.maxlen).arg("*");
            for (key, value) in &entry.fields {
                cmd.arg(key).arg(value);
            }
            cmd.ignore();
            if self.config.pubsub {
                pipe.cmd("PUBLISH").arg(&entry.key).arg(&entry.json).ignore();
            }
        }
        let limit = self.config.timeout + Duration::from_millis(500);
        let result = tokio::time::timeout(limit, pipe.query_async::<()>(conn)).await;
        match result {
            Ok(Ok(())) => {
                self.buffer.drain(..count);
                self.counters.published.fetch_add(count as u64, Ordering::Relaxed);
                self.counters.buffered.store(self.buffer.len() as u64, Ordering::Relaxed);
            }
            Ok(Err(error)) if !is_connection_error(&error) => {
                // The server answered but refused (e.g. wrong type at the key): these entries will never
                // go through; drop them rather than retrying forever.
                tracing::error!("redis: write refused, {count} entries dropped: {error}");
                self.buffer.drain(..count);
                self.counters.dropped.fetch_add(count as u64, Ordering::Relaxed);
                self.counters.buffered.store(self.buffer.len() as u64, Ordering::Relaxed);
            }
            failure => {
                let reason = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => "write timed out".to_owned(),
                };
                tracing::warn!(buffered = self.buffer.len(), "redis: connection lost ({reason}); reconnecting");
                self.conn = None;
                self.counters.connected.store(false, Ordering::Relaxed);
            }
        }
    }
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

/// Where [`Tail`] starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailStart {
    /// Only entries added after the tail starts.
    New,
    /// Everything still in the stream.
    Beginning,
    /// Entries after this stream ID.
    After(String),
}

impl std::str::FromStr for TailStart {
    type Err = String;
    /// `new` (or `$`), `all` (or `0`), or a stream ID such as `1715608700000-0`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "new" | "$" => Ok(TailStart::New),
            "all" | "0" | "0-0" => Ok(TailStart::Beginning),
            // `<ms>` or `<ms>-<seq>`, each a 64-bit integer, as Redis accepts them.
            id if id.splitn(3, '-').count() <= 2
                && id
                    .split('-')
                    .all(|part| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok()) =>
            {
                Ok(TailStart::After(id.to_owned()))
            }
            other => Err(format!("invalid start {other:?}: use new, all or a stream ID like 1715608700000-0")),
        }
    }
}

/// One entry read by [`Tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailEntry {
    /// Stream key.
    pub key: String,
    /// Stream entry ID (`<ms>-<seq>`).
    pub id: String,
    /// The entry as a JSON line (same schema as `monitor --json`).
    pub json: String,
}

/// Reads streams with `XREAD BLOCK` and yields JSON lines: `perpspread tail --redis URL`. Entries of all
/// shards publishing into the same Redis arrive merged, in stream order.
#[derive(Debug)]
pub struct Tail {
    client: Client,
    conn: Option<MultiplexedConnection>,
    keys: Vec<String>,
    /// Last ID read per key (`None` until resolved for [`TailStart::New`]).
    ids: Vec<Option<String>>,
    /// `XREAD BLOCK` time.
    pub block: Duration,
    /// `XREAD COUNT`.
    pub count: usize,
}

impl Tail {
    /// A tail of `keys` (e.g. `perpspread:opportunities`).
    pub fn new(url: &str, keys: Vec<String>, start: TailStart) -> Result<Tail, RedisSinkError> {
        let client =
            Client::open(url).map_err(|source| RedisSinkError::Url { url: redact_url(url).into_owned(), source })?;
        let id = match start {
            TailStart::New => None,
            TailStart::Beginning => Some("0-0".to_owned()),
            TailStart::After(id) => Some(id),
        };
        let ids = vec![id; keys.len()];
        Ok(Tail { client, conn: None, keys, ids, block: Duration::from_secs(1), count: 512 })
    }

    /// A tail of `perpspread:opportunities`.
    pub fn opportunities(url: &str, start: TailStart) -> Result<Tail, RedisSinkError> {
        Tail::new(url, vec![RedisConfig::new(url).opportunities_key()], start)
    }

    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, RedisSinkError> {
        if self.conn.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(Some(self.block + Duration::from_secs(5)));
            let conn = self.client.get_multiplexed_async_connection_with_config(&config).await?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(|| RedisSinkError::Protocol("no connection".to_owned()))
    }

    /// Waits up to [`Tail::block`] for new entries; returns them (possibly none). After an error the next
    /// call reconnects and resumes after the last entry returned.
    pub async fn next_batch(&mut self) -> Result<Vec<TailEntry>, RedisSinkError> {
        let result = self.read().await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn read(&mut self) -> Result<Vec<TailEntry>, RedisSinkError> {
        // Resolve "new entries only" to the current last ID so that nothing between calls is missed.
        for index in 0..self.keys.len() {
            if self.ids[index].is_none() {
                let key = self.keys[index].clone();
                let conn = self.connection().await?;
                let reply: Value =
                    ::redis::cmd("XREVRANGE").arg(&key).arg("+").arg("-").arg("COUNT").arg(1).query_async(conn).await?;
                let last = parse_entries(&reply)?.into_iter().next().map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                self.ids[index] = Some(last);
            }
        }
        let (block, count) = (self.block.as_millis() as u64, self.count.max(1));
        let mut cmd = ::redis::cmd("XREAD");
        cmd.arg("COUNT").arg(count).arg("BLOCK").arg(block).arg("STREAMS");
        for key in &self.keys {
            cmd.arg(key);
        }
        for id in &self.ids {
            cmd.arg(id.as_deref().unwrap_or("$"));
        }
        let conn = self.connection().await?;
        let reply: Value = cmd.query_async(conn).await?;
        let mut out = Vec::new();
        for (key, entries) in parse_xread(&reply)? {
            let Some(index) = self.keys.iter().position(|k| *k == key) else {
                continue;
            };
            for (id, pairs) in entries {
                self.ids[index] = Some(id.clone());
                out.push(TailEntry { key: key.clone(), id, json: fields::to_json_line(&pairs) });
            }
        }
        Ok(out)
    }

    /// Reads until `on_entry` returns false, calling it for every entry; connection errors are logged and
    /// retried with backoff (resuming after the last entry seen), as are a server that is loading or failing
    /// over. A refusal (e.g. a start ID the stream rejects, or a key that is not a stream) would be refused
    /// again: it ends the tail with that error.
    pub async fn run(mut self, mut on_entry: impl FnMut(&TailEntry) -> bool) -> Result<(), RedisSinkError> {
        let mut failures = 0u32;
        loop {
            match self.next_batch().await {
                Ok(entries) => {
                    failures = 0;
                    for entry in &entries {
                        if !on_entry(entry) {
                            return Ok(());
                        }
                    }
                }
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        tracing::warn!("redis tail: {error}; retrying");
                    }
                    let delay = Duration::from_millis(100).saturating_mul(1 << failures.min(6));
                    tokio::time::sleep(delay.min(Duration::from_secs(5))).await;
                }
            }
        }
    }
}

type Fields = Vec<(String, String)>;

/// Entries of one stream: `(key, [(id, fields)])`.
type StreamEntries = (String, Vec<(String, Fields)>);

fn text(value: &Value) -> Result<String, RedisSinkError> {
    match value {
        Value::BulkString(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::VerbatimString { text, .. } => Ok(text.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(RedisSinkError::Protocol(format!("expected a string, got {other:?}"))),
    }
}

/// `[[id, [field, value, …]], …]` → entries.
fn parse_entries(value: &Value) -> Result<Vec<(String, Fields)>, RedisSinkError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Nil => return Ok(Vec::new()),
        other => return Err(RedisSinkError::Protocol(format!("expected stream entries, got {other:?}"))),
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err(RedisSinkError::Protocol(format!("expected an entry, got {item:?}")));
        };
        let [id, fields] = parts.as_slice() else {
            return Err(RedisSinkError::Protocol(format!("expected [id, fields], got {parts:?}")));
        };
        let flat: Vec<String> = match fields {
            Value::Array(values) => values.iter().map(text).collect::<Result<_, _>>()?,
            Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [text(k), text(v)]).collect::<Result<_, _>>()?,
            Value::Nil => Vec::new(),
            other => return Err(RedisSinkError::Protocol(format!("expected fields, got {other:?}"))),
        };
        let pairs = flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
        entries.push((text(id)?, pairs));
    }
    Ok(entries)
}

/// `XREAD` reply → `(key, entries)` per stream (RESP2 array or RESP3 map; nil on timeout).
fn parse_xread(value: &Value) -> Result<Vec<StreamEntries>, RedisSinkError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(streams) => streams
            .iter()
            .map(|stream| match stream {
                Value::Array(parts) if parts.len() == 2 => Ok((text(&parts[0])?, parse_entries(&parts[1])?)),
                other => Err(RedisSinkError::Protocol(format!("expected [key, entries], got {other:?}"))),
            })
            .collect(),
        Value::Map(streams) => streams.iter().map(|(key, entries)| Ok((text(key)?, parse_entries(entries)?))).collect(),
        other => Err(RedisSinkError::Protocol(format!("unexpected XREAD reply {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_xread_replies() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("perpspread:opportunities"),
            Value::Array(vec![Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("event"), bulk("opened"), bulk("net_bp"), bulk("1.5")]),
            ])]),
        ])]);
        let streams = parse_xread(&reply).unwrap();
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].0, "perpspread:opportunities");
        let (id, fields) = &streams[0].1[0];
        assert_eq!(id, "1-0");
        assert_eq!(fields::to_json_line(fields), r#"{"event":"opened","net_bp":1.5}"#);
        assert!(parse_xread(&Value::Nil).unwrap().is_empty());
        assert!(parse_xread(&Value::Int(3)).is_err());
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let (_tx, rx) = mpsc::channel(1);
        let config = Arc::new(RedisConfig::new("redis://127.0.0.1:1"));
        let mut writer = Writer {
            client: Client::open("redis://127.0.0.1:1").unwrap(),
            config,
            counters: Arc::default(),
            rx,
            buffer: VecDeque::new(),
            conn: None,
            ever_connected: false,
            attempt: 1,
        };
        let first = writer.backoff();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
        writer.attempt = 40;
        let capped = writer.backoff();
        assert!(capped >= Duration::from_millis(2500) && capped <= Duration::from_secs(5), "{capped:?}");
    }

    #[test]
    fn parses_tail_starts() {
        assert_eq!("new".parse::<TailStart>(), Ok(TailStart::New));
        assert_eq!("all".parse::<TailStart>(), Ok(TailStart::Beginning));
        assert_eq!("17-3".parse::<TailStart>(), Ok(TailStart::After("17-3".into())));
        assert!("17-".parse::<TailStart>().is_err());
        assert!("1-2-3".parse::<TailStart>().is_err());
        assert!("99999999999999999999-0".parse::<TailStart>().is_err(), "beyond 64 bits: Redis refuses it");
        assert!("soon".parse::<TailStart>().is_err());
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(Tail::opportunities("not a url", TailStart::New), Err(RedisSinkError::Url { .. })));
    }
}
