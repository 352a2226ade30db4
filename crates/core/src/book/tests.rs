//! Tests of `book`.

use super::*;

fn d(s: &str) -> Dec64 {
    Dec64::parse(s).unwrap()
}

fn book() -> OrderBook {
    let mut book = OrderBook::new(1, 0, 400);
    book.load_snapshot(
        [(d("100.0"), d("5")), (d("99.5"), d("3")), (d("99.9"), d("1"))],
        [(d("100.5"), d("2")), (d("101"), d("7"))],
    )
    .unwrap();
    book
}

fn prices(book: &OrderBook, side: Side) -> Vec<String> {
    book.levels(side).map(|l| book.price_of(l).to_string()).collect()
}

#[test]
fn snapshot_sorts_best_first_and_keeps_strings() {
    let book = book();
    assert_eq!(prices(&book, Side::Bid), ["100.0", "99.9", "99.5"]);
    assert_eq!(prices(&book, Side::Ask), ["100.5", "101"]);
    assert_eq!(book.best_bid().unwrap().price, 1000);
    assert!(!book.is_crossed());
}

#[test]
fn updates_insert_replace_delete() {
    let mut book = book();
    book.set(Side::Bid, d("100.2"), d("4")).unwrap();
    book.set(Side::Bid, d("99.9"), d("0")).unwrap();
    book.set(Side::Bid, d("98"), d("0")).unwrap();
    book.set(Side::Ask, d("100.5"), d("9")).unwrap();
    assert_eq!(prices(&book, Side::Bid), ["100.2", "100.0", "99.5"]);
    assert_eq!(book.best_ask().unwrap().qty, 9);
    book.set(Side::Bid, d("100.5"), d("1")).unwrap();
    assert!(book.is_crossed());
}

#[test]
fn widens_grid_for_finer_numbers() {
    let mut book = book();
    book.set(Side::Ask, d("100.25"), d("0.5")).unwrap();
    assert_eq!(book.price_scale(), 2);
    assert_eq!(book.qty_scale(), 1);
    assert_eq!(prices(&book, Side::Ask), ["100.25", "100.5", "101"]);
    let mut line = String::new();
    book.write_level(&mut line, &book.best_bid().unwrap()).unwrap();
    assert_eq!(line, "100.0:5");
}

#[test]
fn full_book_keeps_the_best_levels() {
    let mut book = OrderBook::new(0, 0, 3);
    for p in ["10", "11", "12"] {
        book.set(Side::Ask, d(p), d("1")).unwrap();
    }
    book.set(Side::Ask, d("13"), d("1")).unwrap(); // worse than all: not kept
    assert_eq!(prices(&book, Side::Ask), ["10", "11", "12"]);
    book.set(Side::Ask, d("10.5"), d("1")).unwrap(); // inside: the worst (12) drops
    assert_eq!(prices(&book, Side::Ask), ["10", "10.5", "11"]);
    book.set(Side::Ask, d("9"), d("1")).unwrap(); // new best
    assert_eq!(prices(&book, Side::Ask), ["9", "10", "10.5"]);
}

