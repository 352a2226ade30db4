//! Binance symbol rules: turn `GET /fapi/v1/exchangeInfo` into normalized instruments.

use perpspread_core::instrument::split_scaled_asset;
use perpspread_core::{ContractKind, Instrument, PairKey, Venue};
use perpspread_net::body::{decode, positive_decimal};
use perpspread_net::{BodyError, Listing};
use rust_decimal::Decimal;

use crate::messages::{ExchangeInfo, SymbolMsg};

/// Parses an `exchangeInfo` body into usable perpetuals and skipped symbols.
pub fn parse_exchange_info(body: &[u8]) -> Result<Listing, BodyError> {
    let info: ExchangeInfo = decode(body)?;
    let mut listing = Listing::default();
    for msg in &info.symbols {
        listing.add(Venue::Binance, msg.symbol, instrument_from(msg));
    }
    Ok(listing)
}

/// Maps one symbol to an instrument, or says why it is not usable.
pub fn instrument_from(msg: &SymbolMsg<'_>) -> Result<Instrument, BodyError> {
    let unusable = |why: String| Err(BodyError::Unusable(why));
    // Contract types and states as listed in exchangeInfo in 2026 (read 2026-12-06).
    match msg.contract_type {
        "PERPETUAL" => {}
        "TRADIFI_PERPETUAL" => {
            return unusable(
                "contractType TRADIFI_PERPETUAL: a TradFi perpetual (stocks, metals, commodities) that trades in \
                 sessions and needs a separate agreement; not paired with crypto perpetuals"
                    .into(),
            )
        }
        "PERPETUAL_DELIVERING" => return unusable("contractType PERPETUAL_DELIVERING: being delisted".into()),
        "" => return unusable("contractType none: not a perpetual".into()),
        other => return unusable(format!("contractType {other}: not a perpetual (a delivery contract)")),
    }
    if msg.status != "TRADING" {
        return unusable(format!("status {}: not trading", msg.status));
    }
    if msg.underlying_type == "PREMARKET" {
        return unusable("underlyingType PREMARKET: a pre-market contract, priced before any spot market".into());
    }
    let filter = |kind: &str| msg.filters.iter().find(|f| f.filter_type == kind);
    let number = |field: &'static str, text: Option<&str>| -> Result<Decimal, BodyError> {
        positive_decimal(field, text.ok_or(BodyError::Missing(field))?)
    };
    let tick = number("PRICE_FILTER.tickSize", filter("PRICE_FILTER").and_then(|f| f.tick_size))?;
    let lot_filter = filter("LOT_SIZE");
    let lot = number("LOT_SIZE.stepSize", lot_filter.and_then(|f| f.step_size))?;
    let min =
        lot_filter.and_then(|f| f.min_qty).map(|q| number("LOT_SIZE.minQty", Some(q))).transpose()?.unwrap_or(lot);
    let (base, multiplier) = split_scaled_asset(msg.base_asset);
    let multiplier = Decimal::from(multiplier);
    let settle = if msg.margin_asset.is_empty() { msg.quote_asset } else { msg.margin_asset };
    Ok(Instrument::new(
        Venue::Binance,
        msg.symbol,
        PairKey::new(base, msg.quote_asset),
        settle,
        ContractKind::Linear,
        multiplier,
        multiplier,
        tick,
        lot,
        min,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("../../../fixtures/real/binance_usdm_exchange_info_2021-07-22.json");

    #[test]
    fn contract_types_that_cannot_pair_say_why() {
        let body = |contract: &str, status: &str, underlying: &str| {
            format!(
                r#"{{"symbols":[{{"symbol":"XAUUSDT","contractType":"{contract}","status":"{status}","underlyingType":"{underlying}","baseAsset":"XAU","quoteAsset":"USDT","marginAsset":"USDT","filters":[{{"filterType":"PRICE_FILTER","tickSize":"0.01"}},{{"filterType":"LOT_SIZE","stepSize":"0.001","minQty":"0.001"}}]}}]}}"#
            )
        };
        assert_eq!(parse_exchange_info(body("PERPETUAL", "TRADING", "COIN").as_bytes()).unwrap().instruments.len(), 1);
        for (contract, status, underlying, reason) in [
            ("TRADIFI_PERPETUAL", "TRADING", "COMMODITY", "TradFi"),
            ("PERPETUAL_DELIVERING", "TRADING", "COIN", "delisted"),
            ("CURRENT_QUARTER", "TRADING", "COIN", "delivery"),
            ("PERPETUAL", "PENDING_TRADING", "COIN", "not trading"),
            ("PERPETUAL", "TRADING", "PREMARKET", "pre-market"),
        ] {
            let listing = parse_exchange_info(body(contract, status, underlying).as_bytes()).unwrap();
            assert!(listing.instruments.is_empty(), "{contract} {status} {underlying}");
            assert!(listing.skipped[0].reason.contains(reason), "{}", listing.skipped[0].reason);
        }
    }

    #[test]
    fn real_exchange_info() {
        let listing = parse_exchange_info(REAL).unwrap();
        assert_eq!(listing.instruments.len() + listing.skipped.len(), 122);
        assert_eq!(listing.instruments.len(), 119);
        let shib = listing.instruments.iter().find(|i| i.symbol == "1000SHIBUSDT").unwrap();
        assert_eq!(shib.key.to_string(), "SHIB/USDT");
        assert_eq!(shib.base_per_qty_unit, Decimal::from(1000));
        assert_eq!(shib.base_per_price_unit, Decimal::from(1000));
        let inch = listing.instruments.iter().find(|i| i.symbol == "1INCHUSDT").unwrap();
        assert_eq!(inch.key.base, "1INCH");
        let btc = listing.instruments.iter().find(|i| i.symbol == "BTCUSDT").unwrap();
        assert_eq!(btc.tick_size, "0.01".parse::<Decimal>().unwrap());
        assert_eq!(btc.lot_size, "0.001".parse::<Decimal>().unwrap());
        assert_eq!((btc.price_scale, btc.qty_scale), (2, 3));
        let reasons: Vec<&str> = listing.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("CURRENT_QUARTER")));
        assert!(reasons.iter().any(|r| r.contains("PENDING_TRADING") || r.contains("none")));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(parse_exchange_info(b"{}").is_err());
        assert!(parse_exchange_info(b"not json").is_err());
        let listing = parse_exchange_info(
            br#"{"symbols":[{"symbol":"XUSDT","contractType":"PERPETUAL","status":"TRADING","baseAsset":"X","quoteAsset":"USDT","filters":[]}]}"#,
        )
        .unwrap();
        assert!(listing.skipped[0].reason.contains("tickSize"));
    }
}
