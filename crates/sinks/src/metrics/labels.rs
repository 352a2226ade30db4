//! Label values and bucket boundaries of the metrics: every label set is enumerated here once, so the
//! series can be registered at start and indexed without allocation afterwards.

use std::time::Duration;

use perpspread_core::engine::CloseReason;
use perpspread_core::feed::{BookState, ResyncReason};
use perpspread_core::Direction;

/// Histogram buckets.
pub(super) const LATENCY_BUCKETS_MS: &[f64] =
    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0];
pub(super) const SIGNAL_BUCKETS_MS: &[f64] = &[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0];
pub(super) const RESYNC_BUCKETS_S: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
pub(super) const DURATION_BUCKETS_S: &[f64] = &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
pub(super) const PEAK_BUCKETS_BP: &[f64] = &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];

/// Window of the clock offset estimate.
pub(super) const OFFSET_WINDOW: Duration = Duration::from_secs(10);

pub(super) const CHANNELS: [&str; 2] = ["ws", "rest"];
pub(super) const PARSE_ERRORS: [&str; 3] = ["malformed", "unknown", "venue_error"];
pub(super) const RESYNC_REASONS: [ResyncReason; 7] = [
    ResyncReason::SequenceGap,
    ResyncReason::ChecksumMismatch,
    ResyncReason::Crossed,
    ResyncReason::BadUpdate,
    ResyncReason::SnapshotTooOld,
    ResyncReason::Disconnected,
    ResyncReason::SnapshotFailed,
];
pub(super) const STATES: [BookState; 4] = [BookState::Syncing, BookState::Live, BookState::Stale, BookState::Resyncing];

pub(super) fn resync_label(reason: ResyncReason) -> &'static str {
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

pub(super) fn resync_index(reason: ResyncReason) -> usize {
    RESYNC_REASONS.iter().position(|r| *r == reason).unwrap_or(0)
}

/// Value of `perpspread_book_state`.
pub(super) fn state_code(state: BookState) -> f64 {
    match state {
        BookState::Syncing => 0.0,
        BookState::Live => 1.0,
        BookState::Stale => 2.0,
        BookState::Resyncing => 3.0,
    }
}

pub(super) fn state_index(state: BookState) -> usize {
    state_code(state) as usize
}

pub(super) fn close_index(reason: Option<CloseReason>) -> usize {
    reason.unwrap_or(CloseReason::BelowThreshold).index()
}

/// One `T` per cross-venue direction, indexed by [`Direction::index`].
pub(super) fn by_direction<T>(mut f: impl FnMut(Direction) -> T) -> Vec<Option<T>> {
    let mut table: Vec<Option<T>> = (0..Direction::INDEXES).map(|_| None).collect();
    for direction in Direction::all() {
        table[direction.index()] = Some(f(direction));
    }
    table
}
