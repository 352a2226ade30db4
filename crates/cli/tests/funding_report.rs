//! `report` on a capture that crosses funding settlements: the funding settled inside it, leg by leg, agrees
//! with the settlement times found in the raw messages and with the simulator's true rates.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use perpspread_sim::{Market, SimConfig};

fn perpspread(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_perpspread")).args(args).output().expect("binary runs")
}

/// The settlement times a leg's funding messages announce (OKX `fundingTime`, Binance `T`), per (venue, symbol).
fn announced(capture: &str) -> HashMap<(String, String), BTreeSet<u64>> {
    let mut out: HashMap<(String, String), BTreeSet<u64>> = HashMap::new();
    for line in capture.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(data) = record["data"].as_str() else { continue };
        let message: serde_json::Value = serde_json::from_str(data).unwrap();
        let venue = record["venue"].as_str().unwrap().to_owned();
        if message["arg"]["channel"] == "funding-rate" {
            let item = &message["data"][0];
            let time = item["fundingTime"].as_str().unwrap().parse().unwrap();
            out.entry((venue, item["instId"].as_str().unwrap().to_owned())).or_default().insert(time);
        } else if message["data"]["e"] == "markPriceUpdate" {
            let event = &message["data"];
            out.entry((venue, event["s"].as_str().unwrap().to_owned()))
                .or_default()
                .insert(event["T"].as_u64().unwrap());
        }
    }
    out
}

#[test]
fn report_sums_the_funding_settled_inside_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("funding.jsonl");
    let capture = capture.to_str().unwrap();
    // 100 ms steps, funding every 10 steps, the funding clock an hour per second: about one funding hour
    // between messages, and tens of settlements in a few hundred seconds of market.
    let generated = perpspread(&[
        "sim",
        "--generate-capture",
        capture,
        "--messages",
        "12000",
        "--instruments",
        "3",
        "--funding-every-steps",
        "10",
        "--funding-clock-speed",
        "3600",
    ]);
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let output = perpspread(&["report", "--json", capture]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = report["realised_funding"].as_array().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(rows.len(), 6, "three pairs, two directions: {rows:?}");

    // The truth: the simulator's rate of each settlement, of the same pairs as the generated capture.
    let mut config = SimConfig::default();
    config.pairs.retain(|p| p.is_cross_listed());
    config.pairs.truncate(3);
    let market = Market::new(&config, 0).unwrap();
    let announced = announced(&std::fs::read_to_string(capture).unwrap());
    let settled = |venue: &str, pair: &str| -> (usize, f64) {
        let state = market.pairs().iter().find(|p| format!("{}/{}", p.spec.base, p.spec.quote) == pair).unwrap();
        let venue_enum = venue.parse().unwrap();
        let symbol = state.venue(venue_enum).unwrap().meta.symbol().to_owned();
        let times = &announced[&(venue.to_owned(), symbol)];
        // Every announced settlement but the last has happened inside the capture.
        let happened: Vec<u64> = times.iter().copied().take(times.len() - 1).collect();
        (happened.len(), happened.iter().map(|t| state.rate_at(*t) * 10_000.0).sum())
    };
    for row in rows {
        let pair = row["pair"].as_str().unwrap();
        let (long, short) = (row["long_venue"].as_str().unwrap(), row["short_venue"].as_str().unwrap());
        let ((long_n, long_bp), (short_n, short_bp)) = (settled(long, pair), settled(short, pair));
        assert!(long_n >= 20 && short_n >= 20, "the capture crosses many settlements: {row}");
        assert_eq!(row["long_settlements"].as_u64(), Some(long_n as u64), "{row}");
        assert_eq!(row["short_settlements"].as_u64(), Some(short_n as u64), "{row}");
        let close = |key: &str, want: f64| (row[key].as_f64().unwrap() - want).abs() < 1e-6;
        assert!(close("long_paid_bp", long_bp) && close("short_received_bp", short_bp), "{row}");
        assert!(close("carry_bp", short_bp - long_bp), "{row}");
    }
    let text = perpspread(&["report", capture]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("funding settled during the capture"), "{text}");
}
