//! `perpspread report`: the statistics a trader asks for, from closed opportunities (Parquet/CSV files
//! written by [`crate::files`], or events from replaying a capture through the engine).
//!
//! Per pair and direction (optionally also per size): number of opportunities, total and median
//! duration, peak net bp p50/p90/p99, executable size at the open threshold (the opportunity's largest
//! `max_size_quote`; p50 and max), the share of time with a positive net spread, and the same figures
//! split by UTC hour of day; plus book-health figures when a replay provides them.
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
//! Percentiles interpolate linearly between closest ranks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use perpspread_core::engine::OpportunityEvent;
use perpspread_core::feed::{receive_delay_ms, Feed, FeedEvent};

use crate::settled::RealisedFunding;
use perpspread_core::{Venue, VenueMap};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::files::{self, FileError, OpportunityRecord, SnapshotRecord};
use crate::time::{hour_of_day, rfc3339, HOUR_NS};

/// Report settings.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Split each pair and direction by evaluated size too.
    pub by_size: bool,
    /// Observed span `(start, end)` in Unix ns; default: first open to last close.
    pub span_ns: Option<(u64, u64)>,
}

/// p50 / p90 / p99 / max.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Of `values` (NaN ignored); all zero when empty.
    pub fn of(values: &[f64]) -> Percentiles {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&sorted, 0.50),
            p90: percentile(&sorted, 0.90),
            p99: percentile(&sorted, 0.99),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// The `q` quantile (0–1) of sorted values, interpolating between closest ranks; 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let rank = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
        }
    }
}

/// Figures of one hour of day (UTC) within a group or overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourStats {
    /// 0–23, UTC, of `opened_ns`.
    pub hour: u32,
    pub count: u64,
    pub total_duration_s: f64,
    pub median_duration_s: f64,
    pub peak_net_bp: Percentiles,
    /// Share of the observed time in this hour of day with a positive net (see module docs).
    pub positive_share: f64,
}

/// Figures of one pair and direction (and size, with `by_size`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub pair: String,
    pub direction: String,
    /// `quote 10000`, `base 0.5`, … with `by_size`.
    pub size: Option<String>,
    pub count: u64,
    pub total_duration_s: f64,
    pub median_duration_s: f64,
    pub peak_net_bp: Percentiles,
    pub mean_net_bp_p50: f64,
    /// Executable size at the open threshold, quote currency.
    pub size_at_threshold_quote: Percentiles,
    /// Share of observed time with a positive net spread (0–1).
    pub positive_share: f64,
    /// Hours of day with at least one opportunity.
    pub by_hour: Vec<HourStats>,
}

/// Book health of one venue over a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueHealth {
    pub venue: Venue,
    pub books: u64,
    pub updates_applied: u64,
    pub sequence_gaps: u64,
    pub checksums_verified: u64,
    pub checksum_failures: u64,
    pub resyncs: u64,
    /// Exchange → receive latency, ms.
    pub latency_ms: Percentiles,
    pub latency_samples: u64,
}

/// Book health over a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookHealthReport {
    pub venues: Vec<VenueHealth>,
}

/// Collects book-health figures while a capture is replayed (call [`HealthCollector::on_events`] from the
/// replay's observer with `pipeline.last_events()`, then [`HealthCollector::finish`] with the feeds).
#[derive(Debug)]
pub struct HealthCollector {
    latency: VenueMap<Vec<f32>>,
    seen: VenueMap<u64>,
    rng: SmallRng,
}

/// Latency samples kept per venue (reservoir sampling beyond).
const MAX_SAMPLES: usize = 2_000_000;

impl Default for HealthCollector {
    fn default() -> Self {
        HealthCollector { latency: VenueMap::default(), seen: VenueMap::default(), rng: SmallRng::seed_from_u64(6) }
    }
}

