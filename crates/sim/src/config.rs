//! Simulator configuration: ports, the instrument universe, market dynamics, dislocations and limits.
//!
//! Everything is plain data with serde support so a scenario can be written as TOML
//! ([`SimConfig::from_toml`]). [`SimConfig::default`] is a realistic ten-pair universe.

use std::path::PathBuf;
use std::time::Duration;

use perpspread_core::{ContractKind, Instrument, PairKey, Venue};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::SimError;

mod specs;

pub use specs::{BinanceSpec, BybitSpec, OkxSpec};

/// Everything [`crate::start`] needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of the market model: the same seed gives the same market, step for step.
    pub seed: u64,
    /// Ports on 127.0.0.1; 0 picks a free port.
    pub okx_rest_port: u16,
    pub binance_rest_port: u16,
    pub okx_ws_port: u16,
    pub binance_ws_port: u16,
    pub bybit_rest_port: u16,
    pub bybit_ws_port: u16,
    /// The listed markets.
    pub pairs: Vec<SimPair>,
    /// Standard deviation of the latent fair price, in basis points per √second.
    pub volatility_bp_per_s: f64,
    /// Planned cross-venue dislocations (the ground truth a scanner should find).
    pub dislocations: Vec<Dislocation>,
    /// Where to append one JSON line per dislocation when it begins.
    pub ground_truth_log: Option<PathBuf>,
    /// Where to append one JSON line per injected fault.
    pub fault_log: Option<PathBuf>,
    /// Model step in milliseconds (one book update per instrument per step).
    pub tick_ms: u64,
    /// Exchange time of step 0, Unix ms; `None` = the wall clock at start.
    pub epoch_ms: Option<u64>,
    /// Binance request-weight budget per window (2400 per minute on the real venue).
    pub binance_weight_limit_per_min: u32,
    /// Length of the Binance weight window in ms (60 000 on the real venue; shorten for tests).
    pub binance_weight_window_ms: u64,
    /// HTTP 429 answers after which the IP is banned (HTTP 418).
    pub binance_violations_before_ban: u32,
    /// Length of a ban in ms.
    pub binance_ban_ms: u64,
    /// OKX books carry the real CRC32 checksum (`true`, as before 2026-06-23) or `0` (`false`, as OKX sends
    /// since its checksum was deprecated on 2026-06-23).
    pub okx_checksum: bool,
    /// OKX `books` subscriptions start with a WebSocket snapshot (`true`, as documented on 2026-09-08) or only
    /// with updates, the book to be seeded from `GET /api/v5/market/books` (`false`, as OKX announced).
    pub okx_ws_snapshots: bool,
    /// OKX subscribe/unsubscribe requests allowed per connection per hour (480); more are refused.
    pub okx_requests_per_hour: u32,
    /// New OKX WebSocket connections allowed per second (3 per IP); more are refused with HTTP 429.
    pub okx_connects_per_second: u32,
    /// Streams allowed on one Binance connection (1024); a SUBSCRIBE beyond is refused.
    pub binance_max_streams_per_connection: u32,
    /// Messages a Binance client may send per second on one connection (10); more close the connection.
    pub binance_max_messages_per_second: u32,
    /// Close an OKX WebSocket after this long without any traffic either way.
    pub okx_idle_timeout_ms: u64,
    /// Interval between Binance server pings.
    pub binance_ping_interval_ms: u64,
    /// Close a Binance WebSocket if a ping is not answered within this time.
    pub binance_pong_timeout_ms: u64,
    /// Close a Binance WebSocket after this lifetime (24 h on the real venue).
    pub binance_max_lifetime_ms: u64,
    /// How long Bybit refuses every REST request (HTTP 403) after its IP limit was exceeded (10 minutes).
    pub bybit_ip_ban_ms: u64,
    /// Interval between `funding-rate` / `markPrice` pushes.
    pub funding_push_interval_ms: u64,
    /// How much faster than the exchange clock funding time runs (1: real time; 3600: an hour a second, so
    /// tests cross several settlements in seconds). Funding times and rates follow this clock; books do not.
    pub funding_clock_speed: u64,
    /// Faults to inject at given times after start.
    pub faults: Vec<Fault>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            okx_rest_port: 0,
            binance_rest_port: 0,
            okx_ws_port: 0,
            binance_ws_port: 0,
            bybit_rest_port: 0,
            bybit_ws_port: 0,
            pairs: default_pairs(),
            volatility_bp_per_s: 3.0,
            dislocations: Vec::new(),
            ground_truth_log: None,
            fault_log: None,
            tick_ms: 100,
            epoch_ms: None,
            binance_weight_limit_per_min: 2400,
            binance_weight_window_ms: 60_000,
            binance_violations_before_ban: 3,
            binance_ban_ms: 120_000,
            okx_checksum: false,
            okx_ws_snapshots: true,
            okx_requests_per_hour: 480,
            okx_connects_per_second: 3,
            binance_max_streams_per_connection: 1024,
            binance_max_messages_per_second: 10,
            okx_idle_timeout_ms: 30_000,
            binance_ping_interval_ms: 180_000,
            binance_pong_timeout_ms: 600_000,
            binance_max_lifetime_ms: 24 * 3_600_000,
            bybit_ip_ban_ms: 600_000,
            funding_push_interval_ms: 10_000,
            funding_clock_speed: 1,
            faults: Vec::new(),
        }
    }
}

