//! perpspread-report: offline analysis of recordings, kept off the live path (the live binary path —
//! venues, stream, sinks — depends on nothing here; this crate carries the charting libraries).
//!
//! `perpspread report`'s statistics come from closed opportunities: Parquet/CSV files written by
//! [`perpspread_sinks::files`], or events from replaying captures through the engine ([`replay`]).
//!
//! Per pair and direction (optionally also per size): number of opportunities, total and median
//! duration, peak net bp p50/p90/p99, executable size at the open threshold (the opportunity's largest
//! `max_size_quote`; p50 and max), the share of time with a positive net spread, and the same figures
//! split by UTC hour of day; plus book health ([`health`]) and the funding settled inside the capture
//! ([`settled`]) when a replay provides them, and PNG charts ([`plot`], cargo feature `plot`).
//!
//! **Share of time with a positive net spread.** With spread snapshots (`spreads-*` files) it is the
//! fraction of sampled snapshots of the pair whose best net bp over the evaluated sizes in that direction
//! was > 0. Without them it is the time covered by the union of the group's opportunity lifetimes
//! (`opened_ns` → `closed_ns`) divided by the observed span — an opportunity is open from `net ≥ open_bp`
//! until `net < close_bp`, so this is the share of time an opportunity was open, which equals the share of
//! positive net when `open_bp = 0` and the hysteresis is small. [`Report::positive_share_method`] says
//! which was used. The observed span is [`ReportOptions::span_ns`] when given (a replay knows its first and
//! last receive time), else from the first open to the last close.
//!
//! Percentiles of opportunity figures are exact (linear interpolation between closest ranks); latency
//! percentiles come from an HDR histogram (≤ 0.1 % error, bounded memory) — see [`stats`].

pub mod groups;
pub mod health;
#[cfg(feature = "plot")]
pub mod html;
pub mod latency;
#[cfg(feature = "plot")]
pub mod plot;
mod render;
pub mod replay;
mod report;
pub mod settled;
pub mod stats;
pub mod timeline;

pub use groups::{GroupStats, HourStats, Span};
pub use health::{BookHealthReport, HealthCollector, VenueHealth};
pub use latency::{LatencyProbe, LatencyRow};
pub use report::{is_spreads_file, read_records, PositiveShareMethod, Report, ReportError, ReportOptions};
pub use settled::{RealisedFunding, SettledFunding};
pub use stats::{LatencyHistogram, Percentiles};
