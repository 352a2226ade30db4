//! The OKX checksum over a real update sequence: the book after each `books` message of the recording in
//! `fixtures/real` is prepared first, then [`ChecksumCache`] checks them in order, as the feed does.
//! `cargo bench -p perpspread-okx --bench checksum [-- cached|uncached]` prints the median time per checksum,
//! with the cache and without (rendering all 50 levels each time).

use std::time::Instant;

use perpspread_core::{Dec64, OrderBook, Side};
use perpspread_okx::checksum::{book_checksum, ChecksumCache};

const RUNS: usize = 7;
const LOOPS: usize = 500;

/// The book after each `books` message of the recording.
fn book_states(recording: &str) -> Result<Vec<OrderBook>, Box<dyn std::error::Error>> {
    let mut book = OrderBook::new(0, 0, 400);
    let mut states = Vec::new();
    for line in recording.lines() {
        let record: serde_json::Value = serde_json::from_str(line)?;
        let frame: serde_json::Value = serde_json::from_str(record["data"].as_str().unwrap_or("{}"))?;
        if frame["arg"]["channel"] != "books" || !frame["data"].is_array() {
            continue;
        }
        let data = &frame["data"][0];
        if frame["action"] == "snapshot" {
            book.clear();
        }
        for (side, key) in [(Side::Bid, "bids"), (Side::Ask, "asks")] {
            for level in data[key].as_array().into_iter().flatten() {
                let number = |i: usize| Dec64::parse(level[i].as_str().unwrap_or_default());
                book.set(side, number(0)?, number(1)?)?;
            }
        }
        states.push(book.clone());
    }
    Ok(states)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/real/okx_books_btc-usdt_2022-05-13.jsonl");
    let states = book_states(&std::fs::read_to_string(path)?)?;
    let mut scratch = String::new();
    let expected: Vec<i32> = states.iter().map(|book| book_checksum(book, &mut scratch)).collect();
    // Cargo passes `--bench`; any other argument picks the figures whose label it names.
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--")).unwrap_or_default();
    for (label, cached) in [("cached", true), ("uncached", false)] {
        if !label.starts_with(only.as_str()) {
            continue;
        }
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let mut cache = ChecksumCache::default();
            let started = Instant::now();
            for _ in 0..LOOPS {
                for (book, expected) in states.iter().zip(&expected) {
                    let sum = if cached { cache.checksum(book) } else { book_checksum(book, &mut scratch) };
                    assert_eq!(sum, *expected);
                }
            }
            times.push(started.elapsed().as_nanos() as f64 / (LOOPS * states.len()) as f64);
        }
        times.sort_by(f64::total_cmp);
        println!("{label}: {} books, median {:.0} ns per checksum over {RUNS} runs", states.len(), times[RUNS / 2]);
    }
    Ok(())
}
