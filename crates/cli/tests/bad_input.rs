//! User errors: exit code 2 and one clear line on stderr, never a panic.

use std::net::TcpListener;
use std::process::Command;

fn perpspread(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_perpspread")).args(args).output().expect("binary runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_user_error(args: &[&str], needle: &str) {
    let (code, stderr) = perpspread(args);
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{args:?}: {stderr}");
    // Exactly one line, saying what is wrong.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(needle), "{args:?}: {}", lines[0]);
}

/// Runs `command --config FILE` with `text` as the file: a user error mentioning `needle`.
fn assert_bad_config(command: &str, text: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, text).unwrap();
    assert_user_error(&[command, "--config", config.to_str().unwrap()], needle);
}

#[test]
fn bad_flags_and_config_exit_2_with_one_line() {
    assert_bad_config(
        "monitor",
        "[monitor]\nopen_threshold_bp = -5.0\nclose_threshold_bp = -2.0\n",
        "close_threshold_bp",
    );
    assert_bad_config("scan", "[scan]\nsize_usd = -10\n", "positive");
    assert_bad_config("scan", "[venues.binance]\nbook_depth = 5000\n", "venues.binance.book_depth");
    assert_bad_config("scan", "[nope]\nx = 1\n", "nope");
    assert_bad_config("monitor", "[funding]\nhorizon_h = 0\n", "funding.horizon_h");
    assert_user_error(&["monitor", "--horizon", "0"], "horizon");
    assert_user_error(&["scan", "--rest", "okx=ftp://x"], "venues.okx.rest_url");
    assert_user_error(&["scan", "--rest", "kraken=http://x"], "unknown venue");
    assert_user_error(&["scan", "--venues", "okx"], "at least two venues");
    assert_user_error(&["monitor", "--metrics-addr", "not-an-address"], "not-an-address");
    assert_user_error(&["monitor", "--shard", "0/3"], "shard");
    // Flag errors from the parser itself are one line too, pointing at the right help.
    assert_user_error(&["monitor", "--bogus"], "(see perpspread monitor --help)");
    assert_user_error(&["scan", "--size-usd", "-5"], "'-5'");
    assert_user_error(&["bench", "--runs", "x"], "(see perpspread bench --help)");
    assert_user_error(&["no-such-command"], "no-such-command");
    // Given but naming nothing is a mistake (it used to scan nothing and exit 0).
    for empty in ["", ",,,", " , "] {
        assert_user_error(&["scan", "--symbols", empty], "no symbols");
        assert_user_error(&["monitor", "--symbols", empty], "no symbols");
    }
    // A capture is written as what its name says.
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("x.jsonl.gz");
    assert_user_error(&["record", "--out", gz.to_str().unwrap()], ".jsonl.zst");
    assert!(!gz.exists());
    assert_user_error(&["replay"], "<FILE");
    // A TOML syntax error is one line too: its text without the source excerpt under it.
    assert_bad_config("scan", "[monitor\nfoo=\n", "line 1");
    assert_user_error(&["bench", "--messages", "0"], "at least 1");
    assert_user_error(&["record", "--out", "x.jsonl", "--rotate-mb", "0"], "at least 1");
}