impl SimConfig {
    /// Parses a TOML scenario; omitted fields take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let config: SimConfig = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks internal consistency (positive steps, dislocations naming listed pairs, …).
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Config(m));
        if self.pairs.is_empty() {
            return bad("pairs: list at least one pair".into());
        }
        // Zero intervals would spin (a push or ping every instant) or cut every connection at once.
        for (key, value) in [
            ("tick_ms", self.tick_ms),
            ("binance_weight_window_ms", self.binance_weight_window_ms),
            ("okx_idle_timeout_ms", self.okx_idle_timeout_ms),
            ("binance_ping_interval_ms", self.binance_ping_interval_ms),
            ("binance_pong_timeout_ms", self.binance_pong_timeout_ms),
            ("binance_max_lifetime_ms", self.binance_max_lifetime_ms),
            ("funding_push_interval_ms", self.funding_push_interval_ms),
            ("funding_clock_speed", self.funding_clock_speed),
            ("binance_weight_limit_per_min", u64::from(self.binance_weight_limit_per_min)),
            ("okx_requests_per_hour", u64::from(self.okx_requests_per_hour)),
            ("okx_connects_per_second", u64::from(self.okx_connects_per_second)),
            ("binance_max_streams_per_connection", u64::from(self.binance_max_streams_per_connection)),
            ("binance_max_messages_per_second", u64::from(self.binance_max_messages_per_second)),
        ] {
            if value == 0 {
                return bad(format!("{key} must be positive"));
            }
        }
        if !(0.0..=10_000.0).contains(&self.volatility_bp_per_s) {
            return bad(format!("volatility_bp_per_s {} must be between 0 and 10000", self.volatility_bp_per_s));
        }
        // Unix ms up to the year 2200: later times overflow the nanosecond clocks.
        if self.epoch_ms.is_some_and(|ms| ms > 7_258_118_400_000) {
            return bad("epoch_ms must be a Unix time in ms before the year 2200".into());
        }
        for pair in &self.pairs {
            pair.validate()?;
        }
        for d in &self.dislocations {
            let (buy, sell) = (d.buy_venue, d.sell_venue());
            if buy == sell
                || self.pairs.iter().all(|p| !p.matches(&d.base, &d.quote) || !p.lists(buy) || !p.lists(sell))
            {
                return bad(format!(
                    "dislocation names {}/{}, which is not listed on both {buy} and {sell}",
                    d.base, d.quote
                ));
            }
            if !(d.size_bp > 0.0 && d.size_bp.is_finite()) {
                return bad(format!("dislocation size_bp {} must be positive", d.size_bp));
            }
        }
        Ok(())
    }

    /// The model step as a duration.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }
}

