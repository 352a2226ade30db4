//! REST servers on real sockets, read back with the adapters' own parsers.

use perpspread_core::{Side, Universe, Venue};
use perpspread_sim::{Dislocation, FaultKind, SimConfig};

/// A simulator whose market does not move during a test (one step per hour).
fn frozen() -> SimConfig {
    SimConfig { tick_ms: 3_600_000, epoch_ms: Some(1_700_000_000_000), ..SimConfig::default() }
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).unwrap()
}

#[tokio::test]
async fn okx_rest_parses_with_the_okx_adapter() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    let base = &sim.okx_rest_url;
    let (status, _, body) = get(&format!("{base}/api/v5/public/instruments?instType=SWAP")).await;
    assert_eq!(status, 200);
    let listing = perpspread_okx::symbols::parse_instruments(&body).unwrap();
    let btc = listing.instruments.iter().find(|i| i.symbol == "BTC-USDT-SWAP").unwrap();
    assert_eq!(btc.base_per_qty_unit.to_string(), "0.01");
    assert_eq!(btc.tick_size.to_string(), "0.1");
    let pepe = listing.instruments.iter().find(|i| i.symbol == "PEPE-USDT-SWAP").unwrap();
    assert_eq!(pepe.base_per_qty_unit.to_string(), "10000000");
    assert!(listing
        .instruments
        .iter()
        .any(|i| i.symbol == "BTC-USD-SWAP" && i.kind == perpspread_core::ContractKind::Inverse));

    for instrument in &listing.instruments {
        let (status, _, body) = get(&format!("{base}/api/v5/market/books?instId={}&sz=400", instrument.symbol)).await;
        assert_eq!(status, 200);
        let rest = perpspread_okx::rest::parse_book(&body, instrument, 400).unwrap();
        assert_eq!(rest.book.depth(Side::Bid), 400);
        assert_eq!(rest.exchange_ts_ms, Some(1_700_000_000_000));
        let (truth, _) = sim.book(Venue::Okx, &instrument.symbol).unwrap();
        let mut scratch = String::new();
        assert_eq!(
            perpspread_okx::checksum::book_checksum(&rest.book, &mut scratch),
            perpspread_okx::checksum::book_checksum(&truth, &mut String::new()),
            "{}: {scratch}",
            instrument.symbol
        );
    }
    let (_, _, body) = get(&format!("{base}/api/v5/market/books?instId=BTC-USDT-SWAP")).await;
    let one = perpspread_okx::rest::parse_book(&body, btc, 400).unwrap();
    assert_eq!(one.book.depth(Side::Ask), 1);
    assert!(!text(&body).contains(".0\""), "OKX trims trailing zeros: {}", text(&body));

    let (status, _, body) = get(&format!("{base}/api/v5/market/books?instId=FOO-USDT-SWAP&sz=5")).await;
    assert_eq!(status, 200);
    assert_eq!(text(&body), r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#);

    let (_, _, body) = get(&format!("{base}/api/v5/market/tickers?instType=SWAP")).await;
    let activity = perpspread_okx::rest::parse_activity(&body).unwrap();
    let btc_volume = activity["BTC-USDT-SWAP"].quote_volume_24h;
    assert!((btc_volume / 8e9 - 1.0).abs() < 0.05, "{btc_volume}");

    let (_, _, body) = get(&format!("{base}/api/v5/public/funding-rate?instId=ETH-USDT-SWAP")).await;
    let funding = perpspread_okx::rest::parse_funding(&body).unwrap();
    assert_eq!(funding.interval_hours, Some(8));
    assert_eq!(funding.next_rate, None);
    assert!(text(&body).contains(r#""nextFundingRate":"""#));

    let (_, _, body) = get(&format!("{base}/api/v5/public/mark-price?instType=SWAP")).await;
    let marks: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(marks["data"].as_array().unwrap().len(), listing.instruments.len());
    let (status, _, body) = get(&format!("{base}/api/v5/public/instruments")).await;
    assert_eq!((status, text(&body).contains("50014")), (400, true));
    sim.shutdown().await;
}

#[tokio::test]
async fn binance_rest_parses_with_the_binance_adapter() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    let base = &sim.binance_rest_url;
    let (status, headers, body) = get(&format!("{base}/fapi/v1/exchangeInfo")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-mbx-used-weight-1m"], "1");
    let listing = perpspread_binance::symbols::parse_exchange_info(&body).unwrap();
    let skipped: Vec<&str> = listing.skipped.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(skipped, ["BTCUSDT_260626", "MATICUSDT"]);
    let pepe = listing.instruments.iter().find(|i| i.symbol == "1000PEPEUSDT").unwrap();
    assert_eq!(pepe.key.base, "PEPE");
    assert_eq!(pepe.base_per_price_unit.to_string(), "1000");

    for instrument in &listing.instruments {
        let (status, _, body) = get(&format!("{base}/fapi/v1/depth?symbol={}&limit=1000", instrument.symbol)).await;
        assert_eq!(status, 200);
        let rest = perpspread_binance::rest::parse_depth(&body, instrument, 1000).unwrap();
        let (truth, seq) = sim.book(Venue::Binance, &instrument.symbol).unwrap();
        assert_eq!(rest.sequence, Some(seq));
        assert_eq!(rest.book.depth(Side::Bid), 1000);
        assert_eq!(rest.book.best_bid(), truth.best_bid());
        assert_eq!(rest.book.best_ask(), truth.best_ask());
    }
    let (_, headers, body) = get(&format!("{base}/fapi/v1/depth?symbol=SOLUSDT&limit=5")).await;
    let depth: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let price = depth["bids"][0][0].as_str().unwrap();
    assert_eq!(price.split('.').nth(1).map(str::len), Some(4), "pricePrecision padding: {price}");
    assert!(depth["E"].is_u64() && depth["T"].is_u64());
    let used: u32 = headers["x-mbx-used-weight-1m"].to_str().unwrap().parse().unwrap();
    assert!(used > 20 * listing.instruments.len() as u32);

    let (status, _, body) = get(&format!("{base}/fapi/v1/depth?symbol=NOPEUSDT&limit=5")).await;
    assert_eq!((status, text(&body)), (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#));
    let (status, _, _) = get(&format!("{base}/fapi/v1/depth?symbol=BTCUSDT&limit=7")).await;
    assert_eq!(status, 400);

    let (_, _, body) = get(&format!("{base}/fapi/v1/ticker/24hr")).await;
    let activity = perpspread_binance::rest::parse_activity(&body).unwrap();
    assert!((activity["BTCUSDT"].quote_volume_24h / 8e9 - 1.0).abs() < 1e-6);
    let (_, _, body) = get(&format!("{base}/fapi/v1/ticker/24hr?symbol=ETHUSDT")).await;
    assert!(perpspread_binance::rest::parse_activity(&body).unwrap().contains_key("ETHUSDT"));
    let (_, _, body) = get(&format!("{base}/fapi/v1/premiumIndex")).await;
    let funding = perpspread_binance::rest::parse_premium_index(&body).unwrap();
    assert!(funding["1000SHIBUSDT"].next_funding_ms.unwrap() > 1_700_000_000_000);
    let (_, _, body) = get(&format!("{base}/fapi/v1/ticker/bookTicker?symbol=BTCUSDT")).await;
    let ticker: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(ticker["bidPrice"].is_string() && ticker["time"].is_u64());
    let (_, _, body) = get(&format!("{base}/fapi/v1/ticker/bookTicker")).await;
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap().is_array());
    sim.shutdown().await;
}

#[tokio::test]
async fn both_listings_pair_into_the_expected_universe() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    let (_, _, okx) = get(&format!("{}/api/v5/public/instruments?instType=SWAP", sim.okx_rest_url)).await;
    let (_, _, binance) = get(&format!("{}/fapi/v1/exchangeInfo", sim.binance_rest_url)).await;
    let okx = perpspread_okx::symbols::parse_instruments(&okx).unwrap();
    let binance = perpspread_binance::symbols::parse_exchange_info(&binance).unwrap();
    let instruments = okx.instruments.into_iter().chain(binance.instruments).collect();
    let universe = Universe::build(instruments, okx.skipped.into_iter().chain(binance.skipped).collect());
    let keys: Vec<String> = universe.pairs.iter().map(|p| p.key.to_string()).collect();
    assert_eq!(keys.len(), 9, "{keys:?}");
    assert!(keys.contains(&"PEPE/USDT".to_owned()) && keys.contains(&"BTC/USDC".to_owned()));
    assert_eq!(universe.unpaired.len(), 3, "{:?}", universe.unpaired);
    sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_books_over_rest() {
    let a = perpspread_sim::start(frozen()).await.unwrap();
    let b = perpspread_sim::start(frozen()).await.unwrap();
    let c = perpspread_sim::start(SimConfig { seed: 7, ..frozen() }).await.unwrap();
    let path = "/fapi/v1/depth?symbol=1000PEPEUSDT&limit=100";
    let bodies = [&a, &b, &c].map(|s| format!("{}{path}", s.binance_rest_url));
    let (_, _, x) = get(&bodies[0]).await;
    let (_, _, y) = get(&bodies[1]).await;
    let (_, _, z) = get(&bodies[2]).await;
    assert_eq!(x, y);
    assert_ne!(x, z);
}

#[tokio::test]
async fn dislocation_is_executable_over_rest_and_logged() {
    let dir = std::env::temp_dir().join(format!("perpspread-sim-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("truth.jsonl");
    let _ = std::fs::remove_file(&log);
    let config = SimConfig {
        tick_ms: 20,
        dislocations: vec![Dislocation {
            base: "BTC".into(),
            quote: "USDT".into(),
            buy_venue: Venue::Okx,
            sell_on: None,
            size_bp: 8.0,
            start_ms: 100,
            duration_ms: 60_000,
        }],
        ground_truth_log: Some(log.clone()),
        ..SimConfig::default()
    };
    let sim = perpspread_sim::start(config).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, _, okx_listing) = get(&format!("{}/api/v5/public/instruments?instType=SWAP", sim.okx_rest_url)).await;
    let (_, _, bn_listing) = get(&format!("{}/fapi/v1/exchangeInfo", sim.binance_rest_url)).await;
    let okx_btc = perpspread_okx::symbols::parse_instruments(&okx_listing)
        .unwrap()
        .instruments
        .into_iter()
        .find(|i| i.symbol == "BTC-USDT-SWAP")
        .unwrap();
    let bn_btc = perpspread_binance::symbols::parse_exchange_info(&bn_listing)
        .unwrap()
        .instruments
        .into_iter()
        .find(|i| i.symbol == "BTCUSDT")
        .unwrap();
    // Both books from one frozen instant of the true market.
    let (okx_book, bn_book) = sim.with_market(|m| {
        (
            m.book(Venue::Okx, "BTC-USDT-SWAP").unwrap().book.clone(),
            m.book(Venue::Binance, "BTCUSDT").unwrap().book.clone(),
        )
    });
    let px = |book: &perpspread_core::OrderBook, level: perpspread_core::Level| book.price_of(&level).to_f64();
    let ask = px(&okx_book, okx_book.best_ask().unwrap());
    let bid = px(&bn_book, bn_book.best_bid().unwrap());
    let gross_bp = (bid / ask - 1.0) * 1e4;
    assert!((8.0..8.0 + 0.1 / ask * 1e4 + 1e-9).contains(&gross_bp), "{gross_bp}");
    // Meaningful size on the top levels: at least the configured level notional (150k USDT) each.
    let okx_qty = okx_book.qty_of(&okx_book.best_ask().unwrap()).to_f64() * 0.01 * ask;
    let bn_qty = bn_book.qty_of(&bn_book.best_bid().unwrap()).to_f64() * bid;
    assert!(okx_qty >= 149_000.0 && bn_qty >= 149_000.0, "{okx_qty} {bn_qty}");
    // The REST view agrees.
    let (_, _, body) = get(&format!("{}/api/v5/market/books?instId=BTC-USDT-SWAP&sz=5", sim.okx_rest_url)).await;
    let rest_okx = perpspread_okx::rest::parse_book(&body, &okx_btc, 5).unwrap().book;
    let (_, _, body) = get(&format!("{}/fapi/v1/depth?symbol=BTCUSDT&limit=5", sim.binance_rest_url)).await;
    let rest_bn = perpspread_binance::rest::parse_depth(&body, &bn_btc, 5).unwrap().book;
    let rest_gross =
        (px(&rest_bn, rest_bn.best_bid().unwrap()) / px(&rest_okx, rest_okx.best_ask().unwrap()) - 1.0) * 1e4;
    assert!(rest_gross > 7.0, "{rest_gross}");
    sim.shutdown().await;
    let truth = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(truth.lines().next().unwrap()).unwrap();
    assert_eq!(line["pair"], "BTC/USDT");
    assert_eq!(line["buy_venue"], "okx");
    assert_eq!(line["sell_venue"], "binance");
    assert_eq!(line["size_bp"], 8.0);
    assert_eq!(line["end_ns"].as_u64().unwrap() - line["start_ns"].as_u64().unwrap(), 60_000_000_000);
}

#[tokio::test]
async fn weight_limit_gives_429_then_418() {
    let config = SimConfig { binance_weight_limit_per_min: 30, binance_violations_before_ban: 2, ..frozen() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let url = format!("{}/fapi/v1/depth?symbol=BTCUSDT&limit=1000", sim.binance_rest_url);
    let (status, headers, _) = get(&url).await;
    assert_eq!((status, headers["x-mbx-used-weight-1m"].to_str().unwrap()), (200, "20"));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, headers, body) = get(&url).await;
        assert!(status == 200 || headers.contains_key("retry-after"), "{status}");
        if status != 200 {
            assert!(text(&body).starts_with(r#"{"code":-1003,"msg":""#), "{}", text(&body));
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [429, 429, 418, 418]);
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_faults_via_handle_and_http() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    sim.inject(FaultKind::RestStatus { venue: Venue::Okx, status: 503, count: 1 });
    let url = format!("{}/api/v5/public/instruments?instType=SWAP", sim.okx_rest_url);
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 503);
    assert_eq!(perpspread_okx::rest::classify(status, &body), perpspread_net::rest::Verdict::Transient);
    assert_eq!(get(&url).await.0, 200);

    let client = reqwest::Client::new();
    let fault = r#"{"kind":"slow_rest","venue":"binance","delay_ms":300}"#;
    let response = client.post(format!("{}/_sim/fault", sim.binance_rest_url)).body(fault).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let started = std::time::Instant::now();
    assert_eq!(get(&format!("{}/fapi/v1/time", sim.binance_rest_url)).await.0, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let bad = client.post(format!("{}/_sim/fault", sim.okx_rest_url)).body("{}").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    sim.shutdown().await;
}

/// A funding interval changed mid-run (POST /_sim/fault): `fundingInfo` lists the symbol with its new interval,
/// `premiumIndex` and the funding history follow the new schedule, and OKX's funding-rate shows it in
/// `nextFundingTime − fundingTime`.
#[tokio::test]
async fn funding_intervals_change_mid_run() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    let (binance, okx) = (&sim.binance_rest_url, &sim.okx_rest_url);
    let (_, _, body) = get(&format!("{binance}/fapi/v1/fundingInfo")).await;
    assert!(!perpspread_binance::rest::parse_funding_info(&body).unwrap().contains_key("ETHUSDT"), "8 h: unlisted");
    let client = reqwest::Client::new();
    for (url, fault) in [
        (binance, r#"{"kind":"funding_interval","venue":"binance","symbol":"ETHUSDT","hours":4}"#),
        (okx, r#"{"kind":"funding_interval","venue":"okx","symbol":"ETH-USDT-SWAP","hours":2}"#),
    ] {
        let response = client.post(format!("{url}/_sim/fault")).body(fault).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let (_, _, body) = get(&format!("{binance}/fapi/v1/fundingInfo")).await;
    let info = perpspread_binance::rest::parse_funding_info(&body).unwrap();
    assert_eq!(info["ETHUSDT"].interval_hours, Some(4));
    let (_, _, body) = get(&format!("{binance}/fapi/v1/premiumIndex?symbol=ETHUSDT")).await;
    let next = perpspread_binance::rest::parse_premium_index(&body).unwrap()["ETHUSDT"].next_funding_ms.unwrap();
    assert_eq!(next % (4 * 3_600_000), 0);
    let (_, _, body) = get(&format!("{binance}/fapi/v1/fundingRate?symbol=ETHUSDT&limit=3")).await;
    let history = perpspread_binance::rest::parse_funding_history(&body).unwrap();
    let times: Vec<u64> = history.iter().map(|(_, t)| *t).collect();
    assert_eq!(times, [next - 12 * 3_600_000, next - 8 * 3_600_000, next - 4 * 3_600_000]);
    let (_, _, body) = get(&format!("{okx}/api/v5/public/funding-rate?instId=ETH-USDT-SWAP")).await;
    assert_eq!(perpspread_okx::rest::parse_funding(&body).unwrap().interval_hours, Some(2));
    let (status, _, _) = get(&format!("{binance}/fapi/v1/fundingRate?symbol=NOPEUSDT")).await;
    assert_eq!(status, 400);
    assert!(sim.set_funding_hours(Venue::Okx, "ETH-USDT-SWAP", 3).is_err(), "3 h is no venue's interval");
    sim.shutdown().await;
}

/// Beyond 600 requests in 5 s Bybit answers HTTP 403 and keeps refusing every request for the whole ban (10
/// minutes on the venue, `bybit_ip_ban_ms` here), then serves again.
#[tokio::test]
async fn bybit_ip_limit_bans_for_a_while() {
    let config = SimConfig { bybit_ip_ban_ms: 5_100, ..frozen() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let url = format!("{}/v5/market/tickers?category=linear", sim.bybit_rest_url);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..601 {
        statuses.push(client.get(&url).send().await.unwrap().status().as_u16());
    }
    assert!(statuses[..600].iter().all(|s| *s == 200), "{:?}", &statuses[590..]);
    assert_eq!(statuses[600], 403);
    assert_eq!(get(&url).await.0, 403, "banned, whatever the request rate");
    // Past the ban (and so past the 5 s window the burst filled).
    tokio::time::sleep(std::time::Duration::from_millis(5_300)).await;
    assert_eq!(get(&url).await.0, 200, "served again once the ban is over");
    assert!(sim.limit_violations().iter().any(|v| v.contains("REST requests")));
}

/// Binance's funding endpoints weigh nothing but share 500 requests per 5 minutes per IP: the 501st is refused.
#[tokio::test]
async fn binance_funding_endpoints_share_their_own_limit() {
    let sim = perpspread_sim::start(frozen()).await.unwrap();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..501 {
        let path = if i % 2 == 0 { "/fapi/v1/fundingInfo" } else { "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1" };
        let response = client.get(format!("{}{path}", sim.binance_rest_url)).send().await.unwrap();
        statuses.push((response.status().as_u16(), response.headers().get("x-mbx-used-weight-1m").cloned()));
    }
    assert!(statuses[..500].iter().all(|(s, _)| *s == 200), "{:?}", &statuses[495..]);
    assert_eq!(statuses[500].0, 429);
    assert_eq!(statuses[499].1.as_ref().and_then(|v| v.to_str().ok()), Some("0"), "no request weight");
}
