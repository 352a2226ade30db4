//! The report itself: built from closed opportunities (events of a replay, or rows of `--out-dir` files)
//! and optional spread snapshots; see the crate docs for what each figure means.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use perpspread_core::engine::OpportunityEvent;
use perpspread_core::time::HOUR_NS;
use perpspread_sinks::files::{self, FileError, OpportunityRecord, SnapshotRecord};
use serde::Serialize;

use crate::groups::{group_stats, hour_stats, snapshot_positive_shares, GroupStats, HourStats, Span};
use crate::health::BookHealthReport;
use crate::latency::LatencyRow;
use crate::settled::RealisedFunding;
use crate::stats::Percentiles;

/// Report settings.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Split each pair and direction by evaluated size too.
    pub by_size: bool,
    /// Observed span `(start, end)` in Unix ns; default: first open to last close.
    pub span_ns: Option<(u64, u64)>,
    /// Reaction latencies (ms) at which to measure what each opportunity still offered (captures only; see
    /// [`crate::latency`]).
    pub latencies_ms: Vec<u64>,
    /// Keep the replay's timelines for charts (captures only; see [`crate::timeline`]).
    pub timelines: bool,
}

/// How [`GroupStats::positive_share`] was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositiveShareMethod {
    /// Fraction of sampled spread snapshots with a positive best net.
    Snapshots,
    /// Union of opportunity lifetimes over the observed span.
    OpportunityDurations,
}

/// The report; serializes to the `--json` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub span: Option<Span>,
    pub opportunities: u64,
    pub pairs: u64,
    pub positive_share_method: PositiveShareMethod,
    /// Sorted by number of opportunities, then pair.
    pub groups: Vec<GroupStats>,
    /// All groups together, by hour of day (all 24 hours).
    pub by_hour: Vec<HourStats>,
    pub book_health: Option<BookHealthReport>,
    /// Funding settled inside the replayed captures, both directions of each pair (empty without captures
    /// or funding messages).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub realised_funding: Vec<RealisedFunding>,
    /// What the opportunities still offered at each reaction latency (with `latencies_ms`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capture_at_latency: Vec<LatencyRow>,
}

/// Errors of `report`.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}: not an opportunities or spreads file (.parquet or .csv)")]
    UnknownFile(PathBuf),
    #[error(
        "{0}: spread snapshots are read back from parquet only (monitor --out-format parquet); give the \
         opportunities files without it"
    )]
    SpreadsCsv(PathBuf),
}

/// Whether `path` names a spread-snapshot file written by [`perpspread_sinks::files`] (`spreads-*`), as opposed to an
/// opportunities file.
pub fn is_spreads_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|name| name.starts_with("spreads"))
}

impl Report {
    /// From `closed` events (others are ignored), e.g. produced by replaying a capture through the engine.
    pub fn from_events(events: &[OpportunityEvent], options: &ReportOptions) -> Report {
        let records: Vec<OpportunityRecord> = events.iter().filter_map(OpportunityRecord::from_closed_event).collect();
        Report::from_records(&records, None, options)
    }

    /// From files written by [`perpspread_sinks::files`]: `opportunities-*.parquet|csv` and optionally
    /// `spreads-*.parquet` (used for the positive-net share).
    pub fn from_files(paths: &[PathBuf], options: &ReportOptions) -> Result<Report, ReportError> {
        let mut records = Vec::new();
        let mut snapshots = Vec::new();
        for path in paths {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
            match (is_spreads_file(path), ext) {
                (true, "parquet") => snapshots.extend(files::read_snapshots_parquet(path)?),
                (true, "csv") => return Err(ReportError::SpreadsCsv(path.clone())),
                (false, "parquet" | "csv") => records.extend(files::read_opportunities(path)?),
                _ => return Err(ReportError::UnknownFile(path.clone())),
            }
        }
        let snapshots = (!snapshots.is_empty()).then_some(snapshots.as_slice());
        Ok(Report::from_records(&records, snapshots, options))
    }

