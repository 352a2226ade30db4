//! Prometheus metrics and readiness over HTTP.
//!
//! [`Metrics`] records through the `metrics` facade into a `metrics-exporter-prometheus` recorder; every
//! label set is registered once (per venue, channel, reason, instrument) and kept as a handle, so the
//! per-message entry points ([`Metrics::on_frame`], [`Metrics::on_feed_events`],
//! [`Metrics::observe_signal_latency`], [`Metrics::on_opportunity`]) are atomic updates without
//! allocation. The periodic entry points ([`Metrics::observe_feed`], [`Metrics::observe_engine`],
//! [`Metrics::observe_connections`]) copy cumulative counters and book states about once a second.
//!
//! [`Metrics::serve`] runs a small HTTP server (axum) with
//! * `GET /metrics` — Prometheus text format (the exporter's rendering plus the top-N best-net section);
//! * `GET /healthz` — `200` when ready, `503` otherwise, with a JSON body naming the books that are not.
//!
//! # Series
//!
//! | name | type | labels |
//! |---|---|---|
//! | `perpspread_messages_total` | counter | venue, channel (`ws`/`rest`) |
//! | `perpspread_bytes_total` | counter | venue, channel |
//! | `perpspread_parse_errors_total` | counter | venue, kind (`malformed`/`unknown`/`venue_error`) |
//! | `perpspread_book_state` | gauge | venue, symbol — 0 syncing, 1 live, 2 stale, 3 resyncing |
//! | `perpspread_books` | gauge | venue, state |
//! | `perpspread_sequence_gaps_total` | counter | venue |
//! | `perpspread_checksums_total` | counter | venue, result (`verified`/`failed`/`absent`: a checksum of 0, as OKX sends since 2026-06-23, so the book rests on its sequence chain) |
//! | `perpspread_resyncs_total` | counter | venue |
//! | `perpspread_resync_requests_total` | counter | venue, reason |
//! | `perpspread_resync_duration_seconds` | histogram | venue |
//! | `perpspread_connects_total` | counter | |
//! | `perpspread_reconnects_total` | counter | cause |
//! | `perpspread_evaluations_total` | counter | |
//! | `perpspread_suppressions_total` | counter | reason |
//! | `perpspread_exchange_latency_ms` | histogram | venue — exchange event time → local receive |
//! | `perpspread_signal_latency_ms` | histogram | venue — local receive → engine evaluated |
//! | `perpspread_clock_offset_ms` | gauge | venue |
//! | `perpspread_opportunities_opened_total` | counter | direction |
//! | `perpspread_opportunities_closed_total` | counter | direction, reason |
//! | `perpspread_opportunities_open` | gauge | |
//! | `perpspread_opportunity_duration_seconds` | histogram | |
//! | `perpspread_opportunity_peak_net_bp` | histogram | |
//! | `perpspread_best_net_bp` | gauge | pair, direction — only the current top N pairs |
//! | `perpspread_recording_failed` | gauge | 1 once `monitor --record` could not write its capture (disk full) |
//! | `perpspread_funding_rate_per_hour_bp` | gauge | venue, pair — each leg's current rate per hour, bp |
//! | `perpspread_funding_apr_diff_pct` | gauge | pair, direction — short leg's minus long leg's APR, % |
//! | `perpspread_stream_silent` | gauge | venue, stream (`book`/`funding`) — 1 while a subscribed stream delivers nothing |
//! | `perpspread_redis_*` | counter/gauge | see [`Metrics::observe_redis`] |
//!
//! The clock offset estimate is the minimum exchange→receive latency seen over the last 10 s window: the
//! one-way network delay plus the exchange clock's lead over the local clock. A negative value means the
//! local clock is behind the exchange's by at least that much.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use perpspread_core::engine::{CloseReason, Engine, EventKind, OpportunityEvent, Suppression};
use perpspread_core::feed::{receive_delay_ms, BookState, Feed, FeedEvent, FrameError, RecvTime, ResyncReason, Source};
use perpspread_core::health::{SilentStream, StreamHealth, StreamKind};
use perpspread_core::{Direction, Venue, VenueMap};
use serde::Serialize;

use crate::redis::RedisStats;

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("invalid metrics address {0:?}: expected PORT, :PORT, HOST:PORT or [IPv6]:PORT")]
    Address(String),
    #[error("cannot listen on {addr} for metrics: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("a global metrics recorder is already installed")]
    AlreadyInstalled,
    #[error("metrics exporter: {0}")]
    Exporter(String),
}

/// Parses `--metrics-addr`: `9898` and `:9898` bind to loopback (127.0.0.1); `HOST:PORT` binds where told.
pub fn parse_metrics_addr(text: &str) -> Result<SocketAddr, MetricsError> {
    let text = text.trim();
    let port = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("localhost:").and_then(|p| p.parse::<u16>().ok()) {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.parse::<SocketAddr>().map_err(|_| MetricsError::Address(text.to_owned()))
}

/// Readiness rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// A book may be `Syncing` or `Resyncing` for this long before the process is reported not ready (a
    /// `Stale` book, one that a quiet market left without updates, never makes it not ready).
    pub resync_grace: Duration,
    /// Not ready when the books have not been observed for this long (the market-data loop is stuck or
    /// nothing arrives at all).
    pub max_observation_age: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { resync_grace: Duration::from_secs(30), max_observation_age: Duration::from_secs(15) }
    }
}

/// Metrics settings.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Number of pairs exported in `perpspread_best_net_bp` (bounded cardinality).
    pub top_n: usize,
    /// Readiness rule of `/healthz`.
    pub health: HealthConfig,
    /// Also install the recorder as the process-wide `metrics` recorder, so `metrics::counter!` anywhere
    /// in the process lands in the same `/metrics` (at most once per process).
    pub install_global: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { top_n: 10, health: HealthConfig::default(), install_global: false }
    }
}

