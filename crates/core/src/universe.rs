//! The normalized instrument universe: which contracts on different venues are the same market. A contract
//! listed on `n` venues gives `n·(n−1)/2` pairs (BTC/USDT on OKX×Binance, OKX×Bybit, Binance×Bybit).

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

/// The same linear perpetual on two venues (`legs[0].venue < legs[1].venue`, in [`Venue::ALL`] order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub key: PairKey,
    pub legs: [Instrument; 2],
}

/// The distinct instruments `pairs` have on `venue`, by symbol (a contract listed on three venues is a leg of
/// two pairs on each).
pub fn legs_on(pairs: &[Pair], venue: Venue) -> Vec<&Instrument> {
    let mut legs: Vec<&Instrument> = pairs.iter().filter_map(|p| p.leg(venue)).collect();
    legs.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    legs.dedup_by(|a, b| a.symbol == b.symbol);
    legs
}

impl Pair {
    /// `BTC/USDT:okx-binance`: the contract and its two venues (several pairs share a contract).
    pub fn id(&self) -> String {
        format!("{}:{}-{}", self.key, self.legs[0].venue, self.legs[1].venue)
    }

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
            // A venue listing two instruments for one contract cannot be paired on it: which one is meant?
            let mut listings: Vec<Instrument> = Vec::new();
            for venue in Venue::ALL {
                let on_venue: Vec<&Instrument> = group.iter().filter(|i| i.venue == venue).collect();
                match on_venue.as_slice() {
                    [] => {}
                    [one] => listings.push((*one).clone()),
                    many => {
                        for instrument in many {
                            let reason = format!("ambiguous: {} instruments on {venue} map to {key}", many.len());
                            unpaired.push(skip(instrument, &reason));
                        }
                    }
                }
            }
            group.clear();
            if listings.len() == 1 {
                let listed = listings[0].venue;
                let others: Vec<&str> = Venue::ALL.iter().filter(|v| **v != listed).map(|v| v.as_str()).collect();
                unpaired.push(skip(&listings[0], &format!("no {key} linear perpetual on {}", others.join(" or "))));
                continue;
            }
            for (i, first) in listings.iter().enumerate() {
                for second in &listings[i + 1..] {
                    pairs.push(Pair { key: key.clone(), legs: [first.clone(), second.clone()] });
                }
            }
        }
        unpaired.sort_by(|a, b| a.venue.cmp(&b.venue).then(a.symbol.cmp(&b.symbol)));
        Universe { pairs, unpaired }
    }

    /// The first pair [`Universe::find_all`] finds.
    pub fn find(&self, query: &str) -> Option<&Pair> {
        self.find_all(query).next()
    }

    /// Every pair of a base asset (`"BTC"`, USDT-quoted), a normalized key (`"BTC/USDT"`), a pair id
    /// (`"BTC/USDT:okx-binance"`) or a venue symbol (`"BTCUSDT"`: each pair with that leg).
    pub fn find_all<'a>(&'a self, query: &str) -> impl Iterator<Item = &'a Pair> + 'a {
        let wanted = query.trim().to_ascii_uppercase();
        self.pairs.iter().filter(move |pair| {
            pair.key.to_string() == wanted
                || pair.id().eq_ignore_ascii_case(&wanted)
                || (pair.key.base == wanted && pair.key.quote == "USDT")
                || pair.legs.iter().any(|leg| leg.symbol.eq_ignore_ascii_case(&wanted))
        })
    }
}

fn skip(instrument: &Instrument, reason: &str) -> Skipped {
    Skipped { venue: instrument.venue, symbol: instrument.symbol.clone(), reason: reason.to_owned() }
}

/// Least common multiple of two positive decimals (`lcm(0.0001, 0.001) = 0.001`, `lcm(0.4, 0.6) = 1.2`).
pub(crate) fn decimal_lcm(a: Decimal, b: Decimal) -> Decimal {
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
        crate::testkit::instrument(venue, symbol, base, quote).base_per_qty(per_qty).build()
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
