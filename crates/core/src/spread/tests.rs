//! Tests of `spread`.

use super::*;
use crate::instrument::PairKey;
use crate::num::Dec64;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn instrument(venue: Venue, symbol: &str, per_qty: &str, per_price: &str, tick: &str, lot: &str) -> Instrument {
    crate::testkit::instrument(venue, symbol, "PEPE", "USDT")
        .base_per_qty(per_qty)
        .base_per_price(per_price)
        .tick(tick)
        .lot(lot)
        .build()
}

/// Buying the pair's first leg and selling its second, on these books.
fn calculator<'a>(pair: &'a Pair, [buy, sell]: [&'a OrderBook; 2], fees: &FeeModel) -> SpreadCalculator<'a> {
    let leg = |index: usize, book| LegBook { instrument: &pair.legs[index], book };
    SpreadCalculator::new(pair, leg(0, buy), leg(1, sell), fees)
}

fn book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> OrderBook {
    let mut book = OrderBook::new(0, 0, 400);
    let conv = |levels: &[(&str, &str)]| -> Vec<(Dec64, Dec64)> {
        levels.iter().map(|(p, q)| (Dec64::parse(p).unwrap(), Dec64::parse(q).unwrap())).collect()
    };
    book.load_snapshot(conv(bids), conv(asks)).unwrap();
    book
}

/// OKX PEPE-USDT-SWAP: 1 contract = 10 000 000 PEPE, price per PEPE.
/// Binance 1000PEPEUSDT: size in 1000-PEPE units, price per 1000 PEPE.
fn pepe_pair() -> Pair {
    Pair {
        key: PairKey::new("PEPE", "USDT"),
        legs: [
            instrument(Venue::Okx, "PEPE-USDT-SWAP", "10000000", "1", "0.0000000001", "1"),
            instrument(Venue::Binance, "1000PEPEUSDT", "1000", "1000", "0.0000001", "1"),
        ],
    }
}

#[test]
fn thousand_prefix_and_contract_size_are_rescaled() {
    let pair = pepe_pair();
    // OKX asks at 0.0000100 and 0.0000101 USDT/PEPE, 2 contracts (20M PEPE) each.
    let okx = book(&[("0.0000099", "5")], &[("0.0000100", "2"), ("0.0000101", "2")]);
    // Binance bids at 0.0102 USDT per 1000 PEPE (= 0.0000102 per PEPE), 30 000 units (30M PEPE).
    let binance = book(&[("0.0102", "30000"), ("0.0098", "100000")], &[("0.0105", "1")]);
    let fees = FeeModel::uniform(5.0, true);
    let calc = calculator(&pair, [&okx, &binance], &fees);
    assert_eq!(pair.common_step_base(), d("10000000"));
    // Buy 30M PEPE: 20M at 0.0000100 + 10M at 0.0000101 = 200 + 101 = 301 USDT.
    // Sell 30M PEPE at 0.0000102 = 306 USDT. Gross = 5/301 = 166.11 bp, net = 146.11 bp.
    let q = calc.quote(SizeTarget::Base(d("30000000"))).unwrap();
    assert_eq!(q.size_base, d("30000000"));
    assert!((q.buy_cost_quote - 301.0).abs() < 1e-9, "{q:?}");
    assert!((q.sell_proceeds_quote - 306.0).abs() < 1e-9);
    assert!((q.buy_vwap - 301.0 / 30e6).abs() < 1e-15);
    assert!((q.gross_bp - 5.0 / 301.0 * 1e4).abs() < 1e-9);
    assert_eq!(q.fees_bp, 20.0);
    assert!((q.net_bp - (5.0 / 301.0 * 1e4 - 20.0)).abs() < 1e-9);
    // 35M PEPE rounds down to 30M (step is one OKX contract = 10M PEPE).
    assert_eq!(calc.quote(SizeTarget::Base(d("35000000"))).unwrap().size_base, d("30000000"));
}

#[test]
fn walks_that_overflow_64_bits_are_summed_in_128() {
    // Each level's notional, about 10^19, is beyond i64::MAX.
    let big = book(&[], &[("1000000000000", "10000000"), ("1000000000001", "10000000")]);
    assert_eq!(walk_notional_64(&big, Side::Ask, 15_000_000, 1), Walk::Overflow);
    let expected = 1_000_000_000_000i128 * 10_000_000 + 1_000_000_000_001i128 * 5_000_000;
    assert_eq!(walk_notional_128(&big, Side::Ask, 15_000_000, 1), Some(expected as f64));
    assert_eq!(walk_notional_128(&big, Side::Ask, 25_000_000, 1), None, "a short side is not a fill");
    // 30 refined units at 100, then 20 of 40 at 101.
    let small = book(&[], &[("100", "3"), ("101", "4")]);
    assert_eq!(walk_notional_64(&small, Side::Ask, 50, 10), Walk::Filled(5020));
    assert_eq!(walk_notional_128(&small, Side::Ask, 50, 10), Some(5020.0));
    assert_eq!(walk_notional_64(&small, Side::Ask, 71, 10), Walk::Short);
}

proptest::proptest! {
    /// The threshold search returns the largest whole number of steps whose net spread meets it.
    #[test]
    fn max_size_is_the_largest_qualifying_size(
        asks in proptest::collection::vec((10_000i64..10_060, 1i64..40), 1..10),
        bids in proptest::collection::vec((10_000i64..10_060, 1i64..40), 1..10),
        threshold in -40.0f64..40.0,
    ) {
        let leg = |venue, symbol: &str| instrument(venue, symbol, "1", "1", "1", "1");
        let pair = Pair { key: PairKey::new("PEPE", "USDT"), legs: [leg(Venue::Okx, "A"), leg(Venue::Binance, "B")] };
        let levels = |levels: &[(i64, i64)]| -> Vec<(Dec64, Dec64)> {
            levels.iter().map(|&(p, q)| (Dec64::new(p, 0), Dec64::new(q, 0))).collect()
        };
        let (mut buy, mut sell) = (OrderBook::new(0, 0, 400), OrderBook::new(0, 0, 400));
        buy.load_snapshot([], levels(&asks)).unwrap();
        sell.load_snapshot(levels(&bids), []).unwrap();
        let fees = FeeModel::uniform(2.0, true).with_taker_bp(Venue::Binance, 3.0);
        let calc = calculator(&pair, [&buy, &sell], &fees);
        let max = calc.max_size(threshold);
        let steps = max.size_base.to_i64().unwrap();
        if steps > 0 {
            proptest::prop_assert!(calc.quote_steps(steps).unwrap().net_bp >= threshold, "{:?}", max);
        }
        let more = calc.quote_steps(steps + 1);
        proptest::prop_assert!(more.as_ref().map_or(true, |q| q.net_bp < threshold), "{:?} then {:?}", max, more);
    }

    /// The 64-bit walk, when it does not overflow, gives exactly the 128-bit walk's result.
    #[test]
    fn walk_widths_agree(
        levels in proptest::collection::vec((1i64..1_000_000_000_000, 1i64..10_000_000), 0..8),
        wanted in 1i64..100_000_000,
        extra in 0usize..4,
    ) {
        let mut side = OrderBook::new(0, 0, 400);
        side.load_snapshot([], levels.iter().map(|&(p, q)| (Dec64::new(p, 0), Dec64::new(q, 0)))).unwrap();
        let wide = walk_notional_128(&side, Side::Ask, wanted, POW10[extra]);
        match walk_notional_64(&side, Side::Ask, wanted, POW10[extra]) {
            Walk::Filled(notional) => proptest::prop_assert_eq!(wide, Some(notional as f64)),
            Walk::Short => proptest::prop_assert_eq!(wide, None),
            Walk::Overflow => {}
        }
    }
}

#[test]
fn insufficient_depth_is_reported_not_guessed() {
    let pair = pepe_pair();
    let okx = book(&[("0.0000099", "5")], &[("0.0000100", "2")]);
    let binance = book(&[("0.0102", "30000")], &[("0.0105", "1")]);
    let fees = FeeModel::default();
    let calc = calculator(&pair, [&okx, &binance], &fees);
    let err = calc.quote(SizeTarget::Base(d("30000000"))).unwrap_err();
    assert_eq!(
        err,
        NotExecutable::NotEnoughDepth { venue: Venue::Okx, side: "ask", available_base: 20e6, wanted_base: 30e6 }
    );
    assert!(err.to_string().contains("not enough depth"));
    assert!(matches!(calc.quote(SizeTarget::Base(d("1000"))), Err(NotExecutable::BelowLotStep { .. })));
    let empty = book(&[], &[]);
    let calc = calculator(&pair, [&empty, &binance], &fees);
    assert!(matches!(calc.quote(SizeTarget::Quote(d("100"))), Err(NotExecutable::NotEnoughDepth { .. })));
    assert_eq!(calc.max_size(0.0).size_base, Decimal::ZERO);
}

fn btc_pair() -> Pair {
    let mut okx = instrument(Venue::Okx, "BTC-USDT-SWAP", "0.01", "1", "0.1", "1");
    okx.key = PairKey::new("BTC", "USDT");
    let mut binance = instrument(Venue::Binance, "BTCUSDT", "1", "1", "0.1", "0.001");
    binance.key = PairKey::new("BTC", "USDT");
    Pair { key: PairKey::new("BTC", "USDT"), legs: [okx, binance] }
}

#[test]
fn quote_target_and_max_size_at_threshold() {
    let pair = btc_pair();
    // OKX asks: 100 contracts (1 BTC) at 10000, 1000 contracts (10 BTC) at 10010.
    let okx = book(&[("9990", "100")], &[("10000", "100"), ("10010", "1000")]);
    // Binance bids: 1.5 BTC at 10040, 5 BTC at 10015.
    let binance = book(&[("10040", "1.5"), ("10015", "5")], &[("10050", "1")]);
    let fees = FeeModel::uniform(5.0, true);
    let calc = calculator(&pair, [&okx, &binance], &fees);
    assert_eq!(pair.common_step_base(), d("0.01"));
    // 5000 USDT at 10000 = 0.5 BTC.
    let q = calc.quote(SizeTarget::Quote(d("5000"))).unwrap();
    assert_eq!(q.size_base, d("0.5"));
    assert!((q.gross_bp - 40.0).abs() < 1e-9);
    // Threshold 0 bp net means gross ≥ 20 bp. At 1 BTC: gross 40 bp. Beyond 1 BTC the marginal buy is
    // 10010 and marginal sell 10040 (until 1.5 BTC), then 10015 (< 10010 × 1.002): the crossing is
    // where proceeds = 1.002 × cost.
    let max = calc.max_size(0.0);
    let s = max.size_base.to_f64().unwrap();
    let cost = |s: f64| {
        if s <= 1.0 {
            10000.0 * s
        } else {
            10000.0 + 10010.0 * (s - 1.0)
        }
    };
    let proceeds = |s: f64| {
        if s <= 1.5 {
            10040.0 * s
        } else {
            15060.0 + 10015.0 * (s - 1.5)
        }
    };
    assert!(proceeds(s) >= 1.002 * cost(s), "{max:?}");
    assert!(proceeds(s + 0.01) < 1.002 * cost(s + 0.01), "{max:?} is not the largest");
    assert!(!max.depth_limited);
    assert_eq!(max.size_base, d("3.16")); // solves 37.5 + 10015 s = 1.002 × (10010 s − 10)
    assert!(max.net_bp.unwrap() >= 0.0);
    // A threshold no size meets gives zero.
    assert_eq!(calc.max_size(100.0).size_base, Decimal::ZERO);
    // Entry-only fees: 10 bp.
    let entry_only = FeeModel::uniform(5.0, false);
    let calc2 = calculator(&pair, [&okx, &binance], &entry_only);
    assert!((calc2.quote(SizeTarget::Base(d("1"))).unwrap().net_bp - 30.0).abs() < 1e-9);
    assert!(calc2.max_size(0.0).size_base > max.size_base);
}

#[test]
fn max_size_is_depth_limited_when_books_run_out() {
    let pair = btc_pair();
    let okx = book(&[("9990", "100")], &[("10000", "50")]);
    let binance = book(&[("10100", "3")], &[("10150", "1")]);
    let fees = FeeModel::default();
    let calc = calculator(&pair, [&okx, &binance], &fees);
    let max = calc.max_size(0.0);
    assert_eq!(max.size_base, d("0.5"));
    assert!(max.depth_limited);
    let mid = mid_per_base(&LegBook { instrument: &pair.legs[0], book: &okx }).unwrap();
    assert!((mid - 9995.0).abs() < 1e-9);
}

#[test]
fn top_of_book_prints_as_the_venue_wrote_it() {
    let btc = btc_pair();
    let okx = book(&[("64822.7", "1")], &[("64822.8", "2")]);
    let (bid, ask) = top_per_base(&LegBook { instrument: &btc.legs[0], book: &okx });
    assert_eq!((bid.unwrap().to_string(), ask.unwrap().to_string()), ("64822.7".into(), "64822.8".into()));
    // Binance 1000PEPE: a price per 1000 PEPE shown per PEPE.
    let pepe = pepe_pair();
    let binance = book(&[("0.0123456", "10")], &[("0.0123457", "10")]);
    let (bid, _) = top_per_base(&LegBook { instrument: &pepe.legs[1], book: &binance });
    assert_eq!(bid.unwrap().to_string(), "0.0000123456");
}
