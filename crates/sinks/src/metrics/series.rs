//! The registered series: per-venue handles, per-book state and the series registered once at start.

use std::time::Instant;

use metrics::{Counter, Gauge, Histogram};
use perpspread_core::engine::{CloseReason, Suppression};
use perpspread_core::{Venue, VenueMap};
use serde::Serialize;

use super::labels::*;

/// Handles of one venue.
pub(super) struct VenueMetrics {
    pub(super) messages: [Counter; 2],
    pub(super) bytes: [Counter; 2],
    pub(super) parse_errors: [Counter; 3],
    pub(super) sequence_gaps: Counter,
    pub(super) checksums_verified: Counter,
    pub(super) checksums_failed: Counter,
    pub(super) checksums_absent: Counter,
    pub(super) resyncs: Counter,
    pub(super) resync_requests: [Counter; 7],
    pub(super) snapshot_requests: Counter,
    pub(super) subscriptions_refused: Counter,
    pub(super) resync_duration: Histogram,
    pub(super) exchange_latency: Histogram,
    pub(super) signal_latency: Histogram,
    pub(super) clock_offset: Gauge,
    pub(super) books: [Gauge; 4],
    /// Minimum latency of the current offset window and when it started.
    pub(super) offset_min_ms: f64,
    pub(super) offset_window_start: Option<Instant>,
    pub(super) slots: Vec<SlotMetrics>,
}

/// Per-book state kept between calls.
#[derive(Default)]
pub(super) struct SlotMetrics {
    /// `perpspread_book_state{venue,symbol}`, registered on first observation.
    pub(super) gauge: Option<Gauge>,
    /// Whether the book has ever been live (resync durations only count books that broke after that).
    pub(super) was_live: bool,
    /// When the book stopped being live.
    pub(super) down_since: Option<Instant>,
}

/// A pair in the top-N best-net section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopEntry {
    pub pair: String,
    pub direction: &'static str,
    pub net_bp: f64,
}

impl VenueMetrics {
    pub(super) fn slot(&mut self, slot: u32) -> &mut SlotMetrics {
        let index = slot as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, SlotMetrics::default);
        }
        &mut self.slots[index]
    }

    pub(super) fn offset_sample(&mut self, latency_ms: f64, now: Instant) {
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
pub(super) struct Fixed {
    pub(super) venues: VenueMap<VenueMetrics>,
    pub(super) connects: Counter,
    pub(super) evaluations: Counter,
    pub(super) suppressions: [Counter; 4],
    /// By [`Direction::index`] (`None` for same-venue indexes).
    pub(super) opened: Vec<Option<Counter>>,
    pub(super) closed: Vec<Option<[Counter; 7]>>,
    pub(super) open: Gauge,
    pub(super) duration: Histogram,
    pub(super) peak: Histogram,
    pub(super) redis: [Counter; 3],
    pub(super) redis_buffered: Gauge,
    pub(super) redis_connected: Gauge,
}

pub(super) fn register_fixed() -> Fixed {
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
            books: STATES.map(|s| gauge!("perpspread_books", "venue" => v, "state" => s.as_str())),
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