impl HealthCollector {
    /// A collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the exchange → receive latency of every book updated by a frame.
    pub fn on_events(&mut self, venue: Venue, feed: &dyn Feed, events: &[FeedEvent]) {
        let v = venue;
        for event in events {
            let FeedEvent::BookUpdated { slot } = *event else {
                continue;
            };
            let Some(book) = feed.book(slot) else {
                continue;
            };
            let Some(latency) = book.exchange_ms.and_then(|ms| receive_delay_ms(ms, book.recv.wall_ns)) else {
                continue;
            };
            let latency = latency as f32;
            self.seen[v] += 1;
            if self.latency[v].len() < MAX_SAMPLES {
                self.latency[v].push(latency);
            } else {
                let j = self.rng.gen_range(0..self.seen[v]);
                if let Some(slot) = self.latency[v].get_mut(j as usize) {
                    *slot = latency;
                }
            }
        }
    }

    /// Integrity counters of every book plus the latency percentiles.
    pub fn finish(self, feeds: &[&dyn Feed]) -> BookHealthReport {
        let mut venues = Vec::new();
        for feed in feeds {
            let venue = feed.venue();
            let v = venue;
            let mut health = VenueHealth {
                venue,
                books: 0,
                updates_applied: 0,
                sequence_gaps: 0,
                checksums_verified: 0,
                checksum_failures: 0,
                resyncs: 0,
                latency_ms: Percentiles::default(),
                latency_samples: self.seen[v],
            };
            for slot in 0..feed.slots() {
                if let Some(book) = feed.book(slot) {
                    health.books += 1;
                    health.updates_applied += book.stats.updates_applied;
                    health.sequence_gaps += book.stats.sequence_gaps;
                    health.checksums_verified += book.stats.checksums_verified;
                    health.checksum_failures += book.stats.checksum_failures;
                    health.resyncs += book.stats.resyncs;
                }
            }
            let samples: Vec<f64> = self.latency[v].iter().map(|x| f64::from(*x)).collect();
            health.latency_ms = Percentiles::of(&samples);
            venues.push(health);
        }
        BookHealthReport { venues }
    }
}

/// The observed span.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub start_ns: u64,
    pub end_ns: u64,
    pub hours: f64,
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

