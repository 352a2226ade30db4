//! Tests of `model`.

use super::*;

fn market(config: &SimConfig) -> Market {
    Market::new(config, 1_700_000_000_000).unwrap()
}

fn top(book: &VenueBook) -> (f64, f64) {
    let bid = book.book.best_bid().unwrap().price;
    let ask = book.book.best_ask().unwrap().price;
    (book.meta.price_per_base(bid), book.meta.price_per_base(ask))
}

#[test]
fn books_are_full_sorted_and_rendered_as_the_venue_writes() {
    let mut m = market(&SimConfig::default());
    for _ in 0..20 {
        m.step();
    }
    for pair in m.pairs() {
        for book in [&pair.okx, &pair.binance, &pair.bybit].into_iter().flatten() {
            assert_eq!(book.book.depth(Side::Bid), book.meta.depth, "{}", book.meta.symbol());
            assert_eq!(book.book.depth(Side::Ask), book.meta.depth);
            assert!(!book.book.is_crossed());
        }
    }
    let sushi_like = m.book(Venue::Binance, "SOLUSDT").unwrap();
    let best = sushi_like.book.best_bid().unwrap();
    let text = sushi_like.book.price_of(&best).to_string();
    assert_eq!(text.split('.').nth(1).unwrap().len(), 4, "{text}");
    let pepe = m.book(Venue::Binance, "1000PEPEUSDT").unwrap();
    let px = pepe.meta.price_per_base(pepe.book.best_bid().unwrap().price);
    assert!((px / 0.000012 - 1.0).abs() < 0.05, "{px}");
}

#[test]
fn same_seed_same_market() {
    let config = SimConfig::default();
    let (mut a, mut b) = (market(&config), market(&config));
    for _ in 0..50 {
        a.step();
        b.step();
    }
    for (pa, pb) in a.pairs().iter().zip(b.pairs()) {
        for venue in Venue::ALL {
            if let (Some(x), Some(y)) = (pa.venue(venue), pb.venue(venue)) {
                let levels = |v: &VenueBook| {
                    v.book.levels(Side::Bid).chain(v.book.levels(Side::Ask)).copied().collect::<Vec<_>>()
                };
                assert_eq!(levels(x), levels(y));
                assert_eq!(x.seq, y.seq);
            }
        }
    }
    let other = market(&SimConfig { seed: 43, ..config });
    assert_ne!(
        other.book(Venue::Okx, "BTC-USDT-SWAP").unwrap().book.best_bid(),
        a.book(Venue::Okx, "BTC-USDT-SWAP").unwrap().book.best_bid()
    );
}

#[test]
fn venues_never_cross_without_a_dislocation() {
    let mut m = market(&SimConfig { volatility_bp_per_s: 20.0, ..SimConfig::default() });
    for _ in 0..300 {
        m.step();
        for pair in m.pairs().iter().filter(|p| p.spec.is_cross_listed()) {
            let (okx_bid, okx_ask) = top(pair.okx.as_ref().unwrap());
            let (bn_bid, bn_ask) = top(pair.binance.as_ref().unwrap());
            assert!(okx_ask >= bn_bid && bn_ask >= okx_bid, "{} crossed", pair.spec.key());
        }
    }
}

#[test]
fn dislocation_crosses_by_the_requested_size() {
    let config = SimConfig {
        dislocations: vec![Dislocation {
            base: "PEPE".into(),
            quote: "USDT".into(),
            buy_venue: Venue::Binance,
            sell_on: None,
            size_bp: 15.0,
            start_ms: 1000,
            duration_ms: 500,
        }],
        ..SimConfig::default()
    };
    let mut m = market(&config);
    let mut truths = Vec::new();
    for step in 1..=20u64 {
        truths.extend(m.step());
        let pair = m.pair_of(Venue::Okx, "PEPE-USDT-SWAP").unwrap();
        let (bn_bid, bn_ask) = top(pair.binance.as_ref().unwrap());
        let (okx_bid, okx_ask) = top(pair.okx.as_ref().unwrap());
        let gross_bp = (okx_bid / bn_ask - 1.0) * 1e4;
        if (10..15).contains(&step) {
            let tick_bp = 1e4 * 0.0000001 / 1000.0 / bn_ask;
            assert!(gross_bp >= 15.0 - 1e-6 && gross_bp <= 15.0 + tick_bp + 1e-6, "step {step}: {gross_bp}");
        } else {
            assert!(okx_ask >= bn_bid && bn_ask >= okx_bid, "step {step} crossed");
        }
    }
    assert_eq!(truths.len(), 1);
    assert_eq!(truths[0].pair, "PEPE/USDT");
    assert_eq!(truths[0].end_ns - truths[0].start_ns, 500_000_000);
}
