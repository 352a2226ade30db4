//! Tests of the OKX feed handler.

use super::*;
use perpspread_core::feed::RecvTime;

fn ws(feed: &mut OkxFeed, text: &str) -> (Result<(), FrameError>, Vec<FeedEvent>) {
    let mut events = Vec::new();
    let frame = Frame { source: Source::Ws, data: text, recv: RecvTime::default() };
    (feed.on_frame(frame, &mut events), events)
}

fn book_msg(action: &str, bids: &str, asks: &str, checksum: i64, seq: i64, prev: i64) -> String {
    format!(
        r#"{{"arg":{{"channel":"books","instId":"BTC-USDT-SWAP"}},"action":"{action}","data":[{{"asks":{asks},"bids":{bids},"ts":"1700000000000","checksum":{checksum},"seqId":{seq},"prevSeqId":{prev}}}]}}"#
    )
}

#[test]
fn sequence_chain_and_keepalive() {
    let mut feed = OkxFeed::default();
    let (_, ev) =
        ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1));
    assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
    let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["100.5","3","0","1"]]"#, "[]", 0, 11, 10));
    assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
    // Keep-alive: no levels, seqId == prevSeqId.
    let (_, ev) = ws(&mut feed, &book_msg("update", "[]", "[]", 0, 11, 11));
    assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
    let tracked = feed.book(0).unwrap();
    assert_eq!(tracked.state, BookState::Live);
    assert_eq!(tracked.book.price_of(&tracked.book.best_bid().unwrap()).to_string(), "100.5");
    // A gap: prevSeqId 12 but last applied 11.
    let (_, ev) = ws(&mut feed, &book_msg("update", "[]", r#"[["101","0","0","0"]]"#, 0, 13, 12));
    assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::SequenceGap }]);
    let tracked = feed.book(0).unwrap();
    assert_eq!(tracked.state, BookState::Resyncing);
    assert_eq!((tracked.stats.sequence_gaps, tracked.stats.resyncs), (1, 1));
    // Updates are kept (not applied) until the new snapshot.
    let (_, ev) = ws(&mut feed, &book_msg("update", "[]", "[]", 0, 14, 13));
    assert_eq!(ev, vec![FeedEvent::BookBuffered { slot: 0 }]);
    ws(&mut feed, &book_msg("snapshot", r#"[["99","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 20, -1)).0.unwrap();
    assert_eq!(feed.book(0).unwrap().state, BookState::Live);
}

fn at(feed: &mut OkxFeed, text: &str, mono_ms: u64) -> Vec<FeedEvent> {
    let mut events = Vec::new();
    let recv = RecvTime { wall_ns: mono_ms * 1_000_000, mono_ns: mono_ms * 1_000_000 };
    feed.on_frame(Frame { source: Source::Ws, data: text, recv }, &mut events).unwrap();
    events
}

fn rest(feed: &mut OkxFeed, bids: &str, asks: &str, seq: i64) -> (Result<(), FrameError>, Vec<FeedEvent>) {
    let mut events = Vec::new();
    let body = format!(
        r#"{{"code":"0","msg":"","data":[{{"asks":{asks},"bids":{bids},"ts":"1700000000000","seqId":{seq}}}]}}"#
    );
    let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
    let frame = Frame { source: Source::Rest { url }, data: &body, recv: RecvTime::default() };
    (feed.on_frame(frame, &mut events), events)
}

const SLOT: u32 = 0;
const BUFFERED: FeedEvent = FeedEvent::BookBuffered { slot: SLOT };
const NEEDED: FeedEvent = FeedEvent::SnapshotNeeded { slot: SLOT };
const UPDATED: FeedEvent = FeedEvent::BookUpdated { slot: SLOT };

/// OKX's documented procedure: buffer, seed from REST, drop `seqId <= snapshot`, bridge with
/// `prevSeqId <= snapshot < seqId`, then follow the chain.
#[test]
fn without_a_websocket_snapshot_the_book_is_seeded_over_rest() {
    let mut feed = OkxFeed::default();
    feed.track("BTC-USDT-SWAP");
    // Updates without a snapshot are kept; a REST snapshot is asked for once the wait has passed.
    assert_eq!(at(&mut feed, &book_msg("update", r#"[["100","1","0","1"]]"#, "[]", 0, 11, 10), 0), [BUFFERED]);
    assert_eq!(at(&mut feed, &book_msg("update", r#"[["100","2","0","1"]]"#, "[]", 0, 12, 11), 1_000), [BUFFERED]);
    let events = at(&mut feed, &book_msg("update", r#"[["99","4","0","1"]]"#, "[]", 0, 13, 12), 2_100);
    assert_eq!(events, [BUFFERED, NEEDED]);
    assert_eq!(at(&mut feed, &book_msg("update", "[]", r#"[["101","7","0","1"]]"#, 0, 14, 13), 2_200), [BUFFERED]);
    assert_eq!(feed.ws_snapshots(), Some(false));
    assert_eq!(feed.book(SLOT).unwrap().state, BookState::Syncing);
    // The snapshot is at seqId 12: update 11 is in it, 12 ends at it (live), 13 and 14 chain.
    let (result, events) = rest(&mut feed, r#"[["100","2","0","1"]]"#, r#"[["101","3","0","1"]]"#, 12);
    result.unwrap();
    assert_eq!(events, [UPDATED, UPDATED, UPDATED]);
    let tracked = feed.book(SLOT).unwrap();
    assert_eq!((tracked.state, tracked.sequence), (BookState::Live, Some(14)));
    let levels = |side| tracked.book.levels(side).map(|l| tracked.book.qty_of(l).to_string()).collect::<Vec<_>>();
    assert_eq!(levels(perpspread_core::Side::Bid), ["2", "4"]);
    assert_eq!(levels(perpspread_core::Side::Ask), ["7"]);
    // The chain goes on; a keep-alive repeats the seqId; a reset (seqId < prevSeqId) continues the chain.
    assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 14, 14), 3_000), [UPDATED]);
    assert_eq!(at(&mut feed, &book_msg("update", r#"[["98","1","0","1"]]"#, "[]", 0, 3, 14), 3_100), [UPDATED]);
    assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 4, 3), 3_200), [UPDATED]);
    assert_eq!(feed.book(SLOT).unwrap().sequence, Some(4));
}

#[test]
fn a_rest_snapshot_older_than_the_buffer_is_fetched_again() {
    let mut feed = OkxFeed::default();
    feed.track("BTC-USDT-SWAP");
    at(&mut feed, &book_msg("update", r#"[["100","1","0","1"]]"#, "[]", 0, 21, 20), 0);
    assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 22, 21), 2_500), [BUFFERED, NEEDED]);
    // Snapshot at 15, but the oldest buffered update starts at 20: too old.
    let (result, events) = rest(&mut feed, r#"[["100","5","0","1"]]"#, r#"[["101","3","0","1"]]"#, 15);
    result.unwrap();
    assert_eq!(events, [NEEDED]);
    let tracked = feed.book(SLOT).unwrap();
    assert_eq!((tracked.state, tracked.stats.sequence_gaps), (BookState::Resyncing, 1));
    // The next snapshot covers the buffer: 21 is in it, 22 ends at it: live at 22.
    let (_, events) = rest(&mut feed, r#"[["100","1","0","1"]]"#, r#"[["101","3","0","1"]]"#, 22);
    assert_eq!(events, [UPDATED]);
    assert_eq!(feed.book(SLOT).unwrap().state, BookState::Live);
    assert_eq!(at(&mut feed, &book_msg("update", "[]", r#"[["102","1","0","1"]]"#, 0, 23, 22), 2_600), [UPDATED]);
    // Once the venue is known to send no snapshots, a broken book asks for REST at once (no resubscription).
    let events = at(&mut feed, &book_msg("update", "[]", "[]", 0, 30, 29), 2_700);
    assert_eq!(events, [FeedEvent::Resync { slot: SLOT, reason: ResyncReason::SequenceGap }, NEEDED]);
    let mut events = Vec::new();
    let refused = r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#;
    let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
    let frame = Frame { source: Source::Rest { url }, data: refused, recv: RecvTime::default() };
    assert!(matches!(feed.on_frame(frame, &mut events), Err(FrameError::Venue { code, .. }) if code == "51001"));
}

/// A sequence reset (maintenance) while the book waits for its REST snapshot: what came before the reset is
/// useless, and the snapshot's time tells which sequence it belongs to.
#[test]
fn a_sequence_reset_while_seeding_over_rest() {
    let msg = |bids: &str, seq: i64, prev: i64, ts: u64| {
        format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT-SWAP"}},"action":"update","data":[{{"asks":[],"bids":{bids},"ts":"{ts}","checksum":0,"seqId":{seq},"prevSeqId":{prev}}}]}}"#
        )
    };
    let rest_at = |feed: &mut OkxFeed, seq: i64, ts: u64| {
        let mut events = Vec::new();
        let body = format!(
            r#"{{"code":"0","msg":"","data":[{{"asks":[["101","1","0","1"]],"bids":[["100","1","0","1"]],"ts":"{ts}","seqId":{seq}}}]}}"#
        );
        let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
        let frame = Frame { source: Source::Rest { url }, data: &body, recv: RecvTime::default() };
        feed.on_frame(frame, &mut events).unwrap();
        events
    };
    let mut feed = OkxFeed::default();
    feed.track("BTC-USDT-SWAP");
    at(&mut feed, &msg(r#"[["99","1","0","1"]]"#, 1000, 999, 1_000), 0);
    // The reset: seqId 3 after 1000. Then 4.
    at(&mut feed, &msg(r#"[["98","1","0","1"]]"#, 3, 1000, 2_000), 100);
    assert_eq!(at(&mut feed, &msg(r#"[["97","1","0","1"]]"#, 4, 3, 3_000), 2_500), [BUFFERED, NEEDED]);
    // A snapshot of the old sequence (taken before the reset, seqId 990): too old, fetched again.
    assert_eq!(rest_at(&mut feed, 990, 1_500), [NEEDED]);
    assert_eq!(feed.book(SLOT).unwrap().state, BookState::Resyncing);
    // A snapshot of the new sequence at seqId 3, taken after the reset: the reset ends at it, 4 chains.
    assert_eq!(rest_at(&mut feed, 3, 2_500), [UPDATED, UPDATED]);
    let tracked = feed.book(SLOT).unwrap();
    assert_eq!((tracked.state, tracked.sequence), (BookState::Live, Some(4)));
    let bids: Vec<String> =
        tracked.book.levels(perpspread_core::Side::Bid).map(|l| tracked.book.price_of(l).to_string()).collect();
    assert_eq!(bids, ["100", "98", "97"], "nothing from before the reset (99) was applied");
    assert_eq!(at(&mut feed, &msg("[]", 5, 4, 3_100), 2_600), [UPDATED]);
}

#[test]
fn a_websocket_snapshot_wins_over_the_rest_path() {
    let mut feed = OkxFeed::default();
    assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 5, 4), 0), [BUFFERED]);
    let snapshot = book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1);
    assert_eq!(at(&mut feed, &snapshot, 100), [UPDATED]);
    assert_eq!(feed.ws_snapshots(), Some(true));
    // A REST snapshot arriving later does not replace a live book.
    let (result, events) = rest(&mut feed, r#"[["90","1","0","1"]]"#, r#"[["91","1","0","1"]]"#, 3);
    result.unwrap();
    assert!(events.is_empty());
    assert_eq!(feed.book(SLOT).unwrap().sequence, Some(10));
}

#[test]
fn duplicates_are_ignored_not_resynced() {
    let mut feed = OkxFeed::default();
    ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1)).0.unwrap();
    let update = book_msg("update", r#"[["100.5","3","0","1"]]"#, "[]", 0, 11, 10);
    ws(&mut feed, &update).0.unwrap();
    let (_, ev) = ws(&mut feed, &update);
    assert!(ev.is_empty());
    let tracked = feed.book(0).unwrap();
    assert_eq!((tracked.stats.duplicates, tracked.stats.resyncs, tracked.sequence), (1, 0, Some(11)));
    assert_eq!(tracked.state, BookState::Live);
}

#[test]
fn checksum_zero_is_absent_and_wrong_checksum_resyncs() {
    let mut feed = OkxFeed::default();
    // Vector from the fixtures README: "3366.1:7:3366.8:9:3366:6:3368:8" → -1881014294.
    let good = book_msg(
        "snapshot",
        r#"[["3366.1","7","0","1"],["3366","6","0","1"]]"#,
        r#"[["3366.8","9","0","1"],["3368","8","0","1"]]"#,
        -1881014294,
        1,
        -1,
    );
    let (_, ev) = ws(&mut feed, &good);
    assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
    assert_eq!(feed.book(0).unwrap().stats.checksums_verified, 1);
    let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["3366","0","0","0"]]"#, "[]", 0, 2, 1));
    assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
    assert_eq!(feed.book(0).unwrap().stats.checksums_verified, 1);
    assert_eq!(feed.book(0).unwrap().stats.checksums_absent, 1, "0 means not sent: counted, not verified");
    let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["3366","5","0","0"]]"#, "[]", 12345, 3, 2));
    assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::ChecksumMismatch }]);
    assert_eq!(feed.book(0).unwrap().stats.checksum_failures, 1);
}

#[test]
fn crossed_and_malformed_updates_resync() {
    let mut feed = OkxFeed::default();
    ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 1, -1)).0.unwrap();
    let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["101.5","1","0","1"]]"#, "[]", 0, 2, 1));
    assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::Crossed }]);
    ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 5, -1)).0.unwrap();
    let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["abc","1","0","1"]]"#, "[]", 0, 6, 5));
    assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::BadUpdate }]);
    let (result, _) = ws(&mut feed, r#"{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"upd"#);
    assert!(matches!(result, Err(FrameError::Malformed(_))));
    let (result, _) = ws(&mut feed, r#"{"foo":1}"#);
    assert!(matches!(result, Err(FrameError::Unknown(_))));
    let (_, ev) = ws(&mut feed, "pong");
    assert_eq!(ev, vec![FeedEvent::Pong]);
}

#[test]
fn funding_rate_channel() {
    let mut feed = OkxFeed::default();
    let (result, ev) = ws(
        &mut feed,
        r#"{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{"fundingRate":"0.0001","fundingTime":"1700000000000","instId":"BTC-USDT-SWAP","instType":"SWAP","method":"current_period","nextFundingRate":"","nextFundingTime":"1700028800000"}]}"#,
    );
    result.unwrap();
    assert_eq!(
        ev,
        vec![FeedEvent::Funding {
            slot: 0,
            rate: 0.0001,
            next_funding_ms: Some(1700000000000),
            interval_hours: Some(8)
        }]
    );
}

#[test]
fn refused_subscription_names_the_instrument() {
    let mut feed = OkxFeed::default();
    let slot = feed.track("FOO-USDT-SWAP");
    let (result, ev) = ws(
        &mut feed,
        r#"{"event":"error","code":"60018","msg":"Wrong URL or channel:books,instId:FOO-USDT-SWAP doesn't exist","connId":"a4d3ae55"}"#,
    );
    assert_eq!(ev, vec![FeedEvent::SubscriptionRefused { slot: Some(slot) }]);
    assert!(matches!(result, Err(FrameError::Venue { code, .. }) if code == "60018"));
}