/// Histogram buckets.
const LATENCY_BUCKETS_MS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0];
const SIGNAL_BUCKETS_MS: &[f64] = &[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0];
const RESYNC_BUCKETS_S: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
const DURATION_BUCKETS_S: &[f64] = &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
const PEAK_BUCKETS_BP: &[f64] = &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];

/// Window of the clock offset estimate.
const OFFSET_WINDOW: Duration = Duration::from_secs(10);

const CHANNELS: [&str; 2] = ["ws", "rest"];
const PARSE_ERRORS: [&str; 3] = ["malformed", "unknown", "venue_error"];
const RESYNC_REASONS: [ResyncReason; 7] = [
    ResyncReason::SequenceGap,
    ResyncReason::ChecksumMismatch,
    ResyncReason::Crossed,
    ResyncReason::BadUpdate,
    ResyncReason::SnapshotTooOld,
    ResyncReason::Disconnected,
    ResyncReason::SnapshotFailed,
];
const STATES: [BookState; 4] = [BookState::Syncing, BookState::Live, BookState::Stale, BookState::Resyncing];

fn resync_label(reason: ResyncReason) -> &'static str {
    match reason {
        ResyncReason::SequenceGap => "sequence_gap",
        ResyncReason::ChecksumMismatch => "checksum_mismatch",
        ResyncReason::Crossed => "crossed",
        ResyncReason::BadUpdate => "bad_update",
        ResyncReason::SnapshotTooOld => "snapshot_too_old",
        ResyncReason::Disconnected => "disconnected",
        ResyncReason::SnapshotFailed => "snapshot_failed",
    }
}

fn resync_index(reason: ResyncReason) -> usize {
    RESYNC_REASONS.iter().position(|r| *r == reason).unwrap_or(0)
}

/// Snake-case label of a book state.
pub fn state_label(state: BookState) -> &'static str {
    state.as_str()
}

/// Value of `perpspread_book_state`.
fn state_code(state: BookState) -> f64 {
    match state {
        BookState::Syncing => 0.0,
        BookState::Live => 1.0,
        BookState::Stale => 2.0,
        BookState::Resyncing => 3.0,
    }
}

fn state_index(state: BookState) -> usize {
    state_code(state) as usize
}

fn close_index(reason: Option<CloseReason>) -> usize {
    reason.unwrap_or(CloseReason::BelowThreshold).index()
}

/// Handles of one venue.
struct VenueMetrics {
    messages: [Counter; 2],
    bytes: [Counter; 2],
    parse_errors: [Counter; 3],
    sequence_gaps: Counter,
    checksums_verified: Counter,
    checksums_failed: Counter,
    checksums_absent: Counter,
    resyncs: Counter,
    resync_requests: [Counter; 7],
    snapshot_requests: Counter,
    subscriptions_refused: Counter,
    resync_duration: Histogram,
    exchange_latency: Histogram,
    signal_latency: Histogram,
    clock_offset: Gauge,
    books: [Gauge; 4],
    /// Minimum latency of the current offset window and when it started.
    offset_min_ms: f64,
    offset_window_start: Option<Instant>,
    slots: Vec<SlotMetrics>,
}

/// When books are observed, for telling `Live` from `Stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookAge {
    /// Now on the receive clock (`RecvTime::mono_ns`).
    pub now_mono_ns: u64,
    /// A `Live` book not updated for longer than this is `Stale` (the engine's `max_book_age_ns`).
    pub max_ns: u64,
}

/// Per-book state kept between calls.
#[derive(Default)]
struct SlotMetrics {
    /// `perpspread_book_state{venue,symbol}`, registered on first observation.
    gauge: Option<Gauge>,
    /// Whether the book has ever been live (resync durations only count books that broke after that).
    was_live: bool,
    /// When the book stopped being live.
    down_since: Option<Instant>,
}

/// A pair in the top-N best-net section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopEntry {
    pub pair: String,
    pub direction: &'static str,
    pub net_bp: f64,
}

/// One book as the health model sees it.
#[derive(Debug, Clone)]
struct BookHealth {
    venue: Venue,
    symbol: String,
    /// The state as last shown (aged: a `Live` book not updated for the maximum age is `Stale`).
    state: BookState,
    since: Instant,
    /// Since when the book is not `Live` (stale, syncing or resyncing alike), while it is not.
    down_since: Option<Instant>,
    /// The feed's own state and the receive time of its last update, as last observed: enough to age the
    /// book at any later scrape without the feed.
    raw: BookState,
    updated_mono_ns: u64,
    gauge: Option<Gauge>,
}

impl BookHealth {
    /// Ages the book to `now_mono_ns` (`Stale` after `max_age_ns` without an update), keeping `since` and the
    /// `perpspread_book_state` gauge in step.
    fn age(&mut self, now_mono_ns: u64, max_age_ns: u64, now: Instant) {
        let state = self.raw.aged(now_mono_ns.saturating_sub(self.updated_mono_ns), max_age_ns);
        self.show(state, now);
        if let Some(gauge) = &self.gauge {
            gauge.set(state_code(state));
        }
    }

    /// Shows `state` from `now` on (`since` moves only when the state changes; `down_since` only when the
    /// book goes from live to anything else, or back).
    fn show(&mut self, state: BookState, now: Instant) {
        if state != self.state {
            self.state = state;
            self.since = now;
        }
        match state {
            BookState::Live => self.down_since = None,
            _ => {
                self.down_since.get_or_insert(now);
            }
        }
    }

    /// How long the book has not been live.
    fn down_for(&self, now: Instant) -> Duration {
        self.down_since.map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
    }
}

/// A venue with fewer books than this is judged stalled only after [`FEW_BOOKS_QUIET`]: a quiet market may leave
/// one or two books without an update for a minute (an unchanged OKX book gets a keep-alive every ~60 s).
const FEW_BOOKS: usize = 3;
const FEW_BOOKS_QUIET: Duration = Duration::from_secs(90);