#[test]
fn malformed_endpoints_bounds_and_conflicting_flags_exit_2() {
    // Endpoints are parsed as URLs up front (they used to fail later, retried, with exit 1 or never).
    assert_user_error(&["instruments", "--rest", "okx=http://"], "venues.okx.rest_url = http://: not a valid URL");
    assert_user_error(&["instruments", "--rest", "okx=http://127.0.0.1:99999"], "invalid port number");
    assert_user_error(&["monitor", "--ws", "binance=ws://exa mple/stream"], "venues.binance.ws_url");
    // A flag replaces the environment's value before anything is checked.
    let output = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["instruments", "--rest", "okx=ftp://x"])
        .env("PERPSPREAD_OKX_REST", "http://")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("okx.rest_url = ftp://x"));
    assert_bad_config(
        "instruments",
        "[venues.binance]\nrest_url = \"http://exa mple.com\"\n",
        "venues.binance.rest_url",
    );
    // NaN and out-of-range numbers name their key and value.
    assert_bad_config("instruments", "[monitor]\nmax_latency_ms = nan\n", "monitor.max_latency_ms = NaN");
    assert_bad_config("instruments", "[monitor]\nmax_latency_ms = -5\n", "monitor.max_latency_ms = -5");
    assert_bad_config("instruments", "[venues.binance]\ntaker_fee_bp = 1e308\n", "= 1e308: a fee");
    assert_bad_config("instruments", "[venues.okx]\nweight_per_minute = 100\n", "unknown setting weight_per_minute");
    // Flags that would be ignored, or make a run pointless or endless.
    assert_user_error(&["demo", "--rest", "okx=http://127.0.0.1:1"], "built-in simulator");
    assert_user_error(&["demo", "--out-format", "csv"], "--out-dir");
    assert_user_error(&["sim", "--messages", "10"], "--generate-capture");
    assert_user_error(&["bench", "--loopback-s", "2", "--capture", "x.jsonl"], "cannot be used with");
    assert_user_error(&["bench", "--memory-pairs", "100000000"], "1..=10000");
    assert_user_error(&["bench", "--loopback-pairs", "0"], "--loopback-pairs");
    assert_user_error(&["monitor", "--duration-s", "0"], "must be at least 1");
    assert_user_error(&["demo", "--snapshot-ms", "0"], "must be at least 1");
    assert_user_error(&["replay", "--speed", "0.0000001x", "x.jsonl"], "from 0.01x to 10000x");
    assert_user_error(&["report", "--latency", "10,soon", "x.jsonl"], "not a whole number of milliseconds");
    assert_user_error(&["report", "--latency", "7200000", "x.jsonl"], "at most 3600000 ms");
    assert_user_error(&["import", "--tardis", "nowhere=x", "--out", "y.jsonl"], "unknown venue \"nowhere\"");
    assert_user_error(&["import", "--tardis", "okex-swap=/nonexistent", "--out", "y.jsonl"], "cannot read input");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    assert_user_error(&["bench", "--capture", empty.to_str().unwrap(), "--runs", "1"], "no book message");
}

#[test]
fn recording_never_overwrites_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.jsonl");
    std::fs::write(&kept, "recorded earlier\n").unwrap();
    for command in [["record", "--out"], ["monitor", "--record"]] {
        let args = [command[0], command[1], kept.to_str().unwrap(), "--rest", "okx=http://127.0.0.1:1"];
        assert_user_error(&args, "already exists");
    }
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "recorded earlier\n");
}

