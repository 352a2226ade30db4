//! `--shard i/n` partitions the real paired universe exactly: every pair in exactly one shard.

use std::collections::BTreeSet;
use std::path::PathBuf;

use perpspread_core::Universe;
use perpspread_sinks::shard::{in_shard, parse_shard, shard_of, Shard};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real").join(name)).unwrap()
}

fn universe() -> Universe {
    let okx = perpspread_okx::symbols::parse_instruments(&fixture("okx_instruments_swap_2022-05-13.json")).unwrap();
    let binance =
        perpspread_binance::symbols::parse_exchange_info(&fixture("binance_usdm_exchange_info_2021-07-22.json"))
            .unwrap();
    let instruments = okx.instruments.into_iter().chain(binance.instruments).collect();
    let skipped = okx.skipped.into_iter().chain(binance.skipped).collect();
    Universe::build(instruments, skipped)
}

#[test]
fn shards_partition_the_real_universe_exactly() {
    let universe = universe();
    let keys: Vec<String> = universe.pairs.iter().map(|p| p.key.to_string()).collect();
    let all: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(all.len(), keys.len(), "pair keys are unique");
    assert!(keys.len() >= 50, "real universe has {} pairs", keys.len());
    for n in 1..=16u32 {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut sizes = Vec::new();
        for i in 1..=n {
            let shard = parse_shard(&format!("{i}/{n}")).unwrap();
            let mine: Vec<&str> = keys.iter().map(String::as_str).filter(|k| shard.contains(k)).collect();
            for key in &mine {
                assert!(seen.insert(key), "{key} in two shards of {n}");
                assert_eq!(shard_of(key, n), i);
            }
            sizes.push(mine.len());
        }
        assert_eq!(seen, all, "shards of {n} miss a pair");
        // Stable hashing spreads pairs roughly evenly (no shard more than twice its fair share).
        let fair = keys.len() as f64 / f64::from(n);
        assert!(sizes.iter().all(|&s| (s as f64) <= 2.0 * fair + 3.0), "n = {n}: {sizes:?}");
    }
}

#[test]
fn filter_keeps_owned_pairs_only() {
    let universe = universe();
    let total = universe.pairs.len();
    let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
    let kept: usize = shards.iter().map(|s| s.filter(universe.pairs.clone(), |p| p.key.to_string()).len()).sum();
    assert_eq!(kept, total);
    assert!(!in_shard("BTC/USDT", 4, 3));
}