/// State shared with the HTTP server.
struct Shared {
    config: HealthConfig,
    books: Mutex<VenueMap<Vec<BookHealth>>>,
    last_observed: Mutex<Option<Instant>>,
    top: Mutex<Vec<TopEntry>>,
    /// Silent streams, as the live layer publishes them (read at every scrape).
    streams: Mutex<Option<StreamHealth>>,
    /// The engine's maximum book age, ns, and the receive clock (`RecvTime::mono_ns`) at an instant, from the
    /// last observation: the receive clock at any later instant follows (`None` before the first).
    ageing: Mutex<Option<(u64, u64, Instant)>>,
    /// `perpspread_books{venue,state}`, recounted at every scrape.
    state_counts: Mutex<Vec<[Gauge; 4]>>,
    /// Why the recording (`monitor --record`) failed, asked at every scrape.
    recording: Mutex<Option<RecordingStatus>>,
    /// Funding of each pair's legs, as last observed (rendered at each scrape).
    funding: Mutex<Vec<FundingEntry>>,
}

/// One pair's funding as exported: each leg's rate per hour and the APR difference of each direction.
#[derive(Debug, Clone)]
struct FundingEntry {
    pair: String,
    legs: [(Venue, Option<f64>); 2],
    /// (direction label, short − long APR %).
    apr_diff: [(&'static str, Option<f64>); 2],
}

/// Tells why a recording failed (`None` while it is fine).
pub type RecordingStatus = Box<dyn Fn() -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Shared {
    /// Ages every book to now (the receive clock), so `/healthz`, `perpspread_book_state` and
    /// `perpspread_books` agree with the engine's view at every scrape, even when nothing arrives.
    fn age_books(&self, now: Instant) {
        let Some((max_age_ns, mono_ns, at)) = *self.ageing.lock().unwrap_or_else(|e| e.into_inner()) else {
            return;
        };
        let now_mono_ns = mono_ns.saturating_add(now.saturating_duration_since(at).as_nanos() as u64);
        let mut books = self.books.lock().unwrap_or_else(|e| e.into_inner());
        let counts = self.state_counts.lock().unwrap_or_else(|e| e.into_inner());
        for (venue_books, gauges) in books.iter_mut().zip(counts.iter()) {
            let mut by_state = [0u64; 4];
            for book in venue_books.iter_mut().filter(|b| !b.symbol.is_empty()) {
                book.age(now_mono_ns, max_age_ns, now);
                by_state[state_index(book.state)] += 1;
            }
            for (gauge, count) in gauges.iter().zip(by_state) {
                gauge.set(count as f64);
            }
        }
    }
}

/// A book that keeps the process from being ready.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnreadyBook {
    pub venue: Venue,
    pub symbol: String,
    pub state: &'static str,
    /// Seconds in that state.
    pub for_s: f64,
}

/// The readiness verdict served at `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub ready: bool,
    /// Why not ready (empty when ready).
    pub reason: String,
    pub books: usize,
    pub live: usize,
    /// Up to 50 books that are not live (whether or not still within the grace period).
    pub not_live: Vec<UnreadyBook>,
    /// Subscribed streams that deliver nothing (each makes the process not ready).
    pub silent_streams: Vec<SilentStream>,
}

