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

use metrics::Counter;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use perpspread_core::engine::{Engine, EventKind, OpportunityEvent};
use perpspread_core::feed::{receive_delay_ms, BookState, Feed, FeedEvent, FrameError, RecvTime, Source};
use perpspread_core::health::StreamHealth;
use perpspread_core::{Direction, Venue, VenueMap};

use crate::redis::RedisStats;

mod health;
mod labels;
mod series;
mod server;

pub use health::{BookAge, Health, RecordingStatus, UnreadyBook};
pub use series::TopEntry;
pub use server::MetricsServer;

use health::{BookHealth, FundingEntry, Shared};
use labels::*;
use series::{register_fixed, Fixed};

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
        server::render(&self.handle, &self.shared)
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
}
