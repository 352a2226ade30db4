//! Spread snapshots sampled from live feed handlers (as `monitor` does with `|v| pipeline.feed(v)`).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use perpspread_binance::feed::BinanceFeed;
use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::feed::{Feed, Frame, RecvTime, Source};
use perpspread_core::{ContractKind, Instrument, Pair, PairKey, Venue};
use perpspread_okx::feed::OkxFeed;
use perpspread_sinks::SnapshotSampler;

use common::d;

#[test]
fn samples_top_of_book_from_feeds_at_a_fixed_rate() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/okx_books_btc-usdt_2022-05-13.jsonl");
    let mut okx = OkxFeed::default();
    let mut events = Vec::new();
    let mut last = 0;
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        last = record["ts_ns"].as_u64().unwrap();
        let recv = RecvTime { wall_ns: last, mono_ns: last };
        let _ = okx.on_frame(Frame { source: Source::Ws, data: record["data"].as_str().unwrap(), recv }, &mut events);
    }
    let binance = BinanceFeed::default();
    let leg = |venue, symbol: &str| {
        Instrument::new(
            venue,
            symbol,
            PairKey::new("BTC", "USDT"),
            "USDT",
            ContractKind::Linear,
            d("1"),
            d("1"),
            d("0.1"),
            d("0.00000001"),
            d("0.00000001"),
        )
    };
    let pair =
        Pair { key: PairKey::new("BTC", "USDT"), legs: [leg(Venue::Okx, "BTC-USDT"), leg(Venue::Binance, "BTCUSDT")] };
    let engine = Engine::new(EngineConfig::default(), vec![pair]);
    let feed = |venue: Venue| -> &dyn Feed {
        match venue {
            Venue::Okx => &okx,
            Venue::Binance => &binance,
        }
    };
    let mut sampler = SnapshotSampler::new(Duration::from_secs(1));
    let mut out = Vec::new();
    assert!(sampler.sample(&engine, feed, last, &mut out));
    assert!(!sampler.sample(&engine, feed, last + 1_000, &mut out), "not due again within the interval");
    assert_eq!(out.len(), 1);
    let snapshot = &out[0];
    assert_eq!((snapshot.pair.as_str(), snapshot.ts_ns), ("BTC/USDT", last));
    let (bid, ask) = (snapshot.okx_bid.unwrap(), snapshot.okx_ask.unwrap());
    assert!(bid < ask && bid > 20_000.0 && ask < 40_000.0, "{snapshot:?}");
    assert_eq!((snapshot.binance_bid, snapshot.binance_ask), (None, None), "no Binance book");
    assert!(snapshot.quotes.is_empty() && snapshot.best_net_bp.is_none());
    assert!(sampler.sample(&engine, feed, last + 1_000_000_000, &mut out));
    assert_eq!(out.len(), 2);
}
