//! One module per subcommand.

pub mod instruments;
pub mod replay;
pub mod scan;

use perpspread_core::Universe;
use perpspread_net::MarketRest;

use crate::venues::RestVenues;

/// Fetches both venues' instrument lists concurrently and pairs them.
pub async fn fetch_universe(venues: &RestVenues) -> anyhow::Result<Universe> {
    let (okx, binance) = tokio::try_join!(venues.okx.instruments(), venues.binance.instruments())?;
    let instruments = okx
        .instruments
        .into_iter()
        .chain(binance.instruments)
        .collect();
    let skipped = okx.skipped.into_iter().chain(binance.skipped).collect();
    Ok(Universe::build(instruments, skipped))
}