#[test]
fn depth_is_bounded() {
    let mut book = OrderBook::new(0, 0, 2);
    for p in ["1", "2", "3"] {
        book.set(Side::Bid, d(p), d("1")).unwrap();
    }
    assert_eq!(prices(&book, Side::Bid), ["3", "2"]);
    assert!(book.set(Side::Bid, d("-1"), d("1")).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Set(bool, u16, u8),
}

proptest::proptest! {
    /// The book agrees with a naive map-based model after any sequence of updates.
    #[test]
    fn matches_reference_model(ops in proptest::collection::vec(
        (proptest::bool::ANY, 0u16..60, 0u8..4).prop_map(|(b, p, q)| Op::Set(b, p, q)), 0..300)) {
        use std::collections::BTreeMap;
        let mut book = OrderBook::new(0, 0, 1000);
        let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for Op::Set(is_bid, price, qty) in ops {
            let side = if is_bid { Side::Bid } else { Side::Ask };
            book.set(side, Dec64::new(price.into(), 0), Dec64::new(qty.into(), 0)).unwrap();
            let map = &mut model[usize::from(!is_bid)];
            if qty == 0 { map.remove(&i64::from(price)); } else { map.insert(price.into(), qty.into()); }
        }
        let bids: Vec<(i64, i64)> = book.levels(Side::Bid).map(|l| (l.price, l.qty)).collect();
        let asks: Vec<(i64, i64)> = book.levels(Side::Ask).map(|l| (l.price, l.qty)).collect();
        let model_bids: Vec<(i64, i64)> = model[0].iter().rev().map(|(p, q)| (*p, *q)).collect();
        let model_asks: Vec<(i64, i64)> = model[1].iter().map(|(p, q)| (*p, *q)).collect();
        proptest::prop_assert_eq!(bids, model_bids);
        proptest::prop_assert_eq!(asks, model_asks);
    }

    /// Applying events (sorted as OKX or Binance send them, or in any order, with repeated prices) leaves a
    /// bounded book exactly as a naive model that applies the whole event and only then keeps the best
    /// `max_depth` levels a side; and whenever an unbounded book holds no more than `max_depth` levels
    /// after an event, the bounded book equals it (no valid level is lost in the middle of an event).
    #[test]
    fn bounded_books_match_unbounded_ones_after_each_event(
        batches in proptest::collection::vec(
            (proptest::collection::vec((proptest::bool::ANY, 0u16..80, 0u8..4), 0..40), 0u8..3),
            0..30),
        max_depth in 1usize..50,
    ) {
        use std::collections::BTreeMap;
        let mut bounded = OrderBook::new(0, 0, max_depth);
        let mut unbounded = OrderBook::new(0, 0, 100_000);
        let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut exceeded = [false; 2];
        for (mut levels, order) in batches {
            match order {
                // OKX: bids from the highest price, asks from the lowest.
                1 => levels.sort_by_key(|&(is_bid, price, _)| (is_bid, if is_bid { -i32::from(price) } else { i32::from(price) })),
                // Binance: both sides from the lowest price.
                2 => levels.sort_by_key(|&(is_bid, price, _)| (is_bid, price)),
                _ => {}
            }
            let side_of = |bid: bool| move |&&(is_bid, price, qty): &&(bool, u16, u8)| {
                (is_bid == bid).then(|| (Dec64::new(price.into(), 0), Dec64::new(qty.into(), 0)))
            };
            let bids: Vec<RawLevel> = levels.iter().filter_map(|l| side_of(true)(&l)).collect();
            let asks: Vec<RawLevel> = levels.iter().filter_map(|l| side_of(false)(&l)).collect();
            bounded.apply(&bids, &asks).unwrap();
            unbounded.apply(&bids, &asks).unwrap();
            for &(is_bid, price, qty) in &levels {
                let map = &mut model[usize::from(!is_bid)];
                if qty == 0 { map.remove(&i64::from(price)); } else { map.insert(price.into(), qty.into()); }
            }
            // The model keeps the best levels once the event is complete: bids highest, asks lowest.
            while model[0].len() > max_depth { let worst = *model[0].keys().next().unwrap(); model[0].remove(&worst); }
            while model[1].len() > max_depth { let worst = *model[1].keys().next_back().unwrap(); model[1].remove(&worst); }
            let model_bids: Vec<(i64, i64)> = model[0].iter().rev().map(|(p, q)| (*p, *q)).collect();
            let model_asks: Vec<(i64, i64)> = model[1].iter().map(|(p, q)| (*p, *q)).collect();
            let bids: Vec<(i64, i64)> = bounded.levels(Side::Bid).map(|l| (l.price, l.qty)).collect();
            let asks: Vec<(i64, i64)> = bounded.levels(Side::Ask).map(|l| (l.price, l.qty)).collect();
            proptest::prop_assert_eq!(bids, model_bids);
            proptest::prop_assert_eq!(asks, model_asks);
            // Until a side of the true book has ever held more than `max_depth` levels after an event,
            // nothing may be missing from the bounded one, however the event was ordered.
            for (index, side) in [Side::Bid, Side::Ask].into_iter().enumerate() {
                exceeded[index] |= unbounded.depth(side) > max_depth;
                if !exceeded[index] {
                    proptest::prop_assert!(bounded.levels(side).eq(unbounded.levels(side)));
                }
            }
        }
    }
}

/// The issue-14 reproduction: a full Binance book (1000 bids, 59800.2 … 60000.0) gets an event that adds a
/// bid and deletes another (Binance lists bids lowest first, so the add comes first), then an event that
/// deletes every other bid. No valid level may be lost on the way.
#[test]
fn an_event_that_adds_then_deletes_keeps_every_valid_level() {
    let price = |i: i64| Dec64::new(598_002 + 2 * i, 1); // 59800.2 + 0.2 i
    let mut book = OrderBook::new(1, 3, 1000);
    let bids: Vec<RawLevel> = (0..1000).map(|i| (price(i), d("1.000"))).collect();
    book.replace(&bids, &[]).unwrap();
    assert_eq!(book.best_bid().map(|l| book.price_of(&l)), Some(d("60000.0")));
    book.apply(&[(d("59999.9"), d("1.000")), (d("60000.0"), d("0.000"))], &[]).unwrap();
    assert_eq!(book.depth(Side::Bid), 1000);
    assert_eq!(book.levels(Side::Bid).last().map(|l| book.price_of(l)), Some(d("59800.2")));
    // Delete every other bid (all but the worst), listed lowest first as Binance lists them.
    let mut deletes: Vec<RawLevel> = (1..999).map(|i| (price(i), d("0.000"))).collect();
    deletes.push((d("59999.9"), d("0.000")));
    book.apply(&deletes, &[]).unwrap();
    let remaining: Vec<Dec64> = book.levels(Side::Bid).map(|l| book.price_of(l)).collect();
    assert_eq!(remaining, [d("59800.2")], "the worst bid was valid all along");
}
use proptest::strategy::Strategy;
