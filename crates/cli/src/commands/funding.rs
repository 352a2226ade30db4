//! `perpspread funding`: one-shot (REST) ranking of cross-venue funding trades by what they earn over a
//! holding horizon after the round trip's cost.
//!
//! For each pair and direction (long the buy venue, short the sell venue): each leg's rate, interval, next
//! settlement and APR; the carry over the horizon, settlement by settlement on each leg's own schedule
//! ([`perpspread_core::funding`]); the executable round-trip cost at the size (entry and exit spreads walked
//! through both fetched books, and four taker fees); the net carry and the break-even time.

use std::collections::HashMap;
use std::io::Write;

use perpspread_core::funding::{apr_diff_pct, carry_bp, round_trip_bp, trade, FundingSchedule};
use perpspread_core::{FeeModel, Instrument, Pair, Venue};
use perpspread_net::Funding;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use super::scan::ScanRow;
use crate::config::Config;
use crate::venues::RestVenues;
use crate::UserError;
use perpspread_sinks::table::Table;

/// Flags of `perpspread funding`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Pairs by base asset, pair or venue symbol (e.g. BTC,ETH,1000PEPEUSDT).
    #[arg(long, value_delimiter = ',', conflicts_with = "top")]
    symbols: Vec<String>,
    /// The N most liquid common pairs by 24 h quote volume (default from config: scan.top).
    #[arg(long)]
    top: Option<usize>,
    /// Size of each leg as USDT notional (default from config: scan.size_usd).
    #[arg(long)]
    size_usd: Option<Decimal>,
    /// Holding horizon, hours (default from config: funding.horizon_h).
    #[arg(long, value_parser = super::monitor::parse_horizon)]
    horizon: Option<f64>,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

/// One funding trade: long `long_venue`, short `short_venue`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FundingRow {
    pub pair: String,
    pub long_venue: Venue,
    pub short_venue: Venue,
    pub long_symbol: String,
    pub short_symbol: String,
    /// Each leg's current (predicted) rate, bp per settlement.
    pub long_rate_bp: Option<f64>,
    pub short_rate_bp: Option<f64>,
    /// Whether a leg's rate sits at its venue's cap or floor (clamped: the premium may be larger).
    pub long_at_limit: bool,
    pub short_at_limit: bool,
    /// Each leg's cap and floor, bp per settlement, where the venue publishes them.
    pub long_cap_bp: Option<f64>,
    pub long_floor_bp: Option<f64>,
    pub short_cap_bp: Option<f64>,
    pub short_floor_bp: Option<f64>,
    /// Rate of each leg's last settlement, bp (what was actually paid, as opposed to the prediction).
    pub long_last_settled_bp: Option<f64>,
    pub short_last_settled_bp: Option<f64>,
    pub long_interval_h: Option<u32>,
    pub short_interval_h: Option<u32>,
    /// Minutes to each leg's next settlement.
    pub long_next_min: Option<f64>,
    pub short_next_min: Option<f64>,
    /// Annualised rates (365 days), %, and the short's minus the long's.
    pub long_apr_pct: Option<f64>,
    pub short_apr_pct: Option<f64>,
    pub apr_diff_pct: Option<f64>,
    /// Round trip at the size: entry and exit spreads plus four taker fees, bp of notional.
    pub round_trip_cost_bp: Option<f64>,
    pub horizon_h: f64,
    /// Funding received over the horizon, bp; and after the round trip's cost.
    pub carry_bp: Option<f64>,
    pub net_carry_bp: Option<f64>,
    /// Hours the position must be held for the carry to pay the round trip (`null`: not within a year).
    pub break_even_h: Option<f64>,
    /// Why a figure is missing, when one is.
    pub note: Option<String>,
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    super::check_symbols(&args.symbols)?;
    let mut scan = config.scan.clone();
    if let Some(size) = args.size_usd {
        if size <= Decimal::ZERO {
            return Err(UserError("--size-usd must be positive".into()).into());
        }
        (scan.size_usd, scan.size_base) = (Some(size), None);
    }
    let top = args.top.unwrap_or(scan.top);
    if top == 0 {
        return Err(UserError("--top must be at least 1".into()).into());
    }
    let horizon_h = args.horizon.unwrap_or(config.funding.horizon_h);
    let horizon_ms = (horizon_h * 3_600_000.0).round() as u64;
    let venues = RestVenues::from_config(config)?;
    let universe = super::fetch_universe(&venues).await?;
    let mut pairs = super::select_pairs(&venues, &universe, &args.symbols, top, None).await?;
    super::apply_account_fees(config, &venues, &mut pairs).await?;
    let fees = config.fee_model();
    let mut funding = super::scan::fetch_funding(&venues, &pairs).await;
    add_last_settled(&venues, &pairs, &mut funding).await;
    let spreads = super::scan::scan_pairs_with(&venues, &pairs, &scan, &fees, (&funding, horizon_ms)).await;
    let now_ms = perpspread_net::rest::unix_ns() / 1_000_000;
    let rows = rank(&pairs, &spreads, &funding, &fees, now_ms, horizon_h);
    let mut out = std::io::stdout().lock();
    if args.json {
        for row in &rows {
            writeln!(out, "{}", serde_json::to_string(row)?)?;
        }
    } else {
        write!(out, "{}", render(&rows, horizon_h))?;
    }
    out.flush()?;
    Ok(())
}

