//! `perpspread scan` and `instruments` over HTTP against the simulator on 127.0.0.1.

use std::process::Command;

use perpspread_core::Venue;
use perpspread_sim::{Dislocation, SimConfig, SimHandle};

async fn sim() -> SimHandle {
    let mut config = SimConfig { seed: 5, ..Default::default() };
    // BTC: OKX asks 40 bp below Binance bids for the whole test.
    config.dislocations = vec![Dislocation {
        base: "BTC".into(),
        quote: "USDT".into(),
        buy_venue: Venue::Okx,
        sell_on: None,
        size_bp: 40.0,
        start_ms: 0,
        duration_ms: 600_000,
    }];
    perpspread_sim::start(config).await.unwrap()
}

fn run(sim: &SimHandle, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(args)
        // The OKX × Binance cases as they were written; three venues are in `three_venues.rs`.
        .args([
            "--venues".to_owned(),
            "okx,binance".to_owned(),
            "--rest".to_owned(),
            format!("okx={}", sim.okx_rest_url),
            "--rest".to_owned(),
            format!("binance={}", sim.binance_rest_url),
        ])
        .output()
        .expect("binary runs")
}

fn lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_the_dislocation_net_of_fees() {
    let sim = sim().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let output =
        tokio::task::block_in_place(|| run(&sim, &["scan", "--json", "--symbols", "BTC,PEPE", "--size-usd", "5000"]));
    let rows = lines(&output);
    assert_eq!(rows.len(), 4, "two pairs × two directions: {rows:?}");
    // Sorted by net bp: the dislocated direction first.
    let best = &rows[0];
    assert_eq!(best["pair"], "BTC/USDT");
    assert_eq!(best["direction"], "buy_okx_sell_binance");
    let (gross, fees, net) =
        (best["gross_bp"].as_f64().unwrap(), best["fees_bp"].as_f64().unwrap(), best["net_bp"].as_f64().unwrap());
    assert!((39.0..45.0).contains(&gross), "gross {gross}");
    assert_eq!(fees, 20.0);
    assert!((net - (gross - fees)).abs() < 1e-9);
    assert!(best["size_quote"].as_f64().unwrap() <= 5000.0);
    assert!(best["max_size_quote"].as_f64().unwrap() > 0.0);
    assert!(best["buy_latency_ms"].as_f64().unwrap() >= 0.0);
    // PEPE: OKX contracts of 10^7 PEPE vs Binance 1000PEPE: VWAPs per PEPE agree within a few bp.
    let pepe: Vec<_> = rows.iter().filter(|r| r["pair"] == "PEPE/USDT").collect();
    assert_eq!(pepe.len(), 2);
    for row in pepe {
        let (buy, sell) = (row["buy_vwap"].as_f64().unwrap(), row["sell_vwap"].as_f64().unwrap());
        assert!((buy / sell - 1.0).abs() < 0.002, "{buy} vs {sell}");
        assert!(row["net_bp"].as_f64().unwrap() < 0.0, "no PEPE dislocation was injected: {row}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instruments_pairs_and_explains_the_rest() {
    let sim = sim().await;
    let output = tokio::task::block_in_place(|| run(&sim, &["instruments", "--json", "--all"]));
    let rows = lines(&output);
    let pepe = rows.iter().find(|r| r["pair"] == "PEPE/USDT").expect("PEPE pair");
    // Legs in venue order, each naming its venue.
    assert_eq!((pepe["legs"][0]["venue"].as_str(), pepe["legs"][1]["venue"].as_str()), (Some("okx"), Some("binance")));
    assert_eq!(pepe["legs"][1]["symbol"], "1000PEPEUSDT");
    assert_eq!(pepe["legs"][1]["base_per_price_unit"], "1000");
    assert_eq!(pepe["legs"][0]["symbol"], "PEPE-USDT-SWAP");
    assert_eq!(pepe["id"], "PEPE/USDT:okx-binance");
    let unpaired: Vec<_> = rows.iter().filter(|r| r["unpaired"] == true).collect();
    assert!(unpaired
        .iter()
        .any(|r| r["symbol"] == "BTC-USD-SWAP" && r["reason"].as_str().unwrap().contains("inverse")));
    // Unknown symbols and HTTP errors are clear errors, not panics.
    let output = tokio::task::block_in_place(|| run(&sim, &["scan", "--symbols", "NOPE"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown symbol"));
    // A size below every pair's lot step is the user's to fix: the table says why per pair, then exit 2.
    let output = tokio::task::block_in_place(|| run(&sim, &["scan", "--symbols", "BTC,ETH", "--size-base", "1e-7"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("size rounds to zero"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("smaller than every pair's common lot step"));
    sim.inject(perpspread_sim::FaultKind::RestStatus { venue: Venue::Binance, status: 500, count: 100 });
    let output = tokio::task::block_in_place(|| run(&sim, &["instruments"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("binance") && stderr.contains("500") && !stderr.contains("panicked"), "{stderr}");
    sim.shutdown().await;
}

/// With API keys, every instrument is charged the account's own taker fee: OKX by fee group (`feeGroup` of
/// `trade-fee`, group from `instruments`), Binance per symbol (`commissionRate`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_fees_are_read_per_fee_group_and_per_symbol() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(
        &keys,
        "[okx]\napi_key = \"k\"\nsecret = \"s\"\npassphrase = \"p\"\n[binance]\napi_key = \"k\"\nsecret = \"s\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let output = tokio::task::block_in_place(|| {
        run(
            &sim,
            &[
                "scan",
                "--json",
                "--symbols",
                "BTC/USDT,BTC/USDC",
                "--size-usd",
                "1000",
                "--keys",
                keys.to_str().unwrap(),
            ],
        )
    });
    let rows = lines(&output);
    let fees = |pair: &str| {
        let row = rows.iter().find(|r| r["pair"] == pair).unwrap_or_else(|| panic!("{pair} in {rows:?}"));
        row["fees_bp"].as_f64().unwrap()
    };
    // Round trip of both legs: 2 × (OKX group 4: 4 bp + Binance: 4 bp), and for USDC 2 × (2 + 2.4).
    assert!((fees("BTC/USDT") - 16.0).abs() < 1e-9, "{rows:?}");
    assert!((fees("BTC/USDC") - 8.8).abs() < 1e-9, "{rows:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("secret = "), "{stderr}");
    // Written with the default umask, the key file is readable by others: used, with a warning like ssh's.
    assert!(stderr.contains("is readable by others (mode 644)") && stderr.contains("chmod 600"), "{stderr}");
}

/// `perpspread funding` against a simulator where BTC/USDT funds every 4 h on Binance and every 8 h on OKX:
/// the carry, break-even and ranking agree with a computation from the rates, intervals and next settlements
/// shown, done here independently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funding_ranks_trades_by_carry_net_of_the_round_trip() {
    let mut config = SimConfig { seed: 5, ..Default::default() };
    for pair in &mut config.pairs {
        if pair.base == "BTC" && pair.quote == "USDT" {
            (pair.binance_funding_hours, pair.funding_rate) = (4, 0.0004);
        }
    }
    let sim = perpspread_sim::start(config).await.unwrap();
    let output = tokio::task::block_in_place(|| {
        run(&sim, &["funding", "--json", "--symbols", "BTC,ETH,SOL", "--size-usd", "10000", "--horizon", "72"])
    });
    let rows = lines(&output);
    assert_eq!(rows.len(), 6, "three pairs × two directions");
    let f = |row: &serde_json::Value, key: &str| row[key].as_f64().unwrap_or_else(|| panic!("{key} in {row}"));
    // Settlements of a leg within 72 h, from the minutes to its next one and its interval.
    let settlements = |next_min: f64, every_h: f64| {
        (0..).take_while(|k| next_min + 60.0 * every_h * f64::from(*k) <= 72.0 * 60.0).count() as f64
    };
    for row in &rows {
        let (long_n, short_n) = (
            settlements(f(row, "long_next_min"), f(row, "long_interval_h")),
            settlements(f(row, "short_next_min"), f(row, "short_interval_h")),
        );
        let carry = f(row, "short_rate_bp") * short_n - f(row, "long_rate_bp") * long_n;
        assert!((f(row, "carry_bp") - carry).abs() < 1e-6, "{row}");
        let cost = f(row, "round_trip_cost_bp");
        assert!(cost >= 20.0, "four taker fees of 5 bp and two spreads: {cost}");
        assert!((f(row, "net_carry_bp") - (carry - cost)).abs() < 1e-6);
    }
    let btc: Vec<_> = rows.iter().filter(|r| r["pair"] == "BTC/USDT").collect();
    let short_binance = btc.iter().find(|r| r["short_venue"] == "binance").unwrap();
    assert_eq!((f(short_binance, "short_interval_h"), f(short_binance, "long_interval_h")), (4.0, 8.0));
    // Short the 4-hourly leg: 18 settlements of ~4 bp against 9 paid: the best trade, and it pays back.
    assert_eq!(rows[0]["pair"], "BTC/USDT");
    assert_eq!(rows[0]["short_venue"], "binance");
    assert!(f(short_binance, "carry_bp") > 30.0, "{short_binance}");
    let break_even = f(short_binance, "break_even_h");
    // Independently: walk both legs' settlements in time order until the carry covers the cost.
    let (cost, next_s, next_l) =
        (f(short_binance, "round_trip_cost_bp"), f(short_binance, "short_next_min"), f(short_binance, "long_next_min"));
    let (rate_s, rate_l) = (f(short_binance, "short_rate_bp"), f(short_binance, "long_rate_bp"));
    let mut events: Vec<(f64, f64)> = (0..200).map(|k| (next_s + 240.0 * f64::from(k), rate_s)).collect();
    events.extend((0..100).map(|k| (next_l + 480.0 * f64::from(k), -rate_l)));
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut carried, mut expected) = (0.0, None);
    for (i, (minute, amount)) in events.iter().enumerate() {
        carried += amount;
        // Settlements at the same instant count together (the minutes of the two legs differ in the last bits).
        if events.get(i + 1).is_none_or(|next| (next.0 - minute).abs() > 1e-6) && carried >= cost {
            expected = Some(minute / 60.0);
            break;
        }
    }
    assert!((break_even - expected.unwrap()).abs() < 0.02, "{break_even} vs {expected:?}");
    // The last settled rate of each leg (OKX settFundingRate, Binance's funding history): the configured 4 bp
    // within the simulator's ±10 % wobble; no rate is at its cap.
    for leg in ["long", "short"] {
        let last = f(short_binance, &format!("{leg}_last_settled_bp"));
        assert!((3.6..=4.4).contains(&last), "{leg}: {short_binance}");
        assert_eq!(short_binance[format!("{leg}_at_limit")], false);
    }
    assert_eq!((f(short_binance, "short_cap_bp"), f(short_binance, "short_floor_bp")), (200.0, -200.0));
    // Ranked by net carry, best first.
    let nets: Vec<f64> = rows.iter().map(|r| f(r, "net_carry_bp")).collect();
    assert!(nets.windows(2).all(|w| w[0] >= w[1]), "{nets:?}");
}
