//! `monitor` outputs end to end: the demo (simulator + monitor) with Redis, Parquet files and metrics.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis(port: u16) -> Redis {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (apt-get install redis-server; .ci/run does it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Redis(child)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn demo_feeds_redis_files_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (redis_port, metrics_port) = (free_port(), free_port());
    let _redis = redis(redis_port);
    let out_dir = dir.path().join("out");
    let monitor = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["demo", "--json", "--duration-s", "11", "--snapshot-ms", "500"])
        .arg("--record")
        .arg(dir.path().join("demo.jsonl.zst"))
        .args(["--redis", &format!("redis://127.0.0.1:{redis_port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .arg("--out-dir")
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Scrape while it runs.
    std::thread::sleep(Duration::from_secs(7));
    let metrics = http_get(metrics_port, "/metrics").expect("metrics served");
    let health = http_get(metrics_port, "/healthz").expect("health served");
    let output = monitor.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for series in [
        "perpspread_messages_total{venue=\"okx\",channel=\"ws\"}",
        "perpspread_opportunities_opened_total",
        "perpspread_book_state",
    ] {
        assert!(metrics.contains(series), "missing {series}");
    }
    assert!(health.starts_with("HTTP/1.0 200") || health.starts_with("HTTP/1.1 200"), "{health}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let opened = stdout.lines().filter(|l| l.contains("\"event\":\"opened\"")).count();
    assert!(opened >= 3, "the demo's first dislocation opens one opportunity per size: {opened}");

    // Redis: the opportunity stream holds every event printed on stdout.
    let xlen = Command::new("redis-cli")
        .args(["-p", &redis_port.to_string(), "XLEN", "perpspread:opportunities"])
        .output()
        .unwrap();
    let entries: usize = String::from_utf8_lossy(&xlen.stdout).trim().parse().unwrap();
    assert_eq!(entries, stdout.lines().count());

    // Spread snapshots carry each leg's funding and the horizon carry of their direction, in Redis and in files.
    let latest = Command::new("redis-cli")
        .args(["-p", &redis_port.to_string(), "XREVRANGE", "perpspread:spreads:BTC/USDT", "+", "-", "COUNT", "1"])
        .output()
        .unwrap();
    let latest = String::from_utf8_lossy(&latest.stdout);
    for field in ["funding_horizon_h", "buy_funding_bp_per_h", "sell_funding_bp_per_h", "funding_carry_bp"] {
        assert!(latest.contains(field), "{field} in {latest}");
    }
    let spreads = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("spreads-"))
        .expect("spreads file");
    let rows = perpspread_sinks::files::read_snapshots_parquet(&spreads).unwrap();
    let funded: Vec<_> = rows.iter().filter(|r| r.funding_carry_bp.is_some()).collect();
    assert!(!funded.is_empty(), "no snapshot row with a funding carry");
    for row in funded {
        let (buy, sell) = (row.buy_funding_bp_per_h.unwrap(), row.sell_funding_bp_per_h.unwrap());
        // Both simulated legs fund every 8 h at about the same rate: over 24 h the carry is three settlements of
        // each, i.e. (sell − buy) per hour × 24, to within the rates' rounding.
        assert_eq!(row.funding_horizon_h, 24.0);
        assert!((row.funding_carry_bp.unwrap() - (sell - buy) * 24.0).abs() < 1e-6, "{row:?}");
    }

    // Files: closed cleanly and readable by `report`.
    let files: Vec<_> = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().path()).collect();
    let opportunities =
        files.iter().find(|p| p.to_string_lossy().contains("opportunities-")).expect("opportunity file");
    assert!(files.iter().all(|p| !p.to_string_lossy().ends_with(".partial")));
    let report =
        Command::new(env!("CARGO_BIN_EXE_perpspread")).args(["report", "--json"]).arg(opportunities).output().unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert!(report.to_string().contains("BTC/USDT"), "{report}");
    // With the spread snapshots too: the positive-net share from them, and charts of the sampled spread.
    let file_charts = dir.path().join("file-charts");
    let with_spreads = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["report", "--json", "--plot"])
        .arg(&file_charts)
        .args([opportunities, &spreads])
        .output()
        .unwrap();
    assert!(with_spreads.status.success(), "{}", String::from_utf8_lossy(&with_spreads.stderr));
    let with_spreads: serde_json::Value = serde_json::from_slice(&with_spreads.stdout).unwrap();
    assert_eq!(with_spreads["positive_share_method"], "snapshots", "{with_spreads}");
    assert!(file_charts.join("spread-BTC_USDT.png").is_file());

    // The recording: replayed through the engine by `report`, which finds the dislocation and charts it.
    let charts = dir.path().join("charts");
    let replayed = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["report", "--json", "--plot"])
        .arg(&charts)
        .arg(dir.path().join("demo.jsonl.zst"))
        .output()
        .unwrap();
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    let replayed: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert!(replayed.to_string().contains("BTC/USDT"), "{replayed}");
    for chart in ["spread-BTC_USDT-okx-binance.png", "latency.png", "book-health.png", "durations.png"] {
        assert!(charts.join(chart).is_file(), "{chart}");
    }
    // The same with the tables, as one page.
    let page = dir.path().join("report.html");
    let html = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["report", "--html"])
        .arg(&page)
        .arg(dir.path().join("demo.jsonl.zst"))
        .output()
        .unwrap();
    assert!(html.status.success(), "{}", String::from_utf8_lossy(&html.stderr));
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(page.contains("<img") && page.contains("BTC/USDT") && !page.contains("https://"));

    // Reacting 0 ms after each opening message finds the opening quote (at the threshold); 100 ms later the
    // replayed books say. Opportunity files hold no books to ask.
    let latency = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["report", "--json", "--latency", "100,0"])
        .arg(dir.path().join("demo.jsonl.zst"))
        .output()
        .unwrap();
    assert!(latency.status.success(), "{}", String::from_utf8_lossy(&latency.stderr));
    let latency: serde_json::Value = serde_json::from_slice(&latency.stdout).unwrap();
    let rows = latency["capture_at_latency"].as_array().unwrap_or_else(|| panic!("{latency}"));
    let all = |ms: u64| rows.iter().find(|r| r["latency_ms"] == ms && r["pair"] == "all").unwrap().clone();
    assert_eq!(rows[0]["latency_ms"], 0, "sorted: {rows:?}");
    let (at0, at100) = (all(0), all(100));
    assert!(at0["opportunities"].as_u64().unwrap() > 0, "{at0}");
    assert!(at0["share_at_threshold"].as_f64().unwrap() >= 0.9, "{at0}");
    assert!(at100["share_at_threshold"].as_f64().unwrap() <= at0["share_at_threshold"].as_f64().unwrap() + 1e-9);
    let refused = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["report", "--latency", "10"])
        .arg(opportunities)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--latency needs captures"));
}