/// The last settled rate of the legs whose funding did not carry it (Binance publishes it only in its funding
/// history: one request per shown leg).
async fn add_last_settled(venues: &RestVenues, pairs: &[Pair], funding: &mut HashMap<(Venue, String), Funding>) {
    for handle in venues.iter() {
        let venue = handle.venue();
        let symbols: Vec<&str> = pairs
            .iter()
            .filter_map(|p| p.leg(venue))
            .filter(|leg| funding.get(&(venue, leg.symbol.clone())).is_some_and(|f| f.last_settled_rate.is_none()))
            .map(|l| l.symbol.as_str())
            .collect();
        if symbols.is_empty() {
            continue;
        }
        for (symbol, (rate, _)) in handle.rest.last_settled(&symbols).await {
            if let Some(f) = funding.get_mut(&(venue, symbol)) {
                f.last_settled_rate = Some(rate);
            }
        }
    }
}

/// Both directions of every pair, best net carry first (rows missing a figure last).
pub fn rank(
    pairs: &[Pair],
    spreads: &[ScanRow],
    funding: &HashMap<(Venue, String), Funding>,
    fees: &FeeModel,
    now_ms: u64,
    horizon_h: f64,
) -> Vec<FundingRow> {
    let gross = |long: &Instrument, short: &Instrument| {
        spreads.iter().find(|r| r.buy_symbol == long.symbol && r.sell_symbol == short.symbol).and_then(|r| r.gross_bp)
    };
    let mut rows: Vec<FundingRow> = pairs
        .iter()
        .flat_map(|pair| [(&pair.legs[0], &pair.legs[1]), (&pair.legs[1], &pair.legs[0])].map(|legs| (pair, legs)))
        .map(|(pair, (long, short))| {
            // Entry buys the long leg and sells the short one; exit does the reverse.
            let taker = fees.instrument_taker_bp(long) + fees.instrument_taker_bp(short);
            let cost =
                gross(long, short).zip(gross(short, long)).map(|(entry, exit)| round_trip_bp(entry, exit, taker));
            row(pair, (long, short), funding, cost, now_ms, horizon_h)
        })
        .collect();
    rows.sort_by(|a, b| match (a.net_carry_bp, b.net_carry_bp) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (a, b) => b.is_some().cmp(&a.is_some()),
    });
    rows
}

