//! `perpspread replay`: feed a capture through the same parsers, books and checks as live.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use perpspread_stream::{replay, ReplayOptions, Speed};

use crate::UserError;
use perpspread_sinks::table::Table;

/// Flags of `perpspread replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture file (capture format v1, `.jsonl` or `.jsonl.zst`), or every part of one rotated recording
    /// (`rec.jsonl rec.0001.jsonl …`, in any order, e.g. `rec*.jsonl`), replayed as one.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Pace: `max` (as fast as possible), `1x` (recorded pace), `10x`, `0.5x` …
    #[arg(long, default_value = "max")]
    speed: Speed,
    /// Print one JSON object with the final report.
    #[arg(long)]
    json: bool,
}

/// Runs the command (the engine uses the `[monitor]` and fee settings of `config`).
pub async fn run(config: &crate::config::Config, args: Args) -> anyhow::Result<()> {
    for file in &args.files {
        super::require_file(file, "capture")?;
    }
    let mut recordings = perpspread_capture::group_parts(&args.files);
    if recordings.len() > 1 {
        let firsts: Vec<String> = recordings.iter().map(|parts| parts[0].display().to_string()).collect();
        return Err(UserError(format!(
            "{} are not parts of one recording (a part is named like rec.0001.jsonl next to rec.jsonl); replay \
             one recording at a time, or use `perpspread report` for several",
            firsts.join(", ")
        ))
        .into());
    }
    let parts = recordings.pop().unwrap_or_default();
    let started = Instant::now();
    let monitor_args = crate::commands::monitor::Args::default();
    let options = ReplayOptions {
        speed: args.speed,
        engine: Some(crate::commands::monitor::engine_config(config, &monitor_args)),
    };
    let names = parts.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    let report =
        tokio::task::spawn_blocking(move || replay(&parts, &options)).await?.map_err(|e| UserError(e.to_string()))?;
    if report.is_empty() {
        return Err(UserError(format!("{names}: the capture is empty (no record to replay)")).into());
    }
    let elapsed = started.elapsed();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        let mut table = Table::new([
            "VENUE",
            "INSTRUMENT",
            "STATE",
            "UPDATES",
            "CHECKSUMS OK",
            "CHECKSUM 0",
            "CHECKSUM FAIL",
            "GAPS",
            "RESYNCS",
            "BEST BID",
            "BEST ASK",
        ]);
        for book in &report.books {
            table.row(vec![
                book.venue.to_string(),
                book.instrument.clone(),
                book.state.as_str().to_owned(),
                book.updates_applied.to_string(),
                book.checksums_verified.to_string(),
                book.checksums_absent.to_string(),
                book.checksum_failures.to_string(),
                book.sequence_gaps.to_string(),
                book.resyncs.to_string(),
                book.best_bid.clone().unwrap_or_else(|| "-".into()),
                book.best_ask.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        write!(out, "{}", table.render())?;
        let s = report.stats;
        writeln!(
            out,
            "{} messages ({} book messages) in {:.3} s ({:.0} book msg/s); malformed {}, unknown {}, venue errors {}, \
             resync requests {}",
            report.stats.messages,
            report.stats.book_messages,
            elapsed.as_secs_f64(),
            report.stats.book_messages as f64 / elapsed.as_secs_f64().max(1e-9),
            s.malformed,
            s.unknown,
            s.venue_errors,
            s.resync_requests
        )?;
    }
    if !args.json {
        match (&report.opportunities, report.pairs) {
            (Some(opportunities), Some(pairs)) => {
                writeln!(
                    out,
                    "engine: {pairs} pairs from the capture's instrument lists, {} opportunities:",
                    opportunities.len()
                )?;
                for event in opportunities {
                    let o = &event.opportunity;
                    writeln!(
                        out,
                        "  #{} {} {} lasted {:.1} s, peak {:.2} bp net, mean {:.2} bp, max {:.0} {} at threshold ({})",
                        o.id,
                        o.pair,
                        o.direction,
                        o.duration_ms / 1000.0,
                        o.peak_net_bp,
                        o.mean_net_bp,
                        o.max_size_quote,
                        o.quote_currency(),
                        o.close_reason.map_or_else(|| "open".to_owned(), |reason| reason.to_string())
                    )?;
                }
            }
            _ => writeln!(out, "engine: the capture holds no instrument lists of two venues, so no pairs to evaluate")?,
        }
    }
    if let Some(error) = &report.error {
        out.flush()?;
        if report.cut_short {
            // A killed recording: what it holds is whole, so this is a finished replay, not a failure.
            eprintln!("warning: {error}");
            return Ok(());
        }
        return Err(UserError(format!("capture damaged, replayed up to the damage: {error}")).into());
    }
    Ok(())
}
