//! Redis output against a real `redis-server` started on a free port for each test.
//!
//! The tests need `redis-server` on PATH (Debian: `apt-get install redis-server`); without it they fail
//! with a clear message unless `PERPSPREAD_SKIP_REDIS_TESTS=1` is set.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use perpspread_sinks::fields;
use perpspread_sinks::redis::{RedisConfig, RedisPublisher, Tail, TailStart};

/// A `redis-server` child process on a free loopback port, killed on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server, or returns `None` when the tests are explicitly skipped.
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        RedisServer::start_on(port)
    }

    fn start_on(port: u16) -> Option<RedisServer> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if std::env::var("PERPSPREAD_SKIP_REDIS_TESTS").as_deref() == Ok("1") => {
                eprintln!("skipping Redis test (PERPSPREAD_SKIP_REDIS_TESTS=1): cannot run redis-server: {error}");
                return None;
            }
            Err(error) => panic!(
                "cannot run redis-server ({error}): install it (apt-get install -y redis-server) \
                 or set PERPSPREAD_SKIP_REDIS_TESTS=1 to skip the Redis tests"
            ),
        };
        let server = RedisServer { port, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// `XRANGE key - +` as `(id, fields)`.
async fn xrange(url: &str, key: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut conn = connection(url).await;
    let reply: Vec<(String, Vec<String>)> =
        redis::cmd("XRANGE").arg(key).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    reply
        .into_iter()
        .map(|(id, flat)| (id, flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect()))
        .collect()
}

#[tokio::test]
async fn publishes_events_snapshots_and_pubsub_and_tails_them_back() {
    let Some(server) = RedisServer::start() else { return };
    let url = server.url();
    let s = perpspread_sinks::testkit::scenario(30);
    let events = &s.events[..20];

    // A fire-and-forget subscriber, subscribed before anything is published.
    let mut pubsub = redis::Client::open(url.as_str()).unwrap().get_async_pubsub().await.unwrap();
    pubsub.subscribe("perpspread:opportunities").await.unwrap();

    let publisher = RedisPublisher::spawn(RedisConfig::new(&url)).unwrap();
    for event in events {
        assert!(publisher.publish_event(event));
    }
    let snapshot = &s.snapshots[0];
    assert!(publisher.publish_snapshot(snapshot));
    let total = events.len() as u64 + 1;
    wait_for("delivery", Duration::from_secs(10), || publisher.stats().published == total).await;
    let stats = publisher.stats();
    assert_eq!((stats.dropped, stats.buffered, stats.connected), (0, 0, true));

    // Stream fields are the JSON lines' keys, in order, with string values.
    let stream = xrange(&url, "perpspread:opportunities").await;
    assert_eq!(stream.len(), events.len());
    for ((_, fields), event) in stream.iter().zip(events) {
        let expected = fields::encode(event).unwrap();
        assert_eq!(fields, &expected.fields);
        let json: serde_json::Value = serde_json::from_str(&expected.json).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        let mut stream_keys: Vec<&String> = fields.iter().map(|(k, _)| k).collect();
        stream_keys.sort();
        assert_eq!(stream_keys, keys);
    }
    let first = &stream[0].1;
    let field = |name: &str| first.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("event"), Some("opened"));
    assert_eq!(field("pair"), Some("BTC/USDT"));
    assert_eq!(field("closed_ns"), Some(""));
    let spreads = xrange(&url, "perpspread:spreads:BTC/USDT").await;
    assert_eq!(spreads.len(), 1);
    assert_eq!(spreads[0].1, fields::encode(snapshot).unwrap().fields);

    // Pub/sub carries the JSON lines.
    {
        use futures::StreamExt;
        let mut messages = pubsub.on_message();
        for event in events {
            let message = tokio::time::timeout(Duration::from_secs(5), messages.next()).await.unwrap().unwrap();
            let payload: String = message.get_payload().unwrap();
            assert_eq!(payload, serde_json::to_string(event).unwrap());
        }
    }

    // `tail` from the beginning reproduces the JSON lines exactly.
    let mut tail = Tail::opportunities(&url, TailStart::Beginning).unwrap();
    tail.block = Duration::from_millis(200);
    let lines: Vec<String> = tail.next_batch().await.unwrap().into_iter().map(|e| e.json).collect();
    let expected: Vec<String> = events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
    assert_eq!(lines, expected);
    assert!(tail.next_batch().await.unwrap().is_empty(), "nothing new: BLOCK times out");

    // `tail` of new entries only, while another process (shard) publishes into the same stream.
    let mut fresh = Tail::opportunities(&url, TailStart::New).unwrap();
    fresh.block = Duration::from_millis(200);
    assert!(fresh.next_batch().await.unwrap().is_empty());
    let other_shard = RedisPublisher::spawn(RedisConfig::new(&url)).unwrap();
    other_shard.publish_event(&s.events[20]);
    publisher.publish_event(&s.events[21]);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 2 && Instant::now() < deadline {
        got.extend(fresh.next_batch().await.unwrap().into_iter().map(|e| e.json));
    }
    got.sort();
    let mut want = vec![serde_json::to_string(&s.events[20]).unwrap(), serde_json::to_string(&s.events[21]).unwrap()];
    want.sort();
    assert_eq!(got, want);

    let final_stats = publisher.shutdown().await;
    assert_eq!(final_stats.published, total + 1);
    assert_eq!(other_shard.shutdown().await.published, 1);

    // A refusal ends `run` with the server's reason instead of retrying forever.
    let tail = Tail::new(&url, vec!["perpspread:not-a-stream".into()], TailStart::Beginning).unwrap();
    let _: () = redis::cmd("SET")
        .arg("perpspread:not-a-stream")
        .arg("x")
        .query_async(&mut connection(&url).await)
        .await
        .unwrap();
    let error = tokio::time::timeout(Duration::from_secs(5), tail.run(|_| true)).await.expect("run ends").unwrap_err();
    assert!(!error.is_retryable() && !error.is_unreachable());
    assert!(error.to_string().contains("WRONGTYPE"), "{error}");
}