impl Shared {
    fn health(&self, now: Instant) -> Health {
        self.age_books(now);
        let books = self.books.lock().unwrap_or_else(|e| e.into_inner());
        let last = *self.last_observed.lock().unwrap_or_else(|e| e.into_inner());
        let total = books.iter().map(Vec::len).sum::<usize>();
        let mut live = 0;
        let mut not_live = Vec::new();
        let mut failing = 0;
        for book in books.iter().flatten() {
            let age = now.saturating_duration_since(book.since);
            let ok = match book.state {
                BookState::Live => true,
                // A quiet market leaves a book stale without anything wrong in the process (a whole venue
                // stale is judged below).
                BookState::Stale => true,
                // The grace runs from when the book stopped being live, not from its last change of state
                // (stale, then resyncing after the stall timeout, is one outage).
                BookState::Syncing | BookState::Resyncing => book.down_for(now) < self.config.resync_grace,
            };
            if book.state == BookState::Live {
                live += 1;
            } else if not_live.len() < 50 {
                not_live.push(UnreadyBook {
                    venue: book.venue,
                    symbol: book.symbol.clone(),
                    state: state_label(book.state),
                    for_s: age.as_secs_f64(),
                });
            }
            failing += usize::from(!ok);
        }
        let silent_streams = self.silent_streams();
        // One quiet book is a quiet market; no book of a venue live, with one stale among them, is a stalled
        // feed (or, for a venue of one or two books, after a quiet minute and a half).
        let stalled: Vec<String> = books
            .iter()
            .map(|venue_books| venue_books.iter().filter(|b| !b.symbol.is_empty()).collect::<Vec<_>>())
            .filter(|venue_books| !venue_books.is_empty())
            .filter(|venue_books| {
                let down = venue_books.iter().map(|b| b.down_for(now)).min().unwrap_or_default();
                venue_books.iter().all(|b| b.state != BookState::Live)
                    && venue_books
                        .iter()
                        .any(|b| b.state == BookState::Stale || b.down_for(now) >= self.config.resync_grace)
                    && (venue_books.len() >= FEW_BOOKS || down >= FEW_BOOKS_QUIET)
            })
            .map(|venue_books| {
                let down = venue_books.iter().map(|b| b.down_for(now)).min().unwrap_or_default();
                format!(
                    "no {} book live ({} books, for {:.0} s): feed stalled?",
                    venue_books[0].venue,
                    venue_books.len(),
                    down.as_secs_f64()
                )
            })
            .collect();
        let recording = self.recording_failure();
        let reason = match last {
            _ if recording.is_some() => recording.unwrap_or_default(),
            _ if !stalled.is_empty() => stalled.join("; "),
            _ if !silent_streams.is_empty() => silent_streams
                .iter()
                .map(|s| {
                    format!(
                        "{} {} stream silent for {:.0} s on {}",
                        s.venue,
                        s.stream,
                        s.silent_for.as_secs_f64(),
                        s.url
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ if total == 0 => "no book subscribed yet".to_owned(),
            Some(at) if now.saturating_duration_since(at) > self.config.max_observation_age => format!(
                "books not observed for {:.0} s (market-data loop stalled?)",
                now.saturating_duration_since(at).as_secs_f64()
            ),
            _ if failing > 0 => format!(
                "{failing} of {total} books stale or not live for {} s or more",
                self.config.resync_grace.as_secs_f64()
            ),
            _ => String::new(),
        };
        Health { ready: reason.is_empty(), reason, books: total, live, not_live, silent_streams }
    }

    fn recording_failure(&self) -> Option<String> {
        self.recording.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|status| status())
    }

    fn silent_streams(&self) -> Vec<SilentStream> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(StreamHealth::silent).unwrap_or_default()
    }
}

/// Records perpspread's metrics; see the [module docs](self) for the series.
pub struct Metrics {
    /// The recorder when not installed globally (handles are registered through it).
    recorder: Option<PrometheusRecorder>,
    handle: PrometheusHandle,
    shared: Arc<Shared>,
    top_n: usize,
    /// Every series registered at start.
    fixed: Fixed,
    reconnects: Vec<(String, Counter)>,
    ranking: Vec<(usize, Direction, f64)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("top_n", &self.top_n).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Builds the recorder and registers every fixed series.
    pub fn new(config: &MetricsConfig) -> Result<Metrics, MetricsError> {
        let exporter = |e: metrics_exporter_prometheus::BuildError| MetricsError::Exporter(e.to_string());
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            ("perpspread_exchange_latency_ms", LATENCY_BUCKETS_MS),
            ("perpspread_signal_latency_ms", SIGNAL_BUCKETS_MS),
            ("perpspread_resync_duration_seconds", RESYNC_BUCKETS_S),
            ("perpspread_opportunity_duration_seconds", DURATION_BUCKETS_S),
            ("perpspread_opportunity_peak_net_bp", PEAK_BUCKETS_BP),
        ] {
            builder = builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets).map_err(exporter)?;
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let shared = Arc::new(Shared {
            config: config.health,
            books: Mutex::new(VenueMap::default()),
            last_observed: Mutex::new(None),
            top: Mutex::new(Vec::new()),
            streams: Mutex::new(None),
            ageing: Mutex::new(None),
            state_counts: Mutex::new(Vec::new()),
            recording: Mutex::new(None),
            funding: Mutex::new(Vec::new()),
        });
        let registered = metrics::with_local_recorder(&recorder, register_fixed);
        *shared.state_counts.lock().unwrap_or_else(|e| e.into_inner()) =
            registered.venues.values().map(|v| v.books.clone()).collect();
        let recorder = if config.install_global {
            metrics::set_global_recorder(recorder).map_err(|_| MetricsError::AlreadyInstalled)?;
            None
        } else {
            Some(recorder)
        };
        Ok(Metrics {
            recorder,
            handle,
            shared,
            top_n: config.top_n,
            fixed: registered,
            reconnects: Vec::new(),
            ranking: Vec::new(),
        })
    }