/// Whether `path` names a spread-snapshot file written by [`crate::files`] (`spreads-*`), as opposed to an
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

    /// From files written by [`crate::files`]: `opportunities-*.parquet|csv` and optionally
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
    pub fn from_records(
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
        let pairs = out.iter().map(|g| g.pair.as_str()).collect::<std::collections::BTreeSet<_>>().len() as u64;
        Report {
            span,
            opportunities: records.len() as u64,
            pairs,
            positive_share_method: method,
            groups: out,
            by_hour: full,
            book_health: None,
            realised_funding: Vec::new(),
        }
    }

    /// Adds book-health figures (from a replay).
    pub fn with_book_health(mut self, health: BookHealthReport) -> Report {
        self.book_health = Some(health);
        self
    }

    /// Adds the funding settled during the replayed captures.
    pub fn with_realised_funding(mut self, realised: Vec<RealisedFunding>) -> Report {
        self.realised_funding = realised;
        self
    }

    /// The human-readable tables.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        match self.span {
            Some(span) => {
                let _ = writeln!(
                    out,
                    "{} opportunities on {} pairs, {} → {} ({:.2} h); positive-net share from {}",
                    self.opportunities,
                    self.pairs,
                    rfc3339(span.start_ns),
                    rfc3339(span.end_ns),
                    span.hours,
                    match self.positive_share_method {
                        PositiveShareMethod::Snapshots => "spread snapshots",
                        PositiveShareMethod::OpportunityDurations => "opportunity durations",
                    }
                );
            }
            None => out.push_str("no closed opportunity\n"),
        }
        if !self.groups.is_empty() {
            out.push('\n');
            let mut rows = vec![vec![
                "pair".to_owned(),
                "direction".to_owned(),
                "size".to_owned(),
                "n".to_owned(),
                "total s".to_owned(),
                "median s".to_owned(),
                "peak p50 bp".to_owned(),
                "p90 bp".to_owned(),
                "p99 bp".to_owned(),
                "size@thr p50".to_owned(),
                "size@thr max".to_owned(),
                "positive %".to_owned(),
            ]];
            for g in &self.groups {
                rows.push(vec![
                    g.pair.clone(),
                    g.direction.clone(),
                    g.size.clone().unwrap_or_else(|| "all".to_owned()),
                    g.count.to_string(),
                    format!("{:.1}", g.total_duration_s),
                    format!("{:.2}", g.median_duration_s),
                    format!("{:.2}", g.peak_net_bp.p50),
                    format!("{:.2}", g.peak_net_bp.p90),
                    format!("{:.2}", g.peak_net_bp.p99),
                    format!("{:.0}", g.size_at_threshold_quote.p50),
                    format!("{:.0}", g.size_at_threshold_quote.max),
                    format!("{:.2}", g.positive_share * 100.0),
                ]);
            }
            table(&mut out, &rows);
            out.push_str("\nby hour of day (UTC, all pairs)\n");
            let mut rows = vec![vec![
                "hour".to_owned(),
                "n".to_owned(),
                "total s".to_owned(),
                "median s".to_owned(),
                "peak p50 bp".to_owned(),
                "p90 bp".to_owned(),
                "positive %".to_owned(),
            ]];
            for h in self.by_hour.iter().filter(|h| h.count > 0) {
                rows.push(vec![
                    format!("{:02}", h.hour),
                    h.count.to_string(),
                    format!("{:.1}", h.total_duration_s),
                    format!("{:.2}", h.median_duration_s),
                    format!("{:.2}", h.peak_net_bp.p50),
                    format!("{:.2}", h.peak_net_bp.p90),
                    format!("{:.2}", h.positive_share * 100.0),
                ]);
            }
            table(&mut out, &rows);
        }
        if let Some(health) = &self.book_health {
            out.push_str("\nbook health\n");
            let mut rows = vec![vec![
                "venue".to_owned(),
                "books".to_owned(),
                "updates".to_owned(),
                "gaps".to_owned(),
                "checksums ok".to_owned(),
                "checksums bad".to_owned(),
                "resyncs".to_owned(),
                "latency p50 ms".to_owned(),
                "p90 ms".to_owned(),
                "p99 ms".to_owned(),
            ]];
            for v in &health.venues {
                rows.push(vec![
                    v.venue.to_string(),
                    v.books.to_string(),
                    v.updates_applied.to_string(),
                    v.sequence_gaps.to_string(),
                    v.checksums_verified.to_string(),
                    v.checksum_failures.to_string(),
                    v.resyncs.to_string(),
                    format!("{:.1}", v.latency_ms.p50),
                    format!("{:.1}", v.latency_ms.p90),
                    format!("{:.1}", v.latency_ms.p99),
                ]);
            }
            table(&mut out, &rows);
        }
        if !self.realised_funding.is_empty() {
            out.push_str("\nfunding settled during the capture (bp of notional; carry = short received − long paid)\n");
            let mut rows =
                vec![["pair", "long→short", "settlements long/short", "long paid bp", "short received bp", "carry bp"]
                    .map(str::to_owned)
                    .to_vec()];
            for f in &self.realised_funding {
                rows.push(vec![
                    f.pair.clone(),
                    format!("{}→{}", f.long_venue, f.short_venue),
                    format!("{}/{}", f.long_settlements, f.short_settlements),
                    format!("{:.3}", f.long_paid_bp),
                    format!("{:.3}", f.short_received_bp),
                    format!("{:.3}", f.carry_bp),
                ]);
            }
            table(&mut out, &rows);
        }
        out
    }
}

