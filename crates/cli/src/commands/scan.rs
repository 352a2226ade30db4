//! `perpspread scan`: a one-shot REST scan of executable spreads.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use perpspread_core::funding::FundingSchedule;
use perpspread_core::spread::{mid_per_base, LegBook, NotExecutable, SizeTarget, SpreadCalculator};
use perpspread_core::{legs_on, FeeModel, Instrument, Pair, Venue};
use perpspread_net::{Funding, RestBook, RestError};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::{Config, ScanConfig};
use crate::venues::RestVenues;
use crate::UserError;
use perpspread_sinks::table::Table;

/// Flags of `perpspread scan`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Pairs to scan by base asset, pair or venue symbol (e.g. BTC,ETH,1000PEPEUSDT).
    #[arg(long, value_delimiter = ',', conflicts_with = "top")]
    symbols: Vec<String>,
    /// Scan the N most liquid common pairs by 24 h quote volume (default from config: 20).
    #[arg(long)]
    top: Option<usize>,
    /// Trade size per leg as USDT notional.
    #[arg(long, conflicts_with = "size_base")]
    size_usd: Option<Decimal>,
    /// Trade size per leg in base units (e.g. 0.5 for 0.5 BTC).
    #[arg(long)]
    size_base: Option<Decimal>,
    /// Net threshold in bp for the "max size at threshold" column.
    #[arg(long, allow_hyphen_values = true)]
    min_net_bp: Option<f64>,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

/// One direction of one pair, as printed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScanRow {
    pub pair: String,
    pub direction: String,
    pub buy_venue: Venue,
    pub sell_venue: Venue,
    pub buy_symbol: String,
    pub sell_symbol: String,
    /// Size of each leg, base units.
    pub size_base: Option<String>,
    /// Cost of the buy leg, quote currency (USDT).
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub size_quote: Option<f64>,
    /// Executable VWAPs, quote per base unit.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_vwap: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_vwap: Option<f64>,
    /// Mid prices per base unit: information only, never used for the signal.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_mid: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_mid: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub gross_bp: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub fees_bp: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub net_bp: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub threshold_bp: f64,
    /// Largest size (base units) whose net ≥ threshold, and its buy cost in quote.
    pub max_size_base: Option<String>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub max_size_quote: Option<f64>,
    /// True when the fetched depth ran out first (the max size is a lower bound).
    pub max_size_depth_limited: Option<bool>,
    /// Current funding rate of each leg in bp per funding interval.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_funding_bp: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_funding_bp: Option<f64>,
    /// Funding the position would receive over the funding horizon (`funding.horizon_h`), bp: each leg's
    /// settlements on its own schedule, current rates assumed to persist.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub funding_carry_bp: Option<f64>,
    /// REST round trip of each venue's book request, ms.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_latency_ms: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_latency_ms: Option<f64>,
    /// Why the row has no spread (not enough depth, request failed, …).
    pub error: Option<String>,
    /// The row has no spread because the size is smaller than the pair's common lot step.
    #[serde(skip)]
    pub below_lot_step: bool,
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    super::check_symbols(&args.symbols)?;
    let scan = effective(&config.scan, &args)?;
    let venues = RestVenues::from_config(config)?;
    let universe = super::fetch_universe(&venues).await?;
    let mut pairs = super::select_pairs(&venues, &universe, &args.symbols, scan.top, None).await?;
    super::apply_account_fees(config, &venues, &mut pairs).await?;
    let rows = scan_pairs(&venues, &pairs, &scan, &config.fee_model(), config.funding.horizon_ms()).await;
    let mut out = std::io::stdout().lock();
    if args.json {
        for row in &rows {
            writeln!(out, "{}", serde_json::to_string(row)?)?;
        }
    } else {
        write!(out, "{}", render(&rows, &scan))?;
    }
    out.flush()?;
    if !rows.is_empty() && rows.iter().all(|r| r.below_lot_step) {
        return Err(UserError(
            "the size per leg is smaller than every pair's common lot step (see the NOTE column); \
             use a larger --size-base or --size-usd"
                .into(),
        )
        .into());
    }
    if !rows.is_empty() && rows.iter().all(|r| r.error.is_some()) {
        anyhow::bail!("no pair could be evaluated (see the error column)");
    }
    Ok(())
}

/// Scan settings after applying flags over the config.
fn effective(base: &ScanConfig, args: &Args) -> Result<ScanConfig, UserError> {
    let mut scan = base.clone();
    if let Some(top) = args.top {
        scan.top = top;
    }
    if args.size_usd.is_some() || args.size_base.is_some() {
        scan.size_usd = args.size_usd;
        scan.size_base = args.size_base;
    }
    if let Some(threshold) = args.min_net_bp {
        scan.min_net_bp = threshold;
    }
    scan.validate().map_err(|e| UserError(e.to_string()))?;
    Ok(scan)
}

async fn fetch_book(venues: &RestVenues, leg: &Instrument) -> Result<RestBook, RestError> {
    let venue = venues.get(leg.venue).ok_or_else(|| RestError::Decode {
        venue: leg.venue,
        path: leg.symbol.clone(),
        message: "venue not enabled".into(),
    })?;
    venue.rest.book(leg, venue.settings.book_depth).await
}

