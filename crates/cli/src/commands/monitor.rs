//! `perpspread monitor`: the main job — live executable spreads and opportunities.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use perpspread_capture::Rotation;
use perpspread_core::engine::{Engine, EngineConfig, OpportunityEvent};
use perpspread_core::spread::SizeTarget;
use perpspread_core::{Pair, VenueMap};
use perpspread_stream::{run_live_observed, Recorder, Signals};

use crate::config::{Config, MonitorConfig};
use crate::funding_refresh::FundingRefresh;
use crate::outputs::MonitorObserver;
use crate::venues::RestVenues;
use crate::UserError;

/// Flags of `perpspread monitor`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Args {
    /// Pairs to watch (base asset, pair or venue symbol), e.g. BTC,ETH,1000PEPEUSDT.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["top", "all"])]
    pub symbols: Vec<String>,
    /// Watch the N most liquid common pairs (default from config: 30).
    #[arg(long, conflicts_with = "all")]
    pub top: Option<usize>,
    /// Watch the whole common universe.
    #[arg(long)]
    pub all: bool,
    /// JSON lines of opportunity events on stdout (default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
    /// Also record every received frame to this capture file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Add the funding carry over the holding horizon to the net spread.
    #[arg(long)]
    pub include_funding: bool,
    /// Holding horizon of the funding carry, hours (default from config: funding.horizon_h = 24).
    #[arg(long, value_parser = parse_horizon)]
    pub horizon: Option<f64>,
    /// Stop after this many seconds (default: until Ctrl-C / SIGTERM / `q`).
    #[arg(long, value_parser = crate::commands::at_least_one)]
    pub duration_s: Option<u64>,
    /// Watch only shard i of n (1-based, e.g. 2/3): pairs are split by a stable hash so n processes cover
    /// the universe exactly once.
    #[arg(long)]
    pub shard: Option<perpspread_sinks::Shard>,
    #[command(flatten)]
    pub outputs: crate::outputs::OutputArgs,
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    super::check_symbols(&args.symbols)?;
    let interactive = !args.json && std::io::stdout().is_terminal();
    let recorder = match &args.record {
        Some(path) => Some(Recorder::create(path, Rotation::default()).map_err(|e| UserError(e.to_string()))?),
        None => None,
    };
    let venues = match &recorder {
        Some(recorder) => RestVenues::observed(config, Arc::new(recorder.clone()))?,
        None => RestVenues::from_config(config)?,
    };
    let mut universe = super::fetch_universe(&venues).await?;
    if let Some(shard) = &args.shard {
        universe.pairs.retain(|pair| shard.contains(&pair.key.to_string()));
    }
    let pairs = if args.all {
        universe.pairs.clone()
    } else {
        let top = args.top.unwrap_or(config.monitor.top);
        if top == 0 {
            return Err(UserError("--top must be at least 1".into()).into());
        }
        super::select_pairs(&venues, &universe, &args.symbols, top, Some("USDT")).await?
    };
    if pairs.is_empty() {
        return Err(UserError("no pair to monitor".into()).into());
    }
    let mut pairs = pairs;
    super::apply_account_fees(config, &venues, &mut pairs).await?;
    let mut engine = Engine::new(engine_config(config, &args), pairs.clone());
    load_funding(&venues, &pairs, &mut engine).await;
    let refresh = match config.funding.refresh_every() {
        Some(every) => Some(FundingRefresh::start(RestVenues::from_config(config)?, pairs.clone(), every)),
        None => None,
    };
    let mut signals = Signals::new(engine);
    let live = super::record::live_config(&pairs, venues, recorder.clone(), &config.monitor);
    // Stops on Ctrl-C, SIGTERM, `--duration-s`, or when whoever reads the JSON lines goes away (`| head`).
    let stdout_closed = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let (closed, limit) = (stdout_closed.clone(), args.duration_s.map(Duration::from_secs));
        async move {
            tokio::select! {
                () = super::shutdown_signal(limit) => {}
                () = closed.notified() => {}
            }
        }
    };
    let mut events: Vec<OpportunityEvent> = Vec::new();
    let mut outputs = crate::outputs::Outputs::start(&args.outputs).await?;
    outputs.watch_streams(&live.health);
    if let Some(recorder) = &recorder {
        outputs.watch_recording(recorder);
    }
    let final_state = if interactive {
        crate::tui::run(live, shutdown, signals, &mut outputs, refresh).await?
    } else {
        let mut out = std::io::stdout().lock();
        let observer = MonitorObserver::new(&mut signals, &mut outputs, |_, _, events| {
            if emit(&mut out, events).is_err() {
                stdout_closed.notify_one();
            }
        })
        .with_funding_refresh(refresh);
        let result = run_live_observed(live, shutdown, observer).await;
        signals.engine.shutdown(perpspread_net::rest::unix_ns(), &mut events);
        outputs.on_events(&events);
        let _ = emit(&mut out, &mut events);
        (result, signals)
    };
    let (live, signals) = final_state;
    outputs.finish().await?;
    if let Some(recorder) = &recorder {
        recorder.finish()?;
    }
    let stats = signals.engine.stats();
    eprintln!(
        "monitor stopped: {} messages, {} evaluations, {} opportunities opened, {} closed, {} resyncs requested, {} reconnects; min exchange→receive delay {}",
        live.stats.pipeline.messages,
        stats.evaluations,
        stats.opened,
        stats.closed,
        live.stats.pipeline.resync_requests,
        live.stats.disconnects.values().sum::<u64>(),
        crate::tui::delays_text(&VenueMap::from_fn(|venue| live.pipeline.clock(venue).min_delay_ms())),
    );
    Ok(())
}

/// Writes events as JSON lines and empties the buffer; an error when the output is gone (a closed pipe).
pub fn emit(out: &mut impl Write, events: &mut Vec<OpportunityEvent>) -> std::io::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let written = events
        .iter()
        .filter_map(|event| serde_json::to_string(event).ok())
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    events.clear();
    written
}

/// Engine settings from the config and flags.
pub fn engine_config(config: &Config, args: &Args) -> EngineConfig {
    let monitor: &MonitorConfig = &config.monitor;
    EngineConfig {
        fees: config.fee_model(),
        sizes: monitor.sizes_usd.iter().map(|s| SizeTarget::Quote(*s)).collect(),
        open_bp: monitor.open_threshold_bp,
        close_bp: monitor.close_threshold_bp,
        max_book_age_ns: monitor.max_book_age_ms.saturating_mul(1_000_000),
        max_latency_ms: monitor.max_latency_ms,
        update_interval_ns: monitor.update_interval_ms.saturating_mul(1_000_000),
        include_funding: monitor.include_funding || args.include_funding,
        funding_horizon_ms: match args.horizon {
            Some(hours) => (hours * 3_600_000.0).round() as u64,
            None => config.funding.horizon_ms(),
        },
    }
}

/// A holding horizon in hours: positive, at most a year.
pub(crate) fn parse_horizon(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(hours) if hours > 0.0 && hours <= 24.0 * 365.0 => Ok(hours),
        _ => Err(format!("{text:?} is not a horizon in hours between 0 and 8760")),
    }
}

/// Loads current funding of every leg (best effort: a failure only leaves the carry blank).
pub(crate) async fn load_funding(venues: &RestVenues, pairs: &[Pair], engine: &mut Engine) {
    let funding = super::scan::fetch_funding(venues, pairs).await;
    for (pair, leg, funding) in crate::funding_refresh::leg_updates(pairs, &funding) {
        engine.set_funding(pair, leg, funding);
    }
}