/// One market (base/quote) and how each venue lists it. A pair may be listed on only one venue
/// (an inverse swap, a quarterly future, a halted symbol) to exercise the scanner's pairing rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimPair {
    pub base: String,
    pub quote: String,
    /// Starting fair price of one base unit, in quote currency.
    pub start_price: f64,
    /// Typical quote notional resting on one price level.
    #[serde(default = "default_level_notional")]
    pub level_notional: f64,
    /// 24 h traded notional in quote currency (drives tickers).
    #[serde(default = "default_volume")]
    pub volume_24h_quote: f64,
    /// Funding rate per settlement, as a fraction.
    #[serde(default = "default_funding")]
    pub funding_rate: f64,
    /// Hours between OKX settlements of this pair (8, 4, 2 or 1).
    #[serde(default = "default_funding_hours")]
    pub okx_funding_hours: u32,
    /// Hours between Binance settlements of this pair (8, 4 or 1; other than 8 is listed by `fundingInfo`).
    #[serde(default = "default_funding_hours")]
    pub binance_funding_hours: u32,
    /// Hours between Bybit settlements of this pair (`fundingIntervalHour`).
    #[serde(default = "default_funding_hours")]
    pub bybit_funding_hours: u32,
    /// Half of each venue's quoted spread, in basis points.
    #[serde(default = "default_half_spread")]
    pub half_spread_bp: f64,
    pub okx: Option<OkxSpec>,
    pub binance: Option<BinanceSpec>,
    #[serde(default)]
    pub bybit: Option<BybitSpec>,
}

fn default_level_notional() -> f64 {
    20_000.0
}
fn default_volume() -> f64 {
    50_000_000.0
}
fn default_funding() -> f64 {
    0.0001
}
/// Funding intervals the venues use, hours.
pub(crate) const FUNDING_HOURS: [u32; 4] = [1, 2, 4, 8];

fn default_funding_hours() -> u32 {
    8
}
fn default_half_spread() -> f64 {
    1.0
}

impl SimPair {
    /// Hours between settlements on `venue`.
    pub(crate) fn funding_hours(&self, venue: Venue) -> u32 {
        match venue {
            Venue::Okx => self.okx_funding_hours,
            Venue::Binance => self.binance_funding_hours,
            Venue::Bybit => self.bybit_funding_hours,
        }
    }

    /// The normalized key, e.g. `BTC/USDT`.
    pub fn key(&self) -> PairKey {
        PairKey::new(&self.base, &self.quote)
    }

    /// Whether this is `base`/`quote` (case-insensitive).
    pub fn matches(&self, base: &str, quote: &str) -> bool {
        self.base.eq_ignore_ascii_case(base) && self.quote.eq_ignore_ascii_case(quote)
    }

    /// Whether OKX and Binance both list a tradable linear perpetual of this market (the pairs of a two-venue
    /// generated capture).
    pub fn is_cross_listed(&self) -> bool {
        matches!((&self.okx, &self.binance), (Some(o), Some(b))
            if o.ct_type == ContractKind::Linear && o.state == "live"
                && b.contract_type == "PERPETUAL" && b.status == "TRADING")
    }

    /// Whether `venue` lists a tradable linear perpetual of this market.
    pub fn lists(&self, venue: Venue) -> bool {
        match venue {
            Venue::Okx => self.okx.as_ref().is_some_and(|o| o.ct_type == ContractKind::Linear && o.state == "live"),
            Venue::Binance => {
                self.binance.as_ref().is_some_and(|b| b.contract_type == "PERPETUAL" && b.status == "TRADING")
            }
            Venue::Bybit => self.bybit.is_some(),
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        let fail = |m: &str| Err(SimError::Config(format!("{}/{}: {m}", self.base, self.quote)));
        if !(self.start_price > 0.0 && self.start_price.is_finite()) {
            return fail("start_price must be positive");
        }
        for hours in [self.okx_funding_hours, self.binance_funding_hours, self.bybit_funding_hours] {
            if !FUNDING_HOURS.contains(&hours) {
                return fail("funding hours must be 1, 2, 4 or 8");
            }
        }
        if !(self.half_spread_bp > 0.0 && self.half_spread_bp < 10_000.0) {
            return fail("half_spread_bp must be between 0 and 10000 (exclusive)");
        }
        if !(self.level_notional > 0.0 && self.level_notional.is_finite()) {
            return fail("level_notional must be positive");
        }
        if !self.funding_rate.is_finite() {
            return fail("funding_rate must be a number");
        }
        if let Some(okx) = &self.okx {
            if okx.tick_sz <= Decimal::ZERO || okx.lot_sz <= Decimal::ZERO || okx.ct_val <= Decimal::ZERO {
                return fail("OKX tickSz, lotSz and ctVal must be positive");
            }
        }
        if let Some(b) = &self.binance {
            if b.tick_size <= Decimal::ZERO || b.step_size <= Decimal::ZERO || b.multiplier == 0 {
                return fail("Binance tickSize, stepSize and multiplier must be positive");
            }
            if u32::from(b.price_precision) < b.tick_size.normalize().scale() {
                return fail("Binance pricePrecision is finer than needed by tickSize");
            }
        }
        if self.okx.is_none() && self.binance.is_none() {
            return fail("listed on no venue");
        }
        Ok(())
    }
}

/// A planned cross-venue dislocation: while active, buying at `buy_venue`'s best ask and selling at
/// `sell_venue`'s best bid (by default the other of OKX and Binance, or OKX for Bybit) earns a gross `size_bp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dislocation {
    pub base: String,
    #[serde(default = "usdt")]
    pub quote: String,
    /// The venue whose asks are cheap.
    #[serde(with = "venue_serde")]
    pub buy_venue: Venue,
    /// The venue whose bids are rich (default: see [`Dislocation::sell_venue`]).
    #[serde(default, with = "opt_venue_serde", skip_serializing_if = "Option::is_none")]
    pub sell_on: Option<Venue>,
    pub size_bp: f64,
    /// Start, in ms after sim start.
    pub start_ms: u64,
    pub duration_ms: u64,
}

