//! `import`: the real OKX and Binance recordings, rewritten as Tardis.dev exchange-native replays (Binance's
//! REST snapshots as the `depthSnapshot` messages Tardis generates, OKX gzip-compressed, a disconnect marker
//! in between), import into one capture that replays with every book Live, no gap, and the same books as the
//! original recordings.

use std::io::Write;
use std::path::{Path, PathBuf};

use perpspread_capture::Rotation;
use perpspread_core::{BookState, Venue};
use perpspread_stream::import::{import_tardis, ImportError, ImportOptions};
use perpspread_stream::{replay, BookReport, ReplayOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffZ` (Tardis's 100 ns precision) of Unix ns.
fn tardis_time(ns: u64) -> String {
    format!("{}.{:07}Z", &perpspread_core::time::rfc3339(ns)[..19], ns % 1_000_000_000 / 100)
}

/// A perpspread capture as the Tardis replay of the same messages.
fn to_tardis(capture: &Path, disconnect_after: Option<usize>) -> String {
    let mut out = String::new();
    for (i, line) in std::fs::read_to_string(capture).unwrap().lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let data = record["data"].as_str().unwrap();
        let message = match record["src"].as_str() {
            Some("rest") => {
                let url = record["url"].as_str().unwrap();
                let symbol = url.split("symbol=").nth(1).unwrap().split('&').next().unwrap().to_lowercase();
                format!(r#"{{"stream":"{symbol}@depthSnapshot","generated":true,"data":{data}}}"#)
            }
            _ => data.to_owned(),
        };
        let ts = tardis_time(record["ts_ns"].as_u64().unwrap());
        out.push_str(&format!("{{\"localTimestamp\":\"{ts}\",\"message\":{message}}}\n"));
        if disconnect_after == Some(i) {
            out.push('\n');
        }
    }
    out
}

fn books(capture: &Path) -> Vec<BookReport> {
    let mut books = replay(&[capture.to_owned()], &ReplayOptions::default()).unwrap().books;
    books.sort_by(|a, b| (a.venue, &a.instrument).cmp(&(b.venue, &b.instrument)));
    books
}

#[test]
fn tardis_replays_import_into_captures_that_replay_like_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let okx_original = fixture("real/okx_books_btc-usdt_2022-05-13.jsonl");
    let binance_original = fixture("real/binance_usdm_depth_sushi-akro_2021-07-22.jsonl");
    let okx_tardis = dir.path().join("okex-swap.ndjson.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&okx_tardis).unwrap(), Default::default());
    gz.write_all(to_tardis(&okx_original, None).as_bytes()).unwrap();
    gz.finish().unwrap();
    let binance_tardis = dir.path().join("binance-futures.ndjson");
    std::fs::write(&binance_tardis, to_tardis(&binance_original, Some(400))).unwrap();

    let out = dir.path().join("imported.jsonl.zst");
    let options = ImportOptions {
        tardis: vec![(Venue::Okx, okx_tardis.clone()), (Venue::Binance, binance_tardis.clone())],
        instruments: vec![
            (Venue::Okx, fixture("docs-examples/okx/http_get_instruments_swap.json")),
            (Venue::Binance, fixture("real/binance_usdm_exchange_info_2021-07-22.json")),
        ],
        out: out.clone(),
        rotation: Rotation::default(),
    };
    let mut progress = Vec::new();
    let stats = import_tardis(&options, &mut |bytes| progress.push(bytes)).unwrap();
    assert_eq!(stats.disconnects, 1);
    let lines = |path: &Path| std::fs::read_to_string(path).unwrap().lines().count() as u64;
    assert_eq!(stats.records[Venue::Okx], lines(&okx_original) + 1, "every message and the instrument list");
    assert_eq!(stats.records[Venue::Binance], lines(&binance_original) + 1);
    assert!(progress.windows(2).all(|w| w[0] <= w[1]) && !progress.is_empty());

    let imported = books(&out);
    let mut originals = books(&okx_original);
    originals.extend(books(&binance_original));
    originals.sort_by(|a, b| (a.venue, &a.instrument).cmp(&(b.venue, &b.instrument)));
    assert_eq!(imported.len(), originals.len());
    for (got, want) in imported.iter().zip(&originals) {
        assert_eq!((got.state, got.sequence_gaps, got.resyncs), (BookState::Live, 0, 0), "{got:?}");
        assert_eq!(got, want, "the same book as replaying the original recording");
    }
    // The instrument lists lead the capture, so the engine finds pairs (OKX's BTC-USDT-SWAP against
    // Binance's BTCUSDT; the books recorded are other markets, so nothing to evaluate).
    let with_engine = ReplayOptions { engine: Some(Default::default()), ..ReplayOptions::default() };
    let report = replay(std::slice::from_ref(&out), &with_engine).unwrap();
    assert!(report.pairs.is_some_and(|n| n >= 1), "{:?}", report.pairs);

    // An import never overwrites, and says which line is wrong.
    assert!(matches!(import_tardis(&options, &mut |_| {}), Err(ImportError::Capture(_))));
    let broken = dir.path().join("broken.ndjson");
    std::fs::write(&broken, "{\"localTimestamp\":\"2024-05-01T00:00:00Z\",\"message\":{}}\nnot json\n").unwrap();
    let broken_options = ImportOptions {
        tardis: vec![(Venue::Bybit, broken)],
        out: dir.path().join("b.jsonl"),
        ..ImportOptions::default()
    };
    let error = import_tardis(&broken_options, &mut |_| {}).unwrap_err().to_string();
    assert!(error.contains("line 2") && error.contains("not a Tardis.dev replay line"), "{error}");
    let v3 = dir.path().join("okex-swap-2020.ndjson");
    let v3_line = r#"{"localTimestamp":"2020-05-01T00:00:00.1Z","message":{"table":"swap/depth_l2_tbt","action":"partial","data":[]}}"#;
    std::fs::write(&v3, format!("{v3_line}\n")).unwrap();
    let v3_options =
        ImportOptions { tardis: vec![(Venue::Okx, v3)], out: dir.path().join("v3.jsonl"), ..ImportOptions::default() };
    let error = import_tardis(&v3_options, &mut |_| {}).unwrap_err().to_string();
    assert!(error.contains("line 1") && error.contains("OKEx v3"), "{error}");
    let wrong_list = ImportOptions {
        instruments: vec![(Venue::Binance, fixture("docs-examples/okx/http_get_instruments_swap.json"))],
        out: dir.path().join("c.jsonl"),
        ..options.clone()
    };
    let error = import_tardis(&wrong_list, &mut |_| {}).unwrap_err().to_string();
    assert!(error.contains("not an instrument list of binance"), "{error}");
}
