//! Shared test scenario: a real engine run over synthetic books that opens and closes opportunities
//! across an hour boundary.
#![allow(dead_code)]

use perpspread_core::book::OrderBook;
use perpspread_core::engine::{Engine, EngineConfig, EventKind, OpportunityEvent};
use perpspread_core::feed::{BookState, RecvTime, TrackedBook};
use perpspread_core::spread::SizeTarget;
use perpspread_core::{ContractKind, Dec64, Instrument, Pair, PairKey, Venue};
use perpspread_sinks::SpreadSnapshot;
use rust_decimal::Decimal;

pub const S: u64 = 1_000_000_000;
/// 2024-05-13T13:58:20Z.
pub const START_NS: u64 = 1_715_608_700 * S;

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn pair(base: &str) -> Pair {
    let leg = |venue, symbol: String, per_qty: &str, lot: &str| {
        Instrument::new(
            venue,
            symbol,
            PairKey::new(base, "USDT"),
            "USDT",
            ContractKind::Linear,
            d(per_qty),
            d("1"),
            d("0.1"),
            d(lot),
            d(lot),
        )
    };
    Pair {
        key: PairKey::new(base, "USDT"),
        legs: [
            leg(Venue::Okx, format!("{base}-USDT-SWAP"), "0.01", "1"),
            leg(Venue::Binance, format!("{base}USDT"), "1", "0.001"),
        ],
    }
}

pub fn tracked(bid: &str, ask: &str, qty: &str, recv_ns: u64) -> TrackedBook {
    let mut book = OrderBook::new(1, 3, 400);
    let p = |s: &str| Dec64::parse(s).unwrap();
    book.load_snapshot([(p(bid), p(qty))], [(p(ask), p(qty))]).unwrap();
    let mut t = TrackedBook::new(book);
    t.state = BookState::Live;
    t.recv = RecvTime { wall_ns: recv_ns, mono_ns: recv_ns };
    t.exchange_ms = Some(recv_ns / 1_000_000 - 5);
    t
}

pub struct Scenario {
    pub engine: Engine,
    pub events: Vec<OpportunityEvent>,
    pub snapshots: Vec<SpreadSnapshot>,
}

/// `steps` seconds from [`START_NS`] on two pairs; every 10 s BTC has 4 s at +10 bp net (gross 30 bp),
/// ETH 2 s at +5 bp; otherwise both are at -20 bp. Ends with an engine shutdown.
pub fn scenario(steps: u64) -> Scenario {
    let config = EngineConfig {
        sizes: vec![SizeTarget::Base(d("1")), SizeTarget::Quote(d("5000"))],
        update_interval_ns: 0,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, vec![pair("BTC"), pair("ETH")]);
    let mut events = Vec::new();
    let mut snapshots = Vec::new();
    for step in 0..steps {
        let now = START_NS + step * S;
        let recv = RecvTime { wall_ns: now, mono_ns: now };
        let phase = step % 10;
        for (index, open_for, bid) in [(0usize, 4u64, "10030"), (1, 2, "10025")] {
            let okx = tracked("9990", "10000", "1000", now);
            let binance_bid = if phase < open_for { bid } else { "10000" };
            let binance = tracked(binance_bid, "10040", "10", now);
            engine.on_update(index, [&okx, &binance], recv, &mut events);
            snapshots.extend(SpreadSnapshot::capture(&engine, index, [Some(&okx), Some(&binance)], now).unwrap());
        }
    }
    engine.shutdown(START_NS + steps * S, &mut events);
    Scenario { engine, events, snapshots }
}

pub fn closed(events: &[OpportunityEvent]) -> Vec<&OpportunityEvent> {
    events.iter().filter(|e| e.event == EventKind::Closed).collect()
}