/// Left-aligned text columns, numbers right-aligned.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let numeric = c > 2 || cell.parse::<f64>().is_ok();
            if numeric {
                let _ = write!(line, "{cell:>width$}", width = widths[c]);
            } else {
                let _ = write!(line, "{cell:<width$}", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn duration_s(r: &OpportunityRecord) -> f64 {
    r.duration_ms / 1e3
}

fn group_stats(
    pair: String,
    direction: String,
    size: Option<String>,
    rows: &[&OpportunityRecord],
    span: Option<Span>,
) -> GroupStats {
    let durations: Vec<f64> = rows.iter().map(|r| duration_s(r)).collect();
    let peaks: Vec<f64> = rows.iter().map(|r| r.peak_net_bp).collect();
    let means: Vec<f64> = rows.iter().map(|r| r.mean_net_bp).collect();
    let sizes: Vec<f64> = rows.iter().map(|r| r.max_size_quote).collect();
    let positive_share = match span {
        Some(span) if span.end_ns > span.start_ns => {
            covered_ns(rows, span, None) as f64 / (span.end_ns - span.start_ns) as f64
        }
        _ => 0.0,
    };
    GroupStats {
        pair,
        direction,
        size,
        count: rows.len() as u64,
        total_duration_s: durations.iter().sum(),
        median_duration_s: Percentiles::of(&durations).p50,
        peak_net_bp: Percentiles::of(&peaks),
        mean_net_bp_p50: Percentiles::of(&means).p50,
        size_at_threshold_quote: Percentiles::of(&sizes),
        positive_share,
        by_hour: hour_stats(rows, span),
    }
}

/// Hours of day with at least one opportunity (by `opened_ns`).
fn hour_stats(rows: &[&OpportunityRecord], span: Option<Span>) -> Vec<HourStats> {
    let mut by_hour: BTreeMap<u32, Vec<&OpportunityRecord>> = BTreeMap::new();
    for r in rows {
        by_hour.entry(hour_of_day(r.opened_ns)).or_default().push(r);
    }
    by_hour
        .into_iter()
        .map(|(hour, hour_rows)| {
            let durations: Vec<f64> = hour_rows.iter().map(|r| duration_s(r)).collect();
            let peaks: Vec<f64> = hour_rows.iter().map(|r| r.peak_net_bp).collect();
            let positive_share = span.map_or(0.0, |span| {
                let observed = observed_in_hour(span, hour);
                if observed == 0 {
                    0.0
                } else {
                    covered_ns(rows, span, Some(hour)) as f64 / observed as f64
                }
            });
            HourStats {
                hour,
                count: hour_rows.len() as u64,
                total_duration_s: durations.iter().sum(),
                median_duration_s: Percentiles::of(&durations).p50,
                peak_net_bp: Percentiles::of(&peaks),
                positive_share,
            }
        })
        .collect()
}

/// Nanoseconds covered by the union of the rows' lifetimes, clipped to the span (and to one hour of day).
fn covered_ns(rows: &[&OpportunityRecord], span: Span, hour: Option<u32>) -> u64 {
    let mut intervals: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| (r.opened_ns.max(span.start_ns), r.closed_ns.unwrap_or(r.last_ns).min(span.end_ns)))
        .filter(|(a, b)| b > a)
        .collect();
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    let mut add = |(a, b): (u64, u64)| {
        total += match hour {
            None => b - a,
            Some(h) => overlap_with_hour(a, b, h),
        };
    };
    for (a, b) in intervals {
        match current {
            Some((ca, cb)) if a <= cb => current = Some((ca, cb.max(b))),
            Some(done) => {
                add(done);
                current = Some((a, b));
            }
            None => current = Some((a, b)),
        }
    }
    if let Some(done) = current {
        add(done);
    }
    total
}

/// Nanoseconds of `[a, b)` that fall in hour of day `hour` (UTC).
fn overlap_with_hour(a: u64, b: u64, hour: u32) -> u64 {
    let mut total = 0;
    let mut start = a;
    while start < b {
        let hour_start = start / HOUR_NS * HOUR_NS;
        let end = (hour_start + HOUR_NS).min(b);
        if hour_of_day(start) == hour {
            total += end - start;
        }
        start = end;
    }
    total
}

fn observed_in_hour(span: Span, hour: u32) -> u64 {
    overlap_with_hour(span.start_ns, span.end_ns, hour)
}

/// Positive / total snapshot counts.
#[derive(Debug, Clone, Copy, Default)]
struct Share {
    positive: u64,
    total: u64,
}

impl Share {
    fn share(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.positive as f64 / self.total as f64
        }
    }
}

