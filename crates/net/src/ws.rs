//! A resilient WebSocket connection, shared by every venue.
//!
//! [`run_connection`] connects, subscribes, forwards every text frame with its receive time, sends the
//! venue's heartbeat when the line is quiet, detects silent stalls, reconnects with capped exponential
//! backoff and jitter, resubscribes everything after a reconnect, and reconnects before the venue's
//! connection lifetime runs out. Venue specifics (URLs, subscribe messages, heartbeats, limits) come from
//! a [`WsVenue`] implemented in each venue crate.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use perpspread_core::feed::RecvTime;
use perpspread_core::health::StreamKind;
use perpspread_core::Venue;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::Backoff;
use crate::limiter::RateLimiter;

pub use tokio_tungstenite::tungstenite::Utf8Bytes;

/// What a venue's WebSocket protocol looks like, on one endpoint (route). A venue whose streams are split
/// over several endpoints (Binance's `/public` and `/market`) provides one `WsVenue` per route, and each gets
/// its own connections.
pub trait WsVenue: Send + Sync + 'static {
    /// The venue.
    fn venue(&self) -> Venue;
    /// URL to connect to.
    fn url(&self) -> String;
    /// The route served, for logs and metrics (`public`, `market`).
    fn route(&self) -> &'static str {
        "public"
    }
    /// Kinds of data a connection delivers once subscribed (each is watched for silence).
    fn stream_kinds(&self) -> Vec<StreamKind>;
    /// The longest a healthy stream of `kind` may stay quiet on this venue (its own push cadence): silence is
    /// reported only after the longer of this and the configured timeout.
    fn normal_quiet(&self, _kind: StreamKind) -> Duration {
        Duration::ZERO
    }
    /// Whether books are streamed on these connections (a book's resubscription goes there).
    fn carries_books(&self) -> bool {
        true
    }
    /// Instruments per connection, within the venue's limits.
    fn symbols_per_connection(&self) -> usize;
    /// Text frames that subscribe `symbols` (batched within the venue's limits).
    fn subscribe(&self, symbols: &[String]) -> Vec<String>;
    /// Text frames that unsubscribe `symbols`.
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String>;
    /// How a connection is kept alive and when it is given up.
    fn keepalive(&self) -> Keepalive;
    /// Outgoing messages allowed per second on one connection.
    fn outgoing_per_second(&self) -> u32;
    /// Connection attempts allowed, shared by every connection to the venue (venues count them per IP).
    fn connect_limiter(&self) -> Option<&RateLimiter> {
        None
    }
    /// Subscribe/unsubscribe requests allowed on one connection per window (OKX: 480 an hour). A connection
    /// that would exceed it reconnects instead, which starts a fresh budget.
    fn request_budget(&self) -> Option<RequestBudget> {
        None
    }
}

/// How a connection is kept alive and when it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Text heartbeat to send when nothing was received for `heartbeat_after` (OKX `ping`, Bybit's JSON
    /// ping); `None` when the server pings instead (Binance), which tungstenite answers automatically.
    pub heartbeat: Option<&'static str>,
    /// Quiet time before a heartbeat is sent.
    pub heartbeat_after: Duration,
    /// Silence after which the connection is considered stalled and replaced.
    pub stall_timeout: Duration,
    /// Reconnect proactively after this long (Binance closes connections after 24 h); `None`: never.
    pub max_lifetime: Option<Duration>,
}

/// A limit on subscribe/unsubscribe requests per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget {
    pub requests: u32,
    pub window: Duration,
}

/// Requests sent on one connection within the budget's window.
#[derive(Debug)]
struct RequestCount {
    budget: Option<RequestBudget>,
    sent: std::collections::VecDeque<Instant>,
}

impl RequestCount {
    fn new(budget: Option<RequestBudget>) -> Self {
        RequestCount { budget, sent: Default::default() }
    }

    /// Whether `more` requests fit in the window now.
    fn allows(&mut self, more: usize) -> bool {
        let Some(budget) = self.budget else { return true };
        let now = Instant::now();
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= budget.window) {
            self.sent.pop_front();
        }
        self.sent.len() + more <= budget.requests as usize
    }

    fn count(&mut self, requests: usize) {
        if self.budget.is_some() {
            let now = Instant::now();
            self.sent.extend(std::iter::repeat_n(now, requests));
        }
    }
}