fn usdt() -> String {
    "USDT".into()
}

impl Dislocation {
    /// Whether the dislocation is active at `elapsed_ms` after start.
    pub(crate) fn active_at(&self, elapsed_ms: u64) -> bool {
        elapsed_ms >= self.start_ms && elapsed_ms - self.start_ms < self.duration_ms
    }

    /// The venue whose bids are rich: `sell_on`, else the other of OKX and Binance (OKX for Bybit).
    pub fn sell_venue(&self) -> Venue {
        self.sell_on.unwrap_or_else(|| other_venue(self.buy_venue))
    }
}

/// The venue a dislocation sells on when none is given: OKX's counterpart is Binance, every other venue's OKX.
pub(crate) fn other_venue(venue: Venue) -> Venue {
    match venue {
        Venue::Okx => Venue::Binance,
        Venue::Binance | Venue::Bybit => Venue::Okx,
    }
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|_| panic!("bad built-in decimal {text:?}"))
}

/// Serde for [`Venue`] as `"okx"` / `"binance"`.
pub mod venue_serde {
    use perpspread_core::Venue;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(venue: &Venue, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(venue.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Venue, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional [`Venue`].
pub mod opt_venue_serde {
    use perpspread_core::Venue;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(venue: &Option<Venue>, s: S) -> Result<S::Ok, S::Error> {
        match venue {
            Some(venue) => s.serialize_str(venue.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Venue>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| t.parse().map_err(serde::de::Error::custom)).transpose()
    }
}

mod contract_kind {
    use perpspread_core::ContractKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(kind: &ContractKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match kind {
            ContractKind::Linear => "linear",
            ContractKind::Inverse => "inverse",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ContractKind, D::Error> {
        match String::deserialize(d)?.as_str() {
            "linear" => Ok(ContractKind::Linear),
            "inverse" => Ok(ContractKind::Inverse),
            other => Err(serde::de::Error::custom(format!("ctType {other:?}: expected linear or inverse"))),
        }
    }
}

impl SimPair {
    /// A market listed nowhere yet, with default spread, funding and activity.
    pub fn new(base: &str, quote: &str, start_price: f64, level_notional: f64, volume_24h_quote: f64) -> Self {
        SimPair {
            base: base.into(),
            quote: quote.into(),
            start_price,
            level_notional,
            volume_24h_quote,
            funding_rate: default_funding(),
            okx_funding_hours: default_funding_hours(),
            binance_funding_hours: default_funding_hours(),
            bybit_funding_hours: default_funding_hours(),
            half_spread_bp: default_half_spread(),
            okx: None,
            binance: None,
            bybit: None,
        }
    }

    /// Lists the market on OKX.
    pub fn with_okx(mut self, spec: OkxSpec) -> Self {
        self.okx = Some(spec);
        self
    }

    /// Lists the market on Binance.
    pub fn with_binance(mut self, spec: BinanceSpec) -> Self {
        self.binance = Some(spec);
        self
    }

    /// Lists the market on Bybit.
    pub(crate) fn with_bybit(mut self, spec: BybitSpec) -> Self {
        self.bybit = Some(spec);
        self
    }
}

/// The default universe: nine cross-listed markets plus an OKX inverse swap, a Binance quarterly future
/// and a Binance symbol that is not trading.
pub(crate) fn default_pairs() -> Vec<SimPair> {
    let linear = OkxSpec::linear;
    let perp = BinanceSpec::perpetual;
    let bybit = BybitSpec::perpetual;
    vec![
        SimPair::new("BTC", "USDT", 65_000.0, 150_000.0, 8e9)
            .with_okx(linear("BTC-USDT-SWAP", "0.01", "0.1", "0.01"))
            .with_binance(perp("BTCUSDT", "0.10", "0.001", 2, 3))
            .with_bybit(bybit("BTCUSDT", "0.10", "0.001", 2, 3)),
        SimPair::new("ETH", "USDT", 3_200.0, 80_000.0, 4e9)
            .with_okx(linear("ETH-USDT-SWAP", "0.1", "0.01", "0.01"))
            .with_binance(perp("ETHUSDT", "0.01", "0.001", 2, 3))
            .with_bybit(bybit("ETHUSDT", "0.01", "0.01", 2, 2)),
        SimPair::new("SOL", "USDT", 145.0, 40_000.0, 1e9)
            .with_okx(linear("SOL-USDT-SWAP", "1", "0.01", "0.01"))
            .with_binance(perp("SOLUSDT", "0.0100", "1", 4, 0))
            .with_bybit(bybit("SOLUSDT", "0.010", "0.1", 3, 1)),
        SimPair::new("XRP", "USDT", 0.6, 30_000.0, 5e8)
            .with_okx(linear("XRP-USDT-SWAP", "100", "0.0001", "0.01"))
            .with_binance(perp("XRPUSDT", "0.0001", "0.1", 4, 1)),
        SimPair::new("DOGE", "USDT", 0.15, 20_000.0, 4e8)
            .with_okx(linear("DOGE-USDT-SWAP", "1000", "0.00001", "0.01"))
            .with_binance(perp("DOGEUSDT", "0.000010", "1", 6, 0)),
        SimPair::new("PEPE", "USDT", 0.000012, 15_000.0, 3e8)
            .with_okx(linear("PEPE-USDT-SWAP", "10000000", "0.0000000001", "0.1"))
            .with_binance(perp("1000PEPEUSDT", "0.0000001", "1", 7, 0))
            .with_bybit(bybit("1000PEPEUSDT", "0.0000001", "100", 7, 0)),
        SimPair::new("SHIB", "USDT", 0.000025, 10_000.0, 1e8)
            .with_okx(linear("SHIB-USDT-SWAP", "1000000", "0.000000001", "1"))
            .with_binance(perp("1000SHIBUSDT", "0.000001", "1", 6, 0)),
        SimPair::new("LTC", "USDT", 85.0, 15_000.0, 2e8)
            .with_okx(linear("LTC-USDT-SWAP", "1", "0.01", "1"))
            .with_binance(perp("LTCUSDT", "0.01", "0.001", 2, 3)),
        SimPair::new("BTC", "USDC", 65_000.0, 50_000.0, 5e8)
            .with_okx(linear("BTC-USDC-SWAP", "0.0001", "0.1", "0.01"))
            .with_binance(perp("BTCUSDC", "0.1", "0.001", 1, 3))
            .with_bybit(bybit("BTCPERP", "0.5", "0.001", 1, 3)),
        SimPair::new("BTC", "USD", 65_000.0, 100_000.0, 1e9)
            .with_okx(OkxSpec { ct_type: ContractKind::Inverse, ..linear("BTC-USD-SWAP", "100", "0.1", "1") }),
        SimPair::new("BTC", "USDT", 65_500.0, 30_000.0, 2e8).with_binance(BinanceSpec {
            contract_type: "CURRENT_QUARTER".into(),
            delivery_date: 1_782_460_800_000,
            ..perp("BTCUSDT_260626", "0.10", "0.001", 2, 3)
        }),
        SimPair::new("MATIC", "USDT", 0.4, 5_000.0, 1e6)
            .with_binance(BinanceSpec { status: "SETTLING".into(), ..perp("MATICUSDT", "0.0001", "1", 4, 0) }),
    ]
}

#[cfg(test)]
mod tests;
