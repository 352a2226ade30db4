//! WebSocket servers on real sockets: subscriptions, sequencing, checksums and faults.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use perpspread_core::{Dec64, OrderBook, Side, Venue};
use perpspread_sim::{FaultKind, SimConfig};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn fast() -> SimConfig {
    // Real checksums, so the books served can be checked against them.
    SimConfig { tick_ms: 20, okx_checksum: true, ..SimConfig::default() }
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// The next text frame (pings are answered by the library).
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.ok()?? {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    let text = next_text(ws).await.expect("frame");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn apply(book: &mut OrderBook, side: Side, levels: &Value) {
    for level in levels.as_array().unwrap() {
        let px = Dec64::parse(level[0].as_str().unwrap()).unwrap();
        let sz = Dec64::parse(level[1].as_str().unwrap()).unwrap();
        book.set(side, px, sz).unwrap();
    }
}

#[tokio::test]
async fn okx_books_chain_and_checksums_match() {
    let sim = perpspread_sim::start(fast()).await.unwrap();
    let mut ws = connect(&sim.okx_ws_url).await;
    let sub = r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"},{"channel":"books","instId":"FOO-USDT-SWAP"}]}"#;
    ws.send(Message::Text(sub.into())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["event"], "subscribe");
    assert_eq!(ack["arg"]["instId"], "BTC-USDT-SWAP");
    assert!(ack["connId"].is_string());
    let snapshot = next_json(&mut ws).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["code"], "60018");
    assert_eq!(error["msg"], "Wrong URL or channel:books,instId:FOO-USDT-SWAP doesn't exist");
    assert_eq!(snapshot["action"], "snapshot");
    let data = &snapshot["data"][0];
    assert_eq!(data["prevSeqId"], -1);
    assert_eq!(data["asks"].as_array().unwrap().len(), 400);
    let mut book = OrderBook::new(1, 2, 400);
    apply(&mut book, Side::Bid, &data["bids"]);
    apply(&mut book, Side::Ask, &data["asks"]);
    let mut scratch = String::new();
    assert_eq!(
        i64::from(perpspread_okx::checksum::book_checksum(&book, &mut scratch)),
        data["checksum"].as_i64().unwrap()
    );
    let mut seq = data["seqId"].as_i64().unwrap();
    for _ in 0..20 {
        let update = next_json(&mut ws).await;
        let data = &update["data"][0];
        assert_eq!(update["action"], "update");
        assert_eq!(data["prevSeqId"].as_i64().unwrap(), seq);
        apply(&mut book, Side::Bid, &data["bids"]);
        apply(&mut book, Side::Ask, &data["asks"]);
        assert_eq!(
            i64::from(perpspread_okx::checksum::book_checksum(&book, &mut scratch)),
            data["checksum"].as_i64().unwrap()
        );
        seq = data["seqId"].as_i64().unwrap();
    }
    ws.send(Message::Text("ping".into())).await.unwrap();
    let mut saw_pong = false;
    for _ in 0..10 {
        let text = next_text(&mut ws).await.unwrap();
        if text == "pong" {
            saw_pong = true;
            break;
        }
        let update: Value = serde_json::from_str(&text).unwrap();
        apply(&mut book, Side::Bid, &update["data"][0]["bids"]);
        apply(&mut book, Side::Ask, &update["data"][0]["asks"]);
        seq = update["data"][0]["seqId"].as_i64().unwrap();
    }
    assert!(saw_pong);

    // A wrong checksum is detectable; a sequence gap breaks the chain exactly once.
    sim.inject(FaultKind::WrongChecksum { symbol: "BTC-USDT-SWAP".into() });
    let (mut breaks, mut bad_checksums, mut synced) = (0, 0, true);
    for i in 0..20 {
        if i == 10 {
            sim.inject(FaultKind::SequenceGap { venue: Venue::Okx, symbol: "BTC-USDT-SWAP".into() });
        }
        let frame = next_json(&mut ws).await;
        let data = &frame["data"][0];
        if data["prevSeqId"].as_i64() != Some(seq) {
            breaks += 1;
            synced = false;
        }
        seq = data["seqId"].as_i64().unwrap();
        if synced {
            apply(&mut book, Side::Bid, &data["bids"]);
            apply(&mut book, Side::Ask, &data["asks"]);
            let expected = perpspread_okx::checksum::book_checksum(&book, &mut scratch);
            bad_checksums += usize::from(i64::from(expected) != data["checksum"].as_i64().unwrap());
        }
    }
    assert_eq!(breaks, 1);
    assert_eq!(bad_checksums, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn okx_other_channels_and_faults() {
    let sim = perpspread_sim::start(SimConfig { okx_checksum: false, funding_push_interval_ms: 200, ..fast() })
        .await
        .unwrap();
    let mut ws = connect(&sim.okx_ws_url).await;
    let channels = ["books5", "bbo-tbt", "tickers", "funding-rate"];
    for channel in channels {
        let sub = format!(r#"{{"op":"subscribe","args":[{{"channel":"{channel}","instId":"PEPE-USDT-SWAP"}}]}}"#);
        ws.send(Message::Text(sub.into())).await.unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let frame = next_json(&mut ws).await;
        if frame["data"].is_array() {
            seen.insert(frame["arg"]["channel"].as_str().unwrap().to_owned());
            if frame["arg"]["channel"] == "funding-rate" {
                assert_eq!(frame["data"][0]["instId"], "PEPE-USDT-SWAP");
                assert!(frame["data"][0]["fundingRate"].is_string());
            }
        }
        if seen.len() == channels.len() {
            break;
        }
    }
    assert_eq!(seen.len(), channels.len(), "{seen:?}");
    // Refused subscription, unknown message, then a drop with a close frame.
    sim.inject(FaultKind::RefuseSubscription { venue: Venue::Okx, count: 1 });
    sim.inject(FaultKind::UnknownMessage { venue: Venue::Okx });
    ws.send(Message::Text(r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"}]}"#.into()))
        .await
        .unwrap();
    let (mut refused, mut mystery) = (false, false);
    for _ in 0..200 {
        let frame = next_json(&mut ws).await;
        refused |= frame["event"] == "error" && frame["code"] == "60014";
        mystery |= frame["event"] == "mystery";
        if refused && mystery {
            break;
        }
    }
    assert!(refused && mystery);
    sim.inject(FaultKind::DropConnection { venue: Venue::Okx, close_frame: true });
    let mut closed = false;
    for _ in 0..500 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap() {
            Some(Ok(Message::Close(_))) | None => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed);
    sim.shutdown().await;
}

#[tokio::test]
async fn okx_idle_connections_are_closed() {
    let sim = perpspread_sim::start(SimConfig { okx_idle_timeout_ms: 300, ..fast() }).await.unwrap();
    let mut ws = connect(&sim.okx_ws_url).await;
    let started = std::time::Instant::now();
    assert!(next_text(&mut ws).await.is_none());
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn binance_diff_depth_bridges_the_rest_snapshot() {
    let sim = perpspread_sim::start(fast()).await.unwrap();
    let url = format!("{}/public/stream?streams=1000pepeusdt@depth@100ms/1000pepeusdt@bookTicker", sim.binance_ws_url);
    let mut ws = connect(&url).await;
    let mut buffered = Vec::new();
    while buffered.len() < 3 {
        let frame = next_json(&mut ws).await;
        if frame["stream"] == "1000pepeusdt@depth@100ms" {
            buffered.push(frame["data"].clone());
        } else {
            assert_eq!(frame["stream"], "1000pepeusdt@bookTicker");
            assert_eq!(frame["data"]["e"], "bookTicker");
        }
    }
    let body = reqwest::get(format!("{}/fapi/v1/depth?symbol=1000PEPEUSDT&limit=1000", sim.binance_rest_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let snapshot: Value = serde_json::from_str(&body).unwrap();
    let last_update_id = snapshot["lastUpdateId"].as_u64().unwrap();
    let mut book = OrderBook::new(7, 0, 1000);
    apply(&mut book, Side::Bid, &snapshot["bids"]);
    apply(&mut book, Side::Ask, &snapshot["asks"]);
    let mut prev_u: Option<u64> = None;
    let mut applied = 0;
    let mut check = |event: &Value, book: &mut OrderBook, prev_u: &mut Option<u64>| {
        assert_eq!(event["e"], "depthUpdate");
        let (first, last, pu) =
            (event["U"].as_u64().unwrap(), event["u"].as_u64().unwrap(), event["pu"].as_u64().unwrap());
        if last < last_update_id {
            return;
        }
        match *prev_u {
            None => {
                assert!(first <= last_update_id && last >= last_update_id, "bridge {first} {last} {last_update_id}")
            }
            Some(prev) => assert_eq!(pu, prev),
        }
        apply(book, Side::Bid, &event["b"]);
        apply(book, Side::Ask, &event["a"]);
        *prev_u = Some(last);
        applied += 1;
    };
    for event in &buffered {
        check(event, &mut book, &mut prev_u);
    }
    let (truth, truth_seq) = sim.book(Venue::Binance, "1000PEPEUSDT").unwrap();
    while prev_u.is_none_or(|u| u < truth_seq) {
        let frame = next_json(&mut ws).await;
        if frame["stream"] == "1000pepeusdt@depth@100ms" {
            check(&frame["data"], &mut book, &mut prev_u);
        }
    }
    assert!(applied > 0);
    assert_eq!(prev_u, Some(truth_seq));
    let levels = |b: &OrderBook, side| {
        b.levels(side).map(|l| (b.price_of(l).to_string(), b.qty_of(l).to_string())).collect::<Vec<_>>()
    };
    assert_eq!(levels(&book, Side::Bid), levels(&truth, Side::Bid));
    assert_eq!(levels(&book, Side::Ask), levels(&truth, Side::Ask));
    sim.shutdown().await;
}

#[tokio::test]
async fn binance_runtime_subscriptions_partial_depth_and_faults() {
    let sim = perpspread_sim::start(fast()).await.unwrap();
    // Book data on /public; funding (mark price) subscribed there too is acknowledged and never delivered.
    let mut ws = connect(&format!("{}/public/ws", sim.binance_ws_url)).await;
    let sub = r#"{"method":"SUBSCRIBE","params":["btcusdt@depth5@100ms","ethusdt@markPrice@1s"],"id":1}"#;
    ws.send(Message::Text(sub.into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await, serde_json::json!({ "result": null, "id": 1 }));
    ws.send(Message::Text(r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#.into())).await.unwrap();
    let (mut listed, mut partial) = (0, 0);
    for _ in 0..60 {
        let frame = next_json(&mut ws).await;
        if frame["id"] == 2 {
            assert_eq!(frame["result"], serde_json::json!(["btcusdt@depth5@100ms", "ethusdt@markPrice@1s"]));
            listed += 1;
        } else if frame["e"] == "depthUpdate" {
            assert_eq!(frame["b"].as_array().unwrap().len(), 5);
            assert!(frame["pu"].is_u64());
            partial += 1;
        } else {
            panic!("a /market stream was delivered on /public: {frame}");
        }
    }
    assert_eq!(listed, 1);
    assert!(partial > 50);
    // On /market the mark price arrives, and book data subscribed there never does.
    let mut market = connect(&format!("{}/market/ws", sim.binance_ws_url)).await;
    let sub = r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","ethusdt@markPrice@1s"],"id":7}"#;
    market.send(Message::Text(sub.into())).await.unwrap();
    assert_eq!(next_json(&mut market).await, serde_json::json!({ "result": null, "id": 7 }));
    for _ in 0..3 {
        let frame = next_json(&mut market).await;
        assert_eq!(frame["e"], "markPriceUpdate", "{frame}");
        assert_eq!(frame["s"], "ETHUSDT");
    }
    ws.send(Message::Text(r#"{"method":"NOPE","id":3}"#.into())).await.unwrap();
    ws.send(Message::Text("not json".into())).await.unwrap();
    let mut errors = 0;
    for _ in 0..100 {
        let frame = next_json(&mut ws).await;
        errors += usize::from(frame["error"]["code"].is_i64());
        if errors == 2 {
            break;
        }
    }
    assert_eq!(errors, 2);

    // A burst splits diff events into many small ones that still chain.
    let mut ws = connect(&format!("{}/public/ws/btcusdt@depth@100ms", sim.binance_ws_url)).await;
    let _ = next_json(&mut ws).await;
    sim.inject(FaultKind::Burst { venue: Venue::Binance, symbol: "BTCUSDT".into(), messages: 30 });
    let mut prev: Option<u64> = None;
    let mut tiny = 0;
    for _ in 0..60 {
        let event = next_json(&mut ws).await;
        if let Some(prev) = prev {
            assert_eq!(event["pu"].as_u64(), Some(prev));
        }
        prev = event["u"].as_u64();
        // A 100 ms push spans about five model steps; a burst piece spans one update id.
        tiny += usize::from(event["U"] == event["u"]);
    }
    assert!(tiny >= 15, "{tiny}");
    sim.inject(FaultKind::Malformed { venue: Venue::Binance, truncate: true });
    let mut malformed = false;
    for _ in 0..50 {
        let text = next_text(&mut ws).await.unwrap();
        if serde_json::from_str::<Value>(&text).is_err() {
            malformed = true;
            break;
        }
    }
    assert!(malformed);
    sim.shutdown().await;
}

#[tokio::test]
async fn binance_pings_and_lifetime_limit() {
    let config = SimConfig { binance_ping_interval_ms: 100, binance_max_lifetime_ms: 600, ..fast() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let mut ws = connect(&format!("{}/public/ws/btcusdt@bookTicker", sim.binance_ws_url)).await;
    let started = std::time::Instant::now();
    let mut pings = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            _ => {}
        }
    }
    assert!(pings >= 3, "{pings}");
    assert!(started.elapsed() >= Duration::from_millis(550));
    sim.shutdown().await;
}

/// The simulator answers like the venues when their documented limits are broken, and records every breach.
#[tokio::test]
async fn venue_limits_are_enforced_and_recorded() {
    let config = SimConfig { okx_requests_per_hour: 3, binance_max_streams_per_connection: 3, ..fast() };
    let sim = perpspread_sim::start(config).await.unwrap();
    // OKX: a fourth connection within a second is refused with HTTP 429.
    let mut okx = Vec::new();
    for _ in 0..3 {
        okx.push(connect(&sim.okx_ws_url).await);
    }
    let refused = tokio_tungstenite::connect_async(sim.okx_ws_url.as_str()).await.unwrap_err().to_string();
    assert!(refused.contains("429"), "{refused}");
    // OKX: the fourth subscribe/unsubscribe request of the hour is refused (code 50011).
    let ws = &mut okx[0];
    for i in 0..4 {
        let op = if i % 2 == 0 { "subscribe" } else { "unsubscribe" };
        let request = format!(r#"{{"op":"{op}","args":[{{"channel":"tickers","instId":"BTC-USDT-SWAP"}}]}}"#);
        ws.send(Message::Text(request.into())).await.unwrap();
    }
    let mut refusals = 0;
    for _ in 0..20 {
        let frame = next_json(ws).await;
        refusals += usize::from(frame["code"] == "50011");
        if refusals == 1 {
            break;
        }
    }
    assert_eq!(refusals, 1);
    // Binance: more streams than allowed on a connection are refused; an 11th message in a second closes it.
    let mut binance = connect(&format!("{}/public/ws", sim.binance_ws_url)).await;
    let sub =
        r#"{"method":"SUBSCRIBE","params":["btcusdt@depth","ethusdt@depth","solusdt@depth","xrpusdt@depth"],"id":1}"#;
    binance.send(Message::Text(sub.into())).await.unwrap();
    let answer = next_json(&mut binance).await;
    assert_eq!(answer["error"]["code"], 2, "{answer}");
    for id in 0..11 {
        let list = format!(r#"{{"method":"LIST_SUBSCRIPTIONS","id":{}}}"#, id + 10);
        if binance.send(Message::Text(list.into())).await.is_err() {
            break;
        }
    }
    let mut closed = false;
    for _ in 0..50 {
        match tokio::time::timeout(Duration::from_secs(2), binance.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                closed = frame.is_some_and(|f| u16::from(f.code) == 1008);
                break;
            }
            Ok(None) | Ok(Some(Err(_))) | Err(_) => break,
            Ok(Some(Ok(_))) => {}
        }
    }
    assert!(closed, "an 11th message in a second closes the connection (1008)");
    let violations = sim.limit_violations();
    for expected in
        ["connection attempts", "subscribe requests an hour", "streams on one connection", "messages a second"]
    {
        assert!(violations.iter().any(|v| v.contains(expected)), "{expected} not in {violations:?}");
    }
    sim.shutdown().await;
}

/// OKX recommends fewer than 30 channels of 400 book levels per connection: the simulator records more.
#[tokio::test]
async fn thirty_okx_books_on_one_connection_are_recorded() {
    use perpspread_sim::{BinanceSpec, OkxSpec, SimPair};
    let pairs = (0..30)
        .map(|i| {
            let base = format!("SYN{i}");
            SimPair::new(&base, "USDT", 10.0 + f64::from(i), 20_000.0, 1e8)
                .with_okx(OkxSpec::linear(&format!("{base}-USDT-SWAP"), "1", "0.001", "1"))
                .with_binance(BinanceSpec::perpetual(&format!("{base}USDT"), "0.001", "1", 3, 0))
        })
        .collect();
    let sim = perpspread_sim::start(SimConfig { pairs, ..fast() }).await.unwrap();
    let mut ws = connect(&sim.okx_ws_url).await;
    let args = |range: std::ops::Range<i32>| {
        range.map(|i| format!(r#"{{"channel":"books","instId":"SYN{i}-USDT-SWAP"}}"#)).collect::<Vec<_>>().join(",")
    };
    ws.send(Message::Text(format!(r#"{{"op":"subscribe","args":[{}]}}"#, args(0..29)).into())).await.unwrap();
    while next_json(&mut ws).await["arg"]["instId"] != "SYN28-USDT-SWAP" {}
    assert!(sim.limit_violations().is_empty(), "29 books are within the recommendation");
    ws.send(Message::Text(format!(r#"{{"op":"subscribe","args":[{}]}}"#, args(29..30)).into())).await.unwrap();
    while next_json(&mut ws).await["arg"]["instId"] != "SYN29-USDT-SWAP" {}
    let violations = sim.limit_violations();
    assert!(violations.iter().any(|v| v.contains("30 400-level book channels")), "{violations:?}");
    sim.shutdown().await;
}

/// Bybit answers a topic the connection already has with `error:already subscribed` and sends no second
/// snapshot; a topic it does not serve with `error:handler not found`.
#[tokio::test]
async fn bybit_refuses_a_second_subscription_and_unknown_topics() {
    let sim = perpspread_sim::start(fast()).await.unwrap();
    let mut ws = connect(&sim.bybit_ws_url).await;
    let subscribe = |topic: &str| Message::Text(format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#).into());
    ws.send(subscribe("orderbook.50.BTCUSDT")).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!((ack["op"].as_str(), ack["success"].as_bool()), (Some("subscribe"), Some(true)), "{ack}");
    let snapshot = next_json(&mut ws).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    ws.send(subscribe("orderbook.50.BTCUSDT")).await.unwrap();
    // Deltas may come first; the refusal is the next op reply, and no other snapshot follows it.
    let refusal = loop {
        let frame = next_json(&mut ws).await;
        assert_ne!(frame["type"], "snapshot", "no second snapshot: {frame}");
        if frame["op"] == "subscribe" {
            break frame;
        }
    };
    assert_eq!(refusal["success"], false);
    assert_eq!(refusal["ret_msg"], "error:already subscribed,topic:orderbook.50.BTCUSDT");
    ws.send(subscribe("orderbook.50.FOOUSDT")).await.unwrap();
    let unknown = loop {
        let frame = next_json(&mut ws).await;
        if frame["op"] == "subscribe" {
            break frame;
        }
    };
    assert_eq!(unknown["ret_msg"], "error:handler not found,topic:orderbook.50.FOOUSDT");
}
