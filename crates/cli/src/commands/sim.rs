//! `perpspread sim`: the local exchange simulator (and capture generation).

use std::path::PathBuf;
use std::time::Instant;

use perpspread_core::Venue;
use perpspread_sim::{CaptureOptions, Dislocation, FaultScenario, SimConfig, SimHandle};

use crate::UserError;

/// Flags of `perpspread sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Simulator scenario (TOML: seed, pairs, volatility, dislocations, limits, faults).
    #[arg(long = "sim-config")]
    sim_config: Option<PathBuf>,
    /// Seed of the market model (same seed, same market).
    #[arg(long)]
    seed: Option<u64>,
    /// Fault scenario (TOML `[[fault]]` tables with `at_ms` and `kind`).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Ports on 127.0.0.1 (0 = pick a free port); unset: the `--sim-config` file's, else free ones.
    #[arg(long)]
    okx_rest_port: Option<u16>,
    #[arg(long)]
    okx_ws_port: Option<u16>,
    #[arg(long)]
    binance_rest_port: Option<u16>,
    #[arg(long)]
    binance_ws_port: Option<u16>,
    #[arg(long)]
    bybit_rest_port: Option<u16>,
    #[arg(long)]
    bybit_ws_port: Option<u16>,
    /// Append the ground truth of every dislocation (JSON lines) to this file.
    #[arg(long)]
    ground_truth: Option<PathBuf>,
    /// Append every injected fault (JSON lines) to this file.
    #[arg(long)]
    fault_log: Option<PathBuf>,
    /// Write a capture file instead of serving (`.jsonl`).
    #[arg(long)]
    generate_capture: Option<PathBuf>,
    /// Records to generate.
    #[arg(long, default_value_t = 100_000, requires = "generate_capture")]
    messages: u64,
    /// Pairs in the generated capture.
    #[arg(long, default_value_t = 5, requires = "generate_capture")]
    instruments: usize,
    /// Model step of the generated capture, ms (one update per book per step; smaller steps mean fewer
    /// changed levels per update).
    #[arg(long, default_value_t = 100, requires = "generate_capture")]
    tick_ms: u64,
    /// Also write Binance `@bookTicker` events into the generated capture.
    #[arg(long, requires = "generate_capture")]
    book_ticker: bool,
    /// Also write every instrument's funding (OKX `funding-rate`, Binance `@markPrice@1s`, and with `--bybit`
    /// Bybit `tickers`) into the generated capture every N model steps.
    #[arg(long, requires = "generate_capture")]
    funding_every_steps: Option<u64>,
    /// Also write Bybit into the generated capture (its instrument list, books and deltas): three venues.
    #[arg(long, requires = "generate_capture")]
    bybit: bool,
    /// Funding time runs this many times faster than the market (e.g. 3600: an hour a second), so a capture or
    /// a test crosses settlements quickly (default from the scenario: funding_clock_speed = 1).
    #[arg(long)]
    funding_clock_speed: Option<u64>,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = match &args.sim_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UserError(format!("cannot read simulator config {}: {e}", path.display())))?;
            SimConfig::from_toml(&text).map_err(|e| UserError(e.to_string()))?
        }
        None => SimConfig::default(),
    };
    if let Some(speed) = args.funding_clock_speed {
        if speed == 0 {
            return Err(UserError("--funding-clock-speed must be at least 1".into()).into());
        }
        config.funding_clock_speed = speed;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(path) = &args.generate_capture {
        if args.messages == 0 || args.instruments == 0 || args.tick_ms == 0 {
            return Err(UserError("--messages, --instruments and --tick-ms must be positive".into()).into());
        }
        if path.exists() {
            return Err(UserError(format!(
                "{} already exists: a capture is never overwritten; choose another file name or remove it",
                path.display()
            ))
            .into());
        }
        let started = Instant::now();
        let options = CaptureOptions {
            messages: args.messages,
            instruments: args.instruments,
            seed: config.seed,
            tick_ms: args.tick_ms,
            book_ticker: args.book_ticker,
            funding_every_steps: args.funding_every_steps.filter(|n| *n > 0),
            funding_clock_speed: config.funding_clock_speed,
            bybit: args.bybit,
        };
        let path = path.clone();
        let stats = tokio::task::spawn_blocking(move || perpspread_sim::generate_capture(&path, &options))
            .await?
            .map_err(|e| UserError(e.to_string()))?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "wrote {} records ({} model steps, {:.1} MB, {:.1} changed levels per book update) in {secs:.2} s \
             ({:.0} records/s)",
            stats.records,
            stats.steps,
            stats.bytes as f64 / 1e6,
            stats.mean_changed_levels(),
            stats.records as f64 / secs.max(1e-9)
        );
        return Ok(());
    }
    if let Some(path) = &args.scenario {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UserError(format!("cannot read fault scenario {}: {e}", path.display())))?;
        let scenario = FaultScenario::from_toml(&text).map_err(|e| UserError(e.to_string()))?;
        config.faults.extend(scenario.faults);
    }
    // A port flag overrides the scenario file's port; an absent one keeps it.
    for (flag, port) in [
        (args.okx_rest_port, &mut config.okx_rest_port),
        (args.okx_ws_port, &mut config.okx_ws_port),
        (args.binance_rest_port, &mut config.binance_rest_port),
        (args.binance_ws_port, &mut config.binance_ws_port),
        (args.bybit_rest_port, &mut config.bybit_rest_port),
        (args.bybit_ws_port, &mut config.bybit_ws_port),
    ] {
        if let Some(flag) = flag {
            *port = flag;
        }
    }
    config.ground_truth_log = args.ground_truth.or(config.ground_truth_log);
    config.fault_log = args.fault_log.or(config.fault_log);
    let sim = perpspread_sim::start(config).await.map_err(|e| UserError(e.to_string()))?;
    println!("perpspread simulator running; point perpspread at it with:");
    println!("  {}", endpoint_flags(&sim));
    println!(
        "inject faults with: curl -X POST {}/_sim/fault -d '{{\"kind\":\"stall\",\"venue\":\"{}\",\"duration_ms\":5000}}'",
        sim.endpoints(Venue::ALL[0]).map(|(rest, _)| rest).unwrap_or_default(),
        Venue::ALL[0]
    );
    println!("Ctrl-C to stop.");
    super::shutdown_signal(None).await;
    sim.shutdown().await;
    Ok(())
}

