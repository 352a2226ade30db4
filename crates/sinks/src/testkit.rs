//! Test kit (cargo feature `test-util`): a real engine run over synthetic books that opens and closes
//! opportunities across an hour boundary, with the spread snapshots sampled along the way — the input of
//! the file, Redis, metrics and report tests.

use perpspread_core::engine::{Engine, EngineConfig, EventKind, OpportunityEvent};
use perpspread_core::feed::RecvTime;
use perpspread_core::spread::SizeTarget;
use perpspread_core::testkit::{dec, live_book, okx_binance_pair};

use crate::SpreadSnapshot;

/// One second in ns.
pub const S: u64 = 1_000_000_000;
/// 2024-05-13T13:58:20Z.
pub const START_NS: u64 = 1_715_608_700 * S;

/// The engine after the run, every event it emitted and the snapshots sampled each second.
pub struct Scenario {
    pub engine: Engine,
    pub events: Vec<OpportunityEvent>,
    pub snapshots: Vec<SpreadSnapshot>,
}

/// `steps` seconds from [`START_NS`] on two pairs; every 10 s BTC has 4 s at +10 bp net (gross 30 bp),
/// ETH 2 s at +5 bp; otherwise both are at -20 bp. Ends with an engine shutdown.
pub fn scenario(steps: u64) -> Scenario {
    let config = EngineConfig {
        sizes: vec![SizeTarget::Base(dec("1")), SizeTarget::Quote(dec("5000"))],
        update_interval_ns: 0,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, vec![okx_binance_pair("BTC"), okx_binance_pair("ETH")]);
    let mut events = Vec::new();
    let mut snapshots = Vec::new();
    for step in 0..steps {
        let now = START_NS + step * S;
        let recv = RecvTime { wall_ns: now, mono_ns: now };
        let phase = step % 10;
        for (index, open_for, bid) in [(0usize, 4u64, "10030"), (1, 2, "10025")] {
            let okx = live_book("9990", "10000", "1000", now);
            let binance_bid = if phase < open_for { bid } else { "10000" };
            let binance = live_book(binance_bid, "10040", "10", now);
            engine.on_update(index, [&okx, &binance], recv, &mut events);
            snapshots.extend(SpreadSnapshot::capture(&engine, index, [Some(&okx), Some(&binance)], now).unwrap());
        }
    }
    engine.shutdown(START_NS + steps * S, &mut events);
    Scenario { engine, events, snapshots }
}

/// The closed events among `events`.
pub fn closed(events: &[OpportunityEvent]) -> Vec<&OpportunityEvent> {
    events.iter().filter(|e| e.event == EventKind::Closed).collect()
}
