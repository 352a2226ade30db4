//! The human-readable report: a headline and aligned tables (the shared [`Table`] renderer).

use std::fmt::Write as _;

use perpspread_core::time::rfc3339;
use perpspread_sinks::table::Table;

use crate::report::{PositiveShareMethod, Report};

impl Report {
    /// The human-readable tables.
    pub fn render_text(&self) -> String {
        let mut out = self.headline();
        if !self.groups.is_empty() {
            out.push('\n');
            out.push_str(&self.groups_table().render());
            out.push_str("\nby hour of day (UTC, all pairs)\n");
            out.push_str(&self.hours_table().render());
        }
        if self.book_health.is_some() {
            out.push_str("\nbook health\n");
            out.push_str(&self.health_table().render());
        }
        if !self.realised_funding.is_empty() {
            out.push_str("\nfunding settled during the capture (bp of notional; carry = short received − long paid)\n");
            out.push_str(&self.funding_table().render());
        }
        if !self.capture_at_latency.is_empty() {
            out.push_str(
                "\ncapture at a reaction latency (net at the opportunity's size on the books L ms after it opened)\n",
            );
            out.push_str(&self.latency_table().render());
        }
        out
    }

    fn latency_table(&self) -> Table {
        let mut table = Table::new([
            "L ms",
            "pair",
            "direction",
            "size",
            "n",
            "≥ threshold %",
            "still open %",
            "executable %",
            "mean net bp",
            "available (quote)",
            "unobserved",
        ]);
        for r in &self.capture_at_latency {
            table.row(vec![
                r.latency_ms.to_string(),
                r.pair.clone(),
                r.direction.clone(),
                r.size.clone(),
                r.opportunities.to_string(),
                format!("{:.1}", r.share_at_threshold * 100.0),
                format!("{:.1}", r.share_open * 100.0),
                format!("{:.1}", r.share_executable * 100.0),
                r.mean_net_bp.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}")),
                format!("{:.2}", r.available_quote),
                r.unobserved.to_string(),
            ]);
        }
        table
    }

    fn headline(&self) -> String {
        let Some(span) = self.span else {
            return "no closed opportunity\n".to_owned();
        };
        let method = match self.positive_share_method {
            PositiveShareMethod::Snapshots => "spread snapshots",
            PositiveShareMethod::OpportunityDurations => "opportunity durations",
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} opportunities on {} pairs, {} → {} ({:.2} h); positive-net share from {method}",
            self.opportunities,
            self.pairs,
            rfc3339(span.start_ns),
            rfc3339(span.end_ns),
            span.hours,
        );
        out
    }

    fn groups_table(&self) -> Table {
        let mut table = Table::new([
            "pair",
            "direction",
            "size",
            "n",
            "total s",
            "median s",
            "peak p50 bp",
            "p90 bp",
            "p99 bp",
            "size@thr p50",
            "size@thr max",
            "positive %",
        ]);
        for g in &self.groups {
            table.row(vec![
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
        table
    }

    fn hours_table(&self) -> Table {
        let mut table = Table::new(["hour", "n", "total s", "median s", "peak p50 bp", "p90 bp", "positive %"]);
        for h in self.by_hour.iter().filter(|h| h.count > 0) {
            table.row(vec![
                format!("{:02}", h.hour),
                h.count.to_string(),
                format!("{:.1}", h.total_duration_s),
                format!("{:.2}", h.median_duration_s),
                format!("{:.2}", h.peak_net_bp.p50),
                format!("{:.2}", h.peak_net_bp.p90),
                format!("{:.2}", h.positive_share * 100.0),
            ]);
        }
        table
    }

    fn health_table(&self) -> Table {
        let mut table = Table::new([
            "venue",
            "books",
            "updates",
            "gaps",
            "checksums ok",
            "checksums bad",
            "resyncs",
            "latency p50 ms",
            "p90 ms",
            "p99 ms",
        ]);
        for v in self.book_health.iter().flat_map(|h| &h.venues) {
            table.row(vec![
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
        table
    }

    fn funding_table(&self) -> Table {
        let mut table = Table::new([
            "pair",
            "long→short",
            "settlements long/short",
            "long paid bp",
            "short received bp",
            "carry bp",
        ]);
        for f in &self.realised_funding {
            table.row(vec![
                f.pair.clone(),
                format!("{}→{}", f.long_venue, f.short_venue),
                format!("{}/{}", f.long_settlements, f.short_settlements),
                format!("{:.3}", f.long_paid_bp),
                format!("{:.3}", f.short_received_bp),
                format!("{:.3}", f.carry_bp),
            ]);
        }
        table
    }
}
