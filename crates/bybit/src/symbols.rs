//! Bybit symbol rules: turn `GET /v5/market/instruments-info?category=linear` pages into normalized
//! instruments.
//!
//! Linear contracts quote and size in the base coin, except for scaled ones whose base coin carries a power of
//! ten (`1000PEPEUSDT`: base coin `1000PEPE`, price and size per 1000 PEPE; `10000SATSUSDT`; `SHIB1000USDT`: base
//! coin `SHIB1000`). USDC-margined perpetuals (`BTCPERP`) pair with other venues' USDC perpetuals.

use perpspread_core::instrument::split_scaled_asset;
use perpspread_core::{ContractKind, Instrument, PairKey, Venue};
use perpspread_net::body::positive_decimal;
use perpspread_net::{BodyError, Listing};
use rust_decimal::Decimal;

use crate::messages::{InstrumentMsg, InstrumentsResult};

/// One page of instruments and the cursor of the next (`None` on the last page).
pub fn parse_instruments_page(body: &[u8]) -> Result<(Listing, Option<String>), BodyError> {
    let result: InstrumentsResult = crate::rest::result(body)?;
    let mut listing = Listing::default();
    for msg in &result.list {
        listing.add(Venue::Bybit, &msg.symbol, instrument_from(msg));
    }
    let next = result.next_page_cursor.filter(|cursor| !cursor.is_empty());
    Ok((listing, next))
}

/// Every page of a recorded instrument list (replay: the pages are recorded one by one; this reads one).
pub fn parse_instruments(body: &[u8]) -> Result<Listing, BodyError> {
    parse_instruments_page(body).map(|(listing, _)| listing)
}

/// Maps one contract to an instrument, or says why it is not usable.
pub fn instrument_from(msg: &InstrumentMsg) -> Result<Instrument, BodyError> {
    let unusable = |why: String| Err(BodyError::Unusable(why));
    match msg.contract_type.as_str() {
        "LinearPerpetual" => {}
        "" => return unusable("contractType none: not a perpetual".into()),
        other => return unusable(format!("contractType {other}: not a linear perpetual (a delivery contract)")),
    }
    if msg.status != "Trading" {
        return unusable(format!("status {}: not trading", msg.status));
    }
    if msg.is_pre_listing == Some(true) {
        return unusable("isPreListing: a pre-market contract, priced before any spot market".into());
    }
    // symbolType as documented (enum page and changelog of the Bybit docs, 2026-07-24): crypto perpetuals are
    // `""` or `innovation`; `commodity`, `stock` and `forex` are TradFi perpetuals, not paired with crypto ones
    // (as Binance's TRADIFI_PERPETUAL).
    match msg.symbol_type.as_str() {
        "" | "innovation" => {}
        other => return unusable(format!("symbolType {other}: a TradFi perpetual, not paired with crypto perpetuals")),
    }
    let number = positive_decimal;
    let tick = number("priceFilter.tickSize", &msg.price_filter.tick_size)?;
    let lot = number("lotSizeFilter.qtyStep", &msg.lot_size_filter.qty_step)?;
    let min = if msg.lot_size_filter.min_order_qty.is_empty() {
        lot
    } else {
        number("lotSizeFilter.minOrderQty", &msg.lot_size_filter.min_order_qty)?
    };
    if msg.base_coin.is_empty() || msg.quote_coin.is_empty() {
        return Err(BodyError::Missing("baseCoin or quoteCoin"));
    }
    let (base, multiplier) = split_scaled_asset(&msg.base_coin);
    let multiplier = Decimal::from(multiplier);
    let settle = if msg.settle_coin.is_empty() { &msg.quote_coin } else { &msg.settle_coin };
    Ok(Instrument::new(
        Venue::Bybit,
        msg.symbol.clone(),
        PairKey::new(base, &msg.quote_coin),
        settle.clone(),
        ContractKind::Linear,
        multiplier,
        multiplier,
        tick,
        lot,
        min,
    ))
}

#[cfg(test)]
mod listing_tests {
    use super::*;

