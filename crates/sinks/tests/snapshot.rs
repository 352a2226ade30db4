//! Spread snapshots sampled from live feed handlers (as `monitor` does with `|v| pipeline.feed(v)`).

use std::path::PathBuf;
use std::time::Duration;

use perpspread_binance::feed::BinanceFeed;
use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::feed::{Feed, Frame, RecvTime, Source};
use perpspread_core::testkit::{self, instrument};
use perpspread_core::Venue;
use perpspread_okx::feed::OkxFeed;
use perpspread_sinks::SnapshotSampler;

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
    let leg = |venue, symbol: &str| instrument(venue, symbol, "BTC", "USDT").lot("0.00000001").build();
    let pair = testkit::pair(leg(Venue::Okx, "BTC-USDT"), leg(Venue::Binance, "BTCUSDT"));
    let engine = Engine::new(EngineConfig::default(), vec![pair]);
    let feed = |venue: Venue| -> &dyn Feed {
        match venue {
            Venue::Okx => &okx,
            _ => &binance,
        }
    };
    let mut sampler = SnapshotSampler::new(Duration::from_secs(1));
    let mut out = Vec::new();
    assert!(sampler.sample(&engine, feed, last, &mut out));
    assert!(!sampler.sample(&engine, feed, last + 1_000, &mut out), "not due again within the interval");
    // One snapshot per direction, legs named by role: OKX is the buy leg of the first, the sell leg of the second.
    assert_eq!(out.len(), 2);
    let (buy_okx, sell_okx) = (&out[0], &out[1]);
    assert_eq!((buy_okx.pair.as_str(), buy_okx.ts_ns), ("BTC/USDT", last));
    assert_eq!(buy_okx.direction.as_str(), "buy_okx_sell_binance");
    assert_eq!((buy_okx.buy_venue, buy_okx.sell_venue), (Venue::Okx, Venue::Binance));
    assert_eq!(sell_okx.direction.as_str(), "buy_binance_sell_okx");
    let (ask, bid) = (buy_okx.buy_ask.unwrap(), sell_okx.sell_bid.unwrap());
    assert!(bid < ask && bid > 20_000.0 && ask < 40_000.0, "{buy_okx:?}");
    assert_eq!((buy_okx.sell_bid, sell_okx.buy_ask), (None, None), "no Binance book");
    assert!(out.iter().all(|s| s.quotes.is_empty() && s.best_net_bp().is_none()));
    let json = serde_json::to_value(buy_okx).unwrap();
    assert!(json.as_object().unwrap().keys().all(|k| !k.contains("okx") && !k.contains("binance")), "{json}");
    assert!(sampler.sample(&engine, feed, last + 1_000_000_000, &mut out));
    assert_eq!(out.len(), 4);
}
