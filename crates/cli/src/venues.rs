//! Builds the venue adapters from configuration.

use anyhow::Context;
use perpspread_binance::rest::WEIGHT_PER_MINUTE;
use perpspread_binance::BinanceRest;
use perpspread_okx::OkxRest;

use crate::config::Config;

/// REST clients of both venues.
pub struct RestVenues {
    pub okx: OkxRest,
    pub binance: BinanceRest,
}

impl RestVenues {
    /// Clients pointed at the configured endpoints.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let okx = OkxRest::new(config.rest_config(&config.okx.rest_url)).context("OKX REST client")?;
        let binance = BinanceRest::new(
            config.rest_config(&config.binance.rest_url),
            config.binance.weight_per_minute.unwrap_or(WEIGHT_PER_MINUTE),
        )
        .context("Binance REST client")?;
        Ok(RestVenues { okx, binance })
    }

    /// Reports every successful REST response of both venues to `observer` (the recorder).
    pub fn observe(&mut self, observer: std::sync::Arc<dyn perpspread_net::rest::ResponseObserver>) {
        let okx = self.okx.client_mut();
        *okx = okx.clone().with_observer(observer.clone());
        let binance = self.binance.client_mut();
        *binance = binance.clone().with_observer(observer);
    }
}
