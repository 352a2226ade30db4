//! `perpspread replay` end to end through the binary.

use std::process::Command;

fn perpspread(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_perpspread")).args(args).output().expect("binary runs")
}

fn fixture(name: &str) -> String {
    format!("{}/../../fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn replay_json_reports_every_book() {
    let output = perpspread(&["replay", "--json", &fixture("okx_books_btc-usdt_2022-05-13.jsonl")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["messages"], 198);
    let book = &report["books"][0];
    assert_eq!(book["instrument"], "BTC-USDT");
    assert_eq!(book["checksums_verified"], 98);
    assert_eq!(book["checksum_failures"], 0);
    assert_eq!(book["state"], "live");
    assert_eq!(book["best_bid"], "30236.1");
    assert_eq!(book["best_ask"], "30236.2");
}

#[test]
fn a_rotated_recording_replays_as_one() {
    let text = std::fs::read_to_string(fixture("okx_books_btc-usdt_2022-05-13.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let (base, part) = (dir.path().join("rec.jsonl"), dir.path().join("rec.0001.jsonl"));
    std::fs::write(&base, lines[..120].join("\n")).unwrap();
    std::fs::write(&part, lines[120..].join("\n")).unwrap();
    // In glob order (`rec.0001.jsonl` sorts before `rec.jsonl`): replayed in recording order.
    let output = perpspread(&["replay", "--json", part.to_str().unwrap(), base.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((report["messages"].as_u64(), report["error"].as_str()), (Some(198), None));
    let book = &report["books"][0];
    assert_eq!((book["checksums_verified"].as_u64(), book["checksum_failures"].as_u64()), (Some(98), Some(0)));
    assert_eq!((book["state"].as_str(), book["best_bid"].as_str()), (Some("live"), Some("30236.1")));
    // Two recordings are not one.
    let other = fixture("binance_usdm_depth_sushi-akro_2021-07-22.jsonl");
    let output = perpspread(&["replay", base.to_str().unwrap(), &other]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("are not parts of one recording"));
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let output = perpspread(&["replay", "/nonexistent/capture.jsonl"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: cannot read capture"), "{stderr}");
    assert!(!stderr.contains("panicked"));

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "this is not a capture\n").unwrap();
    let output = perpspread(&["replay", garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 1"));

    let output = perpspread(&["replay", "--speed", "fast", &fixture("okx_books_btc-usdt_2022-05-13.jsonl")]);
    assert_eq!(output.status.code(), Some(2));
    let output = perpspread(&["scan", "--size-usd", "-5", "--rest", "okx=http://127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
}