/// Managed Redis services require TLS: `rediss://` works (here against redis-server with a self-signed
/// certificate, accepted with redis-rs's `#insecure`), a wrong password is refused, and the password is never
/// printed.
#[test]
fn redis_over_tls_with_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed (.ci/run installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no", "--requirepass", "s3cret"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed");
    let _redis = Redis(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server with TLS did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let demo = |password: &str| {
        Command::new(env!("CARGO_BIN_EXE_perpspread"))
            .args(["demo", "--json", "--duration-s", "2", "--redis"])
            .arg(format!("rediss://:{password}@127.0.0.1:{port}/#insecure"))
            .output()
            .unwrap()
    };
    let good = demo("s3cret");
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    // The demo published over TLS (spread snapshots at least).
    let keys = Command::new("redis-cli")
        .args(["--tls", "--insecure", "-p", &port.to_string(), "-a", "s3cret", "--no-auth-warning", "DBSIZE"])
        .output()
        .unwrap();
    let keys: u64 = String::from_utf8_lossy(&keys.stdout).trim().parse().unwrap_or(0);
    assert!(keys > 0, "nothing published over TLS");
    let bad = demo("WRONGPASS");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("WRONGPASS") && stderr.contains("rediss://:***@"), "{stderr}");
}

/// The value of one Prometheus series line (`name{labels} value`), if present.
fn series(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// What an operator sees: a dropped connection reaches the connection and resync metrics; with both venues
/// stalled, `/healthz` and `perpspread_book_state` turn within the book-age guard, at every scrape, although no
/// frame arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_stalls_reach_metrics_and_health() {
    use perpspread_core::Venue;
    use perpspread_sim::{FaultKind, SimConfig};
    let sim = perpspread_sim::start(SimConfig { seed: 9, tick_ms: 50, ..SimConfig::default() }).await.unwrap();
    let metrics_port = free_port();
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["monitor", "--json", "--all", "--duration-s", "120"])
        .args(common::sim_flags(&sim))
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let scrape = |path: &str| http_get(metrics_port, path).unwrap_or_default();
    let wait_for = |what: &str, seconds: u64, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !ok() {
            assert!(Instant::now() < deadline, "{what} within {seconds} s:\n{}", scrape("/metrics"));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    tokio::task::block_in_place(|| {
        wait_for("ready", 15, &|| scrape("/healthz").contains(" 200 "));
        // OKX, Binance /public and /market connected, counted within a second.
        let connects = || series(&scrape("/metrics"), "perpspread_connects_total").unwrap_or(0.0);
        wait_for("three connections counted", 5, &|| connects() >= 3.0);
        let connects = connects();
        // Funding per leg and per direction (the simulator: about 1 bp every 8 h on both venues).
        let text = scrape("/metrics");
        let per_hour = series(&text, r#"perpspread_funding_rate_per_hour_bp{venue="okx",pair="BTC/USDT"}"#).unwrap();
        assert!((0.1..0.15).contains(&per_hour), "{per_hour}");
        assert!(series(&text, r#"perpspread_funding_apr_diff_pct{pair="BTC/USDT",direction="buy_okx_sell_binance"}"#)
            .is_some());
        sim.inject(FaultKind::DropConnection { venue: Venue::Okx, close_frame: true });
        wait_for("the drop counted", 10, &|| {
            let text = scrape("/metrics");
            series(&text, r#"perpspread_reconnects_total{cause="closed"}"#).unwrap_or(0.0) >= 1.0
                && series(&text, "perpspread_connects_total").unwrap_or(0.0) > connects
                && series(&text, r#"perpspread_resync_requests_total{venue="okx",reason="disconnected"}"#)
                    .unwrap_or(0.0)
                    >= 1.0
                && series(&text, r#"perpspread_resync_duration_seconds_count{venue="okx"}"#).unwrap_or(0.0) >= 1.0
        });
        wait_for("ready again", 15, &|| scrape("/healthz").contains(" 200 "));
        // Every venue stalls: no frame, no pong, for 12 s. Within the 5 s guard (+ a second) every book is
        // stale and the process not ready, although nothing arrives to trigger an observation.
        for venue in Venue::ALL {
            sim.inject(FaultKind::Stall { venue, duration_ms: 12_000 });
        }
        let stalled_at = Instant::now();
        wait_for("not ready during the stall", 8, &|| scrape("/healthz").contains(" 503 "));
        assert!(stalled_at.elapsed() >= Duration::from_secs(4), "not before the guard: {:?}", stalled_at.elapsed());
        let text = scrape("/metrics");
        let live = text.lines().filter(|l| l.starts_with("perpspread_book_state{") && l.ends_with(" 1")).count();
        assert_eq!(live, 0, "no book shown live during the stall:\n{text}");
    });
    let _ = monitor.kill();
    let _ = monitor.wait();
    sim.shutdown().await;
}

/// A `record --out x.jsonl.zst` killed with SIGKILL loses at most about a second (a zstd frame is closed every
/// second), and the cut capture replays with a warning and exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_zstd_recording_loses_about_a_second() {
    use perpspread_capture::{CaptureReader, Record};
    let sim = perpspread_sim::start(perpspread_sim::SimConfig { tick_ms: 50, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed.jsonl.zst");
    let mut record = Command::new(env!("CARGO_BIN_EXE_perpspread"))
        .args(["record", "--top", "5", "--out", out.to_str().unwrap()])
        .args(common::sim_flags(&sim))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Recording for about 4 s once the capture exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&out).map_or(true, |m| m.len() == 0) {
        assert!(Instant::now() < deadline, "nothing recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    record.kill().unwrap(); // SIGKILL: nothing gets to close the file
    let killed_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    record.wait().unwrap();
    let mut reader = CaptureReader::open(&out).unwrap();
    let (mut records, mut last_ns, mut record_buf) = (0u64, 0u64, Record::default());
    let end = loop {
        match reader.next_into(&mut record_buf) {
            Ok(true) => (records, last_ns) = (records + 1, record_buf.ts_ns),
            Ok(false) => break None,
            Err(error) => break Some(error),
        }
    };
    assert!(end.as_ref().is_none_or(|e| e.is_cut_short()), "{end:?}");
    assert!(records > 100, "{records} records");
    let lost_ms = killed_ns.saturating_sub(last_ns) / 1_000_000;
    // A frame closed every second; the rest is the flush tick's own delay under load and the kill's latency.
    assert!(lost_ms < 2_500, "the last record kept is {lost_ms} ms older than the kill");
    let replay =
        Command::new(env!("CARGO_BIN_EXE_perpspread")).args(["replay", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(replay.status.code(), Some(0), "{}", String::from_utf8_lossy(&replay.stderr));
    sim.shutdown().await;
}

/// Runs the binary with files limited to `max_bytes` (RLIMIT_FSIZE, SIGXFSZ ignored): a write past the limit
/// fails with EFBIG as on a full disk.
fn with_file_limit(command: &mut Command, max_bytes: u64) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and signal are async-signal-safe and touch only the child being spawned.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: max_bytes, rlim_max: max_bytes };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        })
    }
}

/// A recording that cannot be written: `record` stops at once with exit 1 and one line; `monitor --record`
/// keeps watching but raises the alarm (one error, `perpspread_recording_failed`, `/healthz` not ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_record_and_alarms_monitor() {
    let sim = perpspread_sim::start(perpspread_sim::SimConfig { tick_ms: 50, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoints = |command: &mut Command| {
        command.args(common::sim_flags(&sim));
    };
    let out = dir.path().join("full.jsonl");
    let mut record = Command::new(env!("CARGO_BIN_EXE_perpspread"));
    record.args(["record", "--top", "5", "--duration-s", "60", "--out", out.to_str().unwrap()]);
    endpoints(&mut record);
    let started = Instant::now();
    let output = tokio::task::block_in_place(|| with_file_limit(&mut record, 256 << 10).output().unwrap());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "stopped at once, not at --duration-s");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR") || l.starts_with("error:")).collect();
    assert!(errors.len() <= 2, "one logged error and the exit line, no flood: {errors:#?}");
    assert!(
        stderr.lines().last().is_some_and(|l| l.starts_with("error:") && l.contains("recording failed")),
        "{stderr}"
    );

    let metrics_port = free_port();
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_perpspread"));
    monitor
        .args(["monitor", "--json", "--top", "5", "--duration-s", "12"])
        .args(["--record", dir.path().join("monitor.jsonl").to_str().unwrap()])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    endpoints(&mut monitor);
    let child = with_file_limit(&mut monitor, 256 << 10).spawn().unwrap();
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let health = http_get(metrics_port, "/healthz").unwrap_or_default();
            if health.contains(" 503 ") && health.contains("recording failed") {
                break;
            }
            assert!(Instant::now() < deadline, "no recording alarm in /healthz: {health}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let text = http_get(metrics_port, "/metrics").unwrap_or_default();
        assert!(text.contains("perpspread_recording_failed 1"), "{text}");
    });
    let output = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "monitor watched on: {stderr}");
    assert_eq!(stderr.matches("recording failed").count(), 1, "one error, no flood: {stderr}");
    sim.shutdown().await;
}
