//! OKX, Binance and Bybit together against the simulator: every two venues listing a contract make a pair,
//! a dislocation between OKX and Bybit is found in the REST scan and live, and Bybit's account fee is read.

mod common;

use std::process::{Command, Stdio};

use perpspread_core::Venue;
use perpspread_sim::{Dislocation, SimConfig, SimHandle};

fn lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// BTC: Bybit's asks 40 bp below OKX's bids for the whole test.
async fn sim() -> SimHandle {
    let mut config = SimConfig { seed: 11, ..Default::default() };
    config.dislocations = vec![Dislocation {
        base: "BTC".into(),
        quote: "USDT".into(),
        buy_venue: Venue::Bybit,
        sell_on: Some(Venue::Okx),
        size_bp: 40.0,
        start_ms: 0,
        duration_ms: 600_000,
    }];
    perpspread_sim::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_two_venues_make_a_pair_and_the_scan_finds_the_dislocation() {
    let sim = sim().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let instruments = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_perpspread"))
            .args(["instruments", "--json"])
            .args(common::sim_flags(&sim))
            .output()
            .unwrap()
    });
    let pairs = lines(&instruments);
    let venues_of = |key: &str| -> Vec<String> {
        let mut found: Vec<String> = pairs
            .iter()
            .filter(|p| p["pair"] == key)
            .map(|p| format!("{}-{}", p["legs"][0]["venue"].as_str().unwrap(), p["legs"][1]["venue"].as_str().unwrap()))
            .collect();
        found.sort();
        found
    };
    // BTC/USDT on all three venues: three pairs; XRP only on OKX and Binance: one; PEPE's 1000PEPEUSDT on both
    // Binance and Bybit pairs with OKX's PEPE-USDT-SWAP as the same contract.
    assert_eq!(venues_of("BTC/USDT"), ["binance-bybit", "okx-binance", "okx-bybit"]);
    assert_eq!(venues_of("XRP/USDT"), ["okx-binance"]);
    assert_eq!(venues_of("PEPE/USDT").len(), 3);
    assert_eq!(
        venues_of("BTC/USDC"),
        ["binance-bybit", "okx-binance", "okx-bybit"],
        "BTCPERP is Bybit's USDC perpetual"
    );

    let scan = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_perpspread"))
            .args(["scan", "--json", "--symbols", "BTC,PEPE", "--size-usd", "5000"])
            .args(common::sim_flags(&sim))
            .output()
            .unwrap()
    });
    let rows = lines(&scan);
    assert_eq!(rows.len(), 12, "two contracts × three venue pairs × two directions: {rows:?}");
    // Sorted by net: buying BTC on Bybit comes first (against OKX, or Binance a hair richer than OKX).
    assert_eq!((rows[0]["pair"].as_str(), rows[0]["buy_venue"].as_str()), (Some("BTC/USDT"), Some("bybit")));
    let best = rows.iter().find(|r| r["direction"] == "buy_bybit_sell_okx" && r["pair"] == "BTC/USDT").unwrap();
    let (gross, fees, net) =
        (best["gross_bp"].as_f64().unwrap(), best["fees_bp"].as_f64().unwrap(), best["net_bp"].as_f64().unwrap());
    assert!((38.0..46.0).contains(&gross), "gross {gross}");
    // Round trip of both legs at the configured rates: 2 × (Bybit 5.5 + OKX 5).
    assert!((fees - 21.0).abs() < 1e-9, "{fees}");
    assert!((net - (gross - fees)).abs() < 1e-9);
    // Bybit buys at its asks against Binance's bids too: about the same 40 bp less OKX's small offset.
    let bybit_binance =
        rows.iter().find(|r| r["direction"] == "buy_bybit_sell_binance" && r["pair"] == "BTC/USDT").unwrap();
    assert!(bybit_binance["gross_bp"].as_f64().unwrap() > 30.0, "{bybit_binance}");
    // 1000PEPEUSDT per PEPE agrees with the other venues' per-PEPE prices within a few bp.
    for row in rows.iter().filter(|r| r["pair"] == "PEPE/USDT") {
        let (buy, sell) = (row["buy_vwap"].as_f64().unwrap(), row["sell_vwap"].as_f64().unwrap());
        assert!((buy / sell - 1.0).abs() < 0.002, "{row}");
    }
    sim.shutdown().await;
}

