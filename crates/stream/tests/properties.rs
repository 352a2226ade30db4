//! Property tests across crates: fixed-point round trips for every tick size of the real instrument lists,
//! and engine results that do not depend on how a book update is split into messages.

use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::feed::{BookState, RecvTime, TrackedBook};
use perpspread_core::num::{write_fixed, Dec64};
use perpspread_core::spread::SizeTarget;
use perpspread_core::testkit;
use perpspread_core::{OrderBook, Side, Venue};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn real_tick_and_lot_sizes() -> Vec<Decimal> {
    let okx = perpspread_okx::symbols::parse_instruments(include_bytes!(
        "../../../fixtures/real/okx_instruments_swap_2022-05-13.json"
    ))
    .unwrap();
    let binance = perpspread_binance::symbols::parse_exchange_info(include_bytes!(
        "../../../fixtures/real/binance_usdm_exchange_info_2021-07-22.json"
    ))
    .unwrap();
    let mut steps: Vec<Decimal> = okx
        .instruments
        .iter()
        .chain(&binance.instruments)
        .flat_map(|i| [i.tick_size.normalize(), i.lot_size.normalize()])
        .collect();
    steps.sort();
    steps.dedup();
    steps
}

proptest! {
    /// Any multiple of any real tick or lot size prints and parses back to the same value on the
    /// instrument's grid, and prints exactly as written.
    #[test]
    fn fixed_point_round_trips_for_real_steps(index in 0usize..1000, multiple in 1i64..10_000_000) {
        let steps = real_tick_and_lot_sizes();
        let step = steps[index % steps.len()];
        let value = step * Decimal::from(multiple);
        let text = value.normalize().to_string();
        let parsed = Dec64::parse(&text).unwrap();
        let scale = perpspread_core::num::decimals_of(step);
        let units = parsed.at_scale(scale).unwrap();
        let mut printed = String::new();
        write_fixed(&mut printed, units, scale, parsed.decimals).unwrap();
        prop_assert_eq!(&printed, &text);
        prop_assert_eq!(printed.parse::<Decimal>().unwrap(), value);
    }

    /// Applying an update in one message or split into several gives the same book, hence the same
    /// executable spreads.
    #[test]
    fn engine_results_do_not_depend_on_message_splitting(
        changes in proptest::collection::vec((any::<bool>(), 1u32..60, 0u32..50), 1..60),
        split in 1usize..10,
    ) {
        let leg = |venue, symbol: &str| testkit::instrument(venue, symbol, "BTC", "USDT").base_per_qty("0.01").build();
        let pair = testkit::pair(leg(Venue::Okx, "A"), leg(Venue::Binance, "B"));
        let snapshot = |book: &mut OrderBook| {
            let levels = |base: i64, sign: i64| (1..=60).map(move |i| (Dec64::new(base + sign * i, 1), Dec64::new(10, 0))).collect::<Vec<_>>();
            book.load_snapshot(levels(10_000, -1), levels(10_000, 1)).unwrap();
        };
        let (mut whole, mut pieces) = (OrderBook::new(1, 0, 400), OrderBook::new(1, 0, 400));
        snapshot(&mut whole);
        snapshot(&mut pieces);
        let apply = |book: &mut OrderBook, (is_bid, offset, qty): (bool, u32, u32)| {
            let price = if is_bid { 10_000 - i64::from(offset) } else { 10_000 + i64::from(offset) };
            let side = if is_bid { Side::Bid } else { Side::Ask };
            book.set(side, Dec64::new(price, 1), Dec64::new(i64::from(qty), 0)).unwrap();
        };
        for change in &changes {
            apply(&mut whole, *change);
        }
        for chunk in changes.chunks(split) {
            for change in chunk {
                apply(&mut pieces, *change);
            }
        }
        let other = {
            let mut book = OrderBook::new(1, 0, 400);
            snapshot(&mut book);
            book
        };
        let tracked = |book: OrderBook| {
            let mut t = TrackedBook::new(book);
            t.state = BookState::Live;
            t.recv = RecvTime { wall_ns: 1_000_000_000, mono_ns: 1_000_000_000 };
            t
        };
        let config = EngineConfig { sizes: vec![SizeTarget::Base(testkit::dec("0.05")), SizeTarget::Quote(testkit::dec("500"))], ..EngineConfig::default() };
        let (mut a, mut b) = (Engine::new(config.clone(), vec![pair.clone()]), Engine::new(config, vec![pair]));
        let now = RecvTime { wall_ns: 1_000_000_000, mono_ns: 1_000_000_000 };
        let (x, y, z) = (tracked(whole), tracked(pieces), tracked(other));
        a.on_update(0, [&x, &z], now, &mut Vec::new());
        b.on_update(0, [&y, &z], now, &mut Vec::new());
        prop_assert_eq!(a.quotes(0), b.quotes(0));
    }
}
