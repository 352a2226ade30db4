//! Regression: the real recordings in fixtures/real replay with every check passing.

use std::path::PathBuf;

use perpspread_core::{BookState, Venue};
use perpspread_stream::{replay, ReplayOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real").join(name)
}

#[test]
fn okx_btc_usdt_every_checksum_verifies() {
    let report = replay(&[fixture("okx_books_btc-usdt_2022-05-13.jsonl")], &ReplayOptions::default()).unwrap();
    assert_eq!(report.books.len(), 1);
    let book = &report.books[0];
    assert_eq!((book.venue, book.instrument.as_str()), (Venue::Okx, "BTC-USDT"));
    assert_eq!(book.updates_applied, 98);
    assert_eq!(book.checksums_verified, 98);
    assert_eq!((book.checksum_failures, book.sequence_gaps, book.resyncs), (0, 0, 0));
    assert_eq!(book.state, BookState::Live);
    assert_eq!(report.stats.malformed, 0);
    assert_eq!(report.error, None);
}

#[test]
fn binance_books_bridge_snapshots_without_gaps() {
    let report =
        replay(&[fixture("binance_usdm_depth_sushi-akro_2021-07-22.jsonl")], &ReplayOptions::default()).unwrap();
    let names: Vec<&str> = report.books.iter().map(|b| b.instrument.as_str()).collect();
    assert_eq!(names, ["SUSHIUSDT", "AKROUSDT"]);
    for book in &report.books {
        assert_eq!(book.state, BookState::Live, "{book:?}");
        assert_eq!((book.sequence_gaps, book.resyncs), (0, 0), "{book:?}");
        assert!(book.updates_applied > 10, "{book:?}");
    }
    assert_eq!(report.stats.malformed, 0);
}

/// An independent, naive reference: replays a capture with `serde_json::Value` and ordered maps keyed
/// by `rust_decimal`, returning the final best bid and ask of `instrument` as written.
fn reference_best(name: &str, instrument: &str) -> (String, String) {
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut bids: BTreeMap<Decimal, String> = BTreeMap::new();
    let mut asks: BTreeMap<Decimal, String> = BTreeMap::new();
    let mut last_u: Option<u64> = None;
    let mut pending: Vec<serde_json::Value> = Vec::new();
    let apply = |levels: &serde_json::Value, map: &mut BTreeMap<Decimal, String>| {
        for level in levels.as_array().unwrap() {
            let (price, qty) = (level[0].as_str().unwrap(), level[1].as_str().unwrap());
            let key: Decimal = price.parse().unwrap();
            if qty.parse::<Decimal>().unwrap().is_zero() {
                map.remove(&key);
            } else {
                map.insert(key, price.to_owned());
            }
        }
    };
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let data: serde_json::Value = match serde_json::from_str(record["data"].as_str().unwrap()) {
            Ok(data) => data,
            Err(_) => continue,
        };
        if record["venue"] == "okx" {
            if data["arg"]["channel"] != "books" || data["arg"]["instId"] != instrument || !data["event"].is_null() {
                continue;
            }
            if data["action"] == "snapshot" {
                bids.clear();
                asks.clear();
            }
            apply(&data["data"][0]["bids"], &mut bids);
            apply(&data["data"][0]["asks"], &mut asks);
        } else if record["src"] == "rest" {
            if !record["url"].as_str().unwrap().contains(instrument) {
                continue;
            }
            bids.clear();
            asks.clear();
            apply(&data["bids"], &mut bids);
            apply(&data["asks"], &mut asks);
            let snapshot_id = data["lastUpdateId"].as_u64().unwrap();
            last_u = Some(snapshot_id);
            for event in pending.drain(..).filter(|e| e["u"].as_u64().unwrap() >= snapshot_id) {
                apply(&event["b"], &mut bids);
                apply(&event["a"], &mut asks);
                last_u = event["u"].as_u64();
            }
        } else if data["data"]["e"] == "depthUpdate" && data["data"]["s"] == instrument {
            let event = data["data"].clone();
            match last_u {
                None => pending.push(event),
                Some(_) => {
                    apply(&event["b"], &mut bids);
                    apply(&event["a"], &mut asks);
                    last_u = event["u"].as_u64();
                }
            }
        }
    }
    (bids.values().next_back().unwrap().clone(), asks.values().next().unwrap().clone())
}

#[test]
fn final_tops_match_an_independent_reference() {
    for (name, instrument) in [
        ("okx_books_btc-usdt_2022-05-13.jsonl", "BTC-USDT"),
        ("binance_usdm_depth_sushi-akro_2021-07-22.jsonl", "SUSHIUSDT"),
        ("binance_usdm_depth_sushi-akro_2021-07-22.jsonl", "AKROUSDT"),
    ] {
        let report = replay(&[fixture(name)], &ReplayOptions::default()).unwrap();
        let book = report.books.iter().find(|b| b.instrument == instrument).unwrap();
        let (bid, ask) = reference_best(name, instrument);
        assert_eq!((book.best_bid.clone().unwrap(), book.best_ask.clone().unwrap()), (bid, ask), "{instrument}");
    }
}
