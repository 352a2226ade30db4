//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod funding;
pub mod import;
pub mod instruments;
pub mod monitor;
pub mod record;
pub mod replay;
pub mod report;
pub mod scan;
pub mod sim;
pub mod tail;

use std::collections::HashMap;

use perpspread_core::{legs_on, Instrument, Pair, Universe, Venue};

use crate::venues::RestVenues;
use crate::UserError;

/// Checks that an input file exists and is a regular file; `what` names it in the error.
pub(crate) fn require_file(path: &std::path::Path, what: &str) -> Result<(), UserError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.is_dir() => {
            Err(UserError(format!("cannot read {what} {}: it is a directory, not a file", path.display())))
        }
        Ok(_) => Err(UserError(format!("cannot read {what} {}: not a regular file", path.display()))),
        Err(error) => Err(UserError(format!("cannot read {what} {}: {error}", path.display()))),
    }
}

/// Flag value parser for counts and durations that must be at least 1.
pub(crate) fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

/// Fetches every venue's instrument list concurrently and pairs them.
pub(crate) async fn fetch_universe(venues: &RestVenues) -> anyhow::Result<Universe> {
    let listings = futures::future::try_join_all(venues.iter().map(|v| v.rest.instruments())).await?;
    let (mut instruments, mut skipped) = (Vec::new(), Vec::new());
    for listing in listings {
        instruments.extend(listing.instruments);
        skipped.extend(listing.skipped);
    }
    Ok(Universe::build(instruments, skipped))
}

/// The pairs named on the command line, or the `top` most liquid ones (quoted in `quote`, if given).
/// A `--symbols` given but naming nothing (`''`, `,,,`) is a mistake, not "everything" or "nothing".
pub(crate) fn check_symbols(symbols: &[String]) -> Result<(), UserError> {
    if !symbols.is_empty() && symbols.iter().all(|s| s.trim().is_empty()) {
        return Err(UserError("no symbols: --symbols lists none (e.g. --symbols BTC,ETH)".into()));
    }
    Ok(())
}

async fn select_pairs(
    venues: &RestVenues,
    universe: &Universe,
    symbols: &[String],
    top: usize,
    quote: Option<&str>,
) -> anyhow::Result<Vec<Pair>> {
    if !symbols.is_empty() {
        check_symbols(symbols)?;
        let mut pairs = Vec::new();
        let mut unknown = Vec::new();
        for symbol in symbols.iter().filter(|s| !s.trim().is_empty()) {
            let mut found = false;
            for pair in universe.find_all(symbol) {
                found = true;
                if !pairs.contains(pair) {
                    pairs.push(pair.clone());
                }
            }
            if !found {
                unknown.push(symbol.as_str());
            }
        }
        if !unknown.is_empty() {
            return Err(UserError(format!(
                "unknown symbol(s) {}: not a pair listed on two venues (see `perpspread instruments --all`)",
                unknown.join(", ")
            ))
            .into());
        }
        return Ok(pairs);
    }
    let activity = futures::future::join_all(venues.iter().map(|v| v.rest.activity())).await;
    let volumes: HashMap<Venue, HashMap<String, f64>> = venues
        .iter()
        .map(|v| v.venue())
        .zip(activity)
        .map(|(venue, result)| {
            let map = result
                .map_err(|e| tracing::warn!("24 h volumes unavailable: {e}"))
                .unwrap_or_default()
                .into_iter()
                .map(|(symbol, activity)| (symbol, activity.quote_volume_24h))
                .collect();
            (venue, map)
        })
        .collect();
    Ok(rank_by_liquidity(universe, &volumes, top, quote))
}

/// Pairs ordered by the smaller of their two venues' 24 h quote volumes (the thinner venue bounds the
/// arbitrage), most liquid first; ties and unknown volumes fall back to alphabetical order.
pub(crate) fn rank_by_liquidity(
    universe: &Universe,
    volumes: &HashMap<Venue, HashMap<String, f64>>,
    top: usize,
    quote: Option<&str>,
) -> Vec<Pair> {
    let volume = |leg: &Instrument| volumes.get(&leg.venue).and_then(|m| m.get(&leg.symbol)).copied().unwrap_or(0.0);
    let mut ranked: Vec<(f64, &Pair)> = universe
        .pairs
        .iter()
        .filter(|pair| quote.is_none_or(|q| pair.key.quote == q))
        .map(|pair| (pair.legs.iter().map(volume).fold(f64::INFINITY, f64::min), pair))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
    ranked.into_iter().take(top).map(|(_, pair)| pair.clone()).collect()
}

/// Completes on Ctrl-C, SIGTERM, or after `limit`.
pub(crate) async fn shutdown_signal(limit: Option<std::time::Duration>) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let timer = async {
        match limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
        _ = timer => {}
    }
}

/// With API keys, reads the account's taker fees into each watched instrument (each venue's adapter knows how:
/// OKX per fee group, Binance per symbol). Instruments without a rate keep the configured fee.
pub(crate) async fn apply_account_fees(
    config: &crate::config::Config,
    venues: &RestVenues,
    pairs: &mut [Pair],
) -> anyhow::Result<()> {
    use perpspread_net::auth::VenueCredentials;
    let credentials = VenueCredentials::load(|k| std::env::var(k).ok(), config.keys_file.as_deref())
        .map_err(|e| UserError(e.to_string()))?;
    for handle in venues.iter() {
        let venue = handle.venue();
        let Some(keys) = credentials.get(venue) else { continue };
        let instruments: Vec<Instrument> = legs_on(pairs, venue).into_iter().cloned().collect();
        let configured = config.venue(venue).map_or(0.0, |v| v.taker_fee_bp);
        match handle.rest.account_taker_fees(keys, &instruments).await {
            Ok(rates) => {
                for leg in pairs.iter_mut().flat_map(|p| p.legs.iter_mut()).filter(|l| l.venue == venue) {
                    leg.taker_fee_bp = rates.get(&leg.symbol).copied();
                }
            }
            Err(error) => tracing::warn!("{venue} account fees unavailable, keeping {configured} bp: {error}"),
        }
    }
    Ok(())
}
