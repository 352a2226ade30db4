//! OKX symbol rules: turn `GET /api/v5/public/instruments?instType=SWAP` into normalized instruments.

use perpspread_core::{ContractKind, Instrument, PairKey, Venue};
use perpspread_net::body::{decode, positive_decimal};
use perpspread_net::{BodyError, Listing};
use rust_decimal::Decimal;

use crate::messages::{Envelope, InstrumentMsg};

/// Parses an instruments response body into usable instruments and skipped ones.
pub fn parse_instruments(body: &[u8]) -> Result<Listing, BodyError> {
    let envelope: Envelope<Vec<InstrumentMsg>> = decode(body)?;
    if envelope.code != "0" {
        return Err(BodyError::Api { code: envelope.code.to_string(), message: envelope.msg.to_string() });
    }
    let mut listing = Listing::default();
    for msg in envelope.data.unwrap_or_default() {
        listing.add(Venue::Okx, msg.inst_id, instrument_from(&msg));
    }
    Ok(listing)
}

/// Maps one OKX swap to an instrument, or says why it is not usable.
pub fn instrument_from(msg: &InstrumentMsg<'_>) -> Result<Instrument, BodyError> {
    let unusable = |why: String| Err(BodyError::Unusable(why));
    if msg.inst_type != "SWAP" {
        return unusable(format!("instType {}: not a perpetual swap", msg.inst_type));
    }
    // States and rule types as documented on 2026-09-08 (read 2026-12-06).
    match msg.state {
        "live" => {}
        "post_only" => return unusable("state post_only: only post-only orders accepted, no taker leg".into()),
        "rebase" => return unusable("state rebase: not tradable while the contract is rebased".into()),
        other => return unusable(format!("state {other:?}: not trading")),
    }
    match msg.rule_type {
        "" | "normal" => {}
        "pre_market" => {
            return unusable("ruleType pre_market: a pre-market contract, priced before any spot market".into())
        }
        other => return unusable(format!("ruleType {other:?}: only normal contracts pair")),
    }
    let mut parts = msg.inst_id.split('-');
    let (Some(base), Some(quote), Some("SWAP"), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return unusable(format!("unrecognized instId {:?}", msg.inst_id));
    };
    let kind = match msg.ct_type {
        "linear" => ContractKind::Linear,
        "inverse" => ContractKind::Inverse,
        other => return unusable(format!("unknown ctType {other:?}")),
    };
    let ct_val = positive_decimal("ctVal", msg.ct_val)?;
    let ct_mult = if msg.ct_mult.is_empty() { Decimal::ONE } else { positive_decimal("ctMult", msg.ct_mult)? };
    let tick = positive_decimal("tickSz", msg.tick_sz)?;
    let lot = positive_decimal("lotSz", msg.lot_sz)?;
    let min = if msg.min_sz.is_empty() { lot } else { positive_decimal("minSz", msg.min_sz)? };
    if kind == ContractKind::Linear && !msg.ct_val_ccy.is_empty() && !msg.ct_val_ccy.eq_ignore_ascii_case(base) {
        return unusable(format!("ctValCcy {} differs from base {base}", msg.ct_val_ccy));
    }
    let settle = if msg.settle_ccy.is_empty() { quote } else { msg.settle_ccy };
    let instrument = Instrument::new(
        Venue::Okx,
        msg.inst_id,
        PairKey::new(base, quote),
        settle,
        kind,
        ct_val * ct_mult,
        Decimal::ONE,
        tick,
        lot,
        min,
    );
    Ok(if msg.group_id.is_empty() { instrument } else { instrument.with_fee_group(msg.group_id) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("../../../fixtures/real/okx_instruments_swap_2022-05-13.json");
    const DOCS: &[u8] = include_bytes!("../../../fixtures/docs-examples/okx/http_get_instruments_swap.json");

    #[test]
    fn real_listing_maps_linear_and_inverse() {
        let listing = parse_instruments(REAL).unwrap();
        assert_eq!(listing.instruments.len() + listing.skipped.len(), 166);
        let btc = listing.instruments.iter().find(|i| i.symbol == "BTC-USDT-SWAP").unwrap();
        assert_eq!(btc.key.to_string(), "BTC/USDT");
        assert_eq!(btc.kind, ContractKind::Linear);
        assert_eq!(btc.base_per_qty_unit, "0.01".parse::<Decimal>().unwrap());
        assert_eq!(btc.tick_size, "0.1".parse::<Decimal>().unwrap());
        let inverse = listing.instruments.iter().filter(|i| i.kind == ContractKind::Inverse).count();
        assert_eq!(inverse, 40);
        let shib = listing.instruments.iter().find(|i| i.symbol == "SHIB-USDT-SWAP").unwrap();
        assert_eq!(shib.key.base, "SHIB");
        assert!(shib.base_per_qty_unit >= Decimal::from(1000));
    }

    #[test]
    fn docs_listing_parses() {
        let listing = parse_instruments(DOCS).unwrap();
        assert!(listing.instruments.iter().any(|i| i.symbol == "BTC-USD-SWAP" && i.kind == ContractKind::Inverse));
    }

    #[test]
    fn states_and_rule_types_that_cannot_pair_say_why() {
        let body = |state: &str, rule: &str| {
            format!(
                r#"{{"code":"0","msg":"","data":[{{"instId":"X-USDT-SWAP","instType":"SWAP","ctType":"linear","ctVal":"1","ctValCcy":"X","tickSz":"0.1","lotSz":"1","state":"{state}","ruleType":"{rule}","groupId":"4"}}]}}"#
            )
        };
        let listing = parse_instruments(body("live", "normal").as_bytes()).unwrap();
        assert_eq!(listing.instruments[0].fee_group.as_deref(), Some("4"));
        for (state, rule, reason) in [
            ("post_only", "normal", "post-only"),
            ("rebase", "normal", "rebased"),
            ("suspend", "normal", "not trading"),
            ("preopen", "normal", "not trading"),
            ("live", "pre_market", "pre-market"),
            ("live", "xperp", "only normal"),
        ] {
            let listing = parse_instruments(body(state, rule).as_bytes()).unwrap();
            assert!(listing.instruments.is_empty(), "{state} {rule}");
            assert!(listing.skipped[0].reason.contains(reason), "{state} {rule}: {}", listing.skipped[0].reason);
        }
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert!(parse_instruments(b"").is_err());
        assert!(parse_instruments(b"{\"code\":\"0\"").is_err());
        assert!(parse_instruments(b"[1,2]").is_err());
        let api = parse_instruments(br#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#).unwrap_err();
        assert!(matches!(&api, BodyError::Api { code, .. } if code == "51001"), "{api}");
        let listing = parse_instruments(
            br#"{"code":"0","msg":"","data":[{"instId":"X-USDT-SWAP","instType":"SWAP","ctType":"linear","ctVal":"abc","tickSz":"0.1","lotSz":"1","state":"live"}]}"#,
        )
        .unwrap();
        assert!(listing.skipped[0].reason.contains("ctVal"));
    }
}
