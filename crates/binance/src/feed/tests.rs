//! Tests of `feed`.

use super::*;
use perpspread_core::feed::RecvTime;

fn frame<'a>(source: Source<'a>, data: &'a str) -> Frame<'a> {
    Frame { source, data, recv: RecvTime::default() }
}

fn diff(first: u64, last: u64, prev: u64, bids: &str, asks: &str) -> String {
    format!(
        r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":{bids},"a":{asks}}}}}"#
    )
}

fn snapshot(last_update_id: u64) -> String {
    format!(
        r#"{{"lastUpdateId":{last_update_id},"E":1,"T":1,"bids":[["100.0","1"],["99.0","2"]],"asks":[["101.0","1"],["102.0","2"]]}}"#
    )
}

const URL: &str = "/fapi/v1/depth?symbol=BTCUSDT&limit=1000";

#[test]
fn buffers_bridges_and_chains() {
    let mut feed = BinanceFeed::default();
    let mut events = Vec::new();
    // Events before the snapshot: one too old, one straddling lastUpdateId = 105.
    feed.on_frame(frame(Source::Ws, &diff(90, 100, 89, r#"[["100.0","9"]]"#, "[]")), &mut events).unwrap();
    feed.on_frame(frame(Source::Ws, &diff(101, 110, 100, r#"[["100.0","5"]]"#, "[]")), &mut events).unwrap();
    let buffered = FeedEvent::BookBuffered { slot: 0 };
    assert_eq!(events, vec![buffered, FeedEvent::SnapshotNeeded { slot: 0 }, buffered]);
    assert_eq!(feed.book(0).unwrap().state, BookState::Syncing);
    events.clear();
    feed.on_frame(frame(Source::Rest { url: URL }, &snapshot(105)), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::BookUpdated { slot: 0 }]);
    let tracked = feed.book(0).unwrap();
    assert_eq!(tracked.state, BookState::Live);
    assert_eq!(tracked.book.best_bid().unwrap().qty, 5);
    events.clear();
    feed.on_frame(frame(Source::Ws, &diff(111, 115, 110, "[]", r#"[["101.0","0"]]"#)), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::BookUpdated { slot: 0 }]);
    // Gap: pu 120 but last u was 115.
    events.clear();
    feed.on_frame(frame(Source::Ws, &diff(121, 125, 120, "[]", "[]")), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::SequenceGap }]);
    assert_eq!(feed.book(0).unwrap().state, BookState::Resyncing);
    // More events keep being buffered; no duplicate snapshot request.
    events.clear();
    feed.on_frame(frame(Source::Ws, &diff(126, 130, 125, r#"[["99.5","3"]]"#, "[]")), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::BookBuffered { slot: 0 }]);
    feed.on_frame(frame(Source::Rest { url: URL }, &snapshot(123)), &mut events).unwrap();
    let tracked = feed.book(0).unwrap();
    assert_eq!(tracked.state, BookState::Live);
    assert_eq!(tracked.stats.sequence_gaps, 1);
    assert_eq!(tracked.stats.updates_applied, 4);
    assert_eq!(tracked.book.depth(perpspread_core::Side::Bid), 3);
}

#[test]
fn duplicate_events_are_ignored() {
    let mut feed = BinanceFeed::default();
    let mut events = Vec::new();
    feed.on_frame(frame(Source::Ws, &diff(101, 110, 100, "[]", "[]")), &mut events).unwrap();
    feed.on_frame(frame(Source::Rest { url: URL }, &snapshot(105)), &mut events).unwrap();
    let next = diff(111, 115, 110, r#"[["100.0","7"]]"#, "[]");
    feed.on_frame(frame(Source::Ws, &next), &mut events).unwrap();
    events.clear();
    feed.on_frame(frame(Source::Ws, &next), &mut events).unwrap();
    assert!(events.is_empty());
    let tracked = feed.book(0).unwrap();
    assert_eq!((tracked.stats.duplicates, tracked.stats.resyncs, tracked.sequence), (1, 0, Some(115)));
}

#[test]
fn stale_snapshot_is_refetched() {
    let mut feed = BinanceFeed::default();
    let mut events = Vec::new();
    feed.on_frame(frame(Source::Ws, &diff(200, 210, 199, "[]", "[]")), &mut events).unwrap();
    events.clear();
    feed.on_frame(frame(Source::Rest { url: URL }, &snapshot(150)), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::SnapshotTooOld }]);
    assert_eq!(feed.book(0).unwrap().state, BookState::Resyncing);
}

#[test]
fn partial_depth_and_other_streams() {
    let mut feed = BinanceFeed::default();
    let mut events = Vec::new();
    let partial = r#"{"stream":"ethusdt@depth5@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"ETHUSDT","U":1,"u":2,"pu":0,"b":[["10.0","1"]],"a":[["11.0","1"]]}}"#;
    feed.on_frame(frame(Source::Ws, partial), &mut events).unwrap();
    assert_eq!(events, vec![FeedEvent::BookUpdated { slot: 0 }]);
    events.clear();
    let mark = r#"{"stream":"ethusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1,"s":"ETHUSDT","p":"1.0","i":"1.0","P":"1.0","r":"0.00038167","T":1562306400000}}"#;
    feed.on_frame(frame(Source::Ws, mark), &mut events).unwrap();
    assert_eq!(
        events,
        vec![FeedEvent::Funding {
            slot: 0,
            rate: 0.00038167,
            next_funding_ms: Some(1562306400000),
            interval_hours: None
        }]
    );
    let ticker = r#"{"stream":"ethusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"ETHUSDT","b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}"#;
    feed.on_frame(frame(Source::Ws, ticker), &mut events).unwrap();
    assert!(feed.on_frame(frame(Source::Ws, r#"{"result":null,"id":1}"#), &mut events).is_ok());
    assert!(matches!(feed.on_frame(frame(Source::Ws, "{\"stream\":"), &mut events), Err(FrameError::Malformed(_))));
    assert!(matches!(feed.on_frame(frame(Source::Ws, r#"{"x":1}"#), &mut events), Err(FrameError::Unknown(_))));
    assert_eq!(query_param(URL, "symbol"), Some("BTCUSDT"));
    assert_eq!(query_param(URL, "limit"), Some("1000"));
}
