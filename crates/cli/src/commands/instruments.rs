//! `perpspread instruments`: the paired universe.

use std::io::Write;

use perpspread_core::{Instrument, Pair};
use serde_json::json;

use crate::config::Config;
use crate::venues::RestVenues;
use perpspread_sinks::table::Table;

/// Flags of `perpspread instruments`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list instruments that could not be paired, with the reason.
    #[arg(long)]
    all: bool,
}

/// Runs the command.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let venues = RestVenues::from_config(config)?;
    let universe = super::fetch_universe(&venues).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for pair in &universe.pairs {
            writeln!(out, "{}", pair_json(pair))?;
        }
        if args.all {
            for skipped in &universe.unpaired {
                let line = json!({"unpaired": true, "venue": skipped.venue, "symbol": skipped.symbol, "reason": skipped.reason});
                writeln!(out, "{line}")?;
            }
        }
        return Ok(());
    }
    let mut table = Table::new([
        "PAIR",
        "LEG 1 venue symbol",
        "base/unit",
        "tick",
        "lot (units)",
        "LEG 2 venue symbol",
        "base/unit",
        "tick",
        "lot (units)",
        "COMMON STEP (base)",
    ]);
    for pair in &universe.pairs {
        let mut row = vec![pair.key.to_string()];
        for leg in &pair.legs {
            row.extend([
                format!("{} {}", leg.venue, leg.symbol),
                leg.base_per_qty_unit.normalize().to_string(),
                leg.tick_size.normalize().to_string(),
                leg.lot_size.normalize().to_string(),
            ]);
        }
        row.push(pair.common_step_base().to_string());
        table.row(row);
    }
    write!(out, "{}", table.render())?;
    writeln!(
        out,
        "{} pairs; {} instruments unpaired{}",
        universe.pairs.len(),
        universe.unpaired.len(),
        if args.all { "" } else { " (--all lists them)" }
    )?;
    if args.all {
        let mut unpaired = Table::new(["VENUE", "SYMBOL", "REASON"]);
        for s in &universe.unpaired {
            unpaired.row(vec![s.venue.to_string(), s.symbol.clone(), s.reason.clone()]);
        }
        write!(out, "\n{}", unpaired.render())?;
    }
    Ok(())
}

fn leg_json(leg: &Instrument) -> serde_json::Value {
    json!({
        "venue": leg.venue,
        "symbol": leg.symbol,
        "settle": leg.settle,
        "base_per_qty_unit": leg.base_per_qty_unit.normalize().to_string(),
        "base_per_price_unit": leg.base_per_price_unit.normalize().to_string(),
        "tick_size": leg.tick_size.normalize().to_string(),
        "lot_size": leg.lot_size.normalize().to_string(),
        "min_size": leg.min_size.normalize().to_string(),
    })
}

fn pair_json(pair: &Pair) -> serde_json::Value {
    json!({
        "pair": pair.key.to_string(),
        "id": pair.id(),
        "base": pair.key.base,
        "quote": pair.key.quote,
        "common_step_base": pair.common_step_base().to_string(),
        "legs": pair.legs.iter().map(leg_json).collect::<Vec<_>>(),
    })
}
