//! Tests of the spread engine.

use super::*;
use crate::testkit;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn pair() -> Pair {
    testkit::okx_binance_pair("BTC")
}

fn tracked(bid: &str, ask: &str, qty: &str, recv_ns: u64) -> TrackedBook {
    testkit::live_book(bid, ask, qty, recv_ns)
}

fn config() -> EngineConfig {
    EngineConfig { sizes: vec![SizeTarget::Base(d("1"))], update_interval_ns: 0, ..EngineConfig::default() }
}

const S: u64 = 1_000_000_000;

#[test]
fn opens_updates_and_closes_with_hysteresis() {
    let mut engine = Engine::new(config(), vec![pair()]);
    let mut out = Vec::new();
    // OKX ask 10000 (1000 contracts = 10 BTC), Binance bid 10030: gross 30 bp, net 10 bp.
    let okx = tracked("9990", "10000", "1000", 100 * S);
    let binance = tracked("10030", "10040", "10", 100 * S);
    engine.on_update(0, [&okx, &binance], RecvTime { wall_ns: 100 * S, mono_ns: 100 * S }, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].event, EventKind::Opened);
    let o = &out[0].opportunity;
    assert_eq!((o.direction.as_str(), o.id), ("buy_okx_sell_binance", 1));
    assert!((o.net_bp - 10.0).abs() < 1e-9, "{o:?}");
    assert_eq!(o.open_latency_buy_ms, Some(5.0));
    // Net drops to -1 bp: above the close threshold (-2), stays open; mean is time-weighted.
    out.clear();
    let binance = tracked("10019", "10040", "10", 101 * S);
    engine.on_update(0, [&okx, &binance], RecvTime { wall_ns: 101 * S, mono_ns: 101 * S }, &mut out);
    assert_eq!(out[0].event, EventKind::Updated);
    // Net -5 bp: closes. Life: 1 s at 10 bp, 1 s at -1 bp → mean 4.5 bp.
    out.clear();
    let binance = tracked("10015", "10040", "10", 102 * S);
    engine.on_update(0, [&okx, &binance], RecvTime { wall_ns: 102 * S, mono_ns: 102 * S }, &mut out);
    assert_eq!(out.len(), 1);
    let closed = &out[0].opportunity;
    assert_eq!(out[0].event, EventKind::Closed);
    assert_eq!(closed.close_reason, Some(CloseReason::BelowThreshold));
    assert!((closed.net_bp - -5.0).abs() < 1e-9, "the close event shows the net that closed it");
    assert!((closed.duration_ms - 2000.0).abs() < 1e-6);
    assert!((closed.mean_net_bp - 4.5).abs() < 1e-6, "{closed:?}");
    assert!((closed.peak_net_bp - 10.0).abs() < 1e-9);
    assert_eq!(engine.stats().opened, 1);
    assert_eq!(engine.stats().closed, 1);
}

#[test]
fn guards_suppress_and_close() {
    let mut engine = Engine::new(config(), vec![pair()]);
    let mut out = Vec::new();
    let okx = tracked("9990", "10000", "1000", 100 * S);
    let binance = tracked("10030", "10040", "10", 100 * S);
    let now = RecvTime { wall_ns: 100 * S, mono_ns: 100 * S };
    engine.on_update(0, [&okx, &binance], now, &mut out);
    assert_eq!(out.len(), 1);
    out.clear();
    let mut syncing = binance.clone();
    syncing.state = BookState::Resyncing;
    engine.on_update(0, [&okx, &syncing], now, &mut out);
    assert_eq!(out[0].opportunity.close_reason, Some(CloseReason::Guard(Suppression::NotLive)));
    assert_eq!(CloseReason::Guard(Suppression::NotLive).to_string(), "guard_not_live");
    assert_eq!(serde_json::to_string(&Some(CloseReason::Shutdown)).unwrap(), "\"shutdown\"");
    // Never opens from a stale or slow book.
    out.clear();
    let later = RecvTime { wall_ns: 110 * S, mono_ns: 110 * S };
    engine.on_update(0, [&okx, &binance], later, &mut out);
    assert!(out.is_empty());
    let mut slow = tracked("10030", "10040", "10", 100 * S);
    slow.exchange_ms = Some(100_000 - 5_000);
    engine.on_update(0, [&okx, &slow], now, &mut out);
    assert!(out.is_empty());
    let stats = engine.stats();
    assert_eq!((stats.suppressed_not_live, stats.suppressed_stale, stats.suppressed_latency), (1, 1, 1));
    assert_eq!(engine.suppression(0), Some(Suppression::Latency));
}

