//! `perpspread report`: trader statistics from captures (replayed through the engine) or opportunity files.

use std::io::Write;
use std::path::PathBuf;

use perpspread_core::engine::EventKind;
use perpspread_core::Venue;
use perpspread_sinks::report::HealthCollector;
use perpspread_sinks::settled::SettledFunding;
use perpspread_sinks::{OpportunityRecord, Report, ReportOptions};
use perpspread_stream::{replay_with, ReplayOptions};

use crate::config::Config;
use crate::UserError;

/// Flags of `perpspread report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files (`.jsonl`, `.jsonl.zst`; the parts of a rotated recording are replayed as one) or
    /// opportunity files written by `monitor --out-dir` (`opportunities-*.parquet` / `.csv`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Split each pair and direction by evaluated size.
    #[arg(long)]
    by_size: bool,
    /// Also write PNG charts (spread over time per pair, duration histogram) into this directory.
    #[arg(long)]
    plot: Option<PathBuf>,
}

fn is_capture(path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.ends_with(".jsonl") || name.ends_with(".jsonl.zst")
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    for file in &args.files {
        super::require_file(file, "input")?;
    }
    let options = ReportOptions { by_size: args.by_size, span_ns: None };
    let (captures, tables): (Vec<PathBuf>, Vec<PathBuf>) = args.files.iter().cloned().partition(|p| is_capture(p));
    if !captures.is_empty() && !tables.is_empty() {
        return Err(UserError("give either capture files or opportunity files, not both".into()).into());
    }
    if captures.is_empty() && tables.iter().all(|p| perpspread_sinks::report::is_spreads_file(p)) {
        return Err(UserError(
            "spreads-* files hold spread snapshots, not opportunities: give the opportunities-* files too (the \
             spreads files then add the share of time with a positive net)"
                .into(),
        )
        .into());
    }
    let engine = crate::commands::monitor::engine_config(config, &crate::commands::monitor::Args::default());
    // The opportunities of replayed captures, kept for the charts.
    let (report, replayed) = if captures.is_empty() {
        (Report::from_files(&tables, &options).map_err(|e| UserError(e.to_string()))?, None)
    } else {
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Report, Option<Vec<OpportunityRecord>>)> {
            let mut events = Vec::new();
            let mut health = HealthCollector::default();
            let mut settled = SettledFunding::new();
            let mut realised = Vec::new();
            let mut finals = Vec::new();
            for parts in perpspread_capture::group_parts(&captures) {
                let capture = &parts[0];
                let replay_options = ReplayOptions { engine: Some(engine.clone()), ..ReplayOptions::default() };
                let (replayed, pipeline) = replay_with(&parts, &replay_options, |pipeline, venue| {
                    health.on_events(venue, pipeline.feed(venue), pipeline.last_events());
                    settled.on_events(venue, pipeline.feed(venue), pipeline.last_events());
                })
                .map_err(|e| UserError(e.to_string()))?;
                if replayed.is_empty() {
                    return Err(UserError(format!(
                        "{}: the capture is empty (no record to replay)",
                        capture.display()
                    ))
                    .into());
                }
                match &replayed.error {
                    Some(error) if replayed.cut_short => eprintln!("warning: {error}"),
                    // The statistics still cover what was readable; say that the rest is missing.
                    Some(error) => {
                        eprintln!("warning: {} is damaged, reported up to the damage: {error}", capture.display())
                    }
                    None => {}
                }
                if replayed.pairs.is_none() {
                    eprintln!(
                        "warning: {} holds no instrument lists of both venues: no opportunities",
                        capture.display()
                    );
                }
                realised.extend(settled.realised(&replayed.pair_list));
                settled = SettledFunding::new();
                events.extend(
                    replayed.opportunities.unwrap_or_default().into_iter().filter(|e| e.event == EventKind::Closed),
                );
                finals.push(pipeline);
            }
            let feeds: Vec<&dyn perpspread_core::feed::Feed> =
                finals.iter().flat_map(|p| Venue::ALL.map(|v| p.feed(v))).collect();
            let records: Vec<OpportunityRecord> =
                events.iter().filter_map(OpportunityRecord::from_closed_event).collect();
            let report = Report::from_records(&records, None, &options)
                .with_book_health(health.finish(&feeds))
                .with_realised_funding(realised);
            Ok((report, Some(records)))
        })
        .await??
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", report.render_text())?;
    }
    if let Some(dir) = &args.plot {
        let records = match replayed {
            Some(records) => records,
            None => {
                let tables: Vec<&std::path::Path> = tables.iter().map(PathBuf::as_path).collect();
                perpspread_sinks::report::read_records(&tables).map_err(|e| UserError(e.to_string()))?
            }
        };
        let written = perpspread_sinks::plot::write_plots(dir, &records, None, &Default::default())
            .map_err(|e| UserError(e.to_string()))?;
        match written.len() {
            0 => eprintln!("no opportunity to chart: nothing written to {}", dir.display()),
            n => eprintln!("{n} chart{} written to {}", if n == 1 { "" } else { "s" }, dir.display()),
        }
    }
    Ok(())
}