/// Instructions to a running connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCommand {
    /// Unsubscribe then subscribe these symbols again (yields fresh snapshots on OKX).
    Resubscribe(Vec<String>),
    /// Drop the socket and reconnect (used by fault handling and tests).
    Reconnect,
    /// Close and stop.
    Shutdown,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// Could not connect.
    ConnectFailed(String),
    /// The server closed the connection (with or without a close frame) or the transport failed.
    Closed(String),
    /// Nothing was received for longer than the stall timeout.
    Stalled,
    /// Reconnecting before the venue's lifetime limit.
    Lifetime,
    /// Asked to reconnect.
    Requested,
    /// A resubscription would have exceeded the connection's request budget: a fresh connection instead.
    RequestBudget,
    /// The venue sent a message larger than [`MAX_MESSAGE_BYTES`]: a fault of this connection.
    Oversized(String),
}

/// Largest WebSocket message (and frame) accepted: a 400-level OKX snapshot is about 40 KB and a Binance
/// combined-stream event a few KB, so a few MiB leave room without letting a faulty peer fill memory (the
/// library's default is 64 MiB).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4 << 20;

impl Disconnect {
    /// Short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Disconnect::ConnectFailed(_) => "connect_failed",
            Disconnect::Closed(_) => "closed",
            Disconnect::Stalled => "stalled",
            Disconnect::Lifetime => "lifetime",
            Disconnect::Requested => "requested",
            Disconnect::RequestBudget => "request_budget",
            Disconnect::Oversized(_) => "oversized",
        }
    }
}

/// What a connection reports.
#[derive(Debug, Clone)]
pub enum WsEvent {
    /// Connected and subscribed.
    Connected { connection: u32 },
    /// A text frame.
    Frame { connection: u32, data: Utf8Bytes, recv: RecvTime },
    /// The connection was lost; books fed by it can no longer be trusted.
    Disconnected { connection: u32, reason: Disconnect },
}

/// The current receive time on both clocks.
pub fn now() -> RecvTime {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    RecvTime { wall_ns: crate::rest::unix_ns(), mono_ns: origin.elapsed().as_nanos() as u64 }
}

/// Runs one connection for `symbols` until [`WsCommand::Shutdown`] or until `events` is closed.
pub async fn run_connection(
    venue: std::sync::Arc<dyn WsVenue>,
    connection: u32,
    symbols: Vec<String>,
    events: mpsc::Sender<WsEvent>,
    mut commands: mpsc::Receiver<WsCommand>,
    backoff: Backoff,
) {
    let mut failures = 0u32;
    loop {
        let outcome = session(&*venue, connection, &symbols, &events, &mut commands).await;
        let reason = match outcome {
            Outcome::Stop => return,
            Outcome::Lost(reason) => reason,
        };
        failures = match reason {
            Disconnect::ConnectFailed(_) | Disconnect::Closed(_) | Disconnect::Stalled | Disconnect::Oversized(_) => {
                failures + 1
            }
            Disconnect::Lifetime | Disconnect::Requested | Disconnect::RequestBudget => 0,
        };
        tracing::warn!(venue = %venue.venue(), connection, reason = ?reason, "websocket disconnected");
        if events.send(WsEvent::Disconnected { connection, reason }).await.is_err() {
            return;
        }
        if failures > 0 {
            let delay = backoff.delay(failures);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                command = commands.recv() => if matches!(command, None | Some(WsCommand::Shutdown)) { return },
            }
        }
    }
}

enum Outcome {
    Stop,
    Lost(Disconnect),
}

