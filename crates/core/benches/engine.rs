//! Library-level figure for the spread engine: one evaluation of a BTC/USDT pair (OKX contracts of 0.01 BTC
//! against Binance BTC, 400-level books) after its top level changed, with the default sizes (1 k, 10 k,
//! 100 k USDT) in both directions plus the threshold search. Prints the median of several runs:
//! `cargo bench -p perpspread-core --bench engine`.

use std::hint::black_box;
use std::time::Instant;

use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::testkit;
use perpspread_core::{BookState, Dec64, Instrument, OrderBook, Pair, PairKey, RecvTime, Side, TrackedBook, Venue};

const RUNS: usize = 7;
const EVALUATIONS: u64 = 200_000;

fn instrument(venue: Venue, symbol: &str, base_per_qty: &str, lot: &str) -> Instrument {
    testkit::instrument(venue, symbol, "BTC", "USDT").base_per_qty(base_per_qty).lot(lot).build()
}

/// A live 400-level book around `mid` (tenths of a dollar), sizes on a grid of `qty_scale` decimals.
fn book(mid: i64, qty: i64, qty_scale: u8) -> TrackedBook {
    let mut book = OrderBook::new(1, qty_scale, 400);
    let level = |price: i64, i: i64| (Dec64::new(price, 1), Dec64::new(qty + 37 * (i % 7), qty_scale));
    book.load_snapshot((1..=400).map(|i| level(mid - i, i)), (1..=400).map(|i| level(mid + i, i))).expect("valid book");
    let mut tracked = TrackedBook::new(book);
    tracked.state = BookState::Live;
    tracked
}

fn main() {
    let pair = Pair {
        key: PairKey::new("BTC", "USDT"),
        legs: [
            instrument(Venue::Okx, "BTC-USDT-SWAP", "0.01", "1"),
            instrument(Venue::Binance, "BTCUSDT", "1", "0.001"),
        ],
    };
    let mut engine = Engine::new(EngineConfig::default(), vec![pair]);
    let mut okx = book(302_360, 250, 0); // 250 contracts = 2.5 BTC a level
    let binance = book(302_361, 2_500, 3); // 2.5 BTC a level
    let mut out = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        for i in 0..EVALUATIONS {
            // The best ask's size changes, as most updates do.
            let size = Dec64::new(200 + (i % 97) as i64, 0);
            okx.book.set(Side::Ask, Dec64::new(302_361, 1), size).expect("valid level");
            let now = RecvTime { wall_ns: 1_700_000_000_000_000_000 + i, mono_ns: i };
            okx.recv = now;
            engine.on_update(0, [black_box(&okx), &binance], now, &mut out);
            out.clear();
        }
        rates.push(started.elapsed().as_nanos() as f64 / EVALUATIONS as f64);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "engine evaluation (2 directions × 3 sizes + threshold search, incl. one book update): median {:.0} ns over {RUNS} runs",
        rates[RUNS / 2]
    );
}