fn row(
    pair: &Pair,
    (long, short): (&Instrument, &Instrument),
    funding: &HashMap<(Venue, String), Funding>,
    cost: Option<f64>,
    now_ms: u64,
    horizon_h: f64,
) -> FundingRow {
    let leg = |i: &Instrument| funding.get(&(i.venue, i.symbol.clone()));
    let schedule = |f: Option<&Funding>| {
        let f = f?;
        Some(FundingSchedule { rate: f.rate.to_f64()?, interval_hours: f.interval_hours?, next_ms: f.next_funding_ms? })
    };
    let (long_funding, short_funding) = (leg(long), leg(short));
    let (long_schedule, short_schedule) = (schedule(long_funding), schedule(short_funding));
    let both = long_schedule.zip(short_schedule);
    let horizon_ms = (horizon_h * 3_600_000.0).round() as u64;
    let carry = both.map(|(l, s)| carry_bp(&l, &s, now_ms, horizon_ms));
    let traded = both.zip(cost).map(|((l, s), k)| trade(&l, &s, k, now_ms, horizon_ms));
    let bp = |d: Option<Decimal>| d.and_then(|d| d.to_f64()).map(|r| r * 10_000.0);
    let rate_bp = |f: Option<&Funding>| bp(f.map(|f| f.rate));
    let next_min =
        |f: Option<&Funding>| f.and_then(|f| f.next_funding_ms).map(|t| t.saturating_sub(now_ms) as f64 / 60_000.0);
    let note = match (long_funding, short_funding, both, cost) {
        (None, _, _, _) | (_, None, _, _) => Some("funding rate unavailable".to_owned()),
        (_, _, None, _) => Some("funding interval or next settlement unknown".to_owned()),
        (_, _, _, None) => Some("books could not be walked at this size".to_owned()),
        _ => None,
    };
    FundingRow {
        pair: pair.key.to_string(),
        long_venue: long.venue,
        short_venue: short.venue,
        long_symbol: long.symbol.clone(),
        short_symbol: short.symbol.clone(),
        long_rate_bp: rate_bp(long_funding),
        short_rate_bp: rate_bp(short_funding),
        long_at_limit: long_funding.is_some_and(Funding::at_limit),
        short_at_limit: short_funding.is_some_and(Funding::at_limit),
        long_cap_bp: bp(long_funding.and_then(|f| f.cap)),
        long_floor_bp: bp(long_funding.and_then(|f| f.floor)),
        short_cap_bp: bp(short_funding.and_then(|f| f.cap)),
        short_floor_bp: bp(short_funding.and_then(|f| f.floor)),
        long_last_settled_bp: bp(long_funding.and_then(|f| f.last_settled_rate)),
        short_last_settled_bp: bp(short_funding.and_then(|f| f.last_settled_rate)),
        long_interval_h: long_funding.and_then(|f| f.interval_hours),
        short_interval_h: short_funding.and_then(|f| f.interval_hours),
        long_next_min: next_min(long_funding),
        short_next_min: next_min(short_funding),
        long_apr_pct: long_schedule.map(|s| s.apr_pct()),
        short_apr_pct: short_schedule.map(|s| s.apr_pct()),
        apr_diff_pct: both.map(|(l, s)| apr_diff_pct(&l, &s)),
        round_trip_cost_bp: cost,
        horizon_h,
        carry_bp: carry,
        net_carry_bp: traded.map(|t| t.net_carry_bp),
        break_even_h: traded.and_then(|t| t.break_even_h),
        note,
    }
}

fn render(rows: &[FundingRow], horizon_h: f64) -> String {
    let mut table = Table::new([
        "PAIR",
        "LONG→SHORT",
        "RATE long/short bp",
        "LAST long/short bp",
        "EVERY long/short h",
        "NEXT long/short min",
        "APR long/short %",
        "APR DIFF %",
        "ROUND TRIP bp",
        "CARRY bp",
        "NET bp",
        "BREAK-EVEN h",
        "NOTE",
    ]);
    let num = |v: Option<f64>, dp: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.dp$}"));
    let int = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for r in rows {
        table.row(vec![
            r.pair.clone(),
            format!("{}→{}", r.long_venue, r.short_venue),
            format!(
                "{}{}/{}{}",
                num(r.long_rate_bp, 3),
                if r.long_at_limit { "*" } else { "" },
                num(r.short_rate_bp, 3),
                if r.short_at_limit { "*" } else { "" }
            ),
            format!("{}/{}", num(r.long_last_settled_bp, 3), num(r.short_last_settled_bp, 3)),
            format!("{}/{}", int(r.long_interval_h), int(r.short_interval_h)),
            format!("{}/{}", num(r.long_next_min, 0), num(r.short_next_min, 0)),
            format!("{}/{}", num(r.long_apr_pct, 2), num(r.short_apr_pct, 2)),
            num(r.apr_diff_pct, 2),
            num(r.round_trip_cost_bp, 2),
            num(r.carry_bp, 2),
            num(r.net_carry_bp, 2),
            num(r.break_even_h, 1),
            r.note.clone().unwrap_or_default(),
        ]);
    }
    format!(
        "{}carry over {horizon_h} h, each leg on its own schedule, current rates assumed to persist; round trip = entry and \
         exit spreads at the size + four taker fees; net = carry − round trip; RATE is the predicted rate of the next settlement \
         (* = at the venue's cap or floor), LAST the last settled one\n",
        table.render()
    )
}