/// Funding of every leg of `pairs` (a venue that cannot answer leaves its legs out, with a warning).
pub(crate) async fn fetch_funding(venues: &RestVenues, pairs: &[Pair]) -> HashMap<(Venue, String), Funding> {
    let legs: Vec<(Venue, Vec<&Instrument>)> = venues.iter().map(|v| (v.venue(), legs_on(pairs, v.venue()))).collect();
    let results =
        futures::future::join_all(venues.iter().zip(&legs).map(|(handle, (_, legs))| handle.rest.funding(legs))).await;
    let mut all = HashMap::new();
    for ((venue, _), result) in legs.iter().map(|(v, l)| (*v, l)).zip(results) {
        match result {
            Ok(map) => all.extend(map.into_iter().map(|(symbol, f)| ((venue, symbol), f))),
            Err(error) => tracing::warn!("funding rates unavailable: {error}"),
        }
    }
    all
}

/// Fetches books for every pair (bounded concurrency) and evaluates both directions.
pub(crate) async fn scan_pairs(
    venues: &RestVenues,
    pairs: &[Pair],
    scan: &ScanConfig,
    fees: &FeeModel,
    horizon_ms: u64,
) -> Vec<ScanRow> {
    let funding = fetch_funding(venues, pairs).await;
    scan_pairs_with(venues, pairs, scan, fees, (&funding, horizon_ms)).await
}

/// [`scan_pairs`] with the legs' funding already fetched.
pub(crate) async fn scan_pairs_with(
    venues: &RestVenues,
    pairs: &[Pair],
    scan: &ScanConfig,
    fees: &FeeModel,
    (funding, horizon_ms): (&HashMap<(Venue, String), Funding>, u64),
) -> Vec<ScanRow> {
    let books = futures::stream::iter(pairs.iter())
        .map(|pair| async move {
            let (a, b) = tokio::join!(fetch_book(venues, &pair.legs[0]), fetch_book(venues, &pair.legs[1]));
            (pair, a, b)
        })
        .buffer_unordered(scan.concurrency);
    let books = books.collect::<Vec<_>>().await;
    let target = match (scan.size_base, scan.size_usd) {
        (Some(base), _) => SizeTarget::Base(base),
        (None, quote) => SizeTarget::Quote(quote.unwrap_or_default()),
    };
    let mut rows = Vec::new();
    for (pair, a, b) in books {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let books = [(&pair.legs[0], &a), (&pair.legs[1], &b)];
                for (buy, sell) in [(0, 1), (1, 0)] {
                    let at = (funding, horizon_ms);
                    rows.push(evaluate(pair, books[buy], books[sell], target, scan.min_net_bp, fees, at));
                }
            }
            (a, b) => {
                let error =
                    [a.err(), b.err()].into_iter().flatten().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
                rows.push(failed_row(pair, error, fees));
            }
        }
    }
    rows.sort_by(|x, y| match (x.net_bp, y.net_bp) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => x.pair.cmp(&y.pair),
    });
    rows
}

fn evaluate(
    pair: &Pair,
    (buy_leg, buy_book): (&Instrument, &RestBook),
    (sell_leg, sell_book): (&Instrument, &RestBook),
    target: SizeTarget,
    threshold_bp: f64,
    fees: &FeeModel,
    (funding, horizon_ms): (&HashMap<(Venue, String), Funding>, u64),
) -> ScanRow {
    let buy = LegBook { instrument: buy_leg, book: &buy_book.book };
    let sell = LegBook { instrument: sell_leg, book: &sell_book.book };
    let calc = SpreadCalculator::new(pair, buy, sell, fees);
    let rate_bp = |leg: &Instrument| {
        funding.get(&(leg.venue, leg.symbol.clone())).and_then(|f| f.rate.to_f64()).map(|r| r * 10_000.0)
    };
    let (buy_funding_bp, sell_funding_bp) = (rate_bp(buy_leg), rate_bp(sell_leg));
    let schedule = |leg: &Instrument| {
        let f = funding.get(&(leg.venue, leg.symbol.clone()))?;
        Some(FundingSchedule { rate: f.rate.to_f64()?, interval_hours: f.interval_hours?, next_ms: f.next_funding_ms? })
    };
    let now_ms = perpspread_net::rest::unix_ns() / 1_000_000;
    let funding_carry_bp = schedule(buy_leg)
        .zip(schedule(sell_leg))
        .map(|(long, short)| perpspread_core::funding::carry_bp(&long, &short, now_ms, horizon_ms));
    let mut row = ScanRow {
        pair: pair.key.to_string(),
        direction: calc.direction().label(),
        buy_venue: buy_leg.venue,
        sell_venue: sell_leg.venue,
        buy_symbol: buy_leg.symbol.clone(),
        sell_symbol: sell_leg.symbol.clone(),
        size_base: None,
        size_quote: None,
        buy_vwap: None,
        sell_vwap: None,
        buy_mid: mid_per_base(&buy),
        sell_mid: mid_per_base(&sell),
        gross_bp: None,
        fees_bp: fees.total_bp_of(buy_leg, sell_leg),
        net_bp: None,
        threshold_bp,
        max_size_base: None,
        max_size_quote: None,
        max_size_depth_limited: None,
        buy_funding_bp,
        sell_funding_bp,
        funding_carry_bp,
        buy_latency_ms: Some(ms(buy_book.latency)),
        sell_latency_ms: Some(ms(sell_book.latency)),
        error: None,
        below_lot_step: false,
    };
    match calc.quote(target) {
        Ok(quote) => {
            row.size_base = Some(quote.size_base.normalize().to_string());
            row.size_quote = Some(quote.buy_cost_quote);
            row.buy_vwap = Some(quote.buy_vwap);
            row.sell_vwap = Some(quote.sell_vwap);
            row.gross_bp = Some(quote.gross_bp);
            row.net_bp = Some(quote.net_bp);
        }
        Err(error) => {
            row.below_lot_step = matches!(error, NotExecutable::BelowLotStep { .. });
            row.error = Some(error.to_string());
        }
    }
    let max = calc.max_size(threshold_bp);
    row.max_size_base = Some(max.size_base.normalize().to_string());
    row.max_size_quote = Some(max.size_quote);
    row.max_size_depth_limited = Some(max.depth_limited);
    row
}

