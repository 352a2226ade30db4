//! Per pair/direction and per hour-of-day figures of closed opportunities, and the share of time with a
//! positive net spread (from spread snapshots or from opportunity lifetimes; see the crate docs).

use std::collections::{BTreeMap, BTreeSet};

use perpspread_core::time::{hour_of_day, HOUR_NS};
use perpspread_sinks::files::{OpportunityRecord, SnapshotRecord};
use serde::Serialize;

use crate::stats::Percentiles;

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

/// The observed span.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub start_ns: u64,
    pub end_ns: u64,
    pub hours: f64,
}

fn duration_s(r: &OpportunityRecord) -> f64 {
    r.duration_ms / 1e3
}

pub(crate) fn group_stats(
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
pub(crate) fn hour_stats(rows: &[&OpportunityRecord], span: Option<Span>) -> Vec<HourStats> {
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

/// The union of `[start, end)` spans, sorted and merged.
pub(crate) fn union(mut spans: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Nanoseconds covered by the union of the rows' lifetimes, clipped to the span (and to one hour of day).
fn covered_ns(rows: &[&OpportunityRecord], span: Span, hour: Option<u32>) -> u64 {
    let intervals: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| (r.opened_ns.max(span.start_ns), r.closed_ns.unwrap_or(r.last_ns).min(span.end_ns)))
        .filter(|(a, b)| b > a)
        .collect();
    union(intervals)
        .into_iter()
        .map(|(a, b)| match hour {
            None => b - a,
            Some(h) => overlap_with_hour(a, b, h),
        })
        .sum()
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
pub(crate) struct Share {
    positive: u64,
    total: u64,
}

impl Share {
    pub(crate) fn share(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.positive as f64 / self.total as f64
        }
    }
}

pub(crate) type Shares = BTreeMap<(String, String), (Share, [Share; 24])>;

/// Per (pair, direction): snapshots whose best net over sizes in that direction was positive, overall and
/// by hour of day. Every snapshot of the pair counts in the total of both directions.
pub(crate) fn snapshot_positive_shares(rows: &[SnapshotRecord]) -> Shares {
    // (pair, ts) → best net per direction.
    let mut snapshots: BTreeMap<(&str, u64), BTreeMap<&str, f64>> = BTreeMap::new();
    let mut directions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
