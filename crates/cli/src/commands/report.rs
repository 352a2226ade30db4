//! `perpspread report`: trader statistics from captures (replayed through the engine) or opportunity files.

use std::io::Write;
use std::path::PathBuf;

use perpspread_report::replay::{report_from_captures, CaptureReport};
use perpspread_report::{Report, ReportOptions};

use crate::config::Config;
use crate::UserError;

/// Flags of `perpspread report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture files (`.jsonl`, `.jsonl.zst`; the parts of a rotated recording are replayed as one) or
    /// opportunity files written by `monitor --out-dir` (`opportunities-*.parquet` / `.csv`, with the
    /// `spreads-*.parquet` of the same run for the positive-net share and the spread charts).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Split each pair and direction by evaluated size.
    #[arg(long)]
    by_size: bool,
    /// Also write PNG charts into this directory: from captures, per pair the best net spread of each direction
    /// over time (min/max bands, open threshold, opportunities shaded, funding carry below), latency per venue,
    /// book health over time and durations; from opportunity files, the sampled spread of `spreads-*` files
    /// (else each opportunity's peak) and durations.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also write one self-contained HTML page (the tables and every chart, no network needed to view it).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Reaction latencies in ms, e.g. `10,50,100,250`: for each opportunity of the captures, what a trader
    /// reacting that long after it opened would have found (net at its size, still at the threshold, still
    /// open), per pair, direction and size and overall. Captures only.
    #[arg(long, value_delimiter = ',', value_parser = latency_ms)]
    latency: Vec<u64>,
}

/// A reaction latency: whole milliseconds, at most one hour.
fn latency_ms(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(ms) if ms <= 3_600_000 => Ok(ms),
        Ok(_) => Err("at most 3600000 ms (one hour)".into()),
        Err(_) => Err(format!("{text:?} is not a whole number of milliseconds")),
    }
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
    let mut latencies = args.latency.clone();
    latencies.sort_unstable();
    latencies.dedup();
    let charts_wanted = args.plot.is_some() || args.html.is_some();
    let options =
        ReportOptions { by_size: args.by_size, span_ns: None, latencies_ms: latencies, timelines: charts_wanted };
    let (captures, tables): (Vec<PathBuf>, Vec<PathBuf>) = args.files.iter().cloned().partition(|p| is_capture(p));
    if !captures.is_empty() && !tables.is_empty() {
        return Err(UserError("give either capture files or opportunity files, not both".into()).into());
    }
    if captures.is_empty() && !options.latencies_ms.is_empty() {
        return Err(UserError(
            "--latency needs captures (the books are replayed to see what each opportunity still offered); \
             opportunity files hold no books"
                .into(),
        )
        .into());
    }
    if captures.is_empty() && tables.iter().all(|p| perpspread_report::is_spreads_file(p)) {
        return Err(UserError(
            "spreads-* files hold spread snapshots, not opportunities: give the opportunities-* files too (the \
             spreads files then add the share of time with a positive net)"
                .into(),
        )
        .into());
    }
    let engine = crate::commands::monitor::engine_config(config, &crate::commands::monitor::Args::default());
    let source = args.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    // The opportunities and timelines of replayed captures, kept for the charts.
    let (report, replayed) = if captures.is_empty() {
        (Report::from_files(&tables, &options).map_err(|e| UserError(e.to_string()))?, None)
    } else {
        let replayed = tokio::task::spawn_blocking(move || report_from_captures(&captures, &engine, &options)).await?;
        let CaptureReport { report, records, warnings, timelines } = replayed.map_err(|e| UserError(e.to_string()))?;
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
        (report, Some((records, timelines.unwrap_or_default())))
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", report.render_text())?;
    }
    if !charts_wanted {
        return Ok(());
    }
    let plot_options = Default::default();
    let charts = match replayed {
        Some((records, timelines)) => perpspread_report::plot::replay_charts(&timelines, &records, &plot_options),
        None => {
            // Spread snapshots (`spreads-*.parquet`) given alongside are charted as the spread over time.
            let (spreads, opportunities): (Vec<&std::path::Path>, Vec<&std::path::Path>) =
                tables.iter().map(PathBuf::as_path).partition(|p| perpspread_report::is_spreads_file(p));
            let records = perpspread_report::read_records(&opportunities).map_err(|e| UserError(e.to_string()))?;
            let mut snapshots = Vec::new();
            for path in spreads {
                let rows =
                    perpspread_sinks::files::read_snapshots_parquet(path).map_err(|e| UserError(e.to_string()))?;
                snapshots.extend(rows);
            }
            let snapshots = (!snapshots.is_empty()).then_some(snapshots.as_slice());
            perpspread_report::plot::file_charts(&records, snapshots, &plot_options)
        }
    }
    .map_err(|e| UserError(e.to_string()))?;
    if let Some(dir) = &args.plot {
        let written = perpspread_report::plot::write_charts(dir, &charts).map_err(|e| UserError(e.to_string()))?;
        match written.len() {
            0 => eprintln!("nothing to chart: nothing written to {}", dir.display()),
            n => eprintln!("{n} chart{} written to {}", if n == 1 { "" } else { "s" }, dir.display()),
        }
    }
    if let Some(path) = &args.html {
        let page = perpspread_report::html::html_report(&report, &charts, &source);
        std::fs::write(path, page).map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "report with {} chart{} written to {}",
            charts.len(),
            if charts.len() == 1 { "" } else { "s" },
            path.display()
        );
    }
    Ok(())
}