/// The command-line flags that point perpspread at a running simulator.
pub(crate) fn endpoint_flags(sim: &SimHandle) -> String {
    Venue::ALL
        .into_iter()
        .filter_map(|venue| {
            let (rest, ws) = sim.endpoints(venue)?;
            Some(format!("--rest {venue}={rest} --ws {venue}={ws}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Points every configured venue of `config` at the simulator (a venue the simulator does not serve is dropped).
pub(crate) fn point_at(config: &mut crate::config::Config, sim: &SimHandle) {
    config.venues.retain(|name, _| name.parse::<Venue>().ok().and_then(|v| sim.endpoints(v)).is_some());
    for venue in Venue::ALL {
        if let (Some(settings), Some(endpoints)) = (config.venues.get_mut(venue.as_str()), sim.endpoints(venue)) {
            (settings.rest_url, settings.ws_url) = endpoints;
        }
    }
}

/// A schedule of dislocations: every `every_ms`, one pair in turn, between each two venues listing it in turn
/// (both directions), sizes from `min_bp` upward, lasting 1.5–4 s.
pub(crate) fn dislocation_schedule(config: &SimConfig, count: usize, every_ms: u64, min_bp: f64) -> Vec<Dislocation> {
    let pairs: Vec<_> = config.pairs.iter().filter(|p| p.is_cross_listed()).collect();
    (0..count)
        .map(|i| {
            let pair = pairs[i % pairs.len()];
            let venues: Vec<Venue> = Venue::ALL.into_iter().filter(|v| pair.lists(*v)).collect();
            let round = i / pairs.len();
            let (buy, sell) = (venues[round % venues.len()], venues[(round + 1) % venues.len()]);
            Dislocation {
                base: pair.base.clone(),
                quote: pair.quote.clone(),
                buy_venue: buy,
                sell_on: Some(sell),
                size_bp: min_bp + (i % 4) as f64 * 5.0,
                start_ms: 3_000 + i as u64 * every_ms,
                duration_ms: 1_500 + (i % 6) as u64 * 500,
            }
        })
        .collect()
}