    /// From opportunity rows and optional snapshot rows.
    pub(crate) fn from_records(
        records: &[OpportunityRecord],
        snapshots: Option<&[SnapshotRecord]>,
        options: &ReportOptions,
    ) -> Report {
        let span = options.span_ns.or_else(|| {
            let start = records.iter().map(|r| r.opened_ns).min()?;
            let end = records.iter().map(|r| r.closed_ns.unwrap_or(r.last_ns)).max()?;
            Some((start, end))
        });
        let span = span.map(|(start_ns, end_ns)| Span {
            start_ns,
            end_ns: end_ns.max(start_ns),
            hours: end_ns.saturating_sub(start_ns) as f64 / HOUR_NS as f64,
        });
        let mut groups: BTreeMap<(String, String, Option<String>), Vec<&OpportunityRecord>> = BTreeMap::new();
        for record in records {
            let size = options.by_size.then(|| format!("{} {}", record.size_target_unit, record.size_target_amount));
            groups.entry((record.pair.clone(), record.direction.clone(), size)).or_default().push(record);
        }
        let snapshot_shares = snapshots.map(snapshot_positive_shares);
        let method = if snapshot_shares.is_some() {
            PositiveShareMethod::Snapshots
        } else {
            PositiveShareMethod::OpportunityDurations
        };
        let mut out: Vec<GroupStats> = groups
            .into_iter()
            .map(|((pair, direction, size), rows)| {
                let key = (pair.clone(), direction.clone());
                let mut group = group_stats(pair, direction, size, &rows, span);
                if let Some(shares) = &snapshot_shares {
                    let (total, by_hour) = shares.get(&key).cloned().unwrap_or_default();
                    group.positive_share = total.share();
                    for hour in &mut group.by_hour {
                        hour.positive_share = by_hour[hour.hour as usize].share();
                    }
                }
                group
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.pair.cmp(&b.pair)).then(a.direction.cmp(&b.direction)));
        let all: Vec<&OpportunityRecord> = records.iter().collect();
        let mut by_hour = hour_stats(&all, span);
        let full: Vec<HourStats> = (0..24)
            .map(|hour| {
                by_hour.iter().position(|h| h.hour == hour).map(|i| by_hour.swap_remove(i)).unwrap_or(HourStats {
                    hour,
                    count: 0,
                    total_duration_s: 0.0,
                    median_duration_s: 0.0,
                    peak_net_bp: Percentiles::default(),
                    positive_share: 0.0,
                })
            })
            .collect();
        let pairs = out.iter().map(|g| g.pair.as_str()).collect::<BTreeSet<_>>().len() as u64;
        Report {
            span,
            opportunities: records.len() as u64,
            pairs,
            positive_share_method: method,
            groups: out,
            by_hour: full,
            book_health: None,
            realised_funding: Vec::new(),
            capture_at_latency: Vec::new(),
        }
    }

    /// Adds book-health figures (from a replay).
    pub(crate) fn with_book_health(mut self, health: BookHealthReport) -> Report {
        self.book_health = Some(health);
        self
    }

    /// Adds the funding settled during the replayed captures.
    pub(crate) fn with_realised_funding(mut self, realised: Vec<RealisedFunding>) -> Report {
        self.realised_funding = realised;
        self
    }
}