#[tokio::test]
async fn survives_a_redis_outage_without_blocking() {
    let Some(mut server) = RedisServer::start() else { return };
    let (url, port) = (server.url(), server.port);
    let s = perpspread_sinks::testkit::scenario(100);
    assert!(s.events.len() >= 130, "{}", s.events.len());
    let config = RedisConfig {
        buffer: 50,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
        ..RedisConfig::new(&url)
    };
    let publisher = RedisPublisher::spawn(config).unwrap();
    for event in &s.events[..10] {
        assert!(publisher.publish_event(event));
    }
    wait_for("first delivery", Duration::from_secs(10), || publisher.stats().published == 10).await;

    // Redis goes away. Publishing keeps accepting at once; beyond 50 buffered entries the oldest are dropped.
    server.kill();
    let mut slowest = Duration::ZERO;
    for event in &s.events[10..130] {
        let started = Instant::now();
        assert!(publisher.publish_event(event), "accepted without blocking");
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_millis(100), "publish_event blocked for {slowest:?}");
    wait_for("drops to be counted", Duration::from_secs(10), || publisher.stats().dropped == 70).await;
    let down = publisher.stats();
    assert_eq!((down.published, down.buffered, down.connected), (10, 50, false), "{down:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(publisher.stats().connect_failures >= 2, "keeps retrying: {:?}", publisher.stats());

    // Redis is back on the same port (empty: no persistence): the 50 buffered entries are delivered.
    let _server = RedisServer::start_on(port).expect("redis-server restarts");
    wait_for("buffered delivery", Duration::from_secs(10), || publisher.stats().published == 60).await;
    let up = publisher.stats();
    assert_eq!((up.dropped, up.buffered, up.connected), (70, 0, true), "{up:?}");
    assert!(up.reconnects >= 1);
    let stream = xrange(&url, "perpspread:opportunities").await;
    let delivered: Vec<Vec<(String, String)>> = stream.into_iter().map(|(_, fields)| fields).collect();
    let expected: Vec<Vec<(String, String)>> =
        s.events[80..130].iter().map(|e| fields::encode(e).unwrap().fields).collect();
    assert_eq!(delivered, expected, "the newest 50 entries, in order");
    let last = publisher.shutdown().await;
    assert_eq!((last.published, last.dropped), (60, 70));
}

#[tokio::test]
async fn never_blocks_when_redis_is_unreachable() {
    // Nothing listens on this port: every entry beyond the queue and buffer is dropped and counted.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = RedisConfig {
        queue: 4,
        buffer: 8,
        shutdown_timeout: Duration::from_millis(200),
        timeout: Duration::from_millis(200),
        ..RedisConfig::new(format!("redis://127.0.0.1:{port}"))
    };
    let publisher = RedisPublisher::spawn(config).unwrap();
    let s = perpspread_sinks::testkit::scenario(10);
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..100 {
        for event in &s.events {
            accepted += usize::from(publisher.publish_event(event));
        }
    }
    let sent = 100 * s.events.len() as u64;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let stats = publisher.shutdown().await;
    assert_eq!(stats.published, 0);
    assert_eq!(stats.dropped, sent, "every entry is accounted for as dropped ({accepted} were queued)");
    assert!(RedisPublisher::spawn(RedisConfig::new("nope://x")).is_err());
}