    fn register<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.recorder {
            Some(recorder) => metrics::with_local_recorder(recorder, f),
            None => f(),
        }
    }

    /// Starts the HTTP server (`/metrics`, `/healthz`) on `addr`; also runs the exporter's upkeep.
    pub async fn serve(&self, addr: SocketAddr) -> Result<MetricsServer, MetricsError> {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| MetricsError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| MetricsError::Bind { addr, source })?;
        let state = ServerState { handle: self.handle.clone(), shared: self.shared.clone() };
        let app = Router::new()
            .route("/metrics", get(metrics_handler))
            .route("/healthz", get(health_handler))
            .route("/", get(|| async { "perpspread: see /metrics and /healthz\n" }))
            .with_state(state);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let upkeep_handle = self.handle.clone();
        let task = tokio::spawn(async move {
            let upkeep = tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    upkeep_handle.run_upkeep();
                }
            });
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
            upkeep.abort();
            if let Err(error) = served {
                tracing::error!("metrics server failed: {error}");
            }
        });
        tracing::info!(%local_addr, "serving /metrics and /healthz");
        Ok(MetricsServer { local_addr, stop: Some(stop_tx), task: Some(task) })
    }

    /// Reports a failed recording (`status` says why) in `/healthz` (not ready) and
    /// `perpspread_recording_failed`.
    pub fn watch_recording(&self, status: RecordingStatus) {
        *self.shared.recording.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    /// Reports the silent streams published to `health` (in `/healthz` and `perpspread_stream_silent`).
    pub fn watch_streams(&self, health: StreamHealth) {
        *self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()) = Some(health);
    }

    /// The Prometheus text exposition, as served at `/metrics`.
    pub fn render(&self) -> String {
        render(&self.handle, &self.shared)
    }

    /// The readiness verdict, as served at `/healthz`.
    pub fn health(&self) -> Health {
        self.shared.health(Instant::now())
    }

    /// The readiness verdict at `now`.
    pub fn health_at(&self, now: Instant) -> Health {
        self.shared.health(now)
    }

    /// Counts one received frame: message and bytes by venue and channel, and its parse error if any.
    pub fn on_frame(&self, venue: Venue, source: Source<'_>, bytes: usize, error: Option<&FrameError>) {
        let v = &self.fixed.venues[venue];
        let channel = match source {
            Source::Ws => 0,
            Source::Rest { .. } => 1,
        };
        v.messages[channel].increment(1);
        v.bytes[channel].increment(bytes as u64);
        if let Some(error) = error {
            self.on_parse_error(venue, error);
        }
    }

    /// Counts a frame that could not be used, by kind.
    pub fn on_parse_error(&self, venue: Venue, error: &FrameError) {
        let kind = match error {
            FrameError::Malformed(_) => 0,
            FrameError::Unknown(_) => 1,
            FrameError::Venue { .. } => 2,
        };
        self.fixed.venues[venue].parse_errors[kind].increment(1);
    }

    /// Per-frame book events: exchange→receive latency of every updated book, resync requests by reason,
    /// resync durations (from a book's break to its return to `Live`) and the clock offset estimate.
    pub fn on_feed_events(&mut self, venue: Venue, feed: &dyn Feed, events: &[FeedEvent], recv: RecvTime) {
        if events.is_empty() {
            return;
        }
        let now = Instant::now();
        let v = &mut self.fixed.venues[venue];
        for event in events {
            match *event {
                FeedEvent::BookUpdated { slot } => {
                    if let Some(book) = feed.book(slot) {
                        let received_ns = book.recv.wall_ns.max(recv.wall_ns);
                        if let Some(latency) = book.exchange_ms.and_then(|ms| receive_delay_ms(ms, received_ns)) {
                            v.exchange_latency.record(latency);
                            v.offset_sample(latency, now);
                        }
                    }
                    let s = v.slot(slot);
                    if let Some(since) = s.down_since.take() {
                        v.resync_duration.record(now.saturating_duration_since(since).as_secs_f64());
                    }
                    v.slots[slot as usize].was_live = true;
                }
                FeedEvent::Resync { slot, reason } => {
                    v.resync_requests[resync_index(reason)].increment(1);
                    let s = v.slot(slot);
                    if s.was_live && s.down_since.is_none() {
                        s.down_since = Some(now);
                    }
                }
                FeedEvent::SnapshotNeeded { .. } => v.snapshot_requests.increment(1),
                FeedEvent::SubscriptionRefused { .. } => v.subscriptions_refused.increment(1),
                // Heartbeats, funding updates and future events carry no book metrics.
                _ => {}
            }
        }
    }

    /// Local receive → engine evaluated, ns (measure around `Signals::on_events`).
    pub fn observe_signal_latency(&self, venue: Venue, ns: u64) {
        self.fixed.venues[venue].signal_latency.record(ns as f64 / 1e6);
    }

    /// Counts an opportunity event (opened, closed by reason; duration and peak of closed ones).
    pub fn on_opportunity(&self, event: &OpportunityEvent) {
        let o = &event.opportunity;
        let direction = Direction::new(o.buy_venue, o.sell_venue).index();
        match event.event {
            EventKind::Opened => {
                if let Some(opened) = &self.fixed.opened[direction] {
                    opened.increment(1);
                }
            }
            EventKind::Updated => {}
            EventKind::Closed => {
                if let Some(closed) = &self.fixed.closed[direction] {
                    closed[close_index(o.close_reason)].increment(1);
                }
                self.fixed.duration.record(o.duration_ms / 1e3);
                self.fixed.peak.record(o.peak_net_bp);
            }
        }
    }

    /// Periodic (≈1 s): book states, cumulative integrity counters and the health model of one venue's
    /// feed handler (e.g. `for v in Venue::ALL { metrics.observe_feed(pipeline.feed(v), age) }`). A `Live`
    /// book not updated for longer than `age.max_ns` by `age.now_mono_ns` counts as `Stale`.
    pub fn observe_feed(&mut self, feed: &dyn Feed, age: BookAge) {
        self.observe_feed_at(feed, age, Instant::now());
    }

    /// [`Metrics::observe_feed`] at a given instant.
    pub fn observe_feed_at(&mut self, feed: &dyn Feed, age: BookAge, now: Instant) {
        let venue = feed.venue();
        let vi = venue;
        let slots = feed.slots();
        let mut totals = [0u64; 5];
        let mut by_state = [0u64; 4];
        let mut health = self.shared.books.lock().unwrap_or_else(|e| e.into_inner());
        for slot in 0..slots {
            let (Some(symbol), Some(book)) = (feed.symbol(slot), feed.book(slot)) else {
                continue;
            };
            let state = book.state_at(age.now_mono_ns, age.max_ns);
            totals[0] += book.stats.sequence_gaps;
            totals[1] += book.stats.checksums_verified;
            totals[2] += book.stats.checksum_failures;
            totals[3] += book.stats.resyncs;
            totals[4] += book.stats.checksums_absent;
            by_state[state_index(state)] += 1;
            let gauge_missing = self.fixed.venues[vi].slot(slot).gauge.is_none();
            if gauge_missing {
                let symbol = symbol.to_owned();
                let gauge = self.register(
                    || metrics::gauge!("perpspread_book_state", "venue" => venue.as_str(), "symbol" => symbol),
                );
                self.fixed.venues[vi].slots[slot as usize].gauge = Some(gauge);
            }
            let v = &mut self.fixed.venues[vi];
            let s = &mut v.slots[slot as usize];
            if let Some(gauge) = &s.gauge {
                gauge.set(state_code(state));
            }
            // A stale book is still in sequence: down time counts only while a book is being rebuilt.
            if matches!(state, BookState::Live | BookState::Stale) {
                if let Some(since) = s.down_since.take() {
                    v.resync_duration.record(now.saturating_duration_since(since).as_secs_f64());
                }
                s.was_live = true;
            } else if s.was_live && s.down_since.is_none() {
                s.down_since = Some(now);
            }
            let gauge = s.gauge.clone();
            let books = &mut health[vi];
            let index = slot as usize;
            if books.len() <= index {
                books.resize_with(index + 1, || BookHealth {
                    venue,
                    symbol: String::new(),
                    state: BookState::Syncing,
                    since: now,
                    down_since: Some(now),
                    raw: BookState::Syncing,
                    updated_mono_ns: 0,
                    gauge: None,
                });
            }
            let entry = &mut books[index];
            if entry.symbol != symbol {
                entry.symbol = symbol.to_owned();
                (entry.state, entry.since, entry.down_since) = (state, now, Some(now));
            }
            entry.show(state, now);
            (entry.raw, entry.updated_mono_ns, entry.gauge) = (book.state, book.recv.mono_ns, gauge);
        }
        drop(health);
        *self.shared.ageing.lock().unwrap_or_else(|e| e.into_inner()) = Some((age.max_ns, age.now_mono_ns, now));
        *self.shared.last_observed.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        let v = &self.fixed.venues[vi];
        v.sequence_gaps.absolute(totals[0]);
        v.checksums_verified.absolute(totals[1]);
        v.checksums_failed.absolute(totals[2]);
        v.resyncs.absolute(totals[3]);
        v.checksums_absent.absolute(totals[4]);
        for (gauge, count) in v.books.iter().zip(by_state) {
            gauge.set(count as f64);
        }
    }

    /// Periodic (≈1 s): engine counters, open opportunities and the top-N pairs by best net bp.
    pub fn observe_engine(&mut self, engine: &Engine) {
        let stats = engine.stats();
        self.fixed.evaluations.absolute(stats.evaluations);
        let suppressed =
            [stats.suppressed_not_live, stats.suppressed_stale, stats.suppressed_crossed, stats.suppressed_latency];
        for (counter, total) in self.fixed.suppressions.iter().zip(suppressed) {
            counter.absolute(total);
        }
        let pairs = engine.pairs();
        let open: usize = (0..pairs.len()).map(|p| engine.open(p).count()).sum();
        self.fixed.open.set(open as f64);
        self.ranking.clear();
        for pair in 0..pairs.len() {
            let best = engine
                .quotes(pair)
                .iter()
                .flatten()
                .filter(|q| q.net_bp.is_finite())
                .max_by(|a, b| a.net_bp.total_cmp(&b.net_bp));
            if let Some(q) = best {
                self.ranking.push((pair, q.direction, q.net_bp));
            }
        }
        self.ranking.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        self.ranking.truncate(self.top_n);
        let top = self
            .ranking
            .iter()
            .map(|&(pair, d, net_bp)| TopEntry { pair: pairs[pair].key.to_string(), direction: d.as_str(), net_bp })
            .collect();
        *self.shared.top.lock().unwrap_or_else(|e| e.into_inner()) = top;
        let funding = pairs
            .iter()
            .enumerate()
            .map(|(index, pair)| {
                let schedules = engine.funding(index).map(|f| f.and_then(|f| f.schedule()));
                let apr_diff = |(buy, sell): (usize, usize)| {
                    let (long, short) = (schedules[buy]?, schedules[sell]?);
                    Some(perpspread_core::funding::apr_diff_pct(&long, &short))
                };
                FundingEntry {
                    pair: pair.key.to_string(),
                    legs: [0, 1].map(|leg| (pair.legs[leg].venue, schedules[leg].map(|s| s.bp_per_hour()))),
                    // A direction's label names the venue bought (long) first.
                    apr_diff: [(0, 1), (1, 0)].map(|(buy, sell)| {
                        (Direction::new(pair.legs[buy].venue, pair.legs[sell].venue).as_str(), apr_diff((buy, sell)))
                    }),
                }
            })
            .collect();
        *self.shared.funding.lock().unwrap_or_else(|e| e.into_inner()) = funding;
    }

    /// Periodic: connection counters (`LiveStats::connects`, `LiveStats::disconnects` by cause).
    pub fn observe_connections<'a>(&mut self, connects: u64, disconnects: impl IntoIterator<Item = (&'a str, u64)>) {
        self.fixed.connects.absolute(connects);
        for (cause, total) in disconnects {
            let index = match self.reconnects.iter().position(|(c, _)| c == cause) {
                Some(index) => index,
                None => {
                    let label = cause.to_owned();
                    let counter = self.register(|| metrics::counter!("perpspread_reconnects_total", "cause" => label));
                    self.reconnects.push((cause.to_owned(), counter));
                    self.reconnects.len() - 1
                }
            };
            self.reconnects[index].1.absolute(total);
        }
    }

    /// Periodic: the Redis publisher's counters (`perpspread_redis_published_total`,
    /// `perpspread_redis_dropped_total`, `perpspread_redis_reconnects_total`, `perpspread_redis_buffered`,
    /// `perpspread_redis_connected`).
    pub fn observe_redis(&self, stats: &RedisStats) {
        self.fixed.redis[0].absolute(stats.published);
        self.fixed.redis[1].absolute(stats.dropped);
        self.fixed.redis[2].absolute(stats.reconnects);
        self.fixed.redis_buffered.set(stats.buffered as f64);
        self.fixed.redis_connected.set(if stats.connected { 1.0 } else { 0.0 });
    }

    /// The current top-N entries of `perpspread_best_net_bp`.
    pub fn top(&self) -> Vec<TopEntry> {
        self.shared.top.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl VenueMetrics {
    fn slot(&mut self, slot: u32) -> &mut SlotMetrics {
        let index = slot as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, SlotMetrics::default);
        }
        &mut self.slots[index]
    }

    fn offset_sample(&mut self, latency_ms: f64, now: Instant) {
        let start = *self.offset_window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= OFFSET_WINDOW {
            if self.offset_min_ms.is_finite() {
                self.clock_offset.set(self.offset_min_ms);
            }
            self.offset_min_ms = f64::INFINITY;
            self.offset_window_start = Some(now);
        } else if !self.offset_min_ms.is_finite() && latency_ms.is_finite() {
            // First sample of the first window: publish something at once.
            self.clock_offset.set(latency_ms);
        }
        if latency_ms < self.offset_min_ms {
            self.offset_min_ms = latency_ms;
        }
    }
}