#[test]
fn unreachable_redis_and_port_in_use() {
    assert_user_error(&["demo", "--json", "--duration-s", "1", "--redis", "redis://127.0.0.1:1"], "cannot reach Redis");
    assert_user_error(&["tail", "--redis", "redis://127.0.0.1:1"], "cannot reach Redis");
    // Credentials in a URL are never printed.
    for args in [
        vec!["demo", "--json", "--duration-s", "1", "--redis", "redis://:WRONGPASS@127.0.0.1:1"],
        vec!["demo", "--json", "--duration-s", "1", "--redis", "rediss://user:WRONGPASS@127.0.0.1:1/0"],
        vec!["tail", "--redis", "redis://:WRONGPASS@127.0.0.1:1"],
        vec!["scan", "--rest", "okx=ftp://user:WRONGPASS@x"],
    ] {
        let (code, stderr) = perpspread(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("WRONGPASS") && stderr.contains("***"), "{args:?}: {stderr}");
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_user_error(&["demo", "--json", "--duration-s", "1", "--metrics-addr", &addr], "cannot serve metrics");
}

#[test]
fn damaged_captures() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("{}/../../fixtures/real/okx_books_btc-usdt_2022-05-13.jsonl", env!("CARGO_MANIFEST_DIR"));
    // A zstd capture cut mid-frame (a killed recording) is whole up to the cut: replayed with a warning, exit 0;
    // and so is a plain one cut mid-line.
    let text = std::fs::read(&source).unwrap();
    let compressed = zstd_compress(&text);
    let truncated = dir.path().join("cut.jsonl.zst");
    std::fs::write(&truncated, &compressed[..compressed.len() * 2 / 3]).unwrap();
    let cut_plain = dir.path().join("cut.jsonl");
    std::fs::write(&cut_plain, &text[..text.len() * 2 / 3]).unwrap();
    for cut in [&truncated, &cut_plain] {
        for command in ["replay", "report"] {
            let (code, stderr) = perpspread(&[command, cut.to_str().unwrap()]);
            assert_eq!(code, Some(0), "{command} {}: {stderr}", cut.display());
            assert!(stderr.contains("cut short; everything before was read"), "{stderr}");
        }
    }
    // Damage in the middle is not a cut: replay exits 2, report warns.
    let text = String::from_utf8(text).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(5, "{\"ts_ns\": garbage");
    let damaged = dir.path().join("damaged.jsonl");
    std::fs::write(&damaged, lines.join("\n") + "\n").unwrap();
    assert_user_error(&["replay", damaged.to_str().unwrap()], "damaged");
    let (code, stderr) = perpspread(&["report", damaged.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("is damaged, reported up to the damage"), "{stderr}");
    let empty = dir.path().join("empty.jsonl.zst");
    std::fs::write(&empty, b"not zstd at all").unwrap();
    assert_user_error(&["replay", empty.to_str().unwrap()], "empty.jsonl.zst");
}

#[test]
fn inputs_that_are_not_what_they_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    assert_user_error(&["replay", folder], "is a directory, not a file");
    assert_user_error(&["report", folder], "is a directory, not a file");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    assert_user_error(&["replay", empty.to_str().unwrap()], "the capture is empty");
    assert_user_error(&["report", empty.to_str().unwrap()], "the capture is empty");
    let spreads = dir.path().join("spreads-2026-11-28T04.csv");
    std::fs::write(&spreads, "").unwrap();
    assert_user_error(&["report", spreads.to_str().unwrap()], "give the opportunities-* files too");
    let opportunities = dir.path().join("opportunities-2026-11-28T04.csv");
    std::fs::write(&opportunities, "").unwrap();
    assert_user_error(&["report", spreads.to_str().unwrap(), opportunities.to_str().unwrap()], "from parquet only");
    // The generator keeps an existing file, like `record`.
    assert_user_error(&["sim", "--generate-capture", empty.to_str().unwrap(), "--messages", "10"], "already exists");
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
}

fn zstd_compress(bytes: &[u8]) -> Vec<u8> {
    // Write through the project's own capture writer so the file is a real multi-block zstd capture.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.zst");
    let mut writer = perpspread_capture::CaptureWriter::create(&path, Default::default()).unwrap();
    let mut record = perpspread_capture::Record::default();
    for line in String::from_utf8_lossy(bytes).lines() {
        perpspread_capture::parse_line(line, &mut record).unwrap();
        writer.write(record.as_ref()).unwrap();
        writer.flush().unwrap();
    }
    writer.finish().unwrap();
    std::fs::read(&path).unwrap()
}

/// `perpspread` alone prints the short usage (not the whole help) and exits 2.
#[test]
fn no_command_prints_the_short_usage() {
    let (code, stderr) = perpspread(&[]);
    assert_eq!(code, Some(2));
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() <= 4, "{stderr}");
    assert!(stderr.contains("Usage: perpspread") && stderr.contains("monitor, demo"), "{stderr}");
}
