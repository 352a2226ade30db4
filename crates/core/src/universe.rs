//! The normalized instrument universe: which contracts on two venues are the same market.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::instrument::{ContractKind, Instrument, PairKey, Venue};

/// An instrument left out of the paired universe, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub venue: Venue,
    pub symbol: String,
    pub reason: String,
}

/// The same linear perpetual on two venues (`legs[0].venue < legs[1].venue`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub key: PairKey,
    pub legs: [Instrument; 2],
}

impl Pair {
    /// The leg listed on `venue`, if any.
    pub fn leg(&self, venue: Venue) -> Option<&Instrument> {
        self.legs.iter().find(|leg| leg.venue == venue)
    }

    /// The smallest size, in base units, that is a whole number of lots on both legs (the least common
    /// multiple of the two lot sizes expressed in base units).
    pub fn common_step_base(&self) -> Decimal {
        decimal_lcm(self.legs[0].lot_base(), self.legs[1].lot_base())
    }
}

/// Every paired market, plus the instruments that could not be paired with a reason each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Universe {
    pub pairs: Vec<Pair>,
    pub unpaired: Vec<Skipped>,
}

impl Universe {
    /// Pairs linear instruments with the same base and quote across two venues. Inverse contracts are
    /// never paired with linear ones; quote assets must match exactly (USDC pairs only with USDC).
    /// `skipped` carries the venues' own exclusions (not perpetual, not trading, …) into `unpaired`.
    pub fn build(instruments: Vec<Instrument>, skipped: Vec<Skipped>) -> Universe {
        let mut unpaired = skipped;
        let mut by_key: BTreeMap<PairKey, Vec<Instrument>> = BTreeMap::new();
        for instrument in instruments {
            if instrument.kind == ContractKind::Inverse {
                unpaired
                    .push(skip(&instrument, "inverse (coin-margined) contract: not comparable with linear contracts"));
                continue;
            }
            by_key.entry(instrument.key.clone()).or_default().push(instrument);
        }
        let mut pairs = Vec::new();
        for (key, mut group) in by_key {
            group.sort_by(|a, b| a.venue.cmp(&b.venue).then(a.symbol.cmp(&b.symbol)));
            let venues: Vec<Venue> = group.iter().map(|i| i.venue).collect();
            let distinct = {
                let mut v = venues.clone();
                v.dedup();
                v
            };
            if distinct.len() == 2 && group.len() == 2 {
                let second = group.pop().expect("two instruments");
                let first = group.pop().expect("two instruments");
                pairs.push(Pair { key, legs: [first, second] });
            } else if distinct.len() == 1 && group.len() == 1 {
                let other = Venue::ALL.into_iter().find(|v| *v != venues[0]);
                let reason = match other {
                    Some(other) => format!("no {key} linear perpetual on {other}"),
                    None => format!("no other venue lists {key}"),
                };
                unpaired.push(skip(&group[0], &reason));
            } else {
                for instrument in &group {
                    unpaired.push(skip(instrument, &format!("ambiguous: {} instruments map to {key}", group.len())));
                }
            }
        }
        unpaired.sort_by(|a, b| a.venue.cmp(&b.venue).then(a.symbol.cmp(&b.symbol)));
        Universe { pairs, unpaired }
    }

    /// Finds a pair by base asset (`"BTC"`), normalized key (`"BTC/USDT"`) or either venue symbol.
    pub fn find(&self, query: &str) -> Option<&Pair> {
        let wanted = query.trim().to_ascii_uppercase();
        self.pairs.iter().find(|pair| {
            pair.key.to_string() == wanted
                || (pair.key.base == wanted && pair.key.quote == "USDT")
                || pair.legs.iter().any(|leg| leg.symbol.eq_ignore_ascii_case(&wanted))
        })
    }
}

fn skip(instrument: &Instrument, reason: &str) -> Skipped {
    Skipped { venue: instrument.venue, symbol: instrument.symbol.clone(), reason: reason.to_owned() }
}

/// Least common multiple of two positive decimals (`lcm(0.0001, 0.001) = 0.001`, `lcm(0.4, 0.6) = 1.2`).
pub fn decimal_lcm(a: Decimal, b: Decimal) -> Decimal {
    let scale = a.normalize().scale().max(b.normalize().scale());
    let factor = Decimal::from_i128_with_scale(10i128.pow(scale), 0);
    let (ia, ib) = ((a * factor).trunc(), (b * factor).trunc());
    let (Ok(ia), Ok(ib)) = (i128::try_from(ia), i128::try_from(ib)) else {
        return a.max(b);
    };
    if ia <= 0 || ib <= 0 {
        return a.max(b);
    }
    let lcm = ia / gcd(ia, ib) * ib;
    Decimal::from_i128_with_scale(lcm, scale).normalize()
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn linear(venue: Venue, symbol: &str, base: &str, quote: &str, per_qty: &str) -> Instrument {
        Instrument::new(
            venue,
            symbol,
            PairKey::new(base, quote),
            quote,
            ContractKind::Linear,
            d(per_qty),
            d("1"),
            d("0.1"),
            d("1"),
            d("1"),
        )
    }

    #[test]
    fn pairs_linear_same_quote_only() {
        let mut inverse = linear(Venue::Okx, "BTC-USD-SWAP", "BTC", "USD", "1");
        inverse.kind = ContractKind::Inverse;
        let instruments = vec![
            linear(Venue::Okx, "BTC-USDT-SWAP", "BTC", "USDT", "0.01"),
            linear(Venue::Binance, "BTCUSDT", "BTC", "USDT", "1"),
            linear(Venue::Okx, "BTC-USDC-SWAP", "BTC", "USDC", "0.0001"),
            linear(Venue::Binance, "ETHBUSD", "ETH", "BUSD", "1"),
            inverse,
        ];
        let universe = Universe::build(instruments, vec![]);
        assert_eq!(universe.pairs.len(), 1);
        let pair = &universe.pairs[0];
        assert_eq!(pair.key.to_string(), "BTC/USDT");
        assert_eq!(pair.legs[0].venue, Venue::Okx);
        assert_eq!(pair.legs[1].symbol, "BTCUSDT");
        let reasons: Vec<_> = universe.unpaired.iter().map(|s| (s.symbol.as_str(), s.reason.as_str())).collect();
        assert!(reasons.iter().any(|(s, r)| *s == "BTC-USD-SWAP" && r.contains("inverse")));
        assert!(reasons.iter().any(|(s, r)| *s == "BTC-USDC-SWAP" && r.contains("binance")));
        assert!(reasons.iter().any(|(s, r)| *s == "ETHBUSD" && r.contains("okx")));
        assert_eq!(universe.find("btc").unwrap().key.base, "BTC");
        assert_eq!(universe.find("BTCUSDT").unwrap().key.base, "BTC");
        assert!(universe.find("DOGE").is_none());
    }

    #[test]
    fn lcm_of_lots() {
        assert_eq!(decimal_lcm(d("0.0001"), d("0.001")), d("0.001"));
        assert_eq!(decimal_lcm(d("0.4"), d("0.6")), d("1.2"));
        assert_eq!(decimal_lcm(d("1000"), d("100000")), d("100000"));
        assert_eq!(decimal_lcm(d("10"), d("10")), d("10"));
    }
}