/// Series registered once at start.
struct Fixed {
    venues: VenueMap<VenueMetrics>,
    connects: Counter,
    evaluations: Counter,
    suppressions: [Counter; 4],
    /// By [`Direction::index`] (`None` for same-venue indexes).
    opened: Vec<Option<Counter>>,
    closed: Vec<Option<[Counter; 7]>>,
    open: Gauge,
    duration: Histogram,
    peak: Histogram,
    redis: [Counter; 3],
    redis_buffered: Gauge,
    redis_connected: Gauge,
}

/// One `T` per cross-venue direction, indexed by [`Direction::index`].
fn by_direction<T>(mut f: impl FnMut(Direction) -> T) -> Vec<Option<T>> {
    let mut table: Vec<Option<T>> = (0..Direction::INDEXES).map(|_| None).collect();
    for direction in Direction::all() {
        table[direction.index()] = Some(f(direction));
    }
    table
}

fn register_fixed() -> Fixed {
    use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
    describe_counter!("perpspread_messages_total", "Frames received, by venue and channel (ws, rest)");
    describe_counter!("perpspread_bytes_total", Unit::Bytes, "Bytes of frames received, by venue and channel");
    describe_counter!("perpspread_parse_errors_total", "Frames that could not be used, by kind");
    describe_gauge!("perpspread_book_state", "Book state per instrument: 0 syncing, 1 live, 2 stale, 3 resyncing");
    describe_gauge!("perpspread_books", "Number of books per venue in each state");
    describe_counter!("perpspread_sequence_gaps_total", "Sequence gaps detected (all books of the venue)");
    describe_counter!("perpspread_checksums_total", "Book checksums verified or failed");
    describe_counter!("perpspread_resyncs_total", "Books rebuilt (any reason)");
    describe_counter!("perpspread_resync_requests_total", "Resyncs requested by the feed handler, by reason");
    describe_counter!("perpspread_snapshot_requests_total", "REST depth snapshots requested (Binance bridging)");
    describe_counter!("perpspread_subscriptions_refused_total", "Subscriptions refused by the venue");
    describe_histogram!(
        "perpspread_resync_duration_seconds",
        Unit::Seconds,
        "Time from a live book breaking to it being live again"
    );
    describe_histogram!(
        "perpspread_exchange_latency_ms",
        Unit::Milliseconds,
        "Exchange event time to local receive time (includes clock offset)"
    );
    describe_histogram!(
        "perpspread_signal_latency_ms",
        Unit::Milliseconds,
        "Local receive time to spread engine evaluated"
    );
    describe_gauge!(
        "perpspread_clock_offset_ms",
        Unit::Milliseconds,
        "Minimum exchange-to-receive latency over the last 10 s: one-way delay plus clock offset"
    );
    describe_counter!("perpspread_connects_total", "WebSocket connections established");
    describe_counter!("perpspread_reconnects_total", "WebSocket disconnects (each followed by a reconnect), by cause");
    describe_counter!("perpspread_evaluations_total", "Spread engine pair evaluations");
    describe_counter!("perpspread_suppressions_total", "Evaluations suppressed by a stale-book guard, by reason");
    describe_counter!("perpspread_opportunities_opened_total", "Opportunities opened, by direction");
    describe_counter!("perpspread_opportunities_closed_total", "Opportunities closed, by direction and reason");
    describe_gauge!("perpspread_opportunities_open", "Opportunities currently open");
    describe_histogram!("perpspread_opportunity_duration_seconds", Unit::Seconds, "Lifetime of closed opportunities");
    describe_histogram!("perpspread_opportunity_peak_net_bp", "Peak net spread of closed opportunities, bp");
    describe_counter!("perpspread_redis_published_total", "Entries written to Redis");
    describe_counter!("perpspread_redis_dropped_total", "Entries dropped because the Redis buffer was full");
    describe_counter!("perpspread_redis_reconnects_total", "Redis connections re-established");
    describe_gauge!("perpspread_redis_buffered", "Entries waiting for Redis");
    describe_gauge!("perpspread_redis_connected", "1 while connected to Redis");

    let venue = |venue: Venue| {
        let v = venue.as_str();
        VenueMetrics {
            messages: CHANNELS.map(|c| counter!("perpspread_messages_total", "venue" => v, "channel" => c)),
            bytes: CHANNELS.map(|c| counter!("perpspread_bytes_total", "venue" => v, "channel" => c)),
            parse_errors: PARSE_ERRORS.map(|k| counter!("perpspread_parse_errors_total", "venue" => v, "kind" => k)),
            sequence_gaps: counter!("perpspread_sequence_gaps_total", "venue" => v),
            checksums_verified: counter!("perpspread_checksums_total", "venue" => v, "result" => "verified"),
            checksums_failed: counter!("perpspread_checksums_total", "venue" => v, "result" => "failed"),
            checksums_absent: counter!("perpspread_checksums_total", "venue" => v, "result" => "absent"),
            resyncs: counter!("perpspread_resyncs_total", "venue" => v),
            resync_requests: RESYNC_REASONS
                .map(|r| counter!("perpspread_resync_requests_total", "venue" => v, "reason" => resync_label(r))),
            snapshot_requests: counter!("perpspread_snapshot_requests_total", "venue" => v),
            subscriptions_refused: counter!("perpspread_subscriptions_refused_total", "venue" => v),
            resync_duration: histogram!("perpspread_resync_duration_seconds", "venue" => v),
            exchange_latency: histogram!("perpspread_exchange_latency_ms", "venue" => v),
            signal_latency: histogram!("perpspread_signal_latency_ms", "venue" => v),
            clock_offset: gauge!("perpspread_clock_offset_ms", "venue" => v),
            books: STATES.map(|s| gauge!("perpspread_books", "venue" => v, "state" => state_label(s))),
            offset_min_ms: f64::INFINITY,
            offset_window_start: None,
            slots: Vec::new(),
        }
    };
    Fixed {
        venues: VenueMap::from_fn(venue),
        connects: counter!("perpspread_connects_total"),
        evaluations: counter!("perpspread_evaluations_total"),
        suppressions: Suppression::ALL.map(|s| counter!("perpspread_suppressions_total", "reason" => s.label())),
        opened: by_direction(|d| counter!("perpspread_opportunities_opened_total", "direction" => d.as_str())),
        closed: by_direction(|d| {
            CloseReason::ALL.map(|r| {
                counter!("perpspread_opportunities_closed_total", "direction" => d.as_str(), "reason" => r.as_str())
            })
        }),
        open: gauge!("perpspread_opportunities_open"),
        duration: histogram!("perpspread_opportunity_duration_seconds"),
        peak: histogram!("perpspread_opportunity_peak_net_bp"),
        redis: [
            counter!("perpspread_redis_published_total"),
            counter!("perpspread_redis_dropped_total"),
            counter!("perpspread_redis_reconnects_total"),
        ],
        redis_buffered: gauge!("perpspread_redis_buffered"),
        redis_connected: gauge!("perpspread_redis_connected"),
    }
}

