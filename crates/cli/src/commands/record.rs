//! `perpspread record`: stream live books and write every frame to a capture file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use perpspread_capture::Rotation;
use perpspread_core::{legs_on, Pair};
use perpspread_stream::{run_live, LiveConfig, LiveVenue, Recorder};

use crate::config::{Config, MonitorConfig};
use crate::venues::RestVenues;
use crate::UserError;

/// Flags of `perpspread record`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture file to write (`.jsonl`, or `.jsonl.zst` for zstd).
    #[arg(long)]
    out: PathBuf,
    /// Pairs to record (base asset, pair or venue symbol); default: the most liquid `--top` pairs.
    #[arg(long, value_delimiter = ',', conflicts_with = "top")]
    symbols: Vec<String>,
    /// Record the N most liquid common pairs.
    #[arg(long, default_value_t = 30)]
    top: usize,
    /// Stop after this many seconds (default: until Ctrl-C / SIGTERM).
    #[arg(long, value_parser = crate::commands::at_least_one)]
    duration_s: Option<u64>,
    /// Start a new file after this many MB (uncompressed).
    #[arg(long)]
    rotate_mb: Option<u64>,
    /// Start a new file after this many minutes.
    #[arg(long)]
    rotate_minutes: Option<u64>,
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    super::check_symbols(&args.symbols)?;
    if args.top == 0 {
        return Err(UserError("--top must be at least 1".into()).into());
    }
    if args.rotate_mb == Some(0) || args.rotate_minutes == Some(0) {
        return Err(UserError("--rotate-mb and --rotate-minutes must be at least 1".into()).into());
    }
    let rotation = Rotation {
        max_bytes: args.rotate_mb.map(|mb| mb.saturating_mul(1 << 20)),
        max_age: args.rotate_minutes.map(|m| Duration::from_secs(m.saturating_mul(60))),
    };
    let recorder = Recorder::create(&args.out, rotation).map_err(|e| UserError(e.to_string()))?;
    let venues = RestVenues::observed(config, Arc::new(recorder.clone()))?;
    let universe = super::fetch_universe(&venues).await?;
    let pairs = super::select_pairs(&venues, &universe, &args.symbols, args.top, Some("USDT")).await?;
    let live = live_config(&pairs, venues, Some(recorder.clone()), &config.monitor);
    tracing::info!(pairs = pairs.len(), out = %args.out.display(), "recording");
    // A recording that cannot be written (a full disk) ends the command: there is no point streaming on.
    let stop = {
        let recorder = recorder.clone();
        async move {
            tokio::select! {
                () = super::shutdown_signal(args.duration_s.map(Duration::from_secs)) => {}
                () = recorder.failed() => {}
            }
        }
    };
    let result = run_live(live, stop, |_, _, _, _| {}).await;
    if let Some(failure) = recorder.failure() {
        anyhow::bail!("{} not complete: {failure}", args.out.display());
    }
    let records = recorder.finish()?;
    eprintln!(
        "recorded {records} records from {} pairs to {} ({} messages, {} resyncs requested, {} reconnects)",
        pairs.len(),
        args.out.display(),
        result.stats.pipeline.messages,
        result.stats.pipeline.resync_requests,
        result.stats.disconnects.values().sum::<u64>()
    );
    Ok(())
}

/// Live streaming settings for `pairs` from the configuration: every enabled venue as its adapter streams it,
/// with its REST client for book snapshots.
pub(crate) fn live_config(
    pairs: &[Pair],
    venues: RestVenues,
    recorder: Option<Recorder>,
    channels: &MonitorConfig,
) -> LiveConfig {
    let mut live = LiveConfig::new();
    for handle in venues.iter() {
        let venue = handle.venue();
        let symbols: Vec<String> = legs_on(pairs, venue).into_iter().map(|i| i.symbol.clone()).collect();
        if symbols.is_empty() {
            continue;
        }
        live.venues.push(LiveVenue::new(handle.adapter, &handle.settings, symbols).with_snapshots(handle.rest.clone()));
    }
    live.silence_timeout = Duration::from_secs(channels.silence_timeout_s);
    live.recorder = recorder;
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::health::StreamKind;
    use perpspread_core::Venue;

    /// What `monitor` and `record` stream with the embedded configuration: Binance books on `/public` and
    /// funding on `/market` of the configured base, OKX books and funding on one route; every book has a REST
    /// snapshot source.
    #[test]
    fn the_products_live_configuration_routes_each_stream() {
        let config = Config::load(None).unwrap();
        let venues = RestVenues::from_config(&config).unwrap();
        let pair = perpspread_core::testkit::okx_binance_pair("BTC");
        let live = live_config(&[pair], venues, None, &config.monitor);
        let binance = live.venues.iter().find(|v| v.venue == Venue::Binance).unwrap();
        let routes: Vec<(String, Vec<StreamKind>)> =
            binance.routes.iter().map(|r| (r.url(), r.stream_kinds())).collect();
        assert_eq!(
            routes,
            [
                ("wss://fstream.binance.com/public/stream".to_owned(), vec![StreamKind::Book]),
                ("wss://fstream.binance.com/market/stream".to_owned(), vec![StreamKind::Funding]),
            ]
        );
        let okx = live.venues.iter().find(|v| v.venue == Venue::Okx).unwrap();
        assert_eq!(okx.routes.len(), 1);
        assert_eq!(okx.routes[0].stream_kinds(), [StreamKind::Book, StreamKind::Funding]);
        assert!(live.venues.iter().all(|v| v.snapshots.is_some()));
        assert_eq!(live.silence_timeout, Duration::from_secs(30));
    }
}