    fn item(symbol: &str, contract: &str, status: &str, base: &str, quote: &str, extra: &str) -> String {
        format!(
            r#"{{"symbol":"{symbol}","contractType":"{contract}","status":"{status}","baseCoin":"{base}","quoteCoin":"{quote}","settleCoin":"{quote}","priceScale":"2","priceFilter":{{"minPrice":"0.10","maxPrice":"199999.80","tickSize":"0.10"}},"lotSizeFilter":{{"maxOrderQty":"100.000","minOrderQty":"0.001","qtyStep":"0.001"}},"fundingInterval":480{extra}}}"#
        )
    }

    #[test]
    fn linear_perpetuals_pair_and_the_rest_say_why_not() {
        let list = [
            item("BTCUSDT", "LinearPerpetual", "Trading", "BTC", "USDT", ""),
            item("1000PEPEUSDT", "LinearPerpetual", "Trading", "1000PEPE", "USDT", ""),
            item("BTCPERP", "LinearPerpetual", "Trading", "BTC", "USDC", ""),
            item("BTC-27DEC26", "LinearFutures", "Trading", "BTC", "USDT", ""),
            item("NEWUSDT", "LinearPerpetual", "PreLaunch", "NEW", "USDT", ""),
            item("PREUSDT", "LinearPerpetual", "Trading", "PRE", "USDT", r#","isPreListing":true"#),
            item("XAUUSDT", "LinearPerpetual", "Trading", "XAU", "USDT", r#","symbolType":"commodity""#),
            item("AAPLUSDT", "LinearPerpetual", "Trading", "AAPL", "USDT", r#","symbolType":"stock""#),
            item("MEMEUSDT", "LinearPerpetual", "Trading", "MEME", "USDT", r#","symbolType":"innovation""#),
        ]
        .join(",");
        let body = format!(
            r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{list}],"nextPageCursor":"first%3D1000PEPEUSDT"}},"retExtInfo":{{}},"time":1}}"#
        );
        let (listing, next) = parse_instruments_page(body.as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("first%3D1000PEPEUSDT"));
        let keys: Vec<String> = listing.instruments.iter().map(|i| format!("{} {}", i.symbol, i.key)).collect();
        assert_eq!(keys, ["BTCUSDT BTC/USDT", "1000PEPEUSDT PEPE/USDT", "BTCPERP BTC/USDC", "MEMEUSDT MEME/USDT"]);
        let pepe = &listing.instruments[1];
        assert_eq!((pepe.base_per_qty_unit, pepe.base_per_price_unit), (Decimal::from(1000), Decimal::from(1000)));
        let reasons: Vec<&str> = listing.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(
            reasons[0].contains("LinearFutures")
                && reasons[1].contains("PreLaunch")
                && reasons[2].contains("pre-market")
                && reasons[3].contains("symbolType commodity")
                && reasons[4].contains("symbolType stock")
        );
        let last = r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[],"nextPageCursor":""}}"#;
        assert_eq!(parse_instruments_page(last.as_bytes()).unwrap().1, None);
        assert!(parse_instruments_page(br#"{"retCode":10001,"retMsg":"bad","result":null}"#).is_err());
    }
}

#[cfg(test)]
mod docs_tests {
    use super::*;

    /// The documented linear instruments shape (fixtures/docs-examples/bybit, via nautilus_trader), whose last-page
    /// cursor is `null`.
    #[test]
    fn documented_instruments() {
        let body = include_bytes!("../../../fixtures/docs-examples/bybit/http_get_instruments_linear.json");
        let (listing, next) = parse_instruments_page(body).unwrap();
        assert_eq!(next, None);
        let symbols: Vec<&str> = listing.instruments.iter().map(|i| i.symbol.as_str()).collect();
        assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"]);
        let eth = &listing.instruments[1];
        assert_eq!((eth.tick_size.to_string(), eth.lot_size.to_string()), ("0.05".into(), "0.01".into()));
        assert_eq!(eth.key.to_string(), "ETH/USDT");
    }
}