/// Reads the opportunity rows of the given files (helper for callers that want the raw rows).
pub fn read_records(paths: &[&Path]) -> Result<Vec<OpportunityRecord>, FileError> {
    let mut out = Vec::new();
    for path in paths {
        out.extend(files::read_opportunities(path)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pair: &str, direction: &str, opened_s: u64, duration_s: u64, peak: f64) -> OpportunityRecord {
        let opened_ns = opened_s * 1_000_000_000;
        let closed = opened_ns + duration_s * 1_000_000_000;
        OpportunityRecord {
            id: opened_s,
            pair: pair.into(),
            direction: direction.into(),
            buy_venue: "okx".into(),
            sell_venue: "binance".into(),
            buy_symbol: "X-USDT-SWAP".into(),
            sell_symbol: "XUSDT".into(),
            size_target_unit: "quote".into(),
            size_target_amount: 1000.0,
            opened_ns,
            last_ns: closed,
            closed_ns: Some(closed),
            duration_ms: (duration_s * 1000) as f64,
            size_base: 1.0,
            size_quote: 1000.0,
            buy_vwap: 1.0,
            sell_vwap: 1.0,
            gross_bp: 0.0,
            fees_bp: 20.0,
            net_bp: -3.0,
            peak_net_bp: peak,
            mean_net_bp: peak / 2.0,
            max_size_base: 2.0,
            max_size_quote: 2000.0,
            updates: 3,
            open_latency_buy_ms: Some(5.0),
            open_latency_sell_ms: None,
            funding_carry_bp: None,
            confidence: 0.5,
            close_reason: Some("below_threshold".into()),
        }
    }

    #[test]
    fn groups_durations_and_time_share() {
        let d = "buy_okx_sell_binance";
        // Span 0 → 100 s; BTC open 0–10 and 5–15 (union 15 s), ETH 50–60.
        let rows = vec![
            record("BTC/USDT", d, 0, 10, 3.0),
            record("BTC/USDT", d, 5, 10, 5.0),
            record("ETH/USDT", d, 50, 10, 1.0),
        ];
        let options = ReportOptions { span_ns: Some((0, 100_000_000_000)), ..ReportOptions::default() };
        let report = Report::from_records(&rows, None, &options);
        assert_eq!(report.opportunities, 3);
        assert_eq!(report.pairs, 2);
        let btc = &report.groups[0];
        assert_eq!((btc.pair.as_str(), btc.count), ("BTC/USDT", 2));
        assert!((btc.total_duration_s - 20.0).abs() < 1e-9);
        assert!((btc.median_duration_s - 10.0).abs() < 1e-9);
        assert!((btc.positive_share - 0.15).abs() < 1e-9, "{}", btc.positive_share);
        assert!((btc.peak_net_bp.p50 - 4.0).abs() < 1e-9);
        assert_eq!(btc.by_hour.len(), 1);
        assert!((btc.by_hour[0].positive_share - 0.15).abs() < 1e-9);
        assert_eq!(report.by_hour.len(), 24);
        assert_eq!(report.by_hour[0].count, 3);
        let text = report.render_text();
        assert!(text.contains("BTC/USDT") && text.contains("15.00"), "{text}");
    }

    #[test]
    fn snapshot_shares() {
        let row = |ts: u64, direction: &str, net: f64| SnapshotRecord {
            ts_ns: ts,
            pair: "BTC/USDT".into(),
            direction: direction.into(),
            funding_horizon_h: 24.0,
            size_index: Some(0),
            net_bp: Some(net),
            ..SnapshotRecord::default()
        };
        let (a, b) = ("buy_okx_sell_binance", "buy_binance_sell_okx");
        let rows = vec![row(1, a, 1.0), row(1, b, -30.0), row(2, a, -1.0), row(2, b, -30.0)];
        let shares = snapshot_positive_shares(&rows);
        assert_eq!(shares[&("BTC/USDT".to_owned(), a.to_owned())].0.share(), 0.5);
        assert_eq!(shares[&("BTC/USDT".to_owned(), b.to_owned())].0.share(), 0.0);
        let records = vec![record("BTC/USDT", a, 0, 1, 1.0)];
        let report = Report::from_records(&records, Some(&rows), &ReportOptions::default());
        assert_eq!(report.positive_share_method, PositiveShareMethod::Snapshots);
        assert_eq!(report.groups[0].positive_share, 0.5);
    }
}
