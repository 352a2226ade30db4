//! Generated captures are valid format-v1 files whose streams chain and checksum like the real venues'.

use std::collections::HashMap;

use perpspread_core::{Dec64, OrderBook, Side};
use serde_json::Value;

fn apply(book: &mut OrderBook, side: Side, levels: &Value) {
    for level in levels.as_array().unwrap() {
        let px = Dec64::parse(level[0].as_str().unwrap()).unwrap();
        let sz = Dec64::parse(level[1].as_str().unwrap()).unwrap();
        book.set(side, px, sz).unwrap();
    }
}

#[test]
fn capture_replays_cleanly() {
    let path = std::env::temp_dir().join(format!("perpspread-sim-capture-{}.jsonl", std::process::id()));
    let started = std::time::Instant::now();
    let stats = perpspread_sim::generate_capture(
        &path,
        &perpspread_sim::CaptureOptions { messages: 20_000, instruments: 3, seed: 9, ..Default::default() },
    )
    .unwrap();
    eprintln!("{stats:?} in {:?}", started.elapsed());
    assert_eq!(stats.records, 20_000);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut okx: HashMap<String, (OrderBook, i64)> = HashMap::new();
    let mut binance_events: HashMap<String, Vec<Value>> = HashMap::new();
    let mut last_ts = 0;
    let mut scratch = String::new();
    let (mut book_updates, mut changed_levels) = (0u64, 0u64);
    let mut count = |levels: &[&Value]| {
        book_updates += 1;
        changed_levels += levels.iter().map(|l| l.as_array().unwrap().len() as u64).sum::<u64>();
    };
    for (i, line) in text.lines().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap();
        let ts = record["ts_ns"].as_u64().unwrap();
        assert!(ts > last_ts);
        last_ts = ts;
        let data: Value = serde_json::from_str(record["data"].as_str().unwrap()).unwrap();
        match (record["venue"].as_str().unwrap(), record["src"].as_str().unwrap()) {
            ("okx", "rest") => assert_eq!(i, 0),
            ("binance", "rest") if i == 1 => {
                assert_eq!(data["symbols"].as_array().unwrap().len(), 3)
            }
            ("binance", "rest") => {
                // The depth snapshot bridges the buffered diff events.
                let url = record["url"].as_str().unwrap();
                let symbol = url.split("symbol=").nth(1).unwrap().split('&').next().unwrap();
                let last_update_id = data["lastUpdateId"].as_u64().unwrap();
                let events = &binance_events[symbol];
                assert!(events
                    .iter()
                    .any(|e| e["U"].as_u64().unwrap() <= last_update_id && e["u"].as_u64().unwrap() >= last_update_id));
            }
            ("okx", "ws") => {
                let inst = data["arg"]["instId"].as_str().unwrap().to_owned();
                let d = &data["data"][0];
                let entry = okx.entry(inst).or_insert_with(|| (OrderBook::new(0, 0, 400), -1));
                if data["action"] == "snapshot" {
                    assert_eq!(d["prevSeqId"], -1);
                } else {
                    assert_eq!(d["prevSeqId"].as_i64().unwrap(), entry.1);
                    count(&[&d["bids"], &d["asks"]]);
                }
                apply(&mut entry.0, Side::Bid, &d["bids"]);
                apply(&mut entry.0, Side::Ask, &d["asks"]);
                assert_eq!(
                    i64::from(perpspread_okx::checksum::book_checksum(&entry.0, &mut scratch)),
                    d["checksum"].as_i64().unwrap(),
                    "line {i} {} bids {} asks {}",
                    data["arg"],
                    entry.0.depth(Side::Bid),
                    entry.0.depth(Side::Ask)
                );
                entry.1 = d["seqId"].as_i64().unwrap();
            }
            ("binance", "ws") => {
                let event = data["data"].clone();
                let events = binance_events.entry(event["s"].as_str().unwrap().to_owned()).or_default();
                if let Some(prev) = events.last() {
                    assert_eq!(event["pu"], prev["u"]);
                }
                count(&[&event["b"], &event["a"]]);
                events.push(event);
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(okx.len(), 3);
    assert_eq!((stats.book_updates, stats.changed_levels), (book_updates, changed_levels));
    let _ = std::fs::remove_file(&path);
}
