//! The publisher: a background task writing opportunity events and spread snapshots to Redis Streams and
//! pub/sub, in pipelined batches, never blocking its caller.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client};
use perpspread_core::engine::OpportunityEvent;
use perpspread_net::redact_url;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{is_connection_error, RedisSinkError};
use crate::fields;
use crate::snapshot::SpreadSnapshot;

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
    pub(crate) fn opportunities_key(&self) -> String {
        format!("{}:opportunities", self.prefix)
    }

    /// `perpspread:spreads:<pair>`.
    pub(crate) fn spreads_key(&self, pair: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