/// The running HTTP server; stops on [`MetricsServer::shutdown`] or drop.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MetricsServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone)]
struct ServerState {
    handle: PrometheusHandle,
    shared: Arc<Shared>,
}

async fn metrics_handler(State(state): State<ServerState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&state.handle, &state.shared))
}

async fn health_handler(State(state): State<ServerState>) -> impl IntoResponse {
    let health = state.shared.health(Instant::now());
    let status = if health.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::to_string(&health).unwrap_or_else(|_| "{}".to_owned());
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

fn render(handle: &PrometheusHandle, shared: &Shared) -> String {
    shared.age_books(Instant::now());
    let mut out = handle.render();
    let top = shared.top.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str("# HELP perpspread_best_net_bp Best net spread over evaluated sizes of the top-N pairs, bp\n");
    out.push_str("# TYPE perpspread_best_net_bp gauge\n");
    for entry in top.iter() {
        out.push_str(&format!(
            "perpspread_best_net_bp{{pair=\"{}\",direction=\"{}\"}} {}\n",
            escape_label(&entry.pair),
            entry.direction,
            entry.net_bp
        ));
    }
    drop(top);
    let funding = shared.funding.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str("# HELP perpspread_funding_rate_per_hour_bp Each leg's current funding rate per hour, bp (its rate / interval)\n");
    out.push_str("# TYPE perpspread_funding_rate_per_hour_bp gauge\n");
    // A leg belongs to a pair per other venue listing the contract: each (venue, pair) is written once.
    let mut written = std::collections::HashSet::new();
    for entry in funding.iter() {
        for (venue, rate) in entry.legs.iter().filter_map(|(v, r)| Some((v, (*r)?))) {
            if !written.insert((*venue, entry.pair.as_str())) {
                continue;
            }
            let pair = escape_label(&entry.pair);
            out.push_str(&format!("perpspread_funding_rate_per_hour_bp{{venue=\"{venue}\",pair=\"{pair}\"}} {rate}\n"));
        }
    }
    out.push_str(
        "# HELP perpspread_funding_apr_diff_pct Short leg's minus long leg's annualised funding, %, per direction\n",
    );
    out.push_str("# TYPE perpspread_funding_apr_diff_pct gauge\n");
    for entry in funding.iter() {
        for (direction, diff) in entry.apr_diff.iter().filter_map(|(d, v)| Some((d, (*v)?))) {
            let pair = escape_label(&entry.pair);
            out.push_str(&format!(
                "perpspread_funding_apr_diff_pct{{pair=\"{pair}\",direction=\"{direction}\"}} {diff}\n"
            ));
        }
    }
    drop(funding);
    out.push_str("# HELP perpspread_recording_failed 1 when the capture being recorded could not be written\n");
    out.push_str("# TYPE perpspread_recording_failed gauge\n");
    out.push_str(&format!("perpspread_recording_failed {}\n", u8::from(shared.recording_failure().is_some())));
    // Rendered at every scrape from what the live layer last published, so a silent stream shows even
    // when no frame arrives at all.
    let silent = shared.silent_streams();
    out.push_str(
        "# HELP perpspread_stream_silent 1 while a subscribed stream has delivered nothing for the silence timeout\n",
    );
    out.push_str("# TYPE perpspread_stream_silent gauge\n");
    for venue in Venue::ALL {
        for stream in StreamKind::ALL {
            let is_silent = silent.iter().any(|s| s.venue == venue && s.stream == stream);
            out.push_str(&format!(
                "perpspread_stream_silent{{venue=\"{venue}\",stream=\"{stream}\"}} {}\n",
                u8::from(is_silent)
            ));
        }
    }
    out
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addr_defaults_to_loopback() {
        assert_eq!(parse_metrics_addr("9898").unwrap(), "127.0.0.1:9898".parse().unwrap());
        assert_eq!(parse_metrics_addr(":9898").unwrap(), "127.0.0.1:9898".parse().unwrap());
        assert_eq!(parse_metrics_addr("localhost:9898").unwrap(), "127.0.0.1:9898".parse().unwrap());
        assert_eq!(parse_metrics_addr("0.0.0.0:9898").unwrap(), "0.0.0.0:9898".parse().unwrap());
        assert_eq!(parse_metrics_addr("[::1]:9898").unwrap(), "[::1]:9898".parse().unwrap());
        assert!(matches!(parse_metrics_addr("nope"), Err(MetricsError::Address(_))));
        assert!(matches!(parse_metrics_addr("1.2.3.4:99999"), Err(MetricsError::Address(_))));
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