type Shares = BTreeMap<(String, String), (Share, [Share; 24])>;

/// Per (pair, direction): snapshots whose best net over sizes in that direction was positive, overall and
/// by hour of day. Every snapshot of the pair counts in the total of both directions.
fn snapshot_positive_shares(rows: &[SnapshotRecord]) -> Shares {
    // (pair, ts) → best net per direction.
    let mut snapshots: BTreeMap<(&str, u64), BTreeMap<&str, f64>> = BTreeMap::new();
    let mut directions: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for row in rows {
        let best = snapshots.entry((row.pair.as_str(), row.ts_ns)).or_default();
        if let Some(net) = row.net_bp {
            let direction = row.direction.as_str();
            let entry = best.entry(direction).or_insert(f64::NEG_INFINITY);
            *entry = entry.max(net);
            directions.entry(row.pair.as_str()).or_default().insert(direction);
        }
    }
    let mut shares = Shares::new();
    for ((pair, ts), best) in &snapshots {
        for direction in directions.get(pair).into_iter().flatten() {
            let positive = best.get(direction).is_some_and(|net| *net > 0.0);
            let (total, by_hour) = shares.entry(((*pair).to_owned(), (*direction).to_owned())).or_default();
            let hour = hour_of_day(*ts) as usize;
            total.total += 1;
            by_hour[hour].total += 1;
            if positive {
                total.positive += 1;
                by_hour[hour].positive += 1;
            }
        }
    }
    shares
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
    fn percentiles_interpolate() {
        let p = Percentiles::of(&[1.0, 2.0, 3.0, 4.0, 5.0, f64::NAN]);
        assert_eq!((p.p50, p.max), (3.0, 5.0));
        assert!((p.p90 - 4.6).abs() < 1e-9);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
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
    fn hour_overlap_splits_intervals() {
        let h = HOUR_NS;
        // 00:30 → 02:30 covers 30 min of hour 0, 60 of hour 1, 30 of hour 2.
        assert_eq!(overlap_with_hour(h / 2, 2 * h + h / 2, 0), h / 2);
        assert_eq!(overlap_with_hour(h / 2, 2 * h + h / 2, 1), h);
        assert_eq!(overlap_with_hour(h / 2, 2 * h + h / 2, 2), h / 2);
        assert_eq!(overlap_with_hour(h / 2, 2 * h + h / 2, 3), 0);
        // A day later, hour 0 again.
        assert_eq!(overlap_with_hour(24 * h, 24 * h + 10, 0), 10);
    }

    #[test]
    fn snapshot_shares() {
        let row = |ts: u64, direction: &str, net: f64| SnapshotRecord {
            ts_ns: ts,
            pair: "BTC/USDT".into(),
            direction: direction.into(),
            buy_venue: String::new(),
            sell_venue: String::new(),
            buy_symbol: String::new(),
            sell_symbol: String::new(),
            buy_ask: None,
            sell_bid: None,
            suppressed: None,
            buy_funding_bp_per_h: None,
            sell_funding_bp_per_h: None,
            funding_carry_bp: None,
            funding_horizon_h: 24.0,
            size_index: Some(0),
            size_base: None,
            size_quote: None,
            buy_vwap: None,
            sell_vwap: None,
            gross_bp: None,
            fees_bp: None,
            net_bp: Some(net),
            max_size_base: None,
            max_size_quote: None,
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