async fn session(
    venue: &dyn WsVenue,
    connection: u32,
    symbols: &[String],
    events: &mpsc::Sender<WsEvent>,
    commands: &mut mpsc::Receiver<WsCommand>,
) -> Outcome {
    let url = venue.url();
    if let Some(limiter) = venue.connect_limiter() {
        limiter.acquire(1).await;
    }
    let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connect = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(limits), false),
    );
    let mut socket = match connect.await {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(error)) => return Outcome::Lost(Disconnect::ConnectFailed(error.to_string())),
        Err(_) => {
            return Outcome::Lost(Disconnect::ConnectFailed(format!(
                "timed out connecting to {}",
                crate::redact_url(&url)
            )))
        }
    };
    let pacing = RateLimiter::new(venue.outgoing_per_second().max(1), Duration::from_secs(1));
    let mut requests = RequestCount::new(venue.request_budget());
    let subscribe = venue.subscribe(symbols);
    requests.count(subscribe.len());
    for text in subscribe {
        pacing.acquire(1).await;
        if let Err(error) = socket.send(Message::text(text)).await {
            return Outcome::Lost(Disconnect::Closed(error.to_string()));
        }
    }
    if events.send(WsEvent::Connected { connection }).await.is_err() {
        return Outcome::Stop;
    }
    // Requests wait here for their turn within the venue's message rate, while frames keep being read: a
    // storm of resubscriptions must not stop the connection's data (and make every book on it stale).
    let mut outbox: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let started = Instant::now();
    let mut last_rx = Instant::now();
    let mut last_heartbeat = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let send_in = if outbox.is_empty() { Duration::from_secs(3600) } else { pacing.wait_time(1) };
        tokio::select! {
            _ = tokio::time::sleep(send_in), if !outbox.is_empty() => {
                if pacing.try_acquire(1).is_none() {
                    let text = outbox.pop_front().expect("outbox is not empty");
                    if let Err(error) = socket.send(Message::text(text)).await {
                        return Outcome::Lost(Disconnect::Closed(error.to_string()));
                    }
                }
            }
            message = socket.next() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(error))) => {
                        tracing::error!(venue = %venue.venue(), connection, url = %crate::redact_url(&url), "refused a message from the venue: {error}");
                        return Outcome::Lost(Disconnect::Oversized(error.to_string()));
                    }
                    Some(Err(error)) => return Outcome::Lost(Disconnect::Closed(error.to_string())),
                    None => return Outcome::Lost(Disconnect::Closed("connection closed without a close frame".into())),
                };
                last_rx = Instant::now();
                match message {
                    Message::Text(data) => {
                        let event = WsEvent::Frame { connection, data, recv: now() };
                        if events.send(event).await.is_err() {
                            return Outcome::Stop;
                        }
                    }
                    Message::Close(frame) => {
                        let why = frame.map(|f| format!("close frame {} {}", u16::from(f.code), f.reason)).unwrap_or_else(|| "close frame".into());
                        return Outcome::Lost(Disconnect::Closed(why));
                    }
                    // Pings are answered by tungstenite; binary frames are not used by these venues.
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                None | Some(WsCommand::Shutdown) => {
                    let _ = socket.close(None).await;
                    return Outcome::Stop;
                }
                Some(WsCommand::Reconnect) => return Outcome::Lost(Disconnect::Requested),
                Some(WsCommand::Resubscribe(list)) => {
                    // A resubscription whose frames all wait in the outbox already is not queued (or counted)
                    // twice; otherwise all its frames go, in order (dropping some would break unsubscribe/
                    // subscribe pairs).
                    let frames: Vec<String> =
                        venue.unsubscribe(&list).into_iter().chain(venue.subscribe(&list)).collect();
                    if frames.iter().all(|frame| outbox.contains(frame)) {
                        continue;
                    }
                    if !requests.allows(frames.len()) {
                        tracing::warn!(venue = %venue.venue(), connection, "subscription request budget spent: reconnecting to resubscribe");
                        let _ = socket.close(None).await;
                        return Outcome::Lost(Disconnect::RequestBudget);
                    }
                    requests.count(frames.len());
                    outbox.extend(frames);
                }
            },
            _ = ticks.tick() => {
                let quiet = last_rx.elapsed();
                let keepalive = venue.keepalive();
                if quiet >= keepalive.stall_timeout {
                    return Outcome::Lost(Disconnect::Stalled);
                }
                if keepalive.max_lifetime.is_some_and(|max| started.elapsed() >= max) {
                    let _ = socket.close(None).await;
                    return Outcome::Lost(Disconnect::Lifetime);
                }
                if let Some(heartbeat) = keepalive.heartbeat {
                    if quiet >= keepalive.heartbeat_after && last_heartbeat.elapsed() >= keepalive.heartbeat_after {
                        last_heartbeat = Instant::now();
                        if let Err(error) = socket.send(Message::text(heartbeat)).await {
                            return Outcome::Lost(Disconnect::Closed(error.to_string()));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_budget_counts_within_its_window() {
        let budget = RequestBudget { requests: 5, window: Duration::from_millis(200) };
        let mut count = RequestCount::new(Some(budget));
        count.count(1); // the subscription of a new connection
        assert!(count.allows(4));
        count.count(4);
        assert!(!count.allows(1), "five of five spent");
        std::thread::sleep(Duration::from_millis(220));
        assert!(count.allows(5), "the window moved on");
        let mut unlimited = RequestCount::new(None);
        unlimited.count(10_000);
        assert!(unlimited.allows(usize::MAX / 2));
    }
}