fn failed_row(pair: &Pair, error: String, fees: &FeeModel) -> ScanRow {
    let [a, b] = &pair.legs;
    ScanRow {
        pair: pair.key.to_string(),
        direction: "both".into(),
        buy_venue: a.venue,
        sell_venue: b.venue,
        buy_symbol: a.symbol.clone(),
        sell_symbol: b.symbol.clone(),
        size_base: None,
        size_quote: None,
        buy_vwap: None,
        sell_vwap: None,
        buy_mid: None,
        sell_mid: None,
        gross_bp: None,
        fees_bp: fees.total_bp_of(a, b),
        net_bp: None,
        threshold_bp: 0.0,
        max_size_base: None,
        max_size_quote: None,
        max_size_depth_limited: None,
        buy_funding_bp: None,
        sell_funding_bp: None,
        funding_carry_bp: None,
        buy_latency_ms: None,
        sell_latency_ms: None,
        error: Some(error),
        below_lot_step: false,
    }
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// Formats a price with about eight significant digits.
pub fn price(value: f64) -> String {
    if !value.is_finite() || value == 0.0 {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (7 - magnitude).clamp(0, 12) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn opt(value: Option<f64>, fmt: impl Fn(f64) -> String) -> String {
    value.map(fmt).unwrap_or_else(|| "-".into())
}

fn render(rows: &[ScanRow], scan: &ScanConfig) -> String {
    let bp = |v: f64| format!("{v:.2}");
    let size_label = match (scan.size_base, scan.size_usd) {
        (Some(base), _) => format!("{} base", base.normalize()),
        (None, Some(usd)) => format!("{} quote", usd.normalize()),
        _ => String::new(),
    };
    let mut table = Table::new([
        "PAIR".to_owned(),
        "BUY→SELL".into(),
        "SIZE (base)".into(),
        "COST (quote)".into(),
        "BUY VWAP".into(),
        "SELL VWAP".into(),
        "GROSS bp".into(),
        "FEES bp".into(),
        "NET bp".into(),
        format!("MAX SIZE @≥{} bp (quote)", scan.min_net_bp),
        "FUNDING buy/sell bp".into(),
        "CARRY bp".into(),
        "RTT buy/sell ms".into(),
        "NOTE".into(),
    ]);
    for row in rows {
        let max = match (&row.max_size_quote, row.max_size_depth_limited) {
            (Some(quote), Some(limited)) => format!("{}{quote:.0}", if limited { "≥" } else { "" }),
            _ => "-".into(),
        };
        table.row(vec![
            row.pair.clone(),
            format!("{}→{}", row.buy_venue, row.sell_venue),
            row.size_base.clone().unwrap_or_else(|| "-".into()),
            opt(row.size_quote, |v| format!("{v:.2}")),
            opt(row.buy_vwap, price),
            opt(row.sell_vwap, price),
            opt(row.gross_bp, bp),
            bp(row.fees_bp),
            opt(row.net_bp, bp),
            max,
            format!("{}/{}", opt(row.buy_funding_bp, bp), opt(row.sell_funding_bp, bp)),
            opt(row.funding_carry_bp, bp),
            format!(
                "{}/{}",
                opt(row.buy_latency_ms, |v| format!("{v:.1}")),
                opt(row.sell_latency_ms, |v| format!("{v:.1}"))
            ),
            row.error.clone().unwrap_or_default(),
        ]);
    }
    format!(
        "{}\nsize per leg: {size_label}; prices are quote per base unit; fees = taker fees of every leg counted; net = gross − fees\n",
        table.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_significant_digits() {
        assert_eq!(price(30236.123456), "30236.123");
        assert_eq!(price(0.0000102), "0.0000102");
        assert_eq!(price(1.5), "1.5");
    }
}
