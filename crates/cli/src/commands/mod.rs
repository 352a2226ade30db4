//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod funding;
pub mod instruments;
pub mod monitor;
pub mod record;
pub mod replay;
pub mod report;
pub mod scan;
pub mod sim;
pub mod tail;

use std::collections::HashMap;

use perpspread_core::{Instrument, Pair, Universe, Venue};
use perpspread_net::MarketRest;

use crate::venues::RestVenues;
use crate::UserError;

/// Checks that an input file exists and is a regular file; `what` names it in the error.
pub fn require_file(path: &std::path::Path, what: &str) -> Result<(), UserError> {
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
pub fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

/// Fetches both venues' instrument lists concurrently and pairs them.
pub async fn fetch_universe(venues: &RestVenues) -> anyhow::Result<Universe> {
    let (okx, binance) = tokio::try_join!(venues.okx.instruments(), venues.binance.instruments())?;
    let instruments = okx.instruments.into_iter().chain(binance.instruments).collect();
    let skipped = okx.skipped.into_iter().chain(binance.skipped).collect();
    Ok(Universe::build(instruments, skipped))
}

/// The pairs named on the command line, or the `top` most liquid ones (quoted in `quote`, if given).
/// A `--symbols` given but naming nothing (`''`, `,,,`) is a mistake, not "everything" or "nothing".
pub fn check_symbols(symbols: &[String]) -> Result<(), UserError> {
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
    let (okx, binance) = tokio::join!(venues.okx.activity(), venues.binance.activity());
    let volumes: HashMap<Venue, HashMap<String, f64>> = [(Venue::Okx, okx), (Venue::Binance, binance)]
        .into_iter()
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
pub fn rank_by_liquidity(
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
pub async fn shutdown_signal(limit: Option<std::time::Duration>) {
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

/// Binance symbols whose commission is read one by one (weight 20 each, from the 2400-a-minute budget);
/// the others take the rate most of those have.
const COMMISSION_LOOKUPS: usize = 40;

/// With API keys, reads the account's taker fees into each watched instrument: OKX per fee group
/// (`feeGroup` by `groupId`, the deprecated account-wide rate as fallback), Binance per symbol. Instruments
/// without a rate keep the configured fee, and the log says which and how many.
pub async fn apply_account_fees(
    config: &crate::config::Config,
    venues: &RestVenues,
    pairs: &mut [Pair],
) -> anyhow::Result<()> {
    use perpspread_net::auth::VenueCredentials;
    let credentials = VenueCredentials::load(|k| std::env::var(k).ok(), config.keys_file.as_deref())
        .map_err(|e| UserError(e.to_string()))?;
    if let Some(okx) = &credentials.okx {
        match venues.okx.swap_fees(okx).await {
            Ok(fees) => {
                let (mut by_group, mut by_account, mut configured) = (0, 0, 0);
                for leg in pairs.iter_mut().flat_map(|p| p.legs.iter_mut()).filter(|l| l.venue == Venue::Okx) {
                    let grouped = fees.groups.iter().any(|g| Some(g.group_id.as_str()) == leg.fee_group.as_deref());
                    match fees.taker_bp(leg.fee_group.as_deref(), leg.settle == "USDC") {
                        Some(bp) if grouped => (leg.taker_fee_bp, by_group) = (Some(bp), by_group + 1),
                        Some(bp) => (leg.taker_fee_bp, by_account) = (Some(bp), by_account + 1),
                        None => configured += 1,
                    }
                }
                tracing::info!(
                    "OKX account taker fees: {by_group} instruments by fee group, {by_account} by the deprecated account-wide rate, {configured} keep the configured {} bp",
                    config.okx.taker_fee_bp
                );
            }
            Err(error) => {
                tracing::warn!("OKX account fees unavailable, keeping {} bp: {error}", config.okx.taker_fee_bp)
            }
        }
    }
    let Some(binance) = &credentials.binance else { return Ok(()) };
    let mut symbols: Vec<String> =
        pairs.iter().filter_map(|p| p.leg(Venue::Binance)).map(|i| i.symbol.clone()).collect();
    symbols.sort();
    symbols.dedup();
    let looked_up = &symbols[..symbols.len().min(COMMISSION_LOOKUPS)];
    let results =
        futures::future::join_all(looked_up.iter().map(|symbol| venues.binance.commission(binance, symbol))).await;
    let mut rates = std::collections::HashMap::new();
    for (symbol, result) in looked_up.iter().zip(results) {
        match result {
            Ok(fees) => {
                rates.insert(symbol.clone(), fees.taker_bp);
            }
            Err(error) => tracing::warn!(
                symbol,
                "Binance commission unavailable, keeping {} bp: {error}",
                config.binance.taker_fee_bp
            ),
        }
    }
    // The rate most symbols have, for the symbols beyond the lookups.
    let common = rates
        .values()
        .fold(Vec::<(f64, usize)>::new(), |mut counts, bp| {
            match counts.iter_mut().find(|(rate, _)| rate == bp) {
                Some(entry) => entry.1 += 1,
                None => counts.push((*bp, 1)),
            }
            counts
        })
        .into_iter()
        // The most frequent rate; among equally frequent ones the highest (fees never understated).
        .max_by(|(a, na), (b, nb)| na.cmp(nb).then(a.total_cmp(b)))
        .map(|(bp, _)| bp);
    let mut assumed = 0;
    for leg in pairs.iter_mut().flat_map(|p| p.legs.iter_mut()).filter(|l| l.venue == Venue::Binance) {
        leg.taker_fee_bp = rates.get(&leg.symbol).copied().or_else(|| {
            let rate = common.filter(|_| !looked_up.contains(&leg.symbol));
            assumed += usize::from(rate.is_some());
            rate
        });
    }
    tracing::info!(
        "Binance account taker fees: read for {} of {} symbols{}",
        rates.len(),
        symbols.len(),
        match common {
            Some(bp) if assumed > 0 => format!("; {assumed} others assumed at the most common rate, {bp} bp"),
            _ => String::new(),
        }
    );
    Ok(())
}