/// `monitor` over the three venues' WebSockets: Bybit's books go live through its snapshot/delta stream and
/// the OKX × Bybit dislocation opens opportunities buying on Bybit and selling on OKX; with a `[bybit]` key the
/// account's fee is read from `/v5/account/fee-rate` (5.5 bp in the simulator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_streams_three_venues() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "[bybit]\napi_key = \"k\"\nsecret = \"s\"\n").unwrap();
    let output = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_perpspread"))
            .args(["monitor", "--json", "--symbols", "BTC", "--duration-s", "6"])
            .arg("--keys")
            .arg(&keys)
            .args(common::sim_flags(&sim))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    });
    let events = lines(&output);
    let opened: Vec<_> = events.iter().filter(|e| e["event"] == "opened").collect();
    assert!(
        opened.iter().any(|e| e["buy_venue"] == "bybit" && e["sell_venue"] == "okx" && e["pair"] == "BTC/USDT"),
        "{opened:?}"
    );
    let bybit = opened.iter().find(|e| e["buy_venue"] == "bybit" && e["sell_venue"] == "okx").unwrap();
    assert_eq!(bybit["buy_symbol"], "BTCUSDT");
    assert!((bybit["fees_bp"].as_f64().unwrap() - 21.0).abs() < 1e-9, "the account's 5.5 bp: {bybit}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bybit "), "the exit summary gives each venue's delay: {stderr}");
    sim.shutdown().await;
}

/// A generated capture of three venues replays with every book live and no gap, and `report` pairs every two
/// venues listing a contract.
#[test]
fn a_generated_three_venue_capture_replays_clean() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("three.jsonl");
    let capture = capture.to_str().unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_perpspread")).args(args).output().unwrap();
    let generated = run(&["sim", "--generate-capture", capture, "--messages", "6000", "--instruments", "4", "--bybit"]);
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let replayed = run(&["replay", "--json", capture]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    let report: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    // Every venue's instrument list leads the capture: 4 contracts on OKX and Binance, 3 of them on Bybit too
    // (4 + 3 + 3 pairs), not only the venues listed before the first frame.
    assert_eq!(report["pairs"], 10, "{}", report["pairs"]);
    let books = report["books"].as_array().unwrap();
    let bybit = books.iter().filter(|b| b["venue"] == "bybit").count();
    assert!(bybit >= 3, "BTC, ETH and SOL on Bybit at least: {books:?}");
    for book in books {
        assert_eq!(book["state"], "live", "{book}");
        assert_eq!(book["sequence_gaps"], 0, "{book}");
        assert!(book["updates_applied"].as_u64().unwrap() > 50, "{book}");
    }
    let stats = run(&["report", "--json", capture]);
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let health = stats["book_health"]["venues"].as_array().unwrap();
    assert_eq!(health.len(), Venue::COUNT, "{health:?}");
}

/// `funding` over three venues: every two venues listing BTC/USDT make two funding trades, and each Bybit leg
/// has its interval (`fundingIntervalHour`), cap (`fundingCap`) and last settled rate (funding history).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funding_ranks_trades_between_every_two_venues() {
    let sim = sim().await;
    let output = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_perpspread"))
            .args(["funding", "--json", "--symbols", "BTC", "--horizon", "24"])
            .args(common::sim_flags(&sim))
            .output()
            .unwrap()
    });
    let rows = lines(&output);
    assert_eq!(rows.len(), 6, "three venue pairs × two directions: {rows:?}");
    for row in &rows {
        assert!(row["note"].is_null(), "every figure known: {row}");
        for leg in ["long", "short"] {
            if row[format!("{leg}_venue")] == "bybit" {
                assert_eq!(row[format!("{leg}_interval_h")], 8, "{row}");
                assert_eq!(row[format!("{leg}_cap_bp")], 50.0, "{row}");
                assert!(row[format!("{leg}_last_settled_bp")].as_f64().is_some_and(|bp| bp > 0.5), "{row}");
            }
        }
    }
    sim.shutdown().await;
}