/// Binance's mark price carries the next settlement time but no interval: a step of the next time that
/// differs from the known interval is the venue changing it.
#[test]
fn a_changed_funding_interval_is_followed_from_the_next_settlement_times() {
    let mut engine = Engine::new(config(), vec![pair()]);
    let h = 3_600_000;
    engine.set_funding(0, 1, LegFunding { rate: 0.0001, next_funding_ms: Some(8 * h), interval_hours: Some(8) });
    engine.set_funding(0, 1, LegFunding { rate: 0.0002, next_funding_ms: Some(8 * h), interval_hours: None });
    assert_eq!(engine.funding(0)[1].unwrap().interval_hours, Some(8), "same settlement: interval kept");
    // The 08:00 settlement passed and the next one is 12:00: the symbol now funds every 4 h.
    engine.set_funding(0, 1, LegFunding { rate: 0.0002, next_funding_ms: Some(12 * h), interval_hours: None });
    assert_eq!(engine.funding(0)[1].unwrap().interval_hours, Some(4));
    assert_eq!(engine.stats().funding_interval_changes, 1, "counted, so that monitor re-reads fundingInfo");
    // Two settlements missed (a gap in the stream): 8 h later is twice the 4 h interval, not a change.
    engine.set_funding(0, 1, LegFunding { rate: 0.0002, next_funding_ms: Some(20 * h), interval_hours: None });
    assert_eq!(engine.funding(0)[1].unwrap().interval_hours, Some(4));
    assert_eq!(engine.stats().funding_interval_changes, 1);
}

#[test]
fn funding_carry_and_shutdown() {
    let mut cfg = config();
    cfg.include_funding = true;
    cfg.funding_horizon_ms = 3_600_000;
    let mut engine = Engine::new(cfg, vec![pair()]);
    // Both legs fund every 8 h, next in an hour; over a 1 h horizon each settles once: 4 − 1 = 3 bp.
    let next = Some(100_000 + 3_600_000);
    engine.set_funding(0, 0, LegFunding { rate: 0.0001, next_funding_ms: next, interval_hours: Some(8) });
    assert_eq!(engine.funding_carry_bp(0, (0, 1), 100_000), None, "one leg's schedule is not known yet");
    engine.set_funding(0, 1, LegFunding { rate: 0.0004, next_funding_ms: next, interval_hours: Some(8) });
    assert!((engine.funding_carry_bp(0, (0, 1), 100_000).unwrap() - 3.0).abs() < 1e-9);
    let mut out = Vec::new();
    // Gross 18 bp → net -2 bp, +3 bp carry = +1 bp: opens only because funding is included.
    let okx = tracked("9990", "10000", "1000", 100 * S);
    let binance = tracked("10018", "10040", "10", 100 * S);
    engine.on_update(0, [&okx, &binance], RecvTime { wall_ns: 100 * S, mono_ns: 100 * S }, &mut out);
    assert_eq!(out.len(), 1);
    assert!((out[0].opportunity.net_bp - 1.0).abs() < 1e-9);
    out.clear();
    engine.shutdown(105 * S, &mut out);
    assert_eq!(out[0].opportunity.close_reason, Some(CloseReason::Shutdown));
    assert!((out[0].opportunity.duration_ms - 5000.0).abs() < 1e-6);
}
